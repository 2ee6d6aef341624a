package migrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tailor-osc/tailor/internal/native"
	"github.com/tailor-osc/tailor/internal/preflight"
)

// blockerMinAge is the age from which a session holding a metadata lock on
// the table counts as one that would block an instant change or the
// cut-over. tailor's own sessions, and the application's short
// transactions, hold such locks for milliseconds.
const blockerMinAge = time.Second

// instant makes the change natively with ALGORITHM=INSTANT, never waiting
// for the table's metadata lock longer than InstantLockTimeout at a time
// (see package native).
func (r *Runner) instant(ctx context.Context) (*Result, error) {
	r.setPhase(PhaseInstant)
	r.log.Info("making the change natively", "phase", PhaseInstant.String(), "algorithm", "INSTANT", "lock_wait_timeout", r.cfg.InstantLockTimeout.String(), "attempts", r.cfg.InstantAttempts)
	res, err := native.Instant(ctx, r.db, native.Config{
		Database:        r.cfg.Database,
		Table:           r.cfg.Table,
		Clauses:         r.alter.Clauses,
		TimeZone:        r.plan.TimeZone,
		LockWaitTimeout: r.cfg.InstantLockTimeout,
		Attempts:        r.cfg.InstantAttempts,
		Blockers:        r.blockers,
		Logger:          r.log,
	})
	if err != nil {
		if ctx.Err() != nil {
			// native's error says what is known of the table: unchanged,
			// or (when the ALTER was killed as it got its lock) to be
			// checked.
			return nil, &Error{Kind: KindInterrupted, Err: fmt.Errorf("interrupted while making the change natively: %w", err)}
		}
		if errors.Is(err, native.ErrNotInstant) {
			return nil, invalid(err)
		}
		return nil, err
	}
	for _, w := range res.Warnings {
		r.log.Warn("the server noted", "phase", PhaseInstant.String(), "note", w)
	}
	r.log.Info("changed natively", "phase", PhaseInstant.String(), "attempts", res.Attempts, "elapsed", res.Elapsed.Round(time.Millisecond).String())
	r.setPhase(PhaseDone)
	return &Result{Native: true, InstantAttempts: res.Attempts, Elapsed: time.Since(r.start), Database: r.cfg.Database}, nil
}

// blockers names the sessions that hold a metadata lock on the table, or
// wait for one, and have for blockerMinAge: an instant change or a
// cut-over issued now would queue behind them. It returns nothing when the
// server does not show who holds the locks; the bounded lock wait of the
// change itself is then the only protection.
func (r *Runner) blockers(ctx context.Context) ([]string, error) {
	rep, err := preflight.Blockers(ctx, r.db, r.cfg.Database, r.cfg.Table, blockerMinAge)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rep.Sessions))
	for _, s := range rep.Sessions {
		out = append(out, s.String())
	}
	return out, nil
}
