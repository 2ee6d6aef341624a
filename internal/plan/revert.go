package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/preflight"
	"github.com/tailor-osc/tailor/internal/schema"
)

// This file says, before the cut-over, whether a revert of the change would
// be lossless. After an online copy the old table is kept, and a revert
// replays the binary log since the swap into it, mapping the new table's
// columns back to the old ones (shared columns as they are, renamed ones
// back to their old names; a column only the new table has is left out of
// the image; a column only the old table has keeps its value on rows that
// existed at the swap (followed across key changes), and gets its default on
// rows inserted since), then swaps back. It is strict: a row written since
// the swap that the old definition cannot hold stops it, naming the row's
// key, rather than being cut to fit. What can be lost or refused follows
// from the two definitions alone, as Vitess records it for REVERT
// (removed_unique_keys, expanded_column_names,
// dropped_no_default_column_names).

// RevertKind names one finding about a revert of the change.
type RevertKind string

// The kinds of revert findings.
const (
	// RevertNativeInstant: the server makes the change in place, so there
	// is no old table to replay the changes into.
	RevertNativeInstant RevertKind = "native-instant"
	// RevertNoSharedKey: no key identifies rows alike in both tables, so
	// tailor refuses the change and there is nothing to revert.
	RevertNoSharedKey RevertKind = "no-shared-key"
	// RevertExpandedColumn: the new column holds values the old one cannot
	// (a wider type, a longer string, a larger character set, NULL where
	// the old one is NOT NULL).
	RevertExpandedColumn RevertKind = "expanded-column"
	// RevertRemovedUniqueKey: a UNIQUE or PRIMARY key of the old table is
	// dropped or relaxed, so rows written since the swap may repeat a value
	// it forbids.
	RevertRemovedUniqueKey RevertKind = "removed-unique-key"
	// RevertAddedColumn: a column only the new table has, whose values
	// written since the swap a revert leaves behind.
	RevertAddedColumn RevertKind = "added-column"
	// RevertAddedNoDefaultColumn: an added column that is NOT NULL without
	// a default, so every row written since the swap carries a value for
	// it that the application gave, all of which a revert leaves behind.
	RevertAddedNoDefaultColumn RevertKind = "added-no-default-column"
	// RevertDroppedColumn: a column only the old table has; rows inserted
	// since the swap get its default (also one deleted and inserted again).
	RevertDroppedColumn RevertKind = "dropped-column"
	// RevertDroppedNoDefaultColumn: a dropped column that is NOT NULL
	// without a default, so a row inserted since the swap has no value the
	// old table accepts.
	RevertDroppedNoDefaultColumn RevertKind = "dropped-no-default-column"
	// RevertRenamedColumn: a renamed column, which a revert maps back.
	RevertRenamedColumn RevertKind = "renamed-column"
)

// RevertEffect is what a finding does to a revert.
type RevertEffect string

// The effects of revert findings.
const (
	// EffectRefused: the revert would stop, naming the row, on a row
	// written since the swap that the old table cannot hold, or would not
	// run at all.
	EffectRefused RevertEffect = "refused"
	// EffectLost: values would be lost.
	EffectLost RevertEffect = "lost"
	// EffectNone: the revert handles it and loses nothing.
	EffectNone RevertEffect = "none"
)

// Revert says whether a revert of the change after its cut-over would be
// lossless, and if not what would be lost or refused.
type Revert struct {
	// Replayable is true when tailor revert could undo the change by
	// replaying the changes made since the swap into the kept old table:
	// an online copy that tailor would make.
	Replayable bool `json:"replayable"`
	// Lossless is true when the revert would be replayable and would lose
	// and refuse nothing: every finding has the effect "none".
	Lossless bool `json:"lossless"`
	// Findings are in a fixed order: why there is no replay, or expanded
	// columns, removed unique keys, added columns, dropped columns,
	// renamed columns.
	Findings []RevertFinding `json:"findings"`
	// InverseAlter is, for a native-instant change, the ALTER TABLE
	// statement that gives the table its definition back; empty when there
	// is none (the finding says why) or the change is copied.
	InverseAlter string `json:"inverse_alter,omitempty"`
}

// RevertFinding is one thing a revert would lose, refuse, or handle.
type RevertFinding struct {
	Kind   RevertKind   `json:"kind"`
	Effect RevertEffect `json:"effect"`
	// Columns are the columns concerned as the tables spell them, old
	// names first; for a key, its columns in the old table.
	Columns []string `json:"columns"`
	// Key is the old table's key, for removed-unique-key; empty otherwise.
	Key string `json:"key"`
	// Why says it in one sentence.
	Why string `json:"why"`
}

// revertInput is what reviewRevert looks at; all of it is known without a
// server.
type revertInput struct {
	table    string
	strategy StrategyKind
	alter    *ddl.Alter
	// source and target are the table before and after the change.
	source, target *schema.Table
	// pairs are the copied columns, old and new names.
	pairs [][2]string
	// noDefaultNew are the added columns that are NOT NULL without a
	// default, as target spells them; noDefaultOld are the source's columns
	// that are NOT NULL without a default (and neither generated nor
	// AUTO_INCREMENT), which an INSERT must name in strict mode.
	noDefaultNew, noDefaultOld []string
	// sourceDefinition and targetDefinition are SHOW CREATE TABLE of the
	// table before and after the change; the source's is read only for a
	// native change, whose inverse ALTER is made from both.
	sourceDefinition, targetDefinition string
}

// reviewRevert says whether a revert of the change would be lossless.
func reviewRevert(in revertInput) Revert {
	if in.strategy == StrategyNativeInstant {
		return in.nativeRevert()
	}
	if in.target == nil {
		return notReplayable(RevertFinding{Kind: RevertNoSharedKey, Effect: EffectRefused, Columns: []string{},
			Why: "The new definition is unknown, so nothing can be said about a revert."})
	}
	if _, err := schema.NewMapping(in.source, in.target, in.pairs); err != nil {
		return notReplayable(RevertFinding{Kind: RevertNoSharedKey, Effect: EffectRefused, Columns: []string{},
			Why: "Not applicable: no key identifies the same rows in the old and the new table, so tailor refuses the change (the copy-key check says more) and there would be no swap to revert."})
	}
	r := Revert{Replayable: true, Lossless: true, Findings: []RevertFinding{}}
	for _, part := range [][]RevertFinding{in.expandedColumns(), in.removedUniqueKeys(), in.addedColumns(), in.droppedColumns(), in.renamedColumns()} {
		r.Findings = append(r.Findings, part...)
	}
	for _, f := range r.Findings {
		if f.Effect != EffectNone {
			r.Lossless = false
		}
	}
	return r
}

func notReplayable(f RevertFinding) Revert {
	return Revert{Findings: []RevertFinding{f}}
}

// nativeRevert is the answer for a change the server makes in place: no
// rows are copied and no old table is kept, so only another ALTER can undo
// it.
func (in revertInput) nativeRevert() Revert {
	why := "Not revertible by replay: the server makes this change in place (INSTANT), copying nothing and keeping no old table to replay the changes into"
	inverse, none := inverseAlter(in.table, in.alter, in.source, in.target, in.sourceDefinition, in.targetDefinition)
	switch {
	case inverse == "":
		why += "; no ALTER undoes it: " + none + "."
	case in.target != nil:
		why += "; the inverse ALTER gives the table its definition back as a change of its own" + in.inverseCaveats() + "."
	}
	r := notReplayable(RevertFinding{Kind: RevertNativeInstant, Effect: EffectRefused, Columns: []string{}, Why: why})
	r.InverseAlter = inverse
	return r
}

// inverseCaveats says, as a clause, what the inverse ALTER of a native
// change loses (the added columns it drops) and what would make the server
// refuse it (values the old columns cannot hold, duplicates of a unique key
// it adds back); empty when neither applies.
func (in revertInput) inverseCaveats() string {
	var lost, fit []string
	for _, f := range in.addedColumns() {
		lost = append(lost, f.Columns...)
	}
	for _, f := range in.expandedColumns() {
		fit = append(fit, mysql.QuoteIdent(f.Columns[len(f.Columns)-1]))
	}
	for _, f := range in.removedUniqueKeys() {
		fit = append(fit, "key "+mysql.QuoteIdent(f.Key))
	}
	out := ""
	if len(lost) > 0 {
		out += ", losing the values of " + mysql.QuoteIdents(lost)
	}
	if len(fit) > 0 {
		out += ", which the server refuses if a row no longer fits the old definition (" + strings.Join(fit, ", ") + ")"
	}
	return out
}

// copiedColumns are the copied pairs whose columns both tables have and
// neither computes: the ones a revert writes back.
func (in revertInput) copiedColumns() [][2]schema.Column {
	var out [][2]schema.Column
	for _, p := range in.pairs {
		oc, ok1 := in.source.Column(p[0])
		nc, ok2 := in.target.Column(p[1])
		if ok1 && ok2 && !oc.Generated && !nc.Generated {
			out = append(out, [2]schema.Column{oc, nc})
		}
	}
	return out
}

// expandedColumns are the copied columns that may hold, since the swap, a
// value the old column cannot: the narrowing check's judgement of a
// widening, asked from new to old.
func (in revertInput) expandedColumns() []RevertFinding {
	var out []RevertFinding
	for _, p := range in.copiedColumns() {
		oc, nc := p[0], p[1]
		var what []string
		if !preflight.ValuesFit(nc, oc) {
			what = append(what, fmt.Sprintf("is %s in the new table but %s in the old one", describeColumnType(nc, oc), describeColumnType(oc, nc)))
		}
		if nc.Nullable && !oc.Nullable {
			what = append(what, "allows NULL where the old one is NOT NULL")
		}
		if len(what) == 0 {
			continue
		}
		out = append(out, RevertFinding{
			Kind: RevertExpandedColumn, Effect: EffectRefused, Columns: pairNames(oc, nc),
			Why: fmt.Sprintf("%s %s: a row written since the swap with a value the old column cannot hold stops the revert, which names the row's key.",
				mysql.QuoteIdent(nc.Name), strings.Join(what, " and ")),
		})
	}
	return out
}

// describeColumnType is c's type, with its character set when other's
// differs.
func describeColumnType(c, other schema.Column) string {
	if c.Charset != "" && !strings.EqualFold(c.Charset, other.Charset) {
		return c.ColumnType + " CHARACTER SET " + c.Charset
	}
	return c.ColumnType
}

// removedUniqueKeys are the old table's UNIQUE and PRIMARY keys that no
// key of the new table enforces.
func (in revertInput) removedUniqueKeys() []RevertFinding {
	var out []RevertFinding
	for _, idx := range in.source.Indexes {
		if !idx.Unique || in.uniqueKept(idx) {
			continue
		}
		out = append(out, RevertFinding{
			Kind: RevertRemovedUniqueKey, Effect: EffectRefused, Columns: slices.Clone(idx.Columns), Key: idx.Name,
			Why: fmt.Sprintf("No unique key of the new table forbids what %s forbids (%s): rows written since the swap may repeat a value it allows once, and the revert stops on such a row, naming its key.",
				describeKey(idx), in.keyLoss(idx)),
		})
	}
	return out
}

// uniqueKept reports whether a unique key of the new table forbids every
// duplicate idx forbids: one whose columns are all among idx's columns,
// carried over with the same equality of values (SameKeyOrder), each
// indexed on no longer a prefix than idx indexes it. Unique on fewer
// columns is unique on more, and unique on a shorter prefix is unique on a
// longer one.
func (in revertInput) uniqueKept(idx schema.Index) bool {
	type carried struct {
		newName string
		prefix  int
	}
	var cols []carried
	for i, name := range idx.Columns {
		p := slices.IndexFunc(in.pairs, func(p [2]string) bool { return strings.EqualFold(p[0], name) })
		if p < 0 {
			continue
		}
		oc, ok1 := in.source.Column(in.pairs[p][0])
		nc, ok2 := in.target.Column(in.pairs[p][1])
		if ok1 && ok2 && schema.SameKeyOrder(oc, nc) {
			cols = append(cols, carried{newName: nc.Name, prefix: subPartAt(idx, i)})
		}
	}
	for _, t := range in.target.Indexes {
		if !t.Unique || len(t.Columns) == 0 {
			continue
		}
		within := true
		for j, name := range t.Columns {
			k := slices.IndexFunc(cols, func(c carried) bool { return strings.EqualFold(c.newName, name) })
			within = within && k >= 0 && prefixLength(subPartAt(t, j)) <= prefixLength(cols[k].prefix)
		}
		if within {
			return true
		}
	}
	return false
}

// keyLoss says how the ALTER lost idx, as a clause.
func (in revertInput) keyLoss(idx schema.Index) string {
	if (idx.IsPrimary() && in.alter.DropsPrimaryKey) || slices.Contains(in.alter.DroppedIndexes, strings.ToLower(idx.Name)) {
		return "the ALTER drops it"
	}
	var gone []string
	for _, name := range idx.Columns {
		if !slices.ContainsFunc(in.pairs, func(p [2]string) bool { return strings.EqualFold(p[0], name) }) {
			gone = append(gone, name)
		}
	}
	if len(gone) > 0 {
		return "the ALTER drops " + mysql.QuoteIdents(gone) + ", so rows inserted since the swap all get the default there"
	}
	return "the ALTER changes it or its columns so that it allows values it did not"
}

func subPartAt(idx schema.Index, i int) int {
	if i < len(idx.SubParts) {
		return idx.SubParts[i]
	}
	return 0
}

// prefixLength orders index prefixes: 0 means the whole value, the longest.
func prefixLength(subPart int) int {
	if subPart == 0 {
		return int(^uint(0) >> 1)
	}
	return subPart
}

func describeKey(idx schema.Index) string {
	if idx.IsPrimary() {
		return "the primary key (" + mysql.QuoteIdents(idx.Columns) + ")"
	}
	return "unique key " + mysql.QuoteIdent(idx.Name) + " (" + mysql.QuoteIdents(idx.Columns) + ")"
}

// addedColumns are the columns only the new table has (computed ones
// aside, which the old table does not need).
func (in revertInput) addedColumns() []RevertFinding {
	var out []RevertFinding
	for _, c := range in.target.Columns {
		if c.Generated || slices.ContainsFunc(in.pairs, func(p [2]string) bool { return strings.EqualFold(p[1], c.Name) }) {
			continue
		}
		q := mysql.QuoteIdent(c.Name)
		if slices.ContainsFunc(in.noDefaultNew, func(n string) bool { return strings.EqualFold(n, c.Name) }) {
			out = append(out, RevertFinding{Kind: RevertAddedNoDefaultColumn, Effect: EffectLost, Columns: []string{c.Name},
				Why: fmt.Sprintf("%s is new and NOT NULL without a default, so every row written since the swap carries a value the application gave it, and a revert loses them all: the old table has no such column.", q)})
			continue
		}
		out = append(out, RevertFinding{Kind: RevertAddedColumn, Effect: EffectLost, Columns: []string{c.Name},
			Why: fmt.Sprintf("%s is new: the values written to it since the swap are lost on revert, since the old table has no such column.", q)})
	}
	return out
}

// droppedColumns are the columns only the old table has (computed ones
// aside, which the old table computes again).
func (in revertInput) droppedColumns() []RevertFinding {
	var out []RevertFinding
	for _, c := range in.source.Columns {
		if c.Generated || slices.ContainsFunc(in.pairs, func(p [2]string) bool { return strings.EqualFold(p[0], c.Name) }) {
			continue
		}
		q := mysql.QuoteIdent(c.Name)
		if slices.ContainsFunc(in.noDefaultOld, func(n string) bool { return strings.EqualFold(n, c.Name) }) {
			out = append(out, RevertFinding{Kind: RevertDroppedNoDefaultColumn, Effect: EffectRefused, Columns: []string{c.Name},
				Why: fmt.Sprintf("%s is dropped and NOT NULL without a default, so a row inserted since the swap has no value the old table accepts there and stops the revert, which names its key.", q)})
			continue
		}
		out = append(out, RevertFinding{Kind: RevertDroppedColumn, Effect: EffectLost, Columns: []string{c.Name},
			Why: fmt.Sprintf("%s is dropped: on revert, rows inserted since the swap (also rows deleted and inserted again) get its default; the others keep their value.", q)})
	}
	return out
}

// renamedColumns are the renamed columns, which a revert maps back.
func (in revertInput) renamedColumns() []RevertFinding {
	var out []RevertFinding
	for _, p := range in.copiedColumns() {
		oc, nc := p[0], p[1]
		if strings.EqualFold(oc.Name, nc.Name) {
			continue
		}
		out = append(out, RevertFinding{Kind: RevertRenamedColumn, Effect: EffectNone, Columns: []string{oc.Name, nc.Name},
			Why: fmt.Sprintf("%s is renamed %s: a revert maps it back, losing nothing.", mysql.QuoteIdent(oc.Name), mysql.QuoteIdent(nc.Name))})
	}
	return out
}

// pairNames are a column's names, old then new, once when they are alike.
func pairNames(oc, nc schema.Column) []string {
	if strings.EqualFold(oc.Name, nc.Name) {
		return []string{oc.Name}
	}
	return []string{oc.Name, nc.Name}
}
