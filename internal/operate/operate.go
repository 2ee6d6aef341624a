// Package operate is what every long-running tailor operation (a migration,
// a revert, a backfill) offers its operator alike: the settings the control
// commands change while it runs (Knobs), its control endpoints (Listen), and
// its hooks fired with the same failure rules (FireHook). Each runner keeps
// its own phases and status; what an operator steers the same way is
// written once, here.
package operate

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/hooks"
	"github.com/tailor-osc/tailor/internal/metrics"
	"github.com/tailor-osc/tailor/internal/throttle"
)

// Knobs are the settings the operator changes while a run goes on: paused,
// the chunk size, the lag and load limits. They are read by the run's
// workers and status, and written by the control commands, from any
// goroutine.
type Knobs struct {
	paused atomic.Bool
	// chunkSize is the size the run works in; fixed once the operator set
	// it, after which an adaptive sizer no longer changes it.
	chunkSize      atomic.Int64
	chunkSizeFixed atomic.Bool
	maxLagMillis   atomic.Int64
	mu             sync.Mutex
	maxLoad        string
}

// Init sets the knobs as a run's configuration gives them. The zero Knobs
// is usable (nothing paused, every setting zero), so that a runner's zero
// value is.
func (k *Knobs) Init(chunkSize int, maxLag time.Duration, maxLoad string) {
	k.chunkSize.Store(int64(chunkSize))
	k.maxLagMillis.Store(maxLag.Milliseconds())
	k.mu.Lock()
	k.maxLoad = maxLoad
	k.mu.Unlock()
}

// Paused reports whether the operator paused the run.
func (k *Knobs) Paused() bool { return k.paused.Load() }

// ChunkSize is the chunk size now.
func (k *Knobs) ChunkSize() int64 { return k.chunkSize.Load() }

// ChunkSizeFixed reports whether the operator set the chunk size.
func (k *Knobs) ChunkSizeFixed() bool { return k.chunkSizeFixed.Load() }

// AdaptChunkSize records the size an adaptive sizer chose; the operator's
// size, once given, is kept.
func (k *Knobs) AdaptChunkSize(n int) {
	if !k.chunkSizeFixed.Load() {
		k.chunkSize.Store(int64(n))
	}
}

// MaxLagMillis is the replica lag limit now, in milliseconds.
func (k *Knobs) MaxLagMillis() int64 { return k.maxLagMillis.Load() }

// MaxLoad is the max-load thresholds now, as the operator wrote them.
func (k *Knobs) MaxLoad() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.maxLoad
}

// Command carries out cmd when it is one of the commands every run takes
// (pause, resume, chunk-size, max-lag-millis, max-load) and reports false
// for the others, which are the run's own. pauseReply is the reply to
// pause: what stops, and what goes on.
func (k *Knobs) Command(cmd control.Command, t *throttle.Throttler, m *metrics.Metrics, log *slog.Logger, pauseReply string) (reply string, handled bool, err error) {
	switch cmd.Name {
	case control.CmdPause:
		k.paused.Store(true)
		t.Pause("")
		log.Info("paused by the operator")
		return pauseReply, true, nil
	case control.CmdResume:
		k.paused.Store(false)
		t.Resume()
		log.Info("resumed by the operator")
		return "resumed", true, nil
	case control.CmdChunkSize:
		n, err := strconv.Atoi(cmd.Arg)
		if err != nil {
			return "", true, fmt.Errorf("chunk-size needs a whole number, not %q", cmd.Arg)
		}
		k.chunkSize.Store(int64(n))
		k.chunkSizeFixed.Store(true)
		m.SetChunkSize(int64(n))
		log.Info("chunk size changed by the operator", "chunk_size", n)
		return fmt.Sprintf("chunk size is now %d rows", n), true, nil
	case control.CmdMaxLagMillis:
		n, err := strconv.ParseInt(cmd.Arg, 10, 64)
		if err != nil {
			return "", true, fmt.Errorf("max-lag-millis needs a whole number, not %q", cmd.Arg)
		}
		k.maxLagMillis.Store(n)
		t.SetMaxLag(time.Duration(n) * time.Millisecond)
		log.Info("max lag changed by the operator", "max_lag_millis", n)
		return fmt.Sprintf("max lag is now %d ms", n), true, nil
	case control.CmdMaxLoad:
		load, err := throttle.ParseLoad(cmd.Arg)
		if err != nil {
			return "", true, fmt.Errorf("max-load: %w", err)
		}
		if err := t.SetMaxLoad(load); err != nil {
			return "", true, fmt.Errorf("max-load: %w", err)
		}
		k.mu.Lock()
		k.maxLoad = cmd.Arg
		k.mu.Unlock()
		log.Info("max load changed by the operator", "max_load", cmd.Arg)
		if cmd.Arg == "" {
			return "max load is now none", true, nil
		}
		return "max load is now " + cmd.Arg, true, nil
	}
	return "", false, nil
}

// ThrottleStatus fills the throttler's part of a status: whether and why
// it holds the work back, the heartbeat's age, the commit latency and the
// replicas' lag (unknown ones negative). A nil t (before the throttler
// exists) leaves out as it is.
func ThrottleStatus(out *control.Status, t *throttle.Throttler) {
	if t == nil {
		return
	}
	ts := t.State()
	out.Throttled, out.ThrottleReasons = ts.Throttled, ts.Reasons
	if !ts.LastBeat.IsZero() {
		out.HeartbeatLag = control.Duration(max(time.Since(ts.LastBeat), 0))
	}
	if ts.CommitLatencyKnown {
		out.CommitLatency = control.Duration(ts.CommitLatency)
	}
	for _, rep := range ts.Replicas {
		lag := control.Duration(rep.Lag)
		if !rep.LagKnown {
			lag = control.Duration(-1)
		}
		out.Replicas = append(out.Replicas, control.ReplicaLag{Name: rep.Addr, Lag: lag})
	}
}

// Listen opens the control socket at socketPath and, when httpAddr is set,
// the HTTP endpoint with the metrics of reg. They serve h until the
// returned function is called. The errors name the flag to change.
func Listen(ctx context.Context, socketPath, httpAddr string, h control.Handler, reg *prometheus.Registry, log *slog.Logger) (func(), error) {
	sock, err := control.ListenUnix(ctx, socketPath, h, log)
	if err != nil {
		return nil, fmt.Errorf("open the control socket: %w; pass --control-socket with another path", err)
	}
	stop := func() { sock.Close() }
	if httpAddr != "" {
		srv, err := control.ListenHTTP(ctx, httpAddr, h, reg, log)
		if err != nil {
			sock.Close()
			return nil, fmt.Errorf("--http: %w", err)
		}
		stop = func() { srv.Close(); sock.Close() }
	}
	return stop, nil
}

// FireHook runs event's hooks of h (none when h is nil). A failing hook of
// an event that only reports (hooks.Event.Reports) is logged and the run
// goes on; any other failing hook stops the run with its error.
func FireHook(ctx context.Context, h *hooks.Runner, event hooks.Event, f hooks.Facts, log *slog.Logger) error {
	if h == nil {
		return nil
	}
	if err := h.Run(ctx, event, f); err != nil {
		if event.Reports() {
			log.Warn("a hook failed; tailor goes on", "event", string(event), "err", err)
			return nil
		}
		return fmt.Errorf("hook %s: %w", event, err)
	}
	return nil
}
