package migrate

import (
	"context"
	"sync"
	"time"

	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/throttle"
)

// gateAdjustEvery is how often the copy gate's level may change. The
// latency it reads is a percentile over throttle.LatencyWindow (2 s), which
// trails a change of pace by up to that long: stepping every half second
// halves the copy's concurrency at most four times before a cut shows in
// the latency, and climbs back from one worker to four in two seconds.
const gateAdjustEvery = 500 * time.Millisecond

// copyGate holds the copy to as many chunks at once as the application's
// commit latency allows under Config.MaxCommitLatency: the copy's inserts
// compete with the application's transactions for the CPUs, the redo log's
// flushes and the binary log's group commit, and the one lever tailor has
// is how much it writes at once. The checksum's sessions go through a gate
// of their own on the same latency (verifyConfig): they write nothing, but
// take the CPUs the application's transactions wait for.
//
// Its level is the number of chunks that may be copied at once, from 1 to
// the copy's threads; level 0 is one chunk at a time with a rest as long as
// the chunk after each, half the pace of one worker. Above the budget the
// level halves, at or below it grows by one: the copy gives way fast when
// the application suffers and creeps back, the way TCP shares a link. It
// never stops the copy: only the throttle (lag, load, flag files, the
// operator) does that.
type copyGate struct {
	// budget is the commit latency allowed; zero or less lets every worker
	// copy whatever the latency.
	budget time.Duration
	max    int
	// latency is the commit latency now, and false when unknown (an
	// unknown latency leaves the level as it is).
	latency func() (time.Duration, bool)

	mu       sync.Mutex
	level    int
	running  int
	adjusted time.Time
	// freed is closed and replaced when a chunk ends or the level rises,
	// to wake the workers waiting in acquire.
	freed chan struct{}
}

func newCopyGate(threads int, budget time.Duration, latency func() (time.Duration, bool)) *copyGate {
	return &copyGate{budget: budget, max: threads, latency: latency, level: threads, freed: make(chan struct{})}
}

// newGate is a gate of the run on the commit latency, for threads workers.
func (r *Runner) newGate(threads int) *copyGate {
	latency := r.throttler.CommitLatency
	if h := r.cfg.testHooks; h != nil && h.commitLatency != nil {
		latency = h.commitLatency
	}
	return newCopyGate(threads, r.cfg.MaxCommitLatency, r.whileOthersWrite(latency))
}

// whileOthersWrite is latency while other sessions may write, and a latency
// of zero while the binary log has shown none of their rows for a
// throttle.LatencyWindow (othersMayWrite): the budget protects the
// application's commits, and with none, the latency tailor's own work gives
// the heartbeat slows no one. An idle table is copied and compared at full
// speed whatever the storage's flushes cost (a 10,000,000-row checksum with
// no load read 25 ms, above the default budget, from its own work).
// Readers alone are not protected: the gate's probe is a commit, which does
// not measure them.
func (r *Runner) whileOthersWrite(latency func() (time.Duration, bool)) func() (time.Duration, bool) {
	return func() (time.Duration, bool) {
		d, known := latency()
		if known && !r.othersWrite() {
			return 0, true
		}
		return d, known
	}
}

// othersWrite reports whether sessions other than tailor's may be writing
// now (othersMayWrite); with no reader of the binary log yet, they may.
func (r *Runner) othersWrite() bool {
	s := r.streamSeen.Load()
	if s == nil {
		return true
	}
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	return othersMayWrite(time.Now(), started, s.source.ReadUpTo(), s.source.LastOtherWrite())
}

// othersMayWrite reports, at now, whether the binary log showed a row of
// another session within the last throttle.LatencyWindow (lastOther), or
// cannot say: the reader started (at started, zero if not yet) less than
// a window ago and knows nothing of the writes before, or it has not read
// up to the window's start (readUpTo) because its connection is lost or it
// is behind. Event times have whole seconds, so a reader at the tip may
// look up to a second behind.
func othersMayWrite(now, started, readUpTo, lastOther time.Time) bool {
	if started.IsZero() || now.Sub(started) < throttle.LatencyWindow || now.Sub(readUpTo) > throttle.LatencyWindow+time.Second {
		return true
	}
	return now.Sub(lastOther) <= throttle.LatencyWindow
}

// nextLevel is the gate's level after level, given the commit latency
// (when known) against budget, for a copy of at most threads chunks at once.
func nextLevel(level, threads int, latency time.Duration, known bool, budget time.Duration) int {
	switch {
	case budget <= 0:
		return threads
	case !known:
		return level
	case latency > budget:
		return level / 2
	default:
		return min(level+1, threads)
	}
}

// acquire waits until the worker may copy a chunk, and says whether it
// should rest after it (see copyGate). Every successful acquire is paired
// with a release.
func (g *copyGate) acquire(ctx context.Context) (rest bool, err error) {
	for {
		g.mu.Lock()
		g.adjustLocked(time.Now())
		if g.running < max(g.level, 1) {
			g.running++
			rest := g.level == 0
			g.mu.Unlock()
			return rest, nil
		}
		freed := g.freed
		g.mu.Unlock()
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-freed:
		}
	}
}

// release ends a chunk acquire let through.
func (g *copyGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running--
	g.wakeLocked()
}

// adjustLocked moves the level by the latency now, at most once per
// gateAdjustEvery. g.mu is held.
func (g *copyGate) adjustLocked(now time.Time) {
	if now.Sub(g.adjusted) < gateAdjustEvery {
		return
	}
	g.adjusted = now
	var d time.Duration
	var known bool
	if g.budget > 0 {
		d, known = g.latency()
	}
	next := nextLevel(g.level, g.max, d, known, g.budget)
	if next > g.level {
		g.wakeLocked()
	}
	g.level = next
}

func (g *copyGate) wakeLocked() {
	close(g.freed)
	g.freed = make(chan struct{})
}

// workers is how many chunks the gate lets through at once now (1 when it
// also makes the worker rest), for the status.
func (g *copyGate) workers() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return max(g.level, 1)
}

// resting tells whether the gate makes the one worker rest between chunks.
func (g *copyGate) resting() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.level == 0
}

// Do runs work once the gate lets it and, when the gate says so, rests as
// long as work says it kept the server busy before it returns: the copy's
// chunks and the checksum's ranges go through it alike (verify.Gate).
func (g *copyGate) Do(ctx context.Context, work func(context.Context) (busy time.Duration, err error)) error {
	rest, err := g.acquire(ctx)
	if err != nil {
		return err
	}
	// The slot is held through the rest: at level 0 no other worker may
	// use the pause.
	defer g.release()
	busy, err := work(ctx)
	if err != nil || !rest {
		return err
	}
	pause := time.NewTimer(busy)
	defer pause.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-pause.C:
	}
	return nil
}

// copyGatedChunk copies chunk once the gate lets it, and when the gate says
// so rests as long as the copy took before letting the next chunk go.
func (r *Runner) copyGatedChunk(ctx context.Context, gate *copyGate, copier *rowcopy.Copier, chunk rowcopy.Chunk) (n int64, took time.Duration, err error) {
	err = gate.Do(ctx, func(ctx context.Context) (time.Duration, error) {
		// The throttle may have engaged while the worker waited for the
		// gate; its wait is not the copy's.
		if err := r.throttler.Wait(ctx); err != nil {
			return 0, err
		}
		n, took, err = r.copyChunk(ctx, copier, chunk)
		return took, err
	})
	return n, took, err
}
