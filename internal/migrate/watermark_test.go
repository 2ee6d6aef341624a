package migrate

import (
	"slices"
	"testing"
)

// TestWatermark: chunks finished out of order move the low-watermark only
// over the chunks that are all done from the first one.
func TestWatermark(t *testing.T) {
	t.Parallel()
	w := newWatermark([]any{int64(100)})
	want := func(low []any, complete bool, rows int64) {
		t.Helper()
		gotLow, gotComplete, gotRows := w.position()
		if !slices.Equal(gotLow, low) || gotComplete != complete || gotRows != rows {
			t.Errorf("position = %v %v %d, want %v %v %d", gotLow, gotComplete, gotRows, low, complete, rows)
		}
	}
	want([]any{int64(100)}, false, 0)
	w.chunkDone(2, []any{int64(300)}, 10)
	w.chunkDone(3, []any{int64(400)}, 10)
	want([]any{int64(100)}, false, 0) // chunk 1 is still being copied
	w.chunkDone(1, []any{int64(200)}, 10)
	want([]any{int64(400)}, false, 30)
	w.chunkDone(5, nil, 7)
	want([]any{int64(400)}, false, 30)
	w.chunkDone(4, []any{int64(500)}, 10)
	want([]any{int64(500)}, true, 47)
}
