package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/operate"
)

// DefaultControlSocket is where a migration of database.table listens when
// Config.ControlSocket is empty.
func DefaultControlSocket(database, table string) string {
	return filepath.Join(os.TempDir(), "tailor."+database+"."+table+".sock")
}

// ErrAborted is the cause of a run stopped by the operator's abort command.
var ErrAborted = errors.New("aborted by the operator")

// abortReplyGrace is how long the abort command waits before it stops the
// run, for its reply to be written.
const abortReplyGrace = 100 * time.Millisecond

// controlHandler answers the control socket and HTTP endpoint for a run
// (package control). Its methods are called from the control server's
// goroutines: they only read atomics and call the throttler's
// goroutine-safe methods.
type controlHandler struct{ r *Runner }

// Status implements control.Handler.
func (h controlHandler) Status() control.Status {
	r := h.r
	st := r.Status()
	out := control.Status{
		Database:         r.cfg.Database,
		Table:            r.cfg.Table,
		Alter:            r.cfg.Alter,
		Phase:            st.Phase.String(),
		RowsCopied:       st.RowsCopied,
		RowsCopiedBefore: st.RowsCopiedBefore,
		RowsTotal:        st.RowsEstimate,
		Percent:          st.Percent,
		RowsPerSecond:    st.RowsPerSecond,
		ETA:              control.Duration(st.ETA),
		Elapsed:          control.Duration(st.Elapsed),
		EventsApplied:    st.EventsApplied,
		Backlog:          st.Backlog,
		ChunkSize:        r.knobs.ChunkSize(),
		MaxLagMillis:     r.knobs.MaxLagMillis(),
		MaxLoad:          r.knobs.MaxLoad(),
		Paused:           r.knobs.Paused(),
		CutOverPostponed: st.Postponed,
	}
	if st.ETA < 0 {
		out.ETA = control.Duration(-1)
	}
	out.PhasePercent, out.PhaseETA, out.PhaseProgress = st.PhasePercent, control.Duration(st.PhaseETA), st.PhaseProgress
	if st.PhaseETA < 0 {
		out.PhaseETA = control.Duration(-1)
	}
	if !st.BinlogRead.IsZero() {
		out.BinlogRead, out.BinlogApplied = st.BinlogRead.String(), st.BinlogApplied.String()
	}
	out.ApplierLag = control.Duration(st.ApplierLag)
	if st.ApplierLag < 0 {
		out.ApplierLag = control.Duration(-1)
	}
	out.HeartbeatLag, out.CommitLatency = control.Duration(-1), control.Duration(-1)
	if budget := r.cfg.MaxCommitLatency; budget > 0 {
		out.MaxCommitLatencyMillis = max(budget.Milliseconds(), 1)
	}
	if g := r.copyGate.Load(); g != nil && st.Phase == PhaseCopy {
		out.CopyWorkers, out.CopyThreads, out.CopyResting = int64(g.workers()), int64(g.max), g.resting()
	}
	if g := r.checkGate.Load(); g != nil && st.Phase == PhaseChecksum {
		out.ChecksumWorkers, out.ChecksumThreads, out.ChecksumResting = int64(g.workers()), int64(g.max), g.resting()
	}
	if out.CopyThreads+out.ChecksumThreads > 0 {
		out.NoOtherWrites = !r.othersWrite()
	}
	out.CutOverAttempt = st.CutOverAttempt
	if n := r.cfg.CutOverAttempts; n > 0 {
		out.CutOverAttempts = int64(n)
	}
	if since, sessions := r.heldUp.snapshot(); !since.IsZero() {
		out.CutOverHeldUp = control.Duration(time.Since(since))
		for _, s := range sessions {
			out.CutOverBlockers = append(out.CutOverBlockers, control.Blocker{
				ID: s.ID, User: s.User, Host: s.Host, Age: control.Duration(s.Age),
				State: s.State, Lock: s.Lock, Query: s.Query,
			})
		}
	}
	operate.ThrottleStatus(&out, r.throttler)
	if reason := r.redo.Reason(); reason != "" {
		out.Throttled, out.ThrottleReasons = true, append(slices.Clip(out.ThrottleReasons), reason)
	}
	return out
}

// Command implements control.Handler.
func (h controlHandler) Command(_ context.Context, cmd control.Command) (string, error) {
	r := h.r
	if reply, ok, err := r.knobs.Command(cmd, r.throttler, r.metrics, r.log, "paused: the copy stops after the chunk in progress; changes are still applied"); ok {
		return reply, err
	}
	switch cmd.Name {
	case control.CmdCutOver:
		r.ReleaseCutOver()
		r.log.Info("cut-over released by the operator")
		if r.progress.postponed.Load() {
			return "cut-over released: swapping now", nil
		}
		return "cut-over released: it will not be postponed", nil
	case control.CmdAbort:
		switch phase := r.progress.Phase(); {
		case phase > PhaseCutOver:
			return "", fmt.Errorf("too late to abort: the tables have been swapped")
		case phase == PhaseCutOver:
			return r.abortCutOver()
		}
		r.log.Warn("abort requested by the operator")
		// A moment later, so that this reply reaches the operator before
		// the run's cleanup closes the control socket.
		time.AfterFunc(abortReplyGrace, func() { r.abort(ErrAborted) })
		return "aborting: the original table stays, the shadow table is removed", nil
	}
	return "", fmt.Errorf("unknown command %q", cmd.Name)
}

// abortCutOver is the abort command during the cut-over, which may be
// waiting for sessions that hold the table (for good, with
// --cut-over-attempts 0): it stops between attempts, never during one
// (cutOverGate).
func (r *Runner) abortCutOver() (string, error) {
	inAttempt, swapped := r.gate.ask()
	if swapped {
		return "", fmt.Errorf("too late to abort: the tables have been swapped")
	}
	r.log.Warn("abort requested by the operator during the cut-over", "phase", PhaseCutOver.String(), "attempt_in_progress", inAttempt)
	if inAttempt {
		return "aborting after the cut-over attempt in progress, unless it swaps the tables: then the migration completes", nil
	}
	// A moment later, so that this reply reaches the operator first; an
	// attempt that would start meanwhile sees the abort and does not.
	time.AfterFunc(abortReplyGrace, func() { r.abort(ErrAborted) })
	return "aborting: no further cut-over attempt; the original table stays, the shadow table is removed", nil
}

// startControl opens the control socket and, when asked, the HTTP
// endpoint. They live until the returned function is called.
func (r *Runner) startControl(ctx context.Context) (func(), error) {
	h := controlHandler{r}
	path := r.cfg.ControlSocket
	if path == "" {
		path = DefaultControlSocket(r.cfg.Database, r.cfg.Table)
	}
	stop, err := operate.Listen(ctx, path, r.cfg.HTTPAddr, h, r.metrics.Registry(), r.log)
	if err != nil {
		return nil, invalid(err)
	}
	return stop, nil
}
