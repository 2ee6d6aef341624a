package capture

import (
	"database/sql/driver"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// Text is the value of a CHAR, VARCHAR, TEXT or JSON column in a row image:
// the bytes the column stores, in the column's own character set, exactly as
// the binary log carries them. Nothing is decoded.
//
// The bytes cannot be bound as an ordinary string parameter. A string
// parameter is text in the session's character set (utf8mb4 for tailor), so
// the server reads it as utf8mb4, refuses it when it is not valid utf8mb4
// (error 1300 for a gbk or latin2 value, checked on MariaDB 10.11), and when
// it happens to be valid converts it to the column's character set, changing
// it. Decoding each character set to UTF-8 in tailor instead would need
// MariaDB's own tables for 40 character sets, some of which map two byte
// sequences to one Unicode character (cp932, sjis), so the round trip would
// not even be exact. The bytes are therefore sent as hexadecimal text, which
// is ASCII in every session character set, and the server is asked to read
// them as the column's character set: see Placeholder. Text implements
// driver.Valuer as that hexadecimal text, so it must only ever be bound to a
// placeholder built by Placeholder or KeyPlaceholder.
type Text []byte

// Value returns the bytes as hexadecimal text for UNHEX().
func (t Text) Value() (driver.Value, error) { return hex.EncodeToString(t), nil }

// String shows the value in messages: as text when it is valid UTF-8, and as
// 0x-prefixed hexadecimal otherwise (a latin2 or gbk value, say).
func (t Text) String() string {
	if utf8.Valid(t) {
		return string(t)
	}
	return "0x" + hex.EncodeToString(t)
}

// isText reports whether the reader hands c's values over as Text.
func isText(c schema.Column) bool {
	switch c.DataType {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "json":
		return true
	}
	return false
}

// Placeholder returns the expression that binds the value of source column c
// of a row image: "?" for every column but a text one, and for a text column
// the hexadecimal text of its Text value read back as bytes of c's character
// set, which CONVERT(... USING cs) does without converting anything (a
// binary string converted to a character set is relabelled, and checked to
// be well formed). Stored into a column of another character set (an ALTER
// that changes it), the value is then converted by the server exactly as the
// copier's INSERT ... SELECT converts it.
func Placeholder(c schema.Column) string {
	if !isText(c) {
		return "?"
	}
	return "CONVERT(UNHEX(?) USING " + charsetName(c) + ")"
}

// KeyPlaceholder is Placeholder for a comparison with column target of the
// shadow (a key column in a WHERE clause): the value is converted to the
// target's character set and given its collation explicitly. Without the
// COLLATE, the value has the character set's default collation at the same
// coercibility as the column, which the server either refuses as an illegal
// mix of collations (latin2_czech_cs against latin2_general_ci) or resolves
// to whichever is _bin; with the column's own collation the comparison is
// the column's and its index is used.
func KeyPlaceholder(c, target schema.Column) string {
	if !isText(c) || target.Collation == "" || target.Charset == "" {
		return Placeholder(c)
	}
	return "CONVERT(" + Placeholder(c) + " USING " + mysql.QuoteIdent(strings.ToLower(target.Charset)) + ") COLLATE " + mysql.QuoteIdent(strings.ToLower(target.Collation))
}

func charsetName(c schema.Column) string {
	if c.Charset == "" {
		// information_schema gives every text column a character set; this
		// only guards a hand-built Column.
		return "utf8mb4"
	}
	return mysql.QuoteIdent(strings.ToLower(c.Charset))
}
