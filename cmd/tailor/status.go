package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tailor-osc/tailor/internal/backfill"
	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
)

// statusTimeout bounds the wait for a running migration's reply, as ctl's
// default --timeout does.
const statusTimeout = 10 * time.Second

// The states tailor status reports, as its JSON "state" says them.
const (
	stateRunning          = "running"
	stateRunningElsewhere = "running-elsewhere"
	stateStopped          = "stopped"
	stateFinished         = "finished"
	stateNone             = "none"
)

type statusFlags struct {
	conn            connFlags
	database, table string
	controlSocket   string
	output          string
}

func newStatusCommand() *cobra.Command {
	f := &statusFlags{}
	cmd := &cobra.Command{
		Use:   "status --database DB --table T [--output json]",
		Short: "Where the migration and the backfills of a table are: running, or stopped with their saved state",
		Long: `status asks the running migration (or backfill) of --database.--table over its
control socket, as tailor ctl status does. When none answers, it connects to
the server and describes the saved state a stopped migration left: which
migration, the phase it stopped in and when, how far it got, whether it can be
resumed, and the command to run next; and each backfill of the table saved in
tailor_backfills: running, stopped or done, how far it got, and the command
that resumes a stopped one. Exit code 0 when it found a migration or a
backfill, 7 when there is neither.`,
		Args: func(_ *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return nil
			case f.conn.password == promptSentinel:
				return usageError{errors.New("status takes no arguments, and the one after --password was not read as the password: write --password=VALUE, or better use MYSQL_PWD or --defaults-file")}
			}
			return usageError{fmt.Errorf("status takes no arguments, but was given %q", args[0])}
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return runStatus(cmd, f) },
	}
	f.conn.register(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.database, "database", "", "database (schema) of the migrated table (required)")
	fs.StringVar(&f.table, "table", "", "migrated table (required)")
	fs.StringVar(&f.controlSocket, "control-socket", "", "control socket of the running migration (default: $TMPDIR/tailor.<database>.<table>.sock, as for alter)")
	fs.StringVar(&f.output, "output", "text", "output format: text, or json (one JSON document, see docs/cli.md)")
	return cmd
}

// noMigrationError is tailor status finding no migration of the table:
// none answers, none holds the migration lock, and no state is saved.
// It exits with its own code (exitNoMigration).
type noMigrationError struct{ err error }

func (e noMigrationError) Error() string { return e.err.Error() }
func (e noMigrationError) Unwrap() error { return e.err }

func runStatus(cmd *cobra.Command, f *statusFlags) error {
	var missing []error
	if f.database == "" {
		missing = append(missing, errors.New("--database is required"))
	}
	if f.table == "" {
		missing = append(missing, errors.New("--table is required"))
	}
	if f.output != "text" && f.output != "json" {
		missing = append(missing, fmt.Errorf("--output must be text or json, not %q", f.output))
	}
	if err := errors.Join(missing...); err != nil {
		return usageError{fmt.Errorf("%w; see '%s --help'", err, cmd.CommandPath())}
	}
	// Only to keep the driver's own messages off stderr (see mysql.LogDriverTo).
	if _, err := newLogger(cmd.ErrOrStderr(), "text", false); err != nil {
		return err
	}
	sock := f.controlSocket
	if sock == "" {
		sock = migrate.DefaultControlSocket(f.database, f.table)
	}
	out := cmd.OutOrStdout()
	ctx, cancel := context.WithTimeout(cmd.Context(), statusTimeout)
	reply, err := control.Send(ctx, sock, "status json")
	cancel()
	var refused *control.CommandError
	switch {
	case err == nil:
		return f.printRunning(out, sock, reply)
	case errors.As(err, &refused):
		return fmt.Errorf("the migration on %s answered, and refused status json: %s", sock, strings.TrimPrefix(refused.Msg, "error: "))
	}
	// Nobody answers: a socket left by a run that ended, or none at all.
	// The connection flags are needed only now, and so is the password.
	conn, err := f.conn.resolve(cmd, cmd.InOrStdin(), cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	saved, err := migrate.ReadSaved(cmd.Context(), conn, f.database, f.table)
	if err != nil {
		return err
	}
	backfills, err := f.readBackfills(cmd.Context(), conn)
	if err != nil {
		return err
	}
	now := time.Now()
	doc := statusDoc{Database: f.database, Table: f.table, ControlSocket: sock, Saved: newSavedDoc(saved, now), Backfills: f.backfillDocs(cmd, backfills, now)}
	switch {
	case saved.LockHolder != 0:
		doc.State = stateRunningElsewhere
		doc.LockHolder = &saved.LockHolder
	case saved.Record != nil && saved.Finished:
		doc.State = stateFinished
	case saved.Record != nil || saved.Format != nil:
		doc.State = stateStopped
	case !saved.TableExists && len(backfills) == 0:
		return &migrate.Error{Kind: migrate.KindInvalid, Err: fmt.Errorf("table %s does not exist in database %s, and no migration or backfill of it is running or saved; check --table and --database",
			mysql.QuoteIdent(f.table), mysql.QuoteIdent(f.database))}
	default:
		doc.State = stateNone
		doc.Saved = nil
	}
	if doc.State == stateNone && len(backfills) == 0 {
		if f.output == "json" {
			if err := writeJSON(out, doc); err != nil {
				return err
			}
		}
		return noMigrationError{fmt.Errorf("no migration of %s is running or saved: no tailor answers on %s, no session holds the migration lock, and there is no saved state (no table %s); and no backfill of it is saved in %s",
			mysql.QuoteTable(f.database, f.table), sock, mysql.QuoteIdent(saved.StateTable), mysql.QuoteIdent(backfill.StateTable))}
	}
	if doc.State != stateNone {
		doc.Next = f.next(cmd, saved)
	}
	if f.output == "json" {
		return writeJSON(out, doc)
	}
	if doc.State == stateNone {
		fmt.Fprintf(out, "migration: %s.%s\nstate: none: no tailor answers on %s, no session holds the migration lock, and there is no saved state\n", doc.Database, doc.Table, sock)
	} else {
		writeSavedText(out, doc, saved)
	}
	writeBackfillsText(out, doc)
	return nil
}

// printRunning prints the status a running migration replied.
func (f *statusFlags) printRunning(out io.Writer, sock, reply string) error {
	if f.output == "json" {
		return writeJSON(out, statusDoc{Database: f.database, Table: f.table, State: stateRunning, ControlSocket: sock, Running: json.RawMessage(reply)})
	}
	var st control.Status
	if err := json.Unmarshal([]byte(reply), &st); err != nil {
		return fmt.Errorf("read the status the migration on %s replied: %w", sock, err)
	}
	first, rest, _ := strings.Cut(st.String(), "\n")
	fmt.Fprintf(out, "%s\nstate: running (it answered on %s)\n%s", first, sock, rest)
	return nil
}

func writeJSON(w io.Writer, doc statusDoc) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // an ALTER or a note may hold < and >
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write the status: %w", err)
	}
	return nil
}

// next is the one line that says what to do about a migration that is not
// running here: the command that resumes it or starts it over, or why
// there is nothing to resume.
func (f *statusFlags) next(cmd *cobra.Command, s *migrate.SavedMigration) string {
	switch {
	case s.LockHolder != 0:
		return fmt.Sprintf("ask it with tailor ctl status on the machine it runs on (with --control-socket PATH if it was started with one); the server shows it as connection %d in SHOW PROCESSLIST", s.LockHolder)
	case s.Record != nil && s.Record.Reverting:
		return fmt.Sprintf("a revert stopped; %s continues it", f.revertCommand(cmd))
	case s.Finished && s.Record.Shadow != "" && len(s.Record.RevertColumns) > 0:
		return fmt.Sprintf("nothing to resume: the migration finished; %s undoes it with every write made since, while %s is kept", f.revertCommand(cmd), mysql.QuoteIdent(s.Record.Shadow))
	case s.Finished:
		return "nothing to resume: the migration finished; its saved state stays for what may follow (see the note)"
	case s.Format != nil:
		return fmt.Sprintf("resume it with tailor %s, which reads format %d, or start over: %s", s.Format.TailorVersion, s.Format.Found,
			f.alterCommand(cmd, "...", "--initially-drop-ghost-table"))
	case s.Swapped:
		return fmt.Sprintf("nothing to resume: %s; check %s, then DROP TABLE %s",
			s.NotResumable, mysql.QuoteTable(s.Database, s.Table), mysql.QuoteTable(s.Database, s.StateTable))
	case s.NotResumable != "":
		return fmt.Sprintf("it cannot be resumed (%s); start over: %s", s.NotResumable, f.alterCommand(cmd, s.Record.Alter, "--initially-drop-ghost-table"))
	}
	return fmt.Sprintf("%s continues it (add the stopped run's other flags, such as --chunk-size or --postpone-cut-over-flag-file); --initially-drop-ghost-table instead of --resume starts over",
		f.alterCommand(cmd, s.Record.Alter, "--resume"))
}

// revertCommand is the tailor revert command line for the table, with the
// connection flags status was given.
func (f *statusFlags) revertCommand(cmd *cobra.Command) string {
	parts := append([]string{"tailor", "revert"}, connectionArgs(cmd)...)
	return strings.Join(append(parts, "--database", shellQuote(f.database), "--table", shellQuote(f.table), "--execute"), " ")
}

// connectionArgs are the connection flags status was given, for a command
// line to print: a password never (--password alone, which asks for it,
// when one was given).
func connectionArgs(cmd *cobra.Command) []string {
	var parts []string
	for _, name := range []string{"defaults-file", "host", "port", "socket", "user"} {
		if cmd.Flags().Changed(name) {
			parts = append(parts, "--"+name, shellQuote(cmd.Flags().Lookup(name).Value.String()))
		}
	}
	if cmd.Flags().Changed("password") {
		parts = append(parts, "--password")
	}
	return parts
}

// alterCommand is the tailor alter command line for the migration, with
// the connection flags status was given (a password never: --password
// alone, which asks for it, when one was given on the command line).
func (f *statusFlags) alterCommand(cmd *cobra.Command, alter, last string) string {
	parts := append([]string{"tailor", "alter"}, connectionArgs(cmd)...)
	parts = append(parts, "--database", shellQuote(f.database), "--table", shellQuote(f.table), "--alter", shellQuote(alter))
	if f.controlSocket != "" {
		parts = append(parts, "--control-socket", shellQuote(f.controlSocket))
	}
	return strings.Join(append(parts, "--execute", last), " ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// shellQuote quotes s for a POSIX shell, when it needs quoting.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
