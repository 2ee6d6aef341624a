package throttle

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// Limit is one threshold on a global status variable of the primary.
type Limit struct {
	// Name is the status variable, as SHOW GLOBAL STATUS spells it
	// ("Threads_running"); the server compares names without regard to case.
	Name string
	// Threshold is the value at or above which the limit is crossed.
	Threshold int64
}

// Load is a set of thresholds on global status variables, in the order the
// operator gave them (so that reasons and logs read the same way each time).
// The zero Load has no threshold and is never crossed.
type Load []Limit

// String renders the Load the way ParseLoad reads it.
func (l Load) String() string {
	parts := make([]string, len(l))
	for i, lim := range l {
		parts[i] = lim.Name + "=" + strconv.FormatInt(lim.Threshold, 10)
	}
	return strings.Join(parts, ",")
}

// statusName is what a status variable name may be made of; anything else
// is a typo, and refusing it also keeps the names safe to put in a query.
var statusName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// ParseLoad reads a list of thresholds such as
// "Threads_running=25,Threads_connected=500", as --max-load and
// --critical-load take them. An empty string is an empty Load. The errors
// name the faulty entry but not the flag: callers prefix it
// (fmt.Errorf("--max-load: %w", err)).
func ParseLoad(s string) (Load, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var load Load
	seen := map[string]bool{}
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("%q has an empty entry between commas; write name=threshold entries separated by single commas", s)
		}
		name, value, ok := strings.Cut(entry, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		switch {
		case !ok:
			return nil, fmt.Errorf("'%s': expected name=threshold, such as Threads_running=25", entry)
		case name == "":
			return nil, fmt.Errorf("'%s': the status variable name is missing before '='", entry)
		case !statusName.MatchString(name):
			return nil, fmt.Errorf("'%s': '%s' is not a status variable name (letters, digits and underscores)", entry, name)
		case seen[strings.ToLower(name)]:
			return nil, fmt.Errorf("'%s': %s is given more than once", entry, name)
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("'%s': the threshold '%s' is not a positive whole number", entry, value)
		}
		seen[strings.ToLower(name)] = true
		load = append(load, Limit{Name: name, Threshold: n})
	}
	return load, nil
}

// crossed is the first limit of l that status reaches, as a reason text
// such as "Threads_running=30 >= 25", or "". status maps lower-cased names
// to values; a name it lacks is not crossed.
func (l Load) crossed(status map[string]int64) string {
	for _, lim := range l {
		if v, ok := status[strings.ToLower(lim.Name)]; ok && v >= lim.Threshold {
			return fmt.Sprintf("%s=%d >= %d", lim.Name, v, lim.Threshold)
		}
	}
	return ""
}

// unknown is the first name of l that is not in names (lower-cased), or "".
func (l Load) unknown(names map[string]bool) string {
	for _, lim := range l {
		if !names[strings.ToLower(lim.Name)] {
			return lim.Name
		}
	}
	return ""
}

// ReadStatus reads the named global status variables of the server, keyed
// by lower-cased name. With no name it reads them all (to learn which exist).
// Values that are not whole numbers (some status variables are strings) are
// left out.
func ReadStatus(ctx context.Context, db *sql.DB, names []string) (map[string]int64, map[string]bool, error) {
	q := "SHOW GLOBAL STATUS"
	if len(names) > 0 {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = mysql.QuoteString(n)
		}
		q += " WHERE Variable_name IN (" + strings.Join(quoted, ", ") + ")"
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, nil, fmt.Errorf("read global status: %w", err)
	}
	defer rows.Close()
	values, all := map[string]int64{}, map[string]bool{}
	for rows.Next() {
		var name string
		var value sql.NullString
		if err := rows.Scan(&name, &value); err != nil {
			return nil, nil, fmt.Errorf("read global status: %w", err)
		}
		name = strings.ToLower(name)
		all[name] = true
		if n, err := strconv.ParseInt(value.String, 10, 64); err == nil {
			values[name] = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read global status: %w", err)
	}
	return values, all, nil
}

// loadNames are the distinct names of the given loads.
func loadNames(loads ...Load) []string {
	var names []string
	seen := map[string]bool{}
	for _, l := range loads {
		for _, lim := range l {
			if k := strings.ToLower(lim.Name); !seen[k] {
				seen[k] = true
				names = append(names, lim.Name)
			}
		}
	}
	return names
}
