package sqlbuild

import (
	"math"
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
			got, args := Range(PlainKey(c.cols), c.lower, c.upper)
			if got != c.want || !reflect.DeepEqual(args, c.args) {
				t.Errorf("Range = %s %v\nwant    %s %v", got, args, c.want, c.args)
			}
		})
	}
}

func TestRangeListsNumbers(t *testing.T) {
	t.Parallel()
	// e: an ENUM of 5 members (0 is its error value); s: a SET of 3 (0-7).
	k := Key{Columns: []string{"e", "id"}, Tops: []int64{5, 0}}
	cases := []struct {
		name         string
		key          Key
		lower, upper []any
		want         string
		args         []any
	}{
		{"between members", k, []any{int64(1), 10}, []any{int64(4), 20},
			"((`e` IN (2,3,4)) OR (`e` = ? AND `id` > ?)) AND ((`e` IN (1,2,3)) OR (`e` = ? AND `id` <= ?))",
			[]any{int64(1), 10, int64(4), 20}},
		{"within one member", k, []any{int64(2), 10}, []any{int64(2), 20},
			"((FALSE) OR (`e` = ? AND `id` > ?)) AND ((FALSE) OR (`e` = ? AND `id` <= ?))",
			[]any{int64(2), 10, int64(2), 20}},
		{"first chunk, from the error value", k, nil, []any{int64(2), 20},
			"((`e` IN (0,1)) OR (`e` = ? AND `id` <= ?))", []any{int64(2), 20}},
		{"last chunk", k, []any{int64(3), 10}, nil,
			"((`e` IN (4,5)) OR (`e` = ? AND `id` > ?))", []any{int64(3), 10}},
		{"past the last member", k, []any{int64(5), 10}, nil,
			"((FALSE) OR (`e` = ? AND `id` > ?))", []any{int64(5), 10}},
		{"alone in its key", Key{Columns: []string{"e"}, Tops: []int64{5}}, []any{int64(1)}, []any{int64(3)},
			"(`e` IN (2,3)) AND (`e` IN (1,2,3))", nil},
		{"a later column", Key{Columns: []string{"a", "s"}, Tops: []int64{0, 7}}, []any{1, int64(5)}, []any{2, int64(1)},
			"((`a` > ?) OR (`a` = ? AND `s` IN (6,7))) AND ((`a` < ?) OR (`a` = ? AND `s` IN (0,1)))",
			[]any{1, 1, 2, 2}},
		{"too many numbers to list", Key{Columns: []string{"s"}, Tops: []int64{1<<20 - 1}}, []any{int64(3)}, nil,
			"(`s` > ?)", []any{int64(3)}},
		{"bounds at the ends of int64", Key{Columns: []string{"e"}, Tops: []int64{5}}, []any{int64(math.MaxInt64)}, []any{int64(math.MinInt64)},
			"(FALSE) AND (FALSE)", nil},
		{"a bound that is no number", k, []any{"b", 10}, nil,
			"((`e` > ?) OR (`e` = ? AND `id` > ?))", []any{"b", "b", 10}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, args := Range(c.key, c.lower, c.upper)
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
