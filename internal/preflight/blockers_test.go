package preflight

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// TestBlockersFromPerformanceSchema runs a server of its own with
// performance_schema and its metadata lock instrument on, as MySQL 8.0 has
// them by default: then the waiting sessions, too, are known exactly.
func TestBlockersFromPerformanceSchema(t *testing.T) {
	sandbox.Need(t, sbx)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	own, err := sandbox.Start(ctx, sandbox.Options{
		ExtraArgs: []string{"--performance-schema=ON", "--performance-schema-instrument=wait/lock/metadata/sql/mdl=ON"},
		Log:       func(s string) { t.Log(s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	db, err := own.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY)", "CREATE TABLE shop.other (id INT PRIMARY KEY)"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	var holderID, waiterID int64
	if err := holder.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&holderID); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"START TRANSACTION", "SELECT COUNT(*) FROM shop.orders"} {
		if _, err := holder.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	waiter, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
	if err := waiter.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&waiterID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		// RENAME takes `other` at once and waits for `orders`: only the
		// wait on `orders` is a blocker of `orders`.
		_, err := waiter.ExecContext(ctx, "RENAME TABLE shop.other TO shop.other2, shop.orders TO shop.orders2")
		done <- err
	}()
	defer func() {
		_, _ = holder.ExecContext(context.Background(), "ROLLBACK")
		if err := <-done; err != nil {
			t.Errorf("the waiting RENAME: %v", err)
		}
	}()
	time.Sleep(1200 * time.Millisecond)

	r, err := Blockers(ctx, db, "shop", "orders", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Exact || r.Note != "" {
		t.Errorf("Exact %v, note %q; want exact and nothing hidden", r.Exact, r.Note)
	}
	orders := mysql.QuoteTable("shop", "orders")
	if s, ok := sessionIn(r, holderID); !ok || s.Lock != "holds SHARED_READ on "+orders {
		t.Errorf("the holder among the blockers: %+v", r.Sessions)
	}
	if s, ok := sessionIn(r, waiterID); !ok || !s.Waiting || !strings.Contains(s.Lock, "waits for EXCLUSIVE on "+orders) {
		t.Errorf("the waiter among the blockers: %+v", r.Sessions)
	}
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	c, err := checkLongTransactions(ctx, Input{DB: db, Server: server, Database: "shop", Table: "orders", LongTransaction: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckLongTransactions, Warn, "2 sessions hold or wait for a metadata lock on `orders`, which could make the change wait")
}
