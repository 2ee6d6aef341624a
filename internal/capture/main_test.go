package capture

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/schema"
)

var sbx *sandbox.Sandbox

func TestMain(m *testing.M) { os.Exit(sandbox.RunTestsCheckingLeaks(m, &sbx)) }

// running is a Reader started by a test, with what it sends and returns.
type running struct {
	reader *Reader
	out    chan Batch
	cancel context.CancelFunc
	done   chan error
}

// startReader loads table from db and starts a Reader at the server's
// current position. The Reader is stopped when the test ends.
func startReader(t *testing.T, db *sql.DB, dbName, table string) *running {
	t.Helper()
	cfg, start := readerFromNow(t, db, dbName, table)
	return startReaderAt(t, cfg, start)
}

// readerFromNow is the configuration of a Reader of table and the server's
// current position.
func readerFromNow(t *testing.T, db *sql.DB, dbName, table string) (ReaderConfig, Position) {
	t.Helper()
	ctx := context.Background()
	tbl, err := schema.Load(ctx, db, dbName, table)
	if err != nil {
		t.Fatal(err)
	}
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	start, err := CurrentPosition(ctx, db, server)
	if err != nil {
		t.Fatal(err)
	}
	return ReaderConfig{Conn: sbx.Conn(dbName), Server: server, Table: tbl}, start
}

func startReaderAt(t *testing.T, cfg ReaderConfig, start Position) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{reader: NewReader(cfg), out: make(chan Batch), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- r.reader.Run(ctx, start, r.out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// next waits for the next Batch.
func (r *running) next(t *testing.T) Batch {
	t.Helper()
	select {
	case b := <-r.out:
		return b
	case err := <-r.done:
		r.done <- err
		t.Fatalf("Run returned before a batch arrived: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no batch within 10s")
	}
	return Batch{}
}

// stopped waits for Run to return on its own and returns its error.
func (r *running) stopped(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- nil // for the cleanup
		return err
	case b := <-r.out:
		t.Fatalf("unexpected batch %+v", b)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s")
	}
	return nil
}

func exec(t *testing.T, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, queries ...string) {
	t.Helper()
	for _, q := range queries {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
