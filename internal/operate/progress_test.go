package operate

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestETALabel(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		eta    time.Duration
		paused bool
		want   string
	}{
		{1500 * time.Millisecond, false, "2s"},
		{0, false, "0s"},
		{-1, false, "?"},
		{time.Minute, true, "paused"},
		{-1, true, "paused"},
	} {
		if got := ETALabel(tt.eta, tt.paused, "?"); got != tt.want {
			t.Errorf("ETALabel(%v, paused %v) = %q, want %q", tt.eta, tt.paused, got, tt.want)
		}
	}
}

// TestEvery: reports come at the interval, and none after the
// context ends.
func TestEvery(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, time.Millisecond, func(context.Context) {
			if n.Add(1) == 3 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Every did not return after its context ended")
	}
	if got := n.Load(); got != 3 {
		t.Errorf("%d reports, want 3 (the last one cancels)", got)
	}
}
