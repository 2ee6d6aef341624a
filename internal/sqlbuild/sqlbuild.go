// Package sqlbuild holds the small pure functions that build tailor's SQL:
// key range and key equality conditions over one or more columns. Every
// identifier is quoted and every value is a placeholder, so the builders are
// tested without a database.
package sqlbuild

import (
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// After builds "key > values" for a key over cols, expanded into
// (a > ? OR (a = ? AND b > ?)) rather than a row constructor comparison, which
// some servers (MariaDB among them) do not turn into an index range.
func After(cols []string, values []any) (string, []any) {
	return compare(cols, values, ">", ">")
}

// AtMost builds "key <= values" for a key over cols, expanded as After is.
func AtMost(cols []string, values []any) (string, []any) {
	return compare(cols, values, "<", "<=")
}

func compare(cols []string, values []any, strict, last string) (string, []any) {
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
		terms = append(terms, mysql.QuoteIdent(cols[i])+" "+op+" ?")
		args = append(args, values[i])
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
func Range(cols []string, lower, upper []any) (string, []any) {
	var conds []string
	var args []any
	if lower != nil {
		c, a := After(cols, lower)
		conds = append(conds, c)
		args = append(args, a...)
	}
	if upper != nil {
		c, a := AtMost(cols, upper)
		conds = append(conds, c)
		args = append(args, a...)
	}
	if len(conds) == 0 {
		return "1=1", nil
	}
	return strings.Join(conds, " AND "), args
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
