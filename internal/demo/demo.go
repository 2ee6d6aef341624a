// Package demo runs tailor's demonstration: a throwaway MariaDB sandbox, a
// table under a live write load, an online migration of it, the proof
// that no write was lost, and a revert of the migration under the same
// load with the same proof. With CrashAndResume it runs the tailor binary
// instead, kills it with SIGKILL in the middle of the copy, and resumes it.
// The command is cmd/tailor-demo, kept out of the tailor binary.
package demo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/workload"
)

// Options shape the demo.
type Options struct {
	Rows    int
	Rate    int
	Writers int
	Alter   string
	// Threads and ChunkTime are tailor's (zero: its defaults); ChunkSize,
	// when set, fixes the chunk size.
	Threads   int
	ChunkTime time.Duration
	ChunkSize int
	// LogFormat is tailor's log format, text or json: the Logger's for the
	// migration run in this process, --log-format for the binary.
	LogFormat string
	Logger    *slog.Logger

	// CrashAndResume runs the tailor binary at Tailor as a child process
	// instead of migrating in this process, kills it with SIGKILL during
	// the copy and resumes the migration with --resume; the child's log
	// goes to Stderr.
	CrashAndResume bool
	Tailor         string
	Stderr         io.Writer
}

// Run runs the demo and reports on out. It fails when the migrated table
// differs from the control record in any row. The sandbox is stopped and
// its directory removed before it returns, whatever happened.
func Run(ctx context.Context, out io.Writer, opts Options) error {
	if opts.CrashAndResume {
		if err := checkBinary(opts.Tailor); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "==> starting a throwaway MariaDB sandbox")
	sbx, err := sandbox.Start(ctx, sandbox.Options{})
	if errors.Is(err, sandbox.ErrNoServer) {
		return fmt.Errorf("%w; on Debian or Ubuntu: sudo apt-get install -y mariadb-server (make demo does this)", err)
	}
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "==> stopping the sandbox and removing its data directory")
		sbx.Stop()
	}()
	fmt.Fprintf(out, "    mariadbd pid %d on 127.0.0.1:%d, data in %s\n", sbx.PID(), sbx.Port, sbx.Dir)

	admin, err := sbx.Open(ctx, "")
	if err != nil {
		return err
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE shop"); err != nil {
		admin.Close()
		return err
	}
	admin.Close()
	db, err := sbx.Open(ctx, "shop")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(opts.Writers + 4)

	fmt.Fprintf(out, "==> creating shop.orders with %d rows (and shop.orders_control, the independent record)\n", opts.Rows)
	start := time.Now()
	if err := workload.Create(ctx, db, "orders", opts.Rows); err != nil {
		return err
	}
	fmt.Fprintf(out, "    done in %s\n", time.Since(start).Round(time.Millisecond))

	fmt.Fprintf(out, "==> starting the write load: %d writers, %d transactions/s of inserts, updates (of the primary key too) and deletes,\n    each written to orders and orders_control in the same transaction\n", opts.Writers, opts.Rate)
	load := workload.Start(ctx, db, workload.Options{Table: "orders", Writers: opts.Writers, Rate: opts.Rate, InitialRows: opts.Rows, Seed: uint64(time.Now().UnixNano())})
	defer load.Stop() // a no-op once stopped; the writers must end before the sandbox
	time.Sleep(time.Second)

	// The socket lives with the sandbox, so that the demo never meets a
	// real migration's socket of a table that happens to be shop.orders.
	socket := filepath.Join(sbx.Dir, "tailor.sock")
	if opts.CrashAndResume {
		return crashAndResume(ctx, out, sbx, db, load, socket, opts)
	}
	return migrateInProcess(ctx, out, sbx, db, load, socket, opts)
}

// migrateInProcess is the plain demo: the migration runs in this process,
// as tailor alter --execute runs it, and is then reverted under the same
// load, as tailor revert --execute reverts it.
func migrateInProcess(ctx context.Context, out io.Writer, sbx *sandbox.Sandbox, db *sql.DB, load *workload.Load, socket string, opts Options) error {
	conn := sbx.Conn("shop")
	fmt.Fprintf(out, "==> tailor alter --host 127.0.0.1 --port %d --user %s --database shop --table orders \\\n      --alter %q --execute --control-socket %s\n", conn.Port, conn.User, opts.Alter, socket)
	fmt.Fprintf(out, "    (watch it from another terminal: tailor ctl --control-socket %s status)\n", socket)
	runner, err := migrate.New(migrate.Config{
		Conn:     conn,
		Database: "shop",
		Table:    "orders",
		Alter:    opts.Alter,
		Execute:  true,
		Threads:  opts.Threads,
		Settings: operate.Settings{ChunkSize: opts.ChunkSize, ChunkTime: chunkTime(opts), ControlSocket: socket, ProgressInterval: time.Second},
		Logger:   opts.Logger,
	})
	if err != nil {
		return err
	}
	res, err := runner.Run(ctx)
	if err != nil {
		return fmt.Errorf("migration failed: %w", err)
	}
	atCutOver := load.Snapshot()
	if err := sleep(ctx, time.Second); err != nil { // some writes land in the new table too
		return err
	}
	stats := load.Snapshot()

	printMigration(out, res)
	printLoad(out, stats)
	if err := compareInSnapshot(ctx, out, db, stats); err != nil {
		return err
	}
	switch {
	case res.Native:
		load.Stop()
		fmt.Fprintln(out, "==> no revert: a change made INSTANT keeps no old table for tailor revert to swap back")
		return nil
	case !res.Revertible:
		return errors.New("the migration did not keep what tailor revert needs (its log says why), so the demo cannot revert it")
	}
	return revertUnderLoad(ctx, out, sbx, db, load, socket, opts, res, atCutOver)
}

// printMigration reports what the migration did.
func printMigration(out io.Writer, res *migrate.Result) {
	fmt.Fprintln(out, "==> migration summary")
	if res.Native {
		fmt.Fprintf(out, "    wall time %s; the server made the change itself (ALGORITHM=INSTANT, at attempt %d): no rows copied, no old table\n",
			res.Elapsed.Round(time.Millisecond), res.InstantAttempts)
		return
	}
	fmt.Fprintf(out, "    wall time %s, %d rows copied, %d binlog events applied, writes held %s at the cut-over\n",
		res.Elapsed.Round(time.Millisecond), res.RowsCopied, res.EventsApplied, res.CutOverLock.Round(time.Microsecond))
	if res.ChecksumBehindRows > 0 {
		fmt.Fprintf(out, "    checksum: %d rows compared during the copy; before the swap %d chunks and %d changed rows, %d chunks copied again\n",
			res.ChecksumBehindRows, res.ChecksumChunks, res.ChecksumRechecked, res.ChecksumMended)
	} else {
		fmt.Fprintf(out, "    checksum before the swap: %d chunks compared in one consistent snapshot, %d copied again\n", res.ChecksumChunks, res.ChecksumMended)
	}
	fmt.Fprintf(out, "    old table kept as %s (drop it with: DROP TABLE %s;)\n", res.OldTable, mysql.QuoteTable("shop", res.OldTable))
}

// printLoad reports what the write load did.
func printLoad(out io.Writer, stats workload.Stats) {
	fmt.Fprintln(out, "==> the write load")
	printLoadFigures(out, stats)
}

// printLoadFigures reports the counts and latencies of the load.
func printLoadFigures(out io.Writer, stats workload.Stats) {
	fmt.Fprintf(out, "    %d transactions (%d inserts, %d updates, %d primary-key updates, %d deletes), %d retried, %d failed\n",
		stats.Transactions, stats.Inserts, stats.Updates, stats.KeyUpdates, stats.Deletes, stats.Retries, stats.Errors)
	fmt.Fprintf(out, "    latency p50 %s, p99 %s, longest %s\n",
		stats.Percentile(50).Round(time.Microsecond), stats.Percentile(99).Round(time.Microsecond), stats.LongestStall.Round(time.Microsecond))
}

// compareWithControl compares the migrated table with the independent
// record of the writes, row by row, once the writers have stopped, and
// fails when they differ or when a write of the load failed.
func compareWithControl(ctx context.Context, out io.Writer, db *sql.DB, stats workload.Stats) error {
	fmt.Fprintln(out, "==> comparing shop.orders with shop.orders_control, row by row")
	return reportMigrated(ctx, out, db, stats)
}

// compareInSnapshot is compareWithControl while the writers go on: in one
// REPEATABLE READ transaction, whose snapshot (taken by its first read,
// which counts both tables) holds each write in both tables or in
// neither.
func compareInSnapshot(ctx context.Context, out io.Writer, db *sql.DB, stats workload.Stats) error {
	fmt.Fprintln(out, "==> comparing shop.orders with shop.orders_control, row by row, in one consistent snapshot (the writers go on)")
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin the comparison's snapshot: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only: nothing to keep
	return reportMigrated(ctx, out, tx, stats)
}

// reportMigrated compares the migrated table with its control through q
// and reports it; it fails when they differ or when a write of the load
// failed.
func reportMigrated(ctx context.Context, out io.Writer, q workload.Querier, stats workload.Stats) error {
	diff, err := workload.Compare(ctx, q, "orders", workload.SameColumns(nil, nil))
	if err != nil {
		return err
	}
	if !diff.Equal() {
		fmt.Fprintf(out, "    DIFFERENT: %s\n", diff)
		return fmt.Errorf("the migrated table differs from the record of writes: %s", diff)
	}
	var hasColumn int
	_ = q.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'refunded_at'").Scan(&hasColumn)
	fmt.Fprintf(out, "    %s; no write was lost. orders has the new column refunded_at: %v\n", diff, hasColumn == 1)
	if stats.Errors > 0 {
		return fmt.Errorf("%d writes of the load failed, last: %s", stats.Errors, stats.LastError)
	}
	return nil
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// chunkTime is the demo's adaptive chunk time: none when the chunk size
// is fixed, tailor's default otherwise.
func chunkTime(opts Options) time.Duration {
	switch {
	case opts.ChunkSize > 0:
		return 0
	case opts.ChunkTime > 0:
		return opts.ChunkTime
	}
	return operate.DefaultChunkTime
}
