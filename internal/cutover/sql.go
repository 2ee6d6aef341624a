package cutover

import (
	"strconv"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// SentryComment marks the sentry table, so that cleanup only ever drops a
// table this package created.
const SentryComment = "tailor cut-over sentry"

// maxIdentifier is the longest table name MySQL and MariaDB accept, in
// characters.
const maxIdentifier = 64

// sentrySuffix makes the sentry's name from the original's.
const sentrySuffix = "_tailor_sentry"

// SentryName is the name of the sentry table of the two-session cut-over of
// table: table followed by "_tailor_sentry", cut short to 64 characters.
//
// Its only requirement is to sort after table in the server's metadata lock
// order (the bytes of the name: a name that extends another sorts after it),
// because the RENAME takes its locks one by one in that order; see
// swapWithSentry. A 64-character table leaves no room for a suffix; then the
// last character that can be is replaced by U+FFFD, which sorts after every
// character but U+FFFE and U+FFFF. It returns "" for a name made only of
// those.
func SentryName(table string) string {
	runes := []rune(table)
	if room := maxIdentifier - len(runes); room > 0 {
		suffix := []rune(sentrySuffix)
		return table + string(suffix[:min(room, len(suffix))])
	}
	const top = '\uFFFD'
	for i := min(len(runes), maxIdentifier) - 1; i >= 0; i-- {
		if runes[i] < top {
			return string(runes[:i]) + string(top)
		}
	}
	return ""
}

// The statements of a cut-over. Every identifier is quoted (names may hold
// spaces, backticks and any letter); none of them takes values, except the
// lock wait, which is an integer.

func setLockWaitSQL(seconds int) string {
	return "SET SESSION lock_wait_timeout = " + strconv.Itoa(seconds)
}

func createSentrySQL(database, sentry string) string {
	return "CREATE TABLE " + mysql.QuoteTable(database, sentry) +
		" (id int) ENGINE=InnoDB COMMENT=" + mysql.QuoteString(SentryComment)
}

// lockSentrySQL locks the original and the sentry, as the two-session
// algorithm needs.
func lockSentrySQL(c Config, sentry string) string {
	return "LOCK TABLES " + mysql.QuoteTable(c.Database, c.Table) + " WRITE, " +
		mysql.QuoteTable(c.Database, sentry) + " WRITE"
}

// lockBothSQL locks the original and the shadow, as RENAME under LOCK
// TABLES needs (MySQL 8.0.13+).
func lockBothSQL(c Config) string {
	return "LOCK TABLES " + mysql.QuoteTable(c.Database, c.Table) + " WRITE, " +
		mysql.QuoteTable(c.Database, c.Shadow) + " WRITE"
}

// renameThroughSentrySQL swaps the tables through the sentry's name, so
// that it fails (error 1050) while the sentry exists.
func renameThroughSentrySQL(c Config, sentry string) string {
	return "RENAME TABLE " + mysql.QuoteTable(c.Database, c.Table) + " TO " + mysql.QuoteTable(c.Database, sentry) +
		", " + mysql.QuoteTable(c.Database, c.Shadow) + " TO " + mysql.QuoteTable(c.Database, c.Table) +
		", " + mysql.QuoteTable(c.Database, sentry) + " TO " + mysql.QuoteTable(c.Database, c.Old)
}

// renameSQL swaps the tables directly.
func renameSQL(c Config) string {
	return "RENAME TABLE " + mysql.QuoteTable(c.Database, c.Table) + " TO " + mysql.QuoteTable(c.Database, c.Old) +
		", " + mysql.QuoteTable(c.Database, c.Shadow) + " TO " + mysql.QuoteTable(c.Database, c.Table)
}

func dropTableSQL(database, table string) string {
	return "DROP TABLE " + mysql.QuoteTable(database, table)
}

const unlockSQL = "UNLOCK TABLES"

// useSQL makes database the session's default, which CREATE TRIGGER
// statements without qualified names need.
func useSQL(database string) string { return "USE " + mysql.QuoteIdent(database) }

// schemaCollationSQL reads a database's default collation, which a trigger
// created in it records.
const schemaCollationSQL = "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?"

// tableCommentSQL reads whether a table exists and its comment.
const tableCommentSQL = "SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?"

// connectionExistsSQL counts the connections with an id: 1 or 0.
const connectionExistsSQL = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?"

// processSQL reads what one connection is doing.
const processSQL = "SELECT COALESCE(STATE, ''), COALESCE(INFO, '') FROM information_schema.PROCESSLIST WHERE ID = ?"

func killQuerySQL(id int64) string      { return mysql.KillSQL(id, false) }
func killConnectionSQL(id int64) string { return mysql.KillSQL(id, true) }
