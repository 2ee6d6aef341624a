package preflight

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

func TestNarrowing(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	cases := []struct {
		name, column, alter string
		values              string // rows for (id, c)
		status              Status
		message             string
		details             []string
	}{
		{
			name: "shorter VARCHAR", column: "VARCHAR(20)", alter: "MODIFY c VARCHAR(5)",
			values:  "(1, 'abc'), (2, 'abcdefgh'), (3, 'hello world'), (4, NULL), (5, 'abcde')",
			status:  Fail,
			message: "column c: 2 rows hold values that VARCHAR(5) cannot hold; shorten or fix them first, or widen the new type",
			details: []string{"id=2: c 'abcdefgh' (8 characters) does not fit VARCHAR(5) (it would become 'abcde')", "id=3: c 'hello world'"},
		},
		{
			name: "smaller integer", column: "INT", alter: "MODIFY c TINYINT",
			values:  "(1, 1), (2, 300), (3, -200), (4, 127), (5, NULL)",
			status:  Fail,
			message: "column c: 2 rows hold values that TINYINT(4) cannot hold; fix them first",
			details: []string{"id=2: c 300 does not fit TINYINT(4) (it would become 127)", "id=3: c -200"},
		},
		{
			name: "signed to unsigned", column: "INT", alter: "MODIFY c INT UNSIGNED",
			values: "(1, 0), (2, -1)", status: Fail,
			message: "column c: 1 row holds a value that INT(10) UNSIGNED cannot hold",
			details: []string{"id=2: c -1 does not fit INT(10) UNSIGNED (it would become 0)"},
		},
		{
			name: "fewer decimals", column: "DECIMAL(10,4)", alter: "MODIFY c DECIMAL(10,2)",
			values: "(1, 1.2345), (2, 1.2300), (3, 2.5), (4, -0.001)", status: Fail,
			message: "column c: 2 rows hold values that DECIMAL(10,2) cannot hold",
			details: []string{"id=1: c 1.2345 does not fit DECIMAL(10,2) (it would become 1.23)", "id=4: c -0.0010"},
		},
		{
			name: "NOT NULL over NULLs", column: "INT", alter: "MODIFY c INT NOT NULL",
			values: "(1, 1), (2, NULL), (3, NULL)", status: Fail,
			message: "column c: 2 rows hold NULL, which NOT NULL rejects; give them a value first, or keep the column nullable",
			details: []string{"id=2: c is NULL, which NOT NULL rejects", "id=3: c is NULL"},
		},
		{
			name: "shorter and NOT NULL", column: "VARCHAR(20)", alter: "MODIFY c VARCHAR(3) NOT NULL",
			values: "(1, 'abcd'), (2, NULL), (3, 'ab')", status: Fail,
			message: "column c: 2 rows hold values that VARCHAR(3) NOT NULL cannot hold (1 of them is NULL)",
			details: []string{"id=1: c 'abcd' (4 characters)", "id=2: c is NULL"},
		},
		{
			name: "emoji into latin1", column: "VARCHAR(20) CHARACTER SET utf8mb4", alter: "MODIFY c VARCHAR(20) CHARACTER SET latin1",
			values: "(1, 'abc'), (2, 'café'), (3, 'ok 😀')", status: Fail,
			message: "column c: 1 row holds a value that VARCHAR(20) CHARACTER SET latin1 cannot hold",
			details: []string{"id=3: c 'ok 😀' (4 characters) does not fit VARCHAR(20) CHARACTER SET latin1 (it would become 'ok ?')"},
		},
		{
			name: "emoji into utf8mb3", column: "TEXT CHARACTER SET utf8mb4", alter: "MODIFY c TEXT CHARACTER SET utf8mb3",
			values: "(1, 'ü'), (2, '😀')", status: Fail,
			message: "column c: 1 row holds a value",
			details: []string{"id=2: c '😀' does not fit TEXT CHARACTER SET utf8mb3"},
		},
		{
			name: "datetime loses its fraction", column: "DATETIME(6)", alter: "MODIFY c DATETIME",
			values: "(1, '2024-01-02 03:04:05.500000'), (2, '2024-01-02 03:04:05')", status: Fail,
			message: "column c: 1 row holds a value that DATETIME cannot hold",
			details: []string{"id=1: c '2024-01-02 03:04:05.500000' does not fit DATETIME"},
		},
		{
			name: "ENUM loses a member", column: "ENUM('a','b','c')", alter: "MODIFY c ENUM('a','b')",
			values: "(1, 'a'), (2, 'c'), (3, 'b'), (4, NULL)", status: Fail,
			message: "column c: 1 row holds a value that ENUM('a','b') cannot hold",
			details: []string{"id=2: c 'c' does not fit ENUM('a','b') (it would become '')"},
		},
		{
			name: "text to number", column: "VARCHAR(10)", alter: "MODIFY c INT",
			values: "(1, '12'), (2, ' 7'), (3, '12abc'), (4, 'x'), (5, '1.5'), (6, '-3'), (7, NULL)", status: Fail,
			message: "column c: 3 rows hold values that INT(11) cannot hold",
			details: []string{"id=3: c '12abc'", "id=4: c 'x'", "id=5: c '1.5' does not fit INT(11) (it would become 2)"},
		},
		{
			name: "number to short text", column: "INT", alter: "MODIFY c VARCHAR(3)",
			values: "(1, 1), (2, 1000), (3, -12)", status: Fail,
			message: "column c: 1 row holds a value that VARCHAR(3) cannot hold",
			details: []string{"id=2: c 1000 does not fit VARCHAR(3) (it would become '100')"},
		},
		{
			name: "double to float", column: "DOUBLE", alter: "MODIFY c FLOAT",
			values: "(1, 0.5), (2, 0.1), (3, 1024)", status: Fail,
			message: "column c: 1 row holds a value that FLOAT cannot hold",
			details: []string{"id=2: c 0.1 does not fit FLOAT (it would become 0.10000000149011612)"},
		},
		{
			name: "VARCHAR to CHAR drops trailing spaces", column: "VARCHAR(10)", alter: "MODIFY c CHAR(10)",
			values: "(1, 'a '), (2, 'b')", status: Fail,
			message: "column c: 1 row holds a value that CHAR(10) cannot hold",
			details: []string{"id=1: c 'a ' (2 characters) does not fit CHAR(10) (it would become 'a')"},
		},
		{
			name: "DATETIME to TIMESTAMP out of range", column: "DATETIME", alter: "MODIFY c TIMESTAMP NULL",
			values: "(1, '1960-01-01 00:00:00'), (2, '2024-01-02 03:04:05'), (3, '2040-01-01 00:00:00')", status: Fail,
			message: "column c: 2 rows hold values that TIMESTAMP cannot hold; fix them first",
			details: []string{"id=1: c '1960-01-01 00:00:00' does not fit TIMESTAMP (it would become '0000-00-00 00:00:00')"},
		},
		{
			name: "VARBINARY to BINARY pads", column: "VARBINARY(4)", alter: "MODIFY c BINARY(4)",
			values: "(1, 'abcd'), (2, 'ab')", status: Fail,
			message: "column c: 1 row holds a value that BINARY(4) cannot hold; shorten or fix it first",
			details: []string{"id=2: c 'ab' (2 bytes) does not fit BINARY(4) (it would become 0x61620000)"},
		},
		{
			name: "datetime to date", column: "DATETIME", alter: "MODIFY c DATE",
			values: "(1, '2024-01-02 00:00:00'), (2, '2024-01-02 10:00:00')", status: Fail,
			message: "column c: 1 row holds a value that DATE cannot hold",
		},
		{
			name: "narrowing whose values all fit", column: "VARCHAR(20)", alter: "MODIFY c VARCHAR(5) NOT NULL",
			values: "(1, 'abc'), (2, 'abcde')", status: Pass,
			message: "scanned 2 rows: every value of c fits",
			details: []string{"c: VARCHAR(20) → VARCHAR(5) NOT NULL: scanned, every value fits"},
		},
		{
			name: "text that is numbers", column: "VARCHAR(10)", alter: "MODIFY c DECIMAL(6,2)",
			values: "(1, '12'), (2, ' 7.5'), (3, '-0.25'), (4, NULL)", status: Pass,
			message: "scanned 4 rows: every value of c fits",
		},
		// Widenings are judged without reading a row.
		{name: "INT to BIGINT", column: "INT", alter: "MODIFY c BIGINT", values: "(1, 2147483647)", status: Pass, message: "widening: every value of c fits"},
		{name: "longer VARCHAR", column: "VARCHAR(10)", alter: "MODIFY c VARCHAR(20)", values: "(1, 'abcdefghij')", status: Pass, message: "widening: every value of c fits",
			details: []string{"c: VARCHAR(10) → VARCHAR(20): widening, every value fits"}},
		{name: "VARCHAR to TEXT", column: "VARCHAR(100)", alter: "MODIFY c TEXT", values: "(1, 'x')", status: Pass, message: "widening"},
		{name: "TEXT to MEDIUMTEXT", column: "TEXT", alter: "MODIFY c MEDIUMTEXT", values: "(1, 'x')", status: Pass, message: "widening"},
		{name: "more DECIMAL digits", column: "DECIMAL(5,2)", alter: "MODIFY c DECIMAL(7,2)", values: "(1, 999.99)", status: Pass, message: "widening"},
		{name: "latin1 to utf8mb4", column: "VARCHAR(10) CHARACTER SET latin1", alter: "MODIFY c VARCHAR(10) CHARACTER SET utf8mb4", values: "(1, 'café')", status: Pass, message: "widening"},
		{name: "DATETIME to DATETIME(6)", column: "DATETIME", alter: "MODIFY c DATETIME(6)", values: "(1, '2024-01-02 03:04:05')", status: Pass, message: "widening"},
		{name: "ENUM member added at the end", column: "ENUM('a','b')", alter: "MODIFY c ENUM('a','b','c')", values: "(1, 'b')", status: Pass, message: "widening"},
		{name: "collation only", column: "VARCHAR(10)", alter: "MODIFY c VARCHAR(10) COLLATE utf8mb4_bin", values: "(1, 'x')", status: Pass, message: "no column changes its type"},
		{name: "no column changes", column: "INT", alter: "ADD COLUMN d INT", values: "(1, 1)", status: Pass, message: "no column changes its type"},
		{name: "renamed and narrowed", column: "VARCHAR(10)", alter: "CHANGE c d VARCHAR(2)", values: "(1, 'abc')", status: Fail,
			message: "column c: 1 row holds a value that VARCHAR(2) cannot hold"},
		{name: "generated column skipped", column: "INT", alter: "DROP COLUMN c, ADD COLUMN c TINYINT AS (id) VIRTUAL", values: "(1, 300)", status: Pass, message: "no column changes its type"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "n" + string(rune('a'+i/26)) + string(rune('a'+i%26))
			create := "CREATE TABLE " + name + " (id INT PRIMARY KEY, c " + c.column + ")"
			in := dataInput(t, db, dbName, name, create, c.alter, "INSERT INTO "+name+" VALUES "+c.values)
			_, narrowing := runDataChecks(t, in)
			expectCheck(t, narrowing, c.status, c.message, c.details...)
		})
	}
}

// TestNarrowingInChunks reads a table larger than one chunk, keyed on two
// columns, and finds every row whatever chunk it is in.
func TestNarrowingInChunks(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	const rows = 2*scanChunkRows + 123
	in := dataInput(t, db, dbName, "big",
		"CREATE TABLE big (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, w INT, PRIMARY KEY (a, b))",
		"MODIFY v SMALLINT, MODIFY w INT NOT NULL",
		"INSERT INTO big SELECT seq DIV 3, CONCAT('k', seq MOD 3), IF(seq MOD 1000 = 7, 100000, seq MOD 100), IF(seq MOD 2500 = 1, NULL, 1) FROM seq_1_to_"+strconv.Itoa(rows))
	_, narrowing := runDataChecks(t, in)
	// v: seq 7, 1007, ..., 10007 (11 rows); w: seq 1, 2501, 5001, 7501, 10001 (5 rows).
	expectCheck(t, narrowing, Fail, "columns v (11 rows) and w (5 rows) hold values their new definitions cannot hold",
		"v: INT(11) → SMALLINT(6): 11 rows hold values that SMALLINT(6) cannot hold",
		"a=2, b='k1': v 100000 does not fit SMALLINT(6) (it would become 32767)",
		"w: INT(11) → INT(11) NOT NULL: 5 rows hold NULL")
}

// TestNarrowingWithoutKey scans a table that has no key to walk, in one
// statement, and shows values without a key.
func TestNarrowingWithoutKey(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	in := dataInput(t, db, dbName, "nokey", "CREATE TABLE nokey (c VARCHAR(10))", "MODIFY c VARCHAR(2)",
		"INSERT INTO nokey VALUES ('a'), ('abc'), (NULL), ('abc')")
	_, narrowing := runDataChecks(t, in)
	expectCheck(t, narrowing, Fail, "column c: 2 rows hold values", "c 'abc' (3 characters) does not fit VARCHAR(2)")
}

// TestNarrowingLeavesNoTrace checks that the scan takes no row locks, logs
// nothing to the binary log, and hands back no session with its lenient
// sql_mode or temporary table.
func TestNarrowingLeavesNoTrace(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	in := dataInput(t, db, dbName, "quiet", "CREATE TABLE quiet (id INT PRIMARY KEY, c VARCHAR(10), d INT)",
		"MODIFY c VARCHAR(2), MODIFY d INT NOT NULL, ADD UNIQUE KEY uk_c (c)",
		"INSERT INTO quiet VALUES (1, 'a', 1), (2, 'abc', 2), (3, 'b', 3)")

	// Another session holds every row exclusively.
	locker, err := sbx.Open(ctx, dbName)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	tx, err := locker.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "SELECT * FROM quiet FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	// One connection in the pool: were the scan's session handed back, the
	// next query would run in it.
	db.SetMaxOpenConns(1)
	short, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	checks, err := DataChecks(short, in)
	if err != nil {
		t.Fatalf("DataChecks while rows are locked: %v", err)
	}
	expectCheck(t, checks[0], Pass, "unique key uk_c: no duplicates")
	expectCheck(t, checks[1], Fail, "column c: 1 row holds a value", "d: INT(11) → INT(11) NOT NULL: scanned, every value fits")

	var mode string
	if err := db.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mode, "STRICT_ALL_TABLES") {
		t.Errorf("the pool's session runs with sql_mode %q after the scan", mode)
	}
	if _, err := db.ExecContext(ctx, "SELECT 1 FROM _tailor_narrowing"); err == nil {
		t.Error("the scan's temporary table is still visible to the pool's session")
	}
	file := currentBinlog(t, db)
	events, err := db.QueryContext(ctx, "SHOW BINLOG EVENTS IN "+mysql.QuoteString(file))
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	for events.Next() {
		var logName, typ, info string
		var p, serverID, end any
		if err := events.Scan(&logName, &p, &typ, &serverID, &end, &info); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(info, "_tailor_narrowing") {
			t.Errorf("the binary log holds the scan's statement: %s", info)
		}
	}
	if err := events.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestNarrowingWideColumns scans columns that, held both as they are and
// in their new type, would pass the server's 65535-byte row size limit.
func TestNarrowingWideColumns(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	in := dataInput(t, db, dbName, "wide", "CREATE TABLE wide (id INT PRIMARY KEY, a VARCHAR(8000), b VARCHAR(8000))",
		"MODIFY a VARCHAR(7000), MODIFY b VARCHAR(7000)",
		"INSERT INTO wide VALUES (1, REPEAT('x', 7001), 'short'), (2, 'short', REPEAT('y', 7500)), (3, 'ok', 'ok')")
	_, narrowing := runDataChecks(t, in)
	expectCheck(t, narrowing, Fail, "columns a (1 row) and b (1 row) hold values",
		"id=1: a 'xxxx", "(7001 characters) does not fit VARCHAR(7000)", "id=2: b 'yyyy")
}

// TestDataChecksWithoutPrivileges runs the checks as a user who may read the
// table but not create a TEMPORARY table: the narrowing scan is reported as
// not done, with the grant that would allow it.
func TestDataChecksWithoutPrivileges(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	in := dataInput(t, db, dbName, "priv", "CREATE TABLE priv (id INT PRIMARY KEY, c VARCHAR(10))",
		"MODIFY c VARCHAR(2), ADD UNIQUE KEY uk_c (c)", "INSERT INTO priv VALUES (1, 'a'), (2, 'a')")
	user := "ro_" + dbName[len(dbName)-8:]
	account := mysql.QuoteString(user) + "@'%'"
	for _, q := range []string{
		"CREATE USER " + account + " IDENTIFIED BY 'pw'",
		"GRANT SELECT ON " + mysql.QuoteIdent(dbName) + ".* TO " + account,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { _, _ = db.ExecContext(context.Background(), "DROP USER "+account) })
	conf := sbx.Conn(dbName)
	conf.User, conf.Password = user, "pw"
	ro, err := mysql.Open(ctx, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	in.DB = ro
	unique, narrowing := runDataChecks(t, in)
	expectCheck(t, unique, Fail, "unique key uk_c would meet 1 duplicated value (2 rows)")
	expectCheck(t, narrowing, Warn, "not checked: the user may not read c through a TEMPORARY table as the check needs; grant SELECT on the table and CREATE TEMPORARY TABLES on its database to check it")
}

// currentBinlog is the name of the binary log file the server writes to.
func currentBinlog(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query("SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatalf("SHOW MASTER STATUS returned nothing: %v", rows.Err())
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	return string(vals[0])
}

// TestNarrowingScanWalksEnumKey: the scan walks, chunk after chunk, a key
// that starts with an ENUM whose index orders its members otherwise than
// their names sort ('z' first), and finds the rows that do not fit under
// the members the index orders last. Bound by name, the next chunk's range
// compared the ENUM as a string and ended the walk after the rows 'z'.
func TestNarrowingScanWalksEnumKey(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	const rows = 3 * scanChunkRows
	in := dataInput(t, db, dbName, "big",
		"CREATE TABLE big (e ENUM('z','b','a') NOT NULL, id INT NOT NULL, v INT, PRIMARY KEY (e, id))",
		"MODIFY v SMALLINT",
		// 5 rows 'a' (id = 2 mod 3) hold a value SMALLINT cannot.
		"INSERT INTO big SELECT ELT(1 + seq % 3, 'z', 'b', 'a'), seq, IF(seq % 3000 = 2, 100000, 1) FROM seq_1_to_"+strconv.Itoa(rows))
	_, narrowing := runDataChecks(t, in)
	expectCheck(t, narrowing, Fail, "5 rows")
}

// TestNarrowingInTimeZone converts values between TIMESTAMPs and other
// types in the copy's time zone (+02:00 here; the sessions run in +00:00)
// and compares them in it: a DATETIME within TIMESTAMP's range there
// fits, one within two hours of its start does not (there it is before
// 1970, where CONVERT_TZ leaves it unconverted, and UTC would take it), a
// TIMESTAMP becomes the clock time there, and its zero value stays zero.
func TestNarrowingInTimeZone(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	in := dataInput(t, db, dbName, "tz",
		"CREATE TABLE tz (id INT PRIMARY KEY, dt DATETIME NULL, ts TIMESTAMP NULL DEFAULT NULL, ts2 TIMESTAMP NULL DEFAULT NULL)",
		"MODIFY dt TIMESTAMP NULL DEFAULT NULL, MODIFY ts DATE NULL, MODIFY ts2 VARCHAR(19) NULL",
		// ts 2024-06-01 22:30 UTC is 2024-06-02 00:30 at +02:00; ts
		// 23:00 UTC is midnight there, which a DATE holds.
		"INSERT INTO tz VALUES (1, '2024-06-01 12:00:00', '2024-06-01 22:00:00', '2024-06-01 22:30:00'), (2, '1970-01-01 01:00:00', '2024-06-01 22:30:00', '0000-00-00 00:00:00'), (3, '0000-00-00 00:00:00', '0000-00-00 00:00:00', NULL)")
	in.TimeZone = "+02:00"
	_, narrowing := runDataChecks(t, in)
	expectCheck(t, narrowing, Fail, "columns dt (1 row) and ts (1 row) hold values",
		"id=2: dt '1970-01-01 01:00:00' does not fit TIMESTAMP",
		"id=2: ts '2024-06-02 00:30:00' does not fit DATE (it would become '2024-06-02')")
	for _, d := range narrowing.Details {
		if strings.Contains(d, "id=1") || strings.Contains(d, "id=3") {
			t.Errorf("a value that fits in +02:00 was reported: %s", d)
		}
	}
}
