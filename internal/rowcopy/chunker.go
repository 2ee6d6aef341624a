// Package rowcopy copies the original table's rows into the shadow in
// chunks bounded by key ranges.
//
// The chunker cuts the key space into consecutive ranges (lower, upper] that
// together cover every possible key: the first has no lower bound and the
// last has no upper bound, so a row inserted anywhere, even past the largest
// key seen when the copy began, falls into exactly one range. Ranges are
// found by walking the key index with a LIMIT, never with OFFSET, so the cost
// of a chunk does not grow with its place in the table.
//
// Ranges are disjoint, so several workers may copy different chunks at once.
package rowcopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
)

// Chunk is the key range (Lower, Upper] of the original. A nil Lower is the
// start of the table, a nil Upper its end.
type Chunk struct {
	Seq          int
	Lower, Upper []any
	// Rows is how many rows the range held when the chunker placed it
	// (rows come and go since): the progress of a walk over the key.
	Rows int
}

func (c Chunk) String() string {
	format := func(v []any, open string) string {
		if v == nil {
			return open
		}
		return fmt.Sprint(v...)
	}
	return fmt.Sprintf("#%d (%s, %s]", c.Seq, format(c.Lower, "-∞"), format(c.Upper, "+∞"))
}

// KeyWalk is what a chunker walks: a unique index of a table that tells
// every row apart, and its columns in order.
type KeyWalk struct {
	Database, Table string
	// Index is the index's name, which the chunker forces: the boundary
	// queries must walk it, not whatever the optimizer prefers.
	Index   string
	Columns []string
	// Numbered tells which of Columns a key holds as numbers: ENUMs and
	// SETs (schema.HeldKeyValue).
	Numbered []bool
	// Tops are the columns' highest numbers (schema.KeyTop), which Range
	// lists.
	Tops []int64
}

// NewKeyWalk is the walk over index, of columns cols, of table t.
func NewKeyWalk(t *schema.Table, index string, cols []string) KeyWalk {
	w := KeyWalk{Database: t.Database, Table: t.Name, Index: index, Columns: cols, Numbered: make([]bool, len(cols)),
		Tops: schema.RangeKey(t, cols).Tops}
	for i, name := range cols {
		c, _ := t.Column(name)
		w.Numbered[i] = schema.KeyHoldsNumber(c)
	}
	return w
}

// Key is the walked key as sqlbuild.Range takes it.
func (w KeyWalk) Key() sqlbuild.Key { return sqlbuild.Key{Columns: w.Columns, Tops: w.Tops} }

// Range is the condition for the key range (lower, upper] (sqlbuild.Range).
func (w KeyWalk) Range(lower, upper []any) (string, []any) {
	return sqlbuild.Range(w.Key(), lower, upper)
}

// WalkOf is the walk over the original's copy key of m.
func WalkOf(m *schema.Mapping) KeyWalk { return NewKeyWalk(m.Source, m.KeyName, m.KeyOldNames()) }

// SelectList is the key's columns as a SELECT list that reads them as keys
// hold them: an ENUM or a SET as its number, under its own name.
func (w KeyWalk) SelectList() string {
	out := make([]string, len(w.Columns))
	for i, c := range w.Columns {
		out[i] = mysql.QuoteIdent(c)
		if i < len(w.Numbered) && w.Numbered[i] {
			out[i] = "(" + out[i] + " + 0) AS " + out[i]
		}
	}
	return strings.Join(out, ", ")
}

// OrderBy is the ORDER BY list of the key's columns over the table, each
// named with its table: a bare name would mean SelectList's expression of
// an ENUM or a SET, which no index orders (MariaDB 10.11 sorted every
// remaining row for it: 393 ms against 1 ms for one boundary of 1,000,000
// rows).
func (w KeyWalk) OrderBy(desc bool) string {
	table := mysql.QuoteTable(w.Database, w.Table)
	parts := make([]string, len(w.Columns))
	for i, c := range w.Columns {
		parts[i] = table + "." + mysql.QuoteIdent(c)
		if desc {
			parts[i] += " DESC"
		}
	}
	return strings.Join(parts, ", ")
}

// Scanned turns key values read with SelectList, in place, into the values
// keys are bound as: an ENUM's or a SET's number, should the driver hand it
// over as its digits, becomes a number.
func (w KeyWalk) Scanned(key []any) []any {
	for i := range key {
		if i < len(w.Numbered) && w.Numbered[i] {
			key[i] = schema.HeldKeyNumber(key[i])
		}
	}
	return key
}

// Chunker hands out consecutive chunks of about Size rows.
type Chunker struct {
	db    *sql.DB
	key   KeyWalk
	size  int
	next  []any
	seq   int
	ended bool
	// upper bounds the chunker to (lower, upper] when bounded is set; a
	// nil upper is the end of the key space, as for an unbounded chunker.
	upper   []any
	bounded bool
}

// NewChunker returns a chunker over the original of m, starting at the
// beginning of the key space.
func NewChunker(db *sql.DB, m *schema.Mapping, size int) *Chunker {
	return &Chunker{db: db, key: WalkOf(m), size: size}
}

// NewChunkerIn returns a chunker over the range (lower, upper] of the
// original of m (nil for the start or the end of the key space): its
// chunks cover exactly that range, the last one ending at upper.
func NewChunkerIn(db *sql.DB, m *schema.Mapping, size int, lower, upper []any) *Chunker {
	return NewKeyChunker(db, WalkOf(m), size, lower, upper)
}

// NewKeyChunker returns a chunker over the range (lower, upper] of the key
// walk w (nil for the start or the end of the key space).
func NewKeyChunker(db *sql.DB, w KeyWalk, size int, lower, upper []any) *Chunker {
	return &Chunker{db: db, key: w, size: size, next: lower, upper: upper, bounded: true}
}

// SetSize changes the number of rows in the chunks still to come.
func (c *Chunker) SetSize(n int) {
	if n > 0 {
		c.size = n
	}
}

// Next returns the next chunk, or ok=false once the chunk without upper
// bound has been handed out.
func (c *Chunker) Next(ctx context.Context) (chunk Chunk, ok bool, err error) {
	if c.ended {
		return Chunk{}, false, nil
	}
	upper, rows, err := c.boundary(ctx)
	if err != nil {
		return Chunk{}, false, err
	}
	c.seq++
	if upper == nil && c.bounded {
		upper = c.upper
		c.ended = true
	}
	chunk = Chunk{Seq: c.seq, Lower: c.next, Upper: upper, Rows: rows}
	if upper == nil {
		c.ended = true
	}
	c.next = upper
	return chunk, true, nil
}

// boundary finds the key of the last of the next size rows after c.next, or
// nil when fewer than size rows remain: then the rest of the key space is
// the last chunk, which also holds the rows inserted since. Ending there
// rather than at the last row seen keeps the copy from chasing writers that
// insert at the end of the key faster than it hands out chunks (it would
// otherwise cut a small chunk of their newest rows again and again; seen
// under the race detector with one writer inserting at the end). Rows
// inserted after the last chunk is read reach the shadow through the binary
// log. It reads without locks: it only places a boundary, and any key may be
// a boundary.
func (c *Chunker) boundary(ctx context.Context) ([]any, int, error) {
	keyCols := c.key.Columns
	cond, args := c.key.Range(c.next, c.upper)
	src := mysql.QuoteTable(c.key.Database, c.key.Table)
	q := fmt.Sprintf("SELECT %s, COUNT(*) OVER () FROM (SELECT %s FROM %s FORCE INDEX (%s) WHERE %s ORDER BY %s LIMIT %d) AS chunk ORDER BY %s LIMIT 1",
		mysql.QuoteIdents(keyCols), c.key.SelectList(), src, mysql.QuoteIdent(c.key.Index), cond,
		c.key.OrderBy(false), c.size, sqlbuild.OrderBy(keyCols, true))
	vals := make([]any, len(keyCols))
	ptrs := make([]any, len(keyCols), len(keyCols)+1)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var rows int
	err := c.db.QueryRowContext(ctx, q, args...).Scan(append(ptrs, &rows)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("find next chunk of %s: %w", c.key.Table, err)
	}
	if rows < c.size {
		return nil, rows, nil
	}
	return c.key.Scanned(vals), rows, nil
}
