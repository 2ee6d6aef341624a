package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/plan"
	"github.com/tailor-osc/tailor/internal/preflight"
)

type planFlags struct {
	changeFlags
	output string
}

func newPlanCommand() *cobra.Command {
	f := &planFlags{}
	cmd := &cobra.Command{
		Use:   "plan --database DB --table T --alter \"...\" [--output json]",
		Short: "Show what a change would do on this server, changing nothing",
		Long: `plan connects, learns from the server how it would run the ALTER itself
(INSTANT, INPLACE or COPY, tried on an empty clone of the table), runs every
check tailor makes before a change, estimates the time an online copy takes,
and suggests a safer sequence for risky changes. Nothing users can see is
changed. The exit code is 0 when no check fails and 3 when one does.`,
		Args: func(_ *cobra.Command, args []string) error { return f.checkNoArgs("plan", args) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd, f)
		},
	}
	f.changeFlags.register(cmd)
	cmd.Flags().StringVar(&f.output, "output", "text", "output format: text, or json (one JSON document, see docs/plan-json.md)")
	return cmd
}

func runPlan(cmd *cobra.Command, f *planFlags) error {
	if f.output != "text" && f.output != "json" {
		return usageError{fmt.Errorf("--output must be text or json, not %q; see '%s --help'", f.output, cmd.CommandPath())}
	}
	logger, err := newLogger(cmd.ErrOrStderr(), f.logFormat, f.verbose)
	if err != nil {
		return err
	}
	conn, err := f.conn.resolve(cmd, cmd.InOrStdin(), cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	res, err := runMigration(cmd, f.config(conn, logger), nil, nil)
	if err != nil {
		return err
	}
	if f.output == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // the advice's SQL holds < and >
		if err := enc.Encode(res.Plan); err != nil {
			return fmt.Errorf("write the plan: %w", err)
		}
	} else {
		res.Plan.WriteText(cmd.OutOrStdout())
	}
	return refusedPlan(res.Plan)
}

// refusedPlan is the error (exit code 3) for a plan that refuses the
// change, counting the reasons the plan printed; nil when it does not.
func refusedPlan(p *plan.Plan) error {
	if p.OK {
		return nil
	}
	var failed []string
	for _, c := range preflight.Failed(p.Checks) {
		failed = append(failed, c.Name)
	}
	what := fmt.Sprintf("%d reason(s)", len(p.RefusedBecause))
	if len(failed) > 0 {
		what += ", failed checks: " + strings.Join(failed, ", ")
	}
	return &migrate.Error{Kind: migrate.KindInvalid, Err: fmt.Errorf("the change would be refused (%s); the plan above says why", what)}
}
