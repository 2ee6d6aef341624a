package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
)

// RowQuerier is what reads one row: a *sql.DB, a *sql.Conn or a *sql.Tx.
type RowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// GlobalSQLMode reads the server's configured sql_mode (@@GLOBAL.sql_mode):
// the mode a session starts with unless its client sets another, and so the
// mode the server's own ALTER TABLE runs under for a client that does not.
// tailor's sessions use SQLMode instead, which lets existing zero dates be
// copied; a new definition is judged under this one (see ExecInSQLMode).
func GlobalSQLMode(ctx context.Context, q RowQuerier) (string, error) {
	var mode string
	if err := q.QueryRowContext(ctx, "SELECT @@GLOBAL.sql_mode").Scan(&mode); err != nil {
		return "", fmt.Errorf("read the server's global sql_mode: %w", err)
	}
	return mode, nil
}

// ExecInSQLMode runs stmt on conn under sql_mode mode and, unless zone is
// empty, time_zone zone, and leaves the session's own as they were: as
// the server's own DDL runs for a client that keeps the server's
// defaults (a TIMESTAMP literal in a DEFAULT is read in the session's
// zone). The error of stmt is returned as the server gave it
// (ErrorNumber works on it).
//
// MariaDB (10.1+) sets variables for one statement with SET STATEMENT ...
// FOR, so the session never changes. MySQL has no SET STATEMENT, so there
// the session's variables are set around stmt and then restored; when the
// restore fails the connection is marked bad, so that the pool never hands
// out a session in the other mode or zone.
func (s Server) ExecInSQLMode(ctx context.Context, conn *sql.Conn, mode, zone, stmt string) error {
	if s.Flavor == FlavorMariaDB {
		_, err := conn.ExecContext(ctx, sessionStatement(mode, zone, stmt))
		return err
	}
	var savedMode, savedZone string
	if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode, @@SESSION.time_zone").Scan(&savedMode, &savedZone); err != nil {
		return fmt.Errorf("read the session's sql_mode and time_zone: %w", err)
	}
	if zone == "" {
		zone = savedZone
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_mode = ?, time_zone = ?", mode, zone); err != nil {
		return fmt.Errorf("set the session's sql_mode and time_zone: %w", err)
	}
	_, err := conn.ExecContext(ctx, stmt)
	if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION sql_mode = ?, time_zone = ?", savedMode, savedZone); rerr != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		if err == nil {
			err = fmt.Errorf("restore the session's sql_mode and time_zone: %w", rerr)
		}
	}
	return err
}

// SQLModeStatement is MariaDB's form of stmt run under sql_mode mode.
func SQLModeStatement(mode, stmt string) string { return sessionStatement(mode, "", stmt) }

// sessionStatement is MariaDB's form of stmt run under sql_mode mode and,
// unless zone is empty, time_zone zone.
func sessionStatement(mode, zone, stmt string) string {
	vars := "sql_mode = " + QuoteString(mode)
	if zone != "" {
		vars += ", time_zone = " + QuoteString(zone)
	}
	return "SET STATEMENT " + vars + " FOR " + stmt
}

// InSQLMode returns stmt so that it runs under sql_mode mode alone, the
// session's own mode unchanged, also inside a transaction and with
// placeholders: on MariaDB as SET STATEMENT ... FOR (10.1+; checked with
// a prepared INSERT on 10.11), on MySQL with the SET_VAR hint after the
// statement's first keyword (8.0.3+, for SELECT, INSERT, REPLACE, UPDATE
// and DELETE; not run: no MySQL server was at hand). Unlike
// ExecInSQLMode, it needs no session of its own on MySQL.
func (s Server) InSQLMode(mode, stmt string) string {
	if s.Flavor == FlavorMariaDB {
		return SQLModeStatement(mode, stmt)
	}
	verb, rest, _ := strings.Cut(stmt, " ")
	return verb + " /*+ SET_VAR(sql_mode = " + QuoteString(mode) + ") */ " + rest
}
