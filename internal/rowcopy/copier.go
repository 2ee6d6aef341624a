package rowcopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
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
// copy key (on the shadow's unique key that starts with the copy key's
// columns, schema.Mapping.ShadowKey), or on a unique key the server checks
// before it (the shadow's primary key, when the ALTER changes it, meets an
// applier's row equal to the copy's first), which is taken for such a row
// only while step 1 run again deletes a row and the same entry does not
// come back (OtherSidesRow). The failed
// statement is rolled back alone, the transaction keeps its locks, and the
// transaction runs steps 1 and 2 again: the row it deletes was committed
// before the applier saw it, so the new read sees that row or a later
// version, and the argument holds for the last round. When the shadow's key extends the copy key, a read
// that sees a later version than the applier's image may differ from it in
// the added columns and meet no duplicate: the key then has two rows until
// the applier applies the later version's event, which comes after in the
// log (the copy's shared lock held that change back until the copy
// committed) and deletes every row of the key before inserting its image.
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
//
// # Unique values that move between rows
//
// The argument above is about one key at a time. A unique key other than
// the copy key relates rows of different keys, which the copy and the
// applier show at different moments: the copy reads the original as it is
// now, the shadow's other rows are as of the last change applied. When the
// application moves a unique value from one row to another (a primary key
// update, an e-mail given to another account, a swap) and the copy reads
// the row that holds it now before the applier has applied the move, the
// insert meets the shadow's old row that still holds the value: a duplicate
// the original never had. Waiting for the applier and copying the range
// again does not settle it on a busy table, since the new read may meet the
// next move (the last chunk meets every row moved to the end of the key).
// After any duplicate the chunk is therefore copied again in one
// transaction that
//
//  1. reads the keys of the range's rows with a shared lock on each, so that
//     none of them changes until the transaction ends (on the row itself:
//     InnoDB's shared lock on an index that holds every column read leaves
//     the row's other columns free to change, so the read names more,
//     rowLockColumns);
//  2. waits until the applier has applied every change up to a binary log
//     position read after step 1; and
//  3. deletes exactly those keys from the shadow and copies exactly those
//     rows, as in steps 1 and 2 above.
//
// Rows inserted into the range after step 1 are neither deleted nor copied:
// their keys had no row in the original at step 1, and every change to the
// key before it is applied by step 2, so the shadow's row for such a key is
// the applier's, which applies the key's events in order as for a key whose
// chunk was copied long ago. Where every copied column is in the index's
// records (rowLockColumns has none to add), a change after step 1 to
// columns the copy does not write may go on, and its event be applied
// between step 3's delete and insert for a key whose shadow row the delete
// did not find: the round then meets the applier's row of the same key, as
// in the chunk's first copy, and is run again (OtherSidesRow). Any other
// duplicate in step 3 is a real one: the
// copied row has held its value since step 1, and the row it meets holds
// the state of its key at some moment after step 1 (the applier has passed
// it), when the original therefore held both rows with the same value. Only
// a unique key the ALTER adds (or one whose values it makes equal, by a
// collation say) can meet that, over duplicated data; the copy stops there
// and names the row.
//
// Step 2 holds no lock on the shadow, and the applier takes no lock on the
// original, so the applier never waits for this transaction. Application
// writes to the locked rows wait for step 2, as they wait for any chunk's
// copy; before step 1 the copier waits for the applier without any lock, so
// that step 2 waits only for the changes made meanwhile, and step 2 gives up
// after LockWaitTimeout (the transaction is rolled back and tried again) so
// that a cycle through the application (a writer waiting for these rows
// while holding one that another chunk's copy, which the applier waits for,
// needs) lasts no longer than a lock wait.
type Copier struct {
	db *sql.DB
	m  *schema.Mapping
	// values is the SELECT list of every copy (CopiedValues), built once.
	values string
	// shadowKey is the name of the shadow's unique index over the copy
	// key's columns.
	shadowKey string
	// LockWaitTimeout bounds how long a chunk waits for application locks,
	// and how long it holds the rows it locked while it waits for the
	// applier.
	LockWaitTimeout time.Duration
	// WaitForApplier waits until the applier has applied every change
	// committed before the call. When it is set, a chunk that meets a
	// duplicate is copied again once the applier has passed the copy's read
	// (see "Unique values that move between rows"); when it is not, any
	// duplicate stops the copy.
	WaitForApplier func(ctx context.Context) error
	// Logger, when set, hears of chunks copied again after a duplicate.
	Logger *slog.Logger
	// BeforeCommit, when set, runs after a chunk's rows are inserted and
	// before its transaction commits, while its locks are held. Tests use it
	// to race writes against the copy.
	BeforeCommit func(ctx context.Context, chunk Chunk)
	// afterDelete, when set, runs between a round's delete and its
	// insert. Tests use it to write a row as the applier would.
	afterDelete func(ctx context.Context)
}

// NewCopier returns a copier for m.
func NewCopier(db *sql.DB, m *schema.Mapping) *Copier {
	return &Copier{db: db, m: m, values: CopiedValues(m), shadowKey: ShadowKeyName(m), LockWaitTimeout: 10 * time.Second}
}

// ShadowKeyName is the name of the shadow's unique index that starts with
// the copy key's columns (schema.Mapping.ShadowKey): a duplicate on it is a
// row of the same key.
func ShadowKeyName(m *schema.Mapping) string { return m.ShadowKey }

// RowError is a row that the shadow cannot hold as it is: strict mode
// rejected it, or writing it raised a warning (a value that would be stored
// differently). The copier and the applier both report it.
type RowError struct {
	// Changed is true for a row written by the applier (a change captured
	// from the binary log), false for a row the copy read.
	Changed bool
	// Key is the row's key as messages show it (schema.ShownKey).
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
	if key := duplicateKey(e.Err); key != "" {
		return fmt.Sprintf("the new table cannot hold %s with %s: another row of the original has the same value of the new table's unique key %s (%s)", what, strings.Join(parts, ", "), key, e.Message)
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
	caughtUp := false
	for attempt := 1; ; attempt++ {
		var n int64
		var err error
		if caughtUp {
			n, err = c.copyCaughtUp(ctx, chunk)
		} else {
			n, err = c.copyOnce(ctx, chunk)
		}
		if err == nil {
			return n, nil
		}
		switch {
		case (mysql.IsRetryable(err) || errors.Is(err, errApplierBehind)) && attempt < attempts:
			if err := mysql.Backoff(ctx, time.Duration(attempt)*50*time.Millisecond); err != nil {
				return 0, err
			}
			continue
		case mysql.ErrorNumber(err) == mysql.ErrDupEntry && !caughtUp && c.WaitForApplier != nil:
			// Perhaps a unique value the applier has not yet moved out of
			// the way; a duplicate after the applier has passed the
			// copy's read is real (see the Copier comment).
			if c.Logger != nil {
				c.Logger.Info("a chunk met a duplicate; copying it again once the applier has passed its read", "chunk", chunk.String(), "err", err)
			}
			caughtUp = true
			continue
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		var warn *warningError
		if !mysql.IsConnectionLost(err) && (mysql.ErrorNumber(err) != 0 || errors.As(err, &warn)) {
			if rowErr := c.locate(ctx, chunk); rowErr != nil {
				return 0, fmt.Errorf("copy chunk %s: %w", chunk, rowErr)
			}
		}
		return 0, fmt.Errorf("copy chunk %s: %w", chunk, err)
	}
}

type warningError struct{ msg string }

func (e *warningError) Error() string { return "the server warned: " + e.msg }

// errApplierBehind is a caught-up copy that gave up waiting for the applier
// while it held its rows; it is tried again.
var errApplierBehind = errors.New("the applier did not catch up while the chunk's rows were locked")

// begin starts a chunk's transaction (READ COMMITTED: see the Copier
// comment).
func (c *Copier) begin(ctx context.Context) (*sql.Tx, error) {
	tx, err := c.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET SESSION innodb_lock_wait_timeout = %d", max(1, int(c.LockWaitTimeout.Seconds())))); err != nil {
		tx.Rollback() //nolint:errcheck // the error above is the one to report
		return nil, err
	}
	return tx, nil
}

// commit commits a chunk's transaction, after the test hook.
func (c *Copier) commit(ctx context.Context, tx *sql.Tx, chunk Chunk) error {
	if c.BeforeCommit != nil {
		c.BeforeCommit(ctx, chunk)
	}
	return tx.Commit()
}

// copyOnce copies the chunk's range: steps 1 and 2 of the Copier comment.
func (c *Copier) copyOnce(ctx context.Context, chunk Chunk) (int64, error) {
	tx, err := c.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	delCond, delArgs := sqlbuild.Range(c.m.NewRangeKey(), chunk.Lower, chunk.Upper)
	selCond, selArgs := sqlbuild.Range(c.m.OldRangeKey(), chunk.Lower, chunk.Upper)
	n, err := c.replaceRows(ctx, tx, delCond, delArgs, selCond, selArgs)
	if err != nil {
		return 0, err
	}
	return n, c.commit(ctx, tx, chunk)
}

// keysPerStatement bounds the keys a caught-up copy names in one
// statement.
const keysPerStatement = 1000

// copyCaughtUp copies the rows the chunk's range holds at one moment, once
// the applier has applied every change up to that moment: steps 1 to 3 of
// "Unique values that move between rows" in the Copier comment.
func (c *Copier) copyCaughtUp(ctx context.Context, chunk Chunk) (int64, error) {
	if err := c.WaitForApplier(ctx); err != nil {
		return 0, err
	}
	tx, err := c.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	keys, err := c.lockKeys(ctx, tx, chunk)
	if err != nil {
		return 0, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, c.LockWaitTimeout)
	err = c.WaitForApplier(waitCtx)
	cancel()
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return 0, errApplierBehind
		}
		return 0, err
	}
	var n int64
	for start := 0; start < len(keys); start += keysPerStatement {
		part := keys[start:min(start+keysPerStatement, len(keys))]
		delCond, delArgs := sqlbuild.KeyIn(c.m.KeyNewNames(), part)
		selCond, selArgs := sqlbuild.KeyIn(c.m.KeyOldNames(), part)
		copied, err := c.replaceRows(ctx, tx, delCond, delArgs, selCond, selArgs)
		if err != nil {
			return 0, err
		}
		n += copied
	}
	return n, c.commit(ctx, tx, chunk)
}

// lockKeys reads the keys of the chunk's rows in the original, in key
// order, with a shared lock on each row.
func (c *Copier) lockKeys(ctx context.Context, tx *sql.Tx, chunk Chunk) ([][]any, error) {
	walk := WalkOf(c.m)
	keyCols := walk.Columns
	cond, args := walk.Range(chunk.Lower, chunk.Upper)
	read := walk.SelectList()
	lockCols := rowLockColumns(c.m)
	if len(lockCols) > 0 {
		read += ", " + mysql.QuoteIdents(lockCols)
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s FORCE INDEX (%s) WHERE %s ORDER BY %s LOCK IN SHARE MODE",
		read, mysql.QuoteTable(c.m.Source.Database, c.m.Source.Name), mysql.QuoteIdent(c.m.KeyName),
		cond, walk.OrderBy(false)), args...)
	if err != nil {
		return nil, err
	}
	return scanKeys(rows, walk, len(keyCols)+len(lockCols))
}

// rowLockColumns are copied columns of the original that the copy key's
// index does not hold, none when the index is the primary key. InnoDB
// locks only the index records of a locking read that the index alone
// answers (MariaDB 10.11: an UPDATE of another column of a row read so
// with LOCK IN SHARE MODE does not wait), so a read of the keys names these
// columns too, to reach and lock the row itself. Where there are none, a
// change to a column not copied may go on: it changes nothing the copy
// writes, though the applier writes the key's row again for it (see the
// Copier comment).
//
// A secondary index's records also hold the row's clustered key: the
// primary key's columns or, without one, those of the first unique index
// over NOT NULL columns in the server's order, which the definition here
// does not tell; so there must be a column outside the index and each
// index that may be the clustered one, the narrowest (its value is read
// for nothing: a fixed-size type before a string, a string before a type
// of unknown size). Where every copied column is in both, there is nothing
// to lock beyond the index.
func rowLockColumns(m *schema.Mapping) []string {
	var walk schema.Index
	if i := slices.IndexFunc(m.Source.Indexes, func(idx schema.Index) bool { return idx.Name == m.KeyName }); i >= 0 {
		walk = m.Source.Indexes[i]
	}
	if walk.IsPrimary() {
		return nil
	}
	var clustered []schema.Index
	if primary, ok := m.Source.PrimaryKey(); ok {
		clustered = []schema.Index{primary}
	} else {
		for _, idx := range m.Source.Indexes {
			if idx.Unique && !idx.Nullable {
				clustered = append(clustered, idx)
			}
		}
	}
	// The narrowest copied column that none of the indexes holds (all but
	// the walk when one is not enough); "" when there is none.
	narrowest := func(of []schema.Index) string {
		best, width := "", int64(-1)
		for _, name := range m.OldNames() {
			col, ok := m.Source.Column(name)
			held := fullyIn(walk, name) || slices.ContainsFunc(of, func(idx schema.Index) bool { return fullyIn(idx, name) })
			if w := readWidth(col); ok && !held && (width < 0 || w < width) {
				best, width = name, w
			}
		}
		return best
	}
	if col := narrowest(clustered); col != "" {
		return []string{col}
	}
	var picked []string
	for _, c := range clustered {
		outside := func(col string) bool { return !fullyIn(walk, col) && !fullyIn(c, col) }
		if slices.ContainsFunc(picked, outside) {
			continue
		}
		if col := narrowest([]schema.Index{c}); col != "" {
			picked = append(picked, col)
		}
	}
	return picked
}

// readWidth is about the most bytes a value of col takes to read: its
// octet length for a string, 8 for the fixed-size types, and more than any
// string for those of unknown size (geometry, ...).
func readWidth(col schema.Column) int64 {
	switch {
	case col.OctetLength > 0:
		return col.OctetLength
	case col.Family() == schema.FamOther:
		return math.MaxInt64
	}
	return 8
}

// fullyIn reports whether idx holds the whole value of column col (a
// prefix leaves the rest of it in the row).
func fullyIn(idx schema.Index, col string) bool {
	for i, c := range idx.Columns {
		if strings.EqualFold(c, col) {
			return i >= len(idx.SubParts) || idx.SubParts[i] == 0
		}
	}
	return false
}

// scanKeys reads rows of width columns whose first are walk's key values,
// read with its SelectList, and closes rows.
func scanKeys(rows *sql.Rows, walk KeyWalk, width int) ([][]any, error) {
	n := len(walk.Columns)
	defer rows.Close()
	var keys [][]any
	for rows.Next() {
		vals := make([]any, width)
		ptrs := make([]any, width)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		// Not a slice of vals: the columns read to lock the row are not
		// kept for the whole transaction.
		keys = append(keys, walk.Scanned(slices.Clone(vals[:n])))
	}
	return keys, rows.Err()
}

// replaceRows deletes the shadow's rows matching delCond and copies the
// original's rows matching selCond, the same keys, in their place.
func (c *Copier) replaceRows(ctx context.Context, tx *sql.Tx, delCond string, delArgs []any, selCond string, selArgs []any) (int64, error) {
	dst := c.m.Shadow
	var dup, prevDup error
	for attempt := 1; ; attempt++ {
		res, err := tx.ExecContext(ctx, "DELETE FROM "+mysql.QuoteTable(dst.Database, dst.Name)+" WHERE "+delCond, delArgs...)
		if err != nil {
			return 0, err
		}
		if dup != nil && !IsDuplicateOn(dup, c.shadowKey) {
			// A duplicate on another of the shadow's unique keys (its
			// primary key, when the ALTER changes it, is checked first)
			// may be the applier's row of these keys only if the delete
			// found one now (or it may be another row of the range the
			// applier wrote, and the duplicate another row's value: see
			// OtherSidesRow).
			if removed, err := res.RowsAffected(); err != nil || !OtherSidesRow(dup, prevDup, removed) {
				return 0, dup
			}
		}
		if c.afterDelete != nil {
			c.afterDelete(ctx)
		}
		n, err := c.insertWhere(ctx, tx, selCond, selArgs)
		if err == nil {
			return n, nil
		}
		// The applier wrote a row of these keys after the DELETE (READ
		// COMMITTED takes no gap locks): a row inserted into the original
		// and applied while this chunk was being copied, common where
		// writers insert at the end of the table. The failed statement
		// was rolled back on its own, the transaction keeps its locks, and
		// the copy's version of that row is at least as new as the
		// applier's (see the Copier comment), so delete and copy again.
		// The server reports the first unique index the row fails on, so
		// the applier's row of the same key shows as a duplicate on the
		// shadow's key over the copy key's columns, or on one checked
		// before it; the next DELETE tells the latter apart.
		if attempt >= CopyKeyRetries || mysql.ErrorNumber(err) != mysql.ErrDupEntry {
			return 0, err
		}
		dup, prevDup = err, dup
	}
}

// OtherSidesRow reports whether dup, a duplicate on a unique key of the
// shadow other than the one over the copy key's columns, may be the other
// side's row of the keys being written (the copier's for the applier, the
// applier's for the copier), written between their delete and their
// insert: the delete run again removed rows (besides any the failed round
// inserted itself), and the same entry did not also meet the round before
// (prev). A delete also removes rows the other side wrote for other keys
// of the range, so a duplicate with another row could pass the first test
// round after round. The same entry met again is never the other side's
// row: the delete run again after the first meeting removed that row and
// holds its lock, so the other side cannot write the key again before this
// transaction ends. (The server shortens long entries in its message; two
// different entries alike in their first part end the retries early,
// which costs a catch-up, not a row.)
func OtherSidesRow(dup, prev error, removed int64) bool {
	return removed > 0 && (prev == nil || prev.Error() != dup.Error())
}

// CopyKeyRetries bounds the delete-and-insert rounds of one transaction of
// the copier or the applier that meet a row the other has just written.
const CopyKeyRetries = 20

// IsDuplicateOn reports whether err is a duplicate on the shadow's index
// key, the unique key over the copy key's columns. For the copier such a
// duplicate can only be a row of the chunk's own range that the applier
// wrote, and for the applier a row the copier wrote; one on another unique
// key may be that too (the server checks the primary key first) or a
// conflict with another row (a change the applier has not reached yet, or
// a real one), which OtherSidesRow tells apart.
func IsDuplicateOn(err error, key string) bool {
	got := duplicateKey(err)
	if key == "" || got == "" {
		return false
	}
	if j := strings.LastIndex(got, "."); j >= 0 && !strings.EqualFold(got, key) {
		got = got[j+1:]
	}
	return strings.EqualFold(got, key)
}

// duplicateKey is the name of the index a duplicate-entry error names, or
// "" for another error. MariaDB says "Duplicate entry '5' for key
// 'PRIMARY'"; MySQL 8.0.19 and later qualify the key with the table: "for
// key 't.PRIMARY'".
func duplicateKey(err error) string {
	if mysql.ErrorNumber(err) != mysql.ErrDupEntry {
		return ""
	}
	msg := err.Error()
	i := strings.LastIndex(msg, " for key '")
	if i < 0 {
		return ""
	}
	return strings.TrimSuffix(msg[i+len(" for key '"):], "'")
}

// insertSelect copies the range (lower, upper], or the one row with key
// exactly when key is not nil, and fails on any warning.
func (c *Copier) insertSelect(ctx context.Context, tx *sql.Tx, lower, upper, key []any) (int64, error) {
	cond, args := sqlbuild.Range(c.m.OldRangeKey(), lower, upper)
	if key != nil {
		cond, args = sqlbuild.KeyEquals(c.m.KeyOldNames(), key)
	}
	return c.insertWhere(ctx, tx, cond, args)
}

// insertWhere copies the original's rows that match cond, and fails on any
// warning.
func (c *Copier) insertWhere(ctx context.Context, tx *sql.Tx, cond string, args []any) (int64, error) {
	q := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s FORCE INDEX (%s) WHERE %s LOCK IN SHARE MODE",
		mysql.QuoteTable(c.m.Shadow.Database, c.m.Shadow.Name), mysql.QuoteIdents(c.m.InsertedNames()),
		c.values, mysql.QuoteTable(c.m.Source.Database, c.m.Source.Name),
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

// CopiedValues is the SELECT list of the copied columns of m's original:
// each column by its name; a SET that keeps its bits
// (schema.KeepsSetBits) as its number, which the same SET stores as those
// bits where its names would lose the empty member; a value crossing
// between a TIMESTAMP and another type converted in m's time zone
// (schema.InZone); then the stamped columns' values (m.InsertedNames).
func CopiedValues(m *schema.Mapping) string {
	out := make([]string, len(m.Columns))
	for i, c := range m.Columns {
		out[i] = mysql.QuoteIdent(c.Old)
		target, _ := m.Shadow.Column(c.New)
		if schema.KeepsSetBits(m.Source.Columns[c.Index], target) {
			out[i] = "(" + out[i] + " + 0)"
		}
		out[i] = m.ValueInZone(out[i], c)
	}
	return strings.Join(append(out, m.StampValues()...), ", ")
}

// CheckWarnings fails when the last statement on tx raised a warning or a
// note: even in strict mode some lossy conversions (rounding a DECIMAL, for
// one) are only noted, and a row stored differently from the original is a
// wrong row.
func CheckWarnings(ctx context.Context, tx *sql.Tx) error {
	warnings, err := ReadWarnings(ctx, tx, 3)
	if err != nil {
		return err
	}
	if len(warnings) > 0 {
		return &warningError{msg: JoinWarnings(warnings)}
	}
	return nil
}

// Warning is one line of SHOW WARNINGS.
type Warning struct {
	Level   string
	Code    int
	Message string
}

func (w Warning) String() string { return fmt.Sprintf("%s %d: %s", w.Level, w.Code, w.Message) }

// JoinWarnings shows warnings on one line.
func JoinWarnings(warnings []Warning) string {
	parts := make([]string, len(warnings))
	for i, w := range warnings {
		parts[i] = w.String()
	}
	return strings.Join(parts, "; ")
}

// ReadWarnings reads the warnings and notes of the last statement on tx, at
// most limit of them (0: all that the session lists, which for tailor's
// sessions is every one: mysql.ConnConfig sets max_error_count).
func ReadWarnings(ctx context.Context, tx *sql.Tx, limit int) ([]Warning, error) {
	q := "SHOW WARNINGS"
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read warnings: %w", err)
	}
	defer rows.Close()
	var out []Warning
	for rows.Next() {
		var w Warning
		if err := rows.Scan(&w.Level, &w.Code, &w.Message); err != nil {
			return nil, fmt.Errorf("read warnings: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read warnings: %w", err)
	}
	return out, nil
}

// locate finds the first row of a failed chunk that fails on its own, so the
// error can name its key. Each probe is rolled back.
func (c *Copier) locate(ctx context.Context, chunk Chunk) *RowError {
	walk := WalkOf(c.m)
	keyCols := walk.Columns
	cond, args := walk.Range(chunk.Lower, chunk.Upper)
	rows, err := c.db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s",
		walk.SelectList(), mysql.QuoteTable(c.m.Source.Database, c.m.Source.Name), cond, walk.OrderBy(false)), args...)
	if err != nil {
		return nil
	}
	keys, err := scanKeys(rows, walk, len(keyCols))
	if err != nil {
		return nil
	}
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
			return &RowError{Key: schema.ShownKey(c.m.Source, keyCols, key), KeyCols: keyCols, Message: err.Error(), Err: err}
		}
	}
	return nil
}
