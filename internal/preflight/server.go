package preflight

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// notNeeded is the message of the checks that only a copy needs.
const notNeeded = "not needed: the server makes the change itself"

// ServerChecks runs the checks of the server and the table's surroundings,
// in this order: binlog, privileges, copy-key, foreign-keys, triggers,
// long-transactions, replicas.
func ServerChecks(ctx context.Context, in Input) ([]Check, error) {
	if in.DB == nil {
		return nil, errors.New("server checks: no connection")
	}
	if in.Copy && in.Source == nil {
		return nil, errors.New("server checks: no definition of the table")
	}
	triggers, err := queryStrings(ctx, in.DB,
		"SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ? ORDER BY ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER",
		in.Database, in.Table)
	if err != nil {
		return nil, fmt.Errorf("look up the triggers of %s: %w", in.Table, err)
	}
	fks, err := foreignKeys(ctx, in.DB, in.Database, in.Table)
	if err != nil {
		return nil, err
	}
	var checks []Check
	c, err := checkBinlog(ctx, in)
	if err != nil {
		return nil, err
	}
	checks = append(checks, c)
	if c, err = checkPrivileges(ctx, in, len(triggers) > 0); err != nil {
		return nil, err
	}
	checks = append(checks, c, checkCopyKey(in), checkForeignKeys(in, fks), checkTriggers(in, triggers))
	if c, err = checkLongTransactions(ctx, in); err != nil {
		return nil, err
	}
	checks = append(checks, c)
	if c, err = checkReplicas(ctx, in); err != nil {
		return nil, err
	}
	return append(checks, c), nil
}

// checkBinlog reads the server's binary log settings. Global values are
// read because those are what the application's sessions start with.
func checkBinlog(ctx context.Context, in Input) (Check, error) {
	if !in.Copy {
		return Check{Name: CheckBinlog, Status: Pass, Message: notNeeded}, nil
	}
	var s binlogSettings
	if err := in.DB.QueryRowContext(ctx, "SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image, @@GLOBAL.server_id").
		Scan(&s.logBin, &s.format, &s.image, &s.serverID); err != nil {
		return Check{}, fmt.Errorf("read binary log settings: %w", err)
	}
	return s.check(), nil
}

// binlogSettings are the server settings the binary log reader depends on.
type binlogSettings struct {
	logBin        bool
	format, image string
	serverID      uint64
}

// check is the verdict on the settings: what tailor's binary log reader
// needs is a binary log, in ROW format with full row images (so that every
// change carries the whole row), from a server with an id (a server with
// id 0 refuses replication clients).
func (s binlogSettings) check() Check {
	var problems []string
	if !s.logBin {
		problems = append(problems, "the server does not write a binary log, which tailor reads to capture changes; start it with log_bin enabled")
	}
	if !strings.EqualFold(s.format, "ROW") {
		problems = append(problems, fmt.Sprintf("the server's binlog_format is %s; tailor needs ROW (SET GLOBAL binlog_format = 'ROW', and in the server's configuration)", s.format))
	}
	if !strings.EqualFold(s.image, "FULL") {
		problems = append(problems, fmt.Sprintf("the server's binlog_row_image is %s; tailor needs FULL (SET GLOBAL binlog_row_image = 'FULL', and in the server's configuration)", s.image))
	}
	if s.serverID == 0 {
		problems = append(problems, "the server's server_id is 0, and such a server refuses binary log readers; set server_id to a number no other server in the replication topology uses (SET GLOBAL server_id = N, and in the server's configuration)")
	}
	switch len(problems) {
	case 0:
		return Check{Name: CheckBinlog, Status: Pass, Message: fmt.Sprintf("the server writes a binary log in ROW format with FULL row images (server_id %d)", s.serverID)}
	case 1:
		return Check{Name: CheckBinlog, Status: Fail, Message: problems[0]}
	}
	return Check{Name: CheckBinlog, Status: Fail,
		Message: fmt.Sprintf("the server's binary log is not what tailor reads to capture changes, for %d reasons listed below; fix each of them", len(problems)),
		Details: problems}
}

// checkCopyKey makes sure the copy has a key to walk, present in both the
// original and the new table.
func checkCopyKey(in Input) Check {
	c := Check{Name: CheckCopyKey, Status: Pass}
	if !in.Copy {
		c.Message = notNeeded
		return c
	}
	key, err := in.Source.CopyKey()
	if err != nil {
		c.Status, c.Message = Fail, err.Error()
		return c
	}
	name, columns := key.Name, key.Columns
	extended := ""
	if in.Target != nil {
		m, err := schema.NewMapping(in.Source, in.Target, in.Columns)
		if err != nil {
			c.Status, c.Message = Fail, err.Error()
			return c
		}
		name, columns = m.KeyName, m.KeyOldNames()
		for _, idx := range in.Target.Indexes {
			if idx.Name == m.ShadowKey && len(idx.Columns) > len(columns) {
				extended = fmt.Sprintf(", the first columns of the new table's unique key %s (%s)", idx.Name, strings.Join(idx.Columns, ", "))
			}
		}
	}
	c.Message = fmt.Sprintf("the copy walks %s (%s)%s", name, strings.Join(columns, ", "), extended)
	return c
}

// foreignKey is one foreign key on the table or referencing it.
type foreignKey struct {
	// schema and table are where the constraint is (the child);
	// refSchema and referenced the table it points to (the parent).
	name, schema, table, refSchema, referenced string
}

// describe writes the key as "`name` on child -> parent", qualifying the
// tables that are not in database.
func (f foreignKey) describe(database string) string {
	qualified := func(schema, table string) string {
		if schema == database {
			return mysql.QuoteIdent(table)
		}
		return mysql.QuoteTable(schema, table)
	}
	return fmt.Sprintf("%s on %s -> %s", mysql.QuoteIdent(f.name), qualified(f.schema, f.table), qualified(f.refSchema, f.referenced))
}

// foreignKeys lists the foreign keys of the table (it is the child) and
// those that reference it (it is the parent), from any database.
func foreignKeys(ctx context.Context, db *sql.DB, database, table string) ([]foreignKey, error) {
	rows, err := db.QueryContext(ctx, `SELECT CONSTRAINT_NAME, CONSTRAINT_SCHEMA, TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME
		  FROM information_schema.REFERENTIAL_CONSTRAINTS
		 WHERE (CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?) OR (UNIQUE_CONSTRAINT_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?)
		 ORDER BY CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME`, database, table, database, table)
	if err != nil {
		return nil, fmt.Errorf("look up the foreign keys of %s: %w", table, err)
	}
	defer rows.Close()
	var out []foreignKey
	for rows.Next() {
		var f foreignKey
		if err := rows.Scan(&f.name, &f.schema, &f.table, &f.refSchema, &f.referenced); err != nil {
			return nil, fmt.Errorf("look up the foreign keys of %s: %w", table, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up the foreign keys of %s: %w", table, err)
	}
	return out, nil
}

// checkForeignKeys refuses a copy of a table that takes part in foreign
// keys, or whose ALTER adds one.
func checkForeignKeys(in Input, fks []foreignKey) Check {
	c := Check{Name: CheckForeignKeys, Status: Pass}
	for _, f := range fks {
		c.Details = append(c.Details, f.describe(in.Database))
	}
	addsFK := in.Alter != nil && in.Alter.AddsForeignKey
	switch {
	case !in.Copy && len(fks) > 0:
		c.Message = "not needed: the server makes the change itself and keeps the table's " + plural(len(fks), "foreign key", "foreign keys")
	case !in.Copy:
		c.Message = notNeeded
	case len(fks) > 0:
		c.Status = Fail
		c.Message = fmt.Sprintf("%s takes part in foreign keys (%s), which tailor cannot carry across a copy: a swap by RENAME leaves child tables' foreign keys pointing at the old table, and the new table cannot reuse the names of its own; drop the foreign keys first or make the change with a plain ALTER TABLE",
			mysql.QuoteIdent(in.Table), strings.Join(c.Details, "; "))
		if addsFK {
			c.Details = append(c.Details, "the ALTER also adds a foreign key")
		}
	case addsFK:
		c.Status = Fail
		c.Message = "the ALTER adds a foreign key, which tailor cannot add by copying the table; add it with a plain ALTER TABLE, which with foreign_key_checks=0 the server makes in place without copying the rows, but then without checking them, so only when the data is known to be valid"
	default:
		c.Message = fmt.Sprintf("%s has no foreign keys and none references it", mysql.QuoteIdent(in.Table))
	}
	return c
}

// checkTriggers refuses a copy of a table with triggers, unless the user
// agreed to have them recreated on the new table at the cut-over: a swap by
// RENAME leaves them on the old table.
func checkTriggers(in Input, triggers []string) Check {
	c := Check{Name: CheckTriggers, Status: Pass}
	quoted := mysql.QuoteIdents(triggers)
	switch {
	case !in.Copy:
		c.Message = notNeeded
	case len(triggers) == 0:
		c.Message = fmt.Sprintf("%s has no triggers", mysql.QuoteIdent(in.Table))
	case in.RecreateTriggers:
		c.Message = fmt.Sprintf("tailor will recreate the triggers of %s (%s) on the new table at the cut-over", mysql.QuoteIdent(in.Table), quoted)
		c.Details = triggers
	default:
		c.Status = Fail
		c.Message = fmt.Sprintf("%s has triggers (%s), which would stay on the old table after the swap; pass --recreate-triggers to have tailor recreate them on the new table at the cut-over",
			mysql.QuoteIdent(in.Table), quoted)
		c.Details = triggers
	}
	return c
}

// queryStrings runs a query of one string column.
func queryStrings(ctx context.Context, db *sql.DB, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
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
