package throttle

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// Generous bounds for a shared, noisy machine: what must happen gets
// patient, and a "still blocked" check only needs to outlast a few checks.
const (
	patience  = 30 * time.Second
	blockTime = 700 * time.Millisecond
)

const hbTable = "_t_tailor_hb"

// logBuffer collects a throttler's log lines for the test to count.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count is how many lines hold msg="<msg>" exactly.
func (b *logBuffer) count(msg string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), `msg="`+msg+`"`) + strings.Count(b.buf.String(), "msg="+msg+" ")
}

// baseConfig is a throttler on the test's database of the shared sandbox,
// with no replica, logging into the returned buffer.
func baseConfig(t *testing.T, db *sql.DB, dbName string) (Config, *logBuffer) {
	t.Helper()
	server, err := mysql.DetectServer(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	return Config{
		DB: db, Conn: sbx.Conn(""), Server: server,
		Database: dbName, HeartbeatTable: hbTable,
		Replicas: []string{},
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
	}, logs
}

// running is a throttler whose Run goes on in the background.
type running struct {
	*Throttler
	done   chan error // receives Run's result
	cancel context.CancelFunc
}

// start runs a throttler until the test ends, then stops it, closes it, and
// checks that the heartbeat table is gone.
func start(t *testing.T, cfg Config) *running {
	t.Helper()
	th, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Throttler: th, done: make(chan error, 1), cancel: cancel}
	go func() { r.done <- th.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil && !errors.Is(err, ErrCriticalLoad) && !errors.Is(err, ErrPanicFlag) {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(patience):
			t.Errorf("Run did not return within %s of its context ending", patience)
		}
		if err := th.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		if slices.Contains(sandbox.Tables(t, cfg.DB, cfg.Database), cfg.HeartbeatTable) {
			t.Errorf("heartbeat table %s left behind after Close", cfg.HeartbeatTable)
		}
	})
	return r
}

// runResult waits for Run to return by itself.
func (r *running) runResult(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(patience):
		t.Fatalf("Run did not return within %s", patience)
		return nil
	}
}

// waitFree asserts that Wait lets the copy go on, soon.
func waitFree(t *testing.T, th *running) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := th.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v (state %+v)", err, th.State())
	}
	if s := th.State(); s.Throttled {
		t.Fatalf("Wait returned, yet the state is throttled: %+v", s)
	}
}

// waitBlocks asserts that Wait holds the copy back for blockTime.
func waitBlocks(t *testing.T, th *running) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), blockTime)
	defer cancel()
	if err := th.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want it to block until its deadline (state %+v)", err, th.State())
	}
}

// eventually polls cond until it holds, for at most patience.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, patience)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// throttledFor waits until the state is throttled with a reason that
// starts with prefix, and returns that reason.
func throttledFor(t *testing.T, th *running, prefix string) string {
	t.Helper()
	var got string
	eventually(t, "throttled for "+prefix, func() bool {
		s := th.State()
		for _, r := range s.Reasons {
			if strings.HasPrefix(r, prefix) && s.Throttled {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

// wantReasons asserts the exact reasons of the current state.
func wantReasons(t *testing.T, th *running, want ...string) {
	t.Helper()
	s := th.State()
	if !slices.Equal(s.Reasons, want) || s.Throttled != (len(want) > 0) {
		t.Fatalf("state = %+v, want reasons %q", s, want)
	}
}

// threadsConnected reads the primary's Threads_connected.
func threadsConnected(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var name string
	var n int64
	if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Threads_connected'").Scan(&name, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// holdConnections opens n extra sessions on the sandbox; the returned func
// closes them.
func holdConnections(t *testing.T, n int) func() {
	t.Helper()
	ctx := context.Background()
	pool, err := sbx.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var conns []*sql.Conn
	for range n {
		c, err := pool.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			for _, c := range conns {
				c.Close()
			}
			pool.Close()
		})
	}
	t.Cleanup(release)
	return release
}
