package versioned

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/migfiles"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/plan"
	"github.com/tailor-osc/tailor/internal/preflight"
)

// Plan is what a run of the folder would do. Its JSON form is documented
// in docs/migrate.md; keep the two in step.
type Plan struct {
	Database string `json:"database"`
	// OK is true when no pending statement is refused.
	OK bool `json:"ok"`
	// Files are the pending files, in the order they would run.
	Files []FilePlan `json:"files"`
}

// FilePlan is one pending file.
type FilePlan struct {
	File string `json:"file"`
	// Version is empty for a repeatable file.
	Version     string `json:"version"`
	Type        string `json:"type"`
	Description string `json:"description"`
	// StartAt is the first statement to run, from 1: above 1 when a run
	// that failed or died is continued.
	StartAt    int             `json:"start_at"`
	Statements []StatementPlan `json:"statements"`
}

// StatementPlan is how one pending statement would run.
type StatementPlan struct {
	File string `json:"file"`
	// Statement is its position in the file, from 1; Line its first line.
	Statement int           `json:"statement"`
	Line      int           `json:"line"`
	Kind      migfiles.Kind `json:"kind"`
	// Table is the table it names, quoted, or empty.
	Table    string   `json:"table"`
	Strategy Strategy `json:"strategy"`
	// Reason says why this strategy, in one sentence.
	Reason string `json:"reason"`
	// PlannedAgainst says what an ALTER was planned against: "table" (the
	// table as it is now) or "clone" (an empty clone to which the earlier
	// pending statements were applied); empty for other statements.
	PlannedAgainst string `json:"planned_against"`
	// Checks are the preflight checks of an ALTER.
	Checks []preflight.Check `json:"checks"`
	// RefusedBecause holds one sentence per reason the statement is
	// refused; empty when it is not.
	RefusedBecause []string `json:"refused_because"`
	// Rows is the size it works on: the table's estimated rows for an
	// ALTER, EXPLAIN's estimate for an UPDATE or DELETE; -1 when unknown.
	Rows int64 `json:"rows"`
	// Estimate is an online copy's time estimate, in words.
	Estimate string        `json:"estimate"`
	Advice   []plan.Advice `json:"advice"`
	Notes    []string      `json:"notes"`
}

// Plan works out how each pending statement would run, changing nothing
// users can see: ALTERs are planned by package plan against the table as
// it is, or, when an earlier pending statement changes or creates the
// table, against an empty clone in a scratch database to which the
// earlier pending statements were applied; UPDATEs and DELETEs are
// estimated with EXPLAIN. The scratch database is dropped before Plan
// returns.
func (r *Runner) Plan(ctx context.Context) (*Plan, error) {
	files, err := r.readFolder()
	if err != nil {
		return nil, err
	}
	s, err := r.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer s.db.Close()
	entries, err := readHistory(ctx, s.db, r.cfg.Database)
	if err != nil {
		return nil, err
	}
	pending, err := Compare(files, entries, r.cfg.OutOfOrder)
	if err != nil {
		return nil, invalid(err)
	}
	return r.plan(ctx, s, pending)
}

func (r *Runner) plan(ctx context.Context, s *session, pending []Pending) (*Plan, error) {
	p := &Plan{Database: r.cfg.Database, OK: true, Files: []FilePlan{}}
	sim := &simulation{db: s.db, database: r.cfg.Database, touched: map[string]bool{}, written: map[string]bool{}, log: r.log}
	defer sim.close(context.WithoutCancel(ctx))
	for _, pf := range pending {
		f := pf.File
		fp := FilePlan{File: f.Path, Version: f.Version.String(), Type: string(f.Type), Description: f.Description,
			StartAt: pf.Start + 1, Statements: []StatementPlan{}}
		for i := pf.Start; i < len(f.Statements); i++ {
			sp, err := r.planStatement(ctx, s, sim, f, &f.Statements[i])
			if err != nil {
				return nil, err
			}
			if len(sp.RefusedBecause) > 0 {
				sp.Strategy = Refused
				p.OK = false
			}
			fp.Statements = append(fp.Statements, sp)
		}
		p.Files = append(p.Files, fp)
	}
	return p, nil
}

func (r *Runner) planStatement(ctx context.Context, s *session, sim *simulation, f *migfiles.File, st *migfiles.Statement) (StatementPlan, error) {
	sp := StatementPlan{File: f.Path, Statement: st.Index + 1, Line: st.Line, Kind: st.Kind, Rows: -1,
		Checks: []preflight.Check{}, RefusedBecause: []string{}, Advice: []plan.Advice{}, Notes: []string{}}
	database, table := tableOf(r.cfg.Database, st)
	if table != "" {
		sp.Table = quoted(database, table)
	}
	if st.Note != "" {
		sp.Notes = append(sp.Notes, st.Note)
	}
	rt, refusal := routeOf(st, r.cfg.AllowDestructive)
	switch rt {
	case routeRefused:
		sp.RefusedBecause = append(sp.RefusedBecause, refusal)
	case routeAlter:
		if err := r.planAlter(ctx, s, sim, st, database, table, &sp); err != nil {
			return sp, err
		}
		return sp, nil
	case routeDML:
		n, note, err := r.estimateDML(ctx, s.db, sim, st, database, table)
		if err != nil {
			return sp, err
		}
		sp.Rows, sp.Strategy = n, Direct
		if note != "" {
			sp.Notes = append(sp.Notes, note)
		}
		if n > r.cfg.MaxDirectRows {
			sp.RefusedBecause = append(sp.RefusedBecause, tooLarge(st, n, r.cfg.MaxDirectRows))
		} else {
			sp.Reason = fmt.Sprintf("EXPLAIN estimates it touches about %d rows, at most --max-direct-rows (%d), so it runs as one statement.", n, r.cfg.MaxDirectRows)
		}
	case routeBackfill:
		spec, _ := backfillOf(st.Text) // routeOf read it already
		bdb := r.cfg.Database
		if spec.Schema != "" {
			bdb = spec.Schema
		}
		sp.Table = quoted(bdb, spec.Table)
		sp.Strategy = Backfill
		sp.Reason = "The -- tailor:backfill directive runs it as tailor backfill does: in short, throttled batches walked by key, each its own transaction, resumable."
		if n, ok := tableRows(ctx, s.db, bdb, spec.Table); ok {
			sp.Rows = n
		}
	default:
		sp.Strategy = Direct
		sp.Reason = directReason(st.Kind)
	}
	sim.apply(ctx, st, database, table, &sp)
	return sp, nil
}

// tooLarge is the refusal of an UPDATE or DELETE too large to run as one
// statement.
func tooLarge(st *migfiles.Statement, n, limit int64) string {
	verb := "UPDATE"
	if st.Kind == migfiles.KindDelete {
		verb = "DELETE"
	}
	return fmt.Sprintf("this %s would touch about %d rows (EXPLAIN's estimate), more than --max-direct-rows (%d), and as one statement it would hold their row locks and lag every replica for as long as it runs: add the line \"-- tailor:%s\" above it to run it in short, throttled batches",
		verb, n, limit, migfiles.Backfill)
}

func directReason(k migfiles.Kind) string {
	switch k {
	case migfiles.KindCreateTable:
		return "A new table holds no rows that a lock could hold up, so the statement runs as written."
	case migfiles.KindCreateView, migfiles.KindRoutine, migfiles.KindTrigger, migfiles.KindGrant:
		return "It changes definitions, not rows, so it runs as written."
	case migfiles.KindInsert, migfiles.KindOtherDML:
		return "It runs as written."
	}
	return "It is not an ALTER of a table's rows, so it runs as written."
}

// planAlter plans an ALTER with package plan: against the table as it is
// when no earlier pending statement changed it, else against its clone in
// the scratch database, where the earlier statements were applied.
func (r *Runner) planAlter(ctx context.Context, s *session, sim *simulation, st *migfiles.Statement, database, table string, sp *StatementPlan) error {
	planDB, against := database, "table"
	if sim.changes(database, table) {
		clone, err := sim.clone(ctx, database, table)
		if err != nil {
			sp.Strategy = Refused
			sp.RefusedBecause = append(sp.RefusedBecause, err.Error())
			return nil
		}
		planDB, against = clone, "clone"
	}
	sp.PlannedAgainst = against
	p, err := plan.Make(ctx, s.db, s.server, plan.Options{
		Conn: r.cfg.Conn, Database: planDB, Table: table, Alter: st.Clauses,
		ForceCopy: r.cfg.Alter.ForceCopy, RecreateTriggers: r.cfg.Alter.RecreateTriggers,
		Logger: r.log.With("table", database+"."+table),
	})
	if err != nil {
		var pe *plan.Error
		var de *ddl.Error
		if errors.As(err, &pe) || errors.As(err, &de) {
			sp.Strategy = Refused
			sp.RefusedBecause = append(sp.RefusedBecause, strings.ReplaceAll(err.Error(), mysql.QuoteIdent(planDB), mysql.QuoteIdent(database)))
			return nil
		}
		return fmt.Errorf("plan %s, statement %d: %w", sp.File, sp.Statement, err)
	}
	sp.Strategy = Strategy(p.Strategy.Kind)
	sp.Reason = p.Strategy.Reason
	sp.Checks = p.Checks
	sp.RefusedBecause = append(sp.RefusedBecause, p.RefusedBecause...)
	sp.Advice = p.Advice
	sp.Notes = append(sp.Notes, p.Notes...)
	sp.Rows = p.Size.Rows
	if p.Estimate != nil && against == "table" {
		sp.Estimate = p.Estimate.Summary
	}
	if against == "clone" {
		note := "Planned against an empty clone, to which the earlier pending statements were applied"
		if n, ok := tableRows(ctx, s.db, database, table); ok {
			sp.Rows = n
			note += fmt.Sprintf("; the table has about %d rows now", n)
		} else {
			note += "; the table does not exist yet"
		}
		sp.Notes = append(sp.Notes, note+".")
	}
	sim.apply(ctx, st, database, table, sp)
	return nil
}

// estimateDML estimates the rows an UPDATE or DELETE touches with EXPLAIN
// on the table as it is. When EXPLAIN cannot run there (the statement
// names a column an earlier pending statement adds), the table's row count
// stands in: an upper bound.
func (r *Runner) estimateDML(ctx context.Context, db *sql.DB, sim *simulation, st *migfiles.Statement, database, table string) (int64, string, error) {
	n, err := explainRows(ctx, db, st.Text)
	if err == nil {
		return n, "", nil
	}
	if ctx.Err() != nil {
		return 0, "", ctx.Err()
	}
	if rows, ok := tableRows(ctx, db, database, table); ok {
		return rows, fmt.Sprintf("EXPLAIN could not run on the table as it is (%s), so the estimate is the table's row count.", oneLine(err)), nil
	}
	if sim.touches(database, table) {
		return 0, "The table is created by an earlier pending statement, so it starts empty.", nil
	}
	return 0, "", invalid(fmt.Errorf("statement %d (line %d): %w", st.Index+1, st.Line, err))
}

func oneLine(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && mysql.ErrorNumber(err) != 0 {
		msg = msg[i+2:]
	}
	return strings.Join(strings.Fields(msg), " ")
}

// tableRows is information_schema's estimate of a table's rows; false when
// the table does not exist.
func tableRows(ctx context.Context, db *sql.DB, database, table string) (int64, bool) {
	var n sql.NullInt64
	err := db.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", database, table).Scan(&n)
	if err != nil {
		return 0, false
	}
	return n.Int64, true
}
