package migrate

import (
	"context"
	"testing"

	"github.com/tailor-osc/tailor/internal/workload"
)

// TestChooseThreads: left to tailor, the copy uses 4 threads, or the
// server's CPU count when it has fewer; a count given is kept.
func TestChooseThreads(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", 10); err != nil {
		t.Fatal(err)
	}
	var cpus int
	if err := db.QueryRow("SELECT @@thread_pool_size").Scan(&cpus); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ given, want int }{{0, min(DefaultThreads, cpus)}, {3, 3}} {
		cfg := testConfig(t, dbName, "orders", "ADD COLUMN x INT NULL")
		cfg.Execute, cfg.Threads = false, tt.given
		r, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if r.cfg.Threads != tt.want {
			t.Errorf("threads %d on a server with %d CPUs: chose %d, want %d", tt.given, cpus, r.cfg.Threads, tt.want)
		}
	}
}
