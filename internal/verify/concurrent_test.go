package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/apply"
	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/mysql"
)

const writerTable = "id INT NOT NULL PRIMARY KEY, v INT NOT NULL, s VARCHAR(40)"

// writers runs n goroutines that insert, update and delete rows of t, each
// in a transaction of its own, until stop is called. With mirror set, each
// transaction makes the same change to _t_new too, so the tables stay equal.
// Each writer works on its own keys, so writers never wait for each other,
// and pauses for pause after each transaction.
type writers struct {
	stop    func()
	once    sync.Once
	wg      sync.WaitGroup
	errs    chan error
	txs     atomic.Int64
	mu      sync.Mutex
	latency []time.Duration
}

func startWriters(t *testing.T, db *sql.DB, n, rows int, mirror bool, pause time.Duration) *writers {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &writers{stop: cancel, errs: make(chan error, n)}
	for i := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			if err := w.run(ctx, db, i, n, rows, mirror, pause); err != nil && !errors.Is(err, context.Canceled) {
				w.errs <- err
			}
		}()
	}
	t.Cleanup(func() { w.finish(t) })
	return w
}

func (w *writers) run(ctx context.Context, db *sql.DB, me, n, rows int, mirror bool, pause time.Duration) error {
	rng := rand.New(rand.NewPCG(uint64(me), 7))
	next := rows + me + 1 // the next key this writer inserts
	tables := []string{"t"}
	if mirror {
		tables = append(tables, "_t_new")
	}
	for ctx.Err() == nil {
		id := 1 + rng.IntN(rows/n)*n + me // one of this writer's keys
		var stmts []string
		switch rng.IntN(4) {
		case 0:
			stmts = []string{fmt.Sprintf("INSERT INTO %%s VALUES (%d, 0, 'new')", next)}
			next += n
		case 1:
			stmts = []string{fmt.Sprintf("DELETE FROM %%s WHERE id = %d", id)}
		default:
			stmts = []string{fmt.Sprintf("UPDATE %%s SET v = v + 1, s = '%x' WHERE id = %d", rng.Uint64(), id)}
		}
		start := time.Now()
		if err := w.tx(ctx, db, stmts[0], tables); err != nil {
			if ctx.Err() != nil {
				return ctx.Err() // stopped in the middle of a transaction
			}
			return err
		}
		w.mu.Lock()
		w.latency = append(w.latency, time.Since(start))
		w.mu.Unlock()
		w.txs.Add(1)
		if pause > 0 {
			time.Sleep(pause)
		}
	}
	return ctx.Err()
}

// tx makes the change to each of tables in one transaction.
func (w *writers) tx(ctx context.Context, db *sql.DB, stmt string, tables []string) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, tbl := range tables {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(stmt, tbl)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// finish stops the writers, waits for them, and fails t on their errors.
// Calls after the first do nothing.
func (w *writers) finish(t *testing.T) {
	w.once.Do(func() {
		w.stop()
		w.wg.Wait()
		close(w.errs)
		for err := range w.errs {
			t.Errorf("writer: %v", err)
		}
	})
}

// stats are the writers' transactions so far and their latency: the 99th
// percentile and the maximum.
func (w *writers) stats() (n int, p99, maxLat time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := slices.Clone(w.latency)
	slices.Sort(l)
	if len(l) == 0 {
		return 0, 0, 0
	}
	return len(l), l[len(l)*99/100], l[len(l)-1]
}

// TestConcurrentWritesToBoth writes every change to both tables in one
// transaction while the verify runs with a new snapshot before nearly every
// chunk: both tables stay equal, so every verify passes, and no writer
// waits much longer than LockTimeout.
func TestConcurrentWritesToBoth(t *testing.T) {
	f := newFixture(t, writerTable, writerTable, nil)
	exec(t, f.db, "INSERT INTO t SELECT seq, seq, 'init' FROM seq_1_to_5000")
	f.copyAll(t, 1000)
	w := startWriters(t, f.db, 4, 5000, true, 0)
	cfg := f.config(t)
	cfg.ChunkSize = 200
	cfg.LockTimeout = 500 * time.Millisecond
	cfg.SnapshotMaxAge = time.Millisecond
	var calls int
	cfg.Recopy = f.recopy(&calls)
	var snapshots int
	var maxHeld time.Duration
	start := time.Now()
	for range 3 {
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Mended != 0 {
			t.Errorf("mended %d chunks of tables that were equal", res.Mended)
		}
		snapshots += res.Snapshots
		maxHeld = max(maxHeld, res.MaxWritesHeld)
	}
	elapsed := time.Since(start)
	w.finish(t)
	n, p99, maxLat := w.stats()
	t.Logf("3 verifies in %s, %d snapshots, longest hold %s; %d writer transactions (%.0f/s), latency p99 %s, max %s",
		elapsed.Round(time.Millisecond), snapshots, maxHeld.Round(time.Microsecond), n, float64(n)/elapsed.Seconds(), p99, maxLat)
	if snapshots < 30 || n < 100 {
		t.Errorf("%d snapshots and %d writes: the test did not race them", snapshots, n)
	}
	if maxLat > cfg.LockTimeout+time.Second {
		t.Errorf("a writer waited %s, longer than the lock timeout %s and a margin", maxLat, cfg.LockTimeout)
	}
}

// stream is a minimal change stream: a binary log reader and an applier,
// as the migration runs them, so that the shadow trails the original.
type stream struct {
	db      *sql.DB
	server  mysql.Server
	reader  *capture.Reader
	applied atomic.Uint64
	done    chan struct{}
	err     error
}

func startStream(t *testing.T, f *fixture) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	server, err := mysql.DetectServer(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	pos, err := capture.CurrentPosition(ctx, f.db, server)
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{db: f.db, server: server, done: make(chan struct{}),
		reader: capture.NewReader(capture.ReaderConfig{Conn: sbx.Conn(f.dbName), Server: server, Table: f.m.Source})}
	applier := apply.New(f.db, server, f.m, testLogger(t))
	batches := make(chan capture.Batch, 1024)
	var wg sync.WaitGroup
	wg.Add(2)
	errs := make(chan error, 2)
	go func() {
		defer wg.Done()
		errs <- s.reader.Run(ctx, pos, batches)
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			case b := <-batches:
				// Like the runner, apply what has arrived in one go.
				group := []capture.Batch{b}
			drain:
				for len(group) < 512 {
					select {
					case b := <-batches:
						group = append(group, b)
					default:
						break drain
					}
				}
				if err := applyRetrying(ctx, applier, group); err != nil {
					errs <- err
					cancel()
					return
				}
				s.applied.Add(uint64(len(group)))
			}
		}
	}()
	go func() {
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil && !errors.Is(err, context.Canceled) && s.err == nil {
				s.err = err
			}
		}
		close(s.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
		if s.err != nil {
			t.Errorf("stream: %v", s.err)
		}
	})
	return s
}

// applyRetrying applies group, retrying a collision on the key as the
// runner does: the copier can insert a key between the applier's delete and
// its insert (in READ COMMITTED the delete of an absent key locks no gap),
// and once the copier has committed, applying the group again replaces the
// copied row.
func applyRetrying(ctx context.Context, applier *apply.Applier, group []capture.Batch) error {
	for attempt := 0; ; attempt++ {
		_, err := applier.Apply(ctx, group)
		if err == nil || mysql.ErrorNumber(err) != mysql.ErrDupEntry || attempt >= 3 {
			return err
		}
		if err := mysql.Backoff(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
}

// catchUp returns once every change committed so far is applied, as the
// runner's does: it reads the position when called.
func (s *stream) catchUp(ctx context.Context) error {
	target, err := capture.CurrentPosition(ctx, s.db, s.server)
	if err != nil {
		return err
	}
	for {
		pos, sent := s.reader.Progress()
		if pos.Compare(target) >= 0 && s.applied.Load() >= sent {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return fmt.Errorf("the stream stopped: %w", s.err)
		case <-time.After(time.Millisecond):
		}
	}
}

// TestConcurrentWritesThroughBinlog writes only the original, while a real
// binary log reader and applier carry the changes to the shadow, behind.
// With CatchUp under the read lock, every verify passes without a re-copy:
// the snapshot holds the shadow with every change the original has. The
// control, with a CatchUp that does not wait, finds differences, which shows
// that the writes do race the snapshots.
func TestConcurrentWritesThroughBinlog(t *testing.T) {
	f := newFixture(t, writerTable, writerTable, nil)
	exec(t, f.db, "INSERT INTO t SELECT seq, seq, 'init' FROM seq_1_to_5000")
	s := startStream(t, f)
	// As the runner does: a row the applier inserts into a range between
	// the copier's delete and its insert collides on the key.
	f.waitForApplier = s.catchUp
	w := startWriters(t, f.db, 4, 5000, false, time.Millisecond)
	f.copyAll(t, 500)
	cfg := f.config(t)
	cfg.ChunkSize = 200
	cfg.LockTimeout = time.Second
	cfg.SnapshotMaxAge = 5 * time.Millisecond
	cfg.CatchUp = s.catchUp
	var calls int
	cfg.Recopy = f.recopy(&calls)
	start := time.Now()
	var snapshots, runs int
	var maxHeld time.Duration
	for ; runs < 3 || time.Since(start) < 2*time.Second; runs++ {
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Mended != 0 {
			t.Errorf("mended %d chunks: the snapshot showed the shadow behind the original", res.Mended)
		}
		snapshots += res.Snapshots
		maxHeld = max(maxHeld, res.MaxWritesHeld)
	}
	elapsed := time.Since(start)
	n, p99, maxLat := w.stats()
	t.Logf("%d verifies in %s, %d snapshots, longest hold %s; %d writer transactions (%.0f/s), latency p99 %s, max %s",
		runs, elapsed.Round(time.Millisecond), snapshots, maxHeld.Round(time.Microsecond), n, float64(n)/elapsed.Seconds(), p99, maxLat)
	if maxLat > cfg.LockTimeout+time.Second {
		t.Errorf("a writer waited %s, longer than the lock timeout %s and a margin", maxLat, cfg.LockTimeout)
	}

	t.Run("control without catch-up", func(t *testing.T) {
		cfg := cfg
		cfg.CatchUp = nil
		cfg.Recopy = nil
		cfg.Logger = nil
		found := false
		for range 5 {
			if _, err := Run(context.Background(), cfg); err != nil {
				mismatch(t, err)
				found = true
				break
			}
		}
		if !found {
			t.Skip("the applier kept up so well that no verify saw it behind; the control shows nothing")
		}
	})
}

// TestSlowCatchUpBoundsTheHold gives the verify a CatchUp that never
// finishes while writes are held: each attempt gives up after LockTimeout
// and lets the writers go, so no writer waits much longer than that, and
// the verify fails with a clear error after LockAttempts.
func TestSlowCatchUpBoundsTheHold(t *testing.T) {
	f := newFixture(t, writerTable, writerTable, nil)
	exec(t, f.db, "INSERT INTO t SELECT seq, seq, 'init' FROM seq_1_to_1000")
	f.copyAll(t, 1000)
	w := startWriters(t, f.db, 2, 1000, true, time.Millisecond)
	cfg := f.config(t)
	cfg.LockTimeout = 400 * time.Millisecond
	cfg.LockAttempts = 2
	var calls atomic.Int64
	cfg.CatchUp = func(ctx context.Context) error {
		if calls.Add(1)%2 == 1 {
			return nil // before the lock
		}
		<-ctx.Done() // under the lock: an applier that cannot keep up
		return ctx.Err()
	}
	time.Sleep(50 * time.Millisecond) // let the writers start
	res, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "not all applied within 400ms") {
		t.Fatalf("got %v, want the catch-up not done in time", err)
	}
	w.finish(t)
	n, p99, maxLat := w.stats()
	t.Logf("error: %v", err)
	t.Logf("holds: longest %s, total %s; %d writer transactions, latency p99 %s, max %s",
		res.MaxWritesHeld.Round(time.Millisecond), res.WritesHeld.Round(time.Millisecond), n, p99, maxLat)
	if res.MaxWritesHeld < cfg.LockTimeout || res.MaxWritesHeld > cfg.LockTimeout+200*time.Millisecond {
		t.Errorf("longest hold %s, want just over %s", res.MaxWritesHeld, cfg.LockTimeout)
	}
	if maxLat < cfg.LockTimeout/2 || maxLat > cfg.LockTimeout+300*time.Millisecond {
		t.Errorf("writers waited at most %s, want about %s: held, but not longer", maxLat, cfg.LockTimeout)
	}
}

// TestFrozenLockSessionReleasesWriters freezes the verify while it holds
// the read lock: its CatchUp under the lock stops talking to the server, as
// a stopped process (SIGSTOP, a paused VM) would. The server closes the
// lock session once it has been idle past LockTimeout and a second, and a
// writer waiting for the table gets through while the verify is still
// frozen. Woken up, the verify finds its lock gone, does not use the
// snapshot it began meanwhile (writes flowed before it began), and takes
// another: the tables, written alike meanwhile, verify equal.
func TestFrozenLockSessionReleasesWriters(t *testing.T) {
	f := newFixture(t, writerTable, writerTable, nil)
	exec(t, f.db, "INSERT INTO t SELECT seq, seq, 'init' FROM seq_1_to_1000")
	f.copyAll(t, 1000)
	cfg := f.config(t) // LockTimeout 1s: the lock session's wait_timeout is 2s
	frozen, thaw := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	cfg.CatchUp = func(ctx context.Context) error {
		if calls.Add(1) == 2 { // the first hold's catch-up, under the lock
			close(frozen)
			<-thaw // deaf to ctx: a frozen process does nothing at all
		}
		return nil
	}
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := Run(context.Background(), cfg)
		done <- outcome{res, err}
	}()
	<-frozen
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	started := time.Now()
	_, err := f.db.ExecContext(ctx, "INSERT INTO t VALUES (5000, 5000, 'written while the verify is frozen')")
	waited := time.Since(started)
	if err != nil {
		close(thaw)
		t.Fatalf("the writer got %v after %s, want its insert through while the verify is frozen", err, waited.Round(time.Millisecond))
	}
	t.Logf("the writer waited %s with the verify frozen holding the read lock", waited.Round(time.Millisecond))
	exec(t, f.db, "INSERT INTO _t_new VALUES (5000, 5000, 'written while the verify is frozen')")
	close(thaw)
	got := <-done
	if got.err != nil {
		t.Fatalf("verify after the freeze: %v", got.err)
	}
	if got.res.Snapshots < 1 || got.res.Rows != 1001 {
		t.Errorf("verified %d rows in %d snapshots, want all 1001 rows in a snapshot taken after the freeze", got.res.Rows, got.res.Snapshots)
	}
}

// TestParallelWritesThroughBinlog runs the verify with three sessions while
// writes reach the shadow through the binary log, with snapshots renewed
// every few chunks: every verify passes without a re-copy, so all three
// sessions saw the same state of both tables. A row of the shadow the
// writers never touch is then damaged: the verify names it, and with Recopy
// mends it.
func TestParallelWritesThroughBinlog(t *testing.T) {
	f := newFixture(t, writerTable, writerTable, nil)
	// Keys -99 to 0 are the writers' to leave alone.
	exec(t, f.db, "INSERT INTO t SELECT seq, seq, 'init' FROM seq_1_to_5000",
		"INSERT INTO t SELECT -seq, seq, 'still' FROM seq_0_to_99")
	s := startStream(t, f)
	f.waitForApplier = s.catchUp
	w := startWriters(t, f.db, 4, 5000, false, time.Millisecond)
	f.copyAll(t, 500)
	cfg := f.config(t)
	cfg.Threads = 3
	cfg.ChunkSize = 200
	cfg.SnapshotMaxAge = 3 * time.Millisecond // a verify takes 10 to 50ms
	cfg.CatchUp = s.catchUp
	var calls int
	cfg.Recopy = f.recopy(&calls)
	start := time.Now()
	var snapshots, runs int
	for ; runs < 3 || time.Since(start) < 2*time.Second; runs++ {
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Mended != 0 {
			t.Errorf("mended %d chunks: a session's snapshot showed the shadow behind the original", res.Mended)
		}
		snapshots += res.Snapshots
	}
	n, p99, maxLat := w.stats()
	t.Logf("%d verifies with 3 threads in %s, %d snapshots; %d writer transactions, latency p99 %s, max %s",
		runs, time.Since(start).Round(time.Millisecond), snapshots, n, p99, maxLat)
	if snapshots <= runs {
		t.Errorf("%d snapshots in %d verifies: the snapshots were never renewed", snapshots, runs)
	}

	exec(t, f.db, "UPDATE _t_new SET s = 'damaged' WHERE id = -42")
	strict := cfg
	strict.Recopy = nil
	_, err := Run(context.Background(), strict)
	if got, want := keyStrings(mismatch(t, err).Rows), []string{"-42 different"}; !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	res, err := Run(context.Background(), cfg)
	if err != nil || res.Mended != 1 || calls != 1 {
		t.Errorf("got %+v, %v after %d re-copies; want the damaged chunk mended by one", res, err, calls)
	}
}

// TestCancelDuringParallelPass cancels the verify while three sessions
// checksum: Run returns promptly with the context's error, and leaves no
// snapshot open (nor, checked by TestMain, a goroutine running).
func TestCancelDuringParallelPass(t *testing.T) {
	f := newFixture(t, writerTable, writerTable, nil)
	exec(t, f.db, "INSERT INTO t SELECT seq, seq, REPEAT('x', 40) FROM seq_1_to_200000", "INSERT INTO _t_new SELECT * FROM t")
	cfg := f.config(t)
	cfg.Threads = 3
	cfg.ChunkSize = 1000
	// Cancelled once the first chunk is checked: a timer from the
	// snapshot came before any chunk on a busy machine.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	var cancelled time.Time
	cfg.Progress = func(int, int64) {
		once.Do(func() {
			cancelled = time.Now()
			cancel()
		})
	}
	res, err := Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %+v, %v; want the context's error", res, err)
	}
	d := time.Since(cancelled)
	t.Logf("returned %s after the cancel, with %d of 200 chunks checked", d.Round(time.Millisecond), res.Chunks)
	if d > 500*time.Millisecond {
		t.Errorf("Run returned %s after it was cancelled", d)
	}
	if res.Chunks == 0 || res.Chunks >= 200 {
		t.Errorf("%d chunks checked: the cancel did not come during the pass", res.Chunks)
	}
	// The sessions cut short are killed, which the server needs a moment
	// to act on.
	var open int
	for wait := time.Now(); ; {
		if err := f.db.QueryRow("SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id <> CONNECTION_ID()").Scan(&open); err != nil {
			t.Fatal(err)
		}
		if open == 0 || time.Since(wait) > time.Second {
			break
		}
		// INNODB_TRX is a cache, refreshed only when it was last read more
		// than 100ms ago.
		time.Sleep(150 * time.Millisecond)
	}
	if open != 0 {
		t.Errorf("%d transactions still open", open)
	}
}
