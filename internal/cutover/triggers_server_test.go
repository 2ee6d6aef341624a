package cutover

// The server behaviour moving the triggers relies on (see triggers.go),
// with plain statements and no code of this package.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// While session A holds LOCK TABLES t WRITE, sentry WRITE (MariaDB 10.11):
// no other session may drop t's trigger (it waits for the lock); a trigger
// name is taken in the whole database, also for the shadow (1359); A may
// not create a trigger on the shadow, which it has not locked (1100); A may
// drop t's trigger and create one on t, and keeps its lock doing so;
// another session may then create the trigger under the dropped name on
// the shadow without waiting, unless its body names a column of NEW or OLD
// that the shadow lacks (1054). RENAME TABLE takes the trigger with the
// table and rewrites the table's name in its statement.
func TestServerTriggersUnderLockTables(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	sentry := SentryName("t")
	f.exec(createSentrySQL(f.dbName, sentry, SentryComment))
	f.exec("CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW SET @a = 1")
	a, _ := f.conn()
	other, _ := f.conn()
	writer, _ := f.conn()
	mustExec(t, other, "SET SESSION lock_wait_timeout = 1")
	mustExec(t, a, lockSentrySQL(f.cfg, sentry))
	ctx := context.Background()

	expect := func(c execer, query string, errno uint16) {
		t.Helper()
		_, err := c.ExecContext(ctx, query)
		if got := mysql.ErrorNumber(err); got != errno || (errno == 0 && err != nil) {
			t.Errorf("%s: %v, want error %d", query, err, errno)
		}
	}
	expect(other, "DROP TRIGGER trg", mysql.ErrLockWaitTimeout)
	expect(other, "CREATE TRIGGER trg AFTER INSERT ON t_tailor_new FOR EACH ROW SET @a = 2", errTriggerExists)
	expect(a, "CREATE TRIGGER trg2 AFTER INSERT ON t_tailor_new FOR EACH ROW SET @a = 2", errTableNotLocked)
	expect(a, "DROP TRIGGER trg", 0)
	// NEW and OLD columns are checked at creation, against the table.
	expect(other, "CREATE TRIGGER nope BEFORE INSERT ON t_tailor_new FOR EACH ROW SET NEW.nope = 1", errBadField)

	// A still holds t: a writer waits.
	inserted := run(writer, "INSERT INTO t (marker) VALUES ('after the drop')")
	f.waitForStatement("INSERT INTO t")

	start := time.Now()
	expect(other, "CREATE TRIGGER trg AFTER INSERT ON t_tailor_new FOR EACH ROW SET @a = 2", 0)
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("CREATE TRIGGER on the shadow took %s while A held its lock", took)
	}
	expect(a, "CREATE TRIGGER trg_back AFTER INSERT ON t FOR EACH ROW SET @a = 3", 0)
	select {
	case err := <-inserted:
		t.Fatalf("the writer got past A's lock after A's trigger DDL: %v", err)
	default:
	}
	mustExec(t, a, unlockSQL)
	if err := receive(t, "the writer", inserted); err != nil {
		t.Fatal(err)
	}

	f.exec("RENAME TABLE t_tailor_new TO renamed")
	var stmt string
	if err := f.db.QueryRow("SELECT ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? AND TRIGGER_NAME = 'trg' AND EVENT_OBJECT_TABLE = 'renamed'", f.dbName).Scan(&stmt); err != nil {
		t.Fatalf("trg did not move with the table: %v", err)
	}
	if got := f.showCreates("renamed")["trg"]; !strings.Contains(got, " ON `renamed` ") {
		t.Errorf("SHOW CREATE TRIGGER after RENAME: %s", got)
	}
}

// Server errors the test above expects.
const (
	errTriggerExists  = 1359 // ER_TRG_ALREADY_EXISTS
	errTableNotLocked = 1100 // ER_TABLE_NOT_LOCKED
)
