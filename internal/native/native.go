// Package native makes a change the server can do INSTANT with the server's
// own ALTER TABLE ... ALGORITHM=INSTANT, without ever holding the table's
// other queries queued for longer than a configured time.
//
// Even an INSTANT ALTER needs the table's exclusive metadata lock for a
// moment. While it waits for that lock (behind an open transaction that used
// the table, a long query, another DDL), every later query of the table
// queues behind the waiting request, because a pending exclusive metadata
// lock is granted before new shared ones (MariaDB 10.11 and MySQL alike;
// TestInstantDoesNotStallReaders measures it). Waiting out a long
// transaction that way is an outage. So Instant lets each attempt wait at
// most Config.LockWaitTimeout, then gives up, lets the queue drain during a
// growing pause, and tries again, a bounded number of times.
package native

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// Defaults of the zero fields of Config. DefaultLockWaitTimeout and
// DefaultAttempts are those of --instant-lock-timeout-seconds and
// --instant-attempts.
const (
	DefaultLockWaitTimeout = 2 * time.Second
	DefaultAttempts        = 10
	DefaultBackoff         = time.Second
	DefaultMaxBackoff      = 30 * time.Second
)

// maxLockWaitTimeout is the longest LockWaitTimeout accepted: a longer one
// is almost certainly a unit mistake, and would stall the table for as long.
const maxLockWaitTimeout = time.Hour

// Config describes one native change.
type Config struct {
	// Database and Table name the table to change.
	Database, Table string
	// Clauses are the user's ALTER clauses (ddl.Alter.Clauses). They may end
	// in a "--" comment; ALGORITHM=INSTANT is appended on a new line.
	Clauses string
	// TimeZone is the time zone the ALTER runs in (schema.Mapping.TimeZone:
	// the server's @@global.time_zone, or --time-zone), as the user's own
	// session would run it: a column added with DEFAULT CURRENT_TIMESTAMP
	// to a DATETIME fills the existing rows with the clock time there.
	// Empty keeps the session's (tailor's sessions run in +00:00).
	TimeZone string
	// LockWaitTimeout bounds how long one attempt may wait for the table's
	// metadata lock, and so how long other sessions can be queued behind the
	// ALTER. Zero means DefaultLockWaitTimeout. The server's
	// lock_wait_timeout takes whole seconds only (MariaDB 10.11 and MySQL
	// answer error 1232 to "0.5"; MariaDB's "ALTER TABLE t WAIT 0.5" is read
	// as WAIT 0), so it is set to LockWaitTimeout rounded up and a
	// LockWaitTimeout that is not whole seconds is enforced by killing the
	// waiting ALTER.
	LockWaitTimeout time.Duration
	// Attempts is how many times the change is tried, postponed attempts
	// included. Zero means DefaultAttempts.
	Attempts int
	// Backoff is the pause after the first failed or postponed attempt; it
	// doubles after each one, up to MaxBackoff. The pauses let the queries
	// that queued behind a waiting ALTER drain, and the long transaction
	// end. A zero Backoff means DefaultBackoff; a zero MaxBackoff means
	// DefaultMaxBackoff, or Backoff if that is longer.
	Backoff, MaxBackoff time.Duration
	// Blockers, when set, is asked before each attempt whether a session
	// holds a lock that would make the ALTER wait. When it returns
	// descriptions of such sessions, the attempt is postponed without
	// issuing the ALTER, and the descriptions go to the log and to the final
	// error. An error from Blockers is logged and the attempt made anyway:
	// the ALTER's own wait is bounded, Blockers only spares the table a
	// stall that is known to be useless.
	Blockers func(ctx context.Context) ([]string, error)
	// Logger receives a Warn for each failed or postponed attempt; nil
	// discards them. The caller is expected to have added the table to it.
	Logger *slog.Logger
}

// withDefaults fills the zero fields of c.
func (c Config) withDefaults() Config {
	if c.LockWaitTimeout == 0 {
		c.LockWaitTimeout = DefaultLockWaitTimeout
	}
	if c.Attempts == 0 {
		c.Attempts = DefaultAttempts
	}
	if c.Backoff == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = max(DefaultMaxBackoff, c.Backoff)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports a Config (with its defaults filled) that cannot describe
// a change.
func (c Config) Validate() error {
	var errs []error
	if c.Database == "" || c.Table == "" {
		errs = append(errs, errors.New("native change: the database and the table must be set"))
	}
	if strings.TrimSpace(c.Clauses) == "" {
		errs = append(errs, errors.New("native change: no ALTER clauses"))
	}
	if c.LockWaitTimeout < 0 || c.LockWaitTimeout > maxLockWaitTimeout {
		errs = append(errs, fmt.Errorf("native change: the lock wait timeout must be between 0 and %s, not %s", maxLockWaitTimeout, c.LockWaitTimeout))
	}
	if c.Attempts < 0 {
		errs = append(errs, fmt.Errorf("native change: the number of attempts must be at least 1, not %d", c.Attempts))
	}
	if c.Backoff < 0 || c.MaxBackoff < c.Backoff {
		errs = append(errs, fmt.Errorf("native change: the backoff (%s) must not be negative nor above the maximum backoff (%s)", c.Backoff, c.MaxBackoff))
	}
	return errors.Join(errs...)
}

// lockWaitSeconds is LockWaitTimeout as the whole seconds lock_wait_timeout
// takes, rounded up, at least 1: MariaDB takes 0 as "do not wait at all"
// (which a busy table's every short query would defeat), MySQL refuses it.
func (c Config) lockWaitSeconds() int {
	return max(1, int((c.LockWaitTimeout+time.Second-1)/time.Second))
}

// backoff is the pause after the n-th failed or postponed attempt (n >= 1).
func (c Config) backoff(n int) time.Duration {
	d := c.Backoff
	for i := 1; i < n && d < c.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff)
}

// Result describes a change that was made.
type Result struct {
	// Attempts counts the attempts, postponed ones included; the last one
	// made the change.
	Attempts int
	// Postponed counts the attempts in which Blockers reported a blocker and
	// no ALTER was issued.
	Postponed int
	// Elapsed is the time Instant took.
	Elapsed time.Duration
	// Warnings are the notes the server returned with the ALTER (SHOW
	// WARNINGS), such as a column that ADD COLUMN IF NOT EXISTS skipped.
	Warnings []string
}

// ErrNotInstant is wrapped by the error of a change the server refused to
// make INSTANT (errors 1845 and 1846). The caller judged the change instant
// on an empty clone, but the real table may differ. Nothing was changed.
var ErrNotInstant = errors.New("the server cannot make the change INSTANT")

// ErrLockNotGranted is wrapped by the *LockError of a change that was not
// made because another session held a lock on the table in every attempt.
var ErrLockNotGranted = errors.New("the table's metadata lock was not granted")

// LockError is a change that was not made because another session held a
// lock on the table through every attempt. The table is unchanged and
// nothing is left queued on it.
type LockError struct {
	Database, Table string
	Attempts        int
	LockWaitTimeout time.Duration
	// Blockers are the sessions Config.Blockers last reported, if any.
	Blockers []string
	// Err is the last attempt's error (1205, 1213, or 1317 after a KILL
	// enforced LockWaitTimeout); nil when the last attempt was postponed.
	Err error
}

func (e *LockError) Error() string {
	by := ""
	if len(e.Blockers) > 0 {
		by = " (" + strings.Join(e.Blockers, "; ") + ")"
	}
	return fmt.Sprintf("the change to %s was not made because another session%s held a lock on the table through all %d attempts of up to %s each; find and end that session's long transaction or query, or run tailor again later",
		mysql.QuoteTable(e.Database, e.Table), by, e.Attempts, e.LockWaitTimeout)
}

// Unwrap returns ErrLockNotGranted and the last attempt's error.
func (e *LockError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrLockNotGranted}
	}
	return []error{ErrLockNotGranted, e.Err}
}

// Instant makes cfg's change with ALTER TABLE ... ALGORITHM=INSTANT.
//
// The ALTER is always INSTANT: a server that cannot make it so answers an
// error wrapping ErrNotInstant. One kind of change still turns into a copy:
// MariaDB 10.11 accepts a change of storage engine with ALGORITHM=INSTANT
// and copies the table. Instant cannot know the change beforehand (the
// caller's plan refuses it), but it never reports such a change as made
// INSTANT: when the table's engine or row format changed, it answers an
// error wrapping ErrRebuilt.
//
// Each attempt runs on a dedicated connection and waits for the lock
// at most cfg.LockWaitTimeout; an attempt that times out (error 1205, or
// 1213 when the server picked the ALTER as a deadlock's victim) is retried
// after a pause, up to cfg.Attempts times, after which the error is a
// *LockError. When ctx ends, a waiting ALTER is killed on the server
// (KILL QUERY from another connection, so that nothing stays queued on the
// table) and the error wraps context.Cause(ctx), unless the ALTER had
// already made the change, which is then reported as made. On every error
// but ErrRebuilt the table is unchanged; when the outcome of a killed or
// lost ALTER cannot be told, the error says so.
//
// Success is the server's OK: an ALTER is one atomic DDL statement (MariaDB
// 10.6+, MySQL 8.0), so OK means the change is committed. Comparing the
// table with the intended definition is the caller's, who has it; Instant
// only compares the definition before and after when the outcome of a
// killed ALTER is otherwise unknown. db must allow two connections: the
// ALTER's and the one that kills it.
func Instant(ctx context.Context, db *sql.DB, cfg Config) (Result, error) {
	start := time.Now()
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	c := &change{cfg: cfg, db: db, table: mysql.QuoteTable(cfg.Database, cfg.Table)}
	var err error
	if c.before, err = readDefinition(ctx, db, cfg.Database, cfg.Table); err != nil {
		return Result{}, c.stopped(ctx, fmt.Errorf("read the definition of %s before changing it: %w", c.table, err))
	}
	if c.storage, err = readStorage(ctx, db, cfg.Database, cfg.Table); err != nil {
		return Result{}, c.stopped(ctx, fmt.Errorf("read the storage engine of %s before changing it: %w", c.table, err))
	}
	var res Result
	var blockers []string
	var last error
	for n := 1; n <= cfg.Attempts; n++ {
		res.Attempts = n
		if n > 1 {
			if err := mysql.Backoff(ctx, cfg.backoff(n-1)); err != nil {
				return res, c.stopped(ctx, err)
			}
		}
		if b := c.blockers(ctx, n); len(b) > 0 {
			blockers, last = b, nil
			res.Postponed++
			continue
		}
		if ctx.Err() != nil {
			return res, c.stopped(ctx, ctx.Err())
		}
		warnings, waitErr, err := c.attempt(ctx)
		if err != nil {
			return res, err
		}
		if waitErr == nil {
			res.Warnings, res.Elapsed = warnings, time.Since(start)
			if err := c.checkNotRebuilt(ctx); err != nil {
				return res, err
			}
			cfg.Logger.Info("change made INSTANT", "attempts", n, "elapsed", res.Elapsed.String())
			return res, nil
		}
		last = waitErr
		cfg.Logger.Warn("INSTANT change gave up waiting for the table's lock; another session holds it",
			"attempt", n, "attempts", cfg.Attempts, "lock_wait_timeout", cfg.LockWaitTimeout.String(), "err", waitErr)
	}
	if last != nil && cfg.Blockers != nil {
		// Who blocked the last ALTER may be someone the check before it
		// missed; the final error names the freshest answer.
		if b, err := cfg.Blockers(ctx); err == nil && len(b) > 0 {
			blockers = b
		}
	}
	return res, &LockError{Database: cfg.Database, Table: cfg.Table, Attempts: cfg.Attempts,
		LockWaitTimeout: cfg.LockWaitTimeout, Blockers: blockers, Err: last}
}

// ErrRebuilt is wrapped by the error of a change that the server accepted
// with ALGORITHM=INSTANT and then made by rebuilding the table: MariaDB
// 10.11 does so for a change of storage engine ("ENGINE=MyISAM,
// ALGORITHM=INSTANT" copies the table with writes blocked). The change was
// made. Callers are expected to refuse such a change before (package plan
// does); this is the last word on what happened.
var ErrRebuilt = errors.New("the server rebuilt the table for a change it accepted as INSTANT")

// change is the state of one Instant.
type change struct {
	cfg     Config
	db      *sql.DB
	table   string  // quoted, for messages
	before  string  // the table's definition before the change
	storage storage // the table's engine and row format before the change
}

// checkNotRebuilt compares the table's storage engine and row format with
// those before the change, which an INSTANT change cannot alter: only a
// rebuild writes the rows anew in another engine or format.
func (c *change) checkNotRebuilt(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), adminTimeout)
	defer cancel()
	after, err := readStorage(ctx, c.db, c.cfg.Database, c.cfg.Table)
	if err != nil {
		return fmt.Errorf("the change to %s was made, but reading its storage engine afterwards failed: %w", c.table, err)
	}
	if c.storage.same(after) {
		return nil
	}
	return fmt.Errorf("%w: the change to %s was made, but by copying the whole table with writes blocked, and the table went from engine %s, row format %s, to engine %s, row format %s",
		ErrRebuilt, c.table, c.storage.engine, c.storage.rowFormat, after.engine, after.rowFormat)
}

// blockers asks cfg.Blockers, if set, for the sessions that would make
// attempt n wait, and logs a postponement.
func (c *change) blockers(ctx context.Context, n int) []string {
	if c.cfg.Blockers == nil {
		return nil
	}
	b, err := c.cfg.Blockers(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.cfg.Logger.Warn("could not look for sessions blocking the INSTANT change; trying it anyway", "attempt", n, "err", err)
		}
		return nil
	}
	if len(b) > 0 {
		c.cfg.Logger.Warn("INSTANT change postponed: sessions hold a lock on the table",
			"attempt", n, "attempts", c.cfg.Attempts, "blockers", b)
	}
	return b
}

// stopped is the error of a change given up before it was made: because
// ctx ended (wrapping its cause) or because of err.
func (c *change) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("the change to %s was not made, the table is unchanged: %w", c.table, context.Cause(ctx))
	}
	return err
}
