package demo

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/workload"
)

// writeBeforeRevert is how long the writers write into the migrated table
// before the revert, on top of the time the comparison took: writes made
// since the cut-over are what a revert must carry back.
const writeBeforeRevert = 3 * time.Second

// revertUnderLoad is the plain demo's last act: with the writers still
// writing, it runs tailor revert in this process, as tailor revert
// --execute runs it, then stops the load and compares the reverted table
// with the control table. migrated is the migration's result, atCutOver
// the load's figures when it returned.
func revertUnderLoad(ctx context.Context, out io.Writer, sbx *sandbox.Sandbox, db *sql.DB, load *workload.Load, socket string, opts Options, migrated *migrate.Result, atCutOver workload.Stats) error {
	fmt.Fprintf(out, "==> the writers go on for %s more, into the migrated table\n", writeBeforeRevert)
	if err := sleep(ctx, writeBeforeRevert); err != nil {
		return err
	}
	before := load.Snapshot()
	fmt.Fprintf(out, "    %d transactions since the cut-over, which only %s lacks\n", before.Transactions-atCutOver.Transactions, migrated.OldTable)

	conn := sbx.Conn("shop")
	fmt.Fprintf(out, "==> tailor revert --host 127.0.0.1 --port %d --user %s --database shop --table orders --execute --control-socket %s\n", conn.Port, conn.User, socket)
	fmt.Fprintf(out, "    (it applies every write made since the cut-over to %s, columns mapped back, checks it against orders and swaps it back in)\n", migrated.OldTable)
	runner, err := migrate.New(migrate.Config{
		Conn:     conn,
		Database: "shop",
		Table:    "orders",
		Revert:   true,
		Execute:  true,
		Threads:  opts.Threads,
		Settings: operate.Settings{ControlSocket: socket, ProgressInterval: time.Second},
		Logger:   opts.Logger,
	})
	if err != nil {
		return err
	}
	res, err := runner.Run(ctx)
	if err != nil {
		return fmt.Errorf("revert failed: %w", err)
	}
	if !res.Reverted {
		return fmt.Errorf("tailor revert returned without swapping %s back in", migrated.OldTable)
	}
	during := loadSince(before, load.Snapshot())
	if err := sleep(ctx, time.Second); err != nil { // some writes land in the reverted table too
		return err
	}
	stats := load.Stop()

	fmt.Fprintln(out, "==> revert summary")
	fmt.Fprintf(out, "    wall time %s, %d binlog events applied (the writes since the cut-over), writes held %s at its cut-over\n",
		res.Elapsed.Round(time.Millisecond), res.EventsApplied, res.CutOverLock.Round(time.Microsecond))
	fmt.Fprintf(out, "    checksum before the swap back: %d chunks compared in one consistent snapshot, %d copied again\n", res.ChecksumChunks, res.ChecksumMended)
	fmt.Fprintf(out, "    the migrated table kept as %s (tailor revert again re-applies the change; drop it with: DROP TABLE %s;)\n",
		res.OldTable, mysql.QuoteTable("shop", res.OldTable))
	fmt.Fprintln(out, "==> the write load while the revert ran")
	printLoadFigures(out, during)
	return compareReverted(ctx, out, db, stats)
}

// loadSince is what the load did between two of its snapshots. The
// longest stall is the longest transaction committed in between.
func loadSince(before, after workload.Stats) workload.Stats {
	d := workload.Stats{
		Transactions: after.Transactions - before.Transactions,
		Inserts:      after.Inserts - before.Inserts,
		Updates:      after.Updates - before.Updates,
		KeyUpdates:   after.KeyUpdates - before.KeyUpdates,
		Deletes:      after.Deletes - before.Deletes,
		Retries:      after.Retries - before.Retries,
		Errors:       after.Errors - before.Errors,
		LastError:    after.LastError,
	}
	if d.Errors == 0 {
		d.LastError = ""
	}
	// Latencies are appended as transactions commit: the later snapshot's
	// extend the earlier's.
	if len(after.Latencies) > len(before.Latencies) {
		d.Latencies = slices.Clone(after.Latencies[len(before.Latencies):])
		d.LongestStall = slices.Max(d.Latencies)
	}
	return d
}

// compareReverted compares the reverted table with the control table, row
// by row, once the writers have stopped. The reverted table is the one
// the migration kept, so it has every column of the original, as the
// control table does; its definition must be the control table's too.
func compareReverted(ctx context.Context, out io.Writer, db *sql.DB, stats workload.Stats) error {
	fmt.Fprintln(out, "==> comparing shop.orders with shop.orders_control, row by row")
	diff, err := workload.Compare(ctx, db, "orders", workload.SameColumns(nil, nil))
	if err != nil {
		return err
	}
	if !diff.Equal() {
		fmt.Fprintf(out, "    DIFFERENT: %s\n", diff)
		return fmt.Errorf("the reverted table differs from the record of writes: %s", diff)
	}
	def, err := showCreate(ctx, db, "orders")
	if err != nil {
		return err
	}
	control, err := showCreate(ctx, db, workload.ControlTable("orders"))
	if err != nil {
		return err
	}
	original := sameDefinition(def, "orders", control, workload.ControlTable("orders"))
	fmt.Fprintf(out, "    %s; no write was lost. orders has its original definition again (that of orders_control): %v\n", diff, original)
	if !original {
		return fmt.Errorf("the reverted table's definition is not the original's:\n%s\nnot, as orders_control's says:\n%s", def, control)
	}
	if stats.Errors > 0 {
		return fmt.Errorf("%d writes of the load failed, last: %s", stats.Errors, stats.LastError)
	}
	return nil
}

// showCreate is SHOW CREATE TABLE of shop.table.
func showCreate(ctx context.Context, db *sql.DB, table string) (string, error) {
	var name, def string
	if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE "+mysql.QuoteTable("shop", table)).Scan(&name, &def); err != nil {
		return "", fmt.Errorf("show the definition of %s: %w", table, err)
	}
	return def, nil
}

// sameDefinition reports whether two SHOW CREATE TABLE texts define the
// same table under their two names: the name is on the first line only.
func sameDefinition(a, nameA, b, nameB string) bool {
	strip := func(def, name string) string {
		return strings.Replace(def, "CREATE TABLE "+mysql.QuoteIdent(name)+" ", "CREATE TABLE ", 1)
	}
	return strip(a, nameA) == strip(b, nameB)
}
