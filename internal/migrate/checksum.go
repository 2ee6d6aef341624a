package migrate

import (
	"context"
	"fmt"
	"time"

	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/verify"
)

// checksumAttempts is how many times one chunk that differs is copied
// again before the migration gives up. A chunk copied wrong once (a bug,
// a corrupted page) is mended by the first re-copy; one that still differs
// after that points to something the copy cannot fix.
const checksumAttempts = 2

// checksum compares the shadow with the original, chunk by chunk, in one
// consistent view of both (package verify), and copies a chunk that
// differs again. It runs after the copy, with the applier still running,
// on the stream's context.
func (r *Runner) checksum(ctx context.Context, res *Result) error {
	if r.cfg.SkipChecksum {
		r.log.Warn("checksum skipped (--skip-checksum): the copy is swapped in without being compared with the original", "phase", PhaseChecksum.String())
		res.ChecksumSkipped = true
		return nil
	}
	r.setPhase(PhaseChecksum)
	if h := r.cfg.testHooks; h != nil && h.beforeChecksum != nil {
		h.beforeChecksum(ctx)
	}
	copier := r.newCopier()
	started := time.Now()
	vr, err := verify.Run(ctx, verify.Config{
		DB:          r.db,
		Mapping:     r.mapping,
		ChunkSize:   r.checksumChunkSize(),
		LockTimeout: r.cfg.CutOverLockTimeout,
		CatchUp:     r.catchUpUnderLock,
		Recopy: func(ctx context.Context, chunk rowcopy.Chunk) error {
			if _, err := copier.Copy(ctx, chunk); err != nil {
				return err
			}
			if h := r.cfg.testHooks; h != nil && h.afterRecopy != nil {
				h.afterRecopy(ctx, chunk)
			}
			return nil
		},
		Attempts: checksumAttempts,
		Logger:   r.log,
	})
	if err != nil {
		return fmt.Errorf("the copy does not match the original: %w", err)
	}
	res.ChecksumChunks = vr.Chunks
	res.ChecksumMended = vr.Mended
	r.log.Info("checksum done", "phase", PhaseChecksum.String(), "chunks", vr.Chunks, "rows", vr.Rows, "mended", vr.Mended, "writes_held", vr.WritesHeld.Round(time.Microsecond).String(), "elapsed", time.Since(started).Round(time.Millisecond).String())
	return nil
}

// checksumChunkSize is larger than the copy's chunk: a checksum only reads,
// inside one snapshot, and holds no locks.
func (r *Runner) checksumChunkSize() int {
	return min(max(r.cfg.ChunkSize*10, 1000), 100_000)
}

// newCopier is the chunk copier, with the hooks of the run.
func (r *Runner) newCopier() *rowcopy.Copier {
	copier := rowcopy.NewCopier(r.db, r.mapping)
	copier.WaitForApplier = r.stream.catchUpNow
	if h := r.cfg.testHooks; h != nil {
		copier.BeforeCommit = h.beforeChunkCommit
	}
	return copier
}
