package migrate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// strictDateMode is the server's configured sql_mode in these tests: zero
// dates and zero parts of dates refused, strictly.
const strictDateMode = "NO_ZERO_DATE,NO_ZERO_IN_DATE,STRICT_TRANS_TABLES"

// TestServerSQLMode runs tailor against a server configured with
// NO_ZERO_DATE: a definition the server's own ALTER refuses is refused with
// the server's message and nothing created, while zero dates the table
// already holds (and zero dates written during the copy) arrive unchanged.
// It has a sandbox of its own, since the global sql_mode is the server's,
// and the package's tests share their sandbox and run in parallel.
func TestServerSQLMode(t *testing.T) {
	sandbox.Need(t, sbx)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	strict, err := sandbox.Start(ctx, sandbox.Options{
		ExtraArgs: []string{"--sql-mode=" + strictDateMode},
		Log:       func(s string) { t.Log(s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(strict.Stop)

	t.Run("NewZeroDateDefinitionRefused", func(t *testing.T) {
		t.Parallel()
		testZeroDateDefinitionRefused(t, strict)
	})
	t.Run("ExistingZeroDatesCarried", func(t *testing.T) {
		t.Parallel()
		testZeroDatesCarried(t, strict)
	})
	t.Run("ExistingZeroDefaultAsTheServer", func(t *testing.T) {
		t.Parallel()
		testExistingZeroDefault(t, strict)
	})
	t.Run("ExecInSQLMode", func(t *testing.T) {
		t.Parallel()
		testExecInSQLMode(t, strict)
	})
}

// serverOwnAlter runs stmt the way a client that does not set sql_mode
// would: under the server's global sql_mode.
func serverOwnAlter(t *testing.T, db *sql.DB, stmt string) error {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_mode = @@GLOBAL.sql_mode"); err != nil {
		t.Fatal(err)
	}
	_, err = conn.ExecContext(ctx, stmt)
	return err
}

func testZeroDateDefinitionRefused(t *testing.T, strict *sandbox.Sandbox) {
	db, database := strict.NewDatabase(t)
	for _, c := range []struct {
		name, alter, column string
		forceCopy, execute  bool
	}{
		{"plan", "CHANGE dt dt DATETIME NOT NULL DEFAULT '1970-00-00 00:00:00'", "dt", true, false},
		{"copy", "CHANGE dt dt DATETIME NOT NULL DEFAULT '1970-00-00 00:00:00'", "dt", true, true},
		{"instant", "CHANGE dt dt DATETIME NOT NULL DEFAULT '1970-00-00 00:00:00'", "dt", false, true},
		{"add-column", "ADD COLUMN d2 DATE NOT NULL DEFAULT '0000-00-00'", "d2", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			table := "t_" + strings.ReplaceAll(c.name, "-", "_")
			twin := table + "_twin"
			for _, name := range []string{table, twin} {
				mustExec(t, db, "CREATE TABLE "+mysql.QuoteIdent(name)+" (id INT PRIMARY KEY, dt DATETIME NOT NULL DEFAULT '2000-01-01 00:00:00') ENGINE=InnoDB")
				mustExec(t, db, "INSERT INTO "+mysql.QuoteIdent(name)+" (id, dt) VALUES (1, '2020-05-06 07:08:09'), (2, DEFAULT)")
			}
			// The premise: the server's own ALTER refuses the definition.
			own := serverOwnAlter(t, db, "ALTER TABLE "+mysql.QuoteIdent(twin)+" "+c.alter)
			want := "Invalid default value for '" + c.column + "'"
			if own == nil || !strings.Contains(own.Error(), want) {
				t.Fatalf("the server's own ALTER under %s: got %v, want %q", strictDateMode, own, want)
			}
			before := showCreate(t, db, database, table)
			tablesBefore := tablesIn(t, db, database)

			cfg := testConfig(t, database, table, c.alter)
			cfg.Conn = strict.Conn(database)
			cfg.ForceCopy, cfg.Execute = c.forceCopy, c.execute
			_, err := runMigration(context.Background(), t, cfg)
			if err == nil {
				t.Fatalf("tailor accepted a definition the server's sql_mode forbids; the table is now: %s", showCreate(t, db, database, table))
			}
			if KindOf(err) != KindInvalid {
				t.Errorf("error kind %v (exit code 3 needs %v): %v", KindOf(err), KindInvalid, err)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not carry the server's message %q", err, want)
			}
			if got := showCreate(t, db, database, table); got != before {
				t.Errorf("table changed:\n%s\nwas\n%s", got, before)
			}
			if got := tablesIn(t, db, database); !slices.Equal(got, tablesBefore) {
				t.Errorf("tables after the refusal %v, before %v", got, tablesBefore)
			}
		})
	}
}

func testZeroDatesCarried(t *testing.T, strict *sandbox.Sandbox) {
	db, database := strict.NewDatabase(t)
	ctx := context.Background()
	// The application writes with a permissive sql_mode of its own: a
	// client of the server's global mode could not write these rows.
	app, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = app.Raw(func(any) error { return driver.ErrBadConn })
		app.Close()
	}()
	appExec := func(q string) {
		t.Helper()
		if _, err := app.ExecContext(ctx, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	appExec("SET SESSION sql_mode = ''")
	appExec(`CREATE TABLE t (id INT PRIMARY KEY, dt DATETIME NOT NULL, d DATE NULL, ts TIMESTAMP NULL) ENGINE=InnoDB`)
	appExec(`INSERT INTO t VALUES
		(1, '0000-00-00 00:00:00', '0000-00-00', '0000-00-00 00:00:00'),
		(2, '2020-00-15 10:11:12', '2020-07-00', NULL),
		(3, '2021-02-03 04:05:06', '2021-02-03', '2021-02-03 04:05:06')`)
	cfg := testConfig(t, database, "t", "ADD COLUMN extra INT NULL")
	cfg.Conn = strict.Conn(database)
	cfg.testHooks = &testHooks{beforeCutOver: func() {
		// Through the binary log and the applier, too.
		appExec(`INSERT INTO t VALUES (4, '0000-00-00 00:00:00', '1999-00-00', NULL)`)
		appExec(`UPDATE t SET d = '0000-00-00' WHERE id = 3`)
	}}
	want := [][4]string{
		{"1", "0000-00-00 00:00:00", "0000-00-00", "0000-00-00 00:00:00"},
		{"2", "2020-00-15 10:11:12", "2020-07-00", "NULL"},
		{"3", "2021-02-03 04:05:06", "0000-00-00", "2021-02-03 04:05:06"},
		{"4", "0000-00-00 00:00:00", "1999-00-00", "NULL"},
	}
	if t.Failed() {
		t.FailNow()
	}
	if _, err := runMigration(ctx, t, cfg); err != nil {
		t.Fatalf("migration of a table holding zero dates: %v", err)
	}
	if def := showCreate(t, db, database, "t"); !strings.Contains(def, "`extra`") {
		t.Fatalf("the ALTER was not made: %s", def)
	}
	rows, err := db.Query(`SELECT id, CAST(dt AS CHAR), CAST(d AS CHAR), COALESCE(CAST(ts AS CHAR), 'NULL') FROM t ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got [][4]string
	for rows.Next() {
		var r [4]string
		var d sql.NullString
		if err := rows.Scan(&r[0], &r[1], &d, &r[3]); err != nil {
			t.Fatal(err)
		}
		r[2] = d.String
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("rows after the migration:\n%v\nwant\n%v", got, want)
	}
}

// testExistingZeroDefault: a table whose column already has a zero-date
// DEFAULT (created under a permissive mode) and an ALTER that does not touch
// that column. Whatever the server's own ALTER does with it under its
// configured mode, tailor must do the same: refuse with the server's
// message, or make the change.
func testExistingZeroDefault(t *testing.T, strict *sandbox.Sandbox) {
	db, database := strict.NewDatabase(t)
	ctx := context.Background()
	app, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = app.Raw(func(any) error { return driver.ErrBadConn })
		app.Close()
	}()
	for _, q := range []string{
		"SET SESSION sql_mode = ''",
		"CREATE TABLE t (id INT PRIMARY KEY, dt DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00') ENGINE=InnoDB",
		"CREATE TABLE twin LIKE t",
		"INSERT INTO t (id) VALUES (1), (2)",
	} {
		if _, err := app.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	const alter = "ADD COLUMN extra INT NULL"
	own := serverOwnAlter(t, db, "ALTER TABLE twin "+alter)
	t.Logf("the server's own ALTER under %s: %v", strictDateMode, own)
	before := showCreate(t, db, database, "t")
	cfg := testConfig(t, database, "t", alter)
	cfg.Conn = strict.Conn(database)
	_, err = runMigration(ctx, t, cfg)
	switch {
	case own == nil && err != nil:
		t.Errorf("the server makes the change, tailor refused it: %v", err)
	case own != nil && err == nil:
		t.Errorf("the server refuses the change (%v), tailor made it", own)
	case own != nil:
		if !strings.Contains(err.Error(), serverMessage(own)) || KindOf(err) != KindInvalid {
			t.Errorf("tailor's refusal %q (%v) does not carry the server's %q", err, KindOf(err), serverMessage(own))
		}
		if got := showCreate(t, db, database, "t"); got != before {
			t.Errorf("table changed:\n%s\nwas\n%s", got, before)
		}
		// The way out docs/cli.md gives: a valid default in the same ALTER.
		fixed := "ALTER COLUMN dt SET DEFAULT '2000-01-01 00:00:00', " + alter
		if own := serverOwnAlter(t, db, "ALTER TABLE twin "+fixed); own != nil {
			t.Fatalf("the server's own ALTER with a valid default: %v", own)
		}
		cfg.Alter = fixed
		if _, err := runMigration(ctx, t, cfg); err != nil {
			t.Errorf("tailor, with a valid default: %v", err)
		}
		var zeros int
		if err := db.QueryRow("SELECT COUNT(*) FROM t WHERE dt = '0000-00-00 00:00:00'").Scan(&zeros); err != nil || zeros != 2 {
			t.Errorf("zero dates after the migration: %d (%v), want 2", zeros, err)
		}
	}
}

// testExecInSQLMode checks both of ExecInSQLMode's ways against the
// server: MariaDB's SET STATEMENT, and the session variable MySQL needs
// (which MariaDB understands too); either way the statement meets the mode
// and the session keeps its own.
func testExecInSQLMode(t *testing.T, strict *sandbox.Sandbox) {
	db, _ := strict.NewDatabase(t)
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE m (id INT PRIMARY KEY)")
	global, err := mysql.GlobalSQLMode(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, flavor := range []mysql.Flavor{mysql.FlavorMariaDB, mysql.FlavorMySQL} {
		t.Run(flavor.String(), func(t *testing.T) {
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			server := mysql.Server{Flavor: flavor}
			var was string
			if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode").Scan(&was); err != nil {
				t.Fatal(err)
			}
			col := "c_" + strings.ToLower(flavor.String())
			err = server.ExecInSQLMode(ctx, conn, global, "", "ALTER TABLE m ADD COLUMN "+col+" DATE NOT NULL DEFAULT '0000-00-00'")
			if mysql.ErrorNumber(err) != errInvalidDefault {
				t.Errorf("under %s: got %v, want error %d", global, err, errInvalidDefault)
			}
			if err := server.ExecInSQLMode(ctx, conn, mysql.SQLMode, "", "ALTER TABLE m ADD COLUMN "+col+" DATE NOT NULL DEFAULT '0000-00-00'"); err != nil {
				t.Errorf("under tailor's mode: %v", err)
			}
			var mode string
			if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode").Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if mode != was {
				t.Errorf("session sql_mode after ExecInSQLMode: %q, want %q", mode, was)
			}
		})
	}
}

// errInvalidDefault is ER_INVALID_DEFAULT.
const errInvalidDefault = 1067
