package throttle

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// TestReplicaLag watches a replica found on the primary (SHOW SLAVE HOSTS)
// through a stopped applier, then through real lag with both threads
// running, which Seconds_Behind_Master would not show.
func TestReplicaLag(t *testing.T) {
	sandbox.Need(t, sbx)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	replica, err := sandbox.StartReplica(ctx, sbx, sandbox.Options{Log: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()
	rdb, err := replica.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	// Created after the replica started, so that it replicates.
	db, dbName := sbx.NewDatabase(t)
	addr := "127.0.0.1:" + strconv.Itoa(replica.Port)

	cfg, _ := baseConfig(t, db, dbName)
	cfg.Replicas = nil // found on the primary
	cfg.MaxLag = 500 * time.Millisecond
	th := start(t, cfg)
	waitFree(t, th)
	if s := th.State(); len(s.Replicas) != 1 || s.Replicas[0].Addr != addr || s.Replicas[0].Health != HealthOK || !s.Replicas[0].LagKnown {
		t.Fatalf("replicas = %+v, want %s found and healthy", s.Replicas, addr)
	}

	// A stopped applier: the reason is the stopped thread, which says more
	// than the lag that grows behind it.
	if _, err := rdb.ExecContext(ctx, "STOP SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	throttledFor(t, th, "replica "+addr+" replication stopped (Slave_SQL_Running: No)")
	waitBlocks(t, th)
	if h := th.State().Replicas[0].Health; h != HealthStopped {
		t.Errorf("health = %q, want %q", h, HealthStopped)
	}
	if _, err := rdb.ExecContext(ctx, "START SLAVE"); err != nil {
		t.Fatal(err)
	}
	waitFree(t, th)
	wantReasons(t, th)

	// Real lag: a session on the replica holds the heartbeat row, so the
	// applier waits on it while both threads run. The throttler's
	// consistent read still sees the old beat.
	if err := replica.SyncWith(ctx, sbx); err != nil {
		t.Fatal(err)
	}
	tx, err := rdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // rolled back below; this is for a failure
	var micros int64
	if err := tx.QueryRowContext(ctx, "SELECT micros FROM "+mysql.QuoteTable(dbName, hbTable)+" WHERE id = 1 FOR UPDATE").Scan(&micros); err != nil {
		t.Fatal(err)
	}
	reason := throttledFor(t, th, "replica "+addr+" lag ")
	if !strings.HasSuffix(reason, " > 500ms") {
		t.Errorf("reason %q does not give the limit", reason)
	}
	waitBlocks(t, th)
	s := th.State()
	if r := s.Replicas[0]; r.Health != HealthLagging || r.Lag <= 500*time.Millisecond {
		t.Errorf("replica state = %+v, want lagging over 500ms", r)
	}

	// The limit changes the verdict at once, on the last measurement.
	th.SetMaxLag(time.Hour)
	wantReasons(t, th)
	th.SetMaxLag(500 * time.Millisecond)
	if !th.State().Throttled {
		t.Fatalf("back to 500ms with the replica lagging, not throttled: %+v", th.State())
	}

	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	waitFree(t, th)
	if secs := th.ThrottledSeconds()[KindLag]; secs < 2*blockTime.Seconds() {
		t.Errorf("ThrottledSeconds[lag] = %v, want at least %v", secs, 2*blockTime.Seconds())
	}

	// Close drops the heartbeat table on the primary, and so on the
	// replica.
	th.cancel()
	if err := th.runResult(t); err != nil {
		t.Fatal(err)
	}
	if err := th.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := replica.SyncWith(ctx, sbx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", dbName, hbTable).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("heartbeat table still on the replica after Close")
	}
	if err := th.Wait(ctx); err != ErrStopped {
		t.Errorf("Wait after Run ended = %v, want ErrStopped", err)
	}
}

// TestUnreachableReplica names a replica where nothing listens.
func TestUnreachableReplica(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	addr := fmt.Sprintf("127.0.0.1:%d", sandbox.ClosedPort(t))

	cfg, _ := baseConfig(t, db, dbName)
	cfg.Replicas = []string{addr}
	th := start(t, cfg)
	got := throttledFor(t, th, "replica "+addr+" unreachable (")
	if !strings.Contains(got, "connection refused") {
		t.Errorf("reason %q does not say why", got)
	}
	waitBlocks(t, th)
	s := th.State()
	if i := slices.IndexFunc(s.Replicas, func(r ReplicaState) bool { return r.Addr == addr }); i < 0 || s.Replicas[i].Health != HealthUnreachable {
		t.Errorf("replicas = %+v, want %s unreachable", s.Replicas, addr)
	}
	// Reasons add up: a pause on top of the replica shows both.
	th.Pause("")
	if r := th.State().Reasons; len(r) != 2 || r[0] != "paused by the operator" {
		t.Errorf("reasons = %q, want the pause and the replica", r)
	}
}
