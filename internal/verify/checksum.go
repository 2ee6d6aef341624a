package verify

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
)

// maxDiffRows is how many differing rows an error names.
const maxDiffRows = 10

// side is one of the two tables as the checksum reads it.
type side struct {
	table string // quoted, schema-qualified
	// index is the quoted name of the key's index to force, or "" to leave
	// the choice to the optimizer.
	index string
	// key is the key as its ranges walk it (sqlbuild.Range).
	key sqlbuild.Key
	// numbered tells the key's ENUMs and SETs that keep their definition,
	// which the row diff reads and matches by number: by name, an ENUM's
	// error value and its empty member read alike.
	numbered []bool
	// keyMarks are the placeholders of key values from the binary log
	// (see capture.KeyPlaceholder).
	keyMarks []string
	// row is the expression of a row's tokens (see rowString), and hash
	// the MD5 of it.
	row, hash string
}

// plan is how both tables are checksummed.
type plan struct {
	orig, shadow side
	// source is the original's definition, which tells what a key's
	// numbers stand for in messages (schema.ShownKey).
	source     *schema.Table
	unverified []Unverified
	// byChunks is false when key ranges of the original do not select the
	// same rows in the shadow (the key's type or collation changes its
	// order), and the tables are then compared whole.
	byChunks bool
	// whole says why byChunks is false.
	whole string
	// crc says the chunk sums use CRC32 and CRC32C (see crcSumQuery)
	// rather than MD5.
	crc bool
}

// newPlan normalizes every column pair of m and builds the row hashes;
// crc chooses the chunk sums of servers with CRC32C.
func newPlan(m *schema.Mapping, crc bool) (*plan, error) {
	var norms []pairNorm
	p := &plan{crc: crc}
	for _, cp := range m.Columns {
		o, ok1 := m.Source.Column(cp.Old)
		n, ok2 := m.Shadow.Column(cp.New)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("column %s or %s is missing from the table definitions", mysql.QuoteIdent(cp.Old), mysql.QuoteIdent(cp.New))
		}
		pn, unv := normalize(cp, o, n, m.TimeZone)
		if unv != nil {
			if isKey(m, cp) {
				return nil, fmt.Errorf("cannot verify the copy because key column %s %s", mysql.QuoteIdent(cp.Old), unv.Reason)
			}
			p.unverified = append(p.unverified, *unv)
			continue
		}
		norms = append(norms, pn)
	}
	p.orig = side{
		table: mysql.QuoteTable(m.Source.Database, m.Source.Name),
		index: mysql.QuoteIdent(m.KeyName),
		key:   m.OldRangeKey(),
		row:   rowString(norms, true),
	}
	p.shadow = side{
		table: mysql.QuoteTable(m.Shadow.Database, m.Shadow.Name),
		key:   m.NewRangeKey(),
		row:   rowString(norms, false),
	}
	p.orig.hash, p.shadow.hash = "MD5("+p.orig.row+")", "MD5("+p.shadow.row+")"
	for _, k := range m.Key {
		src := m.Source.Columns[k.Index]
		target, _ := m.Shadow.Column(k.New)
		p.orig.keyMarks = append(p.orig.keyMarks, capture.KeyPlaceholder(src, src))
		p.shadow.keyMarks = append(p.shadow.keyMarks, capture.KeyPlaceholder(src, target))
		numbered := schema.KeyHoldsNumber(src) && strings.EqualFold(src.ColumnType, target.ColumnType)
		p.orig.numbered = append(p.orig.numbered, numbered)
		p.shadow.numbered = append(p.shadow.numbered, numbered)
	}
	p.source = m.Source
	idx, why := sameOrder(m)
	p.byChunks = why == ""
	p.whole = why
	if idx != "" {
		p.shadow.index = mysql.QuoteIdent(idx)
	}
	return p, nil
}

func isKey(m *schema.Mapping, cp schema.ColumnPair) bool {
	for _, k := range m.Key {
		if k.Old == cp.Old {
			return true
		}
	}
	return false
}

// sameOrder reports whether a key range of the original, applied to the
// shadow with the shadow's names, selects the rows with the same keys: the
// shadow's unique index that starts with the key columns (the mapping's
// ShadowKey), and key columns that order their values as before. It returns
// that index, and the reason when the order may differ. schema.NewMapping
// makes only such mappings; this guards a Config built otherwise.
func sameOrder(m *schema.Mapping) (index, why string) {
	if m.ShadowKey == "" {
		return "", "the new table has no unique key that starts with the key columns in their order"
	}
	for _, k := range m.Key {
		o, _ := m.Source.Column(k.Old)
		n, _ := m.Shadow.Column(k.New)
		if !schema.SameKeyOrder(o, n) {
			return m.ShadowKey, fmt.Sprintf("key column %s becomes %s, which may order values differently", mysql.QuoteIdent(k.Old), n.ColumnType)
		}
	}
	return m.ShadowKey, ""
}

// rowString is the expression of a row as one string: each verified column
// becomes a token that cannot be confused with another value's, and the
// row's tokens are concatenated. A token is 'N' for NULL; a number, date or
// time followed by a comma (it starts with a digit or a minus sign and holds
// no comma); 'd' and the 32-digit MD5 of a long value; or 'v', the length of
// the normalized bytes, a colon and the bytes. A normalization that returns
// NULL for a value that is not NULL (a conversion the server refused) falls
// back to the raw bytes ('r'), which makes the row differ unless both sides
// hold the same bytes. The NULL test and the fallback are left out where
// they cannot apply (a NOT NULL column, a total normalization): they cost
// about a tenth of the checksum. The string is NULL when it would be longer
// than max_allowed_packet.
func rowString(norms []pairNorm, old bool) string {
	tokens := make([]string, len(norms))
	for i, pn := range norms {
		col, e := mysql.QuoteIdent(pn.pair.New), pn.newExpr
		if old {
			col, e = mysql.QuoteIdent(pn.pair.Old), pn.oldExpr
		}
		raw := asBinary(col)
		var val, fallback string
		switch {
		case pn.plain:
			val = "CONCAT(" + e + ", ',')"
			fallback = "CONCAT('r', LENGTH(" + raw + "), ':', " + raw + ")"
		case pn.digest:
			val = "CONCAT('d', MD5(" + e + "))"
			fallback = "CONCAT('r', MD5(" + raw + "))"
		default:
			val = "CONCAT('v', LENGTH(" + e + "), ':', " + e + ")"
			fallback = "CONCAT('r', LENGTH(" + raw + "), ':', " + raw + ")"
		}
		token := val
		if !pn.total {
			token = "IFNULL(" + val + ", " + fallback + ")"
		}
		null := pn.newNull
		if old {
			null = pn.oldNull
		}
		if null {
			token = "IF(" + col + " IS NULL, 'N', " + token + ")"
		}
		tokens[i] = token
	}
	return "CONCAT(" + strings.Join(tokens, ", ") + ")"
}

// rows is the FROM ... WHERE part that selects a chunk's rows on one side.
func (s side) rows(c rowcopy.Chunk) (string, []any) {
	cond, args := sqlbuild.Range(s.key, c.Lower, c.Upper)
	return s.where(cond), args
}

// keyRows is the FROM ... WHERE part that selects the rows of keys, values
// from the binary log's row images, on one side.
func (s side) keyRows(keys [][]any) (string, []any) {
	cond, args := sqlbuild.KeyInMarks(s.key.Columns, s.keyMarks, keys)
	return s.where(cond), args
}

func (s side) where(cond string) string {
	from := s.table
	if s.index != "" {
		from += " FORCE INDEX (" + s.index + ")"
	}
	return "FROM " + from + " WHERE " + cond
}

// derived reads the rows of from (a FROM ... WHERE part) as the derived
// table r, with one column x computed once per row. The LIMIT keeps the
// optimizer from merging the derived table into the outer query, which
// would compute x again for each of its references.
func derived(x, from string) string {
	return "(SELECT " + x + " AS x " + from + " LIMIT 18446744073709551615) AS r"
}

// md5SumQuery is the checksum of the rows of from on one side, on a server
// without CRC32C: their count, the XOR of the two 64-bit halves of the
// rows' MD5s (an order-independent aggregate; the rows of a side have
// distinct keys, so none cancel out), and the number of rows whose hash
// came out NULL. Materializing the hashes made it 2.5 times faster (MariaDB
// 10.11, 100,000 rows of 8 columns: 0.31s instead of 0.76s).
func (s side) md5SumQuery(from string) string {
	return "SELECT COUNT(*), " +
		"CONCAT(COALESCE(BIT_XOR(CAST(CONV(LEFT(x, 16), 16, 10) AS UNSIGNED)), 0), '/', " +
		"COALESCE(BIT_XOR(CAST(CONV(RIGHT(x, 16), 16, 10) AS UNSIGNED)), 0)), " +
		"COALESCE(SUM(x IS NULL), 0) FROM " + derived(s.hash, from)
}

// crcSumQuery is the checksum of the rows of from on one side, on a server
// with CRC32C (MariaDB 10.8 and later): their count, the sum over the rows of
// CRC32(x) * CRC32C(x), x being the row's string, and the number of rows
// whose string came out NULL.
//
// Not a XOR of CRCs: a CRC is affine over GF(2) for inputs of one length,
// CRC(x ⊕ e) = CRC(x) ⊕ CRC(e) ⊕ CRC(0…0), so the same change e made to two
// rows of equal length flips the same bits of both rows' CRCs, and the
// flips cancel in a XOR. A product of two CRCs of different polynomials,
// taken as integers, changes by an amount that depends on both CRCs'
// values, not only on e, so two rows changed alike change it by different
// amounts; and the sum does not wrap: each product is below 2^64, and the
// SUM of BIGINT UNSIGNED is an exact DECIMAL(42,0) (MariaDB 10.11). A chance
// difference goes unnoticed when it leaves the sum unchanged, with odds of
// about 2^-64 per chunk, against 2^-128 for the MD5 sums; neither defends
// against differences crafted on purpose.
//
// The CRCs cost a fraction of building x, which the derived table does once
// for its three references, so that no sentinel is needed to count the NULL
// strings in the sum (MariaDB 10.11, 1,000,000 rows of 4 columns in ranges
// of 10,000, one side: 1.2s, against 2.1s with x built for each CRC and
// 2.1s for the MD5 sums). Unlike the MD5 sums' 32-byte hashes, the strings
// are as long as the rows: past tmp_table_size the derived table is an
// Aria one in tmpdir, and still the fastest (100,000 rows of 8 columns
// with a TEXT, ranges of 10,000, one side: 216ms with the derived tables in
// Aria, 329ms building x twice, 252ms for the MD5 sums).
func (s side) crcSumQuery(from string) string {
	return "SELECT COUNT(*), COALESCE(SUM(CRC32(x) * CRC32C(x)), 0), COALESCE(SUM(x IS NULL), 0) FROM " + derived(s.row, from)
}

// sumQuery is the checksum of the rows of from on one side.
func (p *plan) sumQuery(s side, from string) string {
	if p.crc {
		return s.crcSumQuery(from)
	}
	return s.md5SumQuery(from)
}

// keyedQuery selects a chunk's keys (as k0, k1, ...) and row hashes.
func (s side) keyedQuery(c rowcopy.Chunk) (string, []any) {
	from, args := s.rows(c)
	cols := make([]string, len(s.key.Columns))
	for i, k := range s.key.Columns {
		expr := mysql.QuoteIdent(k)
		if i < len(s.numbered) && s.numbered[i] {
			expr = "(" + expr + " + 0)"
		}
		cols[i] = expr + " AS " + keyAlias(i)
	}
	return "SELECT " + strings.Join(cols, ", ") + ", " + s.hash + " AS h " + from, args
}

func keyAlias(i int) string { return fmt.Sprintf("`k%d`", i) }

// diffQueries find up to maxDiffRows rows of a chunk that are missing from
// the shadow or differ (the first query, whose last column is true for a
// missing row), and rows the shadow has in excess (the second). Rows are
// matched on the key with the server's comparison, as the unique key of the
// shadow does.
func diffQueries(p *plan, c rowcopy.Chunk) (q1 string, a1 []any, q2 string, a2 []any) {
	oq, oargs := p.orig.keyedQuery(c)
	sq, sargs := p.shadow.keyedQuery(c)
	n := len(p.orig.key.Columns)
	on := make([]string, n)
	okeys := make([]string, n)
	skeys := make([]string, n)
	for i := range n {
		on[i] = "o." + keyAlias(i) + " = s." + keyAlias(i)
		okeys[i] = "o." + keyAlias(i)
		skeys[i] = "s." + keyAlias(i)
	}
	join := " ON " + strings.Join(on, " AND ")
	limit := fmt.Sprintf(" LIMIT %d", maxDiffRows)
	q1 = "SELECT " + strings.Join(okeys, ", ") + ", s.`k0` IS NULL FROM (" + oq + ") AS o LEFT JOIN (" + sq + ") AS s" + join +
		" WHERE NOT (o.h <=> s.h)" + limit
	q2 = "SELECT " + strings.Join(skeys, ", ") + " FROM (" + sq + ") AS s LEFT JOIN (" + oq + ") AS o" + join +
		" WHERE o.`k0` IS NULL" + limit
	return q1, append(oargs, sargs...), q2, append(sargs, oargs...)
}

// sum is the checksum of one side of a chunk.
type sum struct {
	rows uint64
	// digest combines the rows' hashes, as the server shows it.
	digest string
}

// querier is a connection in a snapshot.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// checksum sums a chunk on both sides.
func (p *plan) checksum(ctx context.Context, q querier, c rowcopy.Chunk) (orig, shadow sum, err error) {
	return p.sums(ctx, q, "chunk "+c.String(), func(s side) (string, []any) { return s.rows(c) })
}

// keysChecksum sums the rows of keys, values from the binary log, on both
// sides.
func (p *plan) keysChecksum(ctx context.Context, q querier, keys [][]any) (orig, shadow sum, err error) {
	return p.sums(ctx, q, fmt.Sprintf("%d changed rows", len(keys)), func(s side) (string, []any) { return s.keyRows(keys) })
}

// sums sums the rows that rows selects on both sides; what names them in
// errors.
func (p *plan) sums(ctx context.Context, q querier, what string, rows func(side) (string, []any)) (orig, shadow sum, err error) {
	for _, x := range []struct {
		s   side
		out *sum
	}{{p.orig, &orig}, {p.shadow, &shadow}} {
		from, args := rows(x.s)
		var unhashed uint64
		if err := q.QueryRowContext(ctx, p.sumQuery(x.s, from), args...).Scan(&x.out.rows, &x.out.digest, &unhashed); err != nil {
			if ctx.Err() != nil {
				// The driver may report a query cut short by the
				// context as "bad connection"; the cause is the context.
				err = context.Cause(ctx)
			}
			return sum{}, sum{}, fmt.Errorf("checksum %s of %s: %w", what, x.s.table, err)
		}
		if unhashed > 0 {
			return sum{}, sum{}, fmt.Errorf("checksum %s of %s: %d rows could not be hashed (a value longer than max_allowed_packet?)", what, x.s.table, unhashed)
		}
	}
	return orig, shadow, nil
}

// RowDiff is one row that differs between the original and the shadow.
type RowDiff struct {
	// Key is the row's key, in the order of the mapping's key columns, as
	// messages show it (schema.ShownKey).
	Key  []any
	Kind DiffKind
}

// DiffKind says how a row differs.
type DiffKind int

// The kinds of difference.
const (
	// Missing rows are in the original and not in the shadow.
	Missing DiffKind = iota
	// Extra rows are in the shadow and not in the original.
	Extra
	// Different rows are in both, with different values.
	Different
)

func (k DiffKind) String() string {
	switch k {
	case Missing:
		return "missing"
	case Extra:
		return "extra"
	}
	return "different"
}

// diff finds up to maxDiffRows rows of a chunk that differ.
func (p *plan) diff(ctx context.Context, q querier, c rowcopy.Chunk) ([]RowDiff, error) {
	q1, a1, q2, a2 := diffQueries(p, c)
	n := len(p.orig.key.Columns)
	var out []RowDiff
	read := func(query string, args []any, flag bool) error {
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("find the rows that differ in chunk %s: %w", c, err)
		}
		defer rows.Close()
		for rows.Next() && len(out) < maxDiffRows {
			key := make([]any, n)
			dest := make([]any, n, n+1)
			for i := range key {
				dest[i] = &key[i]
			}
			var missing bool
			if flag {
				dest = append(dest, &missing)
			}
			if err := rows.Scan(dest...); err != nil {
				return fmt.Errorf("find the rows that differ in chunk %s: %w", c, err)
			}
			for i := range key {
				if p.orig.numbered[i] {
					key[i] = schema.HeldKeyNumber(key[i])
				}
			}
			d := RowDiff{Key: schema.ShownKey(p.source, p.orig.key.Columns, key), Kind: Extra}
			if flag {
				d.Kind = Different
				if missing {
					d.Kind = Missing
				}
			}
			out = append(out, d)
		}
		return rows.Err()
	}
	if err := read(q1, a1, true); err != nil {
		return nil, err
	}
	if err := read(q2, a2, false); err != nil {
		return nil, err
	}
	return out, nil
}
