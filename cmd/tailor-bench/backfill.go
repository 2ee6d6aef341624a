package main

// Backfill mode (--mode backfill) measures the backfill step of an
// expand-contract change: a new nullable column, added instantly, filled
// from an existing one on every row while the paced load writes, three
// ways: one UPDATE over the whole table, the naive loop the articles
// describe (fixed batches of ids with a fixed sleep between them), and
// tailor backfill (internal/backfill, in-process, with its defaults).

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/backfill"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
)

// The modes of the benchmark.
const (
	modeAlter    = "alter"
	modeBackfill = "backfill"
)

// The kinds of run of backfill mode, besides kindBaseline.
const (
	kindUpdate    = "update"
	kindNaiveLoop = "naive-loop"
	kindBackfill  = "tailor-backfill"
)

// backfillKinds lists every kind of run of backfill mode, in the order each
// repetition runs them.
func backfillKinds() []string {
	return []string{kindBaseline, kindUpdate, kindNaiveLoop, kindBackfill}
}

// backfillColumn is the column the runs fill from c, of c's type but
// nullable, as the expand step of the playbook adds it.
const (
	backfillColumn     = "c2"
	backfillColumnType = "CHAR(120) NULL"
	backfillSource     = "c"
)

// purgeWait bounds the wait, before a run, for InnoDB to purge the undo
// log of the runs before it.
const purgeWait = 2 * time.Minute

// BackfillSetup is backfill mode's change, for the report.
type BackfillSetup struct {
	AddColumn    string `json:"add_column"`
	Update       string `json:"update"`
	NaiveLoop    string `json:"naive_loop"`
	NaiveBatch   int    `json:"naive_batch_rows"`
	NaiveSleepMs int64  `json:"naive_sleep_ms"`
	TailorSet    string `json:"tailor_set"`
	TailorWhere  string `json:"tailor_where"`
	ChunkTimeMs  int64  `json:"tailor_chunk_time_ms"`
}

func backfillSetup(o options) *BackfillSetup {
	return &BackfillSetup{
		AddColumn:    addColumnSQL(benchTable),
		Update:       updateSQL(),
		NaiveLoop:    naiveBatchSQL(),
		NaiveBatch:   o.naiveBatch,
		NaiveSleepMs: o.naiveSleep.Milliseconds(),
		TailorSet:    backfillSet(),
		TailorWhere:  backfillWhere(),
		ChunkTimeMs:  o.backfillChunkTime.Milliseconds(),
	}
}

// addColumnSQL is the expand step on table: instant on MariaDB 10.3 and
// later and MySQL 8.0 (a column added last, nullable, without a default to
// compute), so no run pays for it.
func addColumnSQL(table string) string {
	return "ALTER TABLE " + mysql.QuoteIdent(table) + " ADD COLUMN " + mysql.QuoteIdent(backfillColumn) + " " + backfillColumnType + ", ALGORITHM=INSTANT"
}

// backfillSet and backfillWhere are the backfill every run makes.
func backfillSet() string {
	return mysql.QuoteIdent(backfillColumn) + " = " + mysql.QuoteIdent(backfillSource)
}

func backfillWhere() string { return mysql.QuoteIdent(backfillColumn) + " IS NULL" }

// updateSQL is the backfill as one statement.
func updateSQL() string {
	return "UPDATE " + mysql.QuoteIdent(benchTable) + " SET " + backfillSet() + " WHERE " + backfillWhere()
}

// naiveBatchSQL is one batch of the naive loop, its id range in the two
// placeholders.
func naiveBatchSQL() string {
	return "UPDATE " + mysql.QuoteIdent(benchTable) + " SET " + backfillSet() + " WHERE " + mysql.QuoteIdent("id") + " BETWEEN ? AND ? AND " + backfillWhere()
}

// prepareBackfill adds the column to the fresh table and to its control
// table (the load writes it in both), and waits for InnoDB's purge of the
// runs before, whose undo log would otherwise be purged during this one.
func (b *bench) prepareBackfill(ctx context.Context) error {
	for _, t := range []string{benchTable, controlTable(benchTable)} {
		if _, err := b.db.ExecContext(ctx, addColumnSQL(t)); err != nil {
			return fmt.Errorf("add the column to backfill to %s: %w", t, err)
		}
	}
	return waitForPurge(ctx, b.db, b.stderr)
}

// waitForPurge waits until InnoDB's history list is short, up to
// purgeWait. A server that does not expose it is not waited for.
func waitForPurge(ctx context.Context, db *sql.DB, progress io.Writer) error {
	const short = 10_000
	// The counter is on by default (MariaDB 10.11, MySQL 8.0); when it is
	// off its count stays 0, and nothing is waited for.
	q := "SELECT `COUNT` FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'"
	start := time.Now()
	for {
		var n int64
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil || n < short {
			if waited := time.Since(start); waited > time.Second {
				fmt.Fprintf(progress, "    waited %s for InnoDB to purge the history of the run before\n", waited.Round(100*time.Millisecond))
			}
			return nil
		}
		if time.Since(start) > purgeWait {
			fmt.Fprintf(progress, "    InnoDB's history list is still %d entries long after %s; running anyway\n", n, purgeWait)
			return nil
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// singleUpdate backfills with one statement. It locks every row it scans
// until it commits, so a write to any row waits for all of it.
func (b *bench) singleUpdate(ctx context.Context, run *Run) {
	res, err := b.db.ExecContext(ctx, updateSQL())
	if err != nil {
		run.Status, run.Note = statusFailed, oneLine(err.Error())
		return
	}
	n, _ := res.RowsAffected()
	run.Note = fmt.Sprintf("%d rows changed", n)
}

// naiveLoop backfills the way a shell loop does: consecutive ranges of
// --naive-batch ids from the smallest to the largest id of the start, each
// one autocommitted UPDATE, with --naive-sleep between them. Unlike most
// such loops it retries a batch that hit a deadlock or a lock wait timeout,
// so that it finishes under the load.
func (b *bench) naiveLoop(ctx context.Context, run *Run) {
	var lo, hi sql.NullInt64
	if err := b.db.QueryRowContext(ctx, "SELECT MIN(id), MAX(id) FROM "+mysql.QuoteIdent(benchTable)).Scan(&lo, &hi); err != nil {
		run.Status, run.Note = statusFailed, "read the range of ids: "+oneLine(err.Error())
		return
	}
	q := naiveBatchSQL()
	step := int64(b.opts.naiveBatch)
	var batches, retries, changed int64
	for from := lo.Int64; lo.Valid && from <= hi.Int64; from += step {
		if from > lo.Int64 {
			if err := sleep(ctx, b.opts.naiveSleep); err != nil {
				run.Status, run.Note = statusFailed, "interrupted"
				return
			}
		}
		for attempt := 1; ; attempt++ {
			res, err := b.db.ExecContext(ctx, q, from, from+step-1)
			if err == nil {
				n, _ := res.RowsAffected()
				changed += n
				break
			}
			if !mysql.IsRetryable(err) || attempt == 10 || ctx.Err() != nil {
				run.Status, run.Note = statusFailed, fmt.Sprintf("batch at id %d: %s", from, oneLine(err.Error()))
				return
			}
			retries++
		}
		batches++
	}
	run.Note = fmt.Sprintf("%d batches, %d rows changed, %d retried", batches, changed, retries)
}

// tailorBackfill backfills with internal/backfill in this process, with
// tailor backfill's defaults: batches adapted to its chunk time (its
// default unless --backfill-chunk-time), a control socket in a temporary
// directory, its throttle (no replica here).
func (b *bench) tailorBackfill(ctx context.Context, run *Run) {
	dir, err := os.MkdirTemp("", "tailor-bench-")
	if err != nil {
		run.Status, run.Note = statusFailed, "create a temporary directory for the control socket: "+err.Error()
		return
	}
	defer os.RemoveAll(dir)
	runner, err := backfill.New(backfill.Config{
		Conn:     b.conn,
		Database: b.opts.database,
		Table:    benchTable,
		Set:      backfillSet(),
		Where:    backfillWhere(),
		Execute:  true,
		Settings: operate.Settings{ChunkTime: b.opts.backfillChunkTime, ControlSocket: filepath.Join(dir, "tailor.sock")},
		Logger:   b.logger,
	})
	if err != nil {
		run.Status, run.Note = statusFailed, oneLine(err.Error())
		return
	}
	// The runner reports "validate" before and after its walk: name the
	// part after it, which counts the rows still matching, apart. The same
	// polling times the batches, from one's end to the next's: a batch's
	// statement, its saved state, its commit, and finding the next range.
	walked := false
	var lastBatches int64
	var lastEnd time.Time
	var batchTimes []time.Duration
	phase := func() string {
		st := runner.Status()
		if st.Batches != lastBatches {
			now := time.Now()
			if !lastEnd.IsZero() && st.Batches == lastBatches+1 {
				batchTimes = append(batchTimes, now.Sub(lastEnd))
			}
			lastBatches, lastEnd = st.Batches, now
		}
		switch {
		case st.Phase == "backfill":
			walked = true
			return "walk"
		case walked:
			return "count"
		}
		return "check"
	}
	stopWatching := watchPhases(func() (string, float64) { return phase(), -1 }, run)
	res, err := runner.Run(ctx)
	stopWatching()
	if err != nil {
		run.Status, run.Note = statusFailed, oneLine(err.Error())
		return
	}
	run.Note = fmt.Sprintf("%d batches, %d rows changed, %d still matching", res.Batches, res.RowsChanged, res.StillMatching)
	if len(batchTimes) > 0 {
		run.BatchP50Ms, run.BatchP99Ms, run.BatchMaxMs = millis(percentile(batchTimes, 50)), millis(percentile(batchTimes, 99)), millis(percentile(batchTimes, 100))
		run.Note += fmt.Sprintf("; batch every %s (p50), p99 %s, max %s", msLabel(run.BatchP50Ms), msLabel(run.BatchP99Ms), msLabel(run.BatchMaxMs))
	}
}

// notBackfilled counts the rows whose new column does not hold c, byte for
// byte (NULL included).
func notBackfilled(ctx context.Context, db *sql.DB) (int64, error) {
	q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE NOT (BINARY %s <=> BINARY %s)",
		mysql.QuoteIdent(benchTable), mysql.QuoteIdent(backfillColumn), mysql.QuoteIdent(backfillSource))
	var n int64
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the rows not backfilled: %w", err)
	}
	return n, nil
}

// setBackfillRatios fills each run's RatioToLoop and P99ToBaseline from
// the naive loop and the baseline of the same repetition.
func setBackfillRatios(runs []Run) {
	loopWall, aloneP99 := map[int]float64{}, map[int]float64{}
	for _, r := range runs {
		switch {
		case r.Status != statusOK:
		case r.Kind == kindNaiveLoop:
			loopWall[r.Repeat] = r.WallSeconds
		case r.Kind == kindBaseline:
			aloneP99[r.Repeat] = r.LoadP99Ms
		}
	}
	for i := range runs {
		r := &runs[i]
		if r.Status != statusOK || r.Kind == kindBaseline {
			continue
		}
		if w := loopWall[r.Repeat]; w > 0 {
			r.RatioToLoop = r.WallSeconds / w
		}
		if p := aloneP99[r.Repeat]; p > 0 && r.LoadTransactions > 0 {
			r.P99ToBaseline = r.LoadP99Ms / p
		}
	}
}

// setBackfillMedianRatios is setBackfillRatios over the medians.
func setBackfillMedianRatios(ms []Median) {
	var loopWall, aloneP99 float64
	for _, m := range ms {
		switch m.Kind {
		case kindNaiveLoop:
			loopWall = m.WallSeconds
		case kindBaseline:
			aloneP99 = m.LoadP99Ms
		}
	}
	for i := range ms {
		m := &ms[i]
		if m.Kind == kindBaseline || m.WallSeconds == 0 {
			continue
		}
		if loopWall > 0 {
			m.RatioToLoop = m.WallSeconds / loopWall
		}
		if aloneP99 > 0 {
			m.P99ToBaseline = m.LoadP99Ms / aloneP99
		}
	}
}

// printBackfillReport prints backfill mode's per-run table, its medians and
// the notes.
func printBackfillReport(w io.Writer, rep *Report) {
	s := rep.Backfill
	fmt.Fprintf(w, "\ntailor-bench --mode backfill: %s, %d rows; %s, then %s = %s on every row\n", rep.Server, rep.Rows,
		addColumnSQL(benchTable), backfillColumn, backfillSource)
	printSettings(w, rep)
	fmt.Fprintf(w, "load: %d transactions/s over %d writers (inserts, updates, deletes, each also written to the control table; inserts and updates of %s write %s too)\n",
		rep.Rate, rep.Writers, backfillSource, backfillColumn)
	fmt.Fprintf(w, "update: %s\nnaive-loop: %s, %d ids a batch, %d ms sleep between batches\ntailor-backfill: --set '%s' --where '%s', chunk time %d ms\n\n",
		s.Update, strings.Replace(strings.Replace(s.NaiveLoop, "?", "<from>", 1), "?", "<from+batch-1>", 1), s.NaiveBatch, s.NaiveSleepMs, s.TailorSet, s.TailorWhere, s.ChunkTimeMs)
	header, rows := backfillHeader(), backfillRows(rep.Runs)
	if hasReplicaLag(rep.Runs) {
		header, rows = replicaLagColumn(header, rows, rep.Runs)
	}
	fmt.Fprint(w, formatTable(header, rows))
	if rep.Repeat > 1 {
		fmt.Fprintf(w, "\nmedians over %d repetitions\n\n", rep.Repeat)
		fmt.Fprint(w, formatTable(backfillMedianHeader(), backfillMedianRows(rep.Medians)))
	}
	fmt.Fprintln(w)
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "- "+n)
	}
}

func backfillHeader() []string {
	return []string{"run", "rep", "wall", "x loop", "p50", "p99", "x alone", "max (stall)", "tps", "failed", "equal", backfillColumn + " = " + backfillSource, "note"}
}

func backfillRows(runs []Run) [][]string {
	var rows [][]string
	for _, r := range runs {
		row := []string{r.Kind, fmt.Sprint(r.Repeat)}
		if r.Status != statusOK {
			row = append(row, "-", "-", "-", "-", "-", "-", "-", fmt.Sprint(r.LoadErrors), equalLabel(r.Equal), filledLabel(r.NotBackfilled), r.Status+": "+r.Note)
			rows = append(rows, row)
			continue
		}
		row = append(row, seconds(r.WallSeconds), ratio(r.RatioToLoop))
		if r.LoadTransactions == 0 {
			row = append(row, "-", "-", "-", "-", "0")
		} else {
			row = append(row, msLabel(r.LoadP50Ms), msLabel(r.LoadP99Ms), ratio(r.P99ToBaseline), msLabel(r.LoadMaxMs), fmt.Sprintf("%.0f", r.LoadTPS))
		}
		row = append(row, fmt.Sprint(r.LoadErrors), equalLabel(r.Equal), filledLabel(r.NotBackfilled), r.Note+phaseNote(r.Phases))
		rows = append(rows, row)
	}
	return rows
}

func backfillMedianHeader() []string {
	return []string{"run", "runs", "wall", "x loop", "p50", "p99", "x alone", "max (stall)", "failed", "equal", backfillColumn + " = " + backfillSource}
}

func backfillMedianRows(ms []Median) [][]string {
	var rows [][]string
	for _, m := range ms {
		row := []string{m.Kind, fmt.Sprint(m.Runs)}
		eq, filled := "-", "-"
		if m.Compared > 0 {
			eq = fmt.Sprintf("%d/%d", m.Equal, m.Compared)
		}
		if m.BackfillChecked > 0 {
			filled = fmt.Sprintf("%d/%d", m.Backfilled, m.BackfillChecked)
		}
		if m.WallSeconds == 0 {
			row = append(row, "-", "-", "-", "-", "-", "-", fmt.Sprint(m.LoadErrors), eq, filled)
			rows = append(rows, row)
			continue
		}
		row = append(row, seconds(m.WallSeconds), ratio(m.RatioToLoop), msLabel(m.LoadP50Ms), msLabel(m.LoadP99Ms),
			ratio(m.P99ToBaseline), msLabel(m.LoadMaxMs), fmt.Sprint(m.LoadErrors), eq, filled)
		rows = append(rows, row)
	}
	return rows
}

// filledLabel says whether every row was backfilled.
func filledLabel(n *int64) string {
	switch {
	case n == nil:
		return "-"
	case *n == 0:
		return "all rows"
	}
	return fmt.Sprintf("NO: %d rows", *n)
}

// phaseNote lists a tailor backfill's phases with the load's p99 and
// longest stall during each.
func phaseNote(phases []PhaseSpan) string {
	var parts []string
	for _, ph := range phases {
		p := fmt.Sprintf("%s %s", ph.Phase, seconds(ph.Seconds))
		if ph.LoadTransactions > 0 {
			p += fmt.Sprintf(" (p99 %s, max %s)", msLabel(ph.LoadP99Ms), msLabel(ph.LoadMaxMs))
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

// backfillNotes explain backfill mode's columns.
func backfillNotes(o options) []string {
	notes := []string{
		"Every run is under the load, on a fresh copy of the table with the new column added instantly (all NULL); the load starts " + o.warmup.String() + " before the run and stops " + o.settle.String() + " after it. baseline is the load alone for " + o.baseline.String() + ".",
		"wall is the backfill's own time (for tailor-backfill, Runner.Run: its checks, the walk, and the closing count of the rows still matching); x loop is wall over the naive loop's in the same repetition.",
		"p50/p99/max are the latencies of the load's transactions that overlapped the backfill, BEGIN to COMMIT, retries included; max is the longest write stall; x alone is p99 over the baseline's p99 in the same repetition. failed counts the load's transactions that failed.",
		"equal compares the table with its control table on id, k, c and pad (the control's " + backfillColumn + " is written by the load only); " + backfillColumn + " = " + backfillSource + " checks every row of the table afterwards, byte for byte.",
	}
	if !o.replica {
		notes = append(notes, "No replica is attached (--replica attaches one), so replica lag is not measured.")
	}
	return notes
}
