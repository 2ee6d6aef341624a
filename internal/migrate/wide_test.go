package migrate

import (
	"context"
	"sync"
	"testing"
	"time"
)

// One transaction of the application changes every row of a table whose
// rows are wide (10,000 rows of 2,000-byte texts, 20 MB of after images),
// in the middle of a copy that also writes a new column's 2,000-byte
// default computed once (a zone that is not UTC's has it so): the applier
// must write them in statements the server accepts (max_allowed_packet
// is 16 MB by default), and finish. With the default repeated as a
// literal in every row of its INSERTs, it never did.
func TestWideBulkUpdateApplied(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mustExec(t, db, "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, doc TEXT NOT NULL) ENGINE=InnoDB")
	mustExec(t, db, "INSERT INTO t SELECT seq, REPEAT('x', 2000) FROM seq_1_to_10000")
	cfg := testConfig(t, dbName, "t", "ADD COLUMN wide VARCHAR(2000) NOT NULL DEFAULT (LPAD('a', 2000, 'a'))")
	cfg.ChunkSize, cfg.TimeZone = 500, "+02:00"
	var once sync.Once
	cfg.testHooks = &testHooks{afterChunk: func(int) {
		once.Do(func() { mustExec(t, db, "UPDATE t SET doc = REPEAT('y', 2000)") })
	}}
	res, err := runMigration(ctx, t, cfg)
	if err != nil {
		t.Fatalf("migration failed: %v", err)
	}
	var wrong int
	if err := db.QueryRow("SELECT COUNT(*) FROM t WHERE doc <> REPEAT('y', 2000) OR wide <> LPAD('a', 2000, 'a')").Scan(&wrong); err != nil {
		t.Fatal(err)
	}
	if wrong != 0 || res.EventsApplied < 10000 {
		t.Errorf("%d rows without the update or the default, %d events applied", wrong, res.EventsApplied)
	}
}
