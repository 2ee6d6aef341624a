package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/plan"
	"github.com/tailor-osc/tailor/internal/preflight"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/state"
)

// makePlan asks the server how it would make the change, chooses the
// strategy and runs the checks (package plan). It changes nothing users
// can see: the server is tried on an empty clone of the table, dropped
// right after.
func (r *Runner) makePlan(ctx context.Context) error {
	// A resumed migration converts, and so checks, in the zone it saved
	// (the saved state is read again, and judged, after the plan).
	zone, zoneSource := r.cfg.TimeZone, ""
	if saved := r.savedTimeZone(ctx); saved != "" {
		zone, zoneSource = saved, "the zone the resumed migration saved"
	}
	p, err := plan.Make(ctx, r.db, r.server, plan.Options{
		Conn:             r.cfg.Conn,
		Database:         r.cfg.Database,
		Table:            r.cfg.Table,
		Alter:            r.cfg.Alter,
		ForceCopy:        r.cfg.ForceCopy,
		RecreateTriggers: r.cfg.RecreateTriggers,
		TimeZone:         zone,
		TimeZoneSource:   zoneSource,
		Logger:           r.log,
	})
	if err != nil {
		var de *ddl.Error
		var pe *plan.Error
		if errors.As(err, &de) || errors.As(err, &pe) {
			return invalid(err)
		}
		if ctx.Err() != nil {
			return &Error{Kind: KindInterrupted, Err: ctx.Err()}
		}
		return fmt.Errorf("plan the change: %w", err)
	}
	r.plan = p
	for _, c := range p.Checks {
		level := slog.LevelDebug
		if c.Status != preflight.Pass {
			level = slog.LevelWarn
		}
		r.log.Log(ctx, level, "check", "phase", PhaseValidate.String(), "check", c.Name, "status", string(c.Status), "message", c.Message)
	}
	if p.Strategy.Kind == plan.StrategyOnlineCopy && r.cfg.Execute {
		if err := r.checkLeftovers(ctx); err != nil {
			return err
		}
		if r.cfg.RecreateTriggers {
			if r.triggers, err = schema.LoadTriggers(ctx, r.db, r.cfg.Database, r.cfg.Table); err != nil {
				return fmt.Errorf("read the triggers of %s: %w", r.cfg.Table, err)
			}
		}
	}
	return nil
}

// savedTimeZone is the time zone of the migration a --resume continues,
// or "" when there is none to read (loadSavedState says why).
func (r *Runner) savedTimeZone(ctx context.Context) string {
	if !r.cfg.Resume {
		return ""
	}
	store, err := state.New(r.db, r.cfg.Database, r.cfg.Table)
	if err != nil {
		return ""
	}
	rec, err := store.Load(ctx)
	if err != nil || rec == nil || rec.Phase == revertable {
		return ""
	}
	return rec.TimeZone
}

// refusal is the error for a plan that refuses the change: its reasons,
// one sentence each, joined.
func refusal(p *plan.Plan) error {
	if p.OK {
		return nil
	}
	msgs := make([]string, len(p.RefusedBecause))
	for i, m := range p.RefusedBecause {
		msgs[i] = strings.TrimSuffix(m, ".")
	}
	return invalid(fmt.Errorf("tailor refuses the change: %s (tailor plan shows the details)", strings.Join(msgs, "; ")))
}
