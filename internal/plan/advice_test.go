package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/schema"
)

func column(name, dataType, columnType string, nullable bool, maxLength int64) schema.Column {
	c := schema.Column{Name: name, DataType: dataType, ColumnType: columnType, Nullable: nullable, MaxLength: maxLength}
	if dataType == "varchar" || dataType == "char" {
		c.Charset, c.Collation = "utf8mb4", "utf8mb4_bin"
	}
	return c
}

// users is the table before every change below.
func users() *schema.Table {
	return &schema.Table{Name: "users", Columns: []schema.Column{
		column("id", "int", "int(11)", false, 0),
		column("full_name", "varchar", "varchar(100)", false, 100),
		column("age", "int", "int(11)", true, 0),
		column("code", "varchar", "varchar(10)", true, 10),
	}}
}

// altered applies what a test says the server made of the change.
func altered(edit func(cols []schema.Column) []schema.Column) *schema.Table {
	t := users()
	t.Columns = edit(t.Columns)
	return t
}

func TestAdvise(t *testing.T) {
	cases := []struct {
		name   string
		alter  string
		target *schema.Table
		key    []string
		empty  bool
		// noDefault are the added NOT NULL columns without a default.
		noDefault []string
		want      []AdviceKind
		// sql are texts that must appear in the advice's SQL and commands,
		// in order.
		sql []string
	}{
		{name: "nothing risky", alter: "ADD COLUMN note TEXT NULL",
			target: altered(func(c []schema.Column) []schema.Column {
				return append(c, column("note", "text", "text", true, 0))
			}), key: []string{"id"}},
		{name: "rename", alter: "RENAME COLUMN full_name TO display_name",
			target: altered(func(c []schema.Column) []schema.Column {
				c[1].Name = "display_name"
				return c
			}), key: []string{"id"},
			want: []AdviceKind{AdviceRenameColumn},
			sql: []string{
				"ALTER TABLE `users` ADD COLUMN `display_name` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;",
				"tailor backfill --host ... --database shop --table users --set '`display_name` = `full_name`' --where '`display_name` IS NULL'",
				"ALTER TABLE `users` MODIFY COLUMN `display_name` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;",
				"ALTER TABLE `users` DROP COLUMN `full_name`;",
			}},
		{name: "drop", alter: "DROP COLUMN age",
			target: altered(func(c []schema.Column) []schema.Column { return slices.Delete(c, 2, 3) }), key: []string{"id"},
			want: []AdviceKind{AdviceDropColumn},
			sql:  []string{"ALTER TABLE `users` DROP COLUMN `age`;"}},
		{name: "split", alter: "DROP COLUMN full_name, ADD COLUMN first_name VARCHAR(50), ADD COLUMN last_name VARCHAR(50)",
			target: altered(func(c []schema.Column) []schema.Column {
				c = slices.Delete(c, 1, 2)
				return append(c, column("first_name", "varchar", "varchar(50)", true, 50), column("last_name", "varchar", "varchar(50)", true, 50))
			}), key: []string{"id"},
			want: []AdviceKind{AdviceDropColumn, AdviceSplitColumn},
			sql: []string{
				"ALTER TABLE `users` DROP COLUMN `full_name`;",
				"ADD COLUMN `first_name` varchar(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL, ADD COLUMN `last_name` varchar(50)",
				"tailor backfill --host ... --database shop --table users --set '`first_name` = <expression of `full_name`>, `last_name` = <expression of `full_name`>'",
				"ALTER TABLE `users` DROP COLUMN `full_name`;",
			}},
		{name: "not null without default", alter: "ADD COLUMN tier INT NOT NULL",
			target: altered(func(c []schema.Column) []schema.Column {
				return append(c, column("tier", "int", "int(11)", false, 0))
			}), key: []string{"id"}, noDefault: []string{"tier"},
			want: []AdviceKind{AdviceAddNotNullColumn},
			sql: []string{
				"ALTER TABLE `users` ADD COLUMN `tier` int(11) NULL;",
				"tailor backfill --host ... --database shop --table users --set '`tier` = <value>' --where '`tier` IS NULL'",
				"ALTER TABLE `users` MODIFY COLUMN `tier` int(11) NOT NULL;",
			}},
		{name: "not null without default on an empty table", alter: "ADD COLUMN tier INT NOT NULL",
			target: altered(func(c []schema.Column) []schema.Column {
				return append(c, column("tier", "int", "int(11)", false, 0))
			}), key: []string{"id"}, noDefault: []string{"tier"}, empty: true},
		{name: "int to bigint", alter: "MODIFY age BIGINT",
			target: altered(func(c []schema.Column) []schema.Column {
				c[2] = column("age", "bigint", "bigint(20)", true, 0)
				return c
			}), key: []string{"id"},
			want: []AdviceKind{AdviceChangeColumnType},
			sql: []string{
				"ALTER TABLE `users` ADD COLUMN `age_new` bigint(20) NULL;",
				"tailor backfill --host ... --database shop --table users --set '`age_new` = `age`' --where '`age_new` IS NULL'",
				"ALTER TABLE `users` DROP COLUMN `age`;",
			}},
		{name: "widen varchar is safe", alter: "MODIFY code VARCHAR(20)",
			target: altered(func(c []schema.Column) []schema.Column {
				c[3] = column("code", "varchar", "varchar(20)", true, 20)
				return c
			}), key: []string{"id"}},
		{name: "narrow varchar", alter: "MODIFY code VARCHAR(5)",
			target: altered(func(c []schema.Column) []schema.Column {
				c[3] = column("code", "varchar", "varchar(5)", true, 5)
				return c
			}), key: []string{"id"},
			want: []AdviceKind{AdviceChangeColumnType}},
		{name: "composite key", alter: "DROP COLUMN age, RENAME COLUMN code TO sku",
			target: altered(func(c []schema.Column) []schema.Column {
				c[3].Name = "sku"
				return slices.Delete(c, 2, 3)
			}), key: []string{"id", "full_name"},
			want: []AdviceKind{AdviceRenameColumn, AdviceDropColumn},
			sql: []string{
				"tailor backfill --host ... --database shop --table users --set '`sku` = `code`' --where '`sku` IS NULL'",
			}},
		{name: "no key to walk", alter: "MODIFY age BIGINT",
			target: altered(func(c []schema.Column) []schema.Column {
				c[2] = column("age", "bigint", "bigint(20)", true, 0)
				return c
			}),
			want: []AdviceKind{AdviceChangeColumnType}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			alter, err := ddl.Parse(tc.alter)
			if err != nil {
				t.Fatal(err)
			}
			got := advise(adviceInput{database: "shop", table: "users", key: tc.key, empty: tc.empty, alter: alter, source: users(), target: tc.target, noDefaultNew: tc.noDefault})
			var kinds []AdviceKind
			var sql []string
			for _, a := range got {
				kinds = append(kinds, a.Kind)
				if a.Why == "" || len(a.Steps) < 3 || strings.Count(a.Why, ". ") > 0 {
					t.Errorf("%s: want one sentence of why and at least three steps: %+v", a.Kind, a)
				}
				for _, s := range a.Steps {
					if s.SQL != "" {
						sql = append(sql, s.SQL)
					}
					if s.Command != "" {
						sql = append(sql, s.Command)
					}
				}
			}
			if !slices.Equal(kinds, tc.want) {
				t.Errorf("advice %v, want %v", kinds, tc.want)
			}
			all := strings.Join(sql, "\n")
			rest := all
			for _, want := range tc.sql {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Errorf("SQL lacks (in order) %q:\n%s", want, all)
					break
				}
				rest = rest[i+len(want):]
			}
		})
	}
}

// TestAdviseWithoutKey says how to backfill when there is no key to walk.
func TestAdviseWithoutKey(t *testing.T) {
	alter, err := ddl.Parse("RENAME COLUMN code TO sku")
	if err != nil {
		t.Fatal(err)
	}
	target := altered(func(c []schema.Column) []schema.Column { c[3].Name = "sku"; return c })
	got := advise(adviceInput{table: "users", alter: alter, source: users(), target: target})
	if len(got) != 1 {
		t.Fatalf("advice %+v", got)
	}
	backfill := got[0].Steps[2]
	if backfill.SQL != "" || backfill.Command != "" || !strings.Contains(backfill.Do, "no primary key") {
		t.Errorf("backfill step %+v; want it to say there is no key", backfill)
	}
}

// TestAdviseQuotesNames uses names that need quoting everywhere.
func TestAdviseQuotesNames(t *testing.T) {
	source := &schema.Table{Name: "we`ird", Columns: []schema.Column{
		column("i`d", "int", "int(11)", false, 0),
		column("old name", "int", "int(11)", true, 0),
	}}
	target := &schema.Table{Name: "we`ird", Columns: []schema.Column{
		column("i`d", "int", "int(11)", false, 0),
		column("new`name", "int", "int(11)", true, 0),
	}}
	alter, err := ddl.Parse("RENAME COLUMN `old name` TO `new``name`")
	if err != nil {
		t.Fatal(err)
	}
	got := advise(adviceInput{database: "it's", table: "we`ird", key: []string{"i`d"}, alter: alter, source: source, target: target})
	if len(got) != 1 {
		t.Fatalf("advice %+v", got)
	}
	// Single quotes keep the backquotes from the shell; a quote in a name
	// is closed, escaped and reopened.
	want := "tailor backfill --host ... --database 'it'\\''s' --table 'we`ird' --set '`new``name` = `old name`' --where '`new``name` IS NULL'"
	if got[0].Steps[2].Command != want {
		t.Errorf("backfill %q, want %q", got[0].Steps[2].Command, want)
	}
}

func TestTypeChangeIsRisky(t *testing.T) {
	cases := []struct {
		name          string
		before, after schema.Column
		risky         bool
	}{
		{"same type", column("a", "int", "int(11)", false, 0), column("a", "int", "int(11)", true, 0), false},
		{"longer varchar", column("a", "varchar", "varchar(10)", false, 10), column("a", "varchar", "varchar(20)", false, 20), false},
		{"shorter varchar", column("a", "varchar", "varchar(10)", false, 10), column("a", "varchar", "varchar(5)", false, 5), true},
		{"varchar to text", column("a", "varchar", "varchar(10)", false, 10), column("a", "text", "text", false, 65535), true},
		{"int to bigint", column("a", "int", "int(11)", false, 0), column("a", "bigint", "bigint(20)", false, 0), true},
		{"signedness", column("a", "int", "int(11)", false, 0), column("a", "int", "int(10) unsigned", false, 0), true},
	}
	for _, tc := range cases {
		if got := typeChangeIsRisky(tc.before, tc.after); got != tc.risky {
			t.Errorf("%s: risky = %v, want %v", tc.name, got, tc.risky)
		}
	}
}

// TestAdviseBackfillConvertsZone: a type change between a TIMESTAMP and a
// DATETIME is backfilled with the conversion the server's own ALTER makes
// in the plan's zone, which a backfill (whose sessions run in +00:00)
// would not make by itself.
func TestAdviseBackfillConvertsZone(t *testing.T) {
	source := &schema.Table{Name: "ev", Columns: []schema.Column{column("id", "int", "int(11)", false, 0), column("at", "timestamp", "timestamp", true, 0)}}
	target := &schema.Table{Name: "ev", Columns: []schema.Column{column("id", "int", "int(11)", false, 0), column("at", "datetime", "datetime", true, 0)}}
	alter, err := ddl.Parse("MODIFY at DATETIME NULL")
	if err != nil {
		t.Fatal(err)
	}
	got := advise(adviceInput{database: "shop", table: "ev", key: []string{"id"}, alter: alter, source: source, target: target, zone: "SYSTEM"})
	if len(got) != 1 || len(got[0].Steps) < 3 {
		t.Fatalf("advice %+v", got)
	}
	want := "--set '`at_new` = IFNULL(CONVERT_TZ(NULLIF(`at`, 0), '\\''+00:00'\\'', '\\''SYSTEM'\\''), `at`)'"
	if !strings.Contains(got[0].Steps[2].Command, want) {
		t.Errorf("backfill %q, want it to hold %q", got[0].Steps[2].Command, want)
	}
}

// TestZoneGeneratedRefusals: a STORED column whose value may depend on
// the session's time zone is refused, and nothing else is.
func TestZoneGeneratedRefusals(t *testing.T) {
	stored := func(name, dataType, expr string) schema.Column {
		c := column(name, dataType, dataType, true, 0)
		c.Generated, c.Stored, c.Expression = true, true, expr
		return c
	}
	virtual := stored("v", "date", "cast(`ts` as date)")
	virtual.Stored = false
	target := &schema.Table{Name: "t", Columns: []schema.Column{
		column("ts", "timestamp", "timestamp", true, 0),
		column("ts2", "int", "int(11)", true, 0),
		column("dt", "datetime", "datetime", true, 0),
		stored("day", "date", "cast(`TS` as date)"),
		stored("word", "varchar", "concat('now',`ts2`)"),
		stored("at", "timestamp", "`dt`"),
		stored("epoch", "bigint", "unix_timestamp(`dt`)"),
		stored("n", "int", "`ts2` + 1"),
		virtual,
	}}
	got := strings.Join(zoneGeneratedRefusals(target, "SYSTEM"), "\n")
	for _, name := range []string{"day", "at", "epoch"} {
		if !strings.Contains(got, "Column `"+name+"` is STORED") {
			t.Errorf("no refusal for %s:\n%s", name, got)
		}
	}
	for _, name := range []string{"word", "n", "v"} {
		if strings.Contains(got, "Column `"+name+"`") {
			t.Errorf("a refusal for %s:\n%s", name, got)
		}
	}
	if refused := zoneGeneratedRefusals(target, "+00:00"); len(refused) != 0 {
		t.Errorf("refusals in tailor's own zone: %q", refused)
	}
}
