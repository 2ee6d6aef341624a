package native

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// session is the dedicated connection of one attempt, with its server-side
// id.
//
// Its ALTER is never cancelled by closing the connection, which is what the
// driver does when a context ends: the server would not notice until the
// statement finished on its own, so the ALTER would go on waiting for its
// lock, with the table's queries queued behind it, and might later succeed
// behind the back of a caller told it had not. It is instead interrupted
// with KILL QUERY from another connection, after which the server has
// really stopped it (as in internal/cutover).
type session struct {
	*mysql.Session
	db   *sql.DB
	conn *sql.Conn
	id   int64
	// bound is the last-resort limit of the ALTER when even KILL QUERY does
	// not end it (a server that stopped answering).
	bound time.Duration
	log   *slog.Logger
}

func openSession(ctx context.Context, db *sql.DB, bound time.Duration, log *slog.Logger) (*session, error) {
	ms, err := mysql.OpenSession(ctx, db, bound)
	if err != nil {
		return nil, fmt.Errorf("open the ALTER's connection: %w", err)
	}
	return &session{Session: ms, db: db, conn: ms.Conn, id: ms.ID, bound: bound, log: log}, nil
}

// killReason says why a statement was killed.
type killReason int

const (
	notKilled      killReason = iota
	killedOverTime            // it waited for a lock longer than its budget
	killedCanceled            // ctx ended
)

// pollInterval is how often, once the budget is spent, the processlist is
// read for the ALTER waiting for a lock.
const pollInterval = 20 * time.Millisecond

// alter runs query, the ALTER. When ctx ends, the statement is killed; when
// it waits for a lock beyond budget, it is killed too. This enforces
// budgets that are not whole seconds, which the server's lock_wait_timeout
// cannot. It returns once the statement has ended, with why it was
// killed, if it was.
func (s *session) alter(ctx context.Context, query string, budget time.Duration) (killReason, error) {
	stmtCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.bound)
	defer cancel()
	done := make(chan struct{})
	reason := make(chan killReason, 1)
	// A budget of whole seconds is the session's lock_wait_timeout, which
	// the server enforces itself; the watcher then only backs it up, a
	// little later, so that the two do not race to end the same wait.
	watchAfter := budget
	if budget%time.Second == 0 {
		watchAfter += serverTimeoutGrace
	}
	go func() { reason <- s.watch(ctx, done, watchAfter) }()
	_, err := s.conn.ExecContext(stmtCtx, query)
	close(done)
	return <-reason, err
}

// serverTimeoutGrace is how long after a whole-second lock_wait_timeout
// the watcher steps in, should the server not have ended the wait.
const serverTimeoutGrace = 300 * time.Millisecond

// watch kills the session's statement when ctx ends, or when it is seen
// waiting for a lock after budget, until done is closed.
func (s *session) watch(ctx context.Context, done <-chan struct{}, budget time.Duration) killReason {
	bg := context.WithoutCancel(ctx)
	timer := time.NewTimer(budget)
	defer timer.Stop()
	// poll stays nil, so never ready, until the budget is spent.
	var poll <-chan time.Time
	var tick *time.Ticker
	defer func() {
		if tick != nil {
			tick.Stop()
		}
	}()
	for {
		select {
		case <-done:
			return notKilled
		case <-ctx.Done():
			if err := s.kill(bg, false); err != nil {
				// The statement is left to its lock_wait_timeout and s.bound.
				s.log.Warn("could not kill the waiting ALTER; it ends with its lock wait timeout", "err", err)
			}
			return killedCanceled
		case <-timer.C:
			tick = time.NewTicker(pollInterval)
			poll = tick.C
			if s.killIfWaiting(bg) {
				return killedOverTime
			}
		case <-poll:
			if s.killIfWaiting(bg) {
				return killedOverTime
			}
		}
	}
}

// killIfWaiting kills the session's statement if it waits for a lock, and
// reports whether it did. A statement that has its lock is making the
// change, which is quick for an INSTANT one, and is let finish. When the
// processlist cannot be read, the statement is killed anyway: bounding the
// table's stall matters more, and the caller reads the outcome from the
// table's definition.
func (s *session) killIfWaiting(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	var state string
	err := s.db.QueryRowContext(ctx, processStateSQL, s.id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return false // the connection is gone; so is its wait
	}
	if err == nil && !isLockWait(state) {
		return false
	}
	if err := s.kill(ctx, false); err != nil {
		s.log.Warn("could not kill the ALTER waiting beyond the lock wait timeout; trying again", "err", err)
		return false
	}
	return true
}

// kill ends the session's running statement, or with connection the whole
// session.
func (s *session) kill(ctx context.Context, connection bool) error { return s.Kill(ctx, connection) }

// warnings reads the notes of the session's last statement. They are
// informative, so an error reading them is only logged.
func (s *session) warnings(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), adminTimeout)
	defer cancel()
	rows, err := s.conn.QueryContext(ctx, "SHOW WARNINGS")
	if err != nil {
		s.log.Debug("could not read the ALTER's warnings", "err", err)
		return nil
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var level, msg string
		var code int
		if err := rows.Scan(&level, &code, &msg); err != nil {
			s.log.Debug("could not read the ALTER's warnings", "err", err)
			return out
		}
		out = append(out, fmt.Sprintf("%s %d: %s", level, code, msg))
	}
	return out
}

// close hands the connection back for disposal: it carries a short
// lock_wait_timeout.
func (s *session) close() { s.Close() }
