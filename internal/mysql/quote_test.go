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

func TestLeadingIdent(t *testing.T) {
	tests := []struct {
		in, name, rest string
		ok             bool
	}{
		{"`k` (`a`)", "k", " (`a`)", true},
		{"`odd``name`.`t`", "odd`name", ".`t`", true},
		{"``", "", "", true},
		{"`unterminated", "", "`unterminated", false},
		{"bare", "", "bare", false},
	}
	for _, tt := range tests {
		name, rest, ok := LeadingIdent(tt.in)
		if name != tt.name || rest != tt.rest || ok != tt.ok {
			t.Errorf("LeadingIdent(%q) = %q, %q, %v; want %q, %q, %v", tt.in, name, rest, ok, tt.name, tt.rest, tt.ok)
		}
	}
}
