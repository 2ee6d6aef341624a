// Command tailor changes the schema of a live MySQL or MariaDB table without
// blocking its readers and writers. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
)

// Exit codes, documented in docs/cli.md.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInvalid     = 3
	exitConnect     = 4
	exitLostWrites  = 5
	exitResumable   = 6
	exitNoMigration = 7 // tailor status: no migration of the table, running or saved
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal tailor cleans up; a second one, with the
	// default handling restored, ends it at once.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// usageError marks errors in the command line itself.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "tailor",
		Short:         "Online schema changes for MySQL and MariaDB",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	out := &countingWriter{w: stdout}
	root.SetOut(out)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		if ghost := ghostFlagError(cmd, err); ghost != nil {
			err = ghost
		}
		return usageError{fmt.Errorf("%s; see '%s --help'", flagErrorMessage(err), cmd.CommandPath())}
	})
	root.AddCommand(newAlterCommand(), newPlanCommand(), newBackfillCommand(), newCtlCommand(), newRevertCommand(), newStatusCommand(), newMigrateCommand(), newExecCommand())
	setVersion(root)
	setUsage(root)
	root.SetArgs(normalizeArgs(root, args))
	err := noCommand(root, args)
	var cmd *cobra.Command
	if err == nil {
		cmd, err = root.ExecuteContextC(ctx)
	}
	if err == nil {
		return exitOK
	}
	var ue usageError
	if !errors.As(err, &ue) && isCobraUsageError(err) {
		err = usageError{cobraUsageError(err)}
	}
	msg := oneLine(err.Error())
	fmt.Fprintln(stderr, "tailor: "+msg)
	code := exitCode(err)
	// A script that asked for JSON reads JSON on stdout, failure or not:
	// when the command wrote no document, the error is one.
	if out.n == 0 && outputJSON(cmd) {
		writeJSONError(stdout, msg, code)
	}
	return code
}

// exitCode maps an error to tailor's exit code (docs/cli.md).
func exitCode(err error) int {
	if errors.As(err, new(usageError)) {
		return exitUsage
	}
	if errors.As(err, new(noMigrationError)) {
		return exitNoMigration
	}
	switch migrate.KindOf(err) {
	case migrate.KindInvalid:
		return exitInvalid
	case migrate.KindConnect:
		return exitConnect
	case migrate.KindInterrupted:
		return exitInterrupted
	case migrate.KindLostWrites:
		return exitLostWrites
	case migrate.KindResumable:
		return exitResumable
	}
	return exitFailed
}

// oneLine puts a message on one line: errors.Join (Config.Validate's
// findings, for one) puts each error on a line of its own, and the user is
// promised one line on stderr, each line of it prefixed "tailor: ".
func oneLine(msg string) string {
	var parts []string
	for _, line := range strings.Split(msg, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; ")
}

// flagErrorMessage rewords pflag's error for a value that does not parse
// ("invalid argument "x" for "--chunk-size" flag: strconv.ParseInt: parsing
// "x": invalid syntax") in the words of the other checks of a flag.
func flagErrorMessage(err error) string {
	var invalid *pflag.InvalidValueError
	if !errors.As(err, &invalid) {
		return err.Error()
	}
	flag := invalid.GetFlag()
	return fmt.Sprintf("--%s must be %s, not %q", flag.Name, valueWanted(flag.Value.Type()), invalid.GetValue())
}

// cobraUsageError rewords cobra's "unknown command" error, whose
// suggestions come on lines of their own after "Did you mean this?".
func cobraUsageError(err error) error {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	msg := strings.TrimSpace(lines[0])
	var suggestions []string
	for i, line := range lines {
		if strings.TrimSpace(line) == "Did you mean this?" {
			for _, s := range lines[i+1:] {
				if s = strings.TrimSpace(s); s != "" {
					suggestions = append(suggestions, s)
				}
			}
			break
		}
	}
	if len(suggestions) > 0 {
		msg += "; did you mean " + strings.Join(suggestions, " or ") + "?"
	}
	return fmt.Errorf("%s; see 'tailor --help'", msg)
}

// isCobraUsageError recognises cobra's own errors for unknown commands and
// wrong argument counts, which it does not type.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires ", "invalid argument"} {
		if len(msg) >= len(prefix) && msg[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// newLogger returns the logger for a command: text for people, JSON for
// machines, on stderr so that stdout carries only results. It also takes
// over the MySQL driver's own messages (see mysql.LogDriverTo).
func newLogger(w io.Writer, format string, verbose bool) (*slog.Logger, error) {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	var logger *slog.Logger
	switch format {
	case "text":
		logger = slog.New(slog.NewTextHandler(w, opts))
	case "json":
		logger = slog.New(slog.NewJSONHandler(w, opts))
	default:
		return nil, usageError{fmt.Errorf("--log-format must be text or json, not %q", format)}
	}
	// The driver's logger is process-wide; a command runs once per
	// process, before any connection (each copies the logger when it is
	// configured), so setting it here is the driver's intended use.
	mysql.LogDriverTo(logger)
	return logger, nil
}
