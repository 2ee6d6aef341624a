package plan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/mysql"
)

// TestMakeFailuresLeaveNothing checks that every way Make can fail leaves
// the table as it was and no clone behind, and that the error is the
// user's, in one sentence.
func TestMakeFailuresLeaveNothing(t *testing.T) {
	cases := []struct {
		name, table, alter string
		// ddlError is true for a *ddl.Error, false for a *plan.Error.
		ddlError bool
		want     string
	}{
		{name: "server rejects", table: "orders", alter: "ADD COLUMN id INT", want: "the server rejected the ALTER: Duplicate column name 'id'"},
		{name: "missing foreign key", table: "orders", alter: "DROP FOREIGN KEY fk_nope", want: "has no foreign keys"},
		{name: "does not parse", table: "orders", alter: "ADD COLUMN", ddlError: true, want: "could not parse"},
		{name: "missing table", table: "nope", alter: "ADD COLUMN x INT", want: "table `nope` does not exist"},
		{name: "other table", table: "orders", alter: "ALTER TABLE customers ADD COLUMN x INT", want: "written for table `customers`"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			createOrders(t, db, 100)
			before := takeSnapshot(t, db, dbName, "orders")
			_, err := Make(context.Background(), db, detectServer(t, db), Options{Database: dbName, Table: tc.table, Alter: tc.alter})
			before.assertSame(t, takeSnapshot(t, db, dbName, "orders"))
			var pe *Error
			var de *ddl.Error
			switch {
			case err == nil:
				t.Fatal("Make succeeded")
			case tc.ddlError && !errors.As(err, &de), !tc.ddlError && !errors.As(err, &pe):
				t.Fatalf("error %T %v is not the user's", err, err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q; want one line containing %q", msg, tc.want)
			}
		})
	}
}

// onMessage is a slog handler that runs do, once, when msg is logged: a way
// to interrupt Make at an exact point.
type onMessage struct {
	msg  string
	do   func()
	once sync.Once
}

func (h *onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h *onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(h.do)
	}
	return nil
}
func (h *onMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *onMessage) WithGroup(string) slog.Handler      { return h }

// TestMakeInterruptedDropsClone cancels Make while it is trying
// algorithms, with the clone in place, and checks the clone is dropped all
// the same.
func TestMakeInterruptedDropsClone(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createOrders(t, db, 100)
	before := takeSnapshot(t, db, dbName, "orders")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Make(ctx, db, detectServer(t, db), Options{
		Database: dbName, Table: "orders", Alter: "MODIFY qty BIGINT NOT NULL",
		Logger: slog.New(&onMessage{msg: "algorithm refused", do: cancel}),
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Make returned %v; want it cancelled", err)
	}
	before.assertSame(t, takeSnapshot(t, db, dbName, "orders"))
}

// TestMakeLostSessionDropsClone kills the clone's session on the server
// while Make is trying algorithms, as a network failure would; the clone is
// dropped from a fresh session.
func TestMakeLostSessionDropsClone(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createOrders(t, db, 100)
	before := takeSnapshot(t, db, dbName, "orders")
	kill := func() {
		var id int64
		if err := db.QueryRow("SELECT IS_USED_LOCK(?)", probeMutex(dbName, "orders")).Scan(&id); err != nil {
			t.Errorf("find the clone's session: %v", err)
			return
		}
		if _, err := db.Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
			t.Errorf("kill the clone's session: %v", err)
		}
	}
	_, err := Make(context.Background(), db, detectServer(t, db), Options{
		Database: dbName, Table: "orders", Alter: "MODIFY qty BIGINT NOT NULL",
		Logger: slog.New(&onMessage{msg: "algorithm refused", do: kill}),
	})
	if err == nil {
		t.Fatal("Make succeeded without its session")
	}
	before.assertSame(t, takeSnapshot(t, db, dbName, "orders"))
}

// TestMakeDropsLeftoverClone puts a clone where an interrupted plan would
// have left it, rows and all; the next plan drops it, says so, and works.
func TestMakeDropsLeftoverClone(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createOrders(t, db, 100)
	before := takeSnapshot(t, db, dbName, "orders")
	exec(t, db, "CREATE TABLE "+mysql.QuoteIdent(ProbeName("orders"))+" (junk INT) ENGINE=InnoDB")
	exec(t, db, "INSERT INTO "+mysql.QuoteIdent(ProbeName("orders"))+" VALUES (1)")
	p, err := Make(context.Background(), db, detectServer(t, db), Options{Database: dbName, Table: "orders", Alter: "ADD COLUMN x INT NULL"})
	if err != nil {
		t.Fatal(err)
	}
	before.assertSame(t, takeSnapshot(t, db, dbName, "orders"))
	if p.Native.Algorithm != mysql.AlgorithmInstant || !strings.Contains(strings.Join(p.Notes, " "), "interrupted plan was dropped") {
		t.Errorf("algorithm %s, notes %q; want INSTANT and a note of the leftover", p.Native.Algorithm, p.Notes)
	}
}

// TestMakeWaitsForAnotherPlan holds the lock a running plan of the same
// table holds; Make gives up with a clear message rather than drop a clone
// another plan is using.
func TestMakeWaitsForAnotherPlan(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createOrders(t, db, 10)
	ctx := context.Background()
	other, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var got int
	if err := other.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", probeMutex(dbName, "orders")).Scan(&got); err != nil || got != 1 {
		t.Fatalf("GET_LOCK: %d, %v", got, err)
	}
	defer other.ExecContext(ctx, "SELECT RELEASE_LOCK(?)", probeMutex(dbName, "orders")) //nolint:errcheck
	start := time.Now()
	_, err = Make(ctx, db, detectServer(t, db), Options{Database: dbName, Table: "orders", Alter: "ADD COLUMN x INT NULL"})
	var pe *Error
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "another tailor plan") {
		t.Fatalf("Make returned %v; want another plan reported", err)
	}
	if waited := time.Since(start); waited < probeMutexWait*time.Second {
		t.Errorf("gave up after %s; want a wait of %ds first", waited, probeMutexWait)
	}
}

// TestMakeLeavesPoolSessionsAlone checks that the clone's session, which
// turns off the binary log and reads in READ COMMITTED, never goes back to
// the caller's pool: a migration using the same pool must write the binary
// log.
func TestMakeLeavesPoolSessionsAlone(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createOrders(t, db, 100)
	db.SetMaxIdleConns(10)
	ctx := context.Background()
	if _, err := Make(ctx, db, detectServer(t, db), Options{Database: dbName, Table: "orders", Alter: "MODIFY qty BIGINT NOT NULL"}); err != nil {
		t.Fatal(err)
	}
	// Hold every connection the pool has at once, so each is looked at.
	idle := db.Stats().Idle
	var conns []interface{ Close() error }
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < idle+1; i++ {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		var logBin int
		var isolation string
		if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.sql_log_bin, @@SESSION.tx_isolation").Scan(&logBin, &isolation); err != nil {
			t.Fatal(err)
		}
		if logBin != 1 || isolation != "REPEATABLE-READ" {
			t.Errorf("a pooled session has sql_log_bin=%d, isolation %s: the clone's session leaked into the pool", logBin, isolation)
		}
	}
}

// TestMakeLongTableName plans a table whose name is as long as the server
// allows, so the clone's name must be cut short.
func TestMakeLongTableName(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	long := strings.Repeat("t", 60) + "_ü`x"
	exec(t, db, "CREATE TABLE "+mysql.QuoteIdent(long)+" (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
	exec(t, db, "INSERT INTO "+mysql.QuoteIdent(long)+" VALUES (1, 1), (2, 2)")
	before := takeSnapshot(t, db, dbName, long)
	p, err := Make(context.Background(), db, detectServer(t, db), Options{Database: dbName, Table: long, Alter: "MODIFY v BIGINT"})
	if err != nil {
		t.Fatal(err)
	}
	before.assertSame(t, takeSnapshot(t, db, dbName, long))
	if p.Native.Algorithm != mysql.AlgorithmCopy || p.Estimate == nil || !p.Estimate.Measured || p.Estimate.Rows != 2 {
		t.Errorf("native %+v, estimate %+v", p.Native, p.Estimate)
	}
}

// TestMakePartitionedTable plans a change of a partitioned table, which the
// old TEMPORARY-table dry run could not try.
func TestMakePartitionedTable(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE events (id INT NOT NULL PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB PARTITION BY HASH (id) PARTITIONS 4")
	exec(t, db, "INSERT INTO events SELECT seq, seq FROM seq_1_to_500")
	before := takeSnapshot(t, db, dbName, "events")
	p, err := Make(context.Background(), db, detectServer(t, db), Options{Database: dbName, Table: "events", Alter: "MODIFY v BIGINT NOT NULL"})
	if err != nil {
		t.Fatal(err)
	}
	before.assertSame(t, takeSnapshot(t, db, dbName, "events"))
	if p.Size.Partitions != 4 || !strings.Contains(strings.Join(p.Notes, " "), "4 partitions") {
		t.Errorf("partitions %d, notes %q", p.Size.Partitions, p.Notes)
	}
	if p.Native.Algorithm != mysql.AlgorithmCopy || p.Estimate == nil || p.Estimate.Rows != 500 {
		t.Errorf("native %+v, estimate %+v", p.Native, p.Estimate)
	}
}

// TestNoteSetEmptyMember: a copy that changes the definition of a SET
// with an empty member is noted, since a change of definition copies the
// values by name, which drop that member; a SET that keeps its
// definition, or has no empty member, is not.
func TestNoteSetEmptyMember(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE tags (id INT NOT NULL PRIMARY KEY, s SET('','a') NOT NULL, k SET('','a') NOT NULL, u SET('a','b') NOT NULL, v INT NOT NULL)")
	exec(t, db, "INSERT INTO tags VALUES (1, 1, 1, 'a', 1), (2, 3, 3, 'b', 2)")
	p, err := Make(context.Background(), db, detectServer(t, db), Options{Database: dbName, Table: "tags", Alter: "MODIFY s SET('','a','b') NOT NULL, MODIFY v BIGINT NOT NULL"})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(p.Notes, " ")
	if !strings.Contains(notes, "Column `s` is a SET with an empty member and becomes `s` set('','a','b')") || strings.Contains(notes, "`k`") || strings.Contains(notes, "`u`") {
		t.Errorf("notes %q: want one of column s only", p.Notes)
	}
}
