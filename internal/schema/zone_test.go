package schema

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// TestInZone checks which values are converted between a TIMESTAMP and
// another type, in which direction, and that a date bound as text is made
// a DATETIME of its column's precision first.
func TestInZone(t *testing.T) {
	ts := Column{Name: "ts", DataType: "timestamp", ColumnType: "timestamp(3)", DatetimePrecision: 3}
	dt := Column{Name: "dt", DataType: "datetime", ColumnType: "datetime"}
	vc := Column{Name: "vc", DataType: "varchar", ColumnType: "varchar(20)"}
	for _, c := range []struct {
		name     string
		from, to Column
		zone     string
		want     string
	}{
		{"same type", ts, ts, "+02:00", "`x`"},
		{"datetime to datetime", dt, dt, "+02:00", "`x`"},
		{"no zone", ts, dt, "", "`x`"},
		{"read", ts, dt, "+02:00", "IFNULL(CONVERT_TZ(NULLIF(`x`, 0), '+00:00', '+02:00'), `x`)"},
		{"written from a date", dt, ts, "SYSTEM", "CASE WHEN NULLIF(`x`, 0) IS NULL THEN `x` " +
			"WHEN CONVERT_TZ(CONVERT_TZ(`x`, 'SYSTEM', '+00:00'), '+00:00', 'SYSTEM') = `x` THEN CONVERT_TZ(`x`, 'SYSTEM', '+00:00') " +
			"ELSE CAST(CONCAT('no time in SYSTEM: ', `x`) AS DATETIME(6)) END"},
		{"written from text", vc, ts, "SYSTEM", "CASE WHEN NULLIF(CAST(`x` AS DATETIME(6)), 0) IS NULL THEN CAST(`x` AS DATETIME(6)) " +
			"WHEN CONVERT_TZ(CONVERT_TZ(CAST(`x` AS DATETIME(6)), 'SYSTEM', '+00:00'), '+00:00', 'SYSTEM') = CAST(`x` AS DATETIME(6)) THEN CONVERT_TZ(CAST(`x` AS DATETIME(6)), 'SYSTEM', '+00:00') " +
			"ELSE CAST(CONCAT('no time in SYSTEM: ', CAST(`x` AS DATETIME(6))) AS DATETIME(6)) END"},
		{"read into text", ts, vc, "Europe/Amsterdam", "IFNULL(CONVERT_TZ(NULLIF(`x`, 0), '+00:00', 'Europe/Amsterdam'), `x`)"},
	} {
		if got := InZone("`x`", c.from, c.to, c.zone); got != c.want {
			t.Errorf("%s: InZone = %s, want %s", c.name, got, c.want)
		}
	}

	src := &Table{Name: "t", Columns: []Column{{Name: "id", DataType: "int", ColumnType: "int(11)", Ordinal: 1}, ts, vc}}
	src.Columns[1].Ordinal, src.Columns[2].Ordinal = 2, 3
	dst := &Table{Name: "n", Columns: []Column{src.Columns[0], {Name: "ts", DataType: "datetime", ColumnType: "datetime(3)", DatetimePrecision: 3, Ordinal: 2}, {Name: "vc", DataType: "varchar", ColumnType: "varchar(30)", Ordinal: 3}}}
	m := &Mapping{Source: src, Shadow: dst, TimeZone: "-03:00"}
	if got, want := m.BoundInZone("?", ColumnPair{Old: "ts", New: "ts", Index: 1}), "IFNULL(CONVERT_TZ(NULLIF(CAST(? AS DATETIME(3)), 0), '+00:00', '-03:00'), CAST(? AS DATETIME(3)))"; got != want {
		t.Errorf("BoundInZone = %s, want %s", got, want)
	}
	if got := m.BoundInZone("?", ColumnPair{Old: "vc", New: "vc", Index: 2}); got != "?" {
		t.Errorf("BoundInZone of a column that crosses no TIMESTAMP = %s, want ?", got)
	}
}

func TestSameZone(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"SYSTEM", "system", true}, {"+2:00", "+02:00", true}, {"-0:00", "+00:00", true}, {"+02:00", "-02:00", false},
		{"Europe/Amsterdam", "europe/amsterdam", true}, {"+02:00", "+02:30", false}, {"SYSTEM", "+00:00", false},
	} {
		if got := SameZone(c.a, c.b); got != c.same {
			t.Errorf("SameZone(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}

// TestWriteInZoneAsTheServer stores values of several types into a
// TIMESTAMP three ways, at +02:00: the server's own ALTER in a session
// there, and tailor's copy (InZone over the column) and applier (a
// prepared INSERT of BoundInZone, the value bound as the binary log gives
// it) in sessions at +00:00, all in tailor's strict sql_mode. Each value
// is either refused by all three or stored as the same instant: the zero
// value, NULL, values within two hours of TIMESTAMP's range and outside
// it, text that is no date, and a number that is no date among them.
func TestWriteInZoneAsTheServer(t *testing.T) {
	const zone = "+02:00"
	h := newThreeWays(t)
	cases := []struct {
		typ    string
		values []string
		bind   func(s string) any
	}{
		{"DATETIME(6)", []string{"'2024-06-01 12:00:00.5'", "'0000-00-00 00:00:00'", "'1970-01-01 01:00:00'", "'1970-01-01 02:00:01'", "'2038-01-19 05:14:07'", "'2038-01-19 05:14:08'", "NULL"}, nil},
		{"DATE", []string{"'2024-06-01'", "'0000-00-00'", "'1970-01-01'", "'1970-01-02'"}, nil},
		{"VARCHAR(40)", []string{"'2024-06-01 12:00:00'", "'0000-00-00 00:00:00'", "'1970-01-01 01:30:00'", "'x'", "'2024-06-01'"}, nil},
		{"BIGINT", []string{"20240601120000", "0", "5"}, func(s string) any { n, _ := strconv.ParseInt(s, 10, 64); return n }},
		{"DECIMAL(20,6)", []string{"20240601120000.000000", "0", "20240601.000000"}, nil},
		{"DOUBLE", []string{"20240601120000", "0"}, func(s string) any { f, _ := strconv.ParseFloat(s, 64); return f }},
	}
	for _, c := range cases {
		for _, v := range c.values {
			h.compare(c.typ, "TIMESTAMP(6) NULL DEFAULT NULL", v, zone, c.bind)
		}
	}
}

// threeWays stores a value of one type into another three ways: the
// server's own ALTER in a session in the zone, and tailor's copy (InZone
// over the column) and applier (a prepared INSERT of BoundInZone, the
// value bound as the binary log gives it) in sessions at +00:00, all in
// tailor's strict sql_mode. compare fails the test unless all three
// refuse it or store the same value.
type threeWays struct {
	t        *testing.T
	ctx      context.Context
	db       *sql.DB
	database string
	conn     *sql.Conn
}

func newThreeWays(t *testing.T) *threeWays {
	db, database := sbx.NewDatabase(t)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h := &threeWays{t: t, ctx: ctx, db: db, database: database, conn: conn}
	h.must("SET SESSION sql_mode = ?, time_zone = '+00:00'", mysql.SQLMode)
	return h
}

func (h *threeWays) exec(q string, args ...any) error {
	_, err := h.conn.ExecContext(h.ctx, q, args...)
	return err
}

func (h *threeWays) must(q string, args ...any) {
	h.t.Helper()
	if err := h.exec(q, args...); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
}

// stored is column c of table tbl as text in +00:00 (a TIMESTAMP as UTC
// text), or why nothing is: "refused" when the statement failed or
// warned, which the copy stops at.
func (h *threeWays) stored(err error, tbl string) string {
	h.t.Helper()
	var warnings int
	if err != nil || h.conn.QueryRowContext(h.ctx, "SELECT @@warning_count").Scan(&warnings) != nil || warnings > 0 {
		return "refused"
	}
	var v sql.NullString
	if err := h.conn.QueryRowContext(h.ctx, "SELECT CAST(c AS CHAR) FROM "+tbl).Scan(&v); err != nil {
		h.t.Fatal(err)
	}
	if !v.Valid {
		return "NULL"
	}
	return v.String
}

// compare stores v, a value of type from, into type to the three ways in
// zone; bind, when set, makes the applier's parameter from the value's
// text.
func (h *threeWays) compare(from, to, v, zone string, bind func(string) any) {
	h.t.Helper()
	for _, q := range []string{"DROP TABLE IF EXISTS s, n, tc, tb", "CREATE TABLE s (id INT PRIMARY KEY, c " + from + " NULL)",
		"INSERT INTO s VALUES (1, " + v + ")", "CREATE TABLE n LIKE s", "INSERT INTO n SELECT * FROM s",
		"CREATE TABLE tc (id INT PRIMARY KEY, c " + to + ")", "CREATE TABLE tb LIKE tc"} {
		h.must(q)
	}
	want := h.stored(h.exec("SET STATEMENT time_zone = '"+zone+"' FOR ALTER TABLE n MODIFY c "+to+", ALGORITHM=COPY"), "n")
	src, err := Load(h.ctx, h.db, h.database, "s")
	if err != nil {
		h.t.Fatal(err)
	}
	dst, err := Load(h.ctx, h.db, h.database, "tc")
	if err != nil {
		h.t.Fatal(err)
	}
	m := &Mapping{Source: src, Shadow: dst, TimeZone: zone}
	pair := ColumnPair{Old: "c", New: "c", Index: 1}
	copied := h.stored(h.exec("INSERT INTO tc SELECT id, "+m.ValueInZone("`c`", pair)+" FROM s"), "tc")
	var raw sql.NullString
	if err := h.conn.QueryRowContext(h.ctx, "SELECT CAST(c AS CHAR) FROM s").Scan(&raw); err != nil {
		h.t.Fatal(err)
	}
	var arg any
	if raw.Valid {
		arg = raw.String
		if bind != nil {
			arg = bind(raw.String)
		}
	}
	mark := m.BoundInZone("?", pair)
	args := []any{1}
	for range strings.Count(mark, "?") {
		args = append(args, arg)
	}
	bound := h.stored(h.exec("INSERT INTO tb VALUES (?, "+mark+")", args...), "tb")
	h.t.Logf("%s %s into %s at %s: %s", from, v, to, zone, want)
	if copied != want || bound != want {
		h.t.Errorf("%s %s into %s: the server's ALTER at %s gives %s; tailor's copy %s, its applier %s", from, v, to, zone, want, copied, bound)
	}
}

// TestTimeDatedAsTheServer: a TIME that becomes a DATETIME, a TIMESTAMP or
// a DATE takes the current date of the migration's zone, as the server's
// own ALTER in that zone gives it, in tailor's copy and its applier. The
// zone is chosen so that its date is not UTC's when the test runs.
func TestTimeDatedAsTheServer(t *testing.T) {
	zone := "+13:00" // tomorrow from 11:00 UTC
	if time.Now().UTC().Hour() < 11 {
		zone = "-12:00" // yesterday until 12:00 UTC
	}
	h := newThreeWays(t)
	for _, target := range []string{"DATETIME(3)", "TIMESTAMP(3) NULL DEFAULT NULL", "DATE"} {
		for _, v := range []string{"'10:00:00.5'", "'-01:00:00'", "'25:00:00'", "'00:00:00'", "NULL"} {
			h.compare("TIME(3)", target, v, zone, nil)
		}
	}
}
