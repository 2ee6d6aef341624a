package workload

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// Diff is how a migrated table differs from its control table.
type Diff struct {
	Rows, ControlRows int64
	// Missing are rows of the control absent from the table, Extra the
	// reverse, Different rows present in both whose values differ.
	Missing, Extra, Different int64
	// Examples are up to five ids of each kind of difference.
	Examples []string
}

// Equal reports whether the tables hold the same rows.
func (d Diff) Equal() bool {
	return d.Missing == 0 && d.Extra == 0 && d.Different == 0 && d.Rows == d.ControlRows
}

func (d Diff) String() string {
	if d.Equal() {
		return fmt.Sprintf("equal: %d rows", d.Rows)
	}
	return fmt.Sprintf("%d rows vs %d in the control: %d missing, %d extra, %d different (e.g. %s)",
		d.Rows, d.ControlRows, d.Missing, d.Extra, d.Different, strings.Join(d.Examples, "; "))
}

// ColumnPair names one compared column in the migrated table and in the
// control table.
type ColumnPair struct{ Table, Control string }

// SameColumns pairs every stored column with itself except those in skip,
// and renames as given (control name → table name).
func SameColumns(skip []string, renames map[string]string) []ColumnPair {
	var pairs []ColumnPair
	for _, c := range storedColumns {
		skipped := false
		for _, s := range skip {
			skipped = skipped || strings.EqualFold(s, c)
		}
		if skipped {
			continue
		}
		name := c
		if r, ok := renames[c]; ok {
			name = r
		}
		pairs = append(pairs, ColumnPair{Table: name, Control: c})
	}
	return pairs
}

// Querier is what Compare reads through: a *sql.DB once the writers have
// stopped, or a *sql.Tx in REPEATABLE READ while they write, whose one
// snapshot sees each write in both tables or in neither, since a write
// changes the table and its control in the same transaction.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Compare compares table with its control table on the given columns, in
// the server, NULL-safely, joined on id.
func Compare(ctx context.Context, db Querier, table string, cols []ColumnPair) (Diff, error) {
	var d Diff
	t, c := mysql.QuoteIdent(table), mysql.QuoteIdent(ControlTable(table))
	if err := db.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM "+t+"), (SELECT COUNT(*) FROM "+c+")").Scan(&d.Rows, &d.ControlRows); err != nil {
		return d, fmt.Errorf("count rows: %w", err)
	}
	tableTypes, err := numberedColumns(ctx, db, table)
	if err != nil {
		return d, err
	}
	controlTypes, err := numberedColumns(ctx, db, ControlTable(table))
	if err != nil {
		return d, err
	}
	var same []string
	for _, p := range cols {
		// <=> alone would call 'a ' and 'a' equal under a PAD SPACE
		// collation; the binary casts compare the bytes too.
		tc, cc := mysql.QuoteIdent(p.Table), mysql.QuoteIdent(p.Control)
		same = append(same, fmt.Sprintf("t.%s <=> c.%s AND CAST(t.%s AS BINARY) <=> CAST(c.%s AS BINARY)", tc, cc, tc, cc))
		tt, ct := tableTypes[strings.ToLower(p.Table)], controlTypes[strings.ToLower(p.Control)]
		switch {
		// An ENUM's error value (index 0) reads as '' like a member '':
		// between two ENUMs, whichever their members, it must stay itself.
		case strings.HasPrefix(tt, "enum") && strings.HasPrefix(ct, "enum"):
			same = append(same, fmt.Sprintf("(t.%s + 0 = 0) <=> (c.%s + 0 = 0)", tc, cc))
		// A SET's empty member reads as nothing: between two SETs of one
		// definition, the bits must be the same.
		case strings.HasPrefix(tt, "set") && strings.EqualFold(tt, ct):
			same = append(same, fmt.Sprintf("t.%s + 0 <=> c.%s + 0", tc, cc))
		}
	}
	checks := []struct {
		count *int64
		label string
		q     string
	}{
		{&d.Missing, "missing", "SELECT c.id FROM " + c + " c LEFT JOIN " + t + " t ON t.id = c.id WHERE t.id IS NULL"},
		{&d.Extra, "extra", "SELECT t.id FROM " + t + " t LEFT JOIN " + c + " c ON t.id = c.id WHERE c.id IS NULL"},
		{&d.Different, "different", "SELECT t.id FROM " + t + " t JOIN " + c + " c ON t.id = c.id WHERE NOT (" + strings.Join(same, " AND ") + ")"},
	}
	for _, ch := range checks {
		rows, err := db.QueryContext(ctx, ch.q)
		if err != nil {
			return d, fmt.Errorf("compare %s with its control: %w", table, err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return d, err
			}
			*ch.count++
			if *ch.count <= 5 {
				d.Examples = append(d.Examples, fmt.Sprintf("%s id=%d", ch.label, id))
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return d, err
		}
	}
	return d, nil
}

// numberedColumns are table's ENUM and SET columns, by lower-case name,
// with their column types.
func numberedColumns(ctx context.Context, db Querier, table string) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND DATA_TYPE IN ('enum', 'set')", table)
	if err != nil {
		return nil, fmt.Errorf("read the ENUM and SET columns of %s: %w", table, err)
	}
	defer rows.Close()
	types := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		types[strings.ToLower(name)] = typ
	}
	return types, rows.Err()
}
