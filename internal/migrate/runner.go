package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/cutover"
	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/hooks"
	"github.com/tailor-osc/tailor/internal/metrics"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/plan"
	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/throttle"
)

// Phase is where a migration is.
type Phase int32

// The phases of a migration, in order.
const (
	PhaseValidate Phase = iota
	// PhaseInstant is a change the server makes natively, INSTANT; the
	// copy phases are skipped.
	PhaseInstant
	PhaseCreateShadow
	PhaseCopy
	// PhaseBuildIndexes builds the secondary indexes deferred for the copy.
	PhaseBuildIndexes
	// PhaseChecksum compares the copy with the original before the swap.
	PhaseChecksum
	// PhasePostponed keeps the shadow in step while the cut-over waits
	// for its flag file to go.
	PhasePostponed
	PhaseCutOver
	PhaseCleanup
	PhaseDone
)

func (p Phase) String() string {
	switch p {
	case PhaseValidate:
		return "validate"
	case PhaseInstant:
		return "instant"
	case PhaseCreateShadow:
		return "create-shadow"
	case PhaseCopy:
		return "copy"
	case PhaseBuildIndexes:
		return "build-indexes"
	case PhaseChecksum:
		return "checksum"
	case PhasePostponed:
		return "postponed"
	case PhaseCutOver:
		return "cut-over"
	case PhaseCleanup:
		return "cleanup"
	case PhaseDone:
		return "done"
	}
	return "unknown"
}

// Result is what a finished run reports.
type Result struct {
	DryRun bool
	// Plan is what tailor found out before acting: the server's algorithm,
	// the strategy, the checks. Always set.
	Plan *plan.Plan
	// Native is true when the server made the change itself, INSTANT, and
	// nothing was copied.
	Native          bool
	InstantAttempts int
	Key             string
	// RowsCopied are the rows this run copied; RowsCopiedBefore those
	// the earlier runs of a Resumed migration copied.
	RowsCopied       int64
	RowsCopiedBefore int64
	Resumed          bool
	EventsApplied    int64
	Elapsed          time.Duration
	// CutOverLock is how long writers were held at the cut-over.
	CutOverLock     time.Duration
	CutOverAttempts int
	// CutOverKilled is the number of sessions ForceCutOverAfter killed.
	CutOverKilled int
	// ChecksumChunks were compared before the swap; ChecksumMended of them
	// differed and were copied again. ChecksumSkipped is --skip-checksum.
	ChecksumChunks  int
	ChecksumMended  int
	ChecksumSkipped bool
	// ChecksumBehindRows are the original's rows compared while the copy
	// ran, and ChecksumRechecked the rows the applier changed since, which
	// were compared again before the swap.
	ChecksumBehindRows int64
	ChecksumRechecked  int64
	// ChecksumBefore is a checksum passed by an earlier run of a resumed
	// migration; this run did not check again.
	ChecksumBefore bool
	// TriggersRecreated are the triggers moved to the new table.
	TriggersRecreated []string
	// OldTable is the name the original now has; empty when it was dropped.
	OldTable string
	Database string
	Table    string
	// Revert is what a dry run of tailor revert would do; Reverted says a
	// revert swapped the tables back.
	Revert   *RevertPlan
	Reverted bool
	// Revertible says the saved state keeps what tailor revert needs: the
	// old table, the swap's position and the columns mapped back.
	Revertible bool
	// rename is the cut-over's RENAME as the server logged it.
	rename string
}

// runState is what a run has done on the server, moved forward by its
// phases: what a failure must clean up or leave for a resume, and what the
// cut-over, the proof and a revert need. The saved state (package state)
// records what of it a resume needs.
type runState struct {
	// shadowCreated says the shadow is this run's to drop on a failure
	// that leaves nothing to resume.
	shadowCreated bool
	// deferredKeys are the shadow's secondary indexes dropped for the
	// copy, and shadowDefinition its definition as the ALTER made it
	// (before they were dropped): the one the cut-over swaps in
	// (shadowUnchanged).
	deferredKeys     []schema.KeyDefinition
	shadowDefinition string
	// swapped is set once the original has been swapped for the shadow;
	// caughtUpTo is the position the cut-over's last catch-up reached.
	swapped    bool
	caughtUpTo capture.Position
	// swappedAt is the position right after the cut-over's RENAME, as the
	// proof found it: where a revert starts applying.
	swappedAt capture.Position
}

// Runner runs one migration. It is used once.
type Runner struct {
	cfg    Config
	log    *slog.Logger
	db     *sql.DB
	server mysql.Server

	table    *schema.Table
	alter    *ddl.Alter
	plan     *plan.Plan
	triggers []schema.Trigger
	shadow   string
	old      string
	// runID names this run in what it leaves on the server (the sentry's
	// comment), so that it never drops another run's table.
	runID   string
	mapping *schema.Mapping

	hooks     *hooks.Runner
	throttler *throttle.Throttler
	// throttlerSeen is throttler for readers that may run before it is
	// set (ThrottleReasons).
	throttlerSeen atomic.Pointer[throttle.Throttler]
	metrics       *metrics.Metrics
	// abort cancels the run with a cause (the control command).
	abort context.CancelCauseFunc
	// knobs are what the operator may change while the copy runs; sizer
	// adapts their chunk size to ChunkTime until the operator fixes it.
	knobs operate.Knobs
	sizer *rowcopy.Sizer
	// copyGate is the copy's gate on the commit latency, once the copy
	// runs.
	copyGate atomic.Pointer[copyGate]
	// checkGate is the checksum's gate on the same latency, once a
	// checksum runs.
	checkGate atomic.Pointer[copyGate]
	// redo holds chunks back while InnoDB's redo log is nearly full.
	redo *operate.RedoGate
	// own are the connection ids of db's sessions, which a forced
	// cut-over never kills.
	own mysql.OwnSessions
	// gate lets the operator's abort stop the cut-over between attempts;
	// heldUp is what the status shows of a cut-over held up by sessions.
	gate   cutOverGate
	heldUp cutOverHold
	// releaseCutOver is closed by ReleaseCutOver: a postponed cut-over
	// goes ahead.
	releaseCutOver     chan struct{}
	releaseCutOverOnce sync.Once

	// saved is the run's saved state, which a resume starts from;
	// watermark follows the copy's chunks for it.
	saved     saved
	watermark *watermark

	// run is what this run has done on the server so far.
	run runState
	// lockConn holds the migration lock; lockMu serialises its use by
	// watchLock, the cut-over and the cleanup (one connection runs one
	// statement at a time).
	lockConn *sql.Conn
	lockMu   sync.Mutex
	// lockTakenAt is when the lock was granted, to tell a server restart
	// from a killed lock session (retakeLock).
	lockTakenAt time.Time
	start       time.Time
	// startSeen is start for readers on other goroutines (Status).
	startSeen atomic.Int64
	stream    *stream
	// streamSeen is stream for readers on other goroutines (Status).
	streamSeen atomic.Pointer[stream]
	progress   progress
}

// New checks cfg and returns a Runner for it.
func New(cfg Config) (*Runner, error) {
	cfg.Defaults()
	if cfg.ReplicaServerID == 0 {
		// Chosen here rather than by the reader, so that the throttler
		// knows the reader's registration is not a replica.
		cfg.ReplicaServerID = 1<<20 + rand.Uint32N(1<<31-1<<20)
	}
	if err := cfg.Validate(); err != nil {
		return nil, invalid(err)
	}
	r := &Runner{
		cfg:            cfg,
		runID:          fmt.Sprintf("%016x", rand.Uint64()),
		log:            cfg.Logger.With("table", cfg.Database+"."+cfg.Table),
		shadow:         ShadowName(cfg.Table),
		old:            OldName(cfg.Table),
		releaseCutOver: make(chan struct{}),
	}
	r.saved.changed = make(chan struct{}, 1)
	r.sizer = cfg.Sizer()
	r.knobs.Init(cfg.ChunkSize, cfg.Throttle.MaxLag, cfg.Throttle.MaxLoad)
	r.metrics = metrics.New()
	r.metrics.SetChunkSize(int64(cfg.ChunkSize))
	if cfg.HooksPath != "" {
		env := HookEnv()
		if cfg.Revert {
			env = append(env, "TAILOR_REVERT=1")
		}
		h, err := hooks.New(hooks.Config{Dir: cfg.HooksPath, Logger: r.log, Env: env})
		if err != nil {
			return nil, invalid(fmt.Errorf("--hooks-path: %w", err))
		}
		r.hooks = h
	}
	return r, nil
}

// Run performs the migration, or with Execute unset only validates it and
// describes what it would do. On failure the original table is untouched
// and the shadow is gone.
func (r *Runner) Run(ctx context.Context) (res *Result, err error) {
	ctx, r.abort = context.WithCancelCause(ctx)
	defer r.abort(nil)
	r.start = time.Now()
	r.startSeen.Store(r.start.UnixNano())
	r.metrics.Start(r.cfg.Database, r.cfg.Table, r.start)
	r.setPhase(PhaseValidate)
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
	r.chooseThreads(ctx)
	if r.cfg.Revert {
		return r.runRevert(ctx)
	}
	if err := r.validate(ctx); err != nil {
		return nil, err
	}
	if err := r.makePlan(ctx); err != nil {
		return nil, err
	}
	if !r.cfg.Execute {
		return &Result{DryRun: true, Plan: r.plan, Database: r.cfg.Database}, nil
	}
	if err := refusal(r.plan); err != nil {
		return nil, err
	}
	if h := r.cfg.testHooks; h != nil && h.afterPlan != nil {
		h.afterPlan()
	}
	if err := r.hook(ctx, hooks.OnValidated); err != nil {
		return nil, err
	}
	if err := r.hook(ctx, hooks.OnRowCountComplete); err != nil {
		return nil, err
	}
	if err := r.lockTable(ctx); err != nil {
		return nil, err
	}
	defer r.unlockTable()
	if r.plan.Strategy.Kind == plan.StrategyNativeInstant {
		res, err := r.instant(ctx)
		if res != nil {
			res.Plan = r.plan
		}
		return res, err
	}
	return r.executeAndReport(ctx)
}

// executeAndReport runs the copy and the cut-over, and on failure says
// what became of the tables (and removes or keeps the work).
func (r *Runner) executeAndReport(ctx context.Context) (*Result, error) {
	res, err := r.execute(ctx)
	if err != nil && r.run.swapped {
		// The new table is in place; the error says what the swap left
		// (proveSwap), and there is no shadow to remove, nor anything to
		// resume.
		r.dropSavedState(context.WithoutCancel(ctx))
		return nil, err
	}
	if err != nil {
		phase := r.progress.Phase()
		var gone *mysql.UnreachableError
		if errors.As(err, &gone) && ctx.Err() == nil {
			return nil, r.unreachable(gone, phase)
		}
		untouched := fmt.Sprintf("%s is untouched", mysql.QuoteIdent(r.cfg.Table))
		var lost *cutover.TriggersLostError
		if errors.As(err, &lost) {
			untouched = fmt.Sprintf("%s keeps its rows and schema but lost its triggers (the SQL to recreate them is above)", mysql.QuoteIdent(r.cfg.Table))
		}
		var left string
		if r.cfg.Revert {
			return nil, r.revertStopped(ctx, err, phase, untouched)
		}
		if r.resumable(ctx, err) {
			left = untouched + r.keepForResume(err)
			kind := KindResumable
			if KindOf(err) == KindConnect {
				kind = KindConnect // the server was out of reach: exit code 4
			}
			return nil, &Error{Kind: kind, Err: fmt.Errorf("the migration stopped during %s: %w; %s", phase, err, left)}
		}
		left = untouched + r.cleanUpAfterFailure()
		if errors.Is(context.Cause(ctx), ErrAborted) {
			return nil, &Error{Kind: KindInterrupted, Err: fmt.Errorf("aborted by the operator during %s; %s", phase, left)}
		}
		if ctx.Err() != nil {
			return nil, &Error{Kind: KindInterrupted, Err: fmt.Errorf("interrupted during %s; %s", phase, left)}
		}
		if KindOf(err) != KindFailed {
			return nil, err
		}
		return nil, fmt.Errorf("the migration failed during %s: %w; %s", phase, err, left)
	}
	res.Plan = r.plan
	return res, nil
}

func (r *Runner) execute(ctx context.Context) (*Result, error) {
	// The control socket first, so that a socket in use or an address
	// taken fails the run before anything is created.
	if err := r.newThrottler(); err != nil {
		return nil, err
	}
	defer r.closeThrottler()
	stopControl, err := r.startControl(ctx)
	if err != nil {
		return nil, err
	}
	defer stopControl()
	if err := r.dropEarlierState(ctx); err != nil {
		return nil, err
	}
	var startPos capture.Position
	if earlier := r.saved.earlier; earlier != nil {
		if err := r.adoptShadow(ctx); err != nil {
			return nil, err
		}
		// Every change before it is in the shadow (package state).
		startPos = earlier.Position
		// A state saved by an older tailor holds an ENUM by its name.
		r.watermark = newWatermark(schema.KeyAsHeld(r.mapping.Source, r.mapping.KeyOldNames(), earlier.LowWatermark))
	} else {
		if err := r.createShadow(ctx); err != nil {
			return nil, err
		}
		if startPos, err = capture.CurrentPosition(ctx, r.db, r.server); err != nil {
			return nil, fmt.Errorf("read binary log position: %w", err)
		}
		r.watermark = newWatermark(nil)
	}
	if err := r.startSavedState(ctx, startPos); err != nil {
		return nil, err
	}
	captureCtx, stopCapture := context.WithCancel(ctx)
	defer stopCapture()
	g, gctx := errgroup.WithContext(captureCtx)
	r.stream = newStream(r)
	r.streamSeen.Store(r.stream)
	g.Go(func() error { return r.stream.run(gctx, startPos) })
	g.Go(func() error { return r.reportProgress(gctx) })
	g.Go(func() error { return r.throttler.Run(gctx) })
	g.Go(func() error { return r.updateMetrics(gctx) })
	g.Go(func() error { return r.watchLock(gctx) })
	g.Go(func() error { return r.keepCheckpointing(gctx) })

	res, err := r.copyAndCutOver(ctx, gctx)
	stopCapture()
	streamErr := g.Wait()
	if err != nil {
		// A failed reader or applier cancels the copy: its error is the
		// cause.
		if streamErr != nil && !errors.Is(streamErr, context.Canceled) {
			return nil, streamErr
		}
		return nil, err
	}
	// Once the stream has stopped (the RENAME ended its reader), so that
	// the proof may register under the same server id.
	if err := r.proveSwap(ctx, r.run.caughtUpTo, res.rename); err != nil {
		return nil, err
	}
	return res, r.finish(ctx, res)
}

// copyAndCutOver copies on the stream's context, which a failing reader or
// applier cancels. The cut-over runs on the run's own context instead: the
// RENAME it makes is DDL on the captured table, which ends the reader, and
// that must not cancel the swap that caused it.
func (r *Runner) copyAndCutOver(ctx, streamCtx context.Context) (*Result, error) {
	r.setPhase(PhaseCopy)
	if err := r.hook(streamCtx, hooks.OnBeforeRowCopy); err != nil {
		return nil, err
	}
	// behind is what the checksum compared while the copy ran.
	var behind *checkedBehind
	if earlier := r.saved.earlier; earlier != nil && earlier.CopyDone {
		if r.cfg.Revert {
			r.log.Info("nothing to copy: the kept table held every row at the cut-over", "phase", PhaseCopy.String())
		} else {
			r.log.Info("the copy was done by an earlier run", "phase", PhaseCopy.String(), "rows_copied_before", earlier.RowsCopied)
		}
	} else {
		low, _, _ := r.watermark.position()
		r.log.Info("copying rows", "phase", PhaseCopy.String(), "key", r.mapping.KeyName, "chunk_size", r.cfg.ChunkSize, "rows_estimate", r.progress.rowsTotal.Load(), "from", rowcopy.Chunk{Lower: low}.String())
		var err error
		if behind, err = r.copyRows(streamCtx, low); err != nil {
			return nil, err
		}
	}
	if err := r.hook(streamCtx, hooks.OnRowCopyComplete); err != nil {
		return nil, err
	}
	r.log.Info("copy done", "phase", PhaseCopy.String(), "rows", r.progress.rowsCopied.Load(), "elapsed", time.Since(r.start).Round(time.Millisecond).String())
	if err := r.buildIndexes(streamCtx); err != nil {
		return nil, err
	}
	if err := r.throttler.Wait(streamCtx); err != nil {
		return nil, err
	}
	var checked Result
	if earlier := r.saved.earlier; earlier != nil && earlier.ChecksumPassed {
		r.log.Info("the checksum was passed in an earlier run; the shadow has been kept in step since", "phase", PhaseChecksum.String())
		checked.ChecksumBefore = true
	} else {
		if err := r.checksum(streamCtx, behind, &checked); err != nil {
			return nil, err
		}
		if checked.ChecksumSkipped {
			// Nothing was compared: a resume without --skip-checksum
			// must check.
		} else if err := r.markChecksumPassed(streamCtx); err != nil {
			r.log.Warn("could not save that the checksum passed; a resume would check again", "err", err)
		}
	}
	if err := r.waitWhilePostponed(streamCtx); err != nil {
		return nil, err
	}
	if err := r.hook(streamCtx, hooks.OnBeforeCutOver); err != nil {
		return nil, err
	}
	if h := r.cfg.testHooks; h != nil && h.beforeCutOver != nil {
		h.beforeCutOver()
	}
	r.setPhase(PhaseCutOver)
	res, err := r.cutOver(ctx, streamCtx)
	if err != nil {
		return nil, err
	}
	res.ChecksumChunks, res.ChecksumMended, res.ChecksumSkipped, res.ChecksumBefore = checked.ChecksumChunks, checked.ChecksumMended, checked.ChecksumSkipped, checked.ChecksumBefore
	res.ChecksumBehindRows, res.ChecksumRechecked = checked.ChecksumBehindRows, checked.ChecksumRechecked
	return res, nil
}

// copyRows copies the key space above low (all of it when low is nil), and
// returns what the checksum compared meanwhile (nil when nothing).
func (r *Runner) copyRows(ctx context.Context, low []any) (*checkedBehind, error) {
	chunker := rowcopy.NewChunker(r.db, r.mapping, int(r.knobs.ChunkSize()))
	if low != nil {
		chunker = rowcopy.NewChunkerIn(r.db, r.mapping, int(r.knobs.ChunkSize()), low, nil)
	}
	// Behind a fresh copy only: a resumed one has ranges copied by an
	// earlier run below low, which the checksum before the swap compares
	// whole.
	var behind chan *checkedBehind
	copied := make(chan struct{})
	bctx, stopBehind := context.WithCancel(ctx)
	defer stopBehind()
	if low == nil && !r.cfg.SkipChecksum && r.cfg.ChecksumDuringCopy && !r.cfg.Revert {
		behind = make(chan *checkedBehind, 1)
		go func() { behind <- r.checkBehind(bctx, copied) }()
	}
	copier := r.newCopier()
	gate := r.newGate(r.cfg.Threads)
	r.copyGate.Store(gate)
	g, gctx := errgroup.WithContext(ctx)
	chunks := make(chan rowcopy.Chunk)
	// One producer walks the key: finding a boundary is one short index
	// read, and the ranges must be consecutive. The workers copy disjoint
	// ranges, so each chunk's argument (see rowcopy.Copier) holds on its
	// own.
	g.Go(func() error {
		defer close(chunks)
		for {
			if err := r.throttler.Wait(gctx); err != nil {
				return err
			}
			chunker.SetSize(r.nextChunkSize())
			chunk, ok, err := r.nextChunk(gctx, chunker)
			if err != nil || !ok {
				return err
			}
			select {
			case chunks <- chunk:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
	})
	for range r.cfg.Threads {
		g.Go(func() error {
			for chunk := range chunks {
				// Again here: the producer may have passed the throttle
				// with this chunk before the throttle engaged.
				if err := r.throttler.Wait(gctx); err != nil {
					return err
				}
				if err := r.redo.Wait(gctx); err != nil {
					return err
				}
				n, took, err := r.copyGatedChunk(gctx, gate, copier, chunk)
				if err != nil {
					return err
				}
				if r.sizer != nil {
					r.sizer.Observe(n, took)
				}
				r.metrics.ObserveChunk(n, took)
				r.progress.rowsCopied.Add(n)
				r.watermark.chunkDone(chunk.Seq, chunk.Upper, n)
				if h := r.cfg.testHooks; h != nil && h.afterChunk != nil {
					h.afterChunk(chunk.Seq)
				}
				if h := r.cfg.testHooks; h != nil && h.stopAfterChunk != nil {
					if err := h.stopAfterChunk(chunk.Seq); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	err := g.Wait()
	close(copied)
	if behind == nil {
		return nil, err
	}
	if err != nil {
		// The copy failed: what was compared is of no use, and the
		// comparing ends before the run goes on to clean up.
		stopBehind()
		<-behind
		return nil, err
	}
	return <-behind, nil
}

// nextChunkSize is the operator's chunk size when one is fixed (the flag
// or the chunk-size command), else the size that keeps chunks near
// ChunkTime.
func (r *Runner) nextChunkSize() int {
	if r.sizer == nil || r.knobs.ChunkSizeFixed() {
		return int(r.knobs.ChunkSize())
	}
	n := r.sizer.Size()
	r.knobs.AdaptChunkSize(n)
	r.metrics.SetChunkSize(int64(n))
	return n
}

// chooseThreads sets the copy's thread count when Config leaves it to
// tailor.
func (r *Runner) chooseThreads(ctx context.Context) {
	if r.cfg.Threads != 0 {
		return
	}
	r.cfg.Threads = DefaultThreads
	if cpus := mysql.ServerCPUs(ctx, r.db, r.server); cpus > 0 && cpus < DefaultThreads {
		r.cfg.Threads = cpus
	}
	r.log.Debug("copy threads chosen", "threads", r.cfg.Threads)
}

// finish drops the old table when asked to and reports.
func (r *Runner) finish(ctx context.Context, res *Result) error {
	// The tables are swapped: what is left (the old table, the saved state
	// a revert needs) must not be cut short by a Ctrl-C now.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	r.setPhase(PhaseCleanup)
	if r.cfg.OkToDropTable {
		if _, err := r.db.ExecContext(ctx, "DROP TABLE "+mysql.QuoteTable(r.cfg.Database, r.old)); err != nil {
			r.log.Warn("could not drop the old table", "old_table", r.old, "err", err)
		} else {
			res.OldTable = ""
		}
	}
	r.saveRevertable(ctx, res)
	res.RowsCopied = r.progress.rowsCopied.Load()
	res.RowsCopiedBefore = r.saved.rowsBefore
	res.Resumed = r.saved.earlier != nil && !r.cfg.Revert
	res.Reverted = r.cfg.Revert
	res.EventsApplied = r.progress.eventsApplied.Load()
	res.Elapsed = time.Since(r.start)
	res.Key = r.mapping.KeyName
	res.Database, res.Table = r.cfg.Database, r.cfg.Table
	r.setPhase(PhaseDone)
	return nil
}

// cleanUpAfterFailure removes the shadow table and says what became of it,
// as the end of a sentence. It runs on its own bounded context, since the
// run's context may be the one that was cancelled.
//
// The shadow is this run's only while the run holds the migration lock:
// once the lock is lost, a second tailor may have started, dropped the
// shadow as a leftover and made its own under the same name. So the DROP
// runs on the session that holds the lock, right after it checked it still
// does: a session keeps a named lock until it ends, so the lock is held for
// the whole DROP, and a lost lock leaves the shadow alone.
func (r *Runner) cleanUpAfterFailure() string {
	if !r.run.shadowCreated {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shadow := mysql.QuoteTable(r.cfg.Database, r.shadow)
	r.lockMu.Lock()
	defer r.lockMu.Unlock()
	if err := r.checkLockLocked(ctx); err != nil {
		r.log.Error("not removing the shadow table: the migration lock was lost, so it may be another run's now", "shadow", r.shadow, "err", err)
		return fmt.Sprintf("; the copy %s was left alone, as another tailor may own it now: once none works on the table, --resume continues it", shadow)
	}
	if _, err := r.lockConn.ExecContext(ctx, "DROP TABLE IF EXISTS "+shadow); err != nil {
		r.log.Error("could not remove the shadow table; drop it by hand", "shadow", r.shadow, "err", err)
		return fmt.Sprintf(", but the shadow table %s could not be removed: drop it by hand", shadow)
	}
	r.dropSavedState(ctx)
	r.log.Info("removed the shadow table", "shadow", r.shadow)
	return " and the shadow table was removed"
}

func (r *Runner) setPhase(p Phase) {
	r.progress.phase.Store(int32(p))
	r.metrics.SetPhase(p.String())
	r.phaseChanged()
}

// lockTable takes a server-side named lock, held on its own connection for
// the whole run, so that a second tailor on the same table refuses to start.
func (r *Runner) lockTable(ctx context.Context) error {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open lock connection: %w", err)
	}
	name := lockName(r.cfg.Database, r.cfg.Table)
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", name).Scan(&got); err != nil {
		conn.Close()
		return fmt.Errorf("take the migration lock: %w", err)
	}
	if got.Int64 != 1 {
		var holder sql.NullInt64
		_ = conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", name).Scan(&holder)
		conn.Close()
		return invalid(fmt.Errorf("another tailor is already migrating %s.%s (server lock %q is held by connection %d); wait for it to finish or stop it", r.cfg.Database, r.cfg.Table, name, holder.Int64))
	}
	r.lockConn, r.lockTakenAt = conn, time.Now()
	return nil
}

// checkLock verifies that the migration lock is still held. The server
// releases a named lock when its session ends (a killed connection, a
// network cut), and a run that went on without it would be open to a second
// tailor on the same table.
//
// The query runs on a context of its own: the driver closes a connection
// whose query is cancelled, and with it the session would give the lock
// up, just as a Ctrl-C is about to clean up.
func (r *Runner) checkLock(ctx context.Context) error {
	r.lockMu.Lock()
	defer r.lockMu.Unlock()
	return r.checkLockLocked(ctx)
}

// checkLockLocked is checkLock for a caller holding lockMu.
func (r *Runner) checkLockLocked(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockCheckTimeout)
	defer cancel()
	var held sql.NullBool
	err := r.lockConn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?) = CONNECTION_ID()", lockName(r.cfg.Database, r.cfg.Table)).Scan(&held)
	switch {
	case err != nil:
		return fmt.Errorf("%w on %s.%s (its server session cannot be reached: %w); stopping so that no second tailor can work on the table at the same time", errLostLock, r.cfg.Database, r.cfg.Table, err)
	case !held.Valid || !held.Bool:
		return fmt.Errorf("%w on %s.%s (its server session no longer holds it); stopping so that no second tailor can work on the table at the same time", errLostLock, r.cfg.Database, r.cfg.Table)
	}
	return nil
}

// errLostLock is the migration lock lost while the run went on: the
// run's tables may be another run's from then on.
var errLostLock = errors.New("lost the migration lock")

// lockCheckInterval is how often a running migration checks that it still
// holds its lock; lockCheckTimeout bounds one check.
const (
	lockCheckInterval = time.Second
	lockCheckTimeout  = 10 * time.Second
)

// watchLock checks the migration lock every lockCheckInterval until ctx
// ends, and fails, stopping the copy and the applier, once it is lost:
// from then on a second tailor may start on the table, and this run must
// not write into, or drop, tables that may be that run's.
func (r *Runner) watchLock(ctx context.Context) error {
	tick := time.NewTicker(lockCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := r.checkLock(ctx); err != nil {
			if mysql.IsConnectionLost(err) && ctx.Err() == nil {
				// Taken again when the server restarted.
				err = r.recoverLock(ctx, err)
			}
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
}

func (r *Runner) unlockTable() {
	if r.lockConn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.lockMu.Lock()
	defer r.lockMu.Unlock()
	_, _ = r.lockConn.ExecContext(ctx, "DO RELEASE_LOCK(?)", lockName(r.cfg.Database, r.cfg.Table))
	r.lockConn.Close()
}
