package migrate

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/workload"
)

// TestChecksumBehindCopy compares ranges while the copy runs, under
// writers that insert, update (keys too) and delete: rows are compared
// during the copy, the rows the applier changes after their range was
// compared are compared again before the swap, and the table must equal its
// control. With damage, a row the applier changed after its range was
// compared is then wrong in the new table (as a wrong apply would leave
// it): the comparison again finds it, and the whole table is compared and
// the row's range copied again.
func TestChecksumBehindCopy(t *testing.T) {
	for _, damage := range []bool{false, true} {
		name := "clean"
		if damage {
			name = "a changed row damaged"
		}
		t.Run(name, func(t *testing.T) {
			const rows = 30_000
			db, dbName := sbx.NewDatabase(t)
			db.SetMaxOpenConns(20)
			ctx := context.Background()
			if err := workload.Create(ctx, db, "orders", rows); err != nil {
				t.Fatal(err)
			}
			// Id 0 is a key the load never writes (it targets ids from 1
			// and inserts far above or below), in the first range.
			mustExec(t, db, "INSERT INTO orders (id, customer, amount, created, updated) VALUES (0, 'kept', 1.00, NOW(6), NOW(6))")
			mustExec(t, db, "INSERT INTO orders_control (id, customer, amount, created, updated) SELECT id, customer, amount, created, updated FROM orders WHERE id = 0")
			cfg := testConfig(t, dbName, "orders", "MODIFY amount DECIMAL(14,2) NOT NULL")
			cfg.Threads = 2
			cfg.ChecksumDuringCopy = true
			var hookErr error
			cfg.testHooks = &testHooks{
				checkBehindEvery: 50 * time.Millisecond,
				// A copy of a few seconds, compared as it goes.
				afterChunk: func(int) { time.Sleep(20 * time.Millisecond) },
			}
			if damage {
				cfg.testHooks.beforeChecksum = func(ctx context.Context) { hookErr = damageAppliedRow(ctx, db) }
			}
			res, stats := migrateUnderLoad(ctx, t, db, cfg, workload.Options{Table: "orders", Writers: 4, Rate: 400, InitialRows: rows, Seed: 11}, 200*time.Millisecond)
			if hookErr != nil {
				t.Fatal(hookErr)
			}
			t.Logf("compared %d rows during the copy; after it %d chunks, %d changed rows, %d re-copied; load: %d tx (%d inserts, %d key updates, %d deletes)",
				res.ChecksumBehindRows, res.ChecksumChunks, res.ChecksumRechecked, res.ChecksumMended, stats.Transactions, stats.Inserts, stats.KeyUpdates, stats.Deletes)
			if res.ChecksumBehindRows < rows/3 {
				t.Errorf("compared %d rows during the copy, want most of the %d", res.ChecksumBehindRows, rows)
			}
			switch {
			case !damage && (res.ChecksumRechecked == 0 || res.ChecksumMended != 0):
				t.Errorf("compared %d changed rows again and re-copied %d chunks; want some, and none", res.ChecksumRechecked, res.ChecksumMended)
			case damage && res.ChecksumMended < 1:
				t.Errorf("re-copied %d chunks: the damaged row went unnoticed", res.ChecksumMended)
			}
			wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
		})
	}
}

// damageAppliedRow changes row 0 as the application would (the original
// and the control table in one transaction), waits for the applier to
// carry it into the new table, and then damages it there.
func damageAppliedRow(ctx context.Context, db *sql.DB) error {
	if err := inTransaction(ctx, db,
		"UPDATE orders SET note = 'changed after its range was compared' WHERE id = 0",
		"UPDATE orders_control SET note = 'changed after its range was compared' WHERE id = 0"); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var note sql.NullString
		err := db.QueryRowContext(ctx, "SELECT note FROM orders_tailor_new WHERE id = 0").Scan(&note)
		if err != nil {
			return err
		}
		if note.String == "changed after its range was compared" {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the applier did not apply the change to row 0 within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := db.ExecContext(ctx, "UPDATE orders_tailor_new SET amount = amount + 1 WHERE id = 0")
	return err
}

// TestTouchedKeys: nothing is recorded before the checks begin; then the
// keys of inserts, deletes and both keys of a key update, once each; past
// the limit, the list is refused.
func TestTouchedKeys(t *testing.T) {
	t.Parallel()
	m := &schema.Mapping{Key: []schema.ColumnPair{{Old: "id", New: "id", Index: 1}},
		Source: &schema.Table{Columns: []schema.Column{{Name: "x", DataType: "varchar"}, {Name: "id", DataType: "bigint"}}}}
	tk := &touchedKeys{m: m, limit: 4}
	row := func(id int64) []any { return []any{"x", id} }
	tk.record([]capture.Batch{{Changes: []capture.Change{{Kind: capture.Insert, After: row(1)}}}})
	tk.start()
	tk.record([]capture.Batch{
		{Changes: []capture.Change{{Kind: capture.Insert, After: row(2)}, {Kind: capture.Delete, Before: row(3)}}},
		{Changes: []capture.Change{{Kind: capture.Update, Before: row(2), After: row(4)}, {Kind: capture.Update, Before: row(3), After: row(3)}}},
	})
	keys, ok := tk.list()
	var got []int64
	for _, k := range keys {
		got = append(got, k[0].(int64))
	}
	slices.Sort(got)
	if !ok || !slices.Equal(got, []int64{2, 3, 4}) {
		t.Errorf("recorded %v (%v), want 2, 3, 4", got, ok)
	}
	tk.record([]capture.Batch{{Changes: []capture.Change{{Kind: capture.Insert, After: row(5)}, {Kind: capture.Insert, After: row(6)}}}})
	if keys, ok := tk.list(); ok {
		t.Errorf("kept %d keys past the limit of 4", len(keys))
	}
}
