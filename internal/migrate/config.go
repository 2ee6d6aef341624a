// Package migrate runs one online schema migration: it validates, builds the
// shadow table, copies rows while applying the captured changes beside the
// copy, cuts over, and cleans up. Runner.Run reads like the algorithm; each
// phase is a method of modest length.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/rowcopy"
)

// Config is everything one migration needs. Defaults lives in Defaults and
// the flags of cmd/tailor document them.
type Config struct {
	Conn     mysql.ConnConfig
	Database string
	Table    string
	Alter    string
	// Execute makes the changes; without it Run validates and describes.
	Execute bool
	// Threads is the number of chunks copied at once; zero chooses
	// DefaultThreads, or fewer on a server with fewer CPUs.
	Threads int
	// CutOverLockTimeout bounds how long writers are held at the cut-over.
	CutOverLockTimeout time.Duration
	// CutOverAttempts is how many times the cut-over is tried before the
	// migration gives up (with backoff between attempts, at most
	// maxCutOverBackoff apart); zero means 5, and CutOverAttemptsUnlimited
	// tries until the operator stops the run (the abort command, Ctrl-C).
	// The command line's --cut-over-attempts 0 is CutOverAttemptsUnlimited.
	CutOverAttempts int
	// ForceCutOverAfter, when set, ends the wait of a cut-over that
	// sessions have held up for that long: it kills them (KILL CONNECTION,
	// which rolls their transactions back) and then attempts the swap; see
	// forceCutOver. Zero never kills anything.
	ForceCutOverAfter time.Duration
	// DeferIndexes says when the shadow's plain secondary indexes are built:
	// DeferIndexesAuto (the default), DeferIndexesAlways or
	// DeferIndexesNever.
	DeferIndexes string
	// ForceCopy copies the table online even when the server could make
	// the change INSTANT.
	ForceCopy bool
	// TimeZone is the time zone in which a value crossing between a
	// TIMESTAMP and another type is converted (schema.Mapping.TimeZone);
	// empty means the server's @@global.time_zone. A resume and a revert
	// convert in the zone their migration saved.
	TimeZone string
	// SkipChecksum swaps without first comparing the copy with the original.
	SkipChecksum bool
	// ChecksumDuringCopy compares the copied ranges while the copy runs
	// (verify.Behind) and, after it, only the rest and the rows the applier
	// changed since, rather than the whole table after the copy. It does
	// not see a row of the new table that another session changed after
	// its range was compared, and it was not faster: on 2 cores the
	// comparing takes the CPU the copy would have had, and the
	// application's p99 rose more (MariaDB 10.11, durable commits, 2
	// cores, 1,000,000 rows, three runs each: idle 5.69 s against 5.48 s
	// after the copy; under 300 tx/s p99 19.1 ms against 13.6 ms, the load
	// alone 5.7-6.0 ms; docs/benchmarks.md). A server with cores to spare
	// may gain from it.
	ChecksumDuringCopy bool
	// RecreateTriggers moves the table's triggers to the new table at the
	// cut-over; without it a table with triggers is refused.
	RecreateTriggers bool
	// InstantLockTimeout bounds how long a native INSTANT change may wait
	// for its metadata lock, and so how long it can hold other queries of
	// the table queued behind it.
	InstantLockTimeout time.Duration
	// InstantAttempts is how many times a native INSTANT change is tried.
	InstantAttempts int
	// MaxCommitLatency is the commit latency of the application's small
	// transactions, as the heartbeat writes measure it, above which the
	// copy copies fewer chunks at once (it never stops for it), while
	// other sessions write (Runner.whileOthersWrite); zero means
	// DefaultMaxCommitLatency, NoMaxCommitLatency (or any negative value)
	// no limit.
	MaxCommitLatency time.Duration
	// PostponeCutOverFlagFile, while the file exists, holds the migration
	// before the cut-over, keeping the shadow in step, until the file is
	// removed or the cut-over is released by the control command.
	PostponeCutOverFlagFile string
	// OkToDropTable drops the old table after a successful cut-over.
	OkToDropTable bool
	// InitiallyDropGhostTable drops a shadow table, and the saved state,
	// left by an earlier run instead of refusing to start.
	InitiallyDropGhostTable bool
	// Resume continues the migration the saved state describes (package
	// state) instead of starting one.
	Resume bool
	// Revert undoes the last migration of the table (tailor revert): the
	// changes made since its cut-over are applied to the table it kept,
	// which is then swapped back in. Alter is empty.
	Revert bool
	// CheckpointInterval is how often the saved state is written while the
	// migration runs (and at every phase change); DefaultCheckpointInterval
	// when zero.
	CheckpointInterval time.Duration
	// ReplicaServerID is the server id the binary log reader registers
	// with; random when zero.
	ReplicaServerID uint32
	// Settings are the chunks' size, the throttle, the redo log's limit,
	// the control endpoints, the hooks, the progress reports and the
	// reconnect timeout (package operate), as tailor backfill's.
	operate.Settings
	Logger *slog.Logger

	// hooks for tests; nil in production.
	testHooks *testHooks
}

// CutOverAttemptsUnlimited is the CutOverAttempts of a cut-over retried
// until the operator stops it. A zero CutOverAttempts is not that: a Config
// made in code without thinking about the cut-over must not wait forever.
const CutOverAttemptsUnlimited = -1

// DefaultCheckpointInterval is how often the saved state is written while
// nothing else writes it: a resume repeats at most this much of the copy.
const DefaultCheckpointInterval = 10 * time.Second

// DefaultThreads is the number of chunks copied at once unless Config says,
// or the server's CPU count when it has fewer: more copies than the server
// has cores take CPU from the application without making the copy faster
// (MariaDB 10.11 on 2 cores: 2 and 4 copy threads took as long).
const DefaultThreads = 4

// DefaultMaxCommitLatency is the commit latency (the 90th percentile of the
// heartbeat writes of the last 2 s) above which the copy gives way. A small
// load alone commits in a few ms (300 and 2,000 tx/s: p99 3.6 and 7.5 ms,
// issue 17), while a copy and a load that together saturate the server
// queue commits for hundreds of milliseconds to seconds. It was 50 ms, set
// above what the copy itself costs a commit idle (a p90 of 10-17 ms on 2
// shared cores) so as not to slow an idle copy; measured, 20 ms was faster
// even idle, because on a server with few cores fewer chunks at once copy
// faster beside the applier, the binary log reader and the checksum behind
// the copy (MariaDB 10.11, durable commits, 2 cores, 1,000,000 rows, two
// runs each: idle 7.4 and 7.1 s with 50 ms, 5.2 and 4.9 s with 20 ms;
// under 300 tx/s the load's p99 36.6 and 32.1 ms with 50 ms, 14.5 and 16.2
// ms with 20 ms, longest write 46 and 53 ms against 28 and 20 ms; 10 ms
// did no better than 20). Storage with slower flushes (network volumes)
// may need it raised.
const DefaultMaxCommitLatency = 20 * time.Millisecond

// NoMaxCommitLatency is the Config.MaxCommitLatency of no limit
// (--max-commit-latency 0): every copy thread copies whatever the latency.
const NoMaxCommitLatency time.Duration = -1

// Defaults fills the zero fields of c with the documented defaults.
func (c *Config) Defaults() {
	if c.CutOverLockTimeout == 0 {
		c.CutOverLockTimeout = 3 * time.Second
	}
	if c.CutOverAttempts == 0 {
		c.CutOverAttempts = 5
	}
	if c.MaxCommitLatency == 0 {
		c.MaxCommitLatency = DefaultMaxCommitLatency
	}
	if c.InstantLockTimeout == 0 {
		c.InstantLockTimeout = 2 * time.Second
	}
	if c.InstantAttempts == 0 {
		c.InstantAttempts = 10
	}
	if c.DeferIndexes == "" {
		c.DeferIndexes = DeferIndexesAuto
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	c.Settings.Defaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks c for values that cannot work, before anything connects.
func (c *Config) Validate() error {
	var errs []error
	if c.CheckpointInterval < 100*time.Millisecond || c.CheckpointInterval > time.Hour {
		errs = append(errs, fmt.Errorf("--checkpoint-interval must be between 100ms and 1h, not %s", c.CheckpointInterval))
	}
	if c.Resume && c.InitiallyDropGhostTable {
		errs = append(errs, errors.New("--resume continues the saved migration and --initially-drop-ghost-table throws it away: give one of them"))
	}
	if c.Database == "" {
		errs = append(errs, errors.New("--database is required"))
	}
	if c.Table == "" {
		errs = append(errs, errors.New("--table is required"))
	}
	switch {
	case c.Revert && c.Alter != "":
		errs = append(errs, errors.New("a revert undoes the last migration and takes no --alter"))
	case c.Revert && c.InitiallyDropGhostTable:
		errs = append(errs, errors.New("a revert never drops the table it swaps back in, and takes no --initially-drop-ghost-table"))
	case !c.Revert && c.Alter == "":
		errs = append(errs, errors.New("--alter is required"))
	}
	if c.Threads < 0 || c.Threads > 64 {
		errs = append(errs, fmt.Errorf("--threads must be between 1 and 64, not %d", c.Threads))
	}
	if c.CutOverLockTimeout < time.Second || c.CutOverLockTimeout > time.Hour {
		errs = append(errs, fmt.Errorf("--cut-over-lock-timeout-seconds must be between 1 and 3600, not %v", c.CutOverLockTimeout.Seconds()))
	}
	if c.CutOverAttempts < 1 && c.CutOverAttempts != CutOverAttemptsUnlimited {
		errs = append(errs, fmt.Errorf("--cut-over-attempts must be 0 (unlimited) or more, not %d", c.CutOverAttempts))
	}
	if c.ForceCutOverAfter < 0 {
		errs = append(errs, fmt.Errorf("--force-cut-over-after must not be negative, not %s", c.ForceCutOverAfter))
	}
	if c.InstantLockTimeout < time.Second || c.InstantLockTimeout > time.Hour {
		errs = append(errs, fmt.Errorf("--instant-lock-timeout-seconds must be between 1 and 3600, not %v", c.InstantLockTimeout.Seconds()))
	}
	if c.MaxCommitLatency > 0 && c.MaxCommitLatency < time.Millisecond {
		errs = append(errs, fmt.Errorf("--max-commit-latency must be at least 1ms, or 0 for no limit, not %s", c.MaxCommitLatency))
	}
	switch c.DeferIndexes {
	case DeferIndexesAuto, DeferIndexesAlways, DeferIndexesNever:
	default:
		errs = append(errs, fmt.Errorf("--defer-indexes must be auto, always or never, not %q", c.DeferIndexes))
	}
	if c.InstantAttempts < 1 {
		errs = append(errs, fmt.Errorf("--instant-attempts must be at least 1, not %d", c.InstantAttempts))
	}
	if err := c.Settings.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// testHooks let tests act at exact moments of a run.
type testHooks struct {
	// afterPlan runs once the plan is made and its checks passed, before
	// anything is created: data written here is what the checks missed.
	afterPlan func()
	// afterChunk runs after each chunk is copied.
	afterChunk func(seq int)
	// stopAfterChunk, when it returns an error after a chunk is copied,
	// stops the run with it: a failure that may pass, in the middle of the
	// copy.
	stopAfterChunk func(seq int) error
	// beforeChunkCommit runs inside a chunk's copy transaction, before it
	// commits.
	beforeChunkCommit func(ctx context.Context, chunk rowcopy.Chunk)
	// beforeIndexBuild runs when the deferred indexes are about to be
	// built.
	beforeIndexBuild func()
	// beforeChecksum runs once the copy is done, before the checksum.
	beforeChecksum func(ctx context.Context)
	// redoFill, when set, stands for the server's reading of how full its
	// redo log is (operate.ReadRedoFill).
	redoFill func(context.Context) (float64, error)
	// checkBehindEvery, when set, is how often the checksum behind the copy
	// compares the ranges copied, however few.
	checkBehindEvery time.Duration
	// checksumProgress runs after each chunk the checksum checks, with the
	// chunks checked so far, on the checking goroutine.
	checksumProgress func(chunks int)
	// commitLatency, when set, stands for the heartbeat's commit latency
	// that the copy's and the checksum's gates read.
	commitLatency func() (time.Duration, bool)
	// afterRecopy runs after the checksum copied a mismatched chunk again.
	afterRecopy func(ctx context.Context, chunk rowcopy.Chunk)
	// beforeCutOver runs once the copy is done, before the first attempt.
	beforeCutOver func()
	// beforeCutOverAttempt runs just before each cut-over attempt takes
	// its lock.
	beforeCutOverAttempt func(attempt int)
	// cutOverBackoff replaces the first wait between cut-over attempts
	// (a second), so that a test sees many attempts in a few seconds.
	cutOverBackoff time.Duration
	// beforeApply runs before the applier applies a group of batches.
	beforeApply func(ctx context.Context, group []capture.Batch)
	// waitingForApplier runs when the copier, or a cut-over attempt's
	// first catch-up, starts waiting for the applier to apply every change
	// committed so far, once the position to wait for has been read (not
	// for the catch-ups that settle repeats, nor the snapshots').
	waitingForApplier func(ctx context.Context)
	// settled runs after stream.settle, with the catch-ups it ran.
	settled func(rounds int)
	// proofFrom changes where the proof after the swap starts reading the
	// binary log (from the final catch-up's position): an earlier position
	// makes the writes in between look like writes that reached the
	// original after the catch-up.
	proofFrom func(capture.Position) capture.Position
}
