// Package cutover swaps the original table and its shadow in one atomic
// RENAME TABLE, so that no query ever finds the table missing, while the
// writers to the original are held for at most a configured time. The
// original is kept under another name (_<table>_old).
//
// Swap performs one attempt; an attempt that fails leaves the original
// serving under its name and nothing behind, and IsRetryable says whether
// another attempt may succeed. Retrying with backoff is the caller's job.
package cutover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// DefaultLockTimeout is the LockTimeout used when Config leaves it zero; it
// is the default of --cut-over-lock-timeout-seconds.
const DefaultLockTimeout = 3 * time.Second

// Config describes one swap.
type Config struct {
	// Database holds all three tables.
	Database string
	// Table is the original; Shadow is the table with the new schema that
	// takes its name; Old is the name the original gets (e.g. "_orders_old").
	Table, Shadow, Old string
	// LockTimeout bounds how long writers of Table may be held by one
	// attempt: from the moment the write lock is requested until the swap is
	// done or the attempt gives up, plus at most a second (renameGrace)
	// when the RENAME has to wait for a session holding the shadow after
	// it took the original. Zero means DefaultLockTimeout. The
	// server's lock_wait_timeout has a granularity of one second, so it is
	// set to LockTimeout rounded up and the exact bound is enforced by
	// killing the waiting statement.
	LockTimeout time.Duration
	// Triggers are the original's triggers, as schema.LoadTriggers returned
	// them, to move to the new table at the cut-over (--recreate-triggers):
	// after the catch-up and before the RENAME, under the lock, they are
	// dropped from the original and created on the shadow; see triggers.go.
	// Whether or not it is empty, the attempt checks under the lock that the
	// original has exactly these triggers, and refuses to swap otherwise
	// (ErrTriggersChanged): a trigger not moved would stay behind on the old
	// table. An attempt that fails after moving them puts them back before
	// it releases the writers, which may hold them a few milliseconds past
	// LockTimeout.
	Triggers []schema.Trigger
	// Owner names the run the attempt belongs to (for example a run id);
	// it goes into the sentry's comment, so that a failed attempt drops
	// only the sentry it made, never another run's.
	Owner string
	// Logger receives the steps of the swap (at Debug level, and a Warn
	// when an attempt that was giving up finds the swap done); nil discards
	// them. The caller is expected to have added the table to it.
	Logger *slog.Logger
}

// Validate reports a Config that cannot describe a swap.
func (c Config) Validate() error {
	switch {
	case c.Database == "":
		return errors.New("cut-over: no database")
	case c.Table == "" || c.Shadow == "" || c.Old == "":
		return errors.New("cut-over: the table, shadow and old names must all be set")
	case c.Table == c.Shadow || c.Table == c.Old || c.Shadow == c.Old:
		return fmt.Errorf("cut-over: the table (%q), shadow (%q) and old (%q) names must differ", c.Table, c.Shadow, c.Old)
	case c.LockTimeout < 0:
		return fmt.Errorf("cut-over: negative lock timeout %s", c.LockTimeout)
	case !SortsAfter(c.Shadow, c.Table) || !SortsAfter(c.Old, c.Table):
		// See swapWithSentry: a RENAME that must lock a name sorting
		// before the original's can wait there, not on the original.
		return fmt.Errorf("cut-over: the shadow (%q) and old (%q) names must sort after the table's (%q) in the server's lock order; make them with NameAfter", c.Shadow, c.Old, c.Table)
	}
	seen := map[string]bool{}
	for _, t := range c.Triggers {
		switch {
		case t.Database != c.Database || t.Table != c.Table:
			return fmt.Errorf("cut-over: trigger %s is on %s, not on the table being swapped", mysql.QuoteIdent(t.Name), mysql.QuoteTable(t.Database, t.Table))
		case seen[t.Name]:
			return fmt.Errorf("cut-over: trigger %s is listed twice", mysql.QuoteIdent(t.Name))
		}
		seen[t.Name] = true
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.LockTimeout == 0 {
		c.LockTimeout = DefaultLockTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// lockWaitSeconds is LockTimeout as the whole seconds lock_wait_timeout
// takes (MariaDB and MySQL accept integers only), rounded up, at least 1:
// 0 would mean "do not wait at all" to the server.
func (c Config) lockWaitSeconds() int {
	return max(1, int(math.Ceil(c.LockTimeout.Seconds())))
}

// CatchUp is called while the original is write-locked. It must return nil
// once every change committed to the original before the lock is applied to
// the shadow, or an error (then the cut-over gives up cleanly). ctx carries
// the deadline of the lock. CatchUp runs before the RENAME is issued, so
// the shadow is not locked and may be written from any connection.
//
// A nil CatchUp means there is nothing to wait for (the shadow is kept in
// step inside the original's own transactions).
type CatchUp func(ctx context.Context) error

// Result describes a successful swap.
type Result struct {
	// LockHeld is how long writers were held: from the moment the write
	// lock was requested (writers queue behind a pending LOCK TABLES ...
	// WRITE) until the RENAME was done. The RENAME takes the original as
	// A's lock goes, ahead of the writers, and holds it until it returns
	// (also while it waits for a session holding the shadow, see
	// swapWithSentry), so its return is when the writers go on.
	LockHeld time.Duration
	// Rename is the RENAME TABLE statement that swapped the tables, as
	// the session sent it and so as the binary log has it.
	Rename string
}

// Swap performs one attempt at swapping cfg.Table and cfg.Shadow. On
// success the original is named cfg.Old and the shadow cfg.Table. On
// failure the original still serves under its name, with its triggers,
// nothing is left behind (no sentry table, no held lock, no pending RENAME,
// no trigger on the shadow), and the error, an *Error, says why and whether
// a retry may succeed; the error says so when that could not be achieved.
//
// Every server takes the two-session algorithm of swapWithSentry. The
// one-session algorithm MySQL 8.0.13 allows (RENAME under LOCK TABLES) is
// taken only when catchUp is nil, because it must write-lock the shadow too
// and so would stop the applier that catchUp waits for; see swapUnderLock.
// Nor is it taken when there are triggers to move, which only the
// two-session algorithm does.
func Swap(ctx context.Context, db *sql.DB, server mysql.Server, cfg Config, catchUp CatchUp) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, &Error{Step: StepPrepare, Err: err}
	}
	cfg = cfg.withDefaults()
	if catchUp == nil && server.SupportsRenameUnderLock() && len(cfg.Triggers) == 0 {
		return swapUnderLock(ctx, db, cfg)
	}
	if catchUp == nil {
		catchUp = func(context.Context) error { return nil }
	}
	return swapWithSentry(ctx, db, server, cfg, catchUp)
}

// Step names the part of an attempt an error comes from.
type Step string

// The steps of an attempt, in order.
const (
	StepPrepare  Step = "prepare"       // checking the tables, creating the sentry
	StepLock     Step = "lock"          // LOCK TABLES on the original
	StepCatchUp  Step = "catch up"      // CatchUp under the lock
	StepTriggers Step = "move triggers" // Config.Triggers from the original to the shadow
	StepRename   Step = "rename"        // issuing the RENAME and seeing it wait
	StepRelease  Step = "release"       // dropping the sentry and unlocking
	StepCleanup  Step = "clean up"      // removing the sentry after a failure
)

// Error is a failed attempt.
type Error struct {
	Step Step
	// Retryable is true when the original was left serving, nothing was
	// left behind, and the cause may be gone on a later attempt: a lock
	// held by another session, a slow catch-up, a lost connection.
	Retryable bool
	Err       error
}

func (e *Error) Error() string { return fmt.Sprintf("cut-over %s: %v", e.Step, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether err is a failed attempt that left everything
// as it was and that another attempt may overcome.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// ErrOldExists is wrapped by the error of an attempt that found a table
// already named Config.Old. The user has to drop or rename it, or choose
// another name; retrying does not help.
var ErrOldExists = errors.New("a table already has the name the original is to get")

// ErrSentryExists is wrapped by the error of an attempt that found a table
// already named SentryName(Config.Table): most likely the sentry of an
// interrupted cut-over, which holds no data and can be dropped.
var ErrSentryExists = errors.New("a table already has the name of the cut-over's sentry")

// ErrNotFound is wrapped by the error of an attempt that did not find the
// original or the shadow.
var ErrNotFound = errors.New("table not found")

// FinalError, returned by a CatchUp, makes the attempt's failure final:
// what the catch-up found does not pass by trying again.
type FinalError struct{ Err error }

func (e *FinalError) Error() string { return e.Err.Error() }
func (e *FinalError) Unwrap() error { return e.Err }

// retryable and final build the two kinds of Error.
func retryable(step Step, err error) error { return &Error{Step: step, Retryable: true, Err: err} }
func final(step Step, err error) error     { return &Error{Step: step, Err: err} }

// lockWaitError describes a write lock that was not granted in time. Its
// message leaves out the wrapped error's (the budget that ran out, the
// server's lock wait timeout), which says the same again at length; errors.Is
// and errors.As still see it.
func lockWaitError(cfg Config, err error) error {
	return &lockWait{err: err, msg: fmt.Sprintf("the write lock on %s was not granted within %s; another session holds a lock on it (an open transaction that used the table, a long query or DDL)",
		mysql.QuoteTable(cfg.Database, cfg.Table), cfg.LockTimeout)}
}

type lockWait struct {
	msg string
	err error
}

func (e *lockWait) Error() string { return e.msg }
func (e *lockWait) Unwrap() error { return e.err }
