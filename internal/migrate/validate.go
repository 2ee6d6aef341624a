package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	"github.com/tailor-osc/tailor/internal/cutover"
	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

func (r *Runner) connect(ctx context.Context) error {
	conn := r.cfg.Conn
	conn.Database = r.cfg.Database
	db, err := mysql.Open(ctx, conn)
	if err != nil {
		switch mysql.ErrorNumber(err) {
		case mysql.ErrAccessDenied:
			return &Error{Kind: KindConnect, Err: fmt.Errorf("the server refused the login of %q: check --user and the password (--password, MYSQL_PWD or --defaults-file)", conn.User)}
		case mysql.ErrBadDB:
			return invalid(fmt.Errorf("database %s does not exist on %s; check --database", mysql.QuoteIdent(r.cfg.Database), conn.Addr()))
		}
		if ctx.Err() != nil {
			return &Error{Kind: KindInterrupted, Err: ctx.Err()}
		}
		return &Error{Kind: KindConnect, Err: unreachable(conn, err)}
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

// unreachable is the error for a server that did not answer. The driver's
// error is wrapped twice over with the address and the user; the cause at
// the bottom ("connect: connection refused", "i/o timeout") is the part
// that says what went wrong, so only it is kept beside the advice.
func unreachable(conn mysql.ConnConfig, err error) error {
	cause := err
	var netErr *net.OpError
	if errors.As(err, &netErr) && netErr.Err != nil {
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
	if r.alter.AddsForeignKey {
		return invalid(errors.New("the ALTER adds a foreign key, which tailor cannot keep correct across the table swap; add it with a plain ALTER TABLE after the migration or in a separate change"))
	}
	if err := r.checkAlterNamesTable(ctx); err != nil {
		return err
	}
	r.table, err = schema.Load(ctx, r.db, r.cfg.Database, r.cfg.Table)
	if errors.Is(err, schema.ErrTableNotFound) {
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
	if r.key, err = r.table.CopyKey(); err != nil {
		return invalid(err)
	}
	if err := r.checkBinlog(ctx); err != nil {
		return err
	}
	if err := r.checkDependents(ctx); err != nil {
		return err
	}
	// Before the leftover checks: the shadow table of a run in progress is
	// not a leftover, and must not be reported as one to drop.
	if err := r.checkNotRunning(ctx); err != nil {
		return err
	}
	if exists, err := r.tableExists(ctx, r.shadow); err != nil {
		return err
	} else if exists && !r.cfg.InitiallyDropGhostTable {
		return invalid(fmt.Errorf("a table named %s already exists (left by an earlier run?); drop it, or pass --initially-drop-ghost-table to have tailor drop it", mysql.QuoteIdent(r.shadow)))
	}
	if exists, err := r.tableExists(ctx, r.old); err != nil {
		return err
	} else if exists {
		return invalid(fmt.Errorf("a table named %s already exists, and the original table would take that name at the cut-over; drop or rename it first", mysql.QuoteIdent(r.old)))
	}
	// The cut-over (which always takes the sentry path, as Runner passes it
	// a catch-up) would find the sentry only after the whole copy, and fail
	// then; an empty sentry is what an interrupted cut-over leaves.
	if sentry := cutover.SentryName(r.cfg.Table); sentry != "" {
		if exists, err := r.tableExists(ctx, sentry); err != nil {
			return err
		} else if exists {
			return invalid(fmt.Errorf("a table named %s already exists, and the cut-over needs that name for its sentry table (an interrupted cut-over leaves one behind); drop it first", mysql.QuoteIdent(sentry)))
		}
	}
	var rows sql.NullInt64
	if err := r.db.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		r.cfg.Database, r.cfg.Table).Scan(&rows); err != nil {
		return fmt.Errorf("estimate rows of %s: %w", r.cfg.Table, err)
	}
	r.progress.rowsTotal.Store(rows.Int64)
	r.log.Info("validated", "phase", PhaseValidate.String(), "key", r.key.Name, "key_columns", strings.Join(r.key.Columns, ","), "rows_estimate", rows.Int64)
	return nil
}

// checkAlterNamesTable refuses a whole "ALTER TABLE name ..." statement
// that names a table other than the one tailor was asked to change: the
// clauses would otherwise be applied to --table, a table the author of the
// statement did not mean. Names compare as the server compares them:
// exactly, unless lower_case_table_names is set.
func (r *Runner) checkAlterNamesTable(ctx context.Context) error {
	if r.alter.Table == "" {
		return nil
	}
	var lowerCase int
	if err := r.db.QueryRowContext(ctx, "SELECT @@lower_case_table_names").Scan(&lowerCase); err != nil {
		return fmt.Errorf("read lower_case_table_names: %w", err)
	}
	same := func(a, b string) bool { return a == b || (lowerCase != 0 && strings.EqualFold(a, b)) }
	if same(r.alter.Table, r.cfg.Table) && (r.alter.Schema == "" || same(r.alter.Schema, r.cfg.Database)) {
		return nil
	}
	written := mysql.QuoteIdent(r.alter.Table)
	if r.alter.Schema != "" {
		written = mysql.QuoteTable(r.alter.Schema, r.alter.Table)
	}
	return invalid(fmt.Errorf("the ALTER is written for table %s but tailor was asked to change %s; give only the clauses, or make --database and --table match the statement", written, mysql.QuoteTable(r.cfg.Database, r.cfg.Table)))
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

// checkBinlog makes sure the server writes what the reader needs: a binary
// log in ROW format with full row images. Global values are checked because
// those are what the application's sessions start with.
func (r *Runner) checkBinlog(ctx context.Context) error {
	var logBin int
	var format, image string
	if err := r.db.QueryRowContext(ctx, "SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image").Scan(&logBin, &format, &image); err != nil {
		return fmt.Errorf("read binary log settings: %w", err)
	}
	switch {
	case logBin != 1:
		return invalid(errors.New("the server does not write a binary log, which tailor reads to capture changes; start it with log_bin enabled"))
	case !strings.EqualFold(format, "ROW"):
		return invalid(fmt.Errorf("the server's binlog_format is %s; tailor needs ROW (SET GLOBAL binlog_format = 'ROW', and in the server's configuration)", format))
	case !strings.EqualFold(image, "FULL"):
		return invalid(fmt.Errorf("the server's binlog_row_image is %s; tailor needs FULL (SET GLOBAL binlog_row_image = 'FULL', and in the server's configuration)", image))
	}
	return nil
}

// checkDependents refuses tables with foreign keys (either side) or
// triggers: a swap by RENAME leaves child tables' foreign keys pointing at
// the old table, and triggers stay with the old table.
func (r *Runner) checkDependents(ctx context.Context) error {
	fks, err := r.names(ctx, `SELECT CONCAT(CONSTRAINT_NAME, ' on ', TABLE_NAME, ' -> ', REFERENCED_TABLE_NAME)
		  FROM information_schema.REFERENTIAL_CONSTRAINTS
		 WHERE (CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?) OR (UNIQUE_CONSTRAINT_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?)`,
		r.cfg.Database, r.cfg.Table, r.cfg.Database, r.cfg.Table)
	if err != nil {
		return fmt.Errorf("look up foreign keys: %w", err)
	}
	if len(fks) > 0 {
		return invalid(fmt.Errorf("%s takes part in foreign keys (%s); a table swap would leave them pointing at the old table, so tailor refuses: drop the foreign keys first or use a plain ALTER TABLE", r.cfg.Table, strings.Join(fks, "; ")))
	}
	triggers, err := r.names(ctx, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?", r.cfg.Database, r.cfg.Table)
	if err != nil {
		return fmt.Errorf("look up triggers: %w", err)
	}
	if len(triggers) > 0 {
		return invalid(fmt.Errorf("%s has triggers (%s), which would stay behind on the old table after the swap; tailor refuses to migrate it for now", r.cfg.Table, strings.Join(triggers, ", ")))
	}
	return nil
}

func (r *Runner) names(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
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
	r.shadowCreated = true
	if _, err := r.db.ExecContext(ctx, "ALTER TABLE "+shadow+" "+r.alter.Clauses); err != nil {
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
	var generated = map[string]bool{}
	for _, c := range shadowTable.Columns {
		generated[c.Name] = c.Generated
	}
	var pairs [][2]string
	for _, p := range r.alter.CopiedColumns(r.table.ColumnNames(), shadowTable.ColumnNames(), generated) {
		pairs = append(pairs, [2]string{p.Old, p.New})
	}
	r.mapping, err = schema.NewMapping(r.table, shadowTable, pairs)
	if err != nil {
		return invalid(err)
	}
	r.log.Info("shadow table ready", "phase", PhaseCreateShadow.String(), "shadow", r.shadow, "columns", len(r.mapping.Columns), "key", r.mapping.KeyName)
	return nil
}

func serverMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "Error ") {
		return msg[i+2:]
	}
	return msg
}

// dryRun validates the ALTER on the server without creating anything other
// sessions can see: a TEMPORARY copy of the table's definition, which lives
// only in this session and is not written to the binary log in ROW format.
// A partitioned table cannot have one, and its plan says so.
func (r *Runner) dryRun(ctx context.Context) (*Result, error) {
	var partitioned int
	if err := r.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CREATE_OPTIONS LIKE '%partitioned%'",
		r.cfg.Database, r.cfg.Table).Scan(&partitioned); err != nil {
		return nil, fmt.Errorf("look up the partitioning of %s: %w", r.cfg.Table, err)
	}
	var d []string
	if partitioned > 0 {
		// The server refuses TEMPORARY partitioned tables (error 1478), and
		// a copy stripped of its partitioning would misjudge ALTERs that
		// change partitions; the server judges the ALTER on the shadow.
		d = append(d, "the ALTER was not tried on the server: a partitioned table cannot have the temporary copy a dry run tries it on, so it is checked when --execute creates the shadow table")
	} else if err := r.tryAlter(ctx); err != nil {
		return nil, err
	}
	d = append([]string{
		fmt.Sprintf("server %s; table %s.%s, about %d rows", r.server, r.cfg.Database, r.cfg.Table, r.progress.rowsTotal.Load()),
		fmt.Sprintf("copy key: %s (%s)", r.key.Name, strings.Join(r.key.Columns, ", ")),
		fmt.Sprintf("create shadow table %s and apply: %s", r.shadow, r.alter.Clauses),
	}, d...)
	for _, old := range slices.Sorted(maps.Keys(r.alter.Renames)) {
		d = append(d, fmt.Sprintf("column %s is renamed to %s; its values are copied", old, r.alter.Renames[old]))
	}
	for _, c := range r.alter.Dropped {
		d = append(d, fmt.Sprintf("column %s is dropped; its values are not copied", c))
	}
	for _, c := range r.alter.Added {
		d = append(d, fmt.Sprintf("column %s is added; the server fills it with its default", c))
	}
	d = append(d,
		fmt.Sprintf("copy rows in chunks of %d while applying changes from the binary log", r.cfg.ChunkSize),
		fmt.Sprintf("swap %s and %s atomically, holding writes at most %s", r.cfg.Table, r.shadow, r.cfg.CutOverLockTimeout),
	)
	if r.cfg.OkToDropTable {
		d = append(d, fmt.Sprintf("drop the old table %s", r.old))
	} else {
		d = append(d, fmt.Sprintf("keep the old table as %s", r.old))
	}
	return &Result{DryRun: true, Description: d, Key: r.key.Name, Database: r.cfg.Database, OldTable: r.old}, nil
}

// tryAlter applies the ALTER to a TEMPORARY copy of the table's definition,
// which only this session sees, and checks the result as createShadow
// checks the shadow.
func (r *Runner) tryAlter(ctx context.Context) error {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open a session: %w", err)
	}
	defer conn.Close()
	tmp := mysql.QuoteTable(r.cfg.Database, r.shadow)
	if _, err := conn.ExecContext(ctx, "CREATE TEMPORARY TABLE "+tmp+" LIKE "+mysql.QuoteTable(r.cfg.Database, r.cfg.Table)); err != nil {
		return fmt.Errorf("create a temporary copy of the definition: %w", err)
	}
	defer conn.ExecContext(context.Background(), "DROP TEMPORARY TABLE IF EXISTS "+tmp) //nolint:errcheck // the session ends right after
	if _, err := conn.ExecContext(ctx, "ALTER TABLE "+tmp+" "+r.alter.Clauses); err != nil {
		if mysql.ErrorNumber(err) != 0 {
			return invalid(fmt.Errorf("the server rejected the ALTER: %s", serverMessage(err)))
		}
		return fmt.Errorf("try the ALTER on a temporary copy: %w", err)
	}
	engine, err := temporaryEngine(ctx, conn, tmp)
	if err != nil {
		return err
	}
	return checkShadowEngine(engine)
}

// temporaryEngine is the storage engine of a TEMPORARY table, which
// information_schema.TABLES does not list (MariaDB before 11.2, MySQL), so
// it is read from SHOW CREATE TABLE on the session that owns the table: the
// table options follow the column list on a line of their own that starts
// ") ENGINE=" (comments cannot break lines there: the server escapes their
// line breaks).
func temporaryEngine(ctx context.Context, conn *sql.Conn, quoted string) (string, error) {
	var name, def string
	if err := conn.QueryRowContext(ctx, "SHOW CREATE TABLE "+quoted).Scan(&name, &def); err != nil {
		return "", fmt.Errorf("read the definition of the temporary copy: %w", err)
	}
	for _, line := range strings.Split(def, "\n") {
		if options, ok := strings.CutPrefix(line, ") ENGINE="); ok {
			engine, _, _ := strings.Cut(options, " ")
			return engine, nil
		}
	}
	return "", fmt.Errorf("read the definition of the temporary copy: no ENGINE in %q", def)
}
