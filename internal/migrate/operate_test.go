package migrate

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/workload"
)

// running is a migration started in the background, watched through its
// control socket.
type running struct {
	runner *Runner
	socket string
	done   chan struct{}
	res    *Result
	err    error
}

func startRun(t *testing.T, cfg Config) *running {
	t.Helper()
	if cfg.ControlSocket == "" {
		cfg.ControlSocket = filepath.Join(t.TempDir(), "ctl.sock")
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run := &running{runner: r, socket: cfg.ControlSocket, done: make(chan struct{})}
	go func() {
		defer close(run.done)
		run.res, run.err = r.Run(context.Background())
	}()
	t.Cleanup(func() {
		select {
		case <-run.done:
		case <-time.After(2 * time.Minute):
			t.Error("the migration did not end")
		}
	})
	return run
}

func (run *running) wait(t *testing.T) (*Result, error) {
	t.Helper()
	select {
	case <-run.done:
	case <-time.After(3 * time.Minute):
		t.Fatal("the migration did not end within 3 minutes")
	}
	return run.res, run.err
}

// send sends a control command; the socket appears once the copy starts.
func (run *running) send(t *testing.T, line string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		reply, err := control.Send(ctx, run.socket, line)
		cancel()
		if err == nil {
			return reply
		}
		select {
		case <-run.done:
			t.Fatalf("the migration ended before %q was sent: %v", line, run.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", line, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (run *running) status(t *testing.T) control.Status {
	t.Helper()
	var st control.Status
	if err := json.Unmarshal([]byte(run.send(t, "status json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitStatus polls the status until ok says so.
func (run *running) waitStatus(t *testing.T, what string, ok func(control.Status) bool) control.Status {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		st := run.status(t)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 90s for %s; status: %+v", what, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func compareWithControl(t *testing.T, db *sql.DB, table string) {
	t.Helper()
	diff, err := workload.Compare(context.Background(), db, table, workload.SameColumns(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !diff.Equal() {
		t.Fatalf("migrated table differs from the control record: %s", diff)
	}
}

// TestReplicaLagThrottlesCopy runs a migration beside a real replica
// whose SQL thread is stopped halfway through the copy: the copy must stop
// copying and say why, resume once replication runs again, and end with
// the migrated table equal to the record of every write.
func TestReplicaLagThrottlesCopy(t *testing.T) {
	sandbox.Need(t, sbx)
	ctx := context.Background()
	replica, err := sandbox.StartReplica(ctx, sbx, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	if err := workload.Create(ctx, db, "orders", 30_000); err != nil {
		t.Fatal(err)
	}
	if err := replica.SyncWith(ctx, sbx); err != nil {
		t.Fatal(err)
	}
	rdb, err := replica.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	load := workload.Start(ctx, db, workload.Options{Table: "orders", Writers: 2, Rate: 100, InitialRows: 30_000, Seed: 3})

	cfg := testConfig(t, dbName, "orders", "ADD COLUMN refunded_at DATETIME NULL")
	cfg.Throttle.MaxLag = 500 * time.Millisecond
	cfg.testHooks = &testHooks{afterChunk: func(seq int) {
		if seq == 10 {
			mustExec(t, rdb, "STOP SLAVE SQL_THREAD")
		}
		time.Sleep(5 * time.Millisecond)
	}}
	run := startRun(t, cfg)
	st := run.waitStatus(t, "the copy to be throttled by the replica", func(st control.Status) bool {
		// Not the short "no heartbeat yet" of the start: the stopped thread.
		return st.Throttled && slices.ContainsFunc(st.ThrottleReasons, func(r string) bool {
			return strings.Contains(r, "replica") && (strings.Contains(r, "replication stopped") || strings.Contains(r, " lag "))
		})
	})
	t.Logf("throttled at %d rows: %q", st.RowsCopied, st.ThrottleReasons)
	time.Sleep(2 * time.Second)
	if later := run.status(t); later.RowsCopied > st.RowsCopied+int64(cfg.ChunkSize) {
		t.Errorf("rows copied went from %d to %d while the replica was stopped", st.RowsCopied, later.RowsCopied)
	}
	mustExec(t, rdb, "START SLAVE")
	res, err := run.wait(t)
	stats := load.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Errors > 0 {
		t.Errorf("%d writes failed: %s", stats.Errors, stats.LastError)
	}
	t.Logf("copied %d rows, applied %d events", res.RowsCopied, res.EventsApplied)
	compareWithControl(t, db, "orders")
	noLeftovers(t, db, dbName, []string{"orders", "orders_control", "orders_tailor_old", "orders_tailor_state"})
}

// holdConnections opens n sessions and keeps them open until the test ends.
func holdConnections(t *testing.T, db *sql.DB, n int) []*sql.Conn {
	t.Helper()
	var conns []*sql.Conn
	for range n {
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.PingContext(context.Background()); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() { releaseConnections(conns) })
	return conns
}

func releaseConnections(conns []*sql.Conn) {
	for _, c := range conns {
		_ = c.Raw(func(any) error { return sql.ErrConnDone }) // drop it, do not pool it
		c.Close()
	}
}

func threadsConnected(t *testing.T, db *sql.DB) int {
	t.Helper()
	var name string
	var n int
	if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Threads_connected'").Scan(&name, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMaxLoadThrottles crosses --max-load during the copy by opening
// sessions: the copy waits, says why, and goes on once they close.
func TestMaxLoadThrottles(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(40)
	createTable(t, db, "t", 20_000)
	limit := threadsConnected(t, db) + 15
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.Throttle.MaxLoad = fmt.Sprintf("Threads_connected=%d", limit)
	held := make(chan []*sql.Conn, 1)
	cfg.testHooks = &testHooks{afterChunk: func(seq int) {
		if seq == 5 {
			held <- holdConnections(t, db, 25)
			time.Sleep(time.Second) // the next check sees them
		}
	}}
	run := startRun(t, cfg)
	st := run.waitStatus(t, "max-load to throttle", func(st control.Status) bool {
		return st.Throttled && slices.ContainsFunc(st.ThrottleReasons, func(r string) bool { return strings.Contains(r, "max-load Threads_connected") })
	})
	t.Logf("throttled: %q", st.ThrottleReasons)
	releaseConnections(<-held)
	if _, err := run.wait(t); err != nil {
		t.Fatal(err)
	}
}

// TestCriticalLoadAborts crosses --critical-load: the migration stops,
// the original is untouched, and nothing is left behind.
func TestCriticalLoadAborts(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(40)
	createTable(t, db, "t", 20_000)
	g := guardTable(t, db, dbName, "t")
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.Throttle.CriticalLoad = fmt.Sprintf("Threads_connected=%d", threadsConnected(t, db)+15)
	cfg.testHooks = &testHooks{afterChunk: func(seq int) {
		if seq == 3 {
			holdConnections(t, db, 25)
			time.Sleep(time.Second) // the next check sees them
		}
	}}
	_, err := runMigration(context.Background(), t, cfg)
	// A load that passes: the copy is kept for --resume.
	wantKind(t, err, KindResumable, "critical", "Threads_connected", "--resume")
	g.untouchedKept(t, db)
}

// TestPostponedCutOver holds the cut-over while the flag file exists; the
// writes made meanwhile reach the new table. Removing the file swaps; so
// does the cut-over command in a second run.
func TestPostponedCutOver(t *testing.T) {
	for _, release := range []string{"remove the flag file", "cut-over command"} {
		t.Run(release, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			createTable(t, db, "t", 5_000)
			flag := filepath.Join(t.TempDir(), "postpone")
			if err := os.WriteFile(flag, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
			cfg.PostponeCutOverFlagFile = flag
			run := startRun(t, cfg)
			run.waitStatus(t, "the cut-over to be postponed", func(st control.Status) bool { return st.CutOverPostponed })
			for i := range 50 {
				mustExec(t, db, "INSERT INTO t (id, name, n) VALUES (?, 'while postponed', ?)", 900_000+i, i)
			}
			mustExec(t, db, "UPDATE t SET name = 'changed while postponed' WHERE id = 7")
			time.Sleep(time.Second)
			if st := run.status(t); !st.CutOverPostponed || st.Phase == PhaseDone.String() {
				t.Fatalf("the migration did not wait: %+v", st)
			}
			if release == "cut-over command" {
				if reply := run.send(t, "cut-over"); !strings.Contains(reply, "released") {
					t.Errorf("cut-over replied %q", reply)
				}
			} else if err := os.Remove(flag); err != nil {
				t.Fatal(err)
			}
			if _, err := run.wait(t); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM t WHERE name = 'while postponed' AND x IS NULL").Scan(&n); err != nil || n != 50 {
				t.Errorf("rows written while postponed in the new table: %d, %v", n, err)
			}
			var name string
			if err := db.QueryRow("SELECT name FROM t WHERE id = 7").Scan(&name); err != nil || name != "changed while postponed" {
				t.Errorf("row 7 = %q, %v", name, err)
			}
		})
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestControlCommands drives a running migration through every command,
// over the socket and over HTTP, and checks that the status reports each
// change; the metrics are served too.
func TestControlCommands(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 5_000)
	flag := filepath.Join(t.TempDir(), "postpone")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.PostponeCutOverFlagFile = flag
	cfg.HTTPAddr = freeLoopbackAddr(t)
	run := startRun(t, cfg)
	run.waitStatus(t, "the cut-over to be postponed", func(st control.Status) bool { return st.CutOverPostponed })

	run.send(t, "pause")
	if st := run.status(t); !st.Paused || !st.Throttled || !slices.Contains(st.ThrottleReasons, "paused by the operator") {
		t.Errorf("after pause: paused %v, throttled %v %q", st.Paused, st.Throttled, st.ThrottleReasons)
	}
	run.send(t, "resume")
	run.waitStatus(t, "resume", func(st control.Status) bool { return !st.Paused && !st.Throttled })
	run.send(t, "chunk-size=123")
	run.send(t, "max-lag-millis=999")
	run.send(t, "max-load=Threads_running=1000")
	st := run.status(t)
	if st.ChunkSize != 123 || st.MaxLagMillis != 999 || st.MaxLoad != "Threads_running=1000" {
		t.Errorf("status after the settings: chunk %d, max lag %d, max load %q", st.ChunkSize, st.MaxLagMillis, st.MaxLoad)
	}
	if _, err := control.Send(context.Background(), run.socket, "max-load=Nonsense_variable=3"); err == nil {
		t.Error("a max-load on an unknown status variable was accepted")
	}

	base := "http://" + cfg.HTTPAddr
	resp, err := http.Post(base+"/command?cmd=chunk-size%3D77", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(base + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var hst control.Status
	if err := json.NewDecoder(resp.Body).Decode(&hst); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hst.ChunkSize != 77 || hst.Table != "t" || hst.RowsCopied != 5_000 {
		t.Errorf("HTTP status: %+v", hst)
	}
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"tailor_rows_copied_total 5000", "tailor_cutover_postponed 1", "tailor_chunk_duration_seconds_bucket"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}

	run.send(t, "cut-over")
	res, err := run.wait(t)
	if err != nil {
		t.Fatal(err)
	}
	if res.CutOverAttempts < 1 {
		t.Errorf("result: %+v", res)
	}
	if _, err := os.Stat(run.socket); !os.IsNotExist(err) {
		t.Errorf("the control socket is still there: %v", err)
	}
}

// TestAbortCommand aborts a running migration: the original is untouched
// and the shadow, heartbeat and socket are gone.
func TestAbortCommand(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 20_000)
	g := guardTable(t, db, dbName, "t")
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.testHooks = &testHooks{afterChunk: func(int) { time.Sleep(20 * time.Millisecond) }}
	run := startRun(t, cfg)
	run.waitStatus(t, "the copy to start", func(st control.Status) bool { return st.RowsCopied > 0 })
	if reply := run.send(t, "abort"); !strings.Contains(reply, "aborting") {
		t.Errorf("abort replied %q", reply)
	}
	_, err := run.wait(t)
	wantKind(t, err, KindInterrupted, "aborted by the operator")
	g.untouched(t, db)
	noLeftovers(t, db, dbName, []string{"t"})
}

// TestHooksRunInOrder runs a migration with a hook for every event that
// records its event and variables, then one whose gate hook before the
// cut-over fails: that migration stops cleanly, and on-failure runs.
func TestHooksRunInOrder(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 3_000)
	dir := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "hooks.log")
	script := "#!/bin/sh\necho \"$TAILOR_HOOK $TAILOR_DATABASE.$TAILOR_TABLE rows=$TAILOR_COPIED_ROWS shadow=$TAILOR_SHADOW_TABLE\" >> " + logFile + "\n"
	for _, event := range []string{"on-startup", "on-validated", "on-rowcount-complete", "on-before-row-copy", "on-row-copy-complete", "on-before-cut-over", "on-success", "on-failure"} {
		if err := os.WriteFile(filepath.Join(dir, event), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.HooksPath = dir
	if _, err := runMigration(context.Background(), t, cfg); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, line := range strings.Split(strings.TrimSpace(string(got)), "\n") {
		events = append(events, strings.Fields(line)[0])
		if !strings.Contains(line, dbName+".t") || !strings.Contains(line, "shadow=t_tailor_new") {
			t.Errorf("hook line lacks the facts: %q", line)
		}
	}
	want := []string{"on-startup", "on-validated", "on-rowcount-complete", "on-before-row-copy", "on-row-copy-complete", "on-before-cut-over", "on-success"}
	if !slices.Equal(events, want) {
		t.Errorf("hooks ran as %q, want %q", events, want)
	}
	if !strings.Contains(string(got), "on-success "+dbName+".t rows=3000") {
		t.Errorf("on-success did not see the copied rows:\n%s", got)
	}

	// A gate that says no.
	mustExec(t, db, "DROP TABLE t_tailor_old")
	g := guardTable(t, db, dbName, "t")
	if err := os.WriteFile(filepath.Join(dir, "on-before-cut-over"), []byte("#!/bin/sh\necho 'not now: the maintenance window is closed'\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(logFile)
	cfg = testConfig(t, dbName, "t", "ADD COLUMN y INT NULL")
	cfg.HooksPath = dir
	_, err = runMigration(context.Background(), t, cfg)
	// A hook that says "not now" keeps the verified copy for --resume.
	wantKind(t, err, KindResumable, "on-before-cut-over", "not now", "--resume")
	g.untouchedKept(t, db)
	got, _ = os.ReadFile(logFile)
	if !strings.Contains(string(got), "on-failure") {
		t.Errorf("on-failure did not run:\n%s", got)
	}
}

// TestPausedCutOverWaits: a cut-over released while the operator has
// paused the migration waits for resume, as gh-ost's does for throttling.
func TestPausedCutOverWaits(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 3_000)
	flag := filepath.Join(t.TempDir(), "postpone")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.PostponeCutOverFlagFile = flag
	run := startRun(t, cfg)
	run.waitStatus(t, "the cut-over to be postponed", func(st control.Status) bool { return st.CutOverPostponed })
	run.send(t, "pause")
	run.send(t, "cut-over")
	time.Sleep(1500 * time.Millisecond)
	select {
	case <-run.done:
		t.Fatalf("the cut-over ran while paused: %v", run.err)
	default:
	}
	if st := run.status(t); st.Phase != PhaseCutOver.String() || !st.Paused {
		t.Errorf("while paused: phase %s, paused %v", st.Phase, st.Paused)
	}
	run.send(t, "resume")
	if _, err := run.wait(t); err != nil {
		t.Fatal(err)
	}
	if def := showCreate(t, db, dbName, "t"); !strings.Contains(def, "`x` int") {
		t.Errorf("not swapped:\n%s", def)
	}
}

// TestCopyWaitsForTheRedoLog: while the server's redo log reads fuller
// than --max-redo-fill and another session writes, no chunk is copied and
// the status says why; once it reads emptier, the copy goes on and the
// table is migrated whole.
func TestCopyWaitsForTheRedoLog(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 5000)
	writeElsewhere(t, db)
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	var full atomic.Bool
	full.Store(true)
	var readings atomic.Int64
	cfg.testHooks = &testHooks{
		redoFill: func(context.Context) (float64, error) {
			readings.Add(1)
			if full.Load() {
				return 0.99, nil
			}
			return 0.5, nil
		},
		afterChunk: func(int) { time.Sleep(5 * time.Millisecond) },
	}
	run := startRun(t, cfg)
	st := run.waitStatus(t, "the copy to wait for the redo log", func(st control.Status) bool {
		return st.Throttled && slices.ContainsFunc(st.ThrottleReasons, func(r string) bool { return strings.Contains(r, "redo log") })
	})
	t.Logf("waiting at %d rows: %q", st.RowsCopied, st.ThrottleReasons)
	if st.RowsCopied != 0 {
		t.Errorf("%d rows copied while the redo log read 99%% full", st.RowsCopied)
	}
	full.Store(false)
	res, err := run.wait(t)
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsCopied != 5000 || readings.Load() < 2 {
		t.Errorf("copied %d rows after %d readings of the redo log", res.RowsCopied, readings.Load())
	}
}

// TestIdleCopyDoesNotWaitForTheRedoLog: with no other session writing,
// a redo log that reads fuller than --max-redo-fill holds no chunk back
// (the wait protects other sessions' writes, and there are none). The log
// reads full from 3 s after the first chunk on: the reader knows nothing of
// the writes before it started, and says so for its first 2 s. Not
// parallel: the binary log is the server's, and other tests' writes count.
func TestIdleCopyDoesNotWaitForTheRedoLog(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 5000)
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.ChunkSize = 100
	logger, rec := recordingLogger(t)
	cfg.Logger = logger
	var fullFrom atomic.Int64 // Unix nanoseconds
	full := func() bool { f := fullFrom.Load(); return f != 0 && time.Now().UnixNano() >= f }
	var chunksWhileFull atomic.Int64
	cfg.testHooks = &testHooks{
		redoFill: func(context.Context) (float64, error) {
			fullFrom.CompareAndSwap(0, time.Now().Add(3*time.Second).UnixNano())
			if full() {
				return 0.99, nil
			}
			return 0.5, nil
		},
		// 50 chunks of 100 ms or more: 2 s or more of them while full.
		afterChunk: func(int) {
			time.Sleep(100 * time.Millisecond)
			if full() {
				chunksWhileFull.Add(1)
			}
		},
	}
	res, err := runMigration(context.Background(), t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsCopied != 5000 {
		t.Errorf("copied %d rows, want 5000", res.RowsCopied)
	}
	if n := chunksWhileFull.Load(); n < 5 {
		t.Fatalf("%d chunks copied while the redo log read full, want 5 or more for the test to say anything", n)
	}
	if gone := rec.lines("stays fuller than --max-redo-fill"); len(gone) > 0 {
		t.Errorf("chunks waited out the redo log's limit with nobody else writing:\n%s", strings.Join(gone, "\n"))
	}
	if said := rec.lines("no other session writes: writes do not wait"); len(said) != 1 {
		t.Errorf("the log said %d times that the chunks do not wait, want once", len(said))
	}
}
