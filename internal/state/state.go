// Package state keeps the saved state of a migration in the server, so that
// a migration that stopped (a crash, a lost server, a cut-over that never
// got its lock) can be resumed by a later run instead of started over.
//
// The state of the migration of table T is one row of a table tailor owns
// next to T, T_tailor_state (TableName), with one column per field of
// Record; docs/state.md describes them for operators. A run creates the
// row (Store.Create), writes it at every checkpoint and phase change
// (Store.Save), and drops the table when the migration is over
// (Store.Drop). A later run reads it (Store.Load) and, to resume, takes it
// over (Store.TakeOver).
//
// Ownership. The row names the run that owns it (Record.RunID). Save is a
// single UPDATE conditioned on that run id, so once another run has taken
// the state over, the first run's next Save fails with an *OwnerError
// instead of overwriting the newer run's progress: of two runs, only one
// ever writes. (Runs of one table are also kept apart by the runner's
// server lock; the condition holds even when that lock was lost.)
//
// Format. The row's layout has a version, FormatVersion, stored with it. A
// run reads only its own format: Load returns a *FormatError for a row of
// another one, and a resume must then start over. The table name and the
// columns format_version, tailor_version and run_id never change, so any
// tailor can say which format, which tailor and which run wrote a row.
//
// Replication. The state table is an ordinary InnoDB table with a primary
// key, written by small single-row statements with every value bound as a
// parameter (no NOW(), no UUID()), so it replicates under any binlog_format
// and a replica applies each row event by its primary key. The capture
// follows only the original table, so its own writes never reach the
// shadow.
package state

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/cutover"
	"github.com/tailor-osc/tailor/internal/mysql"
)

// FormatVersion is the version of the state table's layout and of the
// meaning of its columns. It is bumped by any change a run of the previous
// version would misread: a column added, removed, renamed or retyped, a
// change to the key encoding (EncodeKey), or a new meaning of a phase or of
// the low-watermark. Adding a key value type to EncodeKey that older runs
// never wrote does not bump it.
const FormatVersion = 1

// Suffix makes the state table's name from the original's.
const Suffix = "_tailor_state"

// TableName is the name of the state table of table: table + Suffix, made
// by cutover.NameAfter like tailor's other tables, so that a long name is
// cut the same way theirs is. It returns "" for a name no name can sort
// after (see cutover.NameAfter).
func TableName(table string) string { return cutover.NameAfter(table, Suffix) }

// Record is the saved state of one migration: one row of the state table.
type Record struct {
	// FormatVersion is the format the record was read in; Create and Save
	// always write FormatVersion, whatever it holds.
	FormatVersion int
	// TailorVersion is the version of the tailor that last wrote the
	// record.
	TailorVersion string
	// RunID names the run that owns the record; only it can Save.
	RunID string
	// Database and Table name the original table. The Store fills them in
	// when they are empty and refuses a record of another table.
	Database, Table string
	// Alter is the ALTER's clauses, as given.
	Alter string
	// Shadow is the shadow table's name.
	Shadow string
	// Phase is the runner's phase, in its String() form ("copy",
	// "cut-over", ...).
	Phase string
	// KeyColumns are the names of the copy key's columns in the original,
	// in key order, so that a resume can tell when the key changed.
	KeyColumns []string
	// LowWatermark is a key on the copy key: every row at or below it is
	// in the shadow. Nil means no chunk is known to be copied. Its values
	// are those of rowcopy.Chunk's bounds (see EncodeKey).
	LowWatermark []any
	// CopyDone says every chunk, up to the end of the key space, is in the
	// shadow: a key cannot say "past the last row", and nil LowWatermark
	// says the opposite.
	CopyDone bool
	// RowsCopied counts the rows copied so far, over every run.
	RowsCopied int64
	// Position is the binary log position up to which every change has
	// been applied to the shadow; GTID is the same position as the
	// server's GTID position, or "" when it has none.
	Position capture.Position
	GTID     string
	// DeferredIndexes are the definitions of the secondary indexes the
	// shadow is to get after the copy.
	DeferredIndexes []string
	// ChecksumPassed says the checksum compared the copy with the original
	// and found them equal.
	ChecksumPassed bool
	// StartedAt is when the migration was created (Create sets it when it
	// is zero); UpdatedAt when the record was last written (Create, Save
	// and TakeOver set it). Both are UTC, to the microsecond.
	StartedAt, UpdatedAt time.Time
	// Note is free text for people: the last error, why the run stopped.
	Note string
}

// validate refuses a record the table cannot hold as it is: the text
// columns are utf8mb4, and invalid UTF-8 would be refused by the server in
// strict mode, or silently changed by encoding/json in a JSON column.
func (r *Record) validate() error {
	if r.RunID == "" {
		return errors.New("the record has no run id")
	}
	texts := map[string]string{
		"run id": r.RunID, "tailor version": r.TailorVersion, "alter": r.Alter,
		"shadow": r.Shadow, "phase": r.Phase, "GTID position": r.GTID, "note": r.Note,
		"binary log file": r.Position.File,
	}
	for what, s := range texts {
		if !utf8.ValidString(s) {
			return fmt.Errorf("the record's %s is not valid UTF-8", what)
		}
	}
	for _, list := range [][]string{r.KeyColumns, r.DeferredIndexes} {
		for _, s := range list {
			if !utf8.ValidString(s) {
				return fmt.Errorf("the record holds text that is not valid UTF-8: %q", s)
			}
		}
	}
	return nil
}

// ErrExists is returned by Create when the state table already holds a
// record: a migration of the table was started and not finished.
var ErrExists = errors.New("a saved state already exists")

// ErrNoRecord is returned by Save and TakeOver when there is no record to
// write: it was dropped, or never created.
var ErrNoRecord = errors.New("no saved state")

// ErrNotState is returned when the table named like a state table is not
// one tailor made (it lacks the columns, or the comment, of a state
// table); tailor neither reads, writes nor drops it.
var ErrNotState = errors.New("not a tailor state table")

// FormatError is returned by Load and TakeOver for a record of another
// format than FormatVersion: this tailor cannot resume it.
type FormatError struct {
	Database, Table string
	// Found is the record's format; Want is FormatVersion.
	Found, Want int
	// TailorVersion is the tailor that wrote the record.
	TailorVersion string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("the saved state of %s is in format %d, written by tailor %s; this tailor reads format %d only",
		mysql.QuoteTable(e.Database, e.Table), e.Found, e.TailorVersion, e.Want)
}

// OwnerError is returned by Save and TakeOver when the record belongs to
// another run than the one writing: another run took it over.
type OwnerError struct {
	Database, Table string
	// RunID is the run that tried to write; Owner the run that owns the
	// record.
	RunID, Owner string
}

func (e *OwnerError) Error() string {
	return fmt.Sprintf("the saved state of %s belongs to run %s, not to run %s: another run took it over",
		mysql.QuoteTable(e.Database, e.Table), e.Owner, e.RunID)
}
