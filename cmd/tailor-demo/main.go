// Command tailor-demo shows tailor at work on a throwaway MariaDB sandbox:
// a table under a live write load, an online migration of it, and the proof,
// row by row against an independent record of the writes, that no write was
// lost; then, under the same load, tailor revert of the migration and the
// same proof. With --crash-and-resume it runs the tailor binary, kills it with
// SIGKILL in the middle of the copy and resumes it with --resume.
//
// It is a command of its own, run by make demo, so that the demo and its
// write generator (internal/workload) are not linked into the tailor binary
// users deploy.
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

	"github.com/spf13/pflag"

	"github.com/tailor-osc/tailor/internal/demo"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal the demo cleans up (the sandbox, a running
	// tailor); a second one, with the default handling restored, ends it.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// usageError marks errors in the command line itself.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return exitOK
	}
	if err == nil {
		opts.Logger, err = newLogger(stderr, opts.LogFormat)
	}
	if err == nil {
		opts.Stderr = stderr
		err = demo.Run(ctx, stdout, opts)
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "tailor-demo: "+oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailed
}

// oneLine puts a message on one line, errors.Join's lines separated by
// semicolons.
func oneLine(msg string) string {
	var parts []string
	for _, line := range strings.Split(msg, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; ")
}

// parseFlags reads the command line; the flags are those tailor demo had,
// and --crash-and-resume with --tailor.
func parseFlags(args []string, stderr io.Writer) (demo.Options, error) {
	var o demo.Options
	fs := pflag.NewFlagSet("tailor-demo", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.Rows, "rows", 200_000, "rows in the demo table")
	fs.IntVar(&o.Rate, "rate", 300, "write transactions per second during the migration")
	fs.IntVar(&o.Writers, "writers", 4, "concurrent writing sessions")
	fs.StringVar(&o.Alter, "alter", "ADD COLUMN refunded_at DATETIME NULL, ADD INDEX idx_status (status), MODIFY note MEDIUMTEXT", "the change the demo makes")
	fs.StringVar(&o.LogFormat, "log-format", "text", "log format: text or json")
	fs.IntVar(&o.Threads, "threads", 0, "chunks tailor copies at once; 0 lets tailor choose: 4, or the server's CPU count when lower")
	fs.DurationVar(&o.ChunkTime, "chunk-time", operate.DefaultChunkTime, "target time per chunk (adaptive chunk size)")
	fs.IntVar(&o.ChunkSize, "chunk-size", 0, "fixed rows per chunk instead of --chunk-time (0: adaptive)")
	fs.BoolVar(&o.CrashAndResume, "crash-and-resume", false, "run the tailor binary, kill it with SIGKILL in the middle of the copy, and resume the migration with --resume")
	fs.StringVar(&o.Tailor, "tailor", "bin/tailor", "the tailor binary --crash-and-resume runs (make build makes it)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: tailor-demo [flags]   (make demo DEMO_ARGS=\"...\")")
		fmt.Fprintln(stderr, "Migrates a table under live writes in a throwaway MariaDB sandbox, reverts the migration, and proves no write was lost.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return o, err
		}
		return o, usageError{err}
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if o.Rows < 1 {
		errs = append(errs, fmt.Errorf("--rows must be at least 1, not %d", o.Rows))
	}
	if o.Rate < 1 {
		errs = append(errs, fmt.Errorf("--rate must be at least 1, not %d", o.Rate))
	}
	if o.Writers < 1 {
		errs = append(errs, fmt.Errorf("--writers must be at least 1, not %d", o.Writers))
	}
	if o.LogFormat != "text" && o.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format must be text or json, not %q", o.LogFormat))
	}
	if err := errors.Join(errs...); err != nil {
		return o, usageError{err}
	}
	return o, nil
}

// newLogger is the log of a migration run in this process: text for
// people, JSON for machines, on stderr so that stdout carries the demo's
// report. It takes over the MySQL driver's own messages, as tailor does.
func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	var logger *slog.Logger
	switch format {
	case "text":
		logger = slog.New(slog.NewTextHandler(w, nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(w, nil))
	default:
		return nil, usageError{fmt.Errorf("--log-format must be text or json, not %q", format)}
	}
	// The driver's logger is process-wide; the demo sets it once, before
	// any connection.
	mysql.LogDriverTo(logger)
	return logger, nil
}
