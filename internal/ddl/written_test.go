package ddl

import "testing"

func TestWrittenFor(t *testing.T) {
	cases := []struct {
		alter     string
		lowerCase bool
		ok        bool
		written   string
	}{
		{"ADD COLUMN x INT", false, true, ""},
		{"ALTER TABLE t ADD COLUMN x INT", false, true, ""},
		{"ALTER TABLE shop.t ADD COLUMN x INT", false, true, ""},
		{"ALTER TABLE T ADD COLUMN x INT", false, false, "`T`"},
		{"ALTER TABLE T ADD COLUMN x INT", true, true, ""},
		{"ALTER TABLE other ADD COLUMN x INT", true, false, "`other`"},
		{"ALTER TABLE elsewhere.t ADD COLUMN x INT", false, false, "`elsewhere`.`t`"},
	}
	for _, c := range cases {
		a, err := Parse(c.alter)
		if err != nil {
			t.Fatalf("%s: %v", c.alter, err)
		}
		ok, written := a.WrittenFor("shop", "t", c.lowerCase)
		if ok != c.ok || written != c.written {
			t.Errorf("%s (lower_case %v): %v %q, want %v %q", c.alter, c.lowerCase, ok, written, c.ok, c.written)
		}
	}
}
