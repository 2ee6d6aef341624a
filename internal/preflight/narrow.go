package preflight

import (
	"strings"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/schema"
)

// This file holds the pure logic of the narrowing check: which type family
// a column belongs to, and whether a change of definition keeps every value
// a column can hold (a widening, which needs no scan). It errs on the side
// of "may lose": a change it does not recognise is scanned, and the server
// then decides value by value (see narrow_scan.go).

// family is the column's type family, for the narrowing check: DATE,
// DATETIME and TIMESTAMP are one family here (schema.FamDate), since their
// values convert into one another by the same rules.
func familyOf(c schema.Column) schema.Family {
	if f := c.Family(); f != schema.FamTimestamp {
		return f
	}
	return schema.FamDate
}

// definitionChanges reports whether the change of a column's definition can
// touch its values: a different type, character set or nullability. A new
// collation alone, or a new default or comment, leaves every stored value as
// it is (a collation matters only to unique keys, which the
// unique-duplicates check judges).
func definitionChanges(src, tgt schema.Column) bool {
	return !sameType(src, tgt) || (src.Nullable && !tgt.Nullable)
}

// sameType reports whether both columns have the same type and character
// set, so that every value is stored unchanged. The types are compared
// exactly: the server spells both the same way, and ENUM members differing
// only in case are different values.
func sameType(src, tgt schema.Column) bool {
	return src.ColumnType == tgt.ColumnType && strings.EqualFold(charsetName(src.Charset), charsetName(tgt.Charset))
}

// ValuesFit reports whether every non-NULL value that a column of from's
// type can hold is held unchanged by to's type (see valuesFit). The plan
// asks it the other way round, new type into old, to tell which columns a
// revert might find holding a value the old table cannot take.
func ValuesFit(from, to schema.Column) bool { return valuesFit(from, to) }

// valuesFit reports whether every non-NULL value that src's type can hold is
// held unchanged by tgt's type: a widening, for which no row needs to be
// read. NULLs are judged apart (see definitionChanges). It answers false
// for anything it does not recognise.
func valuesFit(src, tgt schema.Column) bool {
	if sameType(src, tgt) {
		return true
	}
	sf, tf := familyOf(src), familyOf(tgt)
	switch {
	case sf == schema.FamInteger && tf == schema.FamInteger:
		return intWithin(src, tgt)
	case sf == schema.FamInteger && tf == schema.FamDecimal:
		return signFits(src, tgt) && tgt.NumericPrecision-tgt.NumericScale >= int64(intDigits(src))
	case sf == schema.FamInteger && tf == schema.FamFloat:
		// A FLOAT holds integers exactly up to 2^24, a DOUBLE up to 2^53.
		mantissa := 24
		if tgt.DataType != "float" {
			mantissa = 53
		}
		return signFits(src, tgt) && !hasFloatDigits(tgt) && magnitudeBits(src) <= mantissa
	case sf == schema.FamDecimal && tf == schema.FamDecimal:
		return signFits(src, tgt) && tgt.NumericScale >= src.NumericScale &&
			tgt.NumericPrecision-tgt.NumericScale >= src.NumericPrecision-src.NumericScale
	case sf == schema.FamDecimal && tf == schema.FamInteger:
		// DECIMAL(p,0) holds up to 10^p-1, which fits when the type's largest
		// value has more than p digits (its largest value is never all nines).
		return src.NumericScale == 0 && signFits(src, tgt) && src.NumericPrecision < int64(intDigits(tgt))
	case sf == schema.FamFloat && tf == schema.FamFloat:
		// Every FLOAT is exactly a DOUBLE; a FLOAT(M,D) or DOUBLE(M,D) target
		// rounds.
		return src.DataType == "float" && tgt.DataType == "double" && signFits(src, tgt) && !hasFloatDigits(tgt)
	case sf == schema.FamBit && tf == schema.FamBit:
		return tgt.NumericPrecision >= src.NumericPrecision
	case (sf == schema.FamInteger || sf == schema.FamDecimal) && tf == schema.FamText:
		// A number becomes its decimal text: digits, a sign and a point, in
		// ASCII, which every character set tailor knows holds. ZEROFILL
		// pads the text to the display width, which may be wider.
		chars := int64(intDigits(src)) + 1
		if sf == schema.FamDecimal {
			chars = src.NumericPrecision + 2
		}
		return knownCharset(tgt.Charset) && chars <= charCapacity(tgt) && !strings.Contains(src.ColumnType, "zerofill")
	case sf == schema.FamText && tf == schema.FamText:
		return charsetHolds(tgt.Charset, src.Charset) && stringFits(src, tgt)
	case (sf == schema.FamEnum || sf == schema.FamSet) && tf == sf:
		return charsetHolds(tgt.Charset, src.Charset) && membersWithin(src.Values, tgt.Values)
	case (sf == schema.FamEnum || sf == schema.FamSet) && tf == schema.FamText:
		return charsetHolds(tgt.Charset, src.Charset) && memberTextFits(src, tgt)
	case sf == schema.FamBinary && tf == schema.FamBinary:
		// BINARY(n) pads with zero bytes, so a value moved into a BINARY of
		// another length changes.
		return tgt.DataType != "binary" && binaryBytes(src) <= binaryBytes(tgt)
	case sf == schema.FamDate && tf == schema.FamDate:
		return dateWithin(src, tgt)
	case sf == schema.FamTime && tf == schema.FamTime:
		return tgt.DatetimePrecision >= src.DatetimePrecision
	}
	return false
}

// intBits is the storage width of an integer type.
func intBits(c schema.Column) int {
	switch c.DataType {
	case "tinyint":
		return 8
	case "smallint":
		return 16
	case "mediumint":
		return 24
	case "int", "integer":
		return 32
	}
	return 64
}

// magnitudeBits is how many bits the largest magnitude of an integer type
// takes: a signed type spends one on the sign.
func magnitudeBits(c schema.Column) int {
	if c.Unsigned {
		return intBits(c)
	}
	return intBits(c) - 1
}

// intWithin reports whether tgt's range holds src's range.
func intWithin(src, tgt schema.Column) bool {
	switch {
	case src.Unsigned == tgt.Unsigned:
		return intBits(tgt) >= intBits(src)
	case src.Unsigned:
		return intBits(tgt) > intBits(src)
	}
	return false // a signed type's negative values do not fit an unsigned one
}

// intDigits is the number of decimal digits of an integer type's largest
// magnitude: 3 for TINYINT (-128, 255), 19 for BIGINT, 20 for BIGINT
// UNSIGNED.
func intDigits(c schema.Column) int {
	signed := map[int]int{8: 3, 16: 5, 24: 7, 32: 10, 64: 19}
	unsigned := map[int]int{8: 3, 16: 5, 24: 8, 32: 10, 64: 20}
	if c.Unsigned {
		return unsigned[intBits(c)]
	}
	return signed[intBits(c)]
}

// signFits reports whether negative values of src, if it has any, are
// allowed in tgt (DECIMAL, FLOAT and DOUBLE also take UNSIGNED).
func signFits(src, tgt schema.Column) bool { return src.Unsigned || !tgt.Unsigned }

// hasFloatDigits reports whether a FLOAT or DOUBLE was declared with (M,D),
// which rounds every value to D decimals.
func hasFloatDigits(c schema.Column) bool { return strings.Contains(c.ColumnType, "(") }

// dateWithin judges DATE, DATETIME and TIMESTAMP. A DATETIME or DATE may
// lie outside TIMESTAMP's range (1970 to 2038), so only a TIMESTAMP fits a
// TIMESTAMP; fewer fractional digits cut the fraction off.
func dateWithin(src, tgt schema.Column) bool {
	switch {
	case tgt.DataType == "date":
		return src.DataType == "date"
	case tgt.DataType == "timestamp" && src.DataType != "timestamp":
		return false
	case src.DataType == "date":
		return true
	}
	return tgt.DatetimePrecision >= src.DatetimePrecision
}

// stringFits judges a character type moved into another whose character set
// holds every character of the first.
func stringFits(src, tgt schema.Column) bool {
	// CHAR drops trailing spaces when it is read, so a value of any other
	// type that ends in spaces would change.
	if tgt.DataType == "char" && src.DataType != "char" {
		return false
	}
	chars := src.MaxLength
	if isTextType(src) {
		// The TEXT types count bytes, and a character may take as few as
		// minBytes of them.
		chars = src.OctetLength / int64(minBytes(src.Charset))
	}
	if isTextType(tgt) && isTextType(src) && strings.EqualFold(charsetName(src.Charset), charsetName(tgt.Charset)) {
		return src.OctetLength <= tgt.OctetLength
	}
	return chars <= charCapacity(tgt)
}

// charCapacity is how many characters a character type surely holds:
// CHAR and VARCHAR count characters; the TEXT types count bytes, so as many
// characters as fit in their widest encoding.
func charCapacity(tgt schema.Column) int64 {
	if isTextType(tgt) {
		return tgt.OctetLength / int64(maxBytes(tgt.Charset))
	}
	return tgt.MaxLength
}

func isTextType(c schema.Column) bool { return strings.HasSuffix(c.DataType, "text") }

// binaryBytes is the most bytes a binary type holds.
func binaryBytes(c schema.Column) int64 {
	if strings.HasSuffix(c.DataType, "blob") {
		return c.OctetLength
	}
	return c.MaxLength
}

// membersWithin reports whether every member of an ENUM or SET is also a
// member of the new one, spelled the same: the copy converts by the text
// of the value, so the members' order does not matter.
func membersWithin(src, tgt []string) bool {
	have := make(map[string]bool, len(tgt))
	for _, v := range tgt {
		have[v] = true
	}
	for _, v := range src {
		if !have[v] {
			return false
		}
	}
	return true
}

// memberTextFits reports whether the longest value of an ENUM or SET (for a
// SET, all members joined by commas) fits a character type, and no member
// ends in a space that a CHAR would drop.
func memberTextFits(src, tgt schema.Column) bool {
	var longest, all int64
	for _, v := range src.Values {
		n := int64(utf8.RuneCountInString(v))
		longest = max(longest, n)
		all += n + 1
		if tgt.DataType == "char" && strings.HasSuffix(v, " ") {
			return false
		}
	}
	need := longest
	if src.DataType == "set" {
		need = all - 1 // no comma after the last member
	}
	return need <= charCapacity(tgt)
}

// charsetName spells utf8 as utf8mb3, which MariaDB 10.6 and later call it.
func charsetName(cs string) string {
	cs = strings.ToLower(cs)
	if cs == "utf8" {
		return "utf8mb3"
	}
	return cs
}

// singleByteBMP reports whether cs is a one-byte character set every
// character of which is in Unicode's Basic Multilingual Plane (so utf8mb3
// holds them).
func singleByteBMP(cs string) bool {
	switch cs {
	case "ascii", "latin1", "latin2", "latin5", "latin7", "cp1250", "cp1251", "cp1256", "cp1257",
		"greek", "hebrew", "koi8r", "koi8u", "cp850", "cp852", "cp866", "swe7", "dec8",
		"armscii8", "geostd8", "keybcs2", "macce", "macroman", "tis620", "hp8":
		return true
	}
	return false
}

// eastAsian reports whether cs is one of the multi-byte East Asian sets,
// all of which map into Unicode and contain ASCII.
func eastAsian(cs string) bool {
	switch cs {
	case "big5", "gbk", "gb2312", "sjis", "cp932", "ujis", "eucjpms", "euckr":
		return true
	}
	return false
}

// knownCharset reports whether tailor knows cs (and so that it contains
// ASCII).
func knownCharset(cs string) bool { return charsetHolds(cs, "ascii") }

// charsetHolds reports whether character set to can hold every character
// of character set from. Sets tailor does not know hold only themselves.
func charsetHolds(to, from string) bool {
	to, from = charsetName(to), charsetName(from)
	bmp := singleByteBMP(from) || from == "utf8mb3" || from == "ucs2"
	switch {
	case to == from:
		return true
	case to == "utf8mb4" || to == "utf16" || to == "utf16le" || to == "utf32":
		// Full Unicode holds every set tailor knows to map into Unicode.
		return bmp || eastAsian(from) || from == "utf8mb4" || from == "utf16" || from == "utf16le" || from == "utf32"
	case to == "utf8mb3" || to == "ucs2":
		return bmp
	}
	// Every other set tailor knows contains ASCII.
	return from == "ascii" && (singleByteBMP(to) || eastAsian(to))
}

// maxBytes is the widest encoding of one character of the set; 4 (the
// widest of any set) for a set tailor does not know.
func maxBytes(cs string) int {
	switch cs = charsetName(cs); {
	case singleByteBMP(cs), cs == "binary":
		return 1
	case cs == "ucs2", cs == "big5", cs == "gbk", cs == "gb2312", cs == "sjis", cs == "cp932", cs == "euckr":
		return 2
	case cs == "utf8mb3", cs == "ujis", cs == "eucjpms":
		return 3
	}
	return 4
}

// minBytes is the narrowest encoding of one character of the set.
func minBytes(cs string) int {
	switch charsetName(cs) {
	case "ucs2", "utf16", "utf16le":
		return 2
	case "utf32":
		return 4
	}
	return 1
}
