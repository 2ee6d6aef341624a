package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

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
			return invalid(fmt.Errorf("database %q does not exist on %s", r.cfg.Database, conn.Addr()))
		}
		if ctx.Err() != nil {
			return &Error{Kind: KindInterrupted, Err: ctx.Err()}
		}
		return &Error{Kind: KindConnect, Err: fmt.Errorf("cannot reach the server at %s: %w", conn.Addr(), err)}
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
	r.table, err = schema.Load(ctx, r.db, r.cfg.Database, r.cfg.Table)
	if errors.Is(err, schema.ErrTableNotFound) {
		return invalid(fmt.Errorf("table %s does not exist in database %s", r.cfg.Table, r.cfg.Database))
	}
	if err != nil {
		return err
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
	if exists, err := r.tableExists(ctx, r.shadow); err != nil {
		return err
	} else if exists && !r.cfg.InitiallyDropGhostTable {
		return invalid(fmt.Errorf("a table named %s already exists (left by an earlier run?); drop it, or pass --initially-drop-ghost-table to have tailor drop it", r.shadow))
	}
	if exists, err := r.tableExists(ctx, r.old); err != nil {
		return err
	} else if exists {
		return invalid(fmt.Errorf("a table named %s already exists, and the original table would take that name at the cut-over; drop or rename it first", r.old))
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
func (r *Runner) dryRun(ctx context.Context) (*Result, error) {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open a session: %w", err)
	}
	defer conn.Close()
	tmp := mysql.QuoteTable(r.cfg.Database, r.shadow)
	if _, err := conn.ExecContext(ctx, "CREATE TEMPORARY TABLE "+tmp+" LIKE "+mysql.QuoteTable(r.cfg.Database, r.cfg.Table)); err != nil {
		return nil, fmt.Errorf("create a temporary copy of the definition: %w", err)
	}
	defer conn.ExecContext(context.Background(), "DROP TEMPORARY TABLE IF EXISTS "+tmp) //nolint:errcheck // the session ends right after
	if _, err := conn.ExecContext(ctx, "ALTER TABLE "+tmp+" "+r.alter.Clauses); err != nil {
		if mysql.ErrorNumber(err) != 0 {
			return nil, invalid(fmt.Errorf("the server rejected the ALTER: %s", serverMessage(err)))
		}
		return nil, fmt.Errorf("try the ALTER on a temporary copy: %w", err)
	}
	d := []string{
		fmt.Sprintf("server %s; table %s.%s, about %d rows", r.server, r.cfg.Database, r.cfg.Table, r.progress.rowsTotal.Load()),
		fmt.Sprintf("copy key: %s (%s)", r.key.Name, strings.Join(r.key.Columns, ", ")),
		fmt.Sprintf("create shadow table %s and apply: %s", r.shadow, r.alter.Clauses),
	}
	for old, nw := range r.alter.Renames {
		d = append(d, fmt.Sprintf("column %s is renamed to %s; its values are copied", old, nw))
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
