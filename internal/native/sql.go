package native

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// alterSQL is the change. clauses may end in a "--" comment, so the
// algorithm goes on a line of its own.
func alterSQL(database, table, clauses string) string {
	return "ALTER TABLE " + mysql.QuoteTable(database, table) + " " + clauses + "\n, ALGORITHM=INSTANT"
}

func setLockWaitSQL(seconds int) string {
	return "SET SESSION lock_wait_timeout = " + strconv.Itoa(seconds)
}

func killSQL(id int64, connection bool) string { return mysql.KillSQL(id, connection) }

// processStateSQL reads what one connection is doing.
const processStateSQL = "SELECT COALESCE(STATE, '') FROM information_schema.PROCESSLIST WHERE ID = ?"

// isLockWait reports whether a processlist STATE is a wait for a lock, the
// kind of wait that queues the table's other queries behind the ALTER:
// "Waiting for table metadata lock" (MariaDB 10.11 and MySQL, seen in
// TestInstantCancelWhileWaiting), and the rarer schema, global read and
// backup lock waits, and table flushes. States of an ALTER that has its
// locks ("altering table", "committing alter table to storage engine") are
// not.
func isLockWait(state string) bool {
	return strings.HasPrefix(state, "Waiting for ") &&
		(strings.HasSuffix(state, " lock") || state == "Waiting for table flush")
}

// autoIncrementOption is the AUTO_INCREMENT=n table option of SHOW CREATE
// TABLE, which inserts change and a definition comparison must ignore.
var autoIncrementOption = regexp.MustCompile(` AUTO_INCREMENT=[0-9]+`)

// readDefinition is the table's SHOW CREATE TABLE without its
// AUTO_INCREMENT counter. SHOW CREATE TABLE takes a high-priority shared
// metadata lock, granted even while an exclusive one is pending, so it
// queues no one.
func readDefinition(ctx context.Context, db *sql.DB, database, table string) (string, error) {
	var name, def string
	if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE "+mysql.QuoteTable(database, table)).Scan(&name, &def); err != nil {
		return "", fmt.Errorf("SHOW CREATE TABLE %s: %w", mysql.QuoteTable(database, table), err)
	}
	return stripAutoIncrement(def), nil
}

// stripAutoIncrement removes the AUTO_INCREMENT option from the table
// options, which follow the last line that starts with ")"; the column
// definitions' AUTO_INCREMENT attribute has no "=" and is kept.
func stripAutoIncrement(def string) string {
	i := strings.LastIndex(def, "\n)")
	if i < 0 {
		return def
	}
	return def[:i] + autoIncrementOption.ReplaceAllString(def[i:], "")
}

// storage is what a table's rows are stored as.
type storage struct {
	engine, rowFormat string
}

func (s storage) same(o storage) bool {
	return strings.EqualFold(s.engine, o.engine) && strings.EqualFold(s.rowFormat, o.rowFormat)
}

// readStorage reads the table's storage engine and row format.
func readStorage(ctx context.Context, db *sql.DB, database, table string) (storage, error) {
	var s storage
	var engine, rowFormat sql.NullString
	err := db.QueryRowContext(ctx, "SELECT ENGINE, ROW_FORMAT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		database, table).Scan(&engine, &rowFormat)
	if err != nil {
		return s, fmt.Errorf("read the storage engine of %s: %w", mysql.QuoteTable(database, table), err)
	}
	return storage{engine: engine.String, rowFormat: rowFormat.String}, nil
}
