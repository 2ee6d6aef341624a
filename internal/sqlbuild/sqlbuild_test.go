package sqlbuild

import (
	"reflect"
	"testing"
)

func TestRange(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		cols         []string
		lower, upper []any
		want         string
		args         []any
	}{
		{"whole table", []string{"id"}, nil, nil, "1=1", nil},
		{"first chunk", []string{"id"}, nil, []any{10}, "(`id` <= ?)", []any{10}},
		{"last chunk", []string{"id"}, []any{10}, nil, "(`id` > ?)", []any{10}},
		{"middle", []string{"id"}, []any{10}, []any{20}, "(`id` > ?) AND (`id` <= ?)", []any{10, 20}},
		{"composite", []string{"a", "b`c"}, []any{1, "x"}, []any{2, "y"},
			"((`a` > ?) OR (`a` = ? AND `b``c` > ?)) AND ((`a` < ?) OR (`a` = ? AND `b``c` <= ?))",
			[]any{1, 1, "x", 2, 2, "y"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, args := Range(c.cols, c.lower, c.upper)
			if got != c.want || !reflect.DeepEqual(args, c.args) {
				t.Errorf("Range = %s %v\nwant    %s %v", got, args, c.want, c.args)
			}
		})
	}
}

func TestKeyIn(t *testing.T) {
	t.Parallel()
	got, args := KeyIn([]string{"id"}, [][]any{{1}, {2}})
	if got != "`id` IN (?, ?)" || !reflect.DeepEqual(args, []any{1, 2}) {
		t.Errorf("single: %s %v", got, args)
	}
	got, args = KeyIn([]string{"a", "b"}, [][]any{{1, 2}, {3, 4}})
	if got != "(`a` = ? AND `b` = ?) OR (`a` = ? AND `b` = ?)" || !reflect.DeepEqual(args, []any{1, 2, 3, 4}) {
		t.Errorf("composite: %s %v", got, args)
	}
	got, args = KeyInMarks([]string{"a", "b"}, []string{"?", "F(?)"}, [][]any{{1, 2}, {3, 4}})
	if got != "(`a` = ? AND `b` = F(?)) OR (`a` = ? AND `b` = F(?))" || !reflect.DeepEqual(args, []any{1, 2, 3, 4}) {
		t.Errorf("composite with marks: %s %v", got, args)
	}
	got, _ = KeyInMarks([]string{"a"}, []string{"F(?)"}, [][]any{{1}, {2}})
	if got != "`a` IN (F(?), F(?))" {
		t.Errorf("single with marks: %s", got)
	}
	got, args = KeyEquals([]string{"a", "b"}, []any{1, 2})
	if got != "`a` = ? AND `b` = ?" || !reflect.DeepEqual(args, []any{1, 2}) {
		t.Errorf("equals: %s %v", got, args)
	}
}

func TestInsertRowsAndOrder(t *testing.T) {
	t.Parallel()
	if got := InsertRows("`d`.`t`", []string{"a", "b"}, 2); got != "INSERT INTO `d`.`t` (`a`, `b`) VALUES (?, ?), (?, ?)" {
		t.Errorf("InsertRows = %s", got)
	}
	if got := InsertRowsMarks("`t`", []string{"a", "b"}, []string{"F(?)", "?"}, 2); got != "INSERT INTO `t` (`a`, `b`) VALUES (F(?), ?), (F(?), ?)" {
		t.Errorf("InsertRowsMarks = %s", got)
	}
	if got := OrderBy([]string{"a", "b"}, true); got != "`a` DESC, `b` DESC" {
		t.Errorf("OrderBy = %s", got)
	}
}
