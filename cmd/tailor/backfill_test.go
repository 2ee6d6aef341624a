package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/sandbox"
)

func backfillArgs(database, table string, extra ...string) []string {
	args := append([]string{"backfill"}, connArgs()...)
	args = append(args, "--database", database, "--table", table, "--control-socket", filepath.Join(os.TempDir(), "tailor-bf-"+database+".sock"))
	return append(args, extra...)
}

// TestBackfillCommand runs tailor backfill as an operator does: the dry
// run, the run, the rerun, and the mistakes.
func TestBackfillCommand(t *testing.T) {
	t.Setenv("MYSQL_PWD", sandbox.Password)
	db, dbName := sbx.NewDatabase(t)
	smallTable(t, db, 3000)
	if _, err := db.Exec("ALTER TABLE t ADD COLUMN label VARCHAR(80) NULL"); err != nil {
		t.Fatal(err)
	}
	set, where := "label = CONCAT(name, '!')", "label IS NULL"

	dry := tailor(t, backfillArgs(dbName, "t", "--set", set, "--where", where)...)
	dry.wantCode(t, exitOK)
	for _, want := range []string{"Dry run: nothing was changed", "matching rows:    3000", "first batch:      UPDATE", "`id` <= ", "estimate:"} {
		if !strings.Contains(dry.stdout, want) {
			t.Errorf("the dry run does not say %q", want)
		}
	}
	if n := count(t, db, "SELECT COUNT(*) FROM t WHERE label IS NOT NULL"); n != 0 {
		t.Fatalf("the dry run changed %d rows", n)
	}

	done := tailor(t, backfillArgs(dbName, "t", "--set", set, "--where", where, "--execute")...)
	done.wantCode(t, exitOK)
	for _, want := range []string{"Backfill complete.", "rows changed:     3000", "still matching:   0 rows"} {
		if !strings.Contains(done.stdout, want) {
			t.Errorf("the run does not say %q", want)
		}
	}
	if n := count(t, db, "SELECT COUNT(*) FROM t WHERE label IS NULL OR label <> CONCAT(name, '!')"); n != 0 {
		t.Errorf("%d rows not backfilled", n)
	}
	again := tailor(t, backfillArgs(dbName, "t", "--set", set, "--where", where, "--execute")...)
	again.wantCode(t, exitOK)
	if !strings.Contains(again.stdout, "finished on") || !strings.Contains(again.stdout, "nothing to do") {
		t.Errorf("a rerun does not say the backfill finished:\n%s", again.stdout)
	}

	for _, c := range []struct {
		name  string
		args  []string
		code  int
		words []string
	}{
		{"no set", []string{"--where", where}, exitUsage, []string{"--set is required"}},
		{"set and delete", []string{"--set", set, "--delete", "--where", where}, exitUsage, []string{"--delete", "no --set"}},
		{"unknown column", []string{"--set", "nickname = name"}, exitInvalid, []string{"`nickname`"}},
		{"does not parse", []string{"--set", "label = CONCAT(name"}, exitInvalid, []string{"does not parse"}},
		{"nothing matches", []string{"--set", set, "--where", "id < 0"}, exitInvalid, []string{"no row", "--where"}},
		{"cannot fill", []string{"--set", "name = NULL"}, exitInvalid, []string{"id = (1)", "cannot be null"}},
		{"resume nothing", []string{"--set", "n = 1", "--resume"}, exitInvalid, []string{"no stopped backfill"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := tailor(t, backfillArgs(dbName, "t", append(c.args, "--execute")...)...)
			o.wantCode(t, c.code)
			o.errorLine(t, c.words...)
		})
	}
}

func count(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestKill9BackfillResume kills the real binary with SIGKILL in the middle
// of a backfill whose change is not idempotent (n = n + 1), and resumes it:
// every row is changed exactly once.
func TestKill9BackfillResume(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	if _, err := db.Exec("CREATE TABLE t (id INT NOT NULL PRIMARY KEY, n INT NOT NULL DEFAULT 0)"); err != nil {
		t.Fatal(err)
	}
	const rows = 40_000
	if _, err := db.Exec("INSERT INTO t (id) SELECT seq FROM seq_1_to_" + strconv.Itoa(rows)); err != nil {
		t.Fatal(err)
	}
	args := backfillArgs(dbName, "t", "--set", "n = n + 1", "--chunk-size", "50", "--execute")
	p := startTailor(t, args...)
	poll(t, p, "a few thousand rows backfilled", time.Minute, func() bool {
		var changed int64
		err := db.QueryRow("SELECT rows_changed FROM tailor_backfills WHERE table_name = 't'").Scan(&changed)
		return err == nil && changed >= 3000
	})
	p.kill9(t)
	if n := count(t, db, "SELECT COUNT(*) FROM t WHERE n > 1"); n != 0 {
		t.Fatalf("%d rows changed twice", n)
	}
	before := count(t, db, "SELECT COUNT(*) FROM t WHERE n = 1")
	if saved := count(t, db, "SELECT rows_changed FROM tailor_backfills WHERE table_name = 't'"); saved != before {
		t.Fatalf("the saved state counts %d rows changed, the table has %d", saved, before)
	}
	t.Logf("killed after %d rows", before)

	refused := startTailor(t, args...)
	if code := refused.wait(t, time.Minute); code != exitInvalid || !strings.Contains(refused.log(), "--resume") {
		t.Fatalf("a rerun without --resume: exit %d\n%s", code, refused.log())
	}
	resumed := startTailor(t, append(args, "--resume")...)
	if code := resumed.wait(t, 2*time.Minute); code != exitOK {
		t.Fatalf("the resume exited %d\n%s", code, resumed.log())
	}
	if !strings.Contains(resumed.stdout.String(), "before the resume") {
		t.Errorf("the resume does not say it resumed:\n%s", resumed.stdout.String())
	}
	if n := count(t, db, "SELECT COUNT(*) FROM t WHERE n <> 1"); n != 0 {
		t.Errorf("%d rows not changed exactly once", n)
	}
}
