package native

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// The integration tests share one sandbox server and run one after the
// other (none calls t.Parallel): they hold metadata locks, measure waits
// and count the server's ALTER statements.
var sbx *sandbox.Sandbox

func TestMain(m *testing.M) { os.Exit(sandbox.RunTestsCheckingLeaks(m, &sbx)) }

// fixture is a database with a table t (id, v, w, n) holding a few rows.
type fixture struct {
	t      *testing.T
	db     *sql.DB
	dbName string
}

const table = "t"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, dbName := sbx.NewDatabase(t)
	f := &fixture{t: t, db: db, dbName: dbName}
	f.exec("CREATE TABLE t (id int NOT NULL PRIMARY KEY, v int NOT NULL, w varchar(10) NOT NULL, n int NULL) ENGINE=InnoDB")
	f.exec("INSERT INTO t VALUES (1, 1, 'a', 1), (2, 2, 'b', NULL), (3, 3, 'c', 3)")
	return f
}

// config is a Config for t that logs to the test.
func (f *fixture) config(clauses string) Config {
	return Config{
		Database: f.dbName, Table: table, Clauses: clauses,
		Logger: slog.New(slog.NewTextHandler(f.t.Output(), nil)),
	}
}

func (f *fixture) exec(query string, args ...any) {
	f.t.Helper()
	if _, err := f.db.ExecContext(context.Background(), query, args...); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
}

// definition is t's definition as readDefinition reads it.
func (f *fixture) definition() string {
	f.t.Helper()
	def, err := readDefinition(context.Background(), f.db, f.dbName, table)
	if err != nil {
		f.t.Fatal(err)
	}
	return def
}

// hasColumn reports whether t has the column.
func (f *fixture) hasColumn(name string) bool {
	f.t.Helper()
	var n int
	if err := f.db.QueryRow("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?",
		f.dbName, table, name).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n == 1
}

// holdTransaction opens a transaction that reads t, and so holds a shared
// metadata lock on it, until the returned function (safe to call from any
// goroutine, and more than once) ends it.
func (f *fixture) holdTransaction() func() {
	f.t.Helper()
	tx, err := f.db.BeginTx(context.Background(), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	var once sync.Once
	end := func() { once.Do(func() { _ = tx.Rollback() }) }
	f.t.Cleanup(end)
	return end
}

// alters is the server's count of ALTER TABLE statements. The tests run
// one at a time on their own server, so a difference is theirs.
func (f *fixture) alters() int {
	f.t.Helper()
	var name string
	var n int
	if err := f.db.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_alter_table'").Scan(&name, &n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// waitingAlter returns the id of the connection whose ALTER of the test's
// database waits for a lock, or 0.
func (f *fixture) waitingAlter() int64 {
	f.t.Helper()
	var id int64
	err := f.db.QueryRow("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'ALTER TABLE%' AND STATE LIKE 'Waiting for%' LIMIT 1", f.dbName).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		f.t.Fatal(err)
	}
	return id
}

// assertNothingQueued checks that no ALTER of the test runs any more and
// that a query of t runs at once.
func (f *fixture) assertNothingQueued() {
	f.t.Helper()
	// KILL QUERY is asynchronous: the statement may show for a moment
	// while it unwinds, but must be gone soon after.
	var running string
	for deadline := time.Now().Add(2 * time.Second); ; {
		running = f.runningAlter()
		if running == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if running != "" {
		f.t.Errorf("the ALTER is still running: %s", running)
	}
	c, err := f.db.Conn(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.ExecContext(ctx, "SET SESSION lock_wait_timeout = 1"); err != nil {
		f.t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "UPDATE t SET v = v + 1 WHERE id = 1"); err != nil {
		f.t.Errorf("t is not writable at once after the change gave up: %v", err)
	}
}

// prober queries t from its own connection every interval and records the
// longest a query took.
type prober struct {
	stop    chan struct{}
	done    chan struct{}
	queries int
	max     time.Duration
	err     error
}

// startProber starts a prober; stopProber ends it and returns what it saw.
func (f *fixture) startProber(interval time.Duration) *prober {
	f.t.Helper()
	c, err := f.db.Conn(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	p := &prober{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer c.Close()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		// A reader and a writer alike queue behind a pending exclusive
		// metadata lock; the prober is both, in turn.
		queries := []string{"SELECT v FROM t WHERE id = 2", "UPDATE t SET v = v + 1 WHERE id = 2"}
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			start := time.Now()
			_, err := c.ExecContext(ctx, queries[i%len(queries)])
			took := time.Since(start)
			cancel()
			if err != nil {
				p.err = err
				return
			}
			p.queries++
			p.max = max(p.max, took)
		}
	}()
	f.t.Cleanup(func() { p.halt() })
	return p
}

// halt stops the prober and waits for it; it may be called more than once.
func (p *prober) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// runningAlter is an ALTER of the fixture's database in the processlist, or "".
func (f *fixture) runningAlter() string {
	f.t.Helper()
	rows, err := f.db.Query("SELECT COALESCE(INFO, '') FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE%' AND ID <> CONNECTION_ID()")
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var info string
		if err := rows.Scan(&info); err != nil {
			f.t.Fatal(err)
		}
		if strings.Contains(info, mysql.QuoteIdent(f.dbName)) {
			return info
		}
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return ""
}
