package migrate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/preflight"
	"github.com/tailor-osc/tailor/internal/workload"
)

// The tests of a cut-over held up by other sessions: waited out without a
// limit, named in the log and the status, aborted by the operator, or
// forced by killing the sessions.

// needLockInfo loads MariaDB's metadata_lock_info plugin, without which
// the server does not show who holds a table's metadata lock, and unloads
// it when the test ends.
func needLockInfo(t *testing.T, db *sql.DB) {
	t.Helper()
	if _, err := db.Exec("INSTALL SONAME 'metadata_lock_info'"); err != nil {
		t.Skipf("metadata_lock_info cannot be loaded here: %v", err)
	}
	t.Cleanup(func() { _, _ = db.Exec("UNINSTALL SONAME 'metadata_lock_info'") })
}

// logRecord keeps what a run logged, beside the test log.
type logRecord struct {
	t  testing.TB
	mu sync.Mutex
	b  strings.Builder
}

func recordingLogger(t testing.TB) (*slog.Logger, *logRecord) {
	rec := &logRecord{t: t}
	return slog.New(slog.NewTextHandler(rec, &slog.HandlerOptions{Level: slog.LevelInfo})), rec
}

func (l *logRecord) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	return len(p), nil
}

// lines are the logged lines holding every one of words.
func (l *logRecord) lines(words ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(line, w) }) {
			out = append(out, line)
		}
	}
	return out
}

// heldTable is a session holding a table's metadata lock, and its id.
type heldTable struct {
	conn *sql.Conn
	id   int64
}

// holdTable opens a transaction that reads table and so holds its
// metadata lock until it ends.
func holdTable(t *testing.T, db *sql.DB, table string) heldTable {
	t.Helper()
	ctx := context.Background()
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := holder.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	mustExecConn(t, holder, "BEGIN")
	mustExecConn(t, holder, "SELECT COUNT(*) FROM "+mysql.QuoteIdent(table))
	return heldTable{holder, id}
}

// blockerIDs are the ids of the sessions the status names as holding the
// cut-over up.
func blockerIDs(st control.Status) []int64 {
	var ids []int64
	for _, b := range st.CutOverBlockers {
		ids = append(ids, b.ID)
	}
	return ids
}

// TestCutOverWaitsOutBlockers holds the table in a transaction when the
// cut-over is due, under a write load, with CutOverAttemptsUnlimited: the
// cut-over retries for many more attempts than the default five, names
// the holder in the log and in the status while the applier keeps the
// shadow in step, and swaps once the transaction ends; the new table then
// equals the record of every write.
func TestCutOverWaitsOutBlockers(t *testing.T) {
	const rows = 20_000
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	needLockInfo(t, db)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	load := workload.Start(ctx, db, workload.Options{Table: "orders", Writers: 2, Rate: 100, InitialRows: rows, Seed: 12})

	held := make(chan heldTable, 1)
	cfg := testConfig(t, dbName, "orders", "ADD COLUMN refunded_at DATETIME NULL")
	var rec *logRecord
	cfg.Logger, rec = recordingLogger(t)
	cfg.CutOverAttempts = CutOverAttemptsUnlimited
	cfg.CutOverLockTimeout = time.Second
	cfg.testHooks = &testHooks{
		cutOverBackoff: 100 * time.Millisecond,
		beforeCutOver: func() {
			held <- holdTable(t, db, "orders")
			time.Sleep(1200 * time.Millisecond) // older than blockerMinAge
		},
	}
	run := startRun(t, cfg)
	h := <-held
	holder, holderID := h.conn, h.id
	st := run.waitStatus(t, "the status to name the holder", func(st control.Status) bool {
		return slices.Contains(blockerIDs(st), holderID)
	})
	t.Logf("held up: %s", st)
	if st.Phase != PhaseCutOver.String() || st.CutOverHeldUp <= 0 {
		t.Errorf("status while held up: phase %s, held up %s", st.Phase, st.CutOverHeldUp)
	}
	b := st.CutOverBlockers[slices.Index(blockerIDs(st), holderID)]
	if b.User == "" || b.Host == "" || b.Age < control.Duration(time.Second) || !strings.Contains(b.Lock, "orders") {
		t.Errorf("the status does not describe the holder: %+v", b)
	}
	if text := run.send(t, "status"); !strings.Contains(text, fmt.Sprintf("blocker: session %d (", holderID)) || !strings.Contains(text, "cut-over: held up for") {
		t.Errorf("the status block does not name the holder:\n%s", text)
	}

	// The applier keeps the shadow in step while the cut-over waits.
	before := st.EventsApplied
	time.Sleep(4 * time.Second)
	later := run.status(t)
	if later.EventsApplied <= before {
		t.Errorf("events applied went from %d to %d while the cut-over waited: the applier stopped", before, later.EventsApplied)
	}
	if later.Backlog > 100 {
		t.Errorf("backlog %d while the cut-over waited", later.Backlog)
	}
	if later.Phase != PhaseCutOver.String() {
		t.Fatalf("the migration did not wait for the holder: phase %s", later.Phase)
	}
	if st.CutOverAttempt < 1 || later.CutOverAttempt <= st.CutOverAttempt || later.CutOverAttempts != 0 {
		t.Errorf("cut-over attempts in the status: %d, then %d (of %d, want 0 for no limit)", st.CutOverAttempt, later.CutOverAttempt, later.CutOverAttempts)
	}
	if text := run.send(t, "status"); !strings.Contains(text, "cut-over: attempt ") || !strings.Contains(text, "(no limit)") {
		t.Errorf("the status block does not count the attempts:\n%s", text)
	}
	mustExecConn(t, holder, "COMMIT")
	holder.Close()
	res, err := run.wait(t)
	time.Sleep(300 * time.Millisecond) // writes into the new table
	stats := load.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Errors > 0 {
		t.Errorf("%d writes failed, last: %s", stats.Errors, stats.LastError)
	}
	t.Logf("swapped at attempt %d, writes held %s; %d events applied", res.CutOverAttempts, res.CutOverLock, res.EventsApplied)
	if res.CutOverAttempts <= 5 {
		t.Errorf("swapped at attempt %d; the test meant the holder to outlast five attempts", res.CutOverAttempts)
	}
	named := rec.lines("session holds up the cut-over", fmt.Sprintf("session_id=%d ", holderID), "user=", "host=", "age_s=", "query=")
	if len(named) < 5 {
		t.Errorf("the log named the holder %d times, want one per attempt", len(named))
	}
	if len(rec.lines("refreshed the new table's statistics")) != 1 {
		t.Error("the shadow's statistics were not refreshed once")
	}
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
	if res.CutOverKilled != 0 {
		t.Errorf("%d sessions killed without --force-cut-over-after", res.CutOverKilled)
	}
}

// TestAbortWhileCutOverHeldUp: a cut-over that waits without a limit for
// a transaction stops on the operator's abort, between attempts; the
// original is untouched and the shadow removed.
func TestAbortWhileCutOverHeldUp(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	needLockInfo(t, db)
	createTable(t, db, "t", 5_000)
	g := guardTable(t, db, dbName, "t")
	held := make(chan heldTable, 1)
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.CutOverAttempts = CutOverAttemptsUnlimited
	cfg.testHooks = &testHooks{beforeCutOver: func() {
		held <- holdTable(t, db, "t")
		time.Sleep(1200 * time.Millisecond)
	}}
	run := startRun(t, cfg)
	h := <-held
	defer func() {
		_, _ = h.conn.ExecContext(context.Background(), "ROLLBACK")
		h.conn.Close()
	}()
	holderID := h.id
	run.waitStatus(t, "the cut-over to be held up", func(st control.Status) bool { return slices.Contains(blockerIDs(st), holderID) })
	if reply := run.send(t, "abort"); !strings.Contains(reply, "aborting") {
		t.Errorf("abort replied %q", reply)
	}
	_, err := run.wait(t)
	wantKind(t, err, KindInterrupted, "aborted by the operator", "cut-over", "untouched")
	g.sameTable(t, db) // not swapped: the definition is the old one
}

// TestForceCutOverAfter holds the table in a transaction that also wrote
// elsewhere, under a write load, with ForceCutOverAfter of two seconds:
// the holder's connection is killed (its client gets an error, its write
// is rolled back), the swap goes through, and the new table equals the
// record of every write.
func TestForceCutOverAfter(t *testing.T) {
	const rows = 20_000
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	needLockInfo(t, db)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE side (id INT PRIMARY KEY)")
	load := workload.Start(ctx, db, workload.Options{Table: "orders", Writers: 2, Rate: 100, InitialRows: rows, Seed: 13})

	var holderID int64
	var holder *sql.Conn
	var heldAt time.Time
	cfg := testConfig(t, dbName, "orders", "ADD COLUMN refunded_at DATETIME NULL")
	var rec *logRecord
	cfg.Logger, rec = recordingLogger(t)
	cfg.CutOverAttempts = CutOverAttemptsUnlimited
	cfg.CutOverLockTimeout = time.Second
	cfg.ForceCutOverAfter = 2 * time.Second
	cfg.testHooks = &testHooks{beforeCutOver: func() {
		h := holdTable(t, db, "orders")
		holder, holderID = h.conn, h.id
		mustExecConn(t, holder, "INSERT INTO side VALUES (1)")
		heldAt = time.Now()
		time.Sleep(1200 * time.Millisecond)
	}}
	res, err := runMigration(ctx, t, cfg)
	time.Sleep(300 * time.Millisecond)
	stats := load.Stop()
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if stats.Errors > 0 {
		t.Errorf("%d writes failed, last: %s", stats.Errors, stats.LastError)
	}
	t.Logf("swapped at attempt %d after %s, %d killed", res.CutOverAttempts, time.Since(heldAt), res.CutOverKilled)
	if res.CutOverKilled != 1 {
		t.Errorf("%d sessions killed, want the holder alone", res.CutOverKilled)
	}
	killed := rec.lines("killed a session that held up the cut-over", fmt.Sprintf("session_id=%d ", holderID), "query=")
	if len(killed) != 1 {
		t.Errorf("the log has %d kills of the holder, want 1", len(killed))
	}
	if len(rec.lines("session holds up the cut-over", fmt.Sprintf("session_id=%d ", holderID))) == 0 {
		t.Error("the holder was never named before it was killed")
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", holderID).Scan(&n); err != nil || n != 0 {
		t.Errorf("the holder's session is still there (%d, %v)", n, err)
	}
	_, err = holder.ExecContext(ctx, "COMMIT")
	t.Logf("the holder's client got: %v", err)
	if !lostConnection(err) {
		t.Errorf("the killed holder's COMMIT returned %v, want a lost connection", err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM side").Scan(&n); err != nil || n != 0 {
		t.Errorf("the killed transaction's insert is there (%d rows, %v); it should have been rolled back", n, err)
	}
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
}

// lostConnection reports whether err is what a client whose connection
// was killed gets: the driver's invalid connection, or the server's
// 1927 (ER_CONNECTION_KILLED) or 2013 (lost connection).
func lostConnection(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, gomysql.ErrInvalidConn), errors.Is(err, driver.ErrBadConn):
		return true
	}
	n := mysql.ErrorNumber(err)
	return n == 1927 || n == 2013
}

// TestForceWithoutLockView: a server that does not show who holds a
// table's metadata lock shows nobody to kill, and a forced cut-over kills
// nobody blindly: the idle transaction survives, the attempts give up,
// and the original is untouched.
func TestForceWithoutLockView(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	var plugins int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO'").Scan(&plugins); err != nil || plugins != 0 {
		t.Skipf("the metadata_lock_info plugin is loaded (%d, %v)", plugins, err)
	}
	createTable(t, db, "t", 3_000)
	g := guardTable(t, db, dbName, "t")
	h := holdTable(t, db, "t")
	defer h.conn.Close()
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	var rec *logRecord
	cfg.Logger, rec = recordingLogger(t)
	cfg.CutOverAttempts = 3
	cfg.CutOverLockTimeout = time.Second
	cfg.ForceCutOverAfter = 500 * time.Millisecond
	cfg.testHooks = &testHooks{cutOverBackoff: 100 * time.Millisecond}
	_, err := runMigration(context.Background(), t, cfg)
	if err == nil || !strings.Contains(err.Error(), "cut-over failed 3 times") || !strings.Contains(err.Error(), "untouched") {
		t.Errorf("run = %v, want the cut-over to fail 3 times with the table untouched", err)
	}
	if len(rec.lines("cannot force the cut-over", "metadata_lock_info")) != 1 {
		t.Error("the log does not say once that there was nobody to kill, and why")
	}
	if len(rec.lines("killed a session")) != 0 {
		t.Error("a session was killed")
	}
	if _, err := h.conn.ExecContext(context.Background(), "COMMIT"); err != nil {
		t.Errorf("the holder's transaction did not survive: %v", err)
	}
	g.sameTable(t, db)
}

// sameTable checks that the guarded table has the same rows and
// definition; what a failed run leaves beside it (the shadow is removed,
// or kept for a resume) is other tests' business.
func (g guard) sameTable(t testing.TB, db *sql.DB) {
	t.Helper()
	if got := checksum(t, db, g.database, g.table); got != g.sum {
		t.Errorf("CHECKSUM TABLE %s changed: %d, was %d", g.table, got, g.sum)
	}
	if got := showCreate(t, db, g.database, g.table); got != g.def {
		t.Errorf("definition of %s changed:\n%s\nwas:\n%s", g.table, got, g.def)
	}
}

// TestShadowAnalyzedBeforeSwap: InnoDB does not recompute the statistics
// of a table made with STATS_AUTO_RECALC=0, so the shadow's persistent row
// estimate would stay what it was when the shadow was empty; the ANALYZE
// before the swap makes the new table's estimate the rows copied.
func TestShadowAnalyzedBeforeSwap(t *testing.T) {
	const rows = 30_000
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", rows)
	mustExec(t, db, "ALTER TABLE t STATS_AUTO_RECALC=0")
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	var rec *logRecord
	cfg.Logger, rec = recordingLogger(t)
	cfg.ChunkSize = 5000
	var before int64 = -1
	cfg.testHooks = &testHooks{beforeCutOver: func() {
		before = innodbRows(t, db, dbName, ShadowName("t"))
	}}
	if _, err := runMigration(context.Background(), t, cfg); err != nil {
		t.Fatal(err)
	}
	after := innodbRows(t, db, dbName, "t")
	t.Logf("the shadow's persistent row estimate: %d before the cut-over, %d after the swap (%d rows)", before, after, rows)
	if before > rows/2 {
		t.Errorf("the shadow's estimate was already %d before the cut-over: the test relies on STATS_AUTO_RECALC=0 keeping it stale, and shows nothing", before)
	}
	if math.Abs(float64(after-rows)) > rows/10 {
		t.Errorf("the new table's row estimate is %d, want about %d", after, rows)
	}
	if len(rec.lines("refreshed the new table's statistics", "rows_estimate=")) != 1 {
		t.Error("the log does not say the statistics were refreshed")
	}
}

// innodbRows is the table's row estimate in InnoDB's persistent
// statistics.
func innodbRows(t *testing.T, db *sql.DB, database, table string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow("SELECT n_rows FROM mysql.innodb_table_stats WHERE database_name = ? AND table_name = ?", database, table).Scan(&n); err != nil {
		t.Fatalf("read the persistent statistics of %s: %v", table, err)
	}
	return n
}

// TestOwnSessionsRecorded: every connection of the run's pool is known,
// and never killed, however it looks; another pool's connection is not.
func TestOwnSessionsRecorded(t *testing.T) {
	_, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	r := &Runner{}
	db, err := mysql.OpenRecording(ctx, sbx.Conn(dbName), &r.own)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := mysql.Open(ctx, sbx.Conn(dbName))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var conns []*sql.Conn
	for range 3 {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var id int64
		if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		s := preflight.Session{ID: id, User: "app", Host: "localhost", Command: "Sleep"}
		if why := r.spared(s); !r.own.Contains(id) || why == "" {
			t.Errorf("connection %d of the pool: recorded %v, spared %q", id, r.own.Contains(id), why)
		}
	}
	var id int64
	if err := other.QueryRow("SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if r.own.Contains(id) {
		t.Errorf("connection %d of another pool is recorded", id)
	}
	for _, c := range conns {
		c.Close()
	}
}

// TestSpared: the sessions a forced cut-over must never kill, beside
// tailor's own.
func TestSpared(t *testing.T) {
	t.Parallel()
	r := &Runner{}
	cases := []struct {
		s     preflight.Session
		spare bool
	}{
		{preflight.Session{ID: 1, User: "app", Host: "10.0.0.7:5123", Command: "Sleep"}, false},
		{preflight.Session{ID: 2, User: "app", Host: "10.0.0.7:5124", Command: "Query"}, false},
		{preflight.Session{ID: 3}, true}, // not visible without PROCESS
		{preflight.Session{ID: 4, User: "system user", Command: "Slave_SQL"}, true},
		{preflight.Session{ID: 5, User: "repl", Host: "10.0.0.9:40000", Command: "Binlog Dump GTID"}, true},
		{preflight.Session{ID: 6, User: "repl", Host: "10.0.0.9:40001", Command: "Binlog Dump"}, true},
		{preflight.Session{ID: 7, User: "event_scheduler", Host: "localhost", Command: "Daemon"}, true},
		{preflight.Session{ID: 8, User: "repl", Host: "r1", Command: "Slave_worker"}, true},
	}
	for _, c := range cases {
		if got := r.spared(c.s); (got != "") != c.spare {
			t.Errorf("spared(%+v) = %q, want spared %v", c.s, got, c.spare)
		}
	}
}

// TestAnalyzeOutcome reads ANALYZE TABLE's reports as MariaDB 10.11 and
// MySQL 8.0 write them: a failure is a row, not an error.
func TestAnalyzeOutcome(t *testing.T) {
	t.Parallel()
	row := func(typ, text string) []string { return []string{"d.t_tailor_new", "analyze", typ, text} }
	cases := []struct {
		name string
		rows [][]string
		ok   bool
	}{
		{"ok", [][]string{row("status", "OK")}, true},
		{"engine-independent statistics", [][]string{row("status", "Engine-independent statistics collected"), row("status", "OK")}, true},
		{"up to date", [][]string{row("status", "Table is already up to date")}, true},
		{"note and ok", [][]string{row("note", "something"), row("status", "OK")}, true},
		{"lock wait", [][]string{row("Error", "Lock wait timeout exceeded; try restarting transaction"), row("status", "Operation failed")}, false},
		{"nothing", nil, false},
	}
	for _, c := range cases {
		if err := analyzeOutcome(c.rows); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok %v", c.name, err, c.ok)
		}
	}
}

// TestBlockerListMerges: a session holding both the table and the shadow
// is one blocker, with both locks.
func TestBlockerListMerges(t *testing.T) {
	t.Parallel()
	var b blockerList
	b.add([]preflight.Session{{ID: 1, User: "app", Lock: "holds SHARED_READ on `d`.`t`"}, {ID: 2, User: "app", Lock: "holds SHARED_WRITE on `d`.`t`"}})
	b.add([]preflight.Session{{ID: 1, User: "app", Lock: "holds SHARED_READ on `d`.`t_tailor_new`"}})
	if len(b.sessions) != 2 {
		t.Fatalf("%d blockers, want 2: %+v", len(b.sessions), b.sessions)
	}
	if got, want := b.sessions[0].Lock, "holds SHARED_READ on `d`.`t`, holds SHARED_READ on `d`.`t_tailor_new`"; got != want {
		t.Errorf("lock = %q, want %q", got, want)
	}
	if !strings.Contains(b.String(), "session 1 ") || !strings.Contains(b.String(), "; session 2 ") {
		t.Errorf("String() = %q", b.String())
	}
}

// TestAnalyzeBounded: a session write-locking the shadow keeps ANALYZE
// TABLE from its lock (a transaction that only read the shadow does not:
// MariaDB 10.11's ANALYZE TABLE shares the lock with readers); the refresh
// gives up after its short lock wait with a warning, and the cut-over goes
// on, waiting for the holder, then swapping.
func TestAnalyzeBounded(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	needLockInfo(t, db)
	createTable(t, db, "t", 3_000)
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	var rec *logRecord
	cfg.Logger, rec = recordingLogger(t)
	cfg.CutOverLockTimeout = time.Second
	cfg.testHooks = &testHooks{cutOverBackoff: 200 * time.Millisecond, beforeCutOver: func() {
		holder, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		mustExecConn(t, holder, "LOCK TABLES "+mysql.QuoteIdent(ShadowName("t"))+" WRITE")
		time.AfterFunc(4*time.Second, func() {
			_, _ = holder.ExecContext(context.Background(), "UNLOCK TABLES")
			holder.Close()
		})
	}}
	started := time.Now()
	res, err := runMigration(context.Background(), t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("swapped at attempt %d after %s", res.CutOverAttempts, time.Since(started))
	if len(rec.lines("could not refresh the new table's statistics", "Lock wait timeout")) != 1 {
		t.Error("the log does not say once that the refresh gave up on the shadow's lock")
	}
	if len(rec.lines("session holds up the cut-over", "t_tailor_new")) == 0 {
		t.Error("the holder of the shadow was not named")
	}
}
