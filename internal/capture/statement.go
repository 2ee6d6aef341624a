package capture

import (
	"encoding/hex"
	"strings"
)

// This file reads just enough of the statements in the binary log's query
// events to tell which tables they change. It is not a SQL parser: it lexes
// the statement (quoting, comments and executable comments as the server
// does) and follows the grammar of the few statements that change a table's
// definition far enough to find their table names. Everything it does not
// recognise is reported as touching no table, so the rules below are written
// to err on the side of naming a table: a false alarm stops a migration with
// a clear message, a miss would let it copy into the wrong shape.

type tokenKind int

const (
	tokWord   tokenKind = iota // a bare word: keyword, name or number
	tokQuoted                  // `name`, or "name" (an identifier under ANSI_QUOTES)
	tokString                  // 'text'
	tokPunct                   // any other single character
)

type token struct {
	kind tokenKind
	text string // unquoted
}

// nameLike reports whether t can be an identifier.
func (t token) nameLike() bool { return t.kind == tokWord || t.kind == tokQuoted }

// is reports whether t is the bare keyword kw (upper case).
func (t token) is(kw string) bool { return t.kind == tokWord && strings.EqualFold(t.text, kw) }

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// lex splits a statement into tokens. Comments are skipped, except that the
// body of an executable comment (/*! ... */, /*!50100 ... */, /*M! ... */)
// is lexed as part of the statement, because the server runs it.
func lex(s string) []token {
	var toks []token
	inExec := 0 // executable comments open
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '*' && inExec > 0 && i+1 < len(s) && s[i+1] == '/':
			inExec--
			i += 2
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := i + 2
			if j < len(s) && s[j] == 'M' && j+1 < len(s) && s[j+1] == '!' {
				j++
			}
			if j < len(s) && s[j] == '!' {
				j++
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				inExec++
				i = j
				continue
			}
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return toks
			}
			i += 2 + end + 2
		case c == '#' || (c == '-' && strings.HasPrefix(s[i:], "--") && (i+2 == len(s) || strings.IndexByte(" \t\n\r", s[i+2]) >= 0)):
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				return toks
			}
			i += end + 1
		case c == '`' || c == '"' || c == '\'':
			text, n := unquote(s[i:], c, c != '`')
			kind := tokQuoted
			if c == '\'' {
				kind = tokString
			}
			toks = append(toks, token{kind, text})
			i += n
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, token{tokWord, s[i:j]})
			i = j
		default:
			toks = append(toks, token{tokPunct, string(c)})
			i++
		}
	}
	return toks
}

// unquote reads a quoted token starting at s[0] == q, where a doubled quote
// stands for itself and, in strings, a backslash escapes the next byte. It
// returns the text and the bytes consumed.
func unquote(s string, q byte, backslash bool) (string, int) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == q && i+1 < len(s) && s[i+1] == q:
			b.WriteByte(q)
			i++
		case s[i] == q:
			return b.String(), i + 1
		case backslash && s[i] == '\\' && i+1 < len(s):
			b.WriteByte(s[i+1])
			i++
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), len(s)
}

// tableName is a possibly schema-qualified table name from a statement.
// Table "" with a Database means the whole database (DROP DATABASE).
type tableName struct {
	Database, Table string
}

// statementKind classifies a statement for the reader.
type statementKind int

const (
	stmtOther      statementKind = iota
	stmtDDL                      // changes the definition of (or drops) the tables it names
	stmtDML                      // changes rows: in a binary log, only when logged as a statement
	stmtBegin                    // BEGIN, START TRANSACTION, XA START
	stmtCommit                   // COMMIT
	stmtRollback                 // ROLLBACK
	stmtSavepoint                // SAVEPOINT name
	stmtRollbackTo               // ROLLBACK TO [SAVEPOINT] name
	stmtXAEnd                    // XA END xid
	stmtXACommit                 // XA COMMIT xid
	stmtXARollback               // XA ROLLBACK xid
	stmtXAOnePhase               // XA COMMIT xid ONE PHASE
)

// statement is what the reader needs to know about a query event.
type statement struct {
	kind statementKind
	// tables are the tables a DDL statement changes, or every name a DML
	// statement mentions.
	tables []tableName
	// name is the savepoint or the XA transaction's identifier.
	name string
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return token{kind: tokPunct}
}

// word consumes the next token if it is one of the keywords.
func (p *parser) word(kws ...string) bool {
	for _, kw := range kws {
		if p.peek(0).is(kw) {
			p.i++
			return true
		}
	}
	return false
}

func (p *parser) punct(c string) bool {
	if t := p.peek(0); t.kind == tokPunct && t.text == c {
		p.i++
		return true
	}
	return false
}

// ifExists consumes IF EXISTS or IF NOT EXISTS.
func (p *parser) ifExists() {
	switch {
	case p.peek(0).is("IF") && p.peek(1).is("EXISTS"):
		p.i += 2
	case p.peek(0).is("IF") && p.peek(1).is("NOT") && p.peek(2).is("EXISTS"):
		p.i += 3
	}
}

// name consumes a possibly qualified name.
func (p *parser) name() (tableName, bool) {
	first := p.peek(0)
	if !first.nameLike() {
		return tableName{}, false
	}
	p.i++
	if p.peek(0).kind == tokPunct && p.peek(0).text == "." && p.peek(1).nameLike() {
		second := p.peek(1)
		p.i += 2
		return tableName{Database: first.text, Table: second.text}, true
	}
	return tableName{Table: first.text}, true
}

// nameList consumes name [, name ...].
func (p *parser) nameList() []tableName {
	var names []tableName
	for {
		n, ok := p.name()
		if !ok {
			return names
		}
		names = append(names, n)
		if !p.punct(",") {
			return names
		}
	}
}

// analyzeStatement classifies one query event's statement.
func analyzeStatement(query string) statement { return analyzeTokens(lex(query)) }

func analyzeTokens(toks []token) statement {
	p := &parser{toks: toks}
	// MariaDB's SET STATEMENT var = value [, ...] FOR stmt runs stmt with
	// those settings, and the binary log keeps the whole text (tailor's own
	// cut-over RENAME is written so). No value can be the bare word FOR.
	if p.peek(0).is("SET") && p.peek(1).is("STATEMENT") {
		for j := 2; j < len(toks); j++ {
			if toks[j].is("FOR") {
				return analyzeTokens(toks[j+1:])
			}
		}
	}
	switch {
	case p.word("BEGIN"):
		return statement{kind: stmtBegin}
	case p.word("START"):
		if p.word("TRANSACTION") {
			return statement{kind: stmtBegin}
		}
	case p.word("COMMIT"):
		return statement{kind: stmtCommit}
	case p.word("SAVEPOINT"):
		if n, ok := p.name(); ok {
			return statement{kind: stmtSavepoint, name: n.Table}
		}
	case p.word("ROLLBACK"):
		p.word("WORK")
		if p.word("TO") {
			p.word("SAVEPOINT")
			if n, ok := p.name(); ok {
				return statement{kind: stmtRollbackTo, name: n.Table}
			}
		}
		return statement{kind: stmtRollback}
	case p.word("XA"):
		return p.xa()
	case p.word("ALTER"):
		return p.alter()
	case p.word("DROP"):
		return p.drop()
	case p.word("RENAME"):
		return p.rename()
	case p.word("TRUNCATE"):
		p.word("TABLE")
		if n, ok := p.name(); ok {
			return statement{kind: stmtDDL, tables: []tableName{n}}
		}
	case p.word("CREATE"):
		return p.create()
	case p.word("INSERT", "REPLACE", "UPDATE", "DELETE", "LOAD"):
		return statement{kind: stmtDML, tables: p.allNames()}
	}
	return statement{kind: stmtOther}
}

// alter reads ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] t ..., which changes
// t and, through RENAME [TO] u or EXCHANGE PARTITION p WITH TABLE u, also u.
func (p *parser) alter() statement {
	p.word("ONLINE")
	p.word("IGNORE")
	if !p.word("TABLE") {
		return statement{kind: stmtOther} // ALTER DATABASE, VIEW, EVENT, USER, ...
	}
	p.ifExists()
	n, ok := p.name()
	if !ok {
		return statement{kind: stmtOther}
	}
	st := statement{kind: stmtDDL, tables: []tableName{n}}
	depth := 0
	for p.i < len(p.toks) {
		t := p.peek(0)
		p.i++
		switch {
		case t.kind == tokPunct && t.text == "(":
			depth++
		case t.kind == tokPunct && t.text == ")":
			depth--
		case depth != 0:
		case t.is("RENAME"):
			if p.word("COLUMN", "INDEX", "KEY", "CONSTRAINT") {
				continue
			}
			p.word("TO", "AS")
			p.punct("=")
			if n, ok := p.name(); ok {
				st.tables = append(st.tables, n)
			}
		case t.is("WITH") && p.peek(0).is("TABLE"):
			p.i++
			if n, ok := p.name(); ok {
				st.tables = append(st.tables, n)
			}
		}
	}
	return st
}

// drop reads DROP [TEMPORARY] TABLE[S] [IF EXISTS] t, ..., DROP INDEX i ON
// t and DROP DATABASE|SCHEMA d. A temporary table only hides the real one
// from its own session, so dropping it changes nothing the reader follows.
func (p *parser) drop() statement {
	switch {
	case p.word("DATABASE", "SCHEMA"):
		p.ifExists()
		if n, ok := p.name(); ok && n.Database == "" {
			return statement{kind: stmtDDL, tables: []tableName{{Database: n.Table}}}
		}
	case p.word("TEMPORARY"):
	case p.word("TABLE", "TABLES"):
		p.ifExists()
		return statement{kind: stmtDDL, tables: p.nameList()}
	case p.word("INDEX"):
		p.word("ONLINE", "OFFLINE")
		p.ifExists()
		if _, ok := p.name(); ok && p.word("ON") {
			if n, ok := p.name(); ok {
				return statement{kind: stmtDDL, tables: []tableName{n}}
			}
		}
	}
	return statement{kind: stmtOther}
}

// rename reads RENAME TABLE[S] [IF EXISTS] a [WAIT n|NOWAIT] TO b [, ...];
// both sides of every pair count.
func (p *parser) rename() statement {
	if !p.word("TABLE", "TABLES") {
		return statement{kind: stmtOther} // RENAME USER
	}
	p.ifExists()
	st := statement{kind: stmtDDL}
	for {
		from, ok := p.name()
		if !ok {
			break
		}
		st.tables = append(st.tables, from)
		if p.word("WAIT") {
			p.i++
		}
		p.word("NOWAIT")
		if !p.word("TO") {
			break
		}
		to, ok := p.name()
		if !ok {
			break
		}
		st.tables = append(st.tables, to)
		if !p.punct(",") {
			break
		}
	}
	return st
}

// create reads CREATE [OR REPLACE] TABLE [IF NOT EXISTS] t and CREATE
// [OR REPLACE] [UNIQUE|FULLTEXT|SPATIAL] INDEX i ... ON t. CREATE TABLE u
// LIKE t or AS SELECT ... FROM t only reads t.
func (p *parser) create() statement {
	if p.word("OR") {
		p.word("REPLACE")
	}
	switch {
	case p.word("TEMPORARY"):
	case p.word("TABLE"):
		p.ifExists()
		if n, ok := p.name(); ok {
			return statement{kind: stmtDDL, tables: []tableName{n}}
		}
	default:
		p.word("UNIQUE", "FULLTEXT", "SPATIAL")
		if !p.word("INDEX") {
			break
		}
		for depth := 0; p.i < len(p.toks); {
			t := p.peek(0)
			p.i++
			switch {
			case t.kind == tokPunct && t.text == "(":
				depth++
			case t.kind == tokPunct && t.text == ")":
				depth--
			case depth == 0 && t.is("ON"):
				if n, ok := p.name(); ok {
					return statement{kind: stmtDDL, tables: []tableName{n}}
				}
			}
		}
	}
	return statement{kind: stmtOther}
}

// allNames returns every name the rest of the statement mentions, qualified
// names as one. Keywords come along too; they only matter if a table has a
// keyword's name, and then the reader errs towards stopping.
func (p *parser) allNames() []tableName {
	var names []tableName
	for p.i < len(p.toks) {
		if n, ok := p.name(); ok {
			names = append(names, n)
			continue
		}
		p.i++
	}
	return names
}

// xa reads the XA statements the server logs: XA START|END|COMMIT|ROLLBACK
// xid [ONE PHASE]. The xid is normalised by xidKey.
func (p *parser) xa() statement {
	var kind statementKind
	switch {
	case p.word("START", "BEGIN"):
		return statement{kind: stmtBegin}
	case p.word("END"):
		kind = stmtXAEnd
	case p.word("COMMIT"):
		kind = stmtXACommit
	case p.word("ROLLBACK"):
		kind = stmtXARollback
	default:
		return statement{kind: stmtOther}
	}
	var parts [2][]byte
	formatID := "1"
	for k := 0; k < 2; k++ {
		isHex := p.peek(0).kind == tokWord && strings.EqualFold(p.peek(0).text, "X") && p.peek(1).kind == tokString
		if isHex {
			p.i++
		}
		t := p.peek(0)
		if t.kind != tokString && t.kind != tokQuoted {
			break
		}
		p.i++
		if isHex {
			b, err := hex.DecodeString(t.text)
			if err != nil {
				b = []byte(t.text)
			}
			parts[k] = b
		} else {
			parts[k] = []byte(t.text)
		}
		if !p.punct(",") {
			break
		}
		if k == 1 && p.peek(0).kind == tokWord {
			formatID = p.peek(0).text
			p.i++
		}
	}
	if kind == stmtXACommit && p.word("ONE") && p.word("PHASE") {
		kind = stmtXAOnePhase
	}
	return statement{kind: kind, name: xidKey(parts[0], parts[1], formatID)}
}

// xidKey is the canonical form of an XA transaction identifier, shared by
// the XA statements and the XA_PREPARE event.
func xidKey(gtrid, bqual []byte, formatID string) string {
	return hex.EncodeToString(gtrid) + "," + hex.EncodeToString(bqual) + "," + formatID
}
