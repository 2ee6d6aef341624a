package state

import (
	"fmt"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// tableComment is the comment of every state table: Drop drops only a
// table that carries it.
const tableComment = "tailor run state; see docs/state.md"

// recordID is the primary key of the one row of a state table.
const recordID = 1

// maxNote bounds Record.Note in bytes, so that a long error message neither
// makes a checkpoint slow nor is refused by the column.
const maxNote = 16 << 10

// columnDefs are the state table's columns in order: who and what first,
// then progress, then the long texts, so that SELECT * ... \G reads from
// the top. Every name and type here is described in docs/state.md; a change
// to them bumps FormatVersion, except that the columns headSQL reads never
// change.
var columnDefs = []struct{ name, def string }{
	{"id", "tinyint unsigned NOT NULL DEFAULT 1"},
	{"format_version", "int unsigned NOT NULL"},
	{"tailor_version", "varchar(64) NOT NULL"},
	{"run_id", "varchar(255) NOT NULL"},
	{"database_name", "varchar(64) NOT NULL"},
	{"table_name", "varchar(64) NOT NULL"},
	{"phase", "varchar(32) NOT NULL"},
	{"started_at", "datetime(6) NOT NULL"},
	{"updated_at", "datetime(6) NOT NULL"},
	{"rows_copied", "bigint NOT NULL"},
	{"copy_key_columns", "text NOT NULL"},
	{"copy_low_watermark", "mediumtext NULL"},
	{"copy_done", "tinyint(1) NOT NULL"},
	{"binlog_file", "varchar(512) NOT NULL"},
	{"binlog_pos", "bigint unsigned NOT NULL"},
	{"gtid_position", "text NOT NULL"},
	{"checksum_passed", "tinyint(1) NOT NULL"},
	{"shadow_table", "varchar(64) NOT NULL"},
	{"time_zone", "varchar(64) NOT NULL"},
	{"alter_clauses", "mediumtext NOT NULL"},
	{"deferred_indexes", "mediumtext NOT NULL"},
	{"shadow_definition", "mediumtext NOT NULL"},
	{"reverting", "tinyint(1) NOT NULL"},
	{"revert_columns", "mediumtext NOT NULL"},
	{"note", "mediumtext NOT NULL"},
}

// dataColumns are the columns a record fills, in columnDefs' order without
// id: the order of row's values and of scan's destinations.
func dataColumns() []string { return dataColumnsOf(FormatVersion) }

// dataColumnsOf are the data columns of a table of format: format 1 had
// no time_zone.
func dataColumnsOf(format int) []string {
	cols := make([]string, 0, len(columnDefs)-1)
	for _, c := range columnDefs[1:] {
		if format == 1 && c.name == "time_zone" {
			continue
		}
		cols = append(cols, c.name)
	}
	return cols
}

// hasColumnSQL counts the columns of a table of that name.
const hasColumnSQL = "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?"

// upgradeSQL gives a state table of format 1 the time_zone column, holding
// the zone its runs converted in, and says so in its format; they are
// two statements, the second run only once the first succeeded.
func upgradeSQL(database, name string) []string {
	t := mysql.QuoteTable(database, name)
	return []string{
		"ALTER TABLE " + t + " ADD COLUMN " + mysql.QuoteIdent("time_zone") + " varchar(64) NOT NULL DEFAULT " +
			mysql.QuoteString(zoneOfFormat1) + " AFTER " + mysql.QuoteIdent("shadow_table"),
		"UPDATE " + t + " SET " + mysql.QuoteIdent("format_version") + " = " + fmt.Sprint(FormatVersion) + " WHERE " +
			mysql.QuoteIdent("format_version") + " = 1",
	}
}

// createTableSQL creates the state table when it is missing. The character
// set holds any identifier and text; the binary collation compares run ids
// and names byte for byte.
func createTableSQL(database, name string) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + mysql.QuoteTable(database, name) + " (")
	for _, c := range columnDefs {
		b.WriteString(mysql.QuoteIdent(c.name) + " " + c.def + ", ")
	}
	b.WriteString("PRIMARY KEY (" + mysql.QuoteIdent("id") + ")) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT=" +
		mysql.QuoteString(tableComment))
	return b.String()
}

// insertSQL inserts the record, with id recordID; its values are those of
// row.
func insertSQL(database, name string) string {
	cols := dataColumns()
	return "INSERT INTO " + mysql.QuoteTable(database, name) + " (" + mysql.QuoteIdent("id") + ", " +
		mysql.QuoteIdents(cols) + ") VALUES (" + placeholders(len(cols)+1) + ")"
}

// saveColumns are the columns Save writes: all but the ones that name the
// migration and its owner, which only Create (and TakeOver, for run_id)
// write.
func saveColumns() []string {
	var cols []string
	for _, c := range dataColumns() {
		switch c {
		case "run_id", "database_name", "table_name", "started_at":
			continue
		}
		cols = append(cols, c)
	}
	return cols
}

// saveSQL writes saveColumns of the record if it still belongs to the run:
// its values are saveColumns' followed by the run id.
func saveSQL(database, name string) string {
	sets := make([]string, 0, len(saveColumns()))
	for _, c := range saveColumns() {
		sets = append(sets, mysql.QuoteIdent(c)+" = ?")
	}
	return "UPDATE " + mysql.QuoteTable(database, name) + " SET " + strings.Join(sets, ", ") +
		" WHERE " + mysql.QuoteIdent("id") + " = 1 AND " + mysql.QuoteIdent("run_id") + " = ?"
}

// takeOverSQL gives the record of run old, in this format, to run new: its
// values are the new run id, the update time, the old run id and the
// format.
func takeOverSQL(database, name string) string {
	return "UPDATE " + mysql.QuoteTable(database, name) + " SET " + mysql.QuoteIdent("run_id") + " = ?, " +
		mysql.QuoteIdent("updated_at") + " = ? WHERE " + mysql.QuoteIdent("id") + " = 1 AND " +
		mysql.QuoteIdent("run_id") + " = ? AND " + mysql.QuoteIdent("format_version") + " = ?"
}

// headSQL reads what every format of the table has: the format and the
// tailor that wrote it, and the owner. It reads every row, so that a table
// of more than one row is noticed.
func headSQL(database, name string) string {
	return "SELECT " + mysql.QuoteIdents([]string{"format_version", "tailor_version", "run_id"}) +
		" FROM " + mysql.QuoteTable(database, name)
}

// selectSQL reads the record, dataColumns in order.
func selectSQL(database, name string, format int) string {
	return "SELECT " + mysql.QuoteIdents(dataColumnsOf(format)) + " FROM " + mysql.QuoteTable(database, name) +
		" WHERE " + mysql.QuoteIdent("id") + " = 1"
}

// commentSQL reads whether a table exists and its comment.
const commentSQL = "SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?"

func dropSQL(database, name string) string {
	return "DROP TABLE IF EXISTS " + mysql.QuoteTable(database, name)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
