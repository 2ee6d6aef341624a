package verify

import (
	"context"
	"errors"
	"testing"
)

// TestBehindThenRun checks a prefix with Behind, in limited checks, and
// then what Run compares with it: the ranges above the prefix, and the rows
// of the keys Recheck names, which fall back to the whole table when one of
// them differs or when there were too many to keep.
func TestBehindThenRun(t *testing.T) {
	const cols = "id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL, n INT NULL"
	cases := []struct {
		name string
		// damage runs after the prefix up to id 600 was checked.
		damage  []string
		recheck [][]any
		kept    bool // false: Recheck says it kept too many keys
		// mended is how many ranges Run must copy again; rows how many
		// of the original's rows it compares.
		mended  int
		rows    int64
		wantErr bool
	}{
		{name: "nothing changed", kept: true, rows: 400},
		{name: "a row above the prefix", damage: []string{"UPDATE _t_new SET v = 'x' WHERE id = 900"}, kept: true, mended: 1, rows: 400},
		{name: "a changed row in the prefix", damage: []string{"UPDATE _t_new SET n = 7 WHERE id = 250"},
			recheck: [][]any{{int64(3)}, {int64(250)}, {int64(5000)}}, kept: true, mended: 1, rows: 1000 + 400},
		{name: "a changed row deleted on both sides", damage: []string{"DELETE FROM t WHERE id = 250", "DELETE FROM _t_new WHERE id = 250"},
			recheck: [][]any{{int64(250)}}, kept: true, rows: 400},
		{name: "too many changed rows", kept: false, rows: 400 + 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, cols, cols, nil)
			exec(t, f.db, "INSERT INTO t SELECT seq, CONCAT('v', seq), IF(seq % 3 = 0, NULL, seq) FROM seq_1_to_1000")
			f.copyAll(t, 100)
			ctx := context.Background()
			cfg := f.config(t)
			cfg.CatchUp = func(context.Context) error { return nil }
			b, err := NewBehind(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			// Ranges of 100 rows; 4 ranges a check: the first check stops
			// at 400, the second reaches 600.
			if reached, err := b.Check(ctx, []any{int64(600)}, 4); err != nil || reached {
				t.Fatalf("first check: reached %v, %v; want it to stop short", reached, err)
			}
			if reached, err := b.Check(ctx, []any{int64(600)}, 4); err != nil || !reached {
				t.Fatalf("second check: reached %v, %v", reached, err)
			}
			upTo, ok, bres := b.Close()
			if !ok || len(upTo) != 1 || upTo[0] != int64(600) || bres.Rows != 600 {
				t.Fatalf("checked up to %v (%v), %d rows; want 600", upTo, ok, bres.Rows)
			}
			exec(t, f.db, tc.damage...)
			var calls int
			cfg.Recopy = f.recopy(&calls)
			cfg.Checked = &Checked{UpTo: upTo, Recheck: func() ([][]any, bool) { return tc.recheck, tc.kept }}
			res, err := Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Mended != tc.mended || res.Rows != tc.rows {
				t.Errorf("mended %d ranges and compared %d rows, want %d and %d (%+v)", res.Mended, res.Rows, tc.mended, tc.rows, res)
			}
		})
	}
}

// TestBehindStopsAtADifference: a check during the copy that meets a range
// that differs returns the difference and leaves the prefix as it was before
// it; nothing is copied again during the copy.
func TestBehindStopsAtADifference(t *testing.T) {
	const cols = "id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL"
	f := newFixture(t, cols, cols, nil)
	exec(t, f.db, "INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_1000")
	f.copyAll(t, 100)
	exec(t, f.db, "UPDATE _t_new SET v = 'x' WHERE id = 350")
	ctx := context.Background()
	cfg := f.config(t)
	cfg.CatchUp = func(context.Context) error { return nil }
	var calls int
	cfg.Recopy = f.recopy(&calls)
	b, err := NewBehind(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Check(ctx, []any{int64(800)}, 0)
	var mismatch *MismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("check: %v, want a *MismatchError", err)
	}
	upTo, ok, res := b.Close()
	if ok || upTo != nil || calls != 0 {
		t.Errorf("after the difference: prefix %v (%v), %+v, %d re-copies; want no prefix and no re-copy", upTo, ok, res, calls)
	}
}
