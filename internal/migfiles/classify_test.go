package migfiles

import (
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text          string
		kind          Kind
		schema, table string
		clauses       string
		destroys      string // "" when not destructive
		parsed        bool
		note          string // part of the note; "" for no note
		online        bool   // Alter is set
	}{
		{text: "ALTER TABLE shop.orders ADD COLUMN note varchar(10), ADD INDEX k (b)", kind: KindAlterTable, schema: "shop", table: "orders",
			clauses: "ADD COLUMN note varchar(10), ADD INDEX k (b)", parsed: true, online: true},
		{text: "ALTER TABLE `odd``name` MODIFY t2 VARCHAR(128) CHARACTER SET latin2 NOT NULL", kind: KindAlterTable, table: "odd`name",
			clauses: "MODIFY t2 VARCHAR(128) CHARACTER SET latin2 NOT NULL", parsed: true, online: true},
		{text: "ALTER TABLE t DROP COLUMN a, ADD b int", kind: KindAlterTable, table: "t", clauses: "DROP COLUMN a, ADD b int",
			destroys: "DROP COLUMN a", parsed: true, online: true},
		{text: "alter table t drop a", kind: KindAlterTable, table: "t", clauses: "drop a", destroys: "DROP COLUMN a", parsed: true, online: true},
		{text: "ALTER TABLE t DROP PARTITION p0", kind: KindAlterTable, table: "t", destroys: "DROP PARTITION", parsed: true, note: "partition operations"},
		{text: "ALTER TABLE t TRUNCATE PARTITION p0", kind: KindAlterTable, table: "t", destroys: "TRUNCATE PARTITION", parsed: true, note: "partition operations"},
		{text: "ALTER TABLE t RENAME TO u", kind: KindAlterTable, table: "t", parsed: true, note: "renaming the table"},
		{text: "ALTER TABLE t ADD c int, ALGORITHM=INSTANT", kind: KindAlterTable, table: "t", parsed: true, note: "ALGORITHM"},
		{text: "CREATE INDEX k ON t (a, b(10))", kind: KindAlterTable, table: "t", clauses: "ADD INDEX k (a, b(10))", parsed: true, online: true},
		{text: "CREATE UNIQUE INDEX `u k` ON shop.`t` (a) COMMENT 'on; (x)' ALGORITHM = INPLACE LOCK=NONE", kind: KindAlterTable, schema: "shop", table: "t",
			clauses: "ADD UNIQUE INDEX `u k` (a) COMMENT 'on; (x)'", parsed: true, online: true},
		{text: "CREATE FULLTEXT INDEX ft ON t (body)", kind: KindAlterTable, table: "t", clauses: "ADD FULLTEXT INDEX ft (body)", parsed: true, online: true},
		{text: "DROP INDEX k ON shop.t", kind: KindAlterTable, schema: "shop", table: "t", clauses: "DROP INDEX k", parsed: true, online: true},
		{text: "DROP INDEX IF EXISTS k ON t ALGORITHM=INPLACE", kind: KindAlterTable, table: "t", clauses: "DROP INDEX IF EXISTS k", parsed: true, online: true},
		{text: "CREATE TABLE t (id bigint PRIMARY KEY)", kind: KindCreateTable, table: "t", parsed: true},
		{text: "CREATE TABLE IF NOT EXISTS s.t LIKE s.u", kind: KindCreateTable, schema: "s", table: "t", parsed: true},
		{text: "CREATE OR REPLACE TABLE t (id int)", kind: KindCreateTable, destroys: "CREATE OR REPLACE TABLE", note: "parser could not read"},
		{text: "CREATE OR REPLACE VIEW v AS SELECT 1", kind: KindCreateView, parsed: true},
		{text: "CREATE ALGORITHM=MERGE DEFINER=`a`@`%` SQL SECURITY INVOKER VIEW v AS SELECT 1", kind: KindCreateView, parsed: true},
		{text: "DROP VIEW v", kind: KindOtherDDL, parsed: true},
		{text: "DROP TABLE IF EXISTS old_orders", kind: KindOtherDDL, table: "old_orders", destroys: "DROP TABLE", parsed: true},
		{text: "TRUNCATE TABLE logs", kind: KindOtherDDL, table: "logs", destroys: "TRUNCATE", parsed: true},
		{text: "DROP DATABASE shop", kind: KindOtherDDL, destroys: "DROP DATABASE", parsed: true},
		{text: "DROP SCHEMA IF EXISTS shop", kind: KindOtherDDL, destroys: "DROP DATABASE", parsed: true},
		{text: "RENAME TABLE a TO b", kind: KindOtherDDL, parsed: true},
		{text: "CREATE DATABASE x", kind: KindOtherDDL, parsed: true},
		{text: "CREATE PROCEDURE p() BEGIN SELECT 1; END", kind: KindRoutine},
		{text: "CREATE DEFINER=CURRENT_USER FUNCTION f(a int) RETURNS int DETERMINISTIC RETURN a + 1", kind: KindRoutine},
		{text: "CREATE OR REPLACE PACKAGE pk AS FUNCTION f RETURN INT; END", kind: KindRoutine, note: "parser could not read"},
		{text: "DROP PROCEDURE IF EXISTS p", kind: KindRoutine, parsed: true},
		{text: "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM t", kind: KindRoutine},
		{text: "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1", kind: KindTrigger, note: "parser could not read"},
		{text: "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER x AFTER UPDATE ON t FOR EACH ROW BEGIN END */", kind: KindTrigger},
		{text: "DROP TRIGGER IF EXISTS tr", kind: KindTrigger},
		{text: "GRANT SELECT ON shop.* TO 'app'@'%'", kind: KindGrant, parsed: true},
		{text: "REVOKE SELECT ON shop.* FROM 'app'@'%'", kind: KindGrant, parsed: true},
		{text: "CREATE USER 'app'@'%' IDENTIFIED BY 'x'", kind: KindGrant, parsed: true},
		{text: "UPDATE shop.orders o JOIN users u ON u.id = o.uid SET o.a = u.a WHERE u.b", kind: KindUpdate, schema: "shop", table: "orders", parsed: true},
		{text: "update t set a = 1", kind: KindUpdate, table: "t", parsed: true},
		{text: "DELETE FROM t WHERE id < 10", kind: KindDelete, table: "t", parsed: true},
		{text: "INSERT INTO t (a) SELECT a FROM u", kind: KindInsert, table: "t", parsed: true},
		{text: "REPLACE INTO t VALUES (1)", kind: KindInsert, table: "t", parsed: true},
		{text: "SELECT 1", kind: KindOtherDML, parsed: true},
		{text: "CALL p()", kind: KindOtherDML, parsed: true},
		{text: "SET NAMES utf8mb4", kind: KindOther, parsed: true},
		{text: "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE */", kind: KindOther, parsed: true},
		{text: "USE shop", kind: KindOther, parsed: true},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			c, err := Classify(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != tt.kind || c.Schema != tt.schema || c.Table != tt.table {
				t.Errorf("kind, schema, table = %s, %q, %q; want %s, %q, %q", c.Kind, c.Schema, c.Table, tt.kind, tt.schema, tt.table)
			}
			if tt.clauses != "" && c.Clauses != tt.clauses {
				t.Errorf("clauses = %q, want %q", c.Clauses, tt.clauses)
			}
			if c.Destructive != (tt.destroys != "") || c.Destroys != tt.destroys {
				t.Errorf("destructive, destroys = %v, %q; want %q", c.Destructive, c.Destroys, tt.destroys)
			}
			if tt.parsed && !c.Parsed {
				t.Errorf("not parsed: %s", c.Note)
			}
			// A statement the parser cannot read always has a note; the
			// table says only which notes matter.
			switch {
			case tt.note != "" && !strings.Contains(c.Note, tt.note):
				t.Errorf("note = %q, want one containing %q", c.Note, tt.note)
			case tt.note == "" && tt.parsed && c.Note != "":
				t.Errorf("note = %q, want none", c.Note)
			}
			if (c.Alter != nil) != tt.online {
				t.Errorf("alter = %v, want set %v", c.Alter, tt.online)
			}
		})
	}
}

func TestClassifyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ text, want string }{
		{"ALTER TABLE t ADD COLUMN", "tailor cannot parse this ALTER TABLE, so it cannot run it online: could not parse the ALTER"},
		{"ALTER TABLE t ADD c int PERIOD FOR SYSTEM_TIME", "tailor cannot parse this ALTER TABLE"},
		{"CREATE OR REPLACE INDEX k ON t (a)", "tailor cannot parse this index statement"},
		{"DROP INDEX k ON t WAIT 5", "tailor cannot parse this index statement"},
	}
	for _, tt := range tests {
		if _, err := Classify(tt.text); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Classify(%q) error = %v, want one containing %q", tt.text, err, tt.want)
		}
	}
}
