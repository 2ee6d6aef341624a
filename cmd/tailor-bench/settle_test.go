package main

import (
	"context"
	"os"
	"testing"

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
