package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/workload"
)

// shadowIDs picks n ids of rows in the shadow table, spread over it.
func shadowIDs(t testing.TB, db *sql.DB, shadow string, n int) []int64 {
	t.Helper()
	rows, err := db.Query(fmt.Sprintf("SELECT id FROM `%s` WHERE MOD(id, 997) = 5 ORDER BY id LIMIT %d", shadow, n))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if len(ids) != n {
		t.Fatalf("found %d rows to corrupt, want %d", len(ids), n)
	}
	return ids
}

// TestChecksumMendsCorruptedRows corrupts rows of the shadow between the
// copy and the cut-over, while writers keep changing the table: the
// checksum must find the chunks, copy them again, and the migrated table
// must equal the independent record of every write.
func TestChecksumMendsCorruptedRows(t *testing.T) {
	const rows = 20_000
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	load := workload.Start(ctx, db, workload.Options{Table: "orders", Writers: 2, Rate: 200, InitialRows: rows, Seed: 7})
	cfg := testConfig(t, dbName, "orders", "MODIFY amount DECIMAL(14,2) NOT NULL")
	// The damage is a write by another session to ranges already copied,
	// which only the comparison after the copy (the default) sees
	// (TestChecksumBehindCopy tests the one during it).
	var corrupted []int64
	cfg.testHooks = &testHooks{beforeChecksum: func(context.Context) {
		// Three kinds of damage: a changed value, a missing row, and a
		// value set to NULL.
		corrupted = shadowIDs(t, db, ShadowName("orders"), 3)
		mustExec(t, db, "UPDATE orders_tailor_new SET amount = amount + 1 WHERE id = ?", corrupted[0])
		mustExec(t, db, "DELETE FROM orders_tailor_new WHERE id = ?", corrupted[1])
		mustExec(t, db, "UPDATE orders_tailor_new SET note = NULL, customer = 'corrupted' WHERE id = ?", corrupted[2])
	}}
	res, err := runMigration(ctx, t, cfg)
	stats := load.Stop()
	if err != nil {
		t.Fatalf("migration failed: %v", err)
	}
	t.Logf("corrupted ids %v; checksum: %d chunks, %d re-copied; load: %d tx, %d errors", corrupted, res.ChecksumChunks, res.ChecksumMended, stats.Transactions, stats.Errors)
	if res.ChecksumMended < 1 {
		t.Errorf("the checksum re-copied %d chunks; the corruption went unnoticed", res.ChecksumMended)
	}
	if res.ChecksumChunks < 2 {
		t.Errorf("the checksum compared %d chunks", res.ChecksumChunks)
	}
	if stats.Errors > 0 {
		t.Errorf("%d writes failed, last: %s", stats.Errors, stats.LastError)
	}
	diff, err := workload.Compare(ctx, db, "orders", workload.SameColumns(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !diff.Equal() {
		t.Fatalf("migrated table differs from the control record: %s", diff)
	}
}

// TestChecksumStopsOnLastingMismatch corrupts a row again after every
// re-copy: the migration must give up before the swap, name the row, leave
// the original untouched and remove the shadow.
func TestChecksumStopsOnLastingMismatch(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 5000)
	g := guardTable(t, db, dbName, "t")
	corrupt := func() { mustExec(t, db, "UPDATE t_tailor_new SET name = 'corrupted' WHERE id = 4242") }
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	recopies := 0
	cfg.testHooks = &testHooks{
		beforeChecksum: func(context.Context) { corrupt() },
		afterRecopy:    func(context.Context, rowcopy.Chunk) { recopies++; corrupt() },
	}
	_, err := runMigration(context.Background(), t, cfg)
	if err == nil {
		t.Fatal("the migration swapped in a table that differs from the original")
	}
	t.Log(err)
	wantKind(t, err, KindFailed, "4242", "checksum")
	if recopies != checksumAttempts {
		t.Errorf("re-copied %d times, want %d", recopies, checksumAttempts)
	}
	g.untouched(t, db)
	noLeftovers(t, db, dbName, []string{"t"})
}

// TestSkipChecksum swaps without comparing: a corrupted row goes through,
// which is what --skip-checksum risks, and the result says it was skipped.
func TestSkipChecksum(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 2000)
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.SkipChecksum = true
	cfg.testHooks = &testHooks{beforeCutOver: func() { mustExec(t, db, "UPDATE t_tailor_new SET name = 'corrupted' WHERE id = 42") }}
	res, err := runMigration(context.Background(), t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.ChecksumSkipped || res.ChecksumChunks != 0 {
		t.Errorf("result: skipped %v, %d chunks", res.ChecksumSkipped, res.ChecksumChunks)
	}
	var name string
	if err := db.QueryRow("SELECT name FROM t WHERE id = 42").Scan(&name); err != nil || name != "corrupted" {
		t.Errorf("name = %q, %v: the test did not corrupt the swapped table", name, err)
	}
}

// TestNativeInstantChange makes an INSTANT change while a transaction
// holds the table: the change waits at most InstantLockTimeout at a time,
// so another session's queries are never queued for longer, and it goes
// through once the transaction ends. Nothing is copied or left behind.
func TestNativeInstantChange(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 3000)
	ctx := context.Background()

	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	mustExecConn(t, holder, "BEGIN")
	mustExecConn(t, holder, "SELECT COUNT(*) FROM t")
	const hold = 3500 * time.Millisecond
	release := time.AfterFunc(hold, func() { _, _ = holder.ExecContext(ctx, "COMMIT") })
	defer release.Stop()

	var slowest atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			if _, err := db.ExecContext(ctx, "UPDATE t SET n = n + 1 WHERE id = 7"); err != nil {
				t.Errorf("a writer failed: %v", err)
				return
			}
			if d := time.Since(start); int64(d) > slowest.Load() {
				slowest.Store(int64(d))
			}
		}
	}()

	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.ForceCopy = false
	cfg.InstantLockTimeout = time.Second
	res, err := runMigration(ctx, t, cfg)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("attempts %d, elapsed %s, slowest write %s", res.InstantAttempts, res.Elapsed, time.Duration(slowest.Load()))
	if !res.Native || res.RowsCopied != 0 {
		t.Errorf("the change was not made natively: %+v", res)
	}
	if res.InstantAttempts < 2 {
		t.Errorf("attempts = %d; the held transaction should have made the first one give up", res.InstantAttempts)
	}
	if res.Elapsed < hold-500*time.Millisecond {
		t.Errorf("the change went through after %s, before the transaction ended", res.Elapsed)
	}
	// The bound is the lock timeout; the margin is for a shared, noisy
	// machine.
	if slowest := time.Duration(slowest.Load()); slowest > cfg.InstantLockTimeout+1500*time.Millisecond {
		t.Errorf("a writer waited %s behind the change; the bound is %s", slowest, cfg.InstantLockTimeout)
	}
	if def := showCreate(t, db, dbName, "t"); !strings.Contains(def, "`x` int") {
		t.Errorf("the column was not added:\n%s", def)
	}
	noLeftovers(t, db, dbName, []string{"t"})
}

func mustExecConn(t testing.TB, conn *sql.Conn, q string) {
	t.Helper()
	if _, err := conn.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestRecreateTriggers migrates a table whose trigger writes an audit row
// for every insert, under concurrent inserts: with --recreate-triggers the
// trigger moves to the new table at the cut-over, and every successful
// insert has exactly one audit row, none lost and none doubled.
func TestRecreateTriggers(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	createTable(t, db, "t", 20_000)
	mustExec(t, db, "CREATE TABLE audit (id BIGINT AUTO_INCREMENT PRIMARY KEY, row_id INT NOT NULL, UNIQUE KEY (row_id))")
	mustExec(t, db, "CREATE TRIGGER t_audit AFTER INSERT ON t FOR EACH ROW INSERT INTO audit (row_id) VALUES (NEW.id)")
	ctx := context.Background()

	var inserted atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := db.ExecContext(ctx, "INSERT INTO t (id, name, n) VALUES (?, 'new', 1)", 1_000_000+w*100_000+i)
				if err != nil {
					t.Errorf("insert failed: %v", err)
					return
				}
				inserted.Add(1)
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.RecreateTriggers = true
	cfg.testHooks = &testHooks{afterChunk: func(int) { time.Sleep(5 * time.Millisecond) }}
	res, err := runMigration(ctx, t, cfg)
	time.Sleep(200 * time.Millisecond) // inserts into the new table
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.TriggersRecreated, []string{"t_audit"}) {
		t.Errorf("triggers recreated = %q", res.TriggersRecreated)
	}
	var audited, after int64
	if err := db.QueryRow("SELECT COUNT(*) FROM audit").Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM t WHERE id >= 1000000").Scan(&after); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d inserts, %d audit rows, %d rows in the new table", inserted.Load(), audited, after)
	if audited != inserted.Load() || after != inserted.Load() {
		t.Errorf("%d inserts, %d audit rows, %d new rows: every insert must have exactly one", inserted.Load(), audited, after)
	}
	var on string
	if err := db.QueryRow("SELECT EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? AND TRIGGER_NAME = 't_audit'", dbName).Scan(&on); err != nil || on != "t" {
		t.Errorf("trigger t_audit is on %q (%v), want t", on, err)
	}
	mustExec(t, db, "INSERT INTO t (id, name) VALUES (5000000, 'after')")
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM audit WHERE row_id = 5000000").Scan(&n); err != nil || n != 1 {
		t.Errorf("an insert after the migration made %d audit rows (%v)", n, err)
	}
}

// TestCutOverWaitsForBlockers holds a transaction on the table when the
// cut-over is due. With the metadata_lock_info plugin the server shows who
// holds the table's metadata lock, and the cut-over does not start (it
// would queue every query behind it) until the transaction ends.
func TestCutOverWaitsForBlockers(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "INSTALL SONAME 'metadata_lock_info'"); err != nil {
		t.Skipf("metadata_lock_info cannot be loaded here: %v", err)
	}
	t.Cleanup(func() { _, _ = db.ExecContext(ctx, "UNINSTALL SONAME 'metadata_lock_info'") })
	createTable(t, db, "t", 3000)
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	var released atomic.Int64
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.CutOverLockTimeout = time.Second
	cfg.testHooks = &testHooks{beforeCutOver: func() {
		mustExecConn(t, holder, "BEGIN")
		mustExecConn(t, holder, "SELECT COUNT(*) FROM t")
		time.AfterFunc(3*time.Second, func() {
			released.Store(time.Now().UnixNano())
			_, _ = holder.ExecContext(ctx, "COMMIT")
		})
	}}
	res, err := runMigration(ctx, t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cut over at attempt %d, writes held %s", res.CutOverAttempts, res.CutOverLock)
	if released.Load() == 0 {
		t.Fatal("the cut-over finished while the transaction still held the table")
	}
	if res.CutOverAttempts < 2 {
		t.Errorf("cut over at attempt %d: the blocker was not waited for", res.CutOverAttempts)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Error(err)
	}
}

// TestKeyOrderChangeRefused: an ALTER that changes the collation of the
// copy key's column makes a key range hold other rows in the shadow than in
// the original, and the copy's range deletes would remove rows copied
// before. The plan refuses it; widening an integer key is fine.
func TestKeyOrderChangeRefused(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	mustExec(t, db, "CREATE TABLE k (code VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, v INT)")
	mustExec(t, db, "INSERT INTO k SELECT CONCAT(IF(seq % 2, 'a', 'B'), seq), seq FROM seq_1_to_300")
	g := guardTable(t, db, dbName, "k")
	cfg := testConfig(t, dbName, "k", "MODIFY code VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL")
	cfg.ChunkSize = 50
	cfg.SkipChecksum = true
	_, err := runMigration(context.Background(), t, cfg)
	wantKind(t, err, KindInvalid, "copy-key", "utf8mb4_general_ci to varchar(20) utf8mb4_bin")
	g.untouched(t, db)
	noLeftovers(t, db, dbName, []string{"k"})

	// The same columns in another order: the shadow's key would walk
	// the rows in another order than the copy's ranges.
	mustExec(t, db, "CREATE TABLE ab (a INT NOT NULL, b INT NOT NULL, v INT, PRIMARY KEY (a, b))")
	mustExec(t, db, "INSERT INTO ab SELECT seq % 10, seq, seq FROM seq_1_to_300")
	_, err = runMigration(context.Background(), t, testConfig(t, dbName, "ab", "DROP PRIMARY KEY, ADD PRIMARY KEY (b, a)"))
	wantKind(t, err, KindInvalid, "copy-key", "as its first columns, in this order")

	createTable(t, db, "t", 2000)
	res, err := runMigration(context.Background(), t, testConfig(t, dbName, "t", "MODIFY id BIGINT NOT NULL"))
	if err != nil {
		t.Fatalf("widening the integer key: %v", err)
	}
	if res.RowsCopied != 2000 {
		t.Errorf("copied %d rows, want 2000", res.RowsCopied)
	}
}
