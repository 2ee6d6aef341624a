package cutover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// swapUnderLock is the one-session cut-over that MySQL 8.0.13 made
// possible: LOCK TABLES t WRITE, shadow WRITE; RENAME TABLE t TO Old,
// shadow TO t; UNLOCK TABLES. MySQL allows the RENAME because every table
// it names is write-locked by the session (MySQL 8.0 manual, RENAME TABLE),
// and the writers queued on t find the new table once the lock is released.
// No sentry and no second session are needed: the session never lets go of
// t between the lock and the RENAME.
//
// Swap takes it only when there is nothing to catch up under the lock:
// the lock on the shadow, which the RENAME requires, also stops any other
// connection from writing the last changes into the shadow, so a catch-up
// through the binary log applier would wait for a lock held by the very
// attempt waiting for it (gh-ost met the same wall, github/gh-ost#715).
//
// NOT TESTED: this package's tests run against MariaDB only (the one server
// installed where they run), and MariaDB refuses this RENAME with error
// 1192. Treat this path as written from the MySQL manual, not verified.
func swapUnderLock(ctx context.Context, db *sql.DB, cfg Config) (Result, error) {
	if err := checkTables(ctx, db, cfg, ""); err != nil {
		return Result{}, err
	}
	a, err := openSession(ctx, db, 2*cfg.LockTimeout+2*adminTimeout)
	if err != nil {
		return Result{}, classify(ctx, StepPrepare, err)
	}
	defer a.close()
	if err := a.exec(ctx, setLockWaitSQL(cfg.lockWaitSeconds())); err != nil {
		return Result{}, classify(ctx, StepPrepare, err)
	}
	budgetErr := fmt.Errorf("writers of %s held for the whole lock timeout (%s): %w", mysql.QuoteIdent(cfg.Table), cfg.LockTimeout, context.DeadlineExceeded)
	lctx, cancel := context.WithTimeoutCause(ctx, cfg.LockTimeout, budgetErr)
	defer cancel()
	if err := a.exec(lctx, lockBothSQL(cfg)); err != nil {
		if errors.Is(err, budgetErr) || mysql.ErrorNumber(err) == mysql.ErrLockWaitTimeout {
			err = lockWaitError(cfg, err)
		}
		return Result{}, classify(ctx, StepLock, err)
	}
	acquired := time.Now()
	// The RENAME waits for nothing (the session holds every lock it needs)
	// and is atomic, so it is not cut short: it either runs or fails whole.
	bg, cancelBg := context.WithTimeout(context.WithoutCancel(ctx), 2*adminTimeout)
	defer cancelBg()
	renameErr := a.exec(bg, renameSQL(cfg))
	held := time.Since(acquired)
	if err := a.exec(bg, unlockSQL); err != nil {
		_ = a.kill(bg, true) // ending the session releases its lock
	}
	if renameErr != nil {
		return Result{}, classify(ctx, StepRename, fmt.Errorf("rename under the lock: %w", renameErr))
	}
	return Result{LockHeld: held, Rename: renameSQL(cfg)}, nil
}
