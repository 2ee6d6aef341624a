package plan

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
)

// firstSampleChunk is the size of the first chunk the speed measurement
// copies; later chunks grow to fill the time allowed.
const firstSampleChunk = 500

// Estimate is how long the online copy would take.
type Estimate struct {
	// Measured is false when the speed could not be measured; Summary says
	// why, and the numbers below are zero.
	Measured bool `json:"measured"`
	// Rows is the number of rows to copy: the server's estimate, or the
	// exact count when the sample reached the end of the table.
	Rows int64 `json:"rows"`
	// RowsExact is true when Rows is an exact count.
	RowsExact bool `json:"rows_exact"`
	// SampledRows were copied into the empty clone, in SampleChunks chunks
	// walking the copy key, taking SampleSeconds.
	SampledRows   int64   `json:"sampled_rows"`
	SampleChunks  int     `json:"sample_chunks"`
	SampleSeconds float64 `json:"sample_seconds"`
	// RowsPerSecond is SampledRows / SampleSeconds.
	RowsPerSecond float64 `json:"rows_per_second"`
	// CopySeconds is Rows / RowsPerSecond: the time to copy the rows alone.
	CopySeconds float64 `json:"copy_seconds"`
	// Summary says in one sentence what was measured and how far to trust it.
	Summary string `json:"summary"`
}

// learned is what the clone taught.
type learned struct {
	target     *schema.Table
	definition string
	pairs      [][2]string
	noDefault  []string
	notes      []string
	// sqlMode is the global sql_mode the ALTER was tried under.
	sqlMode string
}

// probeAndSample does everything that needs the clone: it learns the
// native algorithm and the new definition, chooses the strategy, measures
// the copy speed for an online copy, and drops the clone.
func probeAndSample(ctx context.Context, db *sql.DB, server mysql.Server, opts Options, alter *ddl.Alter, source *schema.Table, p *Plan) (learned, error) {
	var l learned
	pr, err := openProbe(ctx, db, server, opts.Database, opts.Table, opts.TimeZone, opts.Logger)
	if err != nil {
		return l, err
	}
	defer pr.close() //nolint:errcheck // the explicit close below reports; this one covers early returns
	if pr.leftover {
		l.notes = append(l.notes, fmt.Sprintf("A clone %s left by an interrupted plan was dropped.", mysql.QuoteIdent(pr.name)))
	}
	if !pr.binlogOff {
		l.notes = append(l.notes, fmt.Sprintf("The account may not turn off the binary log for its session, so replicas saw the clone %s created, altered and dropped.", mysql.QuoteIdent(pr.name)))
	}
	l.sqlMode = pr.sqlMode
	if p.Native, err = pr.learn(ctx, alter.Clauses, server.AlterAlgorithms()); err != nil {
		return l, err
	}
	if l.target, l.definition, l.noDefault, err = pr.readTarget(ctx, alter, source); err != nil {
		return l, err
	}
	generated := map[string]bool{}
	for _, c := range l.target.Columns {
		generated[c.Name] = c.Generated
	}
	for _, c := range alter.CopiedColumns(source.ColumnNames(), l.target.ColumnNames(), generated) {
		l.pairs = append(l.pairs, [2]string{c.Old, c.New})
	}
	p.Strategy = chooseStrategy(p.Native, opts.ForceCopy, server.Flavor == mysql.FlavorMariaDB)
	if p.Strategy.Kind == StrategyOnlineCopy {
		if p.Estimate, err = pr.estimate(ctx, source, l.target, l.pairs, p.Size, opts); err != nil {
			return l, err
		}
	}
	if err := pr.close(); err != nil {
		l.notes = append(l.notes, err.Error())
	}
	return l, nil
}

// estimate measures how fast this server copies the table's rows into the
// new definition, the way the copy does it: chunks found by walking the copy
// key, each copied with INSERT INTO clone ... SELECT ... FROM table WHERE
// key range. The reads take no row locks (the session reads in READ
// COMMITTED), and foreign keys are not checked, so no other table is read
// or locked. A server error (rows that do not fit the new definition, say)
// is reported in the estimate; only a lost connection or a cancelled
// context is an error.
func (pr *probe) estimate(ctx context.Context, source, target *schema.Table, pairs [][2]string, size Size, opts Options) (*Estimate, error) {
	e := &Estimate{Rows: size.Rows}
	if size.Empty {
		e.Rows, e.RowsExact = 0, true
		e.Summary = "The table is empty, so there are no rows to copy; the time goes into creating the new table and the swap."
		return e, nil
	}
	m, err := schema.NewMapping(source, target, pairs)
	if err != nil {
		// NewMapping's reason is the copy-key check's message; say it once.
		e.Summary = "Not measured, because the copy has no key that identifies a row in both tables (the copy-key check says more)."
		return e, nil
	}
	m.TimeZone = opts.TimeZone
	if _, err := pr.conn.ExecContext(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
		return nil, pr.failed(err, "prepare the sample copy into")
	}
	insert := "INSERT INTO " + pr.quoted() + " (" + mysql.QuoteIdents(m.InsertedNames()) + ") SELECT " +
		rowcopy.CopiedValues(m) + " FROM " + mysql.QuoteTable(source.Database, source.Name) + " WHERE "

	chunkSize := min(firstSampleChunk, opts.SampleRows)
	chunker := rowcopy.NewChunker(pr.db, m, chunkSize)
	var copied int64
	var spent time.Duration
	atEnd := false
	for !atEnd && copied < int64(opts.SampleRows) {
		start := time.Now()
		chunk, ok, err := chunker.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("sample the copy speed: %w", err)
		}
		if !ok {
			break
		}
		cond, args := sqlbuild.Range(m.OldRangeKey(), chunk.Lower, chunk.Upper)
		res, err := pr.conn.ExecContext(ctx, insert+cond, args...)
		if err != nil {
			if mysql.ErrorNumber(err) == 0 || ctx.Err() != nil {
				return nil, pr.failed(err, "copy sample rows into")
			}
			e.Summary = fmt.Sprintf("Not measured, because the sample rows do not go into the new definition (%s); the checks say which rows.", serverMessage(err))
			return e, nil
		}
		n, _ := res.RowsAffected()
		copied += n
		spent += time.Since(start)
		e.SampleChunks++
		atEnd = chunk.Upper == nil
		// Grow the chunks to use the time left, without passing it.
		rate := float64(copied) / max(spent.Seconds(), 1e-6)
		left := opts.SampleTime - spent
		fits := int(rate * left.Seconds())
		if left <= 0 || fits < 1 {
			break
		}
		chunkSize = min(2*chunkSize, opts.SampleRows-int(copied), fits)
		if chunkSize < 1 {
			break
		}
		chunker.SetSize(chunkSize)
	}
	if copied == 0 {
		// The table emptied between the look and the sample.
		e.Rows, e.RowsExact = 0, true
		e.Summary = "The table holds no rows to copy; the time goes into creating the new table and the swap."
		return e, nil
	}
	e.Measured = true
	e.SampledRows, e.SampleSeconds = copied, spent.Seconds()
	e.RowsPerSecond = float64(copied) / max(spent.Seconds(), 1e-6)
	if atEnd {
		e.Rows, e.RowsExact = copied, true
	} else {
		e.Rows = max(e.Rows, copied)
	}
	e.CopySeconds = float64(e.Rows) / e.RowsPerSecond
	e.Summary = estimateSummary(e, atEnd, pr.binlogOff)
	return e, nil
}

func estimateSummary(e *Estimate, atEnd, binlogOff bool) string {
	unlogged, alsoLogs := "", ""
	if binlogOff {
		unlogged, alsoLogs = " without writing the binary log", " writes the binary log,"
	}
	if atEnd {
		return fmt.Sprintf("The whole table (%s rows) was copied into an empty clone in %s%s, so the copy itself is that quick; applying concurrent changes and the swap add a few seconds.",
			count(e.Rows), duration(e.SampleSeconds), unlogged)
	}
	return fmt.Sprintf("About %s to copy %s rows (the server's row estimate), at %s rows/s measured by copying %s rows into an empty clone in %s (%s)%s; the live copy also%s applies concurrent changes and may be throttled, so take it as a lower bound.",
		duration(e.CopySeconds), count(e.Rows), count(int64(e.RowsPerSecond)), count(e.SampledRows), plural(e.SampleChunks, "chunk"), duration(e.SampleSeconds), unlogged, alsoLogs)
}

// plural is "1 chunk", "2 chunks".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
