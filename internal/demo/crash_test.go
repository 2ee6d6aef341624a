package demo

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/sandbox"
)

func TestShellQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"bin/tailor":             "bin/tailor",
		"--checkpoint-interval":  "--checkpoint-interval",
		"127.0.0.1":              "127.0.0.1",
		"ADD COLUMN x INT":       "'ADD COLUMN x INT'",
		"ADD COLUMN `x` INT":     "'ADD COLUMN `x` INT'",
		"DEFAULT 'it''s'":        `'DEFAULT '\''it'\'''\''s'\'''`,
		"":                       "''",
		"/tmp/dir with space/s ": "'/tmp/dir with space/s '",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestAlterArgs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		opts       Options
		want, omit []string
	}{
		{"defaults", Options{Alter: "ADD COLUMN x INT"}, []string{"--execute", "--force-copy", "--checkpoint-interval", "100ms"}, []string{"--threads", "--chunk-size", "--chunk-time", "--log-format"}},
		{"fixed chunks", Options{Alter: "ADD COLUMN x INT", ChunkSize: 500, Threads: 2, ChunkTime: time.Second}, []string{"--chunk-size", "500", "--threads", "2"}, []string{"--chunk-time"}},
		{"chunk time", Options{Alter: "ADD COLUMN x INT", ChunkTime: 50 * time.Millisecond, LogFormat: "json"}, []string{"--chunk-time", "50ms", "--log-format", "json"}, []string{"--chunk-size"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args := alterArgs(3306, "/tmp/s.sock", c.opts)
			for _, w := range c.want {
				if !slices.Contains(args, w) {
					t.Errorf("%v lacks %s", args, w)
				}
			}
			for _, o := range c.omit {
				if slices.Contains(args, o) {
					t.Errorf("%v has %s", args, o)
				}
			}
			var out bytes.Buffer
			printCommand(&out, "bin/tailor", args)
			if strings.Contains(out.String(), sandbox.Password) || slices.Contains(args, "--password") {
				t.Errorf("the command line holds the password: %s", out.String())
			}
			if !strings.Contains(out.String(), "--table orders \\\n      --alter 'ADD COLUMN x INT' --execute") {
				t.Errorf("printed command:\n%s", out.String())
			}
		})
	}
}
