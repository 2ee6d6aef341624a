package operate

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRedoFill(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status map[string]int64
		want   float64
	}{
		{name: "half", status: map[string]int64{"innodb_checkpoint_age": 434506568, "innodb_checkpoint_max_age": 869013136}, want: 0.5},
		{name: "empty log", status: map[string]int64{"innodb_checkpoint_age": 0, "innodb_checkpoint_max_age": 869013136}, want: 0},
		{name: "MySQL has neither", status: map[string]int64{}, want: -1},
		{name: "only the age", status: map[string]int64{"innodb_checkpoint_age": 1}, want: -1},
		{name: "no limit", status: map[string]int64{"innodb_checkpoint_age": 1, "innodb_checkpoint_max_age": 0}, want: -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := redoFill(c.status)
			switch {
			case c.want < 0 && !errors.Is(err, ErrNoCheckpointAge):
				t.Fatalf("redoFill(%v) error %v, want %v", c.status, err, ErrNoCheckpointAge)
			case c.want >= 0 && (err != nil || got != c.want):
				t.Fatalf("redoFill(%v) = %v, %v, want %v", c.status, got, err, c.want)
			}
		})
	}
}

// fills is a fake reading of the redo log's fill: the readings in turn,
// then the last one for ever.
type fills struct {
	seq   []float64
	err   error
	reads int
}

func (f *fills) read(context.Context) (float64, error) {
	f.reads++
	if f.err != nil {
		return 0, f.err
	}
	v := f.seq[min(f.reads, len(f.seq))-1]
	return v, nil
}

func testGate(maxFill float64, f *fills) *RedoGate {
	g := NewRedoGate(f.read, maxFill, nil, slog.New(slog.DiscardHandler))
	g.poll, g.maxWait = time.Millisecond, time.Second
	return g
}

func TestRedoGateWaits(t *testing.T) {
	t.Parallel()
	f := &fills{seq: []float64{0.95, 0.93, 0.91, 0.88}}
	g := testGate(0.9, f)
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.reads != 4 {
		t.Fatalf("Wait returned after %d readings, want 4 (the first at or under 90%%)", f.reads)
	}
	if r := g.Reason(); r != "" {
		t.Fatalf("Reason() = %q once the wait is over, want none", r)
	}
	// A fresh reading is reused within the poll interval.
	g.poll = time.Hour
	if err := g.Wait(context.Background()); err != nil || f.reads != 4 {
		t.Fatalf("second Wait: err %v, readings %d, want none and 4", err, f.reads)
	}
}

// TestRedoGateAlone: with nobody else writing, a full redo log holds no
// write back; a write waiting while another session wrote goes as soon as
// none does.
func TestRedoGateAlone(t *testing.T) {
	t.Parallel()
	f := &fills{seq: []float64{0.99}}
	g := testGate(0.9, f)
	g.maxWait = time.Hour
	var others atomic.Bool
	g.othersWrite = others.Load
	if err := g.Wait(context.Background()); err != nil || f.reads != 1 {
		t.Fatalf("Wait alone: err %v after %d readings, want none after 1", err, f.reads)
	}
	others.Store(true)
	done := make(chan error, 1)
	go func() { done <- g.Wait(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for g.Reason() == "" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Wait returned (%v) with the log 99%% full while another session writes", err)
	default:
	}
	others.Store(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := g.Reason(); r != "" {
		t.Errorf("Reason() = %q once nobody else writes, want none", r)
	}
}

func TestRedoGateGivesUpAfterMaxWait(t *testing.T) {
	t.Parallel()
	g := testGate(0.9, &fills{seq: []float64{0.99}})
	g.maxWait = 20 * time.Millisecond
	start := time.Now()
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 20*time.Millisecond || took > 5*time.Second {
		t.Fatalf("Wait took %s with a fill that never goes down, want about maxWait (20ms)", took)
	}
}

func TestRedoGateReasonWhileWaiting(t *testing.T) {
	t.Parallel()
	g := testGate(0.9, &fills{seq: []float64{0.975}})
	g.maxWait = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Wait(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for g.Reason() == "" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if r := g.Reason(); !strings.Contains(r, "97.5% full > --max-redo-fill 90%") {
		t.Errorf("Reason() = %q while waiting", r)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel = %v, want context.Canceled", err)
	}
}

func TestRedoGateLetsThrough(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		maxFill float64
		f       *fills
		reads   int
	}{
		{name: "under the limit", maxFill: 0.9, f: &fills{seq: []float64{0.5}}, reads: 1},
		{name: "at the limit", maxFill: 0.9, f: &fills{seq: []float64{0.9}}, reads: 1},
		{name: "limit 100% never reads", maxFill: 1, f: &fills{seq: []float64{1}}, reads: 0},
		{name: "a server without the age", maxFill: 0.9, f: &fills{err: ErrNoCheckpointAge}, reads: 1},
		{name: "a failed reading", maxFill: 0.9, f: &fills{err: errors.New("connection refused")}, reads: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := testGate(c.maxFill, c.f)
			g.maxWait = time.Hour
			if err := g.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			if c.f.reads != c.reads {
				t.Fatalf("%d readings, want %d", c.f.reads, c.reads)
			}
		})
	}
	// A server without the age is not asked again.
	f := &fills{err: ErrNoCheckpointAge}
	g := testGate(0.9, f)
	for range 3 {
		_ = g.Wait(context.Background())
	}
	if f.reads != 1 {
		t.Fatalf("a server without the age was read %d times, want once", f.reads)
	}
}
