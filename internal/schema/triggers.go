package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// Trigger is one trigger of a table, with everything the server keeps about
// it that is needed to create it again with the same behaviour.
//
// What MariaDB 10.11 keeps (the table's .TRG file, shown by
// information_schema.TRIGGERS and SHOW CREATE TRIGGER):
//
//   - The statement, normalised: the server writes its own
//     "CREATE DEFINER=`user`@`host` " in front of the text from the TRIGGER
//     keyword on, and leaves out a FOLLOWS or PRECEDES clause. The body
//     (ACTION_STATEMENT) is the text as written, stored in the bytes of the
//     creating session's character_set_client; information_schema shows it
//     converted to UTF-8.
//   - The order among the table's triggers of the same timing and event
//     (ACTION_ORDER, from 1): the position in that list, which FOLLOWS and
//     PRECEDES only choose at creation. A trigger created without either
//     goes last, so creating triggers in ACTION_ORDER keeps their order.
//   - The creating session's sql_mode, which decides how the body is parsed
//     each time it is loaded (ANSI_QUOTES, PIPES_AS_CONCAT,
//     NO_BACKSLASH_ESCAPES, ORACLE) and how it runs (strict mode).
//   - The session's character_set_client (how the stored bytes are read) and
//     collation_connection (the collation of the body's string literals).
//   - The database's default collation at creation. It is read from the
//     database's options, not from the session (collation_database does not
//     change it), so a trigger created again records the database's
//     current default collation.
//   - The creation time, which cannot be set.
//
// RENAME TABLE moves a table's triggers with it and rewrites the table name
// in their statements, quoted as the trigger's sql_mode quotes names ("t"
// under ANSI_QUOTES).
type Trigger struct {
	Database string
	Name     string
	// Table is the table the trigger was loaded from.
	Table string
	// Timing is BEFORE or AFTER; Event is INSERT, UPDATE or DELETE.
	Timing, Event string
	// Order is ACTION_ORDER: the 1-based position among the table's
	// triggers with the same Timing and Event.
	Order int
	// Body is ACTION_STATEMENT, the statement after FOR EACH ROW, as UTF-8.
	Body string
	// Definer is user@host as information_schema shows it (unquoted).
	Definer string
	// SQLMode, CharacterSetClient and CollationConnection are the session
	// settings the trigger was created with; see SetSessionSQL.
	SQLMode             string
	CharacterSetClient  string
	CollationConnection string
	// DatabaseCollation is the database's default collation when the
	// trigger was created; it cannot be chosen when creating it again.
	DatabaseCollation string
}

// triggersSQL reads a table's triggers in the order they must be created
// again: within one timing and event, by ACTION_ORDER.
const triggersSQL = `SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER, ACTION_STATEMENT,
	       DEFINER, SQL_MODE, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, DATABASE_COLLATION
	  FROM information_schema.TRIGGERS
	 WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?
	 ORDER BY ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER`

// LoadTriggers reads the triggers of database.table, ordered by timing,
// event and ACTION_ORDER, which is an order to create them in that keeps
// their order. A table without triggers gives an empty slice.
func LoadTriggers(ctx context.Context, db *sql.DB, database, table string) ([]Trigger, error) {
	rows, err := db.QueryContext(ctx, triggersSQL, database, table)
	if err != nil {
		return nil, fmt.Errorf("read triggers of %s: %w", mysql.QuoteTable(database, table), err)
	}
	defer rows.Close()
	var out []Trigger
	for rows.Next() {
		t := Trigger{Database: database}
		if err := rows.Scan(&t.Table, &t.Name, &t.Timing, &t.Event, &t.Order, &t.Body,
			&t.Definer, &t.SQLMode, &t.CharacterSetClient, &t.CollationConnection, &t.DatabaseCollation); err != nil {
			return nil, fmt.Errorf("read triggers of %s: %w", mysql.QuoteTable(database, table), err)
		}
		if t.Table != table {
			// MariaDB 10.11 looks the table up by its exact name, but the
			// column's collation ignores case, and with
			// lower_case_table_names=0 two tables may differ only by case.
			continue
		}
		if err := t.validate(); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read triggers of %s: %w", mysql.QuoteTable(database, table), err)
	}
	return out, nil
}

// charsetName matches the character set and collation names the server
// reports; they are interpolated into statements, so nothing else may pass.
var charsetName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// validate refuses what CreateSQL could not render faithfully: a timing or
// event other than the three MariaDB 10.11 and MySQL know (a later server
// may allow several events in one trigger).
func (t Trigger) validate() error {
	switch {
	case t.Timing != "BEFORE" && t.Timing != "AFTER":
		return fmt.Errorf("trigger %s has timing %q, which tailor cannot recreate", mysql.QuoteIdent(t.Name), t.Timing)
	case t.Event != "INSERT" && t.Event != "UPDATE" && t.Event != "DELETE":
		return fmt.Errorf("trigger %s fires on %q, which tailor cannot recreate", mysql.QuoteIdent(t.Name), t.Event)
	case !charsetName.MatchString(t.CharacterSetClient) || !charsetName.MatchString(t.CollationConnection):
		return fmt.Errorf("trigger %s has an unexpected character set %q or collation %q", mysql.QuoteIdent(t.Name), t.CharacterSetClient, t.CollationConnection)
	}
	return nil
}

// quotedDefiner renders Definer for a DEFINER clause: user@host split at
// the last @ (a user name may hold one, a host name may not), each part
// quoted; a definer without @ (a role) is quoted whole.
func (t Trigger) quotedDefiner() string {
	i := strings.LastIndexByte(t.Definer, '@')
	if i < 0 {
		return mysql.QuoteIdent(t.Definer)
	}
	return mysql.QuoteIdent(t.Definer[:i]) + "@" + mysql.QuoteIdent(t.Definer[i+1:])
}

// CreateSQL renders the statement that creates the trigger on table:
//
//	CREATE DEFINER=`user`@`host` TRIGGER `name` timing event ON `table` FOR EACH ROW body
//
// which is also the form the server stores, so that SHOW CREATE TRIGGER
// shows the same text as for a trigger created by hand in that form. The
// names are not qualified with the database, as the server does not store
// them qualified when they were not written so (a dump of the schema then
// loads into another database): the statement must run in a session whose
// default database is the trigger's (USE).
//
// No FOLLOWS or PRECEDES clause is rendered; create the triggers in the
// order LoadTriggers returns them and each goes last, where it was.
//
// The statement must run with the trigger's session settings in effect
// (SetSessionSQL, then RestoreSessionSQL), and be sent in the bytes of its
// character_set_client (EncodeForClient). Creating a trigger with another
// user as definer needs the SUPER or SET USER privilege.
func (t Trigger) CreateSQL(table string) string {
	return "CREATE DEFINER=" + t.quotedDefiner() + " TRIGGER " + mysql.QuoteIdent(t.Name) +
		" " + t.Timing + " " + t.Event + " ON " + mysql.QuoteIdent(table) + " FOR EACH ROW " + t.Body
}

// DropSQL renders the statement that drops the trigger. Trigger names are
// unique in a database, so the table is not named.
func (t Trigger) DropSQL() string {
	return "DROP TRIGGER " + mysql.QuoteTable(t.Database, t.Name)
}

// The session variables CreateSQL depends on, saved in user variables by
// SaveSessionSQL and restored by RestoreSessionSQL, as mysqldump does.
const (
	SaveSessionSQL = "SET @tailor_saved_sql_mode = @@SESSION.sql_mode, " +
		"@tailor_saved_character_set_client = @@SESSION.character_set_client, " +
		"@tailor_saved_collation_connection = @@SESSION.collation_connection"
	RestoreSessionSQL = "SET SESSION sql_mode = @tailor_saved_sql_mode, " +
		"SESSION character_set_client = @tailor_saved_character_set_client, " +
		"SESSION collation_connection = @tailor_saved_collation_connection"
)

// SetSessionSQL sets the session variables a trigger records from the
// session that creates it: sql_mode, character_set_client and
// collation_connection (which also sets character_set_connection). Run
// SaveSessionSQL before it and RestoreSessionSQL after the CREATE TRIGGER:
// until then the session parses every statement in the trigger's sql_mode
// and reads its bytes in the trigger's character set.
func (t Trigger) SetSessionSQL() string {
	return "SET SESSION sql_mode = " + mysql.QuoteString(t.SQLMode) +
		", SESSION character_set_client = " + mysql.QuoteString(t.CharacterSetClient) +
		", SESSION collation_connection = " + mysql.QuoteString(t.CollationConnection)
}

// isUTF8 reports whether a character_set_client reads UTF-8 text as it is.
func isUTF8(charset string) bool {
	switch strings.ToLower(charset) {
	case "utf8mb4", "utf8mb3", "utf8":
		return true
	}
	return false
}

// ErrNotRepresentable is wrapped by the error of EncodeForClient for a
// statement that holds a character the character set lacks.
var ErrNotRepresentable = errors.New("a character has no equivalent in the character set")

// EncodeForClient returns stmt, UTF-8 text, as the bytes a session whose
// character_set_client is charset must send for the server to read the
// same characters. The server does the conversion (CONVERT ... USING), so
// that every character set it knows is handled as it handles it. It fails
// with ErrNotRepresentable when a character of stmt does not exist in
// charset: a table renamed to a name the trigger's charset cannot write.
//
// A trigger's body is stored in the bytes its creator sent; a trigger
// created again with the same character_set_client must be sent the same
// bytes, not UTF-8, or its non-ASCII characters change.
func EncodeForClient(ctx context.Context, db *sql.DB, stmt, charset string) (string, error) {
	if isUTF8(charset) {
		return stmt, nil
	}
	if !charsetName.MatchString(charset) {
		return "", fmt.Errorf("unexpected character set name %q", charset)
	}
	var encoded, back []byte
	err := db.QueryRowContext(ctx, "SELECT CAST(CONVERT(? USING "+charset+") AS BINARY), CAST(CONVERT(CONVERT(? USING "+charset+") USING utf8mb4) AS BINARY)",
		stmt, stmt).Scan(&encoded, &back)
	if err != nil {
		return "", fmt.Errorf("convert a statement to %s: %w", charset, err)
	}
	if string(back) != stmt {
		return "", fmt.Errorf("the statement holds characters that %s cannot represent: %w", charset, ErrNotRepresentable)
	}
	return string(encoded), nil
}

// Script is the SQL an operator runs in the mariadb or mysql client to
// create the trigger on database.table by hand: the database, the session
// settings, the statement (between DELIMITER lines, as a body may hold
// semicolons) and the settings restored.
func (t Trigger) Script(table string) string {
	var b strings.Builder
	b.WriteString("USE " + mysql.QuoteIdent(t.Database) + ";\n")
	b.WriteString(SaveSessionSQL + ";\n")
	b.WriteString(t.SetSessionSQL() + ";\n")
	if !isUTF8(t.CharacterSetClient) && !isASCII(t.Body+t.Name+table+t.Definer) {
		b.WriteString("-- the statement below holds non-ASCII characters: send it in " + t.CharacterSetClient + ", not UTF-8\n")
	}
	b.WriteString("DELIMITER ;;\n")
	b.WriteString(t.CreateSQL(table) + ";;\n")
	b.WriteString("DELIMITER ;\n")
	b.WriteString(RestoreSessionSQL + ";\n")
	return b.String()
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
