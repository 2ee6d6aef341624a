package cutover

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// writers inserts rows with unique markers into table from several
// connections until stop is called, and records every insert that
// succeeded, in order per writer, and every error.
type writers struct {
	wg      sync.WaitGroup
	stop    chan struct{}
	mu      sync.Mutex
	done    [][]string // per writer, the markers inserted, in order
	errs    []error
	maxWait time.Duration
}

func startWriters(f *fixture, n int) *writers {
	w := &writers{stop: make(chan struct{}), done: make([][]string, n)}
	for i := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.write(f, i)
		}()
	}
	return w
}

func (w *writers) write(f *fixture, i int) {
	for seq := 0; ; seq++ {
		select {
		case <-w.stop:
			return
		default:
		}
		marker := fmt.Sprintf("w%d-%d", i, seq)
		// The marker is in the text, not a placeholder, so that the
		// processlist shows it.
		query := "INSERT INTO " + mysql.QuoteIdent(f.cfg.Table) + " (marker) VALUES ('" + marker + "')"
		// Bounded so that a writer can never hang the test.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		start := time.Now()
		_, err := f.db.ExecContext(ctx, query)
		took := time.Since(start)
		cancel()
		w.mu.Lock()
		w.maxWait = max(w.maxWait, took)
		if err != nil {
			w.errs = append(w.errs, fmt.Errorf("insert %s: %w", marker, err))
		} else {
			w.done[i] = append(w.done[i], marker)
		}
		w.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// waitingInserts returns the markers of the inserts that wait for a
// metadata lock on the original, once there are some (nil if there are none
// within 2s).
func (f *fixture) waitingInserts(ctx context.Context) []string {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		rows, err := f.db.QueryContext(ctx, "SELECT INFO FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE = ? AND INFO LIKE 'INSERT%'", f.dbName, tableLockWait)
		if err != nil {
			f.t.Error(err)
			return nil
		}
		var markers []string
		for rows.Next() {
			var info string
			if err := rows.Scan(&info); err != nil {
				f.t.Error(err)
			}
			if _, rest, ok := strings.Cut(info, "VALUES ('"); ok {
				markers = append(markers, strings.TrimSuffix(rest, "')"))
			}
		}
		rows.Close()
		if len(markers) > 0 {
			return markers
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

func (w *writers) halt() {
	close(w.stop)
	w.wg.Wait()
}

func TestSwapUnderConcurrentWrites(t *testing.T) {
	f := newFixture(t, "orders", "orders_tailor_new", "orders_tailor_old")
	w := startWriters(f, 4)
	time.Sleep(200 * time.Millisecond) // rows before the swap
	var queued []string                // inserts seen waiting behind the lock
	res, err := Swap(context.Background(), f.db, mariadb, f.cfg, func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("CatchUp got no deadline")
		}
		queued = f.waitingInserts(ctx)
		return nil
	})
	time.Sleep(200 * time.Millisecond) // rows after the swap
	w.halt()
	if err != nil {
		t.Fatalf("Swap: %v", err)
	}
	if queued == nil {
		t.Fatal("no insert was seen waiting behind the lock")
	}
	if res.LockHeld <= 0 || res.LockHeld > f.cfg.LockTimeout+2*time.Second {
		t.Errorf("LockHeld = %s", res.LockHeld)
	}
	t.Logf("lock held %s; slowest insert %s", res.LockHeld, w.maxWait)
	for _, err := range w.errs {
		t.Errorf("writer: %v", err)
	}

	if got := f.columns("orders"); !slices.Equal(got, shadowColumns) {
		t.Errorf("orders has columns %v, want the shadow's %v", got, shadowColumns)
	}
	if got := f.columns("orders_tailor_old"); !slices.Equal(got, originalColumns) {
		t.Errorf("_orders_old has columns %v, want the original's %v", got, originalColumns)
	}
	if f.exists("orders_tailor_new") || f.exists(SentryName("orders")) {
		t.Error("the shadow or the sentry is still there")
	}

	// Every insert that succeeded is in exactly one table, and each
	// writer's inserts went to the original and then, from some point on,
	// only to the new table: the ones queued behind the lock too.
	newRows, oldRows := f.markers("orders"), f.markers("orders_tailor_old")
	var inOld, inNew int
	for i, markers := range w.done {
		switched := false
		for _, m := range markers {
			_, isNew := newRows[m]
			_, isOld := oldRows[m]
			switch {
			case isNew && isOld:
				t.Errorf("%s is in both tables", m)
			case !isNew && !isOld:
				t.Errorf("%s was inserted but is in neither table", m)
			case isOld && switched:
				t.Errorf("writer %d: %s went to the old table after an earlier insert went to the new one", i, m)
			case isNew:
				switched = true
				inNew++
			default:
				inOld++
			}
		}
	}
	if inOld == 0 || inNew == 0 {
		t.Errorf("%d inserts before the swap, %d after; want some of each", inOld, inNew)
	}
	// The inserts that waited behind the lock ran on the new table: the
	// RENAME went first.
	for _, m := range queued {
		if _, ok := newRows[m]; !ok {
			t.Errorf("%s waited behind the lock but is not in the new table", m)
		}
	}
	t.Logf("%d inserts into the original, %d into the new table, %v of them queued behind the lock", inOld, inNew, queued)
	for _, m := range f.rows {
		if _, ok := oldRows[m]; !ok {
			t.Errorf("initial row %s missing from the old table", m)
		}
	}
	for _, q := range f.busy() {
		t.Errorf("statement still running after the swap: %s", q)
	}
}

// Names are quoted everywhere: spaces, backticks, non-ASCII letters, and
// names so long that the sentry's suffix does not fit.
func TestSwapNames(t *testing.T) {
	long := strings.Repeat("x", 60)
	full := strings.Repeat("y", 64)
	cases := []struct{ name, table, shadow, old string }{
		{"space", "my orders", "my orders_tailor_new", "my orders_tailor_old"},
		{"backtick", "we`ird", "we`ird_tailor_new", "we`ird_tailor_old"},
		{"non-ASCII", "Bestellungen_ä€日本", "Bestellungen_ä€日本_tailor_new", "Bestellungen_ä€日本_tailor_old"},
		{"60 characters", long, NameAfter(long, "_tailor_new"), NameAfter(long, "_tailor_old")},
		{"64 characters", full, NameAfter(full, "_tailor_new"), NameAfter(full, "_tailor_old")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.table, c.shadow, c.old)
			if _, err := Swap(context.Background(), f.db, mysql.Server{Flavor: mysql.FlavorMariaDB}, f.cfg, noCatchUp); err != nil {
				t.Fatalf("Swap: %v", err)
			}
			if got := f.columns(c.table); !slices.Equal(got, shadowColumns) {
				t.Errorf("%q has columns %v, want the shadow's", c.table, got)
			}
			if got := f.columns(c.old); !slices.Equal(got, originalColumns) {
				t.Errorf("%q has columns %v, want the original's", c.old, got)
			}
			if f.exists(c.shadow) || f.exists(SentryName(c.table)) {
				t.Error("the shadow or the sentry is still there")
			}
		})
	}
}
