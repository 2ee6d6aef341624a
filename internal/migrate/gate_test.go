package migrate

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestNextLevel(t *testing.T) {
	t.Parallel()
	const budget = 25 * time.Millisecond
	tests := []struct {
		name           string
		level, threads int
		latency        time.Duration
		known          bool
		budget         time.Duration
		want           int
	}{
		{"under the budget, at full speed", 4, 4, 3 * time.Millisecond, true, budget, 4},
		{"over it: half as many", 4, 4, 40 * time.Millisecond, true, budget, 2},
		{"over it at two", 2, 4, 40 * time.Millisecond, true, budget, 1},
		{"over it at one: one that rests", 1, 4, 40 * time.Millisecond, true, budget, 0},
		{"over it resting: no lower", 0, 4, time.Second, true, budget, 0},
		{"at the budget: one more", 0, 4, budget, true, budget, 1},
		{"under it: one more", 2, 4, 10 * time.Millisecond, true, budget, 3},
		{"unknown: as it was", 1, 4, 0, false, budget, 1},
		{"no budget: every thread", 0, 4, time.Second, true, 0, 4},
		{"no budget, negative: every thread", 1, 2, time.Second, true, NoMaxCommitLatency, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := nextLevel(tt.level, tt.threads, tt.latency, tt.known, tt.budget); got != tt.want {
				t.Errorf("nextLevel(%d, %d, %v, %v, %v) = %d, want %d", tt.level, tt.threads, tt.latency, tt.known, tt.budget, got, tt.want)
			}
		})
	}
}

func TestOthersMayWrite(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	tests := []struct {
		name                         string
		started, readUpTo, lastOther time.Time
		want                         bool
	}{
		{"a row of another session just now", ago(time.Minute), ago(0), ago(100 * time.Millisecond), true},
		{"one at the window's edge", ago(time.Minute), ago(0), ago(2 * time.Second), true},
		{"none for longer than the window", ago(time.Minute), ago(0), ago(2*time.Second + time.Millisecond), false},
		{"none ever", ago(time.Minute), ago(0), time.Time{}, false},
		{"none since a reader started a window ago", ago(2 * time.Second), ago(0), time.Time{}, false},
		{"a reader started less than a window ago cannot say", ago(1900 * time.Millisecond), ago(0), time.Time{}, true},
		{"a reader not started cannot say", time.Time{}, ago(0), time.Time{}, true},
		{"event times have whole seconds: a reader 2.9 s behind still says", ago(time.Minute), ago(2900 * time.Millisecond), time.Time{}, false},
		{"a reader further behind cannot say", ago(time.Minute), ago(3*time.Second + time.Millisecond), time.Time{}, true},
		{"a reader that has read nothing yet cannot say", ago(time.Minute), time.Time{}, time.Time{}, true},
	}
	for _, tt := range tests {
		if got := othersMayWrite(now, tt.started, tt.readUpTo, tt.lastOther); got != tt.want {
			t.Errorf("%s: othersMayWrite = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCopyGate drives the gate with a latency the test sets and steps its
// clock by hand: slots follow the level, a lowered level lets no new chunk
// through until enough end, a raised one wakes a waiting worker, and the
// lowest level still lets one chunk through, with a rest.
func TestCopyGate(t *testing.T) {
	t.Parallel()
	latency := 2 * time.Millisecond
	g := newCopyGate(3, 25*time.Millisecond, func() (time.Duration, bool) { return latency, true })
	clock := time.Now()
	step := func(d time.Duration) {
		clock = clock.Add(gateAdjustEvery)
		g.mu.Lock()
		latency = d
		g.adjustLocked(clock)
		g.mu.Unlock()
	}
	// acquire now, without waiting: the level has just been set by step,
	// and acquire's own adjustment comes too soon after it to move it.
	try := func() (bool, bool) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		g.mu.Lock()
		g.adjusted = time.Now()
		g.mu.Unlock()
		rest, err := g.acquire(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		return err == nil, rest
	}

	step(2 * time.Millisecond)
	for i := range 3 {
		if ok, rest := try(); !ok || rest {
			t.Fatalf("chunk %d at full speed: let through %v, rest %v", i+1, ok, rest)
		}
	}
	if ok, _ := try(); ok {
		t.Fatal("a fourth chunk of three threads let through")
	}
	step(40 * time.Millisecond) // level 1, three running
	if g.workers() != 1 {
		t.Fatalf("workers over the budget = %d, want 1", g.workers())
	}
	g.release()
	g.release()
	if ok, _ := try(); ok {
		t.Fatal("a chunk let through beside the one running at level 1")
	}
	g.release()
	if ok, rest := try(); !ok || rest {
		t.Fatalf("at level 1 with none running: let through %v, rest %v", ok, rest)
	}
	g.release()
	step(90 * time.Millisecond) // level 0: one chunk, resting
	if ok, rest := try(); !ok || !rest || !g.resting() || g.workers() != 1 {
		t.Fatalf("at level 0: let through %v, rest %v, resting %v, workers %d; want one chunk that rests", ok, rest, g.resting(), g.workers())
	}

	g.release()
	step(time.Millisecond) // level 1
	if ok, rest := try(); !ok || rest {
		t.Fatalf("back at level 1: let through %v, rest %v", ok, rest)
	}

	// A worker waiting for a slot is let through when the level rises.
	done := make(chan bool, 1)
	go func() {
		rest, err := g.acquire(context.Background())
		done <- err == nil && !rest
	}()
	g.mu.Lock()
	g.adjusted = time.Time{} // the waiter's next look adjusts: to level 2
	g.wakeLocked()
	g.mu.Unlock()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("the waiting worker was let through with a rest")
		}
	case <-time.After(time.Minute):
		t.Fatal("the waiting worker was not let through once commits were fast")
	}
	g.release()
	g.release()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running != 0 || g.level != 2 {
		t.Errorf("running %d, level %d; want 0 and 2", g.running, g.level)
	}
}

// TestGateDoRestsHoldingTheSlot drives Do at level 0: the work runs, the
// gate rests as long as the work said it kept the server busy, and no
// other work gets through during the rest; an error from the work is
// returned without a rest.
func TestGateDoRestsHoldingTheSlot(t *testing.T) {
	t.Parallel()
	g := newCopyGate(2, time.Millisecond, func() (time.Duration, bool) { return time.Second, true })
	g.mu.Lock()
	g.level, g.adjusted = 0, time.Now().Add(time.Hour) // no adjustment during the test
	g.mu.Unlock()
	const busy = 200 * time.Millisecond
	ctx := context.Background()
	first := make(chan time.Time, 1)
	done := make(chan error, 1)
	go func() {
		done <- g.Do(ctx, func(context.Context) (time.Duration, error) {
			first <- time.Now()
			return busy, nil
		})
	}()
	started := <-first
	var second time.Time
	if err := g.Do(ctx, func(context.Context) (time.Duration, error) {
		second = time.Now()
		return 0, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if gap := second.Sub(started); gap < busy {
		t.Errorf("the second work ran %v after the first, within the first's rest of %v", gap, busy)
	}

	failed := errors.New("the work failed")
	began := time.Now()
	if err := g.Do(ctx, func(context.Context) (time.Duration, error) { return time.Hour, failed }); !errors.Is(err, failed) {
		t.Fatalf("Do = %v, want the work's error", err)
	}
	if took := time.Since(began); took > time.Minute {
		t.Errorf("a failed work rested %v", took)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running != 0 {
		t.Errorf("%d slots still held after Do returned", g.running)
	}
}

// TestOthersWriteWithoutReader: before the binary log reader starts, nothing
// says the application is idle, so the gates must assume it writes.
func TestOthersWriteWithoutReader(t *testing.T) {
	t.Parallel()
	if !(&Runner{}).othersWrite() {
		t.Error("othersWrite() = false with no binary log reader, want true")
	}
}
