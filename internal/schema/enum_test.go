package schema

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
)

// TestHeldKeyValue: an ENUM in a key is its index, the error value 0, an
// empty string 0 only where no member is empty; a SET is its bits, signed
// as the server shows them; other columns and values pass unchanged. A SET
// of 64 members or with an empty member is no walkable key.
func TestHeldKeyValue(t *testing.T) {
	t.Parallel()
	withEmpty := Column{DataType: "enum", Values: []string{"b", "a", ""}}
	without := Column{DataType: "enum", Values: []string{"b", "a"}}
	text := Column{DataType: "varchar"}
	set := Column{DataType: "set", Values: []string{"a", "b", "c"}}
	wide := Column{DataType: "set"}
	for i := range 64 {
		wide.Values = append(wide.Values, fmt.Sprintf("m%d", i))
	}
	for _, tc := range []struct {
		name string
		c    Column
		v    any
		want any
	}{
		{"a member", withEmpty, "a", int64(2)},
		{"a member as bytes", withEmpty, []byte("b"), int64(1)},
		{"the empty member", withEmpty, "", int64(3)},
		{"the error value", withEmpty, EnumErrorValue{}, int64(0)},
		{"empty without an empty member", without, "", int64(0)},
		{"an index already", without, int64(2), int64(2)},
		{"no such member", without, "c", "c"},
		{"not an ENUM", text, "a", "a"},
		{"not an ENUM, the error value", text, EnumErrorValue{}, EnumErrorValue{}},
		{"a SET", set, "b,c", int64(6)},
		{"an empty SET", set, "", int64(0)},
		{"a SET as bytes", set, []byte("a"), int64(1)},
		{"a SET with no such member", set, "a,x", "a,x"},
		{"a SET's top bit, signed as the server shows it", wide, "m63", int64(math.MinInt64)},
	} {
		if got := HeldKeyValue(tc.c, tc.v); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: HeldKeyValue(%#v) = %#v, want %#v", tc.name, tc.v, got, tc.want)
		}
	}
	for in, want := range map[any]any{"x": "x", int64(3): int64(3)} {
		if got := HeldKeyNumber(in); got != want {
			t.Errorf("HeldKeyNumber(%#v) = %#v", in, got)
		}
	}
	if got := HeldKeyNumber([]byte("12")); got != int64(12) {
		t.Errorf("HeldKeyNumber(digits) = %#v, want 12", got)
	}
	if got := HeldKeyNumber([]byte("-9223372036854775808")); got != int64(math.MinInt64) {
		t.Errorf("HeldKeyNumber(a SET's top bit) = %#v", got)
	}
	// A SET of 64 members or with an empty member is no walkable key.
	emptyMember := Column{Name: "s", DataType: "set", Values: []string{"", "a"}}
	for _, c := range []Column{wide, emptyMember} {
		if UnwalkableKeyColumn(c) == "" {
			t.Errorf("a key with %v is walkable", c.Values)
		}
	}
	for _, c := range []Column{set, withEmpty, text} {
		if why := UnwalkableKeyColumn(c); why != "" {
			t.Errorf("a key with %s %v is not walkable: %s", c.DataType, c.Values, why)
		}
	}
	tbl := &Table{Columns: []Column{{Name: "k", DataType: "enum", Values: []string{"b", "a"}}, {Name: "id", DataType: "int"}}}
	if got, want := KeyAsHeld(tbl, []string{"k", "id"}, []any{[]byte("a"), int64(7)}), []any{int64(2), int64(7)}; !reflect.DeepEqual(got, want) {
		t.Errorf("KeyAsHeld = %#v, want %#v", got, want)
	}
	if KeyAsHeld(tbl, []string{"k"}, nil) != nil {
		t.Error("KeyAsHeld(nil) is not nil")
	}
}

// TestKeyTop: the highest number of each column a key holds as one, which
// sqlbuild.Range lists up to, and the keys that carry them: the
// original's and the shadow's, under the shadow's names.
func TestKeyTop(t *testing.T) {
	t.Parallel()
	set := func(n int) Column {
		c := Column{DataType: "set"}
		for i := range n {
			c.Values = append(c.Values, fmt.Sprintf("m%d", i))
		}
		return c
	}
	for _, tc := range []struct {
		name string
		c    Column
		want int64
	}{
		{"an ENUM: its last index", Column{DataType: "enum", Values: []string{"b", "a", ""}}, 3},
		{"a SET: every bit", set(3), 7},
		{"a SET of 63 members", set(63), math.MaxInt64},
		{"a SET of 64 members: never walked", set(64), 0},
		{"an integer", Column{DataType: "int"}, 0},
	} {
		if got := KeyTop(tc.c); got != tc.want {
			t.Errorf("%s: KeyTop = %d, want %d", tc.name, got, tc.want)
		}
	}

	src := &Table{Name: "t", Columns: []Column{
		{Name: "e", DataType: "enum", ColumnType: "enum('b','a')", Values: []string{"b", "a"}},
		{Name: "id", DataType: "int", ColumnType: "int(11)"},
	}}
	if got := RangeKey(src, []string{"e", "id"}); !slices.Equal(got.Tops, []int64{2, 0}) {
		t.Errorf("RangeKey tops %v, want [2 0]", got.Tops)
	}
	m := &Mapping{Source: src, Key: []ColumnPair{{Old: "e", New: "region", Index: 0}, {Old: "id", New: "id", Index: 1}}}
	old, shadow := m.OldRangeKey(), m.NewRangeKey()
	if !slices.Equal(old.Columns, []string{"e", "id"}) || !slices.Equal(shadow.Columns, []string{"region", "id"}) ||
		!slices.Equal(old.Tops, []int64{2, 0}) || !slices.Equal(shadow.Tops, old.Tops) {
		t.Errorf("OldRangeKey %+v, NewRangeKey %+v; want tops [2 0] under the original's and the shadow's names", old, shadow)
	}
}

// TestShownKey: an ENUM's or a SET's number is shown with what it stands
// for; other values as they are.
func TestShownKey(t *testing.T) {
	t.Parallel()
	tbl := &Table{Columns: []Column{
		{Name: "e", DataType: "enum", Values: []string{"b", "it's"}},
		{Name: "s", DataType: "set", Values: []string{"x", "y", "z"}},
		{Name: "id", DataType: "int"},
	}}
	got := fmt.Sprint(ShownKey(tbl, []string{"e", "s", "id"}, []any{int64(2), int64(5), int64(7)}))
	if want := `[2 ('it\'s') 5 ('x,z') 7]`; got != want {
		t.Errorf("ShownKey = %s, want %s", got, want)
	}
	got = fmt.Sprint(ShownKey(tbl, []string{"e", "s"}, []any{int64(0), int64(0)}))
	if want := `[0 (the error value) 0 ('')]`; got != want {
		t.Errorf("ShownKey = %s, want %s", got, want)
	}
}

// TestSetText: a SET's text as the server shows it (checked on MariaDB
// 10.11: SELECT CONCAT(s) of each mask), and which columns keep bits.
func TestSetText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		members []string
		bits    uint64
		want    string
	}{
		{[]string{"", "a"}, 1, ""},
		{[]string{"", "a"}, 3, "a"},
		{[]string{"a", "", "b"}, 3, "a,"},
		{[]string{"a", "", "b"}, 6, "b"},
		{[]string{"a", "", "b"}, 7, "a,,b"},
		{[]string{"p", "q", "r"}, 5, "p,r"},
		{[]string{"p"}, 0, ""},
	} {
		if got := SetText(tc.members, tc.bits); got != tc.want {
			t.Errorf("SetText(%q, %d) = %q, want %q", tc.members, tc.bits, got, tc.want)
		}
	}
	withEmpty := Column{DataType: "set", ColumnType: "set('','a')", Values: []string{"", "a"}}
	widened := Column{DataType: "set", ColumnType: "set('','a','b')", Values: []string{"", "a", "b"}}
	plain := Column{DataType: "set", ColumnType: "set('a','b')", Values: []string{"a", "b"}}
	text := Column{DataType: "varchar", ColumnType: "varchar(10)"}
	for _, tc := range []struct {
		name     string
		old, new Column
		want     bool
	}{
		{"the same SET with an empty member", withEmpty, withEmpty, true},
		{"its definition changes", withEmpty, widened, false},
		{"into a VARCHAR", withEmpty, text, false},
		{"no empty member", plain, plain, false},
		{"members that differ in case", withEmpty, Column{DataType: "set", ColumnType: "set('','A')", Values: []string{"", "A"}}, false},
	} {
		if got := KeepsSetBits(tc.old, tc.new); got != tc.want {
			t.Errorf("%s: KeepsSetBits = %v, want %v", tc.name, got, tc.want)
		}
	}
}
