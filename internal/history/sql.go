package history

import "github.com/tailor-osc/tailor/internal/mysql"

// createTableSQL creates the history table of database when it is missing.
// utf8mb4_bin: descriptions and script names compare exactly, as the file
// system does. statements is JSON: a native type on MySQL, and on MariaDB
// (10.2.7+) a LONGTEXT checked with JSON_VALID, which both read as text.
func createTableSQL(database string) string {
	return "CREATE TABLE IF NOT EXISTS " + mysql.QuoteTable(database, TableName) + ` (
  installed_rank bigint unsigned NOT NULL AUTO_INCREMENT,
  version varchar(100) NULL,
  description varchar(1000) NOT NULL,
  type varchar(16) NOT NULL,
  script varchar(1000) NOT NULL,
  checksum char(64) NOT NULL,
  installed_by varchar(400) NOT NULL,
  installed_on datetime(6) NOT NULL,
  execution_ms bigint unsigned NULL,
  state varchar(16) NOT NULL,
  statements_total int unsigned NOT NULL,
  statements_done int unsigned NOT NULL DEFAULT 0,
  statements json NOT NULL,
  error_text text NULL,
  PRIMARY KEY (installed_rank),
  KEY version (version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`
}

// columns are the history table's columns in the order scanEntry reads
// them; installed_on is formatted by the server (see timeLayout).
const columns = "installed_rank, version, description, type, script, checksum, installed_by, " +
	"DATE_FORMAT(installed_on, '%Y-%m-%d %H:%i:%s.%f'), execution_ms, state, statements_total, statements_done, statements, error_text"

// probeSQL reads no row but names every column, so it fails on a table of
// the same name with other columns.
func probeSQL(database string) string {
	return "SELECT " + columns + " FROM " + mysql.QuoteTable(database, TableName) + " LIMIT 0"
}

// selectSQL reads every row, or the row whose installed_rank is the one
// placeholder.
func selectSQL(database string, one bool) string {
	q := "SELECT " + columns + " FROM " + mysql.QuoteTable(database, TableName)
	if one {
		return q + " WHERE installed_rank = ?"
	}
	return q + " ORDER BY installed_rank"
}

// insertSQL begins a row. installed_by is the account the server
// authenticated (CURRENT_USER(), not the name the client gave), and
// installed_on is the server's clock in UTC, whatever the session's
// time_zone.
func insertSQL(database string) string {
	return "INSERT INTO " + mysql.QuoteTable(database, TableName) +
		" (version, description, type, script, checksum, installed_by, installed_on, state, statements_total, statements_done, statements)" +
		" VALUES (?, ?, ?, ?, ?, CURRENT_USER(), UTC_TIMESTAMP(6), ?, ?, 0, '[]')"
}

// lockRowSQL reads a row's statements for update, so that two writers of
// one row cannot lose each other's results.
func lockRowSQL(database string) string {
	return "SELECT statements, statements_total FROM " + mysql.QuoteTable(database, TableName) + " WHERE installed_rank = ? FOR UPDATE"
}

// updateStatementsSQL stores a row's statements and statements_done.
func updateStatementsSQL(database string) string {
	return "UPDATE " + mysql.QuoteTable(database, TableName) + " SET statements = ?, statements_done = ? WHERE installed_rank = ?"
}

// finishSQL sets a row's final state, adds to its execution time and sets
// its error text.
func finishSQL(database string) string {
	return "UPDATE " + mysql.QuoteTable(database, TableName) +
		" SET state = ?, execution_ms = COALESCE(execution_ms, 0) + ?, error_text = ? WHERE installed_rank = ?"
}

// resumeSQL puts a row back to running and clears its error.
func resumeSQL(database string) string {
	return "UPDATE " + mysql.QuoteTable(database, TableName) + " SET state = ?, error_text = NULL WHERE installed_rank = ?"
}

// amendSQL sets a row's file checksum and statement count.
func amendSQL(database string) string {
	return "UPDATE " + mysql.QuoteTable(database, TableName) + " SET checksum = ?, statements_total = ? WHERE installed_rank = ?"
}
