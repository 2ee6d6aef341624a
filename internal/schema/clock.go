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
	// Value is the value as a SQL literal, which the copy writes once in
	// each chunk's statement; Bytes are its bytes (nil for NULL), which
	// the applier binds, once in each row of its statements.
	Value string
	Bytes []byte
}

// MaxStampBytes bounds a value written as a stamp: the copy's statements
// hold it as text, and the server gives no more than half of its
// max_allowed_packet (16 MiB by default) as hexadecimal. A longer default
// is left to the server, row by row, as PerRowDefault's are.
const MaxStampBytes = 65535

// onceCall matches an expression that calls a function whose value
// tailor's sessions would give otherwise than the server's own ALTER does
// in its one session, whatever the zone: one that reads the clock (one
// value at the ALTER's start), or the session (its connection id, user,
// database or variables).
var onceCall = regexp.MustCompile(`(?i)\b(current_timestamp|now|curdate|current_date|curtime|current_time|localtime|localtimestamp|utc_timestamp|utc_date|utc_time|unix_timestamp|connection_id|user|current_user|session_user|system_user|current_role|database|schema|last_insert_id|found_rows|row_count)\b|@`)

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
// row (PerRowDefault), and it reads the clock or the session (onceCall),
// which give one value to every row of the server's own ALTER, or the
// migration's zone is not UTC's (zoneUTC false), where any function might
// depend on it. In UTC any other expression is what tailor's sessions
// compute too.
func StampsDefault(c Column, zoneUTC bool) bool {
	return ComputedDefault(c) && !PerRowDefault(c) && (!zoneUTC || onceCall.MatchString(quoted.ReplaceAllString(c.Default, "''")))
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
