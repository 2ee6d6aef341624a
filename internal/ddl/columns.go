package ddl

import "slices"

// ColumnPair is one column whose data is copied: Old names it in the original
// table and New in the shadow table, each spelled as that table spells it.
type ColumnPair struct{ Old, New string }

// CopiedColumns maps the columns of the new table to their source in the old table.
//
// oldCols and newCols are the real column names (any case) of the original table and
// of the shadow table after the ALTER, in table order; generatedNew tells which new
// columns are generated, keyed by their name in newCols (case-insensitively). The
// result has one pair per new column that takes its data from an old column, in
// newCols order:
//
//   - a generated new column is never copied: the server computes it, and refuses
//     writes to it;
//   - a renamed column is copied from its old name;
//   - an added column is not copied, even when an old column had its name: after
//     "DROP COLUMN c, ADD COLUMN c ..." the new c is a different column that starts
//     from its default. The exception is ADD COLUMN IF NOT EXISTS c when the old
//     table has c and the ALTER neither drops nor renames it: the server skipped
//     that clause, so c is the old column and is copied;
//   - any other new column is copied from the old column of the same name,
//     compared case-insensitively as MySQL does, unless that old column was renamed
//     away.
func (a *Alter) CopiedColumns(oldCols, newCols []string, generatedNew map[string]bool) []ColumnPair {
	oldByName := make(map[string]string, len(oldCols))
	for _, c := range oldCols {
		oldByName[lower(c)] = c
	}
	generated := make(map[string]bool, len(generatedNew))
	for c, isGenerated := range generatedNew {
		if isGenerated {
			generated[lower(c)] = true
		}
	}
	renamedFrom := make(map[string]string, len(a.Renames))
	for oldName, newName := range a.Renames {
		renamedFrom[newName] = oldName
	}

	var pairs []ColumnPair
	for _, newCol := range newCols {
		name := lower(newCol)
		if generated[name] {
			continue
		}
		// A rename whose source is missing (CHANGE IF EXISTS on an absent column) did
		// nothing, so it falls through to the rules for plain names.
		if from, renamed := renamedFrom[name]; renamed {
			if src, ok := oldByName[from]; ok {
				pairs = append(pairs, ColumnPair{Old: src, New: newCol})
				continue
			}
		}
		src, inOld := oldByName[name]
		if !inOld || a.renamedAway(name) {
			continue
		}
		if slices.Contains(a.Added, name) && !a.skippedAdd(name) {
			continue
		}
		pairs = append(pairs, ColumnPair{Old: src, New: newCol})
	}
	return pairs
}

// renamedAway reports whether the old column name was renamed to something else.
func (a *Alter) renamedAway(name string) bool {
	newName, ok := a.Renames[name]
	return ok && newName != name
}

// skippedAdd reports whether ADD COLUMN for name was a no-op on a table that
// already had the column: only IF NOT EXISTS skips, and only when the ALTER did not
// also drop the column. With "DROP COLUMN c, ADD COLUMN IF NOT EXISTS c" the column
// is taken as new, the same reading as without IF NOT EXISTS, so data the user
// asked to drop is never carried into it.
func (a *Alter) skippedAdd(name string) bool {
	return a.addedIfNotExists[name] && !slices.Contains(a.Dropped, name)
}
