package plan

import (
	"fmt"
	"io"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/preflight"
)

// labelWidth aligns the values of the text rendering.
const labelWidth = 10

// WriteText renders the plan for a person, most important first: the
// verdict, why a change is refused, the table, what the server would do,
// what tailor would do, the checks, the estimate, the advice and whether a
// revert would be lossless. Write
// errors are the writer's to report (a terminal or a buffer).
func (p *Plan) WriteText(w io.Writer) {
	tw := &textWriter{w: w}
	verdict := "OK, tailor would make this change"
	if !p.OK {
		verdict = "REFUSED, tailor would not make this change as it is"
	}
	tw.line("Plan for %s on %s %s: %s (%s).", mysql.QuoteTable(p.Database, p.Table), p.Server.Flavor, p.Server.Version, verdict, p.Strategy.Kind)
	tw.field("ALTER", indentLines(p.Alter))
	if len(p.RefusedBecause) > 0 {
		tw.line("Refused because")
		for _, r := range p.RefusedBecause {
			tw.line("  - %s", r)
		}
	}

	table := fmt.Sprintf("about %s rows; data %s, indexes %s", count(p.Size.Rows), byteSize(p.Size.DataBytes), byteSize(p.Size.IndexBytes))
	if p.Size.Empty {
		table = fmt.Sprintf("empty; data %s, indexes %s", byteSize(p.Size.DataBytes), byteSize(p.Size.IndexBytes))
	}
	if p.Size.Partitions > 0 {
		table += fmt.Sprintf("; %d partitions", p.Size.Partitions)
	}
	tw.field("Table", table)
	disk := fmt.Sprintf("a copy needs about %s: %s.", byteSize(p.Size.CopyBytes), p.Size.CopyBytesBasis)
	if p.Strategy.Kind == StrategyNativeInstant {
		disk = fmt.Sprintf("none for INSTANT (a copy would need about %s).", byteSize(p.Size.CopyBytes))
	}
	tw.field("Disk", disk)
	tw.field("Native", describeNative(p.Native))
	for _, g := range groupRefusals(p.Native.Refused) {
		tw.line("%s  not %s: %s", strings.Repeat(" ", labelWidth), g.algorithms, g.reason)
	}
	tw.field("Strategy", fmt.Sprintf("%s. %s", p.Strategy.Kind, p.Strategy.Reason))
	if p.Estimate != nil {
		tw.field("Estimate", p.Estimate.Summary)
	} else if p.Strategy.Kind == StrategyNativeInstant {
		tw.field("Estimate", "Moments, once the ALTER has its metadata lock; it waits for transactions already using the table, and queries that come after it queue behind it meanwhile.")
	}

	tw.line("Checks")
	if len(p.Checks) == 0 {
		tw.line("  none ran")
	}
	for _, c := range p.Checks {
		tw.line("  %-4s  %s: %s", marker(c.Status), c.Name, c.Message)
		for _, d := range c.Details {
			tw.line("          %s", d)
		}
	}

	if len(p.Advice) > 0 {
		tw.line("Advice (expand-contract; each ALTER below can be planned and run with tailor)")
		for _, a := range p.Advice {
			tw.line("  %s %s: %s", a.Kind, mysql.QuoteIdents(a.Columns), a.Why)
			for i, s := range a.Steps {
				tw.line("    %d. %s", i+1, s.Do)
				if s.SQL != "" {
					tw.line("       %s", s.SQL)
				}
				if s.Command != "" {
					tw.line("       %s", s.Command)
				}
			}
		}
	}
	p.Revert.writeText(tw)
	if len(p.Notes) > 0 {
		tw.line("Notes")
		for _, n := range p.Notes {
			tw.line("  - %s", n)
		}
	}
}

// writeText renders the revert review: one line when a revert would be
// lossless and nothing is worth saying, else the verdict and a line per
// finding with its effect, and the inverse ALTER of a native change.
func (r Revert) writeText(tw *textWriter) {
	tw.line("Revert")
	switch {
	case r.Lossless:
		tw.line("  a revert would be lossless")
	case r.Replayable:
		tw.line("  a revert would not be lossless:")
	}
	for _, f := range r.Findings {
		cols := ""
		if len(f.Columns) > 0 {
			cols = " " + mysql.QuoteIdents(f.Columns)
		}
		tw.line("  %-7s %s%s: %s", f.Effect, f.Kind, cols, f.Why)
	}
	if r.InverseAlter != "" {
		tw.line("  inverse ALTER: %s", r.InverseAlter)
	}
}

// textWriter writes lines, and stops at the first write error.
type textWriter struct {
	w   io.Writer
	err error
}

func (t *textWriter) line(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format+"\n", args...)
	}
}

func (t *textWriter) field(label, value string) {
	t.line("%-*s%s", labelWidth, label, value)
}

func marker(s preflight.Status) string {
	switch s {
	case preflight.Pass:
		return "pass"
	case preflight.Warn:
		return "WARN"
	case preflight.Fail:
		return "FAIL"
	}
	return string(s)
}

// describeNative says what the accepted algorithm means for the
// application while the ALTER runs.
func describeNative(n Native) string {
	what := map[string]string{
		mysql.AlgorithmInstant + "/":                       "metadata only",
		mysql.AlgorithmNoCopy + "/":                        "no rebuild, but it may read the whole table",
		mysql.AlgorithmInplace + "/" + mysql.LockNone:      "reads and writes go on, but the whole table is worked through",
		mysql.AlgorithmInplace + "/" + mysql.LockShared:    "writes blocked throughout",
		mysql.AlgorithmInplace + "/" + mysql.LockExclusive: "reads and writes blocked throughout",
		mysql.AlgorithmCopy + "/" + mysql.LockNone:         "the whole table copied while writes go on",
		mysql.AlgorithmCopy + "/":                          "the whole table copied, writes blocked throughout",
	}[n.Algorithm+"/"+n.Lock]
	label := mysql.AlterAlgorithm{Algorithm: n.Algorithm, Lock: n.Lock}.String()
	if what == "" {
		return label
	}
	return label + " (" + what + ")"
}

type refusalGroup struct{ algorithms, reason string }

// groupRefusals joins consecutive refusals that give the same reason, so
// that five lines of "Cannot change column type" read as one.
func groupRefusals(refused []Refusal) []refusalGroup {
	var out []refusalGroup
	for _, r := range refused {
		name := strings.ReplaceAll(strings.TrimPrefix(r.Clause, "ALGORITHM="), ", ", " ")
		reason := refusalReason(r.Message)
		if n := len(out); n > 0 && out[n-1].reason == reason {
			out[n-1].algorithms += " / " + name
			continue
		}
		out = append(out, refusalGroup{algorithms: name, reason: reason})
	}
	return out
}

// refusalReason is the reason in a server's refusal, without the names of
// the algorithm refused and the one suggested, so that refusals of several
// algorithms for the same reason can be shown once: "ALGORITHM=INSTANT is
// not supported. Reason: Cannot change column type. Try ALGORITHM=COPY"
// gives "Cannot change column type", and "ALGORITHM=NOCOPY is not supported
// for this operation. Try ALGORITHM=INPLACE" gives "not supported for this
// operation".
func refusalReason(msg string) string {
	if _, after, ok := strings.Cut(msg, "Reason: "); ok {
		if i := strings.LastIndex(after, ". Try "); i >= 0 {
			after = after[:i]
		}
		return after
	}
	if i := strings.LastIndex(msg, ". Try "); i >= 0 {
		msg = msg[:i]
	}
	if strings.HasPrefix(msg, "ALGORITHM=") || strings.HasPrefix(msg, "LOCK=") {
		if _, after, ok := strings.Cut(msg, " is "); ok {
			return after
		}
	}
	return msg
}

// indentLines lines up the continuation lines of a multi-line ALTER under
// its first. The lines are kept: joining them would let a "--" comment
// swallow the clauses after it.
func indentLines(s string) string {
	return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", labelWidth))
}
