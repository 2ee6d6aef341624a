package native

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// adminTimeout bounds each statement of the bookkeeping around an attempt
// (KILL, reading the processlist or the definition), which must not hang an
// attempt that is giving up, even when ctx is already cancelled.
const adminTimeout = 5 * time.Second

// Server errors that mean the server refuses ALGORITHM=INSTANT for the
// change: ER_ALTER_OPERATION_NOT_SUPPORTED and its variant with a reason.
// MariaDB 10.11 answers them before it waits for any lock, so a refused
// change never stalls the table.
const (
	errAlterNotSupported       = 1845
	errAlterNotSupportedReason = 1846
)

// attempt issues the ALTER once. It returns the server's warnings when the
// change was made, waitErr when the lock was not granted in time (retry),
// or err when the change must be given up.
func (c *change) attempt(ctx context.Context) (warnings []string, waitErr, err error) {
	// A statement ends with its lock_wait_timeout, a KILL, or this last
	// resort for a server that stopped answering. It may wait twice: for
	// the upgradable lock it opens the table with and for the exclusive one.
	bound := 2*time.Duration(c.cfg.lockWaitSeconds())*time.Second + 2*adminTimeout
	s, err := openSession(ctx, c.db, bound, c.cfg.Logger)
	if err != nil {
		return nil, nil, c.stopped(ctx, err)
	}
	defer s.close()
	if _, err := s.conn.ExecContext(ctx, setLockWaitSQL(c.cfg.lockWaitSeconds())); err != nil {
		return nil, nil, c.stopped(ctx, fmt.Errorf("set the ALTER's lock wait timeout: %w", err))
	}
	// The session is closed, not returned to the pool, after the attempt.
	if c.cfg.TimeZone != "" {
		if _, err := s.conn.ExecContext(ctx, "SET SESSION time_zone = ?", c.cfg.TimeZone); err != nil {
			return nil, nil, c.stopped(ctx, fmt.Errorf("set the ALTER's time zone: %w", err))
		}
	}
	killed, err := s.alter(ctx, alterSQL(c.cfg.Database, c.cfg.Table, c.cfg.Clauses), c.cfg.LockWaitTimeout)
	if err == nil {
		return s.warnings(ctx), nil, nil
	}
	n := mysql.ErrorNumber(err)
	switch {
	case n == mysql.ErrLockWaitTimeout || n == mysql.ErrLockDeadlock:
		// The server gave up the wait itself: the ALTER did nothing.
		if ctx.Err() != nil {
			return nil, nil, c.stopped(ctx, err)
		}
		return nil, err, nil
	case n == errAlterNotSupported || n == errAlterNotSupportedReason:
		return nil, nil, fmt.Errorf("%w on %s, so nothing was changed; run tailor again with --force-copy to copy the table online instead (%w)",
			ErrNotInstant, c.table, err)
	case killed == notKilled && n != 0:
		return nil, nil, fmt.Errorf("the ALTER of %s failed and nothing was changed; correct the ALTER or the table and run tailor again: %w", c.table, err)
	}
	// Killed by us, or the connection was lost (n == 0): whether the ALTER
	// had already taken the lock and made the change is not said by its
	// error (a KILL can land just as the lock is granted), so the server's
	// definition of the table tells.
	bg := context.WithoutCancel(ctx)
	if n == 0 {
		// The ALTER may still be waiting on the server, queuing the table's
		// queries: end its connection before anything else.
		if kerr := s.kill(bg, true); kerr != nil {
			return nil, nil, fmt.Errorf("lost the connection of the ALTER of %s, which may still be waiting for its lock on the server; end connection %d (KILL %d) if it is: %w",
				c.table, s.id, s.id, errors.Join(err, kerr))
		}
	}
	changed, cerr := c.changed(bg)
	switch {
	case cerr != nil:
		return nil, nil, fmt.Errorf("the ALTER of %s was interrupted and whether it made the change is unknown; compare SHOW CREATE TABLE with the change before running tailor again: %w",
			c.table, errors.Join(err, cerr))
	case changed:
		c.cfg.Logger.Warn("the INSTANT ALTER was interrupted but had made the change", "err", err)
		return nil, nil, nil
	case ctx.Err() != nil:
		return nil, nil, c.stopped(ctx, err)
	case killed == killedOverTime:
		return nil, fmt.Errorf("killed after waiting %s for the lock: %w", c.cfg.LockWaitTimeout, err), nil
	}
	return nil, nil, fmt.Errorf("lost the connection during the ALTER of %s; the table is unchanged, run tailor again: %w", c.table, err)
}

// changed reports whether the table's definition differs from the one read
// before the first attempt.
func (c *change) changed(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	def, err := readDefinition(ctx, c.db, c.cfg.Database, c.cfg.Table)
	if err != nil {
		return false, err
	}
	return def != c.before, nil
}
