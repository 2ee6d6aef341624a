package schema

import (
	"fmt"
	"regexp"
	"strings"

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

// SameZone reports whether two spellings of a time zone name the same
// one as the server reads them: names in any case, offsets with or
// without a leading zero ("+2:00" is "+02:00").
func SameZone(a, b string) bool { return strings.EqualFold(zoneSpelling(a), zoneSpelling(b)) }

var offsetZone = regexp.MustCompile(`^([+-])0*(\d{1,2}):(\d{2})$`)

func zoneSpelling(z string) string {
	z = strings.TrimSpace(z)
	if m := offsetZone.FindStringSubmatch(z); m != nil {
		if m[1]+m[2]+":"+m[3] == "-0:00" {
			return "+00:00"
		}
		return fmt.Sprintf("%s%02s:%s", m[1], m[2], m[3])
	}
	return z
}

// CrossesZone reports whether a value of column from converts into column
// to through a session's time zone: exactly one of them is a TIMESTAMP.
func CrossesZone(from, to Column) bool {
	return (from.Family() == FamTimestamp) != (to.Family() == FamTimestamp)
}

// ReadInZone is expr, a TIMESTAMP read in a session in SessionZone, as a
// session in zone reads it: its clock time there, which every instant
// has. CONVERT_TZ makes the zero value NULL, with a warning ("incorrect
// datetime value") when the value is not read from a column, which a
// statement in strict mode turns into an error: it is passed the zero
// value as NULL (NULLIF(expr, 0) compares a date as a date, quietly) and
// the zero value stays itself, as the server's own conversion keeps it.
func ReadInZone(expr, zone string) string {
	return "IFNULL(CONVERT_TZ(NULLIF(" + expr + ", 0), '" + SessionZone + "', " + mysql.QuoteString(zone) + "), " + expr + ")"
}

// WriteInZone is expr, a value of column from bound for a TIMESTAMP, as
// a session in zone stores it: expr read as the clock time there, given
// as SessionZone's. A value that is no date (text, a number) is first
// made a DATETIME (CAST: '0000-00-00' and 0 are the zero value, which a
// TIMESTAMP keeps as the server's own conversion does, and what is no
// date is NULL with a warning, which strict mode refuses as the server's
// conversion does); the server refuses a FLOAT's, a DOUBLE's and a
// YEAR's 0, which is then handed to it as it is.
//
// A clock time that does not exist there (in the hour a zone's clock
// skips) or whose instant is outside TIMESTAMP's range, the server's own
// conversion refuses in strict mode; CONVERT_TZ would quietly give
// another instant (the skipped hour's end) or leave it unconverted. Such
// a time does not come back when converted there and back, and becomes
// NULL with a warning that names it ("incorrect datetime value: 'no time
// in Europe/Amsterdam: 2024-03-31 02:30:00.000000'"), which strict mode
// refuses and the copy's check of warnings stops at; the narrowing check,
// in a lenient session, sees a NULL where the value was. Every branch is
// a DATETIME, so that the value is stored as a date, not parsed from text
// (a fraction cut off from text raises a note the copy would stop at).
func WriteInZone(expr, zone string, from Column) string {
	in, zero := expr, expr
	if !isTemporal(from) {
		in = "CAST(" + expr + " AS DATETIME(6))"
		if f := from.Family(); f != FamFloat && f != FamYear {
			zero = in
		}
	}
	z, utc := mysql.QuoteString(zone), "'"+SessionZone+"'"
	conv := "CONVERT_TZ(" + in + ", " + z + ", " + utc + ")"
	return "CASE WHEN NULLIF(" + in + ", 0) IS NULL THEN " + zero +
		" WHEN CONVERT_TZ(" + conv + ", " + utc + ", " + z + ") = " + in + " THEN " + conv +
		" ELSE CAST(CONCAT(" + mysql.QuoteString("no time in "+zone+": ") + ", " + in + ") AS DATETIME(6)) END"
}

// isTemporal reports whether c's values are dates to the server. A TIME
// is not: its midnight would compare equal to the zero value, and as a
// date it takes the current date (DatedInZone).
func isTemporal(c Column) bool {
	f := c.Family()
	return f == FamTimestamp || f == FamDate
}

// DatesTime reports whether a TIME of column from becomes a date in
// column to (a DATE, DATETIME or TIMESTAMP): the server gives it the
// current date of the session's time zone, as its own ALTER does
// (MariaDB 10.11: a TIME of 10:00 became the next day's 10:00 in a
// session at +10:00 at 22:00 UTC, as a DATETIME and as a TIMESTAMP).
func DatesTime(from, to Column) bool { return from.Family() == FamTime && isTemporal(to) }

// DatedInZone is expr, a TIME, on the current date in zone, as a
// DATETIME: what a session in zone makes of it as a date. A session in
// SessionZone would take UTC's date, another day near midnight.
func DatedInZone(expr, zone string) string {
	return "TIMESTAMP(DATE(CONVERT_TZ(UTC_TIMESTAMP(), '" + SessionZone + "', " + mysql.QuoteString(zone) + ")), " + expr + ")"
}

// InZone is expr, a value of column from, as a session in zone would give
// it to column to: converted when it crosses between a TIMESTAMP and
// another type (CrossesZone), or dated in zone when it is a TIME that
// becomes a date (DatesTime), else expr itself. An empty zone converts
// nothing: a mapping built for a test or a check that copies no value.
func InZone(expr string, from, to Column, zone string) string {
	switch {
	case zone != "" && DatesTime(from, to):
		dated := DatedInZone(expr, zone)
		if to.Family() == FamTimestamp {
			return WriteInZone(dated, zone, Column{DataType: "datetime", ColumnType: "datetime(6)"})
		}
		// Into a DATE, a time of day other than midnight is cut off with
		// a note, which the copy stops at as at every lossy value.
		return dated
	case zone == "" || !CrossesZone(from, to):
		return expr
	case from.Family() == FamTimestamp:
		return ReadInZone(expr, zone)
	default:
		return WriteInZone(expr, zone, from)
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
// precision (a DECIMAL bound as its digits a DECIMAL), as the column would
// give it, so that the result is a
// DATETIME too and not the text IFNULL would otherwise make of it, which
// a number column refuses ("data truncated") and a text column would
// show with six fractional digits whatever the original's.
func (m *Mapping) BoundInZone(mark string, p ColumnPair) string {
	from := m.Source.Columns[p.Index]
	to, _ := m.Shadow.Column(p.New)
	if m.TimeZone == "" || !CrossesZone(from, to) && !DatesTime(from, to) {
		return mark
	}
	switch from.Family() {
	case FamTimestamp, FamDate:
		mark = fmt.Sprintf("CAST(%s AS DATETIME(%d))", mark, from.DatetimePrecision)
	case FamTime:
		mark = fmt.Sprintf("CAST(%s AS TIME(%d))", mark, from.DatetimePrecision)
	case FamDecimal:
		// Bound as its digits, which CAST would read as text.
		mark = fmt.Sprintf("CAST(%s AS DECIMAL(%d,%d))", mark, from.NumericPrecision, from.NumericScale)
	}
	return InZone(mark, from, to, m.TimeZone)
}
