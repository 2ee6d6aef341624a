package schema

import (
	"fmt"
	"strings"
)

// ColumnPair is one column the copy carries from the original to the shadow.
type ColumnPair struct {
	// Old and New are the column's names in the original and in the shadow;
	// they differ when the ALTER renames the column.
	Old, New string
	// Index is the column's position in the original's row images
	// (Ordinal-1).
	Index int
}

// Mapping says how rows of the original become rows of the shadow: which
// columns are copied (and under which name), and which key identifies a row
// in both tables.
type Mapping struct {
	Source *Table
	Shadow *Table
	// Columns are the copied columns, in the shadow's order.
	Columns []ColumnPair
	// Key are the columns of the key the copy walks. Every key column is
	// copied, and the shadow has a unique key on exactly these columns, so a
	// row found by key in the original is found by the same key in the shadow.
	Key []ColumnPair
	// KeyName is the name of that key in the original.
	KeyName string
}

// NewMapping builds the mapping from the original and shadow definitions and
// the copied column pairs (from the parsed ALTER). It chooses the first of
// the original's usable keys (primary key first, then unique keys on NOT NULL
// columns) that the shadow also has as a unique key, so that changes can be
// applied by key; it fails when there is none, e.g. when the ALTER drops the
// primary key without keeping another unique key on the same columns.
func NewMapping(source, shadow *Table, pairs [][2]string) (*Mapping, error) {
	m := &Mapping{Source: source, Shadow: shadow}
	for _, p := range pairs {
		oc, ok := source.Column(p[0])
		if !ok {
			return nil, fmt.Errorf("column %q is not in %s", p[0], source.Name)
		}
		nc, ok := shadow.Column(p[1])
		if !ok {
			return nil, fmt.Errorf("column %q is not in the new table", p[1])
		}
		if nc.Generated {
			continue
		}
		m.Columns = append(m.Columns, ColumnPair{Old: oc.Name, New: nc.Name, Index: oc.Ordinal - 1})
	}
	if len(m.Columns) == 0 {
		return nil, fmt.Errorf("the new table shares no column with %s: nothing to copy", source.Name)
	}
	var candidates []Index
	if pk, ok := source.PrimaryKey(); ok {
		candidates = append(candidates, pk)
	}
	for _, idx := range source.Indexes {
		if idx.Unique && !idx.Nullable && !idx.IsPrimary() {
			candidates = append(candidates, idx)
		}
	}
	if len(candidates) == 0 {
		_, err := source.CopyKey()
		return nil, err
	}
	for _, idx := range candidates {
		key, ok := m.keyIn(idx)
		if ok {
			m.Key = key
			m.KeyName = idx.Name
			return m, nil
		}
	}
	return nil, fmt.Errorf("the new table has no unique key on the same columns, of the same type and collation, as %s's %s: tailor needs one key that identifies and orders rows alike in both tables (keep the old primary key as a UNIQUE key, or change the key's columns in a separate migration)",
		source.Name, describeIndex(candidates[0]))
}

// keyIn maps idx's columns through the copied pairs and checks that the
// shadow has a unique index on exactly those columns.
func (m *Mapping) keyIn(idx Index) ([]ColumnPair, bool) {
	var key []ColumnPair
	for _, col := range idx.Columns {
		found := false
		for _, p := range m.Columns {
			if strings.EqualFold(p.Old, col) {
				key = append(key, p)
				found = true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	for _, kp := range key {
		oc, _ := m.Source.Column(kp.Old)
		nc, _ := m.Shadow.Column(kp.New)
		if !SameKeyOrder(oc, nc) {
			return nil, false
		}
	}
	for _, sidx := range m.Shadow.Indexes {
		if !sidx.Unique || len(sidx.Columns) != len(key) {
			continue
		}
		// In the same order: the copy walks and deletes key ranges in the
		// original's order, and the shadow needs an index that serves
		// those ranges and orders them alike.
		match := true
		for i, kp := range key {
			match = match && strings.EqualFold(sidx.Columns[i], kp.New)
		}
		if match {
			return key, true
		}
	}
	return nil, false
}

// SameKeyOrder reports whether a key column keeps the order and the
// equality of its values when its definition changes from old to new, so
// that a key range (lo, hi] holds the same rows in both tables. The copy
// deletes and fills each range of the shadow, so a range that meant other
// rows there would delete rows already copied. Integers of any size compare
// by value in both, as do DECIMALs and VARBINARYs (bytes; BINARY(n) pads
// with zeros, so a BINARY of another length holds other values). Strings
// keep their order only in the same collation (a longer VARCHAR is fine,
// utf8mb4_general_ci to utf8mb4_bin is not), and CHAR only stays CHAR: it
// drops trailing spaces, which a NO PAD collation tells apart, so 'a ' and
// 'a' would be two keys in a VARCHAR and one in a CHAR. Any other change
// must leave the type as it is.
func SameKeyOrder(old, new Column) bool {
	if old.Unsigned != new.Unsigned && !(isInteger(old.DataType) && isInteger(new.DataType)) {
		return false
	}
	switch {
	case strings.EqualFold(old.ColumnType, new.ColumnType) && old.Collation == new.Collation:
		return true
	case isInteger(old.DataType) && isInteger(new.DataType):
		return true
	case old.DataType == "decimal" && new.DataType == "decimal",
		old.DataType == "varbinary" && new.DataType == "varbinary":
		return true
	case isText(old.DataType) && isText(new.DataType):
		sameFamily := (old.DataType == "char") == (new.DataType == "char")
		return sameFamily && old.Collation != "" && old.Collation == new.Collation
	}
	return false
}

func isInteger(dataType string) bool {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "bigint":
		return true
	}
	return false
}

func isText(dataType string) bool {
	switch dataType {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		return true
	}
	return false
}

func describeIndex(idx Index) string {
	if idx.IsPrimary() {
		return "primary key (" + strings.Join(idx.Columns, ", ") + ")"
	}
	return "unique key " + idx.Name + " (" + strings.Join(idx.Columns, ", ") + ")"
}

// OldNames are the original's names of the copied columns.
func (m *Mapping) OldNames() []string { return names(m.Columns, true) }

// NewNames are the shadow's names of the copied columns.
func (m *Mapping) NewNames() []string { return names(m.Columns, false) }

// KeyOldNames are the key's column names in the original.
func (m *Mapping) KeyOldNames() []string { return names(m.Key, true) }

// KeyNewNames are the key's column names in the shadow.
func (m *Mapping) KeyNewNames() []string { return names(m.Key, false) }

// KeyComparesExactly reports whether every key column compares byte for
// byte, so that keys can be told apart in memory as the server would.
func (m *Mapping) KeyComparesExactly() bool {
	for _, k := range m.Key {
		if !m.Source.Columns[k.Index].ComparesExactly() {
			return false
		}
	}
	return true
}

// KeyValues picks the key's values out of a row image of the original.
func (m *Mapping) KeyValues(image []any) []any {
	vals := make([]any, len(m.Key))
	for i, k := range m.Key {
		vals[i] = image[k.Index]
	}
	return vals
}

func names(pairs []ColumnPair, old bool) []string {
	out := make([]string, len(pairs))
	for i, p := range pairs {
		if old {
			out[i] = p.Old
		} else {
			out[i] = p.New
		}
	}
	return out
}
