package preflight

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/schema"
)

// dataInput builds the Input of the data checks the way tailor does: table
// "<name>" is created and filled with setup, an empty clone "<name>_new" is
// given the ALTER, both are read back, and the copied columns come from the
// parsed ALTER.
func dataInput(t *testing.T, db *sql.DB, dbName, name, create, alter string, setup ...string) Input {
	t.Helper()
	ctx := context.Background()
	clone := name + "_new"
	stmts := append([]string{create}, setup...)
	stmts = append(stmts, "CREATE TABLE `"+clone+"` LIKE `"+name+"`", "ALTER TABLE `"+clone+"` "+alter)
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	source, err := schema.Load(ctx, db, dbName, name)
	if err != nil {
		t.Fatal(err)
	}
	target, err := schema.Load(ctx, db, dbName, clone)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ddl.Parse(alter)
	if err != nil {
		t.Fatalf("parse %q: %v", alter, err)
	}
	generated := map[string]bool{}
	for _, c := range target.Columns {
		generated[c.Name] = c.Generated
	}
	var pairs [][2]string
	for _, p := range a.CopiedColumns(source.ColumnNames(), target.ColumnNames(), generated) {
		pairs = append(pairs, [2]string{p.Old, p.New})
	}
	return Input{DB: db, Database: dbName, Table: name, Alter: a, Source: source, Target: target, Columns: pairs, Copy: true}
}

// runDataChecks runs DataChecks and returns its two results by name.
func runDataChecks(t *testing.T, in Input) (unique, narrowing Check) {
	t.Helper()
	checks, err := DataChecks(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 2 || checks[0].Name != CheckUniqueDuplicates || checks[1].Name != CheckNarrowing {
		t.Fatalf("DataChecks returned %+v; want unique-duplicates then narrowing", checks)
	}
	return checks[0], checks[1]
}

// expectCheck compares a check with the expected status and fragments of
// its message and details.
func expectCheck(t *testing.T, got Check, status Status, message string, details ...string) {
	t.Helper()
	t.Logf("%s %s: %s\n  %s", got.Name, got.Status, got.Message, strings.Join(got.Details, "\n  "))
	if got.Status != status || !strings.Contains(got.Message, message) {
		t.Errorf("%s = %s %q; want %s with %q\ndetails:\n  %s", got.Name, got.Status, got.Message, status, message, strings.Join(got.Details, "\n  "))
		return
	}
	all := strings.Join(got.Details, "\n")
	for _, d := range details {
		if !strings.Contains(all, d) {
			t.Errorf("%s details lack %q:\n  %s", got.Name, d, strings.Join(got.Details, "\n  "))
		}
	}
}

func TestDataChecksWithoutTarget(t *testing.T) {
	t.Parallel()
	checks, err := DataChecks(context.Background(), Input{Table: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 2 {
		t.Fatalf("checks = %+v", checks)
	}
	for i, name := range []string{CheckUniqueDuplicates, CheckNarrowing} {
		if checks[i].Name != name || checks[i].Status != Warn || !strings.HasPrefix(checks[i].Message, "not checked: ") {
			t.Errorf("check %d = %+v; want a %s warning", i, checks[i], name)
		}
	}
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	str := func(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }
	values := []struct {
		v    sql.NullString
		f    schema.Family
		want string
	}{
		{sql.NullString{}, schema.FamText, "NULL"},
		{str("42"), schema.FamInteger, "42"},
		{str("it's"), schema.FamText, `'it\'s'`},
		{str("ab\x00\x00"), schema.FamBinary, "0x61620000"},
		{str("abc"), schema.FamBinary, "'abc'"},
		{str(strings.Repeat("x", 50)), schema.FamText, "'" + strings.Repeat("x", 40) + "…'"},
		{str("😀"), schema.FamText, "'😀'"},
	}
	for _, c := range values {
		if got := formatValue(c.v, c.f); got != c.want {
			t.Errorf("formatValue(%q) = %s; want %s", c.v.String, got, c.want)
		}
	}
	types := map[string]string{
		"varchar(10)":               "VARCHAR(10)",
		"int(10) unsigned zerofill": "INT(10) UNSIGNED ZEROFILL",
		"enum('a','it''s')":         "ENUM('a','it''s')",
		"date":                      "DATE",
	}
	for in, want := range types {
		if got := displayType(schema.Column{ColumnType: in}); got != want {
			t.Errorf("displayType(%s) = %s; want %s", in, got, want)
		}
	}
	key := []schema.Column{{Name: "id", DataType: "int"}, {Name: "code", DataType: "varchar"}}
	if got := formatKey(key, []sql.NullString{str("7"), str("x")}); got != "id=7, code='x'" {
		t.Errorf("formatKey = %s", got)
	}
}
