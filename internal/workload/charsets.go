package workload

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// CharsetColumn is one text column of a table that has a column for each
// character set the server offers, in a few of its collations.
type CharsetColumn struct {
	Name, Charset, Collation string
	// Repertoire are characters beyond ASCII that the character set holds
	// and that convert to and from utf8mb4 unchanged, found by asking the
	// server.
	Repertoire []rune
	// RawHigh is set for a one-byte character set that takes every byte
	// 0x80-0xff as it is, defined there or not: its values are then written
	// as bytes, which a reader that decoded them to Unicode could not carry
	// back (cp1250 leaves 0x81 undefined, for one).
	RawHigh bool
}

// candidateRanges are the Unicode blocks a repertoire is drawn from: the
// letters of the scripts MariaDB's character sets are made for, symbols and
// emoji.
var candidateRanges = [][2]rune{
	{0xa0, 0x17f}, {0x391, 0x3c9}, {0x401, 0x45f}, {0x490, 0x491}, {0x531, 0x556}, {0x5d0, 0x5ea},
	{0x621, 0x64a}, {0xe01, 0xe3a}, {0x10d0, 0x10f0}, {0x2010, 0x2030}, {0x20ac, 0x20ac}, {0x2122, 0x2122},
	{0x2500, 0x2570}, {0x3041, 0x3093}, {0x30a1, 0x30f6}, {0x4e00, 0x4eff}, {0xac00, 0xac7f},
	{0xff01, 0xff5e}, {0x1f600, 0x1f64f},
}

// CharsetColumns asks the server for its character sets and returns a
// column for each usable one in its default collation, its _bin collation,
// a NO PAD one and another case-insensitive one, where it has them. The
// binary character set is left out: a CHAR, VARCHAR or TEXT column in it is
// a BINARY, VARBINARY or BLOB column, a type of its own.
func CharsetColumns(ctx context.Context, db *sql.DB) ([]CharsetColumn, error) {
	rows, err := db.QueryContext(ctx, `SELECT co.CHARACTER_SET_NAME, co.COLLATION_NAME, co.IS_DEFAULT, cs.MAXLEN
		FROM information_schema.COLLATIONS co JOIN information_schema.CHARACTER_SETS cs USING (CHARACTER_SET_NAME)
		WHERE co.CHARACTER_SET_NAME <> 'binary' ORDER BY co.CHARACTER_SET_NAME, co.ID`)
	if err != nil {
		return nil, fmt.Errorf("list collations: %w", err)
	}
	type coll struct {
		name    string
		def     bool
		maxLen  int
		charset string
	}
	byCharset := map[string][]coll{}
	var order []string
	for rows.Next() {
		var c coll
		var def string
		if err := rows.Scan(&c.charset, &c.name, &def, &c.maxLen); err != nil {
			rows.Close()
			return nil, err
		}
		c.def = def == "Yes"
		if byCharset[c.charset] == nil {
			order = append(order, c.charset)
		}
		byCharset[c.charset] = append(byCharset[c.charset], c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var cols []CharsetColumn
	for _, cs := range order {
		var picked []coll
		pick := func(match func(coll) bool) {
			for _, c := range byCharset[cs] {
				if match(c) {
					for _, p := range picked {
						if p.name == c.name {
							return
						}
					}
					picked = append(picked, c)
					return
				}
			}
		}
		pick(func(c coll) bool { return c.def })
		pick(func(c coll) bool { return strings.HasSuffix(c.name, "_bin") })
		pick(func(c coll) bool { return strings.Contains(c.name, "_nopad_") })
		pick(func(c coll) bool { return strings.HasSuffix(c.name, "_ci") })
		rep, err := repertoire(ctx, db, cs)
		if err != nil {
			return nil, err
		}
		raw := false
		if byCharset[cs][0].maxLen == 1 {
			if raw, err = takesRawHigh(ctx, db, cs); err != nil {
				return nil, err
			}
		}
		for _, c := range picked {
			cols = append(cols, CharsetColumn{Name: "c_" + c.name, Charset: cs, Collation: c.name, Repertoire: rep, RawHigh: raw})
		}
	}
	return cols, nil
}

// repertoire returns the candidate characters that cs holds: converted to cs
// and back, they come out unchanged (one it lacks comes back as '?').
func repertoire(ctx context.Context, db *sql.DB, cs string) ([]rune, error) {
	var cand []rune
	for _, r := range candidateRanges {
		for c := r[0]; c <= r[1]; c++ {
			cand = append(cand, c)
		}
	}
	var back string
	q := "SELECT CONVERT(CONVERT(? USING " + mysql.QuoteIdent(cs) + ") USING utf8mb4)"
	if err := db.QueryRowContext(ctx, q, string(cand)).Scan(&back); err != nil {
		return nil, fmt.Errorf("repertoire of %s: %w", cs, err)
	}
	got := []rune(back)
	if len(got) != len(cand) {
		return nil, fmt.Errorf("repertoire of %s: %d characters came back for %d", cs, len(got), len(cand))
	}
	var rep []rune
	for i, c := range cand {
		if got[i] == c {
			rep = append(rep, c)
		}
	}
	return rep, nil
}

// takesRawHigh reports whether the one-byte character set cs keeps every
// byte 0x80-0xff as it is.
func takesRawHigh(ctx context.Context, db *sql.DB, cs string) (bool, error) {
	high := make([]byte, 0x80)
	for i := range high {
		high[i] = byte(0x80 + i)
	}
	var same bool
	q := "SELECT CAST(CONVERT(UNHEX(?) USING " + mysql.QuoteIdent(cs) + ") AS BINARY) = UNHEX(?)"
	h := hex.EncodeToString(high)
	if err := db.QueryRowContext(ctx, q, h, h).Scan(&same); err != nil {
		return false, fmt.Errorf("high bytes of %s: %w", cs, err)
	}
	return same, nil
}

// Value returns an expression and its argument that give a random value of
// up to 12 characters for c, mostly beyond ASCII, with a space or a letter
// now and then (trailing spaces matter to PAD SPACE collations).
func (c CharsetColumn) Value(rng *rand.Rand) (string, any) {
	n := 1 + rng.IntN(12)
	if c.RawHigh && rng.IntN(2) == 0 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0x80 + rng.IntN(0x80))
		}
		if rng.IntN(4) == 0 {
			b[n-1] = ' '
		}
		return "CONVERT(UNHEX(?) USING " + mysql.QuoteIdent(c.Charset) + ")", hex.EncodeToString(b)
	}
	var sb strings.Builder
	for range n {
		switch k := rng.IntN(10); {
		case k == 0 || len(c.Repertoire) == 0:
			sb.WriteByte(byte('A' + rng.IntN(26)))
		case k == 1:
			sb.WriteByte(' ')
		default:
			sb.WriteRune(c.Repertoire[rng.IntN(len(c.Repertoire))])
		}
	}
	return "CONVERT(? USING " + mysql.QuoteIdent(c.Charset) + ")", sb.String()
}
