package migrate

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/plan"
	"github.com/tailor-osc/tailor/internal/preflight"
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

func TestReplicasMayFollow(t *testing.T) {
	check := func(status preflight.Status, msg string, details ...string) *plan.Plan {
		return &plan.Plan{Checks: []preflight.Check{{Name: preflight.CheckReplicas, Status: status, Message: msg, Details: details}}}
	}
	tests := []struct {
		name     string
		plan     *plan.Plan
		replicas []string
		defer_   bool
	}{
		{"none seen", check(preflight.Pass, preflight.NoReplicasMessage), nil, true},
		{"one replica", check(preflight.Pass, "replica 10.0.0.2:3306, 0 s behind", "replica 10.0.0.2:3306, 0 s behind"), nil, false},
		{"cannot tell", check(preflight.Warn, "tailor cannot tell whether replicas are attached: ..."), nil, false},
		{"none seen, some sessions unseen", check(preflight.Pass, preflight.NoReplicasMessage+"; the account may not read whether this server is itself a replica"), nil, false},
		{"named replicas", check(preflight.Pass, preflight.NoReplicasMessage), []string{"10.0.0.2:3306"}, false},
		{"no check", &plan.Plan{}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why := replicasMayFollow(tt.plan, Config{ThrottleControlReplicas: tt.replicas})
			if (why == "") != tt.defer_ {
				t.Errorf("replicasMayFollow() = %q, want deferring %v", why, tt.defer_)
			}
		})
	}
}
