package cutover

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

var mariadb = mysql.Server{Flavor: mysql.FlavorMariaDB, Version: mysql.Version{Major: 10, Minor: 11}}

// stepOf is the Step of err, which every error of Swap must carry.
func stepOf(t *testing.T, err error) Step {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	return e.Step
}

func TestSwapCatchUpFails(t *testing.T) {
	behind := errors.New("applier is behind")
	cases := []struct {
		name    string
		catchUp CatchUp
		want    error
	}{
		{"error", func(context.Context) error { return behind }, behind},
		{"deadline", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, context.DeadlineExceeded},
		{"returns late", func(ctx context.Context) error { <-ctx.Done(); return nil }, context.DeadlineExceeded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
			f.cfg.LockTimeout = time.Second
			start := time.Now()
			_, err := Swap(context.Background(), f.db, mariadb, f.cfg, c.catchUp)
			t.Logf("%s: %v", time.Since(start), err)
			if err == nil {
				t.Fatal("Swap succeeded")
			}
			if !errors.Is(err, c.want) || !IsRetryable(err) || stepOf(t, err) != StepCatchUp {
				t.Errorf("err = %v (retryable %v), want a retryable catch-up error wrapping %v", err, IsRetryable(err), c.want)
			}
			if took := time.Since(start); took > f.cfg.LockTimeout+5*time.Second {
				t.Errorf("Swap took %s", took)
			}
			f.assertUntouched()
		})
	}
}

// An open transaction that used the original holds a metadata lock that
// LOCK TABLES waits for; the attempt gives up after LockTimeout, and
// writers, which queue behind the waiting LOCK TABLES, wait about that
// long and no longer.
func TestLockWaitHoldsWritersAtMostLockTimeout(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	f.cfg.LockTimeout = time.Second
	endTx := f.holdTransaction("t")
	w := startWriters(f, 1)
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	_, err := Swap(context.Background(), f.db, mariadb, f.cfg, func(context.Context) error {
		t.Error("CatchUp called without the lock")
		return nil
	})
	took := time.Since(start)
	time.Sleep(100 * time.Millisecond)
	w.halt()
	t.Logf("Swap failed after %s: %v; slowest insert %s", took, err, w.maxWait)
	if err == nil {
		t.Fatal("Swap succeeded")
	}
	if !IsRetryable(err) || stepOf(t, err) != StepLock || !strings.Contains(err.Error(), "was not granted within 1s") {
		t.Errorf("err = %v, want a retryable lock wait error", err)
	}
	if took > f.cfg.LockTimeout+3*time.Second {
		t.Errorf("Swap took %s", took)
	}
	if w.maxWait > f.cfg.LockTimeout+3*time.Second {
		t.Errorf("a writer waited %s, more than the lock timeout %s allows", w.maxWait, f.cfg.LockTimeout)
	}
	if w.maxWait < f.cfg.LockTimeout/4 {
		t.Errorf("the slowest writer waited only %s: a waiting LOCK TABLES is expected to hold writers", w.maxWait)
	}
	for _, err := range w.errs {
		t.Errorf("writer: %v", err)
	}
	endTx()
	f.assertUntouched()
}

// Session A's connection is killed while it holds the lock: its lock goes,
// the RENAME fails on the sentry, and nothing is renamed.
func TestSwapLockHolderKilled(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	f.cfg.LockTimeout = 10 * time.Second
	// The test learns A's connection id by holding the lock back until
	// A's LOCK TABLES shows in the processlist.
	endTx := f.holdTransaction("t")
	lockHolder := make(chan int64, 1)
	go func() {
		id := f.waitForStatement("LOCK TABLES")
		endTx()
		lockHolder <- id
	}()
	_, err := Swap(context.Background(), f.db, mariadb, f.cfg, func(ctx context.Context) error {
		id := <-lockHolder
		if _, err := f.db.ExecContext(ctx, killConnectionSQL(id)); err != nil {
			t.Errorf("kill the lock holder: %v", err)
		}
		return nil
	})
	t.Logf("Swap: %v", err)
	if err == nil {
		t.Fatal("Swap succeeded although its lock holder died before the catch-up was done")
	}
	if !IsRetryable(err) {
		t.Errorf("err = %v, want retryable", err)
	}
	f.assertUntouched()
}

func TestSwapNamesInTheWay(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *fixture)
		want   error
		intact string // a table that must survive
	}{
		{"old exists", func(f *fixture) { f.exec("CREATE TABLE t_tailor_old (keep int)") }, ErrOldExists, "t_tailor_old"},
		{"sentry left by an interrupted run", func(f *fixture) { f.exec(createSentrySQL(f.dbName, "t_tailor_sentry", SentryComment)) }, ErrSentryExists, "t_tailor_sentry"},
		{"sentry name taken", func(f *fixture) { f.exec("CREATE TABLE t_tailor_sentry (keep int)") }, ErrSentryExists, "t_tailor_sentry"},
		{"no shadow", func(f *fixture) { f.exec("DROP TABLE t_tailor_new") }, ErrNotFound, "t"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
			c.setup(f)
			_, err := Swap(context.Background(), f.db, mariadb, f.cfg, func(context.Context) error {
				t.Error("CatchUp called")
				return nil
			})
			t.Logf("Swap: %v", err)
			if !errors.Is(err, c.want) || IsRetryable(err) || stepOf(t, err) != StepPrepare {
				t.Fatalf("err = %v, want a final error wrapping %v", err, c.want)
			}
			if !f.exists(c.intact) {
				t.Errorf("%s was dropped", c.intact)
			}
			if got := f.columns("t"); len(got) != len(originalColumns) {
				t.Errorf("t has columns %v", got)
			}
			f.assertWritable()
		})
	}
	t.Run("leftover sentry hint", func(t *testing.T) {
		err := nameTaken("d", "t_tailor_sentry", SentryComment, ErrSentryExists)
		if !strings.Contains(err.Error(), "interrupted cut-over") {
			t.Errorf("message %q does not say the table is a leftover sentry", err)
		}
	})
}

// Cancelling ctx at any step ends the attempt promptly and cleanly; the
// error wraps context.Canceled and is not retryable.
func TestSwapCancelled(t *testing.T) {
	cases := []struct {
		name string
		// arrange makes Swap reach the step and cancels there.
		arrange func(f *fixture, cancel context.CancelFunc) CatchUp
	}{
		{"waiting for the lock", func(f *fixture, cancel context.CancelFunc) CatchUp {
			endTx := f.holdTransaction("t")
			go func() {
				f.waitForStatement("LOCK TABLES")
				cancel()
			}()
			f.t.Cleanup(endTx)
			return func(context.Context) error {
				f.t.Error("CatchUp called without the lock")
				return nil
			}
		}},
		{"during the catch-up", func(f *fixture, cancel context.CancelFunc) CatchUp {
			return func(ctx context.Context) error {
				cancel()
				<-ctx.Done()
				return context.Cause(ctx)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
			f.cfg.LockTimeout = 20 * time.Second // only the cancellation may end it
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			catchUp := c.arrange(f, cancel)
			start := time.Now()
			_, err := Swap(ctx, f.db, mariadb, f.cfg, catchUp)
			took := time.Since(start)
			t.Logf("%s: %v", took, err)
			if !errors.Is(err, context.Canceled) || IsRetryable(err) {
				t.Errorf("err = %v, want a final error wrapping context.Canceled", err)
			}
			if took > 5*time.Second {
				t.Errorf("Swap took %s to stop", took)
			}
			f.assertUntouched()
		})
	}
}

// B's statement is not seen waiting for A's table lock within the budget.
// On a real server this happens when the RENAME waits for another kind of
// lock (a backup lock, a schema lock), or too late; neither can be staged
// here while A holds its lock (BACKUP STAGE BLOCK_DDL itself waits for A),
// so B runs a statement that never waits for a table lock. The attempt
// must give up when the budget is spent, kill B's statement, unlock and
// drop the sentry.
func TestSwapRenameNotQueuedBehindTheLock(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	f.cfg.LockTimeout = time.Second
	ctx := context.Background()
	c, err := prepareAttempt(ctx, f.db, mariadb, f.cfg.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	// Two rows, so that a KILL during the first sleep is an error (1317),
	// as a killed RENAME is, not an early result.
	c.rename = "SELECT SLEEP(30) FROM (SELECT 1 UNION SELECT 2) AS two"
	start := time.Now()
	_, err = c.run(ctx, noCatchUp)
	took := time.Since(start)
	t.Logf("%s: %v", took, err)
	if err == nil {
		t.Fatal("the attempt succeeded")
	}
	if !IsRetryable(err) || stepOf(t, err) != StepRename || !strings.Contains(err.Error(), "not seen waiting") {
		t.Errorf("err = %v, want a retryable rename error", err)
	}
	if took > f.cfg.LockTimeout+5*time.Second {
		t.Errorf("the attempt took %s to give up", took)
	}
	for _, q := range f.busy() {
		if strings.Contains(q, "SLEEP") {
			t.Errorf("B's statement still runs: %s", q)
		}
	}
	f.assertUntouched()
}

// A failed attempt drops only the sentry it made: one with another run's
// comment under the same name stays.
func TestRemoveSentryKeepsAnotherRunsSentry(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	f.cfg.Owner = "run a"
	ctx := context.Background()
	c, err := prepareAttempt(ctx, f.db, mariadb, f.cfg.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	f.exec(dropTableSQL(f.dbName, c.sentryName))
	f.exec(createSentrySQL(f.dbName, c.sentryName, sentryComment("run b")))
	if err := c.removeSentry(ctx); err != nil {
		t.Fatal(err)
	}
	if !f.exists(c.sentryName) {
		t.Error("the other run's sentry was dropped")
	}
	f.exec(dropTableSQL(f.dbName, c.sentryName))
	f.exec(createSentrySQL(f.dbName, c.sentryName, sentryComment("run a")))
	if err := c.removeSentry(ctx); err != nil {
		t.Fatal(err)
	}
	if f.exists(c.sentryName) {
		t.Error("the attempt's own sentry was not dropped")
	}
}
