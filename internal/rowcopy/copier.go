package rowcopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
)

// Copier copies chunks of the original into the shadow.
//
// # Why a chunk copy can never overwrite a newer change
//
// The applier (package apply) writes the binary log's row images into the
// shadow while the copy runs. The two meet on the shadow's rows, and the
// danger is that a copy carries a row as it was before a change whose event
// the applier has already written: the copy would then put back a deleted row
// or an old version of an updated one. A chunk is therefore copied in one
// transaction that
//
//  1. deletes the chunk's key range from the shadow, which removes any row
//     the applier put there for a key the copy has not reached yet (so the
//     copy needs no INSERT IGNORE, REPLACE or ON DUPLICATE KEY UPDATE, each of
//     which can silently drop or overwrite a row), and then
//  2. copies the range with INSERT ... SELECT ... LOCK IN SHARE MODE.
//
// The shared record locks are held until the chunk's insert commits. While
// they are held no transaction can change or delete a row the copy read, so
// no such change can commit, reach the binary log or be applied between the
// copy's read and its write. A change that committed before the read is
// visible to it: a locking read reads the latest committed version, and it
// waits for the lock of a transaction still committing (one whose event may
// already be in the binary log, the group-commit race), including the
// implicit lock of a row it inserted, and then reads that row. A change that
// commits after the copy's read must wait for the copy's locks, so its event
// comes after the copy's rows are in the shadow and is applied on top of
// them. A row inserted into the range after the copy's read passed its place
// is not copied, but its event is applied, and the copy never deletes again
// after step 1, so it stays.
//
// Step 1 locks only the rows it deletes (READ COMMITTED, below), so the
// applier may insert a row into the range between steps 1 and 2: a row
// inserted into the original and applied while the chunk is copied, common
// where writers insert at the end of the table. Step 2 then fails on the
// copy key. The failed statement is rolled back alone, the transaction
// keeps its locks, and the transaction runs steps 1 and 2 again: the row it
// deletes was committed before the applier saw it, so the new read sees
// that row or a later version, and the argument holds for the last round.
//
// The transaction runs in READ COMMITTED. The argument above needs only
// record locks, and REPEATABLE READ would add gap locks on the shadow: the
// copier's range delete and the applier's deletes of keys not yet copied
// would then both lock the gap above the copied rows and both wait to insert
// into it, a deadlock that returns on every chunk (seen on a 1,000,000-row
// table under 300 writes per second).
//
// The applier applies every event since a position taken before the first
// chunk was read, in log order, as "delete the key, then insert the after
// image". For any key, the last write to the shadow is therefore either the
// copy of its latest committed state or the image of its latest event, so
// once the applier has reached a position taken while writes are locked out
// (the cut-over), every row of the shadow equals the original's, and no row
// deleted from the original survives: if the delete came before the copy the
// copy did not see the row and step 1 removed any earlier image of it; if it
// came after, the applier deleted it.
type Copier struct {
	db *sql.DB
	m  *schema.Mapping
	// shadowKey is the name of the shadow's unique index over the copy
	// key's columns.
	shadowKey string
	// LockWaitTimeout bounds how long a chunk waits for application locks.
	LockWaitTimeout time.Duration
	// WaitForApplier is called when a chunk's rows collide with a row the
	// applier wrote on a unique key that is not the copy key: such a row may
	// be an old image the applier will soon replace. The chunk is retried
	// once the applier has caught up; a collision that persists is real.
	WaitForApplier func(ctx context.Context) error
	// BeforeCommit, when set, runs after a chunk's rows are inserted and
	// before its transaction commits, while its locks are held. Tests use it
	// to race writes against the copy.
	BeforeCommit func(ctx context.Context, chunk Chunk)
}

// NewCopier returns a copier for m.
func NewCopier(db *sql.DB, m *schema.Mapping) *Copier {
	return &Copier{db: db, m: m, shadowKey: ShadowKeyName(m), LockWaitTimeout: 10 * time.Second}
}

// ShadowKeyName is the name of the shadow's unique index on exactly the
// copy key's columns (NewMapping made sure there is one).
func ShadowKeyName(m *schema.Mapping) string {
	want := m.KeyNewNames()
	for _, idx := range m.Shadow.Indexes {
		if !idx.Unique || len(idx.Columns) != len(want) {
			continue
		}
		all := true
		for _, col := range want {
			all = all && slices.ContainsFunc(idx.Columns, func(c string) bool { return strings.EqualFold(c, col) })
		}
		if all {
			return idx.Name
		}
	}
	return ""
}

// RowError is a row that the shadow cannot hold as it is: strict mode
// rejected it, or writing it raised a warning (a value that would be stored
// differently). The copier and the applier both report it.
type RowError struct {
	// Changed is true for a row written by the applier (a change captured
	// from the binary log), false for a row the copy read.
	Changed bool
	Key     []any
	KeyCols []string
	// Values are the row's values by shadow column, when known.
	Values  map[string]any
	Message string
	// Err is the server's error.
	Err error
}

// Unwrap returns the server's error.
func (e *RowError) Unwrap() error { return e.Err }

func (e *RowError) Error() string {
	parts := make([]string, len(e.KeyCols))
	for i, c := range e.KeyCols {
		parts[i] = fmt.Sprintf("%s=%v", c, Printable(e.Key[i]))
	}
	what := "the row"
	if e.Changed {
		what = "the changed row"
	}
	return fmt.Sprintf("the new table cannot hold %s with %s as it is: %s", what, strings.Join(parts, ", "), e.Message)
}

// Printable shows a []byte value as text in messages.
func Printable(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

// Copy copies one chunk, retrying deadlocks and lock wait timeouts a few
// times, and returns the number of rows copied.
func (c *Copier) Copy(ctx context.Context, chunk Chunk) (int64, error) {
	const attempts = 10
	var waited bool
	for attempt := 1; ; attempt++ {
		n, err := c.copyOnce(ctx, chunk)
		if err == nil {
			return n, nil
		}
		switch {
		case mysql.IsRetryable(err) && attempt < attempts:
			if err := mysql.Backoff(ctx, time.Duration(attempt)*50*time.Millisecond); err != nil {
				return 0, err
			}
			continue
		case mysql.ErrorNumber(err) == mysql.ErrDupEntry && !waited && c.WaitForApplier != nil:
			waited = true
			if err := c.WaitForApplier(ctx); err != nil {
				return 0, fmt.Errorf("copy chunk %s: %w", chunk, err)
			}
			continue
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		var warn *warningError
		if mysql.ErrorNumber(err) != 0 || errors.As(err, &warn) {
			if rowErr := c.locate(ctx, chunk); rowErr != nil {
				return 0, fmt.Errorf("copy chunk %s: %w", chunk, rowErr)
			}
		}
		return 0, fmt.Errorf("copy chunk %s: %w", chunk, err)
	}
}

type warningError struct{ msg string }

func (e *warningError) Error() string { return "the server warned: " + e.msg }

func (c *Copier) copyOnce(ctx context.Context, chunk Chunk) (int64, error) {
	dst := c.m.Shadow
	tx, err := c.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET SESSION innodb_lock_wait_timeout = %d", max(1, int(c.LockWaitTimeout.Seconds())))); err != nil {
		return 0, err
	}
	delCond, delArgs := sqlbuild.Range(c.m.KeyNewNames(), chunk.Lower, chunk.Upper)
	var n int64
	for attempt := 1; ; attempt++ {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+mysql.QuoteTable(dst.Database, dst.Name)+" WHERE "+delCond, delArgs...); err != nil {
			return 0, err
		}
		n, err = c.insertSelect(ctx, tx, chunk.Lower, chunk.Upper, nil)
		if err == nil {
			break
		}
		// The applier wrote a row of the range after the DELETE (READ
		// COMMITTED takes no gap locks): a row inserted into the original
		// and applied while this chunk was being copied, common where
		// writers insert at the end of the table. The failed statement
		// was rolled back on its own, the transaction keeps its locks, and
		// the copy's version of that row is at least as new as the
		// applier's (see the Copier comment), so delete and copy again.
		if attempt >= CopyKeyRetries || !IsDuplicateOn(err, c.shadowKey) {
			return 0, err
		}
	}
	if c.BeforeCommit != nil {
		c.BeforeCommit(ctx, chunk)
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return n, nil
}

// CopyKeyRetries bounds the delete-and-insert rounds of one transaction of
// the copier or the applier that meet a row the other has just written.
const CopyKeyRetries = 20

// IsDuplicateOn reports whether err is a duplicate on the shadow's index
// key, the unique key over the copy key's columns. For the copier such a
// duplicate can only be a row of the chunk's own range that the applier
// wrote, and for the applier a row the copier wrote; one on another unique
// key is a real conflict between two rows (or a change the applier has not
// reached yet), which a second round cannot mend.
func IsDuplicateOn(err error, key string) bool {
	if mysql.ErrorNumber(err) != mysql.ErrDupEntry || key == "" {
		return false
	}
	// MariaDB: "Duplicate entry '5' for key 'PRIMARY'"; MySQL 8.0.19 and
	// later qualify the key with the table: "for key 't.PRIMARY'".
	msg := err.Error()
	i := strings.LastIndex(msg, " for key '")
	if i < 0 {
		return false
	}
	got := strings.TrimSuffix(msg[i+len(" for key '"):], "'")
	if j := strings.LastIndex(got, "."); j >= 0 && !strings.EqualFold(got, key) {
		got = got[j+1:]
	}
	return strings.EqualFold(got, key)
}

// insertSelect copies the range (lower, upper], or the one row with key
// exactly when key is not nil, and fails on any warning.
func (c *Copier) insertSelect(ctx context.Context, tx *sql.Tx, lower, upper, key []any) (int64, error) {
	cond, args := sqlbuild.Range(c.m.KeyOldNames(), lower, upper)
	if key != nil {
		cond, args = sqlbuild.KeyEquals(c.m.KeyOldNames(), key)
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s FORCE INDEX (%s) WHERE %s LOCK IN SHARE MODE",
		mysql.QuoteTable(c.m.Shadow.Database, c.m.Shadow.Name), mysql.QuoteIdents(c.m.NewNames()),
		mysql.QuoteIdents(c.m.OldNames()), mysql.QuoteTable(c.m.Source.Database, c.m.Source.Name),
		mysql.QuoteIdent(c.m.KeyName), cond)
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	if err := CheckWarnings(ctx, tx); err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// CheckWarnings fails when the last statement on tx raised a warning or a
// note: even in strict mode some lossy conversions (rounding a DECIMAL, for
// one) are only noted, and a row stored differently from the original is a
// wrong row.
func CheckWarnings(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SHOW WARNINGS LIMIT 3")
	if err != nil {
		return fmt.Errorf("read warnings: %w", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var level, msg string
		var code int
		if err := rows.Scan(&level, &code, &msg); err != nil {
			return fmt.Errorf("read warnings: %w", err)
		}
		msgs = append(msgs, fmt.Sprintf("%s %d: %s", level, code, msg))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read warnings: %w", err)
	}
	if len(msgs) > 0 {
		return &warningError{msg: strings.Join(msgs, "; ")}
	}
	return nil
}

// locate finds the first row of a failed chunk that fails on its own, so the
// error can name its key. Each probe is rolled back.
func (c *Copier) locate(ctx context.Context, chunk Chunk) *RowError {
	keyCols := c.m.KeyOldNames()
	cond, args := sqlbuild.Range(keyCols, chunk.Lower, chunk.Upper)
	rows, err := c.db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s",
		mysql.QuoteIdents(keyCols), mysql.QuoteTable(c.m.Source.Database, c.m.Source.Name), cond, sqlbuild.OrderBy(keyCols, false)), args...)
	if err != nil {
		return nil
	}
	var keys [][]any
	for rows.Next() {
		vals := make([]any, len(keyCols))
		ptrs := make([]any, len(keyCols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if rows.Scan(ptrs...) == nil {
			keys = append(keys, vals)
		}
	}
	rows.Close()
	for _, key := range keys {
		tx, err := c.db.BeginTx(ctx, nil)
		if err != nil {
			return nil
		}
		dcond, dargs := sqlbuild.KeyEquals(c.m.KeyNewNames(), key)
		_, err = tx.ExecContext(ctx, "DELETE FROM "+mysql.QuoteTable(c.m.Shadow.Database, c.m.Shadow.Name)+" WHERE "+dcond, dargs...)
		if err == nil {
			_, err = c.insertSelect(ctx, tx, nil, nil, key)
		}
		_ = tx.Rollback()
		if err != nil && !mysql.IsRetryable(err) {
			return &RowError{Key: key, KeyCols: keyCols, Message: err.Error(), Err: err}
		}
	}
	return nil
}
