package verify

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// TestThroughput measures the verify of 100,000 rows of a table with a
// typical mix of columns, with both sums, one session and two chunk sizes,
// and logs the rate.
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
	for _, sums := range sumServers(t, f) {
		for _, size := range []int{1000, 10000} {
			cfg := f.config(t)
			cfg.ChunkSize = size
			cfg.Threads = 1
			cfg.Server = sums.server
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Rows != 100000 {
				t.Fatalf("checked %d rows, want 100000", res.Rows)
			}
			t.Logf("%s sums, chunk size %d: %d chunks, %s per 100,000 rows (%.0f rows/s), writes held %s once", sums.name,
				size, res.Chunks, res.Elapsed.Round(time.Millisecond), float64(res.Rows)/res.Elapsed.Seconds(), res.MaxWritesHeld.Round(time.Microsecond))
		}
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

// sbTable is sysbench's table without its secondary index (the verify reads
// the primary key only), and sbShadow the same with c widened, an ALTER
// that keeps every column verified.
const (
	sbTable  = "id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT ''"
	sbShadow = "id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL DEFAULT 0, c VARCHAR(150) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT ''"
)

// sbDigits is sysbench's filler: n groups of 11 random digits.
func sbDigits(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = "LPAD(FLOOR(RAND() * 100000000000), 11, '0')"
	}
	return "CONCAT_WS('-', " + strings.Join(parts, ", ") + ")"
}

// TestSysbenchPerf measures Run on 1,000,000 sysbench-shaped rows
// (TAILOR_VERIFY_PERF_ROWS to change it), in ranges of 10,000 as the
// runner checksums by default, with the MD5 sums (the sandbox posing as a
// server without CRC32C) and the CRC sums, at 1, 2 and 4 threads, three
// times each. It runs only when TAILOR_VERIFY_PERF is set:
//
//	TAILOR_VERIFY_PERF=1 go test ./internal/verify/ -run TestSysbenchPerf -v -timeout 30m
func TestSysbenchPerf(t *testing.T) {
	if os.Getenv("TAILOR_VERIFY_PERF") == "" {
		t.Skip("set TAILOR_VERIFY_PERF=1 to measure the verify of 1,000,000 rows")
	}
	rows := 1_000_000
	if s := os.Getenv("TAILOR_VERIFY_PERF_ROWS"); s != "" {
		var err error
		if rows, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	f := newFixture(t, sbTable, sbShadow, nil)
	// Both tables in memory: the sandbox's 512M would leave part of them
	// on disk (resized online, and back when the test ends).
	var pool int64
	if err := f.db.QueryRow("SELECT @@innodb_buffer_pool_size").Scan(&pool); err != nil {
		t.Fatal(err)
	}
	exec(t, f.db, "SET GLOBAL innodb_buffer_pool_size = 2147483648")
	t.Cleanup(func() { _, _ = f.db.Exec(fmt.Sprintf("SET GLOBAL innodb_buffer_pool_size = %d", pool)) })
	start := time.Now()
	for base := 0; base < rows; base += 100_000 {
		exec(t, f.db, fmt.Sprintf("INSERT INTO t SELECT seq, FLOOR(1 + RAND() * %d), %s, %s FROM seq_%d_to_%d",
			rows, sbDigits(10), sbDigits(5), base+1, min(base+100_000, rows)),
			fmt.Sprintf("INSERT INTO _t_new SELECT * FROM t WHERE id > %d AND id <= %d", base, base+100_000))
	}
	exec(t, f.db, "SELECT COUNT(*) FROM t", "SELECT COUNT(*) FROM _t_new")
	t.Logf("%d rows filled in %s", rows, time.Since(start).Round(time.Millisecond))

	server, err := mysql.DetectServer(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	withoutCRC32C := mysql.Server{Flavor: mysql.FlavorMySQL, Version: mysql.Version{Major: 8, Minor: 0, Patch: 36}}
	for _, sums := range []struct {
		name   string
		server mysql.Server
	}{{"md5", withoutCRC32C}, {"crc", server}} {
		for _, threads := range []int{1, 2, 4} {
			cfg := f.config(t)
			cfg.ChunkSize = 10_000
			cfg.Threads = threads
			cfg.Server = sums.server
			var times []time.Duration
			var res Result
			for range 3 {
				if res, err = Run(ctx, cfg); err != nil {
					t.Fatal(err)
				}
				if res.Rows != int64(rows) {
					t.Fatalf("checked %d rows, want %d", res.Rows, rows)
				}
				times = append(times, res.Elapsed)
			}
			slices.Sort(times)
			t.Logf("%s sums, %d threads: %s (min %s, max %s), %d chunks, writes held %s",
				sums.name, threads, times[1].Round(time.Millisecond), times[0].Round(time.Millisecond),
				times[2].Round(time.Millisecond), res.Chunks, res.MaxWritesHeld.Round(time.Microsecond))
		}
	}
}
