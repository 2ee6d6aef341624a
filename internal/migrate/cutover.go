package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/cutover"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/preflight"
)

// cutOver swaps the tables. Each attempt first lets the applier catch up
// without any lock, so that the time writers are held covers only the few
// changes made in the last moments. An attempt that cannot take the lock or
// drain the backlog in time gives up cleanly (the original keeps serving)
// and is retried with backoff.
func (r *Runner) cutOver(ctx context.Context) (*Result, error) {
	backoff := time.Second
	var lastErr error
	for attempt := 1; attempt <= r.cfg.CutOverAttempts; attempt++ {
		if err := r.checkLock(ctx); err != nil {
			return nil, err
		}
		// As gh-ost does: no swap while a replica lags or the operator
		// holds the migration; the wait ends with the throttle.
		if err := r.throttler.Wait(ctx); err != nil {
			return nil, err
		}
		if blockers, err := r.cutOverBlockers(ctx); err != nil {
			return nil, err
		} else if blockers != "" {
			lastErr = fmt.Errorf("not started: sessions hold a lock on the table or its shadow and the cut-over would queue behind them (%s); end their transactions", blockers)
			if err := r.cutOverBackoff(ctx, attempt, lastErr, &backoff); err != nil {
				return nil, err
			}
			continue
		}
		if err := r.stream.catchUpNow(ctx); err != nil {
			return nil, err
		}
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
		}, r.catchUpUnderLock)
		if err == nil {
			r.metrics.ObserveCutOverLock(res.LockHeld)
			r.shadowCreated = false // it is the table now
			r.swapped = true
			r.log.Info("swapped", "phase", PhaseCutOver.String(), "lock_held", res.LockHeld.Round(time.Microsecond).String(), "old_table", r.old)

			moved := make([]string, len(r.triggers))
			for i, t := range r.triggers {
				moved[i] = t.Name
			}
			return &Result{CutOverLock: res.LockHeld, CutOverAttempts: attempt, OldTable: r.old, TriggersRecreated: moved, rename: res.Rename}, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !cutover.IsRetryable(err) {
			return nil, fmt.Errorf("cut-over: %w", err)
		}
		lastErr = err
		if err := r.cutOverBackoff(ctx, attempt, err, &backoff); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("cut-over failed %d times, last: %w", r.cfg.CutOverAttempts, lastErr)
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
	r.caughtUpTo = target
	return nil
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

// cutOverBackoff logs a cut-over attempt that gave up and waits before the
// next one, the wait doubling up to 30 s.
func (r *Runner) cutOverBackoff(ctx context.Context, attempt int, cause error, backoff *time.Duration) error {
	if attempt >= r.cfg.CutOverAttempts {
		return nil
	}
	r.log.Warn("cut-over attempt gave up; the original keeps serving", "phase", PhaseCutOver.String(), "attempt", attempt, "err", cause, "retry_in", backoff.String())
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(*backoff):
	}
	*backoff = min(*backoff*2, 30*time.Second)
	return nil
}

// cutOverBlockers describes the sessions that have held a metadata lock
// on the table or on the shadow for a while. On the table, the cut-over's
// LOCK TABLES would queue behind them, and every query of the application
// behind it, until its timeout; on the shadow, the RENAME would hold the
// writers while it waits for them until the attempt gives up. Not starting
// the attempt at all is kinder. A server that does not show metadata locks
// shows nothing here, and the attempt's bounds protect the table instead.
func (r *Runner) cutOverBlockers(ctx context.Context) (string, error) {
	var names []string
	for _, table := range []string{r.cfg.Table, r.shadow} {
		rep, err := preflight.Blockers(ctx, r.db, r.cfg.Database, table, blockerMinAge)
		if err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			r.log.Warn("could not look for sessions that would block the cut-over", "phase", PhaseCutOver.String(), "table", table, "err", err)
			return "", nil
		}
		for _, s := range rep.Sessions {
			names = append(names, s.String())
		}
	}
	return strings.Join(names, "; "), nil
}
