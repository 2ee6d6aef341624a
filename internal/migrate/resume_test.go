package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/state"
	"github.com/tailor-osc/tailor/internal/workload"
)

// savedState reads the saved state of table, nil when there is none.
func savedState(t *testing.T, db *sql.DB, database, table string) *state.Record {
	t.Helper()
	store, err := state.New(db, database, table)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// errStopped is the failure that may pass which the tests stop runs with.
var errStopped = errors.New("stopped by the test")

// TestResumeMidCopy: a run that stops in the middle of the copy, for a
// reason that may pass, keeps its shadow and its saved state; --resume
// copies only what was not copied, applies what changed meanwhile, and the
// result equals the control table. Writers run through both runs and the
// pause between them.
func TestResumeMidCopy(t *testing.T) {
	const rows = 30_000
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	load := workload.Start(ctx, db, workload.Options{Table: "orders", Writers: 4, Rate: 400, InitialRows: rows, Seed: 11})
	defer load.Stop()

	const alter = "ADD COLUMN refunded_at DATETIME(6) NULL, ADD INDEX idx_status (status)"
	cfg := testConfig(t, dbName, "orders", alter)
	cfg.Threads, cfg.ChunkSize = 4, 500
	cfg.CheckpointInterval = 100 * time.Millisecond
	cfg.DeferIndexes = DeferIndexesAlways
	var chunks atomic.Int64
	cfg.testHooks = &testHooks{
		afterChunk: func(int) { time.Sleep(20 * time.Millisecond) },
		stopAfterChunk: func(int) error {
			if chunks.Add(1) == 25 {
				return errStopped
			}
			return nil
		},
	}
	_, err := runMigration(ctx, t, cfg)
	wantKind(t, err, KindResumable, "stopped by the test", "--resume")
	rec := savedState(t, db, dbName, "orders")
	if rec == nil {
		t.Fatal("no saved state after a stop that may pass")
	}
	t.Logf("saved: phase %s, low-watermark %v, %d rows, position %s", rec.Phase, rec.LowWatermark, rec.RowsCopied, rec.Position)
	if rec.LowWatermark == nil || rec.RowsCopied < 5_000 || rec.RowsCopied > 20_000 || rec.CopyDone {
		t.Fatalf("saved state does not record the copy's progress: %+v", rec)
	}
	if got := tablesIn(t, db, dbName); !slices.Contains(got, "orders_tailor_new") {
		t.Fatalf("the shadow was not kept: %v", got)
	}
	time.Sleep(500 * time.Millisecond) // writes while no run follows them

	// Without --resume, the saved migration is named and nothing changes.
	_, err = runMigration(ctx, t, testConfig(t, dbName, "orders", alter))
	wantKind(t, err, KindInvalid, "an earlier migration of `orders`", "--resume", "--initially-drop-ghost-table")

	cfg = testConfig(t, dbName, "orders", alter)
	cfg.Resume = true
	cfg.Threads, cfg.ChunkSize = 4, 500
	res, err := runMigration(ctx, t, cfg)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	stats := load.Stop()
	if stats.Errors > 0 {
		t.Errorf("%d writes failed, last: %s", stats.Errors, stats.LastError)
	}
	t.Logf("resumed: %d rows copied in this run, %d before; load %d tx", res.RowsCopied, res.RowsCopiedBefore, stats.Transactions)
	if !res.Resumed || res.RowsCopiedBefore != rec.RowsCopied {
		t.Errorf("result says resumed=%v with %d rows before, want %d", res.Resumed, res.RowsCopiedBefore, rec.RowsCopied)
	}
	if total := res.RowsCopied + res.RowsCopiedBefore; float64(total) > 1.3*float64(rows) {
		t.Errorf("copied %d rows over both runs for a %d-row table: the copy started over", total, rows)
	}
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
	if def := showCreate(t, db, dbName, "orders"); !strings.Contains(def, "KEY `idx_status`") || !strings.Contains(def, "`refunded_at`") {
		t.Errorf("new definition:\n%s", def)
	}
	if got := tablesIn(t, db, dbName); strings.Join(got, ",") != "orders,orders_control,orders_tailor_old,orders_tailor_state" {
		t.Errorf("tables after the resumed migration = %v (the saved state stays for a revert)", got)
	}
}

// TestResumeAfterCutOverGaveUp: a transaction holds the table through
// every cut-over attempt; the verified copy is kept, and once the
// transaction ends --resume swaps without copying a row or checking again.
func TestResumeAfterCutOverGaveUp(t *testing.T) {
	const rows = 5_000
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	load := workload.Start(ctx, db, workload.Options{Table: "orders", Writers: 2, Rate: 200, InitialRows: rows, Seed: 5})
	defer load.Stop()

	blocker, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	cfg := testConfig(t, dbName, "orders", "ADD COLUMN refunded_at DATETIME(6) NULL")
	cfg.CutOverAttempts = 2
	cfg.CutOverLockTimeout = time.Second
	cfg.testHooks = &testHooks{cutOverBackoff: 100 * time.Millisecond, beforeCutOver: func() {
		mustConnExec(t, blocker, "BEGIN")
		mustConnExec(t, blocker, "SELECT COUNT(*) FROM orders WHERE id = 1 FOR UPDATE")
	}}
	_, err = runMigration(ctx, t, cfg)
	wantKind(t, err, KindResumable, "cut-over", "--resume")
	rec := savedState(t, db, dbName, "orders")
	if rec == nil || !rec.ChecksumPassed || !rec.CopyDone {
		t.Fatalf("saved state after the cut-over gave up: %+v", rec)
	}
	mustConnExec(t, blocker, "ROLLBACK")

	cfg = testConfig(t, dbName, "orders", "ADD COLUMN refunded_at DATETIME(6) NULL")
	cfg.Resume = true
	res, err := runMigration(ctx, t, cfg)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	stats := load.Stop()
	if res.RowsCopied != 0 || res.ChecksumChunks != 0 {
		t.Errorf("the resumed run copied %d rows and checked %d chunks; the copy was done and checked", res.RowsCopied, res.ChecksumChunks)
	}
	if stats.Errors > 0 {
		t.Errorf("%d writes failed, last: %s", stats.Errors, stats.LastError)
	}
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
}

func mustConnExec(t *testing.T, c *sql.Conn, q string) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestResumeRefused: --resume is refused, with one sentence and nothing
// changed, for a migration that is not there, another ALTER, a shadow that
// is not the saved one, a binary log that is gone, and a state of another
// format; a dry run leaves the saved migration as it is; and
// --initially-drop-ghost-table starts over.
func TestResumeRefused(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", 2_000); err != nil {
		t.Fatal(err)
	}
	const alter = "ADD COLUMN refunded_at DATETIME(6) NULL"
	resume := func(alter string) error {
		cfg := testConfig(t, dbName, "orders", alter)
		cfg.Resume = true
		_, err := runMigration(ctx, t, cfg)
		return err
	}
	wantKind(t, resume(alter), KindInvalid, "no saved migration of `orders` to resume")

	cfg := testConfig(t, dbName, "orders", alter)
	cfg.ChunkSize = 200
	cfg.testHooks = &testHooks{stopAfterChunk: func(seq int) error {
		if seq == 3 {
			return errStopped
		}
		return nil
	}}
	_, err := runMigration(ctx, t, cfg)
	wantKind(t, err, KindResumable, "stopped by the test")
	snapshot := func() string {
		return showCreate(t, db, dbName, "orders_tailor_new") + "|" + showCreate(t, db, dbName, "orders_tailor_state") +
			"|" + strings.Join(tablesIn(t, db, dbName), ",")
	}
	before := snapshot()
	rec := savedState(t, db, dbName, "orders")

	dry := testConfig(t, dbName, "orders", alter)
	dry.Execute = false
	if _, err := runMigration(ctx, t, dry); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	dry.Resume = true
	if _, err := runMigration(ctx, t, dry); err != nil {
		t.Fatalf("dry run with --resume: %v", err)
	}
	if after := savedState(t, db, dbName, "orders"); snapshot() != before || after == nil || after.RunID != rec.RunID || !after.UpdatedAt.Equal(rec.UpdatedAt) {
		t.Fatal("a dry run changed the saved migration")
	}

	wantKind(t, resume("ADD COLUMN other INT"), KindInvalid, "makes another change")

	mustExec(t, db, "UPDATE orders_tailor_state SET binlog_file = 'gone-bin.000001'")
	wantKind(t, resume(alter), KindInvalid, "gone-bin.000001", "no longer on the server")
	mustExec(t, db, "UPDATE orders_tailor_state SET binlog_file = ?", rec.Position.File)

	mustExec(t, db, "UPDATE orders_tailor_state SET format_version = 99")
	wantKind(t, resume(alter), KindInvalid, "format 99", fmt.Sprintf("this tailor reads format %d", state.FormatVersion))
	mustExec(t, db, "UPDATE orders_tailor_state SET format_version = ?", state.FormatVersion)

	mustExec(t, db, "RENAME TABLE orders_tailor_new TO kept_shadow")
	mustExec(t, db, "CREATE TABLE orders_tailor_new LIKE orders")
	wantKind(t, resume(alter), KindInvalid, "is not the saved migration's shadow")
	mustExec(t, db, "DROP TABLE orders_tailor_new")
	mustExec(t, db, "RENAME TABLE kept_shadow TO orders_tailor_new")
	if snapshot() != before {
		t.Fatal("a refused resume changed the saved migration")
	}

	over := testConfig(t, dbName, "orders", alter)
	over.InitiallyDropGhostTable = true
	res, err := runMigration(ctx, t, over)
	if err != nil {
		t.Fatalf("start over: %v", err)
	}
	if res.Resumed || res.RowsCopied != 2_000 {
		t.Errorf("starting over copied %d rows (resumed=%v), want all 2000", res.RowsCopied, res.Resumed)
	}
	if got := tablesIn(t, db, dbName); strings.Join(got, ",") != "orders,orders_control,orders_tailor_old,orders_tailor_state" {
		t.Errorf("tables after starting over = %v", got)
	}
}

// TestSavedPositionMovesWhileIdle: while nothing writes the table, the
// saved position still follows the binary log (writes to other tables move
// it), so that a long postponed wait does not leave a resume depending on
// binary logs the server may purge meanwhile.
func TestSavedPositionMovesWhileIdle(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 2_000)
	mustExec(t, db, "CREATE TABLE other (id INT PRIMARY KEY, v INT)")
	flag := filepath.Join(t.TempDir(), "postpone")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.PostponeCutOverFlagFile = flag
	cfg.CheckpointInterval = 100 * time.Millisecond
	run := startRun(t, cfg)
	run.waitStatus(t, "the cut-over to be postponed", func(st control.Status) bool { return st.CutOverPostponed })
	first := savedState(t, db, dbName, "t").Position
	for i := range 20 {
		mustExec(t, db, "INSERT INTO other VALUES (?, ?)", i, i)
	}
	server, err := mysql.DetectServer(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	target, err := capture.CurrentPosition(context.Background(), db, server)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for savedState(t, db, dbName, "t").Position.Compare(target) < 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the saved position stayed at %s (from %s) while the binary log reached %s", savedState(t, db, dbName, "t").Position, first, target)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	if _, err := run.wait(t); err != nil {
		t.Fatal(err)
	}
}

// TestResumeKillsLeftoverStatement: a statement still writing the shadow
// when a resume starts (an index build the earlier run left, which the
// server runs on whatever its client became) is named and killed before
// the resume does anything else, and the migration then finishes.
func TestResumeKillsLeftoverStatement(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	createTable(t, db, "t", 3_000)
	const alter = "ADD COLUMN x INT NULL"
	cfg := testConfig(t, dbName, "t", alter)
	cfg.testHooks = &testHooks{stopAfterChunk: func(seq int) error {
		if seq == 2 {
			return errStopped
		}
		return nil
	}}
	cfg.ChunkSize = 500
	_, err := runMigration(ctx, t, cfg)
	wantKind(t, err, KindResumable, "stopped by the test")

	// A reader holds the shadow, so that an ALTER of it waits: the
	// leftover, on a session of its own that stays connected.
	reader, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	mustConnExec(t, reader, "BEGIN")
	mustConnExec(t, reader, "SELECT COUNT(*) FROM t_tailor_new")
	leftover := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "ALTER TABLE t_tailor_new ADD INDEX leftover (n)")
		leftover <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE t_tailor_new%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the leftover ALTER never showed in the processlist")
		}
		time.Sleep(20 * time.Millisecond)
	}

	var logged strings.Builder
	resume := testConfig(t, dbName, "t", alter)
	resume.Resume = true
	resume.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logged}, nil))
	done := make(chan error, 1)
	go func() {
		_, err := runMigration(ctx, t, resume)
		done <- err
	}()
	select {
	case err := <-leftover:
		if err == nil {
			t.Fatal("the leftover ALTER finished instead of being killed")
		}
		t.Logf("leftover ALTER ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the resume did not kill the leftover ALTER")
	}
	mustConnExec(t, reader, "ROLLBACK")
	if err := <-done; err != nil {
		t.Fatalf("resume: %v", err)
	}
	if !strings.Contains(logged.String(), "killing a statement an earlier run left running on the shadow") {
		t.Errorf("the kill was not logged:\n%s", logged.String())
	}
	if def := showCreate(t, db, dbName, "t"); strings.Contains(def, "leftover") || !strings.Contains(def, "`x` int") {
		t.Errorf("the new table:\n%s", def)
	}
}

// lockedWriter lets a logger write from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
