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
	"time"

	gosql "github.com/go-sql-driver/mysql"
)

// Server and client error numbers of a connection that ended or could not
// be made. The client numbers (2xxx) are those of libmysqlclient; Go
// drivers report the same faults as errors of their own, matched below.
const (
	errServerShutdown       = 1053 // ER_SERVER_SHUTDOWN: the server is shutting down
	errAbortingConnection   = 1152 // ER_ABORTING_CONNECTION
	errNetReadErrorFromPipe = 1154 // ER_NET_READ_ERROR_FROM_PIPE
	errNetReadError         = 1158 // ER_NET_READ_ERROR
	errNetReadInterrupted   = 1159 // ER_NET_READ_INTERRUPTED
	errNetErrorOnWrite      = 1160 // ER_NET_ERROR_ON_WRITE
	errNetWriteInterrupted  = 1161 // ER_NET_WRITE_INTERRUPTED
	errConnectionKilled     = 1927 // MariaDB's ER_CONNECTION_KILLED: KILL of the session during a statement
	errClientInactivity     = 4031 // MySQL 8.0.24+: disconnected after wait_timeout
	crConnectionError       = 2002 // CR_CONNECTION_ERROR
	crConnHostError         = 2003 // CR_CONN_HOST_ERROR
	crServerGone            = 2006 // CR_SERVER_GONE_ERROR
	crServerLost            = 2013 // CR_SERVER_LOST
	crServerLostExtended    = 2055 // CR_SERVER_LOST_EXTENDED
)

// IsConnectionLostNumber reports whether a server or client error number
// means that the session ended (killed, the server shutting down) or that
// the server could not be reached.
func IsConnectionLostNumber(n uint16) bool {
	switch n {
	case errServerShutdown, errAbortingConnection, errNetReadErrorFromPipe, errNetReadError, errNetReadInterrupted,
		errNetErrorOnWrite, errNetWriteInterrupted, errConnectionKilled, errClientInactivity,
		crConnectionError, crConnHostError, crServerGone, crServerLost, crServerLostExtended:
		return true
	}
	return false
}

// IsConnectionLost reports whether err means that the connection to the
// server was lost, or a new one could not be made: the session was killed
// (KILL), the server shut down or restarted, the network failed. The
// session's transaction went with it, rolled back by the server or, when
// the loss came during the COMMIT, perhaps committed: the caller cannot
// tell which, so only work that gives the same result when done twice may
// be retried on such an error.
//
// A context's end is not a lost connection, even though the driver may
// report a query cut short by it as one, and an *UnreachableError is
// retrying that has already given up.
func IsConnectionLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var gone *UnreachableError
	if errors.As(err, &gone) {
		return false
	}
	if n := ErrorNumber(err); n != 0 {
		return IsConnectionLostNumber(n)
	}
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, gosql.ErrInvalidConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE):
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// UnreachableError is work given up because its connection to the server
// kept failing for longer than the reconnect timeout.
type UnreachableError struct {
	// What is the work that was retried ("copy", "apply", ...).
	What string
	// For is how long the work had been failing when it gave up.
	For time.Duration
	// Err is the last error.
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("the server was unreachable for %s while retrying the %s: %v", e.For.Round(time.Second), e.What, e.Err)
}

// Unwrap returns the last error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// The backoff between attempts of work that lost its connection: the first
// retry comes at once (a killed session leaves a healthy server behind),
// the next ones after a delay that doubles up to retryMaxDelay (a server
// restarting takes seconds, and every worker of the migration is trying
// it at the same time).
const (
	retryFirstDelay = 50 * time.Millisecond
	retryMaxDelay   = 2 * time.Second
)

// Retry retries work that lost its connection to the server, with backoff,
// for as long as the server stays unreachable, up to Timeout. Its zero
// value retries nothing.
type Retry struct {
	// Timeout is how long work keeps being retried after its connection
	// was first lost; 0 retries nothing.
	Timeout time.Duration
	// Logger hears of each retry, at Warn.
	Logger *slog.Logger
	// OnRetry, when set, is called before each retry with what is retried
	// (metrics).
	OnRetry func(what string)
}

// Outage is one spell of lost connections of one piece of work: when it
// began and how many retries it has had. Its zero value is no outage.
type Outage struct {
	since   time.Time
	retries int
}

// Reset ends the outage: the work reached the server again.
func (o *Outage) Reset() { *o = Outage{} }

// Do runs work until it succeeds, fails otherwise than by a lost
// connection, or ctx ends, retrying it after a lost connection. Once its
// connection has been failing for Timeout it returns an *UnreachableError.
// What names the work in logs and metrics, and attrs say more of it
// ("chunk", ...).
func (r Retry) Do(ctx context.Context, what string, work func(context.Context) error, attrs ...any) error {
	var o Outage
	for {
		err := work(ctx)
		if err == nil || ctx.Err() != nil || !IsConnectionLost(err) {
			return err
		}
		if err := r.Wait(ctx, &o, what, err, attrs...); err != nil {
			return err
		}
	}
}

// Wait is called when work lost its connection with err: it logs the
// retry, counts it, and sleeps the backoff. It returns an *UnreachableError
// instead when the outage o has lasted Timeout, or ctx's error when ctx
// ends first. With no Timeout it returns err.
func (r Retry) Wait(ctx context.Context, o *Outage, what string, err error, attrs ...any) error {
	if r.Timeout <= 0 {
		return err
	}
	now := time.Now()
	if o.since.IsZero() {
		o.since = now
	}
	down := now.Sub(o.since)
	if down >= r.Timeout {
		return &UnreachableError{What: what, For: down, Err: err}
	}
	delay := time.Duration(0)
	if o.retries > 0 {
		delay = min(retryFirstDelay<<min(o.retries-1, 10), retryMaxDelay, r.Timeout-down)
	}
	o.retries++
	if r.Logger != nil {
		r.Logger.Warn("lost the connection to the server; retrying", append([]any{
			"retrying", what, "attempt", o.retries, "failing_for", down.Round(time.Millisecond).String(),
			"delay", delay.String(), "err", err}, attrs...)...)
	}
	if r.OnRetry != nil {
		r.OnRetry(what)
	}
	if delay == 0 {
		return ctx.Err()
	}
	return Backoff(ctx, delay)
}

// Retries is how many retries the outage has had.
func (o *Outage) Retries() int { return o.retries }
