package schema

import (
	"database/sql/driver"
	"strconv"
)

// EnumErrorValue is an ENUM's value in a row image when the row holds the
// ENUM's error value: index 0, which a session without strict mode stores
// for a string that is not a member. It reads as the empty string but is
// not the empty member an ENUM may also have: it sorts before every member,
// it is 0 in a numeric context, and a copy of the table (INSERT ... SELECT
// into an ENUM) keeps it as index 0, not as an empty member.
//
// As a statement parameter it is the empty string, which is what it reads
// as: right for a text column (an ENUM copied into a VARCHAR holds the
// empty string), and wrong for an ENUM column, which would store the empty
// member (or, in strict mode, refuse it). The applier writes an ENUM's
// error value itself (see apply.Applier), and a key holds it as index 0
// (EnumKeyValue).
type EnumErrorValue struct{}

// Value returns the empty string, the text the error value reads as.
func (EnumErrorValue) Value() (driver.Value, error) { return "", nil }

// String shows the value in messages.
func (EnumErrorValue) String() string { return "'' (the ENUM's error value, index 0)" }

// An ENUM in a key travels as its index, a number, wherever tailor binds a
// key (the chunks' ranges, the applier's and the checksum's lookups, the
// saved low watermark). Bound as its name, an ENUM is compared as a string
// when the server evaluates the condition row by row (a scan, an index
// scan, a join) but by its index when the condition becomes an index range,
// so the same WHERE selects different rows under different plans: with
// ENUM('b','a'), which the index orders b before a, "e > 'b'" found no row
// 'a' over a covering index scan (MariaDB 10.11) while the copy's range
// read found them all; and "e = ''" meets both the empty member and the
// error value in a scan. Compared with a number, an ENUM compares its
// index under every plan. A copy key keeps its ENUM's definition
// (SameKeyOrder), so the index means the same member in both tables.

// EnumKeyValue is v, a value of column c in a key, as a key holds it: for
// an ENUM, its index (the error value 0); a member's name is looked up in
// c's members as the binary log and the server spell them. Any other value,
// and any value of another column, is returned as it is.
func EnumKeyValue(c Column, v any) any {
	if c.Family() != FamEnum {
		return v
	}
	var name string
	switch v := v.(type) {
	case EnumErrorValue:
		return int64(0)
	case string:
		name = v
	case []byte:
		name = string(v)
	default:
		return v
	}
	for i, m := range c.Values {
		if m == name {
			return int64(i + 1)
		}
	}
	if name == "" {
		return int64(0) // no empty member: only the error value reads as ''
	}
	return v
}

// KeyAsHeld is key, values of t's columns cols, as a key holds them
// (EnumKeyValue): for a key saved by an older tailor, which kept an ENUM's
// name.
func KeyAsHeld(t *Table, cols []string, key []any) []any {
	if key == nil {
		return nil
	}
	out := make([]any, len(key))
	for i, v := range key {
		out[i] = v
		if i < len(cols) {
			if c, ok := t.Column(cols[i]); ok {
				out[i] = EnumKeyValue(c, v)
			}
		}
	}
	return out
}

// EnumKeyIndex is v, an ENUM key column's index read back with
// EnumKeySelect's expression, as the number it is: a query without
// parameters (the text protocol) returns it as its digits.
func EnumKeyIndex(v any) any {
	b, ok := v.([]byte)
	if !ok {
		return v
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return n
	}
	return v
}
