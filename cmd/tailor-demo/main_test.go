package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestUsage checks the command line before anything starts: bad flags
// exit 2 with one line naming them, --help exits 0, and the defaults are
// tailor demo's.
func TestUsage(t *testing.T) {
	t.Parallel()
	opts, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Rows != 200_000 || opts.Rate != 300 || opts.Writers != 4 || opts.CrashAndResume || opts.Tailor != "bin/tailor" {
		t.Errorf("defaults: %+v", opts)
	}
	cases := []struct {
		args  []string
		code  int
		words []string
	}{
		{[]string{"--help"}, exitOK, nil},
		{[]string{"--rowz", "5"}, exitUsage, []string{"unknown flag: --rowz"}},
		{[]string{"--rows", "0", "--log-format", "yaml"}, exitUsage, []string{"--rows must be at least 1, not 0; --log-format must be text or json"}},
		{[]string{"extra"}, exitUsage, []string{`unexpected argument "extra"`}},
		{[]string{"--crash-and-resume", "--tailor", "/nonexistent/tailor"}, exitFailed, []string{"no tailor binary", "/nonexistent/tailor", "make build"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), c.args, &stdout, &stderr); code != c.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, c.code, stderr.String())
			}
			if c.code == exitOK {
				return
			}
			last := strings.TrimSpace(stderr.String())
			if i := strings.LastIndex(last, "\n"); i >= 0 {
				last = last[i+1:]
			}
			for _, w := range c.words {
				if !strings.Contains(last, w) {
					t.Errorf("error line %q lacks %q", last, w)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}
