package schema

import "testing"

func TestFamilyOf(t *testing.T) {
	t.Parallel()
	tests := map[string]Family{
		"tinyint": FamInteger, "bigint": FamInteger, "integer": FamInteger,
		"decimal": FamDecimal, "numeric": FamDecimal,
		"float": FamFloat, "double": FamFloat, "real": FamFloat,
		"bit": FamBit, "year": FamYear,
		"char": FamText, "varchar": FamText, "longtext": FamText,
		"binary": FamBinary, "varbinary": FamBinary, "blob": FamBinary,
		"enum": FamEnum, "set": FamSet,
		"date": FamDate, "datetime": FamDate, "timestamp": FamTimestamp, "time": FamTime,
		"json": FamOther, "geometry": FamOther, "inet6": FamOther, "uuid": FamOther,
	}
	for dataType, want := range tests {
		if got := (Column{DataType: dataType}).Family(); got != want {
			t.Errorf("%s: family %d, want %d", dataType, got, want)
		}
	}
	for _, f := range []Family{FamInteger, FamDecimal, FamFloat, FamBit, FamYear} {
		if !f.Numeric() || f.Textual() {
			t.Errorf("family %d: numeric %v, textual %v; want numeric only", f, f.Numeric(), f.Textual())
		}
	}
	for _, f := range []Family{FamText, FamEnum, FamSet} {
		if f.Numeric() || !f.Textual() {
			t.Errorf("family %d: numeric %v, textual %v; want textual only", f, f.Numeric(), f.Textual())
		}
	}
}
