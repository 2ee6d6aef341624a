package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tailor-osc/tailor/internal/versioned"
)

// execFlags are tailor exec's: migrate apply's, for one file named by
// --file instead of a folder.
type execFlags struct {
	migrateFlags
	file string
	from int
}

func newExecCommand() *cobra.Command {
	f := &execFlags{}
	cmd := &cobra.Command{
		Use:   "exec --database DB --file F [--execute]",
		Short: "Run one file of SQL statements as migrate apply would, outside any history (a dry run unless --execute)",
		Long: `exec runs the statements of one file the way migrate apply runs a pending file:
each ALTER TABLE, CREATE INDEX and DROP INDEX online (INSTANT natively where
the server can, else tailor's online copy), other DDL directly, an UPDATE or
DELETE directly below --max-direct-rows, "-- tailor:backfill" statements as
backfills, destructive statements only when allowed. It records nothing in
tailor_schema_history: it is for other migration runners (Flyway, Liquibase,
golang-migrate, skeema) to hand tailor the statements they must not run
themselves. It stops at the first failure naming the statement; run it again
with --from-statement N to continue there (and --resume for an online ALTER
that stopped with its work kept). Without --execute it prints the plan.`,
		Args: noArgs("exec"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runExec(cmd, f) },
	}
	f.conn.register(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.database, "database", "", "database (schema) the statements run in: the default for the names they do not qualify (required)")
	fs.StringVar(&f.file, "file", "", "the file of statements, ended by ; (DELIMITER changes it) (required)")
	fs.IntVar(&f.from, "from-statement", 1, "the first statement to run, from 1: the one a run that stopped named")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&f.verbose, "verbose", false, "log debug detail")
	fs.BoolVar(&f.allowDestructive, "allow-destructive", false, "let statements that destroy data run (DROP TABLE, DROP COLUMN, TRUNCATE, ...); without it each needs a \"-- tailor:allow-destructive\" line above it")
	fs.Int64Var(&f.maxDirectRows, "max-direct-rows", versioned.DefaultMaxDirectRows, "an UPDATE or DELETE that EXPLAIN estimates touches more rows is refused, with the advice to mark it \"-- tailor:backfill\"")
	f.registerOutput(fs, "the plan of a dry run, see docs/migrate.md")
	f.registerApply(fs, true)
	return cmd
}

func runExec(cmd *cobra.Command, f *execFlags) error {
	if f.file == "" {
		return usageError{fmt.Errorf("--file is required: the file of statements to run; see '%s --help'", cmd.CommandPath())}
	}
	if f.from < 1 {
		return usageError{fmt.Errorf("--from-statement must be 1 or more, not %d; see '%s --help'", f.from, cmd.CommandPath())}
	}
	r, err := f.runner(cmd, false)
	if err != nil {
		return err
	}
	res, err := r.Exec(cmd.Context(), versioned.ExecFile{Path: f.file, From: f.from})
	w := cmd.OutOrStdout()
	if res != nil && res.DryRun {
		if f.output == "json" {
			if err := writeMigrateJSON(w, res.Plan); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(w, "Dry run: nothing was changed. Add --execute to run the statements.")
			fmt.Fprintln(w)
			writeMigratePlan(w, res.Plan)
		}
		return refusedMigratePlan(res.Plan)
	}
	var se *versioned.StatementError
	stopped := errors.As(err, &se)
	if f.output == "json" && (res != nil || stopped) {
		doc := execResult{File: f.file, Statements: []execStatement{}}
		if res != nil && len(res.Files) > 0 {
			for _, s := range res.Files[0].Statements {
				doc.Statements = append(doc.Statements, execStatement{s.Statement, s.Line, string(s.Strategy), s.Elapsed.Milliseconds(), s.Detail})
			}
		}
		if err != nil {
			doc.Error, doc.ExitCode = oneLine(err.Error()), exitCode(err)
		}
		if stopped {
			doc.StoppedAt = se.Statement
		}
		if werr := writeMigrateJSON(w, doc); werr != nil && err == nil {
			return werr
		}
		return err
	}
	if res != nil {
		writeApplied(w, res)
	}
	if stopped {
		fmt.Fprintf(w, "Stopped at statement %d; to continue there: --from-statement %d\n", se.Statement, se.Statement)
	}
	return err
}

// execResult is what tailor exec --execute --output json prints, whether
// the run ends well or not (docs/migrate.md).
type execResult struct {
	File       string          `json:"file"`
	Statements []execStatement `json:"statements"`
	// StoppedAt is the statement the run stopped at, from 1; 0 when it
	// ran every statement.
	StoppedAt int    `json:"stopped_at"`
	Error     string `json:"error"`
	ExitCode  int    `json:"exit_code"`
}

// execStatement is one statement that ran.
type execStatement struct {
	Statement int    `json:"statement"`
	Line      int    `json:"line"`
	Strategy  string `json:"strategy"`
	ElapsedMS int64  `json:"elapsed_ms"`
	Detail    string `json:"detail"`
}
