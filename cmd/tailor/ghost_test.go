package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
)

// ghostRun is what tailor alter made of a command line, up to the
// migration's configuration: nothing connects.
type ghostRun struct {
	cfg  migrate.Config
	logs string // the log lines, the informational ones among them
	err  error
}

// parseGhost runs a command line (the words after "tailor alter") through
// alter's flags as run does: the single-dash words normalized, the flags
// parsed, gh-ost's applied, and the configuration built.
func parseGhost(t *testing.T, args ...string) ghostRun {
	t.Helper()
	var r ghostRun
	var logs bytes.Buffer
	f := &alterFlags{}
	cmd := &cobra.Command{
		Use:  "alter",
		Args: func(_ *cobra.Command, args []string) error { return f.checkNoArgs("alter", args) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			notes, err := applyGhostFlags(cmd.Flags())
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			logGhostNotes(logger, notes)
			r.cfg, err = f.migrationConfig(cmd, nil)
			return err
		},
	}
	f.register(cmd)
	root := &cobra.Command{Use: "tailor", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(cmd)
	root.SetIn(strings.NewReader(""))
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(normalizeArgs(root, append([]string{"alter"}, args...)))
	r.err = root.ExecuteContext(context.Background())
	r.logs = logs.String()
	return r
}

// ghostBase is a gh-ost command line's usual start, in gh-ost's own
// single-dash spelling.
var ghostBase = []string{"-host=db1.internal", "-port=3307", "-user=migrator", "-database=shop", "-table=orders", "-alter=ADD COLUMN note TEXT", "-execute"}

// TestGhostCommandLines parses gh-ost command lines: each row gives the
// flags after gh-ost's usual start and what tailor makes of them, as the
// table in docs/cli.md says: the configuration (the usual start's, with
// the row's changes), an informational line, or the refusal's sentence.
func TestGhostCommandLines(t *testing.T) {
	noPassword(t)
	conf := filepath.Join(t.TempDir(), "gh-ost.cnf")
	if err := os.WriteFile(conf, []byte("[client]\nuser=fromconf\npassword=s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := parseGhost(t, ghostBase...)
	if base.err != nil {
		t.Fatalf("gh-ost's usual start: %v", base.err)
	}
	// The same in tailor's spelling.
	double := parseGhost(t, "--host", "db1.internal", "--port", "3307", "--user", "migrator", "--database", "shop", "--table", "orders", "--alter", "ADD COLUMN note TEXT", "--execute")
	if double.err != nil || !reflect.DeepEqual(base.cfg, double.cfg) {
		t.Fatalf("single-dash and double-dash command lines differ:\n%+v (%v)\n%+v (%v)", base.cfg, base.err, double.cfg, double.err)
	}
	if c := base.cfg; c.Conn.Host != "db1.internal" || c.Conn.Port != 3307 || c.Conn.User != "migrator" || c.Database != "shop" || c.Table != "orders" || c.Alter != "ADD COLUMN note TEXT" || !c.Execute {
		t.Fatalf("gh-ost's usual start read as %+v", c)
	}

	cases := []struct {
		name string
		// args follow ghostBase, or replace it when whole is set.
		args  []string
		whole bool
		// want changes the usual start's configuration into the one
		// expected; nil expects it unchanged (when nothing is refused).
		want func(c *migrate.Config)
		// info is a text the informational line holds; refused the
		// sentence's start, and words others it must hold.
		info, refused string
		words         []string
	}{
		{name: "value after a space", args: []string{"-alter", "DROP COLUMN note"}, want: func(c *migrate.Config) { c.Alter = "DROP COLUMN note" }},
		{name: "a value that starts with a dash is not a flag", args: []string{"-throttle-query", "-execute"}, want: func(c *migrate.Config) { c.Throttle.Query = "-execute" }},
		{name: "gh-ost flag of the same name", args: []string{"-chunk-size=500", "-max-lag-millis", "2000", "-max-load=Threads_running=30", "-critical-load=Threads_running=200", "-critical-load-hibernate-seconds=60", "-cut-over-lock-timeout-seconds=5", "-ok-to-drop-table", "-initially-drop-ghost-table", "-postpone-cut-over-flag-file=/tmp/pp", "-panic-flag-file=/tmp/pf", "-throttle-flag-file=/tmp/tf", "-throttle-control-replicas=r1:3306,r2:3306", "-replica-server-id=99999", "-hooks-path=/tmp"},
			want: func(c *migrate.Config) {
				c.ChunkSize, c.ChunkTime, c.Throttle.MaxLag = 500, 0, 2_000_000_000
				c.Throttle.MaxLoad, c.Throttle.CriticalLoad, c.Throttle.CriticalLoadHibernate = "Threads_running=30", "Threads_running=200", 60_000_000_000
				c.CutOverLockTimeout, c.OkToDropTable, c.InitiallyDropGhostTable = 5_000_000_000, true, true
				c.PostponeCutOverFlagFile, c.Throttle.PanicFlagFile, c.Throttle.FlagFile = "/tmp/pp", "/tmp/pf", "/tmp/tf"
				c.Throttle.Replicas, c.ReplicaServerID, c.HooksPath = []string{"r1:3306", "r2:3306"}, 99999, "/tmp"
			}},

		// Aliases.
		{name: "serve-socket-file", args: []string{"-serve-socket-file=/tmp/gh-ost.shop.orders.sock"}, info: "read as --control-socket",
			want: func(c *migrate.Config) { c.ControlSocket = "/tmp/gh-ost.shop.orders.sock" }},
		{name: "default-retries", args: []string{"-default-retries=120"}, info: "read as --cut-over-attempts",
			want: func(c *migrate.Config) { c.CutOverAttempts = 120 }},
		{name: "default-retries 0", args: []string{"-default-retries", "0"}, info: "retried until the migration is stopped",
			want: func(c *migrate.Config) { c.CutOverAttempts = migrate.CutOverAttemptsUnlimited }},
		{name: "default-retries not a number", args: []string{"-default-retries=many"}, refused: "gh-ost's --default-retries (tailor's --cut-over-attempts) must be a whole number", words: []string{`"many"`}},
		{name: "default-retries with cut-over-attempts", args: []string{"-default-retries=3", "--cut-over-attempts=4"}, refused: "gh-ost's --default-retries and --cut-over-attempts set the same thing"},
		{name: "conf", args: []string{"-conf=" + conf}, info: "read as --defaults-file",
			// The user given on the command line wins over the file's.
			want: func(c *migrate.Config) { c.Conn.Password = "s3cret" }},
		{name: "ask-pass", args: []string{"-ask-pass"}, refused: "--password without a value asks for the password, but standard input is not a terminal"},
		{name: "ask-pass with password", args: []string{"-ask-pass", "-password=x"}, refused: "gh-ost's --ask-pass and --password set the same thing"},
		{name: "throttle-additional-flag-file", args: []string{"-throttle-additional-flag-file=/tmp/gh-ost.throttle"}, info: "read as --throttle-flag-file",
			want: func(c *migrate.Config) { c.Throttle.FlagFile = "/tmp/gh-ost.throttle" }},
		{name: "two throttle flag files", args: []string{"-throttle-additional-flag-file=/tmp/a", "-throttle-flag-file=/tmp/b"}, refused: "gh-ost's --throttle-additional-flag-file and --throttle-flag-file set the same thing"},
		{name: "serve-tcp-port", args: []string{"-serve-tcp-port=9187"}, info: "read as --http 127.0.0.1:9187",
			want: func(c *migrate.Config) { c.HTTPAddr = "127.0.0.1:9187" }},
		{name: "serve-tcp-port not a port", args: []string{"-serve-tcp-port=70000"}, refused: "gh-ost's --serve-tcp-port must be a port between 1 and 65535"},
		{name: "include-triggers", args: []string{"-include-triggers", "-trigger-suffix=_v2"}, info: "read as --recreate-triggers",
			want: func(c *migrate.Config) { c.RecreateTriggers = true }},
		{name: "debug", args: []string{"-debug"}, info: "read as --verbose"},
		{name: "ssl with ssl-allow-insecure", args: []string{"-ssl", "-ssl-allow-insecure"}, info: "--ssl-mode REQUIRED",
			want: func(c *migrate.Config) { c.Conn.TLS.Mode = mysql.SSLRequired }},
		// gh-ost's --ssl checks the certificate: VERIFY_IDENTITY, which
		// needs tailor's --ssl-ca.
		{name: "ssl without a CA", args: []string{"-ssl"}, refused: "--ssl-mode VERIFY_IDENTITY", words: []string{"--ssl-ca"}},
		{name: "ssl with ssl-mode", args: []string{"-ssl", "--ssl-mode=REQUIRED"}, refused: "gh-ost's --ssl and --ssl-mode set the same thing"},
		{name: "ssl-allow-insecure alone", args: []string{"-ssl-allow-insecure"}, refused: "gh-ost's --ssl-allow-insecure is not supported by tailor: ", words: []string{"--ssl-mode REQUIRED"}},

		// Accepted with one informational line.
		{name: "allow-on-master", args: []string{"-allow-on-master"}, info: "tailor always runs on the primary"},
		{name: "assume-rbr", args: []string{"-assume-rbr"}, info: "binlog_format=ROW"},
		{name: "exact-rowcount", args: []string{"-exact-rowcount", "-concurrent-rowcount"}, info: "needs no row count"},
		{name: "panic-on-warnings", args: []string{"-panic-on-warnings"}, info: "tailor always stops on a warning"},
		{name: "skip-metadata-lock-check", args: []string{"-skip-metadata-lock-check"}, info: "metadata lock"},
		{name: "approve-renamed-columns", args: []string{"-approve-renamed-columns"}, info: "renames from the ALTER with its parser"},
		{name: "skip-renamed-columns", args: []string{"-skip-renamed-columns"}, info: "so none are lost"},
		{name: "initially-drop-socket-file", args: []string{"-initially-drop-socket-file"}, info: "removes a control socket nobody listens on"},
		{name: "critical-load-interval-millis 0", args: []string{"-critical-load-interval-millis=0"}, info: "what tailor always does"},
		{name: "cut-over atomic", args: []string{"-cut-over=atomic"}, info: "what tailor always does"},
		{name: "a switch turned off asks for nothing", args: []string{"-assume-rbr=false", "-test-on-replica=false"}},

		// Refused, with what to do instead.
		{name: "test-on-replica", args: []string{"-test-on-replica"}, refused: "gh-ost's --test-on-replica is not supported by tailor: ", words: []string{"against the primary"}},
		{name: "migrate-on-replica", args: []string{"-migrate-on-replica"}, refused: "gh-ost's --migrate-on-replica is not supported by tailor: ", words: []string{"point --host at the primary"}},
		{name: "switch-to-rbr", args: []string{"-switch-to-rbr"}, refused: "gh-ost's --switch-to-rbr is not supported by tailor: ", words: []string{"binlog_format=ROW"}},
		{name: "timestamp-old-table", args: []string{"-timestamp-old-table"}, refused: "gh-ost's --timestamp-old-table is not supported by tailor: ", words: []string{"<table>_tailor_old", "lock order"}},
		{name: "initially-drop-old-table", args: []string{"-initially-drop-old-table"}, refused: "gh-ost's --initially-drop-old-table is not supported by tailor: ", words: []string{"tailor revert", "DROP TABLE"}},
		{name: "throttle-http", args: []string{"-throttle-http=http://lb/health"}, refused: "gh-ost's --throttle-http is not supported by tailor: ", words: []string{"--throttle-query"}},
		{name: "critical-load-interval-millis", args: []string{"-critical-load-interval-millis=500"}, refused: "gh-ost's --critical-load-interval-millis is not supported by tailor: ", words: []string{"--critical-load-hibernate-seconds"}},
		{name: "cut-over two-step", args: []string{"-cut-over=two-step"}, refused: "gh-ost's --cut-over is not supported by tailor: ", words: []string{"atomic"}},
		{name: "nice-ratio", args: []string{"-nice-ratio=0.5"}, refused: "gh-ost's --nice-ratio is not supported by tailor: ", words: []string{"--chunk-time"}},
		{name: "assume-master-host", args: []string{"-assume-master-host=db0:3306"}, refused: "gh-ost's --assume-master-host is not supported by tailor: "},

		// pt-online-schema-change's habits.
		{name: "pt-osc password after a space", args: []string{"--password", "hunter2-secret"}, refused: "alter takes no arguments", words: []string{"--password=VALUE"}},
		{name: "pt-osc DSN", whole: true, args: []string{"--alter", "ADD COLUMN x INT", "h=db1,D=shop,t=orders,p=hunter2-secret", "--execute"}, refused: "alter takes no arguments", words: []string{"D= is --database", "t= --table", "--password=VALUE"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if !c.whole {
				args = append(append([]string{}, ghostBase...), c.args...)
			}
			r := parseGhost(t, args...)
			if c.refused != "" {
				if r.err == nil {
					t.Fatalf("accepted, want refused with %q", c.refused)
				}
				msg := r.err.Error()
				if !strings.HasPrefix(msg, c.refused) && !strings.Contains(msg, c.refused) {
					t.Errorf("refused with %q, want %q", msg, c.refused)
				}
				for _, w := range c.words {
					if !strings.Contains(msg, w) {
						t.Errorf("refusal %q does not say %q", msg, w)
					}
				}
				if strings.Contains(msg, "hunter2-secret") {
					t.Errorf("the refusal shows the password: %q", msg)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("refused: %v", r.err)
			}
			want := base.cfg
			if c.want != nil {
				c.want(&want)
			}
			if !reflect.DeepEqual(r.cfg, want) {
				t.Errorf("configuration:\n%+v\nwant:\n%+v", r.cfg, want)
			}
			lines := strings.Count(r.logs, "gh-ost flag accepted")
			switch {
			case c.info == "" && lines != 0:
				t.Errorf("informational lines, want none:\n%s", r.logs)
			case c.info != "" && !strings.Contains(r.logs, c.info):
				t.Errorf("no informational line says %q:\n%s", c.info, r.logs)
			}
		})
	}
}

// TestGhostFlagsAll gives each of gh-ost's flags in the table alone and
// checks it does what its kind says, and that docs/cli.md has its row.
func TestGhostFlagsAll(t *testing.T) {
	noPassword(t)
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"default-retries": "3", "serve-tcp-port": "9187", "conf": os.DevNull}
	alter := newAlterCommand()
	for _, g := range ghostFlags {
		t.Run(g.name, func(t *testing.T) {
			if f := alter.Flags().Lookup(g.name); f.Annotations[ghostAnnotation] == nil {
				t.Skipf("tailor has --%s of its own", g.name)
			}
			if !strings.Contains(string(doc), "| `--"+g.name+"` |") {
				t.Errorf("docs/cli.md has no row for gh-ost's --%s", g.name)
			}
			arg := "-" + g.name
			if !g.isBool {
				v, ok := values[g.name]
				if !ok {
					v = "some-value"
				}
				arg += "=" + v
			}
			r := parseGhost(t, append(append([]string{}, ghostBase...), arg)...)
			switch {
			case g.name == "ask-pass" || g.name == "ssl":
				// Asks for the password, or for --ssl-ca: see
				// TestGhostCommandLines.
			case g.kind == ghostRefused:
				if r.err == nil || !strings.HasPrefix(r.err.Error(), "gh-ost's --"+g.name+" is not supported by tailor: ") {
					t.Errorf("%s: %v, want gh-ost's --%s is not supported by tailor: ...", arg, r.err, g.name)
				}
			case r.err != nil:
				t.Errorf("%s refused: %v", arg, r.err)
			case !strings.Contains(r.logs, "flag=--"+g.name+" "):
				t.Errorf("%s: no informational line:\n%s", arg, r.logs)
			}
		})
	}
}

// TestGhostCommandLineRuns runs whole gh-ost command lines as a user
// types them: a refusal is one line and exit code 2 before anything
// connects; accepted flags are logged after tailor's version, before it
// connects.
func TestGhostCommandLineRuns(t *testing.T) {
	noPassword(t)
	line := []string{"alter", "-host=127.0.0.1", "-port=1", "-user=gh-ost", "-database=shop", "-table=orders", "-alter=ADD COLUMN note TEXT", "-allow-on-master", "-exact-rowcount", "-concurrent-rowcount", "-default-retries=120", "-serve-socket-file=/tmp/gh-ost.shop.orders.sock"}

	o := tailor(t, append(line, "-test-on-replica", "-execute")...)
	o.wantCode(t, exitUsage)
	if n := strings.Count(o.stderr, "\n"); n != 1 {
		t.Errorf("stderr has %d lines, want 1", n)
	}
	o.errorLine(t, "gh-ost's --test-on-replica is not supported by tailor: ")

	o = tailor(t, line...)
	o.wantCode(t, exitConnect)
	for _, want := range []string{`msg="tailor starting" version=`, "commit=", "go=go", `flag=--allow-on-master`, `flag=--exact-rowcount`, `flag=--default-retries detail="read as --cut-over-attempts"`} {
		if !strings.Contains(o.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}

	o = tailor(t, "-database=shop", "-table=orders")
	o.wantCode(t, exitUsage)
	o.errorLine(t, "--database is a flag of tailor alter", "'tailor alter --database ...'")

	o = tailor(t, "plan", "-database=shop", "-allow-on-master")
	o.wantCode(t, exitUsage)
	o.errorLine(t, "gh-ost's --allow-on-master is not taken by tailor plan", "tailor alter takes gh-ost's flags")

	// A real short flag keeps its meaning.
	o = tailor(t, "alter", "-h")
	o.wantCode(t, exitOK)
	if !strings.Contains(o.stdout, "--chunk-size") {
		t.Errorf("alter -h printed no help:\n%s", o.stdout)
	}
}

// TestVersion: tailor --version, -version (gh-ost's spelling), tailor
// version and every --help say the version, the commit and the Go release.
func TestVersion(t *testing.T) {
	want := currentVersion().String()
	if !strings.HasPrefix(want, "tailor ") || !strings.Contains(want, "commit ") || !strings.Contains(want, "go1") {
		t.Errorf("version %q does not say the version, the commit and the Go release", want)
	}
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		o := tailor(t, args...)
		o.wantCode(t, exitOK)
		if o.stdout != want+"\n" {
			t.Errorf("tailor %s printed %q, want %q", args[0], o.stdout, want)
		}
	}
	for _, args := range [][]string{{"--help"}, {"alter", "--help"}, {"ctl", "--help"}} {
		o := tailor(t, args...)
		o.wantCode(t, exitOK)
		if !strings.Contains(o.stdout, want) {
			t.Errorf("tailor %s does not show the version", strings.Join(args, " "))
		}
	}
}

// TestCtlControlSocket: ctl's socket is --control-socket, as in alter and
// status; --socket, its old name, works with a warning.
func TestCtlControlSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(ctlSocketDir(t), "tailor.sock")
	serveCtl(t, sock, &ctlHandler{})

	o := tailor(t, "ctl", "--control-socket", sock, "pause")
	o.wantCode(t, exitOK)
	if o.stderr != "" {
		t.Errorf("stderr = %q, want nothing", o.stderr)
	}

	o = tailor(t, "ctl", "--socket", sock, "pause")
	o.wantCode(t, exitOK)
	if !strings.Contains(o.stderr, "warning: ctl --socket is deprecated") || !strings.Contains(o.stderr, "use --control-socket") {
		t.Errorf("no deprecation warning: %q", o.stderr)
	}
	if !strings.Contains(o.stdout, "ok: pause") {
		t.Errorf("stdout = %q", o.stdout)
	}

	o = tailor(t, "ctl", "--socket", sock, "--control-socket", sock, "pause")
	o.wantCode(t, exitUsage)
	o.errorLine(t, "give only --control-socket")
}

// TestGhostReadmeCommand parses the gh-ost command line README.md shows a
// gh-ost user: every flag is taken, and what stops it here is only that
// -ask-pass finds no terminal to ask on.
func TestGhostReadmeCommand(t *testing.T) {
	noPassword(t)
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "### Coming from gh-ost\n")
	if ok {
		_, block, ok = strings.Cut(block, "```sh\n")
	}
	if ok {
		block, _, ok = strings.Cut(block, "```")
	}
	if !ok {
		t.Fatal("README.md has no gh-ost command line under ### Coming from gh-ost")
	}
	words := shellWords(strings.ReplaceAll(block, "\\\n", " "))
	if len(words) < 3 || words[0] != "tailor" || words[1] != "alter" {
		t.Fatalf("README's command is not a tailor alter: %q", words)
	}
	r := parseGhost(t, words[2:]...)
	if r.err == nil || !strings.Contains(r.err.Error(), "--password without a value asks for the password, but standard input is not a terminal") {
		t.Errorf("README's command: %v, want only the password prompt to fail", r.err)
	}
}

// shellWords splits a command line as a shell does for the plain words
// and double-quoted strings of README's examples.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	in, quoted := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case (r == ' ' || r == '\n' || r == '\t') && !quoted:
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}
