package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tailor-osc/tailor/internal/backfill"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/operate"
)

type backfillFlags struct {
	conn            connFlags
	database, table string
	set, where, key string
	delete          bool
	execute         bool
	resume, restart bool
	chunkSize       int
	chunkTime       time.Duration
	logFormat       string
	verbose         bool
	operateFlags
}

func newBackfillCommand() *cobra.Command {
	f := &backfillFlags{}
	cmd := &cobra.Command{
		Use:   "backfill --database DB --table T (--set \"c = expr\" | --delete) [--where \"...\"] [--execute]",
		Short: "Change or delete a live table's existing rows in small, throttled, resumable batches (a dry run unless --execute)",
		Long: `backfill changes the existing rows of one table the way the expand-contract
playbook needs it: it walks the table's primary key (or --key) in short
batches, each one transaction

  UPDATE t SET <--set> WHERE <key range> AND (<--where>)      (or DELETE with --delete)

sized by --chunk-time and held back by the same throttle as alter. Its
progress is saved in the table tailor_backfills of the same database in the
same transaction as each batch, so --resume continues a stopped backfill and
changes every row once, even with a --set that is not idempotent. It walks
the keys the table has when it starts; rows inserted later are the
application's to write. Without --execute it checks the statement, tries a
sample of rows (rolled back), counts the matching rows and estimates the
duration, and changes nothing.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("backfill takes no arguments, but was given %q; put the change in one quoted --set and the condition in one quoted --where", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return runBackfill(cmd, f) },
	}
	f.conn.register(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.database, "database", "", "database (schema) of the table (required)")
	fs.StringVar(&f.table, "table", "", "table whose rows to change (required)")
	fs.StringVar(&f.set, "set", "", "the change, as UPDATE assignments: \"display_name = full_name\"")
	fs.StringVar(&f.where, "where", "", "which rows to change, as a WHERE condition: \"display_name IS NULL\" (default: every row)")
	fs.BoolVar(&f.delete, "delete", false, "delete the rows --where selects instead of updating them (a batched purge)")
	fs.StringVar(&f.key, "key", "", "index to walk: PRIMARY or a UNIQUE key on NOT NULL columns (default: the primary key)")
	fs.BoolVar(&f.execute, "execute", false, "make the change; without it, a dry run that changes nothing")
	fs.BoolVar(&f.resume, "resume", false, "continue the stopped backfill of the same statement from its saved state")
	fs.BoolVar(&f.restart, "restart", false, "forget the saved state of the same backfill (stopped or finished) and start it over")
	fs.IntVar(&f.chunkSize, "chunk-size", operate.DefaultChunkSize, "rows per batch (1 to 1000000); given, it fixes the size, else it is only the first batches' size and --chunk-time adapts it")
	fs.DurationVar(&f.chunkTime, "chunk-time", operate.DefaultChunkTime, "target time per batch when --chunk-size is not given, between 100 and 50000 rows (a batch holds its rows' locks that long)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&f.verbose, "verbose", false, "log debug detail")
	f.operateFlags.register(fs, "backfill")
	return cmd
}

func runBackfill(cmd *cobra.Command, f *backfillFlags) error {
	var errs []error
	if f.chunkSize == 0 {
		errs = append(errs, errors.New("--chunk-size must be between 1 and 1000000, not 0"))
	}
	if f.chunkTime <= 0 {
		errs = append(errs, fmt.Errorf("--chunk-time must be positive, not %s", f.chunkTime))
	}
	errs = append(errs, f.operateFlags.checkZeros()...)
	if err := errors.Join(errs...); err != nil {
		return usageError{fmt.Errorf("%w; see '%s --help'", err, cmd.CommandPath())}
	}
	// On a terminal a progress bar is redrawn in place below the log, as
	// alter's; elsewhere progress is a log line at an interval.
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
	conn, err := f.conn.resolve(cmd, cmd.InOrStdin(), cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	cfg := backfill.Config{
		Conn: conn, Database: f.database, Table: f.table,
		Set: f.set, Where: f.where, Delete: f.delete, Key: f.key,
		Execute: f.execute, Resume: f.resume, Restart: f.restart,
		Settings: f.settings(),
		Logger:   logger,
	}
	cfg.ChunkSize = f.chunkSize
	cfg.QuietProgress = bar != nil
	if !cmd.Flags().Changed("chunk-size") {
		cfg.ChunkTime = f.chunkTime
	}
	runner, err := backfill.New(cfg)
	if err != nil {
		var me *migrate.Error
		if errors.As(err, &me) && me.Kind == migrate.KindInvalid {
			return usageError{fmt.Errorf("%w; see '%s --help'", err, cmd.CommandPath())}
		}
		return err
	}
	v := currentVersion()
	logger.Info("tailor starting", "version", v.Version, "commit", v.Commit, "go", v.Go)
	if bar != nil {
		ctx, stop := context.WithCancel(cmd.Context())
		done := make(chan struct{})
		go func() { bar.follow(ctx, backfillBar(runner)); close(done) }()
		defer func() { stop(); <-done }()
	}
	res, err := runner.Run(cmd.Context())
	if err != nil {
		return err
	}
	printBackfill(cmd.OutOrStdout(), res)
	return nil
}

func printBackfill(w io.Writer, res *backfill.Result) {
	switch {
	case res.Done:
		fmt.Fprintf(w, "This backfill finished on %s, with %d rows changed: nothing to do.\n", res.FinishedAt.Format(time.RFC3339), res.RowsChangedBefore)
		fmt.Fprintln(w, "  statement:        "+res.Statement)
		fmt.Fprintln(w, "  to run it again:  add --restart")
		return
	case res.DryRun:
		fmt.Fprintln(w, "Dry run: nothing was changed. Add --execute to run the backfill.")
		if res.Resumed {
			fmt.Fprintf(w, "  resumes:          a stopped backfill, %d rows changed before\n", res.RowsChangedBefore)
		}
		fmt.Fprintln(w, "  statement:        "+res.Statement)
		fmt.Fprintf(w, "  walks:            %s, up to %s (its largest key now; rows inserted later are the application's to write)\n", res.Key, formatKeyValues(res.Range[1]))
		fmt.Fprintln(w, "  first batch:      "+res.FirstBatch)
		fmt.Fprintf(w, "  matching rows:    %d\n", res.Matching)
		fmt.Fprintln(w, "  sample:           a batch at each end of the range ran and was rolled back without error or warning")
		switch {
		case res.Estimate >= time.Second:
			fmt.Fprintf(w, "  estimate:         about %s unthrottled, from the sample's speed\n", res.Estimate.Round(time.Second))
		case res.Estimate > 0:
			fmt.Fprintln(w, "  estimate:         under a second unthrottled, from the sample's speed")
		}
		return
	}
	fmt.Fprintln(w, "Backfill complete.")
	fmt.Fprintf(w, "  wall time:        %s\n", res.Elapsed.Round(time.Millisecond))
	if res.Resumed {
		fmt.Fprintf(w, "  rows changed:     %d in this run, %d before the resume\n", res.RowsChanged, res.RowsChangedBefore)
	} else {
		fmt.Fprintf(w, "  rows changed:     %d\n", res.RowsChanged)
	}
	fmt.Fprintf(w, "  batches:          %d\n", res.Batches)
	if res.StillMatching >= 0 {
		fmt.Fprintf(w, "  still matching:   %d rows match --where now", res.StillMatching)
		if res.StillMatching > 0 {
			fmt.Fprint(w, " (written since the backfill began, or past its range: is the application writing the new way?)")
		}
		fmt.Fprintln(w)
	}
}

// formatKeyValues shows a key as (v1, v2).
func formatKeyValues(key []any) string {
	if key == nil {
		return "the end"
	}
	s := "("
	for i, v := range key {
		if i > 0 {
			s += ", "
		}
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		s += fmt.Sprint(v)
	}
	return s + ")"
}
