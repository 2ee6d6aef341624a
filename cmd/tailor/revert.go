package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tailor-osc/tailor/internal/migrate"
)

// revertHidden are alter's flags that mean nothing to a revert, which
// copies no row and makes no ALTER; they are left out of its help.
var revertHidden = []string{"alter", "force-copy", "recreate-triggers", "defer-indexes", "instant-lock-timeout-seconds",
	"instant-attempts", "chunk-size", "chunk-time", "initially-drop-ghost-table", "max-commit-latency", "time-zone"}

func newRevertCommand() *cobra.Command {
	f := &alterFlags{revert: true}
	cmd := &cobra.Command{
		Use:   "revert --database DB --table T [--execute]",
		Short: "Undo the last migration of a table, keeping every write made since its cut-over (a dry run unless --execute)",
		Long: `revert undoes the last migration of a table without losing a write: it applies
every change made to the table since the migration's cut-over, read from the
binary log, to the old table the migration kept (columns mapped back), checks
the two, and swaps them with the same cut-over as alter. The table it replaces
is kept in turn, so a revert can be reverted. A revert that stops keeps its
work: run it again to continue. Without --execute it only checks and says
what it would do.`,
		Args: func(_ *cobra.Command, args []string) error { return f.checkNoArgs("revert", args) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAlter(cmd, f)
		},
	}
	f.register(cmd)
	for _, name := range revertHidden {
		_ = cmd.Flags().MarkHidden(name)
	}
	return cmd
}

func printRevertPlan(w io.Writer, p *migrate.RevertPlan) {
	fmt.Fprintln(w, "Dry run: nothing was changed. Add --execute to revert.")
	if p.InProgress {
		fmt.Fprintf(w, "A revert of %q stopped; running it again continues it.\n", p.Alter)
	}
	fmt.Fprintf(w, "  undoes:           %s\n", p.Alter)
	fmt.Fprintf(w, "  writes since:     %s (the cut-over), applied to %s\n", p.Since, p.Kept)
	fmt.Fprintf(w, "  then swaps:       %s back in; the table now in place is kept as %s\n", p.Kept, p.Replaced)
}
