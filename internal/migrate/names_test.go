package migrate

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/cutover"
)

func TestDerivedNames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ä", 62)
	cases := []struct {
		table, shadow, old string
	}{
		{"orders", "orders_tailor_new", "orders_tailor_old"},
		{"my table", "my table_tailor_new", "my table_tailor_old"},
		{strings.Repeat("x", 53), strings.Repeat("x", 53) + "_tailor_new", strings.Repeat("x", 53) + "_tailor_old"},
	}
	for _, c := range cases {
		if got := ShadowName(c.table); got != c.shadow {
			t.Errorf("ShadowName(%q) = %q", c.table, got)
		}
		if got := OldName(c.table); got != c.old {
			t.Errorf("OldName(%q) = %q", c.table, got)
		}
	}
	for _, table := range []string{strings.Repeat("x", 60), strings.Repeat("y", 64), long} {
		s, o := ShadowName(table), OldName(table)
		if utf8.RuneCountInString(s) > 64 || utf8.RuneCountInString(o) > 64 {
			t.Errorf("derived names of %q too long: %q %q", table, s, o)
		}
		if s == o || !strings.HasSuffix(s, "_new") || !strings.HasSuffix(o, "_old") || !cutover.SortsAfter(s, table) || !cutover.SortsAfter(o, table) {
			t.Errorf("derived names of %q: %q %q", table, s, o)
		}
	}
	if ShadowName(strings.Repeat("x", 60)+"a") == ShadowName(strings.Repeat("x", 60)+"b") {
		t.Error("two long names share a shadow name")
	}
	if n := lockName(strings.Repeat("d", 40), strings.Repeat("t", 40)); len(n) > 64 {
		t.Errorf("lock name too long: %q", n)
	}
}
