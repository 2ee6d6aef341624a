package capture

import (
	"context"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// TestOnlyTheCapturedTableIsDecoded reads the binary log with the reader's
// own syncer configuration: the rows of another table (the copy's inserts
// into the shadow, in a migration) arrive with their header read and their
// rows left undecoded, the captured table's rows decoded.
func TestOnlyTheCapturedTableIsDecoded(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	exec(t, db,
		"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))",
		"CREATE TABLE shadow (id INT PRIMARY KEY, v VARCHAR(20))")
	cfg, start := readerFromNow(t, db, name, "t")
	exec(t, db,
		"INSERT INTO shadow VALUES (1, 'a'), (2, 'b')",
		"INSERT INTO t VALUES (1, 'a')")

	sc, err := NewReader(cfg).syncerConfig(&dialer{})
	if err != nil {
		t.Fatal(err)
	}
	syncer := replication.NewBinlogSyncer(sc)
	defer syncer.Close()
	stream, err := syncer.StartSync(gomysql.Position{Name: start.File, Pos: start.Pos})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int{}
	readCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(rows) < 2 {
		ev, err := stream.GetEvent(readCtx)
		if err != nil {
			t.Fatalf("read the binary log (rows events seen: %v): %v", rows, err)
		}
		e, ok := ev.Event.(*replication.RowsEvent)
		if !ok || e.Table == nil || string(e.Table.Schema) != name {
			continue
		}
		rows[string(e.Table.Table)] += len(e.Rows)
	}
	if rows["shadow"] != 0 {
		t.Errorf("the other table's rows were decoded: %d rows", rows["shadow"])
	}
	if rows["t"] != 1 {
		t.Errorf("the captured table's rows = %d, want 1", rows["t"])
	}
}

// TestLastOtherWrite shows which rows tell the reader that another session
// writes: the captured table's and any other table's, not those of the
// tables tailor writes itself (OwnTables).
func TestLastOtherWrite(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	exec(t, db,
		"CREATE TABLE t (id INT PRIMARY KEY)",
		"CREATE TABLE t_own (id INT PRIMARY KEY)",
		"CREATE TABLE other (id INT PRIMARY KEY)")
	cfg, start := readerFromNow(t, db, name, "t")
	cfg.OwnTables = []string{"t_own"}
	r := startReaderAt(t, cfg, start)
	server, err := mysql.DetectServer(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	// readPast waits until the reader has read what was written so far.
	readPast := func() {
		t.Helper()
		end, err := CurrentPosition(context.Background(), db, server)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for pos, _ := r.reader.Progress(); pos.Compare(end) < 0; pos, _ = r.reader.Progress() {
			if time.Now().After(deadline) {
				t.Fatalf("the reader is at %v, not past %v", pos, end)
			}
			time.Sleep(time.Millisecond)
		}
	}

	exec(t, db, "INSERT INTO t_own VALUES (1), (2)", "UPDATE t_own SET id = 3 WHERE id = 2")
	readPast()
	if at := r.reader.LastOtherWrite(); !at.IsZero() {
		t.Errorf("tailor's own rows counted as another session's write at %v", at)
	}

	before := time.Now()
	exec(t, db, "INSERT INTO other VALUES (1)")
	readPast()
	if at := r.reader.LastOtherWrite(); at.Before(before) {
		t.Errorf("a row of another table: LastOtherWrite = %v, want after %v", at, before)
	}

	before = time.Now()
	exec(t, db, "INSERT INTO t VALUES (1)")
	r.next(t)
	readPast()
	if at := r.reader.LastOtherWrite(); at.Before(before) {
		t.Errorf("a row of the captured table: LastOtherWrite = %v, want after %v", at, before)
	}
}

// TestOwnAllocatesNothing: own runs for every rows event of the binary log,
// the copy's thousands a second into the shadow included.
func TestOwnAllocatesNothing(t *testing.T) {
	r := NewReader(ReaderConfig{Table: &schema.Table{Database: "shop", Name: "orders"}, OwnTables: []string{"orders_tailor_new", "orders_tailor_hb"}})
	db, own, other := []byte("shop"), []byte("orders_tailor_new"), []byte("orders")
	if !r.own(db, own) || r.own(db, other) || r.own([]byte("other"), own) {
		t.Fatalf("own: shadow %v, captured table %v, shadow's name in another database %v; want true, false, false",
			r.own(db, own), r.own(db, other), r.own([]byte("other"), own))
	}
	if n := testing.AllocsPerRun(100, func() { r.own(db, own); r.own(db, other) }); n != 0 {
		t.Errorf("own allocates %v times a call, want 0", n)
	}
}
