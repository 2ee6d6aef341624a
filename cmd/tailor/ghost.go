package main

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// A gh-ost command line, pasted after "tailor alter", should run, or fail
// with one sentence saying which flag to change. gh-ost's flags of the
// same name as tailor's (--host, --database, --alter, --execute,
// --chunk-size, --max-load, ...) mean the same and need nothing here; the
// table below says what becomes of every other one. docs/cli.md holds the
// same table for people, and TestGhostCommandLines parses a command line
// for each row.

// ghostKind is what tailor does with one of gh-ost's flags.
type ghostKind int

const (
	// ghostAlias: a tailor flag has the same meaning; the value is given to it.
	ghostAlias ghostKind = iota
	// ghostAccepted: accepted with one informational log line, because tailor
	// always does what the flag asks, or does not need it.
	ghostAccepted
	// ghostRefused: refused with a sentence naming what to do instead,
	// unless its value is one of ok (gh-ost's own default, say, which is
	// what tailor does): then it is a note.
	ghostRefused
)

// ghostFlag is one of gh-ost's flags that tailor does not have under the
// same name.
type ghostFlag struct {
	name string
	// isBool: a switch, which only counts when true ("-assume-rbr=false"
	// asks for nothing); otherwise the flag takes a value.
	isBool bool
	kind   ghostKind
	// tailor is, for an alias, the tailor flag given the value.
	tailor string
	// say is, for a note, what tailor does; for a refusal, why and what to
	// do instead. One sentence, without a final period.
	say string
	// ok are the values of a refused flag that ask for what tailor does
	// anyway, and so make it a note.
	ok []string
}

// ghostAnnotation marks the hidden flags registerGhostFlags adds, so that
// TestDocsListEveryFlag looks for them in the gh-ost table of docs/cli.md
// rather than among tailor's own flags.
const ghostAnnotation = "tailor-ghost-flag"

// ghostFlags are gh-ost's flags (github.com/github/gh-ost, go/cmd/gh-ost/
// main.go, 1.1) that tailor has not under the same name, in gh-ost's order.
var ghostFlags = []ghostFlag{
	{name: "assume-master-host", kind: ghostRefused, say: "tailor connects to the primary itself: point --host at the primary"},
	{name: "mysql-timeout", kind: ghostRefused, ok: []string{"0", "0.0"}, say: "tailor has no connect timeout flag; a lost connection is retried for --reconnect-timeout"},
	{name: "master-user", kind: ghostRefused, say: "tailor connects to the primary only, with --user: point --host at the primary"},
	{name: "master-password", kind: ghostRefused, say: "tailor connects to the primary only, with --password: point --host at the primary"},
	{name: "conf", kind: ghostAlias, tailor: "defaults-file"},
	{name: "ask-pass", isBool: true, kind: ghostAlias, tailor: "password"},
	{name: "charset", kind: ghostRefused, ok: []string{"utf8mb4,utf8,latin1", "utf8mb4"}, say: "tailor connects with utf8mb4 and copies every column's bytes as they are, whatever its character set: leave --charset out"},
	// gh-ost's --ssl checks the server's certificate chain and host name,
	// unless --ssl-allow-insecure: --ssl-mode VERIFY_IDENTITY, or REQUIRED.
	{name: "ssl", isBool: true, kind: ghostAlias, tailor: "ssl-mode", say: "give --ssl-mode VERIFY_IDENTITY (or REQUIRED, without checking the certificate) instead"},
	// tailor's own --ssl-ca, --ssl-cert and --ssl-key, once it has them,
	// mean the same, and registerGhostFlags leaves these out.
	{name: "ssl-ca", kind: ghostRefused, say: "give tailor's --ssl-ca with --ssl-mode VERIFY_CA or VERIFY_IDENTITY"},
	{name: "ssl-cert", kind: ghostRefused, say: "give tailor's --ssl-cert with --ssl-mode"},
	{name: "ssl-key", kind: ghostRefused, say: "give tailor's --ssl-key with --ssl-mode"},
	{name: "ssl-allow-insecure", isBool: true, kind: ghostRefused, say: "it goes with --ssl, as in gh-ost; alone, give --ssl-mode REQUIRED, which encrypts without checking the certificate"},
	{name: "attempt-instant-ddl", isBool: true, kind: ghostAccepted, say: "tailor always makes a change INSTANT when the server can (--force-copy copies instead)"},
	{name: "storage-engine", kind: ghostRefused, ok: []string{"innodb", "InnoDB"}, say: "tailor migrates InnoDB tables only"},
	{name: "exact-rowcount", isBool: true, kind: ghostAccepted, say: "tailor's progress needs no row count: it follows the copy's position on the key"},
	{name: "concurrent-rowcount", isBool: true, kind: ghostAccepted, say: "tailor's progress needs no row count: it follows the copy's position on the key"},
	{name: "allow-on-master", isBool: true, kind: ghostAccepted, say: "tailor always runs on the primary --host names"},
	{name: "allow-master-master", isBool: true, kind: ghostRefused, say: "tailor does not support master-master (active-active) topologies: point --host at the one primary that takes writes"},
	{name: "allow-nullable-unique-key", isBool: true, kind: ghostRefused, say: "tailor copies only by a primary key or a unique key on NOT NULL columns, since NULLs in a unique key cannot identify rows: add such a key first"},
	{name: "approve-renamed-columns", isBool: true, kind: ghostAccepted, say: "tailor reads renames from the ALTER with its parser and always maps a renamed column's values"},
	{name: "skip-renamed-columns", isBool: true, kind: ghostAccepted, say: "tailor reads renames from the ALTER with its parser and always maps a renamed column's values, so none are lost"},
	{name: "tungsten", isBool: true, kind: ghostRefused, say: "tailor does not support Tungsten replication"},
	{name: "discard-foreign-keys", isBool: true, kind: ghostRefused, say: "tailor refuses tables with foreign keys: drop them first with a separate ALTER if that is what you want"},
	{name: "skip-foreign-key-checks", isBool: true, kind: ghostAccepted, say: "tailor always checks for foreign keys, which takes a moment"},
	{name: "skip-strict-mode", isBool: true, kind: ghostAccepted, say: "tailor's sessions run in a strict sql_mode of its own that copies every row exactly as the table holds it"},
	{name: "allow-zero-in-date", isBool: true, kind: ghostAccepted, say: "tailor copies zero dates as the table holds them, whatever the server's sql_mode"},
	{name: "aliyun-rds", isBool: true, kind: ghostRefused, say: "tailor has no special mode for Aliyun RDS: leave the flag out and run tailor plan to see whether the server allows the migration"},
	{name: "gcp", isBool: true, kind: ghostRefused, say: "tailor has no special mode for Google Cloud: leave the flag out and run tailor plan to see whether the server allows the migration"},
	{name: "azure", isBool: true, kind: ghostRefused, say: "tailor has no special mode for Azure: leave the flag out and run tailor plan to see whether the server allows the migration"},
	{name: "gtid", isBool: true, kind: ghostAccepted, say: "tailor finds its place in the binary log itself, whether or not the server uses GTIDs"},
	{name: "test-on-replica", isBool: true, kind: ghostRefused, say: "tailor does not stop replication to compare tables on a replica; it compares the copy with the original itself (the checksum) before every swap: run tailor plan, then tailor alter --execute against the primary"},
	{name: "test-on-replica-skip-replica-stop", isBool: true, kind: ghostRefused, say: "tailor has no --test-on-replica; it compares the copy with the original itself before every swap"},
	{name: "migrate-on-replica", isBool: true, kind: ghostRefused, say: "tailor migrates on the primary, and its change reaches the replicas by replication: point --host at the primary"},
	{name: "initially-drop-old-table", isBool: true, kind: ghostRefused, say: "tailor keeps the old table <table>_tailor_old for tailor revert and never drops one at the start: drop it yourself (DROP TABLE) once no revert is needed, or give --ok-to-drop-table so that none is kept"},
	{name: "timestamp-old-table", isBool: true, kind: ghostRefused, say: "tailor names the old table <table>_tailor_old, a name that sorts after the table's, which the cut-over's lock order needs and tailor revert finds: rename it after the migration to keep several"},
	{name: "cut-over", kind: ghostRefused, ok: []string{"atomic", "default", ""}, say: "tailor's cut-over is always atomic (one RENAME of both tables, writes held at most --cut-over-lock-timeout-seconds): leave --cut-over out"},
	{name: "force-named-cut-over", isBool: true, kind: ghostRefused, say: "tailor's cut-over command goes to the migration's own control socket, which names the table: leave the flag out"},
	{name: "force-named-panic", isBool: true, kind: ghostRefused, say: "tailor's abort command goes to the migration's own control socket, which names the table: leave the flag out"},
	{name: "switch-to-rbr", isBool: true, kind: ghostRefused, say: "tailor never changes the server's settings: set binlog_format=ROW on the server (SET GLOBAL binlog_format=ROW, and in its configuration) first"},
	{name: "assume-rbr", isBool: true, kind: ghostAccepted, say: "tailor checks binlog_format=ROW and never restarts replication"},
	{name: "cut-over-exponential-backoff", isBool: true, kind: ghostAccepted, say: "tailor always backs off between cut-over attempts, doubling from 1s up to 30s"},
	{name: "exponential-backoff-max-interval", kind: ghostAccepted, say: "tailor backs off between cut-over attempts up to 30s"},
	{name: "dml-batch-size", kind: ghostAccepted, say: "tailor batches the changes it applies by itself"},
	{name: "default-retries", kind: ghostAlias, tailor: "cut-over-attempts"},
	{name: "panic-on-warnings", isBool: true, kind: ghostAccepted, say: "tailor always stops on a warning: a row the new table cannot hold exactly stops the migration"},
	{name: "nice-ratio", kind: ghostRefused, ok: []string{"0", "0.0"}, say: "tailor does not sleep between chunks: use --chunk-time, --max-load or --throttle-query to slow the copy"},
	{name: "replication-lag-query", kind: ghostAccepted, say: "deprecated in gh-ost too; tailor measures lag with its own heartbeat"},
	{name: "throttle-http", kind: ghostRefused, say: "tailor has no HTTP throttle check: use --throttle-query, or --throttle-flag-file with a job that creates the file while your endpoint says to throttle"},
	{name: "throttle-http-interval-millis", kind: ghostRefused, say: "tailor has no HTTP throttle check: use --throttle-query or --throttle-flag-file"},
	{name: "throttle-http-timeout-millis", kind: ghostRefused, say: "tailor has no HTTP throttle check: use --throttle-query or --throttle-flag-file"},
	{name: "ignore-http-errors", isBool: true, kind: ghostRefused, say: "tailor has no HTTP throttle check: use --throttle-query or --throttle-flag-file"},
	{name: "heartbeat-interval-millis", kind: ghostAccepted, say: "tailor writes its heartbeat every 100ms, gh-ost's default"},
	{name: "throttle-additional-flag-file", kind: ghostAlias, tailor: "throttle-flag-file"},
	{name: "initially-drop-socket-file", isBool: true, kind: ghostAccepted, say: "tailor removes a control socket nobody listens on by itself, and refuses to take over one a running process listens on"},
	{name: "serve-socket-file", kind: ghostAlias, tailor: "control-socket"},
	{name: "serve-tcp-port", kind: ghostAlias, tailor: "http"},
	{name: "hooks-hint", kind: ghostRefused, say: "tailor has no flag for the hooks' hint yet (TAILOR_HINT is empty): hooks inherit tailor's environment, so set a variable of your own there instead"},
	{name: "hooks-hint-owner", kind: ghostRefused, say: "tailor has no flag for it: hooks inherit tailor's environment, so set a variable of your own there instead"},
	{name: "hooks-hint-token", kind: ghostRefused, say: "tailor has no flag for it: hooks inherit tailor's environment, so set a variable of your own there instead"},
	{name: "hooks-status-interval", kind: ghostRefused, say: "tailor runs the on-status hook at every progress report: use --progress-interval"},
	{name: "allow-setup-metadata-lock-instruments", isBool: true, kind: ghostAccepted, say: "tailor reads metadata locks from metadata_lock_info or performance_schema when the server has them, and never changes their setup"},
	{name: "skip-metadata-lock-check", isBool: true, kind: ghostAccepted, say: "tailor's cut-over looks for sessions holding the table's metadata lock and never needs the check turned off"},
	{name: "binlogsyncer-max-reconnect-attempts", kind: ghostRefused, say: "tailor retries a lost binary log connection for --reconnect-timeout: use that instead"},
	{name: "include-triggers", isBool: true, kind: ghostAlias, tailor: "recreate-triggers"},
	{name: "trigger-suffix", kind: ghostAccepted, say: "tailor moves the triggers to the new table at the cut-over under their own names, so no suffix is needed"},
	{name: "remove-trigger-suffix-if-exists", isBool: true, kind: ghostAccepted, say: "tailor moves the triggers to the new table at the cut-over under their own names, so no suffix is needed"},
	{name: "skip-port-validation", isBool: true, kind: ghostAccepted, say: "tailor does not compare the port with the server's"},
	{name: "critical-load-interval-millis", kind: ghostRefused, ok: []string{"0"}, say: "tailor acts on the first reading of --critical-load, as gh-ost does with 0: use --critical-load-hibernate-seconds to pause instead of aborting"},
	{name: "quiet", isBool: true, kind: ghostAccepted, say: "tailor logs at info level (--verbose for more); errors end with one line on stderr"},
	{name: "debug", isBool: true, kind: ghostAlias, tailor: "verbose"},
	{name: "stack", isBool: true, kind: ghostAccepted, say: "tailor's errors say what was being done; there is no stack trace to add"},
	{name: "check-flag", isBool: true, kind: ghostRefused, say: "tailor alter --help lists tailor's flags, and docs/cli.md what becomes of each of gh-ost's"},
	{name: "force-table-names", kind: ghostRefused, say: "tailor names its tables <table>_tailor_new and <table>_tailor_old, which the cut-over's lock order needs"},
}

// lookupGhost returns gh-ost's flag of that name, if tailor treats it here.
func lookupGhost(name string) (ghostFlag, bool) {
	i := slices.IndexFunc(ghostFlags, func(g ghostFlag) bool { return g.name == name })
	if i < 0 {
		return ghostFlag{}, false
	}
	return ghostFlags[i], true
}

// registerGhostFlags adds gh-ost's flags to a command as hidden flags, each
// with the type its gh-ost meaning needs: a switch, or a value read as a
// string and checked when applied. A name the command has already (a TLS
// flag tailor gained since, say) is tailor's, and left to it.
func registerGhostFlags(fs *pflag.FlagSet) {
	for _, g := range ghostFlags {
		if fs.Lookup(g.name) != nil {
			continue
		}
		usage := "gh-ost's --" + g.name + ", see docs/cli.md"
		if g.isBool {
			fs.Bool(g.name, false, usage)
		} else {
			fs.String(g.name, "", usage)
		}
		_ = fs.MarkHidden(g.name)
		_ = fs.SetAnnotation(g.name, ghostAnnotation, []string{"true"})
	}
}

// ghostInfo is one informational line for a gh-ost flag given.
type ghostInfo struct{ flag, detail string }

// applyGhostFlags gives the gh-ost aliases on the command line to their
// tailor flags and refuses the flags tailor does not support. It returns
// the lines to log for the flags accepted as they are.
func applyGhostFlags(fs *pflag.FlagSet) ([]ghostInfo, error) {
	var notes []ghostInfo
	for _, g := range ghostFlags {
		f := fs.Lookup(g.name)
		if f == nil || !fs.Changed(g.name) || f.Annotations[ghostAnnotation] == nil {
			continue
		}
		value := f.Value.String()
		if g.isBool && value != "true" {
			continue
		}
		switch {
		case g.kind == ghostAlias:
			note, err := applyGhostAlias(fs, g, value)
			if err != nil {
				return nil, err
			}
			notes = append(notes, note)
		case g.kind == ghostAccepted:
			notes = append(notes, ghostInfo{"--" + g.name, g.say})
		case g.name == "ssl-allow-insecure" && fs.Lookup("ssl-mode") != nil && ghostSwitchOn(fs, "ssl"):
			notes = append(notes, ghostInfo{"--" + g.name, "read with --ssl as --ssl-mode REQUIRED: encrypted, the certificate not checked"})
		case slices.Contains(g.ok, value):
			notes = append(notes, ghostInfo{"--" + g.name, "--" + g.name + "=" + value + " is what tailor always does"})
		default:
			return nil, refuseGhost(fs, g)
		}
	}
	return notes, nil
}

// refuseGhost is the sentence for a gh-ost flag tailor does not support.
func refuseGhost(fs *pflag.FlagSet, g ghostFlag) error {
	say := g.say
	if strings.HasPrefix(g.name, "ssl") && fs.Lookup("ssl-mode") == nil {
		// gh-ost's TLS flags are refused whatever tailor has; which
		// advice fits depends on whether this build has --ssl-mode.
		say = "this tailor has no encrypted connections: reach the server over a trusted network, or its unix socket with --socket"
	}
	return usageError{fmt.Errorf("gh-ost's --%s is not supported by tailor: %s", g.name, say)}
}

// applyGhostAlias gives an alias's value to its tailor flag, which must not
// be given too: two values for one setting would leave one ignored.
func applyGhostAlias(fs *pflag.FlagSet, g ghostFlag, value string) (ghostInfo, error) {
	note := ghostInfo{"--" + g.name, "read as --" + g.tailor}
	if fs.Changed(g.tailor) {
		return note, usageError{fmt.Errorf("gh-ost's --%s and --%s set the same thing: give only one", g.name, g.tailor)}
	}
	switch g.name {
	case "ssl":
		if fs.Lookup("ssl-mode") == nil {
			return note, refuseGhost(fs, g)
		}
		value, note.detail = "VERIFY_IDENTITY", "read as --ssl-mode VERIFY_IDENTITY: the server's certificate must be signed by --ssl-ca and issued for --host"
		if ghostSwitchOn(fs, "ssl-allow-insecure") {
			value, note.detail = "REQUIRED", "read with --ssl-allow-insecure as --ssl-mode REQUIRED: encrypted, the certificate not checked"
		}
	case "ask-pass":
		// --password alone asks for the password, as --ask-pass does.
		value = promptSentinel
		note.detail = "read as --password without a value: tailor asks for the password"
	case "serve-tcp-port":
		port, err := strconv.Atoi(value)
		if err != nil || port < 1 || port > 65535 {
			return note, usageError{fmt.Errorf("gh-ost's --serve-tcp-port must be a port between 1 and 65535, not %q", value)}
		}
		// gh-ost listens on every address; tailor serves its HTTP endpoint
		// on the loopback only, since it takes commands without a password.
		value = "127.0.0.1:" + strconv.Itoa(port)
		note.detail = "read as --http " + value + ": tailor serves status, commands and metrics over HTTP, on the loopback address only"
	}
	target := fs.Lookup(g.tailor)
	if err := fs.Set(g.tailor, value); err != nil {
		return note, usageError{fmt.Errorf("gh-ost's --%s (tailor's --%s) must be %s, not %q", g.name, g.tailor, valueWanted(target.Value.Type()), value)}
	}
	// pflag's Set marked the tailor flag as given; resolve and runAlter
	// read "given" that way (a flag given wins over --defaults-file).
	if g.name == "default-retries" && value == "0" {
		note.detail = "read as --cut-over-attempts 0: the cut-over is retried until the migration is stopped"
	}
	return note, nil
}

// ghostSwitchOn reports whether gh-ost's switch name was given true.
func ghostSwitchOn(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Annotations[ghostAnnotation] != nil && fs.Changed(name) && f.Value.String() == "true"
}

// logGhostNotes logs one line for each gh-ost flag accepted.
func logGhostNotes(logger *slog.Logger, notes []ghostInfo) {
	for _, n := range notes {
		logger.Info("gh-ost flag accepted", "flag", n.flag, "detail", n.detail)
	}
}

// normalizeArgs turns gh-ost's single-dash long flags ("-database=shop",
// "-alter 'ADD ...'", "-execute"), which Go's flag package reads and
// gh-ost users write, into pflag's "--database=shop". A single-dash word
// is rewritten only when it names a long flag of the command (or one of
// gh-ost's), so real short flags ("-h") and combined ones keep their
// meaning; the value after a flag that takes one is never touched, however
// it starts ("--alter -x" stays). Words after "--" are left alone.
func normalizeArgs(root *cobra.Command, args []string) []string {
	if len(args) == 0 {
		return args
	}
	out := slices.Clone(args)
	var flags *pflag.FlagSet
	start := 0
	if sub, _, err := root.Find(args[:1]); err == nil && sub != root {
		flags, start = sub.Flags(), 1
	} else {
		flags = root.Flags()
	}
	known := func(name string) (f *pflag.Flag, ok bool) {
		if f = flags.Lookup(name); f != nil {
			return f, true
		}
		if g, ok := lookupGhost(name); ok {
			return &pflag.Flag{Name: name, NoOptDefVal: map[bool]string{true: "true"}[g.isBool]}, true
		}
		// help and version are cobra's, added when the command runs.
		return nil, name == "help" || name == "version"
	}
	for i := start; i < len(out); i++ {
		a := out[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || len(a) < 2 {
			continue
		}
		word := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		name, _, hasValue := strings.Cut(word, "=")
		single := !strings.HasPrefix(a, "--")
		if single && len(name) < 2 {
			continue
		}
		f, ok := known(name)
		if !ok {
			continue
		}
		if single {
			out[i] = "-" + a
		}
		if !hasValue && f != nil && f.NoOptDefVal == "" {
			i++ // the flag's value, which may start with "-"
		}
	}
	return out
}

// noCommand refuses a command line that starts with one of alter's flags
// or gh-ost's, as a gh-ost command line with "gh-ost" replaced by "tailor"
// does, saying what is missing rather than cobra's "unknown flag".
func noCommand(root *cobra.Command, args []string) error {
	if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
		return nil
	}
	name, _, _ := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
	alter, _, err := root.Find([]string{"alter"})
	if err != nil || name == "help" || name == "version" || root.Flags().Lookup(name) != nil {
		return nil
	}
	if _, ok := lookupGhost(name); !ok && alter.Flags().Lookup(name) == nil {
		return nil
	}
	// Only the flag's name is echoed: the word may be -password=secret.
	return usageError{fmt.Errorf("--%s is a flag of tailor alter, and a command must come first: 'tailor alter --%s ...' runs a gh-ost command line; see 'tailor --help'", name, name)}
}

// valueWanted says in words what a flag of pflag's type takes.
func valueWanted(typ string) string {
	switch typ {
	case "int", "int32", "int64", "uint", "uint32", "uint64":
		return "a whole number"
	case "duration":
		return "a duration such as 500ms, 5s or 1m30s"
	case "bool":
		return "true or false"
	}
	return "a " + typ
}

// ghostFlagError rewords pflag's "unknown flag" for a gh-ost flag given to
// a command that does not take gh-ost's flags (plan, status, ctl).
func ghostFlagError(cmd *cobra.Command, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return nil
	}
	if _, ok := lookupGhost(name); !ok {
		return nil
	}
	return errors.New("gh-ost's --" + name + " is not taken by " + cmd.CommandPath() + ": tailor alter takes gh-ost's flags")
}
