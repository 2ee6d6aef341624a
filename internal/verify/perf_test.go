package verify

import (
	"context"
	"testing"
	"time"
)

// TestThroughput measures the verify of 100,000 rows of a table with a
// typical mix of columns, at two chunk sizes, and logs the rate.
func TestThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("measures 100,000 rows")
	}
	const cols = `id BIGINT NOT NULL PRIMARY KEY, a INT, b VARCHAR(64), c DECIMAL(12,2),
		d DATETIME(6), e TEXT, f DOUBLE, g INT`
	f := newFixture(t, cols, cols, nil)
	exec(t, f.db, `INSERT INTO t SELECT seq, seq % 1000, CONCAT('name-', seq, '-😀'), seq * 1.01,
		'2024-01-01' + INTERVAL seq SECOND, REPEAT('lorem ipsum ', seq % 20), seq / 7, NULL FROM seq_1_to_100000`,
		"INSERT INTO _t_new SELECT * FROM t")
	for _, size := range []int{1000, 10000} {
		cfg := f.config(t)
		cfg.ChunkSize = size
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != 100000 {
			t.Fatalf("checked %d rows, want 100000", res.Rows)
		}
		t.Logf("chunk size %d: %d chunks, %s per 100,000 rows (%.0f rows/s), writes held %s once",
			size, res.Chunks, res.Elapsed.Round(time.Millisecond), float64(res.Rows)/res.Elapsed.Seconds(), res.MaxWritesHeld.Round(time.Microsecond))
	}
	// The cost of the checksum query alone, for comparison: a full scan
	// of both tables with no hashing.
	start := time.Now()
	var n int
	if err := f.db.QueryRow("SELECT (SELECT COUNT(*) FROM t WHERE b IS NOT NULL AND e IS NOT NULL) + (SELECT COUNT(*) FROM _t_new WHERE b IS NOT NULL AND e IS NOT NULL)").Scan(&n); err != nil {
		t.Fatal(err)
	}
	t.Logf("a bare scan of both tables: %s", time.Since(start).Round(time.Millisecond))
}
