package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docLogLine finds the message of a log line quoted in the docs, as the
// text handler writes it: msg=word or msg="several words".
var docLogLine = regexp.MustCompile(`msg=("([^"]*)"|[^\s"` + "`" + `]+)`)

// TestDocsQuoteRealLogLines: every log message the README and docs/ quote
// (msg=...) is one the code logs, so that an operator's grep for a line
// the docs promise finds it.
func TestDocsQuoteRealLogLines(t *testing.T) {
	t.Parallel()
	var code strings.Builder
	for _, dir := range []string{"../../internal", "."} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			code.Write(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, "../../README.md")
	found := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range docLogLine.FindAllStringSubmatch(string(b), -1) {
			msg := m[1]
			if m[2] != "" {
				msg = m[2]
			}
			if msg == "..." {
				continue
			}
			found++
			if !strings.Contains(code.String(), `"`+msg+`"`) {
				t.Errorf("%s quotes the log line msg=%s, which no code logs", filepath.Base(doc), m[1])
			}
		}
	}
	if found == 0 {
		t.Fatal("no msg= quoted in the docs: the pattern is wrong")
	}
}
