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
