// Package sqlbuild holds the small pure functions that build tailor's SQL:
// key range and key equality conditions over one or more columns. Every
// identifier is quoted and every value is a placeholder, so the builders are
// tested without a database.
package sqlbuild

import (
	"math"
	"strconv"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// Key is the columns of an index that a range walks, in the index's order.
type Key struct {
	Columns []string
	// Tops has, for a column that the key holds as a number of few values
	// (an ENUM's index, a SET's bits), the highest of them; 0 for any other
	// column. It may be nil. MariaDB 10.11 builds no index range for such a
	// column's "<" and ">" (it compares them row by row), so every chunk
	// would read the whole index: Range names the numbers a bound leaves in
	// an IN list instead, for which it builds ranges.
	Tops []int64
}

// PlainKey is the key over cols, none of them held as a number.
func PlainKey(cols []string) Key { return Key{Columns: cols} }

// maxListed bounds an IN list of a column's numbers; a bound that would
// leave more is compared with "<" or ">", which selects the same rows,
// only without an index range.
const maxListed = 1024

// listed is the condition "col op v" on the key's column i as the IN list
// of the numbers it leaves of the column's own, 0 to its top, that also lie
// in [from, to]; false when the column is not listed, v is no number, or
// the list would be too long.
func (k Key) listed(i int, op string, v any, from, to int64) (string, bool) {
	if i >= len(k.Tops) || k.Tops[i] <= 0 {
		return "", false
	}
	n, ok := number(v)
	if !ok {
		return "", false
	}
	from, to = max(from, 0), min(to, k.Tops[i])
	switch {
	case op == ">" && n >= to, op == "<" && n <= from, op == "<=" && n < from:
		return "FALSE", true // also keeps n+1 and n-1 from wrapping around
	case op == ">":
		from = max(from, n+1)
	case op == "<":
		to = min(to, n-1)
	case op == "<=":
		to = min(to, n)
	default:
		return "", false
	}
	if from > to {
		return "FALSE", true
	}
	if to-from >= maxListed {
		return "", false
	}
	list := make([]string, 0, to-from+1)
	for x := from; x <= to; x++ {
		list = append(list, strconv.FormatInt(x, 10))
	}
	return mysql.QuoteIdent(k.Columns[i]) + " IN (" + strings.Join(list, ",") + ")", true
}

// number is a held key value as the integer it is.
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), n <= math.MaxInt64
	}
	return 0, false
}

// compare builds "key op values", expanded into (a > ? OR (a = ? AND
// b > ?)) rather than a row constructor comparison, which some servers
// (MariaDB among them) do not turn into an index range. A listed leading
// column is listed within [from, to] only: the range's other bound
// excludes the rest.
func (k Key) compare(values []any, strict, last string, from, to int64) (string, []any) {
	cols := k.Columns
	var parts []string
	var args []any
	for i := range cols {
		var terms []string
		for j := 0; j < i; j++ {
			terms = append(terms, mysql.QuoteIdent(cols[j])+" = ?")
			args = append(args, values[j])
		}
		op := strict
		if i == len(cols)-1 {
			op = last
		}
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if i == 0 {
			lo, hi = from, to
		}
		if in, ok := k.listed(i, op, values[i], lo, hi); ok {
			terms = append(terms, in)
		} else {
			terms = append(terms, mysql.QuoteIdent(cols[i])+" "+op+" ?")
			args = append(args, values[i])
		}
		parts = append(parts, "("+strings.Join(terms, " AND ")+")")
	}
	if len(parts) == 1 {
		return parts[0], args
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// Range builds the condition for the key range (lower, upper]: a nil lower
// means from the first row, a nil upper means through the last row, and
// both nil means the whole table ("1=1").
func Range(k Key, lower, upper []any) (string, []any) {
	from, to := int64(0), int64(math.MaxInt64)
	if n, ok := leading(lower); ok {
		from = n
	}
	if n, ok := leading(upper); ok {
		to = n
	}
	var conds []string
	var args []any
	if lower != nil {
		c, a := k.compare(lower, ">", ">", 0, to)
		conds = append(conds, c)
		args = append(args, a...)
	}
	if upper != nil {
		c, a := k.compare(upper, "<", "<=", from, math.MaxInt64)
		conds = append(conds, c)
		args = append(args, a...)
	}
	if len(conds) == 0 {
		return "1=1", nil
	}
	return strings.Join(conds, " AND "), args
}

// leading is a bound's first value as a number, if it is one.
func leading(bound []any) (int64, bool) {
	if len(bound) == 0 {
		return 0, false
	}
	return number(bound[0])
}

// KeyIn builds a condition that matches the rows whose key is one of keys:
// "a IN (?, ?)" for a single column, "(a = ? AND b = ?) OR (...)" otherwise.
func KeyIn(cols []string, keys [][]any) (string, []any) {
	return KeyInMarks(cols, plainMarks(len(cols)), keys)
}

// KeyInMarks is KeyIn with marks[i], an expression holding one "?", in place
// of each placeholder of column cols[i]: a value that must be read by an
// expression, such as CONVERT(UNHEX(?) USING gbk) for a text value carried
// as its bytes.
func KeyInMarks(cols, marks []string, keys [][]any) (string, []any) {
	var args []any
	if len(cols) == 1 {
		list := make([]string, len(keys))
		for i, k := range keys {
			list[i] = marks[0]
			args = append(args, k[0])
		}
		return mysql.QuoteIdent(cols[0]) + " IN (" + strings.Join(list, ", ") + ")", args
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		terms := make([]string, len(cols))
		for j, c := range cols {
			terms[j] = mysql.QuoteIdent(c) + " = " + marks[j]
			args = append(args, k[j])
		}
		parts[i] = "(" + strings.Join(terms, " AND ") + ")"
	}
	return strings.Join(parts, " OR "), args
}

func plainMarks(n int) []string {
	marks := make([]string, n)
	for i := range marks {
		marks[i] = "?"
	}
	return marks
}

// KeyEquals builds "a = ? AND b = ?" for one key.
func KeyEquals(cols []string, key []any) (string, []any) {
	terms := make([]string, len(cols))
	for i, c := range cols {
		terms[i] = mysql.QuoteIdent(c) + " = ?"
	}
	return strings.Join(terms, " AND "), key
}

// OrderBy is "a, b" (or "a DESC, b DESC") for a key.
func OrderBy(cols []string, desc bool) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = mysql.QuoteIdent(c)
		if desc {
			parts[i] += " DESC"
		}
	}
	return strings.Join(parts, ", ")
}

// InsertRows builds a multi-row INSERT of n rows into cols of table.
func InsertRows(table string, cols []string, n int) string {
	return InsertRowsMarks(table, cols, plainMarks(len(cols)), n)
}

// InsertRowsMarks is InsertRows with marks[i], an expression holding one
// "?", as the value of column cols[i] (see KeyInMarks).
func InsertRowsMarks(table string, cols, marks []string, n int) string {
	row := "(" + strings.Join(marks, ", ") + ")"
	rows := make([]string, n)
	for i := range rows {
		rows[i] = row
	}
	return "INSERT INTO " + table + " (" + mysql.QuoteIdents(cols) + ") VALUES " + strings.Join(rows, ", ")
}
