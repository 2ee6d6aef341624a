package migrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/verify"
)

// checksumAttempts is how many times one chunk that differs is copied
// again before the migration gives up. A chunk copied wrong once (a bug,
// a corrupted page) is mended by the first re-copy; one that still differs
// after that points to something the copy cannot fix.
const checksumAttempts = 2

// checksumLockAttempts is how many times the checksum tries to hold writes
// for its snapshot, each try bounded by the cut-over's lock timeout. Giving
// up throws away the copy, so it tries harder than the cut-over does.
const checksumLockAttempts = 10

// checksum compares the shadow with the original, chunk by chunk, in one
// consistent view of both (package verify), and copies a chunk that
// differs again. It runs after the copy, with the applier still running,
// on the stream's context.
func (r *Runner) checksum(ctx context.Context, behind *checkedBehind, res *Result) error {
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
	// The status's progress: the original's rows are about the rows the
	// copy found (more if the application inserts meanwhile).
	steps := &r.progress.steps
	steps.start(started)
	rows := max(r.progress.rowsCopied.Load()+r.progress.rowsBefore.Load(), r.progress.rowsTotal.Load())
	cfg := r.verifyConfig()
	if behind != nil {
		cfg.Checked = &behind.checked
		rows = max(rows-behind.rows, 0)
	}
	steps.checkRows.Store(rows)
	steps.checkChunkSize.Store(int64(r.checksumChunkSize()))
	cfg.Recopy = func(ctx context.Context, chunk rowcopy.Chunk) error {
		if r.cfg.Revert {
			// A copy writes only the mapped columns: it would reset
			// the kept table's own columns (those the migration
			// dropped) to their defaults.
			return fmt.Errorf("range %s of %s differs from the table; a revert copies no rows, which would lose the values of the columns only %s has; compare the two tables before reverting again",
				chunk, mysql.QuoteIdent(r.shadow), mysql.QuoteIdent(r.shadow))
		}
		// A checksum range is larger than a copy chunk: copy it again
		// in chunks of the copy's size, so that no transaction locks
		// more rows than --chunk-size.
		chunker := rowcopy.NewChunkerIn(r.db, r.mapping, r.cfg.ChunkSize, chunk.Lower, chunk.Upper)
		for {
			part, ok, err := r.nextChunk(ctx, chunker)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if _, _, err := r.copyChunk(ctx, copier, part); err != nil {
				return err
			}
		}
		if h := r.cfg.testHooks; h != nil && h.afterRecopy != nil {
			h.afterRecopy(ctx, chunk)
		}
		return nil
	}
	cfg.Attempts = checksumAttempts
	cfg.Progress = steps.checked
	if h := r.cfg.testHooks; h != nil && h.checksumProgress != nil {
		cfg.Progress = func(chunks int, rows int64) {
			steps.checked(chunks, rows)
			h.checksumProgress(chunks)
		}
	}
	// Again from the start after a lost connection: the pass only reads,
	// in a snapshot that went with its sessions, and copies again.
	var vr verify.Result
	err := r.retry().Do(ctx, "checksum", func(ctx context.Context) error {
		var err error
		steps.start(time.Now()) // a pass again from the start
		vr, err = verify.Run(ctx, cfg)
		return err
	})
	var mismatch *verify.MismatchError
	switch {
	case errors.As(err, &mismatch):
		return fmt.Errorf("the copy does not match the original: %w", err)
	case err != nil:
		return fmt.Errorf("checksum: %w", err)
	}
	if vr.Mended > 0 {
		// The copy's argument says no chunk should ever differ: one that
		// did points to a bug (or to a write made outside tailor's view).
		r.log.Warn("the checksum found chunks that differed and copied them again; the new table now matches, but please report this", "phase", PhaseChecksum.String(), "mended", vr.Mended)
	}
	res.ChecksumChunks = vr.Chunks
	res.ChecksumMended = vr.Mended
	res.ChecksumRechecked = vr.Rechecked
	if behind != nil {
		res.ChecksumBehindRows = behind.rows
	}
	for _, u := range vr.Unverified {
		r.log.Warn("column not compared by the checksum", "phase", PhaseChecksum.String(), "column", u.Old, "new_column", u.New, "reason", u.Reason)
	}
	r.log.Debug("checksum done", "phase", PhaseChecksum.String(), "elapsed", time.Since(started).Round(time.Millisecond).String())
	return nil
}

// verifyConfig is what the checksum before the swap and the one behind the
// copy share.
//
// Its sessions give way to the application as the copy's chunks do: the
// comparison is the server's CPU work, which on a small server takes the
// cores the application's transactions wait for.
func (r *Runner) verifyConfig() verify.Config {
	// As many sessions as the copy used, up to 4: past that the checksum
	// takes more of the server's cores from the application than it saves
	// time.
	threads := min(max(r.cfg.Threads, 1), 4)
	gate := r.newGate(threads)
	r.checkGate.Store(gate)
	return verify.Config{
		DB:           r.db,
		Mapping:      r.mapping,
		ChunkSize:    r.checksumChunkSize(),
		LockTimeout:  r.cfg.CutOverLockTimeout,
		LockAttempts: checksumLockAttempts,
		CatchUp:      r.catchUpUnderLock,
		Settle:       func(ctx context.Context) error { return r.stream.settle(ctx, r.catchUpUnderLock) },
		Threads:      threads,
		Server:       r.server,
		Logger:       r.log.With("phase", PhaseChecksum.String()),
		Gate:         gate,
	}
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
	copier.Logger = r.log
	if h := r.cfg.testHooks; h != nil {
		copier.BeforeCommit = h.beforeChunkCommit
	}
	return copier
}
