package control

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    Duration
		json string
	}{
		{0, "0"},
		{Duration(1500 * time.Millisecond), "1.5"},
		{Duration(17 * time.Second), "17"},
		{Duration(time.Microsecond), "0.000001"},
		{-1, "null"},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.d)
		if err != nil || string(b) != tt.json {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tt.d, b, err, tt.json)
		}
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || back != tt.d {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", b, back, err, tt.d)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"17s"`), &d); err == nil {
		t.Error("Unmarshal of a string succeeded")
	}
}

// TestStatusJSONSurvivesBadHandler checks that a handler's NaN and nil
// lists still give valid JSON with arrays.
func TestStatusJSONSurvivesBadHandler(t *testing.T) {
	t.Parallel()
	st := Status{Phase: "copy", Percent: math.NaN(), RowsPerSecond: math.Inf(1), ETA: -1,
		ThrottleReasons: []string{"lag 1.2s > 1s"}}
	var b strings.Builder
	if err := st.encodeJSON(&b, false); err != nil {
		t.Fatalf("encode: %v", err)
	}
	for _, want := range []string{`"percent":0`, `"rows_per_second":0`, `"eta_seconds":null`, `"replicas":[]`, `"lag 1.2s > 1s"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JSON lacks %s: %s", want, b.String())
		}
	}
	if text := st.String(); !strings.Contains(text, "(0.0%), 0 rows/s, eta unknown") {
		t.Errorf("text status:\n%s", text)
	}
}

// TestStatusNamesCutOverBlockers: a cut-over held up shows in both forms,
// one line per blocker in the text; one that is not shows nothing, and
// JSON readers still find an array.
func TestStatusNamesCutOverBlockers(t *testing.T) {
	t.Parallel()
	st := Status{Phase: "cut-over", CutOverHeldUp: Duration(42 * time.Second), CutOverBlockers: []Blocker{
		{ID: 1207, User: "app", Host: "10.0.0.7:51234", Age: Duration(312 * time.Second), State: "Sleep", Lock: "holds SHARED_READ on `shop`.`orders`"},
		{ID: 1300, User: "report", Host: "10.0.0.8:4000", Age: Duration(61 * time.Second), State: "Query: Sending data", Query: "SELECT *\n  FROM orders"},
	}}
	text := st.String()
	for _, want := range []string{
		"cut-over: held up for 42s by 2 sessions\n",
		"blocker: session 1207 (app@10.0.0.7:51234; 5m12s; Sleep; holds SHARED_READ on `shop`.`orders`)\n",
		"blocker: session 1300 (report@10.0.0.8:4000; 1m1s; Query: Sending data): SELECT * FROM orders\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text status lacks %q:\n%s", want, text)
		}
	}
	var b strings.Builder
	if err := st.encodeJSON(&b, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"cut_over_held_up_seconds":42`, `"cut_over_blockers":[{"id":1207,"user":"app","host":"10.0.0.7:51234","age_seconds":312,"state":"Sleep","lock":"holds SHARED_READ on ` + "`shop`.`orders`" + `","query":""}`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JSON lacks %s: %s", want, b.String())
		}
	}

	idle := Status{Phase: "copy"}
	if text := idle.String(); strings.Contains(text, "held up") || strings.Contains(text, "blocker") {
		t.Errorf("a cut-over not held up shows:\n%s", text)
	}
	b.Reset()
	if err := idle.encodeJSON(&b, false); err != nil || !strings.Contains(b.String(), `"cut_over_blockers":[]`) {
		t.Errorf("JSON of no blockers: %s, %v", b.String(), err)
	}
}

// TestStatusOfResumedRun: a resumed run's status says what this run copied
// and what the earlier runs did, in both forms; a new run's says nothing
// of a resume.
func TestStatusOfResumedRun(t *testing.T) {
	t.Parallel()
	st := Status{Phase: "copy", RowsCopied: 1000, RowsCopiedBefore: 2000, RowsTotal: 5000, Percent: 60, RowsPerSecond: 500, ETA: Duration(4 * time.Second)}
	want := "copied: 3000 of ~5000 rows (60.0%), 1000 in this run plus 2000 before the resume, 500 rows/s, eta 4s\n"
	if text := st.String(); !strings.Contains(text, want) {
		t.Errorf("text status lacks %q:\n%s", want, text)
	}
	var b strings.Builder
	if err := st.encodeJSON(&b, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"rows_copied":1000,"rows_copied_before":2000,`) {
		t.Errorf("JSON lacks the rows of both: %s", b.String())
	}

	st.RowsCopied, st.RowsCopiedBefore = 3000, 0
	if text := st.String(); strings.Contains(text, "resume") || !strings.Contains(text, "copied: 3000 of ~5000 rows (60.0%), 500 rows/s") {
		t.Errorf("a new run's status:\n%s", text)
	}
}

// TestStatusBinlogAndLag: the binary log positions, the applier's and the
// heartbeat's lag and the cut-over attempts show in both forms; unknown
// lags are null in JSON and left out of the text, and a status without a
// change stream keeps the short binlog line.
func TestStatusBinlogAndLag(t *testing.T) {
	t.Parallel()
	st := Status{Phase: "cut-over", EventsApplied: 7, Backlog: 0,
		BinlogRead: "bin.000002:500", BinlogApplied: "bin.000002:480",
		ApplierLag: Duration(250 * time.Millisecond), HeartbeatLag: Duration(2 * time.Second),
		Replicas:       []ReplicaLag{{Name: "r1", Lag: Duration(time.Second)}},
		CutOverAttempt: 3}
	text := st.String()
	for _, want := range []string{
		"binlog: 7 events applied, backlog 0, read up to bin.000002:500, applied up to bin.000002:480, applier lag 300ms\n",
		"replica lag: r1 1s (heartbeat written 2s ago)\n",
		"cut-over: attempt 3 (no limit)\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text status lacks %q:\n%s", want, text)
		}
	}
	var b strings.Builder
	if err := st.encodeJSON(&b, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"binlog_read":"bin.000002:500","binlog_applied":"bin.000002:480","applier_lag_seconds":0.25,"heartbeat_lag_seconds":2,`, `"cut_over_attempt":3,"cut_over_attempts":0`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JSON lacks %s: %s", want, b.String())
		}
	}

	none := Status{Phase: "copy", EventsApplied: 7, ApplierLag: -1, HeartbeatLag: -1}
	if text := none.String(); !strings.Contains(text, "binlog: 7 events applied, backlog 0\n") || strings.Contains(text, "attempt") {
		t.Errorf("status without a change stream:\n%s", text)
	}
	b.Reset()
	if err := none.encodeJSON(&b, false); err != nil || !strings.Contains(b.String(), `"applier_lag_seconds":null,"heartbeat_lag_seconds":null`) {
		t.Errorf("JSON of unknown lags: %s, %v", b.String(), err)
	}
}

// TestStatusPhaseProgress: the checksum's and the index build's own
// progress get a line of their own; a build the server reports nothing of
// shows no percentage; a paused copy's ETA says paused.
func TestStatusPhaseProgress(t *testing.T) {
	t.Parallel()
	st := Status{Phase: "checksum", Percent: 100, ETA: -1, PhasePercent: 33.3, PhaseETA: Duration(2 * time.Second), PhaseProgress: "10 of ~30 chunks checked, 10000 of ~30000 rows"}
	if text := st.String(); !strings.Contains(text, "checksum: 10 of ~30 chunks checked, 10000 of ~30000 rows (33.3%), eta 2s\n") {
		t.Errorf("checksum status:\n%s", text)
	}
	var b strings.Builder
	if err := st.encodeJSON(&b, false); err != nil || !strings.Contains(b.String(), `"phase_percent":33.3,"phase_eta_seconds":2,"phase_progress":"10 of ~30 chunks checked, 10000 of ~30000 rows"`) {
		t.Errorf("checksum JSON: %s, %v", b.String(), err)
	}
	st = Status{Phase: "build-indexes", ETA: -1, PhaseETA: -1, PhaseProgress: "building for 3s, the server reports no progress"}
	if text := st.String(); !strings.Contains(text, "build-indexes: building for 3s, the server reports no progress\n") {
		t.Errorf("index build status:\n%s", text)
	}
	st = Status{Phase: "copy", Percent: 40, ETA: -1, PhasePercent: 40, PhaseETA: -1, Paused: true}
	if text := st.String(); !strings.Contains(text, "(40.0%), 0 rows/s, eta paused\n") || strings.Contains(text, "copy: ") {
		t.Errorf("paused copy status:\n%s", text)
	}
}

// TestStatusCommitLatency: the commit latency against its budget, and how
// many chunks the copy copies at once because of it; nothing of it in the
// status of a run that measures none (a backfill).
func TestStatusCommitLatency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		st   Status
		want string
	}{
		{Status{CommitLatency: Duration(3210 * time.Microsecond), MaxCommitLatencyMillis: 25, CopyWorkers: 4, CopyThreads: 4},
			"commit latency: 3.2ms <= 25ms, copying 4 chunks at a time of 4\n"},
		{Status{CommitLatency: Duration(31 * time.Millisecond), MaxCommitLatencyMillis: 25, CopyWorkers: 1, CopyThreads: 4},
			"commit latency: 31ms > 25ms, copying 1 chunk at a time of 4\n"},
		{Status{CommitLatency: Duration(90 * time.Millisecond), MaxCommitLatencyMillis: 25, CopyWorkers: 1, CopyThreads: 2, CopyResting: true},
			"commit latency: 90ms > 25ms, copying 1 chunk at a time of 2, resting between chunks\n"},
		{Status{CommitLatency: -1, MaxCommitLatencyMillis: 25, CopyWorkers: 2, CopyThreads: 2},
			"commit latency: unknown (max 25ms), copying 2 chunks at a time of 2\n"},
		{Status{CommitLatency: Duration(40 * time.Millisecond), MaxCommitLatencyMillis: 25, ChecksumWorkers: 2, ChecksumThreads: 2, NoOtherWrites: true},
			"commit latency: 40ms > 25ms (no other session writes: not giving way), checking 2 ranges at a time of 2\n"},
		{Status{CommitLatency: Duration(2 * time.Millisecond)},
			"commit latency: 2ms\n"},
	}
	for _, tt := range tests {
		if text := tt.st.String(); !strings.Contains(text, tt.want) {
			t.Errorf("text status lacks %q:\n%s", tt.want, text)
		}
	}
	if text := (Status{Phase: "copy", CommitLatency: -1}).String(); strings.Contains(text, "commit latency") {
		t.Errorf("status without a copy or a measure names the commit latency:\n%s", text)
	}
	var b strings.Builder
	if err := tests[1].st.encodeJSON(&b, false); err != nil {
		t.Fatal(err)
	}
	if want := `"commit_latency_seconds":0.031,"copy_workers":1,"copy_threads":4,"copy_resting":false,`; !strings.Contains(b.String(), want) {
		t.Errorf("JSON lacks %s: %s", want, b.String())
	}
}
