package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWorldReadableOptionFileWarns: an option file holding a password that
// every user can read gets a warning naming the fix; a private one, or one
// without a password, none. The file is used either way.
func TestWorldReadableOptionFileWarns(t *testing.T) {
	cases := []struct {
		name    string
		content string
		mode    os.FileMode
		warn    bool
	}{
		{"password, world-readable", "[client]\nport=1\npassword=s3cret\n", 0o644, true},
		{"password, private", "[client]\nport=1\npassword=s3cret\n", 0o600, false},
		{"password, group-readable", "[client]\nport=1\npassword=s3cret\n", 0o640, false},
		{"no password, world-readable", "[client]\nport=1\n", 0o644, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "my.cnf")
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, c.mode); err != nil {
				t.Fatal(err)
			}
			o := tailor(t, "plan", "--defaults-file", path, "--host", "127.0.0.1", "--database", "d", "--table", "t", "--alter", "ADD COLUMN x INT")
			warned := strings.Contains(o.stderr, "tailor: warning: --defaults-file "+path+" holds a password and every user of this host can read it")
			if warned != c.warn {
				t.Errorf("warned %v, want %v:\n%s", warned, c.warn, o.stderr)
			}
			if c.warn && !strings.Contains(o.stderr, "chmod 600 "+path) {
				t.Errorf("the warning does not name the fix:\n%s", o.stderr)
			}
			if strings.Contains(o.stderr, "s3cret") {
				t.Errorf("the password is echoed:\n%s", o.stderr)
			}
			// Port 1 from the file: used, whatever its mode.
			if o.code != exitConnect || !strings.Contains(o.stderr, "127.0.0.1:1") {
				t.Errorf("exit %d; the file's port was not used:\n%s", o.code, o.stderr)
			}
		})
	}
}
