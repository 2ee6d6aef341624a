package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"time"
)

// sessionAdminTimeout bounds the KILL that ends a session's statement; it
// must not hang a caller that is giving up, even with its context done.
const sessionAdminTimeout = 5 * time.Second

// errNoSuchThread is ER_NO_SUCH_THREAD, the answer to KILL of a connection
// that has already ended.
const errNoSuchThread = 1094

// Session is one dedicated connection with its server-side id, for
// statements that may wait for locks (LOCK TABLES, RENAME, ALTER).
//
// Such a statement is never cancelled by closing the connection, which is
// what the driver does when a context ends: the server would not notice
// until the statement finished on its own, so a LOCK TABLES or an ALTER
// would go on waiting, and might later succeed, behind the back of a
// caller that believes it gave up. Exec interrupts it with KILL QUERY from
// another connection instead, after which the server has really stopped it
// (a KILL QUERY that arrives when the statement is done has no effect on
// the next one: MariaDB 10.11, seen in the cut-over's tests).
type Session struct {
	DB   *sql.DB
	Conn *sql.Conn
	ID   int64
	// Bound is the last-resort limit of a statement when even KILL QUERY
	// does not end it (a server that stopped answering); 0 means none.
	Bound time.Duration
}

// OpenSession takes a connection of db for a Session.
func OpenSession(ctx context.Context, db *sql.DB, bound time.Duration) (*Session, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open a connection: %w", err)
	}
	s := &Session{DB: db, Conn: conn, Bound: bound}
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&s.ID); err != nil {
		s.Close()
		return nil, fmt.Errorf("read the connection id: %w", err)
	}
	return s, nil
}

// Exec runs query. When ctx ends first, the statement is killed on the
// server and Exec returns once it has stopped, with an error that wraps
// both the statement's error and ctx's cause.
func (s *Session) Exec(ctx context.Context, query string) error {
	return s.run(ctx, func(stmtCtx context.Context) error {
		_, err := s.Conn.ExecContext(stmtCtx, query)
		return err
	})
}

// Query runs query as Exec does and returns its rows, every column as
// text ("" for NULL): for the short reports of administrative statements
// (ANALYZE TABLE, CHECK TABLE), which tell a failure in their rows rather
// than as an error.
func (s *Session) Query(ctx context.Context, query string) ([][]string, error) {
	var out [][]string
	err := s.run(ctx, func(stmtCtx context.Context) error {
		rows, err := s.Conn.QueryContext(stmtCtx, query)
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			row := make([]string, len(cols))
			for i, v := range vals {
				row[i] = v.String
			}
			out = append(out, row)
		}
		return rows.Err()
	})
	return out, err
}

// run runs stmt, which sends one statement on s.Conn under the context it
// is given, killing the statement on the server when ctx ends first.
func (s *Session) run(ctx context.Context, stmt func(context.Context) error) error {
	stmtCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if s.Bound > 0 {
		stmtCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), s.Bound)
	}
	defer cancel()
	done := make(chan struct{})
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-done:
		case <-ctx.Done():
			// An error here leaves the statement to its lock_wait_timeout
			// and to Bound.
			_ = s.Kill(context.WithoutCancel(ctx), false)
		}
	}()
	err := stmt(stmtCtx)
	close(done)
	<-watcher
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	return err
}

// Kill ends the session's running statement (KILL QUERY; an idle session
// is not affected) or, with connection, the whole session and the locks it
// holds. A session already gone is not an error.
func (s *Session) Kill(ctx context.Context, connection bool) error {
	return Kill(ctx, s.DB, s.ID, connection)
}

// Kill ends, from a connection of db, the running statement of connection
// id (KILL QUERY) or, with connection, the whole session and the locks
// it holds; its open transaction is rolled back. A session already gone
// is not an error.
func Kill(ctx context.Context, db *sql.DB, id int64, connection bool) error {
	ctx, cancel := context.WithTimeout(ctx, sessionAdminTimeout)
	defer cancel()
	_, err := db.ExecContext(ctx, KillSQL(id, connection))
	if ErrorNumber(err) == errNoSuchThread {
		return nil
	}
	return err
}

// KillSQL is the KILL statement of connection id: KILL QUERY, or with
// connection KILL CONNECTION.
func KillSQL(id int64, connection bool) string {
	if connection {
		return "KILL CONNECTION " + strconv.FormatInt(id, 10)
	}
	return "KILL QUERY " + strconv.FormatInt(id, 10)
}

// Close hands the connection back for disposal, never for reuse: it may
// carry session settings, a lock or a transaction.
func (s *Session) Close() {
	_ = s.Conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = s.Conn.Close()
}
