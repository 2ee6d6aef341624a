package capture

import (
	"context"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
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
