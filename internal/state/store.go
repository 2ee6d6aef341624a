package state

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// Server errors that mean a table named like a state table is not one:
// it lacks a column (1054), or its columns are not those inserted (1136).
const (
	errBadField        = 1054
	errWrongValueCount = 1136
)

// timeLayout is how timestamps are bound to and read from the datetime(6)
// columns: as text, in UTC, so that neither the session's time_zone nor the
// driver's location or parseTime setting changes them.
const timeLayout = "2006-01-02 15:04:05.000000"

// Store reads and writes the saved state of the migration of one table.
// Each method is one or two short statements on db, in autocommit; none
// holds a connection between calls.
type Store struct {
	db              *sql.DB
	database, table string
	name            string // the state table's
}

// New returns the Store of the migration of database.table.
func New(db *sql.DB, database, table string) (*Store, error) {
	name := TableName(table)
	if name == "" {
		return nil, fmt.Errorf("no state table name can be made from %s", mysql.QuoteTable(database, table))
	}
	return &Store{db: db, database: database, table: table, name: name}, nil
}

// Name is the state table's name.
func (s *Store) Name() string { return s.name }

func (s *Store) quoted() string { return mysql.QuoteTable(s.database, s.name) }

// Create creates the state table if it is missing and inserts rec as its
// record, owned by rec.RunID. It fails with ErrExists when the table
// already holds a record, and with ErrNotState when a table of that name is
// not a state table. It sets rec's FormatVersion, StartedAt (when zero) and
// UpdatedAt to what it wrote.
func (s *Store) Create(ctx context.Context, rec *Record) error {
	if err := s.check(rec); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, createTableSQL(s.database, s.name)); err != nil {
		return fmt.Errorf("create state table %s: %w", s.quoted(), err)
	}
	now := stamp(time.Now())
	if rec.StartedAt.IsZero() {
		rec.StartedAt = now
	}
	rec.StartedAt = stamp(rec.StartedAt)
	rec.UpdatedAt = now
	rec.FormatVersion = FormatVersion
	vals, err := s.row(rec)
	if err != nil {
		return err
	}
	args := []any{recordID}
	for _, c := range dataColumns() {
		args = append(args, vals[c])
	}
	_, err = s.db.ExecContext(ctx, insertSQL(s.database, s.name), args...)
	switch mysql.ErrorNumber(err) {
	case 0:
		if err != nil {
			return fmt.Errorf("save state in %s: %w", s.quoted(), err)
		}
		return nil
	case mysql.ErrDupEntry:
		h, herr := s.head(ctx)
		if herr != nil || !h.found {
			return fmt.Errorf("save state in %s: %w", s.quoted(), ErrExists)
		}
		return fmt.Errorf("save state in %s: %w: run %s, written by tailor %s in format %d",
			s.quoted(), ErrExists, h.runID, h.tailorVersion, h.format)
	case errBadField, errWrongValueCount:
		return fmt.Errorf("save state in %s: %w (%w)", s.quoted(), ErrNotState, err)
	}
	return fmt.Errorf("save state in %s: %w", s.quoted(), err)
}

// Load reads the record. It returns nil, nil when there is no state table
// or no record in it, a *FormatError for a record of another format, and
// ErrNotState for a table of that name that is not a state table. It only
// reads: a dry run or a status may call it.
func (s *Store) Load(ctx context.Context) (*Record, error) {
	h, err := s.head(ctx)
	if err != nil {
		return nil, err
	}
	if !h.found {
		return nil, nil
	}
	if !readable(h.format) {
		return nil, &FormatError{Database: s.database, Table: s.table, Found: h.format, Want: FormatVersion, TailorVersion: h.tailorVersion}
	}
	rec, err := s.scan(s.db.QueryRowContext(ctx, selectSQL(s.database, s.name, h.format)), h.format)
	if errors.Is(err, sql.ErrNoRows) || mysql.ErrorNumber(err) == mysql.ErrNoSuchTable {
		// Dropped or deleted since head read it, or a row that is not
		// Create's.
		if h, herr := s.head(ctx); herr == nil && !h.found {
			return nil, nil
		}
		return nil, fmt.Errorf("read state from %s: %w: its row does not have id 1", s.quoted(), ErrNotState)
	}
	if err != nil {
		return nil, fmt.Errorf("read state from %s: %w", s.quoted(), err)
	}
	return rec, nil
}

// Save writes rec over the record, as one UPDATE that succeeds only while
// the record belongs to rec.RunID: once another run took it over, it
// returns an *OwnerError and writes nothing. It returns ErrNoRecord when
// the record is gone. It writes every field but RunID, Database, Table and
// StartedAt, which Create set, and sets rec's FormatVersion and UpdatedAt
// to what it wrote. Note is cut to 16 KiB.
//
// A Save is a single-row write by primary key. It waits for a row lock
// only if someone else locked the row (a person's SELECT ... FOR UPDATE),
// so ctx should bound it.
func (s *Store) Save(ctx context.Context, rec *Record) error {
	if err := s.check(rec); err != nil {
		return err
	}
	rec.UpdatedAt = stamp(time.Now())
	rec.FormatVersion = FormatVersion
	vals, err := s.row(rec)
	if err != nil {
		return err
	}
	var args []any
	for _, c := range saveColumns() {
		args = append(args, vals[c])
	}
	res, err := s.db.ExecContext(ctx, saveSQL(s.database, s.name), append(args, rec.RunID)...)
	if mysql.ErrorNumber(err) == mysql.ErrNoSuchTable {
		return fmt.Errorf("save state in %s: %w", s.quoted(), ErrNoRecord)
	}
	if err != nil {
		return fmt.Errorf("save state in %s: %w", s.quoted(), err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return nil
	}
	// No row changed: either the record is not rec.RunID's, or it already
	// held every value (the server counts changed rows, not matched ones,
	// so a Save in the same microsecond as the previous one changes
	// nothing).
	h, err := s.head(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("save state in %s: %w", s.quoted(), err)
	case !h.found:
		return fmt.Errorf("save state in %s: %w", s.quoted(), ErrNoRecord)
	case h.runID != rec.RunID:
		return &OwnerError{Database: s.database, Table: s.table, RunID: rec.RunID, Owner: h.runID}
	}
	return nil
}

// TakeOver gives the record of run oldRunID to run newRunID, for a resume:
// from then on only newRunID can Save, and oldRunID's Saves fail with an
// *OwnerError. It fails with an *OwnerError when the record belongs to
// neither run, a *FormatError when it is of another format, and
// ErrNoRecord when there is none. Taking over a record newRunID already
// owns succeeds, so that a TakeOver whose answer was lost can be retried.
// The caller sets RunID in its copy of the record.
func (s *Store) TakeOver(ctx context.Context, oldRunID, newRunID string) error {
	if newRunID == "" || !utf8.ValidString(newRunID) {
		return fmt.Errorf("take over state in %s: the new run id %q is not valid", s.quoted(), newRunID)
	}
	if err := s.upgrade(ctx, oldRunID, newRunID); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, takeOverSQL(s.database, s.name),
		newRunID, stamp(time.Now()).Format(timeLayout), oldRunID, FormatVersion)
	if mysql.ErrorNumber(err) == mysql.ErrNoSuchTable {
		return fmt.Errorf("take over state in %s: %w", s.quoted(), ErrNoRecord)
	}
	if err != nil {
		return fmt.Errorf("take over state in %s: %w", s.quoted(), err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return nil
	}
	h, err := s.head(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("take over state in %s: %w", s.quoted(), err)
	case !h.found:
		return fmt.Errorf("take over state in %s: %w", s.quoted(), ErrNoRecord)
	case !readable(h.format):
		return &FormatError{Database: s.database, Table: s.table, Found: h.format, Want: FormatVersion, TailorVersion: h.tailorVersion}
	case h.runID != newRunID:
		return &OwnerError{Database: s.database, Table: s.table, RunID: oldRunID, Owner: h.runID}
	}
	return nil
}

// Drop drops the state table, when there is one. It refuses, with
// ErrNotState, a table of that name that does not carry a state table's
// comment, so that it never drops a table tailor did not make.
func (s *Store) Drop(ctx context.Context) error {
	var comment string
	err := s.db.QueryRowContext(ctx, commentSQL, s.database, s.name).Scan(&comment)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up state table %s: %w", s.quoted(), err)
	}
	if comment != tableComment {
		return fmt.Errorf("drop state table %s: %w: its comment is %q", s.quoted(), ErrNotState, comment)
	}
	if _, err := s.db.ExecContext(ctx, dropSQL(s.database, s.name)); err != nil {
		return fmt.Errorf("drop state table %s: %w", s.quoted(), err)
	}
	return nil
}

// check validates rec and makes it name s's table.
func (s *Store) check(rec *Record) error {
	if rec.Database == "" && rec.Table == "" {
		rec.Database, rec.Table = s.database, s.table
	}
	if rec.Database != s.database || rec.Table != s.table {
		return fmt.Errorf("the record of %s cannot be saved as the state of %s",
			mysql.QuoteTable(rec.Database, rec.Table), mysql.QuoteTable(s.database, s.table))
	}
	if err := rec.validate(); err != nil {
		return fmt.Errorf("save state in %s: %w", s.quoted(), err)
	}
	return nil
}

// head is what headSQL reads.
type head struct {
	found         bool
	format        int
	tailorVersion string
	runID         string
}

// head reads the format, writer and owner of the record. found is false
// when there is no table or no row.
func (s *Store) head(ctx context.Context) (head, error) {
	rows, err := s.db.QueryContext(ctx, headSQL(s.database, s.name))
	switch mysql.ErrorNumber(err) {
	case 0:
	case mysql.ErrNoSuchTable:
		return head{}, nil
	case errBadField:
		return head{}, fmt.Errorf("read state from %s: %w (%w)", s.quoted(), ErrNotState, err)
	}
	if err != nil {
		return head{}, fmt.Errorf("read state from %s: %w", s.quoted(), err)
	}
	defer rows.Close()
	var h head
	n := 0
	for rows.Next() {
		n++
		if err := rows.Scan(&h.format, &h.tailorVersion, &h.runID); err != nil {
			return head{}, fmt.Errorf("read state from %s: %w", s.quoted(), err)
		}
	}
	if err := rows.Err(); err != nil {
		return head{}, fmt.Errorf("read state from %s: %w", s.quoted(), err)
	}
	if n > 1 {
		return head{}, fmt.Errorf("read state from %s: %w: it holds %d rows", s.quoted(), ErrNotState, n)
	}
	h.found = n == 1
	return h, nil
}

// row is the values of rec's columns, by column name, as they are bound.
func (s *Store) row(rec *Record) (map[string]any, error) {
	var watermark any // NULL: no chunk known to be copied
	if rec.LowWatermark != nil {
		w, err := EncodeKey(rec.LowWatermark)
		if err != nil {
			return nil, fmt.Errorf("save state in %s: low-watermark: %w", s.quoted(), err)
		}
		watermark = w
	}
	keyCols, err := encodeList(rec.KeyColumns)
	if err != nil {
		return nil, err
	}
	indexes, err := encodeList(rec.DeferredIndexes)
	if err != nil {
		return nil, err
	}
	revertCols := "[]"
	if len(rec.RevertColumns) > 0 {
		if revertCols, err = marshal(rec.RevertColumns); err != nil {
			return nil, err
		}
	}
	return map[string]any{
		"format_version":     FormatVersion,
		"tailor_version":     rec.TailorVersion,
		"run_id":             rec.RunID,
		"database_name":      rec.Database,
		"table_name":         rec.Table,
		"phase":              rec.Phase,
		"started_at":         stamp(rec.StartedAt).Format(timeLayout),
		"updated_at":         stamp(rec.UpdatedAt).Format(timeLayout),
		"rows_copied":        rec.RowsCopied,
		"copy_key_columns":   keyCols,
		"copy_low_watermark": watermark,
		"copy_done":          rec.CopyDone,
		"binlog_file":        rec.Position.File,
		"binlog_pos":         uint64(rec.Position.Pos),
		"gtid_position":      rec.GTID,
		"checksum_passed":    rec.ChecksumPassed,
		"shadow_table":       rec.Shadow,
		"time_zone":          rec.TimeZone,
		"alter_clauses":      rec.Alter,
		"deferred_indexes":   indexes,
		"shadow_definition":  rec.ShadowDefinition,
		"reverting":          rec.Reverting,
		"revert_columns":     revertCols,
		"note":               cut(rec.Note, maxNote),
	}, nil
}

// upgrade gives a state table of format 1 the columns of FormatVersion
// (upgradeSQL), so that the run taking its record over can Save it. A
// record of another run is left as it is (TakeOver then refuses it). An
// upgrade stopped between its two statements is finished by the next:
// the column is added only when it is missing.
func (s *Store) upgrade(ctx context.Context, oldRunID, newRunID string) error {
	h, err := s.head(ctx)
	if err != nil || !h.found || h.format != 1 || (h.runID != oldRunID && h.runID != newRunID) {
		return err
	}
	var has int
	if err := s.db.QueryRowContext(ctx, hasColumnSQL, s.database, s.name, "time_zone").Scan(&has); err != nil {
		return fmt.Errorf("upgrade the state in %s from format 1: %w", s.quoted(), err)
	}
	stmts := upgradeSQL(s.database, s.name)
	if has > 0 {
		stmts = stmts[1:]
	}
	// The ALTER waits for every session that holds the state table (a
	// transaction that read it, a dump) and, while it waits, holds up the
	// state's other readers: it gives up after upgradeLockWait. Its
	// session, with that lock_wait_timeout, is then closed, not pooled.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("upgrade the state in %s from format 1: %w", s.quoted(), err)
	}
	defer func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	stmts = append([]string{fmt.Sprintf("SET SESSION lock_wait_timeout = %d", upgradeLockWait)}, stmts...)
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("upgrade the state in %s from format 1 (another session may hold the table: run again once it ends): %w", s.quoted(), err)
		}
	}
	return nil
}

// upgradeLockWait bounds, in seconds, how long the upgrade of a state
// table waits for sessions that hold it.
const upgradeLockWait = 5

// scan reads a row of selectSQL of format.
func (s *Store) scan(row *sql.Row, format int) (*Record, error) {
	var (
		rec              Record
		started, updated any
		keyCols, indexes string
		revertCols       string
		watermark        sql.NullString
		pos              uint64
	)
	dest := []any{&rec.FormatVersion, &rec.TailorVersion, &rec.RunID, &rec.Database, &rec.Table, &rec.Phase,
		&started, &updated, &rec.RowsCopied, &keyCols, &watermark, &rec.CopyDone, &rec.Position.File, &pos, &rec.GTID,
		&rec.ChecksumPassed, &rec.Shadow, &rec.TimeZone, &rec.Alter, &indexes, &rec.ShadowDefinition, &rec.Reverting, &revertCols, &rec.Note}
	if format == 1 {
		dest = slices.DeleteFunc(dest, func(d any) bool { return d == &rec.TimeZone })
		rec.TimeZone = zoneOfFormat1
	}
	err := row.Scan(dest...)
	if err != nil {
		return nil, err
	}
	if pos > math.MaxUint32 {
		return nil, fmt.Errorf("binlog_pos %d is past what this tailor can follow", pos)
	}
	rec.Position.Pos = uint32(pos)
	if rec.StartedAt, err = parseTime(started); err != nil {
		return nil, fmt.Errorf("started_at: %w", err)
	}
	if rec.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, fmt.Errorf("updated_at: %w", err)
	}
	if rec.KeyColumns, err = decodeList(keyCols); err != nil {
		return nil, fmt.Errorf("copy_key_columns: %w", err)
	}
	if rec.DeferredIndexes, err = decodeList(indexes); err != nil {
		return nil, fmt.Errorf("deferred_indexes: %w", err)
	}
	if err := json.Unmarshal([]byte(revertCols), &rec.RevertColumns); err != nil {
		return nil, fmt.Errorf("revert_columns: %w", err)
	}
	if len(rec.RevertColumns) == 0 {
		rec.RevertColumns = nil
	}
	if watermark.Valid {
		if rec.LowWatermark, err = DecodeKey(watermark.String); err != nil {
			return nil, fmt.Errorf("copy_low_watermark: %w", err)
		}
	}
	return &rec, nil
}

// stamp is t as the table keeps it: UTC, to the microsecond.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// parseTime reads a datetime(6) column scanned into an any: text when the
// driver does not parse times, a time.Time when it does (then in the
// driver's location, which read the column's UTC wall clock).
func parseTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.UTC), nil
	case []byte:
		return time.ParseInLocation(timeLayout, string(v), time.UTC)
	case string:
		return time.ParseInLocation(timeLayout, v, time.UTC)
	}
	return time.Time{}, fmt.Errorf("unexpected %T", v)
}

// encodeList stores a list of strings as a JSON array, "[]" when empty.
func encodeList(list []string) (string, error) {
	if len(list) == 0 {
		return "[]", nil
	}
	return marshal(list)
}

// decodeList reads encodeList's array; an empty one is nil.
func decodeList(s string) ([]string, error) {
	var list []string
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, nil
	}
	return list, nil
}

// cut shortens s to at most n bytes, at a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
