package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/mysql"
)

// applierGate holds back the applier's changes to rows 1..n of the original
// (by id) until the run has started waiting for the applier as many times:
// a change to row k is applied only once the k-th wait has begun. atWait
// runs at each wait, after its target position was read and before the
// release, so a write it makes is one the wait does not wait for. With it a
// test decides exactly which changes the shadow lacks when the copier reads
// a chunk.
type applierGate struct {
	released []chan struct{}
	atWait   func(n int)

	mu    sync.Mutex
	waits int
	// timedOut is set when a change was applied without its release.
	timedOut atomic.Bool
}

const gateTimeout = 20 * time.Second

func newApplierGate(n int) *applierGate {
	g := &applierGate{released: make([]chan struct{}, n)}
	for i := range g.released {
		g.released[i] = make(chan struct{})
	}
	return g
}

// hooks are the run's hooks that drive the gate; the test adds its own.
func (g *applierGate) hooks() *testHooks {
	return &testHooks{
		waitingForApplier: func(context.Context) {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.waits++
			if g.atWait != nil {
				g.atWait(g.waits)
			}
			if g.waits <= len(g.released) {
				close(g.released[g.waits-1])
			}
		},
		beforeApply: func(ctx context.Context, group []capture.Batch) {
			for _, b := range group {
				for _, ch := range b.Changes {
					for _, img := range [][]any{ch.Before, ch.After} {
						if img == nil {
							continue
						}
						for k := range g.released {
							if fmt.Sprint(img[0]) == fmt.Sprint(k+1) {
								select {
								case <-g.released[k]:
								case <-ctx.Done():
								case <-time.After(gateTimeout):
									// Never hang a run that does not wait
									// as the test expects: fail it.
									g.timedOut.Store(true)
								}
							}
						}
					}
				}
			}
		},
	}
}

func (g *applierGate) waited() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waits
}

// inTransaction runs stmts in one transaction.
func inTransaction(ctx context.Context, db *sql.DB, stmts ...string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return tx.Commit()
}

// swapEmails swaps the unique emails of rows a and b of accounts.
func swapEmails(a, b int) []string {
	return []string{
		fmt.Sprintf("UPDATE accounts SET email = 'swapping' WHERE id = %d", a),
		fmt.Sprintf("UPDATE accounts SET email = 'user%d@example.com' WHERE id = %d", a, b),
		fmt.Sprintf("UPDATE accounts SET email = 'user%d@example.com' WHERE id = %d", b, a),
	}
}

// TestUniqueValueMovedIntoChunkBeingCopied moves a unique value from a row
// already copied into a range not copied yet, and holds the applier back so
// that the shadow still has the value on the old row when the copier reads
// the range: the copy meets a duplicate that is not one in the original.
// While the copier waits for the applier, the application moves a second
// value the same way, and the applier is held back on that one too, so a
// copy read again after a mere catch-up meets a duplicate again. The
// migration must still finish, equal to the original: a duplicate is real
// only when it survives the applier catching up past the read that met it.
// (The failure seen under load: "copy chunk #41 (1020185, +∞]: Error 1062:
// Duplicate entry 'legacy-7912' for key 'uk_legacy'".)
func TestUniqueValueMovedIntoChunkBeingCopied(t *testing.T) {
	cases := []struct {
		name string
		// move moves the unique value of row k (copied in the first chunk)
		// to a row of the last chunks, in one transaction.
		move func(k int) []string
	}{
		{"primary key update", func(k int) []string {
			return []string{fmt.Sprintf("UPDATE accounts SET id = %d WHERE id = %d", 100000+k, k)}
		}},
		{"unique swap", func(k int) []string { return swapEmails(k, 2500+k) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			createAccounts(t, db, 3000)
			mustExec(t, db, "ALTER TABLE accounts ADD UNIQUE KEY uk_email (email)")
			ctx := context.Background()
			var moveErr error
			move := func(k int) {
				if err := inTransaction(ctx, db, c.move(k)...); err != nil && moveErr == nil {
					moveErr = err
				}
			}
			var copyDone, metDuringCopy atomic.Bool
			gate := newApplierGate(2)
			gate.atWait = func(n int) {
				if n == 1 {
					metDuringCopy.Store(!copyDone.Load())
					move(2)
				}
			}
			h := gate.hooks()
			h.afterChunk = func(seq int) {
				if seq == 1 {
					move(1)
				}
			}
			h.beforeChecksum = func(context.Context) { copyDone.Store(true) }
			cfg := testConfig(t, dbName, "accounts", "ADD COLUMN note VARCHAR(10) NULL")
			cfg.testHooks = h
			if _, err := runMigration(ctx, t, cfg); err != nil {
				t.Fatal(err)
			}
			if moveErr != nil {
				t.Fatal(moveErr)
			}
			if gate.timedOut.Load() {
				t.Error("the applier was held back without ever being waited for")
			}
			if !metDuringCopy.Load() {
				t.Error("the copier never waited for the applier: the test did not provoke the collision")
			}
			sameAsOld(t, db, "accounts", "id", "email", "v")
		})
	}
}

// TestRealDuplicateSurvivesTheCatchUp: a UNIQUE key the ALTER adds over
// duplicated data still stops the migration once the copier has waited for
// the applier, with the real duplicate's row and value, even when the same
// chunk first met a duplicate that the catch-up resolves (a value moved
// into the chunk that the applier had not applied yet).
func TestRealDuplicateSurvivesTheCatchUp(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createAccounts(t, db, 3000)
	ctx := context.Background()
	var before int64
	var moveErr error
	gate := newApplierGate(1)
	h := gate.hooks()
	h.afterPlan = func() {
		// After the plan's duplicate check, so that the copy meets it.
		mustExec(t, db, "UPDATE accounts SET email = 'user5@example.com' WHERE id = 2700")
	}
	h.afterChunk = func(seq int) {
		if seq == 1 {
			// Row 2600 takes row 1's value; the shadow's row 1 keeps it
			// until the applier passes the swap.
			moveErr = inTransaction(ctx, db, swapEmails(1, 2600)...)
			before = checksum(t, db, dbName, "accounts")
		}
	}
	cfg := testConfig(t, dbName, "accounts", "ADD UNIQUE KEY uk_email (email)")
	cfg.testHooks = h
	_, err := runMigration(ctx, t, cfg)
	if moveErr != nil {
		t.Fatal(moveErr)
	}
	if err == nil {
		t.Fatal("the migration succeeded over a duplicate of the new unique key")
	}
	t.Log(err)
	if gate.waited() == 0 {
		t.Error("the copier stopped without waiting for the applier")
	}
	msg := err.Error()
	if mysql.ErrorNumber(err) != mysql.ErrDupEntry {
		t.Errorf("error is not the server's duplicate entry: %v", err)
	}
	for _, want := range []string{"id=2700", "user5@example.com", "uk_email", "another row"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(msg, "user1@") {
		t.Errorf("error names the value moved into the chunk, which was no duplicate: %v", err)
	}
	if got := checksum(t, db, dbName, "accounts"); got != before {
		t.Error("the original table changed")
	}
	if got := tablesIn(t, db, dbName); strings.Join(got, ",") != "accounts" {
		t.Errorf("tables left behind: %v", got)
	}
}
