package preflight

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
)

// How the narrowing check reads the table.
//
// Whether a value survives a change of type is decided by the server, not
// re-implemented here: the rules of MySQL and MariaDB for a string becoming
// a number, a DATETIME(6) losing its fraction (MariaDB cuts, MySQL rounds),
// an ENUM value meeting a new member list or a character meeting a smaller
// character set are many, and differ between versions. So the table's rows
// are passed, chunk by chunk, through a TEMPORARY table that has a column
// of the new definition next to a copy of the original value, with
// INSERT ... SELECT in a session with a lenient sql_mode: each value becomes
// what the server would make of it, and differsExpr compares the two.
//
// Why this is safe to run against a production table: a TEMPORARY table
// belongs to the one session that made it, no other session sees it, and in
// ROW binary log format (which tailor requires) nothing written to it is
// logged, so replicas never see it. The session reads the table in READ
// COMMITTED, where the SELECT of an INSERT ... SELECT is a consistent read
// that takes no locks (in REPEATABLE READ InnoDB would take shared locks on
// every row it reads). Chunks are key ranges walked with a LIMIT, never
// OFFSET, so each statement is short, holds no read view for long and costs
// the same wherever it is in the table, and the temporary table never holds
// more than one chunk. The session is discarded, not returned to the pool,
// so its sql_mode and temporary table cannot leak into other work.
//
// The cost on a large table is one read of the whole table in key order,
// plus writing the key and the changed columns (twice) of every row into
// the temporary table, one chunk at a time: a fraction of a copy, without
// binary log or locks. Columns that only become NOT NULL are cheaper still:
// one aggregate SELECT counts their NULLs.
const scanChunkRows = 5000

// changedColumn is a carried-over column whose definition changes.
type changedColumn struct {
	src, tgt schema.Column
	// fits is true when every non-NULL value fits the new type unchanged.
	fits bool
	// notNull is true when the column becomes NOT NULL.
	notNull bool
	// Findings: rows whose value would change, rows holding NULL.
	changed, nulls int64
	examples       []string
	// unchecked is true when the user may not read the column's rows the
	// way the check needs.
	unchecked bool
}

// lacksPrivilege reports whether err is the server refusing a statement for
// lack of a privilege: 1044 (database), 1142 (table), 1143 (column), 1227
// (a global privilege).
func lacksPrivilege(err error) bool {
	switch mysql.ErrorNumber(err) {
	case 1044, 1142, 1143, 1227:
		return true
	}
	return false
}

// scanned reports whether the column's rows were read.
func (c *changedColumn) scanned() bool { return (!c.fits || c.notNull) && !c.unchecked }

// narrowingCheck finds the rows whose values the new column definitions
// would change or reject.
func narrowingCheck(ctx context.Context, in Input) (Check, error) {
	c := Check{Name: CheckNarrowing}
	cols, err := changedColumns(in)
	if err != nil {
		return c, err
	}
	if len(cols) == 0 {
		c.Status, c.Message = Pass, "no column changes its type"
		return c, nil
	}
	var key tableKey
	if idx, err := in.Source.CopyKey(); err == nil {
		key.index = idx.Name
		for _, name := range idx.Columns {
			col, _ := in.Source.Column(name)
			key.cols = append(key.cols, col)
		}
	}
	var convert, nullsOnly []*changedColumn
	for _, col := range cols {
		switch {
		case !col.fits:
			convert = append(convert, col)
		case col.notNull:
			nullsOnly = append(nullsOnly, col)
		}
	}
	var rowsRead int64
	if len(nullsOnly) > 0 {
		if rowsRead, err = countNulls(ctx, in, key.cols, nullsOnly); err != nil {
			return c, err
		}
	}
	if len(convert) > 0 {
		if rowsRead, err = scanConversions(ctx, in, key, convert); err != nil {
			return c, err
		}
	}
	return narrowingResult(cols, rowsRead), nil
}

// changedColumns lists the carried-over columns whose definition changes in
// a way that can touch values, in the new table's order of the pairs.
func changedColumns(in Input) ([]*changedColumn, error) {
	var out []*changedColumn
	for _, p := range in.Columns {
		src, ok := in.Source.Column(p[0])
		if !ok {
			return nil, fmt.Errorf("check column types of %s: column %s is not in the table", in.Table, p[0])
		}
		tgt, ok := in.Target.Column(p[1])
		if !ok {
			return nil, fmt.Errorf("check column types of %s: column %s is not in the new definition", in.Table, p[1])
		}
		// Nothing is copied into a generated column: the server computes it.
		if tgt.Generated || !definitionChanges(src, tgt) {
			continue
		}
		out = append(out, &changedColumn{src: src, tgt: tgt, fits: valuesFit(src, tgt), notNull: src.Nullable && !tgt.Nullable})
	}
	return out, nil
}

// countNulls counts, in one plain SELECT (a consistent read, no locks), the
// NULLs of columns whose type keeps every value but that become NOT NULL,
// and returns the number of rows read.
func countNulls(ctx context.Context, in Input, key []schema.Column, cols []*changedColumn) (int64, error) {
	sums := make([]string, len(cols))
	dest := make([]any, len(cols)+1)
	var total int64
	dest[0] = &total
	for i, col := range cols {
		sums[i] = "COALESCE(SUM(" + mysql.QuoteIdent(col.src.Name) + " IS NULL), 0)"
		dest[i+1] = &col.nulls
	}
	q := "SELECT COUNT(*), " + strings.Join(sums, ", ") + " FROM " + sourceTable(in)
	if err := in.DB.QueryRowContext(ctx, q).Scan(dest...); err != nil {
		if lacksPrivilege(err) {
			for _, c := range cols {
				c.unchecked = true
			}
			return 0, nil
		}
		return 0, fmt.Errorf("count NULLs in %s: %w", in.Table, err)
	}
	if len(key) == 0 {
		return total, nil
	}
	for _, col := range cols {
		if col.nulls == 0 {
			continue
		}
		q := "SELECT " + quoteColumns(key) + " FROM " + sourceTable(in) + " WHERE " + mysql.QuoteIdent(col.src.Name) +
			" IS NULL LIMIT " + strconv.Itoa(maxExamples)
		err := eachStringRow(ctx, in.DB, q, nil, len(key), func(vals []sql.NullString) {
			col.examples = append(col.examples, nullExample(key, vals, col))
		})
		if err != nil {
			return 0, fmt.Errorf("find rows with NULL in %s.%s: %w", in.Table, col.src.Name, err)
		}
	}
	return total, nil
}

// tableKey is the key the scan walks: the table's copy key, or none when
// the table has no usable key.
type tableKey struct {
	index string
	cols  []schema.Column
}

// convScan is one pass of the conversion scan over the table, in one
// session.
type convScan struct {
	in       Input
	conn     *sql.Conn
	keyIndex string
	key      []schema.Column
	cols     []*changedColumn
	tmp      string // the temporary table, quoted
}

// scanConversions passes every row's values of cols through their new
// types and counts the rows where one changes; it returns the rows read.
// Columns it may not scan, for lack of a privilege, are marked unchecked.
func scanConversions(ctx context.Context, in Input, key tableKey, cols []*changedColumn) (rows int64, err error) {
	conn, err := in.DB.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("open a session to scan %s: %w", in.Table, err)
	}
	s := &convScan{in: in, conn: conn, keyIndex: key.index, key: key.cols, cols: cols, tmp: mysql.QuoteTable(in.Source.Database, "_tailor_narrowing")}
	defer s.close()
	if err := s.prepare(ctx); err != nil {
		if lacksPrivilege(err) {
			for _, c := range cols {
				c.unchecked = true
			}
			return 0, nil
		}
		return 0, err
	}
	var lower []any
	for {
		n, upper, err := s.chunk(ctx, lower)
		if err != nil {
			return rows, err
		}
		rows += n
		if upper == nil {
			return rows, nil
		}
		lower = upper
	}
}

// prepare sets up the session and creates the temporary table.
func (s *convScan) prepare(ctx context.Context) error {
	// Belt and braces for a server not in ROW format: keep the scan's writes
	// out of the binary log. It needs a privilege the user may lack, and in
	// ROW format nothing is logged anyway, so a refusal is not an error.
	_, _ = s.conn.ExecContext(ctx, "SET SESSION sql_log_bin = 0")
	stmts := []string{
		"SET SESSION sql_mode = " + mysql.QuoteString(nonStrictMode(mysql.SQLMode)),
		"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
		"DROP TEMPORARY TABLE IF EXISTS " + s.tmp,
		// InnoDB, whatever default_tmp_storage_engine says: MEMORY would
		// refuse TEXT columns and hold the chunk in a bounded heap.
		"CREATE TEMPORARY TABLE " + s.tmp + " (" + strings.Join(s.definitions(), ", ") + ") ENGINE=InnoDB",
	}
	for _, q := range stmts {
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("prepare the scan of %s: %w", s.in.Table, err)
		}
	}
	return nil
}

// definitions are the temporary table's columns: k0.. the key, then for
// each changed column s<i> its original value and t<i> the value in the
// new type.
func (s *convScan) definitions() []string {
	var defs []string
	for i, k := range s.key {
		defs = append(defs, mysql.QuoteIdent("k"+strconv.Itoa(i))+" "+columnDefinition(k))
	}
	for i, c := range s.cols {
		defs = append(defs,
			s.orig(i)+" "+originalDefinition(c.src),
			s.conv(i)+" "+columnDefinition(c.tgt))
	}
	return defs
}

func (s *convScan) orig(i int) string { return mysql.QuoteIdent("s" + strconv.Itoa(i)) }
func (s *convScan) conv(i int) string { return mysql.QuoteIdent("t" + strconv.Itoa(i)) }

func (s *convScan) keyCols() []string {
	names := make([]string, len(s.key))
	for i := range s.key {
		names[i] = "k" + strconv.Itoa(i)
	}
	return names
}

// chunk converts the rows after lower (a key; nil for the first chunk),
// up to scanChunkRows of them, and tallies the findings. It returns the
// rows read and the last key, or a nil key when the table has been read to
// its end. A table without a usable key is read in one chunk.
func (s *convScan) chunk(ctx context.Context, lower []any) (int64, []any, error) {
	var from []string
	for _, c := range s.cols {
		col := mysql.QuoteIdent(c.src.Name)
		from = append(from, col, schema.InZone(col, c.src, c.tgt, s.in.TimeZone))
	}
	q := "INSERT INTO " + s.tmp + " SELECT "
	if len(s.key) > 0 {
		q += quoteColumns(s.key) + ", "
	}
	q += strings.Join(from, ", ") + " FROM " + sourceTable(s.in)
	var args []any
	if len(s.key) > 0 {
		names := columnNames(s.key)
		cond, a := sqlbuild.Range(schema.RangeKey(s.in.Source, names), lower, nil)
		args = a
		q += " FORCE INDEX (" + mysql.QuoteIdent(s.keyIndex) + ") WHERE " + cond +
			" ORDER BY " + sqlbuild.OrderBy(names, false) + " LIMIT " + strconv.Itoa(scanChunkRows)
	}
	res, err := s.conn.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, nil, fmt.Errorf("convert rows of %s to the new types: %w", s.in.Table, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, nil, fmt.Errorf("convert rows of %s to the new types: %w", s.in.Table, err)
	}
	if err := s.tally(ctx); err != nil {
		return 0, nil, err
	}
	var upper []any
	if len(s.key) > 0 && n == scanChunkRows {
		if upper, err = s.lastKey(ctx); err != nil {
			return 0, nil, err
		}
	}
	if _, err := s.conn.ExecContext(ctx, "DELETE FROM "+s.tmp); err != nil {
		return 0, nil, fmt.Errorf("empty the scan's temporary table: %w", err)
	}
	return n, upper, nil
}

// tally counts, in the chunk held by the temporary table, the NULLs bound
// for NOT NULL columns and the values that changed, and keeps examples.
func (s *convScan) tally(ctx context.Context) error {
	var sums []string
	var dest []any
	nulls := make([]int64, len(s.cols))
	changed := make([]int64, len(s.cols))
	for i := range s.cols {
		sums = append(sums, "COALESCE(SUM("+s.nullCond(i)+"), 0)", "COALESCE(SUM("+s.changedCond(i)+"), 0)")
		dest = append(dest, &nulls[i], &changed[i])
	}
	q := "SELECT " + strings.Join(sums, ", ") + " FROM " + s.tmp
	if err := s.conn.QueryRowContext(ctx, q).Scan(dest...); err != nil {
		return fmt.Errorf("compare converted values of %s: %w", s.in.Table, err)
	}
	for i, c := range s.cols {
		c.nulls += nulls[i]
		c.changed += changed[i]
		if nulls[i]+changed[i] == 0 || len(c.examples) >= maxExamples {
			continue
		}
		if err := s.examples(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// nullCond holds for a NULL bound for a NOT NULL column.
func (s *convScan) nullCond(i int) string {
	if !s.cols[i].notNull {
		return "FALSE"
	}
	return s.orig(i) + " IS NULL"
}

func (s *convScan) changedCond(i int) string {
	c := s.cols[i]
	return differsExpr(c.src, c.tgt, s.shownOrig(i), s.shownConv(i))
}

// shownOrig and shownConv are column i's original and converted value as
// they are compared and shown: a TIMESTAMP on one side only read in the
// copy's time zone, where the other side's clock time is (schema.InZone).
func (s *convScan) shownOrig(i int) string { return s.inZone(i, s.orig(i), s.cols[i].src) }
func (s *convScan) shownConv(i int) string { return s.inZone(i, s.conv(i), s.cols[i].tgt) }

func (s *convScan) inZone(i int, expr string, c schema.Column) string {
	col := s.cols[i]
	if s.in.TimeZone == "" || c.Family() != schema.FamTimestamp || !schema.CrossesZone(col.src, col.tgt) {
		return expr
	}
	return schema.ReadInZone(expr, s.in.TimeZone)
}

// examples adds the chunk's offending rows of column i to its examples.
func (s *convScan) examples(ctx context.Context, i int) error {
	c := s.cols[i]
	shown := s.shownConv(i)
	if c.tgt.DataType == "float" {
		// Shown as a DOUBLE, a FLOAT's digits are exact: 0.1 becomes
		// 0.10000000149011612, where the FLOAT itself prints as 0.1.
		shown += " + 0e0"
	}
	sel := []string{s.shownOrig(i), shown}
	if len(s.key) > 0 {
		sel = append(sel, mysql.QuoteIdents(s.keyCols()))
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + s.tmp + " WHERE " + s.nullCond(i) + " OR " + s.changedCond(i) +
		" LIMIT " + strconv.Itoa(maxExamples-len(c.examples))
	err := eachStringRow(ctx, s.conn, q, nil, 2+len(s.key), func(vals []sql.NullString) {
		if !vals[0].Valid {
			c.examples = append(c.examples, nullExample(s.key, vals[2:], c))
			return
		}
		c.examples = append(c.examples, changeExample(s.key, vals[2:], c, vals[0], vals[1]))
	})
	if err != nil {
		return fmt.Errorf("find rows of %s whose %s would change: %w", s.in.Table, c.src.Name, err)
	}
	return nil
}

// lastKey is the largest key of the chunk, where the next chunk starts. An
// ENUM or a SET is read as its number, as every key binds it
// (schema.HeldKeyValue): bound by name, the next chunk's range would
// compare it as a string and skip the rows the index orders after it.
func (s *convScan) lastKey(ctx context.Context) ([]any, error) {
	names := s.keyCols()
	read := make([]string, len(names))
	for i, n := range names {
		read[i] = mysql.QuoteIdent(n)
		if schema.KeyHoldsNumber(s.key[i]) {
			read[i] += " + 0"
		}
	}
	q := "SELECT " + strings.Join(read, ", ") + " FROM " + s.tmp + " ORDER BY " + sqlbuild.OrderBy(names, true) + " LIMIT 1"
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := s.conn.QueryRowContext(ctx, q).Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("find where the next chunk of %s starts: %w", s.in.Table, err)
	}
	for i := range vals {
		if schema.KeyHoldsNumber(s.key[i]) {
			vals[i] = schema.HeldKeyNumber(vals[i])
		}
	}
	return vals, nil
}

// close drops the temporary table and discards the session: returning it to
// the pool would hand its lenient sql_mode to the next user of the pool.
func (s *convScan) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = s.conn.ExecContext(ctx, "DROP TEMPORARY TABLE IF EXISTS "+s.tmp)
	_ = s.conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = s.conn.Close()
}

// rowQuerier is what eachRow reads from: a pool or one session.
type rowQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// eachRow runs q and hands each row, read as n strings, to f.
func eachStringRow(ctx context.Context, db rowQuerier, q string, args []any, n int, f func([]sql.NullString)) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		vals := make([]sql.NullString, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		f(vals)
	}
	return rows.Err()
}

func quoteColumns(cols []schema.Column) string { return mysql.QuoteIdents(columnNames(cols)) }

func columnNames(cols []schema.Column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names
}

// nullExample writes "id=3: qty is NULL, which NOT NULL rejects".
func nullExample(key []schema.Column, keyVals []sql.NullString, c *changedColumn) string {
	return rowPrefix(key, keyVals) + c.src.Name + " is NULL, which NOT NULL rejects"
}

// changeExample writes "id=7: name 'abcdefghijk' (11 characters) does not
// fit VARCHAR(10) (it would become 'abcdefghij')".
func changeExample(key []schema.Column, keyVals []sql.NullString, c *changedColumn, from, to sql.NullString) string {
	tf := familyOf(c.tgt)
	s := rowPrefix(key, keyVals) + c.src.Name + " " + formatValue(from, familyOf(c.src))
	switch {
	case tf == schema.FamText && !isTextType(c.tgt) && familyOf(c.src).Textual():
		s += " (" + countNoun(int64(utf8.RuneCountInString(from.String)), "character", "characters") + ")"
	case tf == schema.FamBinary && familyOf(c.src) == schema.FamBinary:
		s += " (" + countNoun(int64(len(from.String)), "byte", "bytes") + ")"
	}
	return s + " does not fit " + displayTarget(c.src, c.tgt) + " (it would become " + formatValue(to, tf) + ")"
}

func rowPrefix(key []schema.Column, keyVals []sql.NullString) string {
	if len(key) == 0 {
		return ""
	}
	return formatKey(key, keyVals) + ": "
}
