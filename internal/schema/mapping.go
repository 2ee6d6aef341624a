package schema

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tailor-osc/tailor/internal/sqlbuild"
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
	// Key are the columns of the key the copy walks: a key that identifies
	// rows in the original and still identifies them in the shadow. Every
	// key column is copied and keeps the order of its values
	// (SameKeyOrder), so a row found by key in the original is found by the
	// same key in the shadow.
	Key []ColumnPair
	// KeyName is the name of that key in the original.
	KeyName string
	// ShadowKey is the name of the shadow's unique index that starts with
	// the key's columns, in the key's order: on exactly those columns when
	// the ALTER keeps the key, or on more when it extends it (a primary key
	// (id) that becomes (id, i)). The copy deletes key ranges through it,
	// and a duplicate on it means two rows with the same key (see
	// rowcopy.Copier).
	ShadowKey string
	// TimeZone is the time zone in which a value crossing between a
	// TIMESTAMP and another type is converted, as the server's own ALTER
	// converts it in its session's (see zone.go): the server's
	// @@global.time_zone when the migration began, or tailor's --time-zone.
	// Empty converts nothing.
	TimeZone string
	// Stamps are the values the copy and the applier write into the
	// shadow's new columns whose default reads the clock (see clock.go);
	// none in a mapping that copies nothing, or a revert's.
	Stamps []Stamp
}

// NewMapping builds the mapping from the original and shadow definitions and
// the copied column pairs (from the parsed ALTER). It chooses the first of
// the original's usable keys (primary key first, then unique keys on NOT NULL
// columns) whose columns the shadow keeps, with the same order of values, as
// the leading columns of one of its unique keys. Such a key identifies the
// same row in both tables: unique in the original, and in the shadow each
// row is a copy of one row of the original. That covers a primary key that
// gains a column ((id) to (id, i)), a key column widened (INT to BIGINT), a
// primary key replaced while a NOT NULL unique key stays, and a primary key
// added to a table that has one. It fails when there is none, e.g. when the
// ALTER replaces the only key by one on other columns.
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
	candidates, unwalkable := source.WalkableKeys(source.IdentifyingKeys())
	if len(candidates) == 0 {
		if unwalkable != nil {
			return nil, unwalkable
		}
		_, err := source.CopyKey()
		return nil, err
	}
	noKey := &NoSharedKeyError{Table: source.Name}
	for _, idx := range candidates {
		key, shadowKey, reason := m.keyIn(idx)
		if reason == "" {
			m.Key, m.KeyName, m.ShadowKey = key, idx.Name, shadowKey
			return m, nil
		}
		noKey.Reasons = append(noKey.Reasons, describeIndex(idx)+" "+reason)
		if key != nil {
			noKey.Kept = append(noKey.Kept, key)
		}
	}
	return nil, noKey
}

// NoSharedKeyError says that no key of the original identifies rows alike
// in the new table, and why for each key.
type NoSharedKeyError struct {
	Table string
	// Reasons has one entry per usable key of the original: the key and
	// what the ALTER does to it.
	Reasons []string
	// Kept are the keys whose columns the new table keeps, with the same
	// order of values, but in no unique key: kept as a UNIQUE key, any of
	// them would do.
	Kept [][]ColumnPair
}

func (e *NoSharedKeyError) Error() string {
	return fmt.Sprintf("no key identifies rows alike in %s and in the new table, which the copy needs to match each change to its row: %s; keep such a key in the new table as a UNIQUE key (or as the first columns of one) and drop it in a later migration (the plan's advice gives the steps)",
		e.Table, strings.Join(e.Reasons, "; "))
}

// keyIn maps idx's columns through the copied pairs and finds the shadow's
// unique index that starts with them, or says why there is none (with the
// mapped key when only that index is missing).
func (m *Mapping) keyIn(idx Index) (key []ColumnPair, shadowKey, why string) {
	for _, col := range idx.Columns {
		i := slices.IndexFunc(m.Columns, func(p ColumnPair) bool { return strings.EqualFold(p.Old, col) })
		if i < 0 {
			return nil, "", fmt.Sprintf("loses column %s", col)
		}
		key = append(key, m.Columns[i])
	}
	for _, kp := range key {
		oc, _ := m.Source.Column(kp.Old)
		nc, _ := m.Shadow.Column(kp.New)
		if !SameKeyOrder(oc, nc) {
			return nil, "", fmt.Sprintf("has column %s change from %s to %s, which orders or equates values differently", kp.Old, describeType(oc), describeType(nc))
		}
	}
	// In the same order: the copy walks and deletes key ranges in the
	// original's order, and the shadow needs an index that serves those
	// ranges and orders them alike. A unique key on exactly the key's
	// columns is preferred to one that extends them.
	best := -1
	for i, sidx := range m.Shadow.Indexes {
		if !sidx.Unique || len(sidx.Columns) < len(key) {
			continue
		}
		match := true
		for j, kp := range key {
			// The whole value (or the same prefix as in the original): a
			// prefix would make two different keys collide.
			match = match && strings.EqualFold(sidx.Columns[j], kp.New) && subPart(sidx, j) == subPart(idx, j)
		}
		if match && (best < 0 || len(sidx.Columns) < len(m.Shadow.Indexes[best].Columns)) {
			best = i
		}
	}
	if best < 0 {
		return key, "", "is in no unique key of the new table (as its first columns, in this order)"
	}
	return key, m.Shadow.Indexes[best].Name, ""
}

func subPart(idx Index, i int) int {
	if i < len(idx.SubParts) {
		return idx.SubParts[i]
	}
	return 0
}

func describeType(c Column) string {
	if c.Collation != "" {
		return c.ColumnType + " " + c.Collation
	}
	return c.ColumnType
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
	if old.Unsigned != new.Unsigned && !(old.Family() == FamInteger && new.Family() == FamInteger) {
		return false
	}
	switch {
	case strings.EqualFold(old.ColumnType, new.ColumnType) && old.Collation == new.Collation:
		return true
	case old.Family() == FamInteger && new.Family() == FamInteger:
		return true
	case old.DataType == "decimal" && new.DataType == "decimal",
		old.DataType == "varbinary" && new.DataType == "varbinary":
		return true
	case old.Family() == FamText && new.Family() == FamText:
		sameFamily := (old.DataType == "char") == (new.DataType == "char")
		return sameFamily && old.Collation != "" && old.Collation == new.Collation
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

// OldRangeKey is the copy key over the original, as sqlbuild.Range walks
// it.
func (m *Mapping) OldRangeKey() sqlbuild.Key { return RangeKey(m.Source, m.KeyOldNames()) }

// NewRangeKey is the copy key over the shadow, as sqlbuild.Range walks it:
// its columns keep their definitions (SameKeyOrder), so the original's
// tell their numbers.
func (m *Mapping) NewRangeKey() sqlbuild.Key {
	k := m.OldRangeKey()
	k.Columns = m.KeyNewNames()
	return k
}

// KeyValues picks the key's values out of a row image of the original, as
// a key holds them (an ENUM or a SET as its number: HeldKeyValue).
func (m *Mapping) KeyValues(image []any) []any {
	vals := make([]any, len(m.Key))
	for i, k := range m.Key {
		vals[i] = HeldKeyValue(m.Source.Columns[k.Index], image[k.Index])
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
