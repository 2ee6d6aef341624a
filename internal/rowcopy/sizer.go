package rowcopy

import (
	"sync"
	"time"
)

// Sizer chooses the number of rows in the next chunk so that a chunk takes
// about Target to copy. A chunk holds shared locks on the original's rows
// it read until it commits, so its duration is how long a writer of one of
// those rows may wait: the size follows the measured rate, shrinks at once
// when chunks get slow (a wide table, a busy server) and grows by at most
// half again per chunk, within [Min, Max]. It is safe for concurrent use by
// the copy's workers.
type Sizer struct {
	Target   time.Duration
	Min, Max int

	mu   sync.Mutex
	size int
}

// NewSizer returns a Sizer that starts at start rows.
func NewSizer(target time.Duration, start, minRows, maxRows int) *Sizer {
	return &Sizer{Target: target, Min: minRows, Max: maxRows, size: min(max(start, minRows), maxRows)}
}

// Size is the size of the next chunk.
func (s *Sizer) Size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Observe feeds the time a chunk of rows took.
func (s *Sizer) Observe(rows int64, took time.Duration) {
	if rows <= 0 || took <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ideal := float64(rows) * float64(s.Target) / float64(took)
	next := int(ideal)
	if ideal > float64(s.size) {
		// Grow slowly: one fast chunk (cached pages, a quiet moment) is
		// not a trend.
		next = min(next, s.size+s.size/2)
	}
	s.size = min(max(next, s.Min), s.Max)
}
