package schema

import (
	"slices"
	"testing"
)

// TestNewClockColumns: a new column whose default calls a clock function
// is found, a TIMESTAMP's too; a copied one, a quoted literal, a default
// without a clock and a generated column are not. Of those found, one that
// reads a column or calls a function that differs from call to call is
// computed row by row.
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
		col("ts", "timestamp", "current_timestamp()"),
		col("utc", "datetime", "utc_timestamp()"),
		col("epoch", "bigint", "unix_timestamp()"),
		col("age", "int", "(to_days(curdate()) - to_days(`born`))"),
		col("tok", "varchar", "concat(current_timestamp(6),'-',uuid())"),
		col("sys", "datetime", "sysdate()"),
		col("word", "varchar", "'now'"),
		col("none", "datetime", ""),
		col("null", "datetime", "NULL"),
		col("n", "int", "(1 + 2)"),
		gen,
	}}
	var got, perRow []string
	for _, c := range NewClockColumns(shadow, []string{"copied"}) {
		got = append(got, c.Name)
		if PerRowClock(c) {
			perRow = append(perRow, c.Name)
		}
	}
	if want := []string{"dt", "d", "t", "y", "ts", "utc", "epoch", "age", "tok", "sys"}; !slices.Equal(got, want) {
		t.Errorf("clock defaults %q, want %q", got, want)
	}
	if want := []string{"age", "tok", "sys"}; !slices.Equal(perRow, want) {
		t.Errorf("row by row %q, want %q", perRow, want)
	}

	m := &Mapping{Columns: []ColumnPair{{Old: "a", New: "b"}}, Stamps: []Stamp{{Column: "dt", Value: "'2024-01-01 00:00:00'"}}}
	if got := m.InsertedNames(); !slices.Equal(got, []string{"b", "dt"}) {
		t.Errorf("inserted names %q", got)
	}
	if got := m.StampValues(); !slices.Equal(got, []string{"'2024-01-01 00:00:00'"}) {
		t.Errorf("stamp values %q", got)
	}
}
