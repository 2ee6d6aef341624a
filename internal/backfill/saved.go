package backfill

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
)

// The states of a saved backfill as tailor status reports them: the saved
// status, except that a run that says it is running without holding the
// backfill's lock is a run that died (StateStopped, Crashed).
const (
	StateRunning = statusRunning
	StateStopped = statusStopped
	StateDone    = statusDone
)

// SavedBackfill is one backfill's row of StateTable as tailor status
// shows it, with what the server says of its lock.
type SavedBackfill struct {
	Job string
	// FormatVersion is the row's layout; when it is not the one this
	// tailor reads, only Job, Status, State and LockHolder are set.
	FormatVersion int
	Readable      bool
	// Status is the saved status; State what status reports (see the
	// State constants). Crashed is a saved "running" whose lock no
	// session holds.
	Status, State string
	Crashed       bool
	// LockHolder is the server connection that holds the backfill's lock
	// (a run of it, here or on another machine), 0 for none.
	LockHolder int64
	// Statement is the statement as the row holds it, on one line, its
	// key range shown as "<key range>".
	Statement string
	// Set, Where and Delete are Statement's parts, as the run was given
	// them, when Exact: they make the very job Job names, so that
	// tailor backfill --resume with them finds this backfill. The row
	// holds the statement on one line only, so a --set or --where written
	// over several lines (or with runs of spaces) cannot be recovered.
	Set, Where string
	Delete     bool
	Exact      bool
	// KeyName is the index walked, KeyColumns its columns (nil when the
	// table has no such key now), DefaultKey whether a backfill given no
	// --key walks it.
	KeyName    string
	KeyColumns []string
	DefaultKey bool
	// Upper is the last key of the range walked, Last the last key done
	// (nil: no batch done yet).
	Upper, Last                      []any
	RowsChanged, RowsWalked, Batches int64
	RunID                            string
	// Note is why the run stopped, as it said; empty for a crash.
	Note                             string
	StartedAt, UpdatedAt, FinishedAt time.Time
}

// LockName is the server lock a run of the backfill job holds (GET_LOCK)
// while it runs; the session that holds it ending releases it, so a run
// that dies, even by kill -9, leaves it free.
func LockName(job string) string { return "tailor-backfill:" + job }

// Saved reads the saved backfills of database.table from StateTable, in the
// order they started, and whether a session holds each one's lock. No
// StateTable is no backfill. It changes nothing.
func Saved(ctx context.Context, db *sql.DB, database, table string) ([]SavedBackfill, error) {
	q := "SELECT table_name, job, format_version, status, " +
		"IS_USED_LOCK(CONCAT(?, job)) FROM " + mysql.QuoteTable(database, StateTable) +
		" WHERE table_name = ? ORDER BY started_at, job"
	rows, err := db.QueryContext(ctx, q, LockName(""), table)
	if mysql.ErrorNumber(err) == mysql.ErrNoSuchTable {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the saved backfills from %s: %w", mysql.QuoteTable(database, StateTable), err)
	}
	var out []SavedBackfill
	for rows.Next() {
		var b SavedBackfill
		var name string
		var holder sql.NullInt64
		if err := rows.Scan(&name, &b.Job, &b.FormatVersion, &b.Status, &holder); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the saved backfills: %w", err)
		}
		// table_name compares case-insensitively (utf8mb4's collation);
		// table names are case-sensitive on most servers.
		if name != table {
			continue
		}
		b.LockHolder = holder.Int64
		b.State = effectiveState(b.Status, b.LockHolder)
		b.Crashed = b.Status == statusRunning && b.LockHolder == 0
		out = append(out, b)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read the saved backfills: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the saved backfills: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	t, err := schema.Load(ctx, db, database, table)
	if err != nil && !errors.Is(err, schema.ErrTableNotFound) {
		return nil, fmt.Errorf("read the table of the saved backfills: %w", err)
	}
	for i := range out {
		b := &out[i]
		if b.FormatVersion != formatVersion {
			continue
		}
		rec, err := (&store{db: db, database: database, table: table, job: b.Job}).load(ctx)
		switch {
		case err != nil:
			return nil, err
		case rec == nil:
			continue // deleted meanwhile: say what was read
		}
		b.Readable = true
		b.Statement, b.KeyName = rec.Statement, rec.KeyName
		b.Upper, b.Last = rec.Upper, rec.Last
		b.RowsChanged, b.RowsWalked, b.Batches = rec.RowsChanged, rec.RowsWalked, rec.Batches
		b.RunID, b.Note = rec.RunID, rec.Note
		b.StartedAt, b.UpdatedAt, b.FinishedAt = rec.StartedAt, rec.UpdatedAt, rec.FinishedAt
		if rec.Status != b.Status { // moved on between the two reads
			b.Status, b.State = rec.Status, effectiveState(rec.Status, b.LockHolder)
			b.Crashed = rec.Status == statusRunning && b.LockHolder == 0
		}
		if t != nil {
			b.findParts(t)
		}
	}
	return out, nil
}

// effectiveState is what status reports of a backfill saved with status
// while the session holder (0 for none) holds its lock. A run takes the
// lock before it writes "running", and ends with its session, so a saved
// "running" without a holder is a run that died; a holder of a stopped one
// is a --resume that has not taken it over yet.
func effectiveState(status string, holder int64) string {
	switch {
	case status == statusDone:
		return StateDone
	case holder != 0:
		return StateRunning
	}
	return StateStopped
}

// findParts sets the key's columns and, when they can be recovered from
// the saved statement, its parts (see SavedBackfill.Exact).
func (b *SavedBackfill) findParts(t *schema.Table) {
	keys := t.IdentifyingKeys()
	for i, k := range keys {
		if strings.EqualFold(k.Name, b.KeyName) {
			b.KeyColumns, b.DefaultKey = k.Columns, i == 0
		}
	}
	if b.KeyColumns == nil {
		return
	}
	set, where, del, ok := statementParts(t.Database, t.Name, b.Statement)
	if !ok {
		return
	}
	s := Statement{Database: t.Database, Table: t.Name, Set: set, Where: where, Delete: del, Key: sqlbuild.PlainKey(b.KeyColumns)}
	if s.Job() == b.Job {
		b.Set, b.Where, b.Delete, b.Exact = set, where, del, true
	}
}

// statementParts takes apart a statement as Statement.Text writes it. The
// caller checks the parts against the job's hash: a --set that itself held
// " WHERE (<key range>)" would be cut at the wrong place.
func statementParts(database, table, text string) (set, where string, del, ok bool) {
	const keyRange = "WHERE (<key range>)"
	quoted := mysql.QuoteTable(database, table)
	var rest string
	switch {
	case strings.HasPrefix(text, "UPDATE "+quoted+" SET "):
		body := strings.TrimPrefix(text, "UPDATE "+quoted+" SET ")
		i := strings.Index(body, " "+keyRange)
		if i < 0 {
			return "", "", false, false
		}
		set, rest = body[:i], body[i+len(" "+keyRange):]
	case strings.HasPrefix(text, "DELETE FROM "+quoted+" "+keyRange):
		del, rest = true, strings.TrimPrefix(text, "DELETE FROM "+quoted+" "+keyRange)
	default:
		return "", "", false, false
	}
	switch {
	case rest == "":
	case strings.HasPrefix(rest, " AND (") && strings.HasSuffix(rest, ")"):
		where = rest[len(" AND (") : len(rest)-1]
	default:
		return "", "", false, false
	}
	return set, where, del, true
}
