package schema

import (
	"database/sql/driver"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
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
// (HeldKeyValue).
type EnumErrorValue struct{}

// Value returns the empty string, the text the error value reads as.
func (EnumErrorValue) Value() (driver.Value, error) { return "", nil }

// String shows the value in messages.
func (EnumErrorValue) String() string { return "'' (the ENUM's error value, index 0)" }

// SetValue is a value of a SET that has an empty member (a member named by
// the empty string) in a row image: its bits, and its text as the server
// shows it. Its names cannot tell the empty member from the empty set (the
// empty string is both; with the empty member first and 'a' second, 'a' is
// bits 2 and bits 3), so a statement that writes it by name into a SET
// loses the member, as MariaDB's own INSERT ... SELECT does. A shadow
// column with the same definition is written its bits instead (the
// applier, and the copier's SELECT of the column's number).
//
// As a statement parameter it is its text, which a text column stores and
// a SET column of another definition reads by name, as the copy's
// conversion does.
type SetValue struct {
	Bits int64
	Text string
}

// Value returns the value's text.
func (v SetValue) Value() (driver.Value, error) { return v.Text, nil }

// String shows the value in messages.
func (v SetValue) String() string { return fmt.Sprintf("%q (bits %d)", v.Text, v.Bits) }

// SetText is the text of a SET value of members, the names of its bits
// joined as the server joins them: a comma before a name only once the text
// is not empty, so that with the empty member first and 'a' second, bits 3
// reads "a", and with 'a', the empty member and 'b', bits 3 reads "a,".
func SetText(members []string, bits uint64) string {
	var b strings.Builder
	for i, m := range members {
		if bits&(1<<uint(i)) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m)
	}
	return b.String()
}

// KeepsSetBits reports whether a SET column's values must travel as their
// bits from column old to column new: old has an empty member, which a
// value written by name may lose, and new is the same SET, in which the
// bits mean the same members. The types must match exactly: members that
// differ only in case are other members under a case-sensitive collation.
func KeepsSetBits(old, new Column) bool {
	return old.Family() == FamSet && slices.Contains(old.Values, "") && old.ColumnType == new.ColumnType
}

// An ENUM or a SET in a key travels as its number (an ENUM's index, a
// SET's bits), wherever tailor binds a key: the chunks' ranges, the
// applier's and the checksum's lookups, the saved low watermark. Bound as
// a name, such a column is compared as a string when the server evaluates
// the condition row by row, as it does for an ENUM's "<" and ">" (MariaDB
// 10.11 builds no index range for them) and in a scan, a covering index
// scan or a join, but by its number when it looks the value up in an
// index: the same WHERE then selects different rows under different plans.
// With ENUM('b','a'), which the index orders b before a, "e > 'b'" found no
// row 'a' over a covering index scan while a copy's read found them all;
// "e = ''" met both the empty member and the error value in a scan. A
// number compares by the number under every plan, which is the index's
// order (but for a SET of 64 members, whose index orders its bits
// unsigned: no key of such a column is walked, UnwalkableKeyColumn). A copy
// key keeps its columns' definitions (SameKeyOrder), so a number means the
// same member in both tables.

// KeyHoldsNumber reports whether a key holds c's values as numbers: an
// ENUM or a SET.
func KeyHoldsNumber(c Column) bool { return c.Family() == FamEnum || c.Family() == FamSet }

// HeldKeyValue is v, a value of column c in a key, as a key holds it: an
// ENUM as its index (the error value 0), a SET as its bits, from the names
// as the binary log and the server spell them. Any other value, and any
// value of another column, is returned as it is.
func HeldKeyValue(c Column, v any) any {
	if !KeyHoldsNumber(c) {
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
	if c.Family() == FamSet {
		return setBits(c, name, v)
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

// setBits is the bits of a SET value spelled as its members' names joined
// by commas (no member holds a comma), or v when a name is no member. The
// bits are a signed number, as the server shows and compares s + 0; only a
// SET of 64 members needs the sign bit, and it is no walkable key
// (UnwalkableKeyColumn).
func setBits(c Column, names string, v any) any {
	var bits uint64
	if names != "" {
		for _, n := range strings.Split(names, ",") {
			i := slices.Index(c.Values, n)
			if i < 0 || i >= 64 {
				return v
			}
			bits |= 1 << uint(i)
		}
	}
	return int64(bits)
}

// ShownKey is key, the values of t's columns cols as a key holds them, as
// messages show them: an ENUM's or a SET's number followed by what it
// stands for ("2 ('a')", "0 (the error value)"), which the operator knows
// the row by. Every other value is left as it is.
func ShownKey(t *Table, cols []string, key []any) []any {
	out := slices.Clone(key)
	for i, v := range key {
		if i >= len(cols) {
			break
		}
		c, ok := t.Column(cols[i])
		n, isNumber := v.(int64)
		if ok && isNumber && KeyHoldsNumber(c) {
			out[i] = shownNumber{n: n, stands: standsFor(c, n)}
		}
	}
	return out
}

// shownNumber is an ENUM's or a SET's number in a key, with what it
// stands for.
type shownNumber struct {
	n      int64
	stands string
}

func (s shownNumber) String() string { return fmt.Sprintf("%d (%s)", s.n, s.stands) }

// MarshalText gives the same text to JSON, which would write a struct of
// unexported fields as {}.
func (s shownNumber) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// standsFor is what number n of column c stands for: an ENUM's member or
// its error value, a SET's members.
func standsFor(c Column, n int64) string {
	if c.Family() == FamEnum {
		if n == 0 {
			return "the error value"
		}
		if n > 0 && n <= int64(len(c.Values)) {
			return mysql.QuoteString(c.Values[n-1])
		}
		return "no member"
	}
	var names []string
	for i, m := range c.Values {
		if uint64(n)&(1<<uint(i)) != 0 {
			names = append(names, m)
		}
	}
	return mysql.QuoteString(strings.Join(names, ","))
}

// KeyTop is the highest number a key holds for c: an ENUM's last index, a
// SET's every bit; 0 for a column a key does not hold as a number, and for
// a SET of 64 members, which no key walks (UnwalkableKeyColumn).
func KeyTop(c Column) int64 {
	switch {
	case c.Family() == FamEnum:
		return int64(len(c.Values))
	case c.Family() == FamSet && len(c.Values) < 64:
		return int64(uint64(1)<<len(c.Values) - 1)
	}
	return 0
}

// RangeKey is the key over t's columns cols, as sqlbuild.Range walks it:
// with each ENUM's or SET's highest number (KeyTop).
func RangeKey(t *Table, cols []string) sqlbuild.Key {
	k := sqlbuild.Key{Columns: cols, Tops: make([]int64, len(cols))}
	for i, name := range cols {
		if c, ok := t.Column(name); ok {
			k.Tops[i] = KeyTop(c)
		}
	}
	return k
}

// UnwalkableKeyColumn says why a key with column c cannot be walked in its
// index's order by numbers, or "" when it can: a SET of 64 members, whose
// index orders the bits unsigned while every comparison with a number is
// signed; a SET with an empty member, which the binary log's names spell
// like the empty set.
func UnwalkableKeyColumn(c Column) string {
	if c.Family() != FamSet {
		return ""
	}
	if len(c.Values) >= 64 {
		return fmt.Sprintf("column %s is a SET of %d members, which the index sorts as unsigned numbers while the server compares them signed", c.Name, len(c.Values))
	}
	if slices.Contains(c.Values, "") {
		return fmt.Sprintf("column %s is a SET with an empty member, whose values the binary log cannot tell from the empty set", c.Name)
	}
	return ""
}

// UnwalkableKeyError says that every key that identifies the table's rows
// has a column no walk can follow in its index's order
// (UnwalkableKeyColumn).
type UnwalkableKeyError struct {
	Table string
	// Reasons has one entry per key: the key and its column's reason.
	Reasons []string
}

func (e *UnwalkableKeyError) Error() string {
	return fmt.Sprintf("no key of %s can be walked in its index's order (%s): first add a UNIQUE key on NOT NULL columns without such a SET (a new AUTO_INCREMENT column, say)",
		e.Table, strings.Join(e.Reasons, "; "))
}

// WalkableKeys splits keys into those a walk can follow and an error
// naming why each other cannot, nil when all can.
func (t *Table) WalkableKeys(keys []Index) ([]Index, *UnwalkableKeyError) {
	var walkable []Index
	var refused *UnwalkableKeyError
	for _, k := range keys {
		why := t.UnwalkableKey(k)
		if why == "" {
			walkable = append(walkable, k)
			continue
		}
		if refused == nil {
			refused = &UnwalkableKeyError{Table: t.Name}
		}
		refused.Reasons = append(refused.Reasons, describeIndex(k)+": "+why)
	}
	return walkable, refused
}

// UnwalkableKey is UnwalkableKeyColumn for the first of idx's columns that
// cannot be walked, or "".
func (t *Table) UnwalkableKey(idx Index) string {
	for _, name := range idx.Columns {
		if c, ok := t.Column(name); ok {
			if why := UnwalkableKeyColumn(c); why != "" {
				return why
			}
		}
	}
	return ""
}

// KeyAsHeld is key, values of t's columns cols, as a key holds them
// (HeldKeyValue): for a key saved by an older tailor, which kept an ENUM or
// a SET by its names.
func KeyAsHeld(t *Table, cols []string, key []any) []any {
	if key == nil {
		return nil
	}
	out := make([]any, len(key))
	for i, v := range key {
		out[i] = v
		if i < len(cols) {
			if c, ok := t.Column(cols[i]); ok {
				out[i] = HeldKeyValue(c, v)
			}
		}
	}
	return out
}

// HeldKeyNumber is v, an ENUM's or a SET's number read back from the
// server (rowcopy.KeyWalk.SelectList), as the number it is, should the
// driver hand it over as its digits.
func HeldKeyNumber(v any) any {
	b, ok := v.([]byte)
	if !ok {
		return v
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return n
	}
	return v
}
