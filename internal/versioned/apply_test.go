package versioned

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tailor-osc/tailor/internal/history"
	"github.com/tailor-osc/tailor/internal/workload"
)

// shopFolder is the folder: five versioned files and a repeatable.
// orders is the application's table (workload's, with its control table),
// there before the first file.
func shopFolder() fstest.MapFS {
	return fstest.MapFS{
		"V1__create_customers.sql": file(`CREATE TABLE customers (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(50) NOT NULL,
  display_name VARCHAR(50) NULL
) ENGINE=InnoDB;
INSERT INTO customers (name)
SELECT CONCAT('customer ', a.d + 10 * b.d + 100 * c.d + 1000 * e.d)
  FROM ` + digits + ` a, ` + digits + ` b, ` + digits + ` c, ` + digits + ` e
 WHERE e.d < 5;
`),
		"V2__orders_refunded_at.sql": file("ALTER TABLE orders ADD COLUMN refunded_at DATETIME(6) NULL;\n"),
		"V3__widen_amount.sql":       file("-- money grows\nALTER TABLE orders MODIFY amount DECIMAL(14,2) NOT NULL;\n"),
		"V4__index_customer_name.sql": file("CREATE INDEX idx_name ON customers (name);\n"),
		"V5__backfill_display_name.sql": file(`-- tailor:backfill
UPDATE customers SET display_name = UPPER(name) WHERE display_name IS NULL;
`),
		"R__views.sql": file("CREATE OR REPLACE VIEW customer_names AS SELECT id, display_name FROM customers;\n"),
	}
}

// TestApplyFolder runs the folder: plan first (the later ALTERs of
// orders planned against a clone with the earlier ones applied), then
// apply under a write load on orders with its control table, then a
// second apply that does nothing, status and validate.
func TestApplyFolder(t *testing.T) {
	ctx := context.Background()
	db, database := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	const rows = 5000
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, database, shopFolder())

	p, err := newRunner(t, cfg).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		file     string
		strategy Strategy
		against  string
	}
	var got []row
	for _, f := range p.Files {
		for _, s := range f.Statements {
			got = append(got, row{f.File, s.Strategy, s.PlannedAgainst})
			t.Logf("%s #%d: %s against %q: %s %v %v", f.File, s.Statement, s.Strategy, s.PlannedAgainst, s.Reason, s.RefusedBecause, s.Notes)
		}
	}
	want := []row{
		{"V1__create_customers.sql", Direct, ""}, {"V1__create_customers.sql", Direct, ""},
		{"V2__orders_refunded_at.sql", NativeInstant, "table"},
		{"V3__widen_amount.sql", OnlineCopy, "clone"},
		{"V4__index_customer_name.sql", OnlineCopy, "clone"},
		{"V5__backfill_display_name.sql", Backfill, ""},
		{"R__views.sql", Direct, ""},
	}
	if !p.OK || !equalRows(got, want) {
		t.Fatalf("plan OK=%v:\n got %v\nwant %v", p.OK, got, want)
	}
	if n := countDatabases(t, db, ScratchDatabase(database)); n != 0 {
		t.Errorf("the plan left its scratch database")
	}

	load := workload.Start(ctx, db, workload.Options{Table: "orders", Writers: 2, Rate: 400, InitialRows: rows, Seed: 16})
	time.Sleep(300 * time.Millisecond)
	res, err := newRunner(t, cfg).Apply(ctx)
	time.Sleep(300 * time.Millisecond)
	stats := load.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Errors > 0 {
		t.Errorf("%d writes failed, last: %s", stats.Errors, stats.LastError)
	}
	var strategies []string
	for _, f := range res.Files {
		for _, s := range f.Statements {
			strategies = append(strategies, f.File+":"+string(s.Strategy))
			if f.File == "V3__widen_amount.sql" && (strings.Contains(s.Detail, " 0 events applied") || !strings.Contains(s.Detail, "events applied")) {
				t.Errorf("the online copy under load applied no write: %s", s.Detail)
			}
		}
	}
	wantStrategies := "V1__create_customers.sql:direct V1__create_customers.sql:direct V2__orders_refunded_at.sql:native-instant " +
		"V3__widen_amount.sql:online-copy V4__index_customer_name.sql:online-copy V5__backfill_display_name.sql:backfill R__views.sql:direct"
	if strings.Join(strategies, " ") != wantStrategies {
		t.Errorf("apply ran\n %s\nwant\n %s", strings.Join(strategies, " "), wantStrategies)
	}
	diff, err := workload.Compare(ctx, db, "orders", workload.SameColumns(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !diff.Equal() {
		t.Errorf("orders differs from its control table: %s", diff)
	}
	var def string
	if err := db.QueryRow("SHOW CREATE TABLE orders").Scan(new(string), &def); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(def, "`amount` decimal(14,2) NOT NULL") || !strings.Contains(def, "`refunded_at` datetime(6)") {
		t.Errorf("orders after the apply:\n%s", def)
	}
	var unfilled, named int
	if err := db.QueryRow("SELECT COUNT(*) FROM customers WHERE display_name IS NULL OR display_name <> UPPER(name)").Scan(&unfilled); err != nil || unfilled != 0 {
		t.Errorf("customers not backfilled: %d, %v", unfilled, err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM customer_names").Scan(&named); err != nil || named != 5000 {
		t.Errorf("the view has %d rows, %v", named, err)
	}

	entries, err := newRunner(t, cfg).History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var recorded []string
	for _, e := range entries {
		if e.State != history.Applied || e.StatementsDone != e.StatementsTotal {
			t.Errorf("history row %s: %s, %d of %d", e.Script, e.State, e.StatementsDone, e.StatementsTotal)
		}
		for _, s := range e.Statements {
			recorded = append(recorded, e.Script+":"+string(s.Strategy))
			if s.Outcome != history.OutcomeApplied || len(s.Checksum) != 64 {
				t.Errorf("history row %s statement %d: %+v", e.Script, s.Index, s)
			}
		}
	}
	if strings.Join(recorded, " ") != wantStrategies {
		t.Errorf("history has\n %s\nwant\n %s", strings.Join(recorded, " "), wantStrategies)
	}

	again, err := newRunner(t, cfg).Apply(ctx)
	if err != nil || len(again.Files) != 0 {
		t.Errorf("a second apply ran %+v, %v", again, err)
	}
	st, err := newRunner(t, cfg).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.State != StateApplied {
			t.Errorf("status of %s: %s", s.File, s.State)
		}
	}
	if len(st) != 6 {
		t.Errorf("status lists %d files", len(st))
	}
	if err := newRunner(t, cfg).Validate(ctx); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func equalRows[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func countDatabases(t *testing.T, db *sql.DB, name string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
