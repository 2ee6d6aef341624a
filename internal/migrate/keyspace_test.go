package migrate

import (
	"testing"
	"time"
)

// TestStatusPastTheEstimate: a copy that has passed the row estimate
// reports how far along the key it is, not 100% with an ETA of 0; without
// a measured key space it stays at 100%.
func TestStatusPastTheEstimate(t *testing.T) {
	t.Parallel()
	r := &Runner{}
	r.startSeen.Store(time.Now().Add(-10 * time.Second).UnixNano())
	r.progress.phase.Store(int32(PhaseCopy))
	r.progress.rowsTotal.Store(1000)
	r.progress.rowsCopied.Store(1500)
	if st := r.Status(); st.Percent != 100 || st.ETA != 0 {
		t.Errorf("without a key space: %.1f%%, eta %s; want 100%% and 0", st.Percent, st.ETA)
	}

	w := newWatermark(nil)
	w.chunkDone(1, []any{int64(1501)}, 1500)
	r.progress.keySpace.Store(&keySpace{lo: 1, hi: 3001, w: w})
	st := r.Status()
	if st.Percent < 49 || st.Percent > 51 || st.PhasePercent != st.Percent {
		t.Errorf("half way along the key: %.1f%% (phase %.1f%%), want 50%%", st.Percent, st.PhasePercent)
	}
	// 1500 rows in 10s, about 1500 left: about 10s.
	if st.ETA < 8*time.Second || st.ETA > 12*time.Second {
		t.Errorf("eta %s, want about 10s", st.ETA)
	}

	for _, v := range []any{[]byte("2251"), uint64(2251), "2251"} {
		w := newWatermark([]any{v})
		if f, ok := (&keySpace{lo: 1, hi: 3001, w: w}).fraction(); !ok || f < 0.74 || f > 0.76 {
			t.Errorf("fraction of %T 2251 in [1, 3001] = %v, %v", v, f, ok)
		}
	}
	if _, ok := (&keySpace{lo: 1, hi: 3001, w: newWatermark([]any{1.5})}).fraction(); ok {
		t.Error("a key of another type gave a fraction")
	}
}
