package main

// --sweep measures tailor's applier against the load's rate. It first finds
// the highest rate the load alone sustains on this server (the load with
// no pacing, for --baseline), then, at each of --sweep-percent of that
// rate, runs the load alone (for its own latencies at that rate) and tailor
// under it. The applier must apply the changes at least as fast as the load
// makes them while the copy competes for the same server, or its backlog
// grows and the migration never reaches its cut-over: each tailor run is
// bounded by --sweep-timeout and reported as a timeout when it did not
// finish.

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// kindCapacity is the sweep's first run: the load alone, unpaced.
const kindCapacity = "capacity"

// sweepMaxRate is the load's rate for kindCapacity: far above what any
// writer can reach, so the writers run back to back.
const sweepMaxRate = 10_000_000

// SweepSetup is the sweep's setting and what it found.
type SweepSetup struct {
	Percents   []int   `json:"percents"`
	TimeoutSec float64 `json:"timeout_seconds"`
	// CapacityTPS is the rate the load alone reached unpaced, over
	// Writers sessions: the 100% of the sweep.
	CapacityTPS float64 `json:"capacity_tps"`
	// Rates are the load rates the sweep ran at, one per percent.
	Rates []int `json:"rates"`
}

// parsePercents reads --sweep-percent: integers from 1 to 100.
func parsePercents(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(f, "%"))
		if err != nil || n < 1 || n > 100 {
			return nil, fmt.Errorf("--sweep-percent: %q is not a percentage from 1 to 100", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--sweep-percent names no percentage")
	}
	return out, nil
}

// sweepRate is pct percent of capacity, at least 1 transaction/s.
func sweepRate(capacity float64, pct int) int {
	return max(int(capacity*float64(pct)/100), 1)
}

// tailorTimeout bounds a tailor run: only the sweep's are.
func (b *bench) tailorTimeout() time.Duration {
	if b.opts.sweep {
		return b.opts.sweepTimeout
	}
	return 0
}

// runSweep makes the sweep's runs into rep.
func (b *bench) runSweep(ctx context.Context, rep *Report, progress func(string, ...any)) error {
	sw := &SweepSetup{Percents: b.opts.sweepPercents, TimeoutSec: b.opts.sweepTimeout.Seconds()}
	rep.Sweep = sw
	total := 1 + 2*len(sw.Percents)*b.opts.repeat
	n := 1
	capRun, err := b.runOne(ctx, kindCapacity, true, 1, sweepMaxRate)
	if err != nil {
		return err
	}
	rep.Runs = append(rep.Runs, capRun)
	sw.CapacityTPS = capRun.LoadTPS
	progress("    [%d/%d] %-16s %s: the load alone reached %.0f transactions/s over %d writers", n, total, kindCapacity, summary(capRun), sw.CapacityTPS, b.opts.writers)
	if sw.CapacityTPS < 1 {
		return fmt.Errorf("the load alone reached %.1f transactions/s: nothing to sweep", sw.CapacityTPS)
	}
	for _, pct := range sw.Percents {
		sw.Rates = append(sw.Rates, sweepRate(sw.CapacityTPS, pct))
	}
	for r := 1; r <= b.opts.repeat; r++ {
		for i, rate := range sw.Rates {
			for _, kind := range []string{kindBaseline, kindTailor} {
				n++
				one, err := b.runOne(ctx, kind, true, r, rate)
				if err != nil {
					return err
				}
				one.LoadRate = rate
				rep.Runs = append(rep.Runs, one)
				progress("    [%d/%d] %-16s %d%% %s", n, total, kind, sw.Percents[i], summary(one))
			}
		}
	}
	if err := dropRunTables(ctx, b.db); err != nil {
		return err
	}
	rep.Notes = append(rep.Notes, sweepNotes(b.opts)...)
	if b.opts.replica {
		rep.Notes = append(rep.Notes, replicaNote())
	}
	return nil
}

// printSweepReport prints the sweep's header and its runs.
func printSweepReport(w io.Writer, rep *Report) {
	sw := rep.Sweep
	fmt.Fprintf(w, "\ntailor-bench --sweep: %s, %d rows, ALTER TABLE sbtest1 %s\n", rep.Server, rep.Rows, rep.Alter)
	printSettings(w, rep)
	fmt.Fprintf(w, "load alone, unpaced, over %d writers: %.0f transactions/s; swept at %s; tailor runs bounded by %s\n\n",
		rep.Writers, sw.CapacityTPS, percentsLabel(sw), time.Duration(sw.TimeoutSec*float64(time.Second)))
	withReplica := hasReplicaLag(rep.Runs)
	fmt.Fprint(w, formatTable(sweepHeader(withReplica), sweepRows(rep.Runs, sw.CapacityTPS, withReplica)))
	fmt.Fprintln(w)
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "- "+n)
	}
}

// percentsLabel is "50% (1200/s), 80% (1920/s)".
func percentsLabel(sw *SweepSetup) string {
	var parts []string
	for i, p := range sw.Percents {
		if i < len(sw.Rates) {
			parts = append(parts, fmt.Sprintf("%d%% (%d/s)", p, sw.Rates[i]))
		}
	}
	return strings.Join(parts, ", ")
}

// sweepHeader is the header of the sweep's table.
func sweepHeader(withReplica bool) []string {
	h := []string{"run", "rate", "of max", "rep", "wall", "finished", "events", "events/s", "backlog peak", "applier lag peak", "p50", "p99", "x alone", "max (stall)", "tps", "errors", "equal"}
	if withReplica {
		h = append(h, "replica lag")
	}
	return append(h, "note")
}

// sweepRows renders the sweep's runs; x alone is a tailor run's p99 over
// the load alone's at the same rate and repetition.
func sweepRows(runs []Run, capacity float64, withReplica bool) [][]string {
	alone := map[[2]int]float64{}
	for _, r := range runs {
		if r.Kind == kindBaseline && r.Status == statusOK {
			alone[[2]int{r.LoadRate, r.Repeat}] = r.LoadP99Ms
		}
	}
	var rows [][]string
	for _, r := range runs {
		rateCell, ofMax := rateLabel(r.LoadRate), "-"
		if r.Kind == kindCapacity {
			ofMax = "100%"
			rateCell = "unpaced"
		} else if capacity > 0 && r.LoadRate > 0 {
			ofMax = fmt.Sprintf("%.0f%%", 100*float64(r.LoadRate)/capacity)
		}
		row := []string{r.Kind, rateCell, ofMax, fmt.Sprint(r.Repeat), seconds(r.WallSeconds)}
		switch {
		case r.Kind != kindTailor:
			row = append(row, "-")
		case r.Status == statusOK:
			row = append(row, "yes")
		default:
			row = append(row, "NO: "+r.Status)
		}
		if a := r.Applier; a != nil {
			row = append(row, fmt.Sprint(a.Events), fmt.Sprintf("%.0f", a.PerSecond), fmt.Sprint(a.BacklogPeak), msLabel(a.LagPeakMs))
		} else {
			row = append(row, "-", "-", "-", "-")
		}
		xAlone := "-"
		if a := alone[[2]int{r.LoadRate, r.Repeat}]; a > 0 && r.Kind == kindTailor && r.LoadTransactions > 0 {
			xAlone = ratio(r.LoadP99Ms / a)
		}
		if r.LoadTransactions > 0 {
			row = append(row, msLabel(r.LoadP50Ms), msLabel(r.LoadP99Ms), xAlone, msLabel(r.LoadMaxMs), fmt.Sprintf("%.0f", r.LoadTPS))
		} else {
			row = append(row, "-", "-", "-", "-", "0")
		}
		row = append(row, fmt.Sprint(r.LoadErrors), equalLabel(r.Equal))
		if withReplica {
			row = append(row, replicaLagLabel(r.ReplicaLag))
		}
		note := r.Note
		if r.Kind == kindTailor && r.Status == statusOK {
			note = fmt.Sprintf("cut-over %s", msLabel(r.CutOverLockMs))
		}
		rows = append(rows, append(row, note))
	}
	return rows
}

// rateLabel prints a load rate.
func rateLabel(rate int) string {
	switch {
	case rate == 0:
		return "-"
	case rate >= sweepMaxRate:
		return "unpaced"
	}
	return fmt.Sprintf("%d/s", rate)
}

// sweepNotes explain the sweep's columns.
func sweepNotes(o options) []string {
	return []string{
		fmt.Sprintf("capacity is the load alone with no pacing for %s: each of the %d writers starts its next transaction as soon as the last committed; its tps is the 100%% the rates are taken of. It is the highest rate of %d writers, not of the server: more writers may reach more.", o.baseline, o.writers, o.writers),
		"baseline is the load alone at the run's rate for " + o.baseline.String() + "; tailor is the migration under the same rate, and x alone its load p99 over the baseline's.",
		"events are the binary log events tailor's applier applied to the shadow; events/s is that over the time its change stream ran (from the first status with a stream to the last); backlog peak the most changes read and not yet applied, and applier lag peak the longest a change waited to be applied, both from tailor's status read every 2 ms.",
		fmt.Sprintf("finished says whether tailor cut over within --sweep-timeout (%s); a timeout means the run was stopped unfinished (its backlog and phases say whether the applier fell behind), and its table is compared all the same: it must be as it was.", o.sweepTimeout),
	}
}
