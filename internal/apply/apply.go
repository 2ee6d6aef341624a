// Package apply writes captured row changes into the shadow table.
//
// A change is applied from the row images the binary log carries, never by
// reading the row again from the original: an event can reach the binary log
// reader before the change is visible to a new SELECT on the primary (group
// commit, semi-sync), so a re-read may see the old row.
//
// A batch is applied in one transaction as "delete every key the batch
// touches, then insert the final image of every key that still exists". It
// never uses REPLACE or INSERT ... ON DUPLICATE KEY UPDATE: when the ALTER
// adds a UNIQUE key, both would silently delete or overwrite whichever other
// row already holds the value. A row the shadow cannot hold stops the
// migration with its key and the server's message.
//
// The copier may insert a row of a key between the batch's delete and its
// insert: the key had no row in the shadow yet, and in READ COMMITTED the
// delete locks nothing where there is no row. The insert then fails on the
// shadow's unique key over the copy key's columns (schema.Mapping.ShadowKey)
// once the copier commits, or on a unique key the server checks before it
// (the shadow's primary key, when the ALTER changes it, if the copier's row
// equals the image), which the batch takes for the copier's row only while
// its delete run again finds a row and the same entry does not come back
// (rowcopy.OtherSidesRow). That row was read, under a shared lock, after
// the change being applied had reached the binary log, so it is at least as
// new as the image, and any later change to it comes later in the log;
// deleting it and inserting the image again within the same transaction
// (the failed statement alone is rolled back) is therefore what applying
// the events in order would have given, as for the copier's own retry (see
// rowcopy.Copier). When the shadow's key extends the copy key (a primary
// key (id) that became (id, i)), a copied row that is a later state than
// the image may differ in the added columns and not meet it: both rows then
// stand until the event of that later state, which comes after in the log,
// deletes every row of the key and inserts its image.
//
// Collapsing a batch to the last image of each key (a row updated ten times is
// written once) also makes a transaction that swaps a unique value between two
// rows apply cleanly: both rows are deleted before either is inserted.
// Keys are told apart by their bytes, also where the server equates
// different bytes ('a' = 'A' in a case-insensitive collation, 'a' = 'a ' in
// a PAD SPACE one): the original's unique key holds at most one row of such
// a class of keys at a time, and the binary log's images carry that row's
// stored bytes, so every change that moves the row off one spelling
// touches that spelling (a delete, or an update whose key bytes change,
// which collapse records as a delete of the old key). At the end of a
// batch at most one spelling of a class has an image, the class's final
// state; the delete, which compares in the column's collation
// (capture.KeyPlaceholder), removes the shadow's row of the class whatever
// its spelling, and the insert writes that image.
//
// An ENUM's error value (schema.EnumErrorValue: index 0, which a session
// without strict mode stores for a string that is not a member) is written
// into an ENUM column of the shadow as index 0, which is what the copy
// (INSERT ... SELECT) stores for it whatever the new members, and which is
// not the empty member an ENUM may also have. Only a statement without
// strict mode can store it, so a row holding one is inserted on its own in
// mysql.LenientSQLMode, and must raise exactly one warning, "data
// truncated" (1265), for each such value and none for anything else: any
// other warning is a value the shadow cannot hold as it is. In a key it is
// the number 0, as every ENUM in a key is its index (schema.HeldKeyValue).
// A key's ENUM or SET is set aside as its number for the same reason.
package apply

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
)

// maxPlaceholders keeps statements under the protocol's 65,535 parameters.
const maxPlaceholders = 60000

// Applier applies batches of changes to the shadow.
type Applier struct {
	db     *sql.DB
	server mysql.Server
	m      *schema.Mapping
	logger *slog.Logger
	// shadowKey is the shadow's unique index over the copy key.
	shadowKey string
	// marks and keyMarks are the placeholder expressions of the copied
	// columns and of the key columns (see capture.Placeholder), a copied
	// column's converted in the mapping's time zone where its value
	// crosses between a TIMESTAMP and another type (schema.InZone);
	// marks end with the stamped columns' values (Mapping.InsertedNames).
	marks, keyMarks []string
	// valueMarks are the plain placeholder expressions of the copied
	// columns (capture.Placeholder: what their values must be bound as),
	// and binds how many times each mark binds its value: a converted
	// mark names its placeholder more than once (Mapping.BoundInZone).
	valueMarks []string
	binds      []int
	// rowBinds is the parameters one row's insert binds.
	rowBinds int
	// enums tells which copied columns are ENUMs in the shadow, where an
	// ENUM's error value is written as index 0; anyEnum whether any is.
	enums   []bool
	anyEnum bool
	// setBits tells which copied columns are written a SET's bits rather
	// than its names (schema.KeepsSetBits).
	setBits []bool
	// afterDelete, for tests, runs between a group's delete and insert.
	afterDelete func(ctx context.Context)
	// placeholders bounds the parameters of one statement:
	// maxPlaceholders, less in tests that need a group split over
	// statements.
	placeholders int
	// LockWaitTimeout bounds how long a batch waits for the copier's locks.
	LockWaitTimeout time.Duration
	// keep are the shadow's columns whose values outlive a key's delete
	// and insert (KeepUnmapped), and keepList the SELECT list that sets
	// them aside (keptList), built once.
	keep     []string
	keepList string
}

// New returns an applier for m on server.
func New(db *sql.DB, server mysql.Server, m *schema.Mapping, logger *slog.Logger) *Applier {
	a := &Applier{db: db, server: server, m: m, logger: logger, shadowKey: rowcopy.ShadowKeyName(m), LockWaitTimeout: 10 * time.Second, placeholders: maxPlaceholders}
	// Text values arrive as their bytes in the original column's character
	// set and are read back so by the server (capture.Text).
	for _, c := range m.Columns {
		target, _ := m.Shadow.Column(c.New)
		mark := capture.Placeholder(m.Source.Columns[c.Index])
		a.valueMarks = append(a.valueMarks, mark)
		a.marks = append(a.marks, m.BoundInZone(mark, c))
		a.binds = append(a.binds, strings.Count(a.marks[len(a.marks)-1], mark))
		a.rowBinds += a.binds[len(a.binds)-1]
		a.enums = append(a.enums, target.Family() == schema.FamEnum)
		a.setBits = append(a.setBits, schema.KeepsSetBits(m.Source.Columns[c.Index], target))
		a.anyEnum = a.anyEnum || target.Family() == schema.FamEnum
	}
	// A stamped column's value is the same in every row, bound as its
	// bytes: as a literal, repeated in every row, it could make a
	// statement longer than the server takes (max_allowed_packet), where
	// the driver sends a long parameter on its own.
	for range m.Stamps {
		a.marks = append(a.marks, "?")
		a.rowBinds++
	}
	for _, c := range m.Key {
		target, _ := m.Shadow.Column(c.New)
		a.keyMarks = append(a.keyMarks, capture.KeyPlaceholder(m.Source.Columns[c.Index], target))
	}
	return a
}

// op is the final state of one key after a run of changes: the image to
// insert, or nil when the key ends deleted.
type op struct {
	key   []any
	image []any
	// origin is the key that the row of the image held when the run
	// began, nil for a row the run inserted: where a value kept across
	// the delete and insert (KeepUnmapped) is its row's.
	origin []any
}

// Apply applies the changes of batches, which must be in log order, and
// returns the number of row changes applied.
func (a *Applier) Apply(ctx context.Context, batches []capture.Batch) (int, error) {
	var changes []capture.Change
	for _, b := range batches {
		changes = append(changes, b.Changes...)
	}
	if len(changes) == 0 {
		return 0, nil
	}
	groups := [][]op{a.collapse(changes)}
	const attempts = 10
	for attempt := 1; ; attempt++ {
		err := a.applyOps(ctx, groups)
		if err == nil {
			return len(changes), nil
		}
		if mysql.IsRetryable(err) && attempt < attempts {
			if err := mysql.Backoff(ctx, time.Duration(attempt)*50*time.Millisecond); err != nil {
				return 0, err
			}
			continue
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		// A lost connection is no row's fault (a KILL reaches the session
		// as error 1927); the caller may apply the batch again.
		if !mysql.IsConnectionLost(err) {
			if rowErr := a.locate(ctx, groups); rowErr != nil {
				return 0, rowErr
			}
		}
		return 0, fmt.Errorf("apply %d changes to %s: %w", len(changes), a.m.Shadow.Name, err)
	}
}

// collapse reduces changes to the final state of each key they touch, in
// order of first touch. An update that changes the key deletes the old key.
// It follows each row from key to key, for origin: a key first met by an
// update or a delete held a row when the run began; an insert brings a new
// row; an update takes its row, and that row's origin, to its new key.
func (a *Applier) collapse(changes []capture.Change) []op {
	index := map[string]int{}
	var ops []op
	// origins holds, for a key the run has met, the origin of the row it
	// holds now (nil: a new row, or none).
	origins := map[string][]any{}
	originOf := func(key []any) []any {
		if o, met := origins[KeyString(key)]; met {
			return o
		}
		return key
	}
	set := func(key, image, origin []any) {
		k := KeyString(key)
		origins[k] = origin
		if i, ok := index[k]; ok {
			ops[i].image = image
			return
		}
		index[k] = len(ops)
		ops = append(ops, op{key: key, image: image})
	}
	for _, ch := range changes {
		switch ch.Kind {
		case capture.Insert:
			set(a.m.KeyValues(ch.After), ch.After, nil)
		case capture.Update:
			before, after := a.m.KeyValues(ch.Before), a.m.KeyValues(ch.After)
			origin := originOf(before)
			if KeyString(before) != KeyString(after) {
				set(before, nil, nil)
			}
			set(after, ch.After, origin)
		case capture.Delete:
			set(a.m.KeyValues(ch.Before), nil, nil)
		}
	}
	for i := range ops {
		if ops[i].image != nil {
			ops[i].origin = origins[KeyString(ops[i].key)]
		}
	}
	return ops
}

// KeyString encodes key values so that equal keys (byte for byte) and only
// they give equal strings.
func KeyString(key []any) string {
	var b strings.Builder
	for _, v := range key {
		if t, ok := v.(capture.Text); ok {
			// Its bytes, not its String, which shows some values as hex.
			fmt.Fprintf(&b, "%T:%x|", t, []byte(t))
			continue
		}
		fmt.Fprintf(&b, "%T:%d:%v|", v, len(fmt.Sprint(v)), v)
	}
	return b.String()
}

func (a *Applier) applyOps(ctx context.Context, groups [][]op) error {
	// READ COMMITTED: deleting a key that is not in the shadow must not
	// take a gap lock, which would deadlock with the copier (see
	// rowcopy.Copier).
	tx, err := a.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET SESSION innodb_lock_wait_timeout = %d", max(1, int(a.LockWaitTimeout.Seconds())))); err != nil {
		return err
	}
	for _, ops := range groups {
		if err := a.applyGroup(ctx, tx, ops); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// applyGroup deletes the keys of ops and inserts their images, again while
// the insert meets a row the copier wrote meanwhile (see the package doc).
func (a *Applier) applyGroup(ctx context.Context, tx *sql.Tx, ops []op) error {
	if len(a.keep) > 0 {
		if err := a.setKeptAside(ctx, tx, ops); err != nil {
			return err
		}
	}
	var dup, prevDup error
	var inserted int64
	for round := 1; ; round++ {
		removed, err := a.deleteKeys(ctx, tx, ops)
		if err != nil {
			return err
		}
		// A duplicate on another unique key (the shadow's primary key,
		// when the ALTER changes it, is checked before the key over the
		// copy key's columns) may be the copier's row of these keys only
		// if the delete found one besides the rows the failed round's
		// statements inserted before it failed (rowcopy.OtherSidesRow).
		if dup != nil && !rowcopy.IsDuplicateOn(dup, a.shadowKey) && !rowcopy.OtherSidesRow(dup, prevDup, removed-inserted) {
			return dup
		}
		if a.afterDelete != nil {
			a.afterDelete(ctx)
		}
		inserted, err = a.insertImages(ctx, tx, ops)
		if err == nil && len(a.keep) > 0 {
			err = a.putBackKept(ctx, tx)
		}
		if err == nil || round >= rowcopy.CopyKeyRetries || mysql.ErrorNumber(err) != mysql.ErrDupEntry {
			return err
		}
		dup, prevDup = err, dup
	}
}

// KeepUnmapped makes the applier keep, across the delete and insert of a
// key, the values of the shadow's columns that the mapping does not
// write: a revert's, where the kept table has columns the table no longer
// has (a column the migration dropped), whose values the rows that existed
// at the swap must keep, also when their key changes. A new row gets the
// column's default, also under a key another row left in the same batch.
//
// The values are set aside in a temporary table of the applier's session
// (which the binary log, in ROW format, does not record), and put back on
// the inserted rows of the same keys, in the same transaction. Across
// batches, a row whose key changed is found by its new key in the shadow,
// where the last batch left it with its values.
func (a *Applier) KeepUnmapped() {
	mapped := map[string]bool{}
	for _, c := range a.m.Columns {
		mapped[strings.ToLower(c.New)] = true
	}
	a.keep = nil
	for _, c := range a.m.Shadow.Columns {
		if !mapped[strings.ToLower(c.Name)] && !c.Generated {
			a.keep = append(a.keep, c.Name)
		}
	}
	a.keepList = a.keptList()
}

// keptAside is the temporary table KeepUnmapped sets values aside in; it
// lives in the applier's session only.
const keptAside = "tailor_kept_aside"

// setKeptAside copies the kept columns of the rows the images of ops
// continue (their origin) into the session's temporary table, under the
// images' keys. In a collation that equates different keys, the shadow's
// rows of an origin's class are the origin's row alone: the original held
// no other row of the class while it held that one. An ENUM or a SET of
// the key is set aside as its number, the form every key binds it in,
// which a strict session can store also for the error value (index 0) and
// which the join that puts the values back compares by number.
func (a *Applier) setKeptAside(ctx context.Context, tx *sql.Tx, ops []op) error {
	shadow := mysql.QuoteTable(a.m.Shadow.Database, a.m.Shadow.Name)
	aside := mysql.QuoteTable(a.m.Shadow.Database, keptAside)
	cols := mysql.QuoteIdents(append(a.m.KeyNewNames(), a.keep...))
	read := rowcopy.NewKeyWalk(a.m.Shadow, a.m.ShadowKey, a.m.KeyNewNames()).SelectList() + ", " + a.keepList
	for _, q := range []string{
		"CREATE TEMPORARY TABLE IF NOT EXISTS " + aside + " ENGINE=InnoDB SELECT " + read + " FROM " + shadow + " LIMIT 0",
		"DELETE FROM " + aside,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("set aside the kept columns: %w", err)
		}
	}
	// Rows under their own key, many a statement; rows that moved, one
	// each, with their new key.
	var stayed []op
	for _, o := range ops {
		switch {
		case o.origin == nil:
		case KeyString(o.origin) == KeyString(o.key):
			stayed = append(stayed, o)
		default:
			if err := a.setAsideMoved(ctx, tx, shadow, aside, o); err != nil {
				return fmt.Errorf("set aside the kept columns: %w", err)
			}
		}
	}
	return a.forKeys(stayed, func(cond string, args []any) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO "+aside+" ("+cols+") SELECT "+read+" FROM "+shadow+" WHERE "+cond, args...)
		return err
	})
}

// setAsideMoved copies the kept columns of the row of o's origin into the
// temporary table under o's key, the row's key at the end of the batch.
func (a *Applier) setAsideMoved(ctx context.Context, tx *sql.Tx, shadow, aside string, o op) error {
	keyCols := a.m.KeyNewNames()
	for i := range keyCols {
		for _, v := range []any{o.key[i], o.origin[i]} {
			if err := checkBindable(a.keyMarks[i], v); err != nil {
				return fmt.Errorf("key column %s: %w", keyCols[i], err)
			}
		}
	}
	cond, condArgs := sqlbuild.KeyInMarks(keyCols, a.keyMarks, [][]any{o.origin})
	q := "INSERT INTO " + aside + " (" + mysql.QuoteIdents(append(keyCols, a.keep...)) + ") SELECT " +
		strings.Join(a.keyMarks, ", ") + ", " + a.keepList + " FROM " + shadow + " WHERE " + cond
	_, err := tx.ExecContext(ctx, q, append(slices.Clone(o.key), condArgs...)...)
	return err
}

// keptList is the SELECT list that sets the kept columns aside: each by
// its name, and a SET with an empty member as its number, which the
// temporary table then holds as a number and puts back as the same bits
// (by name, the member would be lost: schema.SetValue).
func (a *Applier) keptList() string {
	out := make([]string, len(a.keep))
	for i, name := range a.keep {
		out[i] = mysql.QuoteIdent(name)
		if c, ok := a.m.Shadow.Column(name); ok && schema.KeepsSetBits(c, c) {
			out[i] = "(" + out[i] + " + 0) AS " + out[i]
		}
	}
	return strings.Join(out, ", ")
}

// putBackKept sets the kept columns of the inserted rows to the values set
// aside for their keys.
func (a *Applier) putBackKept(ctx context.Context, tx *sql.Tx) error {
	shadow := mysql.QuoteTable(a.m.Shadow.Database, a.m.Shadow.Name)
	aside := mysql.QuoteTable(a.m.Shadow.Database, keptAside)
	var on, set []string
	for _, k := range a.m.KeyNewNames() {
		// A number set aside compares with the ENUM or SET by number.
		on = append(on, "s."+mysql.QuoteIdent(k)+" = k."+mysql.QuoteIdent(k))
	}
	for _, c := range a.keep {
		set = append(set, "s."+mysql.QuoteIdent(c)+" = k."+mysql.QuoteIdent(c))
	}
	if _, err := tx.ExecContext(ctx, "UPDATE "+shadow+" s JOIN "+aside+" k ON "+strings.Join(on, " AND ")+" SET "+strings.Join(set, ", ")); err != nil {
		return fmt.Errorf("put back the kept columns: %w", err)
	}
	return nil
}

// deleteKeys deletes the shadow's rows of the keys of ops and returns how
// many there were.
func (a *Applier) deleteKeys(ctx context.Context, tx *sql.Tx, ops []op) (int64, error) {
	shadow := mysql.QuoteTable(a.m.Shadow.Database, a.m.Shadow.Name)
	var removed int64
	err := a.forKeys(ops, func(cond string, args []any) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM "+shadow+" WHERE "+cond, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		removed += n
		return err
	})
	return removed, err
}

// forKeys calls do with the condition that selects the keys of ops in the
// shadow, as many keys at a time as one statement can bind.
func (a *Applier) forKeys(ops []op, do func(cond string, args []any) error) error {
	keyCols := a.m.KeyNewNames()
	per := max(1, a.placeholders/len(keyCols))
	for start := 0; start < len(ops); start += per {
		end := min(start+per, len(ops))
		keys := make([][]any, 0, end-start)
		for _, o := range ops[start:end] {
			keys = append(keys, o.key)
		}
		for _, k := range keys {
			for i, v := range k {
				if err := checkBindable(a.keyMarks[i], v); err != nil {
					return fmt.Errorf("key column %s: %w", keyCols[i], err)
				}
			}
		}
		cond, args := sqlbuild.KeyInMarks(keyCols, a.keyMarks, keys)
		if err := do(cond, args); err != nil {
			return err
		}
	}
	return nil
}

// insertImages inserts the images of ops and returns how many rows its
// statements inserted, also when one fails.
func (a *Applier) insertImages(ctx context.Context, tx *sql.Tx, ops []op) (int64, error) {
	cols := a.m.InsertedNames()
	per := max(1, a.placeholders/a.rowBinds)
	shadow := mysql.QuoteTable(a.m.Shadow.Database, a.m.Shadow.Name)
	var inserted int64
	var rows, withEnumErrors [][]any
	for _, o := range ops {
		switch {
		case o.image == nil:
		case a.enumErrors(o.image) > 0:
			withEnumErrors = append(withEnumErrors, o.image)
		default:
			rows = append(rows, o.image)
		}
	}
	for start, end := 0, 0; start < len(rows); start = end {
		args := make([]any, 0, min(per, len(rows)-start)*a.rowBinds)
		for size := 0; end < len(rows) && end-start < per && size < maxStatementBytes; end++ {
			n := len(args)
			var err error
			if args, err = a.appendValues(args, rows[end], false); err != nil {
				return inserted, err
			}
			size += bytesOf(args[n:])
		}
		if _, err := tx.ExecContext(ctx, sqlbuild.InsertRowsMarks(shadow, cols, a.marks, end-start), args...); err != nil {
			return inserted, err
		}
		inserted += int64(end - start)
		if err := rowcopy.CheckWarnings(ctx, tx); err != nil {
			return inserted, err
		}
	}
	for _, img := range withEnumErrors {
		if err := a.insertWithEnumErrors(ctx, tx, shadow, img); err != nil {
			return inserted, err
		}
		inserted++
	}
	return inserted, nil
}

// maxStatementBytes bounds the values one INSERT of the applier carries:
// the server refuses a statement longer than its max_allowed_packet (16
// MiB by default on MariaDB 10.11), and one transaction of the
// application may change thousands of wide rows (10,000 rows of 4,000
// bytes failed in one statement).
const maxStatementBytes = 4 << 20

// bytesOf is about how many bytes args take in a statement (a text as
// the hexadecimal it is bound as: capture.Text).
func bytesOf(args []any) int {
	n := 0
	for _, v := range args {
		switch v := v.(type) {
		case capture.Text:
			n += 2 * len(v)
		case []byte:
			n += len(v)
		case string:
			n += len(v)
		default:
			n += 8
		}
	}
	return n
}

// enumErrors counts the ENUM error values that image writes into ENUM
// columns of the shadow. It runs for every image: a shadow without ENUMs
// answers at once.
func (a *Applier) enumErrors(image []any) int {
	if !a.anyEnum {
		return 0
	}
	n := 0
	for i, c := range a.m.Columns {
		if _, ok := image[c.Index].(schema.EnumErrorValue); ok && a.enums[i] {
			n++
		}
	}
	return n
}

// appendValues appends the parameters that insert image to args, each
// value as many times as its mark binds it, with ENUM error values as
// index 0 when enumErrors is set (insertWithEnumErrors).
func (a *Applier) appendValues(args, image []any, enumErrors bool) ([]any, error) {
	for i, c := range a.m.Columns {
		v := image[c.Index]
		if err := checkBindable(a.valueMarks[i], v); err != nil {
			return args, fmt.Errorf("column %s: %w", c.Old, err)
		}
		v = a.setAsBits(i, v)
		if enumErrors {
			v = enumErrorAsIndex(v, a.enums[i])
		}
		for range a.binds[i] {
			args = append(args, v)
		}
	}
	for _, s := range a.m.Stamps {
		args = append(args, s.Bytes)
	}
	return args, nil
}

// setAsBits is v, a value of copied column i, as it is inserted: a SET's
// bits where the column keeps them (schema.SetValue), else v itself.
func (a *Applier) setAsBits(i int, v any) any {
	if sv, ok := v.(schema.SetValue); ok && a.setBits[i] {
		return sv.Bits
	}
	return v
}

// enumErrorAsIndex is v as it is inserted into a column of the shadow that
// is an ENUM when enum is set: its error value as the number 0, which the
// column stores (in lenient mode) as the error value. Any other value is
// inserted as it is.
func enumErrorAsIndex(v any, enum bool) any {
	if _, ok := v.(schema.EnumErrorValue); ok && enum {
		return int64(0)
	}
	return v
}

// insertWithEnumErrors inserts one image that writes an ENUM's error value
// (see the package doc): in lenient mode, where each such value raises
// warning 1265 and is stored as index 0; any other warning, or a count
// that differs, is a value the shadow does not hold as it is.
func (a *Applier) insertWithEnumErrors(ctx context.Context, tx *sql.Tx, shadow string, image []any) error {
	args, err := a.appendValues(make([]any, 0, a.rowBinds), image, true)
	if err != nil {
		return err
	}
	stmt := a.server.InSQLMode(mysql.LenientSQLMode, sqlbuild.InsertRowsMarks(shadow, a.m.InsertedNames(), a.marks, 1))
	if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
		return err
	}
	want := a.enumErrors(image)
	warnings, err := rowcopy.ReadWarnings(ctx, tx, 0)
	if err != nil {
		return err
	}
	others := 0
	for _, w := range warnings {
		if w.Code != mysql.ErrWarnDataTrunc {
			others++
		}
	}
	// Every warning is listed: the session's max_error_count is above any
	// row's (mysql.ConnConfig).
	switch {
	case others > 0:
		return fmt.Errorf("a row holding %d ENUM error values, stored in lenient mode (the only one that stores them), raised other warnings than theirs: a value does not fit the new table as it is (%s)",
			want, rowcopy.JoinWarnings(warnings))
	case len(warnings) != want:
		return fmt.Errorf("a row holding %d ENUM error values, stored in lenient mode (the only one that stores them), raised %d warnings of data truncated, not one for each: a value does not fit the new table as it is (%s)",
			want, len(warnings), rowcopy.JoinWarnings(warnings))
	}
	return nil
}

// locate repeats a failed batch in a transaction that is rolled back,
// inserting the images one at a time, to name the row that fails.
func (a *Applier) locate(ctx context.Context, groups [][]op) *rowcopy.RowError {
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return nil
	}
	defer tx.Rollback() //nolint:errcheck // always rolled back: a probe
	for _, ops := range groups {
		if _, err := a.deleteKeys(ctx, tx, ops); err != nil {
			return nil
		}
		for _, o := range ops {
			if o.image == nil {
				continue
			}
			_, err := a.insertImages(ctx, tx, []op{o})
			if err == nil {
				continue
			}
			if mysql.IsRetryable(err) {
				return nil
			}
			values := map[string]any{}
			for _, c := range a.m.Columns {
				values[c.New] = rowcopy.Printable(o.image[c.Index])
			}
			keyCols := a.m.KeyOldNames()
			return &rowcopy.RowError{Changed: true, Key: schema.ShownKey(a.m.Source, keyCols, o.key), KeyCols: keyCols, Values: values, Message: err.Error(), Err: err}
		}
	}
	return nil
}

// checkBindable refuses a value that the expression mark would misread: a
// text column's placeholder reads hexadecimal (capture.Text's Value), so a
// plain string bound to it would store NULL or other bytes, silently.
func checkBindable(mark string, v any) error {
	if v == nil || mark == "?" {
		return nil
	}
	if _, ok := v.(capture.Text); !ok {
		return fmt.Errorf("a text value of type %T, want capture.Text", v)
	}
	return nil
}
