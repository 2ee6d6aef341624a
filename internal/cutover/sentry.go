package cutover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// swapWithSentry is the two-session cut-over of gh-ost (github/gh-ost#82),
// with two changes to the names it uses, for servers on which the session
// that holds LOCK TABLES may not RENAME (MariaDB 10.11 answers error 1192)
// and for callers whose catch-up writes the shadow from other connections.
// Below, t is the original, S the sentry (SentryName(t)).
//
// # Steps
//
//  1. Check that t and the shadow exist and that neither Old nor S does;
//     create S, an empty table marked with SentryComment. A name that is
//     taken stops the attempt before anything is locked (not retryable).
//  2. Session A: LOCK TABLES t WRITE, S WRITE, with lock_wait_timeout set to
//     LockTimeout in whole seconds (at least 1) and the exact LockTimeout
//     enforced with KILL QUERY. From the moment this is requested, writers of
//     t queue: a pending LOCK TABLES ... WRITE already goes before new DML
//     (TestLockWaitHoldsWritersAtMostLockTimeout measures it). The whole
//     hold, from here to the RENAME, is bounded by LockTimeout, plus
//     renameGrace when the RENAME has to wait after taking t (step 6) and
//     the milliseconds of DROP and UNLOCK, which are not cut short. A's
//     wait_timeout is set to those whole seconds plus waitTimeoutMargin
//     first, so that the server closes A, and its lock goes, if this
//     process stops talking to it (see "A frozen client" below).
//  3. CatchUp, with the rest of the budget as its deadline. It runs before
//     the RENAME is issued, so that the shadow is free for the applier to
//     write (a RENAME, once it holds the original, takes the shadow next).
//     3b. With Config.Triggers: A drops them from t and B creates them on
//     the shadow, still under the lock; see triggers.go.
//  4. Session B, from a goroutine: RENAME TABLE t TO S, shadow TO t, S TO
//     Old, bounded on the server by the rest of the budget plus
//     renameWaitMargin (mysql.Server.BoundStatement). A polls
//     information_schema.PROCESSLIST until B shows STATE "Waiting for table
//     metadata lock" (exactly: a RENAME waiting for a schema or backup lock
//     is not queued on t) with the RENAME as INFO. Every other name the
//     RENAME locks sorts after t, so the table lock it waits for is t's.
//  5. Session A: DROP TABLE S (MariaDB 10.11 lets a session drop a table it
//     holds under LOCK TABLES ... WRITE), then UNLOCK TABLES.
//  6. B's RENAME takes t before every DML that queued on t behind A's lock,
//     whether that DML arrived before or after the RENAME: a waiting
//     exclusive metadata lock request is granted before waiting shared ones
//     (TestServerWaitingRenameRunsBeforeQueuedWriters, MariaDB 10.11). It
//     then takes the names after t and renames; the queued statements then
//     open t by name and find the new table. If B does not return by the
//     end of the budget (plus renameGrace), it is killed: a RENAME that
//     fails renames nothing, and the writers go on into the original,
//     where the binary log captures them for the next attempt. The outcome
//     is the RENAME's.
//
// # Why two sessions
//
// MariaDB refuses RENAME TABLE in a session that holds LOCK TABLES (error
// 1192, see mysql.Server.SupportsRenameUnderLock), and releasing the lock
// before renaming from the same session would let writers in between. So
// one session holds the lock while the other's RENAME waits first in line
// behind it.
//
// # Why the sentry
//
// B's RENAME runs as soon as A's lock is gone, however it goes: UNLOCK, A's
// connection dying, A being killed. It must succeed only when A decided so,
// after the catch-up. The sentry makes every other release harmless: while
// a table named S exists, "t TO S" fails with error 1050 and the statement
// renames nothing. Only A drops S, under its lock, so a successful DROP
// also proves that A still held the lock (only UNLOCK TABLES or the end of
// A's connection gives it up) and no writer slipped past the catch-up.
//
// # Why every name sorts after t
//
// The server takes a RENAME's metadata locks one at a time in the order of
// the names' bytes, waiting at each (MDL_context::acquire_locks sorts them;
// TestServerRenameLocksNamesInOrder shows that a RENAME waiting for an
// earlier name holds no lock on t yet). gh-ost's names ("_t_gho",
// "_t_del") and tailor's earlier ones ("_t_new", "_t_old") sort before t.
// Then a session that holds any lock on the shadow (a SELECT on it, an open
// transaction that read it, LOCK TABLES, mysqldump) makes B wait for the
// shadow, not for t, with the same processlist state; A unlocks, the
// writers queued on t go first, into the original, after the catch-up, and
// B swaps in a table without their rows. That happened: one reader of the
// shadow across the cut-over lost every write of those seconds
// (TestCutOverWithShadowReader).
//
// With every name made by NameAfter, B requests nothing before t: its
// first table lock is t's, which A holds, so a B that waits for a table
// lock waits for t, and is first in line there when A unlocks. This holds
// by construction, whatever other sessions hold. A lock on the shadow, S or
// Old makes B wait after it has taken t, with the writers held behind it
// but none let into the original; the server-side bound and the kill of
// step 6 end that wait within the budget, and the attempt fails without
// losing anything. Config.Validate refuses other names.
//
// # A frozen client
//
// If this process stops (SIGSTOP, a paused VM, a long GC pause) or loses
// the network while A holds the lock, nothing it does can end the hold. The
// server does: A's wait_timeout closes A's connection after LockTimeout
// (rounded up to seconds) and a second without a statement, which releases
// its lock; B,
// queued or not, either fails on S (A never dropped it) or, if A had
// dropped S, swaps after the finished catch-up; and B's own bound ends a
// RENAME that waits after taking t. TestFrozenClientReleasesWriters stops a
// process holding the lock with SIGSTOP.
//
// # Atomicity
//
// A RENAME TABLE of several tables takes all its exclusive metadata locks
// before it renames anything and then renames them as one operation
// (MariaDB 10.6+ also logs it as one atomic DDL), so no query ever finds t
// missing or sees a half-done swap: it runs either before the RENAME, on the
// original, or after it, on the new table.
//
// # Failures
//
// Every failure leaves the original serving under its name, and before
// returning, S dropped, A unlocked and B finished:
//
//   - Old or S already exists, or t or the shadow does not (step 1):
//     nothing was created or locked; not retryable.
//   - LOCK TABLES not granted within LockTimeout (step 2; for example an open
//     transaction that used t holds a metadata lock on it): the statement
//     fails with 1205 or is killed, nothing is held; S is dropped.
//     Retryable.
//   - CatchUp fails or misses the deadline (step 3): A unlocks with S in
//     place and B was never started; S is dropped. Retryable.
//   - Moving the triggers fails (step 3b), or any later step fails after
//     they were moved: they are put back on t before A unlocks; see
//     triggers.go.
//   - B's RENAME is not seen waiting within the budget, or returns early
//     (step 4): it is killed (KILL QUERY), A unlocks, and a RENAME that still
//     runs fails on S; S is dropped. Retryable.
//   - B's RENAME does not finish after A unlocked (step 6: another session
//     holds the shadow, S or Old): it is killed or ends at its server-side
//     bound, renaming nothing. Retryable.
//   - A's connection dies (steps 2 to 5): its lock goes with it; B's RENAME,
//     if issued, runs and fails on S; A's DROP of S fails, so S is never
//     dropped before the swap is decided. S is dropped afterwards.
//     Retryable.
//   - A dies between its DROP and its UNLOCK (step 5): the lock goes with
//     it, B's RENAME, first in line, succeeds, and the swap is reported as
//     done because it is.
//   - ctx is cancelled at any moment: the running statement is killed on
//     the server (not just abandoned by the client, see session), and the
//     cleanup above runs on a fresh context with bounded statements; the
//     error wraps context.Cause(ctx) and is not retryable.
//
// After a failure the outcome is read from the server, not assumed: S is
// dropped only if it carries this attempt's comment, and if B's RENAME was lost by
// the client (not failed by the server), its connection is killed and the
// existence of Old tells whether it ran.
//
// What remains is outside any lock order: another session's own DDL on t
// queued before B (an ALTER or RENAME of the original), which the server
// may run first. The caller proves after every swap, from the binary log,
// that no write reached the original after the catch-up.
func swapWithSentry(ctx context.Context, db *sql.DB, server mysql.Server, cfg Config, catchUp CatchUp) (Result, error) {
	c, err := prepareAttempt(ctx, db, server, cfg)
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	return c.run(ctx, catchUp)
}

// prepareAttempt is step 1: it checks the names, opens the two sessions
// and creates the sentry.
func prepareAttempt(ctx context.Context, db *sql.DB, server mysql.Server, cfg Config) (_ *attempt, err error) {
	sentry := SentryName(cfg.Table)
	if sentry == "" || sentry == cfg.Shadow || sentry == cfg.Old {
		return nil, final(StepPrepare, fmt.Errorf("no usable sentry name for %s (%q)", mysql.QuoteIdent(cfg.Table), sentry))
	}
	if err := checkTables(ctx, db, cfg, sentry); err != nil {
		return nil, err
	}
	c := &attempt{cfg: cfg, server: server, sentryName: sentry, rename: renameThroughSentrySQL(cfg, sentry), db: db, log: cfg.Logger}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	// A session's statements end with its lock_wait_timeout, the budget or
	// a KILL; bound is the last resort for a server that stopped answering.
	bound := 2*cfg.LockTimeout + 2*adminTimeout
	if c.a, err = openSession(ctx, db, bound); err != nil {
		return nil, classify(ctx, StepPrepare, err)
	}
	if c.b, err = openSession(ctx, db, bound); err != nil {
		return nil, classify(ctx, StepPrepare, err)
	}
	if err := c.a.exec(ctx, setLockWaitSQL(cfg.lockWaitSeconds())); err != nil {
		return nil, classify(ctx, StepPrepare, err)
	}
	// B waits longer than A may hold the lock, so that it is still queued
	// when A releases at the end of its budget; it is killed when the
	// attempt gives up.
	if err := c.b.exec(ctx, setLockWaitSQL(cfg.lockWaitSeconds()+renameWaitMargin)); err != nil {
		return nil, classify(ctx, StepPrepare, err)
	}
	if err := c.prepareTriggers(ctx); err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, createSentrySQL(cfg.Database, sentry, sentryComment(cfg.Owner))); err != nil {
		if mysql.ErrorNumber(err) == mysql.ErrTableExists {
			return nil, final(StepPrepare, nameTaken(cfg.Database, sentry, "", ErrSentryExists))
		}
		return nil, classify(ctx, StepPrepare, fmt.Errorf("create the sentry table %s: %w", mysql.QuoteTable(cfg.Database, sentry), err))
	}
	return c, nil
}

// renameWaitMargin is how many seconds longer B's lock_wait_timeout is than
// A's, so that B is still waiting when A releases at the end of its budget;
// B's server-side bound is the rest of the budget plus the same margin.
const renameWaitMargin = 2

// waitTimeoutMargin is how many seconds A's wait_timeout exceeds the
// budget: A is idle while the catch-up runs, and an attempt that gives up
// at the end of its budget still needs A (to put triggers back, to unlock).
const waitTimeoutMargin = 1

// renameGrace is how long after the end of the budget (or after the
// unlock, when that came later) B's RENAME may still take once A has
// unlocked, before it is killed. The RENAME itself takes milliseconds;
// the grace is for a busy server.
const renameGrace = time.Second

// pollInterval is how often the processlist is read while waiting for B's
// RENAME to queue.
const pollInterval = 5 * time.Millisecond

// attempt is the state of one swapWithSentry.
type attempt struct {
	cfg        Config
	server     mysql.Server
	sentryName string
	rename     string // B's statement
	db         *sql.DB
	log        *slog.Logger
	a, b       *session

	locked    bool      // A holds LOCK TABLES
	requested time.Time // when A asked for it: writers queue from then
	deadline  time.Time // requested + LockTimeout: the budget's end

	// guard is a session whose LOCK TABLES t WRITE waits behind B's
	// RENAME, and guardDone its outcome (see guardOriginal).
	guard     *session
	guardDone chan error

	// moves are Config.Triggers with their statements; triggersTouched is
	// set before the first of them is dropped from the original.
	moves           []triggerMove
	triggersTouched bool

	// The RENAME on B, as issued (renameStmt): killRename interrupts it;
	// renameErr is set when renameDone is closed.
	renameStmt string
	renameDone chan struct{}
	renameErr  error
	killRename context.CancelCauseFunc
}

func (c *attempt) run(ctx context.Context, catchUp CatchUp) (Result, error) {
	if res, err, done := c.lockAndCatchUp(ctx, catchUp); done {
		return res, err
	}
	if res, err, done := c.queueRename(ctx); done {
		return res, err
	}
	return c.release(ctx)
}

// lockAndCatchUp is steps 2, 3 and 3b. done is set when the attempt ended
// (with fail's result).
func (c *attempt) lockAndCatchUp(ctx context.Context, catchUp CatchUp) (_ Result, _ error, done bool) {
	// The server's own bound on the hold, for a client that stops talking
	// (see "A frozen client"); set before the hold, not inside it.
	if err := c.a.exec(ctx, setWaitTimeoutSQL(c.cfg.lockWaitSeconds()+waitTimeoutMargin)); err != nil {
		res, err := c.fail(ctx, StepLock, err)
		return res, err, true
	}
	c.requested = time.Now()
	c.deadline = c.requested.Add(c.cfg.LockTimeout)
	lctx, cancel := c.budget(ctx)
	defer cancel()
	if err := c.a.exec(lctx, lockSentrySQL(c.cfg, c.sentryName)); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || mysql.ErrorNumber(err) == mysql.ErrLockWaitTimeout {
			err = lockWaitError(c.cfg, err)
		}
		res, err := c.fail(ctx, StepLock, err)
		return res, err, true
	}
	c.locked = true
	c.log.Debug("original write-locked", "step", StepLock)

	if err := catchUp(lctx); err != nil {
		res, err := c.fail(ctx, StepCatchUp, fmt.Errorf("catch up under the lock: %w", err))
		return res, err, true
	}
	if lctx.Err() != nil {
		res, err := c.fail(ctx, StepCatchUp, fmt.Errorf("catch up under the lock: %w", context.Cause(lctx)))
		return res, err, true
	}
	if err := c.moveTriggers(lctx); err != nil {
		res, err := c.fail(ctx, StepTriggers, err)
		return res, err, true
	}
	return Result{}, nil, false
}

// budget is ctx ending at the attempt's deadline, with a cause that says so.
func (c *attempt) budget(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithDeadlineCause(ctx, c.deadline, fmt.Errorf("writers of %s held for the whole lock timeout (%s): %w",
		mysql.QuoteIdent(c.cfg.Table), c.cfg.LockTimeout, context.DeadlineExceeded))
}

// queueRename is step 4: B's RENAME, seen queued behind A's lock.
func (c *attempt) queueRename(ctx context.Context) (_ Result, _ error, done bool) {
	lctx, cancel := c.budget(ctx)
	defer cancel()
	c.startRename(ctx, time.Until(c.deadline)+renameWaitMargin*time.Second)
	if err := c.waitRenameQueued(lctx); err != nil {
		res, err := c.fail(ctx, StepRename, err)
		return res, err, true
	}
	c.log.Debug("rename queued behind the lock", "step", StepRename)
	return Result{}, nil, false
}

// release is steps 5 and 6: the sentry dropped, the lock released, and
// the RENAME's outcome.
func (c *attempt) release(ctx context.Context) (Result, error) {
	// From here the swap is committed: two statements of a few
	// milliseconds, not cut short by ctx or the budget, so that a Ctrl-C
	// now does not throw away a finished catch-up.
	if ctx.Err() != nil {
		return c.fail(ctx, StepRelease, context.Cause(ctx))
	}
	commit, cancelCommit := context.WithTimeout(context.WithoutCancel(ctx), adminTimeout)
	defer cancelCommit()
	if err := c.a.exec(commit, dropTableSQL(c.cfg.Database, c.sentryName)); err != nil {
		return c.fail(ctx, StepRelease, fmt.Errorf("drop the sentry under the lock: %w", err))
	}
	c.unlock(ctx)
	// B now holds t, and waits for nothing unless another session holds
	// one of the names after it; then it is ended, and renames nothing.
	select {
	case <-c.renameDone:
	case <-time.After(max(time.Until(c.deadline), 0) + renameGrace):
		if c.triggersTouched {
			c.guardOriginal(ctx)
		}
		c.killRename(errors.New("the RENAME did not finish within the lock timeout"))
		<-c.renameDone
		c.takeGuard(ctx)
	}
	if c.renameErr != nil {
		return c.fail(ctx, StepRename, fmt.Errorf("rename (another session may hold a lock on %s, %s or %s): %w",
			mysql.QuoteIdent(c.cfg.Shadow), mysql.QuoteIdent(c.cfg.Old), mysql.QuoteIdent(c.sentryName), c.renameErr))
	}
	c.unlock(ctx) // a guard taken over a RENAME that ran after all
	held := time.Since(c.requested)
	c.log.Debug("tables swapped", "step", StepRename, "lock_held", held.String())
	return Result{LockHeld: held, Rename: c.renameStmt}, nil
}

// guardOriginal runs when B, holding t after A's unlock, is about to be
// ended while the triggers are on the shadow: the writers queued behind B
// would then reach the original without its triggers. A new session G
// asks for LOCK TABLES t WRITE behind B first; a waiting write lock is
// granted before DML that queued earlier (TestServerQueuedLockTablesGoesFirst),
// so when B ends G holds t before any writer, and takeGuard makes G the
// new A, under which fail puts the triggers back as it would under A.
func (c *attempt) guardOriginal(ctx context.Context) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), adminTimeout)
	defer cancel()
	g, err := c.spareSession(bg)
	if err != nil {
		c.log.Warn("could not open a session to guard the original while the triggers are put back", "err", err)
		return
	}
	// Like A, bounded on the server should this process stop meanwhile.
	if err := g.exec(bg, setWaitTimeoutSQL(int(adminTimeout.Seconds()))); err != nil {
		c.log.Warn("could not open a session to guard the original while the triggers are put back", "err", err)
		g.close()
		return
	}
	stmt := lockOriginalSQL(c.cfg)
	done := make(chan error, 1)
	go func() { done <- g.exec(context.WithoutCancel(ctx), stmt) }()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if queued, _ := g.waitingForLock(bg, stmt); queued {
			c.guard, c.guardDone = g, done
			return
		}
		select {
		case err := <-done:
			c.log.Warn("the lock guarding the original ended early", "err", err)
			g.close()
			return
		case <-bg.Done():
			c.log.Warn("the lock guarding the original was not seen queued", "err", bg.Err())
			_ = g.kill(context.WithoutCancel(ctx), true)
			<-done
			g.close()
			return
		case <-tick.C:
		}
	}
}

// takeGuard, once B has ended, waits for G's lock and makes G the locking
// session A.
func (c *attempt) takeGuard(ctx context.Context) {
	if c.guard == nil {
		return
	}
	g, done := c.guard, c.guardDone
	c.guard, c.guardDone = nil, nil
	select {
	case err := <-done:
		if err != nil {
			c.log.Warn("the lock guarding the original was not granted", "err", err)
			g.close()
			return
		}
	case <-time.After(adminTimeout):
		_ = g.kill(context.WithoutCancel(ctx), true)
		<-done
		g.close()
		return
	}
	c.a.close()
	c.a, c.locked = g, true
}

// startRename issues B's RENAME from a goroutine that run or fail waits for,
// bounded on the server by bound.
func (c *attempt) startRename(ctx context.Context, bound time.Duration) {
	rctx, kill := context.WithCancelCause(context.WithoutCancel(ctx))
	c.killRename = kill
	c.renameDone = make(chan struct{})
	c.renameStmt = c.server.BoundStatement(c.rename, bound)
	go func() {
		defer close(c.renameDone)
		c.renameErr = c.b.exec(rctx, c.renameStmt)
	}()
}

// close releases the sessions. It runs after run, which always waits for
// B's statement to end.
func (c *attempt) close() {
	if c.killRename != nil {
		c.killRename(nil)
	}
	if c.guard != nil {
		c.guard.close()
	}
	if c.a != nil {
		c.a.close()
	}
	if c.b != nil {
		c.b.close()
	}
}

// waitRenameQueued returns once B's RENAME waits for a metadata lock.
func (c *attempt) waitRenameQueued(ctx context.Context) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		queued, err := c.b.waitingForLock(ctx, c.renameStmt)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("look for the RENAME in the processlist: %w", err)
		}
		if queued {
			return nil
		}
		select {
		case <-c.renameDone:
			return fmt.Errorf("the RENAME returned while the original was still locked: %w", c.renameErr)
		case <-ctx.Done():
			return fmt.Errorf("the RENAME was not seen waiting for the lock: %w", context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// unlock releases A's lock; if A cannot say UNLOCK TABLES, its connection
// is killed, which releases the lock just as well.
func (c *attempt) unlock(ctx context.Context) {
	if !c.locked {
		return
	}
	c.locked = false
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), adminTimeout)
	defer cancel()
	if err := c.a.exec(bg, unlockSQL); err != nil {
		c.log.Debug("unlock failed; killing the locking connection", "err", err)
		if kerr := c.a.kill(bg, true); kerr != nil {
			c.log.Warn("could not kill the locking connection; its lock lasts until the server notices", "err", kerr)
		}
	}
}

// fail gives the attempt up: it kills a waiting RENAME, releases the lock,
// waits for the RENAME to end and drops the sentry. If the RENAME ran after
// all, the swap is reported as done. When triggers were moved, it waits for
// the RENAME before it releases the lock, and puts them back on the
// original in between (see triggers.go).
func (c *attempt) fail(ctx context.Context, step Step, cause error) (Result, error) {
	bg := context.WithoutCancel(ctx)
	if c.renameDone != nil {
		// A cause of its own, not the attempt's: renameRan reads the server
		// error number from B's error, which must be B's statement's.
		c.killRename(errors.New("the cut-over attempt gave up"))
	}
	var (
		swapped    bool
		renameErr  error
		ended      bool // B's statement has ended and swapped tells its outcome
		back       restored
		restoreErr error
	)
	if c.triggersTouched {
		// B's RENAME cannot run while A holds t, and fails on the sentry if
		// A lost it; once it has ended, the shadow is free.
		swapped, renameErr = c.renameOutcome(bg)
		ended = true
		if !swapped {
			back, restoreErr = c.restoreTriggers(bg)
		}
	}
	c.unlock(ctx)
	if !ended {
		swapped, renameErr = c.renameOutcome(bg)
	}
	if restoreErr != nil {
		// A's lock is gone now; a new connection may do what A could not.
		var again restored
		again, restoreErr = c.restoreTriggers(bg)
		back.recreated += again.recreated
		back.unguarded = back.unguarded || again.unguarded
	}
	if renameErr != nil {
		return Result{}, final(StepCleanup, errors.Join(cause, renameErr, restoreErr))
	}
	if swapped {
		held := time.Since(c.requested)
		c.log.Warn("the cut-over was giving up but the RENAME had run; the tables are swapped", "step", step, "cause", cause)
		return Result{LockHeld: held, Rename: c.renameStmt}, nil
	}
	sentryErr := c.removeSentry(bg)
	if restoreErr != nil || sentryErr != nil {
		return Result{}, final(StepCleanup, errors.Join(cause, restoreErr, sentryErr))
	}
	switch table := mysql.QuoteTable(c.cfg.Database, c.cfg.Table); {
	case back.unguarded:
		// A's lock was gone (its connection died, or the first restore
		// failed) while triggers were missing from the original: not
		// retried, so that the operator learns of it.
		return Result{}, final(step, fmt.Errorf("%w; the triggers are back on %s, but writes to it resumed before they were, so writes in that moment may have run without them",
			cause, table))
	case back.recreated > 0:
		cause = fmt.Errorf("%w; the triggers were put back on %s before writes resumed", cause, table)
	}
	return Result{}, classify(ctx, step, cause)
}

// renameOutcome waits for B's statement, if one was issued, and tells
// whether it swapped the tables.
func (c *attempt) renameOutcome(ctx context.Context) (bool, error) {
	if c.renameDone == nil {
		return false, nil
	}
	<-c.renameDone
	return c.renameRan(ctx)
}

// renameRan tells whether B's RENAME swapped the tables. A server error
// means it did not (the statement is atomic); a client-side error (the
// connection lost) leaves the server's view unknown, so B's connection is
// killed and the server asked whether Old exists, which it did not before.
func (c *attempt) renameRan(ctx context.Context) (bool, error) {
	if c.renameErr == nil {
		return true, nil
	}
	if mysql.ErrorNumber(c.renameErr) != 0 {
		return false, nil
	}
	if err := c.b.kill(ctx, true); err != nil {
		return false, fmt.Errorf("the RENAME's connection was lost and cannot be killed, so it may still run: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	exists, _, err := tableComment(ctx, c.db, c.cfg.Database, c.cfg.Old)
	if err != nil {
		return false, fmt.Errorf("the RENAME's connection was lost; whether it ran is unknown: %w", err)
	}
	return exists, nil
}

// removeSentry drops the sentry if it exists and is ours.
func (c *attempt) removeSentry(ctx context.Context) error {
	_, err := RemoveSentry(ctx, c.db, c.cfg.Database, c.cfg.Table, c.cfg.Owner)
	return err
}

// RemoveSentry drops the sentry table of table when it exists and belongs
// to owner (Config.Owner), as an interrupted cut-over leaves it, and
// reports whether it did. Another run's sentry is left alone.
func RemoveSentry(ctx context.Context, db *sql.DB, database, table, owner string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*adminTimeout)
	defer cancel()
	sentry := SentryName(table)
	name := mysql.QuoteTable(database, sentry)
	exists, comment, err := tableComment(ctx, db, database, sentry)
	if err != nil {
		return false, fmt.Errorf("the sentry table %s may be left behind; drop it if so: %w", name, err)
	}
	if !exists || comment != sentryComment(owner) {
		return false, nil
	}
	if _, err := db.ExecContext(ctx, dropTableSQL(database, sentry)); err != nil {
		return false, fmt.Errorf("the sentry table %s is left behind; drop it: %w", name, err)
	}
	return true, nil
}
