package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// RunTests is the body of a TestMain for a package whose tests need a
// server: it starts one sandbox, hands it to the tests through *out, runs
// them, and stops the server. Without a server binary the tests run with
// *out nil and Need skips them with a clear message.
func RunTests(m *testing.M, out **Sandbox) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	sbx, err := Start(ctx, Options{Log: func(s string) { fmt.Fprintln(os.Stderr, s) }})
	cancel()
	switch {
	case errors.Is(err, ErrNoServer):
		fmt.Fprintln(os.Stderr, "sandbox: "+err.Error()+"; integration tests will be skipped")
	case err != nil:
		fmt.Fprintln(os.Stderr, "sandbox: "+err.Error())
		return 1
	default:
		*out = sbx
		defer sbx.Stop()
	}
	return m.Run()
}

// Need skips t when no sandbox is running.
func Need(t testing.TB, s *Sandbox) {
	t.Helper()
	if s == nil {
		t.Skip("no mariadbd binary on this machine (apt-get install mariadb-server); skipping integration test")
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDatabase creates a database named after the test, connects to it, and
// drops it when the test ends.
func (s *Sandbox) NewDatabase(t testing.TB) (*sql.DB, string) {
	t.Helper()
	Need(t, s)
	name := "t_" + unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 60 {
		name = name[:60]
	}
	ctx := context.Background()
	admin, err := s.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+mysql.QuoteIdent(name)); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+mysql.QuoteIdent(name)+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"); err != nil {
		t.Fatal(err)
	}
	db, err := s.Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		admin, err := s.Open(context.Background(), "")
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+mysql.QuoteIdent(name))
	})
	return db, name
}

// RunTestsCheckingLeaks is RunTests for packages that start goroutines: once
// the tests pass it fails the run if any goroutine is still alive (a reader,
// a watcher, a pool opener left running), except those opts ignore.
func RunTestsCheckingLeaks(m *testing.M, out **Sandbox, opts ...goleak.Option) int {
	code := RunTests(m, out)
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked: "+err.Error())
			code = 1
		}
	}
	return code
}

// Tables lists the tables of database, sorted by name in Go (not by the
// server's collation, which orders '_' after letters).
func Tables(t testing.TB, db *sql.DB, database string) []string {
	t.Helper()
	rows, err := db.Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", database)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// Execer is what runs a statement: a *sql.DB, *sql.Conn or *sql.Tx.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Exec runs q on db and fails the test when it fails.
func Exec(t testing.TB, db Execer, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// Logger sends the records at level and above to the test's log, which
// shows them for a failed test (and with -v).
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: level}))
}

type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Checksum is CHECKSUM TABLE of database.table: equal before and after
// means the table was left untouched.
func Checksum(t testing.TB, db *sql.DB, database, table string) int64 {
	t.Helper()
	var name string
	var sum sql.NullInt64
	if err := db.QueryRow("CHECKSUM TABLE "+mysql.QuoteTable(database, table)).Scan(&name, &sum); err != nil {
		t.Fatal(err)
	}
	return sum.Int64
}

// ClosedPort is a loopback port that refuses connections until t ends. A
// port a listener held and let go a moment ago is no such thing: while the
// tests run in parallel, a sandbox or listener of another test may take it
// and answer (a reset instead of a refusal, seen in CI), or a connection to
// it may be given it as its own source port and meet itself. A socket bound
// and never listening keeps the port out of everyone else's hands, and the
// kernel refuses a connection to it.
func ClosedPort(t testing.TB) int {
	t.Helper()
	// Under ForkLock, so that no child started meanwhile inherits the
	// descriptor before it is marked close-on-exec (SOCK_CLOEXEC is not
	// everywhere).
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}
