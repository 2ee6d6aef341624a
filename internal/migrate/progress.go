package migrate

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/hooks"
	"github.com/tailor-osc/tailor/internal/operate"
)

// progress holds the counters of a run. They are written by the copier and
// applier goroutines and read by the reporter, hence atomics.
type progress struct {
	phase         atomic.Int32
	rowsTotal     atomic.Int64
	rowsCopied    atomic.Int64
	eventsApplied atomic.Int64
	postponed     atomic.Bool
	// cutOverAttempt is the number of the cut-over attempt under way or
	// last made; 0 before the first.
	cutOverAttempt atomic.Int64
	// steps is the progress of the build-indexes and checksum phases.
	steps phaseProgress
	// keySpace is the copy key's range, once measured (measureKeySpace).
	keySpace atomic.Pointer[keySpace]
	// rowsBefore are the rows the earlier runs of a resumed migration
	// copied. An atomic rather than saved.rowsBefore, whose mutex a
	// checkpoint holds across its write to the server: a status must not
	// wait for that.
	rowsBefore atomic.Int64
}

// Phase is the current phase.
func (p *progress) Phase() Phase { return Phase(p.phase.Load()) }

// Status is a snapshot of a running migration.
type Status struct {
	Phase         Phase
	RowsCopied    int64
	RowsEstimate  int64
	Percent       float64
	RowsPerSecond float64
	ETA           time.Duration // -1 when unknown
	EventsApplied int64
	Backlog       int64
	Elapsed       time.Duration
	// Postponed is true while the cut-over waits for its flag file to go.
	Postponed bool
	// BinlogRead is the binary log position the reader has read up to,
	// and BinlogApplied the one before which every change to the table
	// has been applied; zero while no change stream runs.
	BinlogRead, BinlogApplied capture.Position
	// ApplierLag is how far the applied changes are behind the server:
	// the time since the oldest change not applied yet was committed, or
	// when none waits, since the time the reader has read up to
	// (capture.Reader.ReadUpTo). -1 when unknown (no change stream yet).
	// It compares the server's clock with this host's.
	ApplierLag time.Duration
	// CutOverAttempt is the number of the cut-over attempt under way or
	// last made, as the log numbers them; 0 before the cut-over.
	CutOverAttempt int64
	// Paused is true while the operator's pause holds the copy; the ETA
	// is then unknown (-1).
	Paused bool
	// PhasePercent, PhaseETA (-1 when unknown) and PhaseProgress (a
	// phrase such as "3 of ~10 chunks checked") are the current phase's
	// own progress: the copy's Percent and ETA during the copy, the
	// checksum's chunks and the index build's (as MariaDB reports it)
	// during those phases, and nothing (0, -1, "") during the others.
	PhasePercent  float64
	PhaseETA      time.Duration
	PhaseProgress string
	// RowsCopiedBefore are the rows the earlier runs of a resumed
	// migration copied (0 for a new one); RowsCopied are this run's.
	// Percent and ETA count both, RowsPerSecond this run's alone.
	RowsCopiedBefore int64
	// CommitLatency is the heartbeat's commit latency that the copy's
	// gate reads (throttle.Throttler.CommitLatency); -1 when unknown.
	CommitLatency time.Duration
}

// Status reports where the migration is.
func (r *Runner) Status() Status {
	st := Status{
		Phase:         r.progress.Phase(),
		RowsCopied:    r.progress.rowsCopied.Load(),
		RowsEstimate:  r.progress.rowsTotal.Load(),
		EventsApplied: r.progress.eventsApplied.Load(),
		Elapsed:       time.Since(time.Unix(0, r.startSeen.Load())),
		ETA:           -1,
		Postponed:     r.progress.postponed.Load(),
		ApplierLag:    -1,
		PhaseETA:      -1,
		Paused:        r.knobs.Paused(),
		CommitLatency: -1,
	}
	if t := r.throttlerSeen.Load(); t != nil {
		if d, ok := t.CommitLatency(); ok {
			st.CommitLatency = d
		}
	}
	st.RowsCopiedBefore = r.progress.rowsBefore.Load()
	st.CutOverAttempt = r.progress.cutOverAttempt.Load()
	if s := r.streamSeen.Load(); s != nil {
		st.Backlog = s.backlog()
		st.BinlogRead, _ = s.source.Progress()
		st.BinlogApplied = s.appliedUpTo()
		st.ApplierLag = s.lag(time.Now())
	}
	// The estimate comes from InnoDB statistics and may be below the truth.
	done := st.RowsCopied + st.RowsCopiedBefore
	total := max(st.RowsEstimate, done)
	if st.Phase > PhaseCopy {
		total = done
	}
	if total > 0 {
		st.Percent = 100 * float64(done) / float64(total)
	}
	if secs := st.Elapsed.Seconds(); secs > 0 {
		st.RowsPerSecond = float64(st.RowsCopied) / secs
	}
	left := total - done
	if st.Phase == PhaseCopy && st.RowsEstimate > 0 && done >= st.RowsEstimate {
		// Past the estimate: how far along the key the copy is says more
		// than a percentage stuck at 100 and an ETA of 0.
		if ks := r.progress.keySpace.Load(); ks != nil {
			if f, ok := ks.fraction(); ok && f > 0 {
				st.Percent = 100 * f
				left = int64(float64(done) * (1 - f) / f)
			}
		}
	}
	if st.RowsPerSecond > 0 && st.Phase == PhaseCopy && !st.Paused {
		st.ETA = time.Duration(float64(left) / st.RowsPerSecond * float64(time.Second))
	}
	switch st.Phase {
	case PhaseCopy:
		st.PhasePercent, st.PhaseETA = st.Percent, st.ETA
	case PhaseBuildIndexes, PhaseChecksum:
		r.progress.steps.describe(&st, time.Now())
	}
	return st
}

// setRowsBefore records, for the status and the metrics, the rows the
// earlier runs of a resumed migration copied.
func (r *Runner) setRowsBefore(n int64) {
	r.progress.rowsBefore.Store(n)
	r.metrics.SetRowsCopiedBefore(n)
}

// reportProgress logs the status at the configured interval until ctx ends.
func (r *Runner) reportProgress(ctx context.Context) error {
	r.measureKeySpace(ctx)
	operate.Every(ctx, r.cfg.ProgressInterval, func(ctx context.Context) {
		st := r.Status()
		// The current phase's: the copy's, the checksum's, the index
		// build's. A pause holds only the copy, whose time left is then
		// unknown; the other phases go on and keep theirs.
		eta := operate.ETALabel(st.PhaseETA, st.Paused && st.PhaseETA < 0, "unknown")
		if !r.cfg.QuietProgress {
			r.logProgress(st, eta)
		}
		if r.hooks != nil {
			f := r.facts()
			f.Status = fmt.Sprintf("%s: %d of about %d rows copied (%.1f%%), %d events applied, backlog %d, ETA %s", st.Phase, st.RowsCopied, st.RowsEstimate, st.Percent, st.EventsApplied, st.Backlog, eta)
			_ = r.runHook(ctx, hooks.OnStatus, f)
		}
	})
	return nil
}

func (r *Runner) logProgress(st Status, eta string) {
	attrs := []any{
		"phase", st.Phase.String(),
		"rows", st.RowsCopied,
	}
	if st.RowsCopiedBefore > 0 {
		attrs = append(attrs, "rows_copied_before", st.RowsCopiedBefore)
	}
	attrs = append(attrs,
		"rows_estimate", st.RowsEstimate,
		"percent", float64(int(st.Percent*10))/10,
		"rows_per_sec", int64(st.RowsPerSecond),
		"eta", eta,
		"events_applied", st.EventsApplied,
		"backlog", st.Backlog,
		"elapsed", st.Elapsed.Round(time.Second).String(),
	)
	if st.ApplierLag >= 0 {
		attrs = append(attrs, "lag_ms", st.ApplierLag.Milliseconds())
	}
	if st.PhaseProgress != "" {
		attrs = append(attrs, "phase_percent", float64(int(st.PhasePercent*10))/10, "phase_progress", st.PhaseProgress)
	}
	if reasons := r.ThrottleReasons(); len(reasons) > 0 {
		attrs = append(attrs, "throttled", strings.Join(reasons, "; "))
	}
	if st.Postponed {
		attrs = append(attrs, "cut_over_postponed", true)
	}
	r.log.Info("progress", attrs...)
}
