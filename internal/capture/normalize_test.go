package capture

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/schema"
)

func TestDecodeValue(t *testing.T) {
	t.Parallel()
	col := func(dataType string, mod func(*schema.Column)) schema.Column {
		c := schema.Column{Name: "c", Ordinal: 1, DataType: dataType, ColumnType: dataType, Charset: "utf8mb4"}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	unsigned := func(c *schema.Column) { c.Unsigned = true }
	cases := []struct {
		name string
		col  schema.Column
		in   any
		want any
	}{
		{"tinyint", col("tinyint", nil), int8(-128), int64(-128)},
		{"tinyint unsigned max", col("tinyint", unsigned), int8(-1), uint64(255)},
		{"smallint unsigned max", col("smallint", unsigned), int16(-1), uint64(65535)},
		{"mediumint", col("mediumint", nil), int32(-8388608), int64(-8388608)},
		{"mediumint unsigned max", col("mediumint", unsigned), int32(-1), uint64(16777215)},
		{"int unsigned max", col("int", unsigned), int32(-1), uint64(4294967295)},
		{"bigint unsigned max", col("bigint", unsigned), int64(-1), uint64(18446744073709551615)},
		{"bigint", col("bigint", nil), int64(-9223372036854775808), int64(-9223372036854775808)},
		{"year", col("year", nil), 2024, int64(2024)},
		{"year zero", col("year", nil), 0, int64(0)},
		{"bit 64", col("bit", nil), int64(-1), uint64(18446744073709551615)},
		{"float", col("float", nil), float32(1.5), float32(1.5)},
		{"double", col("double", nil), 2.25, 2.25},
		{"decimal", col("decimal", nil), "-12.500000", "-12.500000"},
		{"datetime", col("datetime", nil), "2024-02-29 23:59:59.123456", "2024-02-29 23:59:59.123456"},
		{"varchar", col("varchar", nil), "héllo 😀", Text("héllo 😀")},
		{"text from blob", col("text", nil), []byte("😀"), Text("😀")},
		{"json", col("longtext", nil), []byte(`{"a": 1}`), Text(`{"a": 1}`)},
		{"latin1", col("varchar", func(c *schema.Column) { c.Charset = "latin1" }), "\xe9\x80\x81", Text("\xe9\x80\x81")},
		{"ucs2", col("char", func(c *schema.Column) { c.Charset = "ucs2" }), "\x00\xe9\x20\xac", Text("\x00\xe9\x20\xac")},
		{"utf16 surrogate", col("varchar", func(c *schema.Column) { c.Charset = "utf16" }), "\xd8\x3d\xde\x00", Text("\xd8\x3d\xde\x00")},
		{"utf16le", col("varchar", func(c *schema.Column) { c.Charset = "utf16le" }), "\xe9\x00", Text("\xe9\x00")},
		{"utf32", col("varchar", func(c *schema.Column) { c.Charset = "utf32" }), "\x00\x01\xf6\x00", Text("\x00\x01\xf6\x00")},
		// Any character set: the bytes are kept, never decoded.
		{"gbk", col("varchar", func(c *schema.Column) { c.Charset = "gbk" }), "\xc4\xe3\xba\xc3", Text("\xc4\xe3\xba\xc3")},
		{"sjis", col("text", func(c *schema.Column) { c.Charset = "sjis" }), []byte("\x82\xa0\x5c"), Text("\x82\xa0\x5c")},
		{"binary padded", col("binary", func(c *schema.Column) { c.MaxLength = 4; c.Charset = "" }), "\x01", []byte{1, 0, 0, 0}},
		{"binary full", col("binary", func(c *schema.Column) { c.MaxLength = 2 }), "\x00\x01", []byte{0, 1}},
		{"varbinary", col("varbinary", nil), "\x00a\x00", []byte{0, 'a', 0}},
		{"blob", col("blob", nil), []byte{0xff, 0}, []byte{0xff, 0}},
		{"uuid", col("uuid", nil), "\x6c\xcd\x78\x0c\xba\xba\x10\x26\x95\x64\x5b\x8c\x65\x60\x24\xdb", "6ccd780c-baba-1026-9564-5b8c656024db"},
		{"inet6", col("inet6", nil), "\x20\x01\x0d\xb8" + strings.Repeat("\x00", 11) + "\x01", "2001:db8::1"},
		{"inet6 mapped", col("inet6", nil), strings.Repeat("\x00", 10) + "\xff\xff\x01\x02\x03\x04", "::ffff:1.2.3.4"},
		{"inet4", col("inet4", nil), "\x0a\x01\x02\x03", "10.1.2.3"},
		{"inet4 stripped", col("inet4", nil), "\x0a", "10.0.0.0"},
		{"inet6 zero", col("inet6", nil), "", "::"},
		{"uuid zero", col("uuid", nil), "", "00000000-0000-0000-0000-000000000000"},
		{"enum", col("enum", func(c *schema.Column) { c.Values = []string{"a", "b"} }), int64(2), "b"},
		{"enum error value", col("enum", func(c *schema.Column) { c.Values = []string{"a", "b"} }), int64(0), schema.EnumErrorValue{}},
		{"set", col("set", func(c *schema.Column) { c.Values = []string{"p", "q", "r"} }), int64(5), "p,r"},
		{"set empty", col("set", func(c *schema.Column) { c.Values = []string{"p"} }), int64(0), ""},
		// With an empty member, names are ambiguous: the bits are kept.
		{"set, the empty member alone", col("set", func(c *schema.Column) { c.Values = []string{"", "a"} }), int64(1), schema.SetValue{Bits: 1, Text: ""}},
		{"set, the empty member first", col("set", func(c *schema.Column) { c.Values = []string{"", "a"} }), int64(3), schema.SetValue{Bits: 3, Text: "a"}},
		{"set, the empty member between", col("set", func(c *schema.Column) { c.Values = []string{"a", "", "b"} }), int64(7), schema.SetValue{Bits: 7, Text: "a,,b"}},
		{"set, the empty set", col("set", func(c *schema.Column) { c.Values = []string{"", "a"} }), int64(0), schema.SetValue{Bits: 0, Text: ""}},
	}
	for _, c := range cases {
		d, err := newRowDecoder(&schema.Table{Database: "d", Name: "t", Columns: []schema.Column{c.col}})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got, err := d.image([]any{c.in})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got[0], c.want) {
			t.Errorf("%s: got %#v (%T), want %#v (%T)", c.name, got[0], got[0], c.want, c.want)
		}
	}
}

func TestDecodeNullAndErrors(t *testing.T) {
	t.Parallel()
	table := &schema.Table{Database: "d", Name: "t", Columns: []schema.Column{
		{Name: "id", Ordinal: 1, DataType: "int"},
		{Name: "e", Ordinal: 2, DataType: "enum", Values: []string{"a"}},
		{Name: "s", Ordinal: 3, DataType: "set", Values: []string{"a"}},
	}}
	d, err := newRowDecoder(table)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.image([]any{nil, nil, nil})
	if err != nil || !reflect.DeepEqual(got, []any{nil, nil, nil}) {
		t.Errorf("NULLs: got %#v, %v", got, err)
	}
	bad := []struct {
		name string
		row  []any
		want string
	}{
		{"too few values", []any{int32(1)}, "1 values"},
		{"enum out of range", []any{int32(1), int64(2), nil}, "ENUM index 2"},
		{"set bits beyond members", []any{int32(1), nil, int64(2)}, "bits beyond"},
		{"wrong type", []any{"x", nil, nil}, "unexpected value of type string"},
	}
	for _, b := range bad {
		if _, err := d.image(b.row); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: error %v, want one containing %q", b.name, err, b.want)
		}
	}
	for _, c := range []schema.Column{
		{Name: "x", Ordinal: 1, DataType: "vector", ColumnType: "vector(3)"},
		{Name: "x", Ordinal: 2, DataType: "int"},
	} {
		if _, err := newRowDecoder(&schema.Table{Columns: []schema.Column{c}}); err == nil {
			t.Errorf("column %+v: no error", c)
		}
	}
}
