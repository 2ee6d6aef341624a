package native

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// stallMargin is what a query of the table may wait beyond the lock wait
// timeout: the server's reaction to the timeout or the KILL, and the noise
// of a shared machine.
const stallMargin = 1500 * time.Millisecond

// TestInstantDoesNotStallReaders is the point of the package: while a
// transaction keeps a metadata lock on the table, each attempt waits at most
// the lock wait timeout, so the table's other queries are never held longer;
// once the transaction ends, an attempt goes through.
func TestInstantDoesNotStallReaders(t *testing.T) {
	f := newFixture(t)
	release := f.holdTransaction()
	p := f.startProber(20 * time.Millisecond)

	const timeout = time.Second
	cfg := f.config("ADD COLUMN added int NULL -- a comment the algorithm must not end up in")
	cfg.LockWaitTimeout, cfg.Attempts = timeout, 20
	cfg.Backoff, cfg.MaxBackoff = 250*time.Millisecond, time.Second

	const held = 3500 * time.Millisecond
	timer := time.AfterFunc(held, release)
	defer timer.Stop()
	res, err := Instant(context.Background(), f.db, cfg)
	p.halt()
	if err != nil {
		t.Fatalf("Instant: %v", err)
	}
	if p.err != nil {
		t.Fatalf("a query of the table failed: %v", p.err)
	}
	t.Logf("attempts %d, elapsed %s; %d queries of the table, the slowest took %s (bound %s + %s)",
		res.Attempts, res.Elapsed, p.queries, p.max, timeout, stallMargin)
	if p.max > timeout+stallMargin {
		t.Errorf("a query of the table waited %s, longer than the lock wait timeout %s + %s", p.max, timeout, stallMargin)
	}
	if !f.hasColumn("added") {
		t.Error("the column was not added")
	}
	if res.Attempts < 2 {
		t.Errorf("Attempts = %d; the transaction held the lock for %s, so the first attempts must have timed out", res.Attempts, held)
	}
	if res.Elapsed < held {
		t.Errorf("Elapsed = %s, before the transaction ended (%s)", res.Elapsed, held)
	}
}

// TestInstantGivesUp covers attempts that all time out: whether the
// server's lock_wait_timeout ends them (whole seconds) or a KILL does
// (less than a second, which lock_wait_timeout cannot express), the error
// says why, the table is unchanged and nothing is left queued on it.
func TestInstantGivesUp(t *testing.T) {
	tests := []struct {
		name     string
		timeout  time.Duration
		attempts int
		wantErr  uint16 // of the last attempt
	}{
		{"server timeout", time.Second, 2, mysql.ErrLockWaitTimeout},
		{"killed under a second", 300 * time.Millisecond, 2, mysql.ErrQueryInterrupted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			before := f.definition()
			f.holdTransaction()
			cfg := f.config("ADD COLUMN added int NULL")
			cfg.LockWaitTimeout, cfg.Attempts, cfg.Backoff = tc.timeout, tc.attempts, 100*time.Millisecond

			start := time.Now()
			res, err := Instant(context.Background(), f.db, cfg)
			t.Logf("returned after %s: %v", time.Since(start), err)
			var lockErr *LockError
			if !errors.As(err, &lockErr) || !errors.Is(err, ErrLockNotGranted) {
				t.Fatalf("err = %v, want a *LockError", err)
			}
			if got := mysql.ErrorNumber(err); got != tc.wantErr {
				t.Errorf("last attempt's error number = %d, want %d", got, tc.wantErr)
			}
			if lockErr.Attempts != tc.attempts || res.Attempts != tc.attempts {
				t.Errorf("attempts = %d (error), %d (result); want %d", lockErr.Attempts, res.Attempts, tc.attempts)
			}
			for _, want := range []string{"was not made", "end that session's long transaction", "2 attempts"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if got := f.definition(); got != before {
				t.Errorf("the table changed:\n%s", got)
			}
			f.assertNothingQueued()
		})
	}
}

// TestInstantCancelWhileWaiting cancels the context while the ALTER waits
// for its lock, with a lock wait timeout far longer than the test: only a
// KILL of the waiting ALTER lets Instant return promptly and the table's
// queries go on.
func TestInstantCancelWhileWaiting(t *testing.T) {
	f := newFixture(t)
	before := f.definition()
	f.holdTransaction()
	cfg := f.config("ADD COLUMN added int NULL")
	cfg.LockWaitTimeout, cfg.Attempts = 10*time.Minute, 1

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := Instant(ctx, f.db, cfg)
		done <- outcome{res, err}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for f.waitingAlter() == 0 {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatal("the ALTER was not seen waiting for its lock within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancelled := time.Now()
	cancel()
	var got outcome
	select {
	case got = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Instant did not return within 30s of the cancellation")
	}
	t.Logf("returned %s after the cancellation: %v", time.Since(cancelled), got.err)
	if took := time.Since(cancelled); took > 5*time.Second {
		t.Errorf("Instant returned %s after the cancellation", took)
	}
	if !errors.Is(got.err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", got.err)
	}
	if id := f.waitingAlter(); id != 0 {
		t.Errorf("the ALTER still waits on connection %d", id)
	}
	if def := f.definition(); def != before {
		t.Errorf("the table changed:\n%s", def)
	}
	f.assertNothingQueued()
}

// TestInstantRefused covers changes the server will not make INSTANT. It
// refuses before waiting for any lock, so even behind an open transaction
// the answer is immediate, and nothing changes.
func TestInstantRefused(t *testing.T) {
	tests := []struct{ name, clauses string }{
		{"1846 with a reason", "MODIFY w varchar(10) CHARACTER SET latin1 NOT NULL"},
		{"1845", "MODIFY n int NOT NULL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			before := f.definition()
			f.holdTransaction()
			cfg := f.config(tc.clauses)
			cfg.LockWaitTimeout = 30 * time.Second

			start := time.Now()
			res, err := Instant(context.Background(), f.db, cfg)
			if !errors.Is(err, ErrNotInstant) {
				t.Fatalf("err = %v, want ErrNotInstant", err)
			}
			t.Logf("%v", err)
			if !strings.Contains(err.Error(), "--force-copy") {
				t.Errorf("error %q does not say what to do", err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("the refusal took %s; it must not wait for the lock", took)
			}
			if res.Attempts != 1 {
				t.Errorf("Attempts = %d, want 1", res.Attempts)
			}
			if got := f.definition(); got != before {
				t.Errorf("the table changed:\n%s", got)
			}
		})
	}
}

// TestInstantBlockers checks that an attempt for which Blockers reports a
// session is postponed without issuing an ALTER, and that a failing
// Blockers does not stop the change.
func TestInstantBlockers(t *testing.T) {
	blocker := "connection 42 (app@10.0.0.7): transaction open for 300s"
	tests := []struct {
		name       string
		reports    int  // calls of Blockers that report the blocker
		fails      bool // Blockers errs instead
		attempts   int
		wantAlters int
		wantErr    bool
	}{
		{"postponed then made", 2, false, 5, 1, false},
		{"always postponed", 100, false, 3, 0, true},
		{"blockers unknown", 0, true, 3, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			calls := 0
			cfg := f.config("ADD COLUMN added int NULL")
			cfg.Attempts, cfg.Backoff = tc.attempts, 10*time.Millisecond
			cfg.Blockers = func(context.Context) ([]string, error) {
				calls++
				if tc.fails {
					return nil, errors.New("no access to the processlist")
				}
				if calls <= tc.reports {
					return []string{blocker}, nil
				}
				return nil, nil
			}
			alters := f.alters()
			res, err := Instant(context.Background(), f.db, cfg)
			if got := f.alters() - alters; got != tc.wantAlters {
				t.Errorf("%d ALTER statements issued, want %d", got, tc.wantAlters)
			}
			if tc.wantErr {
				var lockErr *LockError
				if !errors.As(err, &lockErr) {
					t.Fatalf("err = %v, want a *LockError", err)
				}
				t.Logf("%v", err)
				if !slices.Equal(lockErr.Blockers, []string{blocker}) || !strings.Contains(err.Error(), blocker) {
					t.Errorf("the error does not name the blocker: %v", err)
				}
				if f.hasColumn("added") {
					t.Error("the column was added")
				}
				return
			}
			if err != nil {
				t.Fatalf("Instant: %v", err)
			}
			if want := min(tc.reports, tc.attempts) + 1; res.Attempts != want || res.Postponed != want-1 {
				t.Errorf("Attempts, Postponed = %d, %d; want %d, %d", res.Attempts, res.Postponed, want, want-1)
			}
			if !f.hasColumn("added") {
				t.Error("the column was not added")
			}
		})
	}
}

// TestInstantWarnings checks that the server's notes reach the Result: an
// ADD COLUMN IF NOT EXISTS of an existing column changes nothing, and says
// so only in a note.
func TestInstantWarnings(t *testing.T) {
	f := newFixture(t)
	res, err := Instant(context.Background(), f.db, f.config("ADD COLUMN IF NOT EXISTS v int"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "1060") {
		t.Errorf("Warnings = %q, want the note about the duplicate column (1060)", res.Warnings)
	}
}

// TestInstantMissingTable checks the error for a table that does not
// exist.
func TestInstantMissingTable(t *testing.T) {
	f := newFixture(t)
	cfg := f.config("ADD COLUMN added int NULL")
	cfg.Table = "missing"
	_, err := Instant(context.Background(), f.db, cfg)
	if mysql.ErrorNumber(err) != mysql.ErrNoSuchTable {
		t.Errorf("err = %v, want error %d", err, mysql.ErrNoSuchTable)
	}
}
