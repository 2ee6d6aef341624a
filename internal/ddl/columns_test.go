package ddl

import (
	"reflect"
	"testing"
)

func TestCopiedColumns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		alter     string
		old, new  []string
		generated map[string]bool
		want      []ColumnPair
	}{
		{
			name:  "add column",
			alter: "ADD COLUMN c INT",
			old:   []string{"id", "a"},
			new:   []string{"id", "a", "c"},
			want:  []ColumnPair{{"id", "id"}, {"a", "a"}},
		},
		{
			name:  "add column first keeps new order",
			alter: "ADD COLUMN c INT FIRST",
			old:   []string{"id", "a"},
			new:   []string{"c", "id", "a"},
			want:  []ColumnPair{{"id", "id"}, {"a", "a"}},
		},
		{
			name:  "drop column",
			alter: "DROP COLUMN a",
			old:   []string{"id", "a", "b"},
			new:   []string{"id", "b"},
			want:  []ColumnPair{{"id", "id"}, {"b", "b"}},
		},
		{
			name:  "rename column",
			alter: "RENAME COLUMN a TO b",
			old:   []string{"id", "a"},
			new:   []string{"id", "b"},
			want:  []ColumnPair{{"id", "id"}, {"a", "b"}},
		},
		{
			name:  "change with rename",
			alter: "CHANGE a b BIGINT",
			old:   []string{"id", "a"},
			new:   []string{"id", "b"},
			want:  []ColumnPair{{"id", "id"}, {"a", "b"}},
		},
		{
			name:  "rename swap",
			alter: "RENAME COLUMN a TO b, RENAME COLUMN b TO a",
			old:   []string{"id", "a", "b"},
			new:   []string{"id", "b", "a"},
			want:  []ColumnPair{{"id", "id"}, {"a", "b"}, {"b", "a"}},
		},
		{
			name:  "rename then add the old name",
			alter: "RENAME COLUMN a TO b, ADD COLUMN a INT",
			old:   []string{"id", "a"},
			new:   []string{"id", "b", "a"},
			want:  []ColumnPair{{"id", "id"}, {"a", "b"}},
		},
		{
			name:  "drop then rename onto the dropped name",
			alter: "DROP COLUMN b, RENAME COLUMN a TO b",
			old:   []string{"id", "a", "b"},
			new:   []string{"id", "b"},
			want:  []ColumnPair{{"id", "id"}, {"a", "b"}},
		},
		{
			name:  "drop and re-add is not copied",
			alter: "DROP COLUMN c, ADD COLUMN c INT",
			old:   []string{"id", "c"},
			new:   []string{"id", "c"},
			want:  []ColumnPair{{"id", "id"}},
		},
		{
			name:  "drop and re-add with other case is not copied",
			alter: "DROP COLUMN C, ADD COLUMN c INT",
			old:   []string{"id", "C"},
			new:   []string{"id", "c"},
			want:  []ColumnPair{{"id", "id"}},
		},
		{
			name:  "add if not exists of an existing column is copied",
			alter: "ADD COLUMN IF NOT EXISTS c INT",
			old:   []string{"id", "c"},
			new:   []string{"id", "c"},
			want:  []ColumnPair{{"id", "id"}, {"c", "c"}},
		},
		{
			name:  "add if not exists of a new column is not copied",
			alter: "ADD COLUMN IF NOT EXISTS c INT",
			old:   []string{"id"},
			new:   []string{"id", "c"},
			want:  []ColumnPair{{"id", "id"}},
		},
		{
			name:  "drop and add if not exists is not copied",
			alter: "DROP COLUMN c, ADD COLUMN IF NOT EXISTS c INT",
			old:   []string{"id", "c"},
			new:   []string{"id", "c"},
			want:  []ColumnPair{{"id", "id"}},
		},
		{
			name:  "change if exists of a missing column copies nothing",
			alter: "CHANGE COLUMN IF EXISTS gone b INT",
			old:   []string{"id", "a"},
			new:   []string{"id", "a"},
			want:  []ColumnPair{{"id", "id"}, {"a", "a"}},
		},
		{
			name:  "case differs between tables",
			alter: "MODIFY name VARCHAR(200)",
			old:   []string{"ID", "Name"},
			new:   []string{"id", "NAME"},
			want:  []ColumnPair{{"ID", "id"}, {"Name", "NAME"}},
		},
		{
			name:  "rename written in another case",
			alter: "CHANGE COLUMN OLD_NAME NewName INT",
			old:   []string{"id", "old_name"},
			new:   []string{"id", "NewName"},
			want:  []ColumnPair{{"id", "id"}, {"old_name", "NewName"}},
		},
		{
			name:      "generated new column is not copied",
			alter:     "ADD COLUMN total INT AS (a + b) STORED",
			old:       []string{"id", "a", "b"},
			new:       []string{"id", "a", "b", "total"},
			generated: map[string]bool{"total": true},
			want:      []ColumnPair{{"id", "id"}, {"a", "a"}, {"b", "b"}},
		},
		{
			name:      "column made generated is not copied",
			alter:     "MODIFY full_name VARCHAR(200) AS (CONCAT(first, ' ', last)) VIRTUAL",
			old:       []string{"id", "first", "last", "full_name"},
			new:       []string{"id", "first", "last", "Full_Name"},
			generated: map[string]bool{"full_name": true, "first": false},
			want:      []ColumnPair{{"id", "id"}, {"first", "first"}, {"last", "last"}},
		},
		{
			name:  "quoted names with spaces, backticks and accents",
			alter: "CHANGE `first name` `prénom` VARCHAR(50), DROP `wé``ird`",
			old:   []string{"id", "first name", "wé`ird", "Ünïcode"},
			new:   []string{"id", "prénom", "ünïcode"},
			want:  []ColumnPair{{"id", "id"}, {"first name", "prénom"}, {"Ünïcode", "ünïcode"}},
		},
		{
			name:  "nothing copied",
			alter: "DROP COLUMN a",
			old:   []string{"a"},
			new:   nil,
			want:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := Parse(tt.alter)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.alter, err)
			}
			got := a.CopiedColumns(tt.old, tt.new, tt.generated)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CopiedColumns(%q, %q)\n got %v\nwant %v", tt.old, tt.new, got, tt.want)
			}
		})
	}
}
