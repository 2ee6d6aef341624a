package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/migrate"
)

type ctlFlags struct {
	controlSocket string
	// socket is --socket, ctl's name for --control-socket until the
	// server's socket took that name in alter, plan and status.
	socket          string
	database, table string
	timeout         time.Duration
}

func newCtlCommand() *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "ctl [--control-socket PATH | --database DB --table T] COMMAND",
		Short: "Talk to a running migration or backfill: status, pause, resume, chunk-size=N, cut-over, abort, ...",
		Long: `ctl sends one command to the control socket of a running tailor alter --execute
(or tailor backfill --execute, which takes every command but cut-over) and
prints the reply. Commands: status (status json for JSON), pause, resume,
chunk-size=N, max-lag-millis=N, max-load=Var=N[,...], cut-over, abort, help.
The socket is --control-socket, or the default of the migration of
--database.--table.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("ctl needs a command, such as status; see 'tailor ctl --help'")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runCtl(cmd, f, args) },
	}
	fs := cmd.Flags()
	fs.StringVar(&f.controlSocket, "control-socket", "", "control socket of the migration (default: the one of --database and --table)")
	fs.StringVar(&f.socket, "socket", "", "deprecated: --control-socket")
	_ = fs.MarkHidden("socket")
	fs.StringVar(&f.database, "database", "", "database of the migrated table, to find its default socket")
	fs.StringVar(&f.table, "table", "", "migrated table, to find its default socket")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long to wait for the reply")
	return cmd
}

func runCtl(cmd *cobra.Command, f *ctlFlags, args []string) error {
	path := f.controlSocket
	if cmd.Flags().Changed("socket") {
		if cmd.Flags().Changed("control-socket") {
			return usageError{errors.New("ctl --socket is the old name of --control-socket: give only --control-socket")}
		}
		// In alter, plan and status --socket is the server's unix socket;
		// the old name stays working here, with a warning, for scripts.
		fmt.Fprintln(cmd.ErrOrStderr(), "tailor: warning: ctl --socket is deprecated, since --socket names the server's socket in the other commands: use --control-socket")
		path = f.socket
	}
	switch {
	case f.timeout <= 0:
		return usageError{fmt.Errorf("--timeout must be positive, not %s", f.timeout)}
	case path != "" && (f.database != "" || f.table != ""):
		return usageError{errors.New("give either --control-socket or --database and --table, not both")}
	case path == "" && (f.database == "" || f.table == ""):
		return usageError{errors.New("ctl needs --control-socket, or --database and --table to find the migration's socket")}
	case path == "":
		path = migrate.DefaultControlSocket(f.database, f.table)
	}
	line := strings.Join(args, " ")
	if _, err := control.ParseCommand(line); err != nil {
		return usageError{err}
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	reply, err := control.Send(ctx, path, line)
	var ce *control.CommandError
	switch {
	case errors.As(err, &ce):
		return &migrate.Error{Kind: migrate.KindInvalid, Err: fmt.Errorf("the migration refused %q: %s", line, strings.TrimPrefix(ce.Msg, "error: "))}
	case err != nil:
		return &migrate.Error{Kind: migrate.KindConnect, Err: fmt.Errorf("no migration answers on %s (%v); is tailor alter --execute running, and is this its socket?", path, err)}
	}
	fmt.Fprintln(cmd.OutOrStdout(), reply)
	return nil
}
