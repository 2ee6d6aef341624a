package backfill

import (
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
)

func TestStatementParse(t *testing.T) {
	t.Parallel()
	table := &schema.Table{Database: "shop", Name: "users", Columns: []schema.Column{
		{Name: "id"}, {Name: "full_name"}, {Name: "display_name"}, {Name: "n"}, {Name: "g", Generated: true},
	}}
	cases := []struct {
		name, set, where string
		del              bool
		want             string // "" is accepted; else a part of the error
	}{
		{name: "copy a column", set: "display_name = full_name", where: "display_name IS NULL"},
		{name: "no where", set: "n = n + 1"},
		{name: "two assignments and a function", set: "display_name = UPPER(full_name), n = 0", where: "n > 3 OR display_name = ''"},
		{name: "a trailing comment in where", set: "n = 1", where: "n = 0 -- the zeros"},
		{name: "qualified column", set: "users.n = 1", where: "users.n = 0"},
		{name: "subquery columns left to the server", set: "n = (SELECT COUNT(*) FROM orders o WHERE o.user_id = users.id)"},
		{name: "delete", where: "n < 0", del: true},
		{name: "unknown set column", set: "nickname = full_name", want: "--set assigns column `nickname`"},
		{name: "unknown column in expression", set: "display_name = fullname", want: "--set names column `fullname`"},
		{name: "unknown where column", set: "n = 1", where: "displayname IS NULL", want: "--where names column `displayname`"},
		{name: "unparsable", set: "display_name = CONCAT(full_name", want: "does not parse"},
		{name: "two statements", set: "n = 1", where: "n = 0; DROP TABLE users", want: "parse"},
		{name: "limit smuggled", set: "n = 1", where: "n = 0\n) LIMIT 1 -- ", want: "parse"},
		{name: "or that escapes the range", set: "n = 1", where: "n = 0) OR (1", want: "one condition"},
		{name: "the walked key", set: "id = id + 1000000", want: "the key the backfill walks"},
		{name: "generated", set: "g = 1", want: "generated column"},
		{name: "another table", set: "orders.n = 1", want: "another table"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := Statement{Database: "shop", Table: "users", Set: c.set, Where: c.where, Delete: c.del, Key: sqlbuild.PlainKey([]string{"id"})}
			_, err := s.parse(table)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("accepted; want an error saying %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestStatementBatch(t *testing.T) {
	t.Parallel()
	s := Statement{Database: "shop", Table: "users", Set: "display_name = full_name", Where: "display_name IS NULL", Key: sqlbuild.PlainKey([]string{"id"})}
	q, args := s.Batch([]any{int64(10)}, []any{int64(20)})
	want := "UPDATE `shop`.`users` SET\ndisplay_name = full_name\nWHERE ((`id` > ?) AND (`id` <= ?)) AND (\ndisplay_name IS NULL\n)"
	if q != want || len(args) != 2 {
		t.Fatalf("batch:\n%s\nargs %v\nwant:\n%s", q, args, want)
	}
	if got := s.Text(); !strings.Contains(got, "<key range>") || strings.Contains(got, "\n") {
		t.Errorf("Text() = %q", got)
	}
	other := s
	other.Where = "display_name = ''"
	if s.Job() == other.Job() {
		t.Error("two backfills with different conditions have the same job")
	}
}

func TestCutKeepsCharacters(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is two bytes
		{"日本", 4, "日"},
	} {
		if got := cut(c.s, c.n); got != c.want {
			t.Errorf("cut(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
