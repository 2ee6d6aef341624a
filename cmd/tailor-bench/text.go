package main

// The text output of alter mode: the progress line of a run, the report,
// its settings and its notes.

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// summary is one run on one line, for the progress output.
func summary(r Run) string {
	if r.Status != statusOK && r.Status != statusTimeout {
		return r.Status + ": " + r.Note
	}
	s := seconds(r.WallSeconds)
	if r.LoadRate > 0 {
		s += fmt.Sprintf(", load rate %s", rateLabel(r.LoadRate))
	}
	if r.Load {
		s += fmt.Sprintf(", load p99 %s max %s errors %d", msLabel(r.LoadP99Ms), msLabel(r.LoadMaxMs), r.LoadErrors)
		if r.LoadErrors > 0 {
			s += " (last: " + oneLine(r.LoadLastError) + ")"
		}
		s += fmt.Sprintf(", row lock waits %d (%d ms)", r.RowLockWaits, r.RowLockWaitMs)
	}
	s += ", equal to control: " + equalLabel(r.Equal)
	if r.ReplicaLag != nil {
		s += ", replica lag peak " + replicaLagLabel(r.ReplicaLag)
		if r.ReplicaLag.CaughtUpMs >= 0 {
			s += fmt.Sprintf(", caught up %s after the end", msLabel(r.ReplicaLag.CaughtUpMs))
		}
		if r.ReplicaLag.Error != "" {
			s += " (" + r.ReplicaLag.Error + ")"
		}
	}
	if r.Applier != nil {
		s += ", " + applierNote(r.Applier)
	}
	if r.NotBackfilled != nil {
		s += fmt.Sprintf(", rows without %s = c: %d", backfillColumn, *r.NotBackfilled)
	}
	var phases []string
	for _, ph := range r.Phases {
		p := fmt.Sprintf("%s %s", ph.Phase, seconds(ph.Seconds))
		var notes []string
		if r.Load && ph.LoadTransactions > 0 {
			notes = append(notes, fmt.Sprintf("p99 %s, max %s", msLabel(ph.LoadP99Ms), msLabel(ph.LoadMaxMs)))
		}
		if ph.CommitLatencyMaxMs > 0 {
			notes = append(notes, "commit latency up to "+msLabel(ph.CommitLatencyMaxMs))
		}
		if len(notes) > 0 {
			p += " (" + strings.Join(notes, ", ") + ")"
		}
		phases = append(phases, p)
	}
	if len(phases) > 0 {
		s += "\n          phases: " + strings.Join(phases, ", ")
	}
	return s
}

// printReport prints the per-run table, the medians and the notes.
func printReport(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "\ntailor-bench: %s, %d rows, ALTER TABLE sbtest1 %s\n", rep.Server, rep.Rows, rep.Alter)
	printSettings(w, rep)
	fmt.Fprintf(w, "load: %d transactions/s over %d writers (inserts, updates, deletes, each also written to the control table); pt-osc: %s\n\n",
		rep.Rate, rep.Writers, rep.PtOSC)
	withReplica := hasReplicaLag(rep.Runs)
	fmt.Fprint(w, formatTable(runHeader(withReplica), runRows(rep.Runs, withReplica)))
	if rep.Repeat > 1 {
		fmt.Fprintf(w, "\nmedians over %d repetitions\n\n", rep.Repeat)
		fmt.Fprint(w, formatTable(medianHeader(withReplica), medianRows(rep.Medians, withReplica)))
	}
	fmt.Fprintln(w)
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "- "+n)
	}
}

// printSettings prints the server's settings, the replica's, and tailor's
// --max-commit-latency.
func printSettings(w io.Writer, rep *Report) {
	if rep.Build != "" {
		fmt.Fprintf(w, "built from %s\n", rep.Build)
	}
	if rep.Settings != nil {
		fmt.Fprintf(w, "server: %s\n", rep.Settings)
	}
	if rep.ReplicaSettings != nil {
		fmt.Fprintf(w, "replica: %s\n", rep.ReplicaSettings)
	}
	if rep.Mode == modeAlter {
		fmt.Fprintln(w, "table: "+keyLabel(rep.Key))
		fmt.Fprintf(w, "tailor: --max-commit-latency %s; checksum %s\n", maxCommitLatencyLabel(time.Duration(rep.MaxCommitLatencyMs*float64(time.Millisecond))), rep.Checksum)
	}
}

// notes explain the columns.
func notes(o options) []string {
	return []string{
		"wall is the migration's own time (for the baseline, how long the load ran alone); rows/s is the table's rows over it; x COPY is wall over native ALGORITHM=COPY's in the same repetition and load condition.",
		"p50/p99/max are the latencies of the load's transactions that overlapped the migration, each from BEGIN to COMMIT, deadlock retries included; max is the longest write stall. Writers blocked by a lock issue no new writes, so tps shows how much of the " + fmt.Sprint(o.rate) + "/s got through.",
		"equal compares the table with its control table on every column by primary key, NULL-safely (two LEFT JOINs and a join on all columns), after the load stopped.",
		"peak RSS is pt-online-schema-change's own (getrusage of the child); tailor runs in-process, so its figure is the whole benchmark process's VmHWM (load generator included), reset before each tailor run.",
	}
}
