package cutover

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// SentryComment starts the comment of every sentry table, so that cleanup
// only ever drops a sentry, and only its own (see Config.Owner).
const SentryComment = "tailor cut-over sentry"

// maxIdentifier is the longest table name MySQL and MariaDB accept, in
// characters.
const maxIdentifier = 64

// sentrySuffix makes the sentry's name from the original's.
const sentrySuffix = "_tailor_sentry"

// SentryName is the name of the sentry table of the two-session cut-over of
// table: NameAfter(table, "_tailor_sentry"). It returns "" for a name that
// no name can sort after.
func SentryName(table string) string { return NameAfter(table, sentrySuffix) }

// NameAfter makes a table name from table and suffix that sorts after table
// in the server's metadata lock order: table followed by suffix. Every name
// a cut-over's RENAME takes besides the original's (the shadow, the name
// the original gets, the sentry) must be made by it; swapWithSentry says
// why.
//
// The server orders the metadata locks of one statement by the bytes of
// the names (MDL_key::cmp compares database, NUL, name, NUL), so a name
// that extends another sorts after it, and that stays so when
// lower_case_table_names folds both. When table and suffix pass the
// 64-character limit, the table name is cut at the last character that can
// be followed by U+FFFD, which sorts after every character but U+FFFE and
// U+FFFF, and U+FFFD, a hash of the whole name (so that two long names that
// share a prefix get different tables) and suffix follow it. It returns ""
// for a name made only of U+FFFD to U+FFFF.
func NameAfter(table, suffix string) string {
	if utf8.RuneCountInString(table)+utf8.RuneCountInString(suffix) <= maxIdentifier {
		return table + suffix
	}
	const top = '\uFFFD'
	sum := sha256.Sum256([]byte(table))
	tag := string(top) + hex.EncodeToString(sum[:])[:8] + suffix
	runes := []rune(table)
	for i := min(len(runes)-1, maxIdentifier-utf8.RuneCountInString(tag)); i >= 0; i-- {
		if runes[i] < top {
			return string(runes[:i]) + tag
		}
	}
	return ""
}

// SortsAfter reports whether name sorts after table in the server's
// metadata lock order, as NameAfter's names do, whether or not the server
// folds names to lower case.
func SortsAfter(name, table string) bool {
	return name > table && strings.ToLower(name) > strings.ToLower(table)
}

// The statements of a cut-over. Every identifier is quoted (names may hold
// spaces, backticks and any letter); none of them takes values, except the
// lock wait, which is an integer.

func setLockWaitSQL(seconds int) string {
	return "SET SESSION lock_wait_timeout = " + strconv.Itoa(seconds)
}

// setWaitTimeoutSQL makes the server close the session after seconds
// without a statement from its client.
func setWaitTimeoutSQL(seconds int) string {
	return "SET SESSION wait_timeout = " + strconv.Itoa(seconds)
}

func createSentrySQL(database, sentry, comment string) string {
	return "CREATE TABLE " + mysql.QuoteTable(database, sentry) +
		" (id int) ENGINE=InnoDB COMMENT=" + mysql.QuoteString(comment)
}

// sentryComment is the comment of the sentry of an attempt for owner.
func sentryComment(owner string) string {
	if owner == "" {
		return SentryComment
	}
	return SentryComment + " of " + owner
}

// lockSentrySQL locks the original and the sentry, as the two-session
// algorithm needs.
func lockSentrySQL(c Config, sentry string) string {
	return "LOCK TABLES " + mysql.QuoteTable(c.Database, c.Table) + " WRITE, " +
		mysql.QuoteTable(c.Database, sentry) + " WRITE"
}

// lockOriginalSQL write-locks the original alone.
func lockOriginalSQL(c Config) string {
	return "LOCK TABLES " + mysql.QuoteTable(c.Database, c.Table) + " WRITE"
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
