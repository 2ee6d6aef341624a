package ddl

import (
	"reflect"
	"testing"
)

// TestParseAnyCharset: a character set or collation the TiDB parser does
// not know (MariaDB has 40 sets and hundreds of collations) does not make
// the ALTER unusable, what tailor reads from it is unchanged, and the
// clauses sent to the server are the user's text, names and all.
func TestParseAnyCharset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, clauses string
		modified            []ColumnChange
		added               []string
	}{
		{"issue 11", "MODIFY t2 VARCHAR(128) CHARACTER SET latin2 NOT NULL", "MODIFY t2 VARCHAR(128) CHARACTER SET latin2 NOT NULL",
			[]ColumnChange{{Old: "t2", New: "t2", Type: "varchar(128)"}}, nil},
		{"whole statement, collation", "ALTER TABLE t CHANGE a b VARCHAR(5) CHARACTER SET latin2 COLLATE latin2_czech_cs;", "CHANGE a b VARCHAR(5) CHARACTER SET latin2 COLLATE latin2_czech_cs",
			[]ColumnChange{{Old: "a", New: "b", Type: "varchar(5)"}}, nil},
		{"three-letter set, quoted and with =", "ADD c CHAR(2) CHARSET `hp8`, ADD d TEXT CHARACTER SET 'ucs2' COLLATE ucs2_nopad_bin", "ADD c CHAR(2) CHARSET `hp8`, ADD d TEXT CHARACTER SET 'ucs2' COLLATE ucs2_nopad_bin",
			nil, []string{"c", "d"}},
		{"a column named like a character set", "MODIFY latin2 VARCHAR(3) CHAR SET latin2", "MODIFY latin2 VARCHAR(3) CHAR SET latin2",
			[]ColumnChange{{Old: "latin2", New: "latin2", Type: "varchar(3)"}}, nil},
		{"MariaDB collation of a known set", "MODIFY s TEXT COLLATE utf8mb4_uca1400_ai_ci", "MODIFY s TEXT COLLATE utf8mb4_uca1400_ai_ci",
			[]ColumnChange{{Old: "s", New: "s", Type: "text"}}, nil},
		{"table options", "CONVERT TO CHARACTER SET sjis COLLATE sjis_bin, DEFAULT CHARSET=cp1250", "CONVERT TO CHARACTER SET sjis COLLATE sjis_bin, DEFAULT CHARSET=cp1250", nil, nil},
		{"expressions and introducers", "ADD g VARCHAR(9) AS (CONVERT(s USING koi8r)) VIRTUAL, ADD h VARCHAR(3) DEFAULT _latin2'x', ADD KEY (g) USING BTREE",
			"ADD g VARCHAR(9) AS (CONVERT(s USING koi8r)) VIRTUAL, ADD h VARCHAR(3) DEFAULT _latin2'x', ADD KEY (g) USING BTREE", nil, []string{"g", "h"}},
		{"names in strings and comments untouched", "ADD c VARCHAR(9) DEFAULT 'CHARACTER SET latin2' COMMENT \"COLLATE x\" /* CHARSET hp8 */",
			"ADD c VARCHAR(9) DEFAULT 'CHARACTER SET latin2' COMMENT \"COLLATE x\" /* CHARSET hp8 */", nil, []string{"c"}},
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
			if !reflect.DeepEqual(a.Modified, tt.modified) {
				t.Errorf("Modified = %+v, want %+v", a.Modified, tt.modified)
			}
			if !reflect.DeepEqual(a.Added, tt.added) {
				t.Errorf("Added = %v, want %v", a.Added, tt.added)
			}
		})
	}
}

// TestParsableCharsets checks the stand-in names keep every offset and
// leave what the parser knows, strings and comments alone.
func TestParsableCharsets(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"c CHARACTER SET latin2": "c CHARACTER SET latin1",
		// The parser knows more collation names than character sets.
		"c CHARSET hp8 COLLATE hp8_bin":                    "c CHARSET gbk COLLATE hp8_bin",
		"c CHARSET=`ucs2` COLLATE=`utf8mb4_uca1400_ai_ci`": "c CHARSET=latin1 COLLATE=utf8mb4_bin            ",
		"c CHARSET utf8mb4 COLLATE utf8mb4_bin":            "c CHARSET utf8mb4 COLLATE utf8mb4_bin",
		"DEFAULT _cp1250'a', DEFAULT _hp8 X'41'":           "DEFAULT _latin1'a', DEFAULT _gbk X'41'",
		"'CHARSET latin2' -- CHARSET latin2\n":             "'CHARSET latin2' -- CHARSET latin2\n",
		"/*!100100 CHARSET latin2 */":                      "/*!100100 CHARSET latin1 */",
		"KEY (a) USING HASH, CONVERT(x USING big5)":        "KEY (a) USING HASH, CONVERT(x USING utf8)",
	} {
		got := parsableCharsets(in)
		if got != want {
			t.Errorf("parsableCharsets(%q) = %q, want %q", in, got, want)
		}
		if len(got) != len(in) {
			t.Errorf("parsableCharsets(%q) changed the length", in)
		}
	}
}
