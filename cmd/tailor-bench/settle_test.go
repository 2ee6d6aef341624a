package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

var sbx *sandbox.Sandbox

func TestMain(m *testing.M) { os.Exit(sandbox.RunTests(m, &sbx)) }

// TestSettle fills part of the redo log, as a run's restore does, and
// settles: the checkpoint age ends under 5% of its limit, and InnoDB's
// flushing settings are put back as they were.
func TestSettle(t *testing.T) {
	sandbox.Need(t, sbx)
	db, _ := sbx.NewDatabase(t)
	ctx := context.Background()
	flushing := func() string {
		var s string
		if err := db.QueryRowContext(ctx, "SELECT CONCAT_WS(',', @@innodb_io_capacity, @@innodb_io_capacity_max, @@innodb_max_dirty_pages_pct)").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := flushing()
	for _, q := range []string{
		"CREATE TABLE fill (id INT PRIMARY KEY, pad CHAR(200) NOT NULL) ENGINE=InnoDB",
		"INSERT INTO fill SELECT seq, REPEAT('x', 200) FROM seq_1_to_300000",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	fill, err := operate.ReadRedoFill(ctx, db)
	if err != nil {
		t.Fatalf("checkpoint age: %v", err)
	}
	if fill <= settledFill {
		t.Fatalf("the fill left the redo log %.1f%% full, already settled: nothing to test", fill*100)
	}
	if err := settle(ctx, db); err != nil {
		t.Fatal(err)
	}
	after, err := operate.ReadRedoFill(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("redo log %.1f%% full before settling, %.1f%% after", fill*100, after*100)
	if after > settledFill {
		t.Errorf("redo log %.1f%% full after settling, want at most %.0f%%", after*100, settledFill*100)
	}
	if got := flushing(); got != before {
		t.Errorf("innodb_io_capacity, _max, max_dirty_pages_pct = %s after settling, want %s as before", got, before)
	}
}

// TestReadLockWaits makes one write wait for another session's row lock:
// the run's count of row lock waits goes up by it, with its time.
func TestReadLockWaits(t *testing.T) {
	sandbox.Need(t, sbx)
	db, _ := sbx.NewDatabase(t)
	ctx := context.Background()
	for _, q := range []string{"CREATE TABLE t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB", "INSERT INTO t VALUES (1, 0)"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	before, err := readLockWaits(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	holder, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(ctx, "UPDATE t SET v = 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "UPDATE t SET v = 2 WHERE id = 1")
		waited <- err
	}()
	// The second write is waiting (asked on the holder's own connection:
	// the pool may have no third); it waits a little longer.
	for deadline := time.Now().Add(30 * time.Second); ; {
		var name string
		var waiting int
		if err := holder.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Innodb_row_lock_current_waits'").Scan(&name, &waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second write never waited for the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	after, err := readLockWaits(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if n := after.waits - before.waits; n < 1 {
		t.Errorf("row lock waits went up by %d, want at least 1", n)
	}
	if ms := after.millis - before.millis; ms < 100 {
		t.Errorf("row lock wait time went up by %d ms, want the ~300 ms the write waited", ms)
	}
}
