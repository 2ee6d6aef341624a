package main

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"
)

// countingWriter counts what passes through to w: whether a command wrote
// its document before it failed.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// outputJSON reports whether cmd was asked for --output json (plan,
// status), as far as its flags were parsed.
func outputJSON(cmd *cobra.Command) bool {
	if cmd == nil {
		return false
	}
	f := cmd.Flags().Lookup("output")
	return f != nil && f.Value.String() == "json"
}

// jsonError is what --output json prints on stdout for a failure that left
// no other document: the message stderr has (without "tailor: ") and the
// exit code (docs/plan-json.md).
type jsonError struct {
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
}

func writeJSONError(w io.Writer, msg string, code int) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(jsonError{Error: msg, ExitCode: code}) // stderr has the message too
}
