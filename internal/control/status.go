// Package control lets an operator talk to a running migration: over a unix
// socket, one command per line the way gh-ost does (`echo status | nc -U
// /tmp/tailor.sock`), and over HTTP (JSON status, commands, Prometheus
// metrics). It knows the migration only through the Handler interface it
// declares. The protocol is described in docs/operating.md.
package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Handler is what the running migration provides. Both methods are called
// from connection goroutines, concurrently with the migration and with each
// other, so they must be safe for concurrent use and must not block on the
// migration's progress: Status should read a snapshot, and Command should
// record the wish (a new chunk size, a pause) and return.
type Handler interface {
	// Status is a snapshot of where the migration is.
	Status() Status
	// Command runs one parsed command other than status and help (those
	// the server answers itself) and returns a one-line reply. An error is
	// sent to the operator as "error: <err>".
	Command(ctx context.Context, cmd Command) (string, error)
}

// Status is a snapshot of a running migration, as `status json` and GET
// /status send it.
type Status struct {
	Database string `json:"database"`
	Table    string `json:"table"`
	Alter    string `json:"alter"`
	// Statement is a backfill's statement (tailor backfill), its key
	// range shown as "<key range>"; empty for a migration. RowsChanged
	// are the rows it changed; RowsCopied then counts the rows of the key
	// ranges it walked.
	Statement   string `json:"statement,omitempty"`
	RowsChanged int64  `json:"rows_changed,omitempty"`
	// Phase is the migration's phase by name: validate, copy, cut-over...
	Phase string `json:"phase"`

	// RowsCopied are the rows this run copied; RowsCopiedBefore those
	// the earlier runs of a resumed migration copied (0 for a new one).
	// Percent counts both, RowsPerSecond this run's alone.
	RowsCopied       int64 `json:"rows_copied"`
	RowsCopiedBefore int64 `json:"rows_copied_before"`
	// RowsTotal is an estimate (InnoDB statistics) until the copy is done.
	RowsTotal     int64   `json:"rows_total"`
	Percent       float64 `json:"percent"`
	RowsPerSecond float64 `json:"rows_per_second"`
	// ETA is the expected time left to copy; negative when unknown (and
	// while paused).
	ETA     Duration `json:"eta_seconds"`
	Elapsed Duration `json:"elapsed_seconds"`
	// PhasePercent and PhaseETA (negative when unknown) are the current
	// phase's own progress, and PhaseProgress says what they count ("12
	// of ~40 chunks checked, ..."): the copy's percent and ETA during the
	// copy, the checksum's and the index build's during those phases.
	PhasePercent  float64  `json:"phase_percent"`
	PhaseETA      Duration `json:"phase_eta_seconds"`
	PhaseProgress string   `json:"phase_progress"`

	EventsApplied int64 `json:"events_applied"`
	// Backlog is row changes read from the binary log and not yet applied.
	Backlog int64 `json:"backlog"`
	// BinlogRead is the binary log position ("file:offset") read up to,
	// and BinlogApplied the one before which every change to the table
	// is applied; empty while no change stream runs.
	BinlogRead    string `json:"binlog_read"`
	BinlogApplied string `json:"binlog_applied"`
	// ApplierLag is how far the applied changes are behind the server: the
	// time since the oldest change not yet applied was committed, or when
	// none waits, since the time the binary log has been read up to.
	// Negative (null) when unknown.
	ApplierLag Duration `json:"applier_lag_seconds"`
	// HeartbeatLag is the time since the throttler last wrote its
	// heartbeat to the primary; the replicas' lag is measured against it.
	// Negative (null) before the first beat.
	HeartbeatLag Duration `json:"heartbeat_lag_seconds"`
	// CommitLatency is how long the application's small transactions take
	// to commit now: the 90th percentile of the heartbeat writes of the
	// last 2 s, each a one-row autocommit write on the primary. Negative
	// (null) while no beat was written lately.
	CommitLatency Duration `json:"commit_latency_seconds"`
	// CopyWorkers is how many chunks the copy copies at once now, of
	// CopyThreads: fewer while CommitLatency is above
	// MaxCommitLatencyMillis. CopyResting is set when the one worker also
	// rests between chunks, as long as each took. All zero outside the
	// copy.
	CopyWorkers int64 `json:"copy_workers"`
	CopyThreads int64 `json:"copy_threads"`
	CopyResting bool  `json:"copy_resting"`
	// ChecksumWorkers, ChecksumThreads and ChecksumResting are the same
	// for the checksum's sessions, which give way alike; all zero outside
	// the checksum.
	ChecksumWorkers int64 `json:"checksum_workers"`
	ChecksumThreads int64 `json:"checksum_threads"`
	ChecksumResting bool  `json:"checksum_resting"`
	// NoOtherWrites is set, during the copy or the checksum, while the
	// binary log has shown no row of another session for the latency's
	// window (2 s): the copy and the checksum then do not give way, since
	// there are no commits of the application to protect.
	NoOtherWrites bool `json:"no_other_writes"`

	Replicas []ReplicaLag `json:"replicas"`
	// Throttled is true while the copy is held back; ThrottleReasons says
	// by what ("paused by operator", "replica r1 lag 3.2s > 1.5s", ...).
	Throttled       bool     `json:"throttled"`
	ThrottleReasons []string `json:"throttle_reasons"`
	Paused          bool     `json:"paused"`

	ChunkSize    int64 `json:"chunk_size"`
	MaxLagMillis int64 `json:"max_lag_millis"`
	// MaxCommitLatencyMillis is the commit latency above which the copy
	// gives way (--max-commit-latency); 0 for no limit.
	MaxCommitLatencyMillis int64  `json:"max_commit_latency_millis"`
	MaxLoad                string `json:"max_load"`
	// CutOverPostponed is true while the copy is done and the swap waits
	// for the cut-over command.
	CutOverPostponed bool `json:"cut_over_postponed"`
	// CutOverHeldUp is how long the cut-over has been held up: by
	// sessions holding the table or its shadow, or by a lock it could not
	// get; 0 while it is not.
	CutOverHeldUp Duration `json:"cut_over_held_up_seconds"`
	// CutOverBlockers are the sessions holding the cut-over up, as last
	// seen; empty while none is.
	CutOverBlockers []Blocker `json:"cut_over_blockers"`
	// CutOverAttempt is the number of the cut-over attempt under way or
	// last made (0 before the cut-over), and CutOverAttempts how many are
	// allowed (0 for no limit).
	CutOverAttempt  int64 `json:"cut_over_attempt"`
	CutOverAttempts int64 `json:"cut_over_attempts"`
}

// Blocker is a session that holds the cut-over up.
type Blocker struct {
	// ID is the connection id, as KILL takes it.
	ID int64 `json:"id"`
	// User and Host are its account; empty when tailor cannot see it.
	User string `json:"user"`
	Host string `json:"host"`
	// Age is the longest of how long its transaction has been open and
	// how long it has been in its current state.
	Age Duration `json:"age_seconds"`
	// State is its processlist command and state ("Sleep", "Query:
	// Sending data").
	State string `json:"state"`
	// Lock says which lock it holds or waits for, as far as known.
	Lock string `json:"lock"`
	// Query is the statement it runs (or last ran), shortened.
	Query string `json:"query"`
}

// ReplicaLag is the last measured lag of one replica.
type ReplicaLag struct {
	Name string `json:"name"`
	// Lag is negative when it could not be measured (replication stopped).
	Lag Duration `json:"lag_seconds"`
}

// Duration is a time.Duration that JSON encodes as seconds, the unit
// dashboards and jq users expect. A negative Duration means unknown and
// encodes as null; null decodes as -1ns.
type Duration time.Duration

// MarshalJSON encodes d as seconds, or null when negative.
func (d Duration) MarshalJSON() ([]byte, error) {
	if d < 0 {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, time.Duration(d).Seconds(), 'f', -1, 64), nil
}

// UnmarshalJSON decodes seconds, or null as unknown.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = -1
		return nil
	}
	secs, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration in seconds: %w", err)
	}
	*d = Duration(math.Round(secs * float64(time.Second)))
	return nil
}

// String formats d as time.Duration does, or "unknown" when negative.
func (d Duration) String() string {
	if d < 0 {
		return "unknown"
	}
	return time.Duration(d).String()
}

// sanitized returns s with the floats JSON cannot carry (NaN, ±Inf, from a
// division by a zero elapsed time, say) set to 0, so that a handler's
// arithmetic slip does not turn into a failed status reply, and with nil
// lists made empty, so that JSON readers always find an array.
func (s Status) sanitized() Status {
	for _, f := range []*float64{&s.Percent, &s.RowsPerSecond, &s.PhasePercent} {
		if math.IsNaN(*f) || math.IsInf(*f, 0) {
			*f = 0
		}
	}
	if s.Replicas == nil {
		s.Replicas = []ReplicaLag{}
	}
	if s.ThrottleReasons == nil {
		s.ThrottleReasons = []string{}
	}
	if s.CutOverBlockers == nil {
		s.CutOverBlockers = []Blocker{}
	}
	return s
}

// encodeJSON writes s as JSON, without the HTML escaping that would turn
// "lag 1.2s > 1s" into "\u003e" for people reading it in a terminal.
func (s Status) encodeJSON(w io.Writer, indent bool) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(s.sanitized()); err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	return nil
}

// String is the human-readable status block the socket's status command
// replies, one fact per line.
func (s Status) String() string {
	s = s.sanitized()
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	if s.Statement != "" {
		line("backfill: %s.%s", s.Database, s.Table)
		line("statement: %s", oneLine(s.Statement))
	} else {
		line("migration: %s.%s", s.Database, s.Table)
	}
	if s.Alter != "" {
		line("alter: %s", oneLine(s.Alter))
	}
	line("phase: %s", s.Phase)
	eta := round(s.ETA)
	if s.Paused && s.ETA < 0 {
		eta = "paused"
	}
	if s.Statement != "" {
		line("walked: %d of ~%d rows (%.1f%%), %d changed, %.0f rows/s, eta %s",
			s.RowsCopied+s.RowsCopiedBefore, s.RowsTotal, s.Percent, s.RowsChanged, s.RowsPerSecond, eta)
	} else if s.RowsCopiedBefore > 0 {
		line("copied: %d of ~%d rows (%.1f%%), %d in this run plus %d before the resume, %.0f rows/s, eta %s",
			s.RowsCopied+s.RowsCopiedBefore, s.RowsTotal, s.Percent, s.RowsCopied, s.RowsCopiedBefore, s.RowsPerSecond, eta)
	} else {
		line("copied: %d of ~%d rows (%.1f%%), %.0f rows/s, eta %s",
			s.RowsCopied, s.RowsTotal, s.Percent, s.RowsPerSecond, eta)
	}
	switch {
	case s.PhaseProgress == "":
	case s.PhasePercent <= 0 && s.PhaseETA < 0:
		line("%s: %s", s.Phase, s.PhaseProgress)
	default:
		line("%s: %s (%.1f%%), eta %s", s.Phase, s.PhaseProgress, s.PhasePercent, round(s.PhaseETA))
	}
	if s.Statement == "" {
		binlog := fmt.Sprintf("binlog: %d events applied, backlog %d", s.EventsApplied, s.Backlog)
		if s.BinlogRead != "" {
			binlog += fmt.Sprintf(", read up to %s, applied up to %s", s.BinlogRead, s.BinlogApplied)
		}
		if s.ApplierLag >= 0 {
			binlog += ", applier lag " + round(s.ApplierLag)
		}
		line("%s", binlog)
	}
	if len(s.Replicas) > 0 {
		lags := make([]string, len(s.Replicas))
		for i, r := range s.Replicas {
			lags[i] = r.Name + " " + round(r.Lag)
		}
		hb := ""
		if s.HeartbeatLag >= 0 {
			hb = " (heartbeat written " + round(s.HeartbeatLag) + " ago)"
		}
		line("replica lag: %s%s", strings.Join(lags, ", "), hb)
	}
	if s.CommitLatency > 0 || s.CopyThreads > 0 || s.ChecksumThreads > 0 {
		line("%s", s.commitLatencyLine())
	}
	switch {
	case s.Throttled && len(s.ThrottleReasons) > 0:
		line("throttled: yes (%s)", strings.Join(s.ThrottleReasons, "; "))
	case s.Throttled:
		line("throttled: yes")
	default:
		line("throttled: no")
	}
	if s.Paused {
		line("paused: yes (send resume to continue)")
	}
	maxLoad := s.MaxLoad
	if maxLoad == "" {
		maxLoad = "none"
	}
	line("settings: chunk-size=%d max-lag-millis=%d max-load=%s", s.ChunkSize, s.MaxLagMillis, maxLoad)
	if s.CutOverPostponed {
		line("cut-over: postponed (send cut-over to proceed)")
	}
	switch {
	case s.CutOverAttempt <= 0:
	case s.CutOverAttempts > 0:
		line("cut-over: attempt %d of %d", s.CutOverAttempt, s.CutOverAttempts)
	default:
		line("cut-over: attempt %d (no limit)", s.CutOverAttempt)
	}
	switch n := len(s.CutOverBlockers); {
	case s.CutOverHeldUp <= 0:
	case n == 0:
		line("cut-over: held up for %s (no blocking session visible)", round(s.CutOverHeldUp))
	case n == 1:
		line("cut-over: held up for %s by 1 session", round(s.CutOverHeldUp))
	default:
		line("cut-over: held up for %s by %d sessions", round(s.CutOverHeldUp), n)
	}
	for _, b := range s.CutOverBlockers {
		line("blocker: %s", b)
	}
	line("elapsed: %s", round(s.Elapsed))
	return b.String()
}

// commitLatencyLine says how long commits take, against the budget, and
// how many chunks the copy copies at once because of it:
// "commit latency: 31.2ms > 25ms, copying 1 chunk at a time of 4".
func (s Status) commitLatencyLine() string {
	out := "commit latency: unknown"
	if s.CommitLatency >= 0 {
		out = "commit latency: " + time.Duration(s.CommitLatency).Round(100*time.Microsecond).String()
	}
	if s.MaxCommitLatencyMillis > 0 {
		budget := (time.Duration(s.MaxCommitLatencyMillis) * time.Millisecond).String()
		switch {
		case s.CommitLatency < 0:
			out += " (max " + budget + ")"
		case time.Duration(s.CommitLatency) > time.Duration(s.MaxCommitLatencyMillis)*time.Millisecond:
			out += " > " + budget
		default:
			out += " <= " + budget
		}
		if s.NoOtherWrites && s.CopyThreads+s.ChecksumThreads > 0 {
			out += " (no other session writes: not giving way)"
		}
	}
	if s.CopyThreads > 0 {
		out += gatedWork("copying", "chunk", "chunks", s.CopyWorkers, s.CopyThreads, s.CopyResting)
	}
	if s.ChecksumThreads > 0 {
		out += gatedWork("checking", "range", "ranges", s.ChecksumWorkers, s.ChecksumThreads, s.ChecksumResting)
	}
	return out
}

// gatedWork describes how much of its work at once the commit latency lets
// the copy or the checksum do: ", copying 2 chunks at a time of 4".
func gatedWork(verb, one, many string, workers, threads int64, resting bool) string {
	switch {
	case resting:
		return fmt.Sprintf(", %s 1 %s at a time of %d, resting between %s", verb, one, threads, many)
	case workers == 1:
		return fmt.Sprintf(", %s 1 %s at a time of %d", verb, one, threads)
	default:
		return fmt.Sprintf(", %s %d %s at a time of %d", verb, workers, many, threads)
	}
}

// round shows a duration to the tenth of a second: enough for lag and ETA.
func round(d Duration) string {
	if d < 0 {
		return "unknown"
	}
	return time.Duration(d).Round(100 * time.Millisecond).String()
}

// oneLine folds an ALTER written over several lines onto one, so the
// status stays one fact per line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// String describes the session on one line: "session 42 (app@10.0.0.7,
// 31s; Sleep; holds SHARED_READ on `shop`.`orders`): SELECT ...".
func (b Blocker) String() string {
	who := "?"
	if b.User != "" {
		who = b.User + "@" + b.Host
	}
	parts := []string{who, time.Duration(b.Age).Round(time.Second).String()}
	for _, p := range []string{b.State, b.Lock} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	out := fmt.Sprintf("session %d (%s)", b.ID, strings.Join(parts, "; "))
	if b.Query != "" {
		out += ": " + oneLine(b.Query)
	}
	return out
}
