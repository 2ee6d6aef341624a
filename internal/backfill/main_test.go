package backfill

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

var sbx *sandbox.Sandbox

func TestMain(m *testing.M) {
	os.Exit(sandbox.RunTestsCheckingLeaks(m, &sbx, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener")))
}

func testLogger(t testing.TB) *slog.Logger { return sandbox.Logger(t, slog.LevelInfo) }

var mustExec = sandbox.Exec

// testConfig is a backfill of table on the sandbox, executed, with its
// control socket in the test's own directory.
func testConfig(t testing.TB, database, table, set, where string) Config {
	return Config{
		Conn:     sbx.Conn(database),
		Database: database,
		Table:    table,
		Set:      set,
		Where:    where,
		Execute:  true,
		Settings: operate.Settings{ChunkSize: 500, ProgressInterval: time.Second, ControlSocket: filepath.Join(t.TempDir(), "ctl.sock")},
		Logger:   testLogger(t),
	}
}

func runBackfill(ctx context.Context, t testing.TB, cfg Config) (*Result, error) {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return r.Run(ctx)
}

func queryInt(t testing.TB, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// fillUsers creates users(id, full_name, display_name, n) with rows rows
// whose display_name is NULL.
func fillUsers(t testing.TB, db *sql.DB, rows int) {
	t.Helper()
	mustExec(t, db, `CREATE TABLE users (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		full_name VARCHAR(100) NOT NULL,
		display_name VARCHAR(100) NULL,
		n INT NOT NULL DEFAULT 0,
		nick VARCHAR(10) NULL)`)
	// MariaDB's SEQUENCE engine (seq_1_to_N).
	mustExec(t, db, fmt.Sprintf("INSERT INTO users (full_name) SELECT CONCAT('user ', seq) FROM seq_1_to_%d", rows))
}

// tableChecksum is CHECKSUM TABLE of table: equal before and after means
// nothing changed.
func tableChecksum(t testing.TB, db *sql.DB, table string) int64 {
	t.Helper()
	var name string
	var sum sql.NullInt64
	if err := db.QueryRow("CHECKSUM TABLE "+table).Scan(&name, &sum); err != nil {
		t.Fatal(err)
	}
	return sum.Int64
}

// run is a backfill running on its own goroutine.
type run struct {
	r    *Runner
	cfg  Config
	done chan struct{}
	res  *Result
	err  error
}

func startRun(t *testing.T, cfg Config) *run {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rn := &run{r: r, cfg: cfg, done: make(chan struct{})}
	go func() {
		defer close(rn.done)
		rn.res, rn.err = r.Run(context.Background())
	}()
	t.Cleanup(func() {
		select {
		case <-rn.done:
		case <-time.After(2 * time.Minute):
			t.Error("the backfill did not end")
		}
	})
	return rn
}

func (rn *run) wait(t *testing.T) (*Result, error) {
	t.Helper()
	select {
	case <-rn.done:
		return rn.res, rn.err
	case <-time.After(3 * time.Minute):
		t.Fatal("the backfill did not end within 3 minutes")
		return nil, nil
	}
}

// send sends a control command over the run's socket.
func (rn *run) send(t *testing.T, line string) string {
	t.Helper()
	reply, err := control.Send(context.Background(), rn.cfg.ControlSocket, line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return reply
}

// status reads the status over the socket, as tailor ctl does.
func (rn *run) status(t *testing.T) control.Status {
	t.Helper()
	var st control.Status
	if err := json.Unmarshal([]byte(rn.send(t, "status json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitStatus polls the status until ok holds.
func (rn *run) waitStatus(t *testing.T, what string, ok func(control.Status) bool) control.Status {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-rn.done:
			t.Fatalf("the backfill ended (err %v) while waiting for %s", rn.err, what)
		default:
		}
		if _, err := os.Stat(rn.cfg.ControlSocket); err == nil {
			if st := rn.status(t); ok(st) {
				return st
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
	return control.Status{}
}

func wantKind(t *testing.T, err error, kind migrate.ErrorKind, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %s error, got none", kind)
	}
	if got := migrate.KindOf(err); got != kind {
		t.Errorf("error kind %s, want %s: %v", got, kind, err)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
}
