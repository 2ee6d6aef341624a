package ddl

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/charset"
)

// The TiDB parser knows a handful of character sets (utf8mb4, utf8, latin1,
// ascii, binary, gbk) and of collations, and refuses any other name where it
// reads one: "CHARACTER SET latin2" fails with "[parser:1115]Unknown
// character set". MariaDB 10.11 has 40 character sets and over 300
// collations, and the server, not the parser, is the authority on which
// exist: the plan tries the user's ALTER on an empty clone and the shadow
// table is made by it, so a name the server rejects is reported in the
// server's words before anything of the user's is touched.
//
// Tailor needs from its own parse the columns, keys and clauses, never which
// character set or collation a clause names (the shadow's definition is read
// back from the server). So the text is parsed with each name the parser
// does not know replaced by one it knows, of at most the same length and
// padded with spaces, so that every offset in the parsed text is the offset
// of the same character in the user's text; what is sent to the server is
// always the user's own text (Alter.Clauses), cut at those offsets.
//
// The TiDB parser's charset package could be taught the names instead, but
// only through its package-level registry (charset.AddCharset), shared by
// every parser in the process and unguarded, and it would need MariaDB's
// whole list kept in step with the server's.

// charsetStand and collationStand are names the parser knows, longest first;
// an unknown name is replaced by the first that fits in its place. The
// shortest MariaDB character set names (gbk, hp8) have three letters, and
// its shortest collation name is "binary"-sized or longer (hp8_bin).
var (
	charsetStand   = []string{"utf8mb4", "latin1", "ascii", "utf8", "gbk"}
	collationStand = []string{"utf8mb4_bin", "latin1_bin", "ascii_bin", "utf8_bin", "gbk_bin", "binary"}
	introStand     = []string{"_utf8mb4", "_latin1", "_ascii", "_utf8", "_gbk"}
)

// token is one token of an SQL text: a word (keyword or unquoted name), a
// quoted name or string, or a single punctuation character.
type token struct {
	start, end int
	// quote is the opening quote character of a quoted token, or 0.
	quote byte
}

// sqlTokens splits text into tokens the way the server's lexer does, as far
// as finding names goes: it skips whitespace and comments, keeps quoted
// strings and names whole (a doubled quote or a backslash escape inside
// does not end them), and reads the SQL inside executable comments
// ("/*! ... */", MariaDB's "/*M! ... */"), which the server and the parser
// both run.
func sqlTokens(text string) []token {
	var toks []token
	inExec := false
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#' || (c == '-' && strings.HasPrefix(text[i:], "--") && (i+2 == len(text) || strings.ContainsRune(" \t\n\r", rune(text[i+2])))):
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case strings.HasPrefix(text[i:], "/*!") || strings.HasPrefix(text[i:], "/*M!"):
			i += strings.Index(text[i:], "!") + 1
			for i < len(text) && text[i] >= '0' && text[i] <= '9' {
				i++
			}
			inExec = true
		case strings.HasPrefix(text[i:], "/*"):
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return toks
			}
			i += 2 + end + 2
		case inExec && strings.HasPrefix(text[i:], "*/"):
			i += 2
			inExec = false
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(text) {
				if text[j] == '\\' && c != '`' {
					j += 2
					continue
				}
				if text[j] == c {
					if j+1 < len(text) && text[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(text))
			toks = append(toks, token{start: i, end: end, quote: c})
			i = end
		case isWordByte(c):
			j := i
			for j < len(text) && isWordByte(text[j]) {
				j++
			}
			toks = append(toks, token{start: i, end: j})
			i = j
		default:
			toks = append(toks, token{start: i, end: i + 1})
			i++
		}
	}
	return toks
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// parsableCharsets returns text with the character set and collation names
// the parser does not know replaced by ones it knows, at the same offsets
// (see above). Names are those after CHARACTER SET, CHAR SET, CHARSET,
// COLLATE and CONVERT(... USING, each with an optional "=", and the
// character sets of string introducers (_latin2'text').
func parsableCharsets(text string) string {
	toks := sqlTokens(text)
	out := []byte(text)
	word := func(i int) string {
		if i < 0 || i >= len(toks) || toks[i].quote != 0 {
			return ""
		}
		return strings.ToLower(text[toks[i].start:toks[i].end])
	}
	// nameAfter returns the index of the name token after the keyword that
	// ends at token i, skipping an "=".
	nameAfter := func(i int) int {
		if word(i+1) == "=" {
			return i + 2
		}
		return i + 1
	}
	replace := func(n int, known func(string) bool, stand []string) {
		if n >= len(toks) {
			return
		}
		t := toks[n]
		name := text[t.start:t.end]
		if t.quote != 0 {
			name = strings.ReplaceAll(name[1:len(name)-1], string(t.quote)+string(t.quote), string(t.quote))
		}
		if name == "" || known(name) {
			return
		}
		for _, s := range stand {
			if len(s) <= t.end-t.start {
				copy(out[t.start:t.end], s+strings.Repeat(" ", t.end-t.start-len(s)))
				return
			}
		}
	}
	knownCharset := func(name string) bool { _, err := charset.GetCharsetInfo(name); return err == nil }
	knownCollation := func(name string) bool { _, err := charset.GetCollationByName(name); return err == nil }
	for i := range toks {
		switch w := word(i); {
		case w == "charset" || (w == "set" && (word(i-1) == "character" || word(i-1) == "char")):
			replace(nameAfter(i), knownCharset, charsetStand)
		case w == "collate":
			replace(nameAfter(i), knownCollation, collationStand)
		case w == "using":
			// CONVERT(expr USING latin2). USING also names an index type
			// (USING BTREE) and a join's columns (USING (a)), which are left
			// alone.
			n := i + 1
			if iw := word(n); iw != "" && iw != "btree" && iw != "hash" && iw != "rtree" {
				replace(n, knownCharset, charsetStand)
			}
		case len(w) > 1 && w[0] == '_' && i+1 < len(toks) && (toks[i+1].quote == '\'' || toks[i+1].quote == '"' || isHexOrBitStart(text, toks[i+1])):
			if !knownCharset(w[1:]) {
				for _, s := range introStand {
					if len(s) <= len(w) {
						copy(out[toks[i].start:toks[i].end], s+strings.Repeat(" ", len(w)-len(s)))
						break
					}
				}
			}
		}
	}
	return string(out)
}

// isHexOrBitStart reports whether t begins a hexadecimal or bit literal
// (X'..', B'..', 0x.., 0b..), which an introducer may precede too.
func isHexOrBitStart(text string, t token) bool {
	s := strings.ToLower(text[t.start:t.end])
	return strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0b") ||
		((s == "x" || s == "b") && t.end < len(text) && text[t.end] == '\'')
}
