package migrate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tailor-osc/tailor/internal/apply"
	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/cutover"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/rowcopy"
)

// Applying happens beside the copy, not in alternation with it: one
// goroutine reads the binary log into a buffered channel, another applies
// what arrives in batches, and the copier never waits for either except when
// it needs the applier caught up (a unique-key collision, the cut-over).
const (
	streamBuffer     = 4096
	maxBatchesPerTx  = 512
	maxChangesPerTx  = 4000
	duplicateRetries = 3
)

// changeSource is where the stream's changes to the table come from: every
// committed change, in commit order, as Batches of one transaction each.
// The binary log reader (capture.Reader) is the one there is; capture by
// triggers, where the binary log cannot be read, would be another.
type changeSource interface {
	// Run sends the changes committed from start on until ctx ends or it
	// fails.
	Run(ctx context.Context, start capture.Position, out chan<- capture.Batch) error
	// Progress is how far the source has read, and the Batches sent
	// before; Boundary the end of the last whole transaction read, and
	// XAFloor where the earliest prepared, uncommitted XA transaction of
	// the table began (capture.Reader documents each).
	Progress() (capture.Position, uint64)
	Boundary() (capture.Position, uint64)
	XAFloor() capture.Position
	// ReadUpTo is the server's time up to which changes were read (the
	// applier's lag), and LastOtherWrite when a row of another session was
	// last seen (the copy's gate).
	ReadUpTo() time.Time
	LastOtherWrite() time.Time
}

type stream struct {
	r       *Runner
	source  changeSource
	applier *apply.Applier
	batches chan capture.Batch
	// touched are the keys applied since the checksum behind the copy
	// began.
	touched *touchedKeys

	mu      sync.Mutex
	applied uint64 // batches applied
	// appliedEnd is the position right after the last transaction applied,
	// and nextEnd the one right after the first transaction of the group
	// being applied (zero between groups). A Batch from the reader is one
	// transaction, and a target position from CurrentPosition falls between
	// transactions, so a batch comes before the target exactly when its End
	// does not pass it.
	appliedEnd, nextEnd capture.Position
	// appliedTime is the Time of the last batch applied, and nextTime the
	// Time of the first batch of the group being applied (zero between
	// groups): what the applier's lag is measured from.
	appliedTime, nextTime time.Time
	// start is where the reader started, and started when: it knows
	// nothing of the writes before (othersMayWrite).
	start   capture.Position
	started time.Time
	// shownApplied is the furthest appliedUpTo has returned.
	shownApplied capture.Position

	// done is closed when run returns, with its error in err, so that
	// waiting for the applier ends when there is no applier any more.
	done chan struct{}
	err  error
}

func newStream(r *Runner) *stream {
	applier := apply.New(r.db, r.server, r.mapping, r.log)
	if r.cfg.Revert {
		// The kept table's columns the table lost keep their values.
		applier.KeepUnmapped()
	}
	return &stream{
		r:       r,
		source:  r.binlogSource(),
		applier: applier,
		batches: make(chan capture.Batch, streamBuffer),
		touched: &touchedKeys{m: r.mapping, limit: maxTouched},
		done:    make(chan struct{}),
	}
}

// binlogSource is the stream's change source: the binary log, read as a
// replica reads it.
func (r *Runner) binlogSource() *capture.Reader {
	return capture.NewReader(capture.ReaderConfig{
		Conn:     r.connConfig(),
		Server:   r.server,
		ServerID: r.cfg.ReplicaServerID,
		Table:    r.table,
		// Rows of these are tailor's, not the application's: the copy's
		// gate gives way only to the application (newGate).
		OwnTables: []string{r.shadow, HeartbeatName(r.cfg.Table), StateName(r.cfg.Table), cutover.SentryName(r.cfg.Table)},
		Logger:    r.cfg.Logger, // the reader adds the table itself
		Retry:     r.retry(),
	})
}

func (r *Runner) connConfig() mysql.ConnConfig {
	c := r.cfg.Conn
	c.Database = r.cfg.Database
	return c
}

func (s *stream) run(ctx context.Context, start capture.Position) error {
	s.mu.Lock()
	s.start, s.started = start, time.Now()
	s.mu.Unlock()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := s.source.Run(gctx, start, s.batches)
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("read the binary log: %w", err)
		}
		return err
	})
	g.Go(func() error { return s.applyLoop(gctx) })
	err := g.Wait()
	s.err = err
	close(s.done)
	return err
}

func (s *stream) applyLoop(ctx context.Context) error {
	for {
		var first capture.Batch
		select {
		case <-ctx.Done():
			return ctx.Err()
		case first = <-s.batches:
		}
		group := []capture.Batch{first}
		changes := len(first.Changes)
	drain:
		for len(group) < maxBatchesPerTx && changes < maxChangesPerTx {
			select {
			case b := <-s.batches:
				group = append(group, b)
				changes += len(b.Changes)
			default:
				break drain
			}
		}
		s.mu.Lock()
		s.nextEnd, s.nextTime = first.End, first.Time
		s.mu.Unlock()
		if err := s.applyGroup(ctx, group); err != nil {
			return err
		}
	}
}

// applyGroup applies batches. A collision on a unique key may come from a
// row the copier took from the original after the change being applied, an
// image from the future that later events will move out of the way; so
// before giving up, the group is widened with every change up to the
// server's current position and tried again: a collision that survives in
// a state the original really had is real.
func (s *stream) applyGroup(ctx context.Context, group []capture.Batch) error {
	for attempt := 0; ; attempt++ {
		if h := s.r.cfg.testHooks; h != nil && h.beforeApply != nil {
			h.beforeApply(ctx, group)
		}
		// Again after a lost connection: the batch is applied in one
		// transaction, as deletes of its keys and inserts of their final
		// images, which leave the same rows when done twice.
		var n int
		err := s.r.retry().Do(ctx, "apply", func(ctx context.Context) error {
			var err error
			n, err = s.applier.Apply(ctx, group)
			return err
		}, "batches", len(group))
		if err == nil {
			s.touched.record(group)
			s.mu.Lock()
			s.applied += uint64(len(group))
			s.appliedEnd, s.nextEnd = group[len(group)-1].End, capture.Position{}
			s.appliedTime, s.nextTime = group[len(group)-1].Time, time.Time{}
			s.mu.Unlock()
			s.r.progress.eventsApplied.Add(int64(n))
			s.r.metrics.AddEventsApplied(int64(n))
			return nil
		}
		// A row the shadow cannot hold may be a state the application
		// left again since (a value only the new type of a revert's
		// source holds, fixed a moment later): collapsed with the later
		// changes, the key's last image is what counts.
		var rowErr *rowcopy.RowError
		if (mysql.ErrorNumber(err) != mysql.ErrDupEntry && !errors.As(err, &rowErr)) || attempt >= duplicateRetries {
			return err
		}
		s.r.log.Info("a change the new table cannot hold as it is; widening the batch to the current position", "attempt", attempt+1, "err", err)
		target, perr := capture.CurrentPosition(ctx, s.r.db, s.r.server)
		if perr != nil {
			return errors.Join(err, perr)
		}
		for group[len(group)-1].End.Compare(target) < 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case b := <-s.batches:
				group = append(group, b)
			case <-time.After(100 * time.Millisecond):
				if pos, _ := s.source.Progress(); pos.Compare(target) >= 0 && len(s.batches) == 0 {
					// Nothing more of this table up to the target, which
					// is a transaction's boundary (the reader's position
					// may be inside the next transaction: a resume from
					// there would miss its start).
					group[len(group)-1].End = target
				}
			}
		}
	}
}

// caughtUp reports whether every change up to target has been applied: the
// applier has applied a transaction that ends at or past target, or the
// first one it has not applied yet ends past it, or the reader has passed
// target and everything it sent has been applied. Transactions after target
// do not count: a wait for the applier must not depend on changes made
// after the point it waits for (under a steady load the applier seldom has
// nothing left at all, and the copier relies on this, see
// rowcopy.Copier).
func (s *stream) caughtUp(target capture.Position) bool {
	pos, sent := s.source.Progress()
	s.mu.Lock()
	applied, end, next := s.applied, s.appliedEnd, s.nextEnd
	s.mu.Unlock()
	switch {
	case end.Compare(target) >= 0:
		return true
	case !next.IsZero() && next.Compare(target) > 0:
		return true
	}
	return pos.Compare(target) >= 0 && applied >= sent
}

// catchUp waits until every change up to target has been applied.
func (s *stream) catchUp(ctx context.Context, target capture.Position) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !s.caughtUp(target) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for changes up to %s to be applied: %w", target, context.Cause(ctx))
		case <-s.done:
			return fmt.Errorf("wait for changes up to %s to be applied: the change stream stopped: %w", target, s.err)
		case <-tick.C:
		}
	}
	return nil
}

// catchUpNow waits until every change committed so far has been applied.
func (s *stream) catchUpNow(ctx context.Context) error {
	target, err := capture.CurrentPosition(ctx, s.r.db, s.r.server)
	if err != nil {
		return err
	}
	if h := s.r.cfg.testHooks; h != nil && h.waitingForApplier != nil {
		h.waitingForApplier(ctx)
	}
	return s.catchUp(ctx, target)
}

// catchUpUnhooked is catchUpNow without its test hook (waitingForApplier),
// which tests count as the copier's waits and each cut-over attempt's first
// catch-up: settle's later rounds and the snapshots taken during the copy
// are not those.
func (s *stream) catchUpUnhooked(ctx context.Context) error {
	target, err := capture.CurrentPosition(ctx, s.r.db, s.r.server)
	if err != nil {
		return err
	}
	return s.catchUp(ctx, target)
}

// The pace of settle: the lock-held catch-up that follows a settled one
// applies what committed while the last catch-up ran, so writers are held
// at most about as long as it took (less while the applier gains).
// settleWithin is the hold aimed at (the most a write should wait);
// maxSettleRounds bounds the catch-ups before the lock is tried anyway.
const (
	settleWithin    = 100 * time.Millisecond
	maxSettleRounds = 10
)

// settle lets the applier catch up without any lock until one catch-up
// takes at most settleWithin, so that the catch-up under the write lock
// that follows (the checksum's snapshot, the cut-over) has only the
// changes of about that long left to apply: one catch-up of a large
// backlog leaves the changes committed meanwhile, and the writers would
// wait while they are applied (1.6 s at a snapshot in a test whose applier
// trailed its load by 2 s). first is the first catch-up, the caller's own;
// the others wait for the position read as they start.
func (s *stream) settle(ctx context.Context, first func(context.Context) error) error {
	rounds, last, err := settleRounds(ctx, func(ctx context.Context, round int) (time.Duration, error) {
		catchUp := s.catchUpUnhooked
		if round == 1 {
			catchUp = first
		}
		started := time.Now()
		err := catchUp(ctx)
		return time.Since(started), err
	})
	if h := s.r.cfg.testHooks; h != nil && h.settled != nil {
		h.settled(rounds)
	}
	if err == nil && last > settleWithin {
		s.r.log.Debug("the applier did not settle before the lock; the catch-up under it may hold writes longer",
			"rounds", rounds, "last_catch_up", last.Round(time.Millisecond).String(), "backlog", s.backlog())
	}
	return err
}

// settleRounds runs catch-ups (round, which says how long it took) until
// one takes at most settleWithin, and returns how many ran and how long the
// last took. It stops early, after maxSettleRounds or when a catch-up took
// no less than the one before (the application writes about as fast as
// the applier applies, or faster): waiting on would not shorten the hold,
// which the lock timeout bounds anyway.
func settleRounds(ctx context.Context, round func(ctx context.Context, round int) (time.Duration, error)) (int, time.Duration, error) {
	prev := time.Duration(math.MaxInt64)
	for n := 1; ; n++ {
		took, err := round(ctx, n)
		if err != nil || took <= settleWithin || n >= maxSettleRounds || took >= prev {
			return n, took, err
		}
		prev = took
	}
}

// checkpoint is a position before which every change to the table has
// been applied, at a transaction's boundary: where a resumed applier may
// start (package state).
func (s *stream) checkpoint() capture.Position {
	boundary, sent := s.source.Boundary()
	s.mu.Lock()
	defer s.mu.Unlock()
	pos := s.start
	if s.appliedEnd.Compare(pos) > 0 {
		pos = s.appliedEnd
	}
	// Past the last change applied, to the reader's last boundary, when
	// every batch sent before it is applied: a table without writes does
	// not hold the saved position back (where a purge could overtake it).
	if s.applied >= sent && boundary.Compare(pos) > 0 {
		pos = boundary
	}
	// Never past a prepared XA transaction of the table: its changes come
	// with its XA COMMIT, and only a read from its start sees them.
	if floor := s.source.XAFloor(); !floor.IsZero() && floor.Compare(pos) < 0 {
		pos = floor
	}
	return pos
}

// appliedUpTo is a position before which every change to the table has
// been applied, for the status: checkpoint, which may move back when a
// batch arrives after the table was idle (from the reader's boundary to the
// end of the last batch applied, both true), kept from moving back.
func (s *stream) appliedUpTo() capture.Position {
	pos := s.checkpoint()
	s.mu.Lock()
	defer s.mu.Unlock()
	if pos.Compare(s.shownApplied) > 0 {
		s.shownApplied = pos
	}
	return s.shownApplied
}

// backlog is the number of captured transactions not yet applied.
func (s *stream) backlog() int64 {
	_, sent := s.source.Progress()
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(sent) - int64(s.applied)
}

// lag is how far the applied changes are behind the server at now (see
// Status.ApplierLag), or -1 when the reader has read nothing yet or the
// stream has stopped. Event times are whole seconds: a batch stamped T was
// committed before T+1s, which is taken as its time, so the lag is the
// least the times allow, and right to within a second.
func (s *stream) lag(now time.Time) time.Duration {
	select {
	case <-s.done:
		return -1 // no longer following the server
	default:
	}
	upTo := s.source.ReadUpTo()
	_, sent := s.source.Progress()
	s.mu.Lock()
	applied, appliedTime, nextTime := s.applied, s.appliedTime, s.nextTime
	s.mu.Unlock()
	var since time.Time
	switch {
	case applied >= sent:
		// Everything read is applied: the applier is as far as the reader.
		since = upTo
	case !nextTime.IsZero():
		// The oldest change not applied is the group being applied.
		since = nextTime.Add(time.Second)
	case !appliedTime.IsZero():
		// Between two groups: the next starts at once.
		since = appliedTime.Add(time.Second)
	}
	if since.IsZero() {
		return -1
	}
	return max(now.Sub(since), 0)
}
