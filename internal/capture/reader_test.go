package capture

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

func TestReaderTransactions(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	exec(t, db,
		"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))",
		"CREATE TABLE other (id INT PRIMARY KEY)",
		"CREATE TABLE plain (id INT PRIMARY KEY) ENGINE=MyISAM")
	r := startReader(t, db, name, "t")
	ctx := context.Background()

	// Two statements on t and one on another table in one transaction.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, tx,
		"INSERT INTO t VALUES (1, 'a'), (2, 'b')",
		"INSERT INTO other VALUES (1)",
		"UPDATE t SET v = 'c' WHERE id = 2")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	b := r.next(t)
	want := []Change{
		{Kind: Insert, After: []any{int64(1), Text("a")}},
		{Kind: Insert, After: []any{int64(2), Text("b")}},
		{Kind: Update, Before: []any{int64(2), Text("b")}, After: []any{int64(2), Text("c")}},
	}
	if !reflect.DeepEqual(b.Changes, want) {
		t.Errorf("changes = %#v, want %#v", b.Changes, want)
	}

	// A rolled-back transaction produces nothing, also when a
	// non-transactional table in it makes the server log part of it.
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, tx, "INSERT INTO t VALUES (3, 'rolled back')", "INSERT INTO plain VALUES (1)", "DELETE FROM t WHERE id = 1")
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	exec(t, db, "INSERT INTO other VALUES (2)", "DELETE FROM t WHERE id = 1")
	b = r.next(t)
	want = []Change{{Kind: Delete, Before: []any{int64(1), Text("a")}}}
	if !reflect.DeepEqual(b.Changes, want) {
		t.Errorf("after rollback: changes = %#v, want %#v", b.Changes, want)
	}
	// Progress is recorded right after the send.
	deadline := time.Now().Add(5 * time.Second)
	for {
		pos, sent := r.reader.Progress()
		if pos.Compare(b.End) >= 0 {
			if sent != 2 {
				t.Errorf("progress %v with sent=%d, want 2", pos, sent)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress %v did not reach the batch end %v", pos, b.End)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReaderPrimaryKeyUpdate(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 10)")
	r := startReader(t, db, name, "t")
	exec(t, db, "UPDATE t SET id = 18446744073709551615 WHERE id = 1")
	b := r.next(t)
	want := []Change{{Kind: Update, Before: []any{uint64(1), int64(10)}, After: []any{uint64(18446744073709551615), int64(10)}}}
	if !reflect.DeepEqual(b.Changes, want) {
		t.Errorf("changes = %#v, want %#v", b.Changes, want)
	}
}

func TestReaderXA(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	r := startReader(t, db, name, "t")
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec(t, conn, "XA START 'x1'", "INSERT INTO t VALUES (1)", "XA END 'x1'", "XA PREPARE 'x1'")
	exec(t, db, "INSERT INTO t VALUES (2)")
	if b := r.next(t); !reflect.DeepEqual(b.Changes, []Change{{Kind: Insert, After: []any{int64(2)}}}) {
		t.Errorf("first batch = %#v, want the insert of 2", b.Changes)
	}
	exec(t, conn, "XA COMMIT 'x1'")
	if b := r.next(t); !reflect.DeepEqual(b.Changes, []Change{{Kind: Insert, After: []any{int64(1)}}}) {
		t.Errorf("second batch = %#v, want the XA insert of 1", b.Changes)
	}
}

func TestReaderProgress(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)", "CREATE TABLE other (id INT PRIMARY KEY)")
	r := startReader(t, db, name, "t")
	ctx := context.Background()
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}

	// Watch (pos, sent) while batches flow: whenever pos has reached a
	// batch's End, that batch must be counted in sent.
	type observation struct {
		pos  Position
		sent uint64
	}
	var (
		mu   sync.Mutex
		seen []observation
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			pos, sent := r.reader.Progress()
			mu.Lock()
			seen = append(seen, observation{pos, sent})
			mu.Unlock()
			time.Sleep(100 * time.Microsecond)
		}
	})
	var ends []Position
	for i := 1; i <= 20; i++ {
		exec(t, db, "INSERT INTO other VALUES ("+strconv.Itoa(i)+")", "INSERT INTO t VALUES ("+strconv.Itoa(i)+")")
		ends = append(ends, r.next(t).End)
	}

	// Writes to another table only: Progress still reaches the server's
	// position, and an idle server's heartbeats keep it there.
	for i := 100; i < 110; i++ {
		exec(t, db, "INSERT INTO other VALUES ("+strconv.Itoa(i)+")")
	}
	target, err := CurrentPosition(ctx, db, server)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pos, sent := r.reader.Progress()
		if pos.Compare(target) >= 0 {
			if sent != 20 {
				t.Errorf("sent = %d, want 20", sent)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress %v did not reach %v within 5s", pos, target)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	for _, o := range seen {
		reached := uint64(0)
		for _, e := range ends {
			if e.Compare(o.pos) <= 0 {
				reached++
			}
		}
		if reached > o.sent {
			t.Fatalf("progress %v with sent=%d, but %d batches end at or before it", o.pos, o.sent, reached)
		}
	}
}

func TestReaderDDL(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)", "CREATE TABLE `_t_new` (id INT PRIMARY KEY)")
	r := startReader(t, db, name, "t")
	exec(t, db,
		"ALTER TABLE `_t_new` ADD COLUMN t INT",
		"CREATE TABLE `_t_old` LIKE t",
		"DROP TABLE `_t_old`",
		"INSERT INTO t VALUES (1)")
	if b := r.next(t); len(b.Changes) != 1 {
		t.Fatalf("batch = %+v, want the insert", b)
	}
	exec(t, db, "ALTER TABLE t ADD COLUMN x INT")
	err := r.stopped(t)
	var ddl *DDLError
	if !errors.As(err, &ddl) || ddl.Statement != "ALTER TABLE t ADD COLUMN x INT" {
		t.Fatalf("Run = %v, want a DDLError", err)
	}
	t.Log(err)
	if want := "table " + name + ".t was changed by DDL during the migration: ALTER TABLE t ADD COLUMN x INT"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestReaderCancel(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	db, name := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	ctx := context.Background()
	tbl, err := schema.Load(ctx, db, name, "t")
	if err != nil {
		t.Fatal(err)
	}
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	start, err := CurrentPosition(ctx, db, server)
	if err != nil {
		t.Fatal(err)
	}
	// Over the unix socket this time, with nobody reading out: Run is
	// blocked sending a batch when the context ends.
	conn := sbx.Conn(name)
	conn.Socket = sbx.Socket
	reader := NewReader(ReaderConfig{Conn: conn, Server: server, Table: tbl})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- reader.Run(runCtx, start, make(chan Batch)) }()
	exec(t, db, "INSERT INTO t VALUES (1)")
	time.Sleep(500 * time.Millisecond)
	began := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
		if d := time.Since(began); d > time.Second {
			t.Errorf("Run took %s to return after cancel", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
	db.Close()
}

func TestReaderPositionGone(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	ctx := context.Background()
	tbl, err := schema.Load(ctx, db, name, "t")
	if err != nil {
		t.Fatal(err)
	}
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	r := startReaderAt(t, ReaderConfig{Conn: sbx.Conn(name), Server: server, Table: tbl}, Position{"binlog.999999", 4})
	if err := r.stopped(t); !errors.Is(err, ErrPositionUnavailable) {
		t.Errorf("Run = %v, want ErrPositionUnavailable", err)
	} else {
		t.Log(err)
	}
}

func TestReaderFollowsRotation(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	r := startReader(t, db, name, "t")
	ctx := context.Background()
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, "INSERT INTO t VALUES (1)")
	first := r.next(t)
	exec(t, db, "FLUSH BINARY LOGS", "INSERT INTO t VALUES (2)")
	second := r.next(t)
	if second.End.File == first.End.File || second.End.Compare(first.End) <= 0 {
		t.Errorf("batch ends %v then %v, want the second in a later file", first.End, second.End)
	}
	target, err := CurrentPosition(ctx, db, server)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pos, _ := r.reader.Progress()
		if pos == target {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress %v did not reach %v", pos, target)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReaderBoundaryStopsAtPreparedXA: while an XA transaction that wrote
// the table is prepared and not committed, the reader's boundary, where a
// resumed read may start, stays at the start of its group: its changes
// arrive only with its XA COMMIT, and a read from a later place would never
// see them. A second reader started at that boundary delivers them.
func TestReaderBoundaryStopsAtPreparedXA(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	r := startReader(t, db, name, "t")
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec(t, conn, "XA START 'x2'", "INSERT INTO t VALUES (1)", "XA END 'x2'", "XA PREPARE 'x2'")
	exec(t, db, "INSERT INTO t VALUES (2)")
	second := r.next(t)
	floor := r.reader.XAFloor()
	boundary, _ := r.reader.Boundary()
	if floor.IsZero() || boundary.Compare(floor) > 0 || boundary.Compare(second.End) >= 0 {
		t.Fatalf("boundary %s, XA floor %s, after the batch ending %s: the boundary passed the prepared XA", boundary, floor, second.End)
	}
	tbl, err := schema.Load(ctx, db, name, "t")
	if err != nil {
		t.Fatal(err)
	}
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	resumed := startReaderAt(t, ReaderConfig{Conn: sbx.Conn(name), Server: server, Table: tbl}, boundary)
	if b := resumed.next(t); !reflect.DeepEqual(b.Changes, []Change{{Kind: Insert, After: []any{int64(2)}}}) {
		t.Errorf("resumed reader's first batch = %#v, want the insert of 2", b.Changes)
	}
	exec(t, conn, "XA COMMIT 'x2'")
	for _, rd := range []*running{r, resumed} {
		if b := rd.next(t); !reflect.DeepEqual(b.Changes, []Change{{Kind: Insert, After: []any{int64(1)}}}) {
			t.Errorf("batch after XA COMMIT = %#v, want the XA insert of 1", b.Changes)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !r.reader.XAFloor().IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the XA floor stayed after the XA COMMIT")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
