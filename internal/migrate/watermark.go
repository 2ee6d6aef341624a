package migrate

import "sync"

// watermark follows the copy's chunks, which the workers finish out of
// order, and knows the copy's low-watermark: the key at or below which
// every row of the original has been copied (the upper bound of the last
// of the chunks that are all done, counting from the first). A resumed copy
// starts above it; the chunks above it that were done already are copied
// again, which the copy allows (each chunk deletes its range of the shadow
// before it fills it).
type watermark struct {
	mu sync.Mutex
	// next is the sequence number of the first chunk not known to be
	// done; chunks number from 1 (rowcopy.Chunker).
	next int
	// done holds the upper bounds of the chunks done after next.
	done map[int]doneChunk
	// low is the upper bound of chunk next-1, or where the copy started.
	low []any
	// complete is set once the chunk without an upper bound is done.
	complete bool
	// rows counts the rows copied by chunks at or below low.
	rows int64
}

type doneChunk struct {
	upper []any
	rows  int64
}

// newWatermark starts at start, the key the copy starts above (nil for the
// start of the key space).
func newWatermark(start []any) *watermark {
	return &watermark{next: 1, done: map[int]doneChunk{}, low: start}
}

// chunkDone records chunk seq, ending at upper (nil: the end of the key
// space), as copied with rows rows.
func (w *watermark) chunkDone(seq int, upper []any, rows int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done[seq] = doneChunk{upper: upper, rows: rows}
	for {
		d, ok := w.done[w.next]
		if !ok {
			return
		}
		delete(w.done, w.next)
		w.next++
		w.rows += d.rows
		if d.upper == nil {
			w.complete = true
			return
		}
		w.low = d.upper
	}
}

// position returns the low-watermark, whether the whole key space is
// copied, and the rows copied at or below the low-watermark.
func (w *watermark) position() (low []any, complete bool, rows int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.low, w.complete, w.rows
}
