package migrate

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/preflight"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/workload"
)

// TestDeferredIndexes migrates under concurrent writes with each setting of
// DeferIndexes and with indexes that cannot be deferred, and checks which
// indexes the shadow had while the copy ran, that the migrated table equals
// its control table, and that its definition is exactly the one the ALTER
// gives a copy of the original made beforehand.
func TestDeferredIndexes(t *testing.T) {
	const rows = 20_000
	cases := []struct {
		name  string
		mode  string
		extra string // made on the original before the migration
		alter string
		// duringCopy is the shadow's indexes while rows are copied.
		duringCopy string
	}{
		{
			name:  "always, with an added composite index and a unique one",
			mode:  DeferIndexesAlways,
			extra: "ADD UNIQUE KEY uk_legacy (legacy), ADD KEY idx_created_desc (created DESC, status) COMMENT 'newest first'",
			alter: "ADD INDEX idx_status_created (status, created), ADD INDEX idx_note (note(20)), MODIFY amount DECIMAL(14,2) NOT NULL",
			// The unique index stays: the copy relies on it refusing duplicates.
			duringCopy: "PRIMARY,uk_legacy",
		},
		{
			name:       "auto, no replicas, an ignored index",
			mode:       DeferIndexesAuto,
			extra:      "ADD INDEX idx_spare (spare) IGNORED",
			alter:      "MODIFY qty BIGINT UNSIGNED NULL",
			duringCopy: "PRIMARY",
		},
		{
			name:       "never",
			mode:       DeferIndexesNever,
			alter:      "ADD INDEX idx_spare (spare)",
			duringCopy: "PRIMARY,idx_customer,idx_spare",
		},
		{
			name:       "a full-text index keeps them all",
			mode:       DeferIndexesAlways,
			alter:      "ADD FULLTEXT INDEX ft_note (note)",
			duringCopy: "PRIMARY,ft_note,idx_customer",
		},
		{
			name:       "an index on a generated column keeps them all",
			mode:       DeferIndexesAlways,
			alter:      "ADD INDEX idx_cents (amount_cents)",
			duringCopy: "PRIMARY,idx_cents,idx_customer",
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
			if c.extra != "" {
				mustExec(t, db, "ALTER TABLE orders "+c.extra)
			}
			mustExec(t, db, "CREATE TABLE expected LIKE orders")
			mustExec(t, db, "ALTER TABLE expected "+c.alter)
			want := normalizedDefinition(t, db, dbName, "expected")

			cfg := testConfig(t, dbName, "orders", c.alter)
			cfg.DeferIndexes = c.mode
			var once sync.Once
			var during string
			cfg.testHooks = &testHooks{afterChunk: func(int) {
				once.Do(func() { during = indexNames(t, db, dbName, "orders_tailor_new") })
				time.Sleep(20 * time.Millisecond)
			}}
			migrateUnderLoad(ctx, t, db, cfg, workload.Options{Table: "orders", Writers: 4, Rate: 400, InitialRows: rows, Seed: 7}, 200*time.Millisecond)
			if during != c.duringCopy {
				t.Errorf("indexes of the shadow during the copy = %s, want %s", during, c.duringCopy)
			}
			wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
			if got := normalizedDefinition(t, db, dbName, "orders"); got != want {
				t.Errorf("definition after the migration:\n%s\nwant (the ALTER on a copy of the original):\n%s", got, want)
			}
		})
	}
}

// normalizedDefinition is SHOW CREATE TABLE of table without its name and
// its AUTO_INCREMENT option.
func normalizedDefinition(t *testing.T, db *sql.DB, database, table string) string {
	t.Helper()
	def := withoutAutoIncrement(showCreate(t, db, database, table))
	return strings.Replace(def, "`"+table+"`", "`t`", 1)
}

// indexNames lists table's indexes, the primary key first and the others
// by name, comma-separated.
func indexNames(t *testing.T, db *sql.DB, database, table string) string {
	t.Helper()
	rows, err := db.Query("SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? GROUP BY INDEX_NAME ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME", database, table)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Error(err)
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

func TestFollowersReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		f      preflight.Followers
		named  []string
		defer_ bool
	}{
		{"none seen", preflight.Followers{}, nil, true},
		{"readers that are not replicas", preflight.Followers{NotReplicas: []string{"the reader registered as db1:3306 with server id 7 is answered by a server with id 1"}}, nil, true},
		{"one replica", preflight.Followers{Replicas: []string{"10.0.0.2:3306"}}, nil, false},
		{"one that may be a replica", preflight.Followers{Unconfirmed: []string{"10.0.0.2:3306 answers, but refuses tailor's user and password"}}, nil, false},
		{"cannot list them", preflight.Followers{Unlisted: "the account may not run SHOW SLAVE HOSTS"}, nil, false},
		{"named replicas", preflight.Followers{}, []string{"10.0.0.2:3306"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			why := followersReason(tt.f, tt.named)
			if (why == "") != tt.defer_ {
				t.Errorf("followersReason() = %q, want deferring %v", why, tt.defer_)
			}
		})
	}
}

// TestIndexDeferralCountsOnlyReplicas migrates with DeferIndexes auto
// beside a binary log reader that registers as a replica at an address
// where no server answers, as a change-data-capture tool may: the indexes
// are still deferred. Beside a real replica they are built during the copy.
// It is not parallel: every migration on the sandbox would see the replica.
func TestIndexDeferralCountsOnlyReplicas(t *testing.T) {
	sandbox.Need(t, sbx)
	ctx := context.Background()
	during := func(what string) string {
		t.Helper()
		db, dbName := sbx.NewDatabase(t)
		if err := workload.Create(ctx, db, "orders", 2_000); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(t, dbName, "orders", "MODIFY qty BIGINT UNSIGNED NULL")
		cfg.DeferIndexes = DeferIndexesAuto
		var once sync.Once
		var indexes string
		cfg.testHooks = &testHooks{afterChunk: func(int) {
			once.Do(func() { indexes = indexNames(t, db, dbName, "orders_tailor_new") })
		}}
		if _, err := runMigration(ctx, t, cfg); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return indexes
	}

	reader, err := sbx.StartBinlogReader(ctx, "127.0.0.2", 4101)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := reader.Stop(); err != nil {
			t.Error(err)
		}
	}()
	if got := during("beside a binary log reader"); got != "PRIMARY" {
		t.Errorf("beside a binary log reader, the shadow's indexes during the copy = %s, want PRIMARY (deferred)", got)
	}

	replica, err := sandbox.StartReplica(ctx, sbx, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()
	if got := during("beside a replica"); got != "PRIMARY,idx_customer" {
		t.Errorf("beside a replica, the shadow's indexes during the copy = %s, want PRIMARY,idx_customer (built during the copy)", got)
	}
}
