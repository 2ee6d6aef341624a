package verify

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tailor-osc/tailor/internal/rowcopy"
)

// differing is a chunk found different in the parallel pass, with what its
// check found.
type differing struct {
	chunk        rowcopy.Chunk
	orig, shadow sum
	diffs        []RowDiff
}

// pass checks every chunk next hands out, with threads sessions at once,
// each in its own snapshot. All the sessions' snapshots are taken under one
// hold of the writers, so they see both tables in the same state, and are
// renewed together: a round of the pass hands out chunks until the
// snapshots are older than SnapshotMaxAge, waits for the chunks being
// checked, and the next round begins with new snapshots. The chunks that
// differ are returned, in key order, to be mended one by one; with no
// Recopy, the first fails the pass at once.
func (v *verifier) pass(ctx context.Context, next func(context.Context) (rowcopy.Chunk, bool, error), threads int, res *Result) ([]differing, error) {
	q := &queue{next: next, age: v.snap.age, maxAge: v.cfg.SnapshotMaxAge, progress: v.cfg.Progress}
	// The workers are done when pass returns; a failed pass reports the
	// chunks checked so far.
	defer func() { res.Chunks, res.Rows = q.chunks, q.rows }()
	for !q.done() {
		if err := v.snap.take(ctx, threads); err != nil {
			return nil, err
		}
		q.newRound()
		g, gctx := errgroup.WithContext(ctx)
		for _, sess := range v.snap.snaps[:threads] {
			g.Go(func() error { return v.work(gctx, sess.conn, q) })
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(q.differ, func(a, b differing) int { return a.chunk.Seq - b.chunk.Seq })
	return q.differ, nil
}

// work checks the chunks q hands out on one snapshot session until the
// round is over.
func (v *verifier) work(ctx context.Context, conn querier, q *queue) error {
	for {
		c, ok, err := q.take(ctx)
		if err != nil || !ok {
			return err
		}
		orig, shadow, err := v.checksum(ctx, conn, c)
		if err != nil {
			return err
		}
		if orig == shadow {
			q.equal(orig.rows)
			continue
		}
		diffs, err := v.plan.diff(ctx, conn, c)
		if err != nil {
			return err
		}
		if v.cfg.Attempts == 0 {
			return &MismatchError{Table: v.plan.orig.table, Chunk: c, KeyCols: v.plan.orig.key.Columns, Rows: diffs}
		}
		q.different(differing{chunk: c, orig: orig, shadow: shadow, diffs: diffs})
	}
}

// checksum sums a chunk on both sides once the gate, if any, lets it.
func (v *verifier) checksum(ctx context.Context, conn querier, c rowcopy.Chunk) (orig, shadow sum, err error) {
	if v.cfg.Gate == nil {
		return v.plan.checksum(ctx, conn, c)
	}
	err = v.cfg.Gate.Do(ctx, func(ctx context.Context) (time.Duration, error) {
		started := time.Now()
		var err error
		orig, shadow, err = v.plan.checksum(ctx, conn, c)
		return time.Since(started), err
	})
	return orig, shadow, err
}

// queue hands out a pass's chunks to its workers, round by round, and
// tallies what they found. A chunk is read from next (which is not safe for
// concurrent use) when a worker is ready for it, so that the snapshots' age
// is checked right before the chunk is checked, as a single session would.
type queue struct {
	next   func(context.Context) (rowcopy.Chunk, bool, error)
	age    func() time.Duration
	maxAge time.Duration
	// progress is Config.Progress.
	progress func(chunks int, rows int64)

	mu sync.Mutex
	// pending is the chunk read when the round was found over.
	pending *rowcopy.Chunk
	ended   bool
	// first and over describe the current round.
	first, over bool
	chunks      int
	rows        int64
	differ      []differing
}

func (q *queue) newRound() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.first, q.over = true, false
}

func (q *queue) done() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.ended
}

// take returns the next chunk of the round, or false when the chunks or the
// round are over. A round's first chunk goes out whatever the snapshots'
// age, so that every round makes progress.
func (q *queue) take(ctx context.Context) (rowcopy.Chunk, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ended || q.over {
		return rowcopy.Chunk{}, false, nil
	}
	var c rowcopy.Chunk
	if q.pending != nil {
		c, q.pending = *q.pending, nil
	} else {
		var ok bool
		var err error
		if c, ok, err = q.next(ctx); err != nil {
			return rowcopy.Chunk{}, false, err
		}
		if q.ended = !ok; q.ended {
			return rowcopy.Chunk{}, false, nil
		}
	}
	if !q.first && q.age() > q.maxAge {
		q.pending, q.over = &c, true
		return rowcopy.Chunk{}, false, nil
	}
	q.first = false
	return c, true, nil
}

func (q *queue) equal(rows uint64) {
	q.mu.Lock()
	q.chunks++
	q.rows += int64(rows)
	chunks, total := q.chunks, q.rows
	q.mu.Unlock()
	q.report(chunks, total)
}

func (q *queue) different(d differing) {
	q.mu.Lock()
	q.differ = append(q.differ, d)
	// Checked, if not yet equal: it counts towards the pass's progress.
	chunks, total := q.chunks+len(q.differ), q.rows+int64(d.orig.rows)
	for _, o := range q.differ[:len(q.differ)-1] {
		total += int64(o.orig.rows)
	}
	q.mu.Unlock()
	q.report(chunks, total)
}

func (q *queue) report(chunks int, rows int64) {
	if q.progress != nil {
		q.progress(chunks, rows)
	}
}

// mend copies a chunk that differed again, outside any snapshot, and checks
// it in a new one, until it is equal or Attempts re-copies are spent. It
// returns the original's rows in the chunk.
func (v *verifier) mend(ctx context.Context, d differing) (uint64, error) {
	for recopies := 1; ; recopies++ {
		v.cfg.Logger.Warn("chunk differs from the original; copying it again", "chunk", d.chunk.String(), "attempt", recopies,
			"rows", d.orig.rows, "new_rows", d.shadow.rows, "examples", describe(v.plan.orig.key.Columns, d.diffs))
		// Outside the snapshot, so that the re-copied rows (and the
		// changes applied meanwhile) are in the next one.
		if err := v.snap.end(ctx); err != nil {
			return 0, err
		}
		if err := v.cfg.Recopy(ctx, d.chunk); err != nil {
			return 0, fmt.Errorf("copy chunk %s again: %w", d.chunk, err)
		}
		if err := v.snap.take(ctx, 1); err != nil {
			return 0, err
		}
		conn := v.snap.snaps[0].conn
		var err error
		if d.orig, d.shadow, err = v.plan.checksum(ctx, conn, d.chunk); err != nil {
			return 0, err
		}
		if d.orig == d.shadow {
			return d.orig.rows, nil
		}
		if d.diffs, err = v.plan.diff(ctx, conn, d.chunk); err != nil {
			return 0, err
		}
		if recopies >= v.cfg.Attempts {
			return 0, &MismatchError{Table: v.plan.orig.table, Chunk: d.chunk, Recopies: recopies, KeyCols: v.plan.orig.key.Columns, Rows: d.diffs}
		}
	}
}
