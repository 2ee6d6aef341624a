package mysql

import "testing"

func TestQuoteIdent(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"orders", "`orders`"},
		{"my table", "`my table`"},
		{"we`ird", "`we``ird`"},
		{"kunde_bestellung_ä", "`kunde_bestellung_ä`"},
		{"", "``"},
	}
	for _, c := range cases {
		if got := QuoteIdent(c.in); got != c.want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	if got := QuoteTable("shop", "a`b"); got != "`shop`.`a``b`" {
		t.Errorf("QuoteTable = %s", got)
	}
	if got := QuoteIdents([]string{"a", "b c"}); got != "`a`, `b c`" {
		t.Errorf("QuoteIdents = %s", got)
	}
}

func TestQuoteString(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"plain", "'plain'"},
		{"it's", `'it\'s'`},
		{`back\slash`, `'back\\slash'`},
		{"%_", "'%_'"},
	}
	for _, c := range cases {
		if got := QuoteString(c.in); got != c.want {
			t.Errorf("QuoteString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
