package hooks

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	t.Parallel()
	dir := privateDir(t)
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"ok", Config{Dir: dir}, ""},
		{"missing dir", Config{Dir: filepath.Join(dir, "nope")}, "does not exist"},
		{"not a dir", Config{Dir: file}, "is not a directory"},
		{"empty dir name", Config{}, "not set"},
		{"negative timeout", Config{Dir: dir, Timeout: -time.Second}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if r.timeout != DefaultTimeout || r.Dir() != dir || len(r.env) == 0 {
					t.Fatalf("defaults not applied: timeout %s dir %s env %d", r.timeout, r.Dir(), len(r.env))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestRunPassesFacts(t *testing.T) {
	dir := privateDir(t)
	// A relative path: the file lands in dir only if dir is the working
	// directory. $$ is the hook itself (executed directly, no wrapper).
	writeHook(t, dir, "on-status", `cat /proc/$$/environ > env.out; echo "$#" > argc.out`, 0o755)
	r, _ := newRunner(t, dir, 10*time.Second)
	f := Facts{
		Database: "shop", Table: "orders", ShadowTable: "_orders_new", OldTable: "_orders_old",
		Alter: "ADD COLUMN note TEXT", Host: "db1:3306", Phase: "copy",
		Elapsed: 90*time.Second + 900*time.Millisecond, CopiedRows: 250, TotalRows: 1000,
		EventsApplied: 7, ETA: 30 * time.Second, Status: "copy 25.0%",
	}
	if err := r.Run(context.Background(), OnStatus, f); err != nil {
		t.Fatal(err)
	}
	env := readEnviron(t, filepath.Join(dir, "env.out"))
	want := map[string]string{
		"TAILOR_HOOK": "on-status", "TAILOR_DATABASE": "shop", "TAILOR_TABLE": "orders",
		"TAILOR_SHADOW_TABLE": "_orders_new", "TAILOR_OLD_TABLE": "_orders_old",
		"TAILOR_ALTER": "ADD COLUMN note TEXT", "TAILOR_HOST": "db1:3306", "TAILOR_PHASE": "copy",
		"TAILOR_ELAPSED_SECONDS": "90", "TAILOR_COPIED_ROWS": "250", "TAILOR_TOTAL_ROWS": "1000",
		"TAILOR_PROGRESS": "25.0", "TAILOR_ETA_SECONDS": "30", "TAILOR_EVENTS_APPLIED": "7",
		"TAILOR_STATUS": "copy 25.0%", "TAILOR_HINT": "ticket 42",
		// Set by the parent, overridden: a stale value must not leak in.
		"TAILOR_ERROR": "",
		"BASE_VAR":     "kept",
	}
	for k, v := range want {
		got, ok := env[k]
		if !ok || got != v {
			t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
		}
	}
	for _, name := range VariableNames() {
		if _, ok := env[name]; !ok {
			t.Errorf("%s not set", name)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "argc.out")); strings.TrimSpace(string(b)) != "0" {
		t.Errorf("hook got %q arguments, want 0", b)
	}
}

func TestRunValuesArriveVerbatim(t *testing.T) {
	dir := privateDir(t)
	writeHook(t, dir, "on-failure", `printf '%s' "$TAILOR_ALTER" > alter.out; printf '%s' "$TAILOR_ERROR" > error.out`, 0o755)
	r, _ := newRunner(t, dir, 10*time.Second)
	values := []string{
		"ADD COLUMN `my col` INT COMMENT 'it''s \"quoted\"'",
		"$(touch pwned) `touch pwned2` ${HOME} $HOME",
		"line one\nline two\n\ttabbed\n",
		"'; touch pwned3; echo '",
		"-n --help *.go ? [a] ~ & | ; < > \\ !",
		"ünïcødé ✓",
		"",
	}
	for _, v := range values {
		if err := r.Run(context.Background(), OnFailure, Facts{Alter: v, Error: "err: " + v}); err != nil {
			t.Fatal(err)
		}
		for file, want := range map[string]string{"alter.out": v, "error.out": "err: " + v} {
			got, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("%s = %q, want %q", file, got, want)
			}
		}
	}
	for _, f := range []string{"pwned", "pwned2", "pwned3"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s exists: a value was interpreted by a shell", f)
		}
	}
}

func TestRunOrderAndMatching(t *testing.T) {
	dir := privateDir(t)
	record := `echo "${0##*/}" >> order.log`
	for _, name := range []string{
		"on-success-b", "on-success.sh", "on-success", "on-success-a",
		"on-success~", "on-success-a.bak", "on-success-x.disabled", "on-success.swp", // ignored
		"on-status", "on-startup", // other events
	} {
		writeHook(t, dir, name, record, 0o755)
	}
	if err := os.Mkdir(filepath.Join(dir, "on-success.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, logs := newRunner(t, dir, 10*time.Second)
	if err := r.Run(context.Background(), OnSuccess, Facts{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "order.log"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"on-success", "on-success-a", "on-success-b", "on-success.sh"}
	if lines := strings.Fields(string(got)); !slices.Equal(lines, want) {
		t.Fatalf("ran %q, want %q", lines, want)
	}
	if n := strings.Count(logs.String(), `msg="hook ran"`); n != len(want) {
		t.Errorf("%d run records logged, want %d:\n%s", n, len(want), logs)
	}
	for _, attr := range []string{"event=on-success", "file=on-success-a", "duration=", `exit_status="exit status 0"`} {
		if !strings.Contains(logs.String(), attr) {
			t.Errorf("log lacks %s:\n%s", attr, logs)
		}
	}
}

func TestRunMissingHookIsNoop(t *testing.T) {
	dir := privateDir(t)
	writeHook(t, dir, "on-startup", `touch ran`, 0o755)
	r, logs := newRunner(t, dir, 10*time.Second)
	for _, e := range Events() {
		if e == OnStartup {
			continue
		}
		if err := r.Run(context.Background(), e, Facts{}); err != nil {
			t.Errorf("%s: %v", e, err)
		}
	}
	if logs.Len() != 0 {
		t.Errorf("logged for absent hooks:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("on-startup ran for another event")
	}
}

func TestRunRefusesUnrunnableFiles(t *testing.T) {
	tests := []struct {
		name, file, want string
		make             func(t *testing.T, path string)
	}{
		{"not executable", "on-before-cut-over-check", "is not executable", func(t *testing.T, path string) {
			writeHook(t, filepath.Dir(path), filepath.Base(path), "exit 0", 0o644)
		}},
		{"broken link", "on-before-cut-over-link", "cannot be run", func(t *testing.T, path string) {
			if err := os.Symlink(filepath.Join(filepath.Dir(path), "gone"), path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := privateDir(t)
			// Sorts first; must not run, since the set is refused as a whole.
			writeHook(t, dir, "on-before-cut-over-a", "touch ran", 0o755)
			path := filepath.Join(dir, tt.file)
			tt.make(t, path)
			r, _ := newRunner(t, dir, 10*time.Second)
			err := r.Run(context.Background(), OnBeforeCutOver, Facts{})
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to name %s and say %q", err, path, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
				t.Error("a hook ran although the event's set was refused")
			}
		})
	}
}

func TestRunUnknownEvent(t *testing.T) {
	t.Parallel()
	r, _ := newRunner(t, privateDir(t), time.Second)
	if err := r.Run(context.Background(), Event("on-whatever"), Facts{}); err == nil || !strings.Contains(err.Error(), "unknown event") {
		t.Fatalf("err = %v, want unknown event", err)
	}
}
