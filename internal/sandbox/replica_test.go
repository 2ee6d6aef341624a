package sandbox

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

func TestStartReplica(t *testing.T) {
	Need(t, sbx)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Created before the replica starts, so the replica lacks it.
	before, beforeName := sbx.NewDatabase(t)
	if _, err := before.ExecContext(ctx, "CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	replica, err := StartReplica(ctx, sbx, Options{ExtraArgs: []string{"--read-only"}, Log: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()

	primary, err := sbx.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close()
	// SHOW SLAVE HOSTS on the primary names the replica by the address it
	// can be reached at.
	hosts, err := mysql.ShowRows(ctx, primary, "SHOW SLAVE HOSTS")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, h := range hosts {
		if h["host"] == "127.0.0.1" && h["port"] == strconv.Itoa(replica.Port) {
			found = true
		}
	}
	if !found {
		t.Fatalf("SHOW SLAVE HOSTS = %v, want 127.0.0.1:%d", hosts, replica.Port)
	}

	name := "t_replica_" + strconv.Itoa(replica.Port)
	defer primary.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+mysql.QuoteIdent(name)) //nolint:errcheck // best effort
	for _, q := range []string{
		"CREATE DATABASE " + mysql.QuoteIdent(name),
		"CREATE TABLE " + mysql.QuoteTable(name, "t") + " (id INT PRIMARY KEY)",
		"INSERT INTO " + mysql.QuoteTable(name, "t") + " VALUES (1), (2), (3)",
	} {
		if _, err := primary.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := replica.SyncWith(ctx, sbx); err != nil {
		t.Fatal(err)
	}
	rdb, err := replica.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	var n, serverID, readOnly int
	if err := rdb.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM "+mysql.QuoteTable(name, "t")+"), @@server_id, @@read_only").Scan(&n, &serverID, &readOnly); err != nil {
		t.Fatal(err)
	}
	if n != 3 || serverID == 1 || readOnly != 1 {
		t.Fatalf("replica has %d rows, server_id %d, read_only %d; want 3 rows, an id other than the primary's 1, read_only 1", n, serverID, readOnly)
	}

	// A second replica gets an id of its own; a taken one is refused.
	if _, err := StartReplica(ctx, sbx, Options{ServerID: serverID}); err == nil {
		t.Fatal("StartReplica with the first replica's server id did not fail")
	}

	// After STOP SLAVE and START SLAVE, WaitReplicating sees both threads again.
	for _, q := range []string{"STOP SLAVE", "START SLAVE"} {
		if _, err := rdb.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := replica.WaitReplicating(ctx); err != nil {
		t.Fatal(err)
	}

	// A write the replica cannot apply stops its SQL thread, and SyncWith
	// says so at once instead of waiting out its time.
	if _, err := before.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = replica.SyncWith(ctx, sbx)
	if err == nil || !strings.Contains(err.Error(), "SQL thread stopped") || !strings.Contains(err.Error(), beforeName) || time.Since(start) > 10*time.Second {
		t.Fatalf("SyncWith after a failing write = %v after %s, want the SQL thread's error at once", err, time.Since(start))
	}
}
