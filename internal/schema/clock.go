package schema

import (
	"regexp"
	"strings"
)

// A column the ALTER adds whose default is an expression (a DATETIME
// DEFAULT CURRENT_TIMESTAMP, an INT DEFAULT (YEAR(CURDATE()))) gets its
// value from the server's own ALTER as the ALTER's session computes it:
// in that session's time zone, and for a clock, one value (the ALTER's
// start) in every row. tailor's copy and applier write the shadow's rows
// in their own sessions, which run in SessionZone; left to the server,
// such a column would be computed in +00:00 (hours off on a server whose
// zone is not UTC, for a clock or a zone-dependent function such as
// FROM_UNIXTIME), and a clock would give another value at each chunk and
// at each row the applier writes again. So the migration has the server
// compute each such default once, in the migration's zone, into a column
// of the same type, and the copy and the applier write that value
// (Mapping.Stamps). A default that reads a column or calls a function
// whose value differs from call to call (UUID(), RAND()) is no one value;
// it is left to the server, row by row, in SessionZone (PerRowDefault).

// Stamp is a value the copy and the applier write into a column of the
// shadow that the original lacks.
type Stamp struct {
	Column string
	// Value is the value as a SQL literal.
	Value string
	// Applied, when set, is what the applier writes instead: for a column
	// ON UPDATE CURRENT_TIMESTAMP, the time the change is applied (every
	// row the applier writes was written during the migration, which the
	// column would have stamped).
	Applied string
}

// MaxStampBytes bounds a value written as a stamp: the applier repeats it
// in every row of a multi-row INSERT, whose size the server bounds
// (max_allowed_packet). A longer default is left to the server, row by
// row, as PerRowDefault's are.
const MaxStampBytes = 64

// clockCall matches an expression that calls a function reading the
// clock.
var clockCall = regexp.MustCompile(`(?i)\b(current_timestamp|now|curdate|current_date|curtime|current_time|localtime|localtimestamp|utc_timestamp|utc_date|utc_time|unix_timestamp)\b`)

// literalDefault matches the literal defaults MariaDB shows in
// COLUMN_DEFAULT: NULL, a quoted string, a number, a bit or hex string.
var literalDefault = regexp.MustCompile(`^(NULL|'(?:[^'\\]|\\.|'')*'|[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|[bB]'[01]*'|[xX]'[0-9a-fA-F]*'|0x[0-9a-fA-F]+)$`)

// quoted matches a quoted string in an expression, so that its text is
// not read as a call ('rand-' is no RAND()).
var quoted = regexp.MustCompile(`'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"`)

// perRow matches an expression whose value may differ from row to row:
// it reads a column (MariaDB quotes column names in COLUMN_DEFAULT), or
// calls a function that gives another value at each call. SYSDATE is the
// time of each call, not of the statement.
var perRow = regexp.MustCompile("`|(?i)\\b(uuid|uuid_short|sys_guid|rand|random_bytes|nextval|lastval|setval|sysdate)\\b")

// ComputedDefault reports whether c's default is an expression the server
// computes when a row takes it (DefaultIsExpression). A generated column
// has no default.
func ComputedDefault(c Column) bool { return !c.Generated && c.DefaultIsExpression }

// PerRowDefault reports whether c's default is computed (ComputedDefault)
// and may differ from row to row (perRow, outside quoted text), so that
// no one value stands for it.
func PerRowDefault(c Column) bool {
	return ComputedDefault(c) && perRow.MatchString(quoted.ReplaceAllString(c.Default, "''"))
}

// StampsDefault reports whether the copy writes c's default as one value
// computed once (a Stamp): it is computed (ComputedDefault) and not row by
// row (PerRowDefault), and it reads the clock, which gives one value to
// every row of the server's own ALTER, or the migration's zone is not
// UTC's (zoneUTC false), where any function might depend on it. In UTC an
// expression without a clock is what tailor's sessions compute too.
func StampsDefault(c Column, zoneUTC bool) bool {
	return ComputedDefault(c) && !PerRowDefault(c) && (!zoneUTC || clockCall.MatchString(quoted.ReplaceAllString(c.Default, "''")))
}

// NewComputedColumns are the columns of t whose default is computed
// (ComputedDefault) and which are none of written, the names of the
// columns a copy writes (in any case, as the server compares them).
func NewComputedColumns(t *Table, written []string) []Column {
	has := map[string]bool{}
	for _, n := range written {
		has[strings.ToLower(n)] = true
	}
	var out []Column
	for _, c := range t.Columns {
		if !has[strings.ToLower(c.Name)] && ComputedDefault(c) {
			out = append(out, c)
		}
	}
	return out
}

// InsertedNames are the shadow's columns that the copy and the applier
// write: the copied ones, then the stamped ones.
func (m *Mapping) InsertedNames() []string {
	out := m.NewNames()
	for _, s := range m.Stamps {
		out = append(out, s.Column)
	}
	return out
}

// StampValues are the stamped columns' values as SQL literals, in the
// order of InsertedNames.
func (m *Mapping) StampValues() []string {
	out := make([]string, len(m.Stamps))
	for i, s := range m.Stamps {
		out[i] = s.Value
	}
	return out
}

// AppliedStampValues are the values the applier writes into the stamped
// columns (Stamp.Applied, else Value), in the order of InsertedNames.
func (m *Mapping) AppliedStampValues() []string {
	out := m.StampValues()
	for i, s := range m.Stamps {
		if s.Applied != "" {
			out[i] = s.Applied
		}
	}
	return out
}
