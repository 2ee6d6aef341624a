package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tailor-osc/tailor/internal/rowcopy"
)

// recheckBatch is how many keys one statement of the recheck reads.
const recheckBatch = 1000

// Behind checks a table while it is being copied: each Check compares the
// key ranges the copy has finished since the last one, with one session, in
// a snapshot taken the way Run takes them. Its work is not done again
// before the swap: Run, given the prefix checked and the keys changed since
// (Config.Checked), checks only the ranges above the prefix and those keys.
//
// Why a prefix checked during the copy stays checked. The copy's rows below
// its low-watermark (every chunk up to it committed) are, once the applier
// has caught up, equal to the original's (see rowcopy.Copier): a snapshot
// taken under the read lock after the catch-up sees both tables equal there,
// as it would after the copy; chunks still being copied write only their own
// ranges, above the watermark, and a snapshot does not see their uncommitted
// rows. After the check, a row of the prefix changes in the shadow only when
// the applier applies a change to its key, or when something other than
// tailor writes the shadow; the caller records every key the applier writes
// from before the first snapshot on, and Run compares those rows again in
// its own snapshot. A write to the shadow by another session, after its
// range was checked, is the one thing a check during the copy cannot see;
// checking after the copy (Config.Checked nil) does.
type Behind struct {
	v    *verifier
	upTo []any
	// checked is true once a range has been checked: upTo nil then means
	// the whole key space.
	checked bool
	res     Result
	start   time.Time
}

// NewBehind prepares checks of cfg's tables during the copy. It refuses
// what only a whole-table comparison can check (a key whose order changes)
// and a Config without a CatchUp.
func NewBehind(ctx context.Context, cfg Config) (*Behind, error) {
	if cfg.CatchUp == nil {
		return nil, errors.New("verify: a check during the copy needs CatchUp")
	}
	v, err := newVerifier(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if !v.plan.byChunks {
		return nil, fmt.Errorf("the tables can only be compared whole: %s", v.plan.whole)
	}
	// Nothing to mend during the copy: a difference there is left to the
	// check before the swap.
	v.cfg.Attempts = 0
	return &Behind{v: v, start: time.Now()}, nil
}

// Check compares the key ranges above the prefix already checked up to and
// including upper, which the copy has finished (nil: the whole key space),
// at most maxChunks of them (0: no limit), with one session in a snapshot
// taken now; it reports whether it reached upper. On an error the prefix
// stays where it was before the check, and the check before the swap takes
// over from there.
func (b *Behind) Check(ctx context.Context, upper []any, maxChunks int) (reached bool, err error) {
	if b.checked && b.upTo == nil {
		return true, nil
	}
	chunks := rowcopy.NewChunkerIn(b.v.cfg.DB, b.v.cfg.Mapping, b.v.cfg.ChunkSize, b.upTo, upper)
	// The prefix ends where the last range handed out ends: with one
	// session the ranges are compared in order, and a pass that returns
	// no error found each of them equal (Attempts is 0).
	handed, last, reached := 0, b.upTo, true
	next := func(ctx context.Context) (rowcopy.Chunk, bool, error) {
		if maxChunks > 0 && handed == maxChunks {
			reached = false
			return rowcopy.Chunk{}, false, nil
		}
		c, ok, err := chunks.Next(ctx)
		if ok {
			handed++
			last = c.Upper
		}
		return c, ok, err
	}
	var res Result
	_, err = b.v.pass(ctx, next, 1, &res)
	// The snapshot ends with the check: held open between checks it would
	// keep the undo log and the shadow's metadata lock.
	if endErr := b.v.snap.end(ctx); err == nil {
		err = endErr
	}
	if err != nil {
		return false, err
	}
	if handed > 0 {
		b.upTo, b.checked = last, true
	}
	b.res.Chunks += res.Chunks
	b.res.Rows += res.Rows
	return reached, nil
}

// Close ends the checks, and returns the prefix checked (ok false when none
// was) and what the checks cost.
func (b *Behind) Close() (upTo []any, ok bool, res Result) {
	b.v.snap.close()
	res = b.res
	res.Snapshots, res.WritesHeld, res.MaxWritesHeld = b.v.snap.count, b.v.snap.held, b.v.snap.maxHeld
	res.Unverified = b.v.plan.unverified
	res.Elapsed = time.Since(b.start)
	return b.upTo, b.checked, res
}

// errRecheck is a row changed since its range was checked during the copy
// that differs now: Run then checks the whole table, where the mend and
// the error name rows by their ranges.
var errRecheck = errors.New("a row changed since it was checked differs")

// recheck compares the rows of keys, which the applier wrote after their
// ranges were checked during the copy, in a new snapshot. Keys come from
// the binary log's row images (capture's values, bound as the applier binds
// them); keys is called once the snapshot is taken, so that every key
// written before it is in the list.
func (v *verifier) recheck(ctx context.Context, keys func() ([][]any, bool), res *Result) error {
	if err := v.snap.take(ctx, 1); err != nil {
		return err
	}
	list, ok := keys()
	if !ok {
		return fmt.Errorf("%w: too many rows changed during the copy to compare them one by one", errRecheck)
	}
	conn := v.snap.snaps[0].conn
	for start := 0; start < len(list); start += recheckBatch {
		batch := list[start:min(start+recheckBatch, len(list))]
		orig, shadow, err := v.plan.keysChecksum(ctx, conn, batch)
		if err != nil {
			return err
		}
		if orig != shadow {
			return fmt.Errorf("%w (one of %d keys from the binary log)", errRecheck, len(batch))
		}
		res.Rechecked += int64(len(batch))
	}
	return v.snap.end(ctx)
}
