package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// adminTimeout bounds the bookkeeping statements (UNLOCK, COMMIT, KILL),
// which must not hang a verify that is giving up, even when its context is
// already cancelled.
const adminTimeout = 5 * time.Second

// errQueryInterrupted is the server's answer to KILL QUERY of a statement.
const errQueryInterrupted = 1317

// retryable marks a snapshot attempt that gave up and left writes flowing,
// and that a later attempt may get through.
type retryable struct{ err error }

func (e *retryable) Error() string { return e.err.Error() }
func (e *retryable) Unwrap() error { return e.err }

// snapshotter takes consistent snapshots of the original and the shadow:
// it holds writes to the original (LOCK TABLES ... READ on one connection),
// lets CatchUp apply every change committed to it, starts a transaction
// WITH CONSISTENT SNAPSHOT on each of the snapshot sessions, and lets
// writes go.
type snapshotter struct {
	db    *sql.DB
	table string // the original, quoted
	cfg   Config
	log   *slog.Logger

	lock *session
	// snaps are the snapshot sessions, opened as needed; the first active
	// of them have a snapshot open, taken at taken.
	snaps  []*session
	active int
	taken  time.Time

	count   int
	held    time.Duration
	maxHeld time.Duration
}

// take ends the open snapshots, if any, and starts new ones on n sessions
// under one hold of the writers, trying up to LockAttempts times with a
// growing pause between attempts.
func (s *snapshotter) take(ctx context.Context, n int) error {
	if err := s.end(ctx); err != nil {
		return err
	}
	var last error
	for attempt := 1; attempt <= s.cfg.LockAttempts; attempt++ {
		err := s.attempt(ctx, n)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var r *retryable
		if !errors.As(err, &r) {
			return err
		}
		last = err
		if attempt == s.cfg.LockAttempts {
			break
		}
		pause := time.Duration(attempt) * 250 * time.Millisecond
		s.log.Warn("could not take a consistent snapshot; writes flow again and the attempt is repeated",
			"attempt", attempt, "attempts", s.cfg.LockAttempts, "retry_in", pause.String(), "err", err)
		if err := mysql.Backoff(ctx, pause); err != nil {
			return err
		}
	}
	return fmt.Errorf("could not take a consistent snapshot of %s in %d attempts: %w", s.table, s.cfg.LockAttempts, last)
}

// attempt takes one set of n snapshots, holding writers for at most
// LockTimeout (plus the few milliseconds of starting the transactions and
// unlocking).
func (s *snapshotter) attempt(ctx context.Context, n int) error {
	// Most of the backlog is applied while writes flow, so that the hold
	// covers only the changes of its last moments.
	if err := s.settle(ctx); err != nil {
		return fmt.Errorf("apply the captured changes before the snapshot: %w", err)
	}
	if err := s.connect(ctx, n); err != nil {
		return err
	}
	if err := s.boundHold(ctx); err != nil {
		return err
	}
	holdCtx, cancel := context.WithTimeout(ctx, s.cfg.LockTimeout)
	defer cancel()
	// Writers are counted as held from the LOCK TABLES request: MySQL
	// queues them behind a waiting read lock (MariaDB 10.11 lets them
	// pass until it is granted, so there this is an upper bound).
	requested := time.Now()
	unlocked := true
	release := func() time.Duration {
		unlocked = s.unlock()
		held := time.Since(requested)
		s.held += held
		s.maxHeld = max(s.maxHeld, held)
		return held
	}
	if err := s.lock.exec(holdCtx, "LOCK TABLES "+s.table+" READ"); err != nil {
		release()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if holdCtx.Err() != nil || mysql.IsRetryable(err) || mysql.ErrorNumber(err) == errQueryInterrupted {
			// The server's error says only that the wait was cut short.
			return &retryable{fmt.Errorf("the read lock was not granted within %s because another session holds a lock on the table (an open transaction that wrote to it, a long query or DDL)",
				s.cfg.LockTimeout)}
		}
		return fmt.Errorf("lock %s for reading: %w", s.table, err)
	}
	granted := time.Now()
	if err := s.catchUp(holdCtx); err != nil {
		release()
		if ctx.Err() == nil && holdCtx.Err() != nil {
			return &retryable{fmt.Errorf("the captured changes were not all applied within %s while writes were held: %w", s.cfg.LockTimeout, err)}
		}
		return fmt.Errorf("apply the captured changes while writes were held: %w", err)
	}
	caughtUp := time.Now()
	// The snapshots must begin before UNLOCK: from then on writes commit
	// to the original that the shadow has not received yet. Until then
	// nothing commits to either table (the applier writes the shadow only
	// for changes of the original, and has applied them all), so every
	// session's snapshot sees the same state of both.
	var beginErr error
	for i, snap := range s.snaps[:n] {
		if beginErr = snap.execBounded(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); beginErr != nil {
			// A session in an unknown state is not used again.
			snap.close()
			s.snaps = slices.Delete(s.snaps, i, i+1)
			break
		}
		s.active = i + 1
	}
	held := release()
	if beginErr != nil {
		_ = s.end(context.WithoutCancel(ctx))
		return fmt.Errorf("start a consistent snapshot: %w", beginErr)
	}
	if !unlocked {
		// The lock may have gone before the snapshots began: the server
		// closes a lock session its client leaves idle past the hold's
		// bound (boundHold), and writes then flowed into the original
		// that the shadow may not have had at the snapshot.
		_ = s.end(context.WithoutCancel(ctx))
		return &retryable{errors.New("the read lock's connection was lost while the snapshot was taken, so the snapshot may not be consistent")}
	}
	s.count++
	s.taken = time.Now()
	s.log.Info("took a consistent snapshot", "snapshot", s.count, "sessions", n,
		"writes_held", held.Round(time.Microsecond).String(),
		"lock_wait", granted.Sub(requested).Round(time.Microsecond).String(),
		"catch_up", caughtUp.Sub(granted).Round(time.Microsecond).String())
	return nil
}

func (s *snapshotter) settle(ctx context.Context) error {
	if s.cfg.Settle == nil {
		return s.catchUp(ctx)
	}
	return s.cfg.Settle(ctx)
}

func (s *snapshotter) catchUp(ctx context.Context) error {
	if s.cfg.CatchUp == nil {
		return nil
	}
	return s.cfg.CatchUp(ctx)
}

// connect makes sure the lock session and n snapshot sessions exist and
// carry their settings.
func (s *snapshotter) connect(ctx context.Context, n int) error {
	if s.lock == nil {
		lock, err := openSession(ctx, s.db, s.cfg.LockTimeout+adminTimeout)
		if err != nil {
			return fmt.Errorf("open the lock connection: %w", err)
		}
		// lock_wait_timeout takes whole seconds; the exact bound is kept by
		// killing the waiting LOCK TABLES (session.exec).
		secs := max(1, int(math.Ceil(s.cfg.LockTimeout.Seconds())))
		if err := lock.execBounded(ctx, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", secs)); err != nil {
			lock.close()
			return fmt.Errorf("set up the lock connection: %w", err)
		}
		s.lock = lock
	}
	for len(s.snaps) < n {
		snap, err := openSession(ctx, s.db, 0)
		if err != nil {
			return fmt.Errorf("open a snapshot connection: %w", err)
		}
		if err := snap.execBounded(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			snap.close()
			return fmt.Errorf("set up a snapshot connection: %w", err)
		}
		s.snaps = append(s.snaps, snap)
	}
	return nil
}

// holdMargin is how many seconds longer than LockTimeout the lock session
// may sit idle before the server closes it (boundHold): the hold itself
// ends within LockTimeout, plus the milliseconds of starting the snapshots.
const holdMargin = 1

// boundHold makes the server end the hold that follows by itself if this
// process stops talking to the lock session while it holds the read lock
// (SIGSTOP, a paused VM, a lost network): the session's wait_timeout closes
// it after LockTimeout and holdMargin seconds without a statement, which
// releases its lock, as the cut-over's lock session does. Snapshots come as
// often as every second during the copy (the check behind the copy), so
// without a bound a frozen tailor would hold the application's writes
// forever. unlock puts the server's default back, for the session's idle
// time between holds. A lock session the server has closed after such a
// freeze is replaced.
func (s *snapshotter) boundHold(ctx context.Context) error {
	q := fmt.Sprintf("SET SESSION wait_timeout = %d", max(1, int(math.Ceil(s.cfg.LockTimeout.Seconds())))+holdMargin)
	err := s.lock.execBounded(ctx, q)
	if err == nil || !mysql.IsConnectionLost(err) {
		return err
	}
	s.lock.close()
	s.lock = nil
	if err := s.connect(ctx, 0); err != nil {
		return err
	}
	return s.lock.execBounded(ctx, q)
}

// unlock releases the read lock and reports whether it held it until then.
// When UNLOCK TABLES fails, the connection is dropped instead: the server
// releases a session's locks when it ends.
func (s *snapshotter) unlock() bool {
	if s.lock == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if _, err := s.lock.conn.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		s.log.Warn("could not unlock; closing the lock connection instead", "err", err)
		s.lock.close()
		s.lock = nil
		return false
	}
	// Idle between holds for as long as the server lets any session.
	if _, err := s.lock.conn.ExecContext(ctx, "SET SESSION wait_timeout = @@GLOBAL.wait_timeout"); err != nil {
		s.lock.close()
		s.lock = nil
	}
	return true
}

// end closes the open snapshots, if any. A session whose COMMIT fails is
// killed on the server and dropped: its connection was most likely cut by
// a cancelled query, which the server goes on running, snapshot open, until
// it has a result to send (a whole table's checksum, for one).
func (s *snapshotter) end(ctx context.Context) error {
	var first error
	kept := s.snaps[:0]
	for i, snap := range s.snaps {
		if i < s.active {
			if err := snap.execBounded(ctx, "COMMIT"); err != nil {
				_ = snap.Kill(context.WithoutCancel(ctx), true)
				snap.close()
				if first == nil {
					first = err
				}
				continue
			}
		}
		kept = append(kept, snap)
	}
	clear(s.snaps[len(kept):])
	s.snaps, s.active = kept, 0
	switch {
	case first == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("end the snapshot: %w", first)
}

// age is how long the open snapshots have been open.
func (s *snapshotter) age() time.Duration { return time.Since(s.taken) }

// close ends everything: the snapshots, the lock, all connections.
func (s *snapshotter) close() {
	if s.lock != nil {
		s.unlock()
		if s.lock != nil {
			s.lock.close()
		}
	}
	// End the transactions before dropping the connections: the server
	// releases a snapshot's metadata locks on both tables only when it
	// gets to the disconnect, and the cut-over that follows must not find
	// the shadow still held.
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	_ = s.end(ctx)
	cancel()
	for _, snap := range s.snaps {
		snap.close()
	}
	s.lock, s.snaps, s.active = nil, nil, 0
}

// session is a mysql.Session of the checksum: a waiting LOCK TABLES is
// killed on the server, never abandoned, when the context ends (see
// mysql.Session for why). A bound of 0 means none.
type session struct {
	*mysql.Session
	conn *sql.Conn
	id   int64
}

func openSession(ctx context.Context, db *sql.DB, bound time.Duration) (*session, error) {
	ms, err := mysql.OpenSession(ctx, db, bound)
	if err != nil {
		return nil, err
	}
	return &session{Session: ms, conn: ms.Conn, id: ms.ID}, nil
}

func (s *session) exec(ctx context.Context, query string) error { return s.Exec(ctx, query) }

// execBounded runs a statement that does not wait for locks, with ctx as
// the driver uses it.
func (s *session) execBounded(ctx context.Context, query string) error {
	_, err := s.conn.ExecContext(ctx, query)
	return err
}

func (s *session) close() { s.Close() }
