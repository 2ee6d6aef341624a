package cutover

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// adminTimeout bounds each statement of the bookkeeping around the swap
// (KILL, UNLOCK, reading the processlist, dropping the sentry), which must
// not hang a cut-over that is giving up, even when ctx is already cancelled.
const adminTimeout = 5 * time.Second

// session is one dedicated connection with its server-side id.
//
// Statements on a session are never cancelled by closing the connection,
// which is what the driver does when a context ends: the server would not
// notice until the statement finished on its own, so a LOCK TABLES or a
// RENAME would go on waiting, and later succeed, behind the back of a
// cut-over that believes it gave up. A session's statements are instead
// interrupted with KILL QUERY from another connection, after which the
// server has really stopped them.
type session struct {
	db   *sql.DB
	conn *sql.Conn
	id   int64
	// bound is the last-resort limit of a statement when even KILL QUERY
	// does not end it (a server that stopped answering).
	bound time.Duration
}

func openSession(ctx context.Context, db *sql.DB, bound time.Duration) (*session, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open a connection: %w", err)
	}
	s := &session{db: db, conn: conn, bound: bound}
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&s.id); err != nil {
		s.close()
		return nil, fmt.Errorf("read the connection id: %w", err)
	}
	return s, nil
}

// exec runs query. When ctx ends first, the statement is killed on the
// server and exec returns once it has stopped, with an error that wraps
// both the statement's error and ctx's cause.
func (s *session) exec(ctx context.Context, query string) error {
	stmtCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.bound)
	defer cancel()
	done := make(chan struct{})
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-done:
		case <-ctx.Done():
			// An error here leaves the statement to its lock_wait_timeout
			// and to s.bound.
			_ = s.kill(context.WithoutCancel(ctx), false)
		}
	}()
	_, err := s.conn.ExecContext(stmtCtx, query)
	close(done)
	<-watcher
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	return err
}

// kill ends the session's running statement (KILL QUERY; an idle session is
// not affected) or, with connection, the whole session and the locks it holds.
func (s *session) kill(ctx context.Context, connection bool) error {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	q := killQuerySQL(s.id)
	if connection {
		q = killConnectionSQL(s.id)
	}
	_, err := s.db.ExecContext(ctx, q)
	if mysql.ErrorNumber(err) == errNoSuchThread {
		return nil // already gone
	}
	return err
}

// errNoSuchThread is ER_NO_SUCH_THREAD, the answer to KILL of a connection
// that has already ended.
const errNoSuchThread = 1094

// close hands the connection back for disposal, never for reuse: it carries
// session settings, and may be in a state this package does not know.
func (s *session) close() {
	_ = s.conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = s.conn.Close()
}

// tableLockWait is the processlist STATE of a statement waiting for a
// table's metadata lock, in MariaDB 10.11 (seen in
// TestServerWaitingRenameRunsBeforeQueuedWriters) and MySQL alike. Other
// waits have other states ("Waiting for schema metadata lock", "Waiting for
// backup lock") and must not be taken for it: a RENAME waiting for one of
// those is not queued on the original.
const tableLockWait = "Waiting for table metadata lock"

// waitingForLock reports whether the session's current statement starts
// with prefix and waits for a table's metadata lock.
func (s *session) waitingForLock(ctx context.Context, prefix string) (bool, error) {
	var state, info string
	err := s.db.QueryRowContext(ctx, processSQL, s.id).Scan(&state, &info)
	if errors.Is(err, sql.ErrNoRows) {
		return false, errors.New("the connection is gone")
	}
	if err != nil {
		return false, err
	}
	return state == tableLockWait && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(info)), prefix), nil
}
