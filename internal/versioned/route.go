package versioned

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // the parser's value expressions

	"github.com/tailor-osc/tailor/internal/migfiles"
	"github.com/tailor-osc/tailor/internal/mysql"
)

// Strategy is how a statement runs, or that it is refused. The first five
// are the strategies history records.
type Strategy string

// The strategies a plan shows.
const (
	NativeInstant Strategy = "native-instant"
	OnlineCopy    Strategy = "online-copy"
	Direct        Strategy = "direct"
	Backfill      Strategy = "backfill"
	Refused       Strategy = "refused"
)

// route is the first sorting of a statement, from its text alone.
type route int

const (
	routeDirect   route = iota // sent as written
	routeAlter                 // through migrate: INSTANT or online copy, as planned
	routeDML                   // an UPDATE or DELETE: direct when small enough
	routeBackfill              // a -- tailor:backfill UPDATE or DELETE
	routeRefused
)

// routeOf sorts st, or says in one sentence why it is refused.
func routeOf(st *migfiles.Statement, allowDestructive bool) (route, string) {
	if st.Destructive && !allowDestructive && !st.Has(migfiles.AllowDestructive) {
		return routeRefused, fmt.Sprintf("%s destroys data, and a migration runs it only when allowed: add the line \"-- tailor:%s\" above the statement, or pass --allow-destructive",
			st.Destroys, migfiles.AllowDestructive)
	}
	if st.Has(migfiles.Backfill) {
		if st.Kind != migfiles.KindUpdate && st.Kind != migfiles.KindDelete {
			return routeRefused, fmt.Sprintf("the \"-- tailor:%s\" directive turns an UPDATE or a DELETE into a backfill, and this statement is %s", migfiles.Backfill, st.Kind)
		}
		if _, err := backfillOf(st.Text); err != nil {
			return routeRefused, err.Error()
		}
		return routeBackfill, ""
	}
	switch st.Kind {
	case migfiles.KindAlterTable:
		if st.Alter == nil {
			// classifyAlter parsed the statement but ddl would not run it
			// online (its Note says why): sending it as written could lock
			// the table for as long as it runs.
			return routeRefused, "tailor cannot run this ALTER online: " + st.Note
		}
		if st.Table == "" {
			return routeRefused, "tailor could not find the table this ALTER changes"
		}
		return routeAlter, ""
	case migfiles.KindUpdate, migfiles.KindDelete:
		return routeDML, ""
	}
	return routeDirect, ""
}

// backfillSpec is a backfill directive's statement taken apart for package
// backfill.
type backfillSpec struct {
	Schema, Table string
	Set, Where    string
	Delete        bool
}

// backfillOf reads an UPDATE or DELETE of one table into its table, SET and
// WHERE, restored from the parsed statement (the parser's Restore quotes
// every name, so the text is the statement's own meaning, not a regular
// expression's guess). ORDER BY, LIMIT and several tables have no meaning
// in batches walked by key, and are refused.
func backfillOf(text string) (backfillSpec, error) {
	stmts, _, err := parser.New().Parse(text, "", "")
	if err != nil || len(stmts) != 1 {
		return backfillSpec{}, fmt.Errorf("tailor cannot read this backfill statement, so it cannot run it in batches: %s", parserMessage(err))
	}
	var (
		spec  backfillSpec
		refs  *ast.TableRefsClause
		where ast.ExprNode
	)
	switch s := stmts[0].(type) {
	case *ast.UpdateStmt:
		if s.MultipleTable || s.Order != nil || s.Limit != nil || s.With != nil {
			return spec, errors.New("a backfill is an UPDATE of one table without ORDER BY, LIMIT or WITH: its batches are walked by key")
		}
		refs, where = s.TableRefs, s.Where
		var sets []string
		for _, a := range s.List {
			t, err := restore(a)
			if err != nil {
				return spec, err
			}
			sets = append(sets, t)
		}
		spec.Set = strings.Join(sets, ", ")
	case *ast.DeleteStmt:
		if s.IsMultiTable || s.Order != nil || s.Limit != nil {
			return spec, errors.New("a backfill is a DELETE from one table without ORDER BY or LIMIT: its batches are walked by key")
		}
		refs, where, spec.Delete = s.TableRefs, s.Where, true
		if where == nil {
			return spec, errors.New("a backfill DELETE needs a WHERE; to empty a table, write WHERE TRUE")
		}
	default:
		return spec, errors.New("the \"-- tailor:backfill\" directive turns an UPDATE or a DELETE into a backfill")
	}
	table, ok := singleTable(refs)
	if !ok {
		return spec, errors.New("a backfill changes one table, named without an alias")
	}
	spec.Schema, spec.Table = table.Schema.O, table.Name.O
	if where != nil {
		w, err := restore(where)
		if err != nil {
			return spec, err
		}
		spec.Where = w
	}
	return spec, nil
}

func singleTable(refs *ast.TableRefsClause) (*ast.TableName, bool) {
	if refs == nil || refs.TableRefs == nil || refs.TableRefs.Right != nil {
		return nil, false
	}
	src, ok := refs.TableRefs.Left.(*ast.TableSource)
	if !ok || src.AsName.O != "" {
		return nil, false
	}
	t, ok := src.Source.(*ast.TableName)
	return t, ok
}

// restoreFlags write what the parser read back as SQL with the same
// meaning: a backslash in a string is escaped again (the server reads
// escapes unless NO_BACKSLASH_ESCAPES), and a string gets no charset
// introducer the user did not write, so it takes the connection's.
const restoreFlags = format.DefaultRestoreFlags | format.RestoreStringEscapeBackslash |
	format.RestoreStringWithoutDefaultCharset | format.RestoreSpacesAroundBinaryOperation

func restore(n ast.Node) (string, error) {
	var b strings.Builder
	if err := n.Restore(format.NewRestoreCtx(restoreFlags, &b)); err != nil {
		return "", fmt.Errorf("tailor cannot restore part of this backfill statement: %w", err)
	}
	return b.String(), nil
}

func parserMessage(err error) string {
	if err == nil {
		return "it holds no single statement"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// explainRows is EXPLAIN's estimate of the rows a statement reads: the
// largest "rows" of its lines (an UPDATE or DELETE of one table has one).
// It is an estimate from the index statistics, and the point is its order
// of magnitude: a thousand rows or a million.
func explainRows(ctx context.Context, db *sql.DB, text string) (int64, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN "+text)
	if err != nil {
		return 0, fmt.Errorf("estimate the rows of the statement with EXPLAIN: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	at := -1
	for i, c := range cols {
		if strings.EqualFold(c, "rows") {
			at = i
		}
	}
	if at < 0 {
		return 0, errors.New("EXPLAIN returned no rows column")
	}
	var most int64
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, err
		}
		if n, err := strconv.ParseInt(vals[at].String, 10, 64); err == nil && n > most {
			most = n
		}
	}
	return most, rows.Err()
}

// tableOf is the database and table a statement names, the run's database
// when it names none.
func tableOf(database string, st *migfiles.Statement) (string, string) {
	if st.Schema != "" {
		return st.Schema, st.Table
	}
	return database, st.Table
}

// quoted is "db.table" for messages.
func quoted(database, table string) string { return mysql.QuoteTable(database, table) }
