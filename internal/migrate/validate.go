package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/tailor-osc/tailor/internal/cutover"
	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

func (r *Runner) connect(ctx context.Context) error {
	conn := r.cfg.Conn
	conn.Database = r.cfg.Database
	db, err := mysql.OpenRecording(ctx, conn, &r.own)
	if err != nil {
		return connectError(ctx, conn, err)
	}
	r.db = db
	r.server, err = mysql.DetectServer(ctx, db)
	if err != nil {
		db.Close()
		return err
	}
	r.log.Info("connected", "phase", PhaseValidate.String(), "server", r.server.String(), "addr", conn.Addr())
	return nil
}

// ConnectError is the error for a connection to conn that failed: a
// login refused or a server out of reach (KindConnect), a database that
// does not exist (KindInvalid). The other commands that connect (tailor
// backfill) say it the same way.
func ConnectError(ctx context.Context, conn mysql.ConnConfig, err error) error {
	return connectError(ctx, conn, err)
}

func connectError(ctx context.Context, conn mysql.ConnConfig, err error) error {
	if tlsErr := mysql.TLSError(conn, err); tlsErr != nil {
		return &Error{Kind: KindConnect, Err: tlsErr}
	}
	switch mysql.ErrorNumber(err) {
	case mysql.ErrAccessDenied:
		if conn.TLS.Mode == mysql.SSLDisabled && conn.Socket == "" {
			// MariaDB refuses a connection in the clear to a server with
			// require_secure_transport=ON as it refuses a wrong password
			// (10.11: error 1045), so both causes are named.
			return &Error{Kind: KindConnect, Err: fmt.Errorf("the server refused the login of %q over a connection in the clear: check --user and the password (--password, MYSQL_PWD or --defaults-file), and, if the server accepts only encrypted connections (require_secure_transport), connect with --ssl-mode REQUIRED or a verifying mode", conn.User)}
		}
		if conn.TLS.Cert == "" {
			// An account created with REQUIRE X509 (or SUBJECT, ISSUER)
			// is refused without a client certificate as it is with a
			// wrong password.
			return &Error{Kind: KindConnect, Err: fmt.Errorf("the server refused the login of %q: check --user and the password (--password, MYSQL_PWD or --defaults-file), and give a client certificate (--ssl-cert, --ssl-key) if the account requires one", conn.User)}
		}
		return &Error{Kind: KindConnect, Err: fmt.Errorf("the server refused the login of %q: check --user and the password (--password, MYSQL_PWD or --defaults-file)", conn.User)}
	case mysql.ErrAccessDeniedNoPassword:
		return &Error{Kind: KindConnect, Err: socketOnly(conn)}
	case mysql.ErrBadDB:
		return invalid(fmt.Errorf("database %s does not exist on %s; check --database", mysql.QuoteIdent(conn.Database), conn.Addr()))
	}
	if ctx.Err() != nil {
		return &Error{Kind: KindInterrupted, Err: ctx.Err()}
	}
	return &Error{Kind: KindConnect, Err: unreachable(conn, err)}
}

// socketOnly is the error for error 1698, the server's refusal of an
// account that logs in without a password, which is unix_socket
// authentication as a rule (root on Debian and Ubuntu): the server then
// accepts the login only over its unix socket, from the operating-system
// user of the same name, so checking the host and port, or the password,
// would not help.
func socketOnly(conn mysql.ConnConfig) error {
	if conn.Socket == "" {
		return fmt.Errorf("the server refused the login of %q over TCP at %s: the account may only log in over the server's unix socket (unix_socket authentication); run tailor on the server's host as the operating-system user %q with --socket (for example --socket /run/mysqld/mysqld.sock), or use an account with a password",
			conn.User, conn.Addr(), conn.User)
	}
	return fmt.Errorf("the server refused the login of %q over the unix socket %s: the account logs in without a password, as the operating-system user of the same name only (unix_socket authentication); run tailor as the operating-system user %q, or use an account with a password",
		conn.User, conn.Addr(), conn.User)
}

// unreachable is the error for a server that did not answer. The driver's
// error is wrapped twice over with the address and the user; the cause at
// the bottom ("connect: connection refused", "i/o timeout") is the part
// that says what went wrong, so only it is kept beside the advice.
func unreachable(conn mysql.ConnConfig, err error) error {
	cause := err
	var netErr *net.OpError
	var timeout *mysql.ConnectTimeoutError
	switch {
	case errors.As(err, &timeout):
		cause = timeout
	case errors.As(err, &netErr) && netErr.Timeout():
		cause = errors.New("the connection timed out")
	case errors.As(err, &netErr) && netErr.Err != nil:
		cause = netErr.Err
	}
	where := "--host and --port"
	if conn.Socket != "" {
		where = "--socket"
	}
	return fmt.Errorf("cannot reach the server at %s (%v); check %s and that the server is running", conn.Addr(), cause, where)
}

// validate checks everything that can be checked before anything is created.
func (r *Runner) validate(ctx context.Context) error {
	var err error
	r.alter, err = ddl.Parse(r.cfg.Alter)
	if err != nil {
		return invalid(err)
	}
	if err := r.checkAlterNamesTable(ctx); err != nil {
		return err
	}
	r.table, err = schema.Load(ctx, r.db, r.cfg.Database, r.cfg.Table)
	if errors.Is(err, schema.ErrTableNotFound) {
		if r.isView(ctx) {
			return invalid(fmt.Errorf("%s in database %s is a view, not a table: tailor changes base tables; name the table the view reads (CREATE OR REPLACE VIEW changes the view itself)", mysql.QuoteIdent(r.cfg.Table), mysql.QuoteIdent(r.cfg.Database)))
		}
		return invalid(fmt.Errorf("table %s does not exist in database %s; check --table and --database", mysql.QuoteIdent(r.cfg.Table), mysql.QuoteIdent(r.cfg.Database)))
	}
	if err != nil {
		return err
	}
	// The copy reads chunks with locking reads inside transactions, the
	// applier writes in transactions, and the cut-over relies on
	// LOCK TABLES ... WRITE waiting for open transactions: none of that
	// holds for a non-transactional engine such as MyISAM or Aria.
	if !strings.EqualFold(r.table.Engine, "InnoDB") {
		return invalid(fmt.Errorf("table %s uses the %s storage engine, and tailor migrates only InnoDB tables because it relies on transactions and row locks; convert it with ALTER TABLE ... ENGINE=InnoDB first", mysql.QuoteIdent(r.cfg.Table), r.table.Engine))
	}
	// Before the leftover checks: the shadow table of a run in progress is
	// not a leftover, and must not be reported as one to drop.
	if err := r.checkNotRunning(ctx); err != nil {
		return err
	}
	var rows sql.NullInt64
	if err := r.db.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		r.cfg.Database, r.cfg.Table).Scan(&rows); err != nil {
		return fmt.Errorf("estimate rows of %s: %w", r.cfg.Table, err)
	}
	r.progress.rowsTotal.Store(rows.Int64)
	r.metrics.SetRowsEstimate(rows.Int64)
	r.log.Info("validated", "phase", PhaseValidate.String(), "rows_estimate", rows.Int64)
	return nil
}

// isView reports whether --table names a view, which schema.Load does not
// find as a table; a failed lookup says no, and the table is reported
// missing.
func (r *Runner) isView(ctx context.Context) bool {
	var n int
	err := r.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_TYPE = 'VIEW'",
		r.cfg.Database, r.cfg.Table).Scan(&n)
	return err == nil && n > 0
}

// checkLeftovers refuses to start a copy when a table it would create is
// already there.
func (r *Runner) checkLeftovers(ctx context.Context) error {
	if err := r.loadSavedState(ctx); err != nil {
		return err
	}
	resuming := r.saved.earlier != nil
	if exists, err := r.tableExists(ctx, r.shadow); err != nil {
		return err
	} else if exists && !r.cfg.InitiallyDropGhostTable && !resuming {
		return invalid(fmt.Errorf("a table named %s already exists (left by an earlier run?); drop it, or pass --initially-drop-ghost-table to have tailor drop it", mysql.QuoteIdent(r.shadow)))
	}
	if exists, err := r.tableExists(ctx, r.old); err != nil {
		return err
	} else if exists {
		return invalid(fmt.Errorf("a table named %s already exists, and the original table would take that name at the cut-over; drop or rename it first", mysql.QuoteIdent(r.old)))
	}
	// The throttler's heartbeat is written to, and dropped at the end:
	// a table of that name that tailor did not make must not be.
	if hb := HeartbeatName(r.cfg.Table); hb != "" {
		if exists, err := r.tableExists(ctx, hb); err != nil {
			return err
		} else if exists && !r.cfg.InitiallyDropGhostTable && !resuming {
			return invalid(fmt.Errorf("a table named %s already exists (left by an earlier run?), and tailor needs that name for its replica-lag heartbeat; drop it, or pass --initially-drop-ghost-table to have tailor drop it", mysql.QuoteIdent(hb)))
		} else if exists {
			if _, err := r.db.ExecContext(ctx, "DROP TABLE "+mysql.QuoteTable(r.cfg.Database, hb)); err != nil {
				return fmt.Errorf("drop the leftover heartbeat table %s: %w", hb, err)
			}
		}
	}
	// The cut-over (which always takes the sentry path, as Runner passes it
	// a catch-up) would find the sentry only after the whole copy, and fail
	// then; an empty sentry is what an interrupted cut-over leaves.
	if sentry := cutover.SentryName(r.cfg.Table); sentry != "" && !resuming {
		if exists, err := r.tableExists(ctx, sentry); err != nil {
			return err
		} else if exists {
			return invalid(fmt.Errorf("a table named %s already exists, and the cut-over needs that name for its sentry table (an interrupted cut-over leaves one behind); drop it first", mysql.QuoteIdent(sentry)))
		}
	}
	return nil
}

// checkAlterNamesTable refuses a whole "ALTER TABLE name ..." statement
// that names a table other than the one tailor was asked to change: the
// clauses would otherwise be applied to --table, a table the author of the
// statement did not mean. Names compare as the server compares them:
// exactly, unless lower_case_table_names is set.
func (r *Runner) checkAlterNamesTable(ctx context.Context) error {
	lowerCase, err := mysql.LowerCaseTableNames(ctx, r.db)
	if err != nil {
		return err
	}
	if ok, written := r.alter.WrittenFor(r.cfg.Database, r.cfg.Table, lowerCase); !ok {
		return invalid(fmt.Errorf("the ALTER is written for table %s but tailor was asked to change %s; give only the clauses, or make --database and --table match the statement", written, mysql.QuoteTable(r.cfg.Database, r.cfg.Table)))
	}
	return nil
}

// checkNotRunning refuses when another tailor holds the migration lock of
// the table (see lockTable). Run takes the lock only after validate, so
// without this check a second run would find the first one's shadow table
// and call it a leftover to drop. lockTable still takes the lock atomically;
// this only makes the refusal come first and name the real reason.
func (r *Runner) checkNotRunning(ctx context.Context) error {
	name := lockName(r.cfg.Database, r.cfg.Table)
	var holder sql.NullInt64
	if err := r.db.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", name).Scan(&holder); err != nil {
		return fmt.Errorf("look up the migration lock: %w", err)
	}
	if holder.Valid {
		return invalid(fmt.Errorf("another tailor is already migrating %s.%s (server lock %q is held by connection %d); wait for it to finish or stop it", r.cfg.Database, r.cfg.Table, name, holder.Int64))
	}
	return nil
}

// checkShadowEngine refuses an ALTER that moves the table off InnoDB
// (ENGINE=MyISAM, say): the copy and the cut-over need a transactional
// engine on both sides, for the reasons given in validate.
func checkShadowEngine(engine string) error {
	if strings.EqualFold(engine, "InnoDB") {
		return nil
	}
	return invalid(fmt.Errorf("the ALTER changes the storage engine to %s, and tailor keeps tables on InnoDB because it relies on transactions and row locks; remove the ENGINE option, and change the engine with a plain ALTER TABLE if you must", engine))
}

func (r *Runner) tableExists(ctx context.Context, name string) (bool, error) {
	var n int
	err := r.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", r.cfg.Database, name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up table %s: %w", name, err)
	}
	return n > 0, nil
}

// createShadow creates the shadow table and applies the ALTER to it. A
// failing ALTER removes the shadow and reports the server's message.
func (r *Runner) createShadow(ctx context.Context) error {
	r.setPhase(PhaseCreateShadow)
	shadow := mysql.QuoteTable(r.cfg.Database, r.shadow)
	if r.cfg.InitiallyDropGhostTable {
		if _, err := r.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+shadow); err != nil {
			return fmt.Errorf("drop the leftover shadow table %s: %w", r.shadow, err)
		}
	}
	if _, err := r.db.ExecContext(ctx, "CREATE TABLE "+shadow+" LIKE "+mysql.QuoteTable(r.cfg.Database, r.cfg.Table)); err != nil {
		return fmt.Errorf("create the shadow table %s: %w", r.shadow, err)
	}
	r.run.shadowCreated = true
	if err := r.alterShadow(ctx, shadow); err != nil {
		if mysql.ErrorNumber(err) != 0 {
			return invalid(fmt.Errorf("the server rejected the ALTER: %s", serverMessage(err)))
		}
		return fmt.Errorf("alter the shadow table: %w", err)
	}
	shadowTable, err := schema.Load(ctx, r.db, r.cfg.Database, r.shadow)
	if err != nil {
		return err
	}
	if err := checkShadowEngine(shadowTable.Engine); err != nil {
		return err
	}
	if err := r.mapColumns(ctx, shadowTable); err != nil {
		return err
	}
	if err := r.deferIndexes(ctx, shadowTable); err != nil {
		return err
	}
	r.log.Info("shadow table ready", "phase", PhaseCreateShadow.String(), "shadow", r.shadow, "columns", len(r.mapping.Columns), "key", r.mapping.KeyName)
	return nil
}

// mapColumns makes the mapping from the original to the shadow: the
// columns the ALTER carries over, the key that identifies rows in both,
// and the values of the new columns whose default is an expression.
func (r *Runner) mapColumns(ctx context.Context, shadowTable *schema.Table) error {
	var generated = map[string]bool{}
	for _, c := range shadowTable.Columns {
		generated[c.Name] = c.Generated
	}
	var pairs [][2]string
	for _, p := range r.alter.CopiedColumns(r.table.ColumnNames(), shadowTable.ColumnNames(), generated) {
		pairs = append(pairs, [2]string{p.Old, p.New})
	}
	var err error
	r.mapping, err = schema.NewMapping(r.table, shadowTable, pairs)
	if err != nil {
		return invalid(err)
	}
	r.mapping.TimeZone = r.plan.TimeZone
	r.mapping.Stamps, err = r.defaultStamps(ctx, shadowTable)
	return err
}

// alterShadow applies the ALTER to the shadow under the server's global
// sql_mode that the plan read and tried the same ALTER under, not under
// tailor's own (mysql.SQLMode, which allows zero dates): the shadow's
// definition is then the one the plan validated, and never one the
// server's configured mode forbids, even if the plan's refusal were
// skipped. Only the definition is made so; the rows are copied into it
// afterwards, in tailor's sessions, so zero dates the original already
// holds arrive as they are.
func (r *Runner) alterShadow(ctx context.Context, shadow string) error {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return r.server.ExecInSQLMode(ctx, conn, r.plan.SQLMode, r.plan.TimeZone, "ALTER TABLE "+shadow+" "+r.alter.Clauses)
}

func serverMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "Error ") {
		return msg[i+2:]
	}
	return msg
}
