package preflight

import (
	"strings"

	"github.com/tailor-osc/tailor/internal/schema"
)

// narrowingResult turns the findings on the changed columns into the
// narrowing check's verdict. rowsRead is the number of rows scanned (0 when
// every change is a widening).
func narrowingResult(cols []*changedColumn, rowsRead int64) Check {
	c := Check{Name: CheckNarrowing}
	var failing []*changedColumn
	for _, col := range cols {
		if col.changed+col.nulls > 0 {
			failing = append(failing, col)
		}
	}
	for _, col := range failing {
		c.Details = append(c.Details, col.src.Name+": "+describeChange(col)+": "+failureCounts(col))
		c.Details = append(c.Details, col.examples...)
	}
	var widened, scanned, unchecked []string
	for _, col := range cols {
		if col.changed+col.nulls > 0 {
			continue
		}
		switch {
		case col.unchecked:
			unchecked = append(unchecked, col.src.Name)
			c.Details = append(c.Details, col.src.Name+": "+describeChange(col)+": not checked, for lack of a privilege")
		case col.scanned():
			scanned = append(scanned, col.src.Name)
			c.Details = append(c.Details, col.src.Name+": "+describeChange(col)+": scanned, every value fits")
		default:
			widened = append(widened, col.src.Name)
			c.Details = append(c.Details, col.src.Name+": "+describeChange(col)+": widening, every value fits")
		}
	}
	switch {
	case len(failing) == 1:
		c.Status = Fail
		c.Message = "column " + failing[0].src.Name + ": " + failureCounts(failing[0]) + "; " + remedy(failing[0])
	case len(failing) > 1:
		c.Status = Fail
		names := make([]string, len(failing))
		for i, col := range failing {
			names[i] = col.src.Name + " (" + countNoun(col.changed+col.nulls, "row", "rows") + ")"
		}
		c.Message = "columns " + andList(names) + " hold values their new definitions cannot hold; fix those rows first, or widen the new types"
	case len(unchecked) > 0:
		// The scan reads the table, and converts values in a TEMPORARY table.
		c.Status = Warn
		c.Message = "not checked: the user may not read " + andList(unchecked) + " through a TEMPORARY table as the check needs; grant SELECT on the table and CREATE TEMPORARY TABLES on its database to check " + pronoun(len(unchecked))
	case len(scanned) == 0:
		c.Status = Pass
		c.Message = "widening: every value of " + andList(widened) + " fits"
	default:
		c.Status = Pass
		c.Message = "scanned " + countNoun(rowsRead, "row", "rows") + ": every value of " + andList(scanned) + " fits"
		if len(widened) > 0 {
			c.Message += ", and " + andList(widened) + " widen" + verbS(len(widened))
		}
	}
	return c
}

// failureCounts writes "3 rows hold values that VARCHAR(10) cannot hold",
// "2 rows hold NULL, which NOT NULL rejects", or both in one.
func failureCounts(col *changedColumn) string {
	switch {
	case col.nulls == 0:
		return countNoun(col.changed, "row holds a value", "rows hold values") + " that " + displayTarget(col.src, col.tgt) + " cannot hold"
	case col.changed == 0:
		return countNoun(col.nulls, "row holds", "rows hold") + " NULL, which NOT NULL rejects"
	}
	return countNoun(col.changed+col.nulls, "row holds a value", "rows hold values") + " that " + displayTarget(col.src, col.tgt) +
		" NOT NULL cannot hold (" + countNoun(col.nulls, "of them is", "of them are") + " NULL)"
}

// remedy says what to do about one failing column.
func remedy(col *changedColumn) string {
	them := pronoun(int(min(col.changed+col.nulls, 2)))
	if col.changed == 0 {
		return "give " + them + " a value first, or keep the column nullable"
	}
	switch familyOf(col.tgt) {
	case schema.FamText, schema.FamBinary:
		return "shorten or fix " + them + " first, or widen the new type"
	}
	return "fix " + them + " first, or widen the new type"
}

// describeChange writes "VARCHAR(10) → VARCHAR(5) NOT NULL".
func describeChange(col *changedColumn) string {
	from := displayType(col.src)
	if col.src.Charset != "" && col.tgt.Charset != "" && !strings.EqualFold(charsetName(col.src.Charset), charsetName(col.tgt.Charset)) {
		from += " CHARACTER SET " + col.src.Charset
	}
	to := displayTarget(col.src, col.tgt)
	if col.notNull {
		to += " NOT NULL"
	}
	return from + " → " + to
}

func verbS(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}

func pronoun(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}
