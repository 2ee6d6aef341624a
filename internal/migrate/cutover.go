package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/cutover"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/preflight"
)

// cutOver swaps the tables. Each attempt first lets the applier catch up
// without any lock (stream.settle), so that the time writers are held
// covers only the few changes made in the last moments. An attempt that
// cannot take the lock or drain the backlog in time gives up cleanly (the
// original keeps serving) and is retried with backoff; the binary log
// reader and the applier run on streamCtx all the while, so the shadow
// stays in step however long the wait. The sessions that hold the cut-over up are named in the log and
// the status (heldUp), and with ForceCutOverAfter killed once they have
// held it up that long.
//
// The attempts run on ctx, not on streamCtx: the RENAME ends the binary
// log reader, and that must not cancel the swap that caused it. The waits
// between attempts end with streamCtx, so a failed applier or a lost
// migration lock stops a cut-over that would otherwise wait on for good.
func (r *Runner) cutOver(ctx, streamCtx context.Context) (*Result, error) {
	if err := r.shadowUnchanged(ctx, PhaseCutOver, nil); err != nil {
		return nil, err
	}
	r.analyzeShadow(ctx)
	defer r.heldUp.clear()
	w := &cutOverWait{backoff: time.Second, killed: map[int64]bool{}}
	if h := r.cfg.testHooks; h != nil && h.cutOverBackoff > 0 {
		w.backoff = h.cutOverBackoff
	}
	var lastErr error
	for attempt := 1; r.cfg.CutOverAttempts == CutOverAttemptsUnlimited || attempt <= r.cfg.CutOverAttempts; attempt++ {
		// For the status: the attempt under way, numbered as the log
		// numbers it, including one not started for its blockers.
		r.progress.cutOverAttempt.Store(int64(attempt))
		if err := r.checkLock(ctx); err != nil {
			return nil, err
		}
		// As gh-ost does: no swap while a replica lags or the operator
		// holds the migration; the wait ends with the throttle.
		if err := r.throttler.Wait(streamCtx); err != nil {
			return nil, r.waitEnded(ctx, streamCtx, err)
		}
		// The applier catches up without a lock, so that the attempt's
		// catch-up under it holds writers only briefly. Before the abort
		// gate: an abort while it waits ends the wait, as it ends the
		// throttle's, rather than letting the attempt swap after it.
		if err := r.stream.settle(ctx, r.stream.catchUpNow); err != nil {
			return nil, r.waitEnded(ctx, streamCtx, fmt.Errorf("cut-over: %w", err))
		}
		blockers, err := r.cutOverBlockers(ctx)
		if err != nil {
			return nil, err
		}
		if len(blockers.sessions) > 0 {
			w.heldUp(time.Now())
			r.nameBlockers(attempt, w, blockers)
			// Forced, the attempt goes ahead once a blocker is killed;
			// blockers that may not be killed hold it up as before.
			if !r.forceDue(w) || r.killBlockers(ctx, w, blockers) == 0 {
				lastErr = fmt.Errorf("not started: sessions hold a lock on the table or its shadow and the cut-over would queue behind them (%s); end their transactions", blockers)
				if err := r.cutOverBackoff(ctx, streamCtx, attempt, errNotStarted, w); err != nil {
					return nil, err
				}
				continue
			}
		} else if r.forceDue(w) && !w.forceNoteLogged {
			w.forceNoteLogged = true
			r.log.Warn("cannot force the cut-over: no session that holds the table can be seen, and none is killed blindly", "phase", PhaseCutOver.String(), "note", blockers.note)
		}
		if h := r.cfg.testHooks; h != nil && h.beforeCutOverAttempt != nil {
			h.beforeCutOverAttempt(attempt)
		}
		if !r.gate.begin() {
			return nil, r.abortedInCutOver(ctx)
		}
		res, err := r.cutOverAttempt(ctx, attempt)
		r.gate.end(err == nil)
		if err == nil {
			res.CutOverKilled = len(w.killed)
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !cutover.IsRetryable(err) {
			return nil, fmt.Errorf("cut-over: %w", err)
		}
		if r.gate.aborted() {
			return nil, r.abortedInCutOver(ctx)
		}
		lastErr = err
		w.heldUp(time.Now())
		// The attempt may have waited for sessions the check before it
		// did not see yet (or could not see): name whoever holds the
		// tables now.
		blockers, err = r.cutOverBlockers(ctx)
		if err != nil {
			return nil, err
		}
		r.nameBlockers(attempt, w, blockers)
		if err := r.cutOverBackoff(ctx, streamCtx, attempt, lastErr, w); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("cut-over failed %d times, last: %w", r.cfg.CutOverAttempts, lastErr)
}

// errNotStarted is the cause logged for an attempt that did not start
// because of the sessions named just before it.
var errNotStarted = errors.New("not started: sessions hold a lock on the table or its shadow (named above) and the cut-over would queue behind them")

// cutOverAttempt is one attempt at the swap, once the applier has caught
// up without a lock (cutOver): cutover.Swap takes the lock, lets it catch up
// again (catchUpToSwap) and renames.
func (r *Runner) cutOverAttempt(ctx context.Context, attempt int) (*Result, error) {
	r.log.Info("cutting over", "phase", PhaseCutOver.String(), "attempt", attempt, "lock_timeout", r.cfg.CutOverLockTimeout.String())
	r.metrics.CutOverAttempt()
	res, err := cutover.Swap(ctx, r.db, r.server, cutover.Config{
		Database:    r.cfg.Database,
		Table:       r.cfg.Table,
		Shadow:      r.shadow,
		Old:         r.old,
		LockTimeout: r.cfg.CutOverLockTimeout,
		Triggers:    r.triggers,
		Owner:       "tailor run " + r.runID,
		Logger:      r.log,
	}, r.catchUpToSwap)
	if err != nil {
		return nil, err
	}
	r.metrics.ObserveCutOverLock(res.LockHeld)
	r.run.shadowCreated = false // it is the table now
	r.run.swapped = true
	r.log.Info("swapped", "phase", PhaseCutOver.String(), "lock_held", res.LockHeld.Round(time.Microsecond).String(), "old_table", r.old)
	moved := make([]string, len(r.triggers))
	for i, t := range r.triggers {
		moved[i] = t.Name
	}
	return &Result{CutOverLock: res.LockHeld, CutOverAttempts: attempt, OldTable: r.old, TriggersRecreated: moved, rename: res.Rename}, nil
}

// catchUpUnderLock runs while the original is write-locked: every change
// committed before the lock is in the binary log before the position read
// now (LOCK TABLES waited for the transactions that had the table open), so
// once the applier has reached it the shadow holds all of them. The
// position is kept for the proof of the swap (proveSwap).
func (r *Runner) catchUpUnderLock(ctx context.Context) error {
	target, err := capture.CurrentPosition(ctx, r.db, r.server)
	if err != nil {
		return err
	}
	if err := r.stream.catchUp(ctx, target); err != nil {
		return errors.Join(errors.New("the applier did not catch up while writes were held"), err)
	}
	if err := r.carryAutoIncrement(ctx); err != nil {
		return err
	}
	r.run.caughtUpTo = target
	return nil
}

// catchUpToSwap is the cut-over attempt's catch-up under the lock
// (catchUpUnderLock), which then checks that the shadow is still the
// table the ALTER made; a shadow that is not ends the cut-over.
func (r *Runner) catchUpToSwap(ctx context.Context) error {
	if err := r.catchUpUnderLock(ctx); err != nil {
		return err
	}
	err := r.shadowUnchanged(ctx, PhaseCutOver, nil)
	if errors.Is(err, errShadowChanged) {
		// Another attempt would find it changed again; a lost connection
		// or the lock's deadline may pass.
		return &cutover.FinalError{Err: err}
	}
	return err
}

// errShadowChanged is wrapped by the error of a cut-over that found the
// shadow's definition changed by another session.
var errShadowChanged = errors.New("another session changed its definition during the migration")

// shadowUnchanged fails when the shadow's definition is not the one the
// ALTER made (runState.shadowDefinition) without the index lines missing
// (the deferred indexes not built yet), its AUTO_INCREMENT aside, which
// the copy moves: another session altered it during the migration (added
// a column, dropped an index, changed a default), and swapping it in
// would give the table a definition nobody asked tailor for. It runs
// before the deferred indexes are built, before the cut-over's attempts,
// and again in each attempt's catch-up, while writes to the original are
// held; a change made between that and the RENAME, a few milliseconds, is
// not seen.
func (r *Runner) shadowUnchanged(ctx context.Context, phase Phase, missing []string) error {
	if r.run.shadowDefinition == "" {
		return nil
	}
	def, err := showCreateTable(ctx, r.db, r.cfg.Database, r.shadow)
	if err != nil {
		return err
	}
	if slices.Equal(definitionLines(def, nil), definitionLines(r.run.shadowDefinition, missing)) {
		return nil
	}
	r.log.Error("the new table's definition is not the one the ALTER made", "phase", phase.String(), "definition", def, "expected", r.run.shadowDefinition, "indexes_not_built", missing)
	return fmt.Errorf("tailor does not swap in %s: %w (both definitions are in the log); check who altered it, then run the migration again", mysql.QuoteIdent(r.shadow), errShadowChanged)
}

// carryAutoIncrement gives the shadow the original's AUTO_INCREMENT
// counter when it is behind, while writers are held and so the counter
// cannot move. The copy inserts explicit ids, so the shadow's counter
// follows the highest id copied; the original's may be ahead of it (its
// last rows deleted, inserts rolled back), and the next insert into the
// new table must not reuse an id the application already handed out. A
// counter the ALTER set higher is kept: InnoDB never lowers it below what
// it was asked for, and this only ever raises it.
func (r *Runner) carryAutoIncrement(ctx context.Context) error {
	rows, err := r.db.QueryContext(ctx, "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?, ?)", r.cfg.Database, r.cfg.Table, r.shadow)
	if err != nil {
		return fmt.Errorf("read the AUTO_INCREMENT counters: %w", err)
	}
	counters := map[string]sql.NullInt64{}
	for rows.Next() {
		var name string
		var n sql.NullInt64
		if err := rows.Scan(&name, &n); err != nil {
			rows.Close()
			return fmt.Errorf("read the AUTO_INCREMENT counters: %w", err)
		}
		counters[name] = n
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("read the AUTO_INCREMENT counters: %w", err)
	}
	original, shadow := counters[r.cfg.Table], counters[r.shadow]
	if !original.Valid || !shadow.Valid || shadow.Int64 >= original.Int64 {
		return nil // no counter on one side, or nothing to carry
	}
	// A session of its own, whose statement is killed on the server when
	// the lock's budget ends, rather than left waiting for the shadow.
	sess, err := mysql.OpenSession(ctx, r.db, 0)
	if err != nil {
		return err
	}
	defer sess.Close()
	stmt := "ALTER TABLE " + mysql.QuoteTable(r.cfg.Database, r.shadow) + " AUTO_INCREMENT = " + strconv.FormatInt(original.Int64, 10)
	if err := sess.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("carry the AUTO_INCREMENT counter %d to the shadow: %w", original.Int64, err)
	}
	r.log.Debug("AUTO_INCREMENT counter carried to the shadow", "phase", PhaseCutOver.String(), "from", shadow.Int64, "to", original.Int64)
	return nil
}

// maxCutOverBackoff caps the wait between cut-over attempts, so that a
// cut-over retried without limit still tries twice a minute.
const maxCutOverBackoff = 30 * time.Second

// cutOverWait is what the attempts of one cut-over have learnt.
type cutOverWait struct {
	// backoff is the next wait between attempts.
	backoff time.Duration
	// since is when an attempt was first held up, by sessions or by a
	// lock it could not get; zero until then.
	since time.Time
	// killed are the sessions ForceCutOverAfter killed.
	killed map[int64]bool
	// noteLogged is set once the log has said what tailor cannot see of
	// the sessions holding the tables, and forceNoteLogged once it has
	// said that there is nobody to kill.
	noteLogged, forceNoteLogged bool
}

func (w *cutOverWait) heldUp(now time.Time) {
	if w.since.IsZero() {
		w.since = now
	}
}

// forceDue reports whether the cut-over has been held up for
// ForceCutOverAfter, so that its blockers are to be killed.
func (r *Runner) forceDue(w *cutOverWait) bool {
	return r.cfg.ForceCutOverAfter > 0 && !w.since.IsZero() && time.Since(w.since) >= r.cfg.ForceCutOverAfter
}

// cutOverBackoff logs a cut-over attempt that gave up and waits before the
// next one, the wait doubling up to maxCutOverBackoff, and ending early
// when ForceCutOverAfter comes due. It returns at once after the last
// attempt.
func (r *Runner) cutOverBackoff(ctx, streamCtx context.Context, attempt int, cause error, w *cutOverWait) error {
	if r.cfg.CutOverAttempts != CutOverAttemptsUnlimited && attempt >= r.cfg.CutOverAttempts {
		return nil
	}
	wait := w.backoff
	if r.cfg.ForceCutOverAfter > 0 && !w.since.IsZero() {
		// Wake up when the force comes due; once it has, the blockers
		// are killed at every attempt, and the backoff paces them.
		if due := time.Until(w.since.Add(r.cfg.ForceCutOverAfter)); due > 0 && due < wait {
			wait = due
		}
	}
	r.log.Warn("cut-over attempt gave up; the original keeps serving", "phase", PhaseCutOver.String(), "attempt", attempt, "err", cause, "retry_in", wait.String())
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-streamCtx.Done():
		return r.waitEnded(ctx, streamCtx, streamCtx.Err())
	case <-t.C:
	}
	w.backoff = min(w.backoff*2, maxCutOverBackoff)
	return nil
}

// waitEnded is the error of a wait between cut-over attempts that
// streamCtx ended: the run's own cancellation (Ctrl-C, abort), or the
// failure of the stream, the throttler or the migration lock, which is
// streamCtx's cause.
func (r *Runner) waitEnded(ctx, streamCtx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if cause := context.Cause(streamCtx); cause != nil && !errors.Is(cause, context.Canceled) {
		return fmt.Errorf("the cut-over stopped waiting: %w", cause)
	}
	return err
}

// cutOverBlockers finds the sessions that have held a metadata lock on
// the table or on the shadow for a while. On the table, the cut-over's
// LOCK TABLES would queue behind them, and every query of the application
// behind it, until its timeout; on the shadow, the RENAME would hold the
// writers while it waits for them until the attempt gives up. Not starting
// the attempt at all is kinder. A server that does not show metadata locks
// shows only the sessions waiting for them or running a statement that
// names the table (the note says so), and the attempt's bounds protect the
// table instead.
func (r *Runner) cutOverBlockers(ctx context.Context) (blockerList, error) {
	var out blockerList
	for _, table := range []string{r.cfg.Table, r.shadow} {
		rep, err := preflight.Blockers(ctx, r.db, r.cfg.Database, table, blockerMinAge)
		if err != nil {
			if ctx.Err() != nil {
				return blockerList{}, ctx.Err()
			}
			r.log.Warn("could not look for sessions that would block the cut-over", "phase", PhaseCutOver.String(), "table", table, "err", err)
			return blockerList{}, nil
		}
		out.add(rep.Sessions)
		if out.note == "" {
			out.note = rep.Note
		}
	}
	return out, nil
}
