package preflight

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// The grants of the current account, read from SHOW GRANTS rather than from
// information_schema: MariaDB's USER_PRIVILEGES, SCHEMA_PRIVILEGES and
// TABLE_PRIVILEGES list only the account's own grants, not those of its
// enabled role, while SHOW GRANTS adds the role's (and the roles granted to
// it; MySQL 8.0 does so when told the roles with USING).
//
// Not covered, so a check may pass where the server would refuse or the
// other way round: column-level grants (they never cover a whole table and
// are ignored); MySQL's partial revokes (REVOKE lines, and wildcards taken
// literally when partial_revokes is ON); roles that are granted but not
// enabled in the session (rightly not counted, but not suggested either);
// and which of two equally specific wildcard database grants the server
// tries first (both are counted). MariaDB 10.11's grants to PUBLIC are
// covered: SHOW GRANTS prints them as another grantee.

// grantLevel is what a grant applies to.
type grantLevel int

const (
	levelGlobal   grantLevel = iota // ON *.*
	levelDatabase                   // ON `db`.*, where db may hold wildcards
	levelTable                      // ON `db`.`table`
)

// allPrivileges is how a grant of ALL [PRIVILEGES] is recorded: every
// privilege that exists at the grant's level.
const allPrivileges = "ALL PRIVILEGES"

// grant is one "GRANT privileges ON target TO grantee" line.
type grant struct {
	// grantee is the account or role, as SHOW GRANTS writes it.
	grantee string
	level   grantLevel
	// db is the database name (a pattern at levelDatabase); table is the
	// table name at levelTable.
	db, table string
	// privs are the privilege names, upper case with single spaces.
	privs map[string]bool
}

// parseGrant reads one line of SHOW GRANTS. ok is false for lines that give
// no privilege on tables: role grants ("GRANT `r` TO `u`@`%`"), routine and
// proxy grants, SET DEFAULT ROLE and REVOKE lines.
func parseGrant(line string) (g grant, ok bool, err error) {
	line = strings.TrimSpace(line)
	if len(line) < 6 || !strings.EqualFold(line[:6], "GRANT ") {
		return grant{}, false, nil
	}
	rest := line[6:]
	on := findWord(rest, "ON")
	to := findWord(rest, "TO")
	if on < 0 || to < 0 || to < on {
		return grant{}, false, nil // a role granted to the account
	}
	target := strings.TrimSpace(rest[on+2 : to])
	upperTarget := strings.ToUpper(target)
	for _, kind := range []string{"FUNCTION ", "PROCEDURE ", "PACKAGE "} {
		if strings.HasPrefix(upperTarget, kind) {
			return grant{}, false, nil
		}
	}
	if strings.HasPrefix(upperTarget, "PROXY") || strings.HasPrefix(strings.ToUpper(strings.TrimSpace(rest[:on])), "PROXY") {
		return grant{}, false, nil
	}
	g.privs = map[string]bool{}
	for _, p := range splitTop(rest[:on], ',') {
		p = strings.TrimSpace(p)
		if strings.Contains(p, "(") {
			continue // a column-level grant
		}
		name := strings.ToUpper(strings.Join(strings.Fields(p), " "))
		if name == "ALL" {
			name = allPrivileges
		}
		if name != "" && name != "USAGE" {
			g.privs[name] = true
		}
	}
	db, table, err := parseTarget(target)
	if err != nil {
		return grant{}, false, fmt.Errorf("read grant %q: %w", line, err)
	}
	switch {
	case db == "*" && table == "*":
		g.level = levelGlobal
	case table == "*":
		g.level, g.db = levelDatabase, db
	default:
		g.level, g.db, g.table = levelTable, db, table
	}
	grantee := strings.TrimSpace(rest[to+2:])
	if end := findTopSpace(grantee); end >= 0 {
		grantee = grantee[:end]
	}
	g.grantee = grantee
	return g, true, nil
}

// findWord is the index of keyword kw standing alone, outside quotes,
// backticks and parentheses, in s; -1 when absent.
func findWord(s, kw string) int {
	depth := 0
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0 // a doubled quote closes and reopens: same effect
			}
		case r == '`' || r == '\'' || r == '"':
			quote = r
		case r == '(':
			depth++
		case r == ')':
			depth--
		case depth == 0 && (i == 0 || s[i-1] == ' ') && len(s) >= i+len(kw) && strings.EqualFold(s[i:i+len(kw)], kw) &&
			(len(s) == i+len(kw) || s[i+len(kw)] == ' '):
			return i
		}
	}
	return -1
}

// findTopSpace is the index of the first space outside quotes and
// backticks in s; -1 when none.
func findTopSpace(s string) int {
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '`' || r == '\'' || r == '"':
			quote = r
		case unicode.IsSpace(r):
			return i
		}
	}
	return -1
}

// splitTop splits s at sep outside quotes, backticks and parentheses.
func splitTop(s string, sep rune) []string {
	var out []string
	depth, start := 0, 0
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '`' || r == '\'' || r == '"':
			quote = r
		case r == '(':
			depth++
		case r == ')':
			depth--
		case r == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parseTarget splits "`db`.`table`", "`db`.*" or "*.*" into its two names,
// unquoting backticked names ("*" stays "*").
func parseTarget(s string) (db, table string, err error) {
	db, rest, err := readName(s)
	if err != nil {
		return "", "", err
	}
	if !strings.HasPrefix(rest, ".") {
		return "", "", fmt.Errorf("expected db.table, got %q", s)
	}
	table, rest, err = readName(rest[1:])
	if err != nil {
		return "", "", err
	}
	if strings.TrimSpace(rest) != "" {
		return "", "", fmt.Errorf("unexpected %q after the table", rest)
	}
	return db, table, nil
}

// readName reads one name, backticked or bare, or "*", from the start of s.
func readName(s string) (name, rest string, err error) {
	if strings.HasPrefix(s, "`") {
		name, rest, ok := mysql.LeadingIdent(s)
		if !ok {
			return "", "", fmt.Errorf("unterminated name in %q", s)
		}
		return name, rest, nil
	}
	end := strings.IndexAny(s, ". ")
	if end < 0 {
		end = len(s)
	}
	if end == 0 {
		return "", "", fmt.Errorf("expected a name in %q", s)
	}
	return s[:end], s[end:], nil
}

// grantSet is every grant in force for the session.
type grantSet struct {
	grants []grant
	// foldCase is true when the server compares database and table names
	// without regard to case (lower_case_table_names is not 0).
	foldCase bool
}

// allows reports whether priv is granted at level: globally, on any table
// of db (including tables that do not exist yet: only a global or a
// database grant gives that), or on table in db. Privileges of the account and of
// each role add up; within one grantee the server uses only the most
// specific database grant that matches (an exact name before a pattern,
// then the pattern with the longer literal start), which is why a pattern
// grant does not add to an exact one.
func (gs grantSet) allows(priv string, level grantLevel, db, table string) bool {
	byGrantee := map[string][]grant{}
	var order []string
	for _, g := range gs.grants {
		if _, seen := byGrantee[g.grantee]; !seen {
			order = append(order, g.grantee)
		}
		byGrantee[g.grantee] = append(byGrantee[g.grantee], g)
	}
	for _, who := range order {
		best := -1
		var dbPrivs map[string]bool
		for _, g := range byGrantee[who] {
			has := g.privs[priv] || g.privs[allPrivileges]
			switch g.level {
			case levelGlobal:
				if has {
					return true
				}
			case levelTable:
				if has && level == levelTable && gs.same(g.db, db) && gs.same(g.table, table) {
					return true
				}
			case levelDatabase:
				if level == levelGlobal || !likeMatch(g.db, db, gs.foldCase) {
					continue
				}
				rank := literalPrefix(g.db)
				switch {
				case rank > best:
					best, dbPrivs = rank, map[string]bool{}
					fallthrough
				case rank == best:
					for p := range g.privs {
						dbPrivs[p] = true
					}
				}
			}
		}
		if dbPrivs[priv] || dbPrivs[allPrivileges] {
			return true
		}
	}
	return false
}

func (gs grantSet) same(a, b string) bool {
	return a == b || (gs.foldCase && strings.EqualFold(a, b))
}

// literalPrefix ranks a database pattern by specificity: the number of
// characters before its first wildcard, and above any pattern for a name
// without wildcards.
func literalPrefix(pattern string) int {
	n := 0
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			i++
		case '%', '_':
			return n
		}
		n++
	}
	return 1 << 20
}

// likeMatch matches name against a database pattern of a grant, where "%"
// stands for any run of characters, "_" for one, and a backslash makes the
// next character literal.
func likeMatch(pattern, name string, fold bool) bool {
	p, n := []rune(pattern), []rune(name)
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for i < len(p) {
			switch p[i] {
			case '%':
				for k := j; k <= len(n); k++ {
					if match(i+1, k) {
						return true
					}
				}
				return false
			case '_':
				if j >= len(n) {
					return false
				}
			default:
				c := p[i]
				if c == '\\' && i+1 < len(p) {
					i++
					c = p[i]
				}
				if j >= len(n) || !(c == n[j] || fold && unicode.ToLower(c) == unicode.ToLower(n[j])) {
					return false
				}
			}
			i++
			j++
		}
		return j == len(n)
	}
	return match(0, 0)
}
