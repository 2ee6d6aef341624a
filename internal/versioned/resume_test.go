package versioned

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tailor-osc/tailor/internal/history"
	"github.com/tailor-osc/tailor/internal/migrate"
)

// TestResumeOnlineAlter stops an online ALTER before its cut-over (a hook
// that says no): apply stops resumable, naming the statement; a run
// without --resume is refused, and one with --resume continues the copy
// and the file. The file's second copy of the same table then drops the
// old table the first one kept.
func TestResumeOnlineAlter(t *testing.T) {
	ctx := context.Background()
	db, database := sbx.NewDatabase(t)
	mustExec(t, db, "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, price DECIMAL(8,2) NOT NULL, qty INT NOT NULL)")
	mustExec(t, db, "INSERT INTO items SELECT 1 + a.d + 10 * b.d + 100 * c.d, 1.5, 2 FROM "+digits+" a, "+digits+" b, "+digits+" c")
	hooks := t.TempDir()
	block := filepath.Join(t.TempDir(), "block")
	if err := os.WriteFile(block, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	hook := "#!/bin/sh\nif [ -e " + block + " ]; then echo 'not now'; exit 3; fi\n"
	if err := os.WriteFile(filepath.Join(hooks, "on-before-cut-over"), []byte(hook), 0o700); err != nil {
		t.Fatal(err)
	}
	dir := fstest.MapFS{"V1__widen.sql": file("ALTER TABLE items MODIFY price DECIMAL(12,2) NOT NULL;\nALTER TABLE items MODIFY qty BIGINT NOT NULL;\n")}
	cfg := testConfig(t, database, dir)
	cfg.Alter.HooksPath = hooks

	_, err := newRunner(t, cfg).Apply(ctx)
	var se *StatementError
	if !errors.As(err, &se) || se.Statement != 1 || migrate.KindOf(err) != migrate.KindResumable {
		t.Fatalf("apply = %v (kind %s), want statement 1 stopped resumable", err, migrate.KindOf(err))
	}
	t.Logf("the stop: %v", err)
	_, err = newRunner(t, cfg).Apply(ctx)
	if !errors.As(err, &se) || se.Statement != 1 || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("apply without --resume = %v", err)
	}
	t.Logf("without --resume: %v", err)
	if err := os.Remove(block); err != nil {
		t.Fatal(err)
	}
	cfg.Resume = true
	res, err := newRunner(t, cfg).Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || len(res.Files[0].Statements) != 2 || res.Files[0].Statements[1].Strategy != OnlineCopy {
		t.Fatalf("the resumed apply ran %+v", res.Files)
	}
	var def string
	if err := db.QueryRow("SHOW CREATE TABLE items").Scan(new(string), &def); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(def, "`price` decimal(12,2)") || !strings.Contains(def, "`qty` bigint") {
		t.Errorf("items after the apply:\n%s", def)
	}
	entries, err := newRunner(t, cfg).History(ctx)
	if err != nil || len(entries) != 1 || entries[0].State != history.Applied || entries[0].StatementsDone != 2 {
		t.Fatalf("history = %+v, %v", entries, err)
	}
}

// TestBackfillRetried stops a backfill directive on a row it cannot
// convert: the file fails at that statement with the row's key; once the
// row is fixed, the next apply continues the backfill from its saved
// state rather than starting it over.
func TestBackfillRetried(t *testing.T) {
	ctx := context.Background()
	db, database := sbx.NewDatabase(t)
	mustExec(t, db, "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, label VARCHAR(10) NOT NULL, n INT UNSIGNED NULL)")
	mustExec(t, db, "INSERT INTO t (id, label) SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d, 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d FROM "+digits+" a, "+digits+" b, "+digits+" c, "+digits+" e WHERE e.d < 3")
	mustExec(t, db, "UPDATE t SET label = 'x' WHERE id = 1500")
	dir := fstest.MapFS{"V1__fill_n.sql": file("-- tailor:backfill\nUPDATE t SET n = CAST(label AS UNSIGNED) WHERE n IS NULL;\n")}
	cfg := testConfig(t, database, dir)
	cfg.Backfill.ChunkSize = 500
	_, err := newRunner(t, cfg).Apply(ctx)
	var se *StatementError
	if !errors.As(err, &se) || se.File != "V1__fill_n.sql" || se.Statement != 1 {
		t.Fatalf("apply = %v", err)
	}
	t.Logf("the stop: %v", err)
	var done int
	if err := db.QueryRow("SELECT COUNT(*) FROM t WHERE n IS NOT NULL").Scan(&done); err != nil || done == 0 || done >= 3000 {
		t.Fatalf("%d rows backfilled before the stop, %v", done, err)
	}
	mustExec(t, db, "UPDATE t SET label = '1500' WHERE id = 1500")
	res, err := newRunner(t, cfg).Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	detail := res.Files[0].Statements[0].Detail
	if !strings.HasPrefix(detail, "3000 rows changed") {
		t.Errorf("the resumed backfill says %q", detail)
	}
	var wrong int
	if err := db.QueryRow("SELECT COUNT(*) FROM t WHERE n IS NULL OR n <> id").Scan(&wrong); err != nil || wrong != 0 {
		t.Errorf("%d rows wrong after the resumed backfill, %v", wrong, err)
	}
}
