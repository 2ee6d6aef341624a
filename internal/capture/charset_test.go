package capture

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/workload"
)

func TestPlaceholder(t *testing.T) {
	t.Parallel()
	gbk := schema.Column{DataType: "varchar", Charset: "gbk", Collation: "gbk_chinese_ci"}
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"int", Placeholder(schema.Column{DataType: "int"}), "?"},
		{"enum names are text in the session's character set", Placeholder(schema.Column{DataType: "enum", Charset: "latin2"}), "?"},
		{"text", Placeholder(gbk), "CONVERT(UNHEX(?) USING `gbk`)"},
		{"json without a character set", Placeholder(schema.Column{DataType: "json"}), "CONVERT(UNHEX(?) USING utf8mb4)"},
		{"key", KeyPlaceholder(gbk, schema.Column{DataType: "varchar", Charset: "gbk", Collation: "gbk_bin"}),
			"CONVERT(CONVERT(UNHEX(?) USING `gbk`) USING `gbk`) COLLATE `gbk_bin`"},
		{"key of another type", KeyPlaceholder(schema.Column{DataType: "int"}, schema.Column{DataType: "bigint"}), "?"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
		}
	}
	if v, _ := Text("\xc4\xe3").Value(); v != "c4e3" {
		t.Errorf("Value = %v", v)
	}
	if s := Text("\xc4\xe3").String(); s != "0xc4e3" {
		t.Errorf("String of non-UTF-8 = %s", s)
	}
	if s := Text("é").String(); s != "é" {
		t.Errorf("String of UTF-8 = %s", s)
	}
}

// TestRoundTripCharsets captures rows of a table with a column for every
// character set the server offers, in several collations each, whose values
// use the sets' characters beyond ASCII (and, for one-byte sets, every byte
// 0x80-0xff, defined or not), writes the images into a second table as the
// applier does, and proves both hold the same bytes. It then finds each row
// of the copy again by each column's value with KeyPlaceholder.
func TestRoundTripCharsets(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	ctx := context.Background()
	cols, err := workload.CharsetColumns(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d columns", len(cols))
	defs := []string{"id INT PRIMARY KEY"}
	for _, c := range cols {
		defs = append(defs, fmt.Sprintf("%s VARCHAR(12) CHARACTER SET %s COLLATE %s NULL", mysql.QuoteIdent(c.Name), c.Charset, c.Collation))
	}
	create := "CREATE TABLE %s (" + strings.Join(defs, ", ") + ") ENGINE=InnoDB ROW_FORMAT=DYNAMIC"
	exec(t, db, fmt.Sprintf(create, "src"), fmt.Sprintf(create, "dst"))
	r := startReader(t, db, name, "src")
	tbl := mustLoad(t, db, name, "src")

	rng := rand.New(rand.NewPCG(11, 2))
	const nRows = 20
	for id := 1; id <= nRows; id++ {
		marks, args := []string{"?"}, []any{id}
		for _, c := range cols {
			m, a := c.Value(rng)
			marks, args = append(marks, m), append(args, a)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO src VALUES ("+strings.Join(marks, ", ")+")", args...); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	for seen < nRows {
		b := r.next(t)
		for _, c := range b.Changes {
			applyInsert(t, db, tbl, c.After)
			seen++
		}
	}
	compareTables(t, db, tbl)

	exec(t, db, "DELETE FROM src")
	var images [][]any
	for len(images) < nRows {
		for _, c := range r.next(t).Changes {
			images = append(images, c.Before)
		}
	}
	for _, c := range tbl.Columns[1:] {
		for _, img := range images {
			var n int
			q := "SELECT COUNT(*) FROM dst WHERE id = ? AND " + mysql.QuoteIdent(c.Name) + " = " + KeyPlaceholder(c, c)
			if err := db.QueryRowContext(ctx, q, img[0], img[c.Ordinal-1]).Scan(&n); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if n != 1 {
				t.Errorf("row %v not found by column %s = %v", img[0], c.Name, img[c.Ordinal-1])
			}
		}
	}
}
