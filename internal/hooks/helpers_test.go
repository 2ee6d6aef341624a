package hooks

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tests that exec scripts do not call t.Parallel: a script written by one
// goroutine while another forks can fail to exec with ETXTBSY (the forked
// child briefly holds the writable descriptor; golang/go#22315).

// privateDir returns a new temporary directory with mode 0700 whatever the
// umask: t.TempDir's mode follows the umask, and under umask 0 it would be
// world-writable and refused as a hooks directory.
func privateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeHook writes a /bin/sh script named name into dir with mode.
func writeHook(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is masked by the umask; set it exactly.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// newRunner returns a Runner for dir with a small base environment and a
// logger writing into the returned buffer.
func newRunner(t *testing.T, dir string, timeout time.Duration) (*Runner, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	r, err := New(Config{
		Dir:     dir,
		Timeout: timeout,
		Hint:    "ticket 42",
		Logger:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Env:     []string{"PATH=" + os.Getenv("PATH"), "BASE_VAR=kept", "TAILOR_ERROR=stale from parent"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, &logs
}

// readEnviron parses a NUL-separated environment (/proc/PID/environ).
func readEnviron(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// waitPIDFile waits for a hook to write a pid into path.
func waitPIDFile(t *testing.T, path string) int {
	t.Helper()
	pid, err := readPIDFile(path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// readPIDFile polls path for a pid written by a hook. It does not take a
// *testing.T so that it can run off the test's goroutine.
func readPIDFile(path string, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			return strconv.Atoi(strings.TrimSpace(string(b)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("no pid in %s after %s", path, timeout)
}

// assertGone fails unless pid has exited. A zombie counts as gone: it no
// longer runs, and in a container PID 1 may never reap orphans.
func assertGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		// Format: pid (comm) state ...; comm may contain spaces.
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && b[i+2] == 'Z' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d is still running: %s", pid, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// within fails the test when fn takes longer than d.
func within(t *testing.T, d time.Duration, fn func()) {
	t.Helper()
	start := time.Now()
	fn()
	if took := time.Since(start); took > d {
		t.Fatalf("took %s, want under %s", took, d)
	}
}
