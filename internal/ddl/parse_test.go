package ddl

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseClauses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, clauses, schema, table string
	}{
		{"clauses alone", "ADD COLUMN x INT", "ADD COLUMN x INT", "", ""},
		{"clauses with spaces and semicolon", "  add column x int ;", "add column x int", "", ""},
		{"clauses with several semicolons", "add column x int;; \n", "add column x int", "", ""},
		{"clauses starting with ALTER COLUMN", "ALTER COLUMN c SET DEFAULT 1", "ALTER COLUMN c SET DEFAULT 1", "", ""},
		{"whole statement", "ALTER TABLE orders ADD COLUMN x INT", "ADD COLUMN x INT", "", "orders"},
		{"lower case with semicolon", "alter table orders add column x int;", "add column x int", "", "orders"},
		{"backtick doubled in name", "ALTER TABLE `my``table` ADD COLUMN x INT", "ADD COLUMN x INT", "", "my`table"},
		{"name with spaces", "ALTER TABLE `my table` DROP COLUMN y;", "DROP COLUMN y", "", "my table"},
		{"non-ASCII name", "ALTER TABLE `commandes_été` ADD x INT", "ADD x INT", "", "commandes_été"},
		{"unquoted non-ASCII name", "ALTER TABLE données ADD x INT", "ADD x INT", "", "données"},
		{"schema qualified", "ALTER TABLE shop.orders ADD x INT", "ADD x INT", "shop", "orders"},
		{"schema qualified quoted with spaces", "ALTER TABLE `my shop` . `or ders` ADD x INT", "ADD x INT", "my shop", "or ders"},
		{"table name prefix of a clause word", "ALTER TABLE a ADD x INT", "ADD x INT", "", "a"},
		{"leading whitespace and newlines", "\n\t ALTER TABLE t\n  ADD x INT,\n  DROP y\n;\n", "ADD x INT,\n  DROP y", "", "t"},
		{"comments around the name", "ALTER /* c1 */ TABLE /* c2 */ t /* c3 */ ADD x INT", "/* c3 */ ADD x INT", "", "t"},
		{"comment before the statement", "/* migration 42 */ ALTER TABLE t ADD x INT", "ADD x INT", "", "t"},
		{"trailing comment after semicolon dropped", "ALTER TABLE t ADD x INT; -- done", "ADD x INT", "", "t"},
		{"trailing comment kept without semicolon", "ALTER TABLE t ADD x INT -- note", "ADD x INT -- note", "", "t"},
		{"semicolon inside a string kept", "ADD x VARCHAR(3) DEFAULT ';'", "ADD x VARCHAR(3) DEFAULT ';'", "", ""},
		{
			"MariaDB spelling kept as written", "ALTER TABLE t ADD COLUMN IF NOT EXISTS x int(11) unsigned",
			"ADD COLUMN IF NOT EXISTS x int(11) unsigned", "", "t",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := Parse(tt.text)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.text, err)
			}
			if a.Clauses != tt.clauses {
				t.Errorf("Clauses = %q, want %q", a.Clauses, tt.clauses)
			}
			if a.Schema != tt.schema || a.Table != tt.table {
				t.Errorf("Schema, Table = %q, %q, want %q, %q", a.Schema, a.Table, tt.schema, tt.table)
			}
			// The clauses must parse again on their own, as they will on the server.
			again, err := Parse(a.Clauses)
			if err != nil {
				t.Fatalf("Parse(Clauses %q): %v", a.Clauses, err)
			}
			if again.Clauses != a.Clauses {
				t.Errorf("Clauses of Clauses = %q, want %q", again.Clauses, a.Clauses)
			}
		})
	}
}

func TestParseAnalysis(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want Alter // Clauses, Schema, Table and unexported fields are not compared
	}{
		{
			name: "add column after and first",
			text: "ADD COLUMN x INT AFTER y, ADD z VARCHAR(10) FIRST",
			want: Alter{Added: []string{"x", "z"}},
		},
		{
			name: "add column if not exists",
			text: "ADD COLUMN IF NOT EXISTS x INT",
			want: Alter{Added: []string{"x"}},
		},
		{
			name: "add column list",
			text: "ADD (a INT, B VARCHAR(3), INDEX ia (a)), ADD COLUMN (c INT)",
			want: Alter{
				Added:        []string{"a", "b", "c"},
				AddedIndexes: []Key{{Name: "ia", Columns: []string{"a"}}},
			},
		},
		{
			name: "modify",
			text: "MODIFY c VARCHAR(150) NOT NULL DEFAULT ''",
			want: Alter{Modified: []ColumnChange{{Old: "c", New: "c", Type: "varchar(150)"}}},
		},
		{
			name: "modify column with charset and collation",
			text: "MODIFY COLUMN c VARCHAR(150) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
			want: Alter{Modified: []ColumnChange{{Old: "c", New: "c", Type: "varchar(150)"}}},
		},
		{
			name: "modify types",
			text: "MODIFY a INT UNSIGNED, MODIFY b ENUM('x','y''z'), MODIFY c DECIMAL(10,2), MODIFY d DATETIME(3), MODIFY e BIGINT(20) ZEROFILL",
			want: Alter{Modified: []ColumnChange{
				{Old: "a", New: "a", Type: "int unsigned"},
				{Old: "b", New: "b", Type: "enum('x','y''z')"},
				{Old: "c", New: "c", Type: "decimal(10,2)"},
				{Old: "d", New: "d", Type: "datetime(3)"},
				{Old: "e", New: "e", Type: "bigint(20) unsigned zerofill"},
			}},
		},
		{
			name: "change with rename",
			text: "CHANGE COLUMN Old_Name new_name BIGINT",
			want: Alter{
				Renames:  map[string]string{"old_name": "new_name"},
				Modified: []ColumnChange{{Old: "old_name", New: "new_name", Type: "bigint"}},
			},
		},
		{
			name: "change keeping the name apart from case",
			text: "CHANGE a A INT",
			want: Alter{Modified: []ColumnChange{{Old: "a", New: "a", Type: "int"}}},
		},
		{
			name: "rename column",
			text: "RENAME COLUMN a TO b",
			want: Alter{Renames: map[string]string{"a": "b"}},
		},
		{
			name: "rename swap",
			text: "RENAME COLUMN a TO b, RENAME COLUMN b TO a",
			want: Alter{Renames: map[string]string{"a": "b", "b": "a"}},
		},
		{
			name: "alter column defaults",
			text: "ALTER COLUMN c SET DEFAULT 1, ALTER d DROP DEFAULT",
			want: Alter{Modified: []ColumnChange{{Old: "c", New: "c"}, {Old: "d", New: "d"}}},
		},
		{
			name: "drop column",
			text: "DROP COLUMN a, DROP b, DROP COLUMN IF EXISTS C",
			want: Alter{Dropped: []string{"a", "b", "c"}},
		},
		{
			name: "drop and re-add",
			text: "DROP COLUMN c, ADD COLUMN c INT",
			want: Alter{Dropped: []string{"c"}, Added: []string{"c"}},
		},
		{
			name: "add index and key",
			text: "ADD INDEX idx_a (a), ADD KEY (b, C), ADD FULLTEXT ft (body), ADD INDEX IF NOT EXISTS ix (d)",
			want: Alter{AddedIndexes: []Key{
				{Name: "idx_a", Columns: []string{"a"}},
				{Columns: []string{"b", "c"}},
				{Name: "ft", Columns: []string{"body"}},
				{Name: "ix", Columns: []string{"d"}},
			}},
		},
		{
			name: "expression key part",
			text: "ADD INDEX lx ((lower(email)), id)",
			want: Alter{AddedIndexes: []Key{{Name: "lx", Columns: []string{"(lower(`email`))", "id"}}}},
		},
		{
			name: "add unique",
			text: "ADD UNIQUE (email), ADD UNIQUE KEY uk (a, b(10)), ADD UNIQUE INDEX `Uk2` (c), ADD CONSTRAINT uc UNIQUE (d)",
			want: Alter{NewUniqueKeys: []Key{
				{Columns: []string{"email"}, Unique: true},
				{Name: "uk", Columns: []string{"a", "b"}, Unique: true},
				{Name: "uk2", Columns: []string{"c"}, Unique: true},
				{Name: "uc", Columns: []string{"d"}, Unique: true},
			}},
		},
		{
			name: "drop index",
			text: "DROP INDEX Idx_A, DROP KEY b, DROP INDEX IF EXISTS c",
			want: Alter{DroppedIndexes: []string{"idx_a", "b", "c"}},
		},
		{
			name: "drop constraint counts as a dropped index",
			text: "DROP CONSTRAINT uk_email",
			want: Alter{DroppedIndexes: []string{"uk_email"}},
		},
		{
			name: "replace primary key",
			text: "DROP PRIMARY KEY, ADD PRIMARY KEY (a, B)",
			want: Alter{
				DropsPrimaryKey: true,
				NewUniqueKeys:   []Key{{Name: "primary", Columns: []string{"a", "b"}, Primary: true, Unique: true}},
			},
		},
		{
			name: "named primary key is still primary",
			text: "ADD CONSTRAINT pk PRIMARY KEY (id)",
			want: Alter{NewUniqueKeys: []Key{{Name: "primary", Columns: []string{"id"}, Primary: true, Unique: true}}},
		},
		{
			name: "inline keys",
			text: "ADD COLUMN id2 INT PRIMARY KEY, ADD u INT UNIQUE, MODIFY v INT UNIQUE KEY, CHANGE w W2 INT KEY",
			want: Alter{
				Added:    []string{"id2", "u"},
				Renames:  map[string]string{"w": "w2"},
				Modified: []ColumnChange{{Old: "v", New: "v", Type: "int"}, {Old: "w", New: "w2", Type: "int"}},
				NewUniqueKeys: []Key{
					{Name: "primary", Columns: []string{"id2"}, Primary: true, Unique: true},
					{Columns: []string{"u"}, Unique: true},
					{Columns: []string{"v"}, Unique: true},
					{Name: "primary", Columns: []string{"w2"}, Primary: true, Unique: true},
				},
			},
		},
		{
			name: "add foreign key",
			text: "ADD CONSTRAINT fk_c FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE",
			want: Alter{AddsForeignKey: true},
		},
		{
			name: "add foreign key without name",
			text: "ADD FOREIGN KEY (customer_id) REFERENCES customers (id)",
			want: Alter{AddsForeignKey: true},
		},
		{
			name: "inline references",
			text: "ADD COLUMN customer_id INT REFERENCES customers (id)",
			want: Alter{Added: []string{"customer_id"}, AddsForeignKey: true},
		},
		{
			name: "drop foreign key",
			text: "DROP FOREIGN KEY fk_c",
		},
		{
			name: "convert to character set",
			text: "CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
		},
		{
			name: "engine and force",
			text: "ENGINE=InnoDB, FORCE",
		},
		{
			name: "table options",
			text: "COMMENT 'orders', ROW_FORMAT=DYNAMIC, AUTO_INCREMENT=1000, DEFAULT CHARSET=utf8mb4, KEY_BLOCK_SIZE=8",
		},
		{
			name: "rename index and checks",
			text: "RENAME INDEX a TO b, ADD CONSTRAINT ck CHECK (qty > 0), ALTER INDEX c INVISIBLE",
		},
		{
			name: "generated columns",
			text: "ADD COLUMN total DECIMAL(10,2) AS (price * qty) VIRTUAL, ADD t2 INT GENERATED ALWAYS AS (a + 1) STORED",
			want: Alter{Added: []string{"total", "t2"}},
		},
		{
			name: "column with charset and collation",
			text: "ADD COLUMN name VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL",
			want: Alter{Added: []string{"name"}},
		},
		{
			name: "quoted names with spaces, backticks and accents",
			text: "ADD COLUMN `first name` INT, ADD `wé``ird` INT, CHANGE `Straße` `strasse` TEXT, DROP `año`",
			want: Alter{
				Added:    []string{"first name", "wé`ird"},
				Renames:  map[string]string{"straße": "strasse"},
				Modified: []ColumnChange{{Old: "straße", New: "strasse", Type: "text"}},
				Dropped:  []string{"año"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.text)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.text, err)
			}
			want := tt.want
			if want.Renames == nil {
				want.Renames = map[string]string{}
			}
			want.Clauses, want.Schema, want.Table = got.Clauses, got.Schema, got.Table
			want.addedIfNotExists = got.addedIfNotExists
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.text, *got, want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		wantMsg    []string // substrings of the error message
	}{
		{"syntax error", "ADD COLUMN x INT x", []string{"could not parse the ALTER: ", `near "x"`}},
		{"syntax error in whole statement", "ALTER TABLE t ADD COLUMN x INT x", []string{"could not parse the ALTER: line 1 column 32", `near "x"`}},
		{"misspelled clause", "ADD COLUM x INT", []string{"could not parse the ALTER: ", "near"}},
		{"two statements", "ALTER TABLE t ADD x INT; ALTER TABLE t DROP y", []string{"more than one statement"}},
		{"two statements after clauses", "ADD x INT; DROP TABLE y", []string{"more than one statement"}},
		{"other statement", "DROP TABLE x", []string{"only ALTER TABLE", `starts with "DROP TABLE"`}},
		{"other statement lower case", "create index i on t (a);", []string{"only ALTER TABLE", `starts with "CREATE INDEX"`}},
		{"alter of something else", "ALTER DATABASE shop CHARACTER SET utf8mb4", []string{"only ALTER TABLE", `starts with "ALTER DATABASE"`}},
		{"alter table analyze", "ALTER TABLE t ANALYZE PARTITION p1", []string{"only ALTER TABLE"}},
		{"rename to", "RENAME TO orders_old", []string{"renaming the table is not an online change; use RENAME TABLE after the migration"}},
		{"rename as in whole statement", "ALTER TABLE t ADD x INT, RENAME AS u", []string{"renaming the table is not an online change"}},
		{"algorithm", "ADD x INT, ALGORITHM=INPLACE", []string{"remove ALGORITHM=/LOCK=: tailor chooses how to apply the change"}},
		{"lock", "ADD x INT, LOCK=NONE", []string{"remove ALGORITHM=/LOCK="}},
		{"online", "ALTER ONLINE TABLE t ADD x INT", []string{"remove ONLINE: tailor chooses how to apply the change"}},
		{"ignore", "ALTER IGNORE TABLE t ADD UNIQUE (a)", []string{"ALTER IGNORE TABLE is not supported"}},
		{"partition by", "PARTITION BY HASH(id) PARTITIONS 4", []string{"partition operations are not supported"}},
		{"add partition", "ADD PARTITION (PARTITION p2 VALUES LESS THAN (100))", []string{"partition operations"}},
		{"drop partition", "DROP PARTITION p1", []string{"partition operations"}},
		{"truncate partition", "TRUNCATE PARTITION p1", []string{"partition operations"}},
		{"remove partitioning", "REMOVE PARTITIONING", []string{"partition operations"}},
		{"discard tablespace", "DISCARD TABLESPACE", []string{"DISCARD/IMPORT TABLESPACE"}},
		{"import tablespace", "IMPORT TABLESPACE", []string{"DISCARD/IMPORT TABLESPACE"}},
		{"order by", "ORDER BY created_at", []string{"ORDER BY"}},
		{"empty", "", []string{"the ALTER is empty"}},
		{"only whitespace and semicolon", "  ; ", []string{"the ALTER is empty"}},
		{"only a comment", "-- nothing", []string{"the ALTER is empty"}},
		{"whole statement without clauses", "ALTER TABLE t;", []string{"the ALTER is empty"}},
		{"TiDB clause", "SET TIFLASH REPLICA 1", []string{"is not supported in an online ALTER"}},
		{"TiDB table option", "SHARD_ROW_ID_BITS = 4", []string{"TiDB syntax"}},
		// MariaDB-only syntax the TiDB parser does not know is refused as unparsable.
		{"MariaDB invisible column", "ADD COLUMN x INT INVISIBLE", []string{"could not parse", "INVISIBLE"}},
		{"MariaDB uuid type", "ADD COLUMN x UUID", []string{"could not parse"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := Parse(tt.text)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.text, a)
			}
			var ddlErr *Error
			if !errors.As(err, &ddlErr) {
				t.Errorf("Parse(%q) error %T is not a *ddl.Error", tt.text, err)
			}
			msg := err.Error()
			for _, want := range tt.wantMsg {
				if !strings.Contains(msg, want) {
					t.Errorf("Parse(%q) error %q does not contain %q", tt.text, msg, want)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("Parse(%q) error %q spans several lines", tt.text, msg)
			}
			// The command line prints "tailor: " before it.
			if strings.HasPrefix(msg, "tailor ") {
				t.Errorf("Parse(%q) error %q would read \"tailor: tailor ...\"", tt.text, msg)
			}
		})
	}
}

func TestParseErrorKeepsParserError(t *testing.T) {
	t.Parallel()
	_, err := Parse("ADD COLUMN x INT x")
	var ddlErr *Error
	if !errors.As(err, &ddlErr) || ddlErr.Err == nil {
		t.Fatalf("Parse error %v does not carry the parser's error", err)
	}
	if errors.Unwrap(err) != ddlErr.Err {
		t.Errorf("Unwrap = %v, want the parser's error", errors.Unwrap(err))
	}
}
