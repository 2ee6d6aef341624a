package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/rowcopy"
)

// Transient faults
//
// A lost connection (a session killed with KILL, a network cut, a server
// restart) does not end a migration. The work it interrupted is done again,
// with backoff (mysql.Retry), for as long as the server stays unreachable,
// up to Config.ReconnectTimeout; after that the run stops with a
// KindConnect error wrapping *mysql.UnreachableError. Only work that gives
// the same result when done twice is retried, since a connection lost
// during a COMMIT leaves unknown whether the transaction committed:
//
//   - a chunk's copy deletes the chunk's range from the shadow and copies it
//     again under shared locks, which is correct at any moment (the
//     argument of rowcopy.Copier; the checksum's re-copy relies on it too);
//   - finding the next chunk's boundary only reads;
//   - the applier's batch deletes every key it touches and inserts their
//     final images in one transaction; done again, before any later batch
//     (the applier is sequential), it leaves the same rows;
//   - the binary log reader reconnects at the end of the last whole group it
//     read (capture.Reader.Run), so no change is lost or sent twice;
//   - the checksum only reads, and re-copies chunks as above; it starts its
//     pass again.
//
// The migration lock is the exception: a named lock belongs to its session,
// and losing the session loses the lock, after which a second tailor may
// have started on the table (Runner.watchLock). That is still how a lost
// lock session ends a run, except when the server restarted: a restart
// ended every session, and the lock is taken again (recoverLock).

// retry is the policy for work that lost its connection.
func (r *Runner) retry() mysql.Retry {
	return mysql.Retry{Timeout: r.cfg.ReconnectTimeout, Logger: r.log, OnRetry: r.metrics.AddRetry}
}

// copyChunk copies chunk, again after a lost connection, and says how long
// the copy that succeeded took (the chunk sizer's measure must not include
// an outage).
func (r *Runner) copyChunk(ctx context.Context, copier *rowcopy.Copier, chunk rowcopy.Chunk) (n int64, took time.Duration, err error) {
	err = r.retry().Do(ctx, "copy", func(ctx context.Context) error {
		started := time.Now()
		n, err = copier.Copy(ctx, chunk)
		took = time.Since(started)
		return err
	}, "chunk", chunk.String())
	return n, took, err
}

// nextChunk is chunker.Next, again after a lost connection: Next moves on
// only when it returns a chunk.
func (r *Runner) nextChunk(ctx context.Context, chunker *rowcopy.Chunker) (chunk rowcopy.Chunk, ok bool, err error) {
	err = r.retry().Do(ctx, "chunk-boundary", func(ctx context.Context) error {
		chunk, ok, err = chunker.Next(ctx)
		return err
	})
	return chunk, ok, err
}

// errNotRestarted is a lost lock session on a server that did not restart.
var errNotRestarted = errors.New("the server did not restart")

// recoverLock is called when the migration lock's session was lost (lost
// is checkLock's error). When the server restarted meanwhile, it takes the
// lock again on a new session and returns nil; it waits for a server that
// is still away, up to the reconnect timeout. Otherwise the session was
// killed or cut off on a server that kept running, where a second tailor
// may have found the lock free, and it returns lost.
//
// After a restart the lock can only have been taken by someone else
// between the server's return and the GET_LOCK below, which comes within
// the retry's backoff (at most two seconds) of it. A second tailor that
// took it then holds it still (a run holds its lock throughout), and the
// GET_LOCK fails, or it refused to start (the shadow exists), or it
// dropped the shadow (with --initially-drop-ghost-table), and this run's
// next write into it fails. Writes of the copy or the applier that reached
// the server before the lock was taken again can only have gone into this
// run's shadow, for the same reason.
func (r *Runner) recoverLock(ctx context.Context, lost error) error {
	retry := r.retry()
	var o mysql.Outage
	err := errors.Unwrap(lost) // the lock session's own error, for the log
	if err == nil {
		err = lost
	}
	for {
		if werr := retry.Wait(ctx, &o, "migration-lock", err); werr != nil {
			return werr
		}
		err = r.retakeLock(ctx)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errNotRestarted):
			return lost
		case !mysql.IsConnectionLost(err):
			return err
		}
	}
}

// retakeLock takes the migration lock on a new session if the server
// restarted since the lock was taken.
//
// The server's Uptime tells: on a server that kept running it is at least
// the time since the lock was taken, by tailor's clock, measured before
// the query. Uptime counts whole seconds, so a restart within a second of
// taking the lock goes unseen, and ends the run as a lost lock does.
func (r *Runner) retakeLock(ctx context.Context) error {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return err
	}
	asked := time.Now()
	uptime, err := serverUptime(ctx, conn)
	if err != nil {
		conn.Close()
		return err
	}
	if uptime+time.Second > asked.Sub(r.lockTakenAt) {
		conn.Close()
		return errNotRestarted
	}
	name := lockName(r.cfg.Database, r.cfg.Table)
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", name).Scan(&got); err != nil {
		conn.Close()
		return fmt.Errorf("take the migration lock again: %w", err)
	}
	if got.Int64 != 1 {
		conn.Close()
		return fmt.Errorf("the server restarted, and another session took the migration lock of %s.%s before this run could take it again; stopping so that no second tailor can work on the table at the same time", r.cfg.Database, r.cfg.Table)
	}
	r.lockMu.Lock()
	old := r.lockConn
	r.lockConn, r.lockTakenAt = conn, time.Now()
	r.lockMu.Unlock()
	old.Close()
	r.log.Warn("the server restarted; the migration lock is held again", "uptime", uptime.String())
	return nil
}

// serverUptime is the server's Uptime, in whole seconds.
func serverUptime(ctx context.Context, conn *sql.Conn) (time.Duration, error) {
	var name, value string
	if err := conn.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Uptime'").Scan(&name, &value); err != nil {
		return 0, fmt.Errorf("read the server's uptime: %w", err)
	}
	secs, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read the server's uptime: %q is not a number of seconds", value)
	}
	return time.Duration(secs) * time.Second, nil
}

// unreachable is the error of a run that gave up on a server it could not
// reach for ReconnectTimeout. Nothing is cleaned up: the server may not
// answer, the lock's session is gone, and what the run made is left as it
// was.
func (r *Runner) unreachable(gone *mysql.UnreachableError, phase Phase) error {
	left := fmt.Sprintf("%s is untouched", mysql.QuoteIdent(r.cfg.Table))
	switch {
	case r.saved.rec != nil:
		// The server is away: the state saved last is what a resume
		// starts from.
		left += fmt.Sprintf("; the copy %s is kept as of its last checkpoint: --resume continues it once the server is back, --initially-drop-ghost-table starts over", mysql.QuoteIdent(r.shadow))
	case r.run.shadowCreated:
		left += fmt.Sprintf(", and the shadow table %s was left as it was: drop it, or start again with --initially-drop-ghost-table", mysql.QuoteTable(r.cfg.Database, r.shadow))
	}
	return &Error{Kind: KindConnect, Err: &unreachableError{gone: gone, msg: fmt.Sprintf(
		"the server at %s was unreachable for %s, longer than --reconnect-timeout, during %s (the %s's last error: %v); %s",
		r.cfg.Conn.Addr(), gone.For.Round(time.Second), phase, gone.What, gone.Err, left)}}
}

// unreachableError is the message of a run given up on an unreachable
// server; it wraps the *mysql.UnreachableError, which tells it from a
// server that could not be reached at the start.
type unreachableError struct {
	msg  string
	gone *mysql.UnreachableError
}

func (e *unreachableError) Error() string { return e.msg }
func (e *unreachableError) Unwrap() error { return e.gone }
