package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/workload"
)

var sbx *sandbox.Sandbox

func TestMain(m *testing.M) {
	// Starting a sandbox fails now and then when other packages start
	// theirs at the same moment (go test ./...): concurrent
	// mariadb-install-db runs share /tmp for their temporary tables and
	// trip over each other ("Unknown table 'mysql.tmp_user_sys'"). Until
	// sandbox.Start gives each its own --tmpdir, try again: RunTests runs
	// the tests only once a server is up (or when there is no server).
	code := 1
	for attempt := 0; attempt < 3; attempt++ {
		code = sandbox.RunTests(m, &sbx)
		if sbx != nil || code == 0 {
			break
		}
		time.Sleep(time.Second)
	}
	os.Exit(code)
}

// outcome is what one run of the command left.
type outcome struct {
	code           int
	stdout, stderr string
}

// tailor runs the command in-process, as main does, with an empty stdin.
func tailor(t *testing.T, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	o := outcome{code: code, stdout: stdout.String(), stderr: stderr.String()}
	t.Logf("tailor %s\n→ exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), o.code, o.stdout, o.stderr)
	return o
}

// errorLine is the line that reports the error: the last line of stderr,
// "tailor: " and one sentence. It checks the sentence names every one of
// words (case-insensitively).
func (o outcome) errorLine(t *testing.T, words ...string) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(o.stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "tailor: ") {
		t.Fatalf("the last line of stderr is not tailor's error: %q", last)
	}
	msg := strings.TrimPrefix(last, "tailor: ")
	if len(msg) > 500 || strings.Contains(msg, "%!") || strings.TrimSpace(msg) == "" {
		t.Errorf("not a readable sentence: %q", msg)
	}
	for _, w := range words {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
	return msg
}

func (o outcome) wantCode(t *testing.T, code int) {
	t.Helper()
	if o.code != code {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", o.code, code, o.stderr)
	}
}

// noPassword sets the environment so that no password reaches tailor but
// what the test gives it.
func noPassword(t *testing.T) {
	t.Setenv("MYSQL_PWD", "")
}

// connArgs reach the sandbox as its account; the password is the test's
// to give.
func connArgs() []string {
	return []string{"--host", "127.0.0.1", "--port", strconv.Itoa(sbx.Port), "--user", sandbox.User}
}

// alterArgs is an alter of table in database on the sandbox.
func alterArgs(database, table, alter string, extra ...string) []string {
	args := append([]string{"alter"}, connArgs()...)
	args = append(args, "--database", database, "--table", table, "--alter", alter)
	return append(args, extra...)
}

// smallTable creates table t with rows rows.
func smallTable(t *testing.T, db *sql.DB, rows int) {
	t.Helper()
	must := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	must("CREATE TABLE t (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL, n INT NULL) ENGINE=InnoDB")
	must("INSERT INTO t (name, n) VALUES ('a', 1), ('b', NULL), ('c é', 3)")
	for n := 3; n < rows; n *= 2 {
		must("INSERT INTO t (name, n) SELECT CONCAT(name, id), n FROM t LIMIT " + strconv.Itoa(rows-n))
	}
}

// state is what a table looked like: the checks that a run left it alone.
type state struct {
	sum    int64
	def    string
	tables []string
}

func stateOf(t *testing.T, db *sql.DB, database, table string) state {
	t.Helper()
	var s state
	var name string
	var sum sql.NullInt64
	if err := db.QueryRow("CHECKSUM TABLE "+mysql.QuoteTable(database, table)).Scan(&name, &sum); err != nil {
		t.Fatal(err)
	}
	s.sum = sum.Int64
	if err := db.QueryRow("SHOW CREATE TABLE "+mysql.QuoteTable(database, table)).Scan(&name, &s.def); err != nil {
		t.Fatal(err)
	}
	s.tables = sandbox.Tables(t, db, database)
	return s
}

// untouched checks that the table and the set of tables are as before:
// no shadow, old or sentry table was left behind.
func (s state) untouched(t *testing.T, db *sql.DB, database, table string) {
	t.Helper()
	now := stateOf(t, db, database, table)
	if now.sum != s.sum {
		t.Errorf("CHECKSUM TABLE %s changed: %d, was %d", table, now.sum, s.sum)
	}
	if now.def != s.def {
		t.Errorf("the definition of %s changed:\n%s\nwas:\n%s", table, now.def, s.def)
	}
	if !slices.Equal(now.tables, s.tables) {
		t.Errorf("tables = %q, were %q", now.tables, s.tables)
	}
}

// TestUsageErrors gives command lines that cannot work: each exits 2 with
// one line on stderr saying what is wrong, before anything connects.
func TestUsageErrors(t *testing.T) {
	noPassword(t)
	full := func(extra ...string) []string {
		return append([]string{"alter", "--port", "1", "--database", "d", "--table", "t", "--alter", "ADD COLUMN x INT"}, extra...)
	}
	cases := []struct {
		name  string
		args  []string
		words []string
	}{
		{"unknown flag", full("--frobnicate"), []string{"unknown flag: --frobnicate", "tailor alter --help"}},
		{"unknown shorthand", full("-z"), []string{"unknown shorthand", "tailor alter --help"}},
		{"unknown command", []string{"frobnicate"}, []string{`unknown command "frobnicate"`, "tailor --help"}},
		{"misspelt command", []string{"altr"}, []string{`unknown command "altr"`, "did you mean alter?"}},
		{"positional argument", full("orders"), []string{`"orders"`}},
		{"missing database", []string{"alter", "--table", "t", "--alter", "ADD COLUMN x INT"}, []string{"--database is required", "tailor alter --help"}},
		{"missing table", []string{"alter", "--database", "d", "--alter", "ADD COLUMN x INT"}, []string{"--table is required"}},
		{"missing alter", []string{"alter", "--database", "d", "--table", "t"}, []string{"--alter is required"}},
		{"missing all", []string{"alter"}, []string{"--database is required; --table is required; --alter is required"}},
		{"chunk size not a number", full("--chunk-size", "lots"), []string{`--chunk-size must be a whole number, not "lots"`}},
		{"chunk size zero", full("--chunk-size", "0"), []string{"--chunk-size must be between 1 and 1000000, not 0"}},
		{"chunk size negative", full("--chunk-size=-5"), []string{"--chunk-size must be between 1 and 1000000, not -5"}},
		{"chunk size huge", full("--chunk-size", "2000000"), []string{"--chunk-size", "2000000"}},
		{"chunk size missing value", full("--chunk-size"), []string{"--chunk-size"}},
		{"log format", full("--log-format", "xml"), []string{`--log-format must be text or json, not "xml"`}},
		{"progress interval", full("--progress-interval", "often"), []string{"--progress-interval must be a duration", `"often"`}},
		{"progress interval small", full("--progress-interval", "1ms"), []string{"--progress-interval must be at least 100ms"}},
		{"cut-over attempts", full("--cut-over-attempts=-1"), []string{"--cut-over-attempts must be 0 (unlimited) or more, not -1"}},
		{"force cut-over negative", full("--force-cut-over-after=-5s"), []string{"--force-cut-over-after must not be negative"}},
		{"force cut-over not a duration", full("--force-cut-over-after", "soon"), []string{"--force-cut-over-after", `"soon"`}},
		{"cut-over timeout", full("--cut-over-lock-timeout-seconds", "0"), []string{"--cut-over-lock-timeout-seconds must be between 1 and 3600"}},
		{"execute with value", full("--execute=maybe"), []string{`--execute must be true or false, not "maybe"`}},
		{"port", []string{"alter", "--port", "99999", "--database", "d", "--table", "t", "--alter", "ADD COLUMN x INT"}, []string{"--port must be between 1 and 65535"}},
		{"password prompt without terminal", full("--password"), []string{"--password without a value", "not a terminal", "MYSQL_PWD"}},
		{"password after a space", full("--password", "hunter2-secret"), []string{"--password=VALUE", "MYSQL_PWD"}},
		{"progress interval zero", full("--progress-interval", "0"), []string{"--progress-interval must be at least 100ms"}},
		{"defaults file missing", full("--defaults-file", "/nonexistent/tailor.cnf"), []string{"--defaults-file", "/nonexistent/tailor.cnf"}},
		{"threads negative", full("--threads", "-1"), []string{"--threads must be between 1 and 64, not -1"}},
		{"threads huge", full("--threads", "500"), []string{"--threads must be between 1 and 64, not 500"}},
		{"chunk time zero", full("--chunk-time", "0s"), []string{"--chunk-time must be positive"}},
		{"defer indexes unknown", full("--defer-indexes", "sometimes"), []string{`--defer-indexes must be auto, always or never, not "sometimes"`}},
		{"max lag zero", full("--max-lag-millis", "0"), []string{"--max-lag-millis must be at least 100"}},
		{"max load bad", full("--max-load", "Threads_running=abc"), []string{"--max-load", "Threads_running=abc"}},
		{"critical load bad", full("--critical-load", "Threads_running"), []string{"--critical-load", "Threads_running"}},
		{"hibernate negative", full("--critical-load-hibernate-seconds=-3"), []string{"--critical-load-hibernate-seconds must not be negative"}},
		{"replica not an address", full("--throttle-control-replicas", "db1:replica"), []string{"--throttle-control-replicas", "'db1:replica' is not a host:port address"}},
		{"backfill max lag zero", []string{"backfill", "--database", "d", "--table", "t", "--set", "a = 1", "--max-lag-millis", "0"}, []string{"--max-lag-millis must be at least 100, not 0"}},
		{"instant attempts zero", full("--instant-attempts", "0"), []string{"--instant-attempts must be at least 1"}},
		{"max redo fill zero", full("--max-redo-fill", "0"), []string{"--max-redo-fill must be between 1 and 100 (percent), not 0"}},
		{"max redo fill over 100", full("--max-redo-fill", "150"), []string{"--max-redo-fill must be between 1 and 100 (percent), not 150"}},
		{"hooks path missing", full("--hooks-path", "/nonexistent/hooks"), []string{"--hooks-path", "/nonexistent/hooks", "does not exist"}},
		{"revert time zone", []string{"revert", "--database", "d", "--table", "t", "--time-zone", "+02:00"}, []string{"the time zone its migration saved", "takes no --time-zone"}},
		{"plan output", []string{"plan", "--database", "d", "--table", "t", "--alter", "ADD COLUMN x INT", "--output", "yaml"}, []string{`--output must be text or json, not "yaml"`}},
		// The demo is cmd/tailor-demo, not part of the binary users deploy.
		{"no demo command", []string{"demo"}, []string{`unknown command "demo"`, "tailor --help"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := tailor(t, c.args...)
			o.wantCode(t, exitUsage)
			if lines := strings.Count(o.stderr, "\n"); lines != 1 {
				t.Errorf("stderr has %d lines, want 1", lines)
			}
			o.errorLine(t, c.words...)
			if o.stdout != "" {
				t.Errorf("stdout = %q, want nothing", o.stdout)
			}
			if strings.Contains(o.stderr, "hunter2-secret") {
				t.Error("the password appears on stderr")
			}
		})
	}
}

// TestConnectErrors cannot log in or reach the server: exit 4, one
// sentence about the login or the address, and no password in the output.
func TestConnectErrors(t *testing.T) {
	sandbox.Need(t, sbx)
	const wrong = "not-the-password-42"
	t.Run("wrong password in MYSQL_PWD", func(t *testing.T) {
		t.Setenv("MYSQL_PWD", wrong)
		o := tailor(t, alterArgs("mysql", "user", "ADD COLUMN x INT")...)
		o.wantCode(t, exitConnect)
		o.errorLine(t, "refused the login", `"tailor"`, "password")
		if strings.Contains(o.stdout+o.stderr, wrong) {
			t.Error("the password appears in the output")
		}
	})
	t.Run("wrong password flag", func(t *testing.T) {
		noPassword(t)
		o := tailor(t, alterArgs("mysql", "user", "ADD COLUMN x INT", "--password="+wrong, "--verbose")...)
		o.wantCode(t, exitConnect)
		o.errorLine(t, "refused the login")
		if strings.Contains(o.stdout+o.stderr, wrong) {
			t.Error("the password appears in the output")
		}
	})
	t.Run("no password", func(t *testing.T) {
		noPassword(t)
		o := tailor(t, alterArgs("mysql", "user", "ADD COLUMN x INT")...)
		o.wantCode(t, exitConnect)
		o.errorLine(t, "refused the login")
	})
	t.Run("unknown user", func(t *testing.T) {
		t.Setenv("MYSQL_PWD", sandbox.Password)
		args := alterArgs("mysql", "user", "ADD COLUMN x INT", "--user", "nobody_here")
		o := tailor(t, args...)
		o.wantCode(t, exitConnect)
		o.errorLine(t, "refused the login", `"nobody_here"`)
	})
	t.Run("unreachable port", func(t *testing.T) {
		t.Setenv("MYSQL_PWD", sandbox.Password)
		port := sandbox.ClosedPort(t)
		start := time.Now()
		o := tailor(t, "alter", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--user", sandbox.User,
			"--database", "d", "--table", "t", "--alter", "ADD COLUMN x INT")
		o.wantCode(t, exitConnect)
		o.errorLine(t, "cannot reach the server", "127.0.0.1:"+strconv.Itoa(port), "--port")
		if took := time.Since(start); took > 30*time.Second {
			t.Errorf("took %s to give up on a closed port", took)
		}
	})
	t.Run("missing socket", func(t *testing.T) {
		t.Setenv("MYSQL_PWD", sandbox.Password)
		sock := filepath.Join(t.TempDir(), "no.sock")
		o := tailor(t, "alter", "--socket", sock, "--user", sandbox.User, "--database", "d", "--table", "t", "--alter", "ADD COLUMN x INT")
		o.wantCode(t, exitConnect)
		o.errorLine(t, "cannot reach the server", sock, "--socket")
	})
}

// TestInvalidTarget reaches the server but names what is not there, or
// asks for what cannot be done: exit 3, the table untouched.
func TestInvalidTarget(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	t.Setenv("MYSQL_PWD", sandbox.Password)
	smallTable(t, db, 50)
	before := stateOf(t, db, dbName, "t")
	cases := []struct {
		name     string
		database string
		table    string
		alter    string
		words    []string
	}{
		{"missing database", "tailor_nope", "t", "ADD COLUMN x INT", []string{"`tailor_nope`", "does not exist", "--database"}},
		{"missing table", dbName, "nope", "ADD COLUMN x INT", []string{"`nope`", "does not exist", "--table"}},
		{"bad alter", dbName, "t", "ADD COLUMN", []string{"could not parse"}},
		{"rejected alter", dbName, "t", "ADD COLUMN name INT", []string{"server rejected", "Duplicate column"}},
		{"other table", dbName, "t", "ALTER TABLE orders ADD COLUMN x INT", []string{"`orders`", "--table"}},
	}
	for _, c := range cases {
		for _, execute := range []bool{false, true} {
			name := c.name
			if execute {
				name += " execute"
			}
			t.Run(name, func(t *testing.T) {
				args := alterArgs(c.database, c.table, c.alter)
				if execute {
					args = append(args, "--execute")
				}
				o := tailor(t, args...)
				o.wantCode(t, exitInvalid)
				o.errorLine(t, c.words...)
				before.untouched(t, db, dbName, "t")
			})
		}
	}
}

// TestDryRun prints the plan and changes nothing.
func TestDryRun(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	t.Setenv("MYSQL_PWD", sandbox.Password)
	smallTable(t, db, 300)
	before := stateOf(t, db, dbName, "t")
	o := tailor(t, alterArgs(dbName, "t", "ADD COLUMN x INT NULL, DROP COLUMN n, RENAME COLUMN name TO label")...)
	o.wantCode(t, exitOK)
	for _, want := range []string{
		"Dry run: nothing was changed",
		"ALTER     ADD COLUMN x INT NULL, DROP COLUMN n, RENAME COLUMN name TO label",
		"Native    INSTANT",
		"Strategy  native-instant.",
		"pass  narrowing",
		"rename-column `name`, `label`",
		"drop-column `n`",
	} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("the plan lacks %q:\n%s", want, o.stdout)
		}
	}
	before.untouched(t, db, dbName, "t")
}

// TestPasswordNeverShown runs with the password given each way, verbose,
// in both log formats, through a whole migration (which starts the binary
// log reader, whose library logs its configuration): the password must
// not appear on stdout or stderr.
func TestPasswordNeverShown(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	smallTable(t, db, 2000)
	cnf := filepath.Join(t.TempDir(), "tailor.cnf")
	if err := os.WriteFile(cnf, []byte("[client]\npassword = "+sandbox.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ways := []struct {
		name string
		env  string
		args []string
		warn bool // a password on the command line earns a warning
	}{
		{name: "flag", args: []string{"--password=" + sandbox.Password}, warn: true},
		{name: "flag json", args: []string{"--password=" + sandbox.Password, "--log-format", "json"}, warn: true},
		{name: "MYSQL_PWD", env: sandbox.Password},
		{name: "defaults file", args: []string{"--defaults-file", cnf}},
	}
	for i, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			t.Setenv("MYSQL_PWD", w.env)
			args := alterArgs(dbName, "t", "ADD COLUMN c"+strconv.Itoa(i)+" INT", append([]string{"--execute", "--verbose", "--ok-to-drop-table", "--chunk-size", "300", "--progress-interval", "100ms"}, w.args...)...)
			o := tailor(t, args...)
			o.wantCode(t, exitOK)
			if strings.Contains(o.stdout+o.stderr, sandbox.Password) {
				t.Error("the password appears in the output")
			}
			if warned := strings.Contains(o.stderr, "visible to other users"); warned != w.warn {
				t.Errorf("warned about a password on the command line: %v, want %v", warned, w.warn)
			}
		})
	}
}

// TestPasswordSources checks where the password comes from and which
// source wins: the command line, then the option file, then MYSQL_PWD.
func TestPasswordSources(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	smallTable(t, db, 10)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	full := write("full.cnf", "# everything tailor needs\n[client]\nuser = "+sandbox.User+"\npassword = \""+sandbox.Password+"\"\nhost = 127.0.0.1\nport = "+strconv.Itoa(sbx.Port)+"\n[mysqldump]\npassword = other\n")
	wrongInFile := write("wrong.cnf", "[client]\npassword = wrong-in-file\n")
	tailorGroup := write("group.cnf", "[client]\npassword = wrong-in-client\n[tailor]\npassword = "+sandbox.Password+"\n")
	cases := []struct {
		name string
		env  string
		args []string
		code int
	}{
		{"defaults file alone", "", []string{"alter", "--defaults-file", full, "--database", dbName, "--table", "t", "--alter", "ADD COLUMN x INT"}, exitOK},
		{"defaults file beats MYSQL_PWD", "wrong-in-env", append(alterArgs(dbName, "t", "ADD COLUMN x INT"), "--defaults-file", full), exitOK},
		{"flag beats defaults file", "", append(alterArgs(dbName, "t", "ADD COLUMN x INT"), "--defaults-file", wrongInFile, "--password="+sandbox.Password), exitOK},
		{"defaults file wrong", sandbox.Password, append(alterArgs(dbName, "t", "ADD COLUMN x INT"), "--defaults-file", wrongInFile), exitConnect},
		{"tailor group beats client group", "", append(alterArgs(dbName, "t", "ADD COLUMN x INT"), "--defaults-file", tailorGroup), exitOK},
		{"MYSQL_PWD alone", sandbox.Password, alterArgs(dbName, "t", "ADD COLUMN x INT"), exitOK},
		{"flag beats MYSQL_PWD", "wrong-in-env", append(alterArgs(dbName, "t", "ADD COLUMN x INT"), "--password="+sandbox.Password), exitOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("MYSQL_PWD", c.env)
			o := tailor(t, c.args...)
			o.wantCode(t, c.code)
			if c.code == exitOK && !strings.Contains(o.stdout, "Dry run") {
				t.Errorf("no plan on stdout:\n%s", o.stdout)
			}
			for _, secret := range []string{sandbox.Password, "wrong-in-file", "wrong-in-env", "wrong-in-client"} {
				if strings.Contains(o.stdout+o.stderr, secret) {
					t.Errorf("the output shows the password %q", secret)
				}
			}
		})
	}
}

// TestAlterExecute migrates a small table through the command line.
func TestAlterExecute(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	t.Setenv("MYSQL_PWD", sandbox.Password)
	smallTable(t, db, 3000)
	o := tailor(t, alterArgs(dbName, "t", "ADD COLUMN refunded_at DATETIME NULL, ADD INDEX idx_n (n)", "--execute", "--chunk-size", "250")...)
	o.wantCode(t, exitOK)
	for _, want := range []string{
		"Migration complete.",
		"rows copied:      3000",
		"old table kept:   t_tailor_old",
		"to drop it:       DROP TABLE " + mysql.QuoteTable(dbName, "t_tailor_old") + ";",
	} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("the summary lacks %q:\n%s", want, o.stdout)
		}
	}
	// The saved state stays with the old table: what a revert needs.
	if got := sandbox.Tables(t, db, dbName); !slices.Equal(got, []string{"t", "t_tailor_old", "t_tailor_state"}) {
		t.Errorf("tables = %q", got)
	}
	var def, name string
	if err := db.QueryRow("SHOW CREATE TABLE t").Scan(&name, &def); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(def, "`refunded_at` datetime") || !strings.Contains(def, "KEY `idx_n`") {
		t.Errorf("the new definition lacks the change:\n%s", def)
	}

	// Once more, dropping the old table: the previous run's t_tailor_old is in
	// the way and must be refused first.
	o = tailor(t, alterArgs(dbName, "t", "DROP COLUMN refunded_at", "--execute", "--ok-to-drop-table", "--force-copy")...)
	o.wantCode(t, exitInvalid)
	o.errorLine(t, "kept `t_tailor_old`", "tailor revert")
	if _, err := db.Exec("DROP TABLE t_tailor_old"); err != nil {
		t.Fatal(err)
	}
	o = tailor(t, alterArgs(dbName, "t", "DROP COLUMN refunded_at", "--execute", "--ok-to-drop-table", "--force-copy")...)
	o.wantCode(t, exitOK)
	if !strings.Contains(o.stdout, "dropped (--ok-to-drop-table)") {
		t.Errorf("the summary does not say the old table was dropped:\n%s", o.stdout)
	}
	if got := sandbox.Tables(t, db, dbName); !slices.Equal(got, []string{"t"}) {
		t.Errorf("tables = %q", got)
	}
}

// TestSignal builds the binary, starts a migration of a table large enough
// to take a while, and sends SIGINT (Ctrl-C) during the copy: tailor must
// exit promptly with 130, the original untouched and the shadow gone.
func TestSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and copies 300,000 rows")
	}
	db, dbName := sbx.NewDatabase(t)
	bin := filepath.Join(t.TempDir(), "tailor")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx := context.Background()
	const rows = 300_000
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, db, dbName, "orders")

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, alterArgs(dbName, "orders", "ADD COLUMN refunded_at DATETIME NULL", "--execute", "--force-copy", "--chunk-size", "100")...)
			cmd.Env = append(os.Environ(), "MYSQL_PWD="+sandbox.Password)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if cmd.ProcessState == nil {
					_ = cmd.Process.Kill()
				}
			})
			copying := make(chan struct{})
			var lines []string
			var mu sync.Mutex
			readDone := make(chan struct{})
			go func() {
				defer close(readDone)
				var once sync.Once
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					mu.Lock()
					lines = append(lines, sc.Text())
					mu.Unlock()
					if strings.Contains(sc.Text(), `msg="copying rows"`) {
						once.Do(func() { close(copying) })
					}
				}
			}()
			select {
			case <-copying:
			case <-readDone:
				t.Fatalf("tailor ended before copying: %v", cmd.Wait())
			case <-time.After(2 * time.Minute):
				t.Fatal("tailor did not start copying within 2 minutes")
			}
			time.Sleep(time.Second)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			signalled := time.Now()
			exited := make(chan error, 1)
			go func() {
				<-readDone
				exited <- cmd.Wait()
			}()
			var waitErr error
			select {
			case waitErr = <-exited:
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("tailor did not exit within 60s of %s", sig)
			}
			took := time.Since(signalled)
			mu.Lock()
			out := strings.Join(lines, "\n")
			mu.Unlock()
			t.Logf("exited %s after %s: %v\nstdout:\n%s\nstderr:\n%s", sig, took, waitErr, stdout.String(), out)
			var exitErr *exec.ExitError
			if !errors.As(waitErr, &exitErr) || exitErr.ExitCode() != exitInterrupted {
				t.Fatalf("exit: %v, want code %d (did the copy finish before the signal?)", waitErr, exitInterrupted)
			}
			if took > 15*time.Second {
				t.Errorf("took %s to exit after %s", took, sig)
			}
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "tailor: interrupted") || !strings.Contains(last, "untouched") {
				t.Errorf("the last line is not the interruption: %q", last)
			}
			for _, l := range lines {
				if strings.HasPrefix(l, "[mysql]") {
					t.Errorf("the driver printed on stderr past the logger: %q", l)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			before.untouched(t, db, dbName, "orders")
		})
	}
}

// TestDocsListEveryFlag keeps docs/cli.md true: every flag of every
// command has a row in its command's table with the default the code has,
// and every exit code has a row.
func TestDocsListEveryFlag(t *testing.T) {
	b, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	section := func(heading string) string {
		_, rest, ok := strings.Cut(doc, "\n## "+heading+"\n")
		if !ok {
			t.Fatalf("docs/cli.md has no section %q", heading)
		}
		if end := strings.Index(rest, "\n## "); end >= 0 {
			rest = rest[:end]
		}
		return rest
	}
	alterDoc, planDoc, exitDoc := section("`tailor alter`"), section("`tailor plan`"), section("Exit codes")
	// ctl's --socket, --database and --table are not alter's: its section
	// lists them all, and alter's is never searched for them.
	ctlDoc := section("`tailor ctl`")
	// status lists its own flags; its connection flags are alter's.
	statusDoc := section("`tailor status`")
	// revert takes alter's flags, and its section lists none of its own.
	revertDoc := section("`tailor revert`")
	// backfill lists its own flags; the others are alter's.
	backfillDoc := section("`tailor backfill`")
	// gh-ost's flags that alter takes under gh-ost's names are hidden, and
	// listed in the gh-ost table, which says what tailor makes of them.
	ghostDoc := section("From gh-ost and pt-online-schema-change")
	// migrate lists its own flags; those it shares with alter are alter's.
	migrateDoc := section("`tailor migrate`")
	type documented struct {
		cmd *cobra.Command
		// sections are searched in order: plan shares most of its flags
		// with alter, and its section lists only its own.
		sections []string
	}
	// exec lists its own flags; the others are migrate's and alter's.
	execDoc := section("`tailor exec`")
	migrateCmds := []documented{{newExecCommand(), []string{execDoc, migrateDoc, alterDoc}}}
	for _, sub := range newMigrateCommand().Commands() {
		migrateCmds = append(migrateCmds, documented{sub, []string{migrateDoc, alterDoc}})
	}
	for _, c := range append([]documented{
		{newAlterCommand(), []string{alterDoc}},
		{newPlanCommand(), []string{planDoc, alterDoc}},
		{newCtlCommand(), []string{ctlDoc}},
		{newStatusCommand(), []string{statusDoc, alterDoc}},
		{newRevertCommand(), []string{revertDoc, alterDoc}},
		{newBackfillCommand(), []string{backfillDoc, alterDoc}},
	}, migrateCmds...) {
		c.cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Annotations[ghostAnnotation] != nil {
				if docRow(ghostDoc, "--"+f.Name) == nil {
					t.Errorf("docs/cli.md: no row for gh-ost's --%s in the gh-ost table", f.Name)
				}
				return
			}
			var row []string
			for _, s := range c.sections {
				if row = docRow(s, "--"+f.Name); row != nil {
					break
				}
			}
			if row == nil {
				t.Errorf("docs/cli.md: no row for %s --%s", c.cmd.Name(), f.Name)
				return
			}
			want := "`" + f.DefValue + "`"
			if f.DefValue == "" {
				want = "(none)"
				if strings.Contains(f.Usage, "(required)") {
					want = "(required)"
				}
			}
			if row[1] != want {
				t.Errorf("docs/cli.md: %s --%s default is %s, the code's is %s", c.cmd.Name(), f.Name, row[1], want)
			}
		})
	}
	for _, code := range []int{exitOK, exitFailed, exitUsage, exitInvalid, exitConnect, exitLostWrites, exitResumable, exitNoMigration, exitInterrupted} {
		if docRow(exitDoc, strconv.Itoa(code)) == nil {
			t.Errorf("docs/cli.md: no row for exit code %d", code)
		}
	}
	// The exit codes ctl uses are listed in its own section too.
	for _, code := range []int{exitOK, exitUsage, exitInvalid, exitConnect} {
		if docRow(ctlDoc, strconv.Itoa(code)) == nil {
			t.Errorf("docs/cli.md: the tailor ctl section has no row for exit code %d", code)
		}
	}
	for _, code := range []int{exitOK, exitUsage, exitInvalid, exitConnect, exitNoMigration} {
		if docRow(statusDoc, strconv.Itoa(code)) == nil {
			t.Errorf("docs/cli.md: the tailor status section has no row for exit code %d", code)
		}
	}
}

// docRow finds the Markdown table row whose first cell is `key` and
// returns its cells.
func docRow(section, key string) []string {
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `"+key+"` |") {
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), " | ") {
			cells = append(cells, strings.TrimSpace(c))
		}
		return cells
	}
	return nil
}
