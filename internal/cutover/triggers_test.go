package cutover

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// The triggers move to the new table under concurrent writers and a
// catch-up that writes the shadow: every insert fires them exactly once,
// on the original before the swap and on the new table after it, and the
// new table's triggers are the originals (definitions, SHOW CREATE
// TRIGGER, order), the old table keeping none.
func TestSwapMovesTriggers(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	before := f.addTriggers()
	shows := f.showCreates("t")
	f.cfg.Triggers = before
	ctx := context.Background()

	w := startWriters(f, 4)
	time.Sleep(200 * time.Millisecond) // inserts into the original
	c, err := prepareAttempt(ctx, f.db, mariadb, f.cfg.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	var queued []string
	res, err := c.run(ctx, func(ctx context.Context) error {
		queued = f.waitingInserts(ctx)
		// The shadow is written after the lock, as the applier does: its
		// inserts must not fire the triggers.
		return f.copyUnderLock(ctx, c.a.conn)
	})
	time.Sleep(200 * time.Millisecond) // inserts into the new table
	w.halt()
	if err != nil {
		t.Fatalf("swap: %v", err)
	}
	for _, err := range w.errs {
		t.Errorf("writer: %v", err)
	}
	t.Logf("lock held %s; slowest insert %s; %d inserts queued behind the lock", res.LockHeld, w.maxWait, len(queued))
	if len(queued) == 0 {
		t.Error("no insert was seen waiting behind the lock")
	}

	if got := f.columns("t"); !slices.Equal(got, shadowColumns) {
		t.Fatalf("t has columns %v, want the shadow's", got)
	}
	f.assertTriggersOn("t", before, shows)
	if left := f.triggers("t_tailor_old"); len(left) > 0 {
		t.Errorf("the old table kept triggers %v", left)
	}
	newRows, oldRows := f.markers("t"), f.markers("t_tailor_old")
	var inOld, inNew int
	for _, markers := range w.done {
		for _, m := range markers {
			if _, ok := newRows[m]; !ok {
				t.Errorf("%s is missing from the new table", m)
			}
			if _, ok := oldRows[m]; ok {
				inOld++
			} else {
				inNew++
			}
		}
	}
	if inOld == 0 || inNew == 0 {
		t.Errorf("%d inserts before the swap, %d after; want some of each", inOld, inNew)
	}
	f.assertFiredOnce(w)
	f.assertTriggersWork()
}

// A move that fails puts the triggers back on the original before the
// writers are let go: whatever step failed, the original has its triggers
// as before (definitions, order), the shadow none, and every insert made
// meanwhile fired them exactly once. Each case makes a real server
// statement fail or be killed; some replace one of the attempt's
// statements to pick the moment.
func TestSwapTriggersPutBack(t *testing.T) {
	sleep := "SELECT SLEEP(30) FROM (SELECT 1 UNION SELECT 2) AS two"
	cases := []struct {
		name string
		// arrange prepares the failure; cancel cancels the attempt.
		arrange   func(f *fixture, c *attempt, cancel context.CancelFunc)
		step      Step
		retryable bool
		want      string
	}{
		{"the shadow is in use", func(f *fixture, c *attempt, _ context.CancelFunc) {
			// An open transaction that read the shadow: CREATE TRIGGER waits
			// for it until the lock timeout.
			f.holdTransaction(f.cfg.Shadow)
		}, StepTriggers, true, "put back"},
		{"the second CREATE TRIGGER fails", func(f *fixture, c *attempt, _ context.CancelFunc) {
			// A parse error: one trigger is on the shadow by then.
			c.moves[1].onShadow = "CREATE TRIGGER broken"
		}, StepTriggers, false, "put back"},
		{"the RENAME is not seen queued", func(f *fixture, c *attempt, _ context.CancelFunc) {
			c.rename = sleep
		}, StepRename, true, "put back"},
		{"cancelled during the move", func(f *fixture, c *attempt, cancel context.CancelFunc) {
			c.moves[2].onShadow = sleep
			go func() {
				f.waitForQuery("SELECT SLEEP(30)")
				cancel()
			}()
		}, StepTriggers, false, "put back"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
			before := f.addTriggers()
			shows := f.showCreates("t")
			f.cfg.Triggers = before
			f.cfg.LockTimeout = time.Second
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c, err := prepareAttempt(ctx, f.db, mariadb, f.cfg.withDefaults())
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			tc.arrange(f, c, cancel)

			w := startWriters(f, 2)
			time.Sleep(100 * time.Millisecond)
			start := time.Now()
			_, err = c.run(ctx, noCatchUp)
			took := time.Since(start)
			time.Sleep(100 * time.Millisecond)
			w.halt()
			t.Logf("%s: %v", took, err)
			if err == nil {
				t.Fatal("the attempt succeeded")
			}
			if stepOf(t, err) != tc.step || IsRetryable(err) != tc.retryable || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (step %s, retryable %v); want step %s, retryable %v, saying %q", err, stepOf(t, err), IsRetryable(err), tc.step, tc.retryable, tc.want)
			}
			if took > f.cfg.LockTimeout+5*time.Second {
				t.Errorf("the attempt took %s", took)
			}
			for _, err := range w.errs {
				t.Errorf("writer: %v", err)
			}
			f.assertTriggersOn("t", before, shows)
			f.assertFiredOnce(w)
			f.assertUntouched()
			f.assertTriggersWork()
		})
	}
}

// A trigger that names, as NEW.col, a column the new table lacks cannot be
// created on it (MariaDB checks NEW and OLD columns at CREATE TRIGGER):
// the attempt puts the triggers back and gives up for good.
func TestSwapTriggerUsesDroppedColumn(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	f.exec("ALTER TABLE t ADD COLUMN legacy int NOT NULL DEFAULT 0")
	f.addTriggers()
	f.exec("CREATE TRIGGER `set_legacy` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.legacy = 7")
	before, shows := f.triggers("t"), f.showCreates("t")
	f.cfg.Triggers = before
	w := startWriters(f, 2)
	time.Sleep(100 * time.Millisecond)
	_, err := Swap(context.Background(), f.db, mariadb, f.cfg, noCatchUp)
	time.Sleep(100 * time.Millisecond)
	w.halt()
	t.Logf("Swap: %v", err)
	if !errors.Is(err, ErrTriggerNotRecreatable) || IsRetryable(err) || !strings.Contains(err.Error(), "`set_legacy`") || !strings.Contains(err.Error(), "put back") {
		t.Fatalf("err = %v, want a final error naming set_legacy and saying the triggers were put back", err)
	}
	for _, err := range w.errs {
		t.Errorf("writer: %v", err)
	}
	f.assertTriggersOn("t", before, shows)
	f.assertFiredOnce(w)
	for _, name := range []string{"t_tailor_old", SentryName("t")} {
		if f.exists(name) {
			t.Errorf("%s left behind", name)
		}
	}
	if got := f.columns("t_tailor_new"); !slices.Equal(got, shadowColumns) {
		t.Errorf("the shadow has columns %v", got)
	}
}

// The locking session dies while the triggers are off the original: its
// lock goes with it, so the triggers are put back from another connection,
// and the error says that writes may have run without them.
func TestSwapTriggersLockHolderKilled(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	before := f.addTriggers()
	shows := f.showCreates("t")
	f.cfg.Triggers = before
	f.cfg.LockTimeout = 2 * time.Second
	ctx := context.Background()
	c, err := prepareAttempt(ctx, f.db, mariadb, f.cfg.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	c.moves[1].onShadow = "SELECT SLEEP(30) FROM (SELECT 1 UNION SELECT 2) AS two"
	go func() {
		f.waitForQuery("SELECT SLEEP(30)")
		if _, err := f.db.Exec(killConnectionSQL(c.a.id)); err != nil {
			t.Errorf("kill the lock holder: %v", err)
		}
	}()
	_, err = c.run(ctx, noCatchUp)
	t.Logf("%v", err)
	if err == nil || IsRetryable(err) || !strings.Contains(err.Error(), "resumed before they were") {
		t.Fatalf("err = %v, want a final error saying writes may have run without the triggers", err)
	}
	f.assertTriggersOn("t", before, shows)
	f.assertUntouched()
	f.assertTriggersWork()
}

// When the triggers cannot be put back, the error names them and gives the
// SQL that recreates them, which does.
func TestSwapTriggersRestoreFails(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	before := f.addTriggers()
	shows := f.showCreates("t")
	f.cfg.Triggers = before
	f.cfg.LockTimeout = time.Second
	ctx := context.Background()
	c, err := prepareAttempt(ctx, f.db, mariadb, f.cfg.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	c.moves[1].onShadow = "CREATE TRIGGER broken"
	c.moves[0].onOriginal = "CREATE TRIGGER broken too"
	_, err = c.run(ctx, noCatchUp)
	t.Logf("%v", err)
	if err == nil || IsRetryable(err) || stepOf(t, err) != StepCleanup {
		t.Fatalf("err = %v, want a final clean-up error", err)
	}
	msg := err.Error()
	for _, tr := range before {
		if !strings.Contains(msg, mysql.QuoteIdent(tr.Name)) || !strings.Contains(msg, tr.Script("t")) {
			t.Errorf("the error does not name %s with its SQL", tr.Name)
		}
	}
	if got := f.triggers("t"); len(got) != 0 {
		t.Errorf("t has triggers %v", got)
	}
	if got := f.triggers("t_tailor_new"); len(got) != 0 {
		t.Errorf("the shadow has triggers %v", got)
	}
	// What the operator does: run the scripts (here statement by statement,
	// as the client would without its DELIMITER lines).
	for _, tr := range before {
		stmt, err := schema.EncodeForClient(ctx, f.db, tr.CreateSQL("t"), tr.CharacterSetClient)
		if err != nil {
			t.Fatal(err)
		}
		f.session(useSQL(f.dbName), schema.SaveSessionSQL, tr.SetSessionSQL(), stmt, schema.RestoreSessionSQL)
	}
	f.assertTriggersOn("t", before, shows)
	f.assertUntouched()
}

// The attempt refuses to swap when the original's triggers are not
// Config.Triggers (some would stay behind on the old table) or the shadow
// has some, before touching anything.
func TestSwapTriggersChanged(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *fixture, loaded []schema.Trigger) []schema.Trigger
	}{
		{"not given", func(f *fixture, _ []schema.Trigger) []schema.Trigger { return nil }},
		{"one added since", func(f *fixture, loaded []schema.Trigger) []schema.Trigger {
			f.exec("CREATE TRIGGER added AFTER DELETE ON t FOR EACH ROW SET @a = 1")
			return loaded
		}},
		{"one redefined since", func(f *fixture, loaded []schema.Trigger) []schema.Trigger {
			f.exec("DROP TRIGGER touch_update")
			f.exec("CREATE TRIGGER touch_update BEFORE UPDATE ON t FOR EACH ROW SET NEW.marker = 'other'")
			return loaded
		}},
		{"the shadow has one", func(f *fixture, loaded []schema.Trigger) []schema.Trigger {
			f.exec("CREATE TRIGGER own AFTER INSERT ON t_tailor_new FOR EACH ROW SET @a = 1")
			return loaded
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
			loaded := f.addTriggers()
			f.cfg.Triggers = tc.setup(f, loaded)
			now, shows := f.triggers("t"), f.showCreates("t")
			_, err := Swap(context.Background(), f.db, mariadb, f.cfg, noCatchUp)
			t.Logf("Swap: %v", err)
			if !errors.Is(err, ErrTriggersChanged) || IsRetryable(err) || stepOf(t, err) != StepTriggers {
				t.Fatalf("err = %v, want a final error wrapping ErrTriggersChanged", err)
			}
			if got := f.triggers("t"); !slices.Equal(got, now) {
				t.Errorf("t's triggers changed: %v", got)
			}
			if got := f.showCreates("t"); len(got) != len(shows) {
				t.Errorf("t's triggers changed: %v", got)
			}
			f.assertUntouched()
		})
	}
}

// The lock is not granted: nothing was moved.
func TestSwapTriggersLockTimeout(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	before := f.addTriggers()
	shows := f.showCreates("t")
	f.cfg.Triggers = before
	f.cfg.LockTimeout = time.Second
	f.holdTransaction("t")
	_, err := Swap(context.Background(), f.db, mariadb, f.cfg, noCatchUp)
	if !IsRetryable(err) || stepOf(t, err) != StepLock {
		t.Fatalf("err = %v, want a retryable lock error", err)
	}
	f.assertTriggersOn("t", before, shows)
}

func TestConfigValidateTriggers(t *testing.T) {
	t.Parallel()
	cfg := Config{Database: "d", Table: "t", Shadow: "t_tailor_new", Old: "t_tailor_old"}
	ok := schema.Trigger{Database: "d", Table: "t", Name: "a"}
	cases := []struct {
		name     string
		triggers []schema.Trigger
		valid    bool
	}{
		{"on the table", []schema.Trigger{ok}, true},
		{"another table", []schema.Trigger{{Database: "d", Table: "u", Name: "a"}}, false},
		{"another database", []schema.Trigger{{Database: "e", Table: "t", Name: "a"}}, false},
		{"twice", []schema.Trigger{ok, ok}, false},
	}
	for _, c := range cases {
		cfg.Triggers = c.triggers
		if err := cfg.Validate(); (err == nil) != c.valid {
			t.Errorf("%s: Validate = %v", c.name, err)
		}
	}
}

// With the triggers moved to the shadow, a session that takes the shadow
// between the move and the RENAME, and holds it past the budget, makes the
// RENAME that already holds t be ended. The writers queued behind it must
// still find the triggers on the original: a session's LOCK TABLES t WRITE
// queued behind the RENAME gets t first, and the triggers are put back
// under it before any writer runs.
func TestSwapTriggersPutBackWhenRenameEnded(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	before := f.addTriggers()
	shows := f.showCreates("t")
	f.cfg.Triggers = before
	f.cfg.LockTimeout = time.Second
	ctx := context.Background()
	c, err := prepareAttempt(ctx, f.db, mariadb, f.cfg.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	w := startWriters(f, 2)
	time.Sleep(100 * time.Millisecond)
	if _, err, done := c.lockAndCatchUp(ctx, noCatchUp); done {
		t.Fatalf("lock and catch up: %v", err)
	}
	if _, err, done := c.queueRename(ctx); done {
		t.Fatalf("queue the RENAME: %v", err)
	}
	// The RENAME waits on t and holds nothing else yet: the shadow, its
	// triggers on it, is free to read. The reader holds it until after
	// the RENAME was ended; the triggers can leave the shadow only then
	// (a trigger's name is unique in the database), with the writers
	// still held.
	endRead := f.readShadowInTransaction()
	readEnded := make(chan struct{})
	go func() {
		defer close(readEnded)
		time.Sleep(time.Until(c.deadline.Add(renameGrace + time.Second)))
		endRead()
	}()
	_, err = c.release(ctx)
	<-readEnded
	time.Sleep(100 * time.Millisecond)
	w.halt()
	t.Logf("release: %v", err)
	if err == nil || stepOf(t, err) != StepRename || !IsRetryable(err) || !strings.Contains(err.Error(), "put back") || strings.Contains(err.Error(), "without them") {
		t.Fatalf("err = %v; want a retryable failure of the rename saying the triggers were put back before writes resumed", err)
	}
	for _, err := range w.errs {
		t.Errorf("writer: %v", err)
	}
	f.assertTriggersOn("t", before, shows)
	f.assertFiredOnce(w)
	f.assertUntouched()
	f.assertTriggersWork()
}
