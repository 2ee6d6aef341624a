package plan

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/sqlbuild"
)

// AdviceKind names a risky kind of change.
type AdviceKind string

// The kinds of advice.
const (
	// AdviceRenameColumn: a column is renamed while running code may use
	// the old name.
	AdviceRenameColumn AdviceKind = "rename-column"
	// AdviceDropColumn: a column and its values go away.
	AdviceDropColumn AdviceKind = "drop-column"
	// AdviceAddNotNullColumn: a NOT NULL column without a default is added
	// to a table that has rows.
	AdviceAddNotNullColumn AdviceKind = "add-not-null-column"
	// AdviceChangeColumnType: a column's type changes, other than a string
	// growing longer.
	AdviceChangeColumnType AdviceKind = "change-column-type"
	// AdviceSplitColumn: columns are dropped and two or more added, which
	// may be one column split into several.
	AdviceSplitColumn AdviceKind = "split-column"
	// AdviceChangeKey: the change leaves no key that identifies rows alike
	// before and after it, which the copy needs (the plan refuses it).
	AdviceChangeKey AdviceKind = "change-key"
)

// Advice is how to make one risky part of the change in safe steps
// (expand-contract): add the new shape, have the application write both,
// backfill in batches, switch the reads, drop the old shape. Each ALTER in
// the steps can itself be planned and run with tailor.
type Advice struct {
	Kind AdviceKind `json:"kind"`
	// Columns are the columns concerned, as the tables spell them: old
	// names first, then new ones.
	Columns []string `json:"columns"`
	// Why says in one sentence what can go wrong.
	Why   string `json:"why"`
	Steps []Step `json:"steps"`
}

// Step is one step of an Advice.
type Step struct {
	// Do says what to do, in one sentence.
	Do string `json:"do"`
	// SQL is the statement for the step, if it has one; "<...>" marks a
	// part only the user can write.
	SQL string `json:"sql,omitempty"`
	// Command is the tailor command line of the step, if it is one (the
	// backfill): connection flags are shown as "--host ...".
	Command string `json:"command,omitempty"`
}

// adviceInput is what advise looks at; all of it is known without a server.
type adviceInput struct {
	database, table string
	// key are the columns a backfill walks (the copy key), none when the
	// table has no usable key.
	key   []string
	empty bool
	alter *ddl.Alter
	// source and target are the table before and after the change.
	source, target *schema.Table
	// noDefaultNew are the added columns that are NOT NULL without a
	// default, spelled as target spells them.
	noDefaultNew []string
	// pairs are the copied columns, old and new names; nil when the change
	// is not copied.
	pairs [][2]string
	// zone is the time zone the server's own ALTER converts a value
	// between a TIMESTAMP and another type in (Plan.TimeZone); a backfill
	// evaluates its expressions in +00:00, so its --set converts there
	// explicitly.
	zone string
}

// advise returns the advice for the risky parts of the change, in a fixed
// order: a key change the copy cannot follow, renames, drops, a possible
// split, NOT NULL columns, type changes.
func advise(in adviceInput) []Advice {
	out := []Advice{}
	if in.pairs != nil && in.target != nil {
		var noKey *schema.NoSharedKeyError
		if _, err := schema.NewMapping(in.source, in.target, in.pairs); errors.As(err, &noKey) {
			out = append(out, in.changeKey(noKey))
		}
	}
	for _, old := range slices.Sorted(maps.Keys(in.alter.Renames)) {
		oc, ok1 := in.source.Column(old)
		nc, ok2 := in.target.Column(in.alter.Renames[old])
		if ok1 && ok2 {
			out = append(out, in.renameColumn(oc, nc))
		}
	}
	var dropped []schema.Column
	for _, name := range in.alter.Dropped {
		if c, ok := in.source.Column(name); ok {
			dropped = append(dropped, c)
			out = append(out, in.dropColumn(c))
		}
	}
	var added []schema.Column
	for _, name := range in.alter.Added {
		if c, ok := in.target.Column(name); ok {
			added = append(added, c)
		}
	}
	if len(dropped) >= 1 && len(added) >= 2 {
		out = append(out, in.splitColumn(dropped, added))
	}
	if !in.empty {
		for _, name := range in.noDefaultNew {
			if c, ok := in.target.Column(name); ok {
				out = append(out, in.addNotNullColumn(c))
			}
		}
	}
	seen := map[string]bool{}
	for _, m := range in.alter.Modified {
		if m.Old != m.New || seen[m.Old] {
			continue // a rename has its own advice
		}
		seen[m.Old] = true
		oc, ok1 := in.source.Column(m.Old)
		nc, ok2 := in.target.Column(m.New)
		if ok1 && ok2 && typeChangeIsRisky(oc, nc) {
			out = append(out, in.changeColumnType(oc, nc))
		}
	}
	return out
}

// typeChangeIsRisky reports whether running code may mind the column's new
// type. A string that only grows longer (same type, same character set) is
// the one safe change: every old value and every old reader still fits. A
// wider integer is not, since code that reads it into 32 bits breaks on the
// first large value.
func typeChangeIsRisky(before, after schema.Column) bool {
	if strings.EqualFold(before.ColumnType, after.ColumnType) {
		return false
	}
	switch before.DataType {
	case "char", "varchar", "binary", "varbinary":
		return !(before.DataType == after.DataType && before.Charset == after.Charset && after.MaxLength >= before.MaxLength)
	}
	return true
}

func (in adviceInput) renameColumn(before, after schema.Column) Advice {
	o, n := mysql.QuoteIdent(before.Name), mysql.QuoteIdent(after.Name)
	steps := []Step{
		in.addNullable("Add the new column, nullable, beside the old one.", after),
		{Do: fmt.Sprintf("Deploy code that writes both %s and %s and still reads %s.", o, n, o)},
		in.backfill(n+" = "+o, n+" IS NULL"),
		{Do: fmt.Sprintf("Deploy code that reads %s, still writing both.", n)},
	}
	if !after.Nullable {
		steps = append(steps, in.makeNotNull(after))
	}
	steps = append(steps, in.dropOld(before, fmt.Sprintf("Once no running code uses %s, drop it.", o)))
	return Advice{
		Kind:    AdviceRenameColumn,
		Columns: []string{before.Name, after.Name},
		Why:     fmt.Sprintf("Renaming %s to %s breaks every running application server that still reads or writes %s the moment the change lands, because old and new code overlap during a deploy.", o, n, o),
		Steps:   steps,
	}
}

func (in adviceInput) dropColumn(c schema.Column) Advice {
	q := mysql.QuoteIdent(c.Name)
	return Advice{
		Kind:    AdviceDropColumn,
		Columns: []string{c.Name},
		Why:     fmt.Sprintf("Dropping %s deletes its values for good, and any running code that still reads or writes it fails as soon as the change lands.", q),
		Steps: []Step{
			{Do: fmt.Sprintf("Deploy code that neither reads nor writes %s (INSERTs that name it, and code that expects it from SELECT *).", q)},
			{Do: "Wait until no running code uses it (a full deploy cycle), and keep a copy of its values if they may be needed again."},
			in.dropOld(c, "Then drop it."),
		},
	}
}

func (in adviceInput) splitColumn(dropped, added []schema.Column) Advice {
	from := quotedNames(dropped)
	to := quotedNames(added)
	var cols []string
	var sets []string
	for _, c := range dropped {
		cols = append(cols, c.Name)
	}
	for _, c := range added {
		cols = append(cols, c.Name)
		sets = append(sets, fmt.Sprintf("%s = <expression of %s>", mysql.QuoteIdent(c.Name), from))
	}
	var defs []string
	for _, c := range added {
		defs = append(defs, "ADD COLUMN "+mysql.QuoteIdent(c.Name)+" "+nullableDefinition(c))
	}
	steps := []Step{
		{Do: "Add the new columns, nullable.", SQL: "ALTER TABLE " + mysql.QuoteIdent(in.table) + " " + strings.Join(defs, ", ") + ";"},
		{Do: fmt.Sprintf("Deploy code that keeps writing %s and also writes %s, derived from it.", from, to)},
		in.backfill(strings.Join(sets, ", "), ""),
		{Do: fmt.Sprintf("Deploy code that reads %s, still writing both shapes.", to)},
	}
	for _, c := range dropped {
		steps = append(steps, in.dropOld(c, fmt.Sprintf("Once no running code uses %s, drop it.", mysql.QuoteIdent(c.Name))))
	}
	return Advice{
		Kind:    AdviceSplitColumn,
		Columns: cols,
		Why:     fmt.Sprintf("If %s splits into %s, the new columns start empty and running code that still uses %s breaks when it is dropped, so the values must be carried over while both shapes live.", from, to, from),
		Steps:   steps,
	}
}

func (in adviceInput) addNotNullColumn(c schema.Column) Advice {
	q := mysql.QuoteIdent(c.Name)
	return Advice{
		Kind:    AdviceAddNotNullColumn,
		Columns: []string{c.Name},
		Why:     fmt.Sprintf("Adding %s as NOT NULL without a default gives every existing row the type's implicit value (0, '' or a zero date), and in strict mode every INSERT from running code that does not name %s fails.", q, q),
		Steps: []Step{
			in.addNullable("Add the column, nullable.", c),
			{Do: fmt.Sprintf("Deploy code that sets %s on every INSERT and UPDATE.", q)},
			in.backfill(q+" = <value>", q+" IS NULL"),
			in.makeNotNull(c),
		},
	}
}

func (in adviceInput) changeColumnType(before, after schema.Column) Advice {
	o := mysql.QuoteIdent(before.Name)
	tmp := after
	tmp.Name = freeName(before.Name+"_new", in.source, in.target)
	t := mysql.QuoteIdent(tmp.Name)
	steps := []Step{
		in.addNullable(fmt.Sprintf("Add a column of the new type, %s.", after.ColumnType), tmp),
		{Do: fmt.Sprintf("Deploy code that writes both %s and %s.", o, t)},
		in.backfill(t+" = "+schema.InZone(o, before, after, in.zone), t+" IS NULL"),
		{Do: fmt.Sprintf("Deploy code that reads %s, still writing both.", t)},
	}
	if !after.Nullable {
		steps = append(steps, in.makeNotNull(tmp))
	}
	steps = append(steps, in.dropOld(before, fmt.Sprintf("Once no running code uses %s, drop it (the data now lives in %s; giving it the old name back is a rename, with the same care).", o, t)))
	why := fmt.Sprintf("Changing %s from %s to %s changes what running code reads and writes, and code written for %s may fail on, or silently cut, values of the new type.", o, before.ColumnType, after.ColumnType, before.ColumnType)
	if before.DataType == after.DataType && after.MaxLength > 0 && after.MaxLength < before.MaxLength {
		why = fmt.Sprintf("Changing %s from %s to %s narrows what running code may write, and values that do not fit %s must be shortened before the backfill can carry them over.", o, before.ColumnType, after.ColumnType, after.ColumnType)
	}
	return Advice{Kind: AdviceChangeColumnType, Columns: []string{before.Name}, Why: why, Steps: steps}
}

// changeKey is the safe sequence for a change that leaves no key the copy
// can match rows by: keep the original's key beside the new one for the
// copy, and drop it in a second migration; or, when the original's key does
// not survive the change, first give the table the new key as a UNIQUE key.
func (in adviceInput) changeKey(noKey *schema.NoSharedKeyError) Advice {
	table := mysql.QuoteIdent(in.table)
	why := "The change leaves no key that identifies the same rows before and after it, and the copy needs one to match each change made during the copy to its row; tailor refuses it (" + strings.Join(noKey.Reasons, "; ") + ")."
	if len(noKey.Kept) > 0 {
		key := noKey.Kept[0]
		cols := make([]string, len(key))
		for i, k := range key {
			cols[i] = k.New
		}
		name := freeIndexName("old_key", in.source, in.target)
		return Advice{
			Kind: AdviceChangeKey, Columns: cols, Why: why,
			Steps: []Step{
				{Do: fmt.Sprintf("Make the change with %s kept as a UNIQUE key, which the copy walks.", mysql.QuoteIdents(cols)),
					SQL: fmt.Sprintf("ALTER TABLE %s %s, ADD UNIQUE KEY %s (%s);", table, in.alter.Clauses, mysql.QuoteIdent(name), mysql.QuoteIdents(cols))},
				{Do: "Once nothing relies on it, drop that key in a second migration (dropping an index is an in-place change).",
					SQL: fmt.Sprintf("ALTER TABLE %s DROP INDEX %s;", table, mysql.QuoteIdent(name))},
			},
		}
	}
	if pk, ok := in.target.PrimaryKey(); ok {
		if old, ok := in.oldNames(pk.Columns); ok {
			name := freeIndexName("new_key", in.source, in.target)
			return Advice{
				Kind: AdviceChangeKey, Columns: pk.Columns, Why: why,
				Steps: []Step{
					{Do: "First give the table its new key as a UNIQUE key (this fails, changing nothing, if rows share a value), so that the change keeps a key the copy can walk.",
						SQL: fmt.Sprintf("ALTER TABLE %s ADD UNIQUE KEY %s (%s);", table, mysql.QuoteIdent(name), mysql.QuoteIdents(old))},
					{Do: "Then make the change; the copy walks that key.",
						SQL: fmt.Sprintf("ALTER TABLE %s %s;", table, in.alter.Clauses)},
					{Do: "Drop the UNIQUE key, which the primary key now makes redundant, in a last migration.",
						SQL: fmt.Sprintf("ALTER TABLE %s DROP INDEX %s;", table, mysql.QuoteIdent(name))},
				},
			}
		}
	}
	return Advice{
		Kind: AdviceChangeKey, Why: why,
		Steps: []Step{
			{Do: "First add a NOT NULL UNIQUE key that the change leaves as it is (a new AUTO_INCREMENT column, say), then make the change, then drop that key in a later migration."},
		},
	}
}

// oldNames maps columns of the new table to the original's names, when
// each is a copied column that keeps its type.
func (in adviceInput) oldNames(cols []string) ([]string, bool) {
	var out []string
	for _, c := range cols {
		found := false
		for _, p := range in.pairs {
			if !strings.EqualFold(p[1], c) {
				continue
			}
			oc, ok1 := in.source.Column(p[0])
			nc, ok2 := in.target.Column(p[1])
			if ok1 && ok2 && schema.SameKeyOrder(oc, nc) {
				out, found = append(out, oc.Name), true
			}
			break
		}
		if !found {
			return nil, false
		}
	}
	return out, true
}

// freeIndexName is name, or name with a number, that no index of the
// tables uses.
func freeIndexName(name string, tables ...*schema.Table) string {
	taken := func(n string) bool {
		for _, t := range tables {
			for _, idx := range t.Indexes {
				if strings.EqualFold(idx.Name, n) {
					return true
				}
			}
		}
		return false
	}
	candidate := name
	for i := 2; taken(candidate); i++ {
		candidate = fmt.Sprintf("%s%d", name, i)
	}
	return candidate
}

func (in adviceInput) addNullable(do string, c schema.Column) Step {
	return Step{Do: do, SQL: fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s;", mysql.QuoteIdent(in.table), mysql.QuoteIdent(c.Name), nullableDefinition(c))}
}

func (in adviceInput) makeNotNull(c schema.Column) Step {
	return Step{
		Do:  fmt.Sprintf("Once no row has %s NULL, make it NOT NULL.", mysql.QuoteIdent(c.Name)),
		SQL: fmt.Sprintf("ALTER TABLE %s MODIFY COLUMN %s %s NOT NULL;", mysql.QuoteIdent(in.table), mysql.QuoteIdent(c.Name), typeDefinition(c)),
	}
}

func (in adviceInput) dropOld(c schema.Column, do string) Step {
	return Step{Do: do, SQL: fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s;", mysql.QuoteIdent(in.table), mysql.QuoteIdent(c.Name))}
}

// backfill is the tailor backfill command that carries values over in
// short batches walking the key, throttled and resumable (package
// backfill). where, if not empty, selects the rows still to do, so that
// the rows the application already writes the new way are left alone and
// the backfill's closing count shows whether it does.
func (in adviceInput) backfill(set, where string) Step {
	if len(in.key) == 0 {
		return Step{Do: "Backfill in batches; the table has no primary key or NOT NULL unique key to walk batches by, so add one first."}
	}
	cmd := fmt.Sprintf("tailor backfill --host ... --database %s --table %s --set %s", shellQuote(in.database), shellQuote(in.table), shellQuote(set))
	if where != "" {
		cmd += " --where " + shellQuote(where)
	}
	return Step{
		Do: fmt.Sprintf("Backfill with tailor backfill: it walks %s in short batches, throttled on replica lag and load, and resumes where it stopped; read its dry run, then add --execute.",
			mysql.QuoteIdents(in.key)),
		Command: cmd,
	}
}

// shellQuote quotes s for a POSIX shell: between single quotes, which keep
// backquotes and $ as they are.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.,/:=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// keyRange is the condition for one batch, (lower, upper] of the key: the
// plain form for one column, sqlbuild's expansion for more.
func keyRange(key []string) string {
	if len(key) == 1 {
		k := mysql.QuoteIdent(key[0])
		return k + " > ? AND " + k + " <= ?"
	}
	bound := make([]any, len(key))
	cond, _ := sqlbuild.Range(sqlbuild.PlainKey(key), bound, bound)
	return cond
}

// typeDefinition is the column's type as a definition: the type, and for a
// string its character set and collation, so the new column compares as
// the one it replaces.
func typeDefinition(c schema.Column) string {
	def := c.ColumnType
	if c.Charset != "" && c.Collation != "" {
		def += " CHARACTER SET " + c.Charset + " COLLATE " + c.Collation
	}
	return def
}

func nullableDefinition(c schema.Column) string { return typeDefinition(c) + " NULL" }

// freeName is name, or name with a number added, whichever neither table
// has as a column.
func freeName(name string, tables ...*schema.Table) string {
	taken := func(n string) bool {
		for _, t := range tables {
			if _, ok := t.Column(n); ok {
				return true
			}
		}
		return false
	}
	candidate := name
	for i := 2; taken(candidate); i++ {
		candidate = fmt.Sprintf("%s%d", name, i)
	}
	return candidate
}

func quotedNames(cols []schema.Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return mysql.QuoteIdents(names)
}
