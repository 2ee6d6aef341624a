package verify

import (
	"context"
	"hash/crc32"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
)

func TestHasCRC32C(t *testing.T) {
	t.Parallel()
	cases := []struct {
		server mysql.Server
		want   bool
	}{
		{mysql.Server{Flavor: mysql.FlavorMariaDB, Version: mysql.Version{Major: 10, Minor: 7, Patch: 8}}, false},
		{mysql.Server{Flavor: mysql.FlavorMariaDB, Version: mysql.Version{Major: 10, Minor: 8, Patch: 0}}, true},
		{mysql.Server{Flavor: mysql.FlavorMariaDB, Version: mysql.Version{Major: 11, Minor: 4, Patch: 2}}, true},
		{mysql.Server{Flavor: mysql.FlavorMySQL, Version: mysql.Version{Major: 8, Minor: 4, Patch: 0}}, false},
	}
	for _, tc := range cases {
		if got := tc.server.HasCRC32C(); got != tc.want {
			t.Errorf("%s: HasCRC32C() = %v, want %v", tc.server, got, tc.want)
		}
	}
}

// TestSumQueries checks the shape of both chunk sums: the row's string or
// its MD5 computed once, in a derived table the optimizer cannot merge.
func TestSumQueries(t *testing.T) {
	t.Parallel()
	s := side{table: "`d`.`t`", index: "`PRIMARY`", key: sqlbuild.PlainKey([]string{"id"}), row: "ROW", hash: "MD5(ROW)"}
	c := rowcopy.Chunk{Seq: 2, Lower: []any{1}, Upper: []any{5}}
	from := " FROM (SELECT %s AS x FROM `d`.`t` FORCE INDEX (`PRIMARY`) WHERE (`id` > ?) AND (`id` <= ?) LIMIT 18446744073709551615) AS r"
	rows, args := s.rows(c)
	q := s.crcSumQuery(rows)
	want := "SELECT COUNT(*), COALESCE(SUM(CRC32(x) * CRC32C(x)), 0), COALESCE(SUM(x IS NULL), 0)" + strings.Replace(from, "%s", "ROW", 1)
	if q != want || len(args) != 2 {
		t.Errorf("crcSumQuery:\n got %s (%d args)\nwant %s (2 args)", q, len(args), want)
	}
	q = s.md5SumQuery(rows)
	if !strings.HasSuffix(q, strings.Replace(from, "%s", "MD5(ROW)", 1)) || !strings.Contains(q, "BIT_XOR(CAST(CONV(LEFT(x, 16), 16, 10) AS UNSIGNED))") {
		t.Errorf("md5SumQuery: %s", q)
	}
}

// sumServers are the sandbox as itself, whose chunks are summed with CRC32
// and CRC32C, and posing as a server without CRC32C, whose chunks are
// summed with MD5.
func sumServers(t *testing.T, f *fixture) []struct {
	name   string
	server mysql.Server
} {
	t.Helper()
	server, err := mysql.DetectServer(context.Background(), f.db)
	if err != nil {
		t.Fatal(err)
	}
	if !server.HasCRC32C() {
		t.Fatalf("the sandbox, %s, has no CRC32C: the CRC sums would not be tested", server)
	}
	return []struct {
		name   string
		server mysql.Server
	}{
		{"crc", server},
		{"md5", mysql.Server{Flavor: mysql.FlavorMySQL, Version: mysql.Version{Major: 8, Minor: 0, Patch: 36}}},
	}
}

// TestChangedRowsFound damages the shadow and checks that both sums find
// the rows: one changed row, and the same byte changed the same way in two
// rows of equal length in one chunk, which a XOR of CRCs cannot see (the
// control below shows that it does not).
func TestChangedRowsFound(t *testing.T) {
	f := newFixture(t, "id INT NOT NULL PRIMARY KEY, v CHAR(12) NOT NULL", "id INT NOT NULL PRIMARY KEY, v CHAR(12) NOT NULL", nil)
	exec(t, f.db, "INSERT INTO t SELECT seq, CONCAT('row-', LPAD(seq, 8, '0')) FROM seq_1_to_500")
	f.copyAll(t, 100)
	ctx := context.Background()
	copier := rowcopy.NewCopier(f.db, f.m)
	cases := []struct {
		name   string
		damage string
		want   []string
	}{
		{"one row", "UPDATE _t_new SET v = 'other' WHERE id = 123", []string{"123 different"}},
		{"same byte in two rows", "UPDATE _t_new SET v = CONCAT('R', SUBSTRING(v, 2)) WHERE id IN (150, 151)", []string{"150 different", "151 different"}},
		{"two rows swap values", "UPDATE _t_new SET v = IF(id = 160, 'row-00000161', 'row-00000160') WHERE id IN (160, 161)", []string{"160 different", "161 different"}},
	}
	for _, srv := range sumServers(t, f) {
		for _, tc := range cases {
			t.Run(srv.name+"/"+tc.name, func(t *testing.T) {
				exec(t, f.db, tc.damage)
				t.Cleanup(func() {
					if _, err := copier.Copy(ctx, rowcopy.Chunk{}); err != nil {
						t.Fatal(err)
					}
				})
				p, err := newPlan(f.m, srv.server.HasCRC32C())
				if err != nil {
					t.Fatal(err)
				}
				orig, shadow, err := p.checksum(ctx, f.db, rowcopy.Chunk{})
				if err != nil {
					t.Fatal(err)
				}
				if orig == shadow || orig.rows != 500 || strings.Contains(orig.digest, "/") == p.crc {
					t.Errorf("sums %+v and %+v of the whole tables, want 500 rows and different %s digests", orig, shadow, srv.name)
				}
				cfg := f.config(t)
				cfg.Server = srv.server
				_, err = Run(ctx, cfg)
				got := keyStrings(mismatch(t, err).Rows)
				slices.Sort(got)
				if !slices.Equal(got, tc.want) {
					t.Errorf("rows %v, want %v", got, tc.want)
				}
			})
		}
	}

	t.Run("control: a XOR of CRCs misses the same change in two rows", func(t *testing.T) {
		exec(t, f.db, cases[1].damage)
		defer func() {
			if _, err := copier.Copy(ctx, rowcopy.Chunk{}); err != nil {
				t.Fatal(err)
			}
		}()
		p, err := newPlan(f.m, true)
		if err != nil {
			t.Fatal(err)
		}
		var xor [2][2]int64
		for i, s := range []side{p.orig, p.shadow} {
			q := "SELECT BIT_XOR(CRC32(x)), BIT_XOR(CRC32C(x)) FROM (SELECT " + s.row + " AS x FROM " + s.table + " WHERE id IN (150, 151)) AS r"
			if err := f.db.QueryRowContext(ctx, q).Scan(&xor[i][0], &xor[i][1]); err != nil {
				t.Fatal(err)
			}
		}
		if xor[0] != xor[1] {
			t.Errorf("XORs of the CRCs %v and %v differ: the change is not the case a XOR misses", xor[0], xor[1])
		}
	})
}

// TestCRCSumIsExact recomputes a chunk's CRC sum in Go from the rows'
// strings and checks that the server's equals it: the server sums the
// products, each up to 2^64, as an exact DECIMAL, well past 2^64.
func TestCRCSumIsExact(t *testing.T) {
	f := newFixture(t, "id INT NOT NULL PRIMARY KEY, v VARCHAR(200), n DOUBLE", "id INT NOT NULL PRIMARY KEY, v VARCHAR(200), n DOUBLE", nil)
	exec(t, f.db, "INSERT INTO t SELECT seq, IF(seq % 5 = 0, NULL, REPEAT(CHAR(32 + seq % 90), seq % 150)), seq / 7 FROM seq_1_to_700")
	ctx := context.Background()
	p, err := newPlan(f.m, true)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.db.QueryContext(ctx, "SELECT "+p.orig.row+" FROM "+p.orig.table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	want, product := new(big.Int), new(big.Int)
	for rows.Next() {
		var x []byte
		if err := rows.Scan(&x); err != nil {
			t.Fatal(err)
		}
		product.SetUint64(uint64(crc32.ChecksumIEEE(x)) * uint64(crc32.Checksum(x, castagnoli)))
		want.Add(want, product)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	from, args := p.orig.rows(rowcopy.Chunk{})
	res, err := f.db.QueryContext(ctx, p.orig.crcSumQuery(from), args...)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	types, err := res.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	var n, unhashed uint64
	var got string
	if !res.Next() {
		t.Fatal("no sum")
	}
	if err := res.Scan(&n, &got, &unhashed); err != nil {
		t.Fatal(err)
	}
	if typ := types[1].DatabaseTypeName(); typ != "DECIMAL" {
		t.Errorf("the sum is a %s, want an exact DECIMAL", typ)
	}
	if n != 700 || unhashed != 0 || got != want.String() || want.BitLen() <= 64 {
		t.Errorf("server: %d rows, %d unhashed, sum %s; Go: 700 rows, sum %s (%d bits)", n, unhashed, got, want, want.BitLen())
	}
}
