package migrate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/workload"
)

// TestOnlineAlterUnderLoad migrates a 100,000-row table while writers
// insert, update (the primary key too, and to NULLs) and delete through the
// whole run, each write recorded in the same transaction in a control table
// that is not migrated. After the cut-over the migrated table must equal the
// control table row by row.
func TestOnlineAlterUnderLoad(t *testing.T) {
	const rows = 100_000
	cases := []struct {
		name    string
		alter   string
		skip    []string          // control columns not in the migrated table
		renames map[string]string // control column → migrated column
		check   string            // text the new definition must hold
	}{
		{name: "add column", alter: "ADD COLUMN refunded_at DATETIME(6) NULL AFTER amount", check: "`refunded_at` datetime(6)"},
		{name: "drop column", alter: "DROP COLUMN legacy", skip: []string{"legacy"}},
		{name: "rename column", alter: "RENAME COLUMN spare TO spare_count", renames: map[string]string{"spare": "spare_count"}, check: "`spare_count`"},
		{name: "change type", alter: "MODIFY amount DECIMAL(14,2) NOT NULL, MODIFY qty BIGINT UNSIGNED NULL", check: "`qty` bigint(20) unsigned"},
		{name: "add index", alter: "ADD INDEX idx_status_created (status, created)", check: "KEY `idx_status_created`"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			db.SetMaxOpenConns(20)
			ctx := context.Background()
			if err := workload.Create(ctx, db, "orders", rows); err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(t, dbName, "orders", c.alter)
			// Four workers and an adaptive chunk size, as in production.
			cfg.Threads, cfg.ChunkTime = 4, 20*time.Millisecond
			// Spread the copy over a few seconds so that many writes land in
			// ranges already copied, being copied, and not yet copied.
			cfg.testHooks = &testHooks{afterChunk: func(int) { time.Sleep(100 * time.Millisecond) }}
			res, stats := migrateUnderLoad(ctx, t, db, cfg, workload.Options{Table: "orders", Writers: 4, Rate: 800, InitialRows: rows, Seed: 42}, 300*time.Millisecond)
			t.Logf("copied %d rows, applied %d events, writes held %s; load: %d tx (%d inserts, %d updates, %d key updates, %d deletes), %d retries, %d errors, longest %s",
				res.RowsCopied, res.EventsApplied, res.CutOverLock, stats.Transactions, stats.Inserts, stats.Updates, stats.KeyUpdates, stats.Deletes, stats.Retries, stats.Errors, stats.LongestStall)
			if stats.KeyUpdates == 0 || stats.Deletes == 0 || stats.Inserts == 0 {
				t.Errorf("the load did not exercise every kind of write: %+v", stats)
			}
			wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(c.skip, c.renames))
			def := showCreate(t, db, dbName, "orders")
			if c.check != "" && !strings.Contains(def, c.check) {
				t.Errorf("new definition lacks %q:\n%s", c.check, def)
			}
			if got := tablesIn(t, db, dbName); strings.Join(got, ",") != "orders,orders_control,orders_tailor_old,orders_tailor_state" {
				t.Errorf("tables after the migration = %v", got)
			}
		})
	}
}
