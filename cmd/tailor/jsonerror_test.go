package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestJSONErrorObject: with --output json, a failure that leaves no
// document prints one error object on stdout, with the exit code; with
// text output stdout stays empty.
func TestJSONErrorObject(t *testing.T) {
	unreachable := []string{"--host", "127.0.0.1", "--port", "1", "--database", "d", "--table", "t"}
	cases := []struct {
		name string
		args []string
		code int
		word string
	}{
		{"plan, server unreachable", append([]string{"plan", "--output", "json", "--alter", "ADD COLUMN x INT"}, unreachable...), exitConnect, "cannot reach the server"},
		{"status, server unreachable", append([]string{"status", "--output", "json", "--control-socket", "/nonexistent/tailor.sock"}, unreachable...), exitConnect, "cannot reach the server"},
		{"plan, missing flag", []string{"plan", "--output", "json", "--table", "t", "--alter", "x"}, exitUsage, "--database is required"},
		{"plan, unknown flag", []string{"plan", "--output", "json", "--frobnicate"}, exitUsage, "unknown flag: --frobnicate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := tailor(t, c.args...)
			if o.code != c.code {
				t.Errorf("exit %d, want %d", o.code, c.code)
			}
			var got map[string]any
			dec := json.NewDecoder(strings.NewReader(o.stdout))
			dec.UseNumber()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("stdout is not a JSON object: %v\n%s", err, o.stdout)
			}
			if dec.More() {
				t.Errorf("stdout holds more than one document:\n%s", o.stdout)
			}
			msg, _ := got["error"].(string)
			if len(got) != 2 || !strings.Contains(msg, c.word) || got["exit_code"] != json.Number(itoa(c.code)) {
				t.Errorf("error object %v, want error with %q and exit_code %d", got, c.word, c.code)
			}
			if !strings.Contains(o.stderr, "tailor: "+msg) {
				t.Errorf("stderr does not have the same sentence:\n%s", o.stderr)
			}
			text := tailor(t, removeJSON(c.args)...)
			if text.stdout != "" || text.code != c.code {
				t.Errorf("with text output: exit %d, stdout %q", text.code, text.stdout)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func removeJSON(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--output" {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}
