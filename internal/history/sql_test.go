package history

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestSQLQuotesNames: every statement names the table through QuoteTable,
// so a database name with a backtick cannot break out of it.
func TestSQLQuotesNames(t *testing.T) {
	t.Parallel()
	const db = "we`ird db"
	const want = "`we``ird db`.`tailor_schema_history`"
	for name, q := range map[string]string{
		"create": createTableSQL(db), "probe": probeSQL(db), "select": selectSQL(db, false), "select one": selectSQL(db, true),
		"insert": insertSQL(db), "lock row": lockRowSQL(db), "statements": updateStatementsSQL(db),
		"finish": finishSQL(db), "resume": resumeSQL(db),
	} {
		if !strings.Contains(q, want) {
			t.Errorf("%s: %q does not name %s", name, q, want)
		}
	}
	if got := strings.Count(insertSQL(db), "?"); got != 7 {
		t.Errorf("insert has %d placeholders, want 7", got)
	}
}

func TestLockName(t *testing.T) {
	t.Parallel()
	if got := LockName("shop"); got != "tailor-migrate:shop" {
		t.Errorf("LockName(shop) = %q", got)
	}
	long := strings.Repeat("é", 64)
	a, b := LockName(long), LockName(long[:len(long)-2]+"e")
	if utf8.RuneCountInString(a) > maxLockName || !strings.HasPrefix(a, lockPrefix) {
		t.Errorf("LockName(64 letters) = %q, longer than %d or without the prefix", a, maxLockName)
	}
	if a == b {
		t.Errorf("two long names share the lock %q", a)
	}
	if LockName(long) != a {
		t.Error("LockName is not stable")
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	ok := func(i int) StatementResult { return StatementResult{Index: i, Outcome: OutcomeApplied} }
	bad := func(i int) StatementResult { return StatementResult{Index: i, Outcome: OutcomeFailed, Error: "boom"} }
	tests := []struct {
		name string
		have []StatementResult
		add  StatementResult
		want []StatementResult
		done int
	}{
		{"first", nil, ok(0), []StatementResult{ok(0)}, 1},
		{"next", []StatementResult{ok(0)}, ok(1), []StatementResult{ok(0), ok(1)}, 2},
		{"failure stops the count", []StatementResult{ok(0)}, bad(1), []StatementResult{ok(0), bad(1)}, 1},
		{"retry replaces", []StatementResult{ok(0), bad(1)}, ok(1), []StatementResult{ok(0), ok(1)}, 2},
		{"a gap stops the count", []StatementResult{ok(0)}, ok(2), []StatementResult{ok(0), ok(2)}, 1},
		{"out of order", []StatementResult{ok(1)}, ok(0), []StatementResult{ok(0), ok(1)}, 2},
	}
	for _, tt := range tests {
		got, done := merge(tt.have, tt.add)
		if !reflect.DeepEqual(got, tt.want) || done != tt.done {
			t.Errorf("%s: merge = %+v, %d; want %+v, %d", tt.name, got, done, tt.want, tt.done)
		}
	}
}

func TestFileInfoCheck(t *testing.T) {
	t.Parallel()
	sum := strings.Repeat("a", 64)
	good := FileInfo{Version: "1.2", Description: "d", Type: Versioned, Script: "V1.2__d.sql", Checksum: sum, StatementsTotal: 2}
	if err := good.check(); err != nil {
		t.Errorf("check(%+v): %v", good, err)
	}
	for name, f := range map[string]FileInfo{
		"no type":               {Version: "1", Script: "x", Checksum: sum},
		"versioned, no version": {Type: Versioned, Script: "x", Checksum: sum},
		"repeatable, version":   {Type: Repeatable, Version: "1", Script: "x", Checksum: sum},
		"no script":             {Type: Repeatable, Checksum: sum},
		"short checksum":        {Type: Repeatable, Script: "x", Checksum: "abc"},
		"negative total":        {Type: Repeatable, Script: "x", Checksum: sum, StatementsTotal: -1},
	} {
		if err := f.check(); err == nil {
			t.Errorf("%s: check(%+v) passed", name, f)
		}
	}
}
