package preflight

import (
	"strings"
	"testing"
)

func TestUniqueDuplicates(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	cases := []struct {
		name, create, alter string
		setup               []string
		status              Status
		message             string
		details             []string
	}{
		{
			// The database's collation is utf8mb4_unicode_520_ci: 'a@x.com'
			// and 'A@X.COM' are one key, and NULLs never collide.
			name:    "case-insensitive",
			create:  "CREATE TABLE ci (id INT PRIMARY KEY, email VARCHAR(50))",
			setup:   []string{"INSERT INTO ci VALUES (1, 'a@x.com'), (2, 'A@X.COM'), (3, 'a@x.com'), (4, 'b@x.com'), (5, 'B@x.com '), (6, 'c@x.com'), (7, NULL), (8, NULL)"},
			alter:   "ADD UNIQUE KEY uk_email (email)",
			status:  Fail,
			message: "adding unique key uk_email would meet 2 duplicated values (5 rows); remove the duplicates first, e.g. (email)=(",
			details: []string{"in 3 rows", "in 2 rows"},
		},
		{
			name:    "binary collation tells case apart",
			create:  "CREATE TABLE cs (id INT PRIMARY KEY, email VARCHAR(50) COLLATE utf8mb4_bin)",
			setup:   []string{"INSERT INTO cs VALUES (1, 'a@x.com'), (2, 'A@X.COM'), (3, NULL), (4, NULL)"},
			alter:   "ADD UNIQUE KEY uk_email (email)",
			status:  Pass,
			message: "unique key uk_email: no duplicates among the table's rows",
		},
		{
			// The new key is judged in the new collation, on the renamed
			// column.
			name:    "collation changes with a rename",
			create:  "CREATE TABLE cr (id INT PRIMARY KEY, email VARCHAR(50) COLLATE utf8mb4_bin, UNIQUE KEY uk_email (email))",
			setup:   []string{"INSERT INTO cr VALUES (1, 'a@x.com'), (2, 'A@X.COM'), (3, 'b@x.com')"},
			alter:   "CHANGE email mail VARCHAR(50) COLLATE utf8mb4_general_ci",
			status:  Fail,
			message: "unique key uk_email would meet 1 duplicated value (2 rows)",
			details: []string{"(mail)=("},
		},
		{
			name:    "charset changes",
			create:  "CREATE TABLE ch (id INT PRIMARY KEY, code VARCHAR(10) CHARACTER SET latin1 COLLATE latin1_bin)",
			setup:   []string{"INSERT INTO ch VALUES (1, 'abc'), (2, 'ABC'), (3, 'xyz')"},
			alter:   "MODIFY code VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, ADD UNIQUE (code)",
			status:  Fail,
			message: "unique key code would meet 1 duplicated value (2 rows)",
		},
		{
			name:    "prefix",
			create:  "CREATE TABLE px (id INT PRIMARY KEY, name VARCHAR(50))",
			setup:   []string{"INSERT INTO px VALUES (1, 'abcdef'), (2, 'abcxyz'), (3, 'abd'), (4, 'ab'), (5, NULL)"},
			alter:   "ADD UNIQUE KEY uk_name (name(3))",
			status:  Fail,
			message: "unique key uk_name would meet 1 duplicated value (2 rows)",
			details: []string{"(name(3))=('abc') in 2 rows"},
		},
		{
			name:    "composite with NULLs",
			create:  "CREATE TABLE cn (id INT PRIMARY KEY, a INT, b INT)",
			setup:   []string{"INSERT INTO cn VALUES (1, 1, NULL), (2, 1, NULL), (3, NULL, 2), (4, NULL, 2), (5, 1, 2)"},
			alter:   "ADD UNIQUE KEY uk_ab (a, b)",
			status:  Pass,
			message: "unique key uk_ab: no duplicates",
		},
		{
			// A primary key implies NOT NULL: the NULLs are a problem too.
			name:    "new composite primary key",
			create:  "CREATE TABLE pk (id INT NOT NULL, a INT, b VARCHAR(5), UNIQUE KEY (id))",
			setup:   []string{"INSERT INTO pk VALUES (1, 1, 'x'), (2, 1, 'X'), (3, 2, 'y'), (4, 2, NULL), (5, NULL, NULL), (6, 3, 'z')"},
			alter:   "ADD PRIMARY KEY (a, b)",
			status:  Fail,
			message: "adding primary key (a, b) would meet 1 duplicated value (2 rows) and 2 rows with a NULL, which a primary key rejects; remove the duplicates and give the NULLs a value first",
			details: []string{"(a, b)=(1, '", "') in 2 rows"},
		},
		{
			name:    "existing key kept",
			create:  "CREATE TABLE ek (id INT PRIMARY KEY, email VARCHAR(50), UNIQUE KEY uk_email (email))",
			setup:   []string{"INSERT INTO ek VALUES (1, 'a'), (2, NULL), (3, NULL)"},
			alter:   "ADD COLUMN note TEXT",
			status:  Pass,
			message: "no new unique key",
		},
		{
			// A wider key over a unique column cannot have duplicates.
			name:    "superset of a unique key",
			create:  "CREATE TABLE sk (id INT PRIMARY KEY, a INT, b INT)",
			setup:   []string{"INSERT INTO sk VALUES (1, 1, 1), (2, 2, 1)"},
			alter:   "ADD UNIQUE KEY uk_ab (b, id)",
			status:  Pass,
			message: "no new unique key",
		},
		{
			name:    "shorter prefix than the old key",
			create:  "CREATE TABLE sp (id INT PRIMARY KEY, name VARCHAR(50), UNIQUE KEY uk_name (name(5)))",
			setup:   []string{"INSERT INTO sp VALUES (1, 'abcde'), (2, 'abcdf')"},
			alter:   "DROP KEY uk_name, ADD UNIQUE KEY uk_name (name(4))",
			status:  Fail,
			message: "unique key uk_name would meet 1 duplicated value (2 rows)",
		},
		{
			name:    "key over an added column",
			create:  "CREATE TABLE ac (id INT PRIMARY KEY)",
			setup:   []string{"INSERT INTO ac VALUES (1), (2)"},
			alter:   "ADD COLUMN code INT NOT NULL DEFAULT 0, ADD UNIQUE KEY uk_code (code)",
			status:  Warn,
			message: "unique key uk_code covers column code, which the change adds or computes, so tailor could not look for duplicates",
		},
		{
			name:    "added column next to a unique one",
			create:  "CREATE TABLE au (id INT PRIMARY KEY, email VARCHAR(50), UNIQUE KEY uk_email (email))",
			setup:   []string{"INSERT INTO au VALUES (1, 'a'), (2, 'b')"},
			alter:   "ADD COLUMN tenant INT NOT NULL DEFAULT 0, ADD UNIQUE KEY uk_te (tenant, email)",
			status:  Pass,
			message: "no new unique key",
		},
		{
			name:    "text becomes a number",
			create:  "CREATE TABLE tn (id INT PRIMARY KEY, code VARCHAR(10))",
			setup:   []string{"INSERT INTO tn VALUES (1, '1'), (2, '1.0'), (3, '2')"},
			alter:   "MODIFY code DECIMAL(5,1), ADD UNIQUE KEY uk_code (code)",
			status:  Fail,
			message: "unique key uk_code would meet 1 duplicated value (2 rows)",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := dataInput(t, db, dbName, tableOf(c.create), c.create, c.alter, c.setup...)
			unique, _ := runDataChecks(t, in)
			expectCheck(t, unique, c.status, c.message, c.details...)
		})
	}
}

// tableOf is the name of the table in "CREATE TABLE name (...)".
func tableOf(create string) string { return strings.Fields(create)[2] }
