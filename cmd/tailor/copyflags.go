package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/operate"
)

// copyFlags are the flags of an online ALTER's copy, checksum and cut-over:
// tailor alter's (and revert's) and tailor migrate apply's, which runs its
// ALTERs through the same engine.
type copyFlags struct {
	skipChecksum           bool
	checksumDuringCopy     bool
	deferIndexes           string
	instantLockTimeoutSecs int
	instantAttempts        int
	chunkSize              int
	chunkTime              time.Duration
	threads                int
	cutOverLockTimeoutSecs int
	cutOverAttempts        int
	forceCutOverAfter      time.Duration
	checkpointInterval     time.Duration
	maxCommitLatency       time.Duration
}

func (f *copyFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.skipChecksum, "skip-checksum", false, "swap without first comparing the copy with the original chunk by chunk")
	registerChecksumDuringCopy(fs, &f.checksumDuringCopy)
	fs.StringVar(&f.deferIndexes, "defer-indexes", migrate.DeferIndexesAuto, "when the new table's plain secondary indexes are built: auto (after the copy unless replicas follow the binary log), always (after the copy), never (during it)")
	fs.IntVar(&f.instantLockTimeoutSecs, "instant-lock-timeout-seconds", 2, "for a change made natively INSTANT: longest time the ALTER may wait for its lock (and so hold other queries queued behind it) before it gives up and is retried")
	fs.IntVar(&f.instantAttempts, "instant-attempts", 10, "for a change made natively INSTANT: attempts before tailor gives up (with backoff between them)")
	fs.IntVar(&f.chunkSize, "chunk-size", operate.DefaultChunkSize, "rows copied per chunk (1 to 1000000); given, it fixes the size, else it is only the first chunks' size and --chunk-time adapts it")
	fs.DurationVar(&f.chunkTime, "chunk-time", operate.DefaultChunkTime, "target time per chunk when --chunk-size is not given: the size follows the measured copy speed, between 100 and 50000 rows (a chunk holds its rows' locks that long)")
	fs.IntVar(&f.threads, "threads", 0, "chunks copied at once, 1 to 64; 0 lets tailor choose: 4, or the server's CPU count when it is lower and the server tells it")
	fs.IntVar(&f.cutOverLockTimeoutSecs, "cut-over-lock-timeout-seconds", 3, "longest time writers may be held at the cut-over; an attempt that needs longer gives up and is retried")
	fs.IntVar(&f.cutOverAttempts, "cut-over-attempts", 5, "cut-over attempts before the migration fails (with backoff between them, at most 30s); 0 retries until stopped (abort, Ctrl-C)")
	fs.DurationVar(&f.forceCutOverAfter, "force-cut-over-after", 0, "once sessions have held the cut-over up this long, kill them (KILL CONNECTION: their transactions are rolled back) and swap; 0 never kills")
	fs.DurationVar(&f.checkpointInterval, "checkpoint-interval", migrate.DefaultCheckpointInterval, "how often the migration's state is saved in <table>_tailor_state (and at each phase change); a resume repeats about this much of the copy")
	// Beside --max-lag-millis, which operateFlags adds: the copy's alone
	// (not a backfill's), since only it has workers to hold back.
	fs.DurationVar(&f.maxCommitLatency, "max-commit-latency", migrate.DefaultMaxCommitLatency, "copy fewer chunks, and checksum fewer ranges, at once while a one-row commit on the primary (the heartbeat, 90th percentile over 2s) takes longer than this; neither ever stops for it (0: no limit)")
}

// checkZeros refuses zeros that operate.Settings.Defaults would read as "not
// set" and silently replace with the default: --chunk-size 0 must be an
// error, not a chunk size of 1000. The messages are Settings.Validate's.
func (f *copyFlags) checkZeros() []error {
	var errs []error
	if f.chunkSize == 0 {
		errs = append(errs, errors.New("--chunk-size must be between 1 and 1000000, not 0"))
	}
	if f.cutOverLockTimeoutSecs == 0 {
		errs = append(errs, errors.New("--cut-over-lock-timeout-seconds must be between 1 and 3600, not 0"))
	}
	if f.cutOverAttempts < 0 {
		errs = append(errs, fmt.Errorf("--cut-over-attempts must be 0 (unlimited) or more, not %d", f.cutOverAttempts))
	}
	if f.forceCutOverAfter < 0 {
		errs = append(errs, fmt.Errorf("--force-cut-over-after must not be negative, not %s", f.forceCutOverAfter))
	}
	if f.instantLockTimeoutSecs == 0 {
		errs = append(errs, errors.New("--instant-lock-timeout-seconds must be between 1 and 3600, not 0"))
	}
	if f.chunkTime <= 0 {
		errs = append(errs, fmt.Errorf("--chunk-time must be positive, not %s", f.chunkTime))
	}
	if f.instantAttempts == 0 {
		errs = append(errs, errors.New("--instant-attempts must be at least 1, not 0"))
	}
	return errs
}

// apply sets the copy's part of cfg. A --chunk-size given fixes the size;
// otherwise --chunk-time adapts it.
func (f *copyFlags) apply(cfg *migrate.Config, chunkSizeGiven bool) {
	cfg.ChunkSize, cfg.Threads = f.chunkSize, f.threads
	if !chunkSizeGiven {
		cfg.ChunkTime = f.chunkTime
	}
	cfg.CutOverLockTimeout = time.Duration(f.cutOverLockTimeoutSecs) * time.Second
	cfg.CutOverAttempts = f.cutOverAttempts
	if f.cutOverAttempts == 0 {
		cfg.CutOverAttempts = migrate.CutOverAttemptsUnlimited
	}
	cfg.ForceCutOverAfter = f.forceCutOverAfter
	cfg.SkipChecksum, cfg.ChecksumDuringCopy = f.skipChecksum, f.checksumDuringCopy
	cfg.DeferIndexes = f.deferIndexes
	cfg.InstantLockTimeout = time.Duration(f.instantLockTimeoutSecs) * time.Second
	cfg.InstantAttempts = f.instantAttempts
	cfg.CheckpointInterval = f.checkpointInterval
	cfg.MaxCommitLatency = f.maxCommitLatency
	if f.maxCommitLatency == 0 {
		cfg.MaxCommitLatency = migrate.NoMaxCommitLatency
	}
}
