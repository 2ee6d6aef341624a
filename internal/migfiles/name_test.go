package migfiles

import (
	"strings"
	"testing"
)

func TestVersionCompare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"1", "2", -1},
		{"1.10", "1.9", 1},
		{"1.9", "1.10", -1},
		{"2", "2.0", 0},
		{"2.0.0", "2", 0},
		{"001", "1", 0},
		{"1_1", "1.1", 0},
		{"1.0.1", "1", 1},
		{"20240506120000", "20240506115959", 1},
		{"99999999999999999999999", "100000000000000000000000", -1},
		{"3", "3.0.0.1", -1},
	}
	for _, tt := range tests {
		a, err := ParseVersion(tt.a)
		if err != nil {
			t.Fatalf("ParseVersion(%q): %v", tt.a, err)
		}
		b, err := ParseVersion(tt.b)
		if err != nil {
			t.Fatalf("ParseVersion(%q): %v", tt.b, err)
		}
		if got := a.Compare(b); got != tt.want {
			t.Errorf("%s.Compare(%s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := b.Compare(a); got != -tt.want {
			t.Errorf("%s.Compare(%s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestParseVersionErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "1..2", "1.", ".1", "1a", "1-2", "v1", "1.2 "} {
		if v, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) = %v, want an error", s, v)
		}
	}
	v, err := ParseVersion("1_2_03")
	if err != nil || v.String() != "1.2.03" {
		t.Errorf("ParseVersion(1_2_03) = %q, %v; want 1.2.03 as written with dots", v, err)
	}
}

func TestParseName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		typ         Type
		version     string
		description string
		skipped     bool
		err         string // part of the error, "" for none
	}{
		{name: "V1__create_users.sql", typ: Versioned, version: "1", description: "create users"},
		{name: "V1.2_3__add.sql", typ: Versioned, version: "1.2.3", description: "add"},
		{name: "V2__.sql", typ: Versioned, version: "2", description: ""},
		{name: "V3__a__b.sql", typ: Versioned, version: "3", description: "a  b"},
		{name: "V4__x.SQL", typ: Versioned, version: "4", description: "x"},
		{name: "R__views.sql", typ: Repeatable, description: "views"},
		{name: "R__refresh_report_view.sql", typ: Repeatable, description: "refresh report view"},
		{name: "U3__undo.sql", skipped: true},
		{name: "V1_add.sql", err: "V1_add.sql is not named"},
		{name: "V1.sql", err: "two underscores"},
		{name: "v1__lower.sql", err: `starts with "v"`},
		{name: "Vx__bad.sql", err: "Vx__bad.sql is not named V<version>__<description>.sql: the version \"x\""},
		{name: "V__noversion.sql", err: "the version is empty"},
		{name: "R1__versioned_repeatable.sql", err: "a repeatable file has no version"},
		{name: "R__.sql", err: "has no description"},
		{name: "B5__baseline.sql", err: "baseline"},
		{name: "__x.sql", err: "is not named"},
		{name: "create.sql", err: "create.sql is not named"},
	}
	for _, tt := range tests {
		p, ok, err := parseName(tt.name)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseName(%q) error = %v, want one containing %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseName(%q): %v", tt.name, err)
			continue
		}
		if ok == tt.skipped {
			t.Errorf("parseName(%q) ok = %v, want %v", tt.name, ok, !tt.skipped)
		}
		if tt.skipped {
			continue
		}
		if p.typ != tt.typ || p.version.String() != tt.version || p.description != tt.description {
			t.Errorf("parseName(%q) = %v %q %q, want %v %q %q", tt.name, p.typ, p.version, p.description, tt.typ, tt.version, tt.description)
		}
	}
}
