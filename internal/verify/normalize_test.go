package verify

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
)

// col builds a column as schema.Load would describe it.
func col(dataType, columnType string, opts ...func(*schema.Column)) schema.Column {
	c := schema.Column{Name: "c", DataType: dataType, ColumnType: columnType}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func charset(cs, coll string) func(*schema.Column) {
	return func(c *schema.Column) { c.Charset, c.Collation = cs, coll }
}

func maxLen(n int64) func(*schema.Column) { return func(c *schema.Column) { c.MaxLength = n } }

func members(v ...string) func(*schema.Column) { return func(c *schema.Column) { c.Values = v } }

var utf8 = charset("utf8mb4", "utf8mb4_general_ci")

// TestNormalize checks the normalization chosen for each kind of type
// change: the expression on each side, or that the column is left out.
func TestNormalize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name               string
		old, new           schema.Column
		wantOld, wantNew   string // "" when the pair is not verified
		wantDigest, wantPl bool
	}{
		{"same int", col("int", "int(11)"), col("int", "int(11)"), "CONVERT(`c` USING binary)", "CONVERT(`c` USING binary)", false, true},
		{"int widened", col("int", "int(11)"), col("bigint", "bigint(20) unsigned"), "(`c` + 0)", "(`c` + 0)", false, true},
		{"zerofill", col("int", "int(6) unsigned zerofill"), col("bigint", "bigint(20)"), "(`c` + 0)", "(`c` + 0)", false, true},
		{"bit widened", col("bit", "bit(4)"), col("bit", "bit(8)"), "(`c` + 0)", "(`c` + 0)", false, false},
		{"decimal rescaled", col("decimal", "decimal(8,2)"), col("decimal", "decimal(10,4)"),
			"IF(LOCATE('.', CAST(`c` + 0 AS CHAR)) > 0, TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST(`c` + 0 AS CHAR))), CAST(`c` + 0 AS CHAR))", "", false, true},
		{"int to decimal", col("int", "int(11)"), col("decimal", "decimal(12,3)"), "IF(LOCATE", "IF(LOCATE", false, true},
		{"same float", col("float", "float"), col("float", "float"), "CAST(`c` AS DOUBLE)", "CAST(`c` AS DOUBLE)", false, true},
		{"float to double", col("float", "float"), col("double", "double"), "CAST(`c` AS DOUBLE)", "CAST(`c` AS DOUBLE)", false, true},
		{"double to float", col("double", "double"), col("float", "float"), "CAST(CAST(`c` AS FLOAT) AS DOUBLE)", "CAST(`c` AS DOUBLE)", false, true},
		{"fixed float changed", col("float", "float(7,2)"), col("float", "float(9,3)"), "", "", false, false},
		{"varchar widened", col("varchar", "varchar(20)", utf8, maxLen(20)), col("varchar", "varchar(40)", utf8, maxLen(40)),
			"CONVERT(`c` USING binary)", "CONVERT(`c` USING binary)", false, false},
		{"latin1 to utf8mb4", col("varchar", "varchar(20)", charset("latin1", "latin1_swedish_ci"), maxLen(20)), col("varchar", "varchar(20)", utf8, maxLen(20)),
			"CONVERT(CONVERT(`c` USING utf8mb4) USING binary)", "CONVERT(`c` USING binary)", false, false},
		{"varchar to char", col("varchar", "varchar(10)", utf8, maxLen(10)), col("char", "char(10)", utf8, maxLen(10)),
			"CONVERT(TRIM(TRAILING ' ' FROM `c`) USING binary)", "CONVERT(TRIM(TRAILING ' ' FROM `c`) USING binary)", false, false},
		{"char to varchar", col("char", "char(10)", utf8, maxLen(10)), col("varchar", "varchar(10)", utf8, maxLen(10)),
			"CONVERT(`c` USING binary)", "CONVERT(`c` USING binary)", false, false},
		{"varchar(256) carried", col("varchar", "varchar(150)", utf8, maxLen(150)), col("varchar", "varchar(256)", utf8, maxLen(256)),
			"CONVERT(`c` USING binary)", "CONVERT(`c` USING binary)", false, false},
		{"varchar(257) hashed", col("varchar", "varchar(256)", utf8, maxLen(256)), col("varchar", "varchar(257)", utf8, maxLen(257)),
			"CONVERT(`c` USING binary)", "CONVERT(`c` USING binary)", true, false},
		{"varbinary(1025) hashed", col("varbinary", "varbinary(1024)", maxLen(1024)), col("varbinary", "varbinary(1025)", maxLen(1025)),
			"CONVERT(`c` USING binary)", "CONVERT(`c` USING binary)", true, false},
		{"varchar to text", col("varchar", "varchar(20)", utf8, maxLen(20)), col("text", "text", utf8, maxLen(65535)),
			"CONVERT(`c` USING binary)", "CONVERT(`c` USING binary)", true, false},
		{"enum to varchar", col("enum", "enum('a','b')", utf8, maxLen(1), members("a", "b")), col("varchar", "varchar(5)", utf8, maxLen(5)),
			"CONVERT(`c` USING binary)", "CONVERT(`c` USING binary)", false, false},
		{"same enum", col("enum", "enum('','a')", utf8, maxLen(1), members("", "a")), col("enum", "enum('','a')", utf8, maxLen(1), members("", "a")),
			"CONCAT(`c` + 0 = 0, CONVERT(`c` USING binary))", "CONCAT(`c` + 0 = 0, CONVERT(`c` USING binary))", false, false},
		{"enum widened", col("enum", "enum('a','b')", charset("latin1", "latin1_swedish_ci"), maxLen(1), members("a", "b")), col("enum", "enum('a','b','cc')", utf8, maxLen(2), members("a", "b", "cc")),
			"CONCAT(`c` + 0 = 0, CONVERT(CONVERT(`c` USING utf8mb4) USING binary))", "CONCAT(`c` + 0 = 0, CONVERT(`c` USING binary))", false, false},
		{"set widened", col("set", "set('a','b')", utf8, maxLen(3), members("a", "b")), col("set", "set('a','b','c')", utf8, maxLen(5), members("a", "b", "c")),
			"CONVERT(`c` USING binary)", "CONVERT(`c` USING binary)", false, false},
		{"set reordered", col("set", "set('a','b')", utf8, maxLen(3), members("a", "b")), col("set", "set('b','a')", utf8, maxLen(3), members("b", "a")), "", "", false, false},
		{"varchar to set", col("varchar", "varchar(5)", utf8, maxLen(5)), col("set", "set('a','b')", utf8, maxLen(3), members("a", "b")), "", "", false, false},
		{"binary to varbinary", col("binary", "binary(4)", maxLen(4)), col("varbinary", "varbinary(8)", maxLen(8)),
			"CONVERT(`c` USING binary)", "CONVERT(`c` USING binary)", false, false},
		{"varbinary to binary", col("varbinary", "varbinary(4)", maxLen(4)), col("binary", "binary(8)", maxLen(8)),
			"RPAD(CONVERT(`c` USING binary), 8, X'00')", "CONVERT(`c` USING binary)", false, false},
		{"text to blob", col("text", "text", utf8, maxLen(65535)), col("blob", "blob", maxLen(65535)), "CONVERT(`c` USING binary)", "CONVERT(`c` USING binary)", true, false},
		{"date to datetime", col("date", "date"), col("datetime", "datetime(6)"), "CAST(`c` AS DATETIME(6))", "CAST(`c` AS DATETIME(6))", false, true},
		{"timestamp to datetime", col("timestamp", "timestamp(6)"), col("datetime", "datetime(6)"), "CAST(`c` AS DATETIME(6))", "CAST(`c` AS DATETIME(6))", false, true},
		{"timestamp precision", col("timestamp", "timestamp"), col("timestamp", "timestamp(6)"), "IF(LOCATE('.', CAST(UNIX_TIMESTAMP(`c`) + 0 AS CHAR))", "", false, true},
		{"time precision", col("time", "time"), col("time", "time(3)"), "CAST(`c` AS TIME(6))", "CAST(`c` AS TIME(6))", false, true},
		{"same json (MySQL)", col("json", "json"), col("json", "json"), "CONVERT(`c` USING binary)", "CONVERT(`c` USING binary)", true, false},
		{"text to int", col("varchar", "varchar(10)", utf8, maxLen(10)), col("int", "int(11)"), "", "", false, false},
		{"int to varchar", col("int", "int(11)"), col("varchar", "varchar(10)", utf8, maxLen(10)), "", "", false, false},
		{"datetime to varchar", col("datetime", "datetime"), col("varchar", "varchar(30)", utf8, maxLen(30)), "", "", false, false},
		{"int to double", col("int", "int(11)"), col("double", "double"), "", "", false, false},
		{"geometry changed", col("point", "point"), col("geometry", "geometry"), "", "", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pn, unv := normalize(schema.ColumnPair{Old: "c", New: "c"}, tc.old, tc.new, "")
			if tc.wantOld == "" {
				if unv == nil {
					t.Fatalf("verified as %q / %q, want it left out", pn.oldExpr, pn.newExpr)
				}
				if !strings.Contains(unv.Reason, tc.old.ColumnType) || !strings.Contains(unv.Reason, tc.new.ColumnType) {
					t.Errorf("reason %q does not name both types", unv.Reason)
				}
				return
			}
			if unv != nil {
				t.Fatalf("left out: %s", unv.Reason)
			}
			if !strings.HasPrefix(pn.oldExpr, tc.wantOld) {
				t.Errorf("old side %q, want %q", pn.oldExpr, tc.wantOld)
			}
			if tc.wantNew != "" && !strings.HasPrefix(pn.newExpr, tc.wantNew) {
				t.Errorf("new side %q, want %q", pn.newExpr, tc.wantNew)
			}
			if pn.digest != tc.wantDigest || pn.plain != tc.wantPl {
				t.Errorf("digest %v plain %v, want %v %v", pn.digest, pn.plain, tc.wantDigest, tc.wantPl)
			}
		})
	}
}

func TestKeepsOrder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		old, new []string
		want     bool
	}{
		{[]string{"a", "b"}, []string{"a", "b", "c"}, true},
		{[]string{"a", "b"}, []string{"z", "a", "y", "b"}, true},
		{[]string{"a", "b"}, []string{"b", "a"}, false},
		{[]string{"a", "b", "c"}, []string{"a", "c"}, true}, // b cannot be copied; the copy fails on it
	}
	for _, tc := range cases {
		if got := keepsOrder(tc.old, tc.new); got != tc.want {
			t.Errorf("keepsOrder(%v, %v) = %v, want %v", tc.old, tc.new, got, tc.want)
		}
	}
}

// TestRowStringTokens checks the shape of a row's string: one token per column,
// NULL marked where the column accepts it, a fallback where the normalization
// may return NULL, long values hashed on their own, numbers ended by a comma.
func TestRowStringTokens(t *testing.T) {
	t.Parallel()
	norms := []pairNorm{
		{pair: schema.ColumnPair{Old: "id", New: "id"}, oldExpr: "(`id` + 0)", newExpr: "(`id` + 0)", plain: true, oldNull: true, newNull: true},
		{pair: schema.ColumnPair{Old: "old`name", New: "new"}, oldExpr: "CAST(`old``name` AS DATE)", newExpr: "CAST(`new` AS DATE)", oldNull: true, newNull: true},
		// NOT NULL on the old side only, and total: no NULL test there, and
		// no fallback on either side.
		{pair: schema.ColumnPair{Old: "body", New: "body"}, oldExpr: "CONVERT(`body` USING binary)", newExpr: "CONVERT(`body` USING binary)", digest: true, total: true, newNull: true},
	}
	got := rowString(norms, true)
	want := "CONCAT(" +
		"IF(`id` IS NULL, 'N', IFNULL(CONCAT((`id` + 0), ','), CONCAT('r', LENGTH(CONVERT(`id` USING binary)), ':', CONVERT(`id` USING binary)))), " +
		"IF(`old``name` IS NULL, 'N', IFNULL(CONCAT('v', LENGTH(CAST(`old``name` AS DATE)), ':', CAST(`old``name` AS DATE)), CONCAT('r', LENGTH(CONVERT(`old``name` USING binary)), ':', CONVERT(`old``name` USING binary)))), " +
		"CONCAT('d', MD5(CONVERT(`body` USING binary))))"
	if got != want {
		t.Errorf("rowString:\n got %s\nwant %s", got, want)
	}
	n := rowString(norms, false)
	if !strings.Contains(n, "`new` IS NULL") || strings.Contains(n, "old") {
		t.Errorf("the shadow's row %s does not use the new names only", n)
	}
	if !strings.Contains(n, "IF(`body` IS NULL, 'N', CONCAT('d', MD5(CONVERT(`body` USING binary))))") {
		t.Errorf("the shadow's row %s does not mark a NULL body without a fallback", n)
	}
}

// TestDiffQueries checks the queries that find differing rows of a chunk
// with a composite key: both sides restricted to the chunk, joined on the
// key, and their placeholders in order.
func TestDiffQueries(t *testing.T) {
	t.Parallel()
	p := &plan{
		orig:   side{table: "`d`.`t`", index: "`PRIMARY`", key: sqlbuild.PlainKey([]string{"a", "b"}), hash: "H1"},
		shadow: side{table: "`d`.`_t_new`", index: "`PRIMARY`", key: sqlbuild.PlainKey([]string{"a", "b2"}), hash: "H2"},
	}
	c := rowcopy.Chunk{Seq: 2, Lower: []any{1, "x"}, Upper: []any{5, "y"}}
	q1, a1, q2, a2 := diffQueries(p, c)
	sub1 := "SELECT `a` AS `k0`, `b` AS `k1`, H1 AS h FROM `d`.`t` FORCE INDEX (`PRIMARY`) WHERE ((`a` > ?) OR (`a` = ? AND `b` > ?)) AND ((`a` < ?) OR (`a` = ? AND `b` <= ?))"
	sub2 := "SELECT `a` AS `k0`, `b2` AS `k1`, H2 AS h FROM `d`.`_t_new` FORCE INDEX (`PRIMARY`) WHERE ((`a` > ?) OR (`a` = ? AND `b2` > ?)) AND ((`a` < ?) OR (`a` = ? AND `b2` <= ?))"
	want1 := "SELECT o.`k0`, o.`k1`, s.`k0` IS NULL FROM (" + sub1 + ") AS o LEFT JOIN (" + sub2 + ") AS s ON o.`k0` = s.`k0` AND o.`k1` = s.`k1` WHERE NOT (o.h <=> s.h) LIMIT 10"
	want2 := "SELECT s.`k0`, s.`k1` FROM (" + sub2 + ") AS s LEFT JOIN (" + sub1 + ") AS o ON o.`k0` = s.`k0` AND o.`k1` = s.`k1` WHERE o.`k0` IS NULL LIMIT 10"
	if q1 != want1 {
		t.Errorf("first query:\n got %s\nwant %s", q1, want1)
	}
	if q2 != want2 {
		t.Errorf("second query:\n got %s\nwant %s", q2, want2)
	}
	if len(a1) != 12 || len(a2) != 12 || a1[0] != 1 || a1[1] != 1 || a1[2] != "x" || a1[5] != "y" {
		t.Errorf("arguments %v and %v", a1, a2)
	}
}

func TestMismatchErrorMessage(t *testing.T) {
	t.Parallel()
	e := &MismatchError{
		Table: "`d`.`t`", Chunk: rowcopy.Chunk{Seq: 3, Lower: []any{100}, Upper: []any{200}}, Recopies: 2, KeyCols: []string{"id", "k"},
		Rows: []RowDiff{{Key: []any{int64(150), []byte("x")}, Kind: Different}, {Key: []any{int64(160), []byte("y")}, Kind: Missing}},
	}
	want := "the new table differs from `d`.`t` in key range #3 (100, 200] even after copying it again 2 times (id=150 k=x different, id=160 k=y missing)"
	if got := e.Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	e.Recopies, e.Rows = 0, nil
	want = "the new table differs from `d`.`t` in key range #3 (100, 200] (the rows could not be located)"
	if got := e.Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	sbxlessDB := new(sql.DB) // never used: Validate only looks at it
	m := &schema.Mapping{Source: &schema.Table{}, Shadow: &schema.Table{}, Key: []schema.ColumnPair{{Old: "id", New: "id"}}}
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"no database", Config{Mapping: m}, false},
		{"no mapping", Config{DB: nil, Mapping: nil}, false},
		{"negative attempts", Config{DB: sbxlessDB, Mapping: m, Attempts: -1}, false},
		{"negative timeout", Config{DB: sbxlessDB, Mapping: m, LockTimeout: -1}, false},
		{"defaults", Config{DB: sbxlessDB, Mapping: m}, true},
	}
	for _, tc := range cases {
		err := tc.cfg.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if c := (Config{Attempts: 5}).withDefaults(); c.Attempts != 0 {
		t.Errorf("without Recopy, Attempts = %d, want 0", c.Attempts)
	}
}
