package control

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeHandler records the commands it receives. It stands in for the
// migration, whose behaviour is not what these tests are about.
type fakeHandler struct {
	mu       sync.Mutex
	commands []Command
	// block, when set, makes Command wait for it or for ctx.
	block chan struct{}
	// refuse, when set, is returned by Command for that command name.
	refuse map[string]error
}

func testStatus() Status {
	return Status{
		Database: "shop", Table: "orders", Alter: "ADD COLUMN note TEXT,\n  ADD INDEX (created)",
		Phase: "copy", RowsCopied: 1500, RowsTotal: 10000, Percent: 15, RowsPerSecond: 500,
		ETA: Duration(17 * time.Second), Elapsed: Duration(3 * time.Second),
		EventsApplied: 42, Backlog: 3,
		BinlogRead: "mysql-bin.000007:9120", BinlogApplied: "mysql-bin.000007:8800",
		ApplierLag: Duration(1300 * time.Millisecond), HeartbeatLag: Duration(100 * time.Millisecond),
		CutOverAttempt: 2, CutOverAttempts: 5,
		Replicas:  []ReplicaLag{{Name: "r1:3306", Lag: Duration(1200 * time.Millisecond)}, {Name: "r2:3306", Lag: -1}},
		Throttled: true, ThrottleReasons: []string{"replica r1:3306 lag 1.2s > 1s"},
		ChunkSize: 1000, MaxLagMillis: 1000, CutOverPostponed: true,
	}
}

func (f *fakeHandler) Status() Status { return testStatus() }

func (f *fakeHandler) Command(ctx context.Context, cmd Command) (string, error) {
	f.mu.Lock()
	f.commands = append(f.commands, cmd)
	block, refuse := f.block, f.refuse[cmd.Name]
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if refuse != nil {
		return "", refuse
	}
	return "ok: " + cmd.String(), nil
}

func (f *fakeHandler) received() []Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Command(nil), f.commands...)
}

var _ Handler = (*fakeHandler)(nil)

// socketPath is a socket path short enough for sun_path (108 bytes on
// Linux, 104 on macOS), which t.TempDir under a long TMPDIR may not be.
func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "tailor.sock")
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testWriter sends log lines to t.Log, so they show only for failed tests.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

var errRefused = errors.New("cut-over is not postponed")
