package migrate

import (
	"context"
	"testing"
)

// TestViewIsNamed: --table naming a view is refused as a view, not as a
// table that does not exist.
func TestViewIsNamed(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createTable(t, db, "t", 10)
	mustExec(t, db, "CREATE VIEW v AS SELECT id, name FROM t")
	_, err := runMigration(context.Background(), t, testConfig(t, dbName, "v", "ADD COLUMN x INT NULL"))
	wantKind(t, err, KindInvalid, "`v`", "is a view, not a table")

	_, err = runMigration(context.Background(), t, testConfig(t, dbName, "nothing", "ADD COLUMN x INT NULL"))
	wantKind(t, err, KindInvalid, "table `nothing` does not exist")
}
