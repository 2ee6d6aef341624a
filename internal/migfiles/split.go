package migfiles

import (
	"fmt"
	"sort"
	"strings"
)

// Directive names a "-- tailor:<name>" comment line, which changes how the
// statement right after it is run.
type Directive string

const (
	// Backfill ("-- tailor:backfill") runs an UPDATE as a tailor backfill,
	// in chunks under throttling, instead of as one statement.
	Backfill Directive = "backfill"
	// AllowDestructive ("-- tailor:allow-destructive") lets a statement
	// that drops data (DROP TABLE, DROP COLUMN, TRUNCATE...) run without
	// --allow-destructive: the permission is written next to the statement
	// and reviewed with it.
	AllowDestructive Directive = "allow-destructive"
)

// directivePrefix starts a directive's comment text. Bytebase and
// liquibase-percona use comment directives the same way: the file stays
// plain SQL that any other client still runs.
const directivePrefix = "tailor:"

// knownDirectives lists the directives, in the order an error message
// names them.
func knownDirectives() []Directive { return []Directive{Backfill, AllowDestructive} }

// rawStatement is one statement as the splitter found it.
type rawStatement struct {
	text       string
	line       int
	directives []Directive
}

// splitter cuts a file into statements as the mysql command-line client
// does: at the delimiter (";" until a DELIMITER line changes it), but not
// inside quotes or comments. Executable comments ("/*!50003 ... */") are
// part of a statement's text, since the server runs what they hold, but a
// delimiter inside one does not end the statement, as in the client.
type splitter struct {
	text string
	// newlines holds the offset of every "\n", to turn offsets into lines.
	newlines []int
	delim    string
	out      []rawStatement

	start      int // offset of the current statement's first character, or -1
	directives []Directive
	dirLine    int // line of the first pending directive
}

// split returns the statements of text, with their 1-based line and the
// directives written before them. Statements hold no delimiter and no
// surrounding whitespace; comments before a statement are not part of it.
func split(text string) ([]rawStatement, error) {
	s := &splitter{text: text, delim: ";", start: -1}
	for i := range len(text) {
		if text[i] == '\n' {
			s.newlines = append(s.newlines, i)
		}
	}
	if err := s.run(); err != nil {
		return nil, err
	}
	return s.out, nil
}

// lineOf is the 1-based line of offset i.
func (s *splitter) lineOf(i int) int {
	return sort.SearchInts(s.newlines, i) + 1
}

// atLineStart reports whether only spaces and tabs precede offset i on its
// line.
func (s *splitter) atLineStart(i int) bool {
	for j := i - 1; j >= 0; j-- {
		switch s.text[j] {
		case '\n':
			return true
		case ' ', '\t', '\r':
		default:
			return false
		}
	}
	return true
}

// lineEnd is the offset of the "\n" ending the line at i, or len(text).
func (s *splitter) lineEnd(i int) int {
	if n := strings.IndexByte(s.text[i:], '\n'); n >= 0 {
		return i + n
	}
	return len(s.text)
}

func (s *splitter) run() error {
	text := s.text
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v':
			i++
		case isDelimiterCommand(text[i:]) && s.atLineStart(i):
			if s.start >= 0 {
				return &ParseError{s.lineOf(i), fmt.Sprintf("DELIMITER comes before the statement that starts on line %d ends with %q; end that statement first", s.lineOf(s.start), s.delim)}
			}
			end := s.lineEnd(i)
			fields := strings.Fields(text[i:end])
			if len(fields) < 2 {
				return &ParseError{s.lineOf(i), "DELIMITER needs the new delimiter after it, as in \"DELIMITER //\""}
			}
			if strings.Contains(fields[1], "\\") {
				// The mysql client refuses a backslash in a delimiter too.
				return &ParseError{s.lineOf(i), "a delimiter cannot hold a backslash"}
			}
			s.delim = fields[1]
			i = end
		case strings.HasPrefix(text[i:], s.delim):
			if err := s.endStatement(i); err != nil {
				return err
			}
			i += len(s.delim)
		case c == '\'' || c == '"' || c == '`':
			s.begin(i)
			end, ok := skipQuoted(text, i)
			if !ok {
				return &ParseError{s.lineOf(i), fmt.Sprintf("the %c opened here is never closed", c)}
			}
			i = end
		case c == '#' || isDashComment(text, i):
			end := s.lineEnd(i)
			body := text[i+1 : end]
			if c == '-' {
				body = text[i+2 : end]
			}
			if err := s.comment(i, strings.TrimSpace(body)); err != nil {
				return err
			}
			i = end
		case strings.HasPrefix(text[i:], "/*"):
			if isExecutableComment(text[i:]) {
				s.begin(i)
			}
			n := strings.Index(text[i+2:], "*/")
			if n < 0 {
				return &ParseError{s.lineOf(i), "the /* comment opened here is never closed"}
			}
			i += 2 + n + 2
		default:
			s.begin(i)
			i++
		}
	}
	if err := s.endStatement(len(text)); err != nil {
		return err
	}
	return nil
}

// begin marks offset i as the start of the current statement if none has
// started yet.
func (s *splitter) begin(i int) {
	if s.start < 0 {
		s.start = i
	}
}

// endStatement ends the current statement at offset i (where its delimiter,
// or the end of the file, is).
func (s *splitter) endStatement(i int) error {
	if s.start < 0 {
		if len(s.directives) > 0 {
			return &ParseError{s.dirLine, fmt.Sprintf("the directive -- tailor:%s is not followed by a statement", s.directives[0])}
		}
		return nil // an empty statement, such as ";;" or trailing comments
	}
	s.out = append(s.out, rawStatement{
		text:       strings.TrimRight(s.text[s.start:i], " \t\r\n\f\v"),
		line:       s.lineOf(s.start),
		directives: s.directives,
	})
	s.start, s.directives, s.dirLine = -1, nil, 0
	return nil
}

// comment looks at a "--" or "#" comment at offset i whose text is body:
// a directive there attaches to the next statement. Blank lines and other
// comments may stand between them; what may not is a statement, so a
// directive never reaches past the statement it was written above.
func (s *splitter) comment(i int, body string) error {
	if !strings.HasPrefix(body, directivePrefix) {
		return nil
	}
	line := s.lineOf(i)
	name := Directive(strings.TrimSpace(body[len(directivePrefix):]))
	switch {
	case s.start >= 0:
		return &ParseError{line, fmt.Sprintf("the directive -- tailor:%s is inside a statement; put it on its own line before the statement", name)}
	case !s.atLineStart(i):
		// After the previous statement's delimiter on the same line, a
		// reader would take it for a note on that statement, but it would
		// apply to the next one.
		return &ParseError{line, fmt.Sprintf("the directive -- tailor:%s shares its line with a statement; put it on its own line before the statement it is for", name)}
	}
	known := knownDirectives()
	for _, k := range known {
		if name == k {
			if len(s.directives) == 0 {
				s.dirLine = line
			}
			s.directives = append(s.directives, name)
			return nil
		}
	}
	names := make([]string, len(known))
	for j, k := range known {
		names[j] = "-- tailor:" + string(k)
	}
	return &ParseError{line, fmt.Sprintf("-- tailor:%s is not a tailor directive (the directives are %s)", name, strings.Join(names, " and "))}
}

// isDelimiterCommand reports whether s starts with the mysql client's
// DELIMITER command (any case) followed by a space, a tab or the end of the
// line (a DELIMITER without its delimiter is then an error, rather than a
// statement that fails on the server).
func isDelimiterCommand(s string) bool {
	const word = "delimiter"
	if len(s) < len(word) || !strings.EqualFold(s[:len(word)], word) {
		return false
	}
	return len(s) == len(word) || strings.IndexByte(" \t\r\n", s[len(word)]) >= 0
}

// isDashComment reports whether a "--" comment starts at offset i. The
// server requires a space or control character after "--" (so "1--1" is
// arithmetic), or the end of the text.
func isDashComment(text string, i int) bool {
	if !strings.HasPrefix(text[i:], "--") {
		return false
	}
	return i+2 == len(text) || text[i+2] <= ' '
}

// isExecutableComment reports whether s starts with "/*!" (MySQL and
// MariaDB) or "/*M!" (MariaDB only): comments whose content the server
// runs, as mysqldump writes them.
func isExecutableComment(s string) bool {
	return strings.HasPrefix(s, "/*!") || strings.HasPrefix(s, "/*M!")
}

// skipQuoted returns the offset just after the quoted string or name that
// starts at offset i. A doubled quote inside is read as the end of one
// quoted part and the start of the next, which ends at the same place. In
// '...' and "..." a backslash escapes the next character, as the server
// reads them unless sql_mode has NO_BACKSLASH_ESCAPES; in `...` it does not.
func skipQuoted(text string, i int) (int, bool) {
	q := text[i]
	for j := i + 1; j < len(text); j++ {
		switch text[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case q:
			return j + 1, true
		}
	}
	return len(text), false
}
