package rowcopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// uniqueFixture is src and dst with a composite copy key and a unique
// email (on dst only when srcUnique is false), 3,000 rows in src, and the
// rows up to (100, 'y') already copied.
func uniqueFixture(t *testing.T, srcUnique bool) (*sql.DB, *Copier) {
	t.Helper()
	uk := ", UNIQUE KEY uk_email (email)"
	srcKeys := uk
	if !srcUnique {
		srcKeys = ""
	}
	db, m := newFixture(t, []string{
		"CREATE TABLE src (a INT NOT NULL, b VARCHAR(10) NOT NULL, email VARCHAR(40) NOT NULL, PRIMARY KEY (a, b)" + srcKeys + ")",
		"CREATE TABLE dst (a INT NOT NULL, b VARCHAR(10) NOT NULL, email VARCHAR(40) NOT NULL, PRIMARY KEY (a, b)" + uk + ")",
		"INSERT INTO src SELECT seq, b, CONCAT('e', seq, b) FROM seq_1_to_1500, (SELECT 'x' AS b UNION ALL SELECT 'y') AS bs",
	}, "a", "b", "email")
	copier := NewCopier(db, m)
	copier.LockWaitTimeout = 2 * time.Second
	if _, err := copier.Copy(context.Background(), Chunk{Seq: 1, Upper: []any{int64(100), "y"}}); err != nil {
		t.Fatal(err)
	}
	return db, copier
}

func exec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestCopyAfterUniqueValueMoved: a unique value moved from a copied row to
// one of the chunk (a primary key update) while the applier has not applied
// the move. The chunk is copied again once the applier has passed its
// read, holding the rows it read: an update of one of them waits, a row
// inserted into the range meanwhile is left to the applier, and the copy
// (more than one statement's worth of keys) ends equal to the original.
func TestCopyAfterUniqueValueMoved(t *testing.T) {
	db, copier := uniqueFixture(t, true)
	ctx := context.Background()
	// Row (1, 'x') was copied with e1x; the move gives e1x to (5000, 'x').
	exec(t, db, "UPDATE src SET a = 5000 WHERE a = 1 AND b = 'x'")
	var waits int
	var lockErr error
	copier.WaitForApplier = func(ctx context.Context) error {
		waits++
		switch waits {
		case 1:
			// What the applier does with the move.
			exec(t, db, "DELETE FROM dst WHERE a = 1 AND b = 'x'")
			exec(t, db, "INSERT INTO dst VALUES (5000, 'x', 'e1x')")
		case 2:
			// The chunk's rows are locked while it waits.
			conn, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 1"); err != nil {
				return err
			}
			_, lockErr = conn.ExecContext(ctx, "UPDATE src SET email = 'changed' WHERE a = 200 AND b = 'x'")
			// A row inserted into the range, already applied.
			exec(t, db, "INSERT INTO src VALUES (6000, 'z', 'new')")
			exec(t, db, "INSERT INTO dst VALUES (6000, 'z', 'new')")
		}
		return nil
	}
	n, err := copier.Copy(ctx, Chunk{Seq: 2, Lower: []any{int64(100), "y"}})
	if err != nil {
		t.Fatal(err)
	}
	if waits != 2 {
		t.Errorf("waited for the applier %d times, want 2 (without locks, then holding the rows)", waits)
	}
	if mysql.ErrorNumber(lockErr) != mysql.ErrLockWaitTimeout {
		t.Errorf("an update of a row of the chunk did not wait for the copy: %v", lockErr)
	}
	if n != 2801 {
		t.Errorf("copied %d rows, want 2,801 (the range's rows when they were locked: not the row inserted since)", n)
	}
	var rowsSrc, rowsDst, unmatched int
	q := "SELECT (SELECT COUNT(*) FROM src), (SELECT COUNT(*) FROM dst), (SELECT COUNT(*) FROM src s LEFT JOIN dst d ON d.a = s.a AND d.b = s.b AND d.email = s.email WHERE d.a IS NULL)"
	if err := db.QueryRow(q).Scan(&rowsSrc, &rowsDst, &unmatched); err != nil {
		t.Fatal(err)
	}
	if rowsSrc != rowsDst || unmatched != 0 {
		t.Errorf("dst differs from src: %d rows vs %d, %d rows of src not in dst", rowsDst, rowsSrc, unmatched)
	}
}

// TestCopyRealDuplicateAfterCatchUp: a duplicate of a unique key only the
// new table has stops the copy once the applier has passed the read, with
// the row, the value and the key named.
func TestCopyRealDuplicateAfterCatchUp(t *testing.T) {
	db, copier := uniqueFixture(t, false)
	exec(t, db, "UPDATE src SET email = 'e5x' WHERE a = 700 AND b = 'y'")
	var waits int
	copier.WaitForApplier = func(context.Context) error { waits++; return nil }
	_, err := copier.Copy(context.Background(), Chunk{Seq: 2, Lower: []any{int64(100), "y"}})
	if err == nil {
		t.Fatal("a duplicate of the new unique key was copied")
	}
	t.Log(err)
	if waits != 2 {
		t.Errorf("waited for the applier %d times before giving up, want 2", waits)
	}
	var rowErr *RowError
	if !errors.As(err, &rowErr) || mysql.ErrorNumber(err) != mysql.ErrDupEntry {
		t.Fatalf("not a row error with the server's duplicate entry: %v", err)
	}
	for _, want := range []string{"a=700, b=y", "another row", "unique key uk_email", "'e5x'"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// TestOtherSidesRow: a duplicate on another unique key may be the other
// side's row only when the delete run again removed rows, and not when the
// same entry comes back after such a delete.
func TestOtherSidesRow(t *testing.T) {
	dup := func(entry string) error {
		return &driver.MySQLError{Number: mysql.ErrDupEntry, Message: "Duplicate entry '" + entry + "' for key 'PRIMARY'"}
	}
	tests := []struct {
		name      string
		dup, prev error
		removed   int64
		want      bool
	}{
		{"the first duplicate, a row removed", dup("a-1"), nil, 1, true},
		{"the first duplicate, nothing removed", dup("a-1"), nil, 0, false},
		{"another entry after the last round's", dup("b-2"), dup("a-1"), 3, true},
		{"the same entry again, rows removed", dup("a-1"), dup("a-1"), 3, false},
	}
	for _, tt := range tests {
		if got := OtherSidesRow(tt.dup, tt.prev, tt.removed); got != tt.want {
			t.Errorf("%s: OtherSidesRow = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestIsDuplicateOn(t *testing.T) {
	dup := func(msg string) error { return &driver.MySQLError{Number: mysql.ErrDupEntry, Message: msg} }
	tests := []struct {
		err  error
		key  string
		want bool
	}{
		{dup("Duplicate entry '5' for key 'PRIMARY'"), "PRIMARY", true},
		{dup("Duplicate entry '5' for key 't.PRIMARY'"), "PRIMARY", true},
		{dup("Duplicate entry 'a' for key 'uk_email'"), "PRIMARY", false},
		{dup("Duplicate entry 'a' for key 'odd.name'"), "odd.name", true},
		{errors.New("Duplicate entry '5' for key 'PRIMARY'"), "PRIMARY", false},
		{dup("Duplicate entry '5' for key 'PRIMARY'"), "", false},
	}
	for _, tt := range tests {
		if got := IsDuplicateOn(tt.err, tt.key); got != tt.want {
			t.Errorf("IsDuplicateOn(%v, %q) = %v, want %v", tt.err, tt.key, got, tt.want)
		}
	}
}

// newKeyFixture is src with a primary key (id) and a unique key
// customer_id (customer, id), and dst whose primary key the ALTER made
// (created, id): the copy walks customer_id, which dst keeps, and dst's
// primary key is checked before it. src has 400 rows, customers 'c000' to
// 'c399'; chunkOfKeyFixture holds 'c200' to 'c399'.
func newKeyFixture(t *testing.T) (*sql.DB, *Copier) {
	t.Helper()
	db, m := newFixture(t, []string{
		"CREATE TABLE src (id BIGINT NOT NULL PRIMARY KEY, customer VARCHAR(20) NOT NULL, created DATETIME(6) NOT NULL, UNIQUE KEY customer_id (customer, id))",
		"CREATE TABLE dst (id BIGINT NOT NULL, customer VARCHAR(20) NOT NULL, created DATETIME(6) NOT NULL, PRIMARY KEY (created, id), UNIQUE KEY customer_id (customer, id))",
		"INSERT INTO src SELECT seq, CONCAT('c', LPAD(seq % 400, 3, '0')), TIMESTAMP('2024-01-01') + INTERVAL seq SECOND FROM seq_0_to_399",
	}, "id", "customer", "created")
	if m.KeyName != "customer_id" || m.ShadowKey != "customer_id" {
		t.Fatalf("the copy walks %s into %s, want customer_id into customer_id", m.KeyName, m.ShadowKey)
	}
	copier := NewCopier(db, m)
	copier.LockWaitTimeout = 2 * time.Second
	return db, copier
}

// chunkOfKeyFixture is the chunk of newKeyFixture's rows after 'c199'.
var chunkOfKeyFixture = Chunk{Seq: 2, Lower: []any{"c199", int64(199)}}

// wantSameRows fails unless dst holds exactly src's rows.
func wantSameRows(t *testing.T, db *sql.DB) {
	t.Helper()
	var rowsSrc, rowsDst, unmatched int
	q := "SELECT (SELECT COUNT(*) FROM src), (SELECT COUNT(*) FROM dst), (SELECT COUNT(*) FROM src s LEFT JOIN dst d ON d.id = s.id AND d.customer = s.customer AND d.created = s.created WHERE d.id IS NULL)"
	if err := db.QueryRow(q).Scan(&rowsSrc, &rowsDst, &unmatched); err != nil {
		t.Fatal(err)
	}
	if rowsSrc != rowsDst || unmatched != 0 {
		t.Errorf("dst differs from src: %d rows vs %d, %d rows of src not in dst", rowsDst, rowsSrc, unmatched)
	}
}

// valueNotYetMoved puts in dst the original's row 250 as it was under
// another customer, before the chunk's range: a value of dst's primary key
// the applier has not yet moved out of the chunk's way, which the chunk's
// first copy meets. The copier's first wait for the applier applies the
// move; its second runs holding, if set. It returns the count of waits.
func valueNotYetMoved(t *testing.T, db *sql.DB, copier *Copier, holding func(ctx context.Context) error) *int {
	t.Helper()
	exec(t, db, "INSERT INTO dst SELECT id, 'a', created FROM src WHERE id = 250")
	waits := new(int)
	copier.WaitForApplier = func(ctx context.Context) error {
		switch *waits++; *waits {
		case 1:
			exec(t, db, "DELETE FROM dst WHERE id = 250 AND customer = 'a'")
		case 2:
			if holding != nil {
				return holding(ctx)
			}
		}
		return nil
	}
	return waits
}

// copyRestAndCompare copies the rows before chunkOfKeyFixture and fails
// unless dst then holds exactly src's rows.
func copyRestAndCompare(t *testing.T, db *sql.DB, copier *Copier) {
	t.Helper()
	if _, err := copier.Copy(context.Background(), Chunk{Seq: 1, Upper: chunkOfKeyFixture.Lower}); err != nil {
		t.Fatal(err)
	}
	wantSameRows(t, db)
}

// TestApplierRowMeetsTheNewPrimaryKeyFirst: the applier writes a row of the
// chunk, equal to the original's, between the chunk's delete and its
// insert. The insert meets it on dst's primary key, checked before the key
// over the copy key; the delete run again finds the row, and the chunk is
// copied in the same transaction, without waiting for the applier.
func TestApplierRowMeetsTheNewPrimaryKeyFirst(t *testing.T) {
	db, copier := newKeyFixture(t)
	ctx := context.Background()
	rounds := 0
	copier.afterDelete = func(context.Context) {
		rounds++
		if rounds == 1 {
			exec(t, db, "INSERT INTO dst SELECT * FROM src WHERE id = 250")
		}
	}
	waits := 0
	copier.WaitForApplier = func(context.Context) error { waits++; return nil }
	n, err := copier.Copy(ctx, chunkOfKeyFixture)
	if err != nil {
		t.Fatal(err)
	}
	if rounds != 2 || waits != 0 {
		t.Errorf("delete and insert ran %d times, waited for the applier %d times; want 2 and 0", rounds, waits)
	}
	if n != 200 {
		t.Errorf("copied %d rows, want 200", n)
	}
	copyRestAndCompare(t, db, copier)
}

// TestCaughtUpLocksRows: a chunk copied again after a duplicate holds its
// rows while it waits for the applier, also against a change to a column
// the copy key's index does not hold (the new primary key's created here):
// a shared lock through an index that answers the read alone would lock
// only that index's records.
func TestCaughtUpLocksRows(t *testing.T) {
	db, copier := newKeyFixture(t)
	ctx := context.Background()
	var lockErr error
	waits := valueNotYetMoved(t, db, copier, func(ctx context.Context) error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 1"); err != nil {
			return err
		}
		_, lockErr = conn.ExecContext(ctx, "UPDATE src SET created = created + INTERVAL 1 DAY WHERE id = 300")
		return nil
	})
	if _, err := copier.Copy(ctx, chunkOfKeyFixture); err != nil {
		t.Fatal(err)
	}
	if *waits != 2 {
		t.Errorf("waited for the applier %d times, want 2 (without locks, then holding the rows)", *waits)
	}
	if mysql.ErrorNumber(lockErr) != mysql.ErrLockWaitTimeout {
		t.Errorf("an update of a column outside the copy key's index did not wait for the rows the copy holds: %v", lockErr)
	}
	copyRestAndCompare(t, db, copier)
}

// TestCaughtUpMeetsTheApplierRow: in the chunk's copy after the catch-up,
// the applier writes a row of the chunk between the delete and the insert,
// equal to the original's (as it may where the copy's locks let a change
// to a column it does not write go on; here the test writes it). The
// insert meets it on dst's primary key, which the server checks first; the
// delete run again removes it, and the copy ends equal to the original
// rather than taking it for a real duplicate.
func TestCaughtUpMeetsTheApplierRow(t *testing.T) {
	db, copier := newKeyFixture(t)
	ctx := context.Background()
	waits := valueNotYetMoved(t, db, copier, nil)
	rounds := 0
	var dup error
	copier.afterDelete = func(ctx context.Context) {
		if *waits < 2 {
			return
		}
		if rounds++; rounds == 1 {
			exec(t, db, "INSERT INTO dst SELECT * FROM src WHERE id = 300")
			// What the copy's insert will meet.
			_, dup = db.ExecContext(ctx, "INSERT INTO dst SELECT * FROM src WHERE id = 300")
		}
	}
	if _, err := copier.Copy(ctx, chunkOfKeyFixture); err != nil {
		t.Fatal(err)
	}
	if *waits != 2 || rounds != 2 {
		t.Errorf("waited for the applier %d times, then delete and insert ran %d times; want 2 and 2", *waits, rounds)
	}
	if !IsDuplicateOn(dup, "PRIMARY") {
		t.Errorf("the applier's row is not a duplicate on the primary key first: %v", dup)
	}
	copyRestAndCompare(t, db, copier)
}

// TestRealDuplicateWhileTheApplierWrites: the chunk's first copy meets a
// row of another key on dst's primary key (a value the applier has not yet
// moved away), while the applier writes a row of the range between every
// delete and insert, so each delete run again removes a row. The same entry
// met twice ends the retries there, and the chunk is copied again after
// the catch-up, rather than round after round.
func TestRealDuplicateWhileTheApplierWrites(t *testing.T) {
	db, copier := newKeyFixture(t)
	ctx := context.Background()
	waits := valueNotYetMoved(t, db, copier, nil)
	rounds := 0
	copier.afterDelete = func(context.Context) {
		if *waits == 0 {
			rounds++
			exec(t, db, fmt.Sprintf("INSERT INTO dst VALUES (%d, 'c300', '2030-01-01')", 1000+rounds))
		}
	}
	if _, err := copier.Copy(ctx, chunkOfKeyFixture); err != nil {
		t.Fatal(err)
	}
	if rounds != 2 || *waits != 2 {
		t.Errorf("the first copy ran %d rounds, then waited for the applier %d times; want 2 and 2", rounds, *waits)
	}
	// The applier's rows (the failed rounds were rolled back), not in
	// src, are the applier's to delete.
	exec(t, db, "DELETE FROM dst WHERE id > 1000")
	copyRestAndCompare(t, db, copier)
}

// TestRowErrorShowsEnumKeyByName: the row a copy fails on is named by its
// key with an ENUM's number and the member it stands for, which is how the
// operator knows the row.
func TestRowErrorShowsEnumKeyByName(t *testing.T) {
	db, m := newFixture(t, []string{
		"CREATE TABLE src (e ENUM('b','a') NOT NULL, id INT NOT NULL, v VARCHAR(10) NOT NULL, PRIMARY KEY (e, id))",
		"CREATE TABLE dst (e ENUM('b','a') NOT NULL, id INT NOT NULL, v VARCHAR(2) NOT NULL, PRIMARY KEY (e, id))",
		"INSERT INTO src VALUES ('b', 1, 'x'), ('a', 5, 'too long'), ('a', 6, 'y')",
	}, "e", "id", "v")
	_, err := NewCopier(db, m).Copy(context.Background(), Chunk{Seq: 1})
	var rowErr *RowError
	if !errors.As(err, &rowErr) {
		t.Fatalf("want a row error, got %v", err)
	}
	if want := "e=2 ('a'), id=5"; !strings.Contains(err.Error(), want) {
		t.Errorf("error lacks %q: %v", want, err)
	}
}
