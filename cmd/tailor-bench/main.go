// Command tailor-bench measures an online schema change of a sysbench-shaped
// table with native ALTER (COPY and INPLACE), pt-online-schema-change and
// tailor, each with no load and under a paced write load, and checks after
// every run that the table still equals an independent record of the writes.
// With --mode backfill it measures instead the backfill of a new column
// under that load: one UPDATE, a naive batched loop, and tailor backfill.
// See docs/benchmarks.md.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// options are the command line.
type options struct {
	// mode is what is measured: modeAlter or modeBackfill.
	mode                        string
	rows, rate, writers, repeat int
	alter, runs, database       string
	// key is the table's primary key: keyInt or keyText.
	key                      string
	threads, chunkSize       int
	chunkTime                time.Duration
	host, user               string
	port                     int
	baseline, warmup, settle time.Duration
	ptOSC                    string
	json, verbose            bool
	// cpuProfile, when set, is the prefix of a CPU profile written for
	// every tailor run.
	cpuProfile string
	// skipChecksum runs tailor without its verify, to show what it costs;
	// checksumDuringCopy with most of the verify during the copy.
	skipChecksum, checksumDuringCopy bool
	bufferPool                       string
	// naiveBatch and naiveSleep shape the naive loop of backfill mode.
	naiveBatch int
	naiveSleep time.Duration
	// backfillChunkTime is tailor backfill's target time per batch.
	backfillChunkTime time.Duration
	// maxCommitLatency is tailor's --max-commit-latency; 0 is no limit.
	maxCommitLatency time.Duration
	// replica attaches a replica sandbox and measures its lag.
	replica bool
	// sweep measures the applier at sweepPercents of the load's highest
	// rate, each tailor run bounded by sweepTimeout.
	sweep         bool
	sweepPercents []int
	sweepTimeout  time.Duration
}

// bench is one invocation: the server, its connection, and what it found.
type bench struct {
	opts options
	conn mysql.ConnConfig
	db   *sql.DB
	// replica is the replica sandbox's pool with --replica, and
	// replicaSbx/primarySbx the sandboxes.
	replica                *sql.DB
	replicaSbx, primarySbx *sandbox.Sandbox
	logger                 *slog.Logger
	stderr                 io.Writer
	// inplaceRefusal is the server's refusal of ALGORITHM=INPLACE, or "".
	inplaceRefusal string
}

// Report is the --json document.
type Report struct {
	Mode    string    `json:"mode"`
	Started time.Time `json:"started"`
	Server  string    `json:"server"`
	// Settings are the server's durability and sizing, read back from it;
	// ReplicaSettings the replica's with --replica.
	Settings        *ServerSettings `json:"server_settings,omitempty"`
	ReplicaSettings *ServerSettings `json:"replica_settings,omitempty"`
	// Build is the commit tailor-bench was built from, "+modified" when
	// the working tree had changes (go build's VCS stamp).
	Build   string `json:"build,omitempty"`
	Sandbox bool   `json:"sandbox"`
	Rows    int    `json:"rows"`
	// Key is the table's primary key (--key): int or text.
	Key   string `json:"key"`
	Alter string `json:"alter,omitempty"`
	// Backfill is backfill mode's change: its column and its statement.
	Backfill  *BackfillSetup `json:"backfill,omitempty"`
	Rate      int            `json:"rate"`
	Writers   int            `json:"writers"`
	Repeat    int            `json:"repeat"`
	Threads   int            `json:"tailor_threads,omitempty"`
	ChunkSize int            `json:"tailor_chunk_size,omitempty"`
	// ChunkTimeMs is tailor's target time per chunk; 0 with a fixed size.
	ChunkTimeMs int64 `json:"tailor_chunk_time_ms,omitempty"`
	// MaxCommitLatencyMs is tailor's --max-commit-latency; 0 is no limit.
	MaxCommitLatencyMs float64 `json:"tailor_max_commit_latency_ms"`
	// Checksum says how tailor verified the copy (checksumLabel).
	Checksum string `json:"tailor_checksum,omitempty"`
	// Sweep is the applier sweep's setting and finding (--sweep).
	Sweep      *SweepSetup `json:"sweep,omitempty"`
	PtOSC      string      `json:"pt_osc"`
	PrepareSec float64     `json:"prepare_seconds"`
	Notes      []string    `json:"notes"`
	Runs       []Run       `json:"runs"`
	Medians    []Median    `json:"medians"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tailor-bench: "+oneLine(err.Error()))
		stop()
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := pflag.NewFlagSet("tailor-bench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.mode, "mode", modeAlter, "what to measure: alter (a schema change, by every tool) or backfill (filling a new column: one UPDATE, a naive loop, tailor backfill)")
	fs.IntVar(&o.rows, "rows", 1_000_000, "rows in the sysbench-shaped table")
	fs.StringVar(&o.alter, "alter", "MODIFY c VARCHAR(150) NOT NULL", "the change every tool makes")
	fs.StringVar(&o.key, "key", keyInt, "the table's primary key: int (sysbench's id BIGINT), text (uid CHAR(36) in utf8mb4_general_ci, UUID-shaped, with id a unique key) or enum ((region ENUM, id), with id a unique key)")
	fs.IntVar(&o.rate, "rate", 300, "write transactions per second of the load")
	fs.IntVar(&o.writers, "writers", 8, "concurrent writing sessions of the load")
	fs.IntVar(&o.repeat, "repeat", 1, "repetitions of every run, interleaved; medians are reported")
	fs.StringVar(&o.runs, "runs", "all", "runs to make, comma-separated: baseline, native-copy, native-inplace, pt-osc, pt-osc-chunk1000, tailor; with --mode backfill: baseline, update, naive-loop, tailor-backfill")
	fs.IntVar(&o.naiveBatch, "naive-batch", 10_000, "backfill mode: rows of ids per batch of the naive loop")
	fs.DurationVar(&o.naiveSleep, "naive-sleep", 100*time.Millisecond, "backfill mode: the naive loop's sleep between batches")
	fs.DurationVar(&o.backfillChunkTime, "backfill-chunk-time", operate.DefaultChunkTime, "backfill mode: tailor backfill's target time per batch (--chunk-time of tailor backfill)")
	fs.IntVar(&o.threads, "threads", 0, "tailor's concurrent chunk copies (0: tailor's default)")
	fs.IntVar(&o.chunkSize, "chunk-size", 0, "tailor's rows per chunk, fixed (0: adapted to --chunk-time, as tailor alter does by default)")
	fs.DurationVar(&o.chunkTime, "chunk-time", operate.DefaultChunkTime, "tailor's target time per chunk, when --chunk-size is not given")
	fs.StringVar(&o.host, "host", "", "use this existing server instead of a sandbox (password from MYSQL_PWD)")
	fs.IntVar(&o.port, "port", 0, "port of the existing server (with --host; 3306 when unset)")
	fs.StringVar(&o.user, "user", "root", "user on the existing server")
	fs.StringVar(&o.database, "database", "tailor_bench", "database the benchmark creates and uses (its tables are dropped and recreated)")
	fs.DurationVar(&o.baseline, "baseline", 10*time.Second, "how long the load runs alone for the baseline")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "load before each migration starts")
	fs.DurationVar(&o.settle, "settle", time.Second, "load after each migration ends, so that writes reach the new table")
	fs.StringVar(&o.ptOSC, "pt-osc", "", "path of pt-online-schema-change (default: found in PATH, else /usr/bin/pt-online-schema-change)")
	fs.BoolVar(&o.json, "json", false, "print one JSON document with every run and the medians instead of tables")
	fs.BoolVar(&o.verbose, "verbose", false, "show tailor's log and pt-online-schema-change's output")
	fs.BoolVar(&o.skipChecksum, "skip-checksum", false, "run tailor with --skip-checksum, to measure what the verify before the swap costs")
	fs.BoolVar(&o.checksumDuringCopy, "checksum-during-copy", false, "run tailor with --checksum-during-copy: most of the verify during the copy rather than all of it after")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of every tailor run to `PREFIX`.<repetition>.<idle|load>.pprof")
	fs.StringVar(&o.bufferPool, "buffer-pool", "auto", "the sandbox's innodb_buffer_pool_size; auto: enough to hold the template, the table, its control table and a shadow (2G at least, half the machine's memory at most)")
	fs.DurationVar(&o.maxCommitLatency, "tailor-max-commit-latency", migrate.DefaultMaxCommitLatency, "tailor's --max-commit-latency: copy fewer chunks at once while the heartbeat's commits take longer (0: no limit)")
	fs.BoolVar(&o.replica, "replica", false, "attach a replica sandbox to the bench's sandbox and report its peak lag in every run (not with --host)")
	fs.BoolVar(&o.sweep, "sweep", false, "measure tailor's applier: find the load's highest rate alone, then migrate under --sweep-percent of it (replaces --runs)")
	percents := fs.String("sweep-percent", "50,80", "with --sweep: the load rates to migrate under, in percent of the highest rate, comma-separated")
	fs.DurationVar(&o.sweepTimeout, "sweep-timeout", 10*time.Minute, "with --sweep: a tailor run that has not finished by then is stopped and reported as a timeout")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.sweepPercents, err = parsePercents(*percents); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.rows < 1:
		return o, fmt.Errorf("--rows must be at least 1, not %d", o.rows)
	case o.rate < 1:
		return o, fmt.Errorf("--rate must be at least 1, not %d", o.rate)
	case o.writers < 1:
		return o, fmt.Errorf("--writers must be at least 1, not %d", o.writers)
	case o.repeat < 1:
		return o, fmt.Errorf("--repeat must be at least 1, not %d", o.repeat)
	case o.mode != modeAlter && o.mode != modeBackfill:
		return o, fmt.Errorf("--mode must be %s or %s, not %q", modeAlter, modeBackfill, o.mode)
	case o.naiveBatch < 1:
		return o, fmt.Errorf("--naive-batch must be at least 1, not %d", o.naiveBatch)
	case o.naiveSleep < 0:
		return o, fmt.Errorf("--naive-sleep must not be negative, not %s", o.naiveSleep)
	case o.backfillChunkTime <= 0:
		return o, fmt.Errorf("--backfill-chunk-time must be positive, not %s", o.backfillChunkTime)
	case o.maxCommitLatency < 0:
		return o, fmt.Errorf("--tailor-max-commit-latency must not be negative, not %s", o.maxCommitLatency)
	case o.replica && (o.host != "" || o.port != 0):
		return o, errors.New("--replica starts a replica of the bench's own sandbox, and cannot be used with --host or --port")
	case o.key != keyInt && o.key != keyText && o.key != keyEnum:
		return o, fmt.Errorf("--key must be %s, %s or %s, not %q", keyInt, keyText, keyEnum, o.key)
	case o.key != keyInt && o.mode != modeAlter:
		return o, fmt.Errorf("--key %s is for --mode %s: the backfill's batches walk id", o.key, modeAlter)
	case o.sweep && o.mode != modeAlter:
		return o, fmt.Errorf("--sweep measures tailor alter's applier: it needs --mode %s", modeAlter)
	case o.sweepTimeout <= 0:
		return o, fmt.Errorf("--sweep-timeout must be positive, not %s", o.sweepTimeout)
	}
	if o.ptOSC == "" {
		o.ptOSC = "/usr/bin/pt-online-schema-change"
		if p, err := exec.LookPath("pt-online-schema-change"); err == nil {
			o.ptOSC = p
		}
	}
	if o.port != 0 && o.host == "" {
		o.host = "127.0.0.1"
	}
	if o.host != "" && o.port == 0 {
		o.port = 3306
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	kinds, err := parseKinds(opts.runs, modeKinds(opts.mode))
	if err != nil {
		return err
	}
	b := &bench{opts: opts, stderr: stderr, logger: slog.New(slog.DiscardHandler)}
	if opts.verbose {
		b.logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	rep := &Report{Mode: opts.mode, Started: time.Now().UTC(), Build: buildRevision(), Rows: opts.rows, Key: opts.key, Rate: opts.rate, Writers: opts.writers, Repeat: opts.repeat}
	if opts.mode == modeAlter {
		rep.Alter, rep.Threads, rep.ChunkSize = opts.alter, opts.threads, opts.chunkSize
		rep.MaxCommitLatencyMs = millis(opts.maxCommitLatency)
		rep.Checksum = checksumLabel(opts.skipChecksum, opts.checksumDuringCopy)
		if opts.chunkSize == 0 {
			rep.ChunkTimeMs = opts.chunkTime.Milliseconds()
		}
	} else {
		rep.Backfill = backfillSetup(opts)
	}
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	if opts.host == "" {
		if opts.bufferPool == "auto" {
			servers := 1
			if opts.replica {
				servers = 2
			}
			opts.bufferPool = autoBufferPool(opts.rows, servers, memTotal())
		}
		progress("==> starting a throwaway MariaDB sandbox")
		sbx, err := sandbox.Start(ctx, sandbox.Options{ExtraArgs: sandboxArgs(opts.bufferPool)})
		if errors.Is(err, sandbox.ErrNoServer) {
			return fmt.Errorf("%w; on Debian or Ubuntu: sudo apt-get install -y mariadb-server (make bench does this)", err)
		}
		if err != nil {
			return err
		}
		defer sbx.Stop()
		progress("    mariadbd pid %d on 127.0.0.1:%d, data in %s", sbx.PID(), sbx.Port, sbx.Dir)
		b.conn = sbx.Conn("")
		rep.Sandbox = true
		b.primarySbx = sbx
		if opts.replica {
			// Before the bench's database exists: the replica starts from
			// the primary's current position, and must see it created.
			progress("==> starting a replica sandbox")
			replica, err := sandbox.StartReplica(ctx, sbx, sandbox.Options{ExtraArgs: sandboxArgs(opts.bufferPool)})
			if err != nil {
				return err
			}
			defer replica.Stop()
			progress("    mariadbd pid %d on 127.0.0.1:%d, replicating from 127.0.0.1:%d", replica.PID(), replica.Port, sbx.Port)
			b.replicaSbx = replica
			if b.replica, err = replica.Open(ctx, ""); err != nil {
				return err
			}
			defer b.replica.Close()
			st, err := readSettings(ctx, b.replica)
			if err != nil {
				return err
			}
			rep.ReplicaSettings = &st
		}
	} else {
		b.conn = mysql.ConnConfig{Host: opts.host, Port: opts.port, User: opts.user, Password: os.Getenv("MYSQL_PWD")}
	}
	if err := b.connect(ctx); err != nil {
		return err
	}
	defer b.db.Close()
	if s, err := mysql.DetectServer(ctx, b.db); err == nil {
		rep.Server = s.String()
	}
	st, err := readSettings(ctx, b.db)
	if err != nil {
		return err
	}
	rep.Settings = &st
	progress("    %s", st)

	// pt-online-schema-change has no part in backfill mode.
	if opts.mode == modeAlter {
		if v := ptOSCVersion(ctx, opts.ptOSC); v != "" {
			rep.PtOSC = v
		} else {
			rep.PtOSC = "not installed"
			rep.Notes = append(rep.Notes, fmt.Sprintf("pt-online-schema-change is not installed (%s): its runs were skipped; apt-get install percona-toolkit adds it", opts.ptOSC))
			kinds = without(kinds, kindPtOSC, kindPtOSC1000)
			progress("    pt-online-schema-change not found at %s: its runs are skipped", opts.ptOSC)
		}
	}

	progress("==> preparing %s with %d rows", templateTable, opts.rows)
	start := time.Now()
	filled, err := prepareTemplate(ctx, b.db, opts.rows, opts.key)
	if err != nil {
		return err
	}
	rep.PrepareSec = time.Since(start).Seconds()
	if !filled {
		progress("    reused the existing template of %d rows", opts.rows)
	}
	progress("    done in %s", time.Since(start).Round(time.Millisecond))
	if err := b.syncReplica(ctx); err != nil {
		return err
	}

	if contains(kinds, kindNativeInplace) {
		b.inplaceRefusal, err = probeInplace(ctx, b.db, opts.alter)
		if err != nil {
			return err
		}
	}

	if opts.sweep {
		if err := b.runSweep(ctx, rep, progress); err != nil {
			return err
		}
		if opts.json {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}
		printSweepReport(stdout, rep)
		return nil
	}

	// Backfill mode runs everything under the load: a backfill's question
	// is what it does to the application's writes.
	conditions := []bool{false, true}
	total := opts.repeat * (2*len(kinds) - btoi(contains(kinds, kindBaseline)))
	if opts.mode == modeBackfill {
		conditions = []bool{true}
		total = opts.repeat * len(kinds)
	}
	n := 0
	for r := 1; r <= opts.repeat; r++ {
		for _, kind := range kinds {
			for _, withLoad := range conditions {
				if kind == kindBaseline && !withLoad {
					continue
				}
				n++
				one, err := b.runOne(ctx, kind, withLoad, r, opts.rate)
				if err != nil {
					return err
				}
				rep.Runs = append(rep.Runs, one)
				progress("    [%d/%d] %-16s %-4s %s", n, total, kind, loadLabel(withLoad), summary(one))
			}
		}
	}
	if err := dropRunTables(ctx, b.db); err != nil {
		return err
	}
	setRatios(rep.Runs)
	rep.Medians = medians(rep.Runs)
	if opts.mode == modeBackfill {
		setBackfillRatios(rep.Runs)
		setBackfillMedianRatios(rep.Medians)
		rep.Notes = append(rep.Notes, backfillNotes(opts)...)
	} else {
		rep.Notes = append(rep.Notes, notes(opts)...)
	}
	if opts.replica {
		rep.Notes = append(rep.Notes, replicaNote())
	}
	if opts.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	if opts.mode == modeBackfill {
		printBackfillReport(stdout, rep)
		return nil
	}
	printReport(stdout, rep)
	return nil
}

// connect opens the pool and creates the benchmark's database.
func (b *bench) connect(ctx context.Context) error {
	admin, err := mysql.Open(ctx, b.conn)
	if err != nil {
		return err
	}
	_, err = admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+mysql.QuoteIdent(b.opts.database))
	admin.Close()
	if err != nil {
		return fmt.Errorf("create database %s: %w", b.opts.database, err)
	}
	b.conn.Database = b.opts.database
	b.db, err = mysql.Open(ctx, b.conn)
	if err != nil {
		return err
	}
	b.db.SetMaxOpenConns(b.opts.writers + 8)
	b.db.SetMaxIdleConns(b.opts.writers + 8)
	return nil
}

// runOne restores a fresh table, starts the load at rate if asked, makes
// the change (or, for the baseline, waits), and measures. Only errors that
// stop the whole benchmark are returned; a failing tool is a failed Run.
func (b *bench) runOne(ctx context.Context, kind string, withLoad bool, repeat, rate int) (Run, error) {
	run := Run{Kind: kind, Load: withLoad, Repeat: repeat, Status: statusOK}
	if rate != b.opts.rate {
		run.LoadRate = rate
	}
	if kind == kindNativeInplace && b.inplaceRefusal != "" {
		run.Status, run.Note = statusRefused, b.inplaceRefusal
		return run, nil
	}
	if err := restore(ctx, b.db); err != nil {
		return run, err
	}
	dualWrite := ""
	if b.opts.mode == modeBackfill {
		if err := b.prepareBackfill(ctx); err != nil {
			return run, err
		}
		dualWrite = backfillColumn
	}
	if err := settle(ctx, b.db); err != nil {
		return run, err
	}
	// The replica must hold the fresh tables before its lag is measured.
	if err := b.syncReplica(ctx); err != nil {
		return run, err
	}
	var load *sbLoad
	if withLoad {
		load = startLoad(ctx, b.db, loadOptions{Table: benchTable, Writers: b.opts.writers, Rate: rate,
			InitialRows: b.opts.rows, Seed: uint64(time.Now().UnixNano()), Key: b.opts.key, DualWrite: dualWrite})
		if err := sleep(ctx, b.opts.warmup); err != nil {
			load.stopLoad()
			return run, err
		}
	}
	var lag *replicaWatch
	if b.replica != nil {
		lag = watchReplica(ctx, b.db, b.replica)
	}
	waitsBefore, err := readLockWaits(ctx, b.db)
	if err != nil {
		return run, err
	}
	t0 := time.Now()
	switch kind {
	case kindBaseline, kindCapacity:
		_ = sleep(ctx, b.opts.baseline)
	case kindNativeCopy:
		b.nativeAlter(ctx, "COPY", &run)
	case kindNativeInplace:
		b.nativeAlter(ctx, "INPLACE", &run)
	case kindPtOSC:
		b.ptOSC(ctx, 0, &run)
	case kindPtOSC1000:
		b.ptOSC(ctx, 1000, &run)
	case kindTailor:
		b.tailorRun(ctx, &run, b.tailorTimeout())
	case kindUpdate:
		b.singleUpdate(ctx, &run)
	case kindNaiveLoop:
		b.naiveLoop(ctx, &run)
	case kindBackfill:
		b.tailorBackfill(ctx, &run)
	}
	t1 := time.Now()
	if lag != nil {
		t1 = lag.markEnd(ctx)
	}
	if waitsAfter, err := readLockWaits(ctx, b.db); err == nil {
		run.RowLockWaits, run.RowLockWaitMs = waitsAfter.waits-waitsBefore.waits, waitsAfter.millis-waitsBefore.millis
	}
	if load != nil {
		_ = sleep(ctx, b.opts.settle)
		load.stopLoad()
		st := load.window(t0, t1)
		run.LoadTransactions, run.LoadTPS = st.Transactions, st.TPS
		run.LoadP50Ms, run.LoadP99Ms, run.LoadMaxMs = millis(st.P50), millis(st.P99), millis(st.Max)
		run.LoadErrors, run.LoadLastError = st.Errors, st.LastError
		for i, ph := range run.Phases {
			st := load.window(ph.start, ph.end)
			run.Phases[i].LoadTransactions, run.Phases[i].LoadP99Ms, run.Phases[i].LoadMaxMs = st.Transactions, millis(st.P99), millis(st.Max)
		}
	}
	if lag != nil {
		run.ReplicaLag = lag.finish(ctx)
	}
	if err := ctx.Err(); err != nil {
		return run, fmt.Errorf("interrupted during %s: %w", kind, err)
	}
	run.WallSeconds = t1.Sub(t0).Seconds()
	if kind != kindBaseline && kind != kindCapacity && run.Status == statusOK {
		run.RowsPerSec = float64(b.opts.rows) / run.WallSeconds
	}
	if run.Status != statusRefused {
		// A failed tool should have left the table as it was: check that too.
		if err := compare(ctx, b.db, b.opts.key, &run); err != nil {
			return run, err
		}
	}
	if b.opts.mode == modeBackfill && kind != kindBaseline && run.Status != statusRefused {
		n, err := notBackfilled(ctx, b.db)
		if err != nil {
			return run, err
		}
		run.NotBackfilled = &n
	}
	return run, nil
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func without(xs []string, drop ...string) []string {
	var out []string
	for _, x := range xs {
		if !contains(drop, x) {
			out = append(out, x)
		}
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// buildRevision is the VCS revision the binary was built from, with
// "+modified" for a dirty tree, or "" when go build did not stamp one (go
// run does not).
func buildRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	rev, modified := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && modified {
		rev += "+modified"
	}
	return rev
}
