package rowcopy

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
)

var sbx *sandbox.Sandbox

func TestMain(m *testing.M) { os.Exit(sandbox.RunTests(m, &sbx)) }

// TestChunksCoverEveryKey walks a table with a composite key and checks that
// the chunks are consecutive, start and end open, hold at most the chunk
// size of the rows present, and together cover every row exactly once, also
// rows inserted below the first and past the last key after walking began.
func TestChunksCoverEveryKey(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	ctx := context.Background()
	exec := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE src (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (a, b))")
	exec("CREATE TABLE dst LIKE src")
	var vals []string
	for a := 1; a <= 50; a++ {
		for _, b := range []string{"x", "y", "z y", "ü"} {
			vals = append(vals, fmt.Sprintf("(%d, '%s', %d)", a, b, a))
		}
	}
	exec("INSERT INTO src VALUES " + strings.Join(vals, ","))
	src, err := schema.Load(ctx, db, name, "src")
	if err != nil {
		t.Fatal(err)
	}
	dst, err := schema.Load(ctx, db, name, "dst")
	if err != nil {
		t.Fatal(err)
	}
	m, err := schema.NewMapping(src, dst, [][2]string{{"a", "a"}, {"b", "b"}, {"v", "v"}})
	if err != nil {
		t.Fatal(err)
	}
	chunker := NewChunker(db, m, 7)
	copier := NewCopier(db, m)
	var total int64
	var prev []any
	for i := 0; ; i++ {
		chunk, ok, err := chunker.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if i == 0 && chunk.Lower != nil {
			t.Fatalf("first chunk %s has a lower bound", chunk)
		}
		if fmt.Sprint(chunk.Lower) != fmt.Sprint(prev) {
			t.Fatalf("chunk %s does not start where the last ended (%v)", chunk, prev)
		}
		prev = chunk.Upper
		if i == 3 {
			exec("INSERT INTO src VALUES (0, 'a', 0), (999, 'a', 999)") // below the first and past the last key
		}
		n, err := copier.Copy(ctx, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if chunk.Upper != nil && n > 7 {
			t.Errorf("chunk %s copied %d rows, more than the chunk size", chunk, n)
		}
		total += n
	}
	if prev != nil {
		t.Errorf("the last chunk has an upper bound %v", prev)
	}
	var missing int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM src s LEFT JOIN dst d USING (a, b) WHERE d.a IS NULL AND s.a <> 0").Scan(&missing); err != nil {
		t.Fatal(err)
	}
	// (0,'a') was inserted into a range already copied: the binary log
	// applier brings such rows, not the copy.
	if missing != 0 || total != 201 {
		t.Errorf("copied %d rows with %d missing; want 201 (200 + the row past the end) and none missing", total, missing)
	}
}

// TestChunkerInStaysInItsRange walks a bounded range: its chunks are
// consecutive, start at the range's lower bound, end exactly at its upper
// bound, and copy exactly the rows of the range.
func TestChunkerInStaysInItsRange(t *testing.T) {
	db, m := newFixture(t, []string{
		"CREATE TABLE src (id INT NOT NULL PRIMARY KEY, v INT)",
		"CREATE TABLE dst LIKE src",
		"INSERT INTO src SELECT seq, seq FROM seq_1_to_1000",
	}, "id", "v")
	ctx := context.Background()
	cases := []struct {
		name         string
		lower, upper []any
		want         int64
	}{
		{"inner range", []any{int64(250)}, []any{int64(730)}, 480},
		{"from the start", nil, []any{int64(95)}, 95},
		{"to the end", []any{int64(990)}, nil, 10},
	}
	copier := NewCopier(db, m)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			chunker := NewChunkerIn(db, m, 100, c.lower, c.upper)
			var total int64
			prev := c.lower
			var last Chunk
			for {
				chunk, ok, err := chunker.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				if fmt.Sprint(chunk.Lower) != fmt.Sprint(prev) {
					t.Fatalf("chunk %s does not start where the last ended (%v)", chunk, prev)
				}
				n, err := copier.Copy(ctx, chunk)
				if err != nil {
					t.Fatal(err)
				}
				if n > 100 {
					t.Errorf("chunk %s copied %d rows", chunk, n)
				}
				total += n
				prev, last = chunk.Upper, chunk
			}
			if fmt.Sprint(last.Upper) != fmt.Sprint(c.upper) {
				t.Errorf("the last chunk %s does not end at %v", last, c.upper)
			}
			if total != c.want {
				t.Errorf("copied %d rows, want %d", total, c.want)
			}
		})
	}
}

// TestChunkerOutrunsTailInserts: rows inserted at the end of the key
// between chunks must not keep the chunker cutting small chunks of them:
// once fewer rows than a chunk remain, the rest of the key space is the
// last chunk, and the chunker ends.
func TestChunkerOutrunsTailInserts(t *testing.T) {
	db, m := newFixture(t, []string{
		"CREATE TABLE src (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, v INT)",
		"CREATE TABLE dst LIKE src",
		"INSERT INTO src (v) SELECT seq FROM seq_1_to_95",
	}, "id", "v")
	ctx := context.Background()
	chunker := NewChunker(db, m, 10)
	for n := 1; ; n++ {
		chunk, ok, err := chunker.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		// 95 rows, 3 more per chunk, 10 per chunk: after 13 full chunks
		// fewer than 10 remain, and the 14th is the rest of the key space.
		if n > 16 {
			t.Fatalf("chunk %d of a 95-row table in chunks of 10: the chunker is chasing the inserts", n)
		}
		if (chunk.Upper == nil) != (n == 14) {
			t.Errorf("chunk #%d is %s; want 13 bounded chunks, then an open-ended one", n, chunk)
		}
		// Three rows at the end of the key before every chunk: the chunker
		// used to cut a chunk of them each time, for as long as they came.
		if _, err := db.ExecContext(ctx, "INSERT INTO src (v) VALUES (0), (0), (0)"); err != nil {
			t.Fatal(err)
		}
	}
}

// newFixture makes the tables of setup (src and dst, created by it) in a
// new database and returns the database and the mapping of src to dst over
// cols, copied by name.
func newFixture(t *testing.T, setup []string, cols ...string) (*sql.DB, *schema.Mapping) {
	t.Helper()
	db, name := sbx.NewDatabase(t)
	ctx := context.Background()
	for _, q := range setup {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	src, err := schema.Load(ctx, db, name, "src")
	if err != nil {
		t.Fatal(err)
	}
	dst, err := schema.Load(ctx, db, name, "dst")
	if err != nil {
		t.Fatal(err)
	}
	pairs := make([][2]string, len(cols))
	for i, c := range cols {
		pairs[i] = [2]string{c, c}
	}
	m, err := schema.NewMapping(src, dst, pairs)
	if err != nil {
		t.Fatal(err)
	}
	return db, m
}

// TestEnumKeyRangesAreThePlansOwn walks a key whose ENUM the index orders
// otherwise than the names sort (b before a, the empty member last, the
// error value first), and one whose SET does (its bits): the chunks' bounds
// are numbers, each chunk's range selects the same rows read over the index
// as read row by row without it, the rows of all chunks being every row
// once, and the copy of the chunks holds every row. Bound as names, the
// bounds were placed by the names' order (row by row, a string comparison)
// where a lookup in the index compares numbers.
func TestEnumKeyRangesAreThePlansOwn(t *testing.T) {
	for _, c := range []struct{ name, def, values string }{
		{"enum", "ENUM('b','a','')", "ELT(1 + seq % 4, 'b', 'a', '', 'no such member')"},
		{"set", "SET('b','a','c')", "ELT(1 + seq % 5, 'b', 'a', 'a,c', '', 'b,a,c')"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, m := newFixture(t, []string{
				"CREATE TABLE src (e " + c.def + " NOT NULL, id INT NOT NULL, PRIMARY KEY (e, id))",
				"CREATE TABLE dst LIKE src",
				"SET STATEMENT sql_mode = '' FOR INSERT INTO src SELECT " + c.values + ", seq FROM seq_1_to_4000",
			}, "e", "id")
			ctx := context.Background()
			// One connection, so that its session's handler counters are
			// the reads of the chunker's and the copier's own statements.
			db.SetMaxOpenConns(1)
			chunker := NewChunker(db, m, 300)
			copier := NewCopier(db, m)
			total, walkReads := 0, int64(0)
			for {
				before := rowsRead(t, db)
				chunk, ok, err := chunker.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				walkReads += rowsRead(t, db) - before
				if !ok {
					break
				}
				if chunk.Upper != nil {
					if _, isNumber := chunk.Upper[0].(int64); !isNumber {
						t.Fatalf("chunk %s: the bound is %T, not a number", chunk, chunk.Upper[0])
					}
				}
				// The walk's own range lists the ENUM's or the SET's numbers;
				// the plain one compares them: both must select the same
				// rows, each under either plan, and the listed one over an
				// index range.
				var counts []int
				for _, key := range []sqlbuild.Key{m.OldRangeKey(), sqlbuild.PlainKey([]string{"e", "id"})} {
					cond, args := sqlbuild.Range(key, chunk.Lower, chunk.Upper)
					var viaIndex, rowByRow int
					if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM src FORCE INDEX (PRIMARY) WHERE "+cond, args...).Scan(&viaIndex); err != nil {
						t.Fatal(err)
					}
					if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM src IGNORE INDEX (PRIMARY) WHERE "+cond, args...).Scan(&rowByRow); err != nil {
						t.Fatal(err)
					}
					if viaIndex != rowByRow {
						t.Errorf("chunk %s, %s: %d rows over the index, %d row by row", chunk, cond, viaIndex, rowByRow)
					}
					counts = append(counts, rowByRow)
				}
				if counts[0] != counts[1] {
					t.Errorf("chunk %s: the listed range selects %d rows, the compared one %d", chunk, counts[0], counts[1])
				}
				rowByRow := counts[1]
				if chunk.Lower != nil || chunk.Upper != nil {
					cond, args := sqlbuild.Range(m.OldRangeKey(), chunk.Lower, chunk.Upper)
					if access := explainAccess(t, db, "SELECT id FROM src FORCE INDEX (PRIMARY) WHERE "+cond, args...); access != "range" {
						t.Errorf("chunk %s: %s is read with access %q, not over an index range", chunk, cond, access)
					}
				}
				if chunk.Upper != nil && rowByRow > 300 {
					t.Errorf("chunk %s holds %d rows, more than the chunk size", chunk, rowByRow)
				}
				total += rowByRow
				before = rowsRead(t, db)
				if _, err := copier.Copy(ctx, chunk); err != nil {
					t.Fatal(err)
				}
				walkReads += rowsRead(t, db) - before
			}
			if total != 4000 {
				t.Errorf("the chunks hold %d rows, want 4000", total)
			}
			// Over index ranges the chunker's boundaries and the copier's
			// statements read about 5 entries a row here (20,800); with
			// every chunk's read scanning the whole index, 54,000 to 60,000.
			if walkReads > 8*4000 {
				t.Errorf("the chunker and the copier read %d index entries for 4000 rows: not over index ranges", walkReads)
			}
			var copied, missing int
			if err := db.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM dst), (SELECT COUNT(*) FROM src s WHERE NOT EXISTS (SELECT 1 FROM dst d WHERE d.e + 0 = s.e + 0 AND d.id = s.id))").Scan(&copied, &missing); err != nil {
				t.Fatal(err)
			}
			if copied != 4000 || missing != 0 {
				t.Errorf("the copy holds %d rows, %d of the original's missing; want 4000 and none", copied, missing)
			}
		})
	}
}

// explainAccess is the access type EXPLAIN gives the one table of query.
func explainAccess(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.Query("EXPLAIN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatalf("EXPLAIN %s: no row", query)
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	for i, c := range cols {
		if c == "type" {
			return vals[i].String
		}
	}
	t.Fatalf("EXPLAIN %s: no type column in %v", query, cols)
	return ""
}

// rowsRead is the index and table entries the session of db's one
// connection has read so far (its handler counters).
func rowsRead(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var n sql.NullInt64
	q := "SELECT SUM(VARIABLE_VALUE) FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME IN ('HANDLER_READ_NEXT', 'HANDLER_READ_PREV', 'HANDLER_READ_RND_NEXT', 'HANDLER_READ_KEY', 'HANDLER_READ_FIRST', 'HANDLER_READ_LAST')"
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n.Int64
}
