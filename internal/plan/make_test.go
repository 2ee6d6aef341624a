package plan

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/preflight"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// ordersRows is the size of the test table: big enough that the sample
// does not reach its end, small enough to fill in a blink.
const ordersRows = 3000

// createOrders makes the test table: names up to 15 characters long (so
// VARCHAR(8) loses data), qty with duplicates (so a UNIQUE key on it
// fails), and a parent table for a foreign key.
func createOrders(t *testing.T, db *sql.DB, rows int) {
	t.Helper()
	exec(t, db, "CREATE TABLE customers (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB")
	exec(t, db, `CREATE TABLE orders (
		id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		name VARCHAR(40) NOT NULL,
		qty INT NOT NULL,
		note VARCHAR(20) NULL,
		customer_id INT NOT NULL
	) ENGINE=InnoDB`)
	exec(t, db, "INSERT INTO customers (id) SELECT seq FROM seq_1_to_100")
	if rows > 0 {
		exec(t, db, fmt.Sprintf(`INSERT INTO orders (name, qty, note, customer_id)
			SELECT CONCAT('customer-', seq), seq %% 50, IF(seq %% 3 = 0, NULL, 'n'), 1 + seq %% 100 FROM seq_1_to_%d`, rows))
	}
	// Fresh statistics, so TABLE_ROWS is not 0 for a table filled a moment ago.
	exec(t, db, "ANALYZE TABLE orders")
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func detectServer(t *testing.T, db *sql.DB) mysql.Server {
	t.Helper()
	s, err := mysql.DetectServer(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// snapshot is what a plan must not change: the table's definition and
// contents, and the list of tables.
type snapshot struct {
	create   string
	checksum sql.NullInt64
	tables   []string
}

func takeSnapshot(t *testing.T, db *sql.DB, database, table string) snapshot {
	t.Helper()
	var s snapshot
	var name string
	if err := db.QueryRow("SHOW CREATE TABLE "+mysql.QuoteTable(database, table)).Scan(&name, &s.create); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("CHECKSUM TABLE "+mysql.QuoteTable(database, table)).Scan(&name, &s.checksum); err != nil {
		t.Fatal(err)
	}
	s.tables = sandbox.Tables(t, db, database)
	return s
}

func (s snapshot) assertSame(t *testing.T, after snapshot) {
	t.Helper()
	if s.create != after.create {
		t.Errorf("the table's definition changed:\nbefore %s\nafter  %s", s.create, after.create)
	}
	if s.checksum != after.checksum {
		t.Errorf("the table's checksum changed: before %v, after %v", s.checksum, after.checksum)
	}
	if !slices.Equal(s.tables, after.tables) {
		t.Errorf("tables changed (a clone left behind?): before %v, after %v", s.tables, after.tables)
	}
}

// Check statuses every online copy of orders should show; a case lists
// the ones it expects to differ.
var copyChecks = map[string]preflight.Status{
	preflight.CheckBinlog:           preflight.Pass,
	preflight.CheckCopyKey:          preflight.Pass,
	preflight.CheckForeignKeys:      preflight.Pass,
	preflight.CheckTriggers:         preflight.Pass,
	preflight.CheckUniqueDuplicates: preflight.Pass,
	preflight.CheckNarrowing:        preflight.Pass,
}

// Data checks apply to a native change too.
var nativeChecks = map[string]preflight.Status{
	preflight.CheckUniqueDuplicates: preflight.Pass,
	preflight.CheckNarrowing:        preflight.Pass,
}

func with(base map[string]preflight.Status, name string, s preflight.Status) map[string]preflight.Status {
	out := map[string]preflight.Status{}
	for k, v := range base {
		out[k] = v
	}
	if s == "" {
		delete(out, name)
	} else {
		out[name] = s
	}
	return out
}

// TestMakeLearnsFromServer runs a plan for each kind of change and checks
// what MariaDB 10.11 answered (found by running it, not guessed), the
// strategy, the checks and the advice. Every case also checks that the
// table is unchanged and that no clone is left behind.
func TestMakeLearnsFromServer(t *testing.T) {
	cases := []struct {
		name, alter     string
		forceCopy       bool
		algorithm, lock string
		strategy        StrategyKind
		ok              bool
		// checks are the statuses expected of these checks; any check not
		// named must not fail.
		checks map[string]preflight.Status
		advice []AdviceKind
		// target is a column the new definition must have, and gone one
		// it must not.
		target, gone string
	}{
		{name: "add nullable column", alter: "ADD COLUMN shipped_at DATETIME NULL",
			algorithm: "INSTANT", strategy: StrategyNativeInstant, ok: true, checks: nativeChecks, target: "shipped_at"},
		{name: "add not null column with default", alter: "ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'new'",
			algorithm: "INSTANT", strategy: StrategyNativeInstant, ok: true, checks: nativeChecks, target: "status"},
		{name: "add not null column without default", alter: "ADD COLUMN region INT NOT NULL",
			algorithm: "INSTANT", strategy: StrategyNativeInstant, ok: true, checks: nativeChecks, target: "region",
			advice: []AdviceKind{AdviceAddNotNullColumn}},
		{name: "drop column", alter: "DROP COLUMN note",
			algorithm: "INSTANT", strategy: StrategyNativeInstant, ok: true, checks: nativeChecks, gone: "note",
			advice: []AdviceKind{AdviceDropColumn}},
		{name: "rename column", alter: "RENAME COLUMN name TO full_name",
			algorithm: "INSTANT", strategy: StrategyNativeInstant, ok: true, checks: nativeChecks, target: "full_name", gone: "name",
			advice: []AdviceKind{AdviceRenameColumn}},
		// utf8mb4 VARCHAR(60) still fits its length in one byte (240 bytes).
		{name: "widen varchar", alter: "MODIFY name VARCHAR(60) NOT NULL",
			algorithm: "INSTANT", strategy: StrategyNativeInstant, ok: true, checks: nativeChecks},
		// VARCHAR(100) needs two length bytes (400 bytes), which is a rebuild.
		{name: "widen varchar past 255 bytes", alter: "MODIFY name VARCHAR(100) NOT NULL",
			algorithm: "COPY", strategy: StrategyOnlineCopy, ok: true, checks: copyChecks},
		{name: "narrow varchar", alter: "MODIFY name VARCHAR(8) NOT NULL",
			algorithm: "COPY", strategy: StrategyOnlineCopy, ok: false,
			checks: with(copyChecks, preflight.CheckNarrowing, preflight.Fail), advice: []AdviceKind{AdviceChangeColumnType}},
		{name: "int to bigint", alter: "MODIFY qty BIGINT NOT NULL",
			algorithm: "COPY", strategy: StrategyOnlineCopy, ok: true, checks: copyChecks, advice: []AdviceKind{AdviceChangeColumnType}},
		{name: "add index", alter: "ADD INDEX idx_qty (qty)",
			algorithm: "NOCOPY", strategy: StrategyOnlineCopy, ok: true, checks: copyChecks},
		{name: "add unique index over duplicates", alter: "ADD UNIQUE KEY uq_qty (qty)",
			algorithm: "NOCOPY", strategy: StrategyOnlineCopy, ok: false,
			checks: with(copyChecks, preflight.CheckUniqueDuplicates, preflight.Fail)},
		{name: "change charset", alter: "CONVERT TO CHARACTER SET latin1",
			algorithm: "COPY", strategy: StrategyOnlineCopy, ok: true, checks: copyChecks},
		// With foreign_key_checks on, MariaDB adds a foreign key only by COPY
		// ("Adding foreign keys needs foreign_key_checks=OFF").
		{name: "add foreign key", alter: "ADD CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id)",
			algorithm: "COPY", strategy: StrategyOnlineCopy, ok: false,
			checks: with(copyChecks, preflight.CheckForeignKeys, preflight.Fail)},
		{name: "primary key gains a column", alter: "DROP PRIMARY KEY, ADD PRIMARY KEY (id, qty)",
			algorithm: "INPLACE", lock: "NONE", strategy: StrategyOnlineCopy, ok: true, checks: copyChecks},
		{name: "primary key replaced", alter: "DROP PRIMARY KEY, ADD PRIMARY KEY (name), ADD KEY (id)",
			algorithm: "INPLACE", lock: "NONE", strategy: StrategyOnlineCopy, ok: false,
			checks: with(copyChecks, preflight.CheckCopyKey, preflight.Fail), advice: []AdviceKind{AdviceChangeKey}},
		{name: "forced copy of an instant change", alter: "ADD COLUMN shipped_at DATETIME NULL", forceCopy: true,
			algorithm: "INSTANT", strategy: StrategyOnlineCopy, ok: true, checks: copyChecks, target: "shipped_at"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			createOrders(t, db, ordersRows)
			before := takeSnapshot(t, db, dbName, "orders")

			p, err := Make(context.Background(), db, detectServer(t, db), Options{
				Conn: sbx.Conn(dbName), Database: dbName, Table: "orders", Alter: tc.alter, ForceCopy: tc.forceCopy,
			})
			if err != nil {
				t.Fatalf("Make: %v", err)
			}
			before.assertSame(t, takeSnapshot(t, db, dbName, "orders"))
			var text strings.Builder
			p.WriteText(&text)
			t.Logf("plan:\n%s", text.String())

			if p.Native.Algorithm != tc.algorithm || p.Native.Lock != tc.lock {
				t.Errorf("native algorithm %q, lock %q; want %q, %q (refused: %v)", p.Native.Algorithm, p.Native.Lock, tc.algorithm, tc.lock, p.Native.Refused)
			}
			if tc.algorithm != "INSTANT" && len(p.Native.Refused) == 0 {
				t.Errorf("no refusal of the cheaper algorithms kept")
			}
			for _, r := range p.Native.Refused {
				if !strings.Contains(r.Message, "not supported") {
					t.Errorf("refusal of %s is not the server's words: %q", r.Clause, r.Message)
				}
			}
			if p.Strategy.Kind != tc.strategy || p.Strategy.Reason == "" {
				t.Errorf("strategy %+v, want %s with a reason", p.Strategy, tc.strategy)
			}
			if (p.Estimate != nil) != (tc.strategy == StrategyOnlineCopy) {
				t.Errorf("estimate %+v for strategy %s", p.Estimate, tc.strategy)
			}
			if p.Target == nil || p.Target.Name != "orders" || !strings.HasPrefix(p.TargetDefinition, "CREATE TABLE `orders`") {
				t.Fatalf("target %+v, definition %q", p.Target, p.TargetDefinition)
			}
			if _, ok := p.Target.Column(tc.target); tc.target != "" && !ok {
				t.Errorf("target lacks column %s: %s", tc.target, p.TargetDefinition)
			}
			if _, ok := p.Target.Column(tc.gone); tc.gone != "" && ok {
				t.Errorf("target still has column %s", tc.gone)
			}
			var kinds []AdviceKind
			for _, a := range p.Advice {
				kinds = append(kinds, a.Kind)
			}
			if !slices.Equal(kinds, tc.advice) {
				t.Errorf("advice %v, want %v", kinds, tc.advice)
			}
			if p.OK != tc.ok || p.OK != (len(p.RefusedBecause) == 0) {
				t.Errorf("OK = %v with refusals %q; want OK = %v", p.OK, p.RefusedBecause, tc.ok)
			}
			assertChecks(t, p.Checks, tc.checks)
		})
	}
}

// assertChecks compares the statuses of the checks named in want, and
// requires every other check not to fail.
func assertChecks(t *testing.T, got []preflight.Check, want map[string]preflight.Status) {
	t.Helper()
	byName := map[string]preflight.Check{}
	for _, c := range got {
		byName[c.Name] = c
	}
	for name, status := range want {
		c, ok := byName[name]
		switch {
		case !ok:
			t.Errorf("check %s did not run; want %s", name, status)
		case c.Status != status:
			t.Errorf("check %s is %s (%s); want %s", name, c.Status, c.Message, status)
		}
	}
	for _, c := range got {
		if _, named := want[c.Name]; !named && c.Status == preflight.Fail {
			t.Errorf("check %s failed: %s", c.Name, c.Message)
		}
	}
}

// TestMakeRefusesNewForeignKey pins the refusal of a new foreign key,
// whether it comes from the plan itself or from the foreign-keys check.
func TestMakeRefusesNewForeignKey(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createOrders(t, db, 10)
	p, err := Make(context.Background(), db, detectServer(t, db), Options{
		Database: dbName, Table: "orders", Alter: "ADD FOREIGN KEY (customer_id) REFERENCES customers (id)",
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.OK || len(p.RefusedBecause) == 0 || !strings.Contains(p.RefusedBecause[0], "foreign key") {
		t.Errorf("OK = %v, refused because %q; want refused for the foreign key", p.OK, p.RefusedBecause)
	}
	if want := []string{"customers", "orders"}; !slices.Equal(sandbox.Tables(t, db, dbName), want) {
		t.Errorf("tables %v, want %v", sandbox.Tables(t, db, dbName), want)
	}
}

// TestMakeReviewsRevert plans real ALTERs and checks what the plan says a
// revert after the cut-over would lose or refuse.
func TestMakeReviewsRevert(t *testing.T) {
	cases := []struct {
		name, alter string
		// setup runs on the table before the plan.
		setup     string
		forceCopy bool
		strategy  StrategyKind
		lossless  bool
		want      []wantFinding
		inverse   string
	}{
		{name: "rename, drop, add and widen",
			alter:    "RENAME COLUMN name TO full_name, DROP COLUMN note, DROP COLUMN customer_id, ADD COLUMN tier INT NOT NULL, MODIFY qty BIGINT NOT NULL",
			strategy: StrategyOnlineCopy,
			want: []wantFinding{
				{RevertExpandedColumn, EffectRefused, "qty"},
				{RevertAddedNoDefaultColumn, EffectLost, "tier"},
				{RevertDroppedColumn, EffectLost, "note"},
				{RevertDroppedNoDefaultColumn, EffectRefused, "customer_id"},
				{RevertRenamedColumn, EffectNone, "name full_name"},
			}},
		{name: "add unique key", alter: "ADD UNIQUE KEY uq_name (name)",
			strategy: StrategyOnlineCopy, lossless: true},
		// MariaDB 10.11 drops an index NOCOPY, which tailor copies.
		{name: "drop unique key", alter: "DROP INDEX uq_name", setup: "ALTER TABLE orders ADD UNIQUE KEY uq_name (name)",
			strategy: StrategyOnlineCopy,
			want:     []wantFinding{{RevertRemovedUniqueKey, EffectRefused, "name"}}},
		{name: "forced copy of a rename", alter: "RENAME COLUMN name TO full_name", forceCopy: true,
			strategy: StrategyOnlineCopy, lossless: true,
			want: []wantFinding{{RevertRenamedColumn, EffectNone, "name full_name"}}},
		{name: "instant rename", alter: "RENAME COLUMN name TO full_name",
			strategy: StrategyNativeInstant,
			want:     []wantFinding{{RevertNativeInstant, EffectRefused, ""}},
			inverse:  "ALTER TABLE `orders` CHANGE COLUMN `full_name` `name` varchar(40) NOT NULL;"},
		{name: "instant add column", alter: "ADD COLUMN shipped_at DATETIME NULL",
			strategy: StrategyNativeInstant,
			want:     []wantFinding{{RevertNativeInstant, EffectRefused, ""}},
			inverse:  "ALTER TABLE `orders` DROP COLUMN `shipped_at`;"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			createOrders(t, db, 100)
			if tc.setup != "" {
				exec(t, db, tc.setup)
			}
			p, err := Make(context.Background(), db, detectServer(t, db), Options{
				Conn: sbx.Conn(dbName), Database: dbName, Table: "orders", Alter: tc.alter, ForceCopy: tc.forceCopy,
			})
			if err != nil {
				t.Fatalf("Make: %v", err)
			}
			var text strings.Builder
			p.WriteText(&text)
			t.Logf("plan:\n%s", text.String())
			if p.Strategy.Kind != tc.strategy {
				t.Fatalf("strategy %s, want %s", p.Strategy.Kind, tc.strategy)
			}
			r := p.Revert
			if r.Lossless != tc.lossless || r.Replayable != (tc.strategy == StrategyOnlineCopy) || r.InverseAlter != tc.inverse {
				t.Errorf("revert lossless %v, replayable %v, inverse %q; want lossless %v, inverse %q", r.Lossless, r.Replayable, r.InverseAlter, tc.lossless, tc.inverse)
			}
			assertFindings(t, r, tc.want)
			block := text.String()[strings.Index(text.String(), "\nRevert\n"):]
			if tc.lossless && !strings.HasPrefix(block, "\nRevert\n  a revert would be lossless\n") {
				t.Errorf("text lacks the one-line verdict:\n%s", block)
			}
			for _, f := range r.Findings {
				if !strings.Contains(block, string(f.Kind)) {
					t.Errorf("text lacks finding %s:\n%s", f.Kind, block)
				}
			}
		})
	}
}

// TestInverseAlterUndoesInstantChanges makes INSTANT changes for real and
// then runs the plan's inverse ALTER: the table must have its definition
// back, as SHOW CREATE TABLE prints it.
func TestInverseAlterUndoesInstantChanges(t *testing.T) {
	for _, alter := range []string{
		"ADD COLUMN shipped_at DATETIME NULL",
		"ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'new' FIRST, ADD COLUMN region INT NOT NULL AFTER name",
		"RENAME COLUMN name TO full_name",
		"MODIFY name VARCHAR(60) NOT NULL",
		"MODIFY note VARCHAR(20) NULL AFTER id",
		"ALTER COLUMN qty SET DEFAULT 7, CHANGE name full_name VARCHAR(40) NOT NULL",
	} {
		t.Run(alter, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			createOrders(t, db, 100)
			exec(t, db, "ALTER TABLE orders ADD KEY k_name_qty (name(10), qty)")
			definition := func() string {
				t.Helper()
				var name, def string
				if err := db.QueryRow("SHOW CREATE TABLE orders").Scan(&name, &def); err != nil {
					t.Fatal(err)
				}
				return autoIncrementOption.ReplaceAllString(def, "")
			}
			before := definition()
			p, err := Make(context.Background(), db, detectServer(t, db), Options{Conn: sbx.Conn(dbName), Database: dbName, Table: "orders", Alter: alter})
			if err != nil {
				t.Fatalf("Make: %v", err)
			}
			if p.Strategy.Kind != StrategyNativeInstant || p.Revert.InverseAlter == "" {
				t.Fatalf("strategy %s, revert %+v; want native-instant with an inverse ALTER", p.Strategy.Kind, p.Revert)
			}
			exec(t, db, "ALTER TABLE orders "+alter)
			if definition() == before {
				t.Fatal("the ALTER changed nothing")
			}
			exec(t, db, p.Revert.InverseAlter)
			if after := definition(); after != before {
				t.Errorf("after %s\nthe definition is\n%s\nwant\n%s", p.Revert.InverseAlter, after, before)
			}
		})
	}
}

// TestMakeRefusesZoneStoredColumn: a copy of a table with a STORED column
// generated from a TIMESTAMP is refused in a zone that is not UTC's, where
// tailor's copy would compute it otherwise than the server's ALTER, and
// planned in one that is (an offset of zero, or a server whose system zone
// is UTC).
func TestMakeRefusesZoneStoredColumn(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE z (id INT PRIMARY KEY, ts TIMESTAMP NULL, gd DATE AS (CAST(ts AS DATE)) STORED, gv DATE AS (CAST(ts AS DATE)) VIRTUAL)")
	var systemUTC bool
	if err := db.QueryRow("SELECT CONVERT_TZ('2024-07-15 12:00:00', '+00:00', 'SYSTEM') = '2024-07-15 12:00:00' AND @@GLOBAL.time_zone = 'SYSTEM'").Scan(&systemUTC); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		zone    string
		refused bool
	}{{"+02:00", true}, {"-0:00", false}, {"", false}} {
		if c.zone == "" && !systemUTC {
			t.Log("the sandbox's server does not run in UTC: its own zone is not tried")
			continue
		}
		p, err := Make(context.Background(), db, detectServer(t, db), Options{
			Database: dbName, Table: "z", Alter: "ADD COLUMN x INT", ForceCopy: true, TimeZone: c.zone,
		})
		if err != nil {
			t.Fatal(err)
		}
		refused := strings.Join(p.RefusedBecause, "\n")
		if p.OK == c.refused || strings.Contains(refused, "`gd` is STORED") != c.refused || strings.Contains(refused, "`gv`") {
			t.Errorf("zone %q: OK = %v, refused because %q; want refused %v, for gd", c.zone, p.OK, p.RefusedBecause, c.refused)
		}
	}
}
