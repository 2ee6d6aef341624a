package migrate

import (
	"context"
	"strings"
	"testing"
)

// TestLossyChangeStopsWithKey: rounding a DECIMAL is only a note even in
// strict mode, so the server would store 1.2 for 1.25 without an error. The
// narrowing check refuses such a change up front; a row that arrives after
// the check must still be caught by the copy, which sees the note and
// stops, naming the row, and leaves the original untouched with no shadow
// behind.
func TestLossyChangeStopsWithKey(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	mustExec(t, db, "CREATE TABLE prices (id INT PRIMARY KEY, amount DECIMAL(8,2) NOT NULL)")
	mustExec(t, db, "INSERT INTO prices VALUES (1, 1.00), (2, 2.50), (3, 1.25), (4, 9.00)")
	before := checksum(t, db, dbName, "prices")
	_, err := runMigration(context.Background(), t, testConfig(t, dbName, "prices", "MODIFY amount DECIMAL(8,1) NOT NULL"))
	wantKind(t, err, KindInvalid, "narrowing", "amount", "DECIMAL(8,1)")

	mustExec(t, db, "UPDATE prices SET amount = 1.30 WHERE id = 3")
	before = checksum(t, db, dbName, "prices")
	cfg := testConfig(t, dbName, "prices", "MODIFY amount DECIMAL(8,1) NOT NULL")
	cfg.testHooks = &testHooks{afterPlan: func() {
		mustExec(t, db, "UPDATE prices SET amount = 1.25 WHERE id = 3")
		before = checksum(t, db, dbName, "prices")
	}}
	_, err = runMigration(context.Background(), t, cfg)
	if err == nil {
		t.Fatal("a migration that rounds 1.25 succeeded")
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "id=3") || !strings.Contains(err.Error(), "1265") {
		t.Errorf("error does not name the row id=3 and the server's note: %v", err)
	}
	if checksum(t, db, dbName, "prices") != before {
		t.Error("the original changed")
	}
	if got := tablesIn(t, db, dbName); strings.Join(got, ",") != "prices" {
		t.Errorf("tables left behind: %v", got)
	}
}
