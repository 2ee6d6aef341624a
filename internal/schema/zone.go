package schema

import (
	"fmt"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// A TIMESTAMP holds an instant, and the server converts it to and from the
// clock time of the session's time zone whenever it meets another type: a
// TIMESTAMP copied into a DATETIME (or a DATE, a string, a number) becomes
// the session's clock time, and a DATETIME copied into a TIMESTAMP is read
// as the session's clock time. The server's own ALTER TABLE does so in the
// time zone of the session that runs it, usually the server's
// (@@global.time_zone). Every tailor session runs in SessionZone, so that a
// TIMESTAMP reads and binds as text that names one instant even where a
// zone's clock turns back; a value that crosses between a TIMESTAMP and
// another type is therefore converted explicitly, from SessionZone to the
// migration's zone (Mapping.TimeZone) or back, wherever it is copied,
// applied or compared. Without it, on a server whose zone is not UTC,
// every such value would be shifted by the zone's offset (gh-ost's issues
// #161 and #247 are this bug).

// SessionZone is the time zone of every tailor session.
const SessionZone = "+00:00"

// CrossesZone reports whether a value of column from converts into column
// to through a session's time zone: exactly one of them is a TIMESTAMP.
func CrossesZone(from, to Column) bool {
	return (from.Family() == FamTimestamp) != (to.Family() == FamTimestamp)
}

// ReadInZone is expr, a TIMESTAMP read in a session in SessionZone, as a
// session in zone reads it: its clock time there. The zero value stays
// the zero value, as the server's own conversion keeps it.
func ReadInZone(expr, zone string) string {
	return convertZone(expr, "'"+SessionZone+"'", mysql.QuoteString(zone), true)
}

// WriteInZone is expr, a value bound for a TIMESTAMP, as a session in zone
// stores it: expr read as the clock time there, given as SessionZone's;
// temporal says expr is a date or time value rather than text or a
// number. A value CONVERT_TZ cannot convert (the zero value, text that is
// no date) is left to the server's own conversion, which keeps the zero
// value and refuses the rest; a clock time that is not within TIMESTAMP's
// range there is left unconverted by CONVERT_TZ, and then differs from
// the original when read back (the narrowing check and the checksum
// compare in zone, ReadInZone).
func WriteInZone(expr, zone string, temporal bool) string {
	return convertZone(expr, mysql.QuoteString(zone), "'"+SessionZone+"'", temporal)
}

// convertZone converts expr from zone from to zone to, both quoted, and
// falls back to expr where CONVERT_TZ gives NULL. CONVERT_TZ makes the
// zero value NULL, with a warning ("incorrect datetime value") when the
// value is not read from a column, which a statement in strict mode turns
// into an error: the value is passed as NULL when it is zero (NULLIF(expr,
// 0), which compares a date as a date, quietly), and falls back to itself,
// which the server stores as the zero value. Text or a number (temporal
// unset) is first made a DATETIME (CAST, which reads '0000-00-00' and 0
// as the zero value, and makes NULL, with a warning, of what is no date),
// since compared with 0 text would be read as a number, and a number 0
// bound for a TIMESTAMP is refused where the zero DATETIME is stored.
func convertZone(expr, from, to string, temporal bool) string {
	in := expr
	if !temporal {
		in = "CAST(" + expr + " AS DATETIME(6))"
	}
	return "IFNULL(CONVERT_TZ(NULLIF(" + in + ", 0), " + from + ", " + to + "), " + in + ")"
}

// isTemporal reports whether c's values are dates or times to the server.
func isTemporal(c Column) bool {
	f := c.Family()
	return f == FamTimestamp || f == FamDate || f == FamTime
}

// InZone is expr, a value of column from, as a session in zone would give
// it to column to: converted when it crosses between a TIMESTAMP and
// another type (CrossesZone), else expr itself. An empty zone converts
// nothing: a mapping built for a test or a check that copies no value.
func InZone(expr string, from, to Column, zone string) string {
	switch {
	case zone == "" || !CrossesZone(from, to):
		return expr
	case from.Family() == FamTimestamp:
		return ReadInZone(expr, zone)
	default:
		return WriteInZone(expr, zone, isTemporal(from))
	}
}

// ValueInZone is InZone for copied column pair p of m: the original's
// value expr as the shadow's column receives it.
func (m *Mapping) ValueInZone(expr string, p ColumnPair) string {
	to, _ := m.Shadow.Column(p.New)
	return InZone(expr, m.Source.Columns[p.Index], to, m.TimeZone)
}

// BoundInZone is ValueInZone for a value bound as a parameter (mark, a
// placeholder expression) rather than read from the original's column: a
// date or time bound as text is first made a DATETIME of its column's
// precision, as the column would give it, so that the result is a
// DATETIME too and not the text IFNULL would otherwise make of it, which
// a number column refuses ("data truncated") and a text column would
// show with six fractional digits whatever the original's.
func (m *Mapping) BoundInZone(mark string, p ColumnPair) string {
	from := m.Source.Columns[p.Index]
	to, _ := m.Shadow.Column(p.New)
	if m.TimeZone == "" || !CrossesZone(from, to) {
		return mark
	}
	switch from.Family() {
	case FamTimestamp, FamDate:
		mark = fmt.Sprintf("CAST(%s AS DATETIME(%d))", mark, from.DatetimePrecision)
	case FamTime:
		mark = fmt.Sprintf("CAST(%s AS TIME(%d))", mark, from.DatetimePrecision)
	}
	return InZone(mark, from, to, m.TimeZone)
}
