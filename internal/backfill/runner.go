package backfill

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tailor-osc/tailor/internal/cutover"
	"github.com/tailor-osc/tailor/internal/hooks"
	"github.com/tailor-osc/tailor/internal/metrics"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/state"
	"github.com/tailor-osc/tailor/internal/throttle"
)

// Runner runs one backfill. It is used once.
type Runner struct {
	cfg   Config
	log   *slog.Logger
	db    *sql.DB
	runID string

	server mysql.Server
	table  *schema.Table
	key    rowcopy.KeyWalk
	stmt   Statement
	store  *store
	// earlier is the saved state the run found (nil for none).
	earlier *record
	// lower is where this run starts (exclusive; nil for the start of
	// the key) and upper the range's last key.
	lower, upper []any

	hooks     *hooks.Runner
	throttler *throttle.Throttler
	// throttlerSeen is throttler for readers on other goroutines (Status).
	throttlerSeen atomic.Pointer[throttle.Throttler]
	metrics       *metrics.Metrics
	sizer         *rowcopy.Sizer
	redo          *operate.RedoGate
	abort         context.CancelCauseFunc
	lockConn      *sql.Conn

	// knobs are what the operator may change while it runs.
	knobs operate.Knobs

	// progress, for the status and the log.
	running  atomic.Bool
	started  time.Time
	walked   atomic.Int64
	changed  atomic.Int64
	batches  atomic.Int64
	estimate atomic.Int64
	// walkedBefore and changedBefore are the earlier runs' (a resume).
	walkedBefore, changedBefore int64
}

// ErrAborted is the cause of a run stopped by the operator's abort command.
var ErrAborted = errors.New("aborted by the operator")

// New checks cfg and returns a Runner for it.
func New(cfg Config) (*Runner, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, invalid(err)
	}
	r := &Runner{
		cfg:   cfg,
		log:   cfg.Logger.With("table", cfg.Database+"."+cfg.Table),
		runID: fmt.Sprintf("%016x", rand.Uint64()),
	}
	r.knobs.Init(cfg.ChunkSize, cfg.Throttle.MaxLag, cfg.Throttle.MaxLoad)
	r.sizer = cfg.Sizer()
	r.metrics = metrics.New()
	// The walk reads r.db, connected by then.
	r.redo = operate.NewRedoGate(func(ctx context.Context) (float64, error) { return operate.ReadRedoFill(ctx, r.db) }, cfg.MaxRedoFill, nil, r.log)
	if cfg.HooksPath != "" {
		h, err := hooks.New(hooks.Config{Dir: cfg.HooksPath, Logger: r.log, Env: append(migrate.HookEnv(), "TAILOR_COMMAND=backfill")})
		if err != nil {
			return nil, invalid(fmt.Errorf("--hooks-path: %w", err))
		}
		r.hooks = h
	}
	return r, nil
}

func invalid(err error) error { return &migrate.Error{Kind: migrate.KindInvalid, Err: err} }

// Run checks the backfill, and with Execute makes it.
func (r *Runner) Run(ctx context.Context) (res *Result, err error) {
	ctx, r.abort = context.WithCancelCause(ctx)
	defer r.abort(nil)
	r.started = time.Now()
	r.metrics.Start(r.cfg.Database, r.cfg.Table, r.started)
	r.metrics.SetPhase("validate")
	if r.cfg.Execute && r.hooks != nil {
		defer func() { r.finalHook(err) }()
		if err := r.hook(ctx, hooks.OnStartup); err != nil {
			return nil, err
		}
	}
	if err := r.connect(ctx); err != nil {
		return nil, err
	}
	defer r.db.Close()
	if err := r.inspect(ctx); err != nil {
		return nil, err
	}
	if r.cfg.ResumeIfStopped {
		r.cfg.Resume = r.earlier != nil
	}
	if done := r.finishedBefore(); done != nil {
		return done, nil
	}
	if err := r.checkSaved(); err != nil {
		return nil, err
	}
	if err := r.findRange(ctx); err != nil {
		return nil, err
	}
	sampleTook, sampleRows, err := r.sample(ctx)
	if err != nil {
		return nil, err
	}
	if !r.cfg.Execute {
		return r.dryRun(ctx, sampleTook, sampleRows)
	}
	if err := r.hook(ctx, hooks.OnValidated); err != nil {
		return nil, err
	}
	if err := r.lock(ctx); err != nil {
		return nil, err
	}
	defer r.unlock()
	return r.execute(ctx)
}

func (r *Runner) connect(ctx context.Context) error {
	conn := r.cfg.Conn
	conn.Database = r.cfg.Database
	db, err := mysql.Open(ctx, conn)
	if err != nil {
		return migrate.ConnectError(ctx, conn, err)
	}
	r.db = db
	if r.server, err = mysql.DetectServer(ctx, db); err != nil {
		db.Close()
		return err
	}
	r.log.Info("connected", "server", r.server.String(), "addr", conn.Addr())
	return nil
}

// inspect reads the table, chooses the key, checks the statement and reads
// the saved state.
func (r *Runner) inspect(ctx context.Context) error {
	t, err := schema.Load(ctx, r.db, r.cfg.Database, r.cfg.Table)
	if err != nil {
		if errors.Is(err, schema.ErrTableNotFound) {
			return invalid(fmt.Errorf("table %s does not exist; check --database and --table", mysql.QuoteTable(r.cfg.Database, r.cfg.Table)))
		}
		return fmt.Errorf("read the table: %w", err)
	}
	r.table = t
	idx, err := r.chooseKey()
	if err != nil {
		return invalid(err)
	}
	r.key = rowcopy.NewKeyWalk(t, idx.Name, idx.Columns)
	r.stmt = Statement{Database: t.Database, Table: t.Name, Set: strings.TrimSpace(r.cfg.Set), Where: strings.TrimSpace(r.cfg.Where), Delete: r.cfg.Delete, Key: r.key.Key()}
	if _, err := r.stmt.parse(t); err != nil {
		return invalid(err)
	}
	r.store = &store{db: r.db, database: t.Database, table: t.Name, job: r.stmt.Job()}
	if r.earlier, err = r.store.load(ctx); err != nil {
		return err
	}
	if r.earlier != nil && r.cfg.Restart {
		r.log.Info("forgetting the saved state of this backfill (--restart)", "status", r.earlier.Status, "rows_changed", r.earlier.RowsChanged)
		r.earlier = nil
	}
	return nil
}

// chooseKey is the index the backfill walks: --key, or the primary key,
// or the first unique key on NOT NULL columns.
func (r *Runner) chooseKey() (schema.Index, error) {
	keys, unwalkable := r.table.WalkableKeys(r.table.IdentifyingKeys())
	if len(keys) == 0 && unwalkable != nil {
		return schema.Index{}, unwalkable
	}
	if r.cfg.Key != "" && unwalkable != nil {
		for _, k := range r.table.IdentifyingKeys() {
			if why := r.table.UnwalkableKey(k); strings.EqualFold(k.Name, r.cfg.Key) && why != "" {
				return schema.Index{}, fmt.Errorf("--key %s cannot be walked in its index's order: %s; name another key", mysql.QuoteIdent(r.cfg.Key), why)
			}
		}
	}
	if r.cfg.Key == "" {
		if len(keys) == 0 {
			return schema.Index{}, fmt.Errorf("table %s has no PRIMARY KEY and no UNIQUE key on NOT NULL columns for the backfill to walk: add one first (with tailor alter)", mysql.QuoteIdent(r.table.Name))
		}
		return keys[0], nil
	}
	for _, k := range keys {
		if strings.EqualFold(k.Name, r.cfg.Key) {
			return k, nil
		}
	}
	var names []string
	for _, k := range keys {
		names = append(names, k.Name)
	}
	return schema.Index{}, fmt.Errorf("--key %s is not a PRIMARY KEY or a UNIQUE key on NOT NULL columns of %s; it may be one of: %s", mysql.QuoteIdent(r.cfg.Key), mysql.QuoteIdent(r.table.Name), orNone(strings.Join(names, ", ")))
}

// finishedBefore is the result of a rerun of a backfill that finished,
// or nil.
func (r *Runner) finishedBefore() *Result {
	e := r.earlier
	if e == nil || e.Status != statusDone {
		return nil
	}
	r.log.Info("this backfill finished before; nothing to do (--restart runs it again)", "finished_at", e.FinishedAt, "rows_changed", e.RowsChanged)
	return &Result{Done: true, DryRun: !r.cfg.Execute, FinishedAt: e.FinishedAt, Statement: r.stmt.Text(), Key: e.KeyName,
		RowsChangedBefore: e.RowsChanged, StillMatching: -1}
}

// checkSaved refuses to start over a backfill that stopped, and to resume
// one that did not.
func (r *Runner) checkSaved() error {
	e := r.earlier
	switch {
	case e == nil && r.cfg.Resume:
		return invalid(fmt.Errorf("there is no stopped backfill of this statement on %s to resume (its state would be in %s): run it without --resume", mysql.QuoteIdent(r.cfg.Table), mysql.QuoteTable(r.cfg.Database, StateTable)))
	case e == nil:
		return nil
	case e.KeyName != r.key.Index:
		return invalid(fmt.Errorf("the saved backfill walked key %s, not %s: give --key %s to resume it, or --restart", mysql.QuoteIdent(e.KeyName), mysql.QuoteIdent(r.key.Index), e.KeyName))
	case !r.cfg.Resume:
		at := "before its first batch"
		if e.Last != nil {
			at = fmt.Sprintf("after key %s", formatKey(e.Last))
		}
		return invalid(fmt.Errorf("this backfill of %s stopped %s with %d rows changed (%s): continue it with --resume, or start it over with --restart", mysql.QuoteIdent(r.cfg.Table), at, e.RowsChanged, orNone(e.Note)))
	}
	return nil
}

// findRange sets the range the run walks: the saved one on a resume, else
// up to the table's largest key now.
func (r *Runner) findRange(ctx context.Context) error {
	if e := r.earlier; e != nil {
		// A state saved by an older tailor holds an ENUM by its name.
		r.lower = schema.KeyAsHeld(r.table, r.key.Columns, e.Last)
		r.upper = schema.KeyAsHeld(r.table, r.key.Columns, e.Upper)
		r.walkedBefore, r.changedBefore = e.RowsWalked, e.RowsChanged
		return nil
	}
	q := fmt.Sprintf("SELECT %s FROM %s FORCE INDEX (%s) ORDER BY %s LIMIT 1", r.key.SelectList(),
		mysql.QuoteTable(r.key.Database, r.key.Table), mysql.QuoteIdent(r.key.Index), r.key.OrderBy(true))
	upper, err := scanKey(r.db.QueryRowContext(ctx, q), r.key)
	if errors.Is(err, sql.ErrNoRows) {
		return invalid(fmt.Errorf("table %s is empty: there is nothing to backfill", mysql.QuoteIdent(r.cfg.Table)))
	}
	if err != nil {
		return fmt.Errorf("read the table's largest key: %w", err)
	}
	r.upper = upper
	if r.stmt.Where != "" {
		var one int
		err := r.db.QueryRowContext(ctx, "SELECT 1 FROM "+mysql.QuoteTable(r.key.Database, r.key.Table)+" WHERE (\n"+r.stmt.Where+"\n) LIMIT 1").Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return invalid(fmt.Errorf("no row of %s matches --where: there is nothing to backfill", mysql.QuoteIdent(r.cfg.Table)))
		}
		if err != nil {
			return invalid(fmt.Errorf("the server refused --where: %w", err))
		}
	}
	return nil
}

func scanKey(row *sql.Row, walk rowcopy.KeyWalk) ([]any, error) {
	vals := make([]any, len(walk.Columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := row.Scan(ptrs...); err != nil {
		return nil, err
	}
	return walk.Scanned(vals), nil
}

// lockWait is how long a run waits for the backfill's lock: the session of
// a run that was just killed holds it until the server notices the
// connection is gone, and a --resume started right after must not be
// refused for it.
const lockWait = 3 * time.Second

// lock takes the backfill's server lock on a connection of its own, held
// for the run: two runs of one backfill never batch at once.
func (r *Runner) lock(ctx context.Context) error {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("take the backfill's lock: %w", err)
	}
	name := LockName(r.stmt.Job())
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, lockWait.Seconds()).Scan(&got); err != nil {
		conn.Close()
		return fmt.Errorf("take the backfill's lock: %w", err)
	}
	if got.Int64 != 1 {
		var holder sql.NullInt64
		_ = conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", name).Scan(&holder)
		conn.Close()
		return invalid(fmt.Errorf("another tailor backfill of the same statement is running on %s (connection %d): wait for it, or stop it (tailor ctl ... abort)", mysql.QuoteIdent(r.cfg.Table), holder.Int64))
	}
	r.lockConn = conn
	return nil
}

// unlock releases the lock on the server before the connection goes back
// to the pool, where its session, and so the lock, would live on; when the
// release fails, the lock ends with the session.
func (r *Runner) unlock() {
	if r.lockConn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = r.lockConn.ExecContext(ctx, "DO RELEASE_LOCK(?)", LockName(r.stmt.Job()))
	r.lockConn.Close()
}

// execute saves the backfill's state and walks the range, throttled.
func (r *Runner) execute(ctx context.Context) (*Result, error) {
	if err := r.store.create(ctx); err != nil {
		return nil, err
	}
	if r.earlier != nil {
		if err := r.store.takeOver(ctx, r.earlier.RunID, r.runID); err != nil {
			return nil, err
		}
		r.log.Info("resuming the backfill", "after_key", formatKey(r.lower), "rows_changed_before", r.changedBefore)
	} else {
		rec := &record{Statement: r.stmt.Text(), KeyName: r.key.Index, Upper: r.upper, RunID: r.runID}
		if err := r.store.start(ctx, rec); err != nil {
			return nil, err
		}
	}
	r.estimateRows(ctx)
	if err := r.newThrottler(); err != nil {
		return nil, r.stopped(ctx, err)
	}
	defer r.closeThrottler()
	stopControl, err := r.startControl(ctx)
	if err != nil {
		return nil, r.stopped(ctx, err)
	}
	defer stopControl()
	walkCtx, stopWalk := context.WithCancel(ctx)
	defer stopWalk()
	g, gctx := errgroup.WithContext(walkCtx)
	g.Go(func() error { return r.throttler.Run(gctx) })
	g.Go(func() error { return r.reportProgress(gctx) })
	r.running.Store(true)
	r.metrics.SetPhase("backfill")
	r.log.Info("backfill starting", "statement", r.stmt.Text(), "key", r.key.Index, "after_key", formatKey(r.lower), "up_to_key", formatKey(r.upper))
	if err := r.hook(ctx, hooks.OnBeforeRowCopy); err != nil {
		stopWalk()
		_ = g.Wait()
		return nil, r.stopped(ctx, err)
	}
	walkErr := r.walk(gctx)
	stopWalk()
	if err := g.Wait(); walkErr == nil && err != nil && !errors.Is(err, context.Canceled) {
		walkErr = err
	}
	r.running.Store(false)
	if walkErr != nil {
		if cause := context.Cause(gctx); walkErr != cause && cause != nil && !errors.Is(cause, context.Canceled) {
			walkErr = cause // the throttler's critical load or panic flag
		}
		return nil, r.stopped(ctx, walkErr)
	}
	if err := r.store.setStatus(ctx, r.runID, statusDone, ""); err != nil {
		return nil, err
	}
	_ = r.hook(ctx, hooks.OnRowCopyComplete)
	res := &Result{Statement: r.stmt.Text(), Key: r.key.Index, Range: [2][]any{r.lower, r.upper},
		RowsChanged: r.changed.Load(), RowsWalked: r.walked.Load(), Batches: r.batches.Load(),
		RowsChangedBefore: r.changedBefore, Resumed: r.earlier != nil, StillMatching: -1}
	res.StillMatching = r.countStillMatching(ctx)
	res.Elapsed = time.Since(r.started)
	r.log.Info("backfill done", "rows_changed", res.RowsChanged, "batches", res.Batches, "still_matching", res.StillMatching, "elapsed", res.Elapsed.Round(time.Millisecond).String())
	return res, nil
}

// stopped records a run that stopped with err, which it returns with its
// kind: every batch done so far stays done, and --resume continues.
func (r *Runner) stopped(ctx context.Context, err error) error {
	var lost *lostOwnerError
	if errors.As(err, &lost) {
		return &migrate.Error{Kind: migrate.KindFailed, Err: err}
	}
	note := err.Error()
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if serr := r.store.setStatus(saveCtx, r.runID, statusStopped, note); serr != nil {
		r.log.Error("could not record that the backfill stopped; --resume still continues it", "err", serr)
	}
	left := fmt.Sprintf("%d rows changed so far stay changed; continue with --resume", r.changedBefore+r.changed.Load())
	switch {
	case errors.Is(context.Cause(ctx), ErrAborted):
		return &migrate.Error{Kind: migrate.KindInterrupted, Err: fmt.Errorf("aborted by the operator; %s", left)}
	case ctx.Err() != nil:
		return &migrate.Error{Kind: migrate.KindInterrupted, Err: fmt.Errorf("interrupted; %s", left)}
	}
	var gone *mysql.UnreachableError
	if errors.As(err, &gone) {
		return &migrate.Error{Kind: migrate.KindConnect, Err: fmt.Errorf("the backfill stopped: %w; %s", err, left)}
	}
	return &migrate.Error{Kind: migrate.KindResumable, Err: fmt.Errorf("the backfill stopped: %w; %s", err, left)}
}

// estimateRows reads the table's row estimate for the progress.
func (r *Runner) estimateRows(ctx context.Context) {
	var n sql.NullInt64
	_ = r.db.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", r.cfg.Database, r.cfg.Table).Scan(&n)
	r.estimate.Store(max(n.Int64, r.walkedBefore))
	r.metrics.SetRowsEstimate(r.estimate.Load())
}

// countStillMatching counts the rows that match Where after the walk, or
// -1 when there is no Where or the count fails. It reads without locks.
func (r *Runner) countStillMatching(ctx context.Context) int64 {
	if r.stmt.Where == "" || r.cfg.testDisableStillMatchCount {
		return -1
	}
	var n int64
	q := "SELECT COUNT(*) FROM " + mysql.QuoteTable(r.key.Database, r.key.Table) + " WHERE (\n" + r.stmt.Where + "\n)"
	if err := r.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		r.log.Warn("could not count the rows that still match --where", "err", err)
		return -1
	}
	return n
}

// formatKey shows a key for messages: "(42)", "(7, 'x')".
func formatKey(key []any) string {
	if key == nil {
		return "(start)"
	}
	parts := make([]string, len(key))
	for i, v := range key {
		switch v := rowcopy.Printable(v).(type) {
		case string:
			parts[i] = mysql.QuoteString(v)
		case nil:
			parts[i] = "NULL"
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// heartbeatName is the throttler's heartbeat table of this backfill: its
// own, so that an alter or another backfill of the same table that drops
// theirs does not take it away.
func (r *Runner) heartbeatName() string {
	return cutover.NameAfter(r.cfg.Table, "_tailor_hb"+r.stmt.Job()[:6])
}

// sameKey reports whether two keys are equal as the saved state stores
// them (their types as well as their values).
func sameKey(a, b []any) bool {
	ea, err1 := state.EncodeKey(a)
	eb, err2 := state.EncodeKey(b)
	return err1 == nil && err2 == nil && ea == eb
}
