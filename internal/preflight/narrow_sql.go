package preflight

import (
	"strconv"
	"strings"

	"github.com/tailor-osc/tailor/internal/schema"
)

// The pure SQL builders of the data checks: how a value is compared as a
// new key compares it, and how a value is told to have changed on its way
// into a new type. They take quoted identifiers and return expressions;
// every name in them is quoted or filtered through schema.SQLName.

// keyPartExpr is the expression that groups the source column's values (col,
// quoted) as a unique key part over tgt compares them: in tgt's character set
// and collation, on tgt's family of type, cut to the key's prefix (subPart
// characters, or bytes for a binary type; 0 for the whole value).
//
// A value whose type narrows may also change on the way (VARCHAR(20) to
// VARCHAR(5)); the narrowing check reports those rows, so the key is judged
// on the values as they are.
func keyPartExpr(src, tgt schema.Column, col string, subPart int) string {
	sf, tf := familyOf(src), familyOf(tgt)
	e := col
	switch {
	case tf.Textual() && tgt.Charset != "":
		switch {
		case !strings.EqualFold(charsetName(src.Charset), charsetName(tgt.Charset)):
			e = "CONVERT(" + e + " USING " + schema.SQLName(tgt.Charset) + ") COLLATE " + schema.SQLName(tgt.Collation)
		case !strings.EqualFold(src.Collation, tgt.Collation):
			e += " COLLATE " + schema.SQLName(tgt.Collation)
		}
	case tf == schema.FamBinary && sf != schema.FamBinary:
		e = "CAST(" + e + " AS BINARY)"
	case tf.Numeric() && !sf.Numeric():
		// '1' and '1.0' become the same number.
		e = "CAST(" + e + " AS DECIMAL(65,30))"
	case tf == schema.FamDate && sf != schema.FamDate:
		e = "CAST(" + e + " AS DATETIME(6))"
	case tf == schema.FamTime && sf != schema.FamTime:
		e = "CAST(" + e + " AS TIME(6))"
	}
	if subPart > 0 && (tf.Textual() || tf == schema.FamBinary) {
		e = "LEFT(" + e + ", " + strconv.Itoa(subPart) + ")"
	}
	return e
}

// numberPattern matches the text of a number as the server reads it without
// a warning: spaces around, a sign, digits with an optional point, an
// exponent. Other text ('12abc', or the empty string) is rejected by strict
// mode, though the server would read it as some number.
const numberPattern = `'^[[:space:]]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?[[:space:]]*$'`

// differsExpr is a condition, never NULL, that holds when value s of src's
// type (a quoted column of the scan's temporary table) became something else
// as value t of tgt's type. What counts as the same value depends on the new
// type's family:
//
//   - a number: the same number (DECIMAL comparison for exact types, so no
//     digit is lost to floating point), and text that is a well-formed number;
//   - a DATE, DATETIME or TIMESTAMP: the same instant, to the microsecond;
//   - a TIME: the same time; from a date type, the same text (the date is
//     gone);
//   - a binary string: the same bytes;
//   - anything else: the same characters, compared as utf8mb4 bytes, so that
//     neither collation nor trailing spaces hide a difference.
//
// NULL only ever becomes NULL, and both sides NULL are the same.
func differsExpr(src, tgt schema.Column, s, t string) string {
	sf, tf := familyOf(src), familyOf(tgt)
	text := func(x string) string { return "CAST(CONVERT(" + x + " USING utf8mb4) AS BINARY)" }
	notSame := func(a, b string) string { return "NOT (" + a + " <=> " + b + ")" }
	switch {
	case tf.Numeric() && sf.Numeric():
		return notSame(s, t)
	case tf.Numeric() && (sf == schema.FamDate || sf == schema.FamTime):
		// The server compares a temporal value with a number as a temporal
		// value: 20200101100000 is '2020-01-01 10:00:00'.
		return notSame(s, t)
	case tf.Numeric():
		// A string, or an ENUM or SET by its text (in a numeric context an
		// ENUM would be its index).
		str := s
		if sf != schema.FamBinary {
			str = "CONVERT(" + s + " USING utf8mb4)"
		}
		malformed := "(" + s + " IS NOT NULL AND " + str + " NOT REGEXP " + numberPattern + ")"
		if tf == schema.FamFloat {
			return "(" + notSame(str, t) + " OR " + malformed + ")"
		}
		return "(" + notSame("CAST("+str+" AS DECIMAL(65,30))", "CAST("+t+" AS DECIMAL(65,30))") + " OR " + malformed + ")"
	case tf == schema.FamDate && sf != schema.FamTime:
		return notSame("CAST("+s+" AS DATETIME(6))", "CAST("+t+" AS DATETIME(6))")
	case tf == schema.FamTime && sf != schema.FamDate:
		return notSame("CAST("+s+" AS TIME(6))", "CAST("+t+" AS TIME(6))")
	case (tf == schema.FamBinary || sf == schema.FamBinary) && tf != schema.FamOther && sf != schema.FamOther:
		return notSame("CAST("+s+" AS BINARY)", "CAST("+t+" AS BINARY)")
	}
	return notSame(text(s), text(t))
}

// columnDefinition is the definition of a column of the scan's temporary
// table that holds values exactly as c does: its type and character set,
// and always NULL, so that a NULL is kept and counted rather than turned
// into a default.
func columnDefinition(c schema.Column) string { return c.TypeDefinition() + " NULL" }

// originalDefinition is the definition of the column of the scan's
// temporary table that keeps a copy of c's value: c's own, except that a
// string is kept in LONGTEXT or LONGBLOB, which hold the same bytes (a
// CHAR's value as it is read, without its trailing spaces; a BINARY's with
// its padding) without counting against the 65535-byte row size limit that
// the new type's column already takes its share of.
func originalDefinition(c schema.Column) string {
	switch familyOf(c) {
	case schema.FamText:
		c.ColumnType = "longtext"
	case schema.FamBinary:
		c.ColumnType = "longblob"
	}
	return columnDefinition(c)
}

// nonStrictMode is mode without the strict flags: in the scan's session a
// value that does not fit becomes what a lenient server would store, with a
// warning, instead of failing the whole statement; the scan then compares
// it with the original.
func nonStrictMode(mode string) string {
	var keep []string
	for _, m := range strings.Split(mode, ",") {
		if m != "" && m != "STRICT_ALL_TABLES" && m != "STRICT_TRANS_TABLES" {
			keep = append(keep, m)
		}
	}
	return strings.Join(keep, ",")
}
