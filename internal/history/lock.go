package history

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// lockPrefix starts the name of every migrate lock.
const lockPrefix = "tailor-migrate:"

// maxLockName is the longest lock name MySQL 5.7 and later accept, in
// characters; a longer one is an error (ER_USER_LOCK_WRONG_NAME).
const maxLockName = 64

// LockName is the name of the server lock of database's migrations:
// "tailor-migrate:<database>", or, when that is longer than a lock name may
// be, the prefix and a hash of the database name.
func LockName(database string) string {
	name := lockPrefix + database
	if utf8.RuneCountInString(name) <= maxLockName {
		return name
	}
	sum := sha256.Sum256([]byte(database))
	return lockPrefix + hex.EncodeToString(sum[:])[:maxLockName-len(lockPrefix)]
}

// ServerLock is a held migrate lock: a named lock (GET_LOCK) owned by one
// dedicated connection. The server releases it when that connection ends,
// however it ends, so a tailor that is killed leaves no lock behind.
type ServerLock struct {
	conn     *sql.Conn
	name     string
	database string
	id       int64 // the connection's server-side id
}

// LockedError is another migrate holding the lock of a database past the
// wait.
type LockedError struct {
	Database string
	// Holder is the server connection id of the holder (IS_USED_LOCK), or
	// 0 when the lock was released just after the wait ended.
	Holder int64
	Waited time.Duration
}

// Error says who holds the lock.
func (e *LockedError) Error() string {
	holder := "a server connection that has just released it"
	if e.Holder != 0 {
		holder = fmt.Sprintf("server connection %d", e.Holder)
	}
	return fmt.Sprintf("another tailor migrate is running on database %s: its lock is held by %s, and tailor waited %s for it",
		mysql.QuoteIdent(e.Database), holder, e.Waited)
}

// Lock takes the migrate lock of database, waiting up to timeout (not at
// all when timeout is zero or less) for another holder to release it. It
// fails with a *LockedError when the wait ends with the lock still held.
// The lock is held by a connection taken from db for the purpose, until
// Unlock.
func Lock(ctx context.Context, db *sql.DB, database string, timeout time.Duration) (*ServerLock, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect for the migrate lock: %w", err)
	}
	l := &ServerLock{conn: conn, name: LockName(database), database: database}
	if err := l.acquire(ctx, max(timeout, 0)); err != nil {
		conn.Close()
		return nil, err
	}
	return l, nil
}

func (l *ServerLock) acquire(ctx context.Context, timeout time.Duration) error {
	if err := l.conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&l.id); err != nil {
		return fmt.Errorf("take the migrate lock %q: %w", l.name, err)
	}
	// GET_LOCK's wait is in seconds and takes fractions; it returns 1 when
	// the lock is taken, 0 when the wait ran out, and NULL on an error
	// such as the session being killed.
	var got sql.NullInt64
	if err := l.conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", l.name, timeout.Seconds()).Scan(&got); err != nil {
		return fmt.Errorf("take the migrate lock %q: %w", l.name, err)
	}
	switch {
	case !got.Valid:
		return fmt.Errorf("take the migrate lock %q: the server returned NULL", l.name)
	case got.Int64 == 1:
		return nil
	}
	var holder sql.NullInt64
	if err := l.conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", l.name).Scan(&holder); err != nil {
		return fmt.Errorf("find the holder of the migrate lock %q: %w", l.name, err)
	}
	return &LockedError{Database: l.database, Holder: holder.Int64, Waited: timeout}
}

// Name is the lock's name.
func (l *ServerLock) Name() string { return l.name }

// ConnectionID is the server-side id of the connection holding the lock,
// as SHOW PROCESSLIST and another run's LockedError show it.
func (l *ServerLock) ConnectionID() int64 { return l.id }

// ErrLockLost is returned when the lock's connection no longer holds it:
// the connection was killed or dropped, and another run may now hold the
// lock.
var ErrLockLost = errors.New("the migrate lock was lost")

// Check verifies that the lock is still held, so that a run can stop before
// its next file rather than run alongside another one.
func (l *ServerLock) Check(ctx context.Context) error {
	var holder sql.NullInt64
	if err := l.conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", l.name).Scan(&holder); err != nil {
		return fmt.Errorf("check the migrate lock %q: %w (%w)", l.name, ErrLockLost, err)
	}
	if holder.Int64 != l.id {
		return fmt.Errorf("check the migrate lock %q: %w", l.name, ErrLockLost)
	}
	return nil
}

// Unlock releases the lock and the connection that held it. It reports
// ErrLockLost when the lock had already been lost; the connection is closed
// either way.
func (l *ServerLock) Unlock(ctx context.Context) error {
	defer l.conn.Close()
	// RELEASE_LOCK returns 1 when released, 0 when another session holds
	// it and NULL when nobody does.
	var released sql.NullInt64
	if err := l.conn.QueryRowContext(ctx, "SELECT RELEASE_LOCK(?)", l.name).Scan(&released); err != nil {
		return fmt.Errorf("release the migrate lock %q: %w (%w)", l.name, ErrLockLost, err)
	}
	if released.Int64 != 1 {
		return fmt.Errorf("release the migrate lock %q: %w", l.name, ErrLockLost)
	}
	return nil
}
