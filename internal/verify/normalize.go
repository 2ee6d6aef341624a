package verify

import (
	"fmt"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// Unverified is a copied column the checksum leaves out, because no
// normalization makes its old and new values compare equal exactly when the
// copy is right.
type Unverified struct {
	Old, New string
	Reason   string
}

// pairNorm says how one copied column is hashed on each side: oldExpr and
// newExpr turn the column into a binary string that is equal on both sides
// exactly when the copy carried the value right; digest says the value may be
// long and is hashed on its own before it joins the row.
type pairNorm struct {
	pair             schema.ColumnPair
	oldExpr, newExpr string
	digest           bool
	// plain says the normalized value is a number, a date or a time as
	// the server shows it: never empty, starting with a digit or a minus
	// sign, and without commas, so that a comma ends it unambiguously.
	plain bool
	// total says the normalization of a value that is not NULL is never
	// NULL (a byte copy, a number's digits), so that the row string needs
	// no fallback for it; oldNull and newNull say whether each side's
	// column accepts NULL.
	total            bool
	oldNull, newNull bool
}

// normalize finds the normalization of a column pair, or the reason there is
// none. The rules mirror what INSERT ... SELECT does to a value when the
// column's type changes, so that a right copy hashes equal:
//
//   - the same type (and character set and collation): the bytes as the
//     server shows them (CONVERT USING binary), except FLOAT and DOUBLE, hashed as
//     DOUBLE (exact, and shown with the shortest digits that read back the
//     same double), and TIMESTAMP, hashed as UNIX_TIMESTAMP so that a
//     session time zone with daylight saving cannot fold two instants
//     together;
//   - integers and BIT of any size and signedness: the number (col + 0,
//     which also drops ZEROFILL padding);
//   - DECIMAL with DECIMAL or an integer: the number's digits without
//     trailing fractional zeros, so 5, 5.00 and 5.0000 agree whatever the
//     precision and scale (no fixed-size CAST that could overflow);
//   - FLOAT and DOUBLE: as DOUBLE; a DOUBLE narrowed to FLOAT is rounded to
//     FLOAT first, as the copy does; a FLOAT(M,D) or DOUBLE(M,D) that
//     changes is not verified;
//   - ENUM with ENUM: the text (as for the same type, or as for text), after
//     whether it is the error value, index 0, which a copy keeps as index 0
//     and which reads as the empty string like an empty member;
//   - text, ENUM and SET: the characters in utf8mb4 (CONVERT USING utf8mb4,
//     then the bytes), which is what a copy between character sets keeps; a
//     value copied into CHAR loses its trailing spaces, so both sides are
//     compared without them then; a SET whose shared members change order,
//     or a SET filled from another type, is not verified (the server
//     reorders members); a SET with an empty member into the same SET: its
//     bits (schema.KeepsSetBits);
//   - binary strings with binary strings or text: the bytes (text in its own
//     character set, which is what the copy stores); BINARY(n) pads with
//     zero bytes, so both sides are compared without trailing zero bytes
//     when either is BINARY and the types differ;
//   - DATE, DATETIME and TIMESTAMP with each other: CAST AS DATETIME(6), a
//     TIMESTAMP on one side only read in the migration's time zone
//     (schema.ReadInZone: the copy converts it so, as the server's own
//     ALTER does in its session's zone), every other value as it is (every
//     tailor session runs in +00:00, and TIMESTAMP with TIMESTAMP is
//     compared above); TIME with TIME: CAST AS TIME(6); YEAR with YEAR:
//     the number;
//   - anything else (text with numbers, temporal with text, other types
//     that change): not verified.
func normalize(p schema.ColumnPair, o, n schema.Column, zone string) (pairNorm, *Unverified) {
	oc, nc := mysql.QuoteIdent(p.Old), mysql.QuoteIdent(p.New)
	co, cn := o.Family(), n.Family()
	pn := pairNorm{pair: p, digest: mayBeLong(o) || mayBeLong(n), plain: isPlain(co) && isPlain(cn),
		oldNull: o.Nullable, newNull: n.Nullable}
	both := func(f func(string) string) (pairNorm, *Unverified) {
		pn.oldExpr, pn.newExpr = f(oc), f(nc)
		return pn, nil
	}
	// Byte copies, integers' digits and text converted to utf8mb4 (an
	// unconvertible character becomes '?') never turn a value into NULL;
	// dates, decimals and floats keep the fallback.
	pn.total = isIntLike(co) && isIntLike(cn) || co == schema.FamYear && cn == schema.FamYear ||
		(co == schema.FamText || co == schema.FamBinary || co == schema.FamEnum || co == schema.FamSet) &&
			(cn == schema.FamText || cn == schema.FamBinary || cn == schema.FamEnum || cn == schema.FamSet) ||
		o.ColumnType == n.ColumnType && !isPlain(co)
	none := func(format string, args ...any) (pairNorm, *Unverified) {
		return pairNorm{}, &Unverified{Old: p.Old, New: p.New, Reason: fmt.Sprintf(format, args...)}
	}
	sameType := o.ColumnType == n.ColumnType && o.Charset == n.Charset && o.Collation == n.Collation
	switch {
	case co == schema.FamFloat && cn == schema.FamFloat:
		if !sameType && (strings.Contains(o.ColumnType, "(") || strings.Contains(n.ColumnType, "(")) {
			return none("%s becomes %s, and values with a fixed number of decimals are rounded in ways no exact comparison follows", o.ColumnType, n.ColumnType)
		}
		pn.oldExpr, pn.newExpr = asDouble(oc), asDouble(nc)
		if o.DataType == "double" && n.DataType == "float" {
			pn.oldExpr = asDouble("CAST(" + oc + " AS FLOAT)")
		}
		return pn, nil
	case co == schema.FamTimestamp && cn == schema.FamTimestamp:
		// Trimmed like a decimal: TIMESTAMP(0) shows 1700000000 where
		// TIMESTAMP(6) shows 1700000000.000000.
		return both(func(c string) string { return decimalDigits("UNIX_TIMESTAMP(" + c + ")") })
	case co == schema.FamEnum && cn == schema.FamEnum:
		text := func(c string, col schema.Column) string { return asText(c, col, false) }
		if sameType {
			text = func(c string, _ schema.Column) string { return asBinary(c) }
		}
		pn.oldExpr, pn.newExpr = withEnumError(oc, text(oc, o)), withEnumError(nc, text(nc, n))
		return pn, nil
	case schema.KeepsSetBits(o, n):
		// Its names read alike for the empty member and the empty set.
		return both(func(c string) string { return "(" + c + " + 0)" })
	case sameType:
		return both(asBinary)
	case isIntLike(co) && isIntLike(cn):
		return both(func(c string) string { return "(" + c + " + 0)" })
	case (co == schema.FamDecimal || co == schema.FamInteger) && (cn == schema.FamDecimal || cn == schema.FamInteger):
		return both(decimalDigits)
	case co.Textual() && cn.Textual():
		if cn == schema.FamSet && (co != schema.FamSet || !keepsOrder(o.Values, n.Values)) {
			return none("%s becomes %s, and a SET lists its members in its own order", o.ColumnType, n.ColumnType)
		}
		trim := n.DataType == "char" && o.DataType != "char"
		pn.oldExpr, pn.newExpr = asText(oc, o, trim), asText(nc, n, trim)
		return pn, nil
	case (co == schema.FamBinary || co == schema.FamText) && (cn == schema.FamBinary || cn == schema.FamText):
		// The bytes carry over as they are, a BINARY(n) original's zero
		// padding included, except that a BINARY(m) shadow pads them to m.
		// Trimming zeros on both sides instead would hide the binary log's
		// stripped BINARY padding, a known way to get such a copy wrong.
		if n.DataType == "binary" && n.MaxLength > 0 {
			pn.oldExpr = fmt.Sprintf("RPAD(%s, %d, X'00')", asBinary(oc), n.MaxLength)
			pn.newExpr = asBinary(nc)
			return pn, nil
		}
		return both(asBinary)
	case isDateLike(co) && isDateLike(cn):
		asDatetime := func(c string) string { return "CAST(" + c + " AS DATETIME(6))" }
		pn.oldExpr, pn.newExpr = asDatetime(oc), asDatetime(nc)
		if zone != "" && schema.CrossesZone(o, n) {
			if co == schema.FamTimestamp {
				pn.oldExpr = asDatetime(schema.ReadInZone(oc, zone))
			} else {
				pn.newExpr = asDatetime(schema.ReadInZone(nc, zone))
			}
		}
		return pn, nil
	case co == schema.FamTime && cn == schema.FamTime:
		return both(func(c string) string { return "CAST(" + c + " AS TIME(6))" })
	case co == schema.FamYear && cn == schema.FamYear:
		return both(func(c string) string { return "(" + c + " + 0)" })
	}
	return none("%s becomes %s, and there is no exact comparison between them", o.ColumnType, n.ColumnType)
}

func isIntLike(c schema.Family) bool { return c == schema.FamInteger || c == schema.FamBit }

// isPlain reports whether the class's values show as numbers, dates or
// times (see pairNorm.plain).
func isPlain(c schema.Family) bool {
	switch c {
	case schema.FamInteger, schema.FamDecimal, schema.FamFloat, schema.FamDate, schema.FamTimestamp, schema.FamTime, schema.FamYear:
		return true
	}
	return false
}
func isDateLike(c schema.Family) bool { return c == schema.FamDate || c == schema.FamTimestamp }

// asBinary is a value's bytes as the server shows it. CONVERT ... USING
// binary gives the same bytes as CAST ... AS BINARY, and costs less: 0.67s
// against 1.29s for one side's row strings of 1,000,000 sysbench rows in
// ranges of 10,000 (MariaDB 10.11, two integers and two CHARs, every
// column converted).
func asBinary(c string) string { return "CONVERT(" + c + " USING binary)" }

// asDouble shows a FLOAT or DOUBLE as a DOUBLE: a FLOAT widens to DOUBLE
// exactly, and the server shows a DOUBLE with the shortest digits that read
// back as the same double (MariaDB 10.11: 0.1 + 0.2 shows
// 0.30000000000000004), so distinct values show distinctly.
func asDouble(c string) string { return "CAST(" + c + " AS DOUBLE)" }

// decimalDigits shows a number without trailing fractional zeros (and
// without the point when nothing is left after it). An integer has no point
// and is left alone: trimming its zeros would make 100 into 1.
func decimalDigits(c string) string {
	s := "CAST(" + c + " + 0 AS CHAR)"
	return "IF(LOCATE('.', " + s + ") > 0, TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM " + s + ")), " + s + ")"
}

// asText is the characters of a text, ENUM or SET value as utf8mb4 bytes,
// without trailing spaces when trim is set.
func asText(c string, col schema.Column, trim bool) string {
	e := c
	if !strings.HasPrefix(col.Charset, "utf8mb4") {
		e = "CONVERT(" + c + " USING utf8mb4)"
	}
	if trim {
		e = "TRIM(TRAILING ' ' FROM " + e + ")"
	}
	return asBinary(e)
}

// withEnumError prefixes an ENUM's text with whether it is the error value
// (index 0), which reads as the empty string like an empty member but is
// another value: '1' or '0', one character, so the text after it is
// unambiguous.
func withEnumError(c, text string) string { return "CONCAT(" + c + " + 0 = 0, " + text + ")" }

// keepsOrder reports whether the members of old that new also has appear in
// new in the same order, so that a SET value's text is the same in both.
func keepsOrder(old, new []string) bool {
	last := -1
	for _, v := range old {
		for i, w := range new {
			if w == v { // SET members compare exactly as the definition spells them
				if i < last {
					return false
				}
				last = i
				break
			}
		}
	}
	return true
}

// inlineBytes is the longest value, in bytes, that a row's string carries
// as it is; a column that can hold longer ones is hashed on its own (MD5)
// before it joins the row. Hashing costs more than carrying the bytes: the
// sysbench table's c, a VARCHAR(150) in utf8mb4 that was hashed when the
// limit was 64 characters, made the checksum of 1,000,000 rows take 2.2 s
// hashed against 1.4 s carried (MariaDB 10.11, both sides, one session,
// ranges of 10,000). The limit is what keeps the row's string well under
// max_allowed_packet (the server makes a longer string NULL) and the
// checksum's derived table small: the columns carried are at most 1,024
// bytes each, and a row of columns that are not TEXT or BLOB holds at most
// 65,535 bytes.
const inlineBytes = 1024

// mayBeLong reports whether a column can hold values long enough that they
// are better hashed on their own than carried in the row's string.
func mayBeLong(c schema.Column) bool {
	switch c.Family() {
	case schema.FamText, schema.FamEnum, schema.FamSet:
		// MaxLength is in characters, compared as utf8mb4: up to 4
		// bytes each.
		return c.MaxLength*4 > inlineBytes
	case schema.FamBinary:
		return c.MaxLength > inlineBytes
	case schema.FamOther:
		return true // JSON in MySQL, geometry, and types tailor does not know
	}
	return false
}
