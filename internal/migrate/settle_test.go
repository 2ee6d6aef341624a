package migrate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/workload"
)

// TestSettleRounds: the catch-ups before a lock go on while they get
// shorter and are longer than settleWithin, up to maxSettleRounds.
func TestSettleRounds(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	errLost := errors.New("connection lost")
	cases := []struct {
		name       string
		took       []time.Duration // each round's time; the last repeats
		failAt     int             // the round that fails, 0 for none
		wantRounds int
		wantLast   time.Duration
	}{
		{name: "caught up at once", took: []time.Duration{20 * ms}, wantRounds: 1, wantLast: 20 * ms},
		{name: "exactly the aim", took: []time.Duration{settleWithin}, wantRounds: 1, wantLast: settleWithin},
		{name: "a backlog drains", took: []time.Duration{2000 * ms, 400 * ms, 90 * ms}, wantRounds: 3, wantLast: 90 * ms},
		{name: "the applier does not gain", took: []time.Duration{800 * ms, 900 * ms}, wantRounds: 2, wantLast: 900 * ms},
		{name: "no shorter", took: []time.Duration{800 * ms, 500 * ms, 500 * ms}, wantRounds: 3, wantLast: 500 * ms},
		{name: "slowly shorter: bounded", took: decreasing(5000*ms, 400*ms, 30), wantRounds: maxSettleRounds, wantLast: 5000*ms - 9*400*ms},
		{name: "a failed catch-up ends it", took: []time.Duration{800 * ms, 300 * ms}, failAt: 2, wantRounds: 2, wantLast: 300 * ms},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var seen []int
			rounds, last, err := settleRounds(context.Background(), func(_ context.Context, round int) (time.Duration, error) {
				seen = append(seen, round)
				took := c.took[min(round, len(c.took))-1]
				if round == c.failAt {
					return took, errLost
				}
				return took, nil
			})
			if (c.failAt != 0) != errors.Is(err, errLost) {
				t.Errorf("err = %v, want a failure: %v", err, c.failAt != 0)
			}
			if rounds != c.wantRounds || last != c.wantLast {
				t.Errorf("rounds %d, last %s; want %d, %s", rounds, last, c.wantRounds, c.wantLast)
			}
			for i, r := range seen {
				if r != i+1 {
					t.Fatalf("rounds numbered %v", seen)
				}
			}
		})
	}
}

func decreasing(from, step time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = from - time.Duration(i)*step
	}
	return out
}

// TestSettleBeforeTheSnapshot: when the applier trails the application as
// the checksum begins, the catch-up before the snapshot's hold of the
// writers runs again until it is short, and the migrated table still
// equals its control table. The applier is made to trail: a row written
// when the checksum begins is applied only after a pause, so the first
// catch-up takes longer than settleWithin whatever the machine's speed.
func TestSettleBeforeTheSnapshot(t *testing.T) {
	const rows = 5000
	const marker = 900_000_000
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, dbName, "orders", "MODIFY note VARCHAR(500) NULL")
	var (
		armed, paused atomic.Bool
		mu            sync.Mutex
		settles       []int
		hookErr       error
	)
	cfg.testHooks = &testHooks{
		beforeChecksum: func(ctx context.Context) {
			armed.Store(true)
			// Recorded in the control table in the same transaction, as
			// the load's writes are.
			var stmts []string
			for _, table := range []string{"orders", workload.ControlTable("orders")} {
				stmts = append(stmts, fmt.Sprintf("INSERT INTO %s (id, customer, amount, created) VALUES (%d, 'settle marker', 1.50, '2024-01-01 00:00:00')",
					mysql.QuoteIdent(table), marker))
			}
			err := inTransaction(ctx, db, stmts...)
			mu.Lock()
			hookErr = err
			mu.Unlock()
		},
		beforeApply: func(ctx context.Context, group []capture.Batch) {
			if !armed.Load() || paused.Load() {
				return
			}
			for _, b := range group {
				for _, ch := range b.Changes {
					if ch.After != nil && ch.After[0] == int64(marker) {
						paused.Store(true)
						select {
						case <-time.After(3 * settleWithin):
						case <-ctx.Done():
						}
						return
					}
				}
			}
		},
		settled: func(rounds int) {
			mu.Lock()
			defer mu.Unlock()
			if armed.Load() {
				settles = append(settles, rounds)
			}
		},
	}
	res, stats := migrateUnderLoad(ctx, t, db, cfg, workload.Options{Table: "orders", Writers: 2, Rate: 100, InitialRows: rows, Seed: 11}, 300*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("applied %d events; load: %d tx, %d errors; settles %v", res.EventsApplied, stats.Transactions, stats.Errors, settles)
	if hookErr != nil {
		t.Fatalf("write the marker row: %v", hookErr)
	}
	if !paused.Load() {
		t.Fatal("the marker row's change never reached the applier")
	}
	// The checksum's snapshot settles first, then the cut-over.
	if len(settles) < 2 {
		t.Fatalf("settled %d times after the copy, want the checksum's and the cut-over's", len(settles))
	}
	if settles[0] < 2 {
		t.Errorf("the catch-up before the snapshot ran %d time(s); the first took longer than %s, so it should have run again", settles[0], settleWithin)
	}
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
}
