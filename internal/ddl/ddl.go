// Package ddl understands the ALTER TABLE a user hands to tailor.
//
// The text is parsed with TiDB's MySQL-dialect parser rather than with regular
// expressions: gh-ost's regex-based reading of ALTERs is the part of that tool that
// misread quoted names, comments and multi-clause statements. From the syntax tree
// this package decides whether the change can be made online at all, and reports
// what it does to columns and keys, so that the copier knows which columns carry
// data across and the preflight checks know which keys appear or vanish.
//
// What is sent to the server is always the user's own text (see Alter.Clauses), never
// a rendering of the syntax tree, so MariaDB spellings the TiDB parser accepts but
// would print differently reach the server unchanged.
package ddl

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	// The parser needs a value-expression driver to build literals; test_driver is
	// the small one meant for users of the parser outside TiDB.
	_ "github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// placeholder is put before clauses given without "ALTER TABLE name" so they parse
// as a whole statement; the table name in it is never used.
const placeholder = "ALTER TABLE t "

// Alter is what tailor knows about the user's ALTER after parsing it.
type Alter struct {
	// Schema and Table name the table when the user wrote a whole statement
	// ("ALTER TABLE shop.orders ..."), as written; both are empty for clauses alone.
	// Callers compare them with the table they were asked to change so that an ALTER
	// written for another table is not applied to this one.
	Schema, Table string
	// Clauses is the text to send after "ALTER TABLE <shadow> ": the user's own text
	// without a leading "ALTER TABLE name" and without trailing ";" and whitespace.
	// It is not re-rendered from the syntax tree, so MariaDB spellings survive. It may
	// end in a "--" comment, so anything appended to it must start on a new line.
	Clauses string
	// Renames maps an old column name to its new one for CHANGE old new (old != new)
	// and RENAME COLUMN old TO new. Both sides are lower-cased because MySQL column
	// names are case-insensitive.
	Renames map[string]string
	// Dropped lists the columns removed by DROP COLUMN, lower-cased.
	Dropped []string
	// Added lists the columns created by ADD COLUMN, in either the single or the
	// parenthesised list form, lower-cased. A column added with IF NOT EXISTS is
	// listed even though the server skips it when it already exists; CopiedColumns
	// resolves that against the real table.
	Added []string
	// Modified lists the columns whose definition changes: MODIFY, CHANGE and
	// ALTER COLUMN ... SET/DROP DEFAULT.
	Modified []ColumnChange
	// NewUniqueKeys lists the UNIQUE keys and PRIMARY KEYs the ALTER adds, whether as
	// an index clause or written inline in a column definition.
	NewUniqueKeys []Key
	// DropsPrimaryKey is true for DROP PRIMARY KEY.
	DropsPrimaryKey bool
	// AddsForeignKey is true when the ALTER creates a foreign key, including an
	// inline "REFERENCES" in a column definition: MySQL ignores those, but MariaDB
	// 10.5 and later create a real constraint from them.
	AddsForeignKey bool
	// DroppedIndexes lists indexes removed by DROP INDEX/KEY, lower-cased. It also
	// holds the names in DROP CONSTRAINT and DROP CHECK: the parser reads both the
	// same way, and MySQL 8.0.19+ and MariaDB drop a UNIQUE key named by DROP
	// CONSTRAINT, so a check that cares about a dropped key must see the name.
	DroppedIndexes []string
	// AddedIndexes lists the non-unique indexes the ALTER adds (KEY, INDEX,
	// FULLTEXT, VECTOR).
	AddedIndexes []Key

	// addedIfNotExists holds the lower-cased names of columns added with
	// IF NOT EXISTS; the server skips such an ADD when the column already exists.
	addedIfNotExists map[string]bool
}

// ColumnChange is one column whose definition changes. Old and New are
// lower-cased and differ only for CHANGE old new. Type is the new type as the parser
// renders it in lower case ("varchar(150)", "int unsigned"), without character set
// and collation, or empty when the clause keeps the type (ALTER COLUMN ... SET
// DEFAULT).
type ColumnChange struct{ Old, New, Type string }

// Key is an index the ALTER adds. Name is lower-cased and empty when the user did
// not name the key and the server will choose the name; a primary key is always
// named "primary", whatever the ALTER says, because that is the server's rule.
// Columns are lower-cased; an expression key part (MySQL 8.0.13+) appears as its
// parenthesised expression. A primary key has both Primary and Unique set.
type Key struct {
	Name            string
	Columns         []string
	Primary, Unique bool
}

// Error is a problem with the user's ALTER: it does not parse, or it asks for
// something tailor cannot do online. Its message is one sentence meant to be shown
// to the user as it is.
type Error struct {
	Msg string
	// Err is the parser's error when the text did not parse, and nil otherwise.
	Err error
}

// Error returns the message for the user.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the parser's error, if any.
func (e *Error) Unwrap() error { return e.Err }

func reject(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// Parse parses the user's ALTER. text is either the clauses alone
// ("ADD COLUMN x INT, DROP COLUMN y") or a whole statement
// ("ALTER TABLE orders ADD COLUMN x INT"); a trailing semicolon is allowed. It
// returns an *Error when the text does not parse or cannot be applied online.
func Parse(text string) (*Alter, error) {
	stmt, clauses, whole, err := parseStatement(text)
	if err != nil {
		return nil, err
	}
	if len(stmt.Specs) == 0 {
		return nil, reject("the ALTER is empty; give at least one clause, such as ADD COLUMN")
	}
	a := &Alter{
		Clauses:          trimClauses(clauses),
		Renames:          map[string]string{},
		addedIfNotExists: map[string]bool{},
	}
	if whole {
		a.Schema, a.Table = stmt.Table.Schema.O, stmt.Table.Name.O
	}
	for _, spec := range stmt.Specs {
		if err := a.addSpec(spec); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// parseStatement parses text as a whole ALTER TABLE or as clauses, and returns the
// statement, the part of the user's text that holds the clauses, and whether the
// user wrote a whole statement (which names the table).
func parseStatement(text string) (*ast.AlterTableStmt, string, bool, error) {
	first, second := leadingWords(text)
	if strings.EqualFold(first, "alter") {
		switch strings.ToLower(second) {
		case "table":
			stmt, clauses, err := parseWhole(text)
			return stmt, clauses, true, err
		case "ignore":
			// The parser accepts IGNORE and then forgets it, so it must be caught here
			// or the shadow would be altered without it.
			return nil, "", false, reject("ALTER IGNORE TABLE is not supported because tailor copies the rows itself; remove IGNORE, and remove duplicate rows first if you add a UNIQUE key")
		case "online":
			// MariaDB's ALTER ONLINE TABLE means LOCK=NONE.
			return nil, "", false, reject("remove ONLINE: tailor chooses how to apply the change")
		}
	}
	stmt, clauses, err := parseClauses(text)
	return stmt, clauses, false, err
}

// leadingWords returns the first two tokens of text as the lexer reads them, so
// comments and whitespace before them do not matter.
func leadingWords(text string) (string, string) {
	s := parser.NewScanner(text)
	first, _ := s.LexLiteral().(string)
	second, _ := s.LexLiteral().(string)
	return first, second
}

func parseSQL(text string) ([]ast.StmtNode, error) {
	stmts, _, err := parser.New().Parse(text, "", "")
	return stmts, err
}

func parseWhole(text string) (*ast.AlterTableStmt, string, error) {
	parsable := parsableCharsets(text)
	stmts, err := parseSQL(parsable)
	if err != nil {
		return nil, "", &Error{Msg: "could not parse the ALTER: " + parserMessage(err), Err: err}
	}
	alter, err := singleAlter(stmts)
	if err != nil {
		return nil, "", err
	}
	// Text is the statement's own text: it stops at the first ";" and drops what
	// follows, such as a trailing comment.
	own := alter.Text()
	start, err := clausesStart(own, alter.Table)
	if err != nil {
		return nil, "", err
	}
	users, err := usersText(text, parsable, own)
	if err != nil {
		return nil, "", err
	}
	return alter, users[start:], nil
}

func parseClauses(text string) (*ast.AlterTableStmt, string, error) {
	wrapped := placeholder + text
	parsable := parsableCharsets(wrapped)
	stmts, err := parseSQL(parsable)
	if err != nil {
		// The text may be a complete statement of another kind, "DROP TABLE x" say;
		// that deserves a plainer message than a syntax error.
		if other, otherErr := parseSQL(parsableCharsets(text)); otherErr == nil && len(other) > 0 {
			if len(other) > 1 {
				return nil, "", errManyStatements()
			}
			first, second := leadingWords(text)
			return nil, "", reject("the text is not an ALTER TABLE (it starts with %q), and tailor applies only ALTER TABLE changes", strings.ToUpper(first+" "+second))
		}
		return nil, "", &Error{
			Msg: fmt.Sprintf("could not parse the ALTER: %s (the position is in %q, as tailor read your clauses)", parserMessage(err), wrapped),
			Err: err,
		}
	}
	alter, err := singleAlter(stmts)
	if err != nil {
		return nil, "", err
	}
	own, err := usersText(wrapped, parsable, alter.Text())
	if err != nil {
		return nil, "", err
	}
	if len(own) <= len(placeholder) {
		return alter, "", nil // no clauses; Parse reports the ALTER as empty
	}
	return alter, own[len(placeholder):], nil
}

// usersText returns the part of the user's text that own, the text of a
// statement parsed from parsable (= parsableCharsets(text)), was read from:
// the same offsets, since parsableCharsets keeps every offset, with the
// user's own character set and collation names.
func usersText(text, parsable, own string) (string, error) {
	at := strings.Index(parsable, own)
	if at < 0 || len(parsable) != len(text) {
		// Unreachable, but never send the parser's stand-in names.
		return "", reject("could not find the ALTER's clauses in its text")
	}
	return text[at : at+len(own)], nil
}

func singleAlter(stmts []ast.StmtNode) (*ast.AlterTableStmt, error) {
	switch {
	case len(stmts) == 0:
		return nil, reject("the ALTER is empty; give at least one clause, such as ADD COLUMN")
	case len(stmts) > 1:
		return nil, errManyStatements()
	}
	alter, ok := stmts[0].(*ast.AlterTableStmt)
	if !ok {
		// ALTER TABLE t ANALYZE PARTITION and ALTER TABLE t COMPACT parse as other
		// statement kinds.
		return nil, reject("this ALTER does not change a table's definition, and tailor applies only ALTER TABLE changes that do")
	}
	return alter, nil
}

func errManyStatements() error {
	return reject("the ALTER holds more than one statement; give one ALTER TABLE, with its clauses separated by commas")
}

// parserMessage returns the parser's "line L column C near ..." text on one line:
// the quoted rest of the statement may span lines, and the message is shown as one.
func parserMessage(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// clausesStart returns the offset in stmt (the text of an ALTER TABLE) at which the
// clauses start. The parser does not expose token offsets, so it asks the parser
// instead: the shortest prefix that parses as "ALTER TABLE <the same name>" with no
// clauses ends where the table name ends. Quoted names (even with a doubled
// backtick inside), schema qualifiers and comments between the words are thereby
// read exactly as the server reads them. Only a few dozen short prefixes are
// parsed, since the name comes early.
func clausesStart(stmt string, table *ast.TableName) (int, error) {
	p := parser.New()
	for end := 1; end <= len(stmt); end++ {
		stmts, _, err := p.Parse(stmt[:end], "", "")
		if err != nil || len(stmts) != 1 {
			continue
		}
		prefix, ok := stmts[0].(*ast.AlterTableStmt)
		if ok && len(prefix.Specs) == 0 &&
			prefix.Table.Schema.O == table.Schema.O && prefix.Table.Name.O == table.Name.O {
			return end, nil
		}
	}
	// Unreachable for a statement that parsed, but never guess where clauses start.
	return 0, reject("could not find where the clauses start after the table name in the ALTER")
}

// trimClauses drops the whitespace around the clauses and the statement's trailing
// semicolons, which the server would reject inside tailor's own statement.
func trimClauses(s string) string {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	return strings.TrimRightFunc(s, func(r rune) bool { return r == ';' || unicode.IsSpace(r) })
}

// WrittenFor reports whether a whole "ALTER TABLE name ..." statement names
// database.table (clauses alone name any table), comparing names as the
// server does: exactly, or case-insensitively when lower_case_table_names
// is set. written is the table as the statement names it, quoted, for a
// message when it does not.
func (a *Alter) WrittenFor(database, table string, lowerCaseNames bool) (ok bool, written string) {
	if a.Table == "" {
		return true, ""
	}
	same := func(x, y string) bool { return x == y || (lowerCaseNames && strings.EqualFold(x, y)) }
	if same(a.Table, table) && (a.Schema == "" || same(a.Schema, database)) {
		return true, ""
	}
	if a.Schema != "" {
		return false, mysql.QuoteTable(a.Schema, a.Table)
	}
	return false, mysql.QuoteIdent(a.Table)
}
