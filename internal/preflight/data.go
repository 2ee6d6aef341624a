package preflight

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// maxExamples is how many offending values a check shows in its Details.
const maxExamples = 5

// DataChecks runs the checks of the table's data against the new
// definition, in this order: unique-duplicates, narrowing. Both run whether
// the change copies the rows or is made natively, since a native ALTER also
// rejects duplicates and truncates values. Both only read, without locks.
func DataChecks(ctx context.Context, in Input) ([]Check, error) {
	if in.Target == nil {
		// The checks compare the table with its new definition; without it
		// they have nothing to judge, which is worth a warning, not a stop.
		return []Check{
			{Name: CheckUniqueDuplicates, Status: Warn, Message: "not checked: the table's new definition is unknown, so rows a new unique key would reject were not looked for"},
			{Name: CheckNarrowing, Status: Warn, Message: "not checked: the table's new definition is unknown, so values a new column type cannot hold were not looked for"},
		}, nil
	}
	if in.Source == nil {
		return nil, fmt.Errorf("check data of %s.%s: the table's definition is missing", in.Database, in.Table)
	}
	unique, err := uniqueCheck(ctx, in)
	if err != nil {
		return nil, err
	}
	narrowing, err := narrowingCheck(ctx, in)
	if err != nil {
		return nil, err
	}
	return []Check{unique, narrowing}, nil
}

// sourceName returns the source's name of the target column tgt, through the
// copied column pairs, or false when no source column carries over into it
// (an added column).
func sourceName(pairs [][2]string, tgt string) (string, bool) {
	for _, p := range pairs {
		if strings.EqualFold(p[1], tgt) {
			return p[0], true
		}
	}
	return "", false
}

// sourceTable is the quoted name of the table being changed.
func sourceTable(in Input) string { return mysql.QuoteTable(in.Source.Database, in.Source.Name) }

// displayType writes a column's type as a user reads it in a message:
// keywords upper-cased, ENUM members left as they are ("VARCHAR(10)",
// "INT(10) UNSIGNED", "ENUM('a','b')").
func displayType(c schema.Column) string {
	t := c.ColumnType
	open, end := strings.IndexByte(t, '('), strings.LastIndexByte(t, ')')
	if open < 0 || end < open {
		return strings.ToUpper(t)
	}
	return strings.ToUpper(t[:open]) + t[open:end+1] + strings.ToUpper(t[end+1:])
}

// displayTarget is the new type for a message, naming the character set
// when a string changes it.
func displayTarget(src, tgt schema.Column) string {
	s := displayType(tgt)
	if src.Charset != "" && tgt.Charset != "" && !strings.EqualFold(charsetName(src.Charset), charsetName(tgt.Charset)) {
		s += " CHARACTER SET " + tgt.Charset
	}
	return s
}

// formatValue writes a value for Details: numbers bare, strings quoted and
// cut short, binary strings that are not plain text in hex, NULL as NULL.
func formatValue(v sql.NullString, f schema.Family) string {
	if !v.Valid {
		return "NULL"
	}
	s := v.String
	switch {
	case f.Numeric() && f != schema.FamBit:
		return s
	case f == schema.FamBinary || f == schema.FamBit || !utf8.ValidString(s):
		if printable(s) {
			return mysql.QuoteString(shorten(s))
		}
		const maxBytes = 32
		if len(s) > maxBytes {
			return "0x" + strings.ToUpper(hex.EncodeToString([]byte(s[:maxBytes]))) + "…"
		}
		return "0x" + strings.ToUpper(hex.EncodeToString([]byte(s)))
	}
	return mysql.QuoteString(shorten(s))
}

// cut shortens a long value to keep a line of Details readable.
func shorten(s string) string {
	const maxRunes = 40
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	return string([]rune(s)[:maxRunes]) + "…"
}

func printable(s string) bool {
	for _, r := range s {
		if r >= utf8.RuneSelf || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// formatKey writes a row's key for Details: "id=7", or "a=1, b='x'".
func formatKey(cols []schema.Column, vals []sql.NullString) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c.Name + "=" + formatValue(vals[i], familyOf(c))
	}
	return strings.Join(parts, ", ")
}

// plural writes "1 row", "2 rows".
func countNoun(n int64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// joinAnd joins "a", "a and b", "a, b and c".
func andList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
