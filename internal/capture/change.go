// Package capture turns the server's binary log into the stream of row
// changes made to one table: the Change and Position types, and the Reader
// that follows the binary log as a replica would.
package capture

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Position is a place in the binary log: a file and a byte offset in it.
// It is the end of an event: everything before it has been read.
type Position struct {
	File string
	Pos  uint32
}

func (p Position) String() string { return fmt.Sprintf("%s:%d", p.File, p.Pos) }

// IsZero reports whether p is unset.
func (p Position) IsZero() bool { return p.File == "" && p.Pos == 0 }

// Compare orders positions: -1 when p comes before q, 0 when equal, 1 after.
// Binary log files share a base name and differ by a numeric suffix
// (binlog.000009, binlog.000010), which is compared as a number.
func (p Position) Compare(q Position) int {
	if p.File != q.File {
		ps, qs := fileSequence(p.File), fileSequence(q.File)
		if ps != qs {
			if ps < qs {
				return -1
			}
			return 1
		}
		return strings.Compare(p.File, q.File)
	}
	switch {
	case p.Pos < q.Pos:
		return -1
	case p.Pos > q.Pos:
		return 1
	}
	return 0
}

func fileSequence(name string) int64 {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return -1
	}
	n, err := strconv.ParseInt(name[i+1:], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// Kind is what a Change does to a row.
type Kind int

const (
	// Insert adds a row: After holds it.
	Insert Kind = iota + 1
	// Update changes a row: Before holds the old image, After the new one.
	// The key may differ between the two (an update of the primary key).
	Update
	// Delete removes a row: Before holds it.
	Delete
)

func (k Kind) String() string {
	switch k {
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return "unknown"
}

// Change is one row event of the captured table. Row images hold a value for
// every column of the table in table order (schema.Column.Ordinal-1), already
// normalised so that passing it as a statement parameter, through the
// column's Placeholder, into a column of the same type stores exactly the
// original value: NULL is nil, ENUM and SET are their member names (an
// ENUM's error value is schema.EnumErrorValue, which needs its own
// statement: see apply.Applier; a SET with an empty member is
// schema.SetValue, whose bits the applier writes, since its names may lose
// that member), BINARY(n) keeps its trailing zero bytes,
// DECIMAL is its exact decimal text, temporal types are text in UTC, CHAR,
// VARCHAR, TEXT and JSON are Text (the bytes in the column's character
// set).
type Change struct {
	Kind   Kind
	Before []any
	After  []any
}

// Batch is the row changes of one or more whole transactions, in binary log
// order, and the position right after the last of them.
type Batch struct {
	Changes []Change
	End     Position
	// Time is the timestamp of the event that ended the batch (its
	// transaction's commit), by the server's clock, to the second: what
	// the applier's lag is measured from. Zero when unknown.
	Time time.Time
}
