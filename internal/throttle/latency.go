package throttle

import (
	"slices"
	"time"
)

// LatencyWindow is how far back the commit latency looks. Two seconds hold
// about twenty beats at the default Interval: enough for a percentile that
// one slow beat does not move, and short enough that the copy speeds up
// again within a couple of seconds of the application's load easing.
const LatencyWindow = 2 * time.Second

// latencyPercentile is the percentile of the window's beats that stands
// for the commit latency. The 90th ignores the odd beat that met a redo
// log flush or a page cleaner burst (one in twenty), which the application
// meets too but which slowing the copy would not avoid, and follows a rise
// that lasts: when one commit in ten waits, the application's p99 is
// already well above it.
const latencyPercentile = 90

// latencySample is one heartbeat write's latency, and when it was taken.
type latencySample struct {
	at      time.Time
	latency time.Duration
}

// latencies holds the heartbeat writes' latencies of the last
// LatencyWindow. The beats come every Interval, so it stays small. It is
// not safe for concurrent use: the Throttler guards it with its mutex.
type latencies struct {
	samples []latencySample
}

// add records a beat's latency taken at at, and forgets the samples that
// left the window.
func (l *latencies) add(at time.Time, d time.Duration) {
	l.samples = append(l.samples, latencySample{at, d})
	l.trim(at)
}

// trim forgets the samples older than LatencyWindow before now.
func (l *latencies) trim(now time.Time) {
	i := 0
	for i < len(l.samples) && now.Sub(l.samples[i].at) > LatencyWindow {
		i++
	}
	l.samples = slices.Delete(l.samples, 0, i)
}

// percentile is the latencyPercentile of the samples of the window ending
// at now (nearest rank), and false when the window holds none: no beat was
// written lately (hibernation, or beats that fail), so nothing is known.
func (l *latencies) percentile(now time.Time) (time.Duration, bool) {
	var in []time.Duration
	for _, s := range l.samples {
		if now.Sub(s.at) <= LatencyWindow {
			in = append(in, s.latency)
		}
	}
	if len(in) == 0 {
		return 0, false
	}
	slices.Sort(in)
	// Nearest rank: the smallest value with at least p% of the samples at
	// or below it.
	rank := (latencyPercentile*len(in) + 99) / 100
	return in[max(rank, 1)-1], true
}
