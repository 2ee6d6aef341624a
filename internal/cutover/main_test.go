package cutover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// The integration tests share one sandbox server and run one after the
// other (none calls t.Parallel): they hold table locks and measure waits.
var sbx *sandbox.Sandbox

func TestMain(m *testing.M) {
	if os.Getenv(frozenHelperEnv) != "" {
		os.Exit(frozenSwapHelper())
	}
	os.Exit(sandbox.RunTestsCheckingLeaks(m, &sbx))
}

// fixture is a database with an original table and its shadow, which have
// different columns: the shadow has `added`, default 42.
type fixture struct {
	t      *testing.T
	db     *sql.DB
	dbName string
	cfg    Config
	rows   []string // markers of the original's initial rows
}

func newFixture(t *testing.T, table, shadow, old string) *fixture {
	t.Helper()
	db, dbName := sbx.NewDatabase(t)
	f := &fixture{t: t, db: db, dbName: dbName, cfg: Config{
		Database: dbName, Table: table, Shadow: shadow, Old: old,
		LockTimeout: 3 * time.Second,
	}}
	f.exec("CREATE TABLE " + mysql.QuoteIdent(table) + " (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, marker varchar(100) NOT NULL, UNIQUE KEY (marker)) ENGINE=InnoDB")
	f.exec("CREATE TABLE " + mysql.QuoteIdent(shadow) + " (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, marker varchar(100) NOT NULL, added int NOT NULL DEFAULT 42, UNIQUE KEY (marker)) ENGINE=InnoDB")
	for i := range 3 {
		m := fmt.Sprintf("initial-%d", i)
		f.exec("INSERT INTO "+mysql.QuoteIdent(table)+" (marker) VALUES (?)", m)
		f.exec("INSERT INTO "+mysql.QuoteIdent(shadow)+" (marker) VALUES (?)", m)
		f.rows = append(f.rows, m)
	}
	return f
}

func (f *fixture) exec(query string, args ...any) {
	f.t.Helper()
	if _, err := f.db.ExecContext(context.Background(), query, args...); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
}

// conn is a dedicated connection and its id, closed when the test ends.
func (f *fixture) conn() (*sql.Conn, int64) {
	f.t.Helper()
	c, err := f.db.Conn(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	var id int64
	if err := c.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		f.t.Fatal(err)
	}
	return c, id
}

func (f *fixture) exists(table string) bool {
	f.t.Helper()
	ok, _, err := tableComment(context.Background(), f.db, f.dbName, table)
	if err != nil {
		f.t.Fatal(err)
	}
	return ok
}

func (f *fixture) columns(table string) []string {
	f.t.Helper()
	rows, err := f.db.Query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", f.dbName, table)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			f.t.Fatal(err)
		}
		cols = append(cols, c)
	}
	return cols
}

// markers maps each marker in table to its row id.
func (f *fixture) markers(table string) map[string]int {
	f.t.Helper()
	rows, err := f.db.Query("SELECT marker, id FROM " + mysql.QuoteIdent(table))
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var m string
		var id int
		if err := rows.Scan(&m, &id); err != nil {
			f.t.Fatal(err)
		}
		out[m] = id
	}
	return out
}

var (
	originalColumns = []string{"id", "marker"}
	shadowColumns   = []string{"id", "marker", "added"}
)

// busy lists the statements still running in the test's database, other
// than the one asking.
func (f *fixture) busy() []string {
	f.t.Helper()
	rows, err := f.db.Query("SELECT INFO FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO IS NOT NULL AND ID <> CONNECTION_ID()", f.dbName)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var info string
		if err := rows.Scan(&info); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, info)
	}
	return out
}

// assertUntouched checks what a failed attempt must leave: the original
// under its name with its schema and rows, the shadow as it was, no table
// named Old or after the sentry, no statement of the attempt still running,
// and the original writable at once.
func (f *fixture) assertUntouched() {
	f.t.Helper()
	if got := f.columns(f.cfg.Table); !slices.Equal(got, originalColumns) {
		f.t.Errorf("original %q has columns %v, want %v", f.cfg.Table, got, originalColumns)
	}
	if got := f.columns(f.cfg.Shadow); !slices.Equal(got, shadowColumns) {
		f.t.Errorf("shadow %q has columns %v, want %v", f.cfg.Shadow, got, shadowColumns)
	}
	rows := f.markers(f.cfg.Table)
	for _, m := range f.rows {
		if _, ok := rows[m]; !ok {
			f.t.Errorf("original lost row %s", m)
		}
	}
	for _, name := range []string{f.cfg.Old, SentryName(f.cfg.Table)} {
		if f.exists(name) {
			f.t.Errorf("table %q left behind", name)
		}
	}
	for _, q := range f.busy() {
		if strings.HasPrefix(q, "RENAME") || strings.HasPrefix(q, "LOCK") {
			f.t.Errorf("statement of the attempt still running: %s", q)
		}
	}
	f.assertWritable()
}

// assertWritable inserts into the original, which must not wait for a
// lock.
func (f *fixture) assertWritable() {
	f.t.Helper()
	c, _ := f.conn()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.ExecContext(ctx, "SET SESSION lock_wait_timeout = 1"); err != nil {
		f.t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "INSERT INTO "+mysql.QuoteIdent(f.cfg.Table)+" (marker) VALUES (?)", fmt.Sprintf("probe-%d", time.Now().UnixNano())); err != nil {
		f.t.Errorf("the original is not writable after the attempt: %v", err)
	}
}

// waitForStatement waits until a statement starting with prefix runs in
// the test's database and waits for a lock, and returns its connection id.
func (f *fixture) waitForStatement(prefix string) int64 {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var id int64
		err := f.db.QueryRow("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE ? AND STATE LIKE 'Waiting for%' AND ID <> CONNECTION_ID() LIMIT 1",
			f.dbName, prefix+"%").Scan(&id)
		if err == nil {
			return id
		}
		if !errors.Is(err, sql.ErrNoRows) {
			f.t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.t.Fatalf("no statement %q waiting within 20s; running: %v", prefix, f.busy())
	return 0
}

// noCatchUp is a CatchUp with nothing to wait for.
func noCatchUp(context.Context) error { return nil }

// holdTransaction opens a transaction that reads table and so holds a
// shared metadata lock on it until the returned function ends it.
func (f *fixture) holdTransaction(table string) func() {
	f.t.Helper()
	tx, err := f.db.BeginTx(context.Background(), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM " + mysql.QuoteIdent(table)).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	done := false
	end := func() {
		if !done {
			done = true
			_ = tx.Rollback()
		}
	}
	f.t.Cleanup(end)
	return end
}
