package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/schema"
)

// manyTypes are the columns of a table with most types a table holds, and
// for each the value of row seq (a SQL expression over seq).
var manyTypes = []struct{ def, value string }{
	{"i INT", "seq * 1000 - 500000"},
	{"bu BIGINT UNSIGNED", "18446744073709551615 - seq"},
	{"ti TINYINT", "seq % 256 - 128"},
	{"dec1 DECIMAL(12,4)", "seq * 1.2345"},
	{"f FLOAT", "seq / 7"},
	{"d DOUBLE", "seq / 3e0"},
	{"c CHAR(10)", "CONCAT('c', seq)"},
	{"vc VARCHAR(100)", "IF(seq % 5 = 0, '', CONCAT('héllo 😀 ', seq))"},
	{"tx TEXT", "REPEAT(CONCAT('text😀', seq), seq % 50)"},
	{"bl BLOB", "UNHEX(MD5(seq))"},
	{"bn BINARY(4)", "UNHEX(LPAD(HEX(seq), 4, '0'))"},
	{"vb VARBINARY(20)", "UNHEX(SHA1(seq))"},
	{"dt DATE", "'2024-01-01' + INTERVAL seq DAY"},
	{"dtm DATETIME(6)", "TIMESTAMP('2024-01-01 00:00:00.123456') + INTERVAL seq SECOND"},
	{"ts TIMESTAMP(3) NULL", "FROM_UNIXTIME(1700000000.5 + seq)"},
	{"tm TIME(3)", "SEC_TO_TIME(seq * 37.25)"},
	{"yr YEAR", "1901 + seq % 200"},
	{"e ENUM('a','b','c')", "ELT(1 + seq % 3, 'a', 'b', 'c')"},
	{"st SET('x','y','z')", "IF(seq % 4 = 0, '', ELT(1 + seq % 3, 'x', 'x,y', 'y,z'))"},
	{"j JSON", "JSON_OBJECT('n', seq, 's', '😀')"},
	{"bt BIT(7)", "seq % 128"},
}

// newManyTypes creates t and _t_new with the columns of manyTypes, fills t
// with n rows (every 7th all NULL), and copies it.
func newManyTypes(t *testing.T, n int) *fixture { return newManyTypesOf(t, n, false) }

// newManyTypesOf is newManyTypes, with every column NOT NULL (and no NULL
// rows) when notNull is set: their row strings have no NULL test, and most
// no fallback.
func newManyTypesOf(t *testing.T, n int, notNull bool) *fixture {
	t.Helper()
	defs := []string{"id INT UNSIGNED NOT NULL PRIMARY KEY"}
	values := []string{"seq"}
	for _, c := range manyTypes {
		if notNull {
			defs = append(defs, strings.TrimSuffix(c.def, " NULL")+" NOT NULL")
			values = append(values, c.value)
			continue
		}
		defs = append(defs, c.def)
		values = append(values, "IF(seq % 7 = 0, NULL, "+c.value+")")
	}
	f := newFixture(t, strings.Join(defs, ", "), strings.Join(defs, ", "), nil)
	exec(t, f.db, fmt.Sprintf("INSERT INTO t SELECT %s FROM (SELECT CAST(seq AS SIGNED) AS seq FROM seq_1_to_%d) AS s", strings.Join(values, ", "), n))
	f.copyAll(t, 50)
	return f
}

// TestEqualTablesPass checks that a right copy of a table with many types,
// NULLs, empty strings and emoji verifies, with every column verified.
func TestEqualTablesPass(t *testing.T) {
	f := newManyTypes(t, 500)
	res, err := Run(context.Background(), f.config(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 500 || res.Chunks < 5 || res.Mended != 0 || len(res.Unverified) != 0 {
		t.Errorf("got %+v, want 500 rows in at least 5 chunks, nothing mended or unverified", res)
	}
	if res.Snapshots != 1 {
		t.Errorf("took %d snapshots, want 1", res.Snapshots)
	}
}

// TestProgressReported: Config.Progress hears of every chunk checked, the
// last report being the result's totals.
func TestProgressReported(t *testing.T) {
	f := newManyTypes(t, 500)
	cfg := f.config(t)
	var mu sync.Mutex
	var reports int
	var lastChunks int
	var lastRows int64
	cfg.Progress = func(chunks int, rows int64) {
		mu.Lock()
		defer mu.Unlock()
		reports++
		lastChunks, lastRows = max(lastChunks, chunks), max(lastRows, rows)
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if reports != res.Chunks || lastChunks != res.Chunks || lastRows != res.Rows {
		t.Errorf("%d reports, up to %d chunks and %d rows; the result has %d chunks and %d rows", reports, lastChunks, lastRows, res.Chunks, res.Rows)
	}
}

// TestEveryColumnIsCompared changes one value of the shadow at a time, by
// the smallest step each type allows (one microsecond, one unit in the last
// place of a double, a trailing space, the case of a letter, NULL for an empty string),
// and checks that the verify names the row. The shadow is copied anew after
// each change.
func TestEveryColumnIsCompared(t *testing.T) {
	t.Run("nullable", func(t *testing.T) { everyColumnIsCompared(t, false) })
	t.Run("not null", func(t *testing.T) { everyColumnIsCompared(t, true) })
}

func everyColumnIsCompared(t *testing.T, notNull bool) {
	f := newManyTypesOf(t, 60, notNull)
	cases := []struct{ name, set string }{
		{"int", "i = i + 1"},
		{"bigint unsigned", "bu = bu - 1"},
		{"tinyint", "ti = ti + 1"},
		{"decimal", "dec1 = dec1 + 0.0001"},
		{"float", "f = f * 1.000001"},
		{"double by one ulp", "d = d + 4.5e-16"},
		{"char", "c = CONCAT(c, 'x')"},
		{"varchar case", "vc = UPPER(vc)"},
		{"varchar trailing space", "vc = CONCAT(vc, ' ')"},
		{"text", "tx = CONCAT(tx, '.')"},
		{"blob trailing zero", "bl = CONCAT(bl, X'00')"},
		{"binary", "bn = X'00000001'"},
		{"varbinary shorter", "vb = LEFT(vb, 19)"},
		{"date", "dt = dt + INTERVAL 1 DAY"},
		{"datetime by a microsecond", "dtm = dtm + INTERVAL 1 MICROSECOND"},
		{"timestamp by a millisecond", "ts = ts + INTERVAL 1000 MICROSECOND"},
		{"time", "tm = ADDTIME(tm, '00:00:00.001')"},
		{"year", "yr = yr + 1"},
		{"enum", "e = IF(e = 'a', 'b', 'a')"},
		{"set", "st = IF(st = 'x', 'y', 'x')"},
		{"json spacing", "j = REPLACE(j, ':', ': ')"},
		{"bit", "bt = bt ^ 1"},
	}
	copier := rowcopy.NewCopier(f.db, f.m)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exec(t, f.db, "UPDATE _t_new SET "+tc.set+" WHERE id = 11")
			_, err := Run(context.Background(), f.config(t))
			if got, want := keyStrings(mismatch(t, err).Rows), []string{"11 different"}; !slices.Equal(got, want) {
				t.Errorf("rows %v, want %v", got, want)
			}
			if _, err := copier.Copy(context.Background(), rowcopy.Chunk{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	if notNull {
		return
	}
	// Row 10 holds '' in vc and row 14 NULL (every 7th row is all NULL).
	for _, tc := range []struct{ name, update, want string }{
		{"NULL for empty", "UPDATE _t_new SET vc = NULL WHERE id = 10", "10 different"},
		{"empty for NULL", "UPDATE _t_new SET vc = '' WHERE id = 14", "14 different"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec(t, f.db, tc.update)
			_, err := Run(context.Background(), f.config(t))
			if got, want := keyStrings(mismatch(t, err).Rows), []string{tc.want}; !slices.Equal(got, want) {
				t.Errorf("rows %v, want %v", got, want)
			}
			if _, err := copier.Copy(context.Background(), rowcopy.Chunk{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// changedTypes is an original and a shadow whose types change the way
// ALTERs change them, with a renamed column and one column (num, text to
// number) that no exact comparison covers.
const (
	changedOrig = `id INT NOT NULL PRIMARY KEY, a INT, v VARCHAR(20), d DECIMAL(8,2),
		l VARCHAR(30) CHARACTER SET latin1, old_name VARCHAR(10), f FLOAT, dt DATE, ts TIMESTAMP(6) NULL,
		en ENUM('x','y'), ch VARCHAR(10), bn BINARY(4), tx TEXT, num VARCHAR(10), zf INT(6) ZEROFILL,
		st SET('a','b','c'), dd DOUBLE, i2d INT`
	changedShadow = `id BIGINT NOT NULL PRIMARY KEY, a BIGINT, v VARCHAR(40), d DECIMAL(10,4),
		l VARCHAR(30) CHARACTER SET utf8mb4, new_name VARCHAR(10), f DOUBLE, dt DATETIME(6), ts DATETIME(6),
		en VARCHAR(5), ch CHAR(10), bn VARBINARY(8), tx BLOB, num INT, zf BIGINT,
		st SET('a','b','c','d'), dd FLOAT, i2d DECIMAL(15,3)`
)

var changedPairs = [][2]string{
	{"id", "id"}, {"a", "a"}, {"v", "v"}, {"d", "d"}, {"l", "l"}, {"old_name", "new_name"}, {"f", "f"},
	{"dt", "dt"}, {"ts", "ts"}, {"en", "en"}, {"ch", "ch"}, {"bn", "bn"}, {"tx", "tx"}, {"num", "num"},
	{"zf", "zf"}, {"st", "st"}, {"dd", "dd"}, {"i2d", "i2d"},
}

func newChangedTypes(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, changedOrig, changedShadow, changedPairs)
	exec(t, f.db, `INSERT INTO t SELECT seq, seq * 3 - 100, CONCAT('v', seq), seq * 1.25,
		ELT(1 + seq % 3, 'café', 'naïve', 'Straße'), CONCAT('n', seq), seq / 9, '2024-02-01' + INTERVAL seq DAY,
		FROM_UNIXTIME(1700000000.25 + seq), ELT(1 + seq % 2, 'x', 'y'), IF(seq % 3 = 0, CONCAT('ab', seq, '  '), CONCAT('ab', seq)),
		UNHEX(LPAD(HEX(seq), 4, '0')), CONCAT('tëxt', seq), CONCAT(seq * 2), seq, ELT(1 + seq % 3, 'a', 'a,c', 'b,c'),
		seq / 8e0, seq * 10
		FROM (SELECT CAST(seq AS SIGNED) AS seq FROM seq_1_to_300) AS s`)
	exec(t, f.db, "INSERT INTO t (id) VALUES (1000)") // all NULL
	f.copyAll(t, 40)
	return f
}

// TestChangedTypesPass checks that a right copy into changed types
// verifies, and that only the text-to-number column is left out.
func TestChangedTypesPass(t *testing.T) {
	f := newChangedTypes(t)
	res, err := Run(context.Background(), f.config(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 301 || res.Chunks < 3 || res.Mended != 0 {
		t.Errorf("got %+v, want 301 rows in at least 3 chunks, nothing mended", res)
	}
	if len(res.Unverified) != 1 || res.Unverified[0].Old != "num" {
		t.Errorf("unverified %+v, want only num", res.Unverified)
	}
}

// TestChangedTypesAreCompared changes one value of a changed-type column of
// the shadow at a time and checks that the verify names the row.
func TestChangedTypesAreCompared(t *testing.T) {
	f := newChangedTypes(t)
	cases := []struct{ name, set string }{
		{"int to bigint", "a = a + 1"},
		{"varchar widened", "v = CONCAT(v, ' ')"},
		{"decimal rescaled", "d = d + 0.0001"},
		{"latin1 to utf8mb4", "l = REPLACE(l, 'é', 'e')"},
		{"renamed", "new_name = 'other'"},
		{"float to double", "f = f + 1e-12"},
		{"date to datetime", "dt = dt + INTERVAL 1 SECOND"},
		{"timestamp to datetime", "ts = ts + INTERVAL 1 MICROSECOND"},
		{"enum to varchar", "en = 'z'"},
		{"varchar to char", "ch = CONCAT(ch, 'x')"},
		{"binary to varbinary", "bn = CONCAT(bn, X'01')"},
		{"text to blob", "tx = CONCAT(tx, ' ')"},
		{"zerofill to bigint", "zf = zf + 1"},
		{"set widened", "st = 'd'"},
		{"double to float", "dd = dd * 2"},
		{"int to decimal", "i2d = i2d + 0.001"},
	}
	copier := rowcopy.NewCopier(f.db, f.m)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exec(t, f.db, "UPDATE _t_new SET "+tc.set+" WHERE id = 12")
			_, err := Run(context.Background(), f.config(t))
			if got, want := keyStrings(mismatch(t, err).Rows), []string{"12 different"}; !slices.Equal(got, want) {
				t.Errorf("rows %v, want %v", got, want)
			}
			if _, err := copier.Copy(context.Background(), rowcopy.Chunk{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestKeyOrderChangeComparesWhole changes the key's collation, which may
// order keys differently, so key ranges of the original do not select the
// same rows of the shadow: the tables are compared whole, and a difference
// is still found.
func TestKeyOrderChangeComparesWhole(t *testing.T) {
	f := newFixture(t,
		"k VARCHAR(10) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, v INT",
		"k VARCHAR(10) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, v INT", nil)
	// schema.NewMapping refuses a copy key whose order changes (see
	// SameKeyOrder), so the shadow changes its collation behind the
	// mapping's back: verify must still not trust key ranges if handed one.
	exec(t, f.db, "ALTER TABLE _t_new MODIFY k VARCHAR(10) COLLATE utf8mb4_bin NOT NULL")
	shadow, err := schema.Load(context.Background(), f.db, f.dbName, "_t_new")
	if err != nil {
		t.Fatal(err)
	}
	f.m.Shadow = shadow
	exec(t, f.db, "INSERT INTO t SELECT CONCAT(IF(seq % 2, 'a', 'B'), seq), seq FROM seq_1_to_300")
	// One chunk: ranges of the original's order, deleted from the shadow in
	// its own order, would delete rows copied before (see the report).
	if _, err := rowcopy.NewCopier(f.db, f.m).Copy(context.Background(), rowcopy.Chunk{}); err != nil {
		t.Fatal(err)
	}
	cfg := f.config(t)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Chunks != 1 || res.Rows != 300 {
		t.Errorf("got %+v, want the 300 rows in one chunk", res)
	}
	exec(t, f.db, "UPDATE _t_new SET v = 0 WHERE k = 'B10'")
	_, err = Run(context.Background(), cfg)
	if got, want := keyStrings(mismatch(t, err).Rows), []string{"B10 different"}; !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
}

// oneAtATime is a Gate that lets one work through at a time, counting
// them and the most that ran at once.
type oneAtATime struct {
	mu            sync.Mutex
	slot          sync.Mutex
	works, atOnce int
	running       int
}

func (g *oneAtATime) Do(ctx context.Context, work func(context.Context) (time.Duration, error)) error {
	g.slot.Lock()
	defer g.slot.Unlock()
	g.mu.Lock()
	g.works++
	g.running++
	g.atOnce = max(g.atOnce, g.running)
	g.mu.Unlock()
	busy, err := work(ctx)
	g.mu.Lock()
	g.running--
	g.mu.Unlock()
	if err == nil && busy <= 0 {
		return errors.New("the work said it kept the server busy for no time")
	}
	return err
}

// TestGateLetsEveryChunk runs the pass on two sessions through a gate
// that lets one range at a time: every range is compared through it, and
// the verify still passes.
func TestGateLetsEveryChunk(t *testing.T) {
	f := newManyTypes(t, 500)
	cfg := f.config(t)
	cfg.Threads = 2
	gate := &oneAtATime{}
	cfg.Gate = gate
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if gate.works != res.Chunks || res.Chunks < 5 || gate.atOnce != 1 {
		t.Errorf("%d ranges through the gate, at most %d at once; the pass checked %d; want all of them, one at a time", gate.works, gate.atOnce, res.Chunks)
	}
}

// TestEnumErrorValueIsCompared: an ENUM's error value (index 0, stored by a
// session without strict mode for a string that is no member) reads as the
// empty string like the empty member, but is another value; a shadow that
// holds one where the original holds the other differs, for an ENUM of the
// same definition and for one whose members change.
func TestEnumErrorValueIsCompared(t *testing.T) {
	for _, c := range []struct{ name, shadow string }{
		{"same definition", "id INT NOT NULL PRIMARY KEY, e ENUM('','a') NULL"},
		{"members added", "id INT NOT NULL PRIMARY KEY, e ENUM('','a','b') CHARACTER SET latin1 NULL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, "id INT NOT NULL PRIMARY KEY, e ENUM('','a') NULL", c.shadow, nil)
			// Row 1 holds the error value, row 2 the empty member.
			exec(t, f.db, "SET STATEMENT sql_mode = '' FOR INSERT INTO t VALUES (1, 'no such member'), (2, ''), (3, 'a'), (4, NULL)")
			f.copyAll(t, 2)
			if _, err := Run(context.Background(), f.config(t)); err != nil {
				t.Fatalf("the copy differs: %v", err)
			}
			copier := rowcopy.NewCopier(f.db, f.m)
			for _, tc := range []struct{ name, update, want string }{
				{"the member for the error value", "UPDATE _t_new SET e = '' WHERE id = 1", "1 different"},
				{"the error value for the member", "SET STATEMENT sql_mode = '' FOR UPDATE _t_new SET e = 'no such member' WHERE id = 2", "2 different"},
				{"the error value for NULL", "SET STATEMENT sql_mode = '' FOR UPDATE _t_new SET e = 'no such member' WHERE id = 4", "4 different"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					exec(t, f.db, tc.update)
					_, err := Run(context.Background(), f.config(t))
					if got, want := keyStrings(mismatch(t, err).Rows), []string{tc.want}; !slices.Equal(got, want) {
						t.Errorf("rows %v, want %v", got, want)
					}
					if _, err := copier.Copy(context.Background(), rowcopy.Chunk{}); err != nil {
						t.Fatal(err)
					}
				})
			}
		})
	}
}

// TestEnumKeyRowsAreMatchedByNumber: with an ENUM in the key, the rows that
// differ are found and named by the ENUM's number, so that the error
// value's row is not matched with the empty member's, which reads alike.
func TestEnumKeyRowsAreMatchedByNumber(t *testing.T) {
	const def = "e ENUM('','a') NOT NULL, id INT NOT NULL, v INT NOT NULL, PRIMARY KEY (e, id)"
	f := newFixture(t, def, def, nil)
	// The error value's row and the empty member's, under the same id.
	exec(t, f.db, "SET STATEMENT sql_mode = '' FOR INSERT INTO t VALUES ('no such member', 1, 10), ('', 1, 20), ('a', 1, 30)")
	f.copyAll(t, 2)
	exec(t, f.db, "DELETE FROM _t_new WHERE e + 0 = 0")
	_, err := Run(context.Background(), f.config(t))
	want := []string{"0 (the error value)/1 missing"}
	if got := keyStrings(mismatch(t, err).Rows); !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
}

// TestSetEmptyMemberIsCompared: a SET with an empty member is compared by
// its bits, which its text cannot tell apart: the member alone from the
// empty set, the member beside 'a' from 'a' alone.
func TestSetEmptyMemberIsCompared(t *testing.T) {
	const def = "id INT NOT NULL PRIMARY KEY, s SET('','a') NOT NULL"
	f := newFixture(t, def, def, nil)
	exec(t, f.db, "INSERT INTO t VALUES (1, 0), (2, 1), (3, 2), (4, 3)")
	f.copyAll(t, 2)
	if _, err := Run(context.Background(), f.config(t)); err != nil {
		t.Fatalf("the copy differs: %v", err)
	}
	exec(t, f.db, "UPDATE _t_new SET s = 0 WHERE id = 2", "UPDATE _t_new SET s = 2 WHERE id = 4")
	_, err := Run(context.Background(), f.config(t))
	if got, want := keyStrings(mismatch(t, err).Rows), []string{"2 different", "4 different"}; !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
}

// TestTimestampComparedInZone: a TIMESTAMP that becomes a DATETIME, and a
// DATETIME that becomes a TIMESTAMP, are compared in the migration's time
// zone, where the copy converted them: a right copy passes, and a value
// copied as the session's UTC clock time (what a copy that ignored the
// zone made) is found.
func TestTimestampComparedInZone(t *testing.T) {
	f := newFixture(t, "id INT NOT NULL PRIMARY KEY, ts TIMESTAMP(6) NULL, dt DATETIME NULL",
		"id INT NOT NULL PRIMARY KEY, ts DATETIME(6) NULL, dt TIMESTAMP NULL", nil)
	f.m.TimeZone = "+05:30"
	exec(t, f.db, `INSERT INTO t SELECT seq, FROM_UNIXTIME(1700000000.25 + seq * 3600), '2024-02-01' + INTERVAL seq HOUR
		FROM (SELECT CAST(seq AS SIGNED) AS seq FROM seq_1_to_200) AS s`,
		"INSERT INTO t VALUES (1000, NULL, NULL), (1001, '0000-00-00 00:00:00', '0000-00-00 00:00:00')")
	f.copyAll(t, 40)
	var shifted int
	if err := f.db.QueryRow("SELECT COUNT(*) FROM t JOIN _t_new n USING (id) WHERE CAST(t.ts AS DATETIME(6)) <> n.ts").Scan(&shifted); err != nil {
		t.Fatal(err)
	}
	if shifted != 200 {
		t.Fatalf("%d of 200 TIMESTAMPs were copied as another clock time than UTC's, want all (at +05:30)", shifted)
	}
	res, err := Run(context.Background(), f.config(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Mended != 0 || len(res.Unverified) != 0 {
		t.Errorf("got %+v, want nothing mended and every column compared", res)
	}
	for _, set := range []string{"ts = ts - INTERVAL 330 MINUTE", "dt = dt + INTERVAL 330 MINUTE"} {
		t.Run(set, func(t *testing.T) {
			exec(t, f.db, "UPDATE _t_new SET "+set+" WHERE id = 12")
			_, err := Run(context.Background(), f.config(t))
			if got, want := keyStrings(mismatch(t, err).Rows), []string{"12 different"}; !slices.Equal(got, want) {
				t.Errorf("rows %v, want %v", got, want)
			}
			f.copyAll(t, 40)
		})
	}
}
