package migfiles

import "strings"

// token is one token of a statement: a word, a quoted string or name, or
// one punctuation character. Offsets are into the statement's text.
type token struct {
	start, end int
	quote      byte // the opening quote of a quoted token, or 0
	depth      int  // parentheses open before the token
}

// tokenize reads a statement's tokens, skipping whitespace and comments
// and reading into executable comments (whose content the server runs).
// It is just enough to find keywords and the positions of clauses; the
// parser decides what a statement means.
func tokenize(text string) []token {
	var toks []token
	depth := 0
	inExec := false
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v':
			i++
		case c == '#' || isDashComment(text, i):
			if n := strings.IndexByte(text[i:], '\n'); n >= 0 {
				i += n
			} else {
				i = len(text)
			}
		case isExecutableComment(text[i:]):
			i += strings.IndexByte(text[i:], '!') + 1
			for i < len(text) && text[i] >= '0' && text[i] <= '9' {
				i++
			}
			inExec = true
		case strings.HasPrefix(text[i:], "/*"):
			n := strings.Index(text[i+2:], "*/")
			if n < 0 {
				return toks
			}
			i += 2 + n + 2
		case inExec && strings.HasPrefix(text[i:], "*/"):
			inExec = false
			i += 2
		case c == '\'' || c == '"' || c == '`':
			end, _ := skipQuoted(text, i)
			toks = append(toks, token{start: i, end: end, quote: c, depth: depth})
			i = end
		case isWordByte(c):
			j := i
			for j < len(text) && isWordByte(text[j]) {
				j++
			}
			toks = append(toks, token{start: i, end: j, depth: depth})
			i = j
		default:
			if c == ')' {
				depth--
			}
			toks = append(toks, token{start: i, end: i + 1, depth: depth})
			if c == '(' {
				depth++
			}
			i++
		}
	}
	return toks
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// word is an unquoted token outside parentheses, upper-cased, with its
// index among the tokens.
type word struct {
	text string
	tok  int
}

// words returns the words of a statement, in order.
func words(text string, toks []token) []word {
	var ws []word
	for i, t := range toks {
		if t.quote == 0 && t.depth == 0 {
			ws = append(ws, word{strings.ToUpper(text[t.start:t.end]), i})
		}
	}
	return ws
}
