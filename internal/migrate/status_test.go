package migrate

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/workload"
)

// parsePos reads a status's "file:offset" binary log position.
func parsePos(t *testing.T, s string) capture.Position {
	t.Helper()
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		t.Fatalf("binary log position %q is not file:offset", s)
	}
	n, err := strconv.ParseUint(s[i+1:], 10, 32)
	if err != nil {
		t.Fatalf("binary log position %q: %v", s, err)
	}
	return capture.Position{File: s[:i], Pos: uint32(n)}
}

// TestStatusShowsBinlogAndLag runs a migration under writes, held in the
// copy, and reads the status gh-ost's status line gives: the binary log
// positions read and applied, the applier's lag and the heartbeat's. With
// the applier held for a few seconds the lag and the backlog grow and the
// applied position falls behind the read one; released, the lag falls back.
func TestStatusShowsBinlogAndLag(t *testing.T) {
	const rows = 20_000
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	load := workload.Start(ctx, db, workload.Options{Table: "orders", Writers: 2, Rate: 100, InitialRows: rows, Seed: 21})

	releaseCopy, releaseApply := make(chan struct{}), make(chan struct{})
	var holdApply atomic.Bool
	cfg := testConfig(t, dbName, "orders", "ADD COLUMN refunded_at DATETIME NULL")
	cfg.testHooks = &testHooks{
		afterChunk: func(seq int) {
			if seq == 5 {
				select {
				case <-releaseCopy:
				case <-time.After(90 * time.Second):
				}
			}
		},
		beforeApply: func(ctx context.Context, _ []capture.Batch) {
			if holdApply.Load() {
				select {
				case <-releaseApply:
				case <-ctx.Done():
				case <-time.After(90 * time.Second):
				}
			}
		},
	}
	run := startRun(t, cfg)
	released := false
	defer func() {
		if !released {
			close(releaseCopy)
		}
	}()

	st := run.waitStatus(t, "changes applied during the copy", func(st control.Status) bool {
		return st.Phase == PhaseCopy.String() && st.EventsApplied > 0 && st.BinlogRead != "" && st.ApplierLag >= 0 && st.HeartbeatLag >= 0
	})
	t.Logf("copying: read %s, applied %s, applier lag %s, heartbeat %s", st.BinlogRead, st.BinlogApplied, st.ApplierLag, st.HeartbeatLag)
	if read, applied := parsePos(t, st.BinlogRead), parsePos(t, st.BinlogApplied); applied.Compare(read) > 0 {
		t.Errorf("applied position %s is past the read one %s", applied, read)
	}
	// Event times are whole seconds: a lag that keeps up reads under two.
	if st.ApplierLag > control.Duration(2*time.Second) {
		t.Errorf("applier lag %s while the applier keeps up", st.ApplierLag)
	}
	if st.HeartbeatLag > control.Duration(3*time.Second) {
		t.Errorf("heartbeat lag %s: the throttler beats more often", st.HeartbeatLag)
	}
	if st.CutOverAttempt != 0 || st.CutOverAttempts != 5 {
		t.Errorf("cut-over attempt %d of %d before the cut-over, want 0 of 5", st.CutOverAttempt, st.CutOverAttempts)
	}
	text := run.send(t, "status")
	for _, want := range []string{", read up to ", ", applied up to ", ", applier lag "} {
		if !strings.Contains(text, want) {
			t.Errorf("the status block lacks %q:\n%s", want, text)
		}
	}

	holdApply.Store(true)
	time.Sleep(3500 * time.Millisecond)
	held := run.status(t)
	t.Logf("applier held: read %s, applied %s, applier lag %s, backlog %d", held.BinlogRead, held.BinlogApplied, held.ApplierLag, held.Backlog)
	if held.Backlog == 0 || held.ApplierLag < control.Duration(2*time.Second) {
		t.Errorf("applier held 3.5s under writes: backlog %d, applier lag %s", held.Backlog, held.ApplierLag)
	}
	if read, applied := parsePos(t, held.BinlogRead), parsePos(t, held.BinlogApplied); applied.Compare(read) >= 0 {
		t.Errorf("applied position %s not behind the read one %s while the applier is held", applied, read)
	}
	if parsePos(t, held.BinlogApplied).Compare(parsePos(t, st.BinlogApplied)) < 0 {
		t.Errorf("applied position went back from %s to %s", st.BinlogApplied, held.BinlogApplied)
	}

	holdApply.Store(false)
	close(releaseApply)
	caught := run.waitStatus(t, "the applier to catch up", func(st control.Status) bool {
		return st.ApplierLag >= 0 && st.ApplierLag < control.Duration(2*time.Second)
	})
	t.Logf("caught up: applier lag %s, backlog %d", caught.ApplierLag, caught.Backlog)

	released = true
	close(releaseCopy)
	res, err := run.wait(t)
	stats := load.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Errors > 0 {
		t.Errorf("%d writes failed, last: %s", stats.Errors, stats.LastError)
	}
	if res.CutOverAttempts < 1 {
		t.Errorf("cut-over attempts %d", res.CutOverAttempts)
	}
	compareWithControl(t, db, "orders")
}

// TestStatusShowsPhaseProgress follows one migration through its phases
// and reads each one's own progress: while paused the copy's ETA says so;
// the index build and the checksum show their progress and ETA, not the
// finished copy's 100%.
func TestStatusShowsPhaseProgress(t *testing.T) {
	const rows = 30_000
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	atChunk, atIndexes, atChecksum := make(chan struct{}), make(chan struct{}), make(chan struct{})
	releaseChunk, releaseIndexes, releaseChecksum := make(chan struct{}), make(chan struct{}), make(chan struct{})
	hold := func(at, release chan struct{}) {
		close(at)
		select {
		case <-release:
		case <-time.After(90 * time.Second):
		}
	}
	cfg := testConfig(t, dbName, "orders", "ADD COLUMN refunded_at DATETIME NULL")
	cfg.ChunkSize = 100 // checksum chunks of 1000 rows: about 30 of them
	cfg.testHooks = &testHooks{
		afterChunk: func(seq int) {
			if seq == 20 {
				hold(atChunk, releaseChunk)
			}
		},
		beforeIndexBuild: func() { hold(atIndexes, releaseIndexes) },
		checksumProgress: func(chunks int) {
			if chunks == 10 {
				hold(atChecksum, releaseChecksum)
			}
		},
	}
	run := startRun(t, cfg)
	waitFor := func(what string, ch chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-run.done:
			t.Fatalf("the migration ended before %s: %v", what, run.err)
		case <-time.After(90 * time.Second):
			t.Fatalf("no %s within 90s", what)
		}
	}

	// The copy, paused: no ETA but "paused".
	waitFor("copy", atChunk)
	if reply := run.send(t, "pause"); !strings.Contains(reply, "paused") {
		t.Fatalf("pause replied %q", reply)
	}
	st := run.status(t)
	if !st.Paused || st.ETA >= 0 || st.PhaseETA >= 0 || st.Phase != PhaseCopy.String() {
		t.Errorf("paused copy: paused %v, eta %s, phase eta %s, phase %s", st.Paused, st.ETA, st.PhaseETA, st.Phase)
	}
	if text := run.send(t, "status"); !strings.Contains(text, "eta paused") {
		t.Errorf("the status block of a paused copy does not say so:\n%s", text)
	}
	run.send(t, "resume")
	close(releaseChunk)

	// The index build, as far as the server tells.
	waitFor("index build", atIndexes)
	close(releaseIndexes)
	st = run.waitStatus(t, "the index build's progress", func(st control.Status) bool {
		return st.Phase == PhaseBuildIndexes.String() && st.PhaseProgress != "" || st.Phase == PhaseChecksum.String()
	})
	if st.Phase == PhaseBuildIndexes.String() {
		t.Logf("build-indexes: %s (%.1f%%), eta %s", st.PhaseProgress, st.PhasePercent, st.PhaseETA)
		if !strings.Contains(st.PhaseProgress, "building for") && !strings.Contains(st.PhaseProgress, "the server reports") {
			t.Errorf("build-indexes progress %q", st.PhaseProgress)
		}
	}

	// The checksum, a third of the way.
	waitFor("checksum", atChecksum)
	st = run.status(t)
	t.Logf("checksum: %s (%.1f%%), eta %s; copy %.1f%%", st.PhaseProgress, st.PhasePercent, st.PhaseETA, st.Percent)
	if st.Phase != PhaseChecksum.String() || !strings.Contains(st.PhaseProgress, "10 of ~") || !strings.Contains(st.PhaseProgress, "chunks checked") {
		t.Errorf("checksum status: phase %s, progress %q", st.Phase, st.PhaseProgress)
	}
	if st.PhasePercent < 20 || st.PhasePercent > 50 || st.PhaseETA <= 0 {
		t.Errorf("checksum at 10 chunks of about 30: %.1f%%, eta %s", st.PhasePercent, st.PhaseETA)
	}
	if text := run.send(t, "status"); !strings.Contains(text, "checksum: 10 of ~") {
		t.Errorf("the status block lacks the checksum's progress:\n%s", text)
	}
	close(releaseChecksum)
	if _, err := run.wait(t); err != nil {
		t.Fatal(err)
	}
}

// TestIndexProgressQuery runs the query watchIndexBuild reads MariaDB's
// ALTER progress with, against a session that runs a statement.
func TestIndexProgressQuery(t *testing.T) {
	db, _ := sbx.NewDatabase(t)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var id int64
	if err := conn.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := conn.ExecContext(context.Background(), "DO SLEEP(1)")
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	var stage, maxStage sql.NullInt64
	var progress sql.NullFloat64
	if err := db.QueryRow(indexProgressSQL, id).Scan(&stage, &maxStage, &progress); err != nil {
		t.Errorf("%s: %v", indexProgressSQL, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("a statement without progress: stage %v of %v, %v%%", stage, maxStage, progress)
}
