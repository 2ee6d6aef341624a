package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestSameKeyOrder(t *testing.T) {
	col := func(dataType, columnType, collation string, unsigned bool) Column {
		return Column{DataType: dataType, ColumnType: columnType, Collation: collation, Unsigned: unsigned}
	}
	cases := []struct {
		name     string
		old, new Column
		want     bool
	}{
		{"same int", col("int", "int(11)", "", false), col("int", "int(11)", "", false), true},
		{"int to bigint", col("int", "int(11)", "", false), col("bigint", "bigint(20)", "", false), true},
		{"int to bigint unsigned", col("int", "int(11)", "", false), col("bigint", "bigint(20) unsigned", "", true), true},
		{"decimal wider", col("decimal", "decimal(10,2)", "", false), col("decimal", "decimal(12,4)", "", false), true},
		{"varchar longer, same collation", col("varchar", "varchar(20)", "utf8mb4_general_ci", false), col("varchar", "varchar(40)", "utf8mb4_general_ci", false), true},
		{"char to varchar, same collation", col("char", "char(8)", "utf8mb4_general_ci", false), col("varchar", "varchar(8)", "utf8mb4_general_ci", false), false},
		{"char longer", col("char", "char(8)", "utf8mb4_general_ci", false), col("char", "char(16)", "utf8mb4_general_ci", false), true},
		{"collation ci to bin", col("varchar", "varchar(20)", "utf8mb4_general_ci", false), col("varchar", "varchar(20)", "utf8mb4_bin", false), false},
		{"charset change", col("varchar", "varchar(20)", "latin1_swedish_ci", false), col("varchar", "varchar(20)", "utf8mb4_general_ci", false), false},
		{"varbinary longer", col("varbinary", "varbinary(16)", "", false), col("varbinary", "varbinary(32)", "", false), true},
		{"binary longer pads", col("binary", "binary(16)", "", false), col("binary", "binary(32)", "", false), false},
		{"int to varchar", col("int", "int(11)", "", false), col("varchar", "varchar(20)", "utf8mb4_general_ci", false), false},
		{"datetime precision", col("datetime", "datetime", "", false), col("datetime", "datetime(6)", "", false), false},
		{"same datetime", col("datetime", "datetime(6)", "", false), col("datetime", "datetime(6)", "", false), true},
		{"timestamp to datetime", col("timestamp", "timestamp", "", false), col("datetime", "datetime", "", false), false},
		{"enum reordered", col("enum", "enum('a','b')", "utf8mb4_general_ci", false), col("enum", "enum('b','a')", "utf8mb4_general_ci", false), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := SameKeyOrder(c.old, c.new); got != c.want {
				t.Errorf("SameKeyOrder = %v, want %v", got, c.want)
			}
		})
	}
}

// TestNewMappingKeys: the copy walks a key of the original that the shadow
// keeps as the leading columns of a unique key, and refuses, naming each key
// and what the ALTER does to it, when there is none.
func TestNewMappingKeys(t *testing.T) {
	intCol := func(name string, ord int, dataType string) Column {
		return Column{Name: name, Ordinal: ord, DataType: dataType, ColumnType: dataType}
	}
	text := func(name string, ord int, collation string) Column {
		return Column{Name: name, Ordinal: ord, DataType: "varchar", ColumnType: "varchar(20)", Collation: collation}
	}
	pk := func(cols ...string) Index {
		return Index{Name: "PRIMARY", Unique: true, Columns: cols, SubParts: make([]int, len(cols))}
	}
	uk := func(name string, cols ...string) Index {
		return Index{Name: name, Unique: true, Columns: cols, SubParts: make([]int, len(cols))}
	}
	table := func(name string, cols []Column, idx ...Index) *Table {
		return &Table{Database: "d", Name: name, Columns: cols, Indexes: idx}
	}
	base := []Column{intCol("id", 1, "int"), intCol("i", 2, "int"), text("email", 3, "utf8mb4_general_ci")}
	same := [][2]string{{"id", "id"}, {"i", "i"}, {"email", "email"}}
	var members []string
	for i := range 64 {
		members = append(members, string(rune('a'+i%26))+strings.Repeat("x", i/26))
	}
	wideSet := []Column{intCol("id", 1, "int"), {Name: "i", Ordinal: 2, DataType: "set", ColumnType: "set(...)", Values: members}, base[2]}
	emptyMemberSet := []Column{intCol("id", 1, "int"), {Name: "i", Ordinal: 2, DataType: "set", ColumnType: "set('','a')", Values: []string{"", "a"}}, base[2]}
	cases := []struct {
		name                      string
		source, shadow            *Table
		pairs                     [][2]string
		key, shadowKey, errSubstr string
	}{
		{name: "key kept", source: table("t", base, pk("id")), shadow: table("s", base, pk("id")),
			key: "PRIMARY", shadowKey: "PRIMARY"},
		{name: "primary key gains a column", source: table("t", base, pk("id")), shadow: table("s", base, pk("id", "i")),
			key: "PRIMARY", shadowKey: "PRIMARY"},
		{name: "exact unique key preferred to an extending one", source: table("t", base, pk("id")), shadow: table("s", base, pk("id", "i"), uk("old_id", "id")),
			key: "PRIMARY", shadowKey: "old_id"},
		{name: "primary key widened", source: table("t", base, pk("id")),
			shadow: table("s", []Column{intCol("id", 1, "bigint"), base[1], base[2]}, pk("id")),
			key:    "PRIMARY", shadowKey: "PRIMARY"},
		{name: "primary key replaced, unique key stays", source: table("t", base, pk("id"), uk("email", "email")),
			shadow: table("s", base, pk("i"), uk("email", "email")),
			key:    "email", shadowKey: "email"},
		{name: "primary key added beside a unique key", source: table("t", base, uk("email", "email")),
			shadow: table("s", base, pk("i"), uk("email", "email")),
			key:    "email", shadowKey: "email"},
		{name: "key columns in another order", source: table("t", base, pk("id")), shadow: table("s", base, pk("i", "id")),
			errSubstr: "primary key (id) is in no unique key of the new table (as its first columns, in this order)"},
		{name: "key replaced", source: table("t", base, pk("id")), shadow: table("s", base, pk("i")),
			errSubstr: "no key identifies rows alike in t and in the new table"},
		{name: "key column dropped", source: table("t", base, pk("id"), uk("email", "email")),
			shadow: table("s", base[1:], pk("i")), pairs: [][2]string{{"i", "i"}, {"email", "email"}},
			errSubstr: "primary key (id) loses column id; unique key email (email) is in no unique key"},
		{name: "key collation changed", source: table("t", base, uk("email", "email")),
			shadow:    table("s", []Column{base[0], base[1], text("email", 3, "utf8mb4_bin")}, uk("email", "email")),
			errSubstr: "has column email change from varchar(20) utf8mb4_general_ci to varchar(20) utf8mb4_bin"},
		{name: "a SET of 64 members cannot be walked, another key can", source: table("t", wideSet, pk("i", "id"), uk("email", "email")),
			shadow: table("s", wideSet, pk("i", "id"), uk("email", "email")),
			key:    "email", shadowKey: "email"},
		{name: "a SET of 64 members cannot be walked", source: table("t", wideSet, pk("i", "id")),
			shadow:    table("s", wideSet, pk("i", "id")),
			errSubstr: "no key of t can be walked in its index's order (primary key (i, id): column i is a SET of 64 members"},
		{name: "a SET with an empty member cannot be walked", source: table("t", emptyMemberSet, pk("i", "id")),
			shadow:    table("s", emptyMemberSet, pk("i", "id")),
			errSubstr: "column i is a SET with an empty member"},
		{name: "new key keeps a prefix of the key column", source: table("t", base, uk("email", "email")),
			shadow:    table("s", base, Index{Name: "email", Unique: true, Columns: []string{"email"}, SubParts: []int{5}}),
			errSubstr: "is in no unique key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pairs := c.pairs
			if pairs == nil {
				pairs = same
			}
			m, err := NewMapping(c.source, c.shadow, pairs)
			if c.errSubstr != "" {
				var nsk *NoSharedKeyError
				var unw *UnwalkableKeyError
				if err == nil || !(errors.As(err, &nsk) || errors.As(err, &unw)) || !strings.Contains(err.Error(), c.errSubstr) {
					t.Fatalf("err = %v, want a NoSharedKeyError or UnwalkableKeyError containing %q", err, c.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.KeyName != c.key || m.ShadowKey != c.shadowKey {
				t.Errorf("key %s, shadow key %s; want %s, %s", m.KeyName, m.ShadowKey, c.key, c.shadowKey)
			}
		})
	}
}
