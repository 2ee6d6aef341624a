package migrate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/workload"
)

// TestPrimaryKeyChangesUnderLoad migrates primary-key changes while writers
// insert, update (the primary key too, and columns the new key adds) and
// delete, each write recorded in the same transaction in a control table.
// The copy matches rows by a key of the original that the new table keeps
// as the first columns of a unique key; the migrated table must equal the
// control table row by row.
func TestPrimaryKeyChangesUnderLoad(t *testing.T) {
	const rows = 20_000
	cases := []struct {
		name  string
		setup []string // run on the table before the migration
		alter string
		// key is the original's key the copy walks; checks are texts the
		// new definition must hold.
		key    string
		checks []string
		// revertible: the new table keeps a key the old one has, the way
		// back (a primary key that gained a column keeps none).
		revertible bool
	}{
		{
			name:   "primary key gains a column",
			alter:  "DROP PRIMARY KEY, ADD PRIMARY KEY (id, created)",
			key:    "PRIMARY",
			checks: []string{"PRIMARY KEY (`id`,`created`)"},
		},
		{
			name:   "key column widened and gains a column",
			setup:  []string{"ALTER TABLE orders MODIFY id INT NOT NULL"},
			alter:  "MODIFY id BIGINT NOT NULL, DROP PRIMARY KEY, ADD PRIMARY KEY (id, status)",
			key:    "PRIMARY",
			checks: []string{"`id` bigint(20) NOT NULL", "PRIMARY KEY (`id`,`status`)"},
		},
		{
			// gh-ost's "shared unique key": the primary key goes, a NOT NULL
			// unique key (over a string column whose collation equates
			// different bytes) stays and identifies rows in both tables.
			name:       "primary key replaced while a unique key stays",
			setup:      []string{"ALTER TABLE orders ADD UNIQUE KEY customer_id (customer, id)"},
			alter:      "DROP PRIMARY KEY, ADD PRIMARY KEY (created, id)",
			key:        "customer_id",
			checks:     []string{"PRIMARY KEY (`created`,`id`)", "UNIQUE KEY `customer_id` (`customer`,`id`)"},
			revertible: true,
		},
		{
			name:       "primary key added beside a unique key",
			setup:      []string{"ALTER TABLE orders DROP PRIMARY KEY, ADD UNIQUE KEY uid (id)"},
			alter:      "DROP INDEX uid, ADD PRIMARY KEY (id)",
			key:        "uid",
			checks:     []string{"PRIMARY KEY (`id`)"},
			revertible: true,
		},
		{
			name:       "surrogate AUTO_INCREMENT primary key added beside a unique key",
			setup:      []string{"ALTER TABLE orders DROP PRIMARY KEY, ADD UNIQUE KEY uid (id)"},
			alter:      "ADD COLUMN seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY FIRST",
			key:        "uid",
			checks:     []string{"`seq` bigint(20) NOT NULL AUTO_INCREMENT", "PRIMARY KEY (`seq`)", "UNIQUE KEY `uid` (`id`)"},
			revertible: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			db.SetMaxOpenConns(20)
			ctx := context.Background()
			if err := workload.Create(ctx, db, "orders", rows); err != nil {
				t.Fatal(err)
			}
			for _, q := range c.setup {
				mustExec(t, db, q)
			}
			cfg := testConfig(t, dbName, "orders", c.alter)
			cfg.Threads, cfg.ChunkSize = 4, 500
			// Spread the copy over a few seconds so that writes land in
			// ranges already copied, being copied, and not yet copied.
			cfg.testHooks = &testHooks{afterChunk: func(int) { time.Sleep(60 * time.Millisecond) }}
			// The load runs until the migration ends, so it must stay
			// below what the applier applies on a slow, busy machine.
			// When a key with a text column in a collation that equates
			// different bytes was applied change by change, with the race
			// detector and two busy loops beside it, that was 256 to 512
			// changes a second, and with 600 transactions a second two
			// runs of the suite timed out with this migration still in
			// its checksum, whose catch-ups wait for the applier.
			res, stats := migrateUnderLoad(ctx, t, db, cfg, workload.Options{Table: "orders", Writers: 4, Rate: 150, InitialRows: rows, Seed: 7}, 300*time.Millisecond)
			t.Logf("walked %s; copied %d rows, applied %d events; load: %d tx (%d inserts, %d updates, %d key updates, %d deletes), %d errors",
				res.Key, res.RowsCopied, res.EventsApplied, stats.Transactions, stats.Inserts, stats.Updates, stats.KeyUpdates, stats.Deletes, stats.Errors)
			if stats.KeyUpdates == 0 || stats.Updates == 0 || stats.Deletes == 0 || stats.Inserts == 0 {
				t.Errorf("the load did not exercise every kind of write: %+v", stats)
			}
			if res.Key != c.key {
				t.Errorf("the copy walked %s, want %s", res.Key, c.key)
			}
			wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
			def := showCreate(t, db, dbName, "orders")
			for _, want := range c.checks {
				if !strings.Contains(def, want) {
					t.Errorf("new definition lacks %q:\n%s", want, def)
				}
			}
			want := "orders,orders_control,orders_tailor_old"
			if c.revertible {
				want += ",orders_tailor_state" // what tailor revert needs
			}
			if got := tablesIn(t, db, dbName); strings.Join(got, ",") != want || res.Revertible != c.revertible {
				t.Errorf("tables after the migration = %v, revertible %v; want %s", got, res.Revertible, want)
			}
		})
	}
}

// TestPrimaryKeyReplacedRefused: replacing the only key by one on other
// columns leaves no key that matches a change to its row in both tables;
// the plan refuses it, naming the key and what the ALTER does to it, and
// nothing is created.
func TestPrimaryKeyReplacedRefused(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", 500); err != nil {
		t.Fatal(err)
	}
	g := guardTable(t, db, dbName, "orders")
	for _, alter := range []string{
		"DROP PRIMARY KEY, ADD PRIMARY KEY (created)",
		"DROP PRIMARY KEY, ADD PRIMARY KEY (created, id)",
	} {
		_, err := runMigration(ctx, t, testConfig(t, dbName, "orders", alter))
		wantKind(t, err, KindInvalid, "copy-key", "primary key (id) is in no unique key of the new table")
		g.untouched(t, db)
		noLeftovers(t, db, dbName, []string{"orders", "orders_control"})
	}
}
