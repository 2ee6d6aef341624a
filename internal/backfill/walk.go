package backfill

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/schema"
)

// walk runs the batches from r.lower to r.upper.
func (r *Runner) walk(ctx context.Context) error {
	chunker := rowcopy.NewKeyChunker(r.db, r.key, r.batchSize(), r.lower, r.upper)
	retry := mysql.Retry{Timeout: r.cfg.ReconnectTimeout, Logger: r.log, OnRetry: r.metrics.AddRetry}
	for {
		// The redo log first: the throttle, the operator's pause among
		// its reasons, has the last word before a batch.
		if err := r.redo.Wait(ctx); err != nil {
			return err
		}
		if err := r.throttler.Wait(ctx); err != nil {
			return err
		}
		chunker.SetSize(r.batchSize())
		var chunk rowcopy.Chunk
		var ok bool
		err := retry.Do(ctx, "find the next batch", func(ctx context.Context) error {
			var err error
			chunk, ok, err = chunker.Next(ctx)
			return err
		})
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if err := r.batchOnce(ctx, retry, chunk); err != nil {
			return err
		}
	}
}

// batchSize is the next batch's size: the operator's, or the sizer's.
func (r *Runner) batchSize() int {
	if r.sizer != nil && !r.knobs.ChunkSizeFixed() {
		n := r.sizer.Size()
		r.knobs.AdaptChunkSize(n)
		return n
	}
	return int(r.knobs.ChunkSize())
}

// batchOnce makes the batch of chunk, retrying it after a deadlock, a lock
// wait timeout or a lost connection. After a lost connection the commit may
// or may not have happened: the saved state, which the batch moves in its
// own transaction, says which.
func (r *Runner) batchOnce(ctx context.Context, retry mysql.Retry, chunk rowcopy.Chunk) error {
	var outage mysql.Outage
	var conflictSince time.Time
	for attempt := 1; ; attempt++ {
		start := time.Now()
		changed, err := r.batch(ctx, chunk)
		if err == nil {
			took := time.Since(start)
			r.done(chunk, changed, took)
			return nil
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case mysql.IsRetryable(err):
			// Another session holds rows of the batch (or deadlocked
			// with it): the batch gave up its locks with its rollback,
			// and tries again, for a while.
			if conflictSince.IsZero() {
				conflictSince = time.Now()
			}
			if time.Since(conflictSince) > maxConflict {
				return fmt.Errorf("the batch after key %s kept meeting rows other sessions held locked for %s: %w", formatKey(chunk.Lower), maxConflict, err)
			}
			r.log.Info("batch conflicted with another transaction; retrying", "chunk", chunk.String(), "attempt", attempt, "err", err)
			if err := mysql.Backoff(ctx, min(time.Duration(attempt)*50*time.Millisecond, time.Second)); err != nil {
				return err
			}
		case mysql.IsConnectionLost(err):
			if err := retry.Wait(ctx, &outage, "backfill batch", err, "chunk", chunk.String()); err != nil {
				return err
			}
			committed, err := r.committed(ctx, chunk)
			if err != nil {
				continue // the next attempt finds out again
			}
			if committed {
				r.log.Info("the batch committed before its connection was lost", "chunk", chunk.String())
				r.doneUnknown(chunk)
				return nil
			}
		default:
			var be *batchError
			if errors.As(err, &be) {
				return r.locate(ctx, chunk, be)
			}
			return err
		}
	}
}

// batchError is a batch the server refused, or warned about.
type batchError struct{ err error }

func (e *batchError) Error() string { return e.err.Error() }
func (e *batchError) Unwrap() error { return e.err }

// maxConflict is how long a batch is retried while other sessions hold
// its rows locked before the backfill stops (resumable).
const maxConflict = time.Minute

// batchLockWait bounds, in seconds, how long a batch waits for a row
// another session holds (innodb_lock_wait_timeout, 50 s by default): the
// batch holds the locks of the rows it already changed meanwhile, so the
// application's writes to those would wait as long. It gives up, rolls
// back and tries again instead.
const batchLockWait = 1

// batch runs one batch in one transaction with the move of the saved state.
func (r *Runner) batch(ctx context.Context, chunk rowcopy.Chunk) (int64, error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // after a commit, a no-op
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET SESSION innodb_lock_wait_timeout = %d", batchLockWait)); err != nil {
		return 0, err
	}
	last, err := r.store.lockForBatch(ctx, tx, r.runID)
	if err != nil {
		return 0, err
	}
	// A state saved by an older tailor holds an ENUM by its name.
	if !sameKey(schema.KeyAsHeld(r.table, r.key.Columns, last), chunk.Lower) {
		// Only this run moves the state while it owns it; anything else
		// is a bug, and batching on would skip or repeat rows.
		return 0, fmt.Errorf("the saved backfill is after key %s, and this batch starts after %s; stopping rather than skip or repeat rows", formatKey(last), formatKey(chunk.Lower))
	}
	n, err := r.change(ctx, tx, chunk.Lower, chunk.Upper)
	if err != nil {
		return 0, err
	}
	if err := r.store.advance(ctx, tx, r.runID, chunk.Upper, n, int64(chunk.Rows)); err != nil {
		return 0, err
	}
	if h := r.cfg.testBeforeCommit; h != nil {
		h(r.batches.Load() + 1)
	}
	return n, tx.Commit()
}

// change runs the statement over (lower, upper] on tx; an error or a
// warning of the server is a *batchError.
func (r *Runner) change(ctx context.Context, tx *sql.Tx, lower, upper []any) (int64, error) {
	q, args := r.stmt.Batch(lower, upper)
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		if mysql.IsRetryable(err) || mysql.IsConnectionLost(err) || ctx.Err() != nil {
			return 0, err
		}
		return 0, &batchError{err: err}
	}
	if err := rowcopy.CheckWarnings(ctx, tx); err != nil {
		if mysql.IsConnectionLost(err) || ctx.Err() != nil {
			return 0, err
		}
		return 0, &batchError{err: err}
	}
	return res.RowsAffected()
}

// committed reports whether the saved state is past chunk: its batch
// committed.
func (r *Runner) committed(ctx context.Context, chunk rowcopy.Chunk) (bool, error) {
	rec, err := r.store.load(ctx)
	if err != nil || rec == nil {
		return false, fmt.Errorf("read the saved state: %w", err)
	}
	if rec.RunID != r.runID {
		return false, &lostOwnerError{owner: rec.RunID}
	}
	return sameKey(rec.Last, chunk.Upper), nil
}

// done counts a batch in the progress and the sizer.
func (r *Runner) done(chunk rowcopy.Chunk, changed int64, took time.Duration) {
	r.batches.Add(1)
	r.walked.Add(int64(chunk.Rows))
	r.changed.Add(changed)
	r.metrics.ObserveChunk(int64(chunk.Rows), took)
	if r.sizer != nil {
		r.sizer.Observe(int64(chunk.Rows), took)
	}
}

// doneUnknown counts a batch whose commit was confirmed from the saved
// state: its rows changed are the state's total less what is counted.
func (r *Runner) doneUnknown(chunk rowcopy.Chunk) {
	r.batches.Add(1)
	r.walked.Add(int64(chunk.Rows))
	rec, err := r.store.load(context.Background())
	if err == nil && rec != nil {
		r.changed.Store(rec.RowsChanged - r.changedBefore)
	}
}

// locate finds the first row of a failed batch that fails on its own, by
// halving the batch's keys (each try rolled back), and returns the error
// that stops the backfill with its key.
func (r *Runner) locate(ctx context.Context, chunk rowcopy.Chunk, be *batchError) error {
	keys, err := r.matchingKeys(ctx, chunk)
	if err != nil || len(keys) == 0 {
		return fmt.Errorf("the batch after key %s up to %s: %w; nothing of it was written", formatKey(chunk.Lower), formatKey(chunk.Upper), be.err)
	}
	// Invariant: the rows keys[lo:hi] hold one that fails; lower is the
	// key before keys[lo].
	lower, lo, hi := chunk.Lower, 0, len(keys)
	failure := be.err
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		err := r.try(ctx, lower, keys[mid-1])
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			hi, failure = mid, err
			continue
		}
		lower, lo = keys[mid-1], mid
	}
	if err := r.try(ctx, lower, keys[lo]); err != nil {
		failure = err
	}
	return &RowError{Key: schema.ShownKey(r.table, r.key.Columns, keys[lo]), KeyCols: r.key.Columns, Err: failure}
}

// RowError is a row the statement fails or warns on.
type RowError struct {
	Key     []any
	KeyCols []string
	Err     error
}

func (e *RowError) Error() string {
	return fmt.Sprintf("the row with %s = %s: %v; nothing of its batch was written: fix the expression (--set, --where) or the row", strings.Join(e.KeyCols, ", "), formatKey(e.Key), e.Err)
}

func (e *RowError) Unwrap() error { return e.Err }

// try runs the statement over (lower, upper] and rolls it back, returning
// what the server said of it.
func (r *Runner) try(ctx context.Context, lower, upper []any) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // rolled back on purpose
	_, err = r.change(ctx, tx, lower, upper)
	var be *batchError
	if errors.As(err, &be) {
		return be.err
	}
	return nil
}

// matchingKeys are the keys of chunk's rows that match Where, in order.
func (r *Runner) matchingKeys(ctx context.Context, chunk rowcopy.Chunk) ([][]any, error) {
	cols := r.key.Columns
	cond, args := r.key.Range(chunk.Lower, chunk.Upper)
	q := fmt.Sprintf("SELECT %s FROM %s WHERE (%s)", r.key.SelectList(), mysql.QuoteTable(r.key.Database, r.key.Table), cond)
	if r.stmt.Where != "" {
		q += " AND (\n" + r.stmt.Where + "\n)"
	}
	q += " ORDER BY " + r.key.OrderBy(false)
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		keys = append(keys, r.key.Scanned(vals))
	}
	return keys, rows.Err()
}

// sample runs the statement, rolled back, over a batch at each end of the
// range: an expression the server refuses or warns about there is found
// before anything is changed, with its row's key. It returns how long the
// first batch took and its rows, for the estimate.
func (r *Runner) sample(ctx context.Context) (time.Duration, int, error) {
	n := max(r.cfg.ChunkSize, operate.MinChunkRows)
	first, ok, err := rowcopy.NewKeyChunker(r.db, r.key, n, r.lower, r.upper).Next(ctx)
	if err != nil || !ok {
		return 0, 0, err
	}
	ranges := []rowcopy.Chunk{first}
	if last, err := r.lastChunk(ctx, n); err == nil && last.Lower != nil && !sameKey(last.Lower, first.Lower) {
		ranges = append(ranges, last)
	}
	var took time.Duration
	for i, chunk := range ranges {
		start := time.Now()
		err := r.try(ctx, chunk.Lower, chunk.Upper)
		if i == 0 {
			took = time.Since(start)
		}
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		if err != nil {
			located := r.locate(ctx, chunk, &batchError{err: err})
			return 0, 0, invalid(fmt.Errorf("a sample of the rows, changed and rolled back, failed: %w", located))
		}
	}
	if h := r.cfg.testAfterSampleRolledBack; h != nil {
		h()
	}
	return took, first.Rows, nil
}

// lastChunk is the range of the last n keys up to r.upper.
func (r *Runner) lastChunk(ctx context.Context, n int) (rowcopy.Chunk, error) {
	cond, args := r.key.Range(r.lower, r.upper)
	q := fmt.Sprintf("SELECT %s FROM %s FORCE INDEX (%s) WHERE %s ORDER BY %s LIMIT 1 OFFSET %d", r.key.SelectList(),
		mysql.QuoteTable(r.key.Database, r.key.Table), mysql.QuoteIdent(r.key.Index), cond, r.key.OrderBy(true), n)
	lower, err := scanKey(r.db.QueryRowContext(ctx, q, args...), r.key)
	if err != nil {
		return rowcopy.Chunk{}, err
	}
	return rowcopy.Chunk{Lower: lower, Upper: r.upper, Rows: n}, nil
}

// dryRun describes the backfill: its first batch, the rows that match, and
// an estimate of its duration from the sample's speed.
func (r *Runner) dryRun(ctx context.Context, took time.Duration, sampleRows int) (*Result, error) {
	res := &Result{DryRun: true, Statement: r.stmt.Text(), Key: r.key.Index, Range: [2][]any{r.lower, r.upper}, StillMatching: -1,
		Resumed: r.earlier != nil, RowsChangedBefore: r.changedBefore}
	first, ok, err := rowcopy.NewKeyChunker(r.db, r.key, r.cfg.ChunkSize, r.lower, r.upper).Next(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		res.FirstBatch = r.inlined(first)
	}
	q := "SELECT COUNT(*) FROM " + mysql.QuoteTable(r.key.Database, r.key.Table)
	if r.stmt.Where != "" {
		q += " WHERE (\n" + r.stmt.Where + "\n)"
	}
	if err := r.db.QueryRowContext(ctx, q).Scan(&res.Matching); err != nil {
		return nil, fmt.Errorf("count the matching rows: %w", err)
	}
	r.estimateRows(ctx)
	if sampleRows > 0 && took > 0 {
		rows := max(r.estimate.Load()-r.walkedBefore, int64(sampleRows))
		res.Estimate = time.Duration(float64(took) * float64(rows) / float64(sampleRows))
	}
	return res, nil
}

// inlined is chunk's statement with its bounds written in, on one line,
// for the operator to read (never sent).
func (r *Runner) inlined(chunk rowcopy.Chunk) string {
	cond, args := r.key.Range(chunk.Lower, chunk.Upper)
	var sb strings.Builder
	for _, c := range cond {
		if c == '?' && len(args) > 0 {
			sb.WriteString(literal(args[0]))
			args = args[1:]
			continue
		}
		sb.WriteRune(c)
	}
	return oneLine(r.stmt.render(sb.String(), ""))
}

func literal(v any) string {
	switch v := rowcopy.Printable(v).(type) {
	case string:
		return mysql.QuoteString(v)
	case nil:
		return "NULL"
	default:
		return fmt.Sprint(v)
	}
}
