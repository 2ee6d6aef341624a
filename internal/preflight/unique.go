package preflight

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// keyPart is one column of a unique key of the new table, with where its
// values come from.
type keyPart struct {
	src, tgt schema.Column
	// subPart is the prefix length the new key keeps, 0 for the whole value.
	subPart int
}

// newKey is a unique key of the new table that the table's rows have not
// been held to yet.
type newKey struct {
	index schema.Index
	parts []keyPart
	// Findings.
	groups, rows int64 // duplicated values, and the rows that hold them
	nulls        int64 // rows with a NULL in the key, for a primary key
	examples     []string
}

// uniqueCheck finds the rows that a unique key or primary key of the new
// table would reject, judged as the new key judges values: in the new
// column's collation and character set, on the prefix it keeps, with NULLs
// never colliding (but refused by a primary key).
func uniqueCheck(ctx context.Context, in Input) (Check, error) {
	c := Check{Name: CheckUniqueDuplicates}
	var keys []*newKey
	var unjudged []string
	for _, idx := range in.Target.Indexes {
		if !idx.Unique {
			continue
		}
		k, missing, err := keyFromTarget(in, idx)
		if err != nil {
			return c, err
		}
		switch {
		case sourceHolds(in.Source, k):
			// Already unique among the carried-over columns alone.
		case missing != "":
			unjudged = append(unjudged, fmt.Sprintf("%s covers column %s, which the change adds or computes", describeKey(idx), missing))
		default:
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 && len(unjudged) == 0 {
		c.Status, c.Message = Pass, "no new unique key"
		return c, nil
	}
	for _, k := range keys {
		err := findDuplicates(ctx, in, k)
		if lacksPrivilege(err) {
			c.Status = Warn
			c.Message = "not checked: the user may not read " + in.Table + "; grant SELECT on it to look for rows a new unique key would reject"
			return c, nil
		}
		if err != nil {
			return c, err
		}
	}
	var failing, clean []string
	var firstExample string
	var dups, nulls bool
	for _, k := range keys {
		if k.groups == 0 && k.nulls == 0 {
			clean = append(clean, describeKey(k.index))
			continue
		}
		dups, nulls = dups || k.groups > 0, nulls || k.nulls > 0
		failing = append(failing, describeFinding(k))
		c.Details = append(c.Details, describeKey(k.index)+": "+findingCounts(k))
		c.Details = append(c.Details, k.examples...)
		if firstExample == "" && len(k.examples) > 0 {
			firstExample = k.examples[0]
		}
	}
	for _, u := range unjudged {
		c.Details = append(c.Details, u+": not checked")
	}
	switch {
	case len(failing) > 0:
		c.Status = Fail
		c.Message = "adding " + andList(failing) + "; " + uniqueRemedy(dups, nulls)
		if firstExample != "" {
			c.Message += ", e.g. " + firstExample
		}
		c.Message += ", since a copy that skipped them would lose rows"
	case len(unjudged) > 0:
		c.Status = Warn
		c.Message = andList(unjudged) + ", so tailor could not look for duplicates; the copy stops at the first one it meets"
	default:
		c.Status = Pass
		c.Message = andList(clean) + ": no duplicates among the table's rows"
	}
	return c, nil
}

// keyFromTarget maps a unique key of the new table back to the source's
// columns. missing names a key column no source column carries over into
// (an added or generated column), whose values tailor cannot predict; the
// key's parts then hold only the other columns.
func keyFromTarget(in Input, idx schema.Index) (k *newKey, missing string, err error) {
	k = &newKey{index: idx}
	for i, name := range idx.Columns {
		tgt, ok := in.Target.Column(name)
		if !ok {
			return nil, "", fmt.Errorf("check unique key %s of %s: column %s is not in the new definition", idx.Name, in.Table, name)
		}
		srcName, carried := sourceName(in.Columns, name)
		if !carried || tgt.Generated {
			if missing == "" {
				missing = name
			}
			continue
		}
		src, ok := in.Source.Column(srcName)
		if !ok {
			return nil, "", fmt.Errorf("check unique key %s of %s: column %s is not in the table", idx.Name, in.Table, srcName)
		}
		part := keyPart{src: src, tgt: tgt}
		if i < len(idx.SubParts) {
			part.subPart = idx.SubParts[i]
		}
		k.parts = append(k.parts, part)
	}
	return k, missing, nil
}

// sourceHolds reports whether the table already has a unique key that makes
// k's values unique: one whose columns are all among k's, each with the same
// type, character set and collation, indexed on no shorter a prefix. A new
// primary key is held only when its columns are also NOT NULL already.
func sourceHolds(source *schema.Table, k *newKey) bool {
	if k.index.IsPrimary() {
		for _, p := range k.parts {
			if p.src.Nullable {
				return false
			}
		}
	}
	for _, idx := range source.Indexes {
		if idx.Unique && keyWithin(idx, k.parts) {
			return true
		}
	}
	return false
}

// keyWithin reports whether every column of idx is one of parts, compared
// the same way and on no shorter a prefix.
func keyWithin(idx schema.Index, parts []keyPart) bool {
	for i, col := range idx.Columns {
		sub := 0
		if i < len(idx.SubParts) {
			sub = idx.SubParts[i]
		}
		found := false
		for _, p := range parts {
			if !strings.EqualFold(p.src.Name, col) {
				continue
			}
			same := sameType(p.src, p.tgt) && strings.EqualFold(p.src.Collation, p.tgt.Collation)
			// A unique prefix makes the whole value, and any longer prefix,
			// unique too.
			longEnough := p.subPart == 0 || (sub > 0 && p.subPart >= sub)
			found = same && longEnough
			break
		}
		if !found {
			return false
		}
	}
	return len(idx.Columns) > 0
}

// findDuplicates counts the groups of rows that k's values would make
// collide, keeps examples, and for a primary key counts the rows with a
// NULL in it. Plain SELECTs: consistent reads that take no locks.
func findDuplicates(ctx context.Context, in Input, k *newKey) error {
	exprs := make([]string, len(k.parts))
	notNull := make([]string, len(k.parts))
	anyNull := make([]string, len(k.parts))
	for i, p := range k.parts {
		col := mysql.QuoteIdent(p.src.Name)
		exprs[i] = keyPartExpr(p.src, p.tgt, col, p.subPart)
		notNull[i] = exprs[i] + " IS NOT NULL"
		anyNull[i] = col + " IS NULL"
	}
	list := strings.Join(exprs, ", ")
	// NULLs never collide in a unique key; a row with one in any part is
	// left out (and counted apart below for a primary key).
	q := "SELECT " + list + ", COUNT(*) FROM " + sourceTable(in) +
		" WHERE " + strings.Join(notNull, " AND ") + " GROUP BY " + list + " HAVING COUNT(*) > 1"
	rows, err := in.DB.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("look for duplicates of %s in %s: %w", describeKey(k.index), in.Table, err)
	}
	defer rows.Close()
	vals := make([]sql.NullString, len(k.parts))
	dest := make([]any, len(k.parts)+1)
	for i := range vals {
		dest[i] = &vals[i]
	}
	var n int64
	dest[len(vals)] = &n
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("look for duplicates of %s in %s: %w", describeKey(k.index), in.Table, err)
		}
		k.groups++
		k.rows += n
		if len(k.examples) < maxExamples {
			k.examples = append(k.examples, duplicateExample(k, vals, n))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("look for duplicates of %s in %s: %w", describeKey(k.index), in.Table, err)
	}
	if !k.index.IsPrimary() {
		return nil
	}
	q = "SELECT COUNT(*) FROM " + sourceTable(in) + " WHERE " + strings.Join(anyNull, " OR ")
	if err := in.DB.QueryRowContext(ctx, q).Scan(&k.nulls); err != nil {
		return fmt.Errorf("look for NULLs in the new primary key of %s: %w", in.Table, err)
	}
	return nil
}

// duplicateExample writes "(email)=('a@x.com') in 3 rows".
func duplicateExample(k *newKey, vals []sql.NullString, n int64) string {
	names := make([]string, len(k.parts))
	values := make([]string, len(k.parts))
	for i, p := range k.parts {
		names[i] = p.tgt.Name
		if p.subPart > 0 {
			names[i] += "(" + strconv.Itoa(p.subPart) + ")"
		}
		values[i] = formatValue(vals[i], familyOf(p.tgt))
		if familyOf(p.tgt).Numeric() && !familyOf(p.src).Numeric() && strings.Contains(values[i], ".") {
			// The value went through DECIMAL(65,30): drop its padding zeros.
			values[i] = strings.TrimSuffix(strings.TrimRight(values[i], "0"), ".")
		}
	}
	return "(" + strings.Join(names, ", ") + ")=(" + strings.Join(values, ", ") + ") in " + countNoun(n, "row", "rows")
}

// describeFinding writes "unique key uk_email would meet 2 duplicated values
// (5 rows)", adding the NULLs a primary key would meet.
func describeFinding(k *newKey) string {
	return describeKey(k.index) + " would meet " + findingCounts(k)
}

func findingCounts(k *newKey) string {
	var parts []string
	if k.groups > 0 {
		parts = append(parts, countNoun(k.groups, "duplicated value", "duplicated values")+" ("+countNoun(k.rows, "row", "rows")+")")
	}
	if k.nulls > 0 {
		parts = append(parts, countNoun(k.nulls, "row", "rows")+" with a NULL, which a primary key rejects")
	}
	return andList(parts)
}

// describeKey names a key for a message: "unique key uk_email", "primary
// key (a, b)".
func describeKey(idx schema.Index) string {
	if idx.IsPrimary() {
		return "primary key (" + strings.Join(idx.Columns, ", ") + ")"
	}
	return "unique key " + idx.Name
}

// uniqueRemedy says what to do about the rows a new key would reject.
func uniqueRemedy(dups, nulls bool) string {
	switch {
	case dups && nulls:
		return "remove the duplicates and give the NULLs a value first"
	case nulls:
		return "give those rows a value first"
	}
	return "remove the duplicates first"
}
