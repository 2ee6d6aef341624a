package preflight

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// restrictedUser creates an account name@'%' (and drops it when the test
// ends), runs the statements of grants with {user} standing for the
// quoted account and {db} for the quoted database, and connects as it.
func restrictedUser(t *testing.T, admin *sql.DB, dbName, name string, grants ...string) *sql.DB {
	t.Helper()
	ctx := context.Background()
	account := mysql.QuoteString(name) + "@'%'"
	t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), "DROP USER IF EXISTS "+account) })
	r := strings.NewReplacer("{user}", account, "{db}", mysql.QuoteIdent(dbName))
	for _, q := range append([]string{"DROP USER IF EXISTS {user}", "CREATE USER {user} IDENTIFIED BY 'restricted-pw'"}, grants...) {
		if _, err := admin.ExecContext(ctx, r.Replace(q)); err != nil {
			t.Fatalf("%s: %v", r.Replace(q), err)
		}
	}
	conn := sbx.Conn(dbName)
	conn.User, conn.Password = name, "restricted-pw"
	db, err := mysql.Open(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPrivilegesOfRestrictedUsers(t *testing.T) {
	admin, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	for _, q := range []string{
		"CREATE TABLE orders (id INT PRIMARY KEY, total INT)",
		"CREATE TRIGGER orders_ins BEFORE INSERT ON orders FOR EACH ROW SET NEW.total = COALESCE(NEW.total, 0)",
		"DROP ROLE IF EXISTS tlr_copier",
		"CREATE ROLE tlr_copier",
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), "DROP ROLE IF EXISTS tlr_copier") })
	server, err := mysql.DetectServer(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	// A pattern that matches the test's database, with its underscores
	// escaped so that they match only themselves.
	pattern := mysql.QuoteIdent(strings.ReplaceAll(dbName[:len(dbName)-3], "_", `\_`) + "%")
	db := mysql.QuoteIdent(dbName)
	tests := []struct {
		name   string
		grants []string
		copy   bool
		// def, when set, is the default of a column the copy adds, an
		// expression, in a zone whose clock is UTC's when utc is set.
		def    string
		utc    bool
		status Status
		parts  []string
	}{
		{
			name:   "copy with table privileges only",
			grants: []string{"GRANT SELECT, INSERT, UPDATE, DELETE ON {db}.* TO {user}", "GRANT ALTER ON {db}.orders TO {user}"},
			copy:   true, status: Fail,
			parts: []string{
				"lacks privileges the copy needs (REPLICATION SLAVE on *.*, BINLOG MONITOR on *.*, CREATE on " + db + ".*, DROP on " + db + ".*, ALTER on " + db + ".*, LOCK TABLES on " + db + ".*, TRIGGER on " + db + ".*)",
				"grant them with: GRANT REPLICATION SLAVE, BINLOG MONITOR, PROCESS ON *.* TO 'tlr_copy1'@'%'; GRANT CREATE, DROP, ALTER, LOCK TABLES, TRIGGER ON " + db + ".* TO 'tlr_copy1'@'%'",
			},
		},
		{
			name: "copy through a default role and a wildcard database grant",
			grants: []string{
				"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO tlr_copier",
				"GRANT ALL PRIVILEGES ON " + pattern + ".* TO tlr_copier",
				"GRANT tlr_copier TO {user}", "SET DEFAULT ROLE tlr_copier FOR {user}",
			},
			copy: true, status: Warn,
			parts: []string{"the account 'tlr_copy2'@'%' has the privileges the copy needs but not PROCESS, so tailor sees only its own user's sessions when it looks for long transactions; run GRANT PROCESS ON *.* TO 'tlr_copy2'@'%' to let it see all"},
		},
		{
			name:   "copy with everything",
			grants: []string{"GRANT REPLICATION SLAVE, BINLOG MONITOR, PROCESS ON *.* TO {user}", "GRANT ALL ON {db}.* TO {user}"},
			copy:   true, status: Pass,
			parts: []string{"the account 'tlr_copy3'@'%' has every privilege the copy needs"},
		},
		{
			name:   "native change with ALTER on the table",
			grants: []string{"GRANT ALTER ON {db}.orders TO {user}", "GRANT PROCESS ON *.* TO {user}"},
			status: Pass, parts: []string{"the account 'tlr_copy4'@'%' has every privilege the change needs"},
		},
		{
			name:   "native change without ALTER",
			grants: []string{"GRANT SELECT ON {db}.* TO {user}"},
			status: Fail,
			parts:  []string{"lacks privileges the change needs (ALTER on " + db + ".`orders`); grant them with: GRANT PROCESS ON *.* TO 'tlr_copy5'@'%'; GRANT ALTER ON " + db + ".`orders` TO 'tlr_copy5'@'%'"},
		},
		{
			name: "copy that adds a column with a clock default",
			grants: []string{"GRANT REPLICATION SLAVE, BINLOG MONITOR, PROCESS ON *.* TO {user}",
				"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, LOCK TABLES, TRIGGER ON {db}.* TO {user}"},
			copy: true, def: "current_timestamp()", utc: true, status: Fail,
			parts: []string{"lacks privileges the copy needs (CREATE TEMPORARY TABLES on " + db + ".*); grant them with: GRANT CREATE TEMPORARY TABLES ON " + db + ".* TO 'tlr_copy6'@'%'"},
		},
		{
			// Without a clock, in UTC, tailor's sessions compute it as the
			// server's ALTER would: no temporary table.
			name: "copy that adds a column with a constant expression default, in UTC",
			grants: []string{"GRANT REPLICATION SLAVE, BINLOG MONITOR, PROCESS ON *.* TO {user}",
				"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, LOCK TABLES, TRIGGER ON {db}.* TO {user}"},
			copy: true, def: "json_object('a',1)", utc: true, status: Pass,
			parts: []string{"the account 'tlr_copy7'@'%' has every privilege the copy needs"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "tlr_copy" + string(rune('1'+i))
			udb := restrictedUser(t, admin, dbName, name, tt.grants...)
			in := Input{DB: udb, Server: server, Database: dbName, Table: "orders", Copy: tt.copy, RecreateTriggers: true}
			if tt.def != "" {
				in.Columns, in.TimeZoneIsUTC = [][2]string{{"id", "id"}, {"total", "total"}}, tt.utc
				in.Target = &schema.Table{Columns: []schema.Column{{Name: "id", DataType: "int"}, {Name: "total", DataType: "int"},
					{Name: "at", DataType: "datetime", ColumnType: "datetime", Default: tt.def, DefaultIsExpression: true}}}
			}
			c, err := checkPrivileges(ctx, in, true)
			if err != nil {
				t.Fatal(err)
			}
			wantCheck(t, c, CheckPrivileges, tt.status, tt.parts...)
			if c.Status == Pass {
				return
			}
			// The GRANT statements the check suggests are what the
			// account lacks: once run, the check passes.
			for _, q := range c.Details {
				if _, err := admin.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			c, err = checkPrivileges(ctx, in, true)
			if err != nil {
				t.Fatal(err)
			}
			wantCheck(t, c, CheckPrivileges, Pass, "has every privilege")
		})
	}
}
