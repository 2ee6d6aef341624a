// Package workload writes to a table the way an application would while it
// is being migrated, and keeps an independent record of every write: each
// transaction writes the same change to the table and to a control table
// that is never migrated. After a migration the two must be equal, row by
// row. Tests, the demo and the benchmark use it.
package workload

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// Columns of the workload table, created by Create. Writers touch only the
// columns in WrittenColumns; the others ("legacy", "spare") are filled once,
// so that ALTERs may drop or rename them while writers keep running.
const tableDefinition = `(
  id BIGINT NOT NULL,
  customer VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  qty INT UNSIGNED NULL,
  score DOUBLE NULL,
  status ENUM('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new',
  flags SET('gift','express','fragile') NOT NULL DEFAULT '',
  note TEXT CHARACTER SET utf8mb4 NULL,
  payload VARBINARY(32) NULL,
  created DATETIME(6) NOT NULL,
  updated TIMESTAMP(6) NULL,
  doc JSON NULL,
  legacy VARCHAR(32) NULL,
  spare INT NULL,
  amount_cents BIGINT AS (amount * 100) VIRTUAL,
  PRIMARY KEY (id),
  KEY idx_customer (customer)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

// WrittenColumns are the columns writers change.
var writtenColumns = []string{"id", "customer", "amount", "qty", "score", "status", "flags", "note", "payload", "created", "updated", "doc"}

// StoredColumns are all columns that hold data (every one but the generated).
var storedColumns = append(slices.Clone(writtenColumns), "legacy", "spare")

// Create creates table and its control table (table + "_control") and fills
// both with rows 1..rows.
func Create(ctx context.Context, db *sql.DB, table string, rows int) error {
	for _, name := range []string{table, ControlTable(table)} {
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+mysql.QuoteIdent(name)+" "+tableDefinition); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
	}
	// Rows are generated in the server from a cross join of digits, which
	// every MySQL and MariaDB version runs, 100,000 rows a statement.
	const step = 100_000
	digits := "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
	for base := 0; base < rows; base += step {
		n := min(step, rows-base)
		q := fmt.Sprintf(`INSERT INTO %s (id, customer, amount, qty, score, status, flags, note, payload, created, updated, doc, legacy, spare)
			SELECT n, CONCAT('customer ', n, IF(n %% 7 = 0, ' 😀', ' é')), (n %% 100000) / 100, IF(n %% 11 = 0, NULL, n %% 1000),
			       IF(n %% 13 = 0, NULL, n / 7), ELT(1 + n %% 4, 'new','paid','shipped','cancelled'), IF(n %% 3 = 0, 'gift,express', ''),
			       IF(n %% 5 = 0, NULL, REPEAT('x', n %% 50)), IF(n %% 9 = 0, NULL, UNHEX(SHA1(n))),
			       TIMESTAMP('2024-01-01 00:00:00') + INTERVAL n SECOND + INTERVAL (n %% 1000000) MICROSECOND,
			       IF(n %% 17 = 0, NULL, TIMESTAMP('2024-06-01 12:00:00.123456') + INTERVAL n MINUTE),
			       IF(n %% 19 = 0, NULL, JSON_OBJECT('n', n, 'tag', 'ü')), CONCAT('legacy-', n), n %% 97
			  FROM (SELECT %d + a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d + 1 AS n
			          FROM %s a, %s b, %s c, %s e, %s f) AS nums
			 WHERE n <= %d`, mysql.QuoteIdent(table), base, digits, digits, digits, digits, digits, base+n)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("fill %s: %w", table, err)
		}
	}
	cols := mysql.QuoteIdents(storedColumns)
	if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s", mysql.QuoteIdent(ControlTable(table)), cols, cols, mysql.QuoteIdent(table))); err != nil {
		return fmt.Errorf("fill %s: %w", ControlTable(table), err)
	}
	return nil
}

// ControlTable is the name of table's control table.
func ControlTable(table string) string { return table + "_control" }

// Options shape the write load.
type Options struct {
	Table string
	// Writers is the number of concurrent writing sessions.
	Writers int
	// Rate caps transactions per second over all writers; 0 is as fast as
	// they can.
	Rate int
	// InitialRows is the number of rows Create made, ids 1..InitialRows.
	InitialRows int
	// Seed makes the sequence of operations repeatable.
	Seed uint64
}

// Stats are what a load did.
type Stats struct {
	Transactions, Inserts, Updates, KeyUpdates, Deletes int64
	// Retries are transactions retried after a deadlock or lock wait
	// timeout, as an application would.
	Retries int64
	// Errors are transactions that failed for good.
	Errors    int64
	LastError string
	// Latencies of committed transactions.
	Latencies []time.Duration
	// LongestStall is the longest single transaction, retries included.
	LongestStall time.Duration
}

// Percentile returns the p-th percentile (0-100) of the latencies.
func (s *Stats) Percentile(p float64) time.Duration { return Percentile(s.Latencies, p) }

// Percentile is the nearest-rank p-th percentile (0-100) of ds; 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(float64(len(s))*p/100)) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Paced calls tx every interval until ctx ends (as fast as it returns when
// interval is 0). A writer held up for over a second, by a lock say,
// resumes the pace instead of bursting to catch up.
func Paced(ctx context.Context, interval time.Duration, tx func()) {
	next := time.Now()
	for ctx.Err() == nil {
		if interval > 0 {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			} else if d < -time.Second {
				next = time.Now()
			}
		}
		tx()
	}
}

// Load is a running write load.
type Load struct {
	opts   Options
	db     *sql.DB
	nextID atomic.Int64
	stop   context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	stats Stats
}

// Start starts opts.Writers writers on db. Stop ends them.
func Start(ctx context.Context, db *sql.DB, opts Options) *Load {
	if opts.Writers <= 0 {
		opts.Writers = 4
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{opts: opts, db: db, stop: cancel}
	l.nextID.Store(int64(opts.InitialRows) + 1_000_000)
	var interval time.Duration
	if opts.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(opts.Writers) / float64(opts.Rate))
	}
	for w := 0; w < opts.Writers; w++ {
		l.wg.Add(1)
		go func(w int) {
			defer l.wg.Done()
			l.writer(ctx, rand.New(rand.NewPCG(opts.Seed, uint64(w))), interval)
		}(w)
	}
	return l
}

// Stop ends the load, waits for the writers, and returns what they did.
func (l *Load) Stop() Stats {
	l.stop()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Snapshot returns the stats so far.
func (l *Load) Snapshot() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Latencies = slices.Clone(s.Latencies)
	return s
}

func (l *Load) writer(ctx context.Context, rng *rand.Rand, interval time.Duration) {
	Paced(ctx, interval, func() { l.transaction(ctx, rng) })
}

type opKind int

const (
	opInsert opKind = iota
	opUpdate
	opKeyUpdate
	opDelete
)

func (l *Load) transaction(ctx context.Context, rng *rand.Rand) {
	kind := opUpdate
	switch r := rng.IntN(100); {
	case r < 35:
		kind = opInsert
	case r < 75:
		kind = opUpdate
	case r < 85:
		kind = opKeyUpdate
	default:
		kind = opDelete
	}
	stmts := l.statements(kind, rng)
	start := time.Now()
	var err error
	retries := 0
	for attempt := 0; attempt < 10; attempt++ {
		err = l.run(ctx, stmts)
		if err == nil || !mysql.IsRetryable(err) || ctx.Err() != nil {
			break
		}
		retries++
	}
	elapsed := time.Since(start)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats.Retries += int64(retries)
	if err != nil {
		if ctx.Err() != nil {
			// Stopped mid-transaction: the driver may report the cancelled
			// query as a broken connection. Not a failure of the write.
			return
		}
		l.stats.Errors++
		l.stats.LastError = err.Error()
		return
	}
	l.stats.Transactions++
	l.stats.Latencies = append(l.stats.Latencies, elapsed)
	l.stats.LongestStall = max(l.stats.LongestStall, elapsed)
	switch kind {
	case opInsert:
		l.stats.Inserts++
	case opUpdate:
		l.stats.Updates++
	case opKeyUpdate:
		l.stats.KeyUpdates++
	case opDelete:
		l.stats.Deletes++
	}
}

type statement struct {
	sql  string
	args []any
}

// statements builds one operation, written to the table and to its control.
func (l *Load) statements(kind opKind, rng *rand.Rand) []statement {
	var sqlText string
	var args []any
	target := l.randomID(rng)
	switch kind {
	case opInsert:
		id := l.nextID.Add(1)
		if rng.IntN(4) == 0 {
			// Fill a gap below the largest key, inside the range the copy walks.
			id = -id
		}
		sqlText = "INSERT INTO %s (" + strings.Join(writtenColumns, ", ") + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		args = append([]any{id}, randomValues(rng)...)
	case opUpdate:
		vals := randomValues(rng)
		sqlText = "UPDATE %s SET customer = ?, amount = ?, qty = ?, score = ?, status = ?, flags = ?, note = ?, payload = ?, created = ?, updated = ?, doc = ? WHERE id = ?"
		args = append(vals, target)
	case opKeyUpdate:
		sqlText = "UPDATE %s SET id = ?, note = ? WHERE id = ?"
		args = []any{l.nextID.Add(1), nullable(rng, "moved ✈"), target}
	case opDelete:
		sqlText = "DELETE FROM %s WHERE id = ?"
		args = []any{target}
	}
	return []statement{
		{fmt.Sprintf(sqlText, mysql.QuoteIdent(l.opts.Table)), args},
		{fmt.Sprintf(sqlText, mysql.QuoteIdent(ControlTable(l.opts.Table))), args},
	}
}

// randomID picks a key that probably exists: an initial row or one the load
// inserted.
func (l *Load) randomID(rng *rand.Rand) int64 {
	hi := l.nextID.Load()
	base := int64(l.opts.InitialRows) + 1_000_000
	if hi > base+1 && rng.IntN(3) == 0 {
		id := base + 1 + rng.Int64N(hi-base)
		if rng.IntN(4) == 0 {
			return -id
		}
		return id
	}
	return 1 + rng.Int64N(int64(max(l.opts.InitialRows, 1)))
}

func nullable(rng *rand.Rand, v any) any {
	if rng.IntN(6) == 0 {
		return nil
	}
	return v
}

var customers = []string{"Ada Lovelace", "Zoë 😀", "株式会社", "O'Brien \\ \"q\"", "  padded  ", "Émile"}

func randomValues(rng *rand.Rand) []any {
	payload := make([]byte, rng.IntN(32))
	for i := range payload {
		payload[i] = byte(rng.IntN(256))
	}
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
	created = created.Truncate(time.Microsecond)
	return []any{
		customers[rng.IntN(len(customers))],
		fmt.Sprintf("%d.%02d", rng.IntN(100000)-500, rng.IntN(100)),
		nullable(rng, rng.IntN(1_000_000)),
		nullable(rng, rng.Float64()*1e6),
		[]string{"new", "paid", "shipped", "cancelled"}[rng.IntN(4)],
		[]string{"", "gift", "express,fragile", "gift,express,fragile"}[rng.IntN(4)],
		nullable(rng, strings.Repeat("note ✓ ", rng.IntN(20))),
		nullable(rng, payload),
		created.Format("2006-01-02 15:04:05.000000"),
		nullable(rng, created.Add(time.Hour).Format("2006-01-02 15:04:05.000000")),
		nullable(rng, fmt.Sprintf(`{"k": %d, "s": "😀"}`, rng.IntN(1000))),
	}
}

func (l *Load) run(ctx context.Context, stmts []statement) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var affected int64 = -1
	for _, s := range stmts {
		res, err := tx.ExecContext(ctx, s.sql, s.args...)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if affected >= 0 && n != affected {
			return fmt.Errorf("table and control diverged: %d rows vs %d for %s", affected, n, s.sql)
		}
		affected = n
	}
	return tx.Commit()
}
