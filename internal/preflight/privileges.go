package preflight

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// privNeed is one privilege a run needs, at the level it needs it.
type privNeed struct {
	// names are the privilege's spellings: any of them satisfies the need;
	// the first is the one to grant.
	names []string
	level grantLevel
	// optional needs only degrade a check (PROCESS), so their absence is a
	// warning.
	optional bool
}

// privilegeNeeds lists the privileges the run described by in needs. A
// copy creates tables beside the original (the shadow, the old table's new
// name, the cut-over's sentry) and works on them, so it needs its table
// privileges on the whole database, not on the table alone. A native change
// needs what the server asks of ALTER TABLE, on the table.
func privilegeNeeds(in Input, hasTriggers bool) []privNeed {
	var out []privNeed
	if in.Copy {
		out = append(out,
			// MariaDB 10.5.1 accepts REPLICA for SLAVE in statements.
			privNeed{names: []string{"REPLICATION SLAVE", "REPLICATION REPLICA"}, level: levelGlobal},
			// For SHOW MASTER STATUS, which SUPER also allows (MySQL, and
			// MariaDB up to 10.11 at least).
			privNeed{names: []string{in.Server.BinlogMonitorPrivilege(), "REPLICATION CLIENT", "BINLOG MONITOR", "SUPER"}, level: levelGlobal},
		)
		for _, p := range []string{"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "LOCK TABLES"} {
			out = append(out, privNeed{names: []string{p}, level: levelDatabase})
		}
		if in.RecreateTriggers && hasTriggers {
			out = append(out, privNeed{names: []string{"TRIGGER"}, level: levelDatabase})
		}
		if stampsDefault(in) {
			// The expression defaults of new columns are computed in a
			// temporary table (migrate's defaultStamps).
			out = append(out, privNeed{names: []string{"CREATE TEMPORARY TABLES"}, level: levelDatabase})
		}
	} else {
		for _, p := range in.Server.AlterTablePrivileges() {
			out = append(out, privNeed{names: []string{p}, level: levelTable})
		}
	}
	// Without PROCESS the long-transactions check sees only the sessions of
	// tailor's own user, and none of InnoDB's transactions.
	return append(out, privNeed{names: []string{"PROCESS"}, level: levelGlobal, optional: true})
}

// stampsDefault reports whether the copy computes the default of a new
// column once (schema.NewComputedColumns, schema.StampsDefault).
func stampsDefault(in Input) bool {
	if in.Target == nil {
		return false
	}
	written := make([]string, len(in.Columns))
	for i, p := range in.Columns {
		written[i] = p[1]
	}
	for _, c := range schema.NewComputedColumns(in.Target, written) {
		if schema.StampsDefault(c, in.TimeZoneIsUTC) {
			return true
		}
	}
	return false
}

// readGrants reads the grants in force for the session and the account
// they belong to (user@host as CURRENT_USER() gives it).
func readGrants(ctx context.Context, db *sql.DB, server mysql.Server) (grantSet, string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return grantSet{}, "", fmt.Errorf("read grants: open a session: %w", err)
	}
	defer conn.Close()
	var account string
	var lower int
	if err := conn.QueryRowContext(ctx, "SELECT CURRENT_USER(), @@lower_case_table_names").Scan(&account, &lower); err != nil {
		return grantSet{}, "", fmt.Errorf("read the current account: %w", err)
	}
	var roles sql.NullString
	if q := server.CurrentRoleQuery(); q != "" {
		if err := conn.QueryRowContext(ctx, q).Scan(&roles); err != nil {
			return grantSet{}, "", fmt.Errorf("read the current role: %w", err)
		}
	}
	rows, err := conn.QueryContext(ctx, server.ShowGrantsQuery(roles.String))
	if err != nil {
		return grantSet{}, "", fmt.Errorf("read grants: %w", err)
	}
	defer rows.Close()
	gs := grantSet{foldCase: lower != 0}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return grantSet{}, "", fmt.Errorf("read grants: %w", err)
		}
		g, ok, err := parseGrant(line)
		if err != nil {
			return grantSet{}, "", err
		}
		if ok {
			gs.grants = append(gs.grants, g)
		}
	}
	if err := rows.Err(); err != nil {
		return grantSet{}, "", fmt.Errorf("read grants: %w", err)
	}
	return gs, account, nil
}

// checkPrivileges compares the session's grants with what the run needs.
func checkPrivileges(ctx context.Context, in Input, hasTriggers bool) (Check, error) {
	gs, account, err := readGrants(ctx, in.DB, in.Server)
	if err != nil {
		return Check{}, err
	}
	return judgePrivileges(gs, account, in, privilegeNeeds(in, hasTriggers)), nil
}

// judgePrivileges is the verdict on the grants gs of account for the needs
// of a run on in.Database and in.Table.
func judgePrivileges(gs grantSet, account string, in Input, ns []privNeed) Check {
	c := Check{Name: CheckPrivileges, Status: Pass}
	m := findMissing(gs, in, ns)
	grantee := quoteAccount(account)
	statements := m.grants(in, grantee)
	c.Details = statements
	what := "the change"
	if in.Copy {
		what = "the copy"
	}
	switch {
	case len(m.required) > 0:
		c.Status = Fail
		c.Message = fmt.Sprintf("the account %s lacks privileges %s needs (%s); grant them with: %s",
			grantee, what, strings.Join(m.required, ", "), strings.Join(statements, "; "))
		if m.optional {
			c.Message += " (PROCESS lets tailor see other users' sessions when it looks for long transactions)"
		}
	case m.optional:
		c.Status = Warn
		c.Message = fmt.Sprintf("the account %s has the privileges %s needs but not PROCESS, so tailor sees only its own user's sessions when it looks for long transactions; run %s to let it see all",
			grantee, what, strings.Join(statements, "; "))
	default:
		c.Message = fmt.Sprintf("the account %s has every privilege %s needs", grantee, what)
	}
	return c
}

// missing is what a set of grants lacks of some needs.
type missing struct {
	// byLevel are the privileges to grant, by level, in the order of the
	// needs.
	byLevel map[grantLevel][]string
	// required are the missing privileges that are not optional, each with
	// where it is needed ("DROP on `shop`.*").
	required []string
	// optional is true when an optional privilege is missing.
	optional bool
}

func findMissing(gs grantSet, in Input, ns []privNeed) missing {
	m := missing{byLevel: map[grantLevel][]string{}}
	for _, n := range ns {
		if slices.ContainsFunc(n.names, func(name string) bool { return gs.allows(name, n.level, in.Database, in.Table) }) {
			continue
		}
		m.byLevel[n.level] = append(m.byLevel[n.level], n.names[0])
		if n.optional {
			m.optional = true
		} else {
			m.required = append(m.required, n.names[0]+" "+levelPhrase(n.level, in))
		}
	}
	return m
}

// grants are the GRANT statements that give grantee what is missing, one
// per level.
func (m missing) grants(in Input, grantee string) []string {
	var out []string
	for _, level := range []grantLevel{levelGlobal, levelDatabase, levelTable} {
		if privs := m.byLevel[level]; len(privs) > 0 {
			out = append(out, "GRANT "+strings.Join(privs, ", ")+" ON "+grantTarget(level, in)+" TO "+grantee)
		}
	}
	return out
}

// ClonePrivileges checks, before a plan creates anything, that the account
// may do what the plan does to learn how the server would make the change:
// create clone (an empty copy of in.Table beside it, with CREATE TABLE ...
// LIKE, which reads the table's definition), try the ALTER on it, copy
// sample rows of the table into it, and drop it. Without this check an
// account short of one of those privileges would meet the server's bare
// "DROP command denied" on the clone instead of the GRANT that fixes it.
// It reads in.DB, in.Server, in.Database and in.Table only. The check
// passes or fails; its message names the GRANT statements that are missing.
func ClonePrivileges(ctx context.Context, in Input, clone string) (Check, error) {
	gs, account, err := readGrants(ctx, in.DB, in.Server)
	if err != nil {
		return Check{}, err
	}
	needs := []privNeed{{names: []string{"SELECT"}, level: levelTable}}
	for _, p := range []string{"CREATE", "ALTER", "INSERT", "DROP"} {
		// A grant on the clone's own name does as well as one on the
		// database, which is what a copy needs anyway and so the GRANT
		// to suggest.
		if !gs.allows(p, levelTable, in.Database, clone) {
			needs = append(needs, privNeed{names: []string{p}, level: levelDatabase})
		}
	}
	grantee := quoteAccount(account)
	m := findMissing(gs, in, needs)
	c := Check{Name: CheckPrivileges, Status: Pass,
		Message: fmt.Sprintf("the account %s may create, alter and drop %s, the empty clone of the table a plan tries the ALTER on", grantee, mysql.QuoteIdent(clone))}
	if len(m.required) > 0 {
		c.Status = Fail
		c.Details = m.grants(in, grantee)
		c.Message = fmt.Sprintf("the account %s lacks privileges tailor needs to try the ALTER on %s, an empty clone of the table, before it changes anything (%s); grant them with: %s",
			grantee, mysql.QuoteIdent(clone), strings.Join(m.required, ", "), strings.Join(c.Details, "; "))
	}
	return c, nil
}

// levelPhrase says where a privilege is missing, for the message.
func levelPhrase(level grantLevel, in Input) string {
	switch level {
	case levelGlobal:
		return "on *.*"
	case levelDatabase:
		return "on " + mysql.QuoteIdent(in.Database) + ".*"
	}
	return "on " + mysql.QuoteTable(in.Database, in.Table)
}

// grantTarget is the ON clause of a GRANT at level.
func grantTarget(level grantLevel, in Input) string {
	return strings.TrimPrefix(levelPhrase(level, in), "on ")
}

// quoteAccount turns CURRENT_USER()'s user@host into 'user'@'host'. The
// host never holds "@", the user may.
func quoteAccount(account string) string {
	i := strings.LastIndex(account, "@")
	if i < 0 {
		return mysql.QuoteString(account)
	}
	return mysql.QuoteString(account[:i]) + "@" + mysql.QuoteString(account[i+1:])
}
