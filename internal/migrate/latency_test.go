package migrate

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/workload"
)

// TestCommitLatencyInStatus holds the copy after its first chunk and reads
// the status meanwhile: the heartbeat writes' commit latency is measured
// and shown, with the budget and the copy's workers, in the JSON and the
// text status, and in Runner.Status.
func TestCommitLatencyInStatus(t *testing.T) {
	t.Parallel()
	db, cfg := ordersOnTwoThreads(t)
	cfg.MaxCommitLatency = 40 * time.Millisecond
	holdFirst, letGo := holdOnce(t)
	cfg.testHooks = &testHooks{afterChunk: func(int) { holdFirst() }}
	run := startRun(t, cfg)
	st := run.waitStatus(t, "a measured commit latency during the copy", func(st control.Status) bool {
		return st.Phase == PhaseCopy.String() && st.CommitLatency >= 0 && st.CopyThreads > 0
	})
	text := run.send(t, "status")
	// The Runner's own Status (tailor-bench's) reads the same latency.
	own := run.runner.Status().CommitLatency
	letGo()
	if own <= 0 {
		t.Errorf("Runner.Status().CommitLatency = %v during the copy, want a measured latency", own)
	}
	if st.CommitLatency <= 0 || st.MaxCommitLatencyMillis != 40 || st.CopyThreads != 2 || st.CopyWorkers < 1 || st.CopyWorkers > 2 {
		t.Errorf("status: commit latency %v, budget %d ms, workers %d of %d; want a latency, 40 ms, 1 or 2 of 2",
			st.CommitLatency, st.MaxCommitLatencyMillis, st.CopyWorkers, st.CopyThreads)
	}
	// Whether the budget applies depends on the other tests' writes at
	// that moment: both texts are right.
	if !strings.Contains(text, "commit latency: ") || !strings.Contains(text, " 40ms") || !strings.Contains(text, ", copying ") {
		t.Errorf("text status lacks the commit latency:\n%s", text)
	}
	if _, err := run.wait(t); err != nil {
		t.Fatal(err)
	}
	compareWithControl(t, db, "orders")
}

// TestChecksumGivesWay runs a migration whose commit latency is always
// over its budget while another session writes: the checksum's sessions
// give way as the copy's chunks do (the status shows one range compared at
// a time, of two sessions), and the migration still finishes with the
// table equal.
func TestChecksumGivesWay(t *testing.T) {
	t.Parallel()
	db, cfg := ordersOnTwoThreads(t)
	cfg.ChunkSize = 100 // checksum ranges of 1,000 rows
	cfg.MaxCommitLatency = 5 * time.Millisecond
	holdFirst, letGo := holdOnce(t)
	cfg.testHooks = &testHooks{
		commitLatency:    func() (time.Duration, bool) { return time.Second, true },
		checksumProgress: func(int) { holdFirst() },
	}
	writeElsewhere(t, db)
	run := startRun(t, cfg)
	// The gate's level falls at the first range it lets through; the
	// first range's progress then holds the checksum.
	st := run.waitStatus(t, "the checksum giving way", func(st control.Status) bool {
		return st.Phase == PhaseChecksum.String() && st.ChecksumThreads > 0 && st.ChecksumWorkers < st.ChecksumThreads
	})
	text := run.send(t, "status")
	letGo()
	if st.ChecksumThreads != 2 || st.ChecksumWorkers != 1 || st.CopyThreads != 0 {
		t.Errorf("status during the checksum: %d of %d sessions comparing, copy threads %d; want 1 of 2, and no copy",
			st.ChecksumWorkers, st.ChecksumThreads, st.CopyThreads)
	}
	if !strings.Contains(text, "checking 1 range at a time of 2") {
		t.Errorf("text status lacks the checksum's gate:\n%s", text)
	}
	res, err := run.wait(t)
	if err != nil {
		t.Fatal(err)
	}
	if res.ChecksumChunks < 3 {
		t.Errorf("checksum chunks = %d, want 3 ranges or more", res.ChecksumChunks)
	}
	compareWithControl(t, db, "orders")
}

// TestIdleTableIsNotGivenWay runs the same migration, its commit latency
// always over the budget, with no other session writing: there are no
// commits of the application to protect, so neither the copy nor the
// checksum gives way, and the status says why.
//
// Not parallel: the binary log is the server's, and the other tests'
// writes are other sessions' writes.
func TestIdleTableIsNotGivenWay(t *testing.T) {
	db, cfg := ordersOnTwoThreads(t)
	cfg.ChunkSize = 100
	cfg.MaxCommitLatency = 5 * time.Millisecond
	holdCheck, letCheckGo := holdOnce(t)
	cfg.testHooks = &testHooks{
		commitLatency: func() (time.Duration, bool) { return time.Second, true },
		// Every chunk takes 300 ms or more: the copy of 30 chunks lasts 4.5 s
		// or more, and the gate adjusts (every half second, at a chunk's
		// acquire) several times after the reader's first 2 s. Before them
		// the reader cannot tell what was written before it started, and the
		// gate gives way.
		afterChunk:       func(int) { time.Sleep(300 * time.Millisecond) },
		checksumProgress: func(int) { holdCheck() },
	}
	run := startRun(t, cfg)
	copying, ended := false, false
	st := run.waitStatus(t, "the copy to go at full speed", func(st control.Status) bool {
		switch {
		case st.Phase == PhaseCopy.String():
			copying = true
		case copying:
			ended = true
			return true
		}
		return copying && st.CopyWorkers == 2 && !st.CopyResting && st.NoOtherWrites
	})
	if ended {
		letCheckGo()
		t.Fatalf("the copy ended without copying 2 chunks at once with nobody else writing (phase %s)", st.Phase)
	}
	t.Logf("at %d rows: %d of %d chunks at once", st.RowsCopied, st.CopyWorkers, st.CopyThreads)
	if text := run.send(t, "status"); !strings.Contains(text, "(no other session writes: not giving way), copying 2 chunks at a time of 2") {
		t.Errorf("text status does not say why the copy does not give way:\n%s", text)
	}
	st = run.waitStatus(t, "the checksum held at its first range", func(st control.Status) bool {
		return st.Phase == PhaseChecksum.String() && st.ChecksumThreads > 0
	})
	letCheckGo()
	if st.ChecksumWorkers != 2 || !st.NoOtherWrites {
		t.Errorf("checksum status: %d of %d ranges at once, no other writes %v; want 2 of 2, true", st.ChecksumWorkers, st.ChecksumThreads, st.NoOtherWrites)
	}
	if _, err := run.wait(t); err != nil {
		t.Fatal(err)
	}
	compareWithControl(t, db, "orders")
}

// writeElsewhere has another session insert a row into a table of its own
// every 20 ms until the test ends: an application whose commits the copy's
// gate protects.
func writeElsewhere(t *testing.T, db *sql.DB) {
	t.Helper()
	mustExec(t, db, "CREATE TABLE elsewhere (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6) NOT NULL)")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		operate.Every(ctx, 20*time.Millisecond, func(ctx context.Context) {
			if _, err := db.ExecContext(ctx, "INSERT INTO elsewhere (at) VALUES (NOW(6))"); err != nil && ctx.Err() == nil {
				t.Errorf("the other session's write: %v", err)
				cancel() // one error says it; the writes stop
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// ordersOnTwoThreads is a table of 3,000 orders and the configuration of a
// migration of it on two threads.
func ordersOnTwoThreads(t *testing.T) (*sql.DB, Config) {
	t.Helper()
	db, dbName := sbx.NewDatabase(t)
	if err := workload.Create(context.Background(), db, "orders", 3_000); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, dbName, "orders", "ADD COLUMN refunded_at DATETIME NULL")
	cfg.Threads = 2
	return db, cfg
}

// holdOnce returns a hook that holds its first caller until letGo, which
// the test's end also calls (a failed test lets the run go on).
func holdOnce(t *testing.T) (hold, letGo func()) {
	held := make(chan struct{})
	var release sync.Once
	letGo = func() { release.Do(func() { close(held) }) }
	t.Cleanup(letGo)
	var first atomic.Bool
	hold = func() {
		if first.CompareAndSwap(false, true) {
			<-held
		}
	}
	return hold, letGo
}
