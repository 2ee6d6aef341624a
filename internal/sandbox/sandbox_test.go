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
