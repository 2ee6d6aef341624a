package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/metrics"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/workload"
)

// The tests of this file break the migration's connections while it runs
// under a mirrored write load (package workload), and check that the work
// cut short was done again, counted in the metrics, and that the new table
// equals the control table: no row was lost or written twice.

const (
	faultRows  = 20_000
	faultAlter = "ADD COLUMN refunded_at DATETIME(6) NULL"
)

// faultLoad is the write load of these tests: every kind of write, a few
// hundred a second, mirrored into the control table.
func faultLoad() workload.Options {
	return workload.Options{Table: "orders", Writers: 3, Rate: 300, InitialRows: faultRows, Seed: 7}
}

// faultConfig is a slow single-threaded copy of orders, so that the faults
// land in the middle of it.
func faultConfig(t *testing.T, conn mysql.ConnConfig, database string) Config {
	cfg := testConfig(t, database, "orders", faultAlter)
	cfg.Conn = conn
	cfg.testHooks = &testHooks{afterChunk: func(int) { time.Sleep(40 * time.Millisecond) }}
	return cfg
}

// runUnderFaults runs cfg while the load writes, and returns the result,
// the retries the run counted by what was retried, and the load's stats.
func runUnderFaults(ctx context.Context, t *testing.T, db *sql.DB, cfg Config) (*Result, map[string]float64, workload.Stats, error) {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	load := workload.Start(ctx, db, faultLoad())
	time.Sleep(200 * time.Millisecond)
	res, err := r.Run(ctx)
	time.Sleep(200 * time.Millisecond) // writes into the new table
	stats := load.Stop()
	retries := retriesOf(t, r)
	t.Logf("retries %v; load: %d tx, %d failed (last: %s)", retries, stats.Transactions, stats.Errors, stats.LastError)
	return res, retries, stats, err
}

// retriesOf reads tailor_retries_total of the run, by its "what" label.
func retriesOf(t *testing.T, r *Runner) map[string]float64 {
	t.Helper()
	families, err := r.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != metrics.NameRetries {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "what" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// waitForSession polls the processlist until a session whose statement
// matches infoLike has been running it for at least 200ms (it waits for a
// lock the test holds), and returns its id.
func waitForSession(ctx context.Context, db *sql.DB, infoLike string) (int64, error) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var id int64
		err := db.QueryRowContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND IN ('Query', 'Execute') AND INFO LIKE ? AND TIME_MS >= 200 ORDER BY ID LIMIT 1", infoLike).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("no session ran %q for 200ms within 30s", infoLike)
}

// killTwice kills the session that runs a statement like infoLike
// (waiting for a lock the test holds), then waits for the retry to run it
// again, on another session, and kills that one too.
func killTwice(ctx context.Context, db *sql.DB, infoLike string) ([]int64, error) {
	var killed []int64
	for len(killed) < 2 {
		id, err := waitForSession(ctx, db, infoLike)
		if err != nil {
			return killed, err
		}
		if slices.Contains(killed, id) {
			// Still the killed one, on its way out.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if _, err := db.ExecContext(ctx, "KILL "+strconv.FormatInt(id, 10)); err != nil {
			return killed, err
		}
		killed = append(killed, id)
	}
	return killed, nil
}

// TestCopyConnectionKilled kills the copier's session twice while its
// INSERT ... SELECT waits for a row lock the test holds in the original:
// the chunk is copied again each time, and the run completes.
func TestCopyConnectionKilled(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", faultRows); err != nil {
		t.Fatal(err)
	}
	// A write lock on a row the copy reaches a few chunks in: the copier's
	// locking read of that chunk waits for it, in plain sight in the
	// processlist.
	holder, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback() //nolint:errcheck // released below, or here on failure
	if _, err := holder.ExecContext(ctx, "SELECT id FROM orders WHERE id = 3000 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	var killed []int64
	faultErr := make(chan error, 1)
	go func() {
		var err error
		killed, err = killTwice(ctx, db, "INSERT INTO %orders_tailor_new% SELECT %orders%")
		holder.Rollback() //nolint:errcheck // lets the copy through
		faultErr <- err
	}()
	res, retries, _, err := runUnderFaults(ctx, t, db, faultConfig(t, sbx.Conn(dbName), dbName))
	if ferr := <-faultErr; ferr != nil {
		t.Fatalf("killing the copier's session: %v", ferr)
	}
	if err != nil {
		t.Fatalf("migration failed: %v", err)
	}
	if len(killed) != 2 {
		t.Fatalf("killed %v, want two sessions of the copier", killed)
	}
	if retries["copy"] < 2 {
		t.Errorf("%v copy retries counted, want at least 2 (one per KILL)", retries["copy"])
	}
	t.Logf("copied %d rows, applied %d events", res.RowsCopied, res.EventsApplied)
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
}

// TestApplierConnectionKilled kills the applier's session twice while its
// DELETE waits for a row lock the test holds in the shadow, after the copy:
// the batch is applied again each time, and the run completes.
func TestApplierConnectionKilled(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", faultRows); err != nil {
		t.Fatal(err)
	}
	cfg := faultConfig(t, sbx.Conn(dbName), dbName)
	var killed []int64
	var hookErr error
	cfg.testHooks.beforeChecksum = func(ctx context.Context) {
		hookErr = func() error {
			// Hold row 7 of the shadow, then change it in the original
			// (and in the control table, as the load does): the applier's
			// delete of key 7 waits for the test.
			holder, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer holder.Rollback() //nolint:errcheck // released on return
			if _, err := holder.ExecContext(ctx, "SELECT id FROM orders_tailor_new WHERE id = 7 FOR UPDATE"); err != nil {
				return err
			}
			if err := inTransaction(ctx, db,
				"UPDATE orders SET note = 'changed while the applier was cut off' WHERE id = 7",
				"UPDATE orders_control SET note = 'changed while the applier was cut off' WHERE id = 7"); err != nil {
				return err
			}
			killed, err = killTwice(ctx, db, "DELETE FROM %orders_tailor_new%")
			return err
		}()
	}
	res, retries, _, err := runUnderFaults(ctx, t, db, cfg)
	if hookErr != nil {
		t.Fatalf("killing the applier's session: %v", hookErr)
	}
	if err != nil {
		t.Fatalf("migration failed: %v", err)
	}
	if len(killed) != 2 {
		t.Fatalf("killed %v, want two sessions of the applier", killed)
	}
	if retries["apply"] < 2 {
		t.Errorf("%v apply retries counted, want at least 2 (one per KILL)", retries["apply"])
	}
	t.Logf("copied %d rows, applied %d events", res.RowsCopied, res.EventsApplied)
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
}

// TestChecksumConnectionKilled kills the checksum's lock session twice
// while its LOCK TABLES ... READ waits for a transaction of the test that
// wrote to the original: the checksum starts its pass again each time, and
// the run completes.
func TestChecksumConnectionKilled(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", faultRows); err != nil {
		t.Fatal(err)
	}
	cfg := faultConfig(t, sbx.Conn(dbName), dbName)
	var killed []int64
	faultErr := make(chan error, 1)
	cfg.testHooks.beforeChecksum = func(ctx context.Context) {
		// An open transaction that changed the original (and the control
		// table, as the load does) holds the metadata lock the checksum's
		// read lock waits for.
		holder, err := db.BeginTx(ctx, nil)
		if err == nil {
			_, err = holder.ExecContext(ctx, "UPDATE orders SET note = 'held over the checksum' WHERE id = 9")
		}
		if err == nil {
			_, err = holder.ExecContext(ctx, "UPDATE orders_control SET note = 'held over the checksum' WHERE id = 9")
		}
		if err != nil {
			faultErr <- err
			return
		}
		go func() {
			var err error
			killed, err = killTwice(ctx, db, "LOCK TABLES %orders%")
			faultErr <- errors.Join(err, holder.Commit())
		}()
	}
	res, retries, _, err := runUnderFaults(ctx, t, db, cfg)
	if ferr := <-faultErr; ferr != nil {
		t.Fatalf("killing the checksum's session: %v", ferr)
	}
	if err != nil {
		t.Fatalf("migration failed: %v", err)
	}
	if len(killed) != 2 {
		t.Fatalf("killed %v, want two sessions of the checksum", killed)
	}
	if retries["checksum"] < 2 {
		t.Errorf("%v checksum retries counted, want at least 2 (one per KILL)", retries["checksum"])
	}
	t.Logf("copied %d rows, applied %d events, compared %d chunks", res.RowsCopied, res.EventsApplied, res.ChecksumChunks)
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
}

// dumpThreads lists the ids of the server's binary log dump sessions.
func dumpThreads(ctx context.Context, db *sql.DB) ([]int64, error) {
	rows, err := db.QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// TestBinlogDumpKilled kills the server's binary log dump thread of the
// run three times during the copy, while the load writes: the reader
// reconnects each time where the last whole transaction it read ended, and
// no change is lost or applied twice.
func TestBinlogDumpKilled(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", faultRows); err != nil {
		t.Fatal(err)
	}
	before, err := dumpThreads(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	cfg := faultConfig(t, sbx.Conn(dbName), dbName)
	var mu sync.Mutex
	var killed []int64
	var killErr error
	cfg.testHooks.afterChunk = func(seq int) {
		time.Sleep(40 * time.Millisecond)
		if seq != 5 && seq != 15 && seq != 25 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		// The run's dump thread is the one that was not there before it
		// started; after a KILL the reader's new one replaces it.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			ids, err := dumpThreads(ctx, db)
			if err != nil {
				killErr = err
				return
			}
			for _, id := range ids {
				if slices.Contains(before, id) || slices.Contains(killed, id) {
					continue
				}
				if _, err := db.ExecContext(ctx, "KILL "+strconv.FormatInt(id, 10)); err != nil {
					killErr = err
					return
				}
				killed = append(killed, id)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		killErr = fmt.Errorf("no new dump thread at chunk %d", seq)
	}
	res, retries, _, err := runUnderFaults(ctx, t, db, cfg)
	if killErr != nil {
		t.Fatalf("killing the dump thread: %v", killErr)
	}
	if err != nil {
		t.Fatalf("migration failed: %v", err)
	}
	if len(killed) != 3 {
		t.Fatalf("killed dump threads %v, want 3", killed)
	}
	if retries["binlog"] < 3 {
		t.Errorf("%v binary log reconnections counted, want at least 3 (one per KILL)", retries["binlog"])
	}
	t.Logf("copied %d rows, applied %d events", res.RowsCopied, res.EventsApplied)
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
}

// startOwnSandbox starts a server for one test, which may restart it
// without disturbing the other tests, and stops it when the test ends.
func startOwnSandbox(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	sandbox.Need(t, sbx)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	own, err := sandbox.Start(ctx, sandbox.Options{Log: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(own.Stop)
	return own
}

// openOwn creates database faults on own and connects to it.
func openOwn(t *testing.T, own *sandbox.Sandbox) *sql.DB {
	t.Helper()
	ctx := context.Background()
	admin, err := own.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE faults CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"); err != nil {
		t.Fatal(err)
	}
	db, err := own.Open(ctx, "faults")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(20)
	return db
}

// TestServerRestartMidCopy restarts the server (its own sandbox) in the
// middle of the copy, while the load writes: every part of the run waits
// for it and carries on, the migration lock is taken again, and the new
// table equals the control table.
func TestServerRestartMidCopy(t *testing.T) {
	own := startOwnSandbox(t)
	db := openOwn(t, own)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", faultRows); err != nil {
		t.Fatal(err)
	}
	cfg := faultConfig(t, own.Conn("faults"), "faults")
	pid := own.PID()
	restarted := make(chan error, 1)
	var once sync.Once
	cfg.testHooks.afterChunk = func(seq int) {
		time.Sleep(40 * time.Millisecond)
		// Late enough that the server's Uptime shows the restart: a
		// restart within a second of the lock being taken is not told
		// from a killed lock session (retakeLock).
		if seq == 25 {
			// Not from this goroutine: the copier must meet the restart.
			once.Do(func() { go func() { restarted <- own.Restart(ctx) }() })
		}
	}
	res, retries, stats, err := runUnderFaults(ctx, t, db, cfg)
	var restartErr error
	select {
	case restartErr = <-restarted:
	case <-time.After(time.Minute):
		t.Fatal("the restart did not finish")
	}
	if restartErr != nil {
		t.Fatalf("restart: %v", restartErr)
	}
	if own.PID() == pid {
		t.Fatal("the server was not restarted")
	}
	if err != nil {
		t.Fatalf("migration failed across the restart: %v", err)
	}
	if retries["binlog"] < 1 || retries["migration-lock"] < 1 || retries["copy"]+retries["chunk-boundary"] < 1 {
		t.Errorf("retries %v; want the binary log, the migration lock and the copy each retried", retries)
	}
	if stats.Errors == 0 {
		t.Log("no write of the load failed: the restart fell between its transactions")
	}
	t.Logf("copied %d rows, applied %d events", res.RowsCopied, res.EventsApplied)
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
}

// TestServerAwayLongerThanReconnectTimeout stops the server mid-copy for
// longer than --reconnect-timeout: the run gives up with one sentence
// saying how long the server was unreachable, the original is untouched
// (it still equals the control table), and the shadow is left as it was.
func TestServerAwayLongerThanReconnectTimeout(t *testing.T) {
	own := startOwnSandbox(t)
	db := openOwn(t, own)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", faultRows); err != nil {
		t.Fatal(err)
	}
	cfg := faultConfig(t, own.Conn("faults"), "faults")
	cfg.ReconnectTimeout = 2 * time.Second
	const away = 8 * time.Second
	down := make(chan time.Time, 1)
	back := make(chan error, 1)
	var once sync.Once
	cfg.testHooks.afterChunk = func(seq int) {
		time.Sleep(40 * time.Millisecond)
		if seq == 8 {
			once.Do(func() {
				go func() {
					own.Shutdown()
					down <- time.Now()
					time.Sleep(away)
					back <- own.Relaunch(ctx)
				}()
			})
		}
	}
	_, retries, _, err := runUnderFaults(ctx, t, db, cfg)
	ended := time.Now()
	wentDown := <-down
	if err := <-back; err != nil {
		t.Fatalf("relaunch: %v", err)
	}
	wantKind(t, err, KindConnect, "unreachable for", "--reconnect-timeout", "during copy", "`orders` is untouched", "`orders_tailor_new` is kept", "--resume")
	var gone *mysql.UnreachableError
	if !errors.As(err, &gone) || gone.For < cfg.ReconnectTimeout {
		t.Errorf("error %v does not wrap an *mysql.UnreachableError of at least %s", err, cfg.ReconnectTimeout)
	}
	if d := ended.Sub(wentDown); d >= away {
		t.Errorf("the run gave up %s after the server went away, not before it came back (%s)", d.Round(time.Millisecond), away)
	}
	if len(retries) == 0 {
		t.Error("no retry was counted before the run gave up")
	}
	t.Log(err)
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
	if got := tablesIn(t, db, "faults"); !slices.Contains(got, "orders_tailor_new") {
		t.Errorf("tables %v: the shadow was not left as the error says", got)
	} else if !strings.Contains(showCreate(t, db, "faults", "orders_tailor_new"), "refunded_at") {
		t.Error("the table left is not the shadow")
	}

	// The server is back: --resume finishes from the last checkpoint.
	resume := cfg
	resume.Resume, resume.testHooks = true, nil
	res, err := runMigration(ctx, t, resume)
	if err != nil {
		t.Fatalf("resume after the server came back: %v", err)
	}
	t.Logf("resumed: %d rows copied, %d before", res.RowsCopied, res.RowsCopiedBefore)
	if !res.Resumed {
		t.Error("the run after the outage did not resume")
	}
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
}
