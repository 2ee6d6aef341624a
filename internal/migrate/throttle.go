package migrate

import (
	"context"
	"slices"
	"time"

	"github.com/tailor-osc/tailor/internal/cutover"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/throttle"
)

// HeartbeatName is the table the throttler writes its heartbeat to, to
// measure replica lag: <table>_tailor_hb.
func HeartbeatName(table string) string { return cutover.NameAfter(table, "_tailor_hb") }

// newThrottler sets up the throttler of the copy (package throttle). Its
// Run goes beside the binary log reader; the copier waits on it before
// each chunk.
func (r *Runner) newThrottler() error {
	t, err := throttle.New(r.cfg.Throttle.Apply(throttle.Config{
		DB:              r.db,
		Conn:            r.cfg.Conn,
		Server:          r.server,
		Database:        r.cfg.Database,
		HeartbeatTable:  HeartbeatName(r.cfg.Table),
		IgnoreServerIDs: []uint32{r.cfg.ReplicaServerID},
		Logger:          r.log,
	}))
	if err != nil {
		return invalid(err)
	}
	r.throttler = t
	r.throttlerSeen.Store(t)
	redoFill := func(ctx context.Context) (float64, error) { return operate.ReadRedoFill(ctx, r.db) }
	if h := r.cfg.testHooks; h != nil && h.redoFill != nil {
		redoFill = h.redoFill
	}
	r.redo = operate.NewRedoGate(redoFill, r.cfg.MaxRedoFill, r.othersWrite, r.log.With("phase", PhaseCopy.String()))
	return nil
}

// closeThrottler drops the heartbeat table, on a context of its own: the
// run's may be the one that was cancelled.
//
// Like the shadow, the heartbeat table is this run's only while the run
// holds the migration lock (see cleanUpAfterFailure); a lost lock leaves it.
func (r *Runner) closeThrottler() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.checkLock(ctx); err != nil {
		r.log.Error("not removing the heartbeat table: the migration lock was lost, so it may be another run's now", "table", HeartbeatName(r.cfg.Table), "err", err)
		return
	}
	if err := r.throttler.Close(ctx); err != nil {
		r.log.Warn("could not drop the heartbeat table; drop it by hand", "table", HeartbeatName(r.cfg.Table), "err", err)
	}
}

// updateMetrics copies what is measured elsewhere (the backlog, the
// throttler's state) into the metrics every second until ctx ends.
func (r *Runner) updateMetrics(ctx context.Context) error {
	last := map[string]float64{}
	operate.Every(ctx, time.Second, func(context.Context) {
		if r.stream != nil {
			r.metrics.SetBacklog(r.stream.backlog())
		}
		st := r.throttler.State()
		r.metrics.SetThrottled(st.Throttled)
		if st.CommitLatencyKnown {
			r.metrics.SetCommitLatency(st.CommitLatency)
		}
		if g := r.copyGate.Load(); g != nil {
			r.metrics.SetCopyWorkers(g.workers())
		}
		if g := r.checkGate.Load(); g != nil {
			r.metrics.SetChecksumWorkers(g.workers())
		}
		for _, rep := range st.Replicas {
			if rep.LagKnown {
				r.metrics.SetReplicaLag(rep.Addr, rep.Lag)
			}
		}
		for kind, secs := range r.throttler.ThrottledSeconds() {
			r.metrics.AddThrottled(kind, time.Duration((secs-last[kind])*float64(time.Second)))
			last[kind] = secs
		}
	})
	return nil
}

// ThrottleReasons says what holds the copy back now; empty when nothing
// does or the copy has not started.
func (r *Runner) ThrottleReasons() []string {
	var reasons []string
	if t := r.throttlerSeen.Load(); t != nil {
		reasons = t.State().Reasons
	}
	if reason := r.redo.Reason(); reason != "" {
		reasons = append(slices.Clip(reasons), reason)
	}
	return reasons
}
