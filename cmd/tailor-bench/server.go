package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/throttle"
)

// durableArgs are the bench sandbox's durability settings: a production
// server's, every commit flushed to the redo log and the binary log synced
// at commit. The test sandbox keeps 2 and 0, which are faster and enough for
// correctness tests, but understate what a commit costs, and so what a copy
// beside the application's commits does to them.
func durableArgs() []string {
	return []string{"--innodb-flush-log-at-trx-commit=1", "--sync-binlog=1"}
}

// sandboxArgs are the bench sandbox's mariadbd arguments beyond the
// sandbox's own: production durability, the buffer pool, and a 1 GiB redo
// log (see docs/benchmarks.md).
func sandboxArgs(bufferPool string) []string {
	return append(durableArgs(), "--innodb-buffer-pool-size="+bufferPool, "--innodb-log-file-size=1G")
}

// bytesPerRow is about what a sysbench row costs the buffer pool in each of
// the four tables a run holds (the template, the table, its control table
// and the shadow), index pages included: 10,000,000 rows in a 12 GiB pool
// read nothing from disk (docs/benchmarks.md).
const bytesPerRow = 300

// autoBufferPool is the buffer pool of --buffer-pool auto: enough for the
// four tables of rows rows, 2 GiB at least, and at most half of memTotal
// (the machine's memory, 0 when unknown) shared by the servers the bench
// starts. A pool smaller than the tables makes every tool read the disk,
// and a run at 10,000,000 rows would then measure the disk rather than
// how the tool scales from 1,000,000 (a 2 GiB pool made tailor's 10M run
// 12.5 times its 1M run, a 12 GiB pool 9.6 times).
func autoBufferPool(rows, servers int, memTotal int64) string {
	const gib = 1 << 30
	want := max(int64(rows)*4*bytesPerRow, 2*gib)
	if memTotal > 0 {
		want = min(want, memTotal/2/int64(max(servers, 1)))
	}
	return fmt.Sprintf("%dG", max((want+gib-1)/gib, 1))
}

// memTotal is the machine's memory from /proc/meminfo; 0 when unknown.
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kib int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kib); err == nil {
				return kib << 10
			}
		}
	}
	return 0
}

// ServerSettings are what the server says of its durability and sizing,
// read back from it (SELECT @@...), not what the bench asked for.
type ServerSettings struct {
	Version                   string `json:"version"`
	InnodbFlushLogAtTrxCommit int    `json:"innodb_flush_log_at_trx_commit"`
	SyncBinlog                int64  `json:"sync_binlog"`
	InnodbBufferPoolBytes     int64  `json:"innodb_buffer_pool_size"`
	InnodbLogFileBytes        int64  `json:"innodb_log_file_size"`
	BinlogFormat              string `json:"binlog_format"`
}

// readSettings reads the server's settings.
func readSettings(ctx context.Context, db *sql.DB) (ServerSettings, error) {
	var s ServerSettings
	err := db.QueryRowContext(ctx, "SELECT @@version, @@innodb_flush_log_at_trx_commit, @@sync_binlog, @@innodb_buffer_pool_size, @@innodb_log_file_size, @@binlog_format").
		Scan(&s.Version, &s.InnodbFlushLogAtTrxCommit, &s.SyncBinlog, &s.InnodbBufferPoolBytes, &s.InnodbLogFileBytes, &s.BinlogFormat)
	if err != nil {
		return s, fmt.Errorf("read the server's settings: %w", err)
	}
	return s, nil
}

// String is the settings on one line, as the report's header shows them.
func (s ServerSettings) String() string {
	return fmt.Sprintf("innodb_flush_log_at_trx_commit=%d, sync_binlog=%d, innodb_buffer_pool_size=%s, innodb_log_file_size=%s, binlog_format=%s, version %s",
		s.InnodbFlushLogAtTrxCommit, s.SyncBinlog, sizeLabel(s.InnodbBufferPoolBytes), sizeLabel(s.InnodbLogFileBytes), s.BinlogFormat, s.Version)
}

// Durable says whether every commit is flushed and synced, as a
// production server does.
func (s ServerSettings) Durable() bool {
	return s.InnodbFlushLogAtTrxCommit == 1 && s.SyncBinlog == 1
}

// sizeLabel prints a byte count in the largest binary unit that divides it,
// as a server's configuration would be written (2G, 1G, 96M).
func sizeLabel(b int64) string {
	for _, u := range []struct {
		unit string
		size int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if b >= u.size && b%u.size == 0 {
			return fmt.Sprintf("%d%s", b/u.size, u.unit)
		}
	}
	return fmt.Sprint(b)
}

// maxCommitLatencyConfig is --tailor-max-commit-latency as a
// migrate.Config value: 0 on the command line is no limit, as for tailor
// alter's --max-commit-latency.
func maxCommitLatencyConfig(d time.Duration) time.Duration {
	if d == 0 {
		return migrate.NoMaxCommitLatency
	}
	return d
}

// maxCommitLatencyLabel is --tailor-max-commit-latency for the header.
func maxCommitLatencyLabel(d time.Duration) string {
	switch {
	case d == 0:
		return "0 (no limit)"
	case d == migrate.DefaultMaxCommitLatency:
		return d.String() + " (tailor's default)"
	}
	return d.String()
}

// checksumLabel says how tailor verifies the copy in the bench's runs, for
// the header: the flags change what a tailor run's time includes.
func checksumLabel(skip, duringCopy bool) string {
	switch {
	case skip:
		return "skipped (--skip-checksum)"
	case duringCopy:
		return "mostly during the copy (--checksum-during-copy)"
	}
	return "after the copy (tailor's default)"
}

// settleTimeout bounds how long settle waits for InnoDB to flush.
const settleTimeout = 2 * time.Minute

// settle waits until InnoDB has written back the pages the last restore
// dirtied, so that every run starts with an empty redo log rather than
// paying for the run before it. Filling the table and its control table
// writes about 2 rows' worth of redo per row, which left the 1 GiB redo
// log 97% full: the first run after it then met InnoDB's furious flushing
// (and tailor's --max-redo-fill wait) and took 30-60% longer than the same
// run later (MariaDB 10.11, 1,000,000 rows: tailor idle 6.5 s against 4.1
// s). The flush runs at a raised innodb_io_capacity, which is put back
// before the run; the checkpoint age is what InnoDB reports, so a server
// that reports none (MySQL) is not waited for.
func settle(ctx context.Context, db *sql.DB) error {
	var capacity, capacityMax, dirtyPct string
	if err := db.QueryRowContext(ctx, "SELECT @@innodb_io_capacity, @@innodb_io_capacity_max, @@innodb_max_dirty_pages_pct").Scan(&capacity, &capacityMax, &dirtyPct); err != nil {
		return fmt.Errorf("read InnoDB's flushing settings: %w", err)
	}
	restore := func() {
		// innodb_io_capacity may not exceed innodb_io_capacity_max: it
		// goes down first here, and up second below.
		for _, q := range []string{
			"SET GLOBAL innodb_max_dirty_pages_pct = " + dirtyPct,
			"SET GLOBAL innodb_io_capacity = " + capacity,
			"SET GLOBAL innodb_io_capacity_max = " + capacityMax,
		} {
			db.ExecContext(context.WithoutCancel(ctx), q) //nolint:errcheck // best effort: the settings were readable
		}
	}
	defer restore()
	for _, q := range []string{
		"SET GLOBAL innodb_io_capacity_max = 100000",
		"SET GLOBAL innodb_io_capacity = 100000",
		"SET GLOBAL innodb_max_dirty_pages_pct = 0",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("make InnoDB flush before the run: %w", err)
		}
	}
	deadline := time.Now().Add(settleTimeout)
	for {
		fill, err := operate.ReadRedoFill(ctx, db)
		switch {
		case errors.Is(err, operate.ErrNoCheckpointAge):
			return nil
		case err != nil:
			return fmt.Errorf("read InnoDB's checkpoint age: %w", err)
		case fill <= settledFill:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("InnoDB's redo log is still %.0f%% full after %s", fill*100, settleTimeout)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// settledFill is how full the redo log may be when a run starts.
const settledFill = 0.05

// lockWaits is the server's count of row lock waits and their total time
// so far (Innodb_row_lock_waits, Innodb_row_lock_time), read before and
// after a run: under the load, the waits are mostly the application's
// writes meeting the rows a tool holds locked (a chunk being copied), the
// one cause of a slow write that the tool's locking alone decides.
type lockWaits struct {
	waits, millis int64
}

func readLockWaits(ctx context.Context, db *sql.DB) (lockWaits, error) {
	status, _, err := throttle.ReadStatus(ctx, db, []string{"Innodb_row_lock_waits", "Innodb_row_lock_time"})
	if err != nil {
		return lockWaits{}, fmt.Errorf("read the row lock waits: %w", err)
	}
	return lockWaits{waits: status["innodb_row_lock_waits"], millis: status["innodb_row_lock_time"]}, nil
}
