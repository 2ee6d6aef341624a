package plan

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// accountWith creates the account name@'%' with the grants (where {user}
// stands for the account and {db} for the quoted database), drops it when
// the test ends, and connects as it.
func accountWith(t *testing.T, admin *sql.DB, dbName, name string, grants ...string) *sql.DB {
	t.Helper()
	account := mysql.QuoteString(name) + "@'%'"
	t.Cleanup(func() { _, _ = admin.Exec("DROP USER IF EXISTS " + account) })
	r := strings.NewReplacer("{user}", account, "{db}", mysql.QuoteIdent(dbName))
	for _, q := range append([]string{"DROP USER IF EXISTS {user}", "CREATE USER {user} IDENTIFIED BY 'plan-pw'"}, grants...) {
		exec(t, admin, r.Replace(q))
	}
	conn := sbx.Conn(dbName)
	conn.User, conn.Password = name, "plan-pw"
	db, err := mysql.Open(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestMakeChecksClonePrivilegesFirst: an account that may not create or
// drop the clone gets the GRANT that fixes it, as a plan error (exit code 3
// from the command), not the server's "DROP command denied" on the clone's
// first statement; nothing is created. Grants on the clone's own name do.
func TestMakeChecksClonePrivilegesFirst(t *testing.T) {
	admin, dbName := sbx.NewDatabase(t)
	createOrders(t, admin, 100)
	server := detectServer(t, admin)
	db := mysql.QuoteIdent(dbName)
	probe := mysql.QuoteTable(dbName, ProbeName("orders"))
	cases := []struct {
		name, user string
		grants     []string
		want       string // a part of the error; "" for a plan
	}{
		{"no drop", "tlr_nodrop", []string{"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER ON {db}.* TO {user}"},
			"(DROP on " + db + ".*); grant them with: GRANT DROP ON " + db + ".* TO 'tlr_nodrop'@'%'"},
		{"no create nor drop", "tlr_nocreate", []string{"GRANT SELECT, INSERT, UPDATE, DELETE, ALTER ON {db}.* TO {user}"},
			"(CREATE on " + db + ".*, DROP on " + db + ".*); grant them with: GRANT CREATE, DROP ON " + db + ".* TO 'tlr_nocreate'@'%'"},
		{"table only", "tlr_tableonly", []string{"GRANT SELECT, ALTER ON {db}.orders TO {user}"},
			"(CREATE on " + db + ".*, ALTER on " + db + ".*, INSERT on " + db + ".*, DROP on " + db + ".*)"},
		{"on the clone's name", "tlr_cloneonly", []string{"GRANT SELECT ON {db}.orders TO {user}", "GRANT CREATE, ALTER, INSERT, DROP ON " + probe + " TO {user}"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := accountWith(t, admin, dbName, c.user, c.grants...)
			p, err := Make(context.Background(), conn, server, Options{Database: dbName, Table: "orders", Alter: "ADD COLUMN shipped_at DATETIME NULL"})
			if got := sandbox.Tables(t, admin, dbName); !slices.Equal(got, []string{"customers", "orders"}) {
				t.Errorf("tables after the plan: %v", got)
			}
			if c.want == "" {
				if err != nil {
					t.Fatalf("Make: %v", err)
				}
				if p.Native.Algorithm != mysql.AlgorithmInstant {
					t.Errorf("native %s, want INSTANT", p.Native.Clause)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Make = %v, want a *plan.Error", err)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "lacks privileges") {
				t.Errorf("error %q\nwant one containing %q", err, c.want)
			}
			t.Logf("error: %v", err)
		})
	}
}
