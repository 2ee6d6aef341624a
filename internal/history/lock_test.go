package history

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLockExcludes: while one run holds the lock, a second one (on its own
// connection) fails within its wait with a message naming the holder, and
// succeeds once the first unlocks.
func TestLockExcludes(t *testing.T) {
	ctx := context.Background()
	db, database := sbx.NewDatabase(t)
	first, err := Lock(ctx, db, database, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Check(ctx); err != nil {
		t.Errorf("Check on a held lock: %v", err)
	}

	start := time.Now()
	second, err := Lock(ctx, db, database, 700*time.Millisecond)
	waited := time.Since(start)
	var le *LockedError
	if !errors.As(err, &le) {
		if second != nil {
			second.Unlock(ctx) //nolint:errcheck // the test has failed already
		}
		t.Fatalf("second Lock: %v, want a *LockedError", err)
	}
	if waited < 500*time.Millisecond || waited > 5*time.Second {
		t.Errorf("second Lock gave up after %s, want about its 700ms wait", waited)
	}
	if le.Holder != first.ConnectionID() || le.Database != database {
		t.Errorf("LockedError = %+v, want holder %d", le, first.ConnectionID())
	}
	if msg := err.Error(); !strings.Contains(msg, "another tailor migrate is running on database `"+database+"`") ||
		!strings.Contains(msg, "server connection") {
		t.Errorf("message %q", msg)
	}

	// Another database has its own lock.
	other, err := Lock(ctx, db, database+"_other", 0)
	if err != nil {
		t.Fatalf("lock of another database: %v", err)
	}
	if err := other.Unlock(ctx); err != nil {
		t.Error(err)
	}

	if err := first.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	second, err = Lock(ctx, db, database, 0)
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	if err := second.Unlock(ctx); err != nil {
		t.Error(err)
	}
}

// TestLockKilled: a run whose connection is killed (or whose process dies)
// leaves no lock behind, and knows it lost the lock.
func TestLockKilled(t *testing.T) {
	ctx := context.Background()
	db, database := sbx.NewDatabase(t)
	first, err := Lock(ctx, db, database, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "KILL CONNECTION ?", first.ConnectionID()); err != nil {
		t.Fatal(err)
	}
	second, err := Lock(ctx, db, database, 5*time.Second)
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	if err := first.Check(ctx); !errors.Is(err, ErrLockLost) {
		t.Errorf("Check after the kill: %v, want ErrLockLost", err)
	}
	if err := first.Unlock(ctx); !errors.Is(err, ErrLockLost) {
		t.Errorf("Unlock after the kill: %v, want ErrLockLost", err)
	}
	if err := second.Check(ctx); err != nil {
		t.Errorf("the new holder: %v", err)
	}
	if err := second.Unlock(ctx); err != nil {
		t.Error(err)
	}
}
