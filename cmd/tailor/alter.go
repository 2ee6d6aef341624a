package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/throttle"
)

// changeFlags are the flags that name the change, shared by alter and plan.
type changeFlags struct {
	conn                   connFlags
	database, table, alter string
	forceCopy              bool
	recreateTriggers       bool
	timeZone               string
	logFormat              string
	verbose                bool
}

func (f *changeFlags) register(cmd *cobra.Command) {
	f.conn.register(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.database, "database", "", "database (schema) of the table (required)")
	fs.StringVar(&f.table, "table", "", "table to migrate (required)")
	fs.StringVar(&f.alter, "alter", "", "the change, as ALTER TABLE clauses: \"ADD COLUMN x INT, DROP COLUMN y\" (required)")
	fs.BoolVar(&f.forceCopy, "force-copy", false, "copy the table online even when the server could make the change INSTANT")
	fs.BoolVar(&f.recreateTriggers, "recreate-triggers", false, "move the table's triggers to the new table at the cut-over (without it, a table with triggers is refused)")
	fs.StringVar(&f.timeZone, "time-zone", "", "time zone in which a value that moves between a TIMESTAMP and another type (a TIMESTAMP that becomes a DATETIME) is converted, as the server's own ALTER converts it in its session's: an offset (+02:00), SYSTEM or a zone the server knows (default: the server's @@global.time_zone)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&f.verbose, "verbose", false, "log debug detail")
}

// checkNoArgs refuses arguments. "--password secret" is the likeliest
// source of one: --password takes its value only after "=" (it asks for
// the password when given alone, like the mysql client's), so "secret"
// arrives here as an argument, and must not be echoed back onto a screen
// or into a CI log.
func (f *changeFlags) checkNoArgs(cmd string, args []string) error {
	switch {
	case len(args) == 0:
		return nil
	case f.conn.password == promptSentinel:
		return usageError{fmt.Errorf("%s takes no arguments, and the one after --password was not read as the password: write --password=VALUE, or better use MYSQL_PWD or --defaults-file", cmd)}
	case isDSN(args[0]):
		// Not echoed: a DSN may hold p=PASSWORD.
		return usageError{fmt.Errorf("%s takes no arguments, and pt-online-schema-change's DSN is given as flags: D= is --database, t= --table, h= --host, P= --port, S= --socket, u= --user, F= --defaults-file, p= --password=VALUE", cmd)}
	}
	return usageError{fmt.Errorf("%s takes no arguments, but was given %q; put the whole change in one --alter, quoted", cmd, args[0])}
}

// isDSN reports whether arg is a pt-online-schema-change DSN
// ("h=db1,D=shop,t=orders"): comma-separated KEY=VALUE parts, each key a
// single letter.
func isDSN(arg string) bool {
	for _, part := range strings.Split(arg, ",") {
		if k, _, ok := strings.Cut(part, "="); !ok || len(k) != 1 {
			return false
		}
	}
	return true
}

// operateFlags are the flags of a long-running command that work on the
// live server (alter, revert, backfill): throttling, control, hooks,
// progress and reconnection.
type operateFlags struct {
	progressInterval      time.Duration
	reconnectTimeout      time.Duration
	maxLagMillis          int
	controlReplicas       string
	maxLoad, criticalLoad string
	criticalHibernateSecs int
	throttleFlagFile      string
	throttleQuery         string
	panicFlagFile         string
	controlSocket         string
	httpAddr              string
	hooksPath             string
	// maxRedoFill is --max-redo-fill, in percent.
	maxRedoFill int
}

// register adds the flags; what names the work ("copy", "backfill").
func (f *operateFlags) register(fs *pflag.FlagSet, what string) {
	fs.DurationVar(&f.progressInterval, "progress-interval", 5*time.Second, "how often progress is reported")
	fs.DurationVar(&f.reconnectTimeout, "reconnect-timeout", operate.DefaultReconnectTimeout, "how long work whose connection to the server was lost (a killed session, a network cut, a server restart) is retried before tailor gives up (1s to 24h)")
	fs.IntVar(&f.maxLagMillis, "max-lag-millis", 1500, "throttle the "+what+" while a replica lags more than this, measured with a heartbeat")
	fs.StringVar(&f.controlReplicas, "throttle-control-replicas", "", "comma-separated host:port of the replicas whose lag throttles the "+what+" (default: discovered from the primary)")
	fs.StringVar(&f.maxLoad, "max-load", "", "throttle while a global status variable reaches its threshold, e.g. Threads_running=25,Threads_connected=500")
	fs.StringVar(&f.criticalLoad, "critical-load", "", "abort (or hibernate) when a global status variable reaches its threshold, e.g. Threads_running=100")
	fs.IntVar(&f.criticalHibernateSecs, "critical-load-hibernate-seconds", 0, "on critical load, pause all work this long instead of aborting (0: abort)")
	fs.StringVar(&f.throttleFlagFile, "throttle-flag-file", "", "throttle the "+what+" while this file exists")
	fs.StringVar(&f.throttleQuery, "throttle-query", "", "throttle while this query returns a number > 0")
	fs.StringVar(&f.panicFlagFile, "panic-flag-file", "", "abort at once when this file appears")
	fs.StringVar(&f.controlSocket, "control-socket", "", "unix socket (mode 0600) for status and commands (default: $TMPDIR/tailor.<database>.<table>.sock)")
	fs.StringVar(&f.httpAddr, "http", "", "also serve status (JSON), commands and Prometheus metrics over HTTP on this loopback address, e.g. 127.0.0.1:9187")
	fs.StringVar(&f.hooksPath, "hooks-path", "", "directory of executables run at the "+what+"'s moments (see docs/hooks.md)")
	fs.IntVar(&f.maxRedoFill, "max-redo-fill", int(math.Round(operate.DefaultMaxRedoFill*100)), "percent of InnoDB's checkpoint age limit (Innodb_checkpoint_max_age) above which the next write of the "+what+" waits, at most 5s, for the server to flush its redo log; at the limit InnoDB stalls every write on the server (1 to 100; 100 never waits)")
}

// registerChecksumDuringCopy adds --checksum-during-copy, and
// --checksum-after-copy, which chose the comparison after the copy when the
// one during it was the default (one release), and is accepted with a
// notice.
func registerChecksumDuringCopy(fs *pflag.FlagSet, during *bool) {
	fs.BoolVar(during, "checksum-during-copy", false, "compare the copied ranges while the copy runs (one connection, a snapshot about every second) and after it only the rest and the rows changed since, instead of the whole table after the copy; it does not see a row of the new table that another session changed after its range was compared, and on a server with few cores it is no faster")
	fs.Bool("checksum-after-copy", true, "compare the whole table after the copy (the default)")
	_ = fs.MarkDeprecated("checksum-after-copy", "the checksum compares after the copy by default; --checksum-during-copy compares most of it during the copy")
}

// settings are how the run is operated, the same for every command that
// copies or changes rows: the throttle, the redo log's limit, the control
// endpoints, the hooks, the progress and the reconnect timeout.
func (f *operateFlags) settings() operate.Settings {
	return operate.Settings{
		Throttle:         f.limits(),
		MaxRedoFill:      float64(f.maxRedoFill) / 100,
		ControlSocket:    f.controlSocket,
		HTTPAddr:         f.httpAddr,
		HooksPath:        f.hooksPath,
		ProgressInterval: f.progressInterval,
		ReconnectTimeout: f.reconnectTimeout,
	}
}

// checkZeros refuses the zeros that a Config's Defaults would take for
// "not set" (see alterFlags.checkZeros), and values out of range.
func (f *operateFlags) checkZeros() []error {
	var errs []error
	if f.maxRedoFill < 1 || f.maxRedoFill > 100 {
		errs = append(errs, fmt.Errorf("--max-redo-fill must be between 1 and 100 (percent), not %d", f.maxRedoFill))
	}
	if f.progressInterval == 0 {
		errs = append(errs, errors.New("--progress-interval must be at least 100ms, not 0s"))
	}
	if f.reconnectTimeout == 0 {
		errs = append(errs, errors.New("--reconnect-timeout must be between 1s and 24h, not 0s"))
	}
	// The throttle's limits, all of them, before a password is asked
	// for; the Configs' Validate checks them again for callers in code.
	if err := f.limits().Validate(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// limits are the throttle's flags, the same for every command that copies
// or changes rows.
func (f *operateFlags) limits() throttle.Limits {
	return throttle.Limits{
		MaxLag:                time.Duration(f.maxLagMillis) * time.Millisecond,
		Replicas:              f.replicas(),
		MaxLoad:               f.maxLoad,
		CriticalLoad:          f.criticalLoad,
		CriticalLoadHibernate: time.Duration(f.criticalHibernateSecs) * time.Second,
		FlagFile:              f.throttleFlagFile,
		PanicFlagFile:         f.panicFlagFile,
		Query:                 f.throttleQuery,
	}
}

// replicas is --throttle-control-replicas as a list; nil when not given.
func (f *operateFlags) replicas() []string {
	var out []string
	for _, r := range strings.Split(f.controlReplicas, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

type alterFlags struct {
	changeFlags
	execute                 bool
	okToDropTable           bool
	initiallyDropGhostTable bool
	resume                  bool
	replicaServerID         uint32
	postponeFlagFile        string
	copyFlags
	operateFlags
	// revert is set for tailor revert, which takes alter's flags.
	revert bool
}

func newAlterCommand() *cobra.Command {
	f := &alterFlags{}
	cmd := &cobra.Command{
		Use:   "alter --database DB --table T --alter \"...\" [--execute]",
		Short: "Change a table's schema online (a dry run unless --execute)",
		Long: `alter changes the schema of one table without blocking its readers and writers:
it creates a shadow table with the new schema, copies the rows in key-range
chunks while applying every change captured from the binary log, and swaps
the two tables atomically. Without --execute it only connects, validates and
prints what it would do.`,
		Args: func(_ *cobra.Command, args []string) error { return f.checkNoArgs("alter", args) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAlter(cmd, f)
		},
	}
	f.register(cmd)
	return cmd
}

// register adds alter's flags (revert takes them too).
func (f *alterFlags) register(cmd *cobra.Command) {
	f.changeFlags.register(cmd)
	fs := cmd.Flags()
	fs.BoolVar(&f.execute, "execute", false, "make the change; without it, a dry run that changes nothing")
	f.copyFlags.register(fs)
	fs.BoolVar(&f.okToDropTable, "ok-to-drop-table", false, "drop the old table after the cut-over instead of keeping it as <table>_tailor_old")
	fs.BoolVar(&f.initiallyDropGhostTable, "initially-drop-ghost-table", false, "drop a shadow table <table>_tailor_new and the saved state <table>_tailor_state left by an earlier run instead of refusing to start")
	fs.BoolVar(&f.resume, "resume", false, "continue the stopped migration whose saved state <table>_tailor_state an earlier run left, from where it stopped")
	fs.Uint32Var(&f.replicaServerID, "replica-server-id", 0, "server id the binary log reader registers with (default: random)")
	fs.StringVar(&f.postponeFlagFile, "postpone-cut-over-flag-file", "", "while this file exists, keep the new table in step and wait before the cut-over; remove it (or send cut-over) to swap")
	f.operateFlags.register(fs, "copy")
	// Last: a gh-ost flag of a name tailor has is tailor's.
	registerGhostFlags(fs)
}

// checkZeros refuses zeros that the Config's Defaults would read as "not
// set" (see copyFlags.checkZeros).
func (f *alterFlags) checkZeros() error {
	return errors.Join(append(f.copyFlags.checkZeros(), f.operateFlags.checkZeros()...)...)
}

func runAlter(cmd *cobra.Command, f *alterFlags) error {
	ghostNotes, err := applyGhostFlags(cmd.Flags())
	if err != nil {
		return err
	}
	// On a terminal a progress bar is redrawn in place below the log;
	// elsewhere (a file, a CI log) progress is a log line at an interval.
	logOut := cmd.ErrOrStderr()
	var bar *progressBar
	if f.execute && f.logFormat == "text" && isTerminal(logOut) {
		bar = &progressBar{out: logOut}
		logOut = bar
	}
	logger, err := newLogger(logOut, f.logFormat, f.verbose)
	if err != nil {
		return err
	}
	cfg, err := f.migrationConfig(cmd, logger)
	if err != nil {
		return err
	}
	cfg.QuietProgress = bar != nil
	res, err := runMigration(cmd, cfg, bar, ghostNotes)
	if err != nil {
		return err
	}
	if res.DryRun && res.Revert != nil {
		printRevertPlan(cmd.OutOrStdout(), res.Revert)
		return nil
	}
	if res.DryRun {
		fmt.Fprintln(cmd.OutOrStdout(), "Dry run: nothing was changed. Add --execute to make the change.")
		fmt.Fprintln(cmd.OutOrStdout())
		res.Plan.WriteText(cmd.OutOrStdout())
		return refusedPlan(res.Plan)
	}
	printResult(cmd.OutOrStdout(), res)
	return nil
}

// migrationConfig checks alter's flags and turns them into the migration's
// configuration, asking for the password when it must; it connects to
// nothing.
func (f *alterFlags) migrationConfig(cmd *cobra.Command, logger *slog.Logger) (migrate.Config, error) {
	if err := f.checkZeros(); err != nil {
		return migrate.Config{}, usageError{fmt.Errorf("%w; see '%s --help'", err, cmd.CommandPath())}
	}
	if f.revert && cmd.Flags().Changed("time-zone") {
		return migrate.Config{}, usageError{errors.New("revert converts values between a TIMESTAMP and another type in the time zone its migration saved, and takes no --time-zone; leave it out")}
	}
	conn, err := f.conn.resolve(cmd, cmd.InOrStdin(), cmd.ErrOrStderr())
	if err != nil {
		return migrate.Config{}, err
	}
	cfg := f.config(conn, logger)
	cfg.Revert = f.revert
	cfg.Execute = f.execute
	// The Settings first: the copy's flags set their chunk size.
	cfg.Settings = f.settings()
	f.copyFlags.apply(&cfg, cmd.Flags().Changed("chunk-size"))
	cfg.OkToDropTable = f.okToDropTable
	cfg.InitiallyDropGhostTable = f.initiallyDropGhostTable
	cfg.Resume = f.resume
	cfg.ReplicaServerID = f.replicaServerID
	cfg.PostponeCutOverFlagFile = f.postponeFlagFile
	return cfg, nil
}

// config is the part of a migration's configuration that alter and plan
// share.
func (f *changeFlags) config(conn mysql.ConnConfig, logger *slog.Logger) migrate.Config {
	return migrate.Config{
		Conn:             conn,
		Database:         f.database,
		Table:            f.table,
		Alter:            f.alter,
		ForceCopy:        f.forceCopy,
		RecreateTriggers: f.recreateTriggers,
		TimeZone:         f.timeZone,
		Logger:           logger,
	}
}

// runMigration runs a configured migration, turning a configuration the
// runner rejects into a usage error. Once the configuration is accepted, it
// logs tailor's version and a line for each gh-ost flag accepted.
func runMigration(cmd *cobra.Command, cfg migrate.Config, bar *progressBar, ghostNotes []ghostInfo) (*migrate.Result, error) {
	runner, err := migrate.New(cfg)
	if err != nil {
		var me *migrate.Error
		if errors.As(err, &me) && me.Kind == migrate.KindInvalid {
			return nil, usageError{fmt.Errorf("%w; see '%s --help'", err, cmd.CommandPath())}
		}
		return nil, err
	}
	v := currentVersion()
	cfg.Logger.Info("tailor starting", "version", v.Version, "commit", v.Commit, "go", v.Go)
	logGhostNotes(cfg.Logger, ghostNotes)
	if bar != nil {
		ctx, stop := context.WithCancel(cmd.Context())
		done := make(chan struct{})
		go func() { bar.follow(ctx, migrationBar(runner)); close(done) }()
		defer func() { stop(); <-done }()
	}
	return runner.Run(cmd.Context())
}

func printResult(w io.Writer, res *migrate.Result) {
	if res.Native {
		fmt.Fprintln(w, "Change made natively (ALGORITHM=INSTANT): no rows were copied.")
		fmt.Fprintf(w, "  wall time:        %s\n", res.Elapsed.Round(time.Millisecond))
		fmt.Fprintf(w, "  attempts:         %d\n", res.InstantAttempts)
		return
	}
	if res.Reverted {
		fmt.Fprintln(w, "Reverted: the table is back as it was before the migration, with every write made since.")
	} else {
		fmt.Fprintln(w, "Migration complete.")
	}
	fmt.Fprintf(w, "  wall time:        %s\n", res.Elapsed.Round(time.Millisecond))
	if res.Reverted {
		// Nothing is copied: the kept table was complete at the swap.
	} else if res.Resumed {
		fmt.Fprintf(w, "  rows copied:      %d in this run, %d before the resume\n", res.RowsCopied, res.RowsCopiedBefore)
	} else {
		fmt.Fprintf(w, "  rows copied:      %d\n", res.RowsCopied)
	}
	fmt.Fprintf(w, "  events applied:   %d\n", res.EventsApplied)
	if res.ChecksumBefore {
		fmt.Fprintln(w, "  checksum:         passed before the resume (the new table kept in step since)")
	} else if res.ChecksumSkipped {
		fmt.Fprintln(w, "  checksum:         skipped (--skip-checksum)")
	} else if res.ChecksumBehindRows > 0 {
		fmt.Fprintf(w, "  checksum:         %d rows equal during the copy; after it, %d chunks equal, %d re-copied, %d changed rows equal\n",
			res.ChecksumBehindRows, res.ChecksumChunks, res.ChecksumMended, res.ChecksumRechecked)
	} else {
		fmt.Fprintf(w, "  checksum:         %d chunks equal, %d re-copied\n", res.ChecksumChunks, res.ChecksumMended)
	}
	if len(res.TriggersRecreated) > 0 {
		fmt.Fprintf(w, "  triggers moved:   %s\n", strings.Join(res.TriggersRecreated, ", "))
	}
	fmt.Fprintf(w, "  cut-over:         writes held %s (attempt %d)\n", res.CutOverLock.Round(time.Microsecond), res.CutOverAttempts)
	if res.CutOverKilled > 0 {
		fmt.Fprintf(w, "  sessions killed:  %d, that held the cut-over up (--force-cut-over-after)\n", res.CutOverKilled)
	}
	if res.OldTable != "" {
		fmt.Fprintf(w, "  old table kept:   %s\n", res.OldTable)
		fmt.Fprintf(w, "  to drop it:       DROP TABLE %s;\n", mysql.QuoteTable(res.Database, res.OldTable))
		if res.Revertible {
			fmt.Fprintf(w, "  to undo it:       tailor revert ... --table %s --execute (until the old table is dropped)\n", res.Table)
		}
	} else {
		fmt.Fprintln(w, "  old table:        dropped (--ok-to-drop-table)")
	}
}
