package capture

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// allTypesTable has a column of every type the reader normalises, all
// nullable, and generated columns of both kinds in the middle and at the end.
const allTypesTable = `CREATE TABLE %s (
  id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  gv BIGINT AS (i * 2) VIRTUAL,
  dc DECIMAL(20,6), f FLOAT, d DOUBLE,
  c CHAR(10), vc VARCHAR(100), tx TEXT,
  lc VARCHAR(300) CHARACTER SET latin1, uc VARCHAR(20) CHARACTER SET ucs2,
  u16 VARCHAR(20) CHARACTER SET utf16, u32 CHAR(5) CHARACTER SET utf32,
  bl BLOB, vb VARBINARY(100), bn BINARY(8),
  dt DATE, tm TIME(6), dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, ts0 TIMESTAMP NULL DEFAULT NULL, yr YEAR,
  e ENUM('a','b','c'), st SET('x','y','z'), js JSON,
  b1 BIT(1), b8 BIT(8), b64 BIT(64),
  pt POINT, g GEOMETRY, u UUID, i6 INET6, i4 INET4,
  gs VARCHAR(120) AS (CONCAT(vc, '!')) STORED
)`

// TestRoundTripAllTypes captures inserts of every type, writes the captured
// After images into a second table of the same definition through
// placeholders, as the applier does, and proves both tables hold the same
// bytes. It then does the same with an UPDATE and a DELETE.
func TestRoundTripAllTypes(t *testing.T) {
	// allTypesRows are inserted in a session with time_zone '+05:00', so a
	// TIMESTAMP written as 05:00:01 is the instant 00:00:01 UTC.
	allTypesRows := []string{
		// Extremes.
		`(1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
		  -99999999999999.999999, 1.1, 1.7976931348623157e308,
		  'é😀', 'héllo wörld 😀  ', REPEAT('Grüße 😀 ', 500),
		  _latin1 X'%s', 'é€', '😀é', '😀',
		  X'00FF00FE00', X'0000', X'0102000000000000',
		  '2024-02-29', '-838:59:59.000000', '9999-12-31 23:59:59.999999', '2038-01-19 08:14:07.999999', '2038-01-19 08:14:07', 2155,
		  'c', 'x,z', '{"a": [1, 2.50, "😀"], "b": null}',
		  b'1', b'10000001', 0xFFFFFFFFFFFFFFFF,
		  POINT(1.5, -2), ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 4326), '6ccd780c-baba-1026-9564-5b8c656024db', '2001:db8::ff00:42:8329', '192.0.2.1')`,
		// Zeros, empties and the other ends.
		`(2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		  -0.000001, 0, -2.2250738585072014e-308,
		  '', '', '',
		  '', '', '', '',
		  '', '', X'0000000000000000',
		  '0000-00-00', '00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '1970-01-01 05:00:01', 0,
		  'a', '', '[]',
		  b'0', b'0', 0,
		  POINT(0, 0), POINT(0, 0), '00000000-0000-0000-0000-000000000000', '::', '0.0.0.0')`,
		// NULL in every nullable column.
		`(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		  NULL, NULL, NULL,
		  NULL, NULL, NULL,
		  NULL, NULL, NULL, NULL,
		  NULL, NULL, NULL,
		  NULL, NULL, NULL, NULL, NULL, NULL,
		  NULL, NULL, NULL,
		  NULL, NULL, NULL,
		  NULL, NULL, NULL, NULL, NULL)`,
		// In between.
		`(4, 127, 128, 32767, 32768, 8388607, 8388608, 2147483647, 2147483648, 9223372036854775807, 9223372036854775808,
		  12345678901234.5, 3.402823466e38, -0.1,
		  'a', 'x', 'line\nbreak\ttab\\backslash''quote',
		  'café', 'A', 'B', 'C',
		  X'FF', X'00', X'00000000000000FF',
		  '1000-01-01', '-00:00:00.5', '2024-02-29 12:34:56.000001', '1999-12-31 23:59:59.5', '2000-01-01 04:59:59', 1901,
		  'b', 'x,y,z', '"just a string"',
		  b'0', b'11111111', 0x8000000000000000,
		  NULL, NULL, '123e4567-e89b-42d3-a456-556642440000', '::ffff:1.2.3.4', '255.255.255.255')`,
	}
	db, name := sbx.NewDatabase(t)
	ctx := context.Background()
	exec(t, db, fmt.Sprintf(allTypesTable, "src"), fmt.Sprintf(allTypesTable, "dst"))
	r := startReader(t, db, name, "src")
	tbl := mustLoad(t, db, name, "src")

	latin1 := make([]byte, 256)
	for i := range latin1 {
		latin1[i] = byte(i)
	}
	writer, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	// Not the applier's session: another time zone, and a sql_mode that
	// allows zero dates.
	exec(t, writer, "SET time_zone = '+05:00'", "SET sql_mode = 'STRICT_ALL_TABLES'")
	rows := strings.Replace(strings.Join(allTypesRows, ",\n"), "%s", fmt.Sprintf("%X", latin1), 1)
	exec(t, writer, "INSERT INTO src (id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dc, f, d, c, vc, tx, lc, uc, u16, u32, bl, vb, bn, dt, tm, dtm, ts, ts0, yr, e, st, js, b1, b8, b64, pt, g, u, i6, i4) VALUES "+rows)

	b := r.next(t)
	if len(b.Changes) != len(allTypesRows) {
		t.Fatalf("got %d changes, want %d", len(b.Changes), len(allTypesRows))
	}
	byID := map[int64][]any{}
	for _, c := range b.Changes {
		if c.Kind != Insert || c.Before != nil || len(c.After) != len(tbl.Columns) {
			t.Fatalf("change %+v: want an insert with %d values", c, len(tbl.Columns))
		}
		byID[c.After[0].(int64)] = c.After
	}
	// Generated columns are in the image at their ordinal, computed.
	gv, _ := tbl.Column("gv")
	gs, _ := tbl.Column("gs")
	if got := byID[1][gv.Ordinal-1]; got != int64(-4294967296) {
		t.Errorf("virtual column gv = %#v, want -4294967296", got)
	}
	if got, ok := byID[1][gs.Ordinal-1].(Text); !ok || string(got) != "héllo wörld 😀  !" {
		t.Errorf("stored column gs = %#v", got)
	}
	if got := byID[3][gv.Ordinal-1]; got != nil {
		t.Errorf("virtual column gv of the NULL row = %#v", got)
	}

	for _, c := range b.Changes {
		applyInsert(t, db, tbl, c.After)
	}
	compareTables(t, db, tbl)

	// An UPDATE and a DELETE: their images describe the rows as inserted.
	exec(t, writer,
		"UPDATE src SET vc = 'changed', bn = X'01', ts = '2000-01-01 05:00:00', st = 'y', dc = dc + 1 WHERE id = 1",
		"DELETE FROM src WHERE id = 2")
	upd, del := r.next(t), r.next(t)
	if len(upd.Changes) != 1 || upd.Changes[0].Kind != Update || len(del.Changes) != 1 || del.Changes[0].Kind != Delete {
		t.Fatalf("got %+v and %+v, want one update and one delete", upd, del)
	}
	if !reflect.DeepEqual(upd.Changes[0].Before, byID[1]) {
		t.Errorf("update Before = %#v\nwant the inserted image %#v", upd.Changes[0].Before, byID[1])
	}
	if !reflect.DeepEqual(del.Changes[0].Before, byID[2]) {
		t.Errorf("delete Before = %#v\nwant the inserted image %#v", del.Changes[0].Before, byID[2])
	}
	after := upd.Changes[0].After
	for col, want := range map[string]any{"vc": Text("changed"), "bn": []byte{1, 0, 0, 0, 0, 0, 0, 0}, "ts": "2000-01-01 00:00:00.000000", "st": "y", "dc": "-99999999999998.999999", "gs": Text("changed!")} {
		c, _ := tbl.Column(col)
		if !reflect.DeepEqual(after[c.Ordinal-1], want) {
			t.Errorf("update After %s = %#v, want %#v", col, after[c.Ordinal-1], want)
		}
	}
	applyUpdate(t, db, tbl, upd.Changes[0].Before, after)
	if _, err := db.ExecContext(ctx, "DELETE FROM dst WHERE id = ?", del.Changes[0].Before[0]); err != nil {
		t.Fatal(err)
	}
	compareTables(t, db, tbl)
}

func mustLoad(t *testing.T, db *sql.DB, database, table string) *schema.Table {
	t.Helper()
	tbl, err := schema.Load(context.Background(), db, database, table)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// writable returns the columns the applier writes, their placeholders
// (Placeholder), and their values in image.
func writable(tbl *schema.Table, image []any) (cols, marks []string, values []any) {
	for i, c := range tbl.Columns {
		if !c.Generated {
			cols = append(cols, c.Name)
			marks = append(marks, Placeholder(c))
			values = append(values, image[i])
		}
	}
	return cols, marks, values
}

// applyInsert writes image into dst the way the applier does: placeholders,
// in a session of mysql.Open (strict sql_mode, time_zone '+00:00').
func applyInsert(t *testing.T, db *sql.DB, tbl *schema.Table, image []any) {
	t.Helper()
	cols, marks, values := writable(tbl, image)
	q := "INSERT INTO dst (" + mysql.QuoteIdents(cols) + ") VALUES (" + strings.Join(marks, ", ") + ")"
	if _, err := db.ExecContext(context.Background(), q, values...); err != nil {
		t.Fatalf("insert image %#v: %v", image, err)
	}
}

func applyUpdate(t *testing.T, db *sql.DB, tbl *schema.Table, before, after []any) {
	t.Helper()
	cols, marks, values := writable(tbl, after)
	q := "UPDATE dst SET " + mysql.QuoteIdents(cols[:1]) + " = " + marks[0]
	for i, c := range cols[1:] {
		q += ", " + mysql.QuoteIdent(c) + " = " + marks[i+1]
	}
	q += " WHERE id = ?"
	if _, err := db.ExecContext(context.Background(), q, append(values, before[0])...); err != nil {
		t.Fatalf("update with image %#v: %v", after, err)
	}
}

// compareTables checks src and dst hold the same rows with every column
// equal by value (<=>, exact for numbers and instants) and by bytes (HEX,
// which <=> under a case- and pad-insensitive collation would not see).
func compareTables(t *testing.T, db *sql.DB, tbl *schema.Table) {
	t.Helper()
	ctx := context.Background()
	var nSrc, nDst int
	if err := db.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM src), (SELECT COUNT(*) FROM dst)").Scan(&nSrc, &nDst); err != nil {
		t.Fatal(err)
	}
	if nSrc != nDst {
		t.Fatalf("src has %d rows, dst %d", nSrc, nDst)
	}
	for _, c := range tbl.Columns {
		col := mysql.QuoteIdent(c.Name)
		cond := "s." + col + " <=> d." + col
		switch c.DataType {
		case "float", "double":
		case "timestamp":
			cond += " AND UNIX_TIMESTAMP(s." + col + ") <=> UNIX_TIMESTAMP(d." + col + ")"
		default:
			cond += " AND HEX(s." + col + ") <=> HEX(d." + col + ")"
		}
		q := "SELECT s.id, HEX(s." + col + "), HEX(d." + col + ") FROM src s LEFT JOIN dst d USING (id) WHERE NOT (" + cond + ")"
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var id int
			var s, d sql.NullString
			if err := rows.Scan(&id, &s, &d); err != nil {
				t.Fatal(err)
			}
			t.Errorf("row %d column %s: src %v, dst %v", id, c.Name, s, d)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
}

// TestRoundTripEnumErrorValue covers ENUM index 0, which only a non-strict
// session can store: the reader gives schema.EnumErrorValue, bound as the
// empty string, which a non-strict session stores back as index 0 into an
// ENUM without an empty member and a strict one rejects (the applier writes
// it itself: see apply.Applier).
func TestRoundTripEnumErrorValue(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	ctx := context.Background()
	exec(t, db, "CREATE TABLE src (id INT PRIMARY KEY, e ENUM('a','b') NOT NULL)", "CREATE TABLE dst LIKE src")
	r := startReader(t, db, name, "src")
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec(t, conn, "SET sql_mode = ''", "INSERT INTO src VALUES (1, 'no such member')")
	b := r.next(t)
	if want := []any{int64(1), schema.EnumErrorValue{}}; !reflect.DeepEqual(b.Changes[0].After, want) {
		t.Fatalf("After = %#v, want %#v", b.Changes[0].After, want)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO dst VALUES (?, ?)", b.Changes[0].After...); mysql.ErrorNumber(err) != mysql.ErrWarnDataTrunc {
		t.Errorf("strict insert of the empty ENUM value: %v, want error %d", err, mysql.ErrWarnDataTrunc)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO dst VALUES (?, ?)", b.Changes[0].After...); err != nil {
		t.Fatal(err)
	}
	var same bool
	if err := db.QueryRowContext(ctx, "SELECT s.e + 0 = 0 AND d.e + 0 = 0 FROM src s JOIN dst d USING (id)").Scan(&same); err != nil || !same {
		t.Errorf("index 0 not stored back: %v %v", same, err)
	}
}
