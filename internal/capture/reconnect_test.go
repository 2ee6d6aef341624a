package capture

import (
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// TestReaderReconnects kills the server side of the reader's connection:
// the reader reconnects at the end of the last transaction it read and no
// change is lost or repeated.
func TestReaderReconnects(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	ctx := context.Background()
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	start, err := CurrentPosition(ctx, db, server)
	if err != nil {
		t.Fatal(err)
	}
	var retries atomic.Int64
	retry := mysql.Retry{Timeout: 10 * time.Second, OnRetry: func(string) { retries.Add(1) }}
	r := startReaderAt(t, ReaderConfig{Conn: sbx.Conn(name), Server: server, Table: mustLoad(t, db, name, "t"), Retry: retry}, start)
	exec(t, db, "INSERT INTO t VALUES (1)")
	r.next(t)

	var id int64
	if err := db.QueryRowContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump' AND DB IS NULL ORDER BY ID DESC LIMIT 1").Scan(&id); err != nil {
		t.Fatal(err)
	}
	exec(t, db, "KILL "+strconv.FormatInt(id, 10))
	for i := 2; i <= 5; i++ {
		exec(t, db, "INSERT INTO t VALUES ("+strconv.Itoa(i)+")")
	}
	for i := 2; i <= 5; i++ {
		b := r.next(t)
		if want := []Change{{Kind: Insert, After: []any{int64(i)}}}; !reflect.DeepEqual(b.Changes, want) {
			t.Fatalf("after reconnect: batch %#v, want %#v", b.Changes, want)
		}
	}
	if retries.Load() == 0 {
		t.Error("no reconnection was counted: the KILL did not reach the reader")
	}
}

// TestReaderResumesMidTransaction cuts the connection in the middle of a
// large transaction's events: the reader reads the transaction again from
// its start, and it arrives complete, once, in order.
func TestReaderResumesMidTransaction(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(200))")
	ctx := context.Background()
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	start, err := CurrentPosition(ctx, db, server)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, sbx.Conn(name).Addr())
	conn := sbx.Conn(name)
	conn.Host, conn.Port = "127.0.0.1", p.port()
	var retries atomic.Int64
	retry := mysql.Retry{Timeout: 10 * time.Second, OnRetry: func(string) { retries.Add(1) }}
	r := startReaderAt(t, ReaderConfig{Conn: conn, Server: server, Table: mustLoad(t, db, name, "t"), Retry: retry}, start)
	exec(t, db, "INSERT INTO t VALUES (0, '')")
	r.next(t)

	const rows = 300
	p.budget.Store(20000) // about a third of the transaction below
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= rows; i++ {
		exec(t, tx, "INSERT INTO t VALUES ("+strconv.Itoa(i)+", REPEAT('x', 150))")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	b := r.next(t)
	if len(b.Changes) != rows {
		t.Fatalf("got %d changes, want %d", len(b.Changes), rows)
	}
	for i, c := range b.Changes {
		if c.Kind != Insert || c.After[0] != int64(i+1) {
			t.Fatalf("change %d = %+v, want the insert of %d", i, c, i+1)
		}
	}
	if p.budget.Load() != -1 {
		t.Fatal("the connection was not cut")
	}
	if retries.Load() == 0 {
		t.Error("no reconnection was counted")
	}
}

// TestReaderGivesUp loses the server for good: Run returns an
// *mysql.UnreachableError once the connection has failed for its reconnect
// timeout.
func TestReaderGivesUp(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	ctx := context.Background()
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	start, err := CurrentPosition(ctx, db, server)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, sbx.Conn(name).Addr())
	conn := sbx.Conn(name)
	conn.Host, conn.Port = "127.0.0.1", p.port()
	r := startReaderAt(t, ReaderConfig{Conn: conn, Server: server, Table: mustLoad(t, db, name, "t"), Retry: mysql.Retry{Timeout: 2 * time.Second}}, start)
	exec(t, db, "INSERT INTO t VALUES (1)")
	r.next(t)

	p.cut()
	began := time.Now()
	err = r.stopped(t)
	var gone *mysql.UnreachableError
	if !errors.As(err, &gone) {
		t.Fatalf("Run = %v, want an *mysql.UnreachableError", err)
	}
	if d := time.Since(began); d < 2*time.Second {
		t.Errorf("Run gave up after %s, before its reconnect timeout of 2s", d)
	}
	t.Log(err)
}

// proxy forwards TCP connections to a server until cut, then drops them all
// and resets new ones. It keeps its port until the test ends: a port let go
// could be taken by another test's server, which would answer the reader.
type proxy struct {
	l net.Listener
	// down is set by cut; mu guards it.
	down bool
	// budget is how many more bytes the server may send before every
	// connection open at that moment is cut; negative when unlimited.
	budget atomic.Int64
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l}
	p.budget.Store(-1)
	p.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				s.Close()
				reset(c)
				continue
			}
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			p.wg.Go(func() { _, _ = io.Copy(s, c); s.Close() })
			p.wg.Go(func() { p.forward(c, s); c.Close(); s.Close() })
		}
	})
	t.Cleanup(p.close)
	return p
}

// forward copies what the server sends to the client, cutting the
// connection once the budget is spent.
func (p *proxy) forward(client, server net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if b := p.budget.Load(); b >= 0 {
				if int64(n) > b {
					_, _ = client.Write(buf[:b])
					p.budget.Store(-1)
					return
				}
				p.budget.Add(-int64(n))
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) port() int { return p.l.Addr().(*net.TCPAddr).Port }

// cut drops every connection and resets every new one: the server is gone,
// as the reader sees it.
func (p *proxy) cut() {
	p.mu.Lock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

// reset closes c with a TCP reset rather than an orderly close.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

func (p *proxy) close() {
	p.l.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
