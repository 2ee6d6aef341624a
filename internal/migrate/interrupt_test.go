package migrate

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// A run that is stopped (Ctrl-C and SIGTERM cancel the context in
// cmd/tailor) must return promptly, with the original untouched and no
// shadow or sentry table left behind. The bound is generous: it is there to
// catch a hang, not to measure speed on a busy machine.
const promptly = 10 * time.Second

// interruptTable is large enough, at interruptChunk rows a chunk, for the
// copy to take many chunks.
const (
	interruptRows  = 6000
	interruptChunk = 100
)

// TestInterrupt cancels the run's context at moments of the run and checks
// that it stops promptly and cleanly.
func TestInterrupt(t *testing.T) {
	cases := []struct {
		name  string
		alter string // "ADD COLUMN c INT" when empty
		hooks func(cancel func()) *testHooks
	}{
		{"first chunk", "", func(cancel func()) *testHooks {
			return &testHooks{afterChunk: func(seq int) {
				if seq == 0 || seq == 1 {
					cancel()
				}
			}}
		}},
		{"mid copy", "", func(cancel func()) *testHooks {
			return &testHooks{afterChunk: func(seq int) {
				if seq == 20 {
					cancel()
				}
			}}
		}},
		{"while the deferred index is built", "ADD COLUMN c INT, ADD INDEX ix_c (c)", func(cancel func()) *testHooks {
			return &testHooks{beforeIndexBuild: func() {
				go func() {
					time.Sleep(5 * time.Millisecond)
					cancel()
				}()
			}}
		}},
		{"before cut-over", "", func(cancel func()) *testHooks {
			return &testHooks{beforeCutOver: cancel}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			createTable(t, db, "t", interruptRows)
			g := guardTable(t, db, dbName, "t")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var cancelledAt time.Time
			var once sync.Once
			alter := c.alter
			if alter == "" {
				alter = "ADD COLUMN c INT"
			}
			cfg := testConfig(t, dbName, "t", alter)
			cfg.ChunkSize = interruptChunk
			cfg.testHooks = c.hooks(func() {
				once.Do(func() {
					cancelledAt = time.Now()
					cancel()
				})
			})
			_, err := runMigration(ctx, t, cfg)
			if cancelledAt.IsZero() {
				t.Fatalf("the hook never cancelled the run; it ended with %v", err)
			}
			if took := time.Since(cancelledAt); took > promptly {
				t.Errorf("Run returned %s after the cancel; want < %s", took, promptly)
			}
			wantKind(t, err, KindInterrupted, "interrupted", "untouched")
			g.untouched(t, db)
			if !lockFree(t, db, dbName, "t") {
				t.Error("the migration lock is still held")
			}
		})
	}
}

// TestConnectionsKilledDuringCopy kills every connection of the runner
// (its pool, its lock session and the binary log dump) in the middle of the
// copy, as a DBA's KILL or a server-side timeout would: once between chunks
// and once inside a chunk's transaction. The run may survive by
// reconnecting, or fail; what it must not do is hang, leave the original
// changed, or leave the shadow behind (the clean-up has to reconnect).
func TestConnectionsKilledDuringCopy(t *testing.T) {
	for _, inside := range []bool{false, true} {
		name := "between chunks"
		if inside {
			name = "inside a chunk"
		}
		t.Run(name, func(t *testing.T) { testConnectionsKilled(t, inside) })
	}
}

func testConnectionsKilled(t *testing.T, insideChunk bool) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", interruptRows)
	g := guardTable(t, db, dbName, "t")

	// A pool of its own, so that the killing session is not among those
	// killed; db's idle connections are, and database/sql replaces them.
	killer, err := sbx.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close()
	killer.SetMaxOpenConns(1)

	var killed int
	var lockHeld sql.NullBool // whether the lock was held after the kill
	checkLock := func() {
		var holder sql.NullInt64
		if err := killer.QueryRow("SELECT IS_USED_LOCK(?)", lockName(dbName, "t")).Scan(&holder); err != nil {
			t.Errorf("look up the migration lock: %v", err)
			return
		}
		lockHeld = sql.NullBool{Valid: true, Bool: holder.Valid}
	}
	cfg := testConfig(t, dbName, "t", "ADD COLUMN c INT")
	cfg.ChunkSize = interruptChunk
	cfg.testHooks = &testHooks{
		afterChunk: func(seq int) {
			switch {
			case seq == 10 && !insideChunk:
				killed = killOtherSessions(t, killer)
			case seq == 12:
				checkLock()
			}
		},
		beforeChunkCommit: func(_ context.Context, chunk rowcopy.Chunk) {
			if chunk.Seq == 10 && insideChunk {
				killed = killOtherSessions(t, killer)
			}
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := runMigration(ctx, t, cfg)
	took := time.Since(start)
	t.Logf("killed %d sessions; run ended after %s with %v", killed, took, err)
	if killed == 0 {
		t.Fatal("no session was killed: the test did not exercise anything")
	}
	if ctx.Err() != nil {
		t.Fatalf("the run was still going after %s (a hang)", took)
	}
	if err == nil {
		// Surviving is allowed only if the result is right, and only if
		// the migration lock was not silently lost along the way.
		t.Logf("the run survived the kill: %d rows copied", res.RowsCopied)
		if res.RowsCopied != interruptRows {
			t.Errorf("copied %d rows, want %d", res.RowsCopied, interruptRows)
		}
		if def := showCreate(t, db, dbName, "t"); !strings.Contains(def, "`c` int") {
			t.Errorf("the new definition lacks the column:\n%s", def)
		}
		noLeftovers(t, db, dbName, []string{"t", "t_tailor_old", "t_tailor_state"})
		if lockHeld.Valid && !lockHeld.Bool {
			// The run must notice a lost migration lock (Runner.checkLock
			// before the cut-over) rather than swap without it.
			t.Error("the run went on after its migration lock was lost with its killed session")
		}
		return
	}
	if kind := KindOf(err); kind == KindInterrupted || kind == KindInvalid {
		t.Errorf("error kind %s for killed connections; want failed or connect: %v", kind, err)
	}
	wantSentence(t, err.Error())
	if strings.Contains(err.Error(), "lost the migration lock") || strings.Contains(err.Error(), "left alone") {
		// The lock went with its killed session: another tailor may own
		// the shadow and the heartbeat table now, so the run leaves them.
		noLeftovers(t, db, dbName, []string{"t", "t_tailor_hb", "t_tailor_new", "t_tailor_state"})
		mustExec(t, db, "DROP TABLE t_tailor_hb, t_tailor_new, t_tailor_state")
	} else if KindOf(err) == KindResumable {
		// A stop that may pass keeps the copy and its saved state.
		noLeftovers(t, db, dbName, []string{"t", "t_tailor_new", "t_tailor_state"})
		mustExec(t, db, "DROP TABLE t_tailor_new, t_tailor_state")
	}
	g.untouched(t, db)
	if !lockFree(t, db, dbName, "t") {
		t.Error("the migration lock is still held")
	}
}

// killOtherSessions kills every session of the sandbox account but the
// killer's own and returns how many it killed.
func killOtherSessions(t testing.TB, killer *sql.DB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := killer.Conn(ctx)
	if err != nil {
		t.Errorf("open the killing session: %v", err)
		return 0
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "SELECT ID, COMMAND FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()", sandbox.User)
	if err != nil {
		t.Errorf("list sessions: %v", err)
		return 0
	}
	type session struct {
		id      int64
		command string
	}
	var sessions []session
	for rows.Next() {
		var s session
		if err := rows.Scan(&s.id, &s.command); err != nil {
			t.Errorf("list sessions: %v", err)
		}
		sessions = append(sessions, s)
	}
	rows.Close()
	killed := 0
	for _, s := range sessions {
		// A session may end by itself between the listing and the KILL.
		if _, err := conn.ExecContext(ctx, "KILL CONNECTION "+strconv.FormatInt(s.id, 10)); err == nil {
			killed++
			t.Logf("killed session %d (%s)", s.id, s.command)
		}
	}
	return killed
}
