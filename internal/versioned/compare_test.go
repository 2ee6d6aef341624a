package versioned

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tailor-osc/tailor/internal/history"
	"github.com/tailor-osc/tailor/internal/migfiles"
)

func readTestFolder(t *testing.T, dir fstest.MapFS) []*migfiles.File {
	t.Helper()
	files, err := migfiles.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// applied is the history row of f run to its end.
func applied(f *migfiles.File) history.Entry {
	e := history.Entry{Version: f.Version.String(), Description: f.Description, Type: history.Type(f.Type), Script: f.Name,
		Checksum: f.Checksum, State: history.Applied, StatementsTotal: len(f.Statements), StatementsDone: len(f.Statements),
		InstalledOn: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for i, st := range f.Statements {
		e.Statements = append(e.Statements, history.StatementResult{Index: i, Checksum: st.Checksum, Strategy: history.Direct, Outcome: history.OutcomeApplied})
	}
	return e
}

func TestCompare(t *testing.T) {
	t.Parallel()
	base := fstest.MapFS{
		"V1__one.sql":   file("CREATE TABLE a (id INT PRIMARY KEY);"),
		"V2__two.sql":   file("ALTER TABLE a ADD COLUMN b INT NULL;\nALTER TABLE a ADD COLUMN c INT NULL;"),
		"R__views.sql":  file("CREATE OR REPLACE VIEW v AS SELECT id FROM a;"),
		"V10__ten.sql":  file("ALTER TABLE a ADD COLUMN d INT NULL;"),
		"notes/README":  file("not a migration"),
		"V1_1__mid.sql": file("ALTER TABLE a ADD COLUMN e INT NULL;"),
	}
	files := readTestFolder(t, base)
	byName := map[string]*migfiles.File{}
	for _, f := range files {
		byName[f.Name] = f
	}
	names := func(ps []Pending) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.File.Name)
		}
		return strings.Join(out, ",")
	}

	t.Run("fresh", func(t *testing.T) {
		ps, err := Compare(files, nil, false)
		if err != nil || names(ps) != "V1__one.sql,V1_1__mid.sql,V2__two.sql,V10__ten.sql,R__views.sql" {
			t.Fatalf("Compare = %s, %v", names(ps), err)
		}
	})
	t.Run("up to date", func(t *testing.T) {
		var es []history.Entry
		for _, f := range files {
			es = append(es, applied(f))
		}
		if ps, err := Compare(files, es, false); err != nil || len(ps) != 0 {
			t.Fatalf("Compare = %s, %v", names(ps), err)
		}
	})
	t.Run("failed file resumes at statements_done", func(t *testing.T) {
		failed := applied(byName["V2__two.sql"])
		failed.State, failed.StatementsDone = history.Failed, 1
		failed.Statements[1].Outcome = history.OutcomeFailed
		es := []history.Entry{applied(byName["V1__one.sql"]), applied(byName["V1_1__mid.sql"]), failed}
		ps, err := Compare(files, es, false)
		if err != nil || names(ps) != "V2__two.sql,V10__ten.sql,R__views.sql" || ps[0].Start != 1 || ps[0].Entry == nil {
			t.Fatalf("Compare = %s, %v (%+v)", names(ps), err, ps)
		}
	})
	t.Run("changed repeatable runs again", func(t *testing.T) {
		r := applied(byName["R__views.sql"])
		r.Checksum = strings.Repeat("0", 64)
		ps, err := Compare(files, []history.Entry{r}, false)
		if err != nil || !strings.HasSuffix(names(ps), "R__views.sql") || ps[len(ps)-1].Entry != nil {
			t.Fatalf("Compare = %s, %v", names(ps), err)
		}
	})
	for _, c := range []struct {
		name    string
		entries func() []history.Entry
		want    string
	}{
		{"edited applied file", func() []history.Entry {
			e := applied(byName["V1__one.sql"])
			e.Checksum = strings.Repeat("a", 64)
			return []history.Entry{e}
		}, "V1__one.sql was applied on 2026-01-02 03:04:05 UTC and its text has changed since"},
		{"missing applied file", func() []history.Entry {
			e := applied(byName["V1__one.sql"])
			e.Version, e.Script = "0.5", "V0_5__gone.sql"
			return []history.Entry{e}
		}, "version 0.5 (V0_5__gone.sql) is applied on the database but missing from the folder"},
		{"missing failed file", func() []history.Entry {
			e := applied(byName["V1__one.sql"])
			e.Version, e.Script, e.State, e.StatementsDone = "0.5", "V0_5__gone.sql", history.Failed, 0
			return []history.Entry{e}
		}, "version 0.5 (V0_5__gone.sql) stopped at statement 1 of 1 and is missing from the folder"},
		{"out of order", func() []history.Entry {
			return []history.Entry{applied(byName["V1__one.sql"]), applied(byName["V2__two.sql"])}
		}, "V1_1__mid.sql is pending but older than version 2 (V2__two.sql), the newest applied"},
		{"failed file edited where it ran", func() []history.Entry {
			e := applied(byName["V2__two.sql"])
			e.State, e.StatementsDone = history.Failed, 1
			e.Statements[0].Checksum = strings.Repeat("b", 64)
			return []history.Entry{applied(byName["V1__one.sql"]), applied(byName["V1_1__mid.sql"]), e}
		}, "V2__two.sql stopped at statement 2, and its statement 1 (line 1), which had already run, was edited since"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compare(files, c.entries(), false)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Compare error = %v, want %q", err, c.want)
			}
		})
	}
	t.Run("out of order allowed", func(t *testing.T) {
		ps, err := Compare(files, []history.Entry{applied(byName["V1__one.sql"]), applied(byName["V2__two.sql"])}, true)
		if err != nil || names(ps) != "V1_1__mid.sql,V10__ten.sql,R__views.sql" {
			t.Fatalf("Compare = %s, %v", names(ps), err)
		}
	})
}

func TestBackfillOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ text, set, where, err string }{
		{text: "UPDATE users SET display_name = full_name WHERE display_name IS NULL", set: "`display_name`=`full_name`", where: "`display_name` IS NULL"},
		{text: "UPDATE shop.users SET a = 1, b = CONCAT(a, 'x\\\\y')", set: "`a`=1, `b`=CONCAT(`a`, 'x\\\\y')"},
		{text: "DELETE FROM users WHERE created < '2020-01-01'", where: "`created` < '2020-01-01'"},
		{text: "UPDATE users SET a = 1 ORDER BY id LIMIT 10", err: "without ORDER BY"},
		{text: "UPDATE users u JOIN t ON t.id = u.id SET u.a = 1", err: "one table"},
		{text: "DELETE FROM users", err: "needs a WHERE"},
	} {
		spec, err := backfillOf(c.text)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.text, err, c.err)
			}
			continue
		}
		if err != nil || spec.Set != c.set || spec.Where != c.where {
			t.Errorf("%s: %+v, %v; want set %q where %q", c.text, spec, err, c.set, c.where)
		}
	}
}

func TestPlanNames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("d", 64)
	if got := ScratchDatabase("shop"); got != "_tailor_plan_shop" {
		t.Errorf("ScratchDatabase(shop) = %q", got)
	}
	if got := ScratchDatabase(long); len([]rune(got)) != 64 {
		t.Errorf("ScratchDatabase of a long name has %d characters", len([]rune(got)))
	}
	if got := planLockName("shop"); got != "tailor-plan:shop" {
		t.Errorf("planLockName(shop) = %q", got)
	}
	if a, b := planLockName(long), planLockName(long+"x"); len(a) != 64 || a == b {
		t.Errorf("planLockName of long names: %q, %q", a, b)
	}
}
