package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tailor-osc/tailor/internal/backfill"
	"github.com/tailor-osc/tailor/internal/history"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/preflight"
	"github.com/tailor-osc/tailor/internal/versioned"
)

// migrateFlags are the flags of every tailor migrate command; which of
// them a command registers is up to it.
type migrateFlags struct {
	conn             connFlags
	database, dir    string
	output           string
	logFormat        string
	verbose          bool
	outOfOrder       bool
	allowDestructive bool
	maxDirectRows    int64
	// apply's
	execute          bool
	resume           bool
	dropGhost        bool
	lockWait         time.Duration
	forceCopy        bool
	recreateTriggers bool
	copyFlags
	operateFlags
}

func newMigrateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate (plan | apply | status | validate | history) --database DB --dir DIR",
		Short: "Run a folder of versioned migration files (Flyway's naming), every ALTER online",
		Long: `migrate runs a folder of versioned migration files, V<version>__<description>.sql
and R__<description>.sql as Flyway names them, recording each statement in the
table tailor_schema_history of the database. Every ALTER TABLE, CREATE INDEX and
DROP INDEX goes through the same planner and engine as tailor alter (INSTANT
natively where the server can, else an online copy); other DDL runs directly;
an UPDATE or DELETE runs directly below --max-direct-rows and is refused above
it unless marked "-- tailor:backfill"; statements that destroy data need
--allow-destructive or "-- tailor:allow-destructive". See docs/migrate.md.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown migrate command %q: it is plan, apply, status, validate or history; see 'tailor migrate --help'", args[0])}
			}
			return usageError{errors.New("migrate needs a command: plan, apply, status, validate or history; see 'tailor migrate --help'")}
		},
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	cmd.AddCommand(newMigratePlanCommand(), newMigrateApplyCommand(), newMigrateStatusCommand(), newMigrateValidateCommand(), newMigrateHistoryCommand())
	return cmd
}

// register adds the flags every migrate command takes; all but history
// read the folder.
func (f *migrateFlags) register(cmd *cobra.Command, folder bool) {
	f.conn.register(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.database, "database", "", "database (schema) the migrations change, where the history table is kept (required)")
	if folder {
		fs.StringVar(&f.dir, "dir", "", "folder of the migration files, V<version>__<description>.sql and R__<description>.sql (required)")
	}
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&f.verbose, "verbose", false, "log debug detail")
}

// registerChecks adds the flags that decide what is pending and what is
// refused (plan, apply, validate).
func (f *migrateFlags) registerChecks(fs *pflag.FlagSet, routing bool) {
	fs.BoolVar(&f.outOfOrder, "out-of-order", false, "run a pending versioned file older than the newest applied one instead of refusing it")
	if !routing {
		return
	}
	fs.BoolVar(&f.allowDestructive, "allow-destructive", false, "let statements that destroy data run (DROP TABLE, DROP COLUMN, TRUNCATE, ...); without it each needs a \"-- tailor:allow-destructive\" line above it")
	fs.Int64Var(&f.maxDirectRows, "max-direct-rows", versioned.DefaultMaxDirectRows, "an UPDATE or DELETE that EXPLAIN estimates touches more rows is refused, with the advice to mark it \"-- tailor:backfill\"")
}

func (f *migrateFlags) registerOutput(fs *pflag.FlagSet, doc string) {
	fs.StringVar(&f.output, "output", "text", "output format: text, or json ("+doc+")")
}

func newMigratePlanCommand() *cobra.Command {
	f := &migrateFlags{}
	cmd := &cobra.Command{
		Use:   "plan --database DB --dir DIR [--output json]",
		Short: "Plan every pending statement, changing nothing; exit code 3 when one is refused",
		Long: `plan works out how each pending statement would run: each ALTER is planned as
tailor plan plans it, against the table as it is, or, when an earlier pending
statement changes or creates the table, against an empty clone to which the
earlier pending statements were applied (in a scratch database
_tailor_plan_<database>, dropped before plan ends). It prints per statement
the file, the line, the kind, the strategy (native-instant, online-copy,
direct, backfill or refused), the checks and the reasons for a refusal, and
exits with 0 when every statement can run and 3 when one is refused.`,
		Args: noArgs("migrate plan"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runMigratePlan(cmd, f) },
	}
	f.register(cmd, true)
	f.registerChecks(cmd.Flags(), true)
	f.registerOutput(cmd.Flags(), "see docs/migrate.md")
	f.registerApply(cmd.Flags(), false)
	return cmd
}

func newMigrateApplyCommand() *cobra.Command {
	f := &migrateFlags{}
	cmd := &cobra.Command{
		Use:   "apply --database DB --dir DIR [--execute]",
		Short: "Run the pending statements in order (a dry run, which plans them, unless --execute)",
		Long: `apply runs the pending files in order, each statement by its strategy, and
records each statement in tailor_schema_history as it completes. It stops at
the first failure, naming the file, the statement and its line; the next run
continues at that statement. Before running anything it refuses statements
that would be refused (destructive without permission, an UPDATE or DELETE
too large to run directly). One apply runs on a database at a time: a second
waits --lock-wait for the first, then refuses. Without --execute it prints
the plan (migrate plan) and changes nothing.`,
		Args: noArgs("migrate apply"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runMigrateApply(cmd, f) },
	}
	f.register(cmd, true)
	f.registerChecks(cmd.Flags(), true)
	f.registerApply(cmd.Flags(), true)
	return cmd
}

// registerApply adds the flags of the ALTERs' engine; all of them with
// run, only those that change a plan without it.
func (f *migrateFlags) registerApply(fs *pflag.FlagSet, run bool) {
	fs.BoolVar(&f.forceCopy, "force-copy", false, "copy tables online even when the server could make a change INSTANT")
	fs.BoolVar(&f.recreateTriggers, "recreate-triggers", false, "move a table's triggers to the new table at the cut-over (without it, an online copy of a table with triggers is refused)")
	if !run {
		return
	}
	fs.BoolVar(&f.execute, "execute", false, "run the statements; without it, a dry run that prints the plan and changes nothing")
	fs.BoolVar(&f.resume, "resume", false, "continue an online ALTER that the failed statement left resumable (exit code 6), from its saved state")
	fs.BoolVar(&f.dropGhost, "initially-drop-ghost-table", false, "start the online ALTER that the failed statement left over: drop its shadow table <table>_tailor_new and saved state instead of refusing")
	fs.DurationVar(&f.lockWait, "lock-wait", versioned.DefaultLockWait, "how long to wait for another tailor migrate apply on the same database before refusing")
	f.copyFlags.register(fs)
	f.operateFlags.register(fs, "copy and the backfills")
}

func newMigrateStatusCommand() *cobra.Command {
	f := &migrateFlags{}
	cmd := &cobra.Command{
		Use:   "status --database DB --dir DIR [--output json]",
		Short: "Say of each file whether it is applied, pending or failed",
		Args:  noArgs("migrate status"),
		RunE:  func(cmd *cobra.Command, _ []string) error { return runMigrateStatus(cmd, f) },
	}
	f.register(cmd, true)
	f.registerOutput(cmd.Flags(), "an array of files, see docs/migrate.md")
	return cmd
}

func newMigrateValidateCommand() *cobra.Command {
	f := &migrateFlags{}
	cmd := &cobra.Command{
		Use:   "validate --database DB --dir DIR",
		Short: "Check that the folder agrees with the history; exit code 3 when it does not",
		Long: `validate reads the folder and the history and refuses, one sentence each, an
applied file whose text changed, an applied versioned file missing from the
folder, and a pending versioned file older than the newest applied one (unless
--out-of-order). It changes nothing.`,
		Args: noArgs("migrate validate"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runMigrateValidate(cmd, f) },
	}
	f.register(cmd, true)
	f.registerChecks(cmd.Flags(), false)
	return cmd
}

func newMigrateHistoryCommand() *cobra.Command {
	f := &migrateFlags{}
	cmd := &cobra.Command{
		Use:   "history --database DB [--output json]",
		Short: "List the rows of tailor_schema_history, with each statement's strategy and outcome",
		Args:  noArgs("migrate history"),
		RunE:  func(cmd *cobra.Command, _ []string) error { return runMigrateHistory(cmd, f) },
	}
	f.register(cmd, false)
	f.registerOutput(cmd.Flags(), "an array of rows, see docs/migrate.md")
	return cmd
}

func noArgs(name string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Errorf("%s takes no arguments, but was given %q; the folder is --dir", name, args[0])}
		}
		return nil
	}
}

// runner checks the flags and makes the runner; it connects to nothing.
func (f *migrateFlags) runner(cmd *cobra.Command, needDir bool) (*versioned.Runner, error) {
	if f.output != "" && f.output != "text" && f.output != "json" {
		return nil, usageError{fmt.Errorf("--output must be text or json, not %q; see '%s --help'", f.output, cmd.CommandPath())}
	}
	if f.database == "" {
		return nil, usageError{fmt.Errorf("--database is required; see '%s --help'", cmd.CommandPath())}
	}
	cfg := versioned.Config{Database: f.database, DirName: f.dir, OutOfOrder: f.outOfOrder, AllowDestructive: f.allowDestructive,
		MaxDirectRows: f.maxDirectRows, Execute: f.execute, Resume: f.resume, LockWait: f.lockWait}
	if needDir {
		if f.dir == "" {
			return nil, usageError{fmt.Errorf("--dir is required: the folder of migration files; see '%s --help'", cmd.CommandPath())}
		}
		if fi, err := os.Stat(f.dir); err != nil || !fi.IsDir() {
			return nil, usageError{fmt.Errorf("--dir %s is not a folder that can be read", f.dir)}
		}
		cfg.Dir = os.DirFS(f.dir)
	}
	if cmd.Flags().Lookup("execute") != nil {
		if err := f.checkApplyFlags(); err != nil {
			return nil, usageError{fmt.Errorf("%w; see '%s --help'", err, cmd.CommandPath())}
		}
		if f.lockWait < 0 {
			cfg.LockWait = -1
		} else if f.lockWait == 0 {
			cfg.LockWait = -1 // zero: do not wait
		}
	}
	logger, err := newLogger(cmd.ErrOrStderr(), f.logFormat, f.verbose)
	if err != nil {
		return nil, err
	}
	cfg.Logger = logger
	if cfg.Conn, err = f.conn.resolve(cmd, cmd.InOrStdin(), cmd.ErrOrStderr()); err != nil {
		return nil, err
	}
	cfg.Alter, cfg.Backfill = f.engineConfigs(cmd)
	r, err := versioned.New(cfg)
	if err != nil {
		return nil, usageError{fmt.Errorf("%w; see '%s --help'", err, cmd.CommandPath())}
	}
	v := currentVersion()
	logger.Info("tailor starting", "version", v.Version, "commit", v.Commit, "go", v.Go)
	return r, nil
}

// checkApplyFlags refuses the zeros the engines' Defaults would take for
// "not set", as alter does.
func (f *migrateFlags) checkApplyFlags() error {
	return errors.Join(append(f.copyFlags.checkZeros(), f.operateFlags.checkZeros()...)...)
}

// engineConfigs are the templates of the ALTERs' and the backfills'
// configurations: everything but the statement.
func (f *migrateFlags) engineConfigs(cmd *cobra.Command) (migrate.Config, backfill.Config) {
	a := migrate.Config{ForceCopy: f.forceCopy, RecreateTriggers: f.recreateTriggers}
	b := backfill.Config{}
	if cmd.Flags().Lookup("execute") == nil {
		return a, b
	}
	// The throttle, control and hooks are the same for both engines; the
	// copy's flags then set the copy's chunk size, and the backfill's
	// batches start at the same size.
	a.Settings, b.Settings = f.settings(), f.settings()
	chunkSizeGiven := cmd.Flags().Changed("chunk-size")
	f.copyFlags.apply(&a, chunkSizeGiven)
	a.InitiallyDropGhostTable = f.dropGhost
	b.ChunkSize = f.chunkSize
	if !chunkSizeGiven {
		b.ChunkTime = f.chunkTime
	}
	return a, b
}

func runMigratePlan(cmd *cobra.Command, f *migrateFlags) error {
	r, err := f.runner(cmd, true)
	if err != nil {
		return err
	}
	p, err := r.Plan(cmd.Context())
	if err != nil {
		return err
	}
	if f.output == "json" {
		if err := writeMigrateJSON(cmd.OutOrStdout(), p); err != nil {
			return err
		}
	} else {
		writeMigratePlan(cmd.OutOrStdout(), p)
	}
	return refusedMigratePlan(p)
}

// refusedMigratePlan is the error (exit code 3) of a plan that refuses a
// statement.
func refusedMigratePlan(p *versioned.Plan) error {
	if p.OK {
		return nil
	}
	n := 0
	for _, fp := range p.Files {
		for _, s := range fp.Statements {
			if s.Strategy == versioned.Refused {
				n++
			}
		}
	}
	return &migrate.Error{Kind: migrate.KindInvalid, Err: fmt.Errorf("%d pending statement(s) would be refused; the plan above says why", n)}
}

func runMigrateApply(cmd *cobra.Command, f *migrateFlags) error {
	r, err := f.runner(cmd, true)
	if err != nil {
		return err
	}
	res, err := r.Apply(cmd.Context())
	w := cmd.OutOrStdout()
	if res != nil && res.DryRun {
		fmt.Fprintln(w, "Dry run: nothing was changed. Add --execute to run the pending statements.")
		fmt.Fprintln(w)
		writeMigratePlan(w, res.Plan)
		return refusedMigratePlan(res.Plan)
	}
	if res != nil {
		writeApplied(w, res)
	}
	if err != nil {
		return err
	}
	if len(res.Files) == 0 {
		fmt.Fprintln(w, "Up to date: no pending file.")
	}
	return nil
}

func writeApplied(w io.Writer, res *versioned.Result) {
	for _, fr := range res.Files {
		from := ""
		if fr.StartAt > 1 {
			from = fmt.Sprintf(", continued at statement %d", fr.StartAt)
		}
		fmt.Fprintf(w, "%s%s\n", fr.File, from)
		for _, s := range fr.Statements {
			detail := ""
			if s.Detail != "" {
				detail = ": " + s.Detail
			}
			fmt.Fprintf(w, "  statement %d (line %d): %s, %s%s\n", s.Statement, s.Line, s.Strategy, s.Elapsed.Round(time.Millisecond), detail)
		}
	}
}

func runMigrateStatus(cmd *cobra.Command, f *migrateFlags) error {
	r, err := f.runner(cmd, true)
	if err != nil {
		return err
	}
	st, err := r.Status(cmd.Context())
	if err != nil {
		return err
	}
	if f.output == "json" {
		if st == nil {
			st = []versioned.FileStatus{}
		}
		return writeMigrateJSON(cmd.OutOrStdout(), st)
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tSTATE\tSTATEMENTS\tINSTALLED ON (UTC)\tERROR")
	for _, s := range st {
		on := "-"
		if s.InstalledOn != nil {
			on = s.InstalledOn.Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", s.File, s.State, s.StatementsDone, s.StatementsTotal, on, s.Error)
	}
	return tw.Flush()
}

func runMigrateValidate(cmd *cobra.Command, f *migrateFlags) error {
	r, err := f.runner(cmd, true)
	if err != nil {
		return err
	}
	if err := r.Validate(cmd.Context()); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), "The folder agrees with the history.")
	return nil
}

func runMigrateHistory(cmd *cobra.Command, f *migrateFlags) error {
	r, err := f.runner(cmd, false)
	if err != nil {
		return err
	}
	entries, err := r.History(cmd.Context())
	if err != nil {
		return err
	}
	if f.output == "json" {
		return writeMigrateJSON(cmd.OutOrStdout(), historyJSON(entries))
	}
	w := cmd.OutOrStdout()
	if len(entries) == 0 {
		fmt.Fprintln(w, "No migration has run on this database.")
		return nil
	}
	for _, e := range entries {
		fmt.Fprintf(w, "#%d %s: %s, %d/%d statements, by %s on %s UTC in %s\n", e.InstalledRank, e.Script, e.State,
			e.StatementsDone, e.StatementsTotal, e.InstalledBy, e.InstalledOn.Format("2006-01-02 15:04:05"), e.ExecutionTime)
		for _, s := range e.Statements {
			line := fmt.Sprintf("  statement %d: %s, %s, %dms", s.Index+1, s.Strategy, s.Outcome, s.ExecutionMS)
			if s.Error != "" {
				line += ": " + s.Error
			}
			fmt.Fprintln(w, line)
		}
		if e.Error != "" {
			fmt.Fprintln(w, "  error: "+e.Error)
		}
	}
	return nil
}

// historyEntry is a history row in --output json: the table's columns.
type historyEntry struct {
	InstalledRank   int64                     `json:"installed_rank"`
	Version         string                    `json:"version"`
	Description     string                    `json:"description"`
	Type            history.Type              `json:"type"`
	Script          string                    `json:"script"`
	Checksum        string                    `json:"checksum"`
	InstalledBy     string                    `json:"installed_by"`
	InstalledOn     time.Time                 `json:"installed_on"`
	ExecutionMS     int64                     `json:"execution_ms"`
	State           history.State             `json:"state"`
	StatementsTotal int                       `json:"statements_total"`
	StatementsDone  int                       `json:"statements_done"`
	Statements      []history.StatementResult `json:"statements"`
	Error           string                    `json:"error_text"`
}

func historyJSON(entries []history.Entry) []historyEntry {
	out := []historyEntry{}
	for _, e := range entries {
		sts := e.Statements
		if sts == nil {
			sts = []history.StatementResult{}
		}
		out = append(out, historyEntry{e.InstalledRank, e.Version, e.Description, e.Type, e.Script, e.Checksum, e.InstalledBy,
			e.InstalledOn, e.ExecutionTime.Milliseconds(), e.State, e.StatementsTotal, e.StatementsDone, sts, e.Error})
	}
	return out
}

// writeMigrateJSON writes one indented JSON document.
func writeMigrateJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write the output: %w", err)
	}
	return nil
}

// writeMigratePlan renders a migrate plan for a person: per pending
// statement its place, kind and strategy, then what needs reading: the
// refusal, the checks that did not pass, the size, the advice and notes.
func writeMigratePlan(w io.Writer, p *versioned.Plan) {
	n, refused := 0, 0
	for _, fp := range p.Files {
		for _, s := range fp.Statements {
			n++
			if s.Strategy == versioned.Refused {
				refused++
			}
		}
	}
	switch {
	case len(p.Files) == 0:
		fmt.Fprintf(w, "Migration plan for `%s`: up to date, no pending file.\n", p.Database)
		return
	case p.OK:
		fmt.Fprintf(w, "Migration plan for `%s`: %d pending statement(s) in %d file(s); OK, every one can run.\n", p.Database, n, len(p.Files))
	default:
		fmt.Fprintf(w, "Migration plan for `%s`: %d pending statement(s) in %d file(s); REFUSED: %d would not run as written.\n", p.Database, n, len(p.Files), refused)
	}
	for _, fp := range p.Files {
		fmt.Fprintln(w)
		head := fp.File
		if fp.StartAt > 1 {
			head += fmt.Sprintf(" (continues at statement %d)", fp.StartAt)
		}
		fmt.Fprintln(w, head)
		for _, s := range fp.Statements {
			on := ""
			if s.Table != "" {
				on = " " + s.Table
			}
			fmt.Fprintf(w, "  statement %d, line %d: %s%s\n", s.Statement, s.Line, s.Kind, on)
			reason := s.Reason
			if s.Strategy == versioned.Refused {
				reason = ""
			}
			field(w, "strategy", strings.TrimSpace(string(s.Strategy)+". "+reason))
			for _, r := range s.RefusedBecause {
				field(w, "refused", r)
			}
			switch s.PlannedAgainst {
			case "table":
				field(w, "planned", "against the table as it is")
			case "clone":
				field(w, "planned", "against an empty clone with the earlier pending statements applied")
			}
			if s.Rows >= 0 && s.Strategy != versioned.Direct || s.Kind == "dml-update" || s.Kind == "dml-delete" {
				if s.Rows >= 0 {
					field(w, "rows", fmt.Sprintf("about %d", s.Rows))
				}
			}
			if len(s.Checks) > 0 {
				field(w, "checks", checkSummary(s.Checks))
				for _, c := range s.Checks {
					if c.Status != preflight.Pass {
						field(w, "  "+string(c.Status), c.Name+": "+c.Message)
					}
				}
			}
			if s.Estimate != "" {
				field(w, "estimate", s.Estimate)
			}
			for _, a := range s.Advice {
				field(w, "advice", a.Why)
				for i, step := range a.Steps {
					field(w, "", fmt.Sprintf("%d. %s", i+1, step.Do))
				}
			}
			for _, note := range s.Notes {
				field(w, "note", note)
			}
		}
	}
}

func field(w io.Writer, label, value string) {
	fmt.Fprintf(w, "    %-10s %s\n", label, value)
}

func checkSummary(checks []preflight.Check) string {
	counts := map[preflight.Status]int{}
	for _, c := range checks {
		counts[c.Status]++
	}
	s := fmt.Sprintf("%d passed", counts[preflight.Pass])
	if n := counts[preflight.Warn]; n > 0 {
		s += fmt.Sprintf(", %d warning(s)", n)
	}
	if n := counts[preflight.Fail]; n > 0 {
		s += fmt.Sprintf(", %d failed", n)
	}
	return s
}
