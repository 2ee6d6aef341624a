package main

import (
	"database/sql"
	"os/user"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// engineOf is the storage engine of table.
func engineOf(t *testing.T, db *sql.DB, database, table string) string {
	t.Helper()
	var engine string
	if err := db.QueryRow("SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", database, table).Scan(&engine); err != nil {
		t.Fatal(err)
	}
	return engine
}

// TestEngineChangeRefused: MariaDB 10.11 accepts "ENGINE=MyISAM,
// ALGORITHM=INSTANT" and copies the table with writes blocked, so tailor
// once ran it as an instant change and moved the table off InnoDB. plan and
// alter --execute, with or without --force-copy, refuse it with exit code 3
// and leave the table as it was; ENGINE=InnoDB, a rebuild, still runs.
func TestEngineChangeRefused(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	t.Setenv("MYSQL_PWD", sandbox.Password)
	smallTable(t, db, 300)
	before := stateOf(t, db, dbName, "t")
	for _, engine := range []string{"MyISAM", "Aria", "MEMORY"} {
		t.Run(engine, func(t *testing.T) {
			o := tailor(t, planArgs(dbName, "t", "ENGINE="+engine)...)
			o.wantCode(t, exitInvalid)
			if want := "from the InnoDB to the " + engine + " storage engine"; !strings.Contains(o.stdout, "REFUSED") || !strings.Contains(o.stdout, want) {
				t.Errorf("the plan does not refuse the change with %q:\n%s", want, o.stdout)
			}
			for _, extra := range [][]string{{"--execute"}, {"--execute", "--force-copy"}} {
				o := tailor(t, alterArgs(dbName, "t", "ENGINE="+engine, extra...)...)
				o.wantCode(t, exitInvalid)
				o.errorLine(t, "refuses", "InnoDB", engine, "storage engine", "remove the ENGINE option")
				if strings.Contains(o.stderr, "natively") {
					t.Error("the change was reported as made natively")
				}
				before.untouched(t, db, dbName, "t")
				if got := engineOf(t, db, dbName, "t"); got != "InnoDB" {
					t.Fatalf("the table moved to %s", got)
				}
			}
		})
	}
	t.Run("InnoDB", func(t *testing.T) {
		o := tailor(t, alterArgs(dbName, "t", "ENGINE=InnoDB", "--execute", "--ok-to-drop-table")...)
		o.wantCode(t, exitOK)
		if got := engineOf(t, db, dbName, "t"); got != "InnoDB" {
			t.Errorf("the table is on %s", got)
		}
		var sum sql.NullInt64
		var name string
		if err := db.QueryRow("CHECKSUM TABLE t").Scan(&name, &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Int64 != before.sum {
			t.Errorf("CHECKSUM TABLE t = %d after the rebuild, was %d", sum.Int64, before.sum)
		}
	})
}

// TestPlanChecksPrivilegesFirst: an account that may not create and drop
// the clone the plan tries the ALTER on is told which GRANT it lacks, with
// exit code 3, instead of the server's "DROP command denied" and exit 1.
func TestPlanChecksPrivilegesFirst(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	smallTable(t, db, 10)
	before := stateOf(t, db, dbName, "t")
	const name = "tlr_cmd_nodrop"
	account := mysql.QuoteString(name) + "@'%'"
	t.Cleanup(func() { _, _ = db.Exec("DROP USER IF EXISTS " + account) })
	for _, q := range []string{
		"DROP USER IF EXISTS " + account,
		"CREATE USER " + account + " IDENTIFIED BY 'nodrop-pw'",
		"GRANT SELECT, INSERT, UPDATE, DELETE, ALTER ON " + mysql.QuoteIdent(dbName) + ".* TO " + account,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Setenv("MYSQL_PWD", "nodrop-pw")
	for _, args := range [][]string{
		planArgs(dbName, "t", "ADD COLUMN x INT NULL", "--user", name),
		alterArgs(dbName, "t", "ADD COLUMN x INT NULL", "--user", name, "--execute"),
	} {
		o := tailor(t, args...)
		o.wantCode(t, exitInvalid)
		o.errorLine(t, "lacks privileges", "GRANT CREATE, DROP ON "+mysql.QuoteIdent(dbName)+".* TO 'tlr_cmd_nodrop'@'%'")
		before.untouched(t, db, dbName, "t")
	}
}

// TestSocketOnlyAccount: an account identified via unix_socket (root on
// Debian) is refused over TCP with error 1698, which is no sign of an
// unreachable server: tailor says the account may log in only over the
// unix socket, and suggests --socket (exit code 4). Over the socket, as
// another operating-system user, it says whose login the server expects.
func TestSocketOnlyAccount(t *testing.T) {
	db, _ := sbx.NewDatabase(t)
	const name = "tlr_sockonly"
	for _, q := range []string{
		"DROP USER IF EXISTS " + name + "@'%'",
		"CREATE USER " + name + "@'%' IDENTIFIED VIA unix_socket",
		"GRANT ALL PRIVILEGES ON *.* TO " + name + "@'%'",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { _, _ = db.Exec("DROP USER IF EXISTS " + name + "@'%'") })
	if u, err := user.Current(); err == nil && u.Username == name {
		t.Skipf("running as the operating-system user %s, whom unix_socket lets in", name)
	}
	t.Setenv("MYSQL_PWD", "")
	t.Run("over TCP", func(t *testing.T) {
		o := tailor(t, alterArgs("mysql", "user", "ADD COLUMN x INT", "--user", name)...)
		o.wantCode(t, exitConnect)
		msg := o.errorLine(t, `"`+name+`"`, "only log in over the server's unix socket", "unix_socket", "--socket")
		if strings.Contains(msg, "cannot reach") || strings.Contains(msg, "--port") {
			t.Errorf("the error blames the address: %q", msg)
		}
	})
	t.Run("over the socket", func(t *testing.T) {
		o := tailor(t, "alter", "--socket", sbx.Socket, "--user", name, "--database", "mysql", "--table", "user", "--alter", "ADD COLUMN x INT")
		o.wantCode(t, exitConnect)
		o.errorLine(t, `"`+name+`"`, "unix_socket", "operating-system user")
	})
}
