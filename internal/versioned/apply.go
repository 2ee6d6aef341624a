package versioned

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/backfill"
	"github.com/tailor-osc/tailor/internal/history"
	"github.com/tailor-osc/tailor/internal/migfiles"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
)

// Result is what Apply did.
type Result struct {
	// DryRun is Apply without Execute: Plan says what would run.
	DryRun bool
	Plan   *Plan
	// Files are the files run, in order.
	Files []FileResult
}

// FileResult is one file's run.
type FileResult struct {
	File string
	// StartAt is the first statement this run ran, from 1; above 1 for a
	// file continued after a failure.
	StartAt    int
	Statements []StatementResult
	Elapsed    time.Duration
}

// StatementResult is one statement's run.
type StatementResult struct {
	Statement, Line int
	Strategy        Strategy
	Elapsed         time.Duration
	// Detail says what the engine did, in a few words.
	Detail string
}

// StatementError is the statement a run stopped at: the file, the
// statement and the reason. Its kind (migrate.KindOf) is the reason's.
type StatementError struct {
	File      string
	Statement int // from 1
	Line      int
	Err       error
}

func (e *StatementError) Error() string {
	return fmt.Sprintf("%s, statement %d (line %d): %v", e.File, e.Statement, e.Line, e.Err)
}

func (e *StatementError) Unwrap() error { return e.Err }

// Apply runs the pending statements in order, or, without Execute, plans
// them (Plan). It takes the database's migrate lock first, so that one run
// at a time works on a database, and refuses before running anything when
// the folder disagrees with the history or the plan refuses a pending
// statement. ALTERs are planned again by the engine as they run, against
// the table as the earlier statements left it.
func (r *Runner) Apply(ctx context.Context) (*Result, error) {
	if !r.cfg.Execute {
		p, err := r.Plan(ctx)
		if err != nil {
			return nil, err
		}
		return &Result{DryRun: true, Plan: p}, nil
	}
	files, err := r.readFolder()
	if err != nil {
		return nil, err
	}
	s, err := r.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer s.db.Close()
	lock, err := history.Lock(ctx, s.db, r.cfg.Database, max(r.cfg.LockWait, 0))
	if err != nil {
		var le *history.LockedError
		if errors.As(err, &le) {
			return nil, invalid(fmt.Errorf("%w; run again once it has finished", err))
		}
		return nil, err
	}
	defer func() {
		if err := lock.Unlock(context.WithoutCancel(ctx)); err != nil {
			r.log.Warn("could not release the migrate lock", "error", err.Error())
		}
	}()
	store, err := history.Open(ctx, s.db, r.cfg.Database)
	if err != nil {
		return nil, err
	}
	entries, err := store.List(ctx)
	if err != nil {
		return nil, err
	}
	pending, err := Compare(files, entries, r.cfg.OutOfOrder)
	if err != nil {
		return nil, invalid(err)
	}
	if err := r.precheck(ctx, s, pending); err != nil {
		return nil, err
	}
	run := &applyRun{Runner: r, s: s, rec: historyRecorder{store}, lock: lock, keptOld: map[string]string{}}
	defer run.close()
	res := &Result{}
	if len(pending) == 0 {
		r.log.Info("the database is up to date: no pending file")
	}
	for _, pf := range pending {
		fr, err := run.file(ctx, pf)
		if fr != nil {
			res.Files = append(res.Files, *fr)
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// precheck plans every pending statement (Plan) and refuses, before
// anything runs, when the plan refuses one: destructive statements not
// allowed, UPDATEs and DELETEs too large to run directly, ALTERs whose
// checks fail. The engine plans each ALTER again when its turn comes,
// against the table as the earlier statements left it, rows included.
func (r *Runner) precheck(ctx context.Context, s *session, pending []Pending) error {
	p, err := r.plan(ctx, s, pending)
	if err != nil {
		return err
	}
	if p.OK {
		return nil
	}
	var errs []error
	for _, fp := range p.Files {
		for _, sp := range fp.Statements {
			if sp.Strategy == Refused {
				errs = append(errs, &StatementError{File: fp.File, Statement: sp.Statement, Line: sp.Line,
					Err: errors.New(strings.Join(sp.RefusedBecause, "; "))})
			}
		}
	}
	return invalid(fmt.Errorf("nothing was run, because: %w", errors.Join(errs...)))
}

// applyRun is one Apply's state while it runs the files.
type applyRun struct {
	*Runner
	s *session
	// rec records the run: in the history, or nowhere (Exec).
	rec  recorder
	lock *history.ServerLock
	// direct is the session of the statements sent as written.
	direct *sql.Conn
	// keptOld are the old tables ("db.table" → name) an online copy of
	// this run kept at its cut-over; see alter.
	keptOld map[string]string
}

func (a *applyRun) close() {
	if a.direct != nil {
		discard(a.direct)
	}
}

// file runs one pending file from its Start, recording each statement.
func (a *applyRun) file(ctx context.Context, pf Pending) (*FileResult, error) {
	f := pf.File
	if err := a.lock.Check(ctx); err != nil {
		return nil, err
	}
	id, err := a.rec.begin(ctx, pf)
	if err != nil {
		return nil, err
	}
	log := a.log.With("file", f.Path)
	log.Info("running file", "statements", len(f.Statements), "start_at", pf.Start+1)
	fr := &FileResult{File: f.Path, StartAt: pf.Start + 1}
	started := time.Now()
	record := context.WithoutCancel(ctx) // a run stopped by a signal still records where it stopped
	for i := pf.Start; i < len(f.Statements); i++ {
		st := &f.Statements[i]
		retry := (pf.Entry != nil || pf.retry) && i == pf.Start
		t0 := time.Now()
		sr, err := a.statement(ctx, st, retry)
		sr.Statement, sr.Line, sr.Elapsed = i+1, st.Line, time.Since(t0)
		hr := history.StatementResult{Index: i, Checksum: st.Checksum, Strategy: history.Strategy(sr.Strategy), Outcome: history.OutcomeApplied, ExecutionMS: sr.Elapsed.Milliseconds()}
		if err != nil {
			se := &StatementError{File: f.Path, Statement: i + 1, Line: st.Line, Err: err}
			hr.Outcome, hr.Error = history.OutcomeFailed, oneLineText(err.Error())
			if rerr := a.rec.statement(record, id, hr); rerr != nil {
				log.Error("could not record the failed statement in the history", "statement", i+1, "error", rerr.Error())
			}
			if ferr := a.rec.finish(record, id, history.Failed, time.Since(started), oneLineText(se.Error())); ferr != nil {
				log.Error("could not record the failure in the history", "error", ferr.Error())
			}
			fr.Elapsed = time.Since(started)
			return fr, se
		}
		if err := a.rec.statement(record, id, hr); err != nil {
			return fr, fmt.Errorf("%s, statement %d ran, but: %w", f.Path, i+1, err)
		}
		log.Info("statement done", "statement", i+1, "line", st.Line, "strategy", string(sr.Strategy), "elapsed", sr.Elapsed.Round(time.Millisecond).String())
		fr.Statements = append(fr.Statements, sr)
	}
	fr.Elapsed = time.Since(started)
	if err := a.rec.finish(record, id, history.Applied, fr.Elapsed, ""); err != nil {
		return fr, err
	}
	log.Info("file applied", "elapsed", fr.Elapsed.Round(time.Millisecond).String())
	return fr, nil
}

// statement runs one statement by its route. retry is set for the
// statement a failed or interrupted run stopped at.
func (a *applyRun) statement(ctx context.Context, st *migfiles.Statement, retry bool) (StatementResult, error) {
	rt, refusal := routeOf(st, a.cfg.AllowDestructive)
	switch rt {
	case routeRefused:
		return StatementResult{Strategy: Refused}, invalid(errors.New(refusal))
	case routeAlter:
		return a.alter(ctx, st, retry)
	case routeBackfill:
		return a.backfill(ctx, st, retry)
	}
	return a.exec(ctx, st)
}

// alter runs an ALTER through the engine of tailor alter, which plans it
// against the table as it is now and makes it INSTANT or copies online.
func (a *applyRun) alter(ctx context.Context, st *migfiles.Statement, retry bool) (StatementResult, error) {
	database, table := tableOf(a.cfg.Database, st)
	sr := StatementResult{Strategy: OnlineCopy}
	// An online copy keeps the old table under <table>_tailor_old, and
	// the next copy of the same table needs that name. The old table this
	// run kept is only the undo of the previous statement, which the
	// history records as applied: the next change of the table supersedes
	// it.
	if old, ok := a.keptOld[tableKey(database, table)]; ok {
		a.log.Info("dropping the old table an earlier statement of this run kept, for the next copy of its table", "table", database+"."+table, "old_table", old)
		if _, err := a.s.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+mysql.QuoteTable(database, old)); err != nil {
			return sr, fmt.Errorf("drop the old table %s: %w", quoted(database, old), err)
		}
		delete(a.keptOld, tableKey(database, table))
	}
	cfg := a.cfg.Alter
	cfg.Conn, cfg.Database, cfg.Table, cfg.Alter = a.cfg.Conn, database, table, st.Clauses
	cfg.Conn.Database = database
	cfg.Execute, cfg.Revert = true, false
	cfg.Resume = retry && a.cfg.Resume
	// Starting over is for the statement the operator saw stop, never for
	// a leftover a later statement meets.
	cfg.InitiallyDropGhostTable = retry && a.cfg.Alter.InitiallyDropGhostTable
	cfg.Logger = a.log
	runner, err := migrate.New(cfg)
	if err != nil {
		return sr, err
	}
	res, err := runner.Run(ctx)
	if err != nil {
		return sr, err
	}
	if res.Native {
		sr.Strategy, sr.Detail = NativeInstant, "made natively, ALGORITHM=INSTANT"
		return sr, nil
	}
	sr.Detail = fmt.Sprintf("%d rows copied, %d events applied, writes held %s at the cut-over", res.RowsCopied, res.EventsApplied, res.CutOverLock.Round(time.Millisecond))
	if res.OldTable != "" {
		a.keptOld[tableKey(database, table)] = res.OldTable
		sr.Detail += ", old table kept as " + res.OldTable
	}
	return sr, nil
}

// backfill runs a -- tailor:backfill UPDATE or DELETE as tailor backfill
// does. A retried statement continues the backfill's saved state when it
// has one; a first run starts afresh, even when a backfill of the same
// text ran before (another file's).
func (a *applyRun) backfill(ctx context.Context, st *migfiles.Statement, retry bool) (StatementResult, error) {
	sr := StatementResult{Strategy: Backfill}
	spec, err := backfillOf(st.Text)
	if err != nil {
		return sr, invalid(err)
	}
	database := a.cfg.Database
	if spec.Schema != "" {
		database = spec.Schema
	}
	cfg := a.cfg.Backfill
	cfg.Conn, cfg.Database, cfg.Table = a.cfg.Conn, database, spec.Table
	cfg.Set, cfg.Where, cfg.Delete = spec.Set, spec.Where, spec.Delete
	cfg.Execute, cfg.Resume = true, false
	cfg.ResumeIfStopped, cfg.Restart = retry, !retry
	cfg.Logger = a.log
	runner, err := backfill.New(cfg)
	if err != nil {
		return sr, err
	}
	res, err := runner.Run(ctx)
	if err != nil {
		return sr, err
	}
	sr.Detail = fmt.Sprintf("%d rows changed in %d batches", res.RowsChanged+res.RowsChangedBefore, res.Batches)
	return sr, nil
}

// exec sends a statement as written, in a session with the server's
// configured sql_mode and time zone, as the user's own client would have
// (tailor's sessions otherwise run in a mode of their own, see
// mysql.SQLMode).
func (a *applyRun) exec(ctx context.Context, st *migfiles.Statement) (StatementResult, error) {
	sr := StatementResult{Strategy: Direct}
	if a.direct == nil {
		conn, err := a.s.db.Conn(ctx)
		if err != nil {
			return sr, err
		}
		if _, err := conn.ExecContext(ctx, "SET SESSION sql_mode = @@GLOBAL.sql_mode, time_zone = @@GLOBAL.time_zone"); err != nil {
			discard(conn)
			return sr, err
		}
		a.direct = conn
	}
	res, err := a.direct.ExecContext(ctx, st.Text)
	if err != nil {
		return sr, err
	}
	if n, err := res.RowsAffected(); err == nil && (st.Kind == migfiles.KindUpdate || st.Kind == migfiles.KindDelete || st.Kind == migfiles.KindInsert) {
		sr.Detail = fmt.Sprintf("%d rows affected", n)
	}
	return sr, nil
}

func oneLineText(s string) string { return strings.Join(strings.Fields(s), " ") }

// recorder records a run's files and statements.
type recorder interface {
	// begin records that pf starts to run and returns its id.
	begin(ctx context.Context, pf Pending) (int64, error)
	statement(ctx context.Context, id int64, r history.StatementResult) error
	finish(ctx context.Context, id int64, state history.State, d time.Duration, errText string) error
}

// historyRecorder records in the history table.
type historyRecorder struct{ store *history.Store }

// begin begins a row for a new run, or continues the row of a run that
// failed or died, with the file's checksum as it is now (the failed
// statement may have been mended; Compare checked those before it).
func (h historyRecorder) begin(ctx context.Context, pf Pending) (int64, error) {
	f := pf.File
	if pf.Entry == nil {
		return h.store.Begin(ctx, history.FileInfo{Version: f.Version.String(), Description: f.Description, Type: history.Type(f.Type),
			Script: f.Name, Checksum: f.Checksum, StatementsTotal: len(f.Statements)})
	}
	id := pf.Entry.InstalledRank
	if pf.Entry.Checksum != f.Checksum || pf.Entry.StatementsTotal != len(f.Statements) {
		if err := h.store.Amend(ctx, id, f.Checksum, len(f.Statements)); err != nil {
			return 0, err
		}
	}
	return id, h.store.Resume(ctx, id)
}

func (h historyRecorder) statement(ctx context.Context, id int64, r history.StatementResult) error {
	return h.store.StatementDone(ctx, id, r)
}

func (h historyRecorder) finish(ctx context.Context, id int64, state history.State, d time.Duration, errText string) error {
	return h.store.Finish(ctx, id, state, d, errText)
}

// noRecorder records nothing: tailor exec runs a file outside any history.
type noRecorder struct{}

func (noRecorder) begin(context.Context, Pending) (int64, error) { return 0, nil }
func (noRecorder) statement(context.Context, int64, history.StatementResult) error {
	return nil
}

func (noRecorder) finish(context.Context, int64, history.State, time.Duration, string) error {
	return nil
}
