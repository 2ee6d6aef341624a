package migrate

import (
	"context"
	"fmt"
	"testing"
)

// allTypes is a table with every common column type, a generated column of
// each kind, and NULLs wherever a column allows them.
const allTypes = `CREATE TABLE typed (
  id INT NOT NULL PRIMARY KEY,
  i_tiny TINYINT NULL, i_utiny TINYINT UNSIGNED NULL, i_small SMALLINT NULL, i_medium MEDIUMINT UNSIGNED NULL,
  i_int INT NULL, i_uint INT UNSIGNED NULL, i_big BIGINT NULL, i_ubig BIGINT UNSIGNED NULL,
  d_dec DECIMAL(20,6) NULL, d_float FLOAT NULL, d_double DOUBLE NULL,
  s_char CHAR(10) CHARACTER SET utf8mb4 NULL, s_varchar VARCHAR(100) CHARACTER SET utf8mb4 NULL,
  s_text TEXT CHARACTER SET utf8mb4 NULL, s_latin VARCHAR(20) CHARACTER SET latin1 NULL,
  b_blob BLOB NULL, b_varbinary VARBINARY(20) NULL, b_binary BINARY(8) NULL,
  t_date DATE NULL, t_time TIME(3) NULL, t_datetime DATETIME(6) NULL, t_timestamp TIMESTAMP(6) NULL DEFAULT NULL, t_year YEAR NULL,
  e_enum ENUM('small','medium','large') NULL, e_set SET('red','green','blue') NULL,
  j_json JSON NULL, x_bit BIT(10) NULL,
  g_virtual BIGINT AS (i_int * 2) VIRTUAL, g_stored VARCHAR(110) AS (CONCAT(s_varchar, '!')) STORED
) ENGINE=InnoDB`

var typedColumns = []string{"id", "i_tiny", "i_utiny", "i_small", "i_medium", "i_int", "i_uint", "i_big", "i_ubig",
	"d_dec", "d_float", "d_double", "s_char", "s_varchar", "s_text", "s_latin", "b_blob", "b_varbinary", "b_binary",
	"t_date", "t_time", "t_datetime", "t_timestamp", "t_year", "e_enum", "e_set", "j_json", "x_bit", "g_virtual", "g_stored"}

// typedRow is an INSERT of row id with values that stress each type: the
// extremes of every integer, emoji, trailing spaces and zero bytes, and
// timestamps written from a session in another time zone.
func typedRow(id int) string {
	switch id % 4 {
	case 0:
		return fmt.Sprintf(`INSERT INTO typed (id) VALUES (%d)`, id) // all NULL
	case 1:
		return fmt.Sprintf(`INSERT INTO typed (id, i_tiny, i_utiny, i_small, i_medium, i_int, i_uint, i_big, i_ubig, d_dec, d_float, d_double,
			s_char, s_varchar, s_text, s_latin, b_blob, b_varbinary, b_binary, t_date, t_time, t_datetime, t_timestamp, t_year,
			e_enum, e_set, j_json, x_bit) VALUES (%d, -128, 255, -32768, 16777215, -2147483648, 4294967295, -9223372036854775808,
			18446744073709551615, -12345678901234.567891, 3.14159, -2.718281828459045, 'ab', 'Zoë 😀 naïve', REPEAT('😀', 300),
			'café', X'00FF00FF00', X'000102', X'0102000000000000', '1000-01-01', '-838:59:59.000', '9999-12-31 23:59:59.999999',
			'2038-01-19 03:14:07.499999', 1901, 'small', 'red,blue', '{"a": [1, 2.5, "😀"], "b": null}', b'1111111111')`, id)
	case 2:
		return fmt.Sprintf(`INSERT INTO typed (id, i_tiny, i_utiny, i_small, i_medium, i_int, i_uint, i_big, i_ubig, d_dec, d_float, d_double,
			s_char, s_varchar, s_text, s_latin, b_blob, b_varbinary, b_binary, t_date, t_time, t_datetime, t_timestamp, t_year,
			e_enum, e_set, j_json, x_bit) VALUES (%d, 127, 0, 32767, 0, 2147483647, 0, 9223372036854775807, 0, 0.000001, -0.1, 1e300,
			'trail  ', 'trailing spaces   ', '', '', '', '', X'00', '2024-02-29', '838:59:59.999', '1970-01-01 00:00:01.000001',
			'1970-01-01 05:30:01.000001', 2155, 'large', '', '[]', b'0')`, id)
	default:
		return fmt.Sprintf(`INSERT INTO typed (id, i_int, d_dec, s_varchar, b_binary, t_datetime, t_timestamp, e_enum, e_set, j_json)
			VALUES (%d, %d, %d.5, 'row %d ✓', UNHEX(LPAD(HEX(%d), 16, '0')), NOW(6), NOW(6), 'medium', 'green', JSON_OBJECT('id', %d))`, id, id, id, id, id, id)
	}
}

// TestAllColumnTypes migrates the typed table while rows of every type are
// inserted, updated and deleted, in ranges already copied and not yet
// copied, so each type passes through both the copy and the binary log
// applier. The result must equal the original column by column.
func TestAllColumnTypes(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	// A session time zone other than UTC: TIMESTAMP values must keep their
	// instant through the binary log, whatever zone wrote them.
	db.SetMaxOpenConns(1)
	mustExec(t, db, "SET time_zone = '+05:30'")
	mustExec(t, db, allTypes)
	for id := 1; id <= 2000; id++ {
		mustExec(t, db, typedRow(id))
	}
	cfg := testConfig(t, dbName, "typed", "ADD COLUMN extra INT NULL, MODIFY s_text MEDIUMTEXT CHARACTER SET utf8mb4 NULL")
	cfg.ChunkSize = 300
	cfg.testHooks = &testHooks{afterChunk: func(seq int) {
		if seq != 2 {
			return
		}
		for _, q := range []string{
			typedRow(5001), typedRow(5002), typedRow(5003), typedRow(5004), // past the end
			"DELETE FROM typed WHERE id IN (2, 1500)",
			"UPDATE typed SET b_binary = X'0A00000000000000', s_char = 'x ', i_ubig = 18446744073709551614, e_set = 'green,blue', x_bit = b'101' WHERE id = 5",
			"UPDATE typed SET t_timestamp = '2001-02-03 04:05:06.789', t_time = '-00:00:01.5', d_float = NULL, j_json = '{\"moved\": true}' WHERE id IN (9, 1801)",
			"UPDATE typed SET id = -7, e_enum = NULL, s_varchar = 'moved 🚀' WHERE id = 7",
			"UPDATE typed SET id = 1799 + 10000 WHERE id = 1799",
		} {
			if _, err := db.Exec(q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
		for _, q := range []string{typedRow(-1), typedRow(-2), typedRow(-3)} {
			mustExec(t, db, q)
		}
	}}
	res, err := runMigration(context.Background(), t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.EventsApplied < 10 {
		t.Errorf("only %d events applied: the changes did not go through the binary log", res.EventsApplied)
	}
	sameAsOld(t, db, "typed", typedColumns...)
	// HEX of the binary column shows trailing zero bytes were kept.
	var hexBinary string
	if err := db.QueryRow("SELECT HEX(b_binary) FROM typed WHERE id = 5").Scan(&hexBinary); err != nil || hexBinary != "0A00000000000000" {
		t.Errorf("BINARY(8) after apply = %s, %v", hexBinary, err)
	}
}
