// Package mysql holds what every other package needs to talk to a MySQL or
// MariaDB server: connection settings, identifier quoting, the server's
// flavour and version, and the classification of server errors.
package mysql

import "strings"

// QuoteIdent quotes one identifier (a database, table or column name) with
// backticks, doubling any backtick inside it, so that names holding spaces,
// backticks or non-ASCII letters are always safe to interpolate.
func QuoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// QuoteTable quotes a schema-qualified table name.
func QuoteTable(database, table string) string {
	return QuoteIdent(database) + "." + QuoteIdent(table)
}

// QuoteIdents quotes each name and joins them with ", ".
func QuoteIdents(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = QuoteIdent(n)
	}
	return strings.Join(quoted, ", ")
}

// QuoteString quotes a string literal for the rare statements that cannot
// take placeholders (SHOW ... LIKE, some DDL). Backslashes and quotes are
// escaped; the session runs without NO_BACKSLASH_ESCAPES.
func QuoteString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`, "\n", `\n`, "\r", `\r`, "\x1a", `\Z`)
	return "'" + r.Replace(s) + "'"
}

// LeadingIdent reads the backquoted identifier s starts with, as the server
// prints it (quotes inside doubled), and returns it unquoted with the rest
// of s; ok is false when s does not start with a complete one.
func LeadingIdent(s string) (name, rest string, ok bool) {
	if !strings.HasPrefix(s, "`") {
		return "", s, false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '`' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '`' {
			b.WriteByte('`')
			i++
			continue
		}
		return b.String(), s[i+1:], true
	}
	return "", s, false
}
