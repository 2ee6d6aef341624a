package migfiles

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	// The parser needs a value-expression driver to build literals.
	_ "github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/tailor-osc/tailor/internal/ddl"
)

// Kind is what a statement does, which decides how tailor runs it.
type Kind string

const (
	// KindAlterTable changes a table's definition: ALTER TABLE, and CREATE
	// INDEX and DROP INDEX, which the server runs as ALTERs and which lock
	// a large table just the same. These go through the online engine.
	KindAlterTable Kind = "alter-table"
	// KindCreateTable creates a table; a new table is empty, so it runs
	// directly.
	KindCreateTable Kind = "create-table"
	// KindCreateView creates or alters a view; runs directly.
	KindCreateView Kind = "create-view"
	// KindRoutine creates, alters or drops a procedure, function or event;
	// runs directly.
	KindRoutine Kind = "routine"
	// KindTrigger creates or drops a trigger; runs directly.
	KindTrigger Kind = "trigger"
	// KindGrant manages accounts, roles and privileges; runs directly.
	KindGrant Kind = "grant"
	// KindOtherDDL is any other definition statement (DROP TABLE, RENAME
	// TABLE, TRUNCATE, CREATE DATABASE...); runs directly.
	KindOtherDDL Kind = "other-ddl"
	// KindUpdate is an UPDATE: it runs directly below a size limit, or as a
	// backfill.
	KindUpdate Kind = "dml-update"
	// KindDelete is a DELETE: it runs directly below a size limit.
	KindDelete Kind = "dml-delete"
	// KindInsert is an INSERT, REPLACE or LOAD DATA; runs directly.
	KindInsert Kind = "dml-insert"
	// KindOtherDML is a SELECT, CALL, DO or other statement that reads or
	// writes rows in no way tailor can size; runs directly.
	KindOtherDML Kind = "other-dml"
	// KindOther is a session statement (SET, USE, transaction control,
	// LOCK TABLES) or one tailor does not recognise; runs directly.
	KindOther Kind = "other"
)

// Class is what tailor learns from a statement's text.
type Class struct {
	Kind Kind
	// Schema and Table name the table the statement works on, as written
	// (Schema empty when unqualified): the altered, created, updated,
	// deleted from or inserted into table. Empty when there is none or the
	// statement did not parse.
	Schema, Table string
	// Clauses is, for KindAlterTable, the text to send after "ALTER TABLE
	// <table> ": the user's own clauses, and for CREATE INDEX and DROP
	// INDEX the equivalent ADD INDEX or DROP INDEX clause, without the
	// ALGORITHM= and LOCK= options that the online engine chooses itself.
	Clauses string
	// Alter is, for KindAlterTable, the parsed ALTER when tailor can run it
	// online; nil when ddl refused it, and Note then says why.
	Alter *ddl.Alter
	// Destructive is set for statements that lose data: DROP TABLE,
	// DROP DATABASE, TRUNCATE, CREATE OR REPLACE TABLE (MariaDB drops the
	// old table), and an ALTER that drops a column or drops or truncates a
	// partition. Destroys says what, for a message.
	Destructive bool
	Destroys    string
	// Parsed tells whether the TiDB parser read the statement. A statement
	// it cannot read (MariaDB-only syntax, trigger bodies) is classified by
	// its leading keywords and runs as written.
	Parsed bool
	// Note explains a classification the caller should show: why the
	// parser could not read the statement, or why ddl would not run an
	// ALTER online.
	Note string
}

// Classify reads one statement (without its delimiter). It fails only for
// an ALTER TABLE, CREATE INDEX or DROP INDEX that tailor cannot parse: such
// a statement cannot be planned, and running it directly could lock the
// table, which is what the migration runner exists to prevent.
func Classify(text string) (Class, error) {
	toks := tokenize(text)
	ws := words(text, toks)
	if len(ws) == 0 {
		return Class{Kind: KindOther}, nil
	}
	if isAlterTable(ws) {
		return classifyAlter(text)
	}
	stmts, _, err := parser.New().Parse(text, "", "")
	if err != nil || len(stmts) == 0 {
		c := byWords(ws)
		if c.Kind == KindAlterTable {
			return Class{}, fmt.Errorf("tailor cannot parse this index statement, so it cannot run it online: %s", parserMessage(err))
		}
		if err != nil {
			c.Note = "the parser could not read this statement (" + parserMessage(err) + "), so tailor runs it as written"
		}
		return c, nil
	}
	c := classifyNode(stmts[0], ws)
	c.Parsed = true
	if c.Kind == KindAlterTable {
		// CREATE INDEX or DROP INDEX: the same clause as an ALTER.
		clauses, err := indexClauses(text, toks, ws)
		if err != nil {
			return Class{}, err
		}
		c.Clauses = clauses
		if a, err := ddl.Parse(clauses); err != nil {
			c.Note = err.Error()
		} else {
			c.Alter, c.Clauses = a, a.Clauses
		}
	}
	if len(stmts) > 1 {
		c.Note = "the text holds more than one statement; end each with the delimiter"
	}
	return c, nil
}

// isAlterTable reports whether the statement is ALTER [ONLINE] [IGNORE]
// TABLE, the forms that ddl reads (and refuses with a reason).
func isAlterTable(ws []word) bool {
	if ws[0].text != "ALTER" {
		return false
	}
	for _, w := range ws[1:min(len(ws), 4)] {
		switch w.text {
		case "TABLE":
			return true
		case "ONLINE", "IGNORE":
		default:
			return false
		}
	}
	return false
}

// classifyAlter reads an ALTER TABLE with ddl, the reader tailor alter
// uses, so a statement is understood the same way by both commands, and
// MariaDB character sets the TiDB parser does not know are handled.
func classifyAlter(text string) (Class, error) {
	c := Class{Kind: KindAlterTable}
	a, err := ddl.Parse(text)
	var de *ddl.Error
	switch {
	case err == nil:
		c.Parsed = true
		c.Alter, c.Schema, c.Table, c.Clauses = a, a.Schema, a.Table, a.Clauses
		if len(a.Dropped) > 0 {
			c.Destructive, c.Destroys = true, "DROP COLUMN "+strings.Join(a.Dropped, ", ")
		}
		return c, nil
	case errors.As(err, &de) && de.Err == nil:
		// Parsed, but not something ddl runs online (a partition clause,
		// RENAME, ALTER IGNORE...): the planner decides what to do with it.
		c.Note = err.Error()
	default:
		return Class{}, fmt.Errorf("tailor cannot parse this ALTER TABLE, so it cannot run it online: %v", err)
	}
	// Table name and destructive clauses from the parser's own reading; it
	// may fail where ddl succeeded only on unknown character set names,
	// and those come with no partition clause.
	stmts, _, err := parser.New().Parse(text, "", "")
	if err != nil || len(stmts) != 1 {
		return c, nil
	}
	if alter, ok := stmts[0].(*ast.AlterTableStmt); ok {
		c.Parsed = true
		c.Schema, c.Table = alter.Table.Schema.O, alter.Table.Name.O
		for _, spec := range alter.Specs {
			switch spec.Tp {
			case ast.AlterTableDropColumn:
				c.Destructive, c.Destroys = true, "DROP COLUMN"
			case ast.AlterTableDropPartition, ast.AlterTableDropFirstPartition:
				c.Destructive, c.Destroys = true, "DROP PARTITION"
			case ast.AlterTableTruncatePartition:
				// Empties the partitions: as destructive as TRUNCATE.
				c.Destructive, c.Destroys = true, "TRUNCATE PARTITION"
			}
		}
	}
	return c, nil
}

// classifyNode classifies a statement the parser read.
func classifyNode(n ast.StmtNode, ws []word) Class {
	switch s := n.(type) {
	case *ast.CreateIndexStmt:
		return tableClass(KindAlterTable, s.Table)
	case *ast.DropIndexStmt:
		return tableClass(KindAlterTable, s.Table)
	case *ast.CreateTableStmt:
		c := tableClass(KindCreateTable, s.Table)
		if orReplace(ws) {
			c.Destructive, c.Destroys = true, "CREATE OR REPLACE TABLE"
		}
		return c
	case *ast.CreateViewStmt:
		return Class{Kind: KindCreateView}
	case *ast.DropTableStmt:
		if s.IsView {
			return Class{Kind: KindOtherDDL}
		}
		c := Class{Kind: KindOtherDDL, Destructive: true, Destroys: "DROP TABLE"}
		if len(s.Tables) > 0 {
			c.Schema, c.Table = s.Tables[0].Schema.O, s.Tables[0].Name.O
		}
		return c
	case *ast.TruncateTableStmt:
		c := tableClass(KindOtherDDL, s.Table)
		c.Destructive, c.Destroys = true, "TRUNCATE"
		return c
	case *ast.DropDatabaseStmt:
		return Class{Kind: KindOtherDDL, Destructive: true, Destroys: "DROP DATABASE"}
	case *ast.GrantStmt, *ast.RevokeStmt, *ast.GrantRoleStmt, *ast.RevokeRoleStmt,
		*ast.GrantProxyStmt, *ast.CreateUserStmt, *ast.AlterUserStmt, *ast.DropUserStmt,
		*ast.RenameUserStmt, *ast.SetDefaultRoleStmt, *ast.SetPwdStmt:
		return Class{Kind: KindGrant}
	case *ast.UpdateStmt:
		return refsClass(KindUpdate, s.TableRefs)
	case *ast.DeleteStmt:
		return refsClass(KindDelete, s.TableRefs)
	case *ast.InsertStmt:
		return refsClass(KindInsert, s.Table)
	case *ast.LoadDataStmt:
		return tableClass(KindInsert, s.Table)
	case *ast.SelectStmt, *ast.SetOprStmt, *ast.CallStmt, *ast.DoStmt:
		return Class{Kind: KindOtherDML}
	}
	return byWords(ws)
}

// tableClass is a Class of kind k on table t.
func tableClass(k Kind, t *ast.TableName) Class {
	c := Class{Kind: k}
	if t != nil {
		c.Schema, c.Table = t.Schema.O, t.Name.O
	}
	return c
}

// refsClass is a Class of kind k on the first table of a DML statement's
// table references (for a multi-table statement, the first written).
func refsClass(k Kind, refs *ast.TableRefsClause) Class {
	if refs == nil || refs.TableRefs == nil {
		return Class{Kind: k}
	}
	var node ast.ResultSetNode = refs.TableRefs
	for {
		switch n := node.(type) {
		case *ast.Join:
			node = n.Left
		case *ast.TableSource:
			node = n.Source
		case *ast.TableName:
			return tableClass(k, n)
		default:
			return Class{Kind: k}
		}
	}
}

// orReplace reports whether a CREATE statement is CREATE OR REPLACE.
func orReplace(ws []word) bool {
	return len(ws) > 2 && ws[0].text == "CREATE" && ws[1].text == "OR" && ws[2].text == "REPLACE"
}

// objectKind is the kind of a CREATE, ALTER or DROP statement whose object
// word (TABLE, VIEW, PROCEDURE...) is w; ok is false when w is not one.
func objectKind(w string) (k Kind, ok bool) {
	switch w {
	case "TABLE":
		return KindOtherDDL, true
	case "VIEW":
		return KindCreateView, true
	case "PROCEDURE", "FUNCTION", "EVENT", "PACKAGE":
		return KindRoutine, true
	case "TRIGGER":
		return KindTrigger, true
	case "INDEX":
		return KindAlterTable, true
	case "USER", "ROLE":
		return KindGrant, true
	}
	return "", false
}

// byWords classifies a statement by its leading keywords, for statements
// the parser cannot read (a trigger or a MariaDB-only routine) and for
// parsed statements of no kind listed in classifyNode.
func byWords(ws []word) Class {
	switch ws[0].text {
	case "CREATE", "ALTER", "DROP":
		// The object word comes after modifiers such as OR REPLACE,
		// DEFINER=user@host, ALGORITHM=..., SQL SECURITY ..., UNIQUE.
		for _, w := range ws[1:] {
			k, ok := objectKind(w.text)
			if !ok {
				if w.text == "DATABASE" || w.text == "SCHEMA" {
					if ws[0].text == "DROP" {
						return Class{Kind: KindOtherDDL, Destructive: true, Destroys: "DROP DATABASE"}
					}
					return Class{Kind: KindOtherDDL}
				}
				continue
			}
			switch {
			case w.text == "TABLE" && ws[0].text == "CREATE":
				c := Class{Kind: KindCreateTable}
				if orReplace(ws) {
					c.Destructive, c.Destroys = true, "CREATE OR REPLACE TABLE"
				}
				return c
			case w.text == "TABLE" && ws[0].text == "DROP":
				return Class{Kind: KindOtherDDL, Destructive: true, Destroys: "DROP TABLE"}
			case w.text == "VIEW" && ws[0].text == "DROP":
				return Class{Kind: KindOtherDDL}
			}
			return Class{Kind: k}
		}
		return Class{Kind: KindOtherDDL}
	case "TRUNCATE":
		return Class{Kind: KindOtherDDL, Destructive: true, Destroys: "TRUNCATE"}
	case "RENAME", "ANALYZE", "OPTIMIZE", "REPAIR", "CHECK":
		return Class{Kind: KindOtherDDL}
	case "GRANT", "REVOKE":
		return Class{Kind: KindGrant}
	case "UPDATE":
		return Class{Kind: KindUpdate}
	case "DELETE":
		return Class{Kind: KindDelete}
	case "INSERT", "REPLACE", "LOAD":
		return Class{Kind: KindInsert}
	case "SELECT", "WITH", "CALL", "DO", "VALUES", "TABLE", "EXECUTE":
		return Class{Kind: KindOtherDML}
	}
	return Class{Kind: KindOther}
}

// indexClauses returns the ALTER TABLE clause equivalent to a CREATE INDEX
// or DROP INDEX statement, cut from the user's text so that MariaDB
// spellings survive: "CREATE UNIQUE INDEX u ON t (a) COMMENT 'x'" gives
// "ADD UNIQUE INDEX u (a) COMMENT 'x'", and "DROP INDEX u ON t" gives
// "DROP INDEX u". ALGORITHM= and LOCK= options are left out: the online
// engine chooses how the change is made (ddl refuses them in an ALTER).
func indexClauses(text string, toks []token, ws []word) (string, error) {
	on := -1
	for i, w := range ws {
		if i > 1 && w.text == "ON" {
			on = w.tok
			break
		}
	}
	if on < 0 || on+1 >= len(toks) {
		return "", fmt.Errorf("could not find the table after ON in the index statement")
	}
	tableEnd := on + 1
	if tableEnd+2 < len(toks) && text[toks[tableEnd+1].start:toks[tableEnd+1].end] == "." {
		tableEnd += 2
	}
	head := text[toks[ws[1].tok].start:toks[on].start]
	if ws[0].text == "DROP" {
		return strings.TrimSpace(text[toks[ws[0].tok].start:toks[on].start]), nil
	}
	var rest strings.Builder
	from := len(text)
	if tableEnd+1 < len(toks) {
		from = toks[tableEnd+1].start
	}
	for i := tableEnd + 1; i < len(toks); i++ {
		t := toks[i]
		w := strings.ToUpper(text[t.start:t.end])
		if t.quote != 0 || t.depth != 0 || (w != "ALGORITHM" && w != "LOCK") {
			continue
		}
		end := i + 1
		if end < len(toks) && text[toks[end].start:toks[end].end] == "=" {
			end++
		}
		if end >= len(toks) {
			break
		}
		rest.WriteString(text[from:t.start])
		from, i = toks[end].end, end
	}
	rest.WriteString(text[from:])
	return strings.TrimSpace("ADD " + head + rest.String()), nil
}

// parserMessage is the parser's error on one line.
func parserMessage(err error) string {
	if err == nil {
		return "no statement found"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
