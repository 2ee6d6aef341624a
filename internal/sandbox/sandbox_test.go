package sandbox

import (
	"context"
	"os"
	"testing"
)

var sbx *Sandbox

func TestMain(m *testing.M) { os.Exit(RunTests(m, &sbx)) }

func TestSandboxHasRowBinlog(t *testing.T) {
	db, _ := sbx.NewDatabase(t)
	ctx := context.Background()
	var logBin, format, image string
	if err := db.QueryRowContext(ctx, "SELECT @@log_bin, @@binlog_format, @@binlog_row_image").Scan(&logBin, &format, &image); err != nil {
		t.Fatal(err)
	}
	if logBin != "1" || format != "ROW" || image != "FULL" {
		t.Fatalf("log_bin=%s binlog_format=%s binlog_row_image=%s, want 1 ROW FULL", logBin, format, image)
	}
	var user string
	if err := db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&user); err != nil {
		t.Fatal(err)
	}
	if user != User+"@%" {
		t.Fatalf("connected as %s", user)
	}
}

// TestRestart restarts a sandbox of its own (the shared one serves other
// tests): the server comes back on the same port with its data, as a new
// process, and a pool that was open before connects again.
func TestRestart(t *testing.T) {
	Need(t, sbx)
	ctx := context.Background()
	own, err := Start(ctx, Options{Log: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	db, err := own.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY) ENGINE=InnoDB", "INSERT INTO d.t VALUES (1), (2)"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	pid, port := own.PID(), own.Port
	if err := own.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if own.PID() == pid || own.Port != port {
		t.Errorf("after the restart: pid %d (was %d), port %d (was %d); want a new process on the same port", own.PID(), pid, own.Port, port)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM d.t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d rows after the restart, want 2", n)
	}
	var uptime string
	var name string
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Uptime'").Scan(&name, &uptime); err != nil {
		t.Fatal(err)
	}
	t.Logf("uptime after the restart: %ss", uptime)
}
