package cutover

// These tests record the server behaviour the two-session cut-over relies
// on, with plain statements and no code of this package: if a server
// version changes one of them, the test that fails names the assumption.

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// run executes query on c in a goroutine and reports its error on the
// returned channel.
func run(c execer, query string, args ...any) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := c.ExecContext(context.Background(), query, args...)
		done <- err
	}()
	return done
}

var mustExec = sandbox.Exec

func receive(t *testing.T, what string, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not return within 30s", what)
		return nil
	}
}

// A waiting RENAME is granted t before DML that queued on t behind LOCK
// TABLES, both DML queued before the RENAME was issued and DML issued
// after it; the DML then runs on the new table. Also: a session may DROP a
// table it holds under LOCK TABLES ... WRITE, and the waiting RENAME shows
// in the processlist as "Waiting for table metadata lock".
func TestServerWaitingRenameRunsBeforeQueuedWriters(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	sentry := SentryName("t")
	f.exec(createSentrySQL(f.dbName, sentry, SentryComment))
	a, _ := f.conn()
	b, bid := f.conn()
	early, _ := f.conn()
	late, _ := f.conn()
	mustExec(t, a, lockSentrySQL(f.cfg, sentry))

	earlyDone := run(early, "INSERT INTO t (marker) VALUES ('queued before the rename')")
	f.waitForStatement("INSERT INTO t (marker) VALUES ('queued before")
	renameDone := run(b, renameThroughSentrySQL(f.cfg, sentry))
	if id := f.waitForStatement("RENAME"); id != bid {
		t.Fatalf("waiting RENAME on connection %d, want %d", id, bid)
	}
	var state string
	if err := f.db.QueryRow(processSQL, bid).Scan(&state, new(string)); err != nil {
		t.Fatal(err)
	}
	if state != "Waiting for table metadata lock" {
		t.Errorf("waiting RENAME has state %q", state)
	}
	lateDone := run(late, "INSERT INTO t (marker) VALUES ('queued after the rename')")
	f.waitForStatement("INSERT INTO t (marker) VALUES ('queued after")

	mustExec(t, a, dropTableSQL(f.dbName, sentry)) // allowed under LOCK TABLES
	mustExec(t, a, unlockSQL)
	if err := receive(t, "RENAME", renameDone); err != nil {
		t.Fatalf("RENAME: %v", err)
	}
	for what, ch := range map[string]<-chan error{"early INSERT": earlyDone, "late INSERT": lateDone} {
		if err := receive(t, what, ch); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	newRows := f.markers("t")
	for _, m := range []string{"queued before the rename", "queued after the rename"} {
		if _, ok := newRows[m]; !ok {
			t.Errorf("%q is not in the new t (the shadow): the RENAME did not run first", m)
		}
	}
	if got := f.columns("t"); len(got) != len(shadowColumns) {
		t.Errorf("t has columns %v after the RENAME, want the shadow's", got)
	}
}

// A RENAME takes its metadata locks one name at a time, in the byte order
// of the names, and waits at the first one held by another session. Here
// A holds only "_t_old", which sorts before "t": the RENAME waits for it
// while already holding "_t_new" (an INSERT into it times out) and not yet
// asking for "t" (an INSERT into t runs at once). This is why the sentry
// is not named Old: gh-ost's RENAME waits for its sentry "_t_old", not for
// t, and is queued on t only after the sentry is dropped.
func TestServerRenameLocksNamesInOrder(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	f.exec("CREATE TABLE _t_old (id int)")
	a, _ := f.conn()
	b, _ := f.conn()
	probe, _ := f.conn()
	mustExec(t, a, "LOCK TABLES _t_old WRITE")
	renameDone := run(b, "RENAME TABLE t TO _t_old, _t_new TO t")
	f.waitForStatement("RENAME")
	mustExec(t, probe, "SET SESSION lock_wait_timeout = 1")

	if _, err := probe.ExecContext(context.Background(), "INSERT INTO t (marker) VALUES ('not blocked')"); err != nil {
		t.Errorf("INSERT into t while the RENAME waits for _t_old: %v; want it to run at once", err)
	}
	_, err := probe.ExecContext(context.Background(), "INSERT INTO _t_new (marker) VALUES ('blocked')")
	if mysql.ErrorNumber(err) != mysql.ErrLockWaitTimeout {
		t.Errorf("INSERT into _t_new while the RENAME waits: %v; want error 1205, the RENAME holds it", err)
	}
	mustExec(t, a, unlockSQL)
	if err := receive(t, "RENAME", renameDone); mysql.ErrorNumber(err) != mysql.ErrTableExists {
		t.Errorf("RENAME onto an existing table: %v, want error 1050", err)
	}
}

// With every name of the RENAME sorting after t (NameAfter), the waiting
// RENAME holds no table lock at all: it waits for t first. A session may
// read or lock the shadow meanwhile, and when A unlocks while such a
// session still holds the shadow, the RENAME holds t while it waits for
// the shadow: a writer queued on t waits with it, and goes into the new
// table once the reader is done. With the shadow named "_t_new" the same
// writer went into the original and was lost (issue 10).
func TestServerWaitingRenameHoldsOnlyTheOriginal(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	sentry := SentryName("t")
	f.exec(createSentrySQL(f.dbName, sentry, SentryComment))
	a, _ := f.conn()
	b, _ := f.conn()
	reader, _ := f.conn()
	writer, _ := f.conn()
	mustExec(t, a, lockSentrySQL(f.cfg, sentry))
	renameDone := run(b, renameThroughSentrySQL(f.cfg, sentry))
	f.waitForStatement("RENAME")
	// Not blocked by the waiting RENAME: it holds nothing on these names.
	mustExec(t, reader, "SET SESSION lock_wait_timeout = 1")
	mustExec(t, reader, "INSERT INTO t_tailor_new (marker) VALUES ('shadow is free')")
	mustExec(t, reader, "CREATE TABLE t_tailor_old (id int)")
	mustExec(t, reader, "DROP TABLE t_tailor_old")
	// The reader now holds the shadow in an open transaction.
	mustExec(t, reader, "BEGIN")
	mustExec(t, reader, "SELECT COUNT(*) FROM t_tailor_new")
	mustExec(t, a, dropTableSQL(f.dbName, sentry))
	mustExec(t, a, unlockSQL)
	writeDone := run(writer, "INSERT INTO t (marker) VALUES ('written after the unlock')")
	select {
	case err := <-writeDone:
		t.Fatalf("the writer ran while the RENAME waited for the shadow (%v): it went into the original", err)
	case <-time.After(500 * time.Millisecond):
	}
	mustExec(t, reader, "COMMIT")
	if err := receive(t, "RENAME", renameDone); err != nil {
		t.Fatalf("RENAME: %v", err)
	}
	if err := receive(t, "INSERT", writeDone); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.markers("t")["written after the unlock"]; !ok {
		t.Error("the write is not in the new table")
	}
	if _, ok := f.markers("t_tailor_old")["written after the unlock"]; ok {
		t.Error("the write went into the old table")
	}
}

// A LOCK TABLES ... WRITE that queues on a table after an INSERT did is
// granted before that INSERT once the table is free: the server grants a
// waiting write lock ahead of waiting DML. The cut-over relies on it to put
// triggers back before the writers queued behind an ended RENAME run
// (guardOriginal).
func TestServerQueuedLockTablesGoesFirst(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	holder, _ := f.conn()
	writer, _ := f.conn()
	guard, _ := f.conn()
	mustExec(t, holder, "LOCK TABLES t WRITE")
	writeDone := run(writer, "INSERT INTO t (marker) VALUES ('writer')")
	f.waitForStatement("INSERT")
	lockDone := run(guard, "LOCK TABLES t WRITE")
	f.waitForStatement("LOCK")
	mustExec(t, holder, unlockSQL)
	if err := receive(t, "LOCK TABLES", lockDone); err != nil {
		t.Fatal(err)
	}
	mustExec(t, guard, "INSERT INTO t (marker) VALUES ('guard')")
	select {
	case err := <-writeDone:
		t.Fatalf("the queued INSERT ran while the later LOCK TABLES held t (%v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	mustExec(t, guard, unlockSQL)
	if err := receive(t, "INSERT", writeDone); err != nil {
		t.Fatal(err)
	}
	var first string
	if err := f.db.QueryRow("SELECT marker FROM t WHERE marker IN ('writer', 'guard') ORDER BY id LIMIT 1").Scan(&first); err != nil {
		t.Fatal(err)
	}
	if first != "guard" {
		t.Errorf("%s wrote first, want the LOCK TABLES holder", first)
	}
}

// When the session holding the lock dies without dropping the sentry, the
// waiting RENAME runs and fails on the sentry (error 1050), renaming
// nothing, and the writers that queued go on to the original.
func TestServerSentryStopsRenameWhenLockHolderDies(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	sentry := SentryName("t")
	f.exec(createSentrySQL(f.dbName, sentry, SentryComment))
	a, aid := f.conn()
	b, _ := f.conn()
	writer, _ := f.conn()
	mustExec(t, a, lockSentrySQL(f.cfg, sentry))
	renameDone := run(b, renameThroughSentrySQL(f.cfg, sentry))
	f.waitForStatement("RENAME")
	writeDone := run(writer, "INSERT INTO t (marker) VALUES ('queued')")
	f.waitForStatement("INSERT")
	f.exec(killConnectionSQL(aid))
	if err := receive(t, "RENAME", renameDone); mysql.ErrorNumber(err) != mysql.ErrTableExists {
		t.Errorf("RENAME after the lock holder died: %v, want error 1050", err)
	}
	if err := receive(t, "INSERT", writeDone); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.markers("t")["queued"]; !ok {
		t.Error("the queued INSERT is not in the original")
	}
	if f.exists("t_tailor_old") || !f.exists("t_tailor_new") {
		t.Error("tables were renamed")
	}
}
