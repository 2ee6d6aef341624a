package plan

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// definition is a table's definition as SHOW CREATE TABLE prints it: one
// line per column, then per key and constraint, then the table's options.
// The server prints each on a line of its own, a column starting with its
// quoted name.
type definition struct {
	columns []columnLine
	keys    []keyLine
	// others are the remaining lines inside the parentheses: constraints,
	// periods.
	others []string
	// options is everything after the closing parenthesis (engine,
	// character set, partitioning), without AUTO_INCREMENT=n, which the
	// empty clone never has.
	options string
}

type columnLine struct {
	name string
	// def is the definition after the name: "int(11) NOT NULL".
	def string
}

type keyLine struct {
	// name is "PRIMARY" for the primary key.
	name string
	// line is the key as printed: "UNIQUE KEY `k` (`a`,`b`(10))".
	line string
}

var autoIncrementOption = regexp.MustCompile(`\s*AUTO_INCREMENT=\d+`)

// parseDefinition reads a SHOW CREATE TABLE text; ok is false when it does
// not have the expected shape.
func parseDefinition(text string) (d definition, ok bool) {
	lines := strings.Split(text, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "CREATE TABLE ") || !strings.HasSuffix(lines[0], "(") {
		return d, false
	}
	for i, raw := range lines[1:] {
		line := strings.TrimSuffix(strings.TrimSpace(raw), ",")
		switch {
		case strings.HasPrefix(line, ")"):
			rest := append([]string{strings.TrimPrefix(line, ")")}, lines[i+2:]...)
			d.options = strings.TrimSpace(autoIncrementOption.ReplaceAllString(strings.Join(rest, "\n"), ""))
			return d, true
		case strings.HasPrefix(line, "`"):
			name, rest, ok := mysql.LeadingIdent(line)
			if !ok {
				return d, false
			}
			d.columns = append(d.columns, columnLine{name: name, def: strings.TrimSpace(rest)})
		case strings.HasPrefix(line, "PRIMARY KEY "):
			d.keys = append(d.keys, keyLine{name: "PRIMARY", line: line})
		default:
			if name, ok := keyName(line); ok {
				d.keys = append(d.keys, keyLine{name: name, line: line})
			} else {
				d.others = append(d.others, line)
			}
		}
	}
	return d, false
}

// keyName is the name of a key line ("UNIQUE KEY `k` (...)", "KEY `k`
// (...)", "FULLTEXT KEY `k` (...)"): the name after the first "KEY " that
// comes before any parenthesis.
func keyName(line string) (string, bool) {
	head, _, _ := strings.Cut(line, "(")
	i := strings.Index(head, "KEY `")
	if i < 0 || strings.HasPrefix(line, "CONSTRAINT") {
		return "", false
	}
	name, _, ok := mysql.LeadingIdent(line[i+len("KEY "):])
	return name, ok
}

func (d definition) column(name string) (columnLine, bool) {
	for _, c := range d.columns {
		if strings.EqualFold(c.name, name) {
			return c, true
		}
	}
	return columnLine{}, false
}

func (d definition) key(name string) (keyLine, bool) {
	for _, k := range d.keys {
		if strings.EqualFold(k.name, name) {
			return k, true
		}
	}
	return keyLine{}, false
}

// renameKeyColumns rewrites the quoted column names in a key line's column
// list (the first parenthesised part after the key's name) through rename,
// keyed by lower-cased name; names it does not hold stay.
func renameKeyColumns(line string, rename map[string]string) string {
	var b strings.Builder
	depth, started := 0, false
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == '`':
			name, rest, ok := mysql.LeadingIdent(line[i:])
			if !ok {
				b.WriteString(line[i:])
				return b.String()
			}
			if to, renamed := rename[strings.ToLower(name)]; renamed && depth > 0 {
				name = to
			}
			b.WriteString(mysql.QuoteIdent(name))
			i = len(line) - len(rest)
			continue
		case c == '(' && !(started && depth == 0):
			depth++
			started = true
		case c == ')' && depth > 0:
			depth--
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

// inverseAlter is the ALTER TABLE statement that gives the table back its
// definition from before the change, made by comparing the two definitions
// line by line: added columns and keys dropped, renamed and changed columns
// given their old name and definition (and their old place, when the
// change moved columns), dropped or changed keys added back as they were.
// It returns "" and the reason, as a clause, when there is none: the change
// drops a column (its values are gone with it), or changes the table's
// options or constraints, which tailor does not undo.
func inverseAlter(table string, alter *ddl.Alter, source, target *schema.Table, sourceDef, targetDef string) (string, string) {
	before, ok1 := parseDefinition(sourceDef)
	after, ok2 := parseDefinition(targetDef)
	if !ok1 || !ok2 || alter == nil || source == nil || target == nil {
		return "", "tailor could not read the table's definition before and after the change"
	}
	if before.options != after.options {
		return "", "the change alters the table's options, which tailor does not undo"
	}
	if !slices.Equal(slices.Sorted(slices.Values(before.others)), slices.Sorted(slices.Values(after.others))) {
		return "", "the change alters the table's constraints, which tailor does not undo"
	}
	// Generated columns count here: the inverse must give them back too.
	pairs := alter.CopiedColumns(source.ColumnNames(), target.ColumnNames(), nil)
	newOf := map[string]string{}
	oldOf := map[string]string{}
	for _, p := range pairs {
		newOf[strings.ToLower(p.Old)] = p.New
		oldOf[strings.ToLower(p.New)] = p.Old
	}
	var dropped []string
	for _, c := range before.columns {
		if _, ok := newOf[strings.ToLower(c.name)]; !ok {
			dropped = append(dropped, c.name)
		}
	}
	if len(dropped) > 0 {
		return "", fmt.Sprintf("the change drops %s, whose values go with it", mysql.QuoteIdents(dropped))
	}

	var drops, changes, adds []string
	for _, k := range after.keys {
		if old, ok := before.key(k.name); !ok || old.line != renameKeyColumns(k.line, oldOf) {
			if k.name == "PRIMARY" {
				drops = append(drops, "DROP PRIMARY KEY")
			} else {
				drops = append(drops, "DROP INDEX "+mysql.QuoteIdent(k.name))
			}
		}
	}
	var keptInNewOrder []string
	for _, c := range after.columns {
		old, ok := oldOf[strings.ToLower(c.name)]
		if !ok {
			drops = append(drops, "DROP COLUMN "+mysql.QuoteIdent(c.name))
			continue
		}
		keptInNewOrder = append(keptInNewOrder, strings.ToLower(old))
	}
	var oldOrder []string
	for _, c := range before.columns {
		oldOrder = append(oldOrder, strings.ToLower(c.name))
	}
	moved := !slices.Equal(oldOrder, keptInNewOrder)
	for i, c := range before.columns {
		now, _ := after.column(newOf[strings.ToLower(c.name)])
		place := ""
		if moved {
			place = " FIRST"
			if i > 0 {
				place = " AFTER " + mysql.QuoteIdent(before.columns[i-1].name)
			}
		}
		switch {
		case now.name != c.name:
			changes = append(changes, fmt.Sprintf("CHANGE COLUMN %s %s %s%s", mysql.QuoteIdent(now.name), mysql.QuoteIdent(c.name), c.def, place))
		case now.def != c.def || moved:
			changes = append(changes, fmt.Sprintf("MODIFY COLUMN %s %s%s", mysql.QuoteIdent(c.name), c.def, place))
		}
	}
	for _, k := range before.keys {
		if now, ok := after.key(k.name); !ok || k.line != renameKeyColumns(now.line, oldOf) {
			adds = append(adds, "ADD "+k.line)
		}
	}
	clauses := slices.Concat(drops, changes, adds)
	if len(clauses) == 0 {
		return "", "the change leaves the definition as it was"
	}
	return "ALTER TABLE " + mysql.QuoteIdent(table) + " " + strings.Join(clauses, ", ") + ";", ""
}
