package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/schema"
)

var sbx *sandbox.Sandbox

func TestMain(m *testing.M) { os.Exit(sandbox.RunTestsCheckingLeaks(m, &sbx)) }

// fixture is an original table t and its shadow _t_new in a database of
// their own.
type fixture struct {
	db     *sql.DB
	dbName string
	m      *schema.Mapping
	// waitForApplier is the copier's WaitForApplier when an applier runs.
	waitForApplier func(context.Context) error
}

// newFixture creates t and _t_new from their definitions (columns only) and
// maps them with pairs (old name → new name); nil pairs maps every column of
// t to the same name.
func newFixture(t *testing.T, orig, shadow string, pairs [][2]string) *fixture {
	t.Helper()
	db, name := sbx.NewDatabase(t)
	exec(t, db, "CREATE TABLE t ("+orig+") ENGINE=InnoDB", "CREATE TABLE _t_new ("+shadow+") ENGINE=InnoDB")
	ctx := context.Background()
	src, err := schema.Load(ctx, db, name, "t")
	if err != nil {
		t.Fatal(err)
	}
	dst, err := schema.Load(ctx, db, name, "_t_new")
	if err != nil {
		t.Fatal(err)
	}
	if pairs == nil {
		for _, c := range src.Columns {
			pairs = append(pairs, [2]string{c.Name, c.Name})
		}
	}
	m, err := schema.NewMapping(src, dst, pairs)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, dbName: name, m: m}
}

// copyAll copies t into _t_new with the real chunker and copier.
func (f *fixture) copyAll(t *testing.T, chunkSize int) {
	t.Helper()
	ctx := context.Background()
	chunker := rowcopy.NewChunker(f.db, f.m, chunkSize)
	copier := rowcopy.NewCopier(f.db, f.m)
	copier.WaitForApplier = f.waitForApplier
	for {
		c, ok, err := chunker.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if _, err := copier.Copy(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
}

// recopy is a Recopy that uses the real copier and counts its calls.
func (f *fixture) recopy(calls *int) func(context.Context, rowcopy.Chunk) error {
	copier := rowcopy.NewCopier(f.db, f.m)
	copier.WaitForApplier = f.waitForApplier
	return func(ctx context.Context, c rowcopy.Chunk) error {
		*calls++
		_, err := copier.Copy(ctx, c)
		return err
	}
}

// config is a Config for f with short limits and the test's log.
func (f *fixture) config(t *testing.T) Config {
	return Config{
		DB:          f.db,
		Mapping:     f.m,
		ChunkSize:   100,
		LockTimeout: time.Second,
		Logger:      testLogger(t),
	}
}

// testLogger writes to the test's log, at Warn and above so that passing
// runs stay quiet.
func testLogger(t *testing.T) *slog.Logger { return sandbox.Logger(t, slog.LevelWarn) }

func exec(t testing.TB, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, queries ...string) {
	t.Helper()
	for _, q := range queries {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// mismatch returns err as a *MismatchError or fails the test.
func mismatch(t *testing.T, err error) *MismatchError {
	t.Helper()
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("want a *MismatchError, got %v", err)
	}
	return me
}

// keyStrings shows the keys of diffs as "1" or "1/x", with their kinds.
func keyStrings(diffs []RowDiff) []string {
	var out []string
	for _, d := range diffs {
		var parts []string
		for _, k := range d.Key {
			parts = append(parts, toString(k))
		}
		out = append(out, strings.Join(parts, "/")+" "+d.Kind.String())
	}
	return out
}

func toString(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case nil:
		return "NULL"
	}
	return fmt.Sprint(v)
}
