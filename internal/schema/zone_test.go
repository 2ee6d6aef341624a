package schema

import "testing"

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
			"ELSE CAST(CONCAT(`x`, ' is no time in SYSTEM') AS DATETIME(6)) END"},
		{"written from text", vc, ts, "SYSTEM", "CASE WHEN NULLIF(CAST(`x` AS DATETIME(6)), 0) IS NULL THEN CAST(`x` AS DATETIME(6)) " +
			"WHEN CONVERT_TZ(CONVERT_TZ(CAST(`x` AS DATETIME(6)), 'SYSTEM', '+00:00'), '+00:00', 'SYSTEM') = CAST(`x` AS DATETIME(6)) THEN CONVERT_TZ(CAST(`x` AS DATETIME(6)), 'SYSTEM', '+00:00') " +
			"ELSE CAST(CONCAT(CAST(`x` AS DATETIME(6)), ' is no time in SYSTEM') AS DATETIME(6)) END"},
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
