// Package schema reads what tailor needs to know about a table from the
// server: its columns with their exact types, its keys, and the key the copy
// walks.
package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrTableNotFound means the table (or its database) does not exist.
var ErrTableNotFound = errors.New("table not found")

// Column is one column of a table as information_schema describes it.
type Column struct {
	Name string
	// Ordinal is the 1-based position in the table, which is also the
	// column's index in binary log row images.
	Ordinal int
	// DataType is the lower-case base type: "int", "varchar", "enum", ...
	DataType string
	// ColumnType is the full type: "int(10) unsigned", "binary(16)", "enum('a','b')".
	ColumnType string
	Nullable   bool
	Unsigned   bool
	// Generated is true for VIRTUAL and STORED generated columns, which are
	// never written: the server computes them.
	Generated bool
	// MaxLength is CHARACTER_MAXIMUM_LENGTH (characters, or bytes for binary
	// types); 0 when not applicable.
	MaxLength int64
	// Values lists ENUM and SET members in definition order.
	Values    []string
	Charset   string
	Collation string
	// OctetLength is CHARACTER_OCTET_LENGTH: the most bytes a value of a
	// string type can take (the limit of TEXT and BLOB types, which count
	// bytes, not characters); 0 when not applicable.
	OctetLength int64
	// NumericPrecision and NumericScale are the digits of a DECIMAL (and of a
	// FLOAT(M,D)), the decimal digits of an integer type, the bits of a BIT;
	// 0 when information_schema has none.
	NumericPrecision int64
	NumericScale     int64
	// DatetimePrecision is the number of fractional-second digits of a
	// DATETIME, TIMESTAMP or TIME; 0 otherwise.
	DatetimePrecision int64
	// Default is COLUMN_DEFAULT as information_schema shows it (on
	// MariaDB an expression such as current_timestamp(), NULL, or a quoted
	// literal; on MySQL a literal unquoted); empty when the column has
	// none. DefaultIsExpression tells an expression, which the server
	// computes when a row takes it, from a literal: on MariaDB by its text
	// (literals are quoted strings, numbers, NULL, b'..' or x'..'), on
	// MySQL by EXTRA's DEFAULT_GENERATED (not run: no MySQL server here).
	Default             string
	DefaultIsExpression bool
	// Stored is true for a STORED generated column, whose values the
	// server computes when a row is written and keeps; Expression is a
	// generated column's GENERATION_EXPRESSION.
	Stored     bool
	Expression string
}

// IsFixedBinary reports whether the column is BINARY(n): the binary log
// drops its trailing zero bytes, which must be put back when applying.
func (c Column) IsFixedBinary() bool { return c.DataType == "binary" }

// Index is one index of a table.
type Index struct {
	Name    string
	Unique  bool
	Columns []string
	// Nullable is true when any of the columns accepts NULL, which makes a
	// unique index unfit to identify rows.
	Nullable bool
	// SubParts holds, for each of Columns, the length of the prefix the
	// index keeps (SUB_PART: characters, or bytes for binary types), or 0
	// when it indexes the whole value.
	SubParts []int
}

// IsPrimary reports whether the index is the primary key.
func (i Index) IsPrimary() bool { return i.Name == "PRIMARY" }

// Table is a table's definition.
type Table struct {
	Database string
	Name     string
	Columns  []Column
	// Indexes are in the order information_schema lists them; the primary
	// key, when there is one, comes first.
	Indexes []Index
	Engine  string
}

// Column finds a column by name, case-insensitively as MySQL does.
func (t *Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return Column{}, false
}

// ColumnNames are the names of all columns in table order.
func (t *Table) ColumnNames() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// PrimaryKey is the primary key, if there is one.
func (t *Table) PrimaryKey() (Index, bool) {
	for _, idx := range t.Indexes {
		if idx.IsPrimary() {
			return idx, true
		}
	}
	return Index{}, false
}

// ErrNoUsableKey means a table has neither a primary key nor a unique key
// whose columns are all NOT NULL, so its rows cannot be told apart.
var ErrNoUsableKey = errors.New("no usable key")

// CopyKey chooses the key the copy walks and the binary log changes are
// matched on: the primary key, or else the first unique key whose columns
// are all NOT NULL. A unique key over a nullable column is not used because
// it allows any number of rows with NULL there.
func (t *Table) CopyKey() (Index, error) {
	keys, unwalkable := t.WalkableKeys(t.IdentifyingKeys())
	if len(keys) > 0 {
		return keys[0], nil
	}
	if unwalkable != nil {
		return Index{}, unwalkable
	}
	return Index{}, fmt.Errorf("table %s.%s has %w: add a PRIMARY KEY (or a UNIQUE key on NOT NULL columns) first", t.Database, t.Name, ErrNoUsableKey)
}

// IdentifyingKeys are the keys that tell every row apart: the primary key
// first, then the unique keys whose columns are all NOT NULL, in
// information_schema's order.
func (t *Table) IdentifyingKeys() []Index {
	var keys []Index
	if pk, ok := t.PrimaryKey(); ok {
		keys = append(keys, pk)
	}
	for _, idx := range t.Indexes {
		if idx.Unique && !idx.Nullable && !idx.IsPrimary() {
			keys = append(keys, idx)
		}
	}
	return keys
}

// Load reads a table's definition.
func Load(ctx context.Context, db *sql.DB, database, table string) (*Table, error) {
	t := &Table{Database: database, Name: table}
	var mariaDB bool
	err := db.QueryRowContext(ctx,
		`SELECT TABLE_NAME, COALESCE(ENGINE, ''), VERSION() LIKE '%MariaDB%' FROM information_schema.TABLES
		 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_TYPE = 'BASE TABLE'`,
		database, table).Scan(&t.Name, &t.Engine, &mariaDB)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("table %s.%s: %w", database, table, ErrTableNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up table %s.%s: %w", database, table, err)
	}
	if err := t.loadColumns(ctx, db, mariaDB); err != nil {
		return nil, err
	}
	if err := t.loadIndexes(ctx, db); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Table) loadColumns(ctx context.Context, db *sql.DB, mariaDB bool) error {
	rows, err := db.QueryContext(ctx,
		`SELECT COLUMN_NAME, ORDINAL_POSITION, LOWER(DATA_TYPE), COLUMN_TYPE, IS_NULLABLE = 'YES',
		        EXTRA, COALESCE(CHARACTER_MAXIMUM_LENGTH, 0), COALESCE(CHARACTER_SET_NAME, ''), COALESCE(COLLATION_NAME, ''),
		        COALESCE(CHARACTER_OCTET_LENGTH, 0), COALESCE(NUMERIC_PRECISION, 0), COALESCE(NUMERIC_SCALE, 0),
		        COALESCE(DATETIME_PRECISION, 0), COALESCE(COLUMN_DEFAULT, ''), COALESCE(GENERATION_EXPRESSION, '')
		   FROM information_schema.COLUMNS
		  WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
		  ORDER BY ORDINAL_POSITION`, t.Database, t.Name)
	if err != nil {
		return fmt.Errorf("read columns of %s.%s: %w", t.Database, t.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c Column
		var extra string
		if err := rows.Scan(&c.Name, &c.Ordinal, &c.DataType, &c.ColumnType, &c.Nullable, &extra, &c.MaxLength, &c.Charset, &c.Collation,
			&c.OctetLength, &c.NumericPrecision, &c.NumericScale, &c.DatetimePrecision, &c.Default, &c.Expression); err != nil {
			return fmt.Errorf("read columns of %s.%s: %w", t.Database, t.Name, err)
		}
		c.Unsigned = strings.Contains(strings.ToLower(c.ColumnType), "unsigned")
		// VIRTUAL or STORED GENERATED (MariaDB says STORED for PERSISTENT);
		// MySQL 8 says DEFAULT_GENERATED of a column with an expression
		// default, which is an ordinary, copied column.
		up := strings.ToUpper(extra)
		c.Generated = strings.Contains(up, "VIRTUAL GENERATED") || strings.Contains(up, "STORED GENERATED") || strings.Contains(up, "PERSISTENT GENERATED")
		c.Stored = c.Generated && !strings.Contains(up, "VIRTUAL")
		if mariaDB {
			c.DefaultIsExpression = c.Default != "" && !literalDefault.MatchString(c.Default)
		} else {
			c.DefaultIsExpression = strings.Contains(up, "DEFAULT_GENERATED")
		}
		if c.DataType == "enum" || c.DataType == "set" {
			c.Values, err = ParseEnumValues(c.ColumnType)
			if err != nil {
				return fmt.Errorf("column %s of %s.%s: %w", c.Name, t.Database, t.Name, err)
			}
		}
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read columns of %s.%s: %w", t.Database, t.Name, err)
	}
	if len(t.Columns) == 0 {
		return fmt.Errorf("table %s.%s has no columns visible to this user", t.Database, t.Name)
	}
	return nil
}

func (t *Table) loadIndexes(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx,
		`SELECT INDEX_NAME, NON_UNIQUE = 0, COLUMN_NAME, NULLABLE = 'YES', COALESCE(SUB_PART, 0)
		   FROM information_schema.STATISTICS
		  WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
		  ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`, t.Database, t.Name)
	if err != nil {
		return fmt.Errorf("read indexes of %s.%s: %w", t.Database, t.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var unique, nullable bool
		var column sql.NullString
		var subPart int
		if err := rows.Scan(&name, &unique, &column, &nullable, &subPart); err != nil {
			return fmt.Errorf("read indexes of %s.%s: %w", t.Database, t.Name, err)
		}
		if n := len(t.Indexes); n == 0 || t.Indexes[n-1].Name != name {
			t.Indexes = append(t.Indexes, Index{Name: name, Unique: unique})
		}
		idx := &t.Indexes[len(t.Indexes)-1]
		if !column.Valid {
			// A functional index part: such an index cannot identify rows.
			idx.Unique = false
			continue
		}
		idx.Columns = append(idx.Columns, column.String)
		idx.SubParts = append(idx.SubParts, subPart)
		idx.Nullable = idx.Nullable || nullable
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read indexes of %s.%s: %w", t.Database, t.Name, err)
	}
	return nil
}

// ParseEnumValues reads the members of an ENUM or SET out of its COLUMN_TYPE,
// e.g. the members a and it's of enum('a','it's') with the quote of it's
// doubled: information_schema doubles quotes inside members; backslashes are
// shown as they are stored.
func ParseEnumValues(columnType string) ([]string, error) {
	open := strings.IndexByte(columnType, '(')
	if open < 0 || !strings.HasSuffix(columnType, ")") {
		return nil, fmt.Errorf("unexpected ENUM/SET type %q", columnType)
	}
	body := columnType[open+1 : len(columnType)-1]
	var values []string
	for i := 0; i < len(body); {
		if body[i] != '\'' {
			return nil, fmt.Errorf("unexpected ENUM/SET type %q", columnType)
		}
		var b strings.Builder
		i++
		for {
			if i >= len(body) {
				return nil, fmt.Errorf("unterminated member in ENUM/SET type %q", columnType)
			}
			if body[i] == '\'' {
				if i+1 < len(body) && body[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				i++
				break
			}
			b.WriteByte(body[i])
			i++
		}
		values = append(values, b.String())
		if i < len(body) {
			if body[i] != ',' {
				return nil, fmt.Errorf("unexpected ENUM/SET type %q", columnType)
			}
			i++
		}
	}
	return values, nil
}

// TypeDefinition is c's type as a column definition gives it: its
// COLUMN_TYPE, with its character set and collation for a string.
func (c Column) TypeDefinition() string {
	def := c.ColumnType
	if c.Charset != "" {
		def += " CHARACTER SET " + SQLName(c.Charset)
		if c.Collation != "" {
			def += " COLLATE " + SQLName(c.Collation)
		}
	}
	return def
}

// SQLName keeps only the characters a character set or collation name can
// have. Such names cannot be quoted as identifiers in every position
// (CONVERT(x USING cs) on older servers), so they are written bare; they
// come from information_schema and are never user text, but filtering them
// keeps a bad name from ever becoming SQL.
func SQLName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return -1
	}, name)
}
