package migrate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/workload"
)

// revertConfig is the Config of tailor revert on table.
func revertConfig(t *testing.T, database, table string) Config {
	cfg := testConfig(t, database, table, "")
	cfg.Alter, cfg.Revert = "", true
	return cfg
}

// TestRevertUnderLoad migrates a table with a rename, a dropped column, an
// added column and a widened type while writers write it and its control
// table, goes on writing, reverts, and reverts the revert. After each swap
// the table equals the control table on the columns it has; no write
// failed.
func TestRevertUnderLoad(t *testing.T) {
	const rows = 10_000
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	load := workload.Start(ctx, db, workload.Options{Table: "orders", Writers: 3, Rate: 300, InitialRows: rows, Seed: 17})
	defer load.Stop()
	time.Sleep(300 * time.Millisecond)

	const alter = "ADD COLUMN refunded_at DATETIME(6) NULL, DROP COLUMN legacy, RENAME COLUMN spare TO spare_count, MODIFY qty BIGINT UNSIGNED NULL"
	cfg := testConfig(t, dbName, "orders", alter)
	cfg.ChunkSize = 1000
	res, err := runMigration(ctx, t, cfg)
	if err != nil {
		t.Fatalf("migration: %v", err)
	}
	if !res.Revertible || res.OldTable != "orders_tailor_old" {
		t.Fatalf("the migration is not revertible (old table %q)", res.OldTable)
	}
	forward := workload.SameColumns([]string{"legacy"}, map[string]string{"spare": "spare_count"})
	time.Sleep(time.Second) // writes into the new table, which only a revert carries back

	back, err := runMigration(ctx, t, revertConfig(t, dbName, "orders"))
	if err != nil {
		t.Fatalf("revert: %v", err)
	}
	t.Logf("revert: %d events applied, writes held %s, checksum %d chunks", back.EventsApplied, back.CutOverLock, back.ChecksumChunks)
	if !back.Reverted || !back.Revertible || back.OldTable != "orders_tailor_rev" || back.RowsCopied != 0 {
		t.Errorf("revert result: reverted %v, revertible %v, old table %q, %d rows copied", back.Reverted, back.Revertible, back.OldTable, back.RowsCopied)
	}
	if back.EventsApplied == 0 {
		t.Error("the revert applied no write made since the cut-over")
	}
	time.Sleep(500 * time.Millisecond)
	// The old definition, with every write; legacy keeps its value on the
	// rows that had one (the writers never write it).
	def := showCreate(t, db, dbName, "orders")
	if !strings.Contains(def, "`legacy`") || !strings.Contains(def, "`spare`") || strings.Contains(def, "refunded_at") {
		t.Errorf("the reverted table does not have the old definition:\n%s", def)
	}
	diff, err := workload.Compare(ctx, db, "orders", workload.SameColumns([]string{"legacy"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !diff.Equal() {
		t.Fatalf("after the revert the table differs from the control record: %s", diff)
	}
	// legacy, which the migration dropped, kept its value on every row,
	// also on those the writers moved to a new id since the swap (the
	// revert follows them), and new rows have its default, NULL.
	var lost, moved int
	if err := db.QueryRow(`SELECT COUNT(*), COALESCE(SUM(t.id > ? AND c.legacy IS NOT NULL), 0) FROM orders t JOIN orders_control c ON c.id = t.id
		WHERE NOT (t.legacy <=> c.legacy)`, rows).Scan(&lost, &moved); err != nil {
		t.Fatal(err)
	}
	if lost > 0 {
		t.Errorf("%d rows lost the value of the dropped column legacy (%d of them moved to a new id)", lost, moved)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM orders WHERE id > ? AND legacy IS NOT NULL", rows).Scan(&moved); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rows moved to a new id hold their legacy", moved)

	again, err := runMigration(ctx, t, revertConfig(t, dbName, "orders"))
	if err != nil {
		t.Fatalf("revert of the revert: %v", err)
	}
	if !again.Reverted || again.OldTable != "orders_tailor_old" {
		t.Errorf("second revert: reverted %v, old table %q", again.Reverted, again.OldTable)
	}
	time.Sleep(300 * time.Millisecond)
	stats := load.Stop()
	if stats.Errors > 0 {
		t.Errorf("%d writes failed, last: %s", stats.Errors, stats.LastError)
	}
	if def := showCreate(t, db, dbName, "orders"); !strings.Contains(def, "refunded_at") || !strings.Contains(def, "`spare_count`") {
		t.Errorf("the revert of the revert does not have the new definition:\n%s", def)
	}
	wantEqualToControl(ctx, t, db, "orders", forward)
	t.Logf("load: %d tx (%d key updates), longest %s", stats.Transactions, stats.KeyUpdates, stats.LongestStall)
}

// TestRevertRefused: a revert is refused, with one sentence and nothing
// changed, when there is nothing to revert, when the binary log since the
// swap is gone, and when the kept table was altered; a row written since
// the swap that the old definition cannot hold stops the revert with its
// key before the swap, the table serving on, and once the row is fixed
// the revert goes through.
func TestRevertRefused(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, n INT NOT NULL)")
	mustExec(t, db, "INSERT INTO t SELECT seq, seq FROM seq_1_to_2000")
	_, err := runMigration(ctx, t, revertConfig(t, dbName, "t"))
	wantKind(t, err, KindInvalid, "no migration of `t` to revert")

	if _, err := runMigration(ctx, t, testConfig(t, dbName, "t", "MODIFY n BIGINT NOT NULL")); err != nil {
		t.Fatal(err)
	}
	before := strings.Join(tablesIn(t, db, dbName), ",")

	var file string
	if err := db.QueryRow("SELECT binlog_file FROM t_tailor_state").Scan(&file); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "UPDATE t_tailor_state SET binlog_file = 'gone-bin.000001'")
	_, err = runMigration(ctx, t, revertConfig(t, dbName, "t"))
	wantKind(t, err, KindInvalid, "gone-bin.000001", "no longer on the server")
	mustExec(t, db, "UPDATE t_tailor_state SET binlog_file = ?", file)

	mustExec(t, db, "ALTER TABLE t_tailor_old ADD COLUMN z INT NULL")
	_, err = runMigration(ctx, t, revertConfig(t, dbName, "t"))
	wantKind(t, err, KindInvalid, "`t_tailor_old` was altered since the migration kept it")
	mustExec(t, db, "ALTER TABLE t_tailor_old DROP COLUMN z")
	if got := strings.Join(tablesIn(t, db, dbName), ","); got != before {
		t.Fatalf("a refused revert changed the tables: %s, was %s", got, before)
	}

	// A value only the new type holds.
	mustExec(t, db, "UPDATE t SET n = 5000000000 WHERE id = 7")
	_, err = runMigration(ctx, t, revertConfig(t, dbName, "t"))
	wantKind(t, err, KindFailed, "id=7", "tailor revert again continues")
	if def := showCreate(t, db, dbName, "t"); !strings.Contains(def, "bigint") {
		t.Fatalf("the failed revert swapped:\n%s", def)
	}
	mustExec(t, db, "INSERT INTO t VALUES (5000, 1)") // the table serves on
	mustExec(t, db, "UPDATE t SET n = 7 WHERE id = 7")
	res, err := runMigration(ctx, t, revertConfig(t, dbName, "t"))
	if err != nil {
		t.Fatalf("revert once the row fits: %v", err)
	}
	if !res.Reverted {
		t.Error("not reverted")
	}
	var n, rows int64
	if err := db.QueryRow("SELECT (SELECT n FROM t WHERE id = 7), (SELECT COUNT(*) FROM t)").Scan(&n, &rows); err != nil {
		t.Fatal(err)
	}
	if def := showCreate(t, db, dbName, "t"); !strings.Contains(def, "`n` int(11) NOT NULL") || n != 7 || rows != 2001 {
		t.Errorf("after the revert: n=%d, %d rows, definition:\n%s", n, rows, def)
	}

	// The table the revert kept, dropped by hand: nothing to revert to.
	mustExec(t, db, "DROP TABLE t_tailor_rev")
	_, err = runMigration(ctx, t, revertConfig(t, dbName, "t"))
	wantKind(t, err, KindInvalid, "`t_tailor_rev`, is gone")
}

// TestRevertStoppedContinues: a revert whose cut-over is held up past its
// attempts keeps the kept table and its state; run again, it continues
// and swaps, with every write.
func TestRevertStoppedContinues(t *testing.T) {
	const rows = 5_000
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	load := workload.Start(ctx, db, workload.Options{Table: "orders", Writers: 2, Rate: 200, InitialRows: rows, Seed: 23})
	defer load.Stop()
	if _, err := runMigration(ctx, t, testConfig(t, dbName, "orders", "ADD COLUMN refunded_at DATETIME(6) NULL")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)

	blocker, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	cfg := revertConfig(t, dbName, "orders")
	cfg.CutOverAttempts, cfg.CutOverLockTimeout = 1, time.Second
	cfg.testHooks = &testHooks{beforeCutOver: func() {
		mustConnExec(t, blocker, "BEGIN")
		mustConnExec(t, blocker, "SELECT COUNT(*) FROM orders WHERE id = 1 FOR UPDATE")
	}}
	_, err = runMigration(ctx, t, cfg)
	wantKind(t, err, KindResumable, "the revert stopped", "tailor revert again continues")
	mustConnExec(t, blocker, "ROLLBACK")
	if rec := savedState(t, db, dbName, "orders"); rec == nil || !rec.Reverting || !rec.ChecksumPassed {
		t.Fatalf("saved state after the stopped revert: %+v", rec)
	}
	// A migration may not start over a revert in progress.
	_, err = runMigration(ctx, t, testConfig(t, dbName, "orders", "ADD COLUMN other INT NULL"))
	wantKind(t, err, KindInvalid, "run tailor revert to continue it")

	time.Sleep(300 * time.Millisecond)
	res, err := runMigration(ctx, t, revertConfig(t, dbName, "orders"))
	if err != nil {
		t.Fatalf("revert again: %v", err)
	}
	if !res.Reverted || res.ChecksumChunks != 0 {
		t.Errorf("the continued revert: reverted %v, %d chunks checked again", res.Reverted, res.ChecksumChunks)
	}
	time.Sleep(300 * time.Millisecond)
	if stats := load.Stop(); stats.Errors > 0 {
		t.Errorf("%d writes failed, last: %s", stats.Errors, stats.LastError)
	}
	if def := showCreate(t, db, dbName, "orders"); strings.Contains(def, "refunded_at") {
		t.Errorf("not reverted:\n%s", def)
	}
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
}
