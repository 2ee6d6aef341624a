package backfill

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// dualWriter is an application that already writes the new column: it
// updates full_name and display_name together, inserts rows with both,
// and deletes rows, recording each write in users_control in the same
// transaction.
type dualWriter struct {
	db     *sql.DB
	stop   chan struct{}
	wg     sync.WaitGroup
	writes atomic.Int64
	errs   atomic.Int64
	last   atomic.Value
	maxID  int64
}

func startDualWriter(t *testing.T, db *sql.DB, writers int, maxID int64) *dualWriter {
	mustExec(t, db, "CREATE TABLE users_control (id BIGINT PRIMARY KEY, name VARCHAR(100) NULL, deleted BOOL NOT NULL DEFAULT FALSE)")
	w := &dualWriter{db: db, stop: make(chan struct{}), maxID: maxID}
	for i := range writers {
		w.wg.Add(1)
		go w.run(uint64(i))
	}
	return w
}

func (w *dualWriter) run(seed uint64) {
	defer w.wg.Done()
	rng := rand.New(rand.NewPCG(seed, 7))
	for n := 0; ; n++ {
		select {
		case <-w.stop:
			return
		default:
		}
		if err := w.write(rng, seed, n); err != nil {
			w.errs.Add(1)
			w.last.Store(err.Error())
		} else {
			w.writes.Add(1)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (w *dualWriter) write(rng *rand.Rand, seed uint64, n int) error {
	ctx := context.Background()
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	name := fmt.Sprintf("app %d-%d", seed, n)
	switch op := rng.IntN(10); {
	case op < 6: // the application renames a user, writing both columns
		id := 1 + rng.Int64N(w.maxID)
		res, err := tx.Exec("UPDATE users SET full_name = ?, display_name = ? WHERE id = ?", name, name, id)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 1 {
			if _, err := tx.Exec("REPLACE INTO users_control (id, name) VALUES (?, ?)", id, name); err != nil {
				return err
			}
		}
	case op < 9: // a new user, written the new way
		res, err := tx.Exec("INSERT INTO users (full_name, display_name) VALUES (?, ?)", name, name)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		if _, err := tx.Exec("REPLACE INTO users_control (id, name) VALUES (?, ?)", id, name); err != nil {
			return err
		}
	default:
		id := 1 + rng.Int64N(w.maxID)
		if _, err := tx.Exec("DELETE FROM users WHERE id = ?", id); err != nil {
			return err
		}
		if _, err := tx.Exec("REPLACE INTO users_control (id, deleted) VALUES (?, TRUE)", id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (w *dualWriter) halt(t *testing.T) {
	close(w.stop)
	w.wg.Wait()
	if n := w.errs.Load(); n > 0 {
		t.Errorf("%d application writes failed, the last: %v", n, w.last.Load())
	}
	t.Logf("the application made %d writes", w.writes.Load())
}

// TestBackfillUnderDualWrite backfills 100,000 rows while an application
// writes the new column itself: afterwards every row has display_name =
// full_name, the rows the application wrote hold its last values (the
// backfill never put an older value over them), and deleted rows stay
// deleted.
func TestBackfillUnderDualWrite(t *testing.T) {
	sandbox.Need(t, sbx)
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	const rows = 100_000
	fillUsers(t, db, rows)
	app := startDualWriter(t, db, 4, rows)
	time.Sleep(200 * time.Millisecond)

	// Small fixed batches: many of them, each racing the application.
	cfg := testConfig(t, dbName, "users", "display_name = full_name", "display_name IS NULL")
	cfg.ChunkSize = 300
	res, err := runBackfill(context.Background(), t, cfg)
	app.halt(t)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("changed %d rows in %d batches in %s; %d still match", res.RowsChanged, res.Batches, res.Elapsed, res.StillMatching)
	if res.StillMatching != 0 {
		t.Errorf("%d rows still match --where after the backfill", res.StillMatching)
	}
	if n := queryInt(t, db, "SELECT COUNT(*) FROM users WHERE display_name IS NULL OR display_name <> full_name"); n != 0 {
		t.Errorf("%d rows have display_name unset or not full_name", n)
	}
	if n := queryInt(t, db, "SELECT COUNT(*) FROM users u JOIN users_control c USING (id) WHERE c.deleted OR NOT (u.full_name <=> c.name AND u.display_name <=> c.name)"); n != 0 {
		t.Errorf("%d rows differ from the application's last write", n)
	}
	if n := queryInt(t, db, "SELECT COUNT(*) FROM users_control c LEFT JOIN users u USING (id) WHERE NOT c.deleted AND u.id IS NULL"); n != 0 {
		t.Errorf("%d rows the application wrote are missing", n)
	}
	written := queryInt(t, db, "SELECT COUNT(*) FROM users_control WHERE id <= ? AND NOT deleted", rows)
	deleted := queryInt(t, db, "SELECT COUNT(*) FROM users_control WHERE id <= ? AND deleted", rows)
	if res.RowsChanged > rows-written-deleted+written || res.RowsChanged < rows-written-deleted-written {
		t.Errorf("changed %d rows; %d rows were NULL less %d written and %d deleted by the application", res.RowsChanged, rows, written, deleted)
	}
	var status string
	if err := db.QueryRow("SELECT status FROM " + StateTable).Scan(&status); err != nil || status != statusDone {
		t.Errorf("saved status %q (%v), want done", status, err)
	}
	// A rerun says it is finished and changes nothing.
	before := tableChecksum(t, db, "users")
	again, err := runBackfill(context.Background(), t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Done || tableChecksum(t, db, "users") != before {
		t.Errorf("a rerun of a finished backfill: done=%v, table changed=%v", again.Done, tableChecksum(t, db, "users") != before)
	}
	// The heartbeat table is gone; the state table stays.
	for _, name := range sandbox.Tables(t, db, dbName) {
		if name != "users" && name != "users_control" && name != StateTable {
			t.Errorf("left behind: %s", name)
		}
	}
}

// TestBackfillCompositeKeyOnce walks a composite key of strings with
// empty strings, NUL bytes and multibyte text, with a change that is not
// idempotent (n = n + 1) and stops it after a few batches by a killed
// connection inside the batch, then by Ctrl-C: every row is changed
// exactly once.
func TestBackfillCompositeKeyOnce(t *testing.T) {
	sandbox.Need(t, sbx)
	db, dbName := sbx.NewDatabase(t)
	mustExec(t, db, "CREATE TABLE kv (k VARBINARY(20) NOT NULL, seq INT NOT NULL, n INT NOT NULL DEFAULT 0, note VARCHAR(20) NULL, PRIMARY KEY (k, seq))")
	keys := []string{"", "\x00", "\x00\x00", "a", "a\x00b", "é", "日本", "zz"}
	total := 0
	for _, k := range keys {
		for seq := range 400 {
			mustExec(t, db, "INSERT INTO kv (k, seq, note) VALUES (?, ?, IF(? % 3 = 0, NULL, ''))", k, seq, seq)
			total++
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(t, dbName, "kv", "n = n + 1", "")
	cfg.ChunkSize = 97
	killed := false
	cfg.testBeforeCommit = func(batch int64) {
		switch batch {
		case 3:
			if !killed {
				// The batch's own connection dies before its commit: it
				// is retried, and not counted twice.
				killed = true
				killOwnTransaction(t, db, dbName)
			}
		case 9:
			cancel()
		}
	}
	_, err := runBackfill(ctx, t, cfg)
	wantKind(t, err, migrate.KindInterrupted, "--resume")
	if n := queryInt(t, db, "SELECT COUNT(*) FROM kv WHERE n > 1"); n != 0 {
		t.Fatalf("%d rows changed twice", n)
	}
	changed := queryInt(t, db, "SELECT COUNT(*) FROM kv WHERE n = 1")
	if changed == 0 || changed == int64(total) {
		t.Fatalf("%d of %d rows changed before the interrupt", changed, total)
	}
	// A run without --resume refuses, naming the choices.
	cfg.testBeforeCommit = nil
	_, err = runBackfill(context.Background(), t, cfg)
	wantKind(t, err, migrate.KindInvalid, "--resume", "--restart")

	cfg.Resume = true
	res, err := runBackfill(context.Background(), t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.RowsChanged+res.RowsChangedBefore != int64(total) {
		t.Errorf("resumed=%v, changed %d + %d before, want %d", res.Resumed, res.RowsChanged, res.RowsChangedBefore, total)
	}
	if n := queryInt(t, db, "SELECT COUNT(*) FROM kv WHERE n <> 1"); n != 0 {
		t.Errorf("%d rows not changed exactly once", n)
	}
}

// killOwnTransaction kills the session that holds an open transaction with
// row locks on kv (the backfill's batch), from another session.
func killOwnTransaction(t *testing.T, db *sql.DB, dbName string) {
	t.Helper()
	var id int64
	err := db.QueryRow(`SELECT p.ID FROM information_schema.PROCESSLIST p JOIN information_schema.INNODB_TRX x ON x.trx_mysql_thread_id = p.ID
		WHERE p.DB = ? AND x.trx_rows_modified > 0 ORDER BY x.trx_started LIMIT 1`, dbName).Scan(&id)
	if err != nil {
		t.Fatalf("find the batch's session: %v", err)
	}
	mustExec(t, db, fmt.Sprintf("KILL CONNECTION %d", id))
}

// TestBackfillRefusesBadInput: each mistake is one sentence and changes
// nothing, not even a state table.
func TestBackfillRefusesBadInput(t *testing.T) {
	sandbox.Need(t, sbx)
	db, dbName := sbx.NewDatabase(t)
	fillUsers(t, db, 3000)
	mustExec(t, db, "UPDATE users SET nick = 'ok'")
	mustExec(t, db, "CREATE TABLE nokey (a INT NULL, b INT NULL)")
	mustExec(t, db, "INSERT INTO nokey VALUES (1, 2)")
	mustExec(t, db, "UPDATE users SET full_name = REPEAT('x', 40) WHERE id = 2900")
	cases := []struct {
		name, table, set, where string
		want                    []string
	}{
		{"unknown column", "users", "nickname = full_name", "", []string{"`nickname`"}},
		{"unparsable expression", "users", "display_name = CONCAT(full_name", "", []string{"does not parse"}},
		{"no usable key", "nokey", "a = b", "", []string{"no PRIMARY KEY"}},
		{"where matches nothing", "users", "display_name = full_name", "n > 100", []string{"no row", "matches --where"}},
		{"not null fed null", "users", "full_name = display_name", "", []string{"id = (1)", "full_name"}},
		{"a value too long", "users", "nick = CONCAT(full_name, full_name)", "", []string{"id = (1)", "nick"}},
		{"too long at the far end only", "users", "nick = full_name", "id > 10 AND LENGTH(full_name) > 20", []string{"id = (2900)"}},
		{"missing table", "ghost", "n = 1", "", []string{"does not exist"}},
	}
	before := tableChecksum(t, db, "users")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t, dbName, c.table, c.set, c.where)
			_, err := runBackfill(context.Background(), t, cfg)
			wantKind(t, err, migrate.KindInvalid, c.want...)
			if err != nil && strings.Contains(strings.TrimSuffix(err.Error(), "."), "\n") {
				t.Errorf("the error is not one line: %q", err)
			}
			t.Log(err)
		})
	}
	if tableChecksum(t, db, "users") != before {
		t.Error("a refused backfill changed the table")
	}
	for _, name := range sandbox.Tables(t, db, dbName) {
		if name != "users" && name != "nokey" {
			t.Errorf("left behind: %s", name)
		}
	}
}

// TestBackfillStopsOnARowThatWarns: a row that turns bad after the sample
// stops the run at its batch, naming its key; the batches before it stay
// done, nothing of its batch is written, and after the row is fixed
// --resume finishes.
func TestBackfillStopsOnARowThatWarns(t *testing.T) {
	sandbox.Need(t, sbx)
	db, dbName := sbx.NewDatabase(t)
	fillUsers(t, db, 5000)
	cfg := testConfig(t, dbName, "users", "nick = full_name", "nick IS NULL")
	cfg.testAfterSampleRolledBack = func() {
		mustExec(t, db, "UPDATE users SET full_name = 'a name far too long' WHERE id = 2345")
	}
	_, err := runBackfill(context.Background(), t, cfg)
	wantKind(t, err, migrate.KindResumable, "id = (2345)", "--resume")
	var rowErr *RowError
	if !errors.As(err, &rowErr) {
		t.Errorf("not a RowError: %v", err)
	}
	done := queryInt(t, db, "SELECT COUNT(*) FROM users WHERE nick IS NOT NULL")
	if done == 0 || done >= 2345 || queryInt(t, db, "SELECT COUNT(*) FROM users WHERE id >= 2345 AND nick IS NOT NULL") != 0 {
		t.Errorf("%d rows changed, some at or past the bad row's batch", done)
	}
	mustExec(t, db, "UPDATE users SET full_name = 'fixed' WHERE id = 2345")
	cfg.testAfterSampleRolledBack = nil
	cfg.Resume = true
	res, err := runBackfill(context.Background(), t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, db, "SELECT COUNT(*) FROM users WHERE nick IS NULL OR nick <> full_name"); n != 0 || res.StillMatching != 0 {
		t.Errorf("%d rows not backfilled, %d still match", n, res.StillMatching)
	}
}

// TestBackfillDryRun describes and changes nothing.
func TestBackfillDryRun(t *testing.T) {
	sandbox.Need(t, sbx)
	db, dbName := sbx.NewDatabase(t)
	fillUsers(t, db, 4000)
	mustExec(t, db, "UPDATE users SET display_name = 'set' WHERE id % 4 = 0")
	before := tableChecksum(t, db, "users")
	cfg := testConfig(t, dbName, "users", "display_name = full_name", "display_name IS NULL")
	cfg.Execute = false
	res, err := runBackfill(context.Background(), t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || res.Matching != 3000 || !strings.Contains(res.FirstBatch, "`id` <= 500") || res.Estimate <= 0 {
		t.Errorf("dry run: %+v", res)
	}
	t.Logf("first batch: %s; estimate %s", res.FirstBatch, res.Estimate)
	if tableChecksum(t, db, "users") != before {
		t.Error("the dry run changed the table")
	}
	if tables := sandbox.Tables(t, db, dbName); len(tables) != 1 {
		t.Errorf("the dry run left tables: %v", tables)
	}
}

// TestBackfillDelete purges in batches.
func TestBackfillDelete(t *testing.T) {
	sandbox.Need(t, sbx)
	db, dbName := sbx.NewDatabase(t)
	fillUsers(t, db, 6000)
	cfg := testConfig(t, dbName, "users", "", "id % 3 = 0")
	cfg.Delete = true
	res, err := runBackfill(context.Background(), t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsChanged != 2000 || queryInt(t, db, "SELECT COUNT(*) FROM users") != 4000 || res.StillMatching != 0 {
		t.Errorf("deleted %d rows, %d left, %d still match", res.RowsChanged, queryInt(t, db, "SELECT COUNT(*) FROM users"), res.StillMatching)
	}
}

// TestBackfillThrottledAndPaused runs beside a real replica whose SQL
// thread is stopped mid-way: the backfill holds, says why, and goes on once
// replication runs again; then the operator pauses and resumes it over the
// control socket. The replica ends with the same rows.
func TestBackfillThrottledAndPaused(t *testing.T) {
	sandbox.Need(t, sbx)
	ctx := context.Background()
	replica, err := sandbox.StartReplica(ctx, sbx, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()
	db, dbName := sbx.NewDatabase(t)
	fillUsers(t, db, 30_000)
	if err := replica.SyncWith(ctx, sbx); err != nil {
		t.Fatal(err)
	}
	rdb, err := replica.Open(ctx, dbName)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()

	cfg := testConfig(t, dbName, "users", "display_name = UPPER(full_name), n = n + 1", "display_name IS NULL")
	cfg.ChunkSize = 200
	cfg.Throttle.MaxLag = 500 * time.Millisecond
	cfg.testBeforeCommit = func(batch int64) {
		if batch == 10 {
			mustExec(t, rdb, "STOP SLAVE SQL_THREAD")
		}
		time.Sleep(5 * time.Millisecond)
	}
	rn := startRun(t, cfg)
	st := rn.waitStatus(t, "the backfill to be throttled by the replica", func(st control.Status) bool {
		return st.Throttled && slices.ContainsFunc(st.ThrottleReasons, func(r string) bool {
			return strings.Contains(r, "replica") && (strings.Contains(r, "replication stopped") || strings.Contains(r, " lag "))
		})
	})
	t.Logf("throttled at %d rows: %q", st.RowsCopied, st.ThrottleReasons)
	if st.Statement == "" || st.Phase != "backfill" {
		t.Errorf("status: statement %q, phase %q", st.Statement, st.Phase)
	}
	time.Sleep(1500 * time.Millisecond)
	if later := rn.status(t); later.RowsCopied > st.RowsCopied+int64(cfg.ChunkSize) {
		t.Errorf("rows walked went from %d to %d while the replica was stopped", st.RowsCopied, later.RowsCopied)
	}
	mustExec(t, rdb, "START SLAVE")
	rn.waitStatus(t, "the backfill to go on", func(s control.Status) bool { return !s.Throttled && s.RowsCopied > st.RowsCopied+int64(cfg.ChunkSize) })

	if reply := rn.send(t, "pause"); !strings.Contains(reply, "paused") {
		t.Errorf("pause: %q", reply)
	}
	paused := rn.waitStatus(t, "the pause", func(s control.Status) bool { return s.Paused && s.Throttled })
	time.Sleep(time.Second)
	if later := rn.status(t); later.RowsCopied > paused.RowsCopied+int64(cfg.ChunkSize) {
		t.Errorf("rows walked went from %d to %d while paused", paused.RowsCopied, later.RowsCopied)
	}
	if text := rn.send(t, "status"); !strings.Contains(text, "backfill: "+dbName+".users") || !strings.Contains(text, "paused: yes") {
		t.Errorf("status text:\n%s", text)
	}
	rn.send(t, "resume")
	res, err := rn.wait(t)
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsChanged != 30_000 || queryInt(t, db, "SELECT COUNT(*) FROM users WHERE n <> 1 OR display_name <> UPPER(full_name)") != 0 {
		t.Errorf("changed %d rows; %d not changed once", res.RowsChanged, queryInt(t, db, "SELECT COUNT(*) FROM users WHERE n <> 1"))
	}
	if err := replica.SyncWith(ctx, sbx); err != nil {
		t.Fatal(err)
	}
	if p, r := tableChecksum(t, db, "users"), tableChecksum(t, rdb, "users"); p != r {
		t.Errorf("the replica's table differs: checksum %d on the primary, %d on the replica", p, r)
	}
}

// TestBackfillWaitsOutALockedRow: another session holds a row of a batch
// locked for a few seconds; the batch gives its locks up after its short
// lock wait, rolls back and tries again, so that a change that is not
// idempotent still changes each row once, and the backfill ends once the
// row is free.
func TestBackfillWaitsOutALockedRow(t *testing.T) {
	sandbox.Need(t, sbx)
	db, dbName := sbx.NewDatabase(t)
	fillUsers(t, db, 5000)
	holder, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(context.Background(), "BEGIN"); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := holder.QueryRowContext(context.Background(), "SELECT id FROM users WHERE id = 2500 FOR UPDATE").Scan(&id); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(3 * time.Second)
		_, _ = holder.ExecContext(context.Background(), "ROLLBACK")
	}()
	cfg := testConfig(t, dbName, "users", "n = n + 1", "")
	res, err := runBackfill(context.Background(), t, cfg)
	<-released
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsChanged != 5000 || queryInt(t, db, "SELECT COUNT(*) FROM users WHERE n <> 1") != 0 {
		t.Errorf("changed %d rows; %d not changed once", res.RowsChanged, queryInt(t, db, "SELECT COUNT(*) FROM users WHERE n <> 1"))
	}
}

// TestBackfillHooks runs a backfill with a hook for every event it fires,
// each recording its event and variables, then one whose on-validated hook
// says no: nothing is changed, and on-failure runs.
func TestBackfillHooks(t *testing.T) {
	sandbox.Need(t, sbx)
	db, dbName := sbx.NewDatabase(t)
	fillUsers(t, db, 2000)
	dir := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "hooks.log")
	script := "#!/bin/sh\necho \"$TAILOR_HOOK $TAILOR_COMMAND $TAILOR_DATABASE.$TAILOR_TABLE rows=$TAILOR_COPIED_ROWS\" >> " + logFile + "\n"
	for _, event := range []string{"on-startup", "on-validated", "on-before-row-copy", "on-row-copy-complete", "on-success", "on-failure"} {
		if err := os.WriteFile(filepath.Join(dir, event), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(t, dbName, "users", "n = n + 1", "")
	cfg.HooksPath = dir
	if _, err := runBackfill(context.Background(), t, cfg); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, line := range strings.Split(strings.TrimSpace(string(got)), "\n") {
		events = append(events, strings.Fields(line)[0])
		if !strings.Contains(line, " backfill "+dbName+".users") {
			t.Errorf("hook line lacks the facts: %q", line)
		}
	}
	want := []string{"on-startup", "on-validated", "on-before-row-copy", "on-row-copy-complete", "on-success"}
	if !slices.Equal(events, want) {
		t.Errorf("hooks ran as %q, want %q", events, want)
	}
	if !strings.Contains(string(got), "on-success backfill "+dbName+".users rows=2000") {
		t.Errorf("on-success did not see the rows walked:\n%s", got)
	}

	// A gate that says no: nothing changes.
	if err := os.WriteFile(filepath.Join(dir, "on-validated"), []byte("#!/bin/sh\necho 'not now'\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(logFile)
	before := tableChecksum(t, db, "users")
	cfg = testConfig(t, dbName, "users", "n = n + 10", "")
	cfg.HooksPath = dir
	_, err = runBackfill(context.Background(), t, cfg)
	if err == nil || !strings.Contains(err.Error(), "not now") {
		t.Fatalf("a hook that says no: %v", err)
	}
	if tableChecksum(t, db, "users") != before {
		t.Error("the table changed although on-validated said no")
	}
	if got, _ := os.ReadFile(logFile); !strings.Contains(string(got), "on-failure") {
		t.Errorf("on-failure did not run:\n%s", got)
	}
}
