package schema

import (
	"context"
	"slices"
	"testing"
)

// TestNewComputedColumns: a new column whose default is an expression is
// found, a TIMESTAMP's too; a copied one, a literal and a generated column
// are not. Of those found, one that reads a column or calls a function
// that differs from call to call, outside quoted text, is computed row by
// row. The literals are those MariaDB shows in COLUMN_DEFAULT.
func TestNewComputedColumns(t *testing.T) {
	col := func(name, dataType, def string) Column {
		return Column{Name: name, DataType: dataType, ColumnType: dataType, Default: def,
			DefaultIsExpression: def != "" && !literalDefault.MatchString(def)}
	}
	gen := col("g", "datetime", "")
	gen.Generated, gen.Expression = true, "now()"
	shadow := &Table{Columns: []Column{
		col("Copied", "datetime", "current_timestamp()"),
		col("dt", "datetime", "current_timestamp(3)"),
		col("d", "date", "(curdate() + interval 1 day)"),
		col("y", "int", "year(current_timestamp())"),
		col("ts", "timestamp", "current_timestamp()"),
		col("epoch", "bigint", "unix_timestamp('2024-01-01 00:00:00')"),
		col("z", "datetime", "from_unixtime(0)"),
		col("n", "int", "(1 + 2)"),
		col("lbl", "varchar", "concat('rand-',curdate())"),
		col("age", "int", "(to_days(curdate()) - to_days(`born`))"),
		col("tok", "varchar", "concat(current_timestamp(6),'-',uuid())"),
		col("sys", "datetime", "sysdate()"),
		col("word", "varchar", "'now'"),
		col("quote", "varchar", "'it''s rand()'"),
		col("num", "decimal", "-1.50"),
		col("exp", "double", "1e10"),
		col("bits", "bit", "b'101'"),
		col("none", "datetime", ""),
		col("null", "datetime", "NULL"),
		gen,
	}}
	var got, perRow []string
	for _, c := range NewComputedColumns(shadow, []string{"copied"}) {
		got = append(got, c.Name)
		if PerRowDefault(c) {
			perRow = append(perRow, c.Name)
		}
	}
	if want := []string{"dt", "d", "y", "ts", "epoch", "z", "n", "lbl", "age", "tok", "sys"}; !slices.Equal(got, want) {
		t.Errorf("computed defaults %q, want %q", got, want)
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

// TestDefaultIsExpressionAsTheServerShows: the server's COLUMN_DEFAULT of
// every kind of literal reads as a literal, and of an expression as one.
func TestDefaultIsExpressionAsTheServerShows(t *testing.T) {
	db, database := sbx.NewDatabase(t)
	if _, err := db.Exec(`CREATE TABLE dd (a INT DEFAULT 5, b VARCHAR(10) DEFAULT 'x', c DATETIME DEFAULT CURRENT_TIMESTAMP,
		d DECIMAL(5,2) DEFAULT -1.5, e BIT(3) DEFAULT b'101', f INT DEFAULT NULL, g INT, h INT NOT NULL, i INT DEFAULT (1+2),
		j DOUBLE DEFAULT 1e10, k VARCHAR(10) DEFAULT 'it''s', l BINARY(2) DEFAULT 0x4142, m VARCHAR(20) DEFAULT (concat('a','b')),
		n TEXT DEFAULT 'x', o ENUM('a','b') DEFAULT 'b', p YEAR DEFAULT 2024, q VARBINARY(4) DEFAULT X'00FF', r FLOAT DEFAULT -0.5e-3,
		s DATE DEFAULT '2024-01-01', u VARCHAR(10) DEFAULT 'a\\b', v DATE DEFAULT (CURDATE()))`); err != nil {
		t.Fatal(err)
	}
	tbl, err := Load(context.Background(), db, database, "dd")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range tbl.Columns {
		if c.DefaultIsExpression {
			got = append(got, c.Name)
		}
	}
	if want := []string{"c", "i", "m", "v"}; !slices.Equal(got, want) {
		t.Errorf("expressions %q, want %q; the server shows:", got, want)
		for _, c := range tbl.Columns {
			t.Logf("%s: %s", c.Name, c.Default)
		}
	}
}

// TestStampsDefault: a computed default that reads the clock or the session
// is one value in any zone; any other only where the zone is not UTC's;
// one that differs per row never.
func TestStampsDefault(t *testing.T) {
	for _, c := range []struct {
		def         string
		utc, nonUTC bool
	}{
		{"current_timestamp()", true, true},
		{"connection_id()", true, true},
		{"concat('a',user())", true, true},
		{"`@x`", false, false},
		{"json_object('a',1)", false, true},
		{"concat('now',1)", false, true},
		{"from_unixtime(0)", false, true},
		{"concat(current_timestamp(6),uuid())", false, false},
		{"'now'", false, false},
	} {
		col := Column{Name: "c", DataType: "varchar", Default: c.def, DefaultIsExpression: !literalDefault.MatchString(c.def)}
		if got := StampsDefault(col, true); got != c.utc {
			t.Errorf("%s in UTC: stamped %v, want %v", c.def, got, c.utc)
		}
		if got := StampsDefault(col, false); got != c.nonUTC {
			t.Errorf("%s elsewhere: stamped %v, want %v", c.def, got, c.nonUTC)
		}
	}
}
