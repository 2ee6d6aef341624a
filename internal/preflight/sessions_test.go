package preflight

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

func TestNamesTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q, table string
		want     bool
	}{
		{"ALTER TABLE orders ADD COLUMN x INT", "orders", true},
		{"alter table `shop`.`Orders` add x int", "orders", true},
		{"SELECT * FROM shop.orders WHERE 1", "orders", true},
		{"SELECT * FROM orders_archive", "orders", false},
		{"SELECT * FROM old_orders", "orders", false},
		{"SELECT t FROM x", "t", true},
		{"SELECT total FROM x", "t", false},
		{"", "orders", false},
	}
	for _, tt := range tests {
		if got := namesTable(tt.q, tt.table); got != tt.want {
			t.Errorf("namesTable(%q, %q) = %v, want %v", tt.q, tt.table, got, tt.want)
		}
	}
	long := strings.Repeat("x ", 100)
	if got := oneLine("SELECT\n  1,\t" + long); len([]rune(got)) != queryLimit+1 || !strings.HasPrefix(got, "SELECT 1, x x") {
		t.Errorf("oneLine = %q", got)
	}
}

// metadataLockInfo reports whether the METADATA_LOCK_INFO plugin is loaded,
// and loads or unloads it to match want.
func metadataLockInfo(t *testing.T, db *sql.DB, want bool) (was bool) {
	t.Helper()
	ctx := context.Background()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	was = n > 0
	switch {
	case want && !was:
		_, err := db.ExecContext(ctx, "INSTALL SONAME 'metadata_lock_info'")
		if err != nil {
			t.Skipf("the metadata_lock_info plugin cannot be loaded here: %v", err)
		}
	case !want && was:
		if _, err := db.ExecContext(ctx, "UNINSTALL SONAME 'metadata_lock_info'"); err != nil {
			t.Fatal(err)
		}
	}
	return was
}

// session is a connection of its own to the sandbox, as another
// application would hold one.
func session(t *testing.T, dbName string) (*sql.Conn, int64) {
	t.Helper()
	ctx := context.Background()
	db, err := sbx.Open(ctx, dbName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var id int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return conn, id
}

// detailOf is the line of c's details about session id, or "".
func detailOf(c Check, id int64) string {
	for _, d := range c.Details {
		if strings.HasPrefix(d, fmt.Sprintf("session %d ", id)) {
			return d
		}
	}
	return ""
}

func sessionIn(r BlockerReport, id int64) (Session, bool) {
	for _, s := range r.Sessions {
		if s.ID == id {
			return s, true
		}
	}
	return Session{}, false
}

// TestLongTransactions holds a transaction open on the table and makes an
// ALTER wait behind it, and looks at both with and without the
// METADATA_LOCK_INFO plugin and the PROCESS privilege. It is not parallel:
// it loads and unloads a plugin of the shared server.
func TestLongTransactions(t *testing.T) {
	admin, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	for _, q := range []string{"CREATE TABLE orders (id INT PRIMARY KEY, total INT)", "INSERT INTO orders VALUES (1, 10)", "CREATE TABLE other (id INT PRIMARY KEY)"} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	was := metadataLockInfo(t, admin, false)
	t.Cleanup(func() { metadataLockInfo(t, admin, was) })
	server, err := mysql.DetectServer(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{DB: admin, Server: server, Database: dbName, Table: "orders", LongTransaction: time.Second}
	orders := mysql.QuoteTable(dbName, "orders")

	c, err := checkLongTransactions(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckLongTransactions, Pass, "no transaction open longer than 1s and no session waiting for a metadata lock; without the METADATA_LOCK_INFO plugin tailor cannot tell which tables an open transaction has touched (INSTALL SONAME 'metadata_lock_info' would show it)")

	// A transaction that read the table, idle, and an ALTER waiting for it.
	holder, holderID := session(t, dbName)
	if _, err := holder.ExecContext(ctx, "START TRANSACTION"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := holder.QueryRowContext(ctx, "SELECT COUNT(*) FROM orders").Scan(&n); err != nil {
		t.Fatal(err)
	}
	waiter, waiterID := session(t, dbName)
	done := make(chan error, 1)
	go func() {
		_, err := waiter.ExecContext(ctx, "ALTER TABLE orders ADD COLUMN note INT")
		done <- err
	}()
	defer func() {
		_, _ = holder.ExecContext(context.Background(), "ROLLBACK")
		if err := <-done; err != nil {
			t.Errorf("the waiting ALTER: %v", err)
		}
	}()
	time.Sleep(1500 * time.Millisecond)

	c, err = checkLongTransactions(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckLongTransactions, Warn, "transaction", "open longer than 1s", "for a metadata lock", "KILL <id>", "INSTALL SONAME 'metadata_lock_info'")
	if d := detailOf(c, holderID); !strings.Contains(d, "in a transaction open") {
		t.Errorf("details %q: the holder %d is not listed with its transaction", c.Details, holderID)
	}
	if d := detailOf(c, waiterID); !strings.Contains(d, "waits for a metadata lock") || !strings.Contains(d, "ALTER TABLE orders ADD COLUMN note INT") {
		t.Errorf("details %q: the waiter %d is not listed with its statement", c.Details, waiterID)
	}
	r, err := Blockers(ctx, admin, dbName, "orders", 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.Exact || !strings.Contains(r.Note, "METADATA_LOCK_INFO") {
		t.Errorf("without the plugin: Exact %v, note %q", r.Exact, r.Note)
	}
	if s, ok := sessionIn(r, waiterID); !ok || !s.Waiting || s.User != sandbox.User {
		t.Errorf("without the plugin the waiter is not among the blockers: %+v", r.Sessions)
	}
	if _, ok := sessionIn(r, holderID); ok {
		t.Errorf("without the plugin the idle holder cannot be seen, yet it is listed: %+v", r.Sessions)
	}
	if r, err = Blockers(ctx, admin, dbName, "other", 0); err != nil || len(r.Sessions) != 0 {
		t.Errorf("blockers of another table: %+v, %v", r.Sessions, err)
	}

	metadataLockInfo(t, admin, true)
	c, err = checkLongTransactions(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckLongTransactions, Warn, "2 sessions hold or wait for a metadata lock on `orders`")
	if strings.Contains(c.Message, "INSTALL SONAME") {
		t.Errorf("with the plugin loaded the message still asks for it: %q", c.Message)
	}
	if d := detailOf(c, holderID); !strings.Contains(d, "holds SHARED_READ on "+orders) {
		t.Errorf("details %q: the holder %d is not listed with its lock", c.Details, holderID)
	}
	r, err = Blockers(ctx, admin, dbName, "orders", 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Exact || r.Note != "" {
		t.Errorf("with the plugin: Exact %v, note %q", r.Exact, r.Note)
	}
	if s, ok := sessionIn(r, holderID); !ok || s.Waiting || s.Lock != "holds SHARED_READ on "+orders || s.Age < time.Second {
		t.Errorf("the holder among the blockers: %+v", r.Sessions)
	}
	if s, ok := sessionIn(r, waiterID); !ok || !s.Waiting || !strings.Contains(s.Lock, "waits for a metadata lock") {
		t.Errorf("the waiter among the blockers: %+v", r.Sessions)
	}
	if r, err = Blockers(ctx, admin, dbName, "orders", time.Hour); err != nil || len(r.Sessions) != 0 {
		t.Errorf("blockers older than an hour: %+v, %v", r.Sessions, err)
	}

	// Without PROCESS: InnoDB's transactions and other users' sessions are
	// hidden, but the plugin still shows who holds the lock.
	udb := restrictedUser(t, admin, dbName, "tlr_noprocess", "GRANT SELECT ON {db}.* TO {user}")
	c, err = checkLongTransactions(ctx, Input{DB: udb, Server: server, Database: dbName, Table: "orders", LongTransaction: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckLongTransactions, Warn, "without the PROCESS privilege it sees only its own user's sessions and none of InnoDB's transactions")
	if d := detailOf(c, holderID); !strings.HasPrefix(d, fmt.Sprintf("session %d (?, age unknown)", holderID)) || !strings.Contains(d, "holds SHARED_READ") {
		t.Errorf("details %q: the holder %d is not listed as an unknown session holding the lock", c.Details, holderID)
	}

	// Once the transaction ends, the ALTER goes through and nothing is left.
	if _, err := holder.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err // for the deferred check
	case <-time.After(30 * time.Second):
		t.Fatal("the ALTER did not finish after the transaction ended")
	}
	// InnoDB refreshes what INNODB_TRX shows at most every 0.1 s, and the
	// server's own threads (statistics, purge) lock the table briefly
	// after the ALTER, so the verdict may take a moment to clear.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err = checkLongTransactions(ctx, in); err != nil {
			t.Fatal(err)
		}
		if c.Status == Pass || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantCheck(t, c, CheckLongTransactions, Pass, "no transaction open longer than 1s and no session holding or waiting for a metadata lock on `orders`")
}
