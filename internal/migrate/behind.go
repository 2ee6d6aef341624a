package migrate

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tailor-osc/tailor/internal/apply"
	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/verify"
)

// The checksum behind the copy compares the ranges the copy has finished
// while it copies the rest (verify.Behind), so that the checksum before the
// swap has only the last ranges and the rows changed since to compare. It
// uses one session, and takes what the copy leaves of the server's cores.
// Where the copy leaves none it is no faster than comparing after the copy
// (MariaDB 10.11 on 2 cores, 1,000,000 rows idle, two runs each: 7.4 and
// 7.1 s, against 7.3 and 5.7 s), but it spreads the reading over the copy:
// under 300 tx/s the longest write took 46 and 53 ms, against 123 ms twice
// in the checksum after the copy, which reads with two sessions at once.
const (
	// behindEvery is the least time between two checks: each takes a
	// snapshot, which holds writes to the table for a moment.
	behindEvery = time.Second
	// behindRows is the least number of rows copied between two checks.
	behindRows = 20_000
	// behindChunks bounds one check (checksum ranges of about ten copy
	// chunks each), so that the end of the copy waits for at most that.
	behindChunks = 30
	// behindLockTimeout bounds one snapshot's hold of the writers.
	behindLockTimeout = 500 * time.Millisecond
	// behindFailures is how many snapshots in a row may fail before the
	// checks stop.
	behindFailures = 3
	// maxTouched bounds the keys kept for the recheck (about 100 bytes
	// each); past it the whole table is compared before the swap.
	maxTouched = 500_000
)

// touchedKeys are the keys the applier writes to the shadow once the
// checksum behind the copy has begun: their rows may differ from what was
// compared, and are compared again before the swap.
type touchedKeys struct {
	m *schema.Mapping
	// limit is the most keys kept (maxTouched).
	limit int

	mu       sync.Mutex
	on       bool
	keys     map[string][]any
	overflow bool
}

// start records from now on.
func (t *touchedKeys) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on {
		t.on, t.keys = true, map[string][]any{}
	}
}

// record notes the keys of changes about to be applied: before the applier
// counts them as applied, so that a catch-up that sees them applied sees
// them recorded.
func (t *touchedKeys) record(batches []capture.Batch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on || t.overflow {
		return
	}
	add := func(image []any) {
		key := t.m.KeyValues(image)
		t.keys[apply.KeyString(key)] = key
	}
	for _, b := range batches {
		for _, ch := range b.Changes {
			if ch.Before != nil {
				add(ch.Before)
			}
			if ch.After != nil {
				add(ch.After)
			}
		}
	}
	if len(t.keys) > t.limit {
		t.overflow, t.keys = true, nil
	}
}

// list returns the keys recorded, or false when there were too many.
func (t *touchedKeys) list() ([][]any, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.overflow {
		return nil, false
	}
	out := make([][]any, 0, len(t.keys))
	for _, k := range t.keys {
		out = append(out, k)
	}
	return out, true
}

// checkedBehind is what the checksum compared while the copy ran.
type checkedBehind struct {
	checked verify.Checked
	// rows are the original's rows compared.
	rows int64
}

// checkBehind compares the copied ranges, at most every behindEvery unless
// it is behind, until copied is closed, and returns what it compared (nil
// when nothing). It never fails the migration: on a difference it stops,
// after behindFailures failed snapshots in a row it stops, and the
// checksum before the swap compares what is left.
func (r *Runner) checkBehind(ctx context.Context, copied <-chan struct{}) *checkedBehind {
	cfg := r.verifyConfig()
	cfg.Logger = r.log.With("phase", PhaseCopy.String(), "check", "behind the copy")
	// The applier only: the cut-over's catch-up also carries the
	// AUTO_INCREMENT counter, DDL on the shadow, which during the copy
	// would wait for the chunks being copied while writes are held.
	cfg.CatchUp = r.stream.catchUpUnhooked
	cfg.Settle = func(ctx context.Context) error { return r.stream.settle(ctx, r.stream.catchUpUnhooked) }
	// A snapshot that cannot be had at once is tried again at the next
	// turn rather than held out for: the copy goes on meanwhile.
	cfg.LockTimeout, cfg.LockAttempts = min(cfg.LockTimeout, behindLockTimeout), 1
	b, err := verify.NewBehind(ctx, cfg)
	if err != nil {
		r.log.Info("the checksum compares the whole table after the copy", "phase", PhaseCopy.String(), "reason", err.Error())
		return nil
	}
	touched := r.stream.touched
	touched.start()
	every, least := behindEvery, int64(behindRows)
	if h := r.cfg.testHooks; h != nil && h.checkBehindEvery > 0 {
		every, least = h.checkBehindEvery, 1
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last int64
	failures := 0
	for failures < behindFailures {
		low, complete, rows := r.watermark.position()
		if complete {
			break
		}
		more := false
		if low != nil && rows-last >= least {
			if !r.waitUnthrottled(ctx, copied) {
				break
			}
			reached, err := b.Check(ctx, low, behindChunks)
			var mismatch *verify.MismatchError
			switch {
			case ctx.Err() != nil:
			case errors.As(err, &mismatch):
				r.log.Warn("stopped comparing during the copy: a range differs; the checksum before the swap compares it again", "phase", PhaseCopy.String(), "err", err)
				failures = behindFailures
			case err != nil:
				failures++
				r.log.Info("could not compare during the copy this time", "phase", PhaseCopy.String(), "failures", failures, "err", err)
			default:
				failures, more = 0, !reached
				if reached {
					last = rows
				}
			}
		}
		if more {
			continue
		}
		select {
		case <-ctx.Done():
		case <-copied:
		case <-tick.C:
			continue
		}
		break
	}
	upTo, ok, res := b.Close()
	if !ok {
		return nil
	}
	r.log.Info("compared during the copy", "phase", PhaseCopy.String(), "chunks", res.Chunks, "rows", res.Rows,
		"snapshots", res.Snapshots, "writes_held_max", res.MaxWritesHeld.Round(time.Microsecond).String())
	return &checkedBehind{checked: verify.Checked{UpTo: upTo, Recheck: touched.list}, rows: res.Rows}
}

// waitUnthrottled waits while the throttle holds the work back, and reports
// whether a check may go: not when ctx ends, nor when the copy is done
// meanwhile (its end must not wait for the throttle on the checks' behalf).
func (r *Runner) waitUnthrottled(ctx context.Context, copied <-chan struct{}) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-copied:
			cancel()
		case <-ctx.Done():
		}
	}()
	return r.throttler.Wait(ctx) == nil
}
