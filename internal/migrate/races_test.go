package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/rowcopy"
)

// createAccounts makes a table of n rows: id, a unique-looking email (no
// unique key yet), and a value.
func createAccounts(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	mustExec(t, db, "CREATE TABLE accounts (id BIGINT NOT NULL PRIMARY KEY, email VARCHAR(64) NOT NULL, v VARCHAR(32) NULL)")
	for base := 0; base < n; base += 1000 {
		var vals []string
		for i := base + 1; i <= min(base+1000, n); i++ {
			vals = append(vals, fmt.Sprintf("(%d, 'user%d@example.com', 'v%d')", i, i, i))
		}
		mustExec(t, db, "INSERT INTO accounts VALUES "+strings.Join(vals, ","))
	}
}

// sameAsOld proves the migrated table equals the original (now _<t>_old),
// which holds the final state of every row at the cut-over, on the columns
// given, NULL-safely.
func sameAsOld(t *testing.T, db *sql.DB, table string, cols ...string) {
	t.Helper()
	var on []string
	for _, c := range cols {
		// <=> alone would call 'a ' and 'a' equal under a PAD SPACE
		// collation; the binary casts compare the bytes too.
		q := mysql.QuoteIdent(c)
		on = append(on, fmt.Sprintf("n.%s <=> o.%s AND CAST(n.%s AS BINARY) <=> CAST(o.%s AS BINARY)", q, q, q, q))
	}
	cond := strings.Join(on, " AND ")
	n, o := mysql.QuoteIdent(table), mysql.QuoteIdent(OldName(table))
	var rowsNew, rowsOld, unmatched int
	if err := db.QueryRow("SELECT (SELECT COUNT(*) FROM "+n+"), (SELECT COUNT(*) FROM "+o+")").Scan(&rowsNew, &rowsOld); err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf("SELECT COUNT(*) FROM %s n LEFT JOIN %s o ON %s WHERE o.%s IS NULL", n, o, cond, mysql.QuoteIdent(cols[0]))
	if err := db.QueryRow(q).Scan(&unmatched); err != nil {
		t.Fatal(err)
	}
	if rowsNew != rowsOld || unmatched != 0 {
		t.Fatalf("migrated table differs from the original: %d rows vs %d, %d rows without an equal original", rowsNew, rowsOld, unmatched)
	}
}

// waitForLockWaits waits until n transactions are waiting for a row lock.
func waitForLockWaits(ctx context.Context, db *sql.DB, n int) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var waiting int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'").Scan(&waiting); err != nil {
			return err
		}
		if waiting >= n {
			return nil
		}
		// InnoDB refreshes INNODB_TRX only when it was last read more than
		// 100 ms ago, so faster polling keeps reading a stale snapshot.
		time.Sleep(250 * time.Millisecond)
	}
	var seen []string
	rows, err := db.QueryContext(ctx, "SELECT CONCAT(COALESCE(STATE, ''), ' | ', COALESCE(INFO, '')) FROM information_schema.PROCESSLIST WHERE COMMAND != 'Sleep'")
	if err == nil {
		for rows.Next() {
			var s string
			_ = rows.Scan(&s)
			seen = append(seen, s)
		}
		rows.Close()
	}
	return fmt.Errorf("fewer than %d transactions waited for the copy's locks (transactions: %q)", n, seen)
}

// TestStaleChunkCannotOverwriteNewerChange provokes the race that lost rows
// in other tools: a chunk copy reads a row, an UPDATE or DELETE of it
// commits and its event is applied, and only then the copy's stale row
// lands. Here the UPDATE and DELETE are issued while the chunk's copy
// transaction is still open: they must wait for its locks (which proves the
// read is a locking read held until the insert commits), and once they
// commit their events are applied on top of the copied rows.
func TestStaleChunkCannotOverwriteNewerChange(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createAccounts(t, db, 3000)
	ctx := context.Background()
	var wg sync.WaitGroup
	var writeErrs []error
	var mu sync.Mutex
	var blocked error
	cfg := testConfig(t, dbName, "accounts", "ADD COLUMN note VARCHAR(10) NULL")
	cfg.testHooks = &testHooks{beforeChunkCommit: func(ctx context.Context, chunk rowcopy.Chunk) {
		if chunk.Seq != 2 { // rows 501..1000
			return
		}
		for _, q := range []string{
			"UPDATE accounts SET v = 'changed during copy' WHERE id = 700",
			"DELETE FROM accounts WHERE id = 701",
			"UPDATE accounts SET id = 100701, v = NULL WHERE id = 702",
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := db.ExecContext(context.Background(), q); err != nil {
					mu.Lock()
					writeErrs = append(writeErrs, err)
					mu.Unlock()
				}
			}()
		}
		blocked = waitForLockWaits(ctx, db, 3)
	}}
	if _, err := runMigration(ctx, t, cfg); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if blocked != nil {
		t.Fatalf("the writes did not wait for the chunk's locks: %v", blocked)
	}
	if len(writeErrs) > 0 {
		t.Fatalf("writes failed: %v", writeErrs)
	}
	var v sql.NullString
	if err := db.QueryRow("SELECT v FROM accounts WHERE id = 700").Scan(&v); err != nil || v.String != "changed during copy" {
		t.Errorf("row 700 = %v, %v; the update made during its chunk's copy was lost", v, err)
	}
	var n int
	_ = db.QueryRow("SELECT COUNT(*) FROM accounts WHERE id IN (701, 702)").Scan(&n)
	if n != 0 {
		t.Errorf("%d deleted or moved rows came back", n)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM accounts WHERE id = 100701 AND v IS NULL").Scan(&n); err != nil || n != 1 {
		t.Errorf("the moved row is missing: %d, %v", n, err)
	}
	sameAsOld(t, db, "accounts", "id", "email", "v")
}

// TestUniqueSwapAndRepeatedEvents adds a UNIQUE key while one transaction
// swaps the unique values of two rows (a state the new key forbids holds
// between the two statements), another updates one row many times, and
// another changes a primary key, in ranges already copied and not yet.
func TestUniqueSwapAndRepeatedEvents(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createAccounts(t, db, 3000)
	ctx := context.Background()
	var hookErr error
	cfg := testConfig(t, dbName, "accounts", "ADD UNIQUE KEY uk_email (email)")
	cfg.testHooks = &testHooks{afterChunk: func(seq int) {
		if seq != 2 || hookErr != nil {
			return
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			hookErr = err
			return
		}
		stmts := []string{
			// copied range with copied range
			"UPDATE accounts SET email = 'user20@example.com' WHERE id = 10",
			"UPDATE accounts SET email = 'user10@example.com' WHERE id = 20",
			// copied range with a range not copied yet
			"UPDATE accounts SET email = 'user2500@example.com' WHERE id = 30",
			"UPDATE accounts SET email = 'user30@example.com' WHERE id = 2500",
			// a primary key change that takes over a unique value
			"UPDATE accounts SET id = 50000, email = 'moved@example.com' WHERE id = 40",
			"UPDATE accounts SET email = 'user40@example.com' WHERE id = 41",
		}
		for i := 0; i < 10; i++ {
			stmts = append(stmts, fmt.Sprintf("UPDATE accounts SET v = 'rev %d' WHERE id IN (50, 2600)", i))
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				hookErr = err
				tx.Rollback()
				return
			}
		}
		hookErr = tx.Commit()
		for i := 0; i < 10; i++ {
			mustExec(t, db, "UPDATE accounts SET v = ? WHERE id = 60", fmt.Sprintf("tx %d", i))
		}
	}}
	if _, err := runMigration(ctx, t, cfg); err != nil {
		t.Fatal(err)
	}
	if hookErr != nil {
		t.Fatal(hookErr)
	}
	checks := map[string]string{
		"SELECT email FROM accounts WHERE id = 10":   "user20@example.com",
		"SELECT email FROM accounts WHERE id = 20":   "user10@example.com",
		"SELECT email FROM accounts WHERE id = 30":   "user2500@example.com",
		"SELECT email FROM accounts WHERE id = 2500": "user30@example.com",
		"SELECT email FROM accounts WHERE id = 41":   "user40@example.com",
		"SELECT v FROM accounts WHERE id = 2600":     "rev 9",
		"SELECT v FROM accounts WHERE id = 60":       "tx 9",
	}
	for q, want := range checks {
		var got string
		if err := db.QueryRow(q).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", q, got, err, want)
		}
	}
	sameAsOld(t, db, "accounts", "id", "email", "v")
}

// TestDuplicateForNewUniqueKeyStops shows that a write the new table cannot
// hold (a duplicate on the UNIQUE key the ALTER adds) stops the migration
// with the key and the value, instead of REPLACE deleting the other row.
// A duplicate present before the run is refused by the plan's check
// (TestDuplicateRefusedByPlan); these arrive after it.
func TestDuplicateForNewUniqueKeyStops(t *testing.T) {
	cases := []struct {
		name   string
		during bool // the duplicate arrives through the binary log
	}{
		{"duplicate made after the plan", false},
		{"duplicate written during the copy", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			createAccounts(t, db, 3000)
			before := checksum(t, db, dbName, "accounts")
			cfg := testConfig(t, dbName, "accounts", "ADD UNIQUE KEY uk_email (email)")
			cfg.testHooks = &testHooks{afterPlan: func() {
				if !c.during {
					mustExec(t, db, "UPDATE accounts SET email = 'user5@example.com' WHERE id = 1700")
					before = checksum(t, db, dbName, "accounts")
				}
			}, afterChunk: func(seq int) {
				if c.during && seq == 2 {
					mustExec(t, db, "INSERT INTO accounts VALUES (90000, 'user5@example.com', 'dup')")
					before = checksum(t, db, dbName, "accounts")
				}
			}}
			_, err := runMigration(context.Background(), t, cfg)
			if err == nil {
				t.Fatal("the migration succeeded over a duplicate of the new unique key")
			}
			t.Log(err)
			if mysql.ErrorNumber(err) != mysql.ErrDupEntry || !strings.Contains(err.Error(), "user5@example.com") {
				t.Errorf("error does not name the duplicate value: %v", err)
			}
			wantKey := "id=1700"
			if c.during {
				wantKey = "id=90000"
			}
			if !strings.Contains(err.Error(), wantKey) {
				t.Errorf("error does not name the row's key %s: %v", wantKey, err)
			}
			var rowErr interface{ Unwrap() error }
			if !errors.As(err, &rowErr) {
				t.Errorf("error is not a row error: %T", err)
			}
			if got := checksum(t, db, dbName, "accounts"); got != before {
				t.Error("the original table changed")
			}
			if got := tablesIn(t, db, dbName); strings.Join(got, ",") != "accounts" {
				t.Errorf("tables left behind: %v", got)
			}
		})
	}
}

// TestDuplicateRefusedByPlan: a duplicate of the new unique key already in
// the table is found before anything is created, and the refusal names it.
func TestDuplicateRefusedByPlan(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createAccounts(t, db, 3000)
	mustExec(t, db, "UPDATE accounts SET email = 'user5@example.com' WHERE id = 1700")
	before := checksum(t, db, dbName, "accounts")
	_, err := runMigration(context.Background(), t, testConfig(t, dbName, "accounts", "ADD UNIQUE KEY uk_email (email)"))
	wantKind(t, err, KindInvalid, "unique-duplicates", "uk_email", "user5@example.com")
	if got := checksum(t, db, dbName, "accounts"); got != before {
		t.Error("the original changed")
	}
	if got := tablesIn(t, db, dbName); strings.Join(got, ",") != "accounts" {
		t.Errorf("tables left behind: %v", got)
	}
}
