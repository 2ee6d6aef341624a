package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/rowcopy"
)

// keyShape is a table's key with the statements that fill t (odd keys
// only, so that the shadow can get an extra row between two real ones) and
// the statements that damage the shadow in four chunks: a changed row, a
// missing row, an extra row in the middle and one past the last key.
type keyShape struct {
	name, orig, fill string
	damage           []string
	// bad are the rows damaged in the chunk of unmendable, as keyStrings
	// shows them.
	unmendable []string
	bad        []string
}

// keyShapes are a single-column key and a composite key with a
// case-insensitive string.
var keyShapes = []keyShape{
	{
		name: "single",
		orig: "id INT NOT NULL PRIMARY KEY, v VARCHAR(20)",
		fill: "INSERT INTO t SELECT seq * 2 - 1, CONCAT('v', seq) FROM seq_1_to_1000",
		damage: []string{
			"UPDATE _t_new SET v = 'bad' WHERE id = 301",
			"DELETE FROM _t_new WHERE id = 901",
			"INSERT INTO _t_new VALUES (1500, 'extra'), (5000, 'past the end')",
		},
		unmendable: []string{
			"UPDATE _t_new SET v = 'bad' WHERE id = 301",
			"DELETE FROM _t_new WHERE id = 303",
			"INSERT INTO _t_new VALUES (302, 'extra')",
		},
		bad: []string{"301 different", "303 missing", "302 extra"},
	},
	{
		name: "composite",
		orig: "a INT NOT NULL, b VARCHAR(10) COLLATE utf8mb4_general_ci NOT NULL, v INT, PRIMARY KEY (a, b)",
		fill: "INSERT INTO t SELECT seq DIV 4, ELT(1 + seq % 4, 'a', 'B', 'c', 'D'), seq FROM seq_1_to_1000",
		damage: []string{
			"UPDATE _t_new SET b = 'b' WHERE a = 75 AND b = 'B'", // equal for the key's collation, not in bytes
			"DELETE FROM _t_new WHERE a = 225 AND b = 'c'",
			"INSERT INTO _t_new VALUES (150, 'bb', 0), (999, 'z', 0)",
		},
		unmendable: []string{
			"UPDATE _t_new SET v = -1 WHERE a = 80 AND b = 'a'",
			"DELETE FROM _t_new WHERE a = 80 AND b = 'c'",
			"INSERT INTO _t_new VALUES (80, 'bb', 0)",
		},
		bad: []string{"80/a different", "80/c missing", "80/bb extra"},
	},
}

// TestMendsDamagedChunks damages the shadow in a changed, a missing and two
// extra rows, and checks that the verify re-copies exactly the damaged
// chunks with the real copier and then passes.
func TestMendsDamagedChunks(t *testing.T) {
	for _, ks := range keyShapes {
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d threads", ks.name, threads), func(t *testing.T) {
				testMendsDamagedChunks(t, ks, threads)
			})
		}
	}
}

func testMendsDamagedChunks(t *testing.T, ks keyShape, threads int) {
	f := newFixture(t, ks.orig, ks.orig, nil)
	exec(t, f.db, ks.fill)
	f.copyAll(t, 100)
	exec(t, f.db, ks.damage...)
	var calls int
	cfg := f.config(t)
	cfg.Threads = threads
	cfg.Recopy = f.recopy(&calls)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mended != 4 || calls != 4 || res.Rows != 1000 {
		t.Errorf("got %+v after %d re-copies, want 4 chunks mended by 4 re-copies, 1000 rows", res, calls)
	}
	if res.Snapshots != 5 {
		t.Errorf("took %d snapshots, want 1 and one after each re-copy", res.Snapshots)
	}
	res, err = Run(context.Background(), cfg)
	if err != nil || res.Mended != 0 {
		t.Errorf("second verify: %+v, %v; want it to pass with nothing to mend", res, err)
	}
}

// TestUnmendableChunkFails re-damages the chunk after every re-copy and
// checks that the verify gives up after Attempts re-copies, naming the rows
// and how they differ.
func TestUnmendableChunkFails(t *testing.T) {
	for _, ks := range keyShapes {
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d threads", ks.name, threads), func(t *testing.T) {
				testUnmendableChunkFails(t, ks, threads)
			})
		}
	}
}

func testUnmendableChunkFails(t *testing.T, ks keyShape, threads int) {
	f := newFixture(t, ks.orig, ks.orig, nil)
	exec(t, f.db, ks.fill)
	f.copyAll(t, 100)
	exec(t, f.db, ks.unmendable...)
	var calls int
	cfg := f.config(t)
	cfg.Threads = threads
	cfg.Attempts = 2
	recopy := f.recopy(&calls)
	cfg.Recopy = func(ctx context.Context, c rowcopy.Chunk) error {
		if err := recopy(ctx, c); err != nil {
			return err
		}
		exec(t, f.db, ks.unmendable...)
		return nil
	}
	_, err := Run(context.Background(), cfg)
	me := mismatch(t, err)
	got := keyStrings(me.Rows)
	slices.Sort(got)
	want := slices.Clone(ks.bad)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	if calls != 2 || me.Recopies != 2 {
		t.Errorf("%d re-copies (%d reported), want 2", calls, me.Recopies)
	}
	msg := err.Error()
	if !strings.Contains(msg, "even after copying it again 2 times") || !strings.Contains(msg, "missing") {
		t.Errorf("message %q does not say what was tried and what differs", msg)
	}
	t.Logf("error: %s", msg)
}

// TestLockTimeout holds a write to t open in another session, so that the
// read lock is never granted: the verify tries LockAttempts times, each
// bounded by LockTimeout, and fails with a clear error; writes to t flow
// again at once.
func TestLockTimeout(t *testing.T) {
	f := newFixture(t, "id INT NOT NULL PRIMARY KEY, v INT", "id INT NOT NULL PRIMARY KEY, v INT", nil)
	exec(t, f.db, "INSERT INTO t VALUES (1, 1), (2, 2)")
	f.copyAll(t, 100)
	ctx := context.Background()
	holder, err := f.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	exec(t, holder, "BEGIN", "UPDATE t SET v = 10 WHERE id = 1")

	cfg := f.config(t)
	cfg.LockTimeout = 300 * time.Millisecond
	cfg.LockAttempts = 3
	start := time.Now()
	_, err = Run(ctx, cfg)
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "in 3 attempts") || !strings.Contains(err.Error(), "was not granted within 300ms") {
		t.Fatalf("got %v, want the read lock not granted in 3 attempts", err)
	}
	t.Logf("error after %s: %v", elapsed.Round(time.Millisecond), err)
	// 3 × 300ms of waiting and 250ms + 500ms of pauses.
	if elapsed > 3*time.Second {
		t.Errorf("took %s, want about 1.65s", elapsed)
	}
	exec(t, holder, "ROLLBACK")
	w := time.Now()
	exec(t, f.db, "UPDATE t SET v = 3 WHERE id = 2")
	if d := time.Since(w); d > 100*time.Millisecond {
		t.Errorf("a write after the verify gave up took %s: a lock was left behind", d)
	}
	var waiting int
	if err := f.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'LOCK TABLES%'").Scan(&waiting); err != nil || waiting != 0 {
		t.Errorf("%d LOCK TABLES statements still running (%v)", waiting, err)
	}
}

// TestCancelWhileWaitingForLock cancels the verify while its LOCK TABLES
// waits: Run returns at once, and the waiting statement is killed on the
// server rather than left to be granted later.
func TestCancelWhileWaitingForLock(t *testing.T) {
	f := newFixture(t, "id INT NOT NULL PRIMARY KEY, v INT", "id INT NOT NULL PRIMARY KEY, v INT", nil)
	exec(t, f.db, "INSERT INTO t VALUES (1, 1)")
	f.copyAll(t, 100)
	holder, err := f.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	exec(t, holder, "BEGIN", "UPDATE t SET v = 10 WHERE id = 1")
	defer exec(t, holder, "ROLLBACK")

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	cfg := f.config(t)
	cfg.LockTimeout = 10 * time.Second
	start := time.Now()
	_, err = Run(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run returned %s after it was cancelled", d)
	}
	var waiting int
	if err := f.db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'LOCK TABLES%'").Scan(&waiting); err != nil || waiting != 0 {
		t.Errorf("%d LOCK TABLES statements still running (%v)", waiting, err)
	}
}

// TestNonTransactionalEngineRefused checks that a table without
// transactions, which has no snapshot, is not verified.
func TestNonTransactionalEngineRefused(t *testing.T) {
	f := newFixture(t, "id INT NOT NULL PRIMARY KEY, v INT", "id INT NOT NULL PRIMARY KEY, v INT", nil)
	m := *f.m
	src := *m.Source
	src.Engine = "MyISAM"
	m.Source = &src
	cfg := f.config(t)
	cfg.Mapping = &m
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "no consistent snapshot") {
		t.Errorf("got %v, want a refusal", err)
	}
}
