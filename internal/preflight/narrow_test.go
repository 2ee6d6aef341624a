package preflight

import (
	"strconv"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/schema"
)

// col builds a column as information_schema would describe it from a short
// spec: "varchar(10)", "int unsigned", "decimal(7,2)", "datetime(6)",
// "text latin1", "enum('a','b')". A character type is utf8mb4 unless a
// character set follows the type.
func col(spec string) schema.Column {
	words := strings.Fields(spec)
	typ := words[0]
	c := schema.Column{Name: "c", ColumnType: strings.Join(words, " "), Nullable: true}
	base, args := typ, ""
	if i := strings.IndexByte(typ, '('); i >= 0 {
		base, args = typ[:i], typ[i+1:len(typ)-1]
	}
	c.DataType = base
	for _, w := range words[1:] {
		switch w {
		case "unsigned":
			c.Unsigned = true
		case "zerofill":
			// Stays in ColumnType, where valuesFit looks for it.
		default:
			c.Charset = w
			c.ColumnType = strings.TrimSpace(strings.Replace(c.ColumnType, w, "", 1))
		}
	}
	num := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	switch f := familyOf(c); f {
	case schema.FamText, schema.FamEnum, schema.FamSet:
		if c.Charset == "" {
			c.Charset = "utf8mb4"
		}
		mb := int64(maxBytes(c.Charset))
		switch base {
		case "tinytext":
			c.MaxLength, c.OctetLength = 255, 255
		case "text":
			c.MaxLength, c.OctetLength = 65535, 65535
		case "mediumtext":
			c.MaxLength, c.OctetLength = 16777215, 16777215
		case "longtext":
			c.MaxLength, c.OctetLength = 4294967295, 4294967295
		case "enum", "set":
			vals, err := schema.ParseEnumValues(typ)
			if err != nil {
				panic(err)
			}
			c.Values = vals
		default:
			c.MaxLength = num(args)
			c.OctetLength = c.MaxLength * mb
		}
	case schema.FamBinary:
		switch base {
		case "tinyblob":
			c.MaxLength, c.OctetLength = 255, 255
		case "blob":
			c.MaxLength, c.OctetLength = 65535, 65535
		case "mediumblob", "longblob":
			c.MaxLength, c.OctetLength = 16777215, 16777215
		default:
			c.MaxLength, c.OctetLength = num(args), num(args)
		}
	case schema.FamDecimal, schema.FamFloat, schema.FamBit:
		if p, s, ok := strings.Cut(args, ","); ok {
			c.NumericPrecision, c.NumericScale = num(p), num(s)
		} else {
			c.NumericPrecision = num(args)
		}
	case schema.FamDate, schema.FamTime:
		c.DatetimePrecision = num(args)
	}
	return c
}

func TestValuesFit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		from, to string
		fits     bool
	}{
		// Integers.
		{"int", "bigint", true},
		{"tinyint", "smallint", true},
		{"int unsigned", "bigint", true},
		{"int unsigned", "int", false},
		{"int", "int unsigned", false},
		{"int", "tinyint", false},
		{"bigint unsigned", "bigint unsigned", true},
		{"smallint", "decimal(5,0)", true},
		{"smallint", "decimal(6,2)", false},
		{"int", "decimal(10,0)", true},
		{"bigint unsigned", "decimal(19,0)", false},
		{"mediumint", "float", true},
		{"int", "float", false},
		{"int", "double", true},
		{"bigint", "double", false},
		{"int", "varchar(11)", true},
		{"int", "varchar(10)", false},
		{"int(20) unsigned zerofill", "varchar(21)", false}, // padded to 20 digits
		// Exact and approximate numbers.
		{"decimal(5,2)", "decimal(7,2)", true},
		{"decimal(5,2)", "decimal(6,3)", true},
		{"decimal(10,4)", "decimal(10,2)", false},
		{"decimal(7,2)", "decimal(6,2)", false},
		{"decimal(9,0)", "int", true},
		{"decimal(10,0)", "int", false},
		{"decimal(5,1)", "int", false},
		{"decimal(5,2)", "double", false},
		{"float", "double", true},
		{"double", "float", false},
		{"float", "double(10,2)", false},
		{"bit(4)", "bit(8)", true},
		{"bit(8)", "bit(4)", false},
		// Strings.
		{"varchar(10)", "varchar(20)", true},
		{"varchar(20)", "varchar(5)", false},
		{"char(10)", "varchar(10)", true},
		{"varchar(10)", "char(10)", false}, // CHAR drops trailing spaces
		{"char(5)", "char(10)", true},
		{"varchar(10) latin1", "varchar(10) utf8mb4", true},
		{"varchar(10) utf8mb3", "varchar(10) utf8mb4", true},
		{"varchar(10) utf8mb4", "varchar(10) latin1", false},
		{"varchar(10) utf8mb4", "varchar(10) utf8mb3", false},
		{"varchar(10) ascii", "varchar(10) latin1", true},
		{"varchar(100)", "text", true},
		{"varchar(20000)", "text", false}, // 80000 bytes of utf8mb4 do not fit 65535
		{"text", "mediumtext", true},
		{"text", "tinytext", false},
		{"text", "varchar(65535) latin1", false},
		{"text latin1", "text utf8mb4", false}, // a latin1 character may take 3 bytes in utf8mb4
		{"varbinary(10)", "varbinary(20)", true},
		{"varbinary(20)", "varbinary(10)", false},
		{"binary(16)", "varbinary(16)", true},
		{"binary(16)", "binary(20)", false}, // more zero padding changes the value
		{"varbinary(10)", "binary(10)", false},
		{"varbinary(100)", "blob", true},
		{"blob", "tinyblob", false},
		{"varchar(10)", "varbinary(40)", false}, // a change of family is scanned
		{"varbinary(10)", "varchar(10)", false},
		{"enum('a','b')", "enum('a','b','c')", true},
		{"enum('a','b')", "enum('b','a')", true},
		{"enum('a','b','c')", "enum('a','b')", false},
		{"enum('a','b')", "enum('A','b')", false},
		{"set('a','b')", "set('a','b','c')", true},
		{"set('a','b')", "set('a')", false},
		{"enum('ab','cde')", "varchar(3)", true},
		{"enum('ab','cde')", "varchar(2)", false},
		{"set('ab','cde')", "varchar(5)", false},
		{"set('ab','cde')", "varchar(6)", true},
		// Temporal.
		{"datetime", "datetime(6)", true},
		{"datetime(6)", "datetime", false},
		{"date", "datetime", true},
		{"datetime", "date", false},
		{"timestamp", "datetime", true},
		{"datetime", "timestamp", false},
		{"date", "timestamp", false},
		{"timestamp(3)", "timestamp(6)", true},
		{"time", "time(3)", true},
		{"time(3)", "time", false},
		{"time", "datetime", false},
		// Across families.
		{"varchar(10)", "int", false},
		{"int", "datetime", false},
		{"datetime", "varchar(30)", false},
		{"year", "int", false},
		{"inet6", "varchar(39)", false},
	}
	for _, c := range cases {
		if got := valuesFit(col(c.from), col(c.to)); got != c.fits {
			t.Errorf("valuesFit(%s → %s) = %v; want %v", c.from, c.to, got, c.fits)
		}
	}
}

func TestDefinitionChanges(t *testing.T) {
	t.Parallel()
	notNull := func(c schema.Column) schema.Column { c.Nullable = false; return c }
	collated := func(c schema.Column, coll string) schema.Column { c.Collation = coll; return c }
	cases := []struct {
		name     string
		from, to schema.Column
		want     bool
	}{
		{"same", col("int"), col("int"), false},
		{"wider", col("int"), col("bigint"), true},
		{"collation only", collated(col("varchar(5)"), "utf8mb4_bin"), collated(col("varchar(5)"), "utf8mb4_general_ci"), false},
		{"charset", col("varchar(5) latin1"), col("varchar(5)"), true},
		{"becomes NOT NULL", col("int"), notNull(col("int")), true},
		{"becomes nullable", notNull(col("int")), col("int"), false},
	}
	for _, c := range cases {
		if got := definitionChanges(c.from, c.to); got != c.want {
			t.Errorf("%s: definitionChanges = %v; want %v", c.name, got, c.want)
		}
	}
}

func TestCharsets(t *testing.T) {
	t.Parallel()
	cases := []struct {
		to, from string
		holds    bool
	}{
		{"utf8mb4", "latin1", true},
		{"utf8mb4", "utf8", true},
		{"utf8mb3", "latin1", true},
		{"utf8mb3", "utf8mb4", false},
		{"latin1", "utf8mb4", false},
		{"latin1", "ascii", true},
		{"ascii", "latin1", false},
		{"utf8mb4", "mystery", false},
		{"mystery", "mystery", true},
	}
	for _, c := range cases {
		if got := charsetHolds(c.to, c.from); got != c.holds {
			t.Errorf("charsetHolds(%s, %s) = %v; want %v", c.to, c.from, got, c.holds)
		}
	}
}

func TestNarrowingSQL(t *testing.T) {
	t.Parallel()
	exprs := []struct {
		name, got, want string
	}{
		{"same collation", keyPartExpr(col("varchar(9)"), col("varchar(9)"), "`e`", 0), "`e`"},
		{"new collation", keyPartExpr(col("varchar(9)"), func() schema.Column { c := col("varchar(9)"); c.Collation = "utf8mb4_bin"; return c }(), "`e`", 0), "`e` COLLATE utf8mb4_bin"},
		{"new charset", keyPartExpr(col("varchar(9) latin1"), func() schema.Column { c := col("varchar(9)"); c.Collation = "utf8mb4_general_ci"; return c }(), "`e`", 3),
			"LEFT(CONVERT(`e` USING utf8mb4) COLLATE utf8mb4_general_ci, 3)"},
		{"text to number", keyPartExpr(col("varchar(9)"), col("int"), "`e`", 0), "CAST(`e` AS DECIMAL(65,30))"},
		{"number to number", differsExpr(col("int"), col("tinyint"), "`s`", "`t`"), "NOT (`s` <=> `t`)"},
		{"text to text", differsExpr(col("varchar(9)"), col("varchar(3) latin1"), "`s`", "`t`"),
			"NOT (CAST(CONVERT(`s` USING utf8mb4) AS BINARY) <=> CAST(CONVERT(`t` USING utf8mb4) AS BINARY))"},
		{"to date", differsExpr(col("datetime(6)"), col("date"), "`s`", "`t`"), "NOT (CAST(`s` AS DATETIME(6)) <=> CAST(`t` AS DATETIME(6)))"},
		{"bytes", differsExpr(col("varbinary(9)"), col("binary(3)"), "`s`", "`t`"), "NOT (CAST(`s` AS BINARY) <=> CAST(`t` AS BINARY))"},
		{"definition", columnDefinition(func() schema.Column { c := col("varchar(9) latin1"); c.Collation = "latin1_bin'"; return c }()),
			"varchar(9) CHARACTER SET latin1 COLLATE latin1_bin NULL"},
		{"lenient mode", nonStrictMode("STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION"), "NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION"},
	}
	for _, e := range exprs {
		if e.got != e.want {
			t.Errorf("%s: got %s; want %s", e.name, e.got, e.want)
		}
	}
	// A string becoming a number must also be a well-formed number.
	if got := differsExpr(col("varchar(9)"), col("int"), "`s`", "`t`"); !strings.Contains(got, "NOT REGEXP") {
		t.Errorf("text to number: %s does not check the text is a number", got)
	}
}
