// Package history keeps the record of applied migration files in the
// target database, in the table tailor_schema_history, and the server lock
// that lets one tailor migrate at a time work on a database.
//
// The table has one row per run of a file (a file that failed and was run
// again after a fix keeps its row, which is resumed):
//
//	installed_rank    bigint unsigned AUTO_INCREMENT PRIMARY KEY; the order rows were begun
//	version           varchar(100), the file's version as written with dots; NULL for a repeatable file
//	description       varchar(1000), from the file name, "_" read as spaces
//	type              varchar(16), "versioned" or "repeatable"
//	script            varchar(1000), the file's name
//	checksum          char(64), sha256 in hex of the file's exact bytes
//	installed_by      varchar(400), CURRENT_USER() of the session that began the row
//	installed_on      datetime(6), UTC, when the row was begun
//	execution_ms      bigint unsigned, the time spent running the file, summed over resumed runs; NULL until finished
//	state             varchar(16), "running", "applied" or "failed"
//	statements_total  int unsigned, the number of statements in the file
//	statements_done   int unsigned, how many statements, from the first, have completed
//	statements        json, an array with one object per statement that ran:
//	                  {"index", "checksum", "strategy", "outcome", "error", "execution_ms"}
//	error_text        text, why the file failed; NULL otherwise
//
// The checksum is of the file's text, independent of how tailor ran it, so
// an applied file edited later is noticed. Statements are recorded one by
// one because MySQL and MariaDB DDL is not transactional: a file that
// failed on its third statement has run its first two for good, and a later
// run continues at statements_done (Atlas keeps applied/total counts for
// the same reason). A row left "running" means a run that died.
//
// Every identifier is quoted and every value is a placeholder; the
// statements are built by small functions with their own tests.
package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// TableName is the history table's name in the target database.
const TableName = "tailor_schema_history"

// Type is the kind of migration file a row records.
type Type string

// The types of files, as migfiles names them.
const (
	Versioned  Type = "versioned"
	Repeatable Type = "repeatable"
)

// State is where a file's run stands.
type State string

const (
	// Running is a file being run, or one whose run died without Finish.
	Running State = "running"
	// Applied is a file whose every statement completed.
	Applied State = "applied"
	// Failed is a file that stopped at a statement; statements_done says
	// where it resumes.
	Failed State = "failed"
)

// Strategy is how a statement was run.
type Strategy string

// The strategies tailor records.
const (
	NativeInstant Strategy = "native-instant" // the server's ALGORITHM=INSTANT
	NativeInplace Strategy = "native-inplace" // the server's online ALTER, where safe
	OnlineCopy    Strategy = "online-copy"    // tailor's shadow table, copy and cut-over
	Direct        Strategy = "direct"         // sent to the server as written
	BackfillRun   Strategy = "backfill"       // a -- tailor:backfill UPDATE, in chunks
)

// Outcome is how a statement ended.
type Outcome string

// The outcomes of a statement.
const (
	OutcomeApplied Outcome = "applied"
	OutcomeFailed  Outcome = "failed"
)

// StatementResult is what is recorded of one statement of a file.
type StatementResult struct {
	// Index is the statement's position in its file, from 0.
	Index int `json:"index"`
	// Checksum is the sha256 in hex of the statement's text.
	Checksum string   `json:"checksum"`
	Strategy Strategy `json:"strategy"`
	Outcome  Outcome  `json:"outcome"`
	// Error is why the statement failed; empty when it did not.
	Error string `json:"error,omitempty"`
	// ExecutionMS is how long the statement ran, in milliseconds.
	ExecutionMS int64 `json:"execution_ms"`
}

// FileInfo is what Begin records of a file before it runs.
type FileInfo struct {
	// Version is empty for a repeatable file.
	Version     string
	Description string
	Type        Type
	// Script is the file's name.
	Script string
	// Checksum is the sha256 in hex of the file's bytes.
	Checksum        string
	StatementsTotal int
}

// Entry is one row of the history.
type Entry struct {
	InstalledRank int64
	// Version is empty for a repeatable file.
	Version     string
	Description string
	Type        Type
	Script      string
	Checksum    string
	InstalledBy string
	// InstalledOn is in UTC.
	InstalledOn time.Time
	// ExecutionTime is zero until the row is finished.
	ExecutionTime   time.Duration
	State           State
	StatementsTotal int
	StatementsDone  int
	// Statements are the recorded statements, by index.
	Statements []StatementResult
	// Error is why the file failed, or empty.
	Error string
}

// Store reads and writes the history table of one database. Each method is
// one short statement or transaction on db; none holds a connection
// between calls.
type Store struct {
	db       *sql.DB
	database string
}

// ErrNotHistory is returned by Open when a table named tailor_schema_history
// exists in the database but is not tailor's history table.
var ErrNotHistory = errors.New("not a tailor history table")

// Server errors that mean the table is not the history table: it lacks a
// column (1054).
const errBadField = 1054

// Open returns the Store of database's history, creating the table if it is
// missing.
func Open(ctx context.Context, db *sql.DB, database string) (*Store, error) {
	s := &Store{db: db, database: database}
	if _, err := db.ExecContext(ctx, createTableSQL(database)); err != nil {
		return nil, fmt.Errorf("create history table %s: %w", s.quoted(), err)
	}
	// CREATE TABLE IF NOT EXISTS leaves any table of that name alone; one
	// that is not ours must be refused before a run writes into it.
	if _, err := db.ExecContext(ctx, probeSQL(database)); err != nil {
		if mysql.ErrorNumber(err) == errBadField {
			return nil, fmt.Errorf("the table %s exists but does not have the columns of tailor's history; rename it: %w", s.quoted(), ErrNotHistory)
		}
		return nil, fmt.Errorf("read history table %s: %w", s.quoted(), err)
	}
	return s, nil
}

func (s *Store) quoted() string { return mysql.QuoteTable(s.database, TableName) }

// List returns every row, in installed_rank order.
func (s *Store) List(ctx context.Context) ([]Entry, error) {
	rows, err := s.db.QueryContext(ctx, selectSQL(s.database, false))
	if err != nil {
		return nil, fmt.Errorf("read history %s: %w", s.quoted(), err)
	}
	defer rows.Close()
	var entries []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("read history %s: %w", s.quoted(), err)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history %s: %w", s.quoted(), err)
	}
	return entries, nil
}

// Get returns the row whose installed_rank is id.
func (s *Store) Get(ctx context.Context, id int64) (Entry, error) {
	e, err := scanEntry(s.db.QueryRowContext(ctx, selectSQL(s.database, true), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("history row %d: %w", id, ErrNoRow)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("read history row %d: %w", id, err)
	}
	return e, nil
}

// ErrNoRow is returned for a row id the history does not hold.
var ErrNoRow = errors.New("no such history row")

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

func scanEntry(r scanner) (Entry, error) {
	var (
		e                       Entry
		version, errText        sql.NullString
		installedOn, statements string
		execMS                  sql.NullInt64
		typ, state              string
	)
	if err := r.Scan(&e.InstalledRank, &version, &e.Description, &typ, &e.Script, &e.Checksum, &e.InstalledBy,
		&installedOn, &execMS, &state, &e.StatementsTotal, &e.StatementsDone, &statements, &errText); err != nil {
		return Entry{}, err
	}
	e.Version, e.Error, e.Type, e.State = version.String, errText.String, Type(typ), State(state)
	e.ExecutionTime = time.Duration(execMS.Int64) * time.Millisecond
	t, err := time.Parse(timeLayout, installedOn)
	if err != nil {
		return Entry{}, fmt.Errorf("installed_on %q: %w", installedOn, err)
	}
	e.InstalledOn = t
	if err := json.Unmarshal([]byte(statements), &e.Statements); err != nil {
		return Entry{}, fmt.Errorf("statements of row %d: %w", e.InstalledRank, err)
	}
	return e, nil
}

// Begin records that file f starts to run, in state running, and returns
// the new row's id (its installed_rank).
func (s *Store) Begin(ctx context.Context, f FileInfo) (int64, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	var version any
	if f.Version != "" {
		version = f.Version
	}
	res, err := s.db.ExecContext(ctx, insertSQL(s.database),
		version, f.Description, string(f.Type), f.Script, f.Checksum, string(Running), f.StatementsTotal)
	if err != nil {
		return 0, fmt.Errorf("record start of %s in history: %w", f.Script, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("record start of %s in history: %w", f.Script, err)
	}
	return id, nil
}

func (f FileInfo) check() error {
	switch {
	case f.Type != Versioned && f.Type != Repeatable:
		return fmt.Errorf("history: file %s has type %q, not versioned or repeatable", f.Script, f.Type)
	case (f.Type == Versioned) != (f.Version != ""):
		return fmt.Errorf("history: file %s is %s with version %q; a versioned file has a version and a repeatable one none", f.Script, f.Type, f.Version)
	case f.Script == "":
		return errors.New("history: the file has no script name")
	case len(f.Checksum) != 64:
		return fmt.Errorf("history: file %s has checksum %q, not a sha256 in hex", f.Script, f.Checksum)
	case f.StatementsTotal < 0:
		return fmt.Errorf("history: file %s has %d statements", f.Script, f.StatementsTotal)
	}
	return nil
}

// StatementDone records the result of one statement of row id, replacing
// an earlier result of the same index (a statement retried after a
// failure). statements_done becomes the number of statements, from the
// first, whose outcome is applied, so a run that resumes starts at the
// first statement that has not completed.
func (s *Store) StatementDone(ctx context.Context, id int64, r StatementResult) error {
	if r.Outcome != OutcomeApplied && r.Outcome != OutcomeFailed {
		return fmt.Errorf("history: statement %d has outcome %q, not applied or failed", r.Index, r.Outcome)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record statement %d of history row %d: %w", r.Index, id, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var (
		statements string
		total      int
	)
	err = tx.QueryRowContext(ctx, lockRowSQL(s.database), id).Scan(&statements, &total)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("record statement %d: history row %d: %w", r.Index, id, ErrNoRow)
	}
	if err != nil {
		return fmt.Errorf("record statement %d of history row %d: %w", r.Index, id, err)
	}
	if r.Index < 0 || r.Index >= total {
		return fmt.Errorf("history: statement index %d is outside the file's %d statements", r.Index, total)
	}
	var results []StatementResult
	if err := json.Unmarshal([]byte(statements), &results); err != nil {
		return fmt.Errorf("statements of history row %d: %w", id, err)
	}
	results, done := merge(results, r)
	data, err := json.Marshal(results)
	if err != nil {
		return fmt.Errorf("record statement %d of history row %d: %w", r.Index, id, err)
	}
	if _, err := tx.ExecContext(ctx, updateStatementsSQL(s.database), string(data), done, id); err != nil {
		return fmt.Errorf("record statement %d of history row %d: %w", r.Index, id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record statement %d of history row %d: %w", r.Index, id, err)
	}
	return nil
}

// merge puts r into results (sorted by index), replacing one of the same
// index, and returns them with the count of applied statements from the
// first.
func merge(results []StatementResult, r StatementResult) ([]StatementResult, int) {
	results = slices.DeleteFunc(results, func(x StatementResult) bool { return x.Index == r.Index })
	results = append(results, r)
	slices.SortFunc(results, func(a, b StatementResult) int { return a.Index - b.Index })
	done := 0
	for _, x := range results {
		if x.Index != done || x.Outcome != OutcomeApplied {
			break
		}
		done++
	}
	return results, done
}

// Finish ends the run of row id in state (Applied or Failed), adding d to
// its execution time (a resumed file's time is the sum of its runs), and
// records errText as the reason for a failure.
func (s *Store) Finish(ctx context.Context, id int64, state State, d time.Duration, errText string) error {
	if state != Applied && state != Failed {
		return fmt.Errorf("history: a run finishes applied or failed, not %q", state)
	}
	var reason any
	if errText != "" {
		reason = errText
	}
	return s.update(ctx, id, "finish", finishSQL(s.database), string(state), d.Milliseconds(), reason, id)
}

// Resume puts row id back in state running, keeping its statements and
// statements_done, for a run that continues the file where it stopped.
func (s *Store) Resume(ctx context.Context, id int64) error {
	return s.update(ctx, id, "resume", resumeSQL(s.database), string(Running), id)
}

// update runs one UPDATE of row id and fails with ErrNoRow if the row does
// not exist. The driver reports changed rows, not matched ones, so a row
// left as it was is told from a missing one by reading it.
func (s *Store) update(ctx context.Context, id int64, what, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s history row %d: %w", what, id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		return nil
	}
	if _, err := s.Get(ctx, id); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// timeLayout is how installed_on is read: as text formatted by the server,
// so neither the driver's parseTime setting nor its location changes it.
const timeLayout = "2006-01-02 15:04:05.000000"

// Amend records that the file of row id now has checksum and
// statementsTotal statements: a file that failed was mended after the
// statements that had run, and the run that continues it records the text
// it completes, so that the applied row describes the file as it is.
func (s *Store) Amend(ctx context.Context, id int64, checksum string, statementsTotal int) error {
	if len(checksum) != 64 || statementsTotal < 0 {
		return fmt.Errorf("history: amend row %d with checksum %q and %d statements", id, checksum, statementsTotal)
	}
	return s.update(ctx, id, "amend", amendSQL(s.database), checksum, statementsTotal, id)
}
