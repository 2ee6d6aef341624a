package apply

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/schema"
)

var sbx *sandbox.Sandbox

func TestMain(m *testing.M) { os.Exit(sandbox.RunTests(m, &sbx)) }

func testMapping() *schema.Mapping {
	src := &schema.Table{Name: "t", Columns: []schema.Column{
		{Name: "id", Ordinal: 1, DataType: "bigint"}, {Name: "v", Ordinal: 2, DataType: "varchar", Collation: "utf8mb4_general_ci"},
	}}
	pairs := []schema.ColumnPair{{Old: "id", New: "id", Index: 0}, {Old: "v", New: "v", Index: 1}}
	return &schema.Mapping{Source: src, Shadow: src, Columns: pairs, Key: pairs[:1], KeyName: "PRIMARY", ShadowKey: "PRIMARY"}
}

func TestCollapse(t *testing.T) {
	t.Parallel()
	a := &Applier{m: testMapping()}
	row := func(id int64, v string) []any { return []any{id, v} }
	ops := a.collapse([]capture.Change{
		{Kind: capture.Insert, After: row(1, "a")},
		{Kind: capture.Update, Before: row(1, "a"), After: row(1, "b")},
		{Kind: capture.Update, Before: row(1, "b"), After: row(1, "c")},
		{Kind: capture.Update, Before: row(2, "x"), After: row(3, "x")}, // key change
		{Kind: capture.Delete, Before: row(4, "gone")},
		{Kind: capture.Insert, After: row(4, "back")}, // delete then insert again
		{Kind: capture.Delete, Before: row(5, "y")},
	})
	want := map[int64]any{1: "c", 2: nil, 3: "x", 4: "back", 5: nil}
	if len(ops) != len(want) {
		t.Fatalf("collapse gave %d ops, want %d: %+v", len(ops), len(want), ops)
	}
	for _, o := range ops {
		id := o.key[0].(int64)
		w := want[id]
		switch {
		case w == nil && o.image != nil:
			t.Errorf("key %d: image %v, want deleted", id, o.image)
		case w != nil && (o.image == nil || o.image[1] != w):
			t.Errorf("key %d: image %v, want v=%v", id, o.image, w)
		}
	}
}

// mappingOf maps table t of database name onto s, column by column.
func mappingOf(t *testing.T, db *sql.DB, name string, pairs [][2]string) *schema.Mapping {
	t.Helper()
	ctx := context.Background()
	src, err := schema.Load(ctx, db, name, "t")
	if err != nil {
		t.Fatal(err)
	}
	dst, err := schema.Load(ctx, db, name, "s")
	if err != nil {
		t.Fatal(err)
	}
	m, err := schema.NewMapping(src, dst, pairs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func setup(t *testing.T, shadowDef string) (*Applier, func(q string) string) {
	t.Helper()
	db, name := sbx.NewDatabase(t)
	ctx := context.Background()
	for _, q := range []string{
		"CREATE TABLE t (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)",
		"CREATE TABLE s " + shadowDef,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	m := mappingOf(t, db, name, [][2]string{{"id", "id"}, {"v", "v"}})
	query := func(q string) string {
		var out string
		if err := db.QueryRowContext(ctx, q).Scan(&out); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return out
	}
	return New(db, serverOf(t, db), m, nil), query
}

// execOn returns a function that runs a statement on db and fails t when
// it fails.
func execOn(t *testing.T, db *sql.DB) func(q string, args ...any) {
	return func(q string, args ...any) {
		t.Helper()
		sandbox.Exec(t, db, q, args...)
	}
}

// serverOf is the flavour and version of the sandbox db talks to.
func serverOf(t *testing.T, db *sql.DB) mysql.Server {
	t.Helper()
	server, err := mysql.DetectServer(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return server
}

// TestAppliesImagesNotRereads: the shadow gets the row image the binary log
// carried, whatever the original holds now (an event can arrive before its
// change is visible to a new SELECT).
func TestAppliesImagesNotRereads(t *testing.T) {
	a, query := setup(t, "(id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	ctx := context.Background()
	// The original holds nothing; the images alone must be applied.
	batch := capture.Batch{Changes: []capture.Change{
		{Kind: capture.Insert, After: []any{int64(1), capture.Text("from-binlog")}},
		{Kind: capture.Insert, After: []any{int64(2), capture.Text("two")}},
		{Kind: capture.Update, Before: []any{int64(2), capture.Text("two")}, After: []any{int64(20), capture.Text("twenty")}},
	}}
	if _, err := a.Apply(ctx, []capture.Batch{batch}); err != nil {
		t.Fatal(err)
	}
	if got := query("SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM s"); got != "1=from-binlog,20=twenty" {
		t.Errorf("shadow = %s", got)
	}
	// Applying the same events again (events can arrive twice) changes nothing.
	if _, err := a.Apply(ctx, []capture.Batch{batch}); err != nil {
		t.Fatal(err)
	}
	if got := query("SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM s"); got != "1=from-binlog,20=twenty" {
		t.Errorf("shadow after a repeat = %s", got)
	}
}

// TestUniqueSwapInOneTransaction: two rows swap a value a UNIQUE key of the
// shadow forbids them to share; applied as one batch it goes through.
func TestUniqueSwapInOneTransaction(t *testing.T) {
	a, query := setup(t, "(id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL, UNIQUE KEY uv (v))")
	ctx := context.Background()
	if _, err := a.Apply(ctx, []capture.Batch{{Changes: []capture.Change{
		{Kind: capture.Insert, After: []any{int64(1), capture.Text("a")}},
		{Kind: capture.Insert, After: []any{int64(2), capture.Text("b")}},
	}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Apply(ctx, []capture.Batch{{Changes: []capture.Change{
		{Kind: capture.Update, Before: []any{int64(1), capture.Text("a")}, After: []any{int64(1), capture.Text("b")}},
		{Kind: capture.Update, Before: []any{int64(2), capture.Text("b")}, After: []any{int64(2), capture.Text("a")}},
	}}}); err != nil {
		t.Fatal(err)
	}
	if got := query("SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM s"); got != "1=b,2=a" {
		t.Errorf("shadow = %s", got)
	}
	// A real duplicate stops with the key and never replaces the other row.
	_, err := a.Apply(ctx, []capture.Batch{{Changes: []capture.Change{{Kind: capture.Insert, After: []any{int64(3), capture.Text("a")}}}}})
	var rowErr *rowcopy.RowError
	if !errors.As(err, &rowErr) || !strings.Contains(err.Error(), "id=3") || !strings.Contains(err.Error(), "Duplicate entry 'a'") {
		t.Errorf("duplicate = %v", err)
	}
	if got := query("SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM s"); got != "1=b,2=a" {
		t.Errorf("shadow after the refused duplicate = %s", got)
	}
}

// TestWarningStops: a value the shadow would store differently (a longer
// string into a shorter column, which strict mode refuses) stops with the key.
func TestWarningStops(t *testing.T) {
	a, query := setup(t, "(id BIGINT PRIMARY KEY, v VARCHAR(3) NOT NULL)")
	_, err := a.Apply(context.Background(), []capture.Batch{{Changes: []capture.Change{
		{Kind: capture.Insert, After: []any{int64(1), capture.Text("ok")}},
		{Kind: capture.Insert, After: []any{int64(7), capture.Text("too long")}},
	}}})
	if err == nil || !strings.Contains(err.Error(), "id=7") {
		t.Fatalf("err = %v, want a row error naming id=7", err)
	}
	if got := query("SELECT COUNT(*) FROM s"); got != "0" {
		t.Errorf("a failed batch left %s rows", got)
	}
}

// TestCopierRowBetweenDeleteAndInsert: the copier inserts a key between the
// batch's delete (which finds no row) and its insert, and commits. The
// batch deletes the copier's row and inserts its image within its own
// transaction rather than failing on the duplicate.
func TestCopierRowBetweenDeleteAndInsert(t *testing.T) {
	a, query := setup(t, "(id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	ctx := context.Background()
	copied := make(chan error, 1)
	rounds := 0
	a.afterDelete = func(context.Context) {
		rounds++
		if rounds > 1 {
			return
		}
		inserted := make(chan struct{})
		go func() {
			tx, err := a.db.BeginTx(ctx, nil)
			if err == nil {
				_, err = tx.ExecContext(ctx, "INSERT INTO s VALUES (1, 'copied')")
			}
			close(inserted)
			if err != nil {
				copied <- err
				return
			}
			// Held until the applier's insert waits for this row's lock.
			time.Sleep(300 * time.Millisecond)
			copied <- tx.Commit()
		}()
		<-inserted
	}
	if _, err := a.Apply(ctx, []capture.Batch{{Changes: []capture.Change{
		{Kind: capture.Update, Before: []any{int64(1), capture.Text("old")}, After: []any{int64(1), capture.Text("image")}},
		{Kind: capture.Insert, After: []any{int64(2), capture.Text("two")}},
	}}}); err != nil {
		t.Fatal(err)
	}
	if err := <-copied; err != nil {
		t.Fatal(err)
	}
	if rounds != 2 {
		t.Errorf("delete and insert ran %d times, want 2", rounds)
	}
	if got := query("SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM s"); got != "1=image,2=two" {
		t.Errorf("shadow = %s", got)
	}
}

// copierWritesOnce makes the copier insert row into the shadow, committed,
// between the next group's first delete and its insert, and returns the
// count of the group's rounds.
func copierWritesOnce(t *testing.T, a *Applier, row string) *int {
	rounds := new(int)
	a.afterDelete = func(ctx context.Context) {
		if *rounds++; *rounds == 1 {
			if _, err := a.db.ExecContext(ctx, "INSERT INTO s VALUES "+row); err != nil {
				t.Errorf("copier's insert: %v", err)
			}
		}
	}
	return rounds
}

// TestCopierRowWhenTheKeyIsExtended: the shadow's primary key extends the
// copy key ((id) to (id, v)), so it does not tell on its own that the
// copier wrote a row of the same key between the batch's delete and its
// insert. Two cases, as the copier's row may be the image's state or a
// later one:
//   - the same (id, v): the insert meets it on the extended key, which
//     means the same id; the batch deletes it and inserts again;
//   - a later v: both rows stand for a moment, and the later change's own
//     event, which comes after in the log, deletes every row of the id and
//     leaves its image alone.
func TestCopierRowWhenTheKeyIsExtended(t *testing.T) {
	a, query := setup(t, "(id BIGINT NOT NULL, v VARCHAR(20) NOT NULL, PRIMARY KEY (id, v))")
	if a.m.ShadowKey != "PRIMARY" || len(a.m.Key) != 1 {
		t.Fatalf("mapping walks %v through %s, want id through PRIMARY", a.m.KeyOldNames(), a.m.ShadowKey)
	}
	ctx := context.Background()
	copierWrites := func(row string) { copierWritesOnce(t, a, row) }
	update := func(id int64, before, after string) capture.Batch {
		return capture.Batch{Changes: []capture.Change{{Kind: capture.Update,
			Before: []any{id, capture.Text(before)}, After: []any{id, capture.Text(after)}}}}
	}

	copierWrites("(1, 'b')")
	if _, err := a.Apply(ctx, []capture.Batch{update(1, "a", "b")}); err != nil {
		t.Fatal(err)
	}
	if got := query("SELECT GROUP_CONCAT(id, '=', v ORDER BY id, v) FROM s"); got != "1=b" {
		t.Errorf("after the same row was copied: shadow = %s, want 1=b", got)
	}

	copierWrites("(2, 'c')")
	if _, err := a.Apply(ctx, []capture.Batch{update(2, "a", "b")}); err != nil {
		t.Fatal(err)
	}
	if got := query("SELECT GROUP_CONCAT(id, '=', v ORDER BY id, v) FROM s WHERE id = 2"); got != "2=b,2=c" {
		t.Errorf("after a later state was copied: shadow = %s, want both rows of id 2 until the later event", got)
	}
	a.afterDelete = nil
	if _, err := a.Apply(ctx, []capture.Batch{update(2, "b", "c")}); err != nil {
		t.Fatal(err)
	}
	if got := query("SELECT GROUP_CONCAT(id, '=', v ORDER BY id, v) FROM s"); got != "1=b,2=c" {
		t.Errorf("after the later event: shadow = %s, want 1=b,2=c", got)
	}
}

// TestCopierRowMeetsTheNewPrimaryKeyFirst: the ALTER gave the shadow a
// primary key (v, id) over other columns than the copy key (id, kept
// unique), and the server checks the primary key first. The copier's row
// of the image's key and state, written between the batch's delete and its
// insert, is then a duplicate on the primary key, not on the key over id;
// the delete run again finds it, and the batch replaces it as for a
// duplicate on the copy key.
func TestCopierRowMeetsTheNewPrimaryKeyFirst(t *testing.T) {
	a, query := setup(t, "(id BIGINT NOT NULL, v VARCHAR(20) NOT NULL, PRIMARY KEY (v, id), UNIQUE KEY uid (id))")
	if a.m.ShadowKey != "uid" {
		t.Fatalf("the shadow's key over the copy key is %s, want uid", a.m.ShadowKey)
	}
	rounds := copierWritesOnce(t, a, "(1, 'b')")
	_, err := a.Apply(context.Background(), []capture.Batch{{Changes: []capture.Change{
		{Kind: capture.Update, Before: []any{int64(1), capture.Text("a")}, After: []any{int64(1), capture.Text("b")}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if *rounds != 2 {
		t.Errorf("delete and insert ran %d times, want 2", *rounds)
	}
	if got := query("SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM s"); got != "1=b" {
		t.Errorf("shadow = %s, want 1=b", got)
	}
}

// TestRealDuplicateAfterOwnRows: a group split over statements meets a
// real duplicate (on a unique key other than the copy key's) in its last
// statement. The delete run again then removes only the rows the group's
// own earlier statements inserted, which are not the copier's: the group
// stops at once, with the row named, rather than trying again.
func TestRealDuplicateAfterOwnRows(t *testing.T) {
	a, query := setup(t, "(id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL, UNIQUE KEY uv (v))")
	ctx := context.Background()
	if _, err := a.Apply(ctx, []capture.Batch{{Changes: []capture.Change{{Kind: capture.Insert, After: []any{int64(100), capture.Text("x")}}}}}); err != nil {
		t.Fatal(err)
	}
	a.placeholders = 4 // two rows of two columns a statement
	rounds := 0
	a.afterDelete = func(context.Context) { rounds++ }
	var changes []capture.Change
	for i, v := range []string{"a", "b", "c", "d", "e", "x"} {
		changes = append(changes, capture.Change{Kind: capture.Insert, After: []any{int64(i + 1), capture.Text(v)}})
	}
	_, err := a.Apply(ctx, []capture.Batch{{Changes: changes}})
	var rowErr *rowcopy.RowError
	if !errors.As(err, &rowErr) || !strings.Contains(err.Error(), "id=6") || !strings.Contains(err.Error(), "Duplicate entry 'x'") {
		t.Errorf("duplicate = %v", err)
	}
	if rounds != 1 {
		t.Errorf("the group's delete and insert ran %d times, want 1: the rows the delete removed again were its own", rounds)
	}
	if got := query("SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM s"); got != "100=x" {
		t.Errorf("shadow after the refused duplicate = %s", got)
	}
}

// TestKeySpellings: a key the server compares in a collation that equates
// different bytes ('a' = 'A' = 'a ' in utf8mb4_general_ci) is collapsed by
// its bytes like any other (see the package comment). A batch whose changes
// move a row between spellings and back, delete it and insert it again in
// another spelling, with and without an integer beside the text in the
// key, leaves the shadow byte for byte as the same statements leave the
// original, in one delete and one insert.
func TestKeySpellings(t *testing.T) {
	type step struct{ before, after []any }
	ins := func(after ...any) step { return step{after: after} }
	upd := func(before, after []any) step { return step{before, after} }
	del := func(before ...any) step { return step{before: before} }
	r := func(vals ...any) []any { return vals }
	cases := []struct {
		name    string
		def     string // the columns of t and s, their only unique key last
		cols    []string
		initial [][]any
		steps   []step
	}{
		{
			name:    "text and id",
			def:     "(id BIGINT NOT NULL, v VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, n INT NOT NULL, UNIQUE KEY vid (v, id))",
			cols:    []string{"id", "v", "n"},
			initial: [][]any{r(1, "a", 0), r(2, "b", 0), r(3, "c", 0)},
			steps: []step{
				upd(r(1, "a", 0), r(1, "A", 1)), // another case
				upd(r(2, "b", 0), r(2, "b", 1)),
				ins(4, "d", 1),
				upd(r(1, "A", 1), r(1, "a ", 2)), // a trailing space, equal under PAD SPACE
				del(3, "c", 0),
				ins(3, "C", 1), // back in another case
				upd(r(4, "d", 1), r(4, "D", 2)),
				upd(r(4, "D", 2), r(5, "d", 3)), // id and case at once
				ins(4, "d", 4),                  // the old key again
				del(1, "a ", 2),
				ins(1, "A", 5),
			},
		},
		{
			name:    "text alone",
			def:     "(v VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, n INT NOT NULL, PRIMARY KEY (v))",
			cols:    []string{"v", "n"},
			initial: [][]any{r("a", 0), r("b", 0), r("c", 0)},
			steps: []step{
				upd(r("a", 0), r("A", 1)),
				upd(r("b", 0), r("b", 1)),
				ins("d", 1),
				upd(r("A", 1), r("a ", 2)),
				del("c", 0),
				ins("C", 1),
				upd(r("d", 1), r("D", 2)),
				upd(r("D", 2), r("e", 3)),
				ins("d", 4),
				del("a ", 2),
				ins("A", 5),
				upd(r("b", 1), r("B", 2)),
				upd(r("B", 2), r("b", 3)), // and back
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, name := sbx.NewDatabase(t)
			ctx := context.Background()
			exec := execOn(t, db)
			cols := strings.Join(c.cols, ", ")
			marks := strings.TrimSuffix(strings.Repeat("?, ", len(c.cols)), ", ")
			var match []string
			for _, col := range c.cols {
				match = append(match, "CAST("+col+" AS BINARY) = CAST(? AS BINARY)")
			}
			where := strings.Join(match, " AND ")
			exec("CREATE TABLE t " + c.def)
			exec("CREATE TABLE s " + c.def)
			for _, row := range c.initial {
				exec("INSERT INTO t ("+cols+") VALUES ("+marks+")", row...)
				exec("INSERT INTO s ("+cols+") VALUES ("+marks+")", row...)
			}
			var pairs [][2]string
			for _, col := range c.cols {
				pairs = append(pairs, [2]string{col, col})
			}
			m := mappingOf(t, db, name, pairs)
			// The original's statements, and the images the binary log
			// would carry for them.
			image := func(vals []any) []any {
				if vals == nil {
					return nil
				}
				out := make([]any, len(vals))
				for i, v := range vals {
					switch v := v.(type) {
					case int:
						out[i] = int64(v)
					case string:
						out[i] = capture.Text(v)
					}
				}
				return out
			}
			var changes []capture.Change
			for _, st := range c.steps {
				switch {
				case st.before == nil:
					exec("INSERT INTO t ("+cols+") VALUES ("+marks+")", st.after...)
					changes = append(changes, capture.Change{Kind: capture.Insert, After: image(st.after)})
				case st.after == nil:
					exec("DELETE FROM t WHERE "+where, st.before...)
					changes = append(changes, capture.Change{Kind: capture.Delete, Before: image(st.before)})
				default:
					var set []string
					for _, col := range c.cols {
						set = append(set, col+" = ?")
					}
					exec("UPDATE t SET "+strings.Join(set, ", ")+" WHERE "+where, append(slices.Clone(st.after), st.before...)...)
					changes = append(changes, capture.Change{Kind: capture.Update, Before: image(st.before), After: image(st.after)})
				}
			}
			a := New(db, serverOf(t, db), m, nil)
			rounds := 0
			a.afterDelete = func(context.Context) { rounds++ }
			if _, err := a.Apply(ctx, []capture.Batch{{Changes: changes}}); err != nil {
				t.Fatal(err)
			}
			if rounds != 1 {
				t.Errorf("the batch took %d delete-and-insert rounds, want 1", rounds)
			}
			rows := func(table string) string {
				var out string
				q := "SELECT GROUP_CONCAT(HEX(CONCAT_WS('|', " + cols + ")) ORDER BY HEX(CONCAT_WS('|', " + cols + "))) FROM " + table
				if err := db.QueryRowContext(ctx, q).Scan(&out); err != nil {
					t.Fatal(err)
				}
				return out
			}
			if got, want := rows("s"), rows("t"); got != want {
				t.Errorf("shadow %s, original %s (hex of each row)", got, want)
			}
		})
	}
}

// TestEnumErrorValue: an ENUM's error value (index 0, which a session
// without strict mode stores for a string that is not a member) is applied
// as index 0, as the copy stores it, and never as the empty member; also
// into an ENUM whose members change, and into a VARCHAR (where it is the
// empty string). As a key, it selects its own row and not the empty
// member's. A row whose other value does not fit is refused, not stored in
// lenient mode.
func TestEnumErrorValue(t *testing.T) {
	bad := schema.EnumErrorValue{}
	const orig = "(id BIGINT NOT NULL, e ENUM('','a') NOT NULL, g ENUM('a','b') NULL, v VARCHAR(5) NOT NULL, PRIMARY KEY (id))"
	type row struct {
		id   int64
		e, g any // nil, a member's name, or bad
		v    string
	}
	// sqlValue is how the original's statement writes v: a string that is
	// no member stores the error value.
	sqlValue := func(v any) any {
		switch v := v.(type) {
		case schema.EnumErrorValue:
			return "no such member"
		case string:
			return v
		}
		return nil
	}
	image := func(r row) []any { return []any{r.id, r.e, r.g, capture.Text(r.v)} }
	initial := []row{{1, "a", "a", "one"}, {2, "", nil, "two"}, {3, bad, "b", "three"}}
	steps := []struct{ before, after *row }{
		{nil, &row{4, bad, bad, "four"}},
		{nil, &row{5, "", bad, "five"}},
		{&row{1, "a", "a", "one"}, &row{1, bad, "a", "uno"}},
		{&row{2, "", nil, "two"}, &row{2, "", "b", "dos"}},
		{&row{3, bad, "b", "three"}, &row{3, "", nil, "tres"}},
		{&row{5, "", bad, "five"}, &row{6, bad, bad, "six"}},
		{&row{4, bad, bad, "four"}, nil},
		{nil, &row{4, "a", bad, "cuatr"}},
	}
	for _, c := range []struct{ name, shadow string }{
		{"same definition", orig},
		{"members added", "(id BIGINT NOT NULL, e ENUM('','a','z') NOT NULL, g ENUM('a','b','c') NULL, v VARCHAR(5) NOT NULL, PRIMARY KEY (id))"},
		{"to varchar", "(id BIGINT NOT NULL, e VARCHAR(10) NOT NULL, g ENUM('a','b') NULL, v VARCHAR(5) NOT NULL, PRIMARY KEY (id))"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, name := sbx.NewDatabase(t)
			ctx := context.Background()
			exec := execOn(t, db)
			exec("CREATE TABLE t " + orig)
			exec("CREATE TABLE s " + c.shadow)
			exec("CREATE TABLE x " + c.shadow)
			for _, r := range initial {
				exec("SET STATEMENT sql_mode = '' FOR INSERT INTO t VALUES (?, ?, ?, ?)", r.id, sqlValue(r.e), sqlValue(r.g), r.v)
			}
			exec("INSERT INTO s SELECT * FROM t")
			var changes []capture.Change
			for _, st := range steps {
				switch {
				case st.before == nil:
					a := *st.after
					exec("SET STATEMENT sql_mode = '' FOR INSERT INTO t VALUES (?, ?, ?, ?)", a.id, sqlValue(a.e), sqlValue(a.g), a.v)
					changes = append(changes, capture.Change{Kind: capture.Insert, After: image(a)})
				case st.after == nil:
					exec("DELETE FROM t WHERE id = ?", st.before.id)
					changes = append(changes, capture.Change{Kind: capture.Delete, Before: image(*st.before)})
				default:
					a := *st.after
					exec("SET STATEMENT sql_mode = '' FOR UPDATE t SET id = ?, e = ?, g = ?, v = ? WHERE id = ?", a.id, sqlValue(a.e), sqlValue(a.g), a.v, st.before.id)
					changes = append(changes, capture.Change{Kind: capture.Update, Before: image(*st.before), After: image(a)})
				}
			}
			// What the copy stores for the original's rows now.
			exec("INSERT INTO x SELECT * FROM t")
			a := New(db, serverOf(t, db), mappingOf(t, db, name, [][2]string{{"id", "id"}, {"e", "e"}, {"g", "g"}, {"v", "v"}}), nil)
			if _, err := a.Apply(ctx, []capture.Batch{{Changes: changes}}); err != nil {
				t.Fatal(err)
			}
			rows := func(table string) string {
				var out string
				q := "SELECT GROUP_CONCAT(CONCAT_WS('|', id, HEX(e), IF(e = '' AND e + 0 = 0, 'index 0', ''), IFNULL(HEX(g), 'NULL'), g + 0, v) ORDER BY id SEPARATOR '; ') FROM " + table
				if err := db.QueryRowContext(ctx, q).Scan(&out); err != nil {
					t.Fatal(err)
				}
				return out
			}
			got, want := rows("s"), rows("x")
			if got != want {
				t.Errorf("shadow %s\ncopy   %s", got, want)
			}
			// The test's rows hold error values in both columns.
			if c.name == "same definition" && (!strings.Contains(want, "|index 0|") || !strings.Contains(want, "|0|")) {
				t.Errorf("the rows hold no error value: %s", want)
			}
		})
	}

	// The key's shapes: the shadow holds few rows, so that the server
	// reads the batch's keys row by row, where an ENUM bound by its name
	// compares as a string ('' then meets the error value too); the error
	// value's row of (e, id) is not in the batch, and must stay.
	for _, k := range []struct {
		name, def, initial string
		changes            []capture.Change
		statements         []string // the same changes, made to the original
		want               string
	}{
		{
			name:    "key (e, id)",
			def:     "(e ENUM('','a') NOT NULL, id INT NOT NULL, v VARCHAR(5) NOT NULL, PRIMARY KEY (e, id))",
			initial: "('no such', 1, 'err'), ('', 1, 'empty'), ('a', 1, 'a')",
			changes: append([]capture.Change{
				{Kind: capture.Update, Before: []any{"", int64(1), capture.Text("empty")}, After: []any{"", int64(1), capture.Text("mt2")}},
				{Kind: capture.Delete, Before: []any{"a", int64(1), capture.Text("a")}},
				{Kind: capture.Insert, After: []any{bad, int64(2), capture.Text("new")}},
			}, manyInserts(10)...),
			statements: []string{
				"UPDATE t SET v = 'mt2' WHERE e + 0 = 1 AND id = 1",
				"DELETE FROM t WHERE e = 'a' AND id = 1",
				"INSERT INTO t VALUES ('no such', 2, 'new')",
				"INSERT INTO t SELECT 'a', seq, 'many' FROM seq_2_to_11",
			},
			want: "0|1|err; 0|2|new; 1|1|mt2; 2|2|many; 2|3|many; 2|4|many; 2|5|many; 2|6|many; 2|7|many; 2|8|many; 2|9|many; 2|10|many; 2|11|many",
		},
		{
			name:    "key e alone",
			def:     "(e ENUM('','a') NOT NULL, id INT NOT NULL, v VARCHAR(5) NOT NULL, PRIMARY KEY (e))",
			initial: "('no such', 1, 'err'), ('', 2, 'empty'), ('a', 3, 'a')",
			changes: []capture.Change{
				{Kind: capture.Update, Before: []any{"", int64(2), capture.Text("empty")}, After: []any{"", int64(2), capture.Text("mt2")}},
				{Kind: capture.Delete, Before: []any{"a", int64(3), capture.Text("a")}},
				{Kind: capture.Update, Before: []any{bad, int64(1), capture.Text("err")}, After: []any{"a", int64(1), capture.Text("moved")}},
			},
			statements: []string{
				"UPDATE t SET v = 'mt2' WHERE e + 0 = 1",
				"DELETE FROM t WHERE e = 'a'",
				"UPDATE t SET e = 'a', v = 'moved' WHERE e + 0 = 0",
			},
			want: "1|2|mt2; 2|1|moved",
		},
	} {
		t.Run(k.name, func(t *testing.T) {
			db, name := sbx.NewDatabase(t)
			ctx := context.Background()
			exec := execOn(t, db)
			exec("CREATE TABLE t " + k.def)
			exec("CREATE TABLE s " + k.def)
			exec("SET STATEMENT sql_mode = '' FOR INSERT INTO t VALUES " + k.initial)
			exec("INSERT INTO s SELECT * FROM t")
			for _, q := range k.statements {
				exec("SET STATEMENT sql_mode = '' FOR " + q)
			}
			a := New(db, serverOf(t, db), mappingOf(t, db, name, [][2]string{{"e", "e"}, {"id", "id"}, {"v", "v"}}), nil)
			if _, err := a.Apply(ctx, []capture.Batch{{Changes: k.changes}}); err != nil {
				t.Fatal(err)
			}
			rows := func(table string) string {
				var out string
				if err := db.QueryRowContext(ctx, "SELECT GROUP_CONCAT(CONCAT_WS('|', e + 0, id, v) ORDER BY e + 0, id SEPARATOR '; ') FROM "+table).Scan(&out); err != nil {
					t.Fatal(err)
				}
				return out
			}
			if got, want := rows("s"), rows("t"); got != want || want != k.want {
				t.Errorf("shadow %s\noriginal %s\nwant %s", got, want, k.want)
			}
		})
	}

	t.Run("kept values", func(t *testing.T) {
		// A revert's applier keeps a column only the kept table has on
		// the row of the same key, the error value's row and the empty
		// member's being different rows, and follows rows that move onto
		// the error value and off it.
		db, name := sbx.NewDatabase(t)
		ctx := context.Background()
		for _, q := range []string{
			"CREATE TABLE t (e ENUM('','a') NOT NULL, id INT NOT NULL, v VARCHAR(5) NOT NULL, PRIMARY KEY (e, id))",
			"CREATE TABLE s (e ENUM('','a') NOT NULL, id INT NOT NULL, v VARCHAR(5) NOT NULL, legacy VARCHAR(10) NOT NULL DEFAULT 'default', PRIMARY KEY (e, id))",
			"SET STATEMENT sql_mode = '' FOR INSERT INTO s VALUES ('no such', 1, 'err', 'L-err'), ('', 1, 'empty', 'L-empty'), ('a', 2, 'a', 'L-a2'), ('no such', 3, 'err3', 'L-err3')",
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		a := New(db, serverOf(t, db), mappingOf(t, db, name, [][2]string{{"e", "e"}, {"id", "id"}, {"v", "v"}}), nil)
		a.KeepUnmapped()
		changes := []capture.Change{
			{Kind: capture.Update, Before: []any{bad, int64(1), capture.Text("err")}, After: []any{bad, int64(1), capture.Text("e2")}},
			{Kind: capture.Update, Before: []any{"", int64(1), capture.Text("empty")}, After: []any{"", int64(1), capture.Text("m2")}},
			{Kind: capture.Update, Before: []any{"a", int64(2), capture.Text("a")}, After: []any{bad, int64(2), capture.Text("toerr")}},
			{Kind: capture.Update, Before: []any{bad, int64(3), capture.Text("err3")}, After: []any{"a", int64(3), capture.Text("offer")}},
		}
		if _, err := a.Apply(ctx, []capture.Batch{{Changes: changes}}); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := db.QueryRowContext(ctx, "SELECT GROUP_CONCAT(CONCAT_WS('|', e + 0, id, v, legacy) ORDER BY e + 0, id SEPARATOR '; ') FROM s").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := "0|1|e2|L-err; 0|2|toerr|L-a2; 1|1|m2|L-empty; 2|3|offer|L-err3"; got != want {
			t.Errorf("shadow %s, want %s", got, want)
		}
	})

	t.Run("another value does not fit", func(t *testing.T) {
		db, name := sbx.NewDatabase(t)
		ctx := context.Background()
		for _, q := range []string{
			"CREATE TABLE t " + orig,
			"CREATE TABLE s (id BIGINT NOT NULL, e ENUM('','a') NOT NULL, g ENUM('a','b') NULL, v VARCHAR(3) NOT NULL, PRIMARY KEY (id))",
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		a := New(db, serverOf(t, db), mappingOf(t, db, name, [][2]string{{"id", "id"}, {"e", "e"}, {"g", "g"}, {"v", "v"}}), nil)
		// Also where the server lists one warning of a statement: the
		// applier's sessions list them all.
		t.Cleanup(func() { db.ExecContext(context.Background(), "SET GLOBAL max_error_count = DEFAULT") }) //nolint:errcheck // best effort
		for _, maxErrors := range []int{64, 1} {
			if _, err := db.ExecContext(ctx, "SET GLOBAL max_error_count = ?", maxErrors); err != nil {
				t.Fatal(err)
			}
			db.SetMaxIdleConns(0) // new sessions, which start from the global value
			db.SetMaxIdleConns(2)
			_, err := a.Apply(ctx, []capture.Batch{{Changes: []capture.Change{{Kind: capture.Insert, After: image(row{7, bad, "a", "seven"})}}}})
			var rowErr *rowcopy.RowError
			if !errors.As(err, &rowErr) || !strings.Contains(err.Error(), "1265") || !strings.Contains(err.Error(), "'v'") {
				t.Errorf("max_error_count %d: err = %v, want the row refused with the truncation of v", maxErrors, err)
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM s").Scan(&n); err != nil || n != 0 {
				t.Errorf("max_error_count %d: shadow holds %d rows (%v), want none", maxErrors, n, err)
			}
		}
	})
}

// TestKeepUnmappedFollowsTheRow: a revert's applier (KeepUnmapped) keeps
// a column the mapping does not write on every row that was there before,
// following it when its key changes (also to the other spelling of a key in
// a collation that equates them, and in a swap of two keys, and over two
// batches), and gives the column's default to a row that is new, also
// under a key another row held earlier in the same batch (deleted, or
// moved away); with an integer key and a text key in a _ci collation.
func TestKeepUnmappedFollowsTheRow(t *testing.T) {
	for _, c := range []struct {
		name, keyType string
		k             func(i int) any // the key's value i, as the table holds it
		image         func(v any) any // and as a row image carries it
		want          string
	}{
		{
			name: "integer key", keyType: "INT",
			k:     func(i int) any { return i },
			image: func(v any) any { return int64(v.(int)) },
			want: "1|a2|kept 1; 2|b2|default; 4|c|kept 3; 5|f|kept 6; 7|g3|kept 7; 8|h|kept 8; " +
				"10|i2|kept 9; 12|p|kept 11; 11|q|kept 12",
		},
		{
			// Key i is spelled 'ki'; its other spelling, 'Ki', is the key
			// reused or moved to in the batch.
			name: "text key in a _ci collation", keyType: "VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
			k:     func(i int) any { return fmt.Sprintf("k%d", i) },
			image: func(v any) any { return capture.Text(v.(string)) },
			want: "k1|a2|kept k1; K2|b2|default; k4|c|kept k3; K5|f|kept k6; k7|g3|kept k7; K8|h|kept k8; " +
				"k10|i2|kept k9; k12|p|kept k11; k11|q|kept k12",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, name := sbx.NewDatabase(t)
			ctx := context.Background()
			exec := execOn(t, db)
			exec("CREATE TABLE t (k " + c.keyType + " NOT NULL PRIMARY KEY, v VARCHAR(10) NOT NULL)")
			exec("CREATE TABLE s (k " + c.keyType + " NOT NULL PRIMARY KEY, v VARCHAR(10) NOT NULL, legacy VARCHAR(20) NOT NULL DEFAULT 'default')")
			initial := map[int]string{1: "a", 2: "b", 3: "c", 5: "e", 6: "f", 7: "g", 8: "h", 9: "i", 11: "p", 12: "q"}
			for i, v := range initial {
				exec("INSERT INTO s VALUES (?, ?, CONCAT('kept ', ?))", c.k(i), v, c.k(i))
			}
			// other is key i's other spelling: the same key for integers.
			other := func(i int) any {
				if s, ok := c.k(i).(string); ok {
					return strings.ToUpper(s[:1]) + s[1:]
				}
				return c.k(i)
			}
			row := func(k any, v string) []any { return []any{c.image(k), capture.Text(v)} }
			first := []capture.Change{
				{Kind: capture.Update, Before: row(c.k(1), "a"), After: row(c.k(1), "a2")},  // in place
				{Kind: capture.Delete, Before: row(c.k(2), "b")},                            // deleted, and
				{Kind: capture.Insert, After: row(other(2), "b2")},                          // a new row under its key
				{Kind: capture.Update, Before: row(c.k(3), "c"), After: row(c.k(4), "c")},   // moved
				{Kind: capture.Delete, Before: row(c.k(5), "e")},                            // deleted, and
				{Kind: capture.Update, Before: row(c.k(6), "f"), After: row(other(5), "f")}, // another row moved there
				{Kind: capture.Update, Before: row(c.k(7), "g"), After: row(c.k(7), "g2")},  // twice in place
				{Kind: capture.Update, Before: row(c.k(7), "g2"), After: row(c.k(7), "g3")}, //
				{Kind: capture.Update, Before: row(c.k(8), "h"), After: row(other(8), "h")}, // to its other spelling
				{Kind: capture.Update, Before: row(c.k(9), "i"), After: row(c.k(10), "i")},  // moved, then changed next batch
				{Kind: capture.Update, Before: row(c.k(11), "p"), After: row(c.k(13), "p")}, // a swap of 11 and 12
				{Kind: capture.Update, Before: row(c.k(12), "q"), After: row(c.k(11), "q")}, //
				{Kind: capture.Update, Before: row(c.k(13), "p"), After: row(c.k(12), "p")}, //
			}
			second := []capture.Change{
				{Kind: capture.Update, Before: row(c.k(10), "i"), After: row(c.k(10), "i2")},
			}
			a := New(db, serverOf(t, db), mappingOf(t, db, name, [][2]string{{"k", "k"}, {"v", "v"}}), nil)
			a.KeepUnmapped()
			for _, changes := range [][]capture.Change{first, second} {
				if _, err := a.Apply(ctx, []capture.Batch{{Changes: changes}}); err != nil {
					t.Fatal(err)
				}
			}
			var got string
			if err := db.QueryRowContext(ctx, "SELECT GROUP_CONCAT(CONCAT_WS('|', k, v, legacy) ORDER BY v SEPARATOR '; ') FROM s").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("shadow %s\nwant   %s", got, c.want)
			}
		})
	}
}

// manyInserts are the inserts of keys ('a', 2..1+n) with v 'many'.
func manyInserts(n int) []capture.Change {
	var out []capture.Change
	for id := 2; id <= 1+n; id++ {
		out = append(out, capture.Change{Kind: capture.Insert, After: []any{"a", int64(id), capture.Text("many")}})
	}
	return out
}

// TestKeepUnmappedSetEmptyMember: a kept column that is a SET with an
// empty member keeps its bits through the set-aside and the put-back of
// rows the batch rewrites, in place and moved; by name, the member alone
// would become the empty set.
func TestKeepUnmappedSetEmptyMember(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	ctx := context.Background()
	exec := execOn(t, db)
	exec("CREATE TABLE t (k INT NOT NULL PRIMARY KEY, v VARCHAR(10) NOT NULL)")
	exec("CREATE TABLE s (k INT NOT NULL PRIMARY KEY, v VARCHAR(10) NOT NULL, legacy SET('a','','b') NULL)")
	var changes []capture.Change
	for bits := 0; bits < 8; bits++ {
		exec("INSERT INTO s VALUES (?, 'x', ?)", bits, bits)
		after := int64(bits)
		if bits%2 == 1 {
			after += 100 // moved
		}
		changes = append(changes, capture.Change{Kind: capture.Update,
			Before: []any{int64(bits), capture.Text("x")}, After: []any{after, capture.Text("y")}})
	}
	exec("INSERT INTO s VALUES (8, 'x', NULL)")
	changes = append(changes, capture.Change{Kind: capture.Update, Before: []any{int64(8), capture.Text("x")}, After: []any{int64(8), capture.Text("y")}})
	a := New(db, serverOf(t, db), mappingOf(t, db, name, [][2]string{{"k", "k"}, {"v", "v"}}), nil)
	a.KeepUnmapped()
	if _, err := a.Apply(ctx, []capture.Batch{{Changes: changes}}); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := db.QueryRowContext(ctx, "SELECT GROUP_CONCAT(CONCAT_WS(':', k MOD 100, IFNULL(legacy + 0, 'NULL')) ORDER BY k MOD 100 SEPARATOR ' ') FROM s WHERE v = 'y'").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "0:0 1:1 2:2 3:3 4:4 5:5 6:6 7:7 8:NULL"; got != want {
		t.Errorf("kept bits %s, want %s", got, want)
	}
}
