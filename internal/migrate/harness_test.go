package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/workload"
)

var sbx *sandbox.Sandbox

func TestMain(m *testing.M) {
	os.Exit(sandbox.RunTestsCheckingLeaks(m, &sbx, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener")))
}

// testLogger sends the runner's log to the test log.
func testLogger(t testing.TB) *slog.Logger { return sandbox.Logger(t, slog.LevelInfo) }

var mustExec = sandbox.Exec

// testConfig is a Config for table in database on the sandbox.
//
// ForceCopy is set because most tests here exercise the online copy with
// small ALTERs the server could make INSTANT; the native path has tests of
// its own that clear it.
func testConfig(t testing.TB, database, table, alter string) Config {
	return Config{
		Conn:      sbx.Conn(database),
		Database:  database,
		Table:     table,
		Alter:     alter,
		Execute:   true,
		ForceCopy: true,
		// One worker: many tests act at exact chunks; the parallel copy
		// has tests of its own (TestOnlineAlterUnderLoad).
		Threads:  1,
		Settings: operate.Settings{ChunkSize: 500, ProgressInterval: time.Second},
		// Above the default: under the race detector on a busy machine
		// the heartbeat's commits often take 20 ms, and the copy would
		// rest after every chunk in most tests.
		MaxCommitLatency: 50 * time.Millisecond,
		Logger:           testLogger(t),
	}
}

func runMigration(ctx context.Context, t testing.TB, cfg Config) (*Result, error) {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return r.Run(ctx)
}

// tablesIn lists the tables of database, sorted.
func tablesIn(t testing.TB, db *sql.DB, database string) []string {
	return sandbox.Tables(t, db, database)
}

// checksum is CHECKSUM TABLE of table, to prove a table was left untouched.
var checksum = sandbox.Checksum

// showCreate is the table's definition.
func showCreate(t testing.TB, db *sql.DB, database, table string) string {
	t.Helper()
	var name, def string
	if err := db.QueryRow("SHOW CREATE TABLE "+mysql.QuoteTable(database, table)).Scan(&name, &def); err != nil {
		t.Fatal(err)
	}
	return def
}

// migrateUnderLoad runs cfg while opts' writers write to the table, with a
// moment of writes before and after, and fails the test when the migration
// fails, a write failed, or the applier applied nothing.
func migrateUnderLoad(ctx context.Context, t *testing.T, db *sql.DB, cfg Config, opts workload.Options, settle time.Duration) (*Result, workload.Stats) {
	t.Helper()
	load := workload.Start(ctx, db, opts)
	time.Sleep(settle)
	res, err := runMigration(ctx, t, cfg)
	time.Sleep(settle) // writes into the new table, after the swap
	stats := load.Stop()
	if err != nil {
		t.Fatalf("migration failed: %v", err)
	}
	if stats.Errors > 0 {
		t.Errorf("%d writes failed, last: %s", stats.Errors, stats.LastError)
	}
	if res.EventsApplied == 0 {
		t.Error("no binlog event was applied: the test did not exercise the applier")
	}
	return res, stats
}

// inOneTransaction runs stmts, each with its args, in one transaction of
// db (a pool or one session): a write to a table and its control table.
func inOneTransaction(ctx context.Context, db interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}, stmts []string, args [][]any) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for i, q := range stmts {
		if _, err := tx.ExecContext(ctx, q, args[i]...); err != nil {
			return fmt.Errorf("%.200s: %w", q, err)
		}
	}
	return tx.Commit()
}

// toBoth runs q, a statement with one %s for the table's name, on table
// and on its control table, with the same args, in one transaction of db.
func toBoth(ctx context.Context, db interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}, table, q string, args []any) error {
	stmts := []string{fmt.Sprintf(q, mysql.QuoteIdent(table)), fmt.Sprintf(q, mysql.QuoteIdent(workload.ControlTable(table)))}
	return inOneTransaction(ctx, db, stmts, [][]any{args, args})
}

// writeUntilStopped runs write every 2 ms in the background until the
// returned stop is called, or until a write fails; stop waits for the
// writer to end (its write in flight done) and returns the failure, and
// may be called more than once.
func writeUntilStopped(ctx context.Context, write func(context.Context) error) (stop func() error) {
	quit, done := make(chan struct{}), make(chan struct{})
	var err error
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if err = write(ctx); err != nil {
				return
			}
		}
	}()
	var once sync.Once
	return func() error {
		once.Do(func() { close(quit) })
		<-done
		return err
	}
}

// migrateUnderWrites runs the migration of cfg while write runs in the
// background and perChunk times after every chunk (writes behind and ahead
// of the copy, for certain); with stopAtCutOver the background writer stops
// before the cut-over. It fails the test on any failed write, on a failed
// migration, and when no change reached the applier.
func migrateUnderWrites(ctx context.Context, t *testing.T, cfg Config, write func(context.Context) error, perChunk int, stopAtCutOver bool) *Result {
	t.Helper()
	var hookErr error
	if cfg.testHooks == nil {
		cfg.testHooks = &testHooks{}
	}
	cfg.testHooks.afterChunk = func(int) {
		for range perChunk {
			if err := write(ctx); err != nil && hookErr == nil {
				hookErr = err
			}
		}
	}
	stopWriting := writeUntilStopped(ctx, write)
	if stopAtCutOver {
		cfg.testHooks.beforeCutOver = func() { _ = stopWriting() }
	}
	res, err := runMigration(ctx, t, cfg)
	if werr := stopWriting(); werr != nil {
		t.Errorf("concurrent write: %v", werr)
	}
	if err != nil {
		t.Fatalf("migration failed: %v", err)
	}
	if hookErr != nil {
		t.Errorf("write between chunks: %v", hookErr)
	}
	if res.EventsApplied == 0 {
		t.Error("no binlog event was applied: the test did not exercise the applier")
	}
	return res
}

// wantEqualToControl fails the test unless table equals its control table.
func wantEqualToControl(ctx context.Context, t *testing.T, db *sql.DB, table string, cols []workload.ColumnPair) {
	t.Helper()
	diff, err := workload.Compare(ctx, db, table, cols)
	if err != nil {
		t.Fatal(err)
	}
	if !diff.Equal() {
		t.Fatalf("migrated table differs from the control record: %s", diff)
	}
}
