package hooks

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestFactsEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    Facts
		want map[string]string
	}{
		{"unknown total", Facts{CopiedRows: 5}, map[string]string{"TAILOR_PROGRESS": "", "TAILOR_TOTAL_ROWS": "0", "TAILOR_ETA_SECONDS": ""}},
		{"estimate exceeded", Facts{CopiedRows: 150, TotalRows: 100}, map[string]string{"TAILOR_PROGRESS": "100.0"}},
		{"one third", Facts{CopiedRows: 1, TotalRows: 3}, map[string]string{"TAILOR_PROGRESS": "33.3"}},
		{"whole seconds", Facts{Elapsed: 1999 * time.Millisecond, ETA: 61500 * time.Millisecond}, map[string]string{"TAILOR_ELAPSED_SECONDS": "1", "TAILOR_ETA_SECONDS": "61"}},
		{"negative eta", Facts{ETA: -time.Second}, map[string]string{"TAILOR_ETA_SECONDS": ""}},
		{"NUL dropped", Facts{Error: "a\x00b"}, map[string]string{"TAILOR_ERROR": "ab"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for _, kv := range tt.f.Env(OnStatus, "h") {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			if env["TAILOR_HOOK"] != "on-status" || env["TAILOR_HINT"] != "h" {
				t.Errorf("event/hint = %q/%q", env["TAILOR_HOOK"], env["TAILOR_HINT"])
			}
			for k, v := range tt.want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
		})
	}
}

func TestTailBuffer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		writes []string
		want   string
		cut    bool
	}{
		{"empty", nil, "", false},
		{"short", []string{" hi\n", "yo \n"}, "hi\nyo", false},
		{"exact", []string{"0123456789"}, "0123456789", false},
		{"over", []string{"abcdef", "ghijkl"}, "cdefghijkl", true},
		{"far over", []string{strings.Repeat("x", 100), "0123456789"}, "0123456789", true},
		{"split rune", []string{"aaaaaaaaa", "é"}, "aaaaaaaaé", true},
		{"cut inside rune", []string{"éééééa"}, "ééééa", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := &tailBuffer{max: 10}
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := b.String(); got != tt.want {
				t.Errorf("String = %q, want %q", got, tt.want)
			}
			if cut := strings.Contains(b.suffix(), "last 10 bytes"); cut != tt.cut && tt.want != "" {
				t.Errorf("suffix %q: cut = %v, want %v", b.suffix(), cut, tt.cut)
			}
		})
	}
}

// docs/hooks.md is the operator's reference; it must name every event and
// every variable.
func TestDocsListEveryEventAndVariable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/hooks.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, e := range Events() {
		if !strings.Contains(doc, "`"+string(e)+"`") {
			t.Errorf("docs/hooks.md does not mention event `%s`", e)
		}
	}
	for _, v := range VariableNames() {
		if !strings.Contains(doc, "`"+v+"`") {
			t.Errorf("docs/hooks.md does not mention variable `%s`", v)
		}
	}
}
