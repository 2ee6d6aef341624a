package schema

import (
	"context"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/tailor-osc/tailor/internal/sandbox"
)

var sbx *sandbox.Sandbox

func TestMain(m *testing.M) { os.Exit(sandbox.RunTests(m, &sbx)) }

func TestParseEnumValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want []string
	}{
		{"enum('a','b')", []string{"a", "b"}},
		{"set('x','it''s','a,b')", []string{"x", "it's", "a,b"}},
		{"enum('')", []string{""}},
		{"enum('😀','ü')", []string{"😀", "ü"}},
	}
	for _, c := range cases {
		got, err := ParseEnumValues(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseEnumValues(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"enum", "enum('a)", "enum(a)"} {
		if _, err := ParseEnumValues(bad); err == nil {
			t.Errorf("ParseEnumValues(%q) did not fail", bad)
		}
	}
}

func TestLoad(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	ctx := context.Background()
	mustExec := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec("CREATE TABLE `we``ird tä` (id BIGINT UNSIGNED NOT NULL, b BINARY(4), e ENUM('x','y') NOT NULL, g INT AS (id+1) VIRTUAL, u VARCHAR(10), PRIMARY KEY (id), UNIQUE KEY uu (u))")
	tbl, err := Load(ctx, db, name, "we`ird tä")
	if err != nil {
		t.Fatal(err)
	}
	if got := tbl.ColumnNames(); !reflect.DeepEqual(got, []string{"id", "b", "e", "g", "u"}) {
		t.Fatalf("columns = %v", got)
	}
	id, _ := tbl.Column("ID")
	if !id.Unsigned || id.Nullable || id.Ordinal != 1 {
		t.Errorf("id = %+v", id)
	}
	b, _ := tbl.Column("b")
	if !b.IsFixedBinary() || b.MaxLength != 4 {
		t.Errorf("b = %+v", b)
	}
	e, _ := tbl.Column("e")
	if !reflect.DeepEqual(e.Values, []string{"x", "y"}) {
		t.Errorf("e = %+v", e)
	}
	if g, _ := tbl.Column("g"); !g.Generated {
		t.Errorf("g not generated: %+v", g)
	}
	key, err := tbl.CopyKey()
	if err != nil || key.Name != "PRIMARY" || !reflect.DeepEqual(key.Columns, []string{"id"}) {
		t.Errorf("CopyKey = %+v, %v", key, err)
	}

	mustExec("CREATE TABLE nopk (a INT NOT NULL, b INT, UNIQUE KEY nb (b), UNIQUE KEY na (a))")
	tbl, err = Load(ctx, db, name, "nopk")
	if err != nil {
		t.Fatal(err)
	}
	if key, err := tbl.CopyKey(); err != nil || key.Name != "na" {
		t.Errorf("CopyKey without PK = %+v, %v; want na (NOT NULL unique)", key, err)
	}

	mustExec("CREATE TABLE nokey (a INT, b INT UNIQUE)")
	tbl, err = Load(ctx, db, name, "nokey")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.CopyKey(); !errors.Is(err, ErrNoUsableKey) {
		t.Errorf("CopyKey on a table without usable key = %v", err)
	}

	if _, err := Load(ctx, db, name, "missing"); !errors.Is(err, ErrTableNotFound) {
		t.Errorf("Load(missing) = %v", err)
	}
}
