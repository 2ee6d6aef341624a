package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/workload"
)

// txTimeout bounds one load transaction. It is long on purpose: a native
// ALTER holds writers for the whole copy, and the benchmark reports that wait
// as latency rather than cutting it short into an error.
const txTimeout = 10 * time.Minute

// loadOptions shape the sysbench-style write load.
type loadOptions struct {
	Table   string
	Writers int
	// Rate caps transactions per second over all writers.
	Rate int
	// InitialRows is the number of rows of the prepared table, ids 1..N.
	InitialRows int
	Seed        uint64
	// Key is the table's primary key (keyInt, keyText, keyEnum): an insert
	// writes the column the key adds (keyColumn) too.
	Key string
	// DualWrite, when set, is a column that every insert and every update
	// of c also sets to c's new value: the application of the
	// expand-contract playbook, which writes the new column before its
	// backfill starts, so that a row it writes is never left for the
	// backfill to get wrong.
	DualWrite string
}

// txRecord is one committed transaction: when it started and how long it
// took, retries included.
type txRecord struct {
	start time.Time
	dur   time.Duration
}

// loadStats are what the load did over a window of time.
type loadStats struct {
	Transactions  int64
	P50, P99, Max time.Duration
	Errors        int64
	LastError     string
	TPS           float64
}

// sbLoad writes to a sysbench table and, in the same transaction, the same
// change to its control table: a mix of inserts, updates of the indexed k,
// updates of c, and deletes, paced to a rate over several writers.
type sbLoad struct {
	opts   loadOptions
	db     *sql.DB
	nextID atomic.Int64
	stop   context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	records   []txRecord
	errors    int64
	lastError string
}

// startLoad starts the writers; stopLoad ends them.
func startLoad(ctx context.Context, db *sql.DB, opts loadOptions) *sbLoad {
	ctx, cancel := context.WithCancel(ctx)
	l := &sbLoad{opts: opts, db: db, stop: cancel}
	l.nextID.Store(int64(opts.InitialRows))
	interval := time.Duration(float64(time.Second) * float64(opts.Writers) / float64(max(opts.Rate, 1)))
	for w := range opts.Writers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.writer(ctx, rand.New(rand.NewPCG(opts.Seed, uint64(w))), interval)
		}()
	}
	return l
}

// stopLoad ends the load and waits for its writers.
func (l *sbLoad) stopLoad() {
	l.stop()
	l.wg.Wait()
}

// window returns the stats of the transactions that overlapped [from, to]
// (those that started before it and were still waiting count: a write held
// by a lock for the whole run is the point), and the load's errors overall.
func (l *sbLoad) window(from, to time.Time) loadStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lat []time.Duration
	for _, r := range l.records {
		if r.start.Before(to) && r.start.Add(r.dur).After(from) {
			lat = append(lat, r.dur)
		}
	}
	s := loadStats{Transactions: int64(len(lat)), Errors: l.errors, LastError: l.lastError}
	if len(lat) > 0 {
		s.P50, s.P99, s.Max = percentile(lat, 50), percentile(lat, 99), percentile(lat, 100)
	}
	if d := to.Sub(from).Seconds(); d > 0 {
		s.TPS = float64(len(lat)) / d
	}
	return s
}

func (l *sbLoad) writer(ctx context.Context, rng *rand.Rand, interval time.Duration) {
	workload.Paced(ctx, interval, func() { l.transaction(ctx, rng) })
}

func (l *sbLoad) transaction(ctx context.Context, rng *rand.Rand) {
	sqlText, args := l.operation(rng)
	stmts := []string{
		fmt.Sprintf(sqlText, mysql.QuoteIdent(l.opts.Table)),
		fmt.Sprintf(sqlText, mysql.QuoteIdent(controlTable(l.opts.Table))),
	}
	start := time.Now()
	var err error
	for range 10 {
		err = l.run(ctx, stmts, args)
		if err == nil || !mysql.IsRetryable(err) || ctx.Err() != nil {
			break
		}
	}
	dur := time.Since(start)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return // stopped mid-transaction: not a failure of the write
		}
		l.errors++
		l.lastError = err.Error()
		return
	}
	l.records = append(l.records, txRecord{start: start, dur: dur})
}

// operation picks one write: 25% inserts, 30% updates of k (the indexed
// column), 30% updates of c, 15% deletes. With DualWrite the inserts and
// the updates of c write that column too.
func (l *sbLoad) operation(rng *rand.Rand) (string, []any) {
	target := 1 + rng.Int64N(max(l.nextID.Load(), 1))
	dual := l.opts.DualWrite
	switch r := rng.IntN(100); {
	case r < 25:
		id, k, c, pad := l.nextID.Add(1), rng.IntN(max(l.opts.InitialRows, 1))+1, digitGroups(rng, 10), digitGroups(rng, 5)
		switch {
		case dual != "":
			return "INSERT INTO %s (id, k, c, pad, " + mysql.QuoteIdent(dual) + ") VALUES (?, ?, ?, ?, ?)", []any{id, k, c, pad, c}
		case l.opts.Key != keyInt:
			name, _, inGo := keyColumn(l.opts.Key)
			return "INSERT INTO %s (id, " + mysql.QuoteIdent(name) + ", k, c, pad) VALUES (?, ?, ?, ?, ?)", []any{id, inGo(id), k, c, pad}
		}
		return "INSERT INTO %s (id, k, c, pad) VALUES (?, ?, ?, ?)", []any{id, k, c, pad}
	case r < 55:
		return "UPDATE %s SET k = k + 1 WHERE id = ?", []any{target}
	case r < 85:
		c := digitGroups(rng, 10)
		if dual != "" {
			return "UPDATE %s SET c = ?, " + mysql.QuoteIdent(dual) + " = ? WHERE id = ?", []any{c, c, target}
		}
		return "UPDATE %s SET c = ? WHERE id = ?", []any{c, target}
	default:
		return "DELETE FROM %s WHERE id = ?", []any{target}
	}
}

// digitGroups is sysbench's filler: n groups of 11 digits joined by '-'.
func digitGroups(rng *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte('-')
		}
		fmt.Fprintf(&b, "%011d", rng.Int64N(100_000_000_000))
	}
	return b.String()
}

func (l *sbLoad) run(ctx context.Context, stmts []string, args []any) error {
	ctx, cancel := context.WithTimeout(ctx, txTimeout)
	defer cancel()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var affected int64 = -1
	for _, s := range stmts {
		res, err := tx.ExecContext(ctx, s, args...)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if affected >= 0 && n != affected {
			return fmt.Errorf("table and control diverged: %d rows vs %d for %s", affected, n, s)
		}
		affected = n
	}
	return tx.Commit()
}
