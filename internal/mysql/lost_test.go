package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	gosql "github.com/go-sql-driver/mysql"
)

func TestIsConnectionLost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"bad connection", driver.ErrBadConn, true},
		{"invalid connection, wrapped", fmt.Errorf("read warnings: %w", gosql.ErrInvalidConn), true},
		{"connection done", sql.ErrConnDone, true},
		{"killed during a statement (MariaDB 1927)", &gosql.MySQLError{Number: 1927, Message: "Connection was killed"}, true},
		{"server shutdown", &gosql.MySQLError{Number: 1053, Message: "Server shutdown in progress"}, true},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("x: %w", syscall.ECONNRESET), true},
		{"EOF", io.EOF, true},
		{"deadlock", &gosql.MySQLError{Number: ErrLockDeadlock}, false},
		{"duplicate", &gosql.MySQLError{Number: ErrDupEntry}, false},
		{"query interrupted (KILL QUERY)", &gosql.MySQLError{Number: ErrQueryInterrupted}, false},
		{"cancelled", context.Canceled, false},
		// context.DeadlineExceeded is a net.Error too.
		{"deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), false},
		{"already given up", &UnreachableError{What: "copy", Err: driver.ErrBadConn}, false},
		{"other", errors.New("something else"), false},
	}
	for _, c := range cases {
		if got := IsConnectionLost(c.err); got != c.want {
			t.Errorf("%s: IsConnectionLost(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func TestRetryRetriesLostConnections(t *testing.T) {
	t.Parallel()
	var retried []string
	r := Retry{Timeout: 10 * time.Second, Logger: slog.New(slog.DiscardHandler), OnRetry: func(what string) { retried = append(retried, what) }}
	calls := 0
	err := r.Do(context.Background(), "copy", func(context.Context) error {
		calls++
		if calls < 3 {
			return fmt.Errorf("copy chunk: %w", gosql.ErrInvalidConn)
		}
		return nil
	})
	if err != nil || calls != 3 || len(retried) != 2 || retried[0] != "copy" {
		t.Errorf("Do = %v after %d calls and retries %v; want success on the third call after 2 retries of copy", err, calls, retried)
	}
}

func TestRetryReturnsOtherErrors(t *testing.T) {
	t.Parallel()
	r := Retry{Timeout: 10 * time.Second}
	dup := &gosql.MySQLError{Number: ErrDupEntry}
	calls := 0
	err := r.Do(context.Background(), "apply", func(context.Context) error { calls++; return dup })
	if err != dup || calls != 1 {
		t.Errorf("Do = %v after %d calls, want the duplicate after 1", err, calls)
	}
}

func TestRetryGivesUpAfterTimeout(t *testing.T) {
	t.Parallel()
	r := Retry{Timeout: 300 * time.Millisecond}
	started := time.Now()
	calls := 0
	err := r.Do(context.Background(), "binlog", func(context.Context) error { calls++; return driver.ErrBadConn })
	var gone *UnreachableError
	if !errors.As(err, &gone) {
		t.Fatalf("Do = %v, want an *UnreachableError", err)
	}
	if gone.What != "binlog" || gone.For < 300*time.Millisecond || !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("gave up with %+v", gone)
	}
	if d := time.Since(started); d > 2*time.Second {
		t.Errorf("gave up after %s, want about the timeout", d)
	}
	if calls < 3 {
		t.Errorf("%d calls in the timeout, want retries with backoff", calls)
	}
	t.Log(err)
}

func TestRetryStopsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	r := Retry{Timeout: time.Minute}
	calls := 0
	err := r.Do(ctx, "copy", func(context.Context) error {
		calls++
		if calls == 3 {
			cancel()
		}
		return driver.ErrBadConn
	})
	if !errors.Is(err, context.Canceled) && !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("Do = %v, want the end of the context", err)
	}
	if calls != 3 {
		t.Errorf("%d calls, want none after the context ended", calls)
	}
}

func TestZeroRetryRetriesNothing(t *testing.T) {
	t.Parallel()
	calls := 0
	err := Retry{}.Do(context.Background(), "copy", func(context.Context) error { calls++; return driver.ErrBadConn })
	if err != driver.ErrBadConn || calls != 1 {
		t.Errorf("Do = %v after %d calls, want the error itself after 1", err, calls)
	}
}
