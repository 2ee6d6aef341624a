package migfiles

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func file(text string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(text)} }

func TestReadOrder(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"V1.10__ten.sql":            file("CREATE TABLE t10 (id int PRIMARY KEY);"),
		"V1.9__nine.sql":            file("CREATE TABLE t9 (id int PRIMARY KEY);"),
		"V1__first.sql":             file("CREATE TABLE t1 (id int PRIMARY KEY);"),
		"V2_1__two_one.sql":         file("ALTER TABLE t1 ADD c int;"),
		"sub/V1.9.5__in_folder.sql": file("SELECT 1;"),
		"R__b_view.sql":             file("CREATE OR REPLACE VIEW b AS SELECT 1;"),
		"R__a_view.sql":             file("CREATE OR REPLACE VIEW a AS SELECT 1;"),
		"U2_1__undo.sql":            file("ALTER TABLE t1 DROP c;"),
		"README.md":                 file("# migrations"),
		"flyway.conf":               file("flyway.url=jdbc:mysql://x"),
		".hidden/V9__x.sql":         file("not sql at all"),
		".#V1__first.sql":           file("editor lock file"),
	}
	files, err := Read(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path)
	}
	want := []string{"V1__first.sql", "V1.9__nine.sql", "sub/V1.9.5__in_folder.sql", "V1.10__ten.sql", "V2_1__two_one.sql", "R__a_view.sql", "R__b_view.sql"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("order\n%v\nwant\n%v", got, want)
	}
	f := files[4]
	sum := sha256.Sum256(fsys["V2_1__two_one.sql"].Data)
	if f.Name != "V2_1__two_one.sql" || f.Type != Versioned || f.Version.String() != "2.1" || f.Description != "two one" || f.Checksum != hex.EncodeToString(sum[:]) {
		t.Errorf("file = %+v", f)
	}
	if len(f.Statements) != 1 || f.Statements[0].Kind != KindAlterTable || f.Statements[0].Table != "t1" {
		t.Errorf("statements = %+v", f.Statements)
	}
	if files[5].Type != Repeatable || !files[5].Version.IsZero() || files[5].Description != "a view" {
		t.Errorf("repeatable = %+v", files[5])
	}
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fsys fstest.MapFS
		want []string // each must be in the error
	}{
		{"bad name", fstest.MapFS{"V1__ok.sql": file("SELECT 1;"), "add_column.sql": file("SELECT 1;")},
			[]string{"add_column.sql: add_column.sql is not named V<version>__<description>.sql or R__<description>.sql"}},
		{"same version", fstest.MapFS{"V2__a.sql": file("SELECT 1;"), "V2.0__b.sql": file("SELECT 1;")},
			[]string{"V2.0__b.sql: has version 2.0, the same version as V2__a.sql"}},
		{"leading zeros", fstest.MapFS{"V01__a.sql": file("SELECT 1;"), "V1__b.sql": file("SELECT 1;")},
			[]string{"the same version as"}},
		{"same repeatable", fstest.MapFS{"R__v.sql": file("SELECT 1;"), "x/R__v.sql": file("SELECT 1;")},
			[]string{`x/R__v.sql: has the description "v", the same as the repeatable file R__v.sql`}},
		{"unknown directive", fstest.MapFS{"V1__a.sql": file("SELECT 1;\n\n-- tailor:backfil\nUPDATE t SET a = 1;")},
			[]string{"V1__a.sql, line 3: -- tailor:backfil is not a tailor directive"}},
		{"unparsable alter", fstest.MapFS{"V1__a.sql": file("SELECT 1;\nALTER TABLE t ADD COLUMN;")},
			[]string{"V1__a.sql, line 2: tailor cannot parse this ALTER TABLE"}},
		{"every problem", fstest.MapFS{"x.sql": file(""), "V1__a.sql": file("'open")},
			[]string{"x.sql: x.sql is not named", "V1__a.sql, line 1: the ' opened here is never closed"}},
		{"not utf-8", fstest.MapFS{"V1__a.sql": file("SELECT '\xff';")}, []string{"V1__a.sql, line 1: the file is not valid UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Read(tt.fsys)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not hold %q", err, w)
				}
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not an *Error", err)
			}
		})
	}
}
