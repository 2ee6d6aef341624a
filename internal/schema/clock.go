package schema

import (
	"regexp"
	"strings"
)

// A column the ALTER adds whose default reads the clock (a DATETIME
// DEFAULT CURRENT_TIMESTAMP) gets one value in every row from the
// server's own ALTER: the default as its session computes it when the
// ALTER begins, in its time zone. tailor's copy and applier write the
// shadow's rows in their own sessions, which run in SessionZone; left to
// the server, such a column would get the clock time in +00:00 (hours off
// on a server whose zone is not UTC), and another value at each chunk and
// at each row the applier writes again. So the migration has the server
// compute each such default once, in the migration's zone, into a column
// of the same type, and the copy and the applier write that value
// (Mapping.Stamps). A default that also reads a column or calls a
// function whose value differs from row to row (UUID(), RAND()) cannot
// be one value; it is left to the server, row by row, in SessionZone
// (PerRowClock).

// Stamp is a value the copy and the applier write into a column of the
// shadow that the original lacks.
type Stamp struct {
	Column string
	// Value is the value as a SQL literal.
	Value string
}

// clockCall matches a default that calls a function reading the clock.
var clockCall = regexp.MustCompile(`(?i)\b(current_timestamp|now|curdate|current_date|curtime|current_time|localtime|localtimestamp|sysdate|utc_timestamp|utc_date|utc_time|unix_timestamp)\b`)

// perRow matches a default whose value may differ from row to row: it
// reads a column (MariaDB quotes column names in COLUMN_DEFAULT), or calls
// a function that gives another value at each call. SYSDATE is the time
// of each call, not of the statement.
var perRow = regexp.MustCompile("`|(?i)\\b(uuid|uuid_short|sys_guid|rand|random_bytes|nextval|lastval|setval|sysdate)\\b")

// ReadsClock reports whether c's default reads the clock: it calls
// CURRENT_TIMESTAMP, NOW, CURDATE, UTC_TIMESTAMP or the like, and is no
// quoted literal ('now' in a VARCHAR). A generated column has no default.
func ReadsClock(c Column) bool {
	return !c.Generated && !strings.HasPrefix(c.Default, "'") && clockCall.MatchString(c.Default)
}

// PerRowClock reports whether c's default reads the clock and may also
// differ from row to row (perRow), so that no one value stands for it.
func PerRowClock(c Column) bool { return ReadsClock(c) && perRow.MatchString(c.Default) }

// NewClockColumns are the columns of t whose default reads the clock
// (ReadsClock) and which are none of written, the names of the columns a
// copy writes (in any case, as the server compares them).
func NewClockColumns(t *Table, written []string) []Column {
	has := map[string]bool{}
	for _, n := range written {
		has[strings.ToLower(n)] = true
	}
	var out []Column
	for _, c := range t.Columns {
		if !has[strings.ToLower(c.Name)] && ReadsClock(c) {
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
