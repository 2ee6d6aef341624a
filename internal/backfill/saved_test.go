package backfill

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/state"
)

// TestStatementParts takes apart what Statement.Text writes, and refuses
// what it cannot have written.
func TestStatementParts(t *testing.T) {
	t.Parallel()
	for _, s := range []Statement{
		{Database: "shop", Table: "orders", Set: "label = CONCAT(name, '!')", Where: "label IS NULL"},
		{Database: "shop", Table: "orders", Set: "n = n + 1"},
		{Database: "shop", Table: "orders", Set: "a = 'x) AND (y'", Where: "(a = 1) AND (b = 2)"},
		{Database: "sh`op", Table: "or ders", Delete: true, Where: "created < NOW() - INTERVAL 1 YEAR"},
	} {
		set, where, del, ok := statementParts(s.Database, s.Table, s.Text())
		if !ok || set != s.Set || where != s.Where || del != s.Delete {
			t.Errorf("statementParts(%q) = %q, %q, %v, %v", s.Text(), set, where, del, ok)
		}
	}
	for _, text := range []string{
		"", "SELECT 1",
		"UPDATE `shop`.`other` SET a = 1 WHERE (<key range>)",
		"UPDATE `shop`.`orders` SET a = 1 WHERE id < 5",
		"UPDATE `shop`.`orders` SET a = 1 WHERE (<key range>) OR (b)",
	} {
		if _, _, _, ok := statementParts("shop", "orders", text); ok {
			t.Errorf("statementParts(%q) took it apart", text)
		}
	}
}

// TestSaved reads the saved backfills of a table: none without the state
// table; a finished one; one that stopped on a row; one whose run died
// (saved running, its lock free); one whose lock a session holds; and one
// whose --where was written over several lines, which the saved text
// cannot give back.
func TestSaved(t *testing.T) {
	sandbox.Need(t, sbx)
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	fillUsers(t, db, 3000)
	if got, err := Saved(ctx, db, dbName, "users"); err != nil || got != nil {
		t.Fatalf("without %s: %v, %v", StateTable, got, err)
	}

	done := testConfig(t, dbName, "users", "display_name = full_name", "display_name IS NULL")
	if _, err := runBackfill(ctx, t, done); err != nil {
		t.Fatal(err)
	}
	stopped := testConfig(t, dbName, "users", "nick = full_name", "nick IS NULL")
	stopped.testAfterSampleRolledBack = func() {
		mustExec(t, db, "UPDATE users SET full_name = 'a name far too long' WHERE id = 1700")
	}
	if _, err := runBackfill(ctx, t, stopped); err == nil {
		t.Fatal("the backfill did not stop on the row")
	}
	multi := testConfig(t, dbName, "users", "n = n + 1", "id  >  10\n  AND id < 20")
	if _, err := runBackfill(ctx, t, multi); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "UPDATE "+StateTable+" SET status = 'stopped' WHERE statement LIKE '%n = n + 1%'")

	got, err := Saved(ctx, db, dbName, "users")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d saved backfills, want 3: %+v", len(got), got)
	}
	d, s, m := got[0], got[1], got[2]
	switch {
	case d.State != StateDone || !d.Exact || d.Set != "display_name = full_name" || d.Where != "display_name IS NULL" || d.Delete:
		t.Errorf("done: %+v", d)
	case d.RowsChanged != 3000 || d.Batches == 0 || d.FinishedAt.IsZero() || !d.DefaultKey || d.KeyName != "PRIMARY" || len(d.KeyColumns) != 1:
		t.Errorf("done: %+v", d)
	}
	switch {
	case s.State != StateStopped || s.Crashed || !s.Exact || s.Set != "nick = full_name" || s.LockHolder != 0:
		t.Errorf("stopped: %+v", s)
	case s.RowsChanged == 0 || s.RowsChanged >= 1700 || len(s.Last) != 1 || s.Note == "" || !s.FinishedAt.IsZero():
		t.Errorf("stopped: %+v", s)
	}
	if m.State != StateStopped || m.Exact || m.Set != "" || m.Statement == "" || !m.Readable {
		t.Errorf("several lines: %+v", m)
	}

	// A run that died says running, and no session holds its lock.
	mustExec(t, db, "UPDATE "+StateTable+" SET status = 'running' WHERE job = ?", s.Job)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got, err = Saved(ctx, db, dbName, "users")
	if err != nil {
		t.Fatal(err)
	}
	if b := got[1]; b.State != StateStopped || !b.Crashed || b.Status != statusRunning {
		t.Errorf("crashed: %+v", b)
	}
	var one, id int64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0), CONNECTION_ID()", LockName(s.Job)).Scan(&one, &id); err != nil || one != 1 {
		t.Fatalf("take the backfill's lock: %v", err)
	}
	got, err = Saved(ctx, db, dbName, "users")
	if err != nil {
		t.Fatal(err)
	}
	if b := got[1]; b.State != StateRunning || b.Crashed || b.LockHolder != id {
		t.Errorf("running elsewhere (connection %d): %+v", id, b)
	}
	if got, err := Saved(ctx, db, dbName, "orders"); err != nil || got != nil {
		t.Errorf("another table: %v, %v", got, err)
	}
}

// TestResumeEnumKeySavedByName: a backfill over a key that starts with an
// ENUM whose index order is not its names' order, stopped after a few
// batches, resumes and changes every row once; also when its saved keys
// hold the ENUM by name, as tailor saved them before keys held an ENUM
// as its index.
func TestResumeEnumKeySavedByName(t *testing.T) {
	for _, byName := range []bool{false, true} {
		t.Run(fmt.Sprintf("by name %v", byName), func(t *testing.T) {
			sandbox.Need(t, sbx)
			db, dbName := sbx.NewDatabase(t)
			mustExec(t, db, "CREATE TABLE kv (e ENUM('z','b','a') NOT NULL, seq INT NOT NULL, n INT NOT NULL DEFAULT 0, PRIMARY KEY (e, seq))")
			mustExec(t, db, "INSERT INTO kv (e, seq) SELECT ELT(1 + seq % 3, 'z', 'b', 'a'), seq FROM seq_1_to_1200")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg := testConfig(t, dbName, "kv", "n = n + 1", "")
			cfg.ChunkSize = 97
			cfg.testBeforeCommit = func(batch int64) {
				if batch == 5 { // past the first member's rows
					cancel()
				}
			}
			_, err := runBackfill(ctx, t, cfg)
			wantKind(t, err, migrate.KindInterrupted, "--resume")
			if byName {
				members := []string{"", "z", "b", "a"}
				for _, col := range []string{"upper_key", "last_key"} {
					var saved string
					if err := db.QueryRow("SELECT " + col + " FROM " + StateTable).Scan(&saved); err != nil {
						t.Fatal(err)
					}
					key, err := state.DecodeKey(saved)
					if err != nil || key == nil {
						t.Fatalf("%s %q: %v", col, saved, err)
					}
					idx, ok := key[0].(int64)
					if !ok {
						t.Fatalf("%s holds the ENUM as %T, not its index", col, key[0])
					}
					key[0] = []byte(members[idx])
					old, err := state.EncodeKey(key)
					if err != nil {
						t.Fatal(err)
					}
					mustExec(t, db, "UPDATE "+StateTable+" SET "+col+" = ?", old)
				}
			}
			cfg.testBeforeCommit = nil
			cfg.Resume = true
			res, err := runBackfill(context.Background(), t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Resumed {
				t.Error("the run did not resume")
			}
			if n := queryInt(t, db, "SELECT COUNT(*) FROM kv WHERE n <> 1"); n != 0 {
				t.Errorf("%d rows not changed exactly once", n)
			}
		})
	}
}

// TestUnwalkableKeyRefused: a backfill refuses a key with a SET of 64
// members, whose index orders values in a way no bound can follow, before
// it changes anything: without another key, and when --key names it.
func TestUnwalkableKeyRefused(t *testing.T) {
	sandbox.Need(t, sbx)
	db, dbName := sbx.NewDatabase(t)
	var members []string
	for i := range 64 {
		members = append(members, fmt.Sprintf("'m%d'", i))
	}
	set := "SET(" + strings.Join(members, ",") + ")"
	mustExec(t, db, "CREATE TABLE only_set (s "+set+" NOT NULL, id INT NOT NULL, n INT NOT NULL DEFAULT 0, PRIMARY KEY (s, id))")
	mustExec(t, db, "CREATE TABLE with_id (s "+set+" NOT NULL, id INT NOT NULL, n INT NOT NULL DEFAULT 0, PRIMARY KEY (s, id), UNIQUE KEY id (id))")
	for _, tbl := range []string{"only_set", "with_id"} {
		mustExec(t, db, "INSERT INTO "+tbl+" (s, id) VALUES ('m63', 1), ('m0', 2)")
	}
	_, err := runBackfill(context.Background(), t, testConfig(t, dbName, "only_set", "n = n + 1", ""))
	wantKind(t, err, migrate.KindInvalid, "can be walked in its index's order", "SET of 64 members")
	cfg := testConfig(t, dbName, "with_id", "n = n + 1", "")
	cfg.Key = "PRIMARY"
	_, err = runBackfill(context.Background(), t, cfg)
	wantKind(t, err, migrate.KindInvalid, "--key `PRIMARY` cannot be walked")
	if n := queryInt(t, db, "SELECT COUNT(*) FROM only_set WHERE n <> 0") + queryInt(t, db, "SELECT COUNT(*) FROM with_id WHERE n <> 0"); n != 0 {
		t.Errorf("%d rows changed by a refused backfill", n)
	}
	// Without --key, the walkable key.
	if _, err := runBackfill(context.Background(), t, testConfig(t, dbName, "with_id", "n = n + 1", "")); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, db, "SELECT COUNT(*) FROM with_id WHERE n <> 1"); n != 0 {
		t.Errorf("%d rows not changed once", n)
	}
}
