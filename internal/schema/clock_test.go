package schema

import (
	"slices"
	"testing"
)

// TestNewClockColumns: a new column whose default calls a clock function
// in the session's zone is stamped; a copied one, a quoted literal, a
// TIMESTAMP's default, a zone-free function and a generated column are
// not.
func TestNewClockColumns(t *testing.T) {
	col := func(name, dataType, def string) Column {
		return Column{Name: name, DataType: dataType, ColumnType: dataType, Default: def}
	}
	gen := col("g", "datetime", "")
	gen.Generated, gen.Expression = true, "now()"
	shadow := &Table{Columns: []Column{
		col("Copied", "datetime", "current_timestamp()"),
		col("dt", "datetime", "current_timestamp(3)"),
		col("d", "date", "(curdate() + interval 1 day)"),
		col("t", "time", "curtime()"),
		col("y", "int", "year(now())"),
		col("word", "varchar", "'now'"),
		col("ts", "timestamp", "current_timestamp()"),
		col("utc", "datetime", "utc_timestamp()"),
		col("none", "datetime", ""),
		col("null", "datetime", "NULL"),
		gen,
	}}
	var got []string
	for _, c := range NewClockColumns(shadow, []string{"copied"}) {
		got = append(got, c.Name)
	}
	if want := []string{"dt", "d", "t", "y"}; !slices.Equal(got, want) {
		t.Errorf("stamped %q, want %q", got, want)
	}

	m := &Mapping{Columns: []ColumnPair{{Old: "a", New: "b"}}, Stamps: []Stamp{{Column: "dt", Value: "'2024-01-01 00:00:00'"}}}
	if got := m.InsertedNames(); !slices.Equal(got, []string{"b", "dt"}) {
		t.Errorf("inserted names %q", got)
	}
	if got := m.StampValues(); !slices.Equal(got, []string{"'2024-01-01 00:00:00'"}) {
		t.Errorf("stamp values %q", got)
	}
}
