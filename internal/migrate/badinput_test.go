package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/cutover"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// The rule these tests hold tailor to: bad input gets one clear sentence
// saying what is wrong and what to do, the original table is untouched, no
// shadow, old or sentry table is left behind, and Run returns an error of
// the documented kind (which cmd/tailor maps to an exit code).

// createTable creates table (id primary key, a name and a nullable number)
// with rows rows.
func createTable(t testing.TB, db *sql.DB, table string, rows int) {
	t.Helper()
	mustExec(t, db, "CREATE TABLE "+mysql.QuoteIdent(table)+` (
		id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		name VARCHAR(64) NOT NULL,
		n INT NULL
	) ENGINE=InnoDB`)
	fillTable(t, db, table, rows)
}

// fillTable inserts rows rows into a table made by createTable.
func fillTable(t testing.TB, db *sql.DB, table string, rows int) {
	t.Helper()
	const batch = 1000
	for done := 0; done < rows; done += batch {
		n := min(batch, rows-done)
		values := make([]string, n)
		args := make([]any, 0, 2*n)
		for i := range n {
			values[i] = "(?, ?)"
			args = append(args, fmt.Sprintf("row %d é", done+i), done+i)
		}
		mustExec(t, db, "INSERT INTO "+mysql.QuoteIdent(table)+" (name, n) VALUES "+strings.Join(values, ", "), args...)
	}
}

// guard records a table before a run that must leave it alone.
type guard struct {
	database, table string
	sum             int64
	def             string
	tables          []string
}

func guardTable(t testing.TB, db *sql.DB, database, table string) guard {
	t.Helper()
	return guard{
		database: database,
		table:    table,
		sum:      checksum(t, db, database, table),
		def:      showCreate(t, db, database, table),
		tables:   tablesIn(t, db, database),
	}
}

// untouched checks that the table has the same rows and definition as
// when guarded, and that the database holds the same tables: no shadow,
// old or sentry table was left behind (and none that was there is gone).
func (g guard) untouched(t testing.TB, db *sql.DB) {
	t.Helper()
	if got := checksum(t, db, g.database, g.table); got != g.sum {
		t.Errorf("CHECKSUM TABLE %s changed: %d, was %d", g.table, got, g.sum)
	}
	if got := showCreate(t, db, g.database, g.table); got != g.def {
		t.Errorf("definition of %s changed:\n%s\nwas:\n%s", g.table, got, g.def)
	}
	noLeftovers(t, db, g.database, g.tables)
}

// untouchedKept is untouched for a run that stopped and kept its work for
// --resume: the shadow and the saved state are there besides.
func (g guard) untouchedKept(t testing.TB, db *sql.DB) {
	t.Helper()
	kept := g
	kept.tables = append(slices.Clone(g.tables), ShadowName(g.table), StateName(g.table))
	slices.Sort(kept.tables)
	kept.tables = slices.Compact(kept.tables)
	kept.untouched(t, db)
}

// noLeftovers checks that database holds exactly the tables want.
func noLeftovers(t testing.TB, db *sql.DB, database string, want []string) {
	t.Helper()
	if got := tablesIn(t, db, database); !slices.Equal(got, want) {
		t.Errorf("tables in %s = %q, want %q (a shadow, old or sentry table left behind?)", database, got, want)
	}
}

// wantKind checks that err is of kind and reads as one sentence that
// mentions every one of words (case-insensitively).
func wantKind(t testing.TB, err error, kind ErrorKind, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the run succeeded; want a %s error mentioning %q", kind, words)
	}
	if got := KindOf(err); got != kind {
		t.Errorf("error kind = %s, want %s; error: %v", got, kind, err)
	}
	wantSentence(t, err.Error(), words...)
}

// wantSentence checks that msg is one sentence for a person: a single
// line, of a readable length, without Go's formatting debris, naming what
// it is about.
func wantSentence(t testing.TB, msg string, words ...string) {
	t.Helper()
	switch {
	case strings.TrimSpace(msg) == "":
		t.Errorf("empty error message")
	case strings.ContainsAny(msg, "\n\r"):
		t.Errorf("error message spans lines: %q", msg)
	case utf8.RuneCountInString(msg) > 500:
		t.Errorf("error message is %d characters long: %q", utf8.RuneCountInString(msg), msg)
	case strings.Contains(msg, "%!"):
		t.Errorf("error message has a formatting mistake: %q", msg)
	}
	for _, w := range words {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
			t.Errorf("error message does not mention %q: %q", w, msg)
		}
	}
}

// lockFree reports whether the migration lock of table is free.
func lockFree(t testing.TB, db *sql.DB, database, table string) bool {
	t.Helper()
	var free sql.NullInt64
	if err := db.QueryRow("SELECT IS_FREE_LOCK(?)", lockName(database, table)).Scan(&free); err != nil {
		t.Fatal(err)
	}
	return free.Int64 == 1
}

// TestBadAlterRefused runs ALTERs (and tables) that must be refused, both
// as a dry run and with Execute: the error is KindInvalid, the table is
// untouched, and with Execute the shadow table made for the ALTER is gone.
func TestBadAlterRefused(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, db *sql.DB) // after the table "t" is created
		table string                         // "t" when empty
		alter string
		zone  string // --time-zone
		words []string
	}{
		{name: "no parse", alter: "ADD COLUMN", words: []string{"could not parse"}},
		{name: "no parse garbage", alter: "FROBNICATE the table", words: []string{"could not parse"}},
		{name: "not an alter", alter: "DROP TABLE t", words: []string{"only ALTER TABLE", "DROP TABLE"}},
		{name: "empty", alter: "   ;", words: []string{"empty"}},
		{name: "dup column", alter: "ADD COLUMN name INT", words: []string{"server rejected", "duplicate column", "name"}},
		{name: "bad type", alter: "MODIFY id BLOB NOT NULL", words: []string{"server rejected", "id"}},
		{name: "unknown column", alter: "DROP COLUMN nosuch", words: []string{"server rejected", "nosuch"}},
		{name: "other table", alter: "ALTER TABLE other ADD COLUMN x INT", words: []string{"`other`", "`t`", "--table"}},
		{name: "other schema", alter: "ALTER TABLE elsewhere.t ADD COLUMN x INT", words: []string{"`elsewhere`.`t`", "--database"}},
		{name: "other table case", alter: "ALTER TABLE T ADD COLUMN x INT", words: []string{"`T`"}},
		{name: "missing table", table: "nosuch", alter: "ADD COLUMN x INT", words: []string{"`nosuch`", "does not exist", "--table"}},
		{name: "view", table: "v", alter: "ADD COLUMN x INT", words: []string{"`v`", "is a view, not a table"},
			setup: func(t *testing.T, db *sql.DB) { mustExec(t, db, "CREATE VIEW v AS SELECT * FROM t") }},
		{name: "myisam shadow", alter: "ENGINE=MyISAM", words: []string{"MyISAM", "InnoDB", "ENGINE"}},
		{name: "aria shadow", alter: "ADD COLUMN x INT, ENGINE = Aria", words: []string{"Aria", "InnoDB"}},
		{name: "myisam source", table: "m", alter: "ADD COLUMN x INT", words: []string{"`m`", "MyISAM", "InnoDB"},
			setup: func(t *testing.T, db *sql.DB) {
				mustExec(t, db, "CREATE TABLE m (id INT NOT NULL PRIMARY KEY, v INT) ENGINE=MyISAM")
				mustExec(t, db, "INSERT INTO m VALUES (1, 1), (2, 2)")
			}},
		{name: "unknown time zone", alter: "ADD COLUMN x INT", zone: "Mars/Olympus", words: []string{"knows no time zone", "Mars/Olympus", "+02:00"}},
		{name: "adds fk", alter: "ADD CONSTRAINT fk_n FOREIGN KEY (n) REFERENCES p (id)", words: []string{"foreign key"},
			setup: func(t *testing.T, db *sql.DB) {
				mustExec(t, db, "CREATE TABLE p (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB")
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			createTable(t, db, "t", 1200)
			if c.setup != nil {
				c.setup(t, db)
			}
			table := c.table
			if table == "" {
				table = "t"
			}
			guarded := "t"
			if c.table == "m" {
				guarded = "m"
			}
			g := guardTable(t, db, dbName, guarded)
			for _, execute := range []bool{false, true} {
				cfg := testConfig(t, dbName, table, c.alter)
				cfg.Execute, cfg.TimeZone = execute, c.zone
				res, err := runMigration(context.Background(), t, cfg)
				if err == nil && !execute {
					// A dry run reports a refused change in its plan
					// (the command line then exits 3) rather than failing.
					err = refusal(res.Plan)
				}
				t.Logf("execute=%v: %v", execute, err)
				wantKind(t, err, KindInvalid, c.words...)
				g.untouched(t, db)
				if !lockFree(t, db, dbName, table) {
					t.Errorf("execute=%v: the migration lock is still held", execute)
				}
			}
		})
	}
}

// TestMissingDatabase names a database the server does not have.
func TestMissingDatabase(t *testing.T) {
	sandbox.Need(t, sbx)
	cfg := testConfig(t, "tailor_no_such_db", "t", "ADD COLUMN x INT")
	_, err := runMigration(context.Background(), t, cfg)
	wantKind(t, err, KindInvalid, "`tailor_no_such_db`", "does not exist", "--database")
}

// TestNoUsableKey migrates tables whose rows cannot be told apart: no
// primary key, at most a unique key over a nullable column.
func TestNoUsableKey(t *testing.T) {
	for name, c := range map[string]struct{ def, rows string }{
		"no keys":         {"(a INT, b VARCHAR(10))", "(1, 'x'), (1, 'x')"},
		"nullable unique": {"(a INT NULL, b VARCHAR(10), UNIQUE KEY uk_a (a))", "(1, 'x'), (NULL, 'y'), (NULL, 'y')"},
		"plain index":     {"(a INT NOT NULL, b VARCHAR(10), KEY k_a (a))", "(1, 'x'), (1, 'x')"},
	} {
		t.Run(name, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			mustExec(t, db, "CREATE TABLE nokey "+c.def+" ENGINE=InnoDB")
			mustExec(t, db, "INSERT INTO nokey VALUES "+c.rows)
			g := guardTable(t, db, dbName, "nokey")
			_, err := runMigration(context.Background(), t, testConfig(t, dbName, "nokey", "ADD COLUMN c INT"))
			wantKind(t, err, KindInvalid, "nokey", "no usable key", "PRIMARY KEY")
			g.untouched(t, db)
		})
	}
}

// TestForeignKeysRefused migrates the parent and the child of a foreign
// key: a swap by RENAME would leave the constraint on the old table.
func TestForeignKeysRefused(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	mustExec(t, db, "CREATE TABLE parent (id INT NOT NULL PRIMARY KEY, v INT) ENGINE=InnoDB")
	mustExec(t, db, "CREATE TABLE child (id INT NOT NULL PRIMARY KEY, parent_id INT NOT NULL, CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id)) ENGINE=InnoDB")
	mustExec(t, db, "INSERT INTO parent VALUES (1, 1), (2, 2)")
	mustExec(t, db, "INSERT INTO child VALUES (10, 1), (20, 2)")
	for _, table := range []string{"parent", "child"} {
		t.Run(table, func(t *testing.T) {
			g := guardTable(t, db, dbName, table)
			_, err := runMigration(context.Background(), t, testConfig(t, dbName, table, "ADD COLUMN c INT"))
			wantKind(t, err, KindInvalid, table, "foreign key", "fk_child_parent")
			g.untouched(t, db)
		})
	}
}

// TestTriggerRefused migrates a table with a trigger, which would stay on
// the old table after the swap.
func TestTriggerRefused(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 100)
	mustExec(t, db, "CREATE TABLE audit (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, t_id INT) ENGINE=InnoDB")
	mustExec(t, db, "CREATE TRIGGER t_audit AFTER INSERT ON t FOR EACH ROW INSERT INTO audit (t_id) VALUES (NEW.id)")
	g := guardTable(t, db, dbName, "t")
	_, err := runMigration(context.Background(), t, testConfig(t, dbName, "t", "ADD COLUMN c INT"))
	wantKind(t, err, KindInvalid, "trigger", "t_audit")
	g.untouched(t, db)
}

// TestBinlogSettingsRefused changes the server's global binary log
// settings, which new sessions (the runner's) start with.
func TestBinlogSettingsRefused(t *testing.T) {
	cases := []struct {
		variable, value string
		words           []string
	}{
		{"binlog_format", "STATEMENT", []string{"binlog_format", "STATEMENT", "ROW"}},
		{"binlog_format", "MIXED", []string{"binlog_format", "MIXED", "ROW"}},
		{"binlog_row_image", "MINIMAL", []string{"binlog_row_image", "MINIMAL", "FULL"}},
		{"binlog_row_image", "NOBLOB", []string{"binlog_row_image", "NOBLOB", "FULL"}},
	}
	for _, c := range cases {
		t.Run(c.variable+"="+c.value, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			createTable(t, db, "t", 100)
			g := guardTable(t, db, dbName, "t")
			var was string
			if err := db.QueryRow("SELECT @@GLOBAL." + c.variable).Scan(&was); err != nil {
				t.Fatal(err)
			}
			mustExec(t, db, "SET GLOBAL "+c.variable+" = ?", c.value)
			t.Cleanup(func() {
				admin, err := sbx.Open(context.Background(), "")
				if err != nil {
					t.Errorf("restore %s: %v", c.variable, err)
					return
				}
				defer admin.Close()
				mustExec(t, admin, "SET GLOBAL "+c.variable+" = ?", was)
			})
			_, err := runMigration(context.Background(), t, testConfig(t, dbName, "t", "ADD COLUMN c INT"))
			wantKind(t, err, KindInvalid, c.words...)
			g.untouched(t, db)
		})
	}
}

// TestBinlogOffRefused runs against a second server started without a
// binary log.
func TestBinlogOffRefused(t *testing.T) {
	sandbox.Need(t, sbx)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nolog, err := sandbox.Start(ctx, sandbox.Options{ExtraArgs: []string{"--skip-log-bin"}, Log: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatalf("start a sandbox without a binary log: %v", err)
	}
	t.Cleanup(nolog.Stop)
	db, dbName := nolog.NewDatabase(t)
	createTable(t, db, "t", 100)
	g := guardTable(t, db, dbName, "t")
	cfg := testConfig(t, dbName, "t", "ADD COLUMN c INT")
	cfg.Conn = nolog.Conn(dbName)
	_, err = runMigration(ctx, t, cfg)
	wantKind(t, err, KindInvalid, "binary log", "log_bin")
	g.untouched(t, db)
}

// TestLeftoverShadowTable finds a shadow table from an earlier run: it is
// refused (and kept: it is the user's to judge), unless the user asks for
// it to be dropped.
func TestLeftoverShadowTable(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 1500)
	mustExec(t, db, "CREATE TABLE t_tailor_new (id INT NOT NULL PRIMARY KEY, junk TEXT) ENGINE=InnoDB")
	mustExec(t, db, "INSERT INTO t_tailor_new VALUES (1, 'left over')")
	g := guardTable(t, db, dbName, "t")
	leftover := guardTable(t, db, dbName, "t_tailor_new")
	_, err := runMigration(context.Background(), t, testConfig(t, dbName, "t", "ADD COLUMN c INT"))
	wantKind(t, err, KindInvalid, "`t_tailor_new`", "already exists", "--initially-drop-ghost-table")
	g.untouched(t, db)
	leftover.untouched(t, db)

	cfg := testConfig(t, dbName, "t", "ADD COLUMN c INT")
	cfg.InitiallyDropGhostTable = true
	res, err := runMigration(context.Background(), t, cfg)
	if err != nil {
		t.Fatalf("with InitiallyDropGhostTable: %v", err)
	}
	if res.RowsCopied != 1500 {
		t.Errorf("copied %d rows, want 1500", res.RowsCopied)
	}
	if def := showCreate(t, db, dbName, "t"); !strings.Contains(def, "`c` int") {
		t.Errorf("the new definition lacks the column:\n%s", def)
	}
	noLeftovers(t, db, dbName, []string{"t", "t_tailor_old", "t_tailor_state"})
}

// TestLeftoverOldTable finds a table with the name the original would get
// at the cut-over.
func TestLeftoverOldTable(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 300)
	mustExec(t, db, "CREATE TABLE t_tailor_old (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB")
	g := guardTable(t, db, dbName, "t")
	_, err := runMigration(context.Background(), t, testConfig(t, dbName, "t", "ADD COLUMN c INT"))
	wantKind(t, err, KindInvalid, "`t_tailor_old`", "already exists", "drop or rename")
	g.untouched(t, db)
}

// TestLeftoverSentryTable finds the sentry of an interrupted cut-over,
// which must be refused before the copy, not found after it.
func TestLeftoverSentryTable(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 300)
	sentry := cutover.SentryName("t")
	mustExec(t, db, "CREATE TABLE "+mysql.QuoteIdent(sentry)+" (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB")
	g := guardTable(t, db, dbName, "t")
	cfg := testConfig(t, dbName, "t", "ADD COLUMN c INT")
	cfg.testHooks = &testHooks{afterChunk: func(int) { t.Error("the copy started although the cut-over cannot succeed") }}
	_, err := runMigration(context.Background(), t, cfg)
	wantKind(t, err, KindInvalid, mysql.QuoteIdent(sentry), "sentry", "drop it")
	g.untouched(t, db)
}

// TestMigrationLockHeld holds the migration lock of the table from another
// session, as a running tailor does.
func TestMigrationLockHeld(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 300)
	ctx := context.Background()
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	var got int
	if err := holder.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", lockName(dbName, "t")).Scan(&got); err != nil || got != 1 {
		t.Fatalf("GET_LOCK = %d, %v", got, err)
	}
	g := guardTable(t, db, dbName, "t")
	for _, execute := range []bool{false, true} {
		cfg := testConfig(t, dbName, "t", "ADD COLUMN c INT")
		cfg.Execute = execute
		_, err := runMigration(ctx, t, cfg)
		wantKind(t, err, KindInvalid, "another tailor", lockName(dbName, "t"), "connection")
		g.untouched(t, db)
	}
}

// TestSecondRunnerRefused starts a second migration of a table while a
// first one is paused in its copy: the second must refuse because of the
// lock (not call the first one's shadow table a leftover), leave that
// shadow alone, and the first must then finish.
func TestSecondRunnerRefused(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 3000)
	ctx := context.Background()

	paused, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	first := testConfig(t, dbName, "t", "ADD COLUMN c INT")
	first.testHooks = &testHooks{afterChunk: func(int) {
		once.Do(func() {
			close(paused)
			<-release
		})
	}}
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := runMigration(ctx, t, first)
		done <- outcome{res, err}
	}()
	select {
	case <-paused:
	case o := <-done:
		t.Fatalf("the first migration ended before its first chunk was done: %v", o.err)
	case <-time.After(60 * time.Second):
		t.Fatal("the first migration did not reach its first chunk within 60s")
	}
	shadowDef := showCreate(t, db, dbName, "t_tailor_new")

	for _, initiallyDrop := range []bool{false, true} {
		second := testConfig(t, dbName, "t", "ADD COLUMN d INT")
		second.InitiallyDropGhostTable = initiallyDrop
		_, err := runMigration(ctx, t, second)
		wantKind(t, err, KindInvalid, "another tailor", lockName(dbName, "t"))
		if got := showCreate(t, db, dbName, "t_tailor_new"); got != shadowDef {
			t.Errorf("the second run (initially drop %v) changed the first run's shadow table:\n%s", initiallyDrop, got)
		}
	}

	close(release)
	var o outcome
	select {
	case o = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the first migration did not finish within 2 minutes")
	}
	if o.err != nil {
		t.Fatalf("the first migration failed after the second was refused: %v", o.err)
	}
	if o.res.RowsCopied != 3000 {
		t.Errorf("the first migration copied %d rows, want 3000", o.res.RowsCopied)
	}
	if def := showCreate(t, db, dbName, "t"); !strings.Contains(def, "`c` int") || strings.Contains(def, "`d` int") {
		t.Errorf("the definition after the first migration:\n%s", def)
	}
	noLeftovers(t, db, dbName, []string{"t", "t_tailor_old", "t_tailor_state"})
}

// TestAwkwardTableNames migrates tables whose names need quoting
// everywhere, and names so long that the derived names must be cut short
// to stay within the server's 64 characters.
func TestAwkwardTableNames(t *testing.T) {
	long := func(n int) string { return "l" + strings.Repeat("ong_name_", 8)[:n-1] }
	names := map[string]string{
		"odd":      "my `odd` tablé",
		"quotes":   `it's "quoted"; DROP`,
		"unicode":  "ταμπλό_表",
		"long 61":  long(61),
		"long 64":  long(64),
		"long ñ64": strings.Repeat("ñ", 64),
	}
	for label, table := range names {
		t.Run(label, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			createTable(t, db, table, 2100)
			for _, derived := range []string{ShadowName(table), OldName(table), cutover.SentryName(table), lockName(dbName, table)} {
				if n := utf8.RuneCountInString(derived); n > 64 || n == 0 {
					t.Errorf("derived name %q has %d characters", derived, n)
				}
			}
			cfg := testConfig(t, dbName, table, "ADD COLUMN extra VARCHAR(10) NULL DEFAULT 'x', ADD INDEX idx_n (n)")
			res, err := runMigration(context.Background(), t, cfg)
			if err != nil {
				t.Fatalf("migrate %q: %v", table, err)
			}
			if res.RowsCopied != 2100 {
				t.Errorf("copied %d rows, want 2100", res.RowsCopied)
			}
			if res.OldTable != OldName(table) {
				t.Errorf("old table %q, want %q", res.OldTable, OldName(table))
			}
			if def := showCreate(t, db, dbName, table); !strings.Contains(def, "`extra` varchar(10)") || !strings.Contains(def, "KEY `idx_n`") {
				t.Errorf("the new definition lacks the change:\n%s", def)
			}
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM " + mysql.QuoteIdent(table) + " WHERE extra = 'x'").Scan(&n); err != nil || n != 2100 {
				t.Errorf("rows in the new table: %d, %v", n, err)
			}
			want := []string{OldName(table), StateName(table), table}
			slices.Sort(want)
			noLeftovers(t, db, dbName, want)
		})
	}
}

// TestPartitionedTable plans and migrates a partitioned table: the plan's
// clone keeps the partitioning, and a bad ALTER is refused by the server
// before anything is created.
func TestPartitionedTable(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	mustExec(t, db, `CREATE TABLE p (id INT NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL, n INT NULL) ENGINE=InnoDB
		PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (500), PARTITION p1 VALUES LESS THAN MAXVALUE)`)
	mustExec(t, db, "INSERT INTO p SELECT id, name, n FROM (SELECT 1 id, 'a' name, 1 n UNION ALL SELECT 600, 'b', NULL UNION ALL SELECT 499, 'c', 3) x")
	g := guardTable(t, db, dbName, "p")
	ctx := context.Background()

	cfg := testConfig(t, dbName, "p", "ADD COLUMN c INT")
	cfg.Execute = false
	res, err := runMigration(ctx, t, cfg)
	if err != nil {
		t.Fatalf("dry run of a partitioned table: %v", err)
	}
	if res.Plan == nil || res.Plan.Native.Algorithm == "" || res.Plan.Size.Partitions != 2 {
		t.Errorf("the plan does not describe the partitioned table: %+v", res.Plan)
	}
	g.untouched(t, db)

	_, err = runMigration(ctx, t, testConfig(t, dbName, "p", "ADD COLUMN name INT"))
	wantKind(t, err, KindInvalid, "server rejected", "duplicate column")
	g.untouched(t, db)

	if _, err := runMigration(ctx, t, testConfig(t, dbName, "p", "ADD COLUMN c INT")); err != nil {
		t.Fatalf("migrate a partitioned table: %v", err)
	}
	if def := showCreate(t, db, dbName, "p"); !strings.Contains(def, "`c` int") || !strings.Contains(def, "PARTITION BY RANGE") {
		t.Errorf("the new definition:\n%s", def)
	}
}

// TestErrorKindString keeps the kinds readable in test output and logs.
func TestErrorKindString(t *testing.T) {
	for k, want := range map[ErrorKind]string{KindFailed: "failed", KindInvalid: "invalid", KindConnect: "connect", KindInterrupted: "interrupted"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(k), k.String(), want)
		}
	}
	if KindOf(fmt.Errorf("wrapped: %w", context.Canceled)) != KindInterrupted {
		t.Error("a cancelled context is not KindInterrupted")
	}
	if KindOf(errors.New("plain")) != KindFailed {
		t.Error("a plain error is not KindFailed")
	}
}

// TestLeftoverHeartbeatTable: a table with the heartbeat's name is refused,
// as it would be written to and dropped, unless the user asks tailor to
// drop it.
func TestLeftoverHeartbeatTable(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 300)
	mustExec(t, db, "CREATE TABLE t_tailor_hb (id INT NOT NULL PRIMARY KEY, note TEXT) ENGINE=InnoDB")
	mustExec(t, db, "INSERT INTO t_tailor_hb VALUES (1, 'mine')")
	g := guardTable(t, db, dbName, "t")
	hb := guardTable(t, db, dbName, "t_tailor_hb")
	_, err := runMigration(context.Background(), t, testConfig(t, dbName, "t", "ADD COLUMN c INT"))
	wantKind(t, err, KindInvalid, "`t_tailor_hb`", "already exists", "--initially-drop-ghost-table")
	g.untouched(t, db)
	hb.untouched(t, db)

	cfg := testConfig(t, dbName, "t", "ADD COLUMN c INT")
	cfg.InitiallyDropGhostTable = true
	if _, err := runMigration(context.Background(), t, cfg); err != nil {
		t.Fatal(err)
	}
	noLeftovers(t, db, dbName, []string{"t", "t_tailor_old", "t_tailor_state"})
}
