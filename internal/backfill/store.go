package backfill

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/state"
)

// StateTable is the table in the backfilled table's database that holds
// every backfill's saved state, one row per backfill (docs/cli.md).
const StateTable = "tailor_backfills"

// formatVersion is the layout of StateTable's rows; a run refuses a row of
// another version rather than misread it.
const formatVersion = 1

// The statuses of a saved backfill.
const (
	statusRunning = "running" // a run owns it, or one stopped without saying (a crash)
	statusStopped = "stopped" // a run stopped for a reason that may pass
	statusDone    = "done"    // the walk reached the end of the range
)

// record is one backfill's saved state.
type record struct {
	Table, Job string
	Statement  string
	KeyName    string
	// Upper is the last key of the range the backfill walks (the table's
	// largest key when it started), Last the last key done; nil Last is
	// nothing done yet.
	Upper, Last []any
	RowsChanged int64
	RowsWalked  int64
	Batches     int64
	Status      string
	RunID       string
	Note        string
	StartedAt   time.Time
	UpdatedAt   time.Time
	FinishedAt  time.Time
}

// store reads and writes StateTable.
type store struct {
	db              *sql.DB
	database, table string
	job             string
}

func (s *store) quoted() string { return mysql.QuoteTable(s.database, StateTable) }

// create makes StateTable when it is missing.
func (s *store) create(ctx context.Context) error {
	q := "CREATE TABLE IF NOT EXISTS " + s.quoted() + ` (
  table_name VARCHAR(64) NOT NULL,
  job CHAR(16) NOT NULL,
  format_version INT NOT NULL,
  statement TEXT NOT NULL,
  key_name VARCHAR(64) NOT NULL,
  upper_key TEXT NOT NULL,
  last_key TEXT NOT NULL,
  rows_changed BIGINT NOT NULL DEFAULT 0,
  rows_walked BIGINT NOT NULL DEFAULT 0,
  batches BIGINT NOT NULL DEFAULT 0,
  status VARCHAR(16) NOT NULL,
  run_id CHAR(16) NOT NULL,
  note TEXT NOT NULL,
  started_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  finished_at DATETIME(6) NULL,
  PRIMARY KEY (table_name, job)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='tailor backfill state: one row per backfill, see docs/cli.md'`
	if _, err := s.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create the backfill state table %s: %w", s.quoted(), err)
	}
	return nil
}

// load reads the backfill's saved state, or nil when it has none.
func (s *store) load(ctx context.Context) (*record, error) {
	q := "SELECT format_version, statement, key_name, upper_key, last_key, rows_changed, rows_walked, batches, status, run_id, note, " +
		"DATE_FORMAT(started_at, '%Y-%m-%d %H:%i:%s.%f'), DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f'), COALESCE(DATE_FORMAT(finished_at, '%Y-%m-%d %H:%i:%s.%f'), '') FROM " +
		s.quoted() + " WHERE table_name = ? AND job = ?"
	var rec record
	var version int
	var upper, last, started, updated, finished string
	err := s.db.QueryRowContext(ctx, q, s.table, s.job).Scan(&version, &rec.Statement, &rec.KeyName, &upper, &last,
		&rec.RowsChanged, &rec.RowsWalked, &rec.Batches, &rec.Status, &rec.RunID, &rec.Note, &started, &updated, &finished)
	if errors.Is(err, sql.ErrNoRows) || mysql.ErrorNumber(err) == mysql.ErrNoSuchTable {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the saved state of the backfill from %s: %w", s.quoted(), err)
	}
	if version != formatVersion {
		return nil, fmt.Errorf("the saved state of this backfill in %s has format %d and this tailor reads %d: finish it with the tailor that started it, or delete its row (table_name %q, job %q) to start over", s.quoted(), version, formatVersion, s.table, s.job)
	}
	rec.Table, rec.Job = s.table, s.job
	if rec.Upper, err = state.DecodeKey(upper); err != nil {
		return nil, fmt.Errorf("read the saved state of the backfill: upper_key: %w", err)
	}
	if rec.Last, err = state.DecodeKey(last); err != nil {
		return nil, fmt.Errorf("read the saved state of the backfill: last_key: %w", err)
	}
	rec.StartedAt, _ = time.Parse(timeLayout, started)
	rec.UpdatedAt, _ = time.Parse(timeLayout, updated)
	rec.FinishedAt, _ = time.Parse(timeLayout, finished)
	return &rec, nil
}

const timeLayout = "2006-01-02 15:04:05.000000"

func stamp(t time.Time) string { return t.UTC().Format(timeLayout) }

// start saves a new backfill owned by rec.RunID, replacing any earlier
// state of the same backfill (a --restart).
func (s *store) start(ctx context.Context, rec *record) error {
	upper, err := state.EncodeKey(rec.Upper)
	if err != nil {
		return fmt.Errorf("save the backfill's range: %w", err)
	}
	now := stamp(time.Now())
	q := "REPLACE INTO " + s.quoted() + " (table_name, job, format_version, statement, key_name, upper_key, last_key, rows_changed, rows_walked, batches, status, run_id, note, started_at, updated_at) " +
		"VALUES (?, ?, ?, ?, ?, ?, 'null', 0, 0, 0, ?, ?, '', ?, ?)"
	if _, err := s.db.ExecContext(ctx, q, s.table, s.job, formatVersion, rec.Statement, rec.KeyName, upper, statusRunning, rec.RunID, now, now); err != nil {
		return fmt.Errorf("save the backfill's state in %s: %w", s.quoted(), err)
	}
	return nil
}

// takeOver makes runID the owner of a saved backfill that oldRunID owned,
// and marks it running; it fails when another run took it meanwhile.
func (s *store) takeOver(ctx context.Context, oldRunID, runID string) error {
	q := "UPDATE " + s.quoted() + " SET run_id = ?, status = ?, note = '', updated_at = ? WHERE table_name = ? AND job = ? AND run_id = ?"
	res, err := s.db.ExecContext(ctx, q, runID, statusRunning, stamp(time.Now()), s.table, s.job, oldRunID)
	if err != nil {
		return fmt.Errorf("take over the saved backfill: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errors.New("another run took over the saved backfill meanwhile")
	}
	return nil
}

// lockForBatch reads and locks the backfill's row inside a batch's
// transaction: the batch commits only while runID owns the backfill and
// the last key done is the one the batch starts after, so that a batch is
// done once whatever runs died or raced before it.
func (s *store) lockForBatch(ctx context.Context, tx *sql.Tx, runID string) (last []any, err error) {
	var owner, lastText string
	q := "SELECT run_id, last_key FROM " + s.quoted() + " WHERE table_name = ? AND job = ? FOR UPDATE"
	if err := tx.QueryRowContext(ctx, q, s.table, s.job).Scan(&owner, &lastText); err != nil {
		return nil, fmt.Errorf("lock the backfill's state: %w", err)
	}
	if owner != runID {
		return nil, &lostOwnerError{owner: owner}
	}
	return state.DecodeKey(lastText)
}

// lostOwnerError is a run whose backfill another run took over.
type lostOwnerError struct{ owner string }

func (e *lostOwnerError) Error() string {
	return fmt.Sprintf("another run (%s) took this backfill over; this one stops", e.owner)
}

// advance records a batch inside its transaction.
func (s *store) advance(ctx context.Context, tx *sql.Tx, runID string, last []any, changed, walked int64) error {
	text, err := state.EncodeKey(last)
	if err != nil {
		return fmt.Errorf("save the backfill's position: %w", err)
	}
	q := "UPDATE " + s.quoted() + " SET last_key = ?, rows_changed = rows_changed + ?, rows_walked = rows_walked + ?, batches = batches + 1, updated_at = ? WHERE table_name = ? AND job = ? AND run_id = ?"
	if _, err := tx.ExecContext(ctx, q, text, changed, walked, stamp(time.Now()), s.table, s.job, runID); err != nil {
		return fmt.Errorf("save the backfill's position: %w", err)
	}
	return nil
}

// setStatus records how the run ended (done, or stopped with note) while
// runID owns the backfill.
func (s *store) setStatus(ctx context.Context, runID, status, note string) error {
	now := stamp(time.Now())
	finished := any(nil)
	if status == statusDone {
		finished = now
	}
	q := "UPDATE " + s.quoted() + " SET status = ?, note = ?, updated_at = ?, finished_at = ? WHERE table_name = ? AND job = ? AND run_id = ?"
	if _, err := s.db.ExecContext(ctx, q, status, cut(note, 4000), now, finished, s.table, s.job, runID); err != nil {
		return fmt.Errorf("save the backfill's status: %w", err)
	}
	return nil
}

// cut shortens s to at most n bytes, at a character's boundary: a note cut
// inside a UTF-8 sequence is not valid utf8mb4.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
