package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/sandbox"
)

func planArgs(database, table, alter string, extra ...string) []string {
	args := append([]string{"plan"}, connArgs()...)
	args = append(args, "--database", database, "--table", table, "--alter", alter)
	return append(args, extra...)
}

// TestPlanCommand runs tailor plan in both output formats, for a change
// tailor would make and for one it refuses: the exit code says which, the
// JSON is one document with the documented top-level fields, and nothing is
// left behind.
func TestPlanCommand(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	t.Setenv("MYSQL_PWD", sandbox.Password)
	smallTable(t, db, 300)
	before := stateOf(t, db, dbName, "t")

	o := tailor(t, planArgs(dbName, "t", "ADD INDEX idx_n (n)")...)
	o.wantCode(t, exitOK)
	for _, want := range []string{"OK, tailor would make this change (online-copy)", "Native    NOCOPY", "pass  copy-key: the copy walks PRIMARY (id)", "Estimate  The whole table (300 rows) was copied"} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("the plan lacks %q:\n%s", want, o.stdout)
		}
	}

	o = tailor(t, planArgs(dbName, "t", "ADD UNIQUE KEY uk_name (name), MODIFY name VARCHAR(2) NOT NULL", "--output", "json")...)
	o.wantCode(t, exitInvalid)
	o.errorLine(t, "refused", "unique-duplicates", "narrowing")
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(o.stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, o.stdout)
	}
	for _, field := range []string{"server", "database", "table", "alter", "ok", "refused_because", "size", "native", "strategy", "checks", "estimate", "advice"} {
		if _, ok := doc[field]; !ok {
			t.Errorf("the JSON plan has no %q", field)
		}
	}
	var p struct {
		OK     bool `json:"ok"`
		Checks []struct {
			Name, Status string
			Details      []string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(o.stdout), &p); err != nil {
		t.Fatal(err)
	}
	if p.OK {
		t.Error(`the JSON plan says "ok": true for a refused change`)
	}
	status := map[string]string{}
	for _, c := range p.Checks {
		status[c.Name] = c.Status
	}
	if status["unique-duplicates"] != "fail" || status["narrowing"] != "fail" || status["binlog"] != "pass" {
		t.Errorf("check statuses = %v", status)
	}
	if strings.Contains(o.stdout, `\u003c`) {
		t.Error("the JSON escapes < in the advice's SQL")
	}

	o = tailor(t, planArgs(dbName, "t", "ADD INDEX i (n)", "--output", "yaml")...)
	o.wantCode(t, exitUsage)
	o.errorLine(t, "--output", "text or json")

	before.untouched(t, db, dbName, "t")
	if got := sandbox.Tables(t, db, dbName); !slices.Equal(got, []string{"t"}) {
		t.Errorf("tables after plan = %q", got)
	}
}
