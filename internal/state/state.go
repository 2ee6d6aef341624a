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
// # Why a resume gives the table an uninterrupted run would
//
// The copy's argument (rowcopy.Copier) is that the shadow ends equal to the
// original when (a) every chunk of the key space is copied, each by a
// transaction that deletes its key range in the shadow and inserts the
// original's rows of that range, read with shared locks, and (b) every
// change committed after a position taken before the first chunk was read
// is applied, in log order, as "delete the key, insert its last image". For
// any key, the last write to the shadow is then the copy of its latest
// state or the image of its latest change, and both are its state at the
// cut-over. A checkpoint saves a pair (L, P): L, the low-watermark, is the
// upper bound of the last chunk such that it and every chunk before it
// have committed; P is a position at a transaction's boundary such that
// every change to the table before P has been applied (the end of the last
// transaction the applier committed). Both only move forward, and each is
// read from what has committed, so a crash at any moment leaves a saved
// pair that was true when it was saved, and stays true: nothing a later
// moment does undoes a committed chunk or an applied change, it only
// repeats them.
//
// A resume copies every chunk above L and applies every change from P on,
// starting the binary log reader at P before the first chunk above L is
// read. (a) holds: the chunks at or below L committed in earlier runs, and
// the rest are copied now; a chunk above L that an earlier run copied too
// (workers finish out of order, so some chunks above L may be done) is
// deleted and copied again, which its own transaction makes harmless. (b)
// holds: the changes before P were applied by earlier runs, in log order,
// and every change from P on is applied by this run, in log order, after
// them; a change an earlier run applied after P, or applied in the batch
// that was in flight when it stopped (a transaction the server rolled back
// when its client died), is applied again, and "delete the key, insert its
// last image" leaves the same row however often it runs. The chunks at or
// below L were read by earlier runs while their appliers followed the log,
// so a change committed after such a read is either before P, and was
// applied then, or from P on, and is applied now. Indexes
// deferred until after the copy change nothing of this: they are built by
// one ALTER, which either ran (the shadow has them all) or not (it has
// none; the resume builds them after the copy), and the checkpoint records
// which definitions to build. The checksum is kept as passed only once it
// passed, after the copy was complete; from then on the shadow is kept in
// step by the applier alone, which the resume restarts at P.
//
// What a resume checks first, since the argument needs them: the same ALTER
// and copy key, the run's own shadow (its definition as the record saved
// it, with or without the deferred indexes), and the binary log file of P
// still on the server. A statement an earlier run left running on the
// shadow (an index build goes on after its client died) is killed before
// anything else.
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
// never wrote does not bump it, nor did an ENUM or SET of the key becoming
// its number (schema.HeldKeyValue) instead of its name: an older run that
// reads a number binds it, which compares in the index's order, and runs
// since convert a saved name (schema.KeyAsHeld). Version 2 added
// time_zone (Record.TimeZone): a run of version 1 converted every value
// between a TIMESTAMP and another type in +00:00, so a record of version
// 1 is read as one of version 2 in that zone, and its table gets the
// column when a run takes the record over (upgradeSQL).
const FormatVersion = 2

// zoneOfFormat1 is the time zone a run of format 1 converted in.
const zoneOfFormat1 = "+00:00"

// readable reports whether this tailor reads records of format.
func readable(format int) bool { return format == FormatVersion || format == 1 }

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
	// shadow is to get after the copy, as SHOW CREATE TABLE prints them
	// ("KEY `name` (`column`)").
	DeferredIndexes []string
	// ShadowDefinition is the shadow's definition as the ALTER made it, as
	// SHOW CREATE TABLE prints it (deferred indexes included), so that a
	// resume can tell the run's shadow from another table of its name.
	ShadowDefinition string
	// Reverting says the migration is a revert: it brings the table back
	// to the definition it had before the migration RevertColumns
	// belongs to (tailor revert), with Shadow the table kept at that
	// migration's cut-over.
	Reverting bool
	// RevertColumns, once a migration has swapped the tables and kept the
	// one it replaced (Phase "done"), pair each column of the table as it
	// is now with the column of the kept table it came from or goes back
	// to: what a revert copies. Shadow is then the kept table and Position
	// the binary log position of the swap.
	RevertColumns [][2]string
	// TimeZone is the time zone in which the copy converts a value
	// between a TIMESTAMP and another type (schema.Mapping.TimeZone): a
	// resume, and a revert, must convert in the same one.
	TimeZone string
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
		"shadow": r.Shadow, "time zone": r.TimeZone, "shadow definition": r.ShadowDefinition, "phase": r.Phase, "GTID position": r.GTID, "note": r.Note,
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
	return fmt.Sprintf("the saved state of %s is in format %d, written by tailor %s; this tailor reads format %d (and format 1) only",
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
