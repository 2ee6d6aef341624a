package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/workload"
)

// Run statuses.
const (
	statusOK      = "ok"
	statusRefused = "refused"
	statusFailed  = "failed"
	// statusTimeout is a tailor run of the sweep that did not finish in
	// --sweep-timeout, and was stopped.
	statusTimeout = "timeout"
)

// Run is one measured run: one kind of migration (or the load alone) under
// one load condition.
type Run struct {
	Kind   string `json:"kind"`
	Load   bool   `json:"load"`
	Repeat int    `json:"repeat"`
	Status string `json:"status"`
	// Note says why a run was refused or failed, or what else it showed.
	Note        string  `json:"note,omitempty"`
	WallSeconds float64 `json:"wall_seconds"`
	RowsPerSec  float64 `json:"rows_per_second,omitempty"`
	// RatioToCopy is this run's wall time over native COPY's in the same
	// repetition and load condition: 2 means twice as long.
	RatioToCopy float64 `json:"ratio_to_native_copy,omitempty"`
	// LoadRate is the load's target rate of this run, transactions/s, when
	// it is not the report's (the sweep's runs); sweepMaxRate is no limit.
	LoadRate int `json:"load_rate,omitempty"`
	// The load during the run (only when Load is set): latencies of the
	// transactions that overlapped the run, and its failed transactions.
	LoadTransactions int64   `json:"load_transactions,omitempty"`
	LoadTPS          float64 `json:"load_tps,omitempty"`
	LoadP50Ms        float64 `json:"load_p50_ms,omitempty"`
	LoadP99Ms        float64 `json:"load_p99_ms,omitempty"`
	LoadMaxMs        float64 `json:"load_max_ms,omitempty"`
	LoadErrors       int64   `json:"load_errors"`
	LoadLastError    string  `json:"load_last_error,omitempty"`
	// RowLockWaits and RowLockWaitMs are the server's row lock waits
	// during the run, and their total time (see lockWaits).
	RowLockWaits  int64 `json:"row_lock_waits"`
	RowLockWaitMs int64 `json:"row_lock_wait_ms"`
	// Equal is whether the table equals its control table afterwards; nil
	// when it was not compared (the run failed or was refused).
	Equal *bool  `json:"equal_to_control,omitempty"`
	Diff  string `json:"diff,omitempty"`
	// PeakRSSBytes is the peak resident set of the migrating process:
	// pt-online-schema-change's own, or for tailor, which runs in-process,
	// the whole benchmark process (load generator included).
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
	// CutOverLockMs is how long tailor held writers at its cut-over.
	CutOverLockMs float64 `json:"cut_over_lock_ms,omitempty"`
	// Applier is what tailor's applier did (tailor runs only).
	Applier *ApplierStats `json:"applier,omitempty"`
	// ReplicaLag is the replica's lag during and after the run (--replica
	// only).
	ReplicaLag *ReplicaLag `json:"replica_lag,omitempty"`
	// Phases are tailor's phases, in order, with the load's latencies
	// during each (only when Load is set).
	Phases []PhaseSpan `json:"phases,omitempty"`
	// Backfill mode: NotBackfilled counts the rows whose new column does
	// not equal c afterwards (nil when not checked); RatioToLoop is the
	// wall time over the naive loop's in the same repetition, and
	// P99ToBaseline the load's p99 over its p99 alone.
	NotBackfilled *int64  `json:"rows_not_backfilled,omitempty"`
	RatioToLoop   float64 `json:"ratio_to_naive_loop,omitempty"`
	P99ToBaseline float64 `json:"p99_ratio_to_load_alone,omitempty"`
	// The time from one tailor backfill batch's end to the next's, as
	// seen by polling its status every 2 ms: median, p99, longest.
	BatchP50Ms float64 `json:"batch_p50_ms,omitempty"`
	BatchP99Ms float64 `json:"batch_p99_ms,omitempty"`
	BatchMaxMs float64 `json:"batch_max_ms,omitempty"`
}

// PhaseSpan is one phase of a tailor run.
type PhaseSpan struct {
	Phase            string  `json:"phase"`
	Seconds          float64 `json:"seconds"`
	LoadTransactions int64   `json:"load_transactions,omitempty"`
	LoadP99Ms        float64 `json:"load_p99_ms,omitempty"`
	LoadMaxMs        float64 `json:"load_max_ms,omitempty"`
	// CommitLatencyMaxMs is the highest commit latency that tailor's copy
	// gate read during the phase (the p90 of its heartbeat's commits over
	// the last 2 s); 0 when unknown.
	CommitLatencyMaxMs float64   `json:"commit_latency_max_ms,omitempty"`
	start, end         time.Time // of the phase
}

// Median is the median of the repetitions of one kind and load condition.
type Median struct {
	Kind        string  `json:"kind"`
	Load        bool    `json:"load"`
	Runs        int     `json:"runs"`
	Status      string  `json:"status"`
	WallSeconds float64 `json:"wall_seconds"`
	RowsPerSec  float64 `json:"rows_per_second,omitempty"`
	RatioToCopy float64 `json:"ratio_to_native_copy,omitempty"`
	LoadP50Ms   float64 `json:"load_p50_ms,omitempty"`
	LoadP99Ms   float64 `json:"load_p99_ms,omitempty"`
	LoadMaxMs   float64 `json:"load_max_ms,omitempty"`
	LoadErrors  int64   `json:"load_errors"`
	// Equal counts the runs whose table equalled the control.
	Equal        int   `json:"equal_runs"`
	Compared     int   `json:"compared_runs"`
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
	// ReplicaLagMs is the median of the runs' peak replica lags (--replica).
	ReplicaLagMs *float64 `json:"replica_lag_peak_ms,omitempty"`
	// Backfill mode: the runs whose every row had its new column
	// filled, of those checked, and the ratios of Run, of the medians.
	Backfilled      int     `json:"backfilled_runs,omitempty"`
	BackfillChecked int     `json:"backfill_checked_runs,omitempty"`
	RatioToLoop     float64 `json:"ratio_to_naive_loop,omitempty"`
	P99ToBaseline   float64 `json:"p99_ratio_to_load_alone,omitempty"`
}

// median returns the median of xs, the mean of the middle two for an even
// count, and 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile returns the p-th percentile (0-100) of ds by nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration { return workload.Percentile(ds, p) }

// setRatios fills each run's RatioToCopy from the native COPY run of the
// same repetition and load condition.
func setRatios(runs []Run) {
	copyWall := map[[2]int]float64{}
	for _, r := range runs {
		if r.Kind == kindNativeCopy && r.Status == statusOK {
			copyWall[key(r.Repeat, r.Load)] = r.WallSeconds
		}
	}
	for i := range runs {
		r := &runs[i]
		if c := copyWall[key(r.Repeat, r.Load)]; c > 0 && r.Status == statusOK && r.Kind != kindBaseline {
			r.RatioToCopy = r.WallSeconds / c
		}
	}
}

func key(repeat int, load bool) [2]int {
	if load {
		return [2]int{repeat, 1}
	}
	return [2]int{repeat, 0}
}

// medians groups runs by kind and load condition, in the order they first
// appear, and takes the median of each figure over the successful runs.
func medians(runs []Run) []Median {
	type group struct {
		kind string
		load bool
	}
	var order []group
	byGroup := map[group][]Run{}
	for _, r := range runs {
		g := group{r.Kind, r.Load}
		if _, ok := byGroup[g]; !ok {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], r)
	}
	var out []Median
	for _, g := range order {
		rs := byGroup[g]
		m := Median{Kind: g.kind, Load: g.load, Runs: len(rs)}
		var wall, rate, p50, p99, mx, rss, lag []float64
		statuses := map[string]int{}
		for _, r := range rs {
			statuses[r.Status]++
			m.LoadErrors += r.LoadErrors
			if r.Equal != nil {
				m.Compared++
				if *r.Equal {
					m.Equal++
				}
			}
			if r.NotBackfilled != nil {
				m.BackfillChecked++
				if *r.NotBackfilled == 0 {
					m.Backfilled++
				}
			}
			if r.ReplicaLag != nil {
				lag = append(lag, r.ReplicaLag.PeakMs)
			}
			if r.Status != statusOK {
				continue
			}
			wall = append(wall, r.WallSeconds)
			rate = append(rate, r.RowsPerSec)
			p50 = append(p50, r.LoadP50Ms)
			p99 = append(p99, r.LoadP99Ms)
			mx = append(mx, r.LoadMaxMs)
			if r.PeakRSSBytes > 0 {
				rss = append(rss, float64(r.PeakRSSBytes))
			}
		}
		switch {
		case statuses[statusOK] == len(rs):
			m.Status = statusOK
		case statuses[statusOK] > 0:
			m.Status = fmt.Sprintf("%d of %d ok", statuses[statusOK], len(rs))
		case statuses[statusRefused] == len(rs):
			m.Status = statusRefused
		default:
			m.Status = statusFailed
		}
		m.WallSeconds, m.RowsPerSec = median(wall), median(rate)
		m.LoadP50Ms, m.LoadP99Ms, m.LoadMaxMs = median(p50), median(p99), median(mx)
		m.PeakRSSBytes = int64(median(rss))
		if len(lag) > 0 {
			l := median(lag)
			m.ReplicaLagMs = &l
		}
		out = append(out, m)
	}
	copyWall := map[bool]float64{}
	for _, m := range out {
		if m.Kind == kindNativeCopy && m.WallSeconds > 0 {
			copyWall[m.Load] = m.WallSeconds
		}
	}
	for i := range out {
		if c := copyWall[out[i].Load]; c > 0 && out[i].WallSeconds > 0 && out[i].Kind != kindBaseline {
			out[i].RatioToCopy = out[i].WallSeconds / c
		}
	}
	return out
}

// formatTable lays rows out in left-aligned columns under header, with a
// rule under the header.
func formatTable(header []string, rows [][]string) string {
	widths := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, cell := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], len([]rune(cell)))
			}
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		var parts []string
		for i := range widths {
			cell := ""
			if i < len(cells) {
				cell = cells[i]
			}
			parts = append(parts, cell+strings.Repeat(" ", widths[i]-len([]rune(cell))))
		}
		b.WriteString(strings.TrimRight(strings.Join(parts, "  "), " ") + "\n")
	}
	line(header)
	rule := make([]string, len(widths))
	for i, w := range widths {
		rule[i] = strings.Repeat("-", w)
	}
	line(rule)
	for _, r := range rows {
		line(r)
	}
	return b.String()
}

// runHeader is the header of the per-run table; withReplica adds the
// replica's peak lag before the note.
func runHeader(withReplica bool) []string {
	h := []string{"run", "load", "rep", "wall", "rows/s", "x COPY", "p50", "p99", "max (stall)", "tps", "errors", "equal", "peak RSS"}
	if withReplica {
		h = append(h, "replica lag")
	}
	return append(h, "note")
}

// hasReplicaLag says whether any run measured a replica's lag.
func hasReplicaLag(runs []Run) bool {
	for _, r := range runs {
		if r.ReplicaLag != nil {
			return true
		}
	}
	return false
}

// runRows renders runs for formatTable, with the replica lag column when
// withReplica is set.
func runRows(runs []Run, withReplica bool) [][]string {
	var rows [][]string
	for _, r := range runs {
		row := []string{r.Kind, loadLabel(r.Load), fmt.Sprint(r.Repeat)}
		lag := []string{}
		if withReplica {
			lag = []string{replicaLagLabel(r.ReplicaLag)}
		}
		if r.Status != statusOK {
			row = append(row, "-", "-", "-", "-", "-", "-", "-", fmt.Sprint(r.LoadErrors), "-", "-")
			row = append(append(row, lag...), r.Status+": "+r.Note)
			rows = append(rows, row)
			continue
		}
		row = append(row, seconds(r.WallSeconds), rate(r.RowsPerSec), ratio(r.RatioToCopy))
		if r.Load && r.LoadTransactions == 0 {
			// The run was shorter than the gap between two writes.
			row = append(row, "-", "-", "-", "0", fmt.Sprint(r.LoadErrors))
		} else if r.Load {
			row = append(row, ms(r.LoadP50Ms), ms(r.LoadP99Ms), ms(r.LoadMaxMs), fmt.Sprintf("%.0f", r.LoadTPS), fmt.Sprint(r.LoadErrors))
		} else {
			row = append(row, "-", "-", "-", "-", "-")
		}
		row = append(row, equalLabel(r.Equal), bytesLabel(r.PeakRSSBytes))
		row = append(append(row, lag...), r.Note)
		rows = append(rows, row)
	}
	return rows
}

// medianHeader is the header of the medians table; withReplica adds the
// median of the replica's peak lags.
func medianHeader(withReplica bool) []string {
	h := []string{"run", "load", "runs", "wall", "rows/s", "x COPY", "p50", "p99", "max (stall)", "errors", "equal", "peak RSS"}
	if withReplica {
		h = append(h, "replica lag")
	}
	return h
}

// medianRows renders medians for formatTable.
func medianRows(ms []Median, withReplica bool) [][]string {
	var rows [][]string
	for _, m := range ms {
		row := []string{m.Kind, loadLabel(m.Load), fmt.Sprint(m.Runs)}
		lag := []string{}
		if withReplica {
			lag = append(lag, "-")
			if m.ReplicaLagMs != nil {
				lag[0] = msLabel(*m.ReplicaLagMs)
			}
		}
		if m.WallSeconds == 0 {
			row = append(row, "-", "-", "-", "-", "-", "-", fmt.Sprint(m.LoadErrors), "-", m.Status)
			rows = append(rows, append(row, lag...))
			continue
		}
		row = append(row, seconds(m.WallSeconds), rate(m.RowsPerSec), ratio(m.RatioToCopy))
		if m.Load {
			row = append(row, msLabel(m.LoadP50Ms), msLabel(m.LoadP99Ms), msLabel(m.LoadMaxMs), fmt.Sprint(m.LoadErrors))
		} else {
			row = append(row, "-", "-", "-", "-")
		}
		eq := "-"
		if m.Compared > 0 {
			eq = fmt.Sprintf("%d/%d", m.Equal, m.Compared)
		}
		row = append(row, eq, bytesLabel(m.PeakRSSBytes))
		rows = append(rows, append(row, lag...))
	}
	return rows
}

func loadLabel(load bool) string {
	if load {
		return "load"
	}
	return "idle"
}

func seconds(s float64) string { return fmt.Sprintf("%.2fs", s) }

func rate(r float64) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", r)
}

func ratio(r float64) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r)
}

func ms(v float64) string { return msLabel(v) }

// msLabel prints milliseconds with a precision that suits their size.
func msLabel(v float64) string {
	switch {
	case v >= 10_000:
		return fmt.Sprintf("%.1fs", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	default:
		return fmt.Sprintf("%.1fms", v)
	}
}

func equalLabel(e *bool) string {
	switch {
	case e == nil:
		return "-"
	case *e:
		return "yes"
	}
	return "NO"
}

func bytesLabel(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}
