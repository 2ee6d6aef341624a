package backfill

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // the parser's value expressions

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
)

// Statement is the data change a backfill makes, batch by batch: an UPDATE
// with Set, or a DELETE, of the rows of one key range that match Where.
type Statement struct {
	Database, Table string
	// Set is the UPDATE's assignments as the operator wrote them
	// ("display_name = full_name"); empty for a DELETE.
	Set string
	// Where selects the rows to change; empty changes every row.
	Where  string
	Delete bool
	// Key is the key the backfill walks (its columns, in order, and what
	// sqlbuild.Range lists of them).
	Key sqlbuild.Key
}

// Targets are the columns a statement's Set assigns, as parse found them.
type Targets []string

// Batch is the statement for the key range (lower, upper] (nil for an open
// end) and its placeholders' values.
//
// The operator's text is placed on lines of its own inside parentheses: a
// trailing "-- comment" ends at the newline instead of swallowing the key
// range, and parse has checked that the text of this very shape is one
// statement whose WHERE is the range AND the operator's condition.
func (s Statement) Batch(lower, upper []any) (string, []any) {
	cond, args := sqlbuild.Range(s.Key, lower, upper)
	return s.withRange(cond), args
}

func (s Statement) withRange(cond string) string { return s.render(cond, "\n") }

// render writes the statement with the key range cond, the operator's text
// between line breaks br (see Batch), or on one line for reading.
func (s Statement) render(cond, br string) string {
	table := mysql.QuoteTable(s.Database, s.Table)
	where := "(" + cond + ")"
	if s.Where != "" {
		where += " AND (" + br + s.Where + br + ")"
	}
	if s.Delete {
		return "DELETE FROM " + table + " WHERE " + where
	}
	sp := br
	if sp == "" {
		sp = " "
	}
	return "UPDATE " + table + " SET" + sp + s.Set + sp + "WHERE " + where
}

// Text is the statement as the operator reads it in logs and in the saved
// state, on one line: the batch's key range shown as "<key range>".
func (s Statement) Text() string {
	return oneLine(s.render("<key range>", ""))
}

// Job names the backfill in its saved state: the same table, key, change
// and condition are the same backfill, which a rerun resumes or reports
// finished.
func (s Statement) Job() string {
	h := sha256.New()
	for _, part := range []string{s.Database, s.Table, strings.Join(s.Key.Columns, ","), s.Set, s.Where, fmt.Sprint(s.Delete)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// parse checks s with the MySQL-dialect parser the ALTERs go through, in
// the exact shape its batches are sent, against the table t: one UPDATE or
// DELETE of the table, with no ORDER BY or LIMIT smuggled in, whose WHERE
// is the key range AND the operator's condition; assignments to columns
// that exist, are not generated and are not the walked key; and condition
// columns that exist. It returns the assigned columns.
//
// Columns inside subqueries are left to the server (they may be another
// table's); the sample run that follows finds what this misses.
func (s Statement) parse(t *schema.Table) (Targets, error) {
	lower := make([]any, len(s.Key.Columns))
	text, _ := s.Batch(lower, lower)
	stmts, _, err := parser.New().Parse(text, "", "")
	if err != nil {
		return nil, fmt.Errorf("the statement does not parse: %s; check --set and --where", parseMessage(err))
	}
	if len(stmts) != 1 {
		return nil, errors.New("--set and --where must make one statement: remove the ';'")
	}
	var where ast.ExprNode
	var targets Targets
	switch st := stmts[0].(type) {
	case *ast.UpdateStmt:
		if s.Delete || st.Order != nil || st.Limit != nil || st.MultipleTable {
			return nil, errors.New("--where must be a condition only: ORDER BY, LIMIT and joins are the backfill's to choose")
		}
		where = st.Where
		for _, a := range st.List {
			name := a.Column.Name.O
			if a.Column.Table.O != "" && !strings.EqualFold(a.Column.Table.O, s.Table) {
				return nil, fmt.Errorf("--set assigns %s, a column of another table: a backfill changes %s only", mysql.QuoteIdent(a.Column.Table.O+"."+name), mysql.QuoteIdent(s.Table))
			}
			c, ok := t.Column(name)
			switch {
			case !ok:
				return nil, fmt.Errorf("--set assigns column %s, which %s does not have", mysql.QuoteIdent(name), mysql.QuoteIdent(s.Table))
			case c.Generated:
				return nil, fmt.Errorf("--set assigns %s, a generated column, which the server computes", mysql.QuoteIdent(name))
			case slices.ContainsFunc(s.Key.Columns, func(k string) bool { return strings.EqualFold(k, name) }):
				// A row whose key moves ahead of the walk would be
				// changed again in a later batch.
				return nil, fmt.Errorf("--set assigns %s, a column of the key the backfill walks: choose another key with --key, or change the key with tailor alter", mysql.QuoteIdent(name))
			}
			targets = append(targets, c.Name)
			if err := columnsExist(a.Expr, s.Table, t, "--set"); err != nil {
				return nil, err
			}
		}
	case *ast.DeleteStmt:
		if !s.Delete || st.Order != nil || st.Limit != nil || st.IsMultiTable {
			return nil, errors.New("--where must be a condition only: ORDER BY, LIMIT and joins are the backfill's to choose")
		}
		where = st.Where
	default:
		return nil, errors.New("--set and --where must make one UPDATE of the table")
	}
	if err := s.checkWhere(where, t); err != nil {
		return nil, err
	}
	return targets, nil
}

// checkWhere checks that where is the key range AND the operator's
// condition, as withRange writes it, and not a condition the operator's
// text rearranged (a stray parenthesis could otherwise OR the key range
// away), and that the condition's columns exist.
func (s Statement) checkWhere(where ast.ExprNode, t *schema.Table) error {
	rangeOnly := s.Where == ""
	var user ast.ExprNode
	if !rangeOnly {
		and, ok := where.(*ast.BinaryOperationExpr)
		if !ok || and.Op != opcode.LogicAnd {
			return errors.New("--where must be one condition: check its parentheses")
		}
		l, lok := and.L.(*ast.ParenthesesExpr)
		r, rok := and.R.(*ast.ParenthesesExpr)
		if !lok || !rok {
			return errors.New("--where must be one condition: check its parentheses")
		}
		where, user = l, r.Expr
	}
	// The range part must be exactly the one tailor wrote. Its bounds are
	// placeholders here, as in parse's text, so no number is listed.
	lower := make([]any, len(s.Key.Columns))
	cond, _ := sqlbuild.Range(s.Key, lower, lower)
	want, err := parser.New().ParseOneStmt("SELECT 1 FROM t WHERE ("+cond+")", "", "")
	if err != nil {
		return fmt.Errorf("build the key range: %w", err)
	}
	if restore(want.(*ast.SelectStmt).Where) != restore(where) {
		return errors.New("--where must be one condition: check its parentheses")
	}
	if user != nil {
		return columnsExist(user, s.Table, t, "--where")
	}
	return nil
}

// columnsExist checks that every column expr names outside subqueries is a
// column of t.
func columnsExist(expr ast.ExprNode, table string, t *schema.Table, flag string) error {
	v := &columnVisitor{table: table}
	expr.Accept(v)
	for _, name := range v.names {
		if _, ok := t.Column(name); !ok {
			return fmt.Errorf("%s names column %s, which %s does not have", flag, mysql.QuoteIdent(name), mysql.QuoteIdent(table))
		}
	}
	return nil
}

type columnVisitor struct {
	table string
	names []string
}

func (v *columnVisitor) Enter(n ast.Node) (ast.Node, bool) {
	switch n := n.(type) {
	case *ast.SubqueryExpr:
		return n, true
	case *ast.ColumnNameExpr:
		if n.Name.Table.O == "" || strings.EqualFold(n.Name.Table.O, v.table) {
			v.names = append(v.names, n.Name.Name.O)
		}
	}
	return n, false
}

func (v *columnVisitor) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func restore(n ast.Node) string {
	var sb strings.Builder
	_ = n.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, &sb))
	return sb.String()
}

// parseMessage is the parser's error without its "line 1 column 7 near"
// framing repeated: the position is kept, the statement it quotes is the
// operator's own.
func parseMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "near "); i >= 0 {
		return "syntax error near " + strings.TrimSpace(msg[i+len("near "):])
	}
	return msg
}
