package main

import "testing"

func TestAutoBufferPool(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	tests := []struct {
		rows, servers int
		mem           int64
		want          string
	}{
		{1_000_000, 1, 24 * gib, "2G"},   // the four tables fit in the 2 GiB floor
		{10_000_000, 1, 24 * gib, "12G"}, // 12e9 bytes, rounded up to whole GiB
		{10_000_000, 2, 24 * gib, "6G"},  // a replica too: half the memory shared
		{10_000_000, 1, 0, "12G"},        // memory unknown: no cap
		{100_000, 1, 2 * gib, "1G"},      // a small machine caps even the floor
	}
	for _, tt := range tests {
		if got := autoBufferPool(tt.rows, tt.servers, tt.mem); got != tt.want {
			t.Errorf("autoBufferPool(%d rows, %d servers, %d bytes) = %s, want %s", tt.rows, tt.servers, tt.mem, got, tt.want)
		}
	}
	if memTotal() <= 0 {
		t.Errorf("memTotal() = %d on Linux, want the machine's memory", memTotal())
	}
}
