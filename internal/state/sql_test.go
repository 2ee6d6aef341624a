package state

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/cutover"
)

func TestTableName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 64)
	cases := []struct{ table, want string }{
		{"orders", "orders_tailor_state"},
		{"we`ird ☃", "we`ird ☃_tailor_state"},
	}
	for _, c := range cases {
		if got := TableName(c.table); got != c.want {
			t.Errorf("TableName(%q) = %q, want %q", c.table, got, c.want)
		}
	}
	got := TableName(long)
	if n := utf8.RuneCountInString(got); n > 64 || !strings.HasSuffix(got, Suffix) || !cutover.SortsAfter(got, long) {
		t.Errorf("TableName of a 64-character name = %q (%d characters), want at most 64 ending in %s and sorting after it", got, n, Suffix)
	}
}

func TestStatementsQuoteIdentifiers(t *testing.T) {
	t.Parallel()
	const db, name = "d`b", "t`x_tailor_state"
	const quoted = "`d``b`.`t``x_tailor_state`"
	for what, q := range map[string]string{
		"create": createTableSQL(db, name), "insert": insertSQL(db, name), "save": saveSQL(db, name),
		"take over": takeOverSQL(db, name), "head": headSQL(db, name), "select": selectSQL(db, name, FormatVersion), "drop": dropSQL(db, name), "upgrade": strings.Join(upgradeSQL(db, name), ";"),
	} {
		if !strings.Contains(q, quoted) {
			t.Errorf("%s statement does not name %s: %s", what, quoted, q)
		}
	}
}

// TestStatementsPlaceholders checks that each statement takes as many
// values as Store binds to it.
func TestStatementsPlaceholders(t *testing.T) {
	t.Parallel()
	cases := []struct {
		what string
		sql  string
		want int
	}{
		{"insert", insertSQL("d", "t"), 1 + len(dataColumns())},
		{"save", saveSQL("d", "t"), len(saveColumns()) + 1},
		{"take over", takeOverSQL("d", "t"), 4},
		{"head", headSQL("d", "t"), 0},
		{"select", selectSQL("d", "t", FormatVersion), 0},
	}
	for _, c := range cases {
		if got := strings.Count(c.sql, "?"); got != c.want {
			t.Errorf("%s has %d placeholders, want %d: %s", c.what, got, c.want, c.sql)
		}
	}
}

func TestSaveKeepsIdentity(t *testing.T) {
	t.Parallel()
	for _, c := range saveColumns() {
		switch c {
		case "id", "run_id", "database_name", "table_name", "started_at":
			t.Errorf("Save writes %s, which names the migration or its owner", c)
		}
	}
	q := saveSQL("d", "t")
	if !strings.HasSuffix(q, "WHERE `id` = 1 AND `run_id` = ?") {
		t.Errorf("Save is not conditioned on the run id: %s", q)
	}
}

func TestRowCoversColumns(t *testing.T) {
	t.Parallel()
	s, err := New(nil, "d", "t")
	if err != nil {
		t.Fatal(err)
	}
	vals, err := s.row(&Record{RunID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range dataColumns() {
		if _, ok := vals[c]; !ok {
			t.Errorf("row has no value for column %s", c)
		}
	}
	if len(vals) != len(dataColumns()) {
		t.Errorf("row has %d values for %d columns", len(vals), len(dataColumns()))
	}
}

func TestCut(t *testing.T) {
	t.Parallel()
	s := strings.Repeat("é", 10) // 20 bytes
	if got := cut(s, 7); got != "ééé" {
		t.Errorf("cut(%q, 7) = %q, want %q", s, got, "ééé")
	}
	if got := cut("short", 7); got != "short" {
		t.Errorf("cut(short, 7) = %q", got)
	}
}

// TestDocsDescribeEveryColumn keeps docs/state.md true to the table.
func TestDocsDescribeEveryColumn(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/state.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, c := range columnDefs {
		if !strings.Contains(doc, "`"+c.name+"`") {
			t.Errorf("docs/state.md does not describe column %s", c.name)
		}
	}
	if want := fmt.Sprintf("this tailor writes format **%d**", FormatVersion); !strings.Contains(doc, want) {
		t.Errorf("docs/state.md does not say %q", want)
	}
	if !strings.Contains(doc, tableComment) {
		t.Errorf("docs/state.md does not give the table's comment %q", tableComment)
	}
}
