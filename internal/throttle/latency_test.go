package throttle

import (
	"context"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

func TestLatencyPercentile(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var l latencies
	if _, ok := l.percentile(start); ok {
		t.Fatal("an empty window knows a latency")
	}
	// Twenty beats 100 ms apart: 1..18 ms, and two slow ones the 90th
	// percentile leaves out.
	for i := range 20 {
		d := time.Duration(i+1) * time.Millisecond
		if i >= 18 {
			d = time.Second
		}
		l.add(start.Add(time.Duration(i)*100*time.Millisecond), d)
	}
	now := start.Add(1900 * time.Millisecond)
	if got, ok := l.percentile(now); !ok || got != 18*time.Millisecond {
		t.Errorf("p90 of 1..18 ms and two 1 s = %v, %v; want 18ms", got, ok)
	}
	// One more slow beat: three of twenty-one are above the 90th.
	l.add(now.Add(100*time.Millisecond), time.Second)
	if got, _ := l.percentile(now.Add(100 * time.Millisecond)); got != time.Second {
		t.Errorf("p90 with three slow beats in 21 = %v, want 1s", got)
	}
	// The window moves on: beats older than LatencyWindow are forgotten,
	// and without beats nothing is known.
	if got, ok := l.percentile(now.Add(100*time.Millisecond + LatencyWindow - 50*time.Millisecond)); !ok || got != time.Second {
		t.Errorf("late in the window = %v, %v; want the slow beats alone, 1s", got, ok)
	}
	if _, ok := l.percentile(now.Add(time.Minute)); ok {
		t.Error("a window without beats knows a latency")
	}
	l.add(now.Add(time.Minute), 3*time.Millisecond)
	if len(l.samples) != 1 {
		t.Errorf("%d samples kept after a minute, want the new one", len(l.samples))
	}
	if got, _ := l.percentile(now.Add(time.Minute)); got != 3*time.Millisecond {
		t.Errorf("one beat = %v, want 3ms", got)
	}
}

// TestCommitLatencyMeasured holds the heartbeat row's lock, as a long
// application transaction on a hot row would: the beat that waits for it
// shows in the commit latency, which is otherwise the short time of a
// one-row write.
func TestCommitLatencyMeasured(t *testing.T) {
	t.Parallel()
	db, dbName := sbx.NewDatabase(t)
	cfg, _ := baseConfig(t, db, dbName)
	th := start(t, cfg)
	waitFree(t, th)
	eventually(t, "a commit latency", func() bool { return th.State().CommitLatencyKnown })
	if d, ok := th.CommitLatency(); !ok || d <= 0 || d >= LatencyWindow {
		t.Errorf("CommitLatency on an idle server = %v, %v", d, ok)
	}

	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // released below; this is for a failed test
	var micros int64
	if err := tx.QueryRowContext(ctx, "SELECT micros FROM "+mysql.QuoteTable(dbName, hbTable)+" WHERE id = 1 FOR UPDATE").Scan(&micros); err != nil {
		t.Fatal(err)
	}
	// Once no beat has been written for a few Intervals, the heartbeat
	// loop, which beats every Interval, is most likely inside a beat
	// waiting for the lock; that beat waits at least as long as the lock
	// is held from then on. On a machine whose CPUs are taken the loop
	// may only be late, and start its beat a while into the hold: the
	// lock is held well beyond the wait the test wants to see, so that
	// such a beat still waits that long. (The server's lists of sessions
	// and transactions do not show a waiting prepared statement reliably
	// enough to look there.)
	const held, want = time.Second, 300 * time.Millisecond
	eventually(t, "a beat waiting for the row lock", func() bool {
		return time.Since(th.State().LastBeat) > 3*DefaultInterval
	})
	time.Sleep(held)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the wait in the commit latency", func() bool {
		d, ok := th.CommitLatency()
		return ok && d >= want
	})
}
