package versioned

import (
	"context"
	"database/sql"
	"errors"
	"github.com/tailor-osc/tailor/internal/migrate"
	"strings"
	"sync"
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
		"V2__orders_refunded_at.sql":  file("ALTER TABLE orders ADD COLUMN refunded_at DATETIME(6) NULL;\n"),
		"V3__widen_amount.sql":        file("-- money grows\nALTER TABLE orders MODIFY amount DECIMAL(14,2) NOT NULL;\n"),
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

// TestFailureResumesAtStatement runs a file whose second statement fails
// (a unique index over duplicates): the run stops naming the file and the
// statement, the history says so, and once the data is fixed the next run
// continues at that statement: the first one, which already ran, would
// fail if run again (the column exists).
func TestFailureResumesAtStatement(t *testing.T) {
	ctx := context.Background()
	db, database := sbx.NewDatabase(t)
	dir := fstest.MapFS{
		"V1__users.sql": file("CREATE TABLE users (id INT NOT NULL PRIMARY KEY, email VARCHAR(50) NOT NULL);\nINSERT INTO users VALUES (1, 'a@x'), (2, 'a@x'), (3, 'b@x');\n"),
		"V2__unique_email.sql": file("ALTER TABLE users ADD COLUMN note VARCHAR(20) NULL;\n" +
			"CREATE UNIQUE INDEX uq_email ON users (email);\n" +
			"ALTER TABLE users ADD COLUMN score INT NULL;\n"),
	}
	cfg := testConfig(t, database, dir)
	_, err := newRunner(t, cfg).Apply(ctx)
	var se *StatementError
	if !errors.As(err, &se) || se.File != "V2__unique_email.sql" || se.Statement != 2 || se.Line != 2 {
		t.Fatalf("apply error = %v, want statement 2 of V2__unique_email.sql", err)
	}
	if !strings.HasPrefix(err.Error(), "V2__unique_email.sql, statement 2 (line 2): ") {
		t.Errorf("message = %q", err)
	}
	t.Logf("the failure: %v", err)
	entries, err := newRunner(t, cfg).History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[1].State != history.Failed || entries[1].StatementsDone != 1 ||
		!strings.Contains(entries[1].Error, "statement 2") || entries[1].Statements[1].Outcome != history.OutcomeFailed {
		t.Fatalf("history after the failure: %+v", entries)
	}
	st, err := newRunner(t, cfg).Status(ctx)
	if err != nil || len(st) != 2 || st[1].State != StateFailed || st[1].StatementsDone != 1 {
		t.Fatalf("status = %+v, %v", st, err)
	}

	mustExec(t, db, "DELETE FROM users WHERE id = 2")
	res, err := newRunner(t, cfg).Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || res.Files[0].StartAt != 2 || len(res.Files[0].Statements) != 2 {
		t.Fatalf("the second apply ran %+v", res.Files)
	}
	entries, err = newRunner(t, cfg).History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[1].State != history.Applied || entries[1].StatementsDone != 3 || entries[1].Error != "" {
		t.Fatalf("history after the resume: %+v", entries[1])
	}
}

// TestFolderDisagreesWithHistory edits an applied file, removes one and
// adds one older than the newest applied: validate and apply refuse each
// with one sentence naming the file, and --out-of-order lets the last run.
func TestFolderDisagreesWithHistory(t *testing.T) {
	ctx := context.Background()
	_, database := sbx.NewDatabase(t)
	dir := fstest.MapFS{
		"V1__a.sql": file("CREATE TABLE a (id INT PRIMARY KEY);\n"),
		"V2__b.sql": file("CREATE TABLE b (id INT PRIMARY KEY);\n"),
	}
	if _, err := newRunner(t, testConfig(t, database, dir)).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		change func(fstest.MapFS)
		want   string
	}{
		{"edited", func(d fstest.MapFS) { d["V1__a.sql"] = file("CREATE TABLE a (id BIGINT PRIMARY KEY);\n") }, "V1__a.sql was applied on "},
		{"missing", func(d fstest.MapFS) { delete(d, "V2__b.sql") }, "version 2 (V2__b.sql) is applied on the database but missing from the folder"},
		{"out of order", func(d fstest.MapFS) { d["V1_5__c.sql"] = file("CREATE TABLE c (id INT PRIMARY KEY);\n") }, "V1_5__c.sql is pending but older than version 2 (V2__b.sql)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := fstest.MapFS{}
			for k, v := range dir {
				d[k] = v
			}
			c.change(d)
			cfg := testConfig(t, database, d)
			err := newRunner(t, cfg).Validate(ctx)
			if err == nil || !strings.Contains(err.Error(), c.want) || migrate.KindOf(err) != migrate.KindInvalid {
				t.Errorf("validate = %v, want %q", err, c.want)
			}
			if _, err := newRunner(t, cfg).Apply(ctx); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("apply = %v, want %q", err, c.want)
			}
		})
	}
	d := fstest.MapFS{"V1_5__c.sql": file("CREATE TABLE c (id INT PRIMARY KEY);\n")}
	for k, v := range dir {
		d[k] = v
	}
	cfg := testConfig(t, database, d)
	cfg.OutOfOrder = true
	if res, err := newRunner(t, cfg).Apply(ctx); err != nil || len(res.Files) != 1 {
		t.Errorf("apply --out-of-order = %+v, %v", res, err)
	}
}

// TestRefusedBeforeAnythingRuns has a destructive statement without
// permission and a large UPDATE without the backfill directive after a
// harmless file: plan refuses both, and apply refuses before the first
// file runs.
func TestRefusedBeforeAnythingRuns(t *testing.T) {
	ctx := context.Background()
	db, database := sbx.NewDatabase(t)
	mustExec(t, db, "CREATE TABLE big (id INT NOT NULL PRIMARY KEY, flag INT NOT NULL DEFAULT 0, legacy INT NULL)")
	mustExec(t, db, "INSERT INTO big (id) SELECT 1 + a.d + 10 * b.d + 100 * c.d FROM "+digits+" a, "+digits+" b, "+digits+" c")
	mustExec(t, db, "ANALYZE TABLE big")
	dir := fstest.MapFS{
		"V1__harmless.sql": file("CREATE TABLE harmless (id INT PRIMARY KEY);\n"),
		"V2__drop.sql":     file("ALTER TABLE big DROP COLUMN legacy;\n"),
		"V3__update.sql":   file("UPDATE big SET flag = 1;\n"),
		"V4__small.sql":    file("UPDATE big SET flag = 2 WHERE id = 7;\n"),
		"V5__drop_it.sql":  file("-- tailor:allow-destructive\nDROP TABLE harmless;\n"),
	}
	cfg := testConfig(t, database, dir)
	cfg.MaxDirectRows = 100
	p, err := newRunner(t, cfg).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.OK {
		t.Error("the plan is OK")
	}
	refused := map[string]string{}
	for _, f := range p.Files {
		for _, s := range f.Statements {
			if s.Strategy == Refused {
				refused[f.File] = strings.Join(s.RefusedBecause, " ")
			}
		}
	}
	if len(refused) != 2 || !strings.Contains(refused["V2__drop.sql"], "--allow-destructive") || !strings.Contains(refused["V3__update.sql"], "-- tailor:backfill") {
		t.Errorf("refused: %v", refused)
	}
	_, err = newRunner(t, cfg).Apply(ctx)
	if err == nil || migrate.KindOf(err) != migrate.KindInvalid || !strings.Contains(err.Error(), "nothing was run") ||
		!strings.Contains(err.Error(), "V2__drop.sql, statement 1 (line 1)") || !strings.Contains(err.Error(), "V3__update.sql, statement 1 (line 1)") {
		t.Fatalf("apply = %v", err)
	}
	t.Logf("the refusal: %v", err)
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'harmless'", database).Scan(&n); err != nil || n != 0 {
		t.Errorf("the first file ran: %d, %v", n, err)
	}
	cfg.AllowDestructive = true
	delete(dir, "V3__update.sql")
	if _, err := newRunner(t, cfg).Apply(ctx); err != nil {
		t.Errorf("apply --allow-destructive: %v", err)
	}
}

// TestConcurrentApply starts two applies of the same folder at once: one
// runs, and the other, finding the lock held past --lock-wait, refuses
// naming what holds it.
func TestConcurrentApply(t *testing.T) {
	ctx := context.Background()
	_, database := sbx.NewDatabase(t)
	dir := fstest.MapFS{"V1__slow.sql": file("DO SLEEP(1.5);\n")}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 300 * time.Millisecond)
			_, errs[i] = newRunner(t, testConfig(t, database, dir)).Apply(ctx)
		}()
	}
	wg.Wait()
	if errs[0] != nil {
		t.Fatalf("the first apply: %v", errs[0])
	}
	var le *history.LockedError
	if !errors.As(errs[1], &le) || !strings.Contains(errs[1].Error(), "another tailor migrate is running on database") {
		t.Fatalf("the second apply: %v", errs[1])
	}
	t.Logf("the second apply: %v", errs[1])
}

// TestPlanAfterWrite removes duplicates in one file and adds a unique key
// over them in the next: the plan before the run must not refuse the key
// for the duplicates the earlier file removes.
func TestPlanAfterWrite(t *testing.T) {
	ctx := context.Background()
	db, database := sbx.NewDatabase(t)
	mustExec(t, db, "CREATE TABLE users (id INT NOT NULL PRIMARY KEY, email VARCHAR(50) NOT NULL)")
	mustExec(t, db, "INSERT INTO users VALUES (1, 'a@x'), (2, 'a@x'), (3, 'b@x')")
	dir := fstest.MapFS{
		"V1__dedupe.sql":       file("DELETE FROM users WHERE id = 2;\n"),
		"V2__unique_email.sql": file("CREATE UNIQUE INDEX uq_email ON users (email);\n"),
	}
	cfg := testConfig(t, database, dir)
	p, err := newRunner(t, cfg).Plan(ctx)
	if err != nil || !p.OK || p.Files[1].Statements[0].PlannedAgainst != "clone" {
		t.Fatalf("plan = %+v, %v", p, err)
	}
	if _, err := newRunner(t, cfg).Apply(ctx); err != nil {
		t.Fatal(err)
	}
}
