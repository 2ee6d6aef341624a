package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// ShowRows runs a statement whose columns vary by server and version (SHOW
// SLAVE STATUS, SHOW SLAVE HOSTS) and returns its rows as maps from the
// lower-cased column name to the value, NULL as "".
func ShowRows(ctx context.Context, db *sql.DB, query string) ([]map[string]string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]string, len(cols))
		for i, c := range cols {
			m[strings.ToLower(c)] = vals[i].String
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// LowerCaseTableNames reads whether the server compares table names
// case-insensitively (lower_case_table_names set).
func LowerCaseTableNames(ctx context.Context, db *sql.DB) (bool, error) {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT @@lower_case_table_names").Scan(&n); err != nil {
		return false, fmt.Errorf("read lower_case_table_names: %w", err)
	}
	return n != 0, nil
}
