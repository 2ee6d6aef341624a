package main

import "time"

// ApplierStats are what tailor's applier did during a run, from its status
// read every 2 ms beside the phases.
type ApplierStats struct {
	// Events are the binary log events applied to the shadow
	// (Result.EventsApplied, or the last status of a run that did not
	// finish).
	Events int64 `json:"events_applied"`
	// Seconds is how long the applier ran: from the first status with a
	// change stream to the last.
	Seconds float64 `json:"applier_seconds"`
	// PerSecond is Events over Seconds.
	PerSecond float64 `json:"events_applied_per_second"`
	// BacklogPeak is the largest Status.Backlog seen: changes read from
	// the binary log and not applied yet.
	BacklogPeak int64 `json:"backlog_peak"`
	// LagPeakMs is the largest Status.ApplierLag seen: how long the oldest
	// change not applied yet had been committed.
	LagPeakMs float64 `json:"applier_lag_peak_ms"`
	// BacklogLast is the backlog at the last status: above zero when the
	// run ended (or timed out) with changes still waiting.
	BacklogLast int64 `json:"backlog_last"`
}

// applierWatch accumulates ApplierStats from statuses. It is used by one
// goroutine at a time.
type applierWatch struct {
	first, last time.Time
	events      int64
	backlogPeak int64
	backlogLast int64
	lagPeak     time.Duration
}

// observe records one status: its backlog, its events applied so far and
// its applier lag (-1 while no change stream runs, as Status has it).
func (w *applierWatch) observe(at time.Time, backlog, events int64, lag time.Duration) {
	if lag < 0 {
		return
	}
	if w.first.IsZero() {
		w.first = at
	}
	w.last = at
	w.events = max(w.events, events)
	w.backlogPeak = max(w.backlogPeak, backlog)
	w.backlogLast = backlog
	w.lagPeak = max(w.lagPeak, lag)
}

// stats are the figures so far; events, when above zero, is the run's own
// count of the events applied (Result.EventsApplied), which may include
// some applied after the last status.
func (w *applierWatch) stats(events int64) *ApplierStats {
	if w.first.IsZero() {
		return nil
	}
	s := &ApplierStats{Events: max(w.events, events), Seconds: w.last.Sub(w.first).Seconds(),
		BacklogPeak: w.backlogPeak, BacklogLast: w.backlogLast, LagPeakMs: millis(w.lagPeak)}
	if s.Seconds > 0 {
		s.PerSecond = float64(s.Events) / s.Seconds
	}
	return s
}
