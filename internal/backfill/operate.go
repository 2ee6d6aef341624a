package backfill

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/hooks"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/throttle"
)

// abortReplyGrace is how long the abort command waits before it stops the
// run, for its reply to be written.
const abortReplyGrace = 100 * time.Millisecond

// hookFinalTimeout bounds on-success and on-failure hooks, which run on a
// context of their own.
const hookFinalTimeout = time.Minute

// Status is a snapshot of a running backfill.
type Status struct {
	Phase string
	// RowsWalked are the rows of the key ranges done by this run,
	// RowsChanged those the statement changed; the Before ones the
	// earlier runs' of a resumed backfill. RowsEstimate is the table's
	// (InnoDB statistics).
	RowsWalked, RowsChanged             int64
	RowsWalkedBefore, RowsChangedBefore int64
	RowsEstimate                        int64
	Batches                             int64
	Percent                             float64
	RowsPerSecond                       float64
	// ETA is negative when unknown.
	ETA     time.Duration
	Elapsed time.Duration
	Paused  bool
	// Throttled says what holds the batches back, if anything.
	Throttled []string
}

// Status is the run's progress; safe to call from any goroutine.
func (r *Runner) Status() Status {
	st := Status{Phase: "validate", RowsWalked: r.walked.Load(), RowsChanged: r.changed.Load(), Batches: r.batches.Load(),
		RowsWalkedBefore: r.walkedBefore, RowsChangedBefore: r.changedBefore, RowsEstimate: r.estimate.Load(),
		Elapsed: time.Since(r.started), Paused: r.knobs.Paused(), ETA: -1}
	if r.running.Load() {
		st.Phase = "backfill"
	}
	if t := r.throttlerSeen.Load(); t != nil {
		if ts := t.State(); ts.Throttled {
			st.Throttled = ts.Reasons
		}
	}
	if reason := r.redo.Reason(); reason != "" {
		st.Throttled = append(slices.Clip(st.Throttled), reason)
	}
	done := st.RowsWalked + st.RowsWalkedBefore
	if st.RowsEstimate > 0 {
		st.Percent = min(100*float64(done)/float64(st.RowsEstimate), 99.9)
	}
	if secs := st.Elapsed.Seconds(); secs > 0 {
		st.RowsPerSecond = float64(st.RowsWalked) / secs
	}
	if st.RowsPerSecond > 0 && !st.Paused && st.RowsEstimate > done {
		st.ETA = time.Duration(float64(st.RowsEstimate-done) / st.RowsPerSecond * float64(time.Second))
	} else if st.RowsEstimate > 0 && done >= st.RowsEstimate {
		st.ETA = 0
	}
	return st
}

// reportProgress logs the progress, and runs the on-status hooks, every
// ProgressInterval until ctx ends.
func (r *Runner) reportProgress(ctx context.Context) error {
	operate.Every(ctx, r.cfg.ProgressInterval, func(ctx context.Context) {
		st := r.Status()
		eta := operate.ETALabel(st.ETA, st.Paused, "unknown")
		r.metrics.SetThrottled(r.throttler.State().Throttled)
		if !r.cfg.QuietProgress {
			r.log.Info("backfill progress", "rows_walked", st.RowsWalked+st.RowsWalkedBefore, "rows_changed", st.RowsChanged+st.RowsChangedBefore,
				"rows_estimate", st.RowsEstimate, "percent", fmt.Sprintf("%.1f", st.Percent), "batches", st.Batches,
				"chunk_size", r.batchSize(), "eta", eta, "throttled", r.throttler.State().Reasons)
		}
		if r.hooks != nil {
			f := r.facts()
			f.Status = fmt.Sprintf("backfill: %d of about %d rows walked (%.1f%%), %d changed, ETA %s", st.RowsWalked+st.RowsWalkedBefore, st.RowsEstimate, st.Percent, st.RowsChanged+st.RowsChangedBefore, eta)
			_ = r.runHook(ctx, hooks.OnStatus, f)
		}
	})
	return nil
}

func (r *Runner) newThrottler() error {
	t, err := throttle.New(r.cfg.Throttle.Apply(throttle.Config{
		DB:             r.db,
		Conn:           r.cfg.Conn,
		Server:         r.server,
		Database:       r.cfg.Database,
		HeartbeatTable: r.heartbeatName(),
		Logger:         r.log,
	}))
	if err != nil {
		return invalid(err)
	}
	r.throttler = t
	r.throttlerSeen.Store(t)
	return nil
}

func (r *Runner) closeThrottler() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.throttler.Close(ctx); err != nil {
		r.log.Warn("could not drop the heartbeat table; drop it by hand", "table", r.heartbeatName(), "err", err)
	}
}

// startControl opens the control socket (the same default path as tailor
// alter's, so tailor ctl --database --table reaches either) and, when
// asked, the HTTP endpoint.
func (r *Runner) startControl(ctx context.Context) (func(), error) {
	path := r.cfg.ControlSocket
	if path == "" {
		path = migrate.DefaultControlSocket(r.cfg.Database, r.cfg.Table)
	}
	stop, err := operate.Listen(ctx, path, r.cfg.HTTPAddr, controlHandler{r}, r.metrics.Registry(), r.log)
	if err != nil {
		return nil, invalid(err)
	}
	return stop, nil
}

// controlHandler answers the control socket and HTTP endpoint.
type controlHandler struct{ r *Runner }

// Status implements control.Handler.
func (h controlHandler) Status() control.Status {
	r := h.r
	st := r.Status()
	out := control.Status{
		Database:         r.cfg.Database,
		Table:            r.cfg.Table,
		Statement:        r.stmt.Text(),
		Phase:            st.Phase,
		RowsCopied:       st.RowsWalked,
		RowsCopiedBefore: st.RowsWalkedBefore,
		RowsChanged:      st.RowsChanged + st.RowsChangedBefore,
		RowsTotal:        st.RowsEstimate,
		Percent:          st.Percent,
		RowsPerSecond:    st.RowsPerSecond,
		ETA:              control.Duration(st.ETA),
		Elapsed:          control.Duration(st.Elapsed),
		PhasePercent:     st.Percent,
		PhaseETA:         control.Duration(st.ETA),
		PhaseProgress:    fmt.Sprintf("%d batches, %d rows changed", st.Batches, st.RowsChanged+st.RowsChangedBefore),
		ChunkSize:        r.knobs.ChunkSize(),
		MaxLagMillis:     r.knobs.MaxLagMillis(),
		MaxLoad:          r.knobs.MaxLoad(),
		Paused:           st.Paused,
		ApplierLag:       control.Duration(-1),
		HeartbeatLag:     control.Duration(-1),
		CommitLatency:    control.Duration(-1),
	}
	operate.ThrottleStatus(&out, r.throttler)
	return out
}

// Command implements control.Handler.
func (h controlHandler) Command(_ context.Context, cmd control.Command) (string, error) {
	r := h.r
	if reply, ok, err := r.knobs.Command(cmd, r.throttler, r.metrics, r.log, "paused: the backfill stops after the batch in progress"); ok {
		return reply, err
	}
	switch cmd.Name {
	case control.CmdCutOver:
		return "", fmt.Errorf("a backfill has no cut-over")
	case control.CmdAbort:
		r.log.Warn("abort requested by the operator")
		time.AfterFunc(abortReplyGrace, func() { r.abort(ErrAborted) })
		return "aborting after the batch in progress: the batches done stay done, and --resume continues", nil
	}
	return "", fmt.Errorf("unknown command %q", cmd.Name)
}

// facts describes the run for a hook.
func (r *Runner) facts() hooks.Facts {
	st := r.Status()
	return hooks.Facts{
		Database:   r.cfg.Database,
		Table:      r.cfg.Table,
		Alter:      r.stmt.Text(),
		Host:       r.cfg.Conn.Addr(),
		Phase:      st.Phase,
		Elapsed:    st.Elapsed,
		CopiedRows: st.RowsWalked + st.RowsWalkedBefore,
		TotalRows:  st.RowsEstimate,
		ETA:        st.ETA,
	}
}

func (r *Runner) hook(ctx context.Context, event hooks.Event) error {
	if r.hooks == nil {
		return nil
	}
	return r.runHook(ctx, event, r.facts())
}

func (r *Runner) runHook(ctx context.Context, event hooks.Event, f hooks.Facts) error {
	return operate.FireHook(ctx, r.hooks, event, f, r.log)
}

// finalHook runs on-success or on-failure on a context of its own: the
// run's may be the one that was cancelled.
func (r *Runner) finalHook(err error) {
	ctx, cancel := context.WithTimeout(context.Background(), hookFinalTimeout)
	defer cancel()
	f := r.facts()
	event := hooks.OnSuccess
	if err != nil {
		event, f.Error = hooks.OnFailure, err.Error()
	}
	_ = r.runHook(ctx, event, f)
}
