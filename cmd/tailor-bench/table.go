package main

import (
	"context"
	"crypto/md5"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/tailor-osc/tailor/internal/backfill"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/workload"
)

// The tables of the benchmark. The template is filled once; each run gets a
// fresh copy of it as the table and another as its control table.
const (
	benchTable    = "sbtest1"
	templateTable = "sbtest_template"
	probeTable    = "sbtest_probe"
)

// The primary keys the table can have (--key).
const (
	// keyInt is sysbench's: id BIGINT.
	keyInt = "int"
	// keyText is a UUID-shaped CHAR(36) in a case-insensitive collation,
	// as many applications key their tables: the applier then finds rows
	// by a key the server compares in a collation, and the copy inserts in
	// random key order.
	keyText = "text"
	// keyEnum leads the primary key with an ENUM whose members the index
	// orders otherwise than their names sort, (region, id): a key the
	// server builds no index range for under "<" and ">".
	keyEnum = "enum"
)

// regions are the ENUM's members of keyEnum, in their (unsorted) order.
var regions = []string{"eu", "us", "ap", "sa", "af"}

// regionOf is row id's region, the same as regionSQL gives in the server.
func regionOf(id int64) string { return regions[id%int64(len(regions))] }

// regionSQL is regionOf in SQL, of the integer expression n.
func regionSQL(n string) string {
	return fmt.Sprintf("ELT(1 + (%s) %% %d, '%s')", n, len(regions), strings.Join(regions, "', '"))
}

// keyColumn is the column key adds to sysbench's table ("" for keyInt),
// and its value for row id in SQL (of the integer expression n) and in Go.
func keyColumn(key string) (name string, inSQL func(n string) string, inGo func(id int64) any) {
	switch key {
	case keyText:
		return "uid", uidSQL, func(id int64) any { return uidOf(id) }
	case keyEnum:
		return "region", regionSQL, func(id int64) any { return regionOf(id) }
	}
	return "", nil, nil
}

// leadingColumn is the first column of key's primary key, which tells the
// key of a template table.
func leadingColumn(key string) string {
	if name, _, _ := keyColumn(key); name != "" {
		return name
	}
	return "id"
}

// sbtestDefinition is sysbench's table, with its primary key by key. With
// keyText, id stays as a unique key: the load finds rows by it.
func sbtestDefinition(key string) string {
	switch key {
	case keyEnum:
		return `(
  id BIGINT NOT NULL,
  region ENUM('` + strings.Join(regions, "','") + `') NOT NULL,
  k INT NOT NULL DEFAULT 0,
  c CHAR(120) NOT NULL DEFAULT '',
  pad CHAR(60) NOT NULL DEFAULT '',
  PRIMARY KEY (region, id),
  UNIQUE KEY id (id),
  KEY k_1 (k)
) ENGINE=InnoDB`
	case keyText:
		return `(
  id BIGINT NOT NULL,
  uid CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL,
  k INT NOT NULL DEFAULT 0,
  c CHAR(120) NOT NULL DEFAULT '',
  pad CHAR(60) NOT NULL DEFAULT '',
  PRIMARY KEY (uid),
  UNIQUE KEY id (id),
  KEY k_1 (k)
) ENGINE=InnoDB`
	}
	return `(
  id BIGINT NOT NULL AUTO_INCREMENT,
  k INT NOT NULL DEFAULT 0,
  c CHAR(120) NOT NULL DEFAULT '',
  pad CHAR(60) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  KEY k_1 (k)
) ENGINE=InnoDB`
}

// keyLabel describes the table's primary key in the report's header.
func keyLabel(key string) string {
	switch key {
	case keyText:
		return "primary key uid CHAR(36) utf8mb4_general_ci (UUID-shaped; id a unique key) (--key text)"
	case keyEnum:
		return "primary key (region ENUM('" + strings.Join(regions, "','") + "'), id) (id a unique key) (--key enum)"
	}
	return "sysbench's, primary key id BIGINT"
}

// uidOf is the text key of row id: its MD5 in the 8-4-4-4-12 shape of a
// UUID, the same as uidSQL gives in the server.
func uidOf(id int64) string {
	h := fmt.Sprintf("%x", md5.Sum([]byte(strconv.FormatInt(id, 10))))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// uidSQL is uidOf in SQL, of the integer expression n.
func uidSQL(n string) string {
	h := "MD5(" + n + ")"
	return fmt.Sprintf("CONCAT_WS('-', SUBSTR(%[1]s, 1, 8), SUBSTR(%[1]s, 9, 4), SUBSTR(%[1]s, 13, 4), SUBSTR(%[1]s, 17, 4), SUBSTR(%[1]s, 21, 12))", h)
}

// controlTable is the name of table's control table, as workload.Compare
// expects it.
func controlTable(table string) string { return workload.ControlTable(table) }

// sbColumns are the compared columns, each with itself.
func sbColumns(key string) []workload.ColumnPair {
	cols := []string{"id", "k", "c", "pad"}
	if name, _, _ := keyColumn(key); name != "" {
		cols = append(cols, name)
	}
	var out []workload.ColumnPair
	for _, c := range cols {
		out = append(out, workload.ColumnPair{Table: c, Control: c})
	}
	return out
}

// digitsSQL is sysbench's filler in SQL: n groups of 11 random digits.
func digitsSQL(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = "LPAD(FLOOR(RAND() * 100000000000), 11, '0')"
	}
	return "CONCAT_WS('-', " + strings.Join(parts, ", ") + ")"
}

// prepareTemplate fills the template table with rows rows and primary key
// key unless it already holds exactly that. It uses MariaDB's sequence
// engine, and a cross join of digits where there is none (MySQL). It
// reports whether it filled.
func prepareTemplate(ctx context.Context, db *sql.DB, rows int, key string) (bool, error) {
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+mysql.QuoteIdent(templateTable)).Scan(&n); err == nil && n == int64(rows) {
		var leading string
		err := db.QueryRowContext(ctx, "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' AND SEQ_IN_INDEX = 1", templateTable).Scan(&leading)
		if err == nil && leading == leadingColumn(key) {
			return false, nil
		}
	}
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+mysql.QuoteIdent(templateTable)); err != nil {
		return false, fmt.Errorf("drop the old template table: %w", err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+mysql.QuoteIdent(templateTable)+" "+sbtestDefinition(key)); err != nil {
		return false, fmt.Errorf("create the template table: %w", err)
	}
	_, seqErr := db.ExecContext(ctx, "SELECT COUNT(*) FROM seq_1_to_10")
	const step = 100_000
	digits := "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
	for base := 0; base < rows; base += step {
		hi := min(base+step, rows)
		source := fmt.Sprintf("(SELECT seq AS n FROM seq_%d_to_%d) AS nums", base+1, hi)
		if seqErr != nil {
			source = fmt.Sprintf("(SELECT %d + a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d + 1 AS n FROM %s a, %s b, %s c, %s e, %s f) AS nums WHERE n <= %d",
				base, digits, digits, digits, digits, digits, hi)
		}
		q := fmt.Sprintf("INSERT INTO %s (id, k, c, pad) SELECT n, FLOOR(1 + RAND() * %d), %s, %s FROM %s",
			mysql.QuoteIdent(templateTable), rows, digitsSQL(10), digitsSQL(5), source)
		if name, inSQL, _ := keyColumn(key); name != "" {
			q = fmt.Sprintf("INSERT INTO %s (id, %s, k, c, pad) SELECT n, %s, FLOOR(1 + RAND() * %d), %s, %s FROM %s",
				mysql.QuoteIdent(templateTable), mysql.QuoteIdent(name), inSQL("n"), rows, digitsSQL(10), digitsSQL(5), source)
		}
		if _, err := db.ExecContext(ctx, q); err != nil {
			return false, fmt.Errorf("fill the template table: %w", err)
		}
	}
	return true, nil
}

// leftovers are the tables a run may leave: the tools' shadow and old tables,
// the probe, and tailor backfill's saved state (which would otherwise make
// the next repetition's backfill of the same statement a finished one).
func leftovers() []string {
	return []string{benchTable, controlTable(benchTable), migrate.ShadowName(benchTable), migrate.OldName(benchTable), probeTable, backfill.StateTable}
}

// dropRunTables drops every table a run made, keeping the template.
func dropRunTables(ctx context.Context, db *sql.DB) error {
	var quoted []string
	for _, t := range leftovers() {
		quoted = append(quoted, mysql.QuoteIdent(t))
	}
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+strings.Join(quoted, ", ")); err != nil {
		return fmt.Errorf("drop the tables of the last run: %w", err)
	}
	return nil
}

// restore gives the next run a fresh table and control table, both copies
// of the template.
func restore(ctx context.Context, db *sql.DB) error {
	if err := dropRunTables(ctx, db); err != nil {
		return err
	}
	for _, t := range []string{benchTable, controlTable(benchTable)} {
		q, tmpl := mysql.QuoteIdent(t), mysql.QuoteIdent(templateTable)
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+q+" LIKE "+tmpl); err != nil {
			return fmt.Errorf("create %s from the template: %w", t, err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO "+q+" SELECT * FROM "+tmpl); err != nil {
			return fmt.Errorf("fill %s from the template: %w", t, err)
		}
	}
	return nil
}

// compare compares the table, whose primary key is key, with its control
// on every column, by id and NULL-safely, and records the outcome in run.
func compare(ctx context.Context, db *sql.DB, key string, run *Run) error {
	d, err := workload.Compare(ctx, db, benchTable, sbColumns(key))
	if err != nil {
		return err
	}
	eq := d.Equal()
	run.Equal = &eq
	run.Diff = d.String()
	return nil
}

// probeInplace asks the server to make the ALTER with ALGORITHM=INPLACE on
// an empty copy of the table: a refusal is the same whatever the rows, and
// costs nothing. It returns the server's refusal, or "" when it accepts.
func probeInplace(ctx context.Context, db *sql.DB, alter string) (string, error) {
	p := mysql.QuoteIdent(probeTable)
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+p); err != nil {
		return "", fmt.Errorf("drop the probe table: %w", err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+p+" LIKE "+mysql.QuoteIdent(templateTable)); err != nil {
		return "", fmt.Errorf("create the probe table: %w", err)
	}
	defer db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+p) //nolint:errcheck // best effort
	_, err := db.ExecContext(ctx, "ALTER TABLE "+p+" "+alter+", ALGORITHM=INPLACE")
	if err == nil {
		return "", nil
	}
	if mysql.IsAlgorithmRefusal(err) {
		return refusalNote(err), nil
	}
	return "", fmt.Errorf("the ALTER fails even on an empty copy of the table: %w", err)
}
