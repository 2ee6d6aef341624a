package cutover

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// adminTimeout bounds each statement of the bookkeeping around the swap
// (KILL, UNLOCK, reading the processlist, dropping the sentry), which must
// not hang a cut-over that is giving up, even when ctx is already cancelled.
const adminTimeout = 5 * time.Second

// session is a mysql.Session of the cut-over: its statements are killed
// on the server, never abandoned, when the context ends (see
// mysql.Session for why).
type session struct {
	*mysql.Session
	db   *sql.DB
	conn *sql.Conn
	id   int64
}

func openSession(ctx context.Context, db *sql.DB, bound time.Duration) (*session, error) {
	ms, err := mysql.OpenSession(ctx, db, bound)
	if err != nil {
		return nil, err
	}
	return &session{Session: ms, db: db, conn: ms.Conn, id: ms.ID}, nil
}

func (s *session) exec(ctx context.Context, query string) error { return s.Exec(ctx, query) }

// kill ends the session's running statement, or with connection the whole
// session and the locks it holds.
func (s *session) kill(ctx context.Context, connection bool) error { return s.Kill(ctx, connection) }

func (s *session) close() { s.Close() }

// tableLockWait is the processlist STATE of a statement waiting for a
// table's metadata lock, in MariaDB 10.11 (seen in
// TestServerWaitingRenameRunsBeforeQueuedWriters) and MySQL alike. Other
// waits have other states ("Waiting for schema metadata lock", "Waiting for
// backup lock") and must not be taken for it: a RENAME waiting for one of
// those is not queued on the original.
const tableLockWait = "Waiting for table metadata lock"

// waitingForLock reports whether the session's current statement is stmt
// and waits for a table's metadata lock.
func (s *session) waitingForLock(ctx context.Context, stmt string) (bool, error) {
	var state, info string
	err := s.db.QueryRowContext(ctx, processSQL, s.id).Scan(&state, &info)
	if errors.Is(err, sql.ErrNoRows) {
		return false, errors.New("the connection is gone")
	}
	if err != nil {
		return false, err
	}
	return state == tableLockWait && strings.TrimSpace(info) == strings.TrimSpace(stmt), nil
}
