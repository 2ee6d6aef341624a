package plan

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	driver "github.com/go-sql-driver/mysql"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/preflight"
)

// TestAlterAlgorithms pins the algorithms tried on each flavour and
// version (the method lives in package mysql, whose tests belong to
// another owner).
func TestAlterAlgorithms(t *testing.T) {
	cases := []struct {
		name   string
		server mysql.Server
		want   []string
	}{
		{"MariaDB 10.11", mysql.Server{Flavor: mysql.FlavorMariaDB, Version: mysql.Version{Major: 10, Minor: 11, Patch: 9}},
			[]string{"ALGORITHM=INSTANT", "ALGORITHM=NOCOPY", "ALGORITHM=INPLACE, LOCK=NONE", "ALGORITHM=INPLACE, LOCK=SHARED", "ALGORITHM=INPLACE, LOCK=EXCLUSIVE", "ALGORITHM=COPY"}},
		{"MariaDB 11.4", mysql.Server{Flavor: mysql.FlavorMariaDB, Version: mysql.Version{Major: 11, Minor: 4, Patch: 2}},
			[]string{"ALGORITHM=INSTANT", "ALGORITHM=NOCOPY", "ALGORITHM=INPLACE, LOCK=NONE", "ALGORITHM=INPLACE, LOCK=SHARED", "ALGORITHM=INPLACE, LOCK=EXCLUSIVE", "ALGORITHM=COPY, LOCK=NONE", "ALGORITHM=COPY"}},
		{"MariaDB 10.2", mysql.Server{Flavor: mysql.FlavorMariaDB, Version: mysql.Version{Major: 10, Minor: 2, Patch: 44}},
			[]string{"ALGORITHM=INPLACE, LOCK=NONE", "ALGORITHM=INPLACE, LOCK=SHARED", "ALGORITHM=INPLACE, LOCK=EXCLUSIVE", "ALGORITHM=COPY"}},
		{"MySQL 8.0", mysql.Server{Flavor: mysql.FlavorMySQL, Version: mysql.Version{Major: 8, Minor: 0, Patch: 36}},
			[]string{"ALGORITHM=INSTANT", "ALGORITHM=INPLACE, LOCK=NONE", "ALGORITHM=INPLACE, LOCK=SHARED", "ALGORITHM=INPLACE, LOCK=EXCLUSIVE", "ALGORITHM=COPY"}},
		{"MySQL 5.7", mysql.Server{Flavor: mysql.FlavorMySQL, Version: mysql.Version{Major: 5, Minor: 7, Patch: 44}},
			[]string{"ALGORITHM=INPLACE, LOCK=NONE", "ALGORITHM=INPLACE, LOCK=SHARED", "ALGORITHM=INPLACE, LOCK=EXCLUSIVE", "ALGORITHM=COPY"}},
	}
	for _, tc := range cases {
		var got []string
		for _, a := range tc.server.AlterAlgorithms() {
			got = append(got, a.Clause())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestIsAlgorithmRefusal(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&driver.MySQLError{Number: 1845}, true},
		{fmt.Errorf("wrapped: %w", &driver.MySQLError{Number: 1846}), true},
		{&driver.MySQLError{Number: 1847}, true},
		{&driver.MySQLError{Number: 1060}, false},
		{errors.New("connection lost"), false},
	}
	for _, tc := range cases {
		if got := mysql.IsAlgorithmRefusal(tc.err); got != tc.want {
			t.Errorf("IsAlgorithmRefusal(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestChooseStrategy(t *testing.T) {
	cases := []struct {
		algorithm, lock string
		force, mariadb  bool
		want            StrategyKind
		reason          string
	}{
		{"INSTANT", "", false, true, StrategyNativeInstant, "INSTANT"},
		{"INSTANT", "", true, true, StrategyOnlineCopy, "a copy was forced"},
		{"NOCOPY", "", false, true, StrategyOnlineCopy, "without rebuilding it (NOCOPY)"},
		{"INPLACE", "NONE", false, true, StrategyOnlineCopy, "rebuild the table (INPLACE, LOCK=NONE)"},
		{"INPLACE", "NONE", false, false, StrategyOnlineCopy, "work through the whole table (INPLACE, LOCK=NONE)"},
		{"INPLACE", "SHARED", false, true, StrategyOnlineCopy, "block writes"},
		{"INPLACE", "EXCLUSIVE", false, true, StrategyOnlineCopy, "block reads and writes"},
		{"COPY", "NONE", false, true, StrategyOnlineCopy, "(COPY, LOCK=NONE)"},
		{"COPY", "", false, true, StrategyOnlineCopy, "block writes for the whole copy"},
	}
	for _, tc := range cases {
		got := chooseStrategy(Native{Algorithm: tc.algorithm, Lock: tc.lock}, tc.force, tc.mariadb)
		if got.Kind != tc.want || !strings.Contains(got.Reason, tc.reason) || strings.Count(got.Reason, ". ") > 0 {
			t.Errorf("%s/%s force=%v: %+v; want %s, one sentence with %q", tc.algorithm, tc.lock, tc.force, got, tc.want, tc.reason)
		}
	}
}

func TestProbeName(t *testing.T) {
	if got := ProbeName("orders"); got != "_orders_tailor_probe" {
		t.Errorf("ProbeName(orders) = %q", got)
	}
	long1 := strings.Repeat("ü", 60) + "a"
	long2 := strings.Repeat("ü", 60) + "b"
	n1, n2 := ProbeName(long1), ProbeName(long2)
	if utf8.RuneCountInString(n1) > maxIdentifier || n1 == n2 || !strings.HasSuffix(n1, "_tailor_probe") {
		t.Errorf("long names %q and %q: want distinct, at most 64 characters, ending in _tailor_probe", n1, n2)
	}
	if m := probeMutex(strings.Repeat("d", 64), strings.Repeat("t", 64)); len(m) > maxIdentifier {
		t.Errorf("lock name %q is longer than 64", m)
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{byteSize(0), "0 B"},
		{byteSize(1023), "1023 B"},
		{byteSize(1536), "1.5 KiB"},
		{byteSize(5 << 30), "5.0 GiB"},
		{count(0), "0"},
		{count(999), "999"},
		{count(1234567), "1,234,567"},
		{count(-1000), "-1,000"},
		{duration(0.0404), "40 ms"},
		{duration(3.25), "3.2 s"},
		{duration(725), "12 min"},
		{duration(7500), "2 h 5 min"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestRefusalReason(t *testing.T) {
	for msg, want := range map[string]string{
		"ALGORITHM=INSTANT is not supported. Reason: Cannot change column type. Try ALGORITHM=COPY":    "Cannot change column type",
		"ALGORITHM=NOCOPY is not supported for this operation. Try ALGORITHM=INPLACE":                  "not supported for this operation",
		"LOCK=NONE is not supported. Reason: COPY algorithm requires a lock. Try LOCK=SHARED":          "COPY algorithm requires a lock",
		"ALGORITHM=INPLACE is not supported. Reason: Adding foreign keys needs foreign_key_checks=OFF": "Adding foreign keys needs foreign_key_checks=OFF",
		"something else": "something else",
	} {
		if got := refusalReason(msg); got != want {
			t.Errorf("refusalReason(%q) = %q, want %q", msg, got, want)
		}
	}
	groups := groupRefusals([]Refusal{
		{Clause: "ALGORITHM=INSTANT", Message: "ALGORITHM=INSTANT is not supported for this operation. Try ALGORITHM=INPLACE"},
		{Clause: "ALGORITHM=NOCOPY", Message: "ALGORITHM=NOCOPY is not supported for this operation. Try ALGORITHM=INPLACE"},
		{Clause: "ALGORITHM=INPLACE, LOCK=NONE", Message: "LOCK=NONE is not supported. Reason: x. Try LOCK=SHARED"},
	})
	want := []refusalGroup{{"INSTANT / NOCOPY", "not supported for this operation"}, {"INPLACE LOCK=NONE", "x"}}
	if !slices.Equal(groups, want) {
		t.Errorf("groups %+v, want %+v", groups, want)
	}
}

// samplePlan is a plan as Make would return it for a type change with a
// failing check; TestWriteText and docs/plan-json.md's example use it.
func samplePlan() *Plan {
	return &Plan{
		Server:         ServerInfo{Flavor: "MariaDB", Version: "10.11.19", Raw: "10.11.19-MariaDB-0+deb12u1-log"},
		Database:       "shop",
		Table:          "orders",
		Alter:          "MODIFY qty BIGINT NOT NULL",
		OK:             false,
		RefusedBecause: []string{"The long-transactions check failed: transaction 42 has been open for 3 min; end it first."},
		Size: Size{Rows: 1200000, DataBytes: 96 << 20, IndexBytes: 24 << 20,
			CopyBytes: 216 << 20, CopyBytesBasis: "a shadow table ... (120.0 MiB) plus about 96.0 MiB of binary log"},
		Native: Native{Algorithm: "COPY", Clause: "ALGORITHM=COPY", Refused: []Refusal{
			{Clause: "ALGORITHM=INSTANT", Message: "ALGORITHM=INSTANT is not supported. Reason: Cannot change column type. Try ALGORITHM=COPY"},
			{Clause: "ALGORITHM=NOCOPY", Message: "ALGORITHM=NOCOPY is not supported. Reason: Cannot change column type. Try ALGORITHM=COPY"},
		}},
		Strategy: Strategy{Kind: StrategyOnlineCopy, Reason: "The server would copy the table and block writes for the whole copy (ALGORITHM=COPY); tailor copies the table online and swaps it in."},
		Checks: []preflight.Check{
			{Name: "binlog", Status: preflight.Pass, Message: "ROW, FULL"},
			{Name: "long-transactions", Status: preflight.Fail, Message: "transaction 42 has been open for 3 min; end it first", Details: []string{"trx 42: 3 min, user app"}},
			{Name: "replicas", Status: preflight.Warn, Message: "replica r1 lags 40 s"},
		},
		Estimate: &Estimate{Measured: true, Rows: 1200000, SampledRows: 10000, SampleChunks: 5, SampleSeconds: 0.4, RowsPerSecond: 25000, CopySeconds: 48,
			Summary: "About 48.0 s to copy 1,200,000 rows ..."},
		Advice: []Advice{{Kind: AdviceChangeColumnType, Columns: []string{"qty"}, Why: "Changing `qty` ...",
			Steps: []Step{{Do: "Add a column of the new type, bigint(20).", SQL: "ALTER TABLE `orders` ADD COLUMN `qty_new` bigint(20) NULL;"}, {Do: "Deploy code that writes both."}}}},
		Notes:            []string{"A note."},
		TargetDefinition: "CREATE TABLE `orders` (...)",
	}
}

func TestWriteText(t *testing.T) {
	var b strings.Builder
	samplePlan().WriteText(&b)
	text := b.String()
	for _, want := range []string{
		"Plan for `shop`.`orders` on MariaDB 10.11.19: REFUSED",
		"ALTER     MODIFY qty BIGINT NOT NULL\n",
		"  - The long-transactions check failed",
		"Table     about 1,200,000 rows; data 96.0 MiB, indexes 24.0 MiB\n",
		"Disk      a copy needs about 216.0 MiB",
		"Native    COPY (the whole table copied, writes blocked throughout)\n",
		"            not INSTANT / NOCOPY: Cannot change column type\n",
		"Strategy  online-copy. The server would copy",
		"Estimate  About 48.0 s",
		"  pass  binlog: ROW, FULL\n",
		"  FAIL  long-transactions: transaction 42",
		"\n          trx 42: 3 min, user app\n",
		"  WARN  replicas: replica r1 lags 40 s\n",
		"  change-column-type `qty`: Changing `qty` ...\n",
		"    1. Add a column of the new type, bigint(20).\n       ALTER TABLE `orders` ADD COLUMN `qty_new` bigint(20) NULL;\n",
		"    2. Deploy code that writes both.\n",
		"Notes\n  - A note.\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

// TestWriteTextKeepsCommentedClauses shows a multi-line ALTER on several
// lines, so a "--" comment cannot seem to swallow the clauses after it.
func TestWriteTextKeepsCommentedClauses(t *testing.T) {
	p := samplePlan()
	p.Alter = "ADD COLUMN a INT -- why\n, ADD COLUMN b INT"
	var b strings.Builder
	p.WriteText(&b)
	if want := "ALTER     ADD COLUMN a INT -- why\n          , ADD COLUMN b INT\n"; !strings.Contains(b.String(), want) {
		t.Errorf("text lacks %q:\n%s", want, b.String())
	}
}
