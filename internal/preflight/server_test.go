package preflight

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// serverInput creates the tables of setup, then builds the Input of a copy
// of table with alter, with a Target read from an empty clone the ALTER was
// applied to, as the planner builds it.
func serverInput(t *testing.T, db *sql.DB, dbName, table, alter string, setup ...string) Input {
	t.Helper()
	ctx := context.Background()
	for _, q := range setup {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	src, err := schema.Load(ctx, db, dbName, table)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ddl.Parse(alter)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{DB: db, Server: server, Conn: sbx.Conn(dbName), Database: dbName, Table: table, Alter: a, Source: src, Copy: true}
	clone := table + "_target"
	for _, q := range []string{
		"CREATE TABLE " + mysql.QuoteIdent(clone) + " LIKE " + mysql.QuoteIdent(table),
		"ALTER TABLE " + mysql.QuoteIdent(clone) + " " + a.Clauses,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if in.Target, err = schema.Load(ctx, db, dbName, clone); err != nil {
		t.Fatal(err)
	}
	generated := map[string]bool{}
	for _, c := range in.Target.Columns {
		generated[c.Name] = c.Generated
	}
	for _, p := range a.CopiedColumns(src.ColumnNames(), in.Target.ColumnNames(), generated) {
		in.Columns = append(in.Columns, [2]string{p.Old, p.New})
	}
	if _, err := db.ExecContext(ctx, "DROP TABLE "+mysql.QuoteIdent(clone)); err != nil {
		t.Fatal(err)
	}
	return in
}

// wantCheck fails t unless c has the status and a message containing each
// of parts.
func wantCheck(t *testing.T, c Check, name string, status Status, parts ...string) {
	t.Helper()
	t.Logf("%s %s: %s", c.Name, c.Status, c.Message)
	for _, d := range c.Details {
		t.Logf("  %s", d)
	}
	if c.Name != name || c.Status != status {
		t.Errorf("check %s is %s: %q %q; want %s %s", c.Name, c.Status, c.Message, c.Details, name, status)
		return
	}
	for _, p := range parts {
		if !strings.Contains(c.Message, p) {
			t.Errorf("check %s message %q does not contain %q", c.Name, c.Message, p)
		}
	}
}

func TestBinlogSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		s       binlogSettings
		status  Status
		message string
		details int
	}{
		{"ready", binlogSettings{true, "ROW", "FULL", 1}, Pass, "the server writes a binary log in ROW format with FULL row images (server_id 1)", 0},
		{"lower case", binlogSettings{true, "row", "full", 7}, Pass, "the server writes a binary log in ROW format with FULL row images (server_id 7)", 0},
		{"no binary log", binlogSettings{false, "ROW", "FULL", 1}, Fail, "the server does not write a binary log, which tailor reads to capture changes; start it with log_bin enabled", 0},
		{"statement format", binlogSettings{true, "STATEMENT", "FULL", 1}, Fail, "the server's binlog_format is STATEMENT; tailor needs ROW (SET GLOBAL binlog_format = 'ROW', and in the server's configuration)", 0},
		{"minimal image", binlogSettings{true, "ROW", "MINIMAL", 1}, Fail, "the server's binlog_row_image is MINIMAL; tailor needs FULL (SET GLOBAL binlog_row_image = 'FULL', and in the server's configuration)", 0},
		{"no server id", binlogSettings{true, "ROW", "FULL", 0}, Fail, "the server's server_id is 0, and such a server refuses binary log readers; set server_id to a number no other server in the replication topology uses (SET GLOBAL server_id = N, and in the server's configuration)", 0},
		{"everything wrong", binlogSettings{false, "MIXED", "NOBLOB", 0}, Fail, "the server's binary log is not what tailor reads to capture changes, for 4 reasons listed below; fix each of them", 4},
	}
	for _, tt := range tests {
		c := tt.s.check()
		if c.Name != CheckBinlog || c.Status != tt.status || c.Message != tt.message || len(c.Details) != tt.details {
			t.Errorf("%s: got %s %q %q, want %s %q with %d details", tt.name, c.Status, c.Message, c.Details, tt.status, tt.message, tt.details)
		}
	}
}

func TestServerChecksCopy(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	in := serverInput(t, db, dbName, "orders", "ADD COLUMN note VARCHAR(20)",
		"CREATE TABLE orders (id INT PRIMARY KEY, total INT)")
	checks, err := ServerChecks(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range checks {
		got = append(got, c.Name)
	}
	want := []string{CheckBinlog, CheckPrivileges, CheckCopyKey, CheckForeignKeys, CheckTriggers, CheckLongTransactions, CheckReplicas}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("checks %v, want %v", got, want)
	}
	wantCheck(t, checks[0], CheckBinlog, Pass, "ROW format with FULL row images")
	wantCheck(t, checks[1], CheckPrivileges, Pass, "the account 'tailor'@'%' has every privilege the copy needs")
	wantCheck(t, checks[2], CheckCopyKey, Pass, "the copy walks PRIMARY (id)")
	wantCheck(t, checks[3], CheckForeignKeys, Pass, "`orders` has no foreign keys and none references it")
	wantCheck(t, checks[4], CheckTriggers, Pass, "`orders` has no triggers")
}

func TestServerChecksNative(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	in := serverInput(t, db, dbName, "orders", "ADD COLUMN note VARCHAR(20)",
		"CREATE TABLE orders (id INT PRIMARY KEY, total INT)",
		"CREATE TABLE order_lines (id INT PRIMARY KEY, order_id INT, CONSTRAINT lines_order FOREIGN KEY (order_id) REFERENCES orders (id))",
		"CREATE TRIGGER orders_ins BEFORE INSERT ON orders FOR EACH ROW SET NEW.total = COALESCE(NEW.total, 0)")
	in.Copy = false
	checks, err := ServerChecks(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, checks[0], CheckBinlog, Pass, notNeeded)
	wantCheck(t, checks[1], CheckPrivileges, Pass, "has every privilege the change needs")
	wantCheck(t, checks[2], CheckCopyKey, Pass, notNeeded)
	wantCheck(t, checks[3], CheckForeignKeys, Pass, "keeps the table's 1 foreign key")
	wantCheck(t, checks[4], CheckTriggers, Pass, notNeeded)
}

func TestCopyKeyCheck(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	tests := []struct {
		name, table, alter string
		setup              []string
		noTarget           bool
		status             Status
		message            string
	}{
		{name: "primary key", table: "a", alter: "ADD COLUMN c INT", setup: []string{"CREATE TABLE a (id INT PRIMARY KEY, b INT)"},
			status: Pass, message: "the copy walks PRIMARY (id)"},
		{name: "unique key", table: "b", alter: "ADD COLUMN c INT", setup: []string{"CREATE TABLE b (x INT NOT NULL, y INT NOT NULL, UNIQUE KEY xy (x, y))"},
			status: Pass, message: "the copy walks xy (x, y)"},
		{name: "no target", table: "c", alter: "ADD COLUMN c INT", setup: []string{"CREATE TABLE c (id INT PRIMARY KEY)"}, noTarget: true,
			status: Pass, message: "the copy walks PRIMARY (id)"},
		{name: "no key", table: "d", alter: "ADD COLUMN c INT", setup: []string{"CREATE TABLE d (x INT, y INT NULL, UNIQUE KEY y (y))"},
			status: Fail, message: "has no usable key: add a PRIMARY KEY (or a UNIQUE key on NOT NULL columns) first"},
		{name: "primary key changed", table: "e", alter: "DROP PRIMARY KEY, ADD PRIMARY KEY (code)", setup: []string{"CREATE TABLE e (id INT NOT NULL, code INT NOT NULL, PRIMARY KEY (id))"},
			status: Fail, message: "no key identifies rows alike in e and in the new table"},
		{name: "primary key extended", table: "f", alter: "DROP PRIMARY KEY, ADD PRIMARY KEY (id, code)", setup: []string{"CREATE TABLE f (id INT NOT NULL, code INT NOT NULL, PRIMARY KEY (id))"},
			status: Pass, message: "the copy walks PRIMARY (id)"},
	}
	for _, tt := range tests {
		in := serverInput(t, db, dbName, tt.table, tt.alter, tt.setup...)
		if tt.noTarget {
			in.Target = nil
		}
		c := checkCopyKey(in)
		if c.Status != tt.status || !strings.Contains(c.Message, tt.message) {
			t.Errorf("%s: %s %q, want %s %q", tt.name, c.Status, c.Message, tt.status, tt.message)
		}
	}
}

func TestForeignKeysCheck(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	serverInput(t, db, dbName, "plain", "ADD COLUMN c INT",
		"CREATE TABLE parent (id INT PRIMARY KEY)",
		"CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id))",
		"CREATE TABLE plain (id INT PRIMARY KEY, parent_id INT)")
	tests := []struct {
		name, table, alter string
		status             Status
		parts              []string
	}{
		{"parent", "parent", "ADD COLUMN c INT", Fail, []string{"`parent` takes part in foreign keys (`child_parent` on `child` -> `parent`)", "a swap by RENAME leaves child tables' foreign keys pointing at the old table"}},
		{"child", "child", "ADD COLUMN c INT", Fail, []string{"`child` takes part in foreign keys (`child_parent` on `child` -> `parent`)", "cannot reuse the names"}},
		{"adds one", "plain", "ADD CONSTRAINT plain_parent FOREIGN KEY (parent_id) REFERENCES parent (id)", Fail, []string{"the ALTER adds a foreign key", "plain ALTER TABLE", "foreign_key_checks=0"}},
		{"none", "plain", "ADD COLUMN c INT", Pass, []string{"`plain` has no foreign keys and none references it"}},
	}
	for _, tt := range tests {
		a, err := ddl.Parse(tt.alter)
		if err != nil {
			t.Fatal(err)
		}
		fks, err := foreignKeys(ctx, db, dbName, tt.table)
		if err != nil {
			t.Fatal(err)
		}
		c := checkForeignKeys(Input{Database: dbName, Table: tt.table, Alter: a, Copy: true}, fks)
		t.Run(tt.name, func(t *testing.T) { wantCheck(t, c, CheckForeignKeys, tt.status, tt.parts...) })
	}
}

func TestTriggersCheck(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	in := serverInput(t, db, dbName, "orders", "ADD COLUMN c INT",
		"CREATE TABLE orders (id INT PRIMARY KEY, total INT, changed INT)",
		"CREATE TRIGGER orders_ins BEFORE INSERT ON orders FOR EACH ROW SET NEW.total = COALESCE(NEW.total, 0)",
		"CREATE TRIGGER orders_upd BEFORE UPDATE ON orders FOR EACH ROW SET NEW.changed = 1")
	checks, err := ServerChecks(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, checks[4], CheckTriggers, Fail,
		"`orders` has triggers (`orders_ins`, `orders_upd`), which would stay on the old table after the swap; pass --recreate-triggers to have tailor recreate them on the new table at the cut-over")

	in.RecreateTriggers = true
	checks, err = ServerChecks(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, checks[4], CheckTriggers, Pass, "tailor will recreate the triggers of `orders` (`orders_ins`, `orders_upd`) on the new table at the cut-over")
}
