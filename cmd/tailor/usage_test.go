package main

import (
	"strings"
	"testing"
	"unicode"
)

// TestHelpIsText: every command's --help is printable text (no NUL from
// --password's prompt sentinel, which made `tailor alter --help | grep`
// report a binary file), shows --password as taking an optional value, and
// lists every flag under one of the groups, in their order.
func TestHelpIsText(t *testing.T) {
	for _, cmd := range []string{"alter", "plan", "revert", "status", "ctl"} {
		t.Run(cmd, func(t *testing.T) {
			o := tailor(t, cmd, "--help")
			if o.code != 0 {
				t.Fatalf("exit %d", o.code)
			}
			if i := strings.IndexFunc(o.stdout, func(r rune) bool { return !unicode.IsPrint(r) && r != '\n' }); i >= 0 {
				t.Errorf("--help holds the non-printable %q at byte %d: %q", o.stdout[i], i, o.stdout[max(i-40, 0):min(i+20, len(o.stdout))])
			}
			if strings.Contains(o.stdout, "prompt\"]") || strings.Contains(o.stdout, "Other flags:") {
				t.Errorf("--help shows the prompt sentinel or flags outside the groups:\n%s", o.stdout)
			}
			if cmd != "ctl" && !strings.Contains(o.stdout, "      --password[=PASSWORD]    password; given without a value, tailor asks for it") {
				t.Errorf("--password is not shown as taking an optional value:\n%s", o.stdout)
			}
			last := -1
			for _, g := range flagGroups {
				i := strings.Index(o.stdout, "\n"+g.title+":\n")
				if i < 0 {
					continue
				}
				if i < last {
					t.Errorf("group %q out of order", g.title)
				}
				last = i
			}
			if last < 0 {
				t.Errorf("no flag groups:\n%s", o.stdout)
			}
		})
	}
	o := tailor(t, "alter", "--help")
	for _, title := range []string{"Connection", "Change", "Copy", "Throttling", "Cut-over", "Control and observation", "Hooks"} {
		if !strings.Contains(o.stdout, "\n"+title+":\n      --") {
			t.Errorf("alter --help lacks the group %q", title)
		}
	}
}
