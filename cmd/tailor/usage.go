package main

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagGroup is one section of a command's --help: a title and the flags it
// lists, in the order of the sections below. A flag no group names is
// listed under "Other flags".
type flagGroup struct {
	title string
	names []string
}

// flagGroups are the sections of --help, in the order an operator meets
// them: where the server is, what to change, how the copy runs, what holds
// it back, how the swap is made, how to watch and steer it, and hooks.
var flagGroups = []flagGroup{
	{"Connection", []string{"host", "port", "socket", "user", "password", "defaults-file", "ssl-mode", "ssl-ca", "ssl-cert", "ssl-key"}},
	{"Change", []string{"database", "table", "alter", "dir", "file", "from-statement", "allow-destructive", "max-direct-rows", "out-of-order", "lock-wait", "set", "where", "delete", "key", "execute", "resume", "restart", "force-copy", "defer-indexes", "recreate-triggers", "time-zone",
		"instant-attempts", "instant-lock-timeout-seconds", "initially-drop-ghost-table", "ok-to-drop-table"}},
	{"Copy", []string{"chunk-size", "chunk-time", "threads", "skip-checksum", "checksum-during-copy", "checkpoint-interval", "reconnect-timeout", "replica-server-id"}},
	{"Throttling", []string{"max-lag-millis", "max-commit-latency", "max-redo-fill", "throttle-control-replicas", "max-load", "critical-load", "critical-load-hibernate-seconds",
		"throttle-flag-file", "throttle-query", "panic-flag-file"}},
	{"Cut-over", []string{"cut-over-attempts", "cut-over-lock-timeout-seconds", "force-cut-over-after", "postpone-cut-over-flag-file"}},
	{"Control and observation", []string{"control-socket", "http", "output", "progress-interval", "log-format", "verbose", "timeout", "help", "version"}},
	{"Hooks", []string{"hooks-path"}},
}

// setUsage makes every command's usage (and so its --help) list the flags
// in groups, cobra's own layout otherwise.
func setUsage(root *cobra.Command) {
	root.SetUsageFunc(func(c *cobra.Command) error {
		writeUsage(c.OutOrStderr(), c)
		return nil
	})
}

// writeUsage is cobra's default usage (cobra v1.10, defaultUsageFunc, less
// command groups, which tailor does not use) with the local flags in
// flagGroups.
func writeUsage(w io.Writer, c *cobra.Command) {
	fmt.Fprint(w, "Usage:")
	if c.Runnable() {
		fmt.Fprintf(w, "\n  %s", c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\n  %s [command]", c.CommandPath())
	}
	if len(c.Aliases) > 0 {
		fmt.Fprintf(w, "\n\nAliases:\n  %s", c.NameAndAliases())
	}
	if c.HasExample() {
		fmt.Fprintf(w, "\n\nExamples:\n%s", c.Example)
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprint(w, "\n\nAvailable Commands:")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				fmt.Fprintf(w, "\n  %-*s %s", sub.NamePadding(), sub.Name(), sub.Short)
			}
		}
	}
	if c.HasAvailableLocalFlags() {
		fmt.Fprint(w, groupedFlagUsages(c.LocalFlags()))
	}
	if c.HasAvailableInheritedFlags() {
		fmt.Fprintf(w, "\n\nGlobal Flags:\n%s", strings.TrimRightFunc(flagUsages(c.InheritedFlags()), unicode.IsSpace))
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\n\nUse \"%s [command] --help\" for more information about a command.", c.CommandPath())
	}
	fmt.Fprintln(w)
}

// groupedFlagUsages lists fs's visible flags under the titles of
// flagGroups, then the rest under "Other flags". A single group shows as
// cobra's plain "Flags:".
func groupedFlagUsages(fs *pflag.FlagSet) string {
	type section struct {
		title string
		set   *pflag.FlagSet
	}
	var sections []section
	placed := map[string]bool{}
	add := func(title string, flags []*pflag.Flag) {
		set := pflag.NewFlagSet(title, pflag.ContinueOnError)
		set.SortFlags = false
		for _, f := range flags {
			if !f.Hidden {
				set.AddFlag(f)
			}
		}
		if set.HasAvailableFlags() {
			sections = append(sections, section{title, set})
		}
	}
	for _, g := range flagGroups {
		var flags []*pflag.Flag
		for _, name := range g.names {
			if f := fs.Lookup(name); f != nil {
				flags = append(flags, f)
				placed[name] = true
			}
		}
		add(g.title, flags)
	}
	var rest []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) {
		if !placed[f.Name] {
			rest = append(rest, f)
		}
	})
	add("Other flags", rest)
	if len(sections) == 1 {
		sections[0].title = "Flags"
	}
	var b strings.Builder
	for _, s := range sections {
		fmt.Fprintf(&b, "\n\n%s:\n%s", s.title, strings.TrimRightFunc(flagUsages(s.set), unicode.IsSpace))
	}
	return b.String()
}

// flagUsages is pflag's FlagUsages, except that a flag whose value when
// given without one is a sentinel no one would type (--password's
// promptSentinel) shows as "--password[=PASSWORD]": pflag prints the
// sentinel itself, a NUL byte and all, which made `tailor alter --help |
// grep` call the output binary.
func flagUsages(fs *pflag.FlagSet) string {
	shown := pflag.NewFlagSet("", pflag.ContinueOnError)
	shown.SortFlags = fs.SortFlags
	fs.VisitAll(func(f *pflag.Flag) {
		if printable(f.NoOptDefVal) {
			shown.AddFlag(f)
			return
		}
		c := *f
		c.Value = optionalValue{f.Value}
		c.NoOptDefVal = strings.ToUpper(f.Name)
		c.DefValue = ""
		shown.AddFlag(&c)
	})
	return shown.FlagUsages()
}

func printable(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

// optionalValue shows a flag with an optional value without a type name,
// so that pflag prints it as --name[=NAME].
type optionalValue struct{ pflag.Value }

func (optionalValue) Type() string { return "" }
