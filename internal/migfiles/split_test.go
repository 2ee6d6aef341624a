package migfiles

import (
	"reflect"
	"strings"
	"testing"
)

// stmt is a statement as the split tests expect it.
type stmt struct {
	line int
	text string
	dirs []Directive
}

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []stmt
	}{
		{"one statement without delimiter", "SELECT 1", []stmt{{1, "SELECT 1", nil}}},
		{"several, lines", "CREATE TABLE a (id int);\n\nALTER TABLE a ADD b int;\n  INSERT INTO a VALUES (1);\n",
			[]stmt{{1, "CREATE TABLE a (id int)", nil}, {3, "ALTER TABLE a ADD b int", nil}, {4, "INSERT INTO a VALUES (1)", nil}}},
		{"two on one line", "SELECT 1; SELECT 2;", []stmt{{1, "SELECT 1", nil}, {1, "SELECT 2", nil}}},
		{"empty statements", ";;\n;SELECT 1;;", []stmt{{2, "SELECT 1", nil}}},
		{"single quotes", "INSERT INTO t VALUES ('a;b', 'it''s;', 'x\\';y');SELECT 2",
			[]stmt{{1, "INSERT INTO t VALUES ('a;b', 'it''s;', 'x\\';y')", nil}, {1, "SELECT 2", nil}}},
		{"double quotes and backslash", `SELECT "a;\";b", "c""d;";SELECT 2`, []stmt{{1, `SELECT "a;\";b", "c""d;"`, nil}, {1, "SELECT 2", nil}}},
		{"backticks do not escape", "CREATE TABLE `a;\\` (`b``;` int);SELECT 2", []stmt{{1, "CREATE TABLE `a;\\` (`b``;` int)", nil}, {1, "SELECT 2", nil}}},
		{"quote across lines", "INSERT INTO t VALUES ('line1;\nline2');\nSELECT 2;", []stmt{{1, "INSERT INTO t VALUES ('line1;\nline2')", nil}, {3, "SELECT 2", nil}}},
		{"comments", "-- a comment; with semicolon\n# another; one\n/* block;\n comment */ SELECT 1; -- trailing;\nSELECT /* inner; */ 2 # end;\n;",
			[]stmt{{4, "SELECT 1", nil}, {5, "SELECT /* inner; */ 2 # end;", nil}}},
		{"double dash needs a space", "SELECT 1--1;SELECT 2", []stmt{{1, "SELECT 1--1", nil}, {1, "SELECT 2", nil}}},
		{"double dash at end of line", "SELECT 1 --\n;", []stmt{{1, "SELECT 1 --", nil}}},
		{"executable comment starts a statement", "/*!40101 SET NAMES utf8mb4 */;\n/*M!100100 SET a=1; */ SELECT 1;",
			[]stmt{{1, "/*!40101 SET NAMES utf8mb4 */", nil}, {2, "/*M!100100 SET a=1; */ SELECT 1", nil}}},
		{"delimiter for a routine", "DELIMITER //\nCREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT ';//';\nEND //\nDELIMITER ;\nCALL p();",
			[]stmt{{2, "CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT ';//';\nEND", nil}, {8, "CALL p()", nil}}},
		{"delimiter any case, two statements", "delimiter $$\nCREATE TRIGGER t1 BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; END$$\nCREATE TRIGGER t2 BEFORE UPDATE ON t FOR EACH ROW SET NEW.a = 2$$\nDelimiter ;\n",
			[]stmt{{2, "CREATE TRIGGER t1 BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; END", nil}, {3, "CREATE TRIGGER t2 BEFORE UPDATE ON t FOR EACH ROW SET NEW.a = 2", nil}}},
		{"mysqldump style ;;", "DELIMITER ;;\n/*!50003 CREATE*/ /*!50003 TRIGGER x BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1 */;;\nDELIMITER ;\n",
			[]stmt{{2, "/*!50003 CREATE*/ /*!50003 TRIGGER x BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1 */", nil}}},
		{"windows line ends", "SELECT 1;\r\nSELECT 2;\r\n", []stmt{{1, "SELECT 1", nil}, {2, "SELECT 2", nil}}},
		{"directives", "-- tailor:backfill\nUPDATE t SET a = b;\n\n-- why we drop it\n-- tailor:allow-destructive\n  # tailor:backfill\nALTER TABLE t DROP COLUMN b;\nSELECT 1;",
			[]stmt{{2, "UPDATE t SET a = b", []Directive{Backfill}}, {7, "ALTER TABLE t DROP COLUMN b", []Directive{AllowDestructive, Backfill}}, {8, "SELECT 1", nil}}},
		{"directive-like text in a string or block comment", "/* -- tailor:nothing */ SELECT '-- tailor:nothing';",
			[]stmt{{1, "SELECT '-- tailor:nothing'", nil}}},
		{"directive before a delimiter block", "DELIMITER //\n-- tailor:allow-destructive\nDROP TABLE old //\nDELIMITER ;",
			[]stmt{{3, "DROP TABLE old", []Directive{AllowDestructive}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raws, err := split(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			var got []stmt
			for _, r := range raws {
				got = append(got, stmt{r.line, r.text, r.directives})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("split(%q)\n got %+v\nwant %+v", tt.text, got, tt.want)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, want string
	}{
		{"open quote", "SELECT 1;\nSELECT 'abc;\n", "line 2: the ' opened here is never closed"},
		{"open backtick", "SELECT `a", "line 1: the ` opened here is never closed"},
		{"open comment", "SELECT 1; /* no end", "line 1: the /* comment opened here is never closed"},
		{"escaped closing quote", `SELECT 'a\'`, "line 1: the ' opened here is never closed"},
		{"delimiter without value", "DELIMITER \nSELECT 1", "line 1: DELIMITER needs the new delimiter"},
		{"delimiter alone at the end", "SELECT 1;\ndelimiter", "line 2: DELIMITER needs the new delimiter"},
		{"delimiter alone on its line", "DELIMITER\r\nSELECT 1", "line 1: DELIMITER needs the new delimiter"},
		{"delimiter inside a statement", "SELECT 1\nDELIMITER //\n", "line 2: DELIMITER comes before the statement that starts on line 1 ends with \";\""},
		{"unknown directive", "-- tailor:backfil\nUPDATE t SET a = 1", "line 1: -- tailor:backfil is not a tailor directive (the directives are -- tailor:backfill and -- tailor:allow-destructive)"},
		{"directive at the end", "SELECT 1;\n-- tailor:backfill\n", "line 2: the directive -- tailor:backfill is not followed by a statement"},
		{"directive before an empty statement", "-- tailor:backfill\n;SELECT 1", "line 1: the directive -- tailor:backfill is not followed by a statement"},
		{"directive inside a statement", "UPDATE t\n-- tailor:backfill\nSET a = 1", "line 2: the directive -- tailor:backfill is inside a statement"},
		{"directive after a statement on its line", "SELECT 1; -- tailor:allow-destructive\nDROP TABLE t", "line 1: the directive -- tailor:allow-destructive shares its line with a statement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := split(tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("split(%q) error = %v, want one containing %q", tt.text, err, tt.want)
			}
		})
	}
}

// TestParseStatements checks what Parse adds to the split: index, checksum
// and class.
func TestParseStatements(t *testing.T) {
	t.Parallel()
	stmts, err := Parse("CREATE TABLE a (id int PRIMARY KEY);\n-- tailor:allow-destructive\nDROP TABLE b;\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 {
		t.Fatalf("%d statements, want 2", len(stmts))
	}
	s := stmts[1]
	if s.Index != 1 || s.Line != 3 || s.Text != "DROP TABLE b" || s.Kind != KindOtherDDL || !s.Destructive || !s.Has(AllowDestructive) || s.Has(Backfill) {
		t.Errorf("statement = %+v", s)
	}
	if s.Checksum != checksum([]byte("DROP TABLE b")) || len(s.Checksum) != 64 {
		t.Errorf("checksum = %s", s.Checksum)
	}
	if stmts[0].Index != 0 || stmts[0].Kind != KindCreateTable {
		t.Errorf("statement = %+v", stmts[0])
	}
}

// TestParseRoutineFile: a file mixing plain statements with a DELIMITER
// block whose body the parser cannot read still splits, and the trigger
// runs as written with a note.
func TestParseRoutineFile(t *testing.T) {
	t.Parallel()
	text := `CREATE TABLE audit (id int PRIMARY KEY, at datetime);

DELIMITER //
CREATE PROCEDURE fill(n INT)
BEGIN
  FOR i IN 1..n DO
    INSERT INTO audit VALUES (i, NOW());
  END FOR;
END//
CREATE TRIGGER orders_audit AFTER UPDATE ON orders
FOR EACH ROW
BEGIN
  -- a comment; with a semicolon
  INSERT INTO audit VALUES (NEW.id, NOW());
END//
DELIMITER ;

CREATE INDEX at_idx ON audit (at);
`
	stmts, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []Kind
	for _, s := range stmts {
		kinds = append(kinds, s.Kind)
	}
	if want := []Kind{KindCreateTable, KindRoutine, KindTrigger, KindAlterTable}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	if p := stmts[1]; p.Line != 4 || p.Parsed || p.Note == "" || !strings.HasSuffix(p.Text, "END FOR;\nEND") {
		t.Errorf("procedure = %+v", p)
	}
	if tr := stmts[2]; tr.Line != 10 || tr.Parsed || tr.Note == "" || !strings.HasSuffix(tr.Text, "NOW());\nEND") {
		t.Errorf("trigger = %+v", tr)
	}
	if ix := stmts[3]; ix.Index != 3 || ix.Line != 18 || ix.Table != "audit" || ix.Clauses != "ADD INDEX at_idx (at)" {
		t.Errorf("index = %+v", ix)
	}
}

// TestParseByteOrderMark: a leading byte-order mark is not part of the
// first statement, and lines still count from it.
func TestParseByteOrderMark(t *testing.T) {
	t.Parallel()
	stmts, err := Parse("\ufeffCREATE TABLE a (id int);\nSELECT 1;")
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 || stmts[0].Text != "CREATE TABLE a (id int)" || stmts[0].Kind != KindCreateTable || stmts[1].Line != 2 {
		t.Errorf("statements = %+v", stmts)
	}
}

// FuzzParse: no text makes the reader panic, and every statement is the
// user's own text.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT 1; SELECT 'a;b' -- c\n;", "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END //\nDELIMITER ;",
		"-- tailor:backfill\nUPDATE t SET a = 1", "CREATE UNIQUE INDEX u ON t (a) LOCK=NONE", "ALTER TABLE t DROP a, ADD b int",
		"/*!50003 CREATE*/ /*!50003 TRIGGER x */", "DROP INDEX k ON", "CREATE INDEX k ON s.", "`", "/*", "DELIMITER",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		stmts, err := Parse(text)
		if err != nil {
			return
		}
		for _, s := range stmts {
			if !strings.Contains(text, s.Text) || s.Text == "" {
				t.Errorf("statement %q is not a part of %q", s.Text, text)
			}
		}
	})
}
