package migfiles

import (
	"fmt"
	"path"
	"strings"
)

// Type says how a migration file is run: once, in version order, or again
// whenever its text changes.
type Type string

const (
	// Versioned files (V<version>__<description>.sql) run once each, in
	// ascending version order.
	Versioned Type = "versioned"
	// Repeatable files (R__<description>.sql) run after every versioned
	// file, in description order, and again whenever their checksum changes.
	Repeatable Type = "repeatable"
)

// Version is the version of a versioned file. Flyway compares versions
// numerically part by part, so 1.10 is newer than 1.9 and 001 is 1; a
// version with trailing zero parts equals the one without them (2 and 2.0
// name the same version), which is why a folder holding both is refused.
type Version struct {
	// text is the version as written, with "_" between parts read as ".",
	// which is how Flyway records it in its history.
	text string
	// parts are the numbers, each as decimal digits without leading zeros
	// ("0" for zero), so that a timestamp-sized part never overflows.
	parts []string
}

// ParseVersion reads a version such as "1", "1.2.10" or "2024_05_06_1200".
// Parts are separated by "." or "_" and hold only digits.
func ParseVersion(s string) (Version, error) {
	if s == "" {
		return Version{}, fmt.Errorf("the version is empty")
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '_' })
	// FieldsFunc drops empty fields, so "1..2" or "1." would slip through.
	if strings.Count(s, ".")+strings.Count(s, "_")+1 != len(fields) {
		return Version{}, fmt.Errorf("the version %q has an empty part", s)
	}
	v := Version{text: strings.ReplaceAll(s, "_", ".")}
	for _, f := range fields {
		for _, r := range f {
			if r < '0' || r > '9' {
				return Version{}, fmt.Errorf("the version %q holds %q, and versions are numbers separated by dots or underscores", s, r)
			}
		}
		f = strings.TrimLeft(f, "0")
		if f == "" {
			f = "0"
		}
		v.parts = append(v.parts, f)
	}
	return v, nil
}

// String is the version as written, with dots between its parts.
func (v Version) String() string { return v.text }

// IsZero reports whether v is the zero Version (the version of a
// repeatable file).
func (v Version) IsZero() bool { return len(v.parts) == 0 }

// Compare returns -1, 0 or +1 as v is older than, the same as, or newer
// than w. Missing parts count as zero.
func (v Version) Compare(w Version) int {
	for i := range max(len(v.parts), len(w.parts)) {
		a, b := "0", "0"
		if i < len(v.parts) {
			a = v.parts[i]
		}
		if i < len(w.parts) {
			b = w.parts[i]
		}
		// Without leading zeros, the longer number is the larger one, and
		// numbers of one length compare as text.
		switch {
		case len(a) != len(b):
			if len(a) < len(b) {
				return -1
			}
			return 1
		case a != b:
			if a < b {
				return -1
			}
			return 1
		}
	}
	return 0
}

// parsedName is what a file's name says.
type parsedName struct {
	typ         Type
	version     Version
	description string
}

// sqlSuffix ends every migration file; Flyway's default, and compared
// case-insensitively so that "V1__x.SQL" is read (and checked) rather than
// silently skipped.
const sqlSuffix = ".sql"

// isSQL reports whether name is a migration candidate: a .sql file that is
// not hidden (editors leave ".#V1__x.sql" and similar next to the real one).
func isSQL(name string) bool {
	return strings.HasSuffix(strings.ToLower(name), sqlSuffix) && !strings.HasPrefix(name, ".")
}

// parseName reads a file name (without its folder) of the form
// V<version>__<description>.sql or R__<description>.sql. ok is false for
// Flyway undo migrations (U<version>__...), which Flyway runs only on
// "flyway undo" and tailor never runs, so a Flyway folder works unchanged.
func parseName(name string) (p parsedName, ok bool, err error) {
	base := name[:len(name)-len(sqlSuffix)]
	prefix, rest, found := strings.Cut(base, "__")
	if !found || prefix == "" {
		return p, false, fmt.Errorf("%s is not named V<version>__<description>.sql or R__<description>.sql (the prefix and the description are separated by two underscores)", name)
	}
	description := strings.TrimSpace(strings.ReplaceAll(rest, "_", " "))
	switch prefix[0] {
	case 'V':
		v, err := ParseVersion(prefix[1:])
		if err != nil {
			return p, false, fmt.Errorf("%s is not named V<version>__<description>.sql: %v", name, err)
		}
		return parsedName{typ: Versioned, version: v, description: description}, true, nil
	case 'R':
		if prefix != "R" {
			return p, false, fmt.Errorf("%s is not named R__<description>.sql: a repeatable file has no version", name)
		}
		if description == "" {
			return p, false, fmt.Errorf("%s has no description, and a repeatable file is known by its description", name)
		}
		return parsedName{typ: Repeatable, description: description}, true, nil
	case 'U':
		if _, err := ParseVersion(prefix[1:]); err == nil {
			return p, false, nil
		}
	case 'B':
		return p, false, fmt.Errorf("%s is a Flyway baseline migration, which tailor does not run; apply it by hand and remove it from the folder", name)
	}
	return p, false, fmt.Errorf("%s is not named V<version>__<description>.sql or R__<description>.sql (it starts with %q)", name, prefix[:1])
}

// baseName is the file name without its folders.
func baseName(p string) string { return path.Base(p) }
