package schema

import (
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// KeyDefinition is one index as SHOW CREATE TABLE prints it.
type KeyDefinition struct {
	Name string
	// Definition is the index's line without its indentation and trailing
	// comma ("KEY `k` (`k`)"): what ALTER TABLE ... ADD accepts to make
	// the same index again.
	Definition string
}

// PlainKeys returns the plain (non-unique, B-tree) secondary indexes of a
// CREATE TABLE statement as SHOW CREATE TABLE prints it, in its order.
// The server prints each index on a line of its own, starting "KEY"; UNIQUE,
// PRIMARY, FULLTEXT and SPATIAL indexes and constraints start otherwise and
// are left out.
func PlainKeys(createTable string) []KeyDefinition {
	var keys []KeyDefinition
	for _, line := range strings.Split(createTable, "\n") {
		def := strings.TrimSuffix(strings.TrimSpace(line), ",")
		rest, ok := strings.CutPrefix(def, "KEY ")
		if !ok {
			continue
		}
		name, _, ok := mysql.LeadingIdent(rest)
		if !ok {
			continue
		}
		keys = append(keys, KeyDefinition{Name: name, Definition: def})
	}
	return keys
}
