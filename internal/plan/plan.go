// Package plan works out what an ALTER would do to a table, without changing
// anything users can see: how big the table is and how much disk a copy
// needs, which algorithm the server itself would use (learned by trying the
// ALTER on an empty clone of the table), whether tailor would let the server
// do it or copy the table online, what the preflight checks say, how long
// the copy would take on this server, how to split a risky change into
// safe steps (expand-contract), and whether a revert after the cut-over
// would be lossless.
//
// The only thing Make creates is the clone, _<table>_tailor_probe: a real
// table, because MariaDB 10.11 refuses ALGORITHM=INPLACE on a TEMPORARY one
// (error 1845) and so would misreport every INPLACE change. The clone is made
// in a session that does not write the binary log when the account may turn
// it off, and it is dropped before Make returns, on every path.
package plan

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/preflight"
	"github.com/tailor-osc/tailor/internal/schema"
)

// StrategyKind names how tailor would make the change.
type StrategyKind string

const (
	// StrategyNativeInstant lets the server make the change with
	// ALGORITHM=INSTANT: a metadata change under a brief metadata lock.
	StrategyNativeInstant StrategyKind = "native-instant"
	// StrategyOnlineCopy copies the rows into a shadow table with the new
	// definition while applying concurrent changes, then swaps the tables.
	StrategyOnlineCopy StrategyKind = "online-copy"
)

// Strategy is how tailor would make the change, and why.
type Strategy struct {
	Kind StrategyKind `json:"kind"`
	// Reason says why in one sentence.
	Reason string `json:"reason"`
}

// Defaults for Options left zero.
const (
	// DefaultSampleRows is the most rows the speed measurement copies.
	DefaultSampleRows = 10000
	// DefaultSampleTime is about how long the speed measurement may take.
	DefaultSampleTime = time.Second
)

// Options say what to plan.
type Options struct {
	// Conn is how the caller's pool was opened; the replicas check reaches
	// replicas with the same account.
	Conn mysql.ConnConfig
	// Database and Table name the table to change.
	Database, Table string
	// Alter is the user's ALTER: clauses, or a whole ALTER TABLE statement
	// naming the same table.
	Alter string
	// ForceCopy asks for an online copy even when the server could make the
	// change INSTANT.
	ForceCopy bool
	// RecreateTriggers is the user's consent to have the table's triggers
	// recreated on the new table at the cut-over (see preflight.Input).
	RecreateTriggers bool
	// LongTransaction is the age from which an open transaction is
	// reported; zero means preflight.DefaultLongTransaction.
	LongTransaction time.Duration
	// SampleRows bounds the rows copied to measure the copy speed; zero
	// means DefaultSampleRows.
	SampleRows int
	// SampleTime bounds, roughly, the time spent measuring the copy speed;
	// zero means DefaultSampleTime.
	SampleTime time.Duration
	// TimeZone is the time zone in which a value crossing between a
	// TIMESTAMP and another type is converted (schema.Mapping.TimeZone);
	// empty means the server's @@global.time_zone, which the server's own
	// ALTER, run from a session that keeps its default, converts in.
	TimeZone string
	// TimeZoneSource says where a given TimeZone comes from, for the
	// plan's notes; empty means --time-zone.
	TimeZoneSource string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// Plan is what an ALTER would do. Its JSON form is documented in
// docs/plan-json.md; keep the two in step.
type Plan struct {
	Server   ServerInfo `json:"server"`
	Database string     `json:"database"`
	Table    string     `json:"table"`
	// Alter is the clauses that would be applied, as the user wrote them.
	Alter string `json:"alter"`
	// OK is true when tailor would make the change as planned: nothing in
	// RefusedBecause.
	OK bool `json:"ok"`
	// RefusedBecause holds one sentence per reason the change is refused:
	// the plan's own (a new foreign key, a change of storage engine, a copy
	// of a table that is not InnoDB) and then each failed check.
	RefusedBecause []string          `json:"refused_because"`
	Size           Size              `json:"size"`
	Native         Native            `json:"native"`
	Strategy       Strategy          `json:"strategy"`
	Checks         []preflight.Check `json:"checks"`
	// Estimate is how long the copy would take; nil for native-instant.
	Estimate *Estimate `json:"estimate"`
	// Advice is how to make risky parts of the change safely in steps.
	Advice []Advice `json:"advice"`
	// Revert says whether a revert after the cut-over would be lossless.
	Revert Revert `json:"revert"`
	// Notes are facts worth knowing that change nothing above.
	Notes []string `json:"notes"`
	// TimeZone is the time zone in which a copy converts a value between
	// a TIMESTAMP and another type: Options.TimeZone, else the server's
	// @@global.time_zone.
	TimeZone string `json:"time_zone"`
	// TimeZoneIsUTC says the zone's clock is UTC's (zoneIsUTC): values
	// that depend on the zone come out as in tailor's own sessions.
	TimeZoneIsUTC bool `json:"time_zone_is_utc"`
	// TargetDefinition is SHOW CREATE TABLE of the table after the change,
	// read from the clone.
	TargetDefinition string `json:"target_definition"`
	// Target is the table's definition after the change, read from the
	// clone. Its Name is the table's own: the clone is gone.
	Target *schema.Table `json:"-"`
	// SQLMode is the server's global sql_mode, read once by the plan, under
	// which the ALTER was tried on the clone. Whoever makes the new
	// definition for real (the shadow's ALTER) runs it under this mode too,
	// so that it makes what the plan validated and nothing the server's
	// configured mode forbids; the rows are copied under tailor's own mode
	// (mysql.SQLMode), so existing zero dates arrive as they are.
	SQLMode string `json:"-"`
}

// ServerInfo is the server the plan was made on.
type ServerInfo struct {
	// Flavor is "MariaDB" or "MySQL".
	Flavor string `json:"flavor"`
	// Version is major.minor.patch.
	Version string `json:"version"`
	// Raw is @@version as the server reports it.
	Raw string `json:"raw"`
}

// Native is what the server would do with the ALTER itself.
type Native struct {
	// Algorithm is the cheapest algorithm the server accepted: one of the
	// mysql.Algorithm constants.
	Algorithm string `json:"algorithm"`
	// Lock is the LOCK= it was accepted with, or empty when none was given
	// (INSTANT, NOCOPY, and COPY, which blocks writes).
	Lock string `json:"lock"`
	// Clause is the accepted "ALGORITHM=..., LOCK=..." text.
	Clause string `json:"clause"`
	// Refused are the cheaper algorithms the server refused, or accepted
	// without honouring them, cheapest first.
	Refused []Refusal `json:"refused"`
}

// Refusal is the server's refusal of one ALGORITHM=/LOCK= pair.
type Refusal struct {
	Clause string `json:"clause"`
	// Message is the server's own words, or tailor's when the server
	// accepted the clause but did not honour it (see storage.rebuiltBy).
	Message string `json:"message"`
}

// Error is a problem with the request that the user can fix: a table that
// does not exist, an ALTER the server rejects. Its message is one sentence.
// A problem with the ALTER's text is a *ddl.Error instead.
type Error struct {
	Msg string
	// Err is the server's error, when there is one.
	Err error
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the server's error, if any.
func (e *Error) Unwrap() error { return e.Err }

func userError(err error, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Err: err}
}

func (o Options) withDefaults() Options {
	if o.SampleRows <= 0 {
		o.SampleRows = DefaultSampleRows
	}
	if o.SampleTime <= 0 {
		o.SampleTime = DefaultSampleTime
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Make plans the ALTER in opts on the server behind db. It returns a
// *ddl.Error when the ALTER does not parse or cannot be done online, and an
// *Error for a missing table or an ALTER the server rejects; a change that
// tailor would refuse is a plan with OK false, not an error.
func Make(ctx context.Context, db *sql.DB, server mysql.Server, opts Options) (*Plan, error) {
	opts = opts.withDefaults()
	if opts.Database == "" || opts.Table == "" {
		return nil, errors.New("plan: Database and Table are required")
	}
	log := opts.Logger // the caller scopes it to the table
	alter, err := ddl.Parse(opts.Alter)
	if err != nil {
		return nil, err
	}
	if err := checkAlterNamesTable(ctx, db, alter, opts.Database, opts.Table); err != nil {
		return nil, err
	}
	source, err := schema.Load(ctx, db, opts.Database, opts.Table)
	if errors.Is(err, schema.ErrTableNotFound) {
		return nil, userError(err, "table %s does not exist in database %s; check the table and database names", mysql.QuoteIdent(opts.Table), mysql.QuoteIdent(opts.Database))
	}
	if err != nil {
		return nil, err
	}
	p := &Plan{
		Server:         ServerInfo{Flavor: server.Flavor.String(), Version: server.Version.String(), Raw: server.Raw},
		Database:       opts.Database,
		Table:          opts.Table,
		Alter:          alter.Clauses,
		RefusedBecause: []string{},
		Checks:         []preflight.Check{},
		Advice:         []Advice{},
		Notes:          []string{},
	}
	if p.Size, err = readSize(ctx, db, opts.Database, opts.Table); err != nil {
		return nil, err
	}
	zoneSource := "the server's @@global.time_zone, in which its own ALTER converts them from a session that keeps the default; --time-zone chooses another"
	switch {
	case opts.TimeZoneSource != "":
		zoneSource = opts.TimeZoneSource
	case opts.TimeZone != "":
		zoneSource = "given by --time-zone"
	}
	if p.TimeZone, err = timeZone(ctx, db, opts.TimeZone); err != nil {
		return nil, err
	}
	if p.TimeZoneIsUTC, err = zoneIsUTC(ctx, db, p.TimeZone); err != nil {
		return nil, err
	}
	opts.TimeZone = p.TimeZone
	if p.Size.Partitions > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("The table has %d partitions; the clone the ALTER was tried on had the same partitioning.", p.Size.Partitions))
	}

	// The privileges the clone needs come first: an account without them
	// would otherwise meet the server's bare refusal of the clone's first
	// statement instead of the GRANT that fixes it.
	clonePrivs, err := preflight.ClonePrivileges(ctx, preflight.Input{DB: db, Server: server, Database: opts.Database, Table: opts.Table}, ProbeName(opts.Table))
	if err != nil {
		return nil, fmt.Errorf("check the privileges of the plan's clone: %w", err)
	}
	if clonePrivs.Status == preflight.Fail {
		return nil, userError(nil, "%s", clonePrivs.Message)
	}

	learned, err := probeAndSample(ctx, db, server, opts, alter, source, p)
	if err != nil {
		return nil, err
	}
	log.Info("planned", "native_algorithm", p.Native.Clause, "strategy", string(p.Strategy.Kind))
	p.Target = learned.target
	p.TargetDefinition = learned.definition
	p.SQLMode = learned.sqlMode
	p.Notes = append(p.Notes, learned.notes...)

	p.Checks, err = preflight.Run(ctx, preflight.Input{
		DB:               db,
		Server:           server,
		Conn:             opts.Conn,
		Database:         opts.Database,
		Table:            opts.Table,
		Alter:            alter,
		Source:           source,
		Target:           learned.target,
		Columns:          learned.pairs,
		Copy:             p.Strategy.Kind == StrategyOnlineCopy,
		RecreateTriggers: opts.RecreateTriggers,
		LongTransaction:  opts.LongTransaction,
		TimeZone:         p.TimeZone,
		TimeZoneIsUTC:    p.TimeZoneIsUTC,
	})
	if err != nil {
		return nil, fmt.Errorf("run the preflight checks on %s: %w", mysql.QuoteTable(opts.Database, opts.Table), err)
	}
	if p.Checks == nil {
		p.Checks = []preflight.Check{}
	}
	p.RefusedBecause = refusals(alter, source, learned.target, p.Strategy, p.Checks)
	if p.Strategy.Kind == StrategyOnlineCopy {
		if !p.TimeZoneIsUTC {
			p.RefusedBecause = append(p.RefusedBecause, zoneGeneratedRefusals(learned.target, p.TimeZone)...)
		}
		p.Notes = append(p.Notes, emptySetMemberNotes(source, learned.target, learned.pairs)...)
		p.Notes = append(p.Notes, zoneNotes(source, learned.target, learned.pairs, p.TimeZone, zoneSource, p.TimeZoneIsUTC)...)
	}
	p.OK = len(p.RefusedBecause) == 0

	p.Advice = advise(adviceInput{
		database:     opts.Database,
		table:        opts.Table,
		key:          walkKey(source),
		empty:        p.Size.Empty,
		alter:        alter,
		source:       source,
		target:       learned.target,
		noDefaultNew: learned.noDefault,
		pairs:        learned.pairs,
		zone:         p.TimeZone,
	})
	if p.Revert, err = reviewRevertOf(ctx, db, opts, alter, source, learned, p.Strategy.Kind); err != nil {
		return nil, err
	}
	return p, nil
}

// reviewRevertOf reads what the revert review needs beyond what the plan
// has (the source's columns without a default and, for a native change,
// its definition) and reviews it.
func reviewRevertOf(ctx context.Context, db *sql.DB, opts Options, alter *ddl.Alter, source *schema.Table, l learned, strategy StrategyKind) (Revert, error) {
	in := revertInput{
		table: opts.Table, strategy: strategy, alter: alter, source: source, target: l.target,
		pairs: l.pairs, noDefaultNew: l.noDefault, targetDefinition: l.definition,
	}
	var err error
	if in.noDefaultOld, err = columnsWithoutDefault(ctx, db, opts.Database, opts.Table, source); err != nil {
		return Revert{}, err
	}
	if strategy == StrategyNativeInstant {
		var name string
		if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE "+mysql.QuoteTable(opts.Database, opts.Table)).Scan(&name, &in.sourceDefinition); err != nil {
			return Revert{}, fmt.Errorf("read the definition of %s: %w", mysql.QuoteTable(opts.Database, opts.Table), err)
		}
	}
	return reviewRevert(in), nil
}

// emptySetMemberNotes say which copied columns are SETs with an empty
// member whose definition the ALTER changes: there the copy writes the
// values by name, as the server's own ALTER ... ALGORITHM=COPY does, and
// names cannot tell the empty member from the empty set, so a value loses
// it. Into the same SET the values travel as their bits
// (schema.KeepsSetBits) and keep it.
func emptySetMemberNotes(source, target *schema.Table, pairs [][2]string) []string {
	var out []string
	for _, p := range pairs {
		c, ok := source.Column(p[0])
		if !ok || c.Family() != schema.FamSet || !slices.Contains(c.Values, "") {
			continue
		}
		if n, ok := target.Column(p[1]); ok && schema.KeepsSetBits(c, n) {
			continue
		}
		out = append(out, fmt.Sprintf("Column %s is a SET with an empty member and becomes %s%s: its values are copied by name, as the server's own ALTER ... ALGORITHM=COPY copies them, and a value in which no member comes before the empty one loses it.",
			mysql.QuoteIdent(c.Name), mysql.QuoteIdent(p[1]), describeTarget(target, p[1])))
	}
	return out
}

// timeZone is the time zone values crossing a TIMESTAMP are converted in:
// given, once the server confirms it knows it, else the server's
// @@global.time_zone.
func timeZone(ctx context.Context, db *sql.DB, given string) (string, error) {
	if given == "" {
		var zone string
		if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.time_zone").Scan(&zone); err != nil {
			return "", fmt.Errorf("read the server's time zone: %w", err)
		}
		return zone, nil
	}
	var converted sql.NullString
	err := db.QueryRowContext(ctx, "SELECT CONVERT_TZ('2000-01-01 00:00:00', '"+schema.SessionZone+"', ?)", given).Scan(&converted)
	if err != nil {
		return "", fmt.Errorf("check the time zone %q with the server: %w", given, err)
	}
	if !converted.Valid {
		return "", userError(nil, "the server knows no time zone %q: give an offset such as +02:00, SYSTEM (the server's system zone), or a named zone once the server's time zone tables are loaded (mariadb-tzinfo-to-sql)", given)
	}
	return given, nil
}

// zoneIsUTC reports whether the server's clock time in zone is UTC's in
// January and in July of years from 1971 to now: a server whose global
// zone is SYSTEM on a system in UTC computes values in the zone as
// tailor's sessions do.
func zoneIsUTC(ctx context.Context, db *sql.DB, zone string) (bool, error) {
	if schema.SameZone(zone, schema.SessionZone) {
		return true, nil
	}
	var same []string
	var args []any
	for _, day := range []string{"1971-01-15", "1971-07-15", "1985-01-15", "1985-07-15", "2000-01-15", "2000-07-15", "2012-01-15", "2012-07-15", "2024-01-15", "2024-07-15"} {
		same = append(same, "CONVERT_TZ('"+day+" 12:00:00', '"+schema.SessionZone+"', ?) = '"+day+" 12:00:00'")
		args = append(args, zone)
	}
	var utc sql.NullBool
	err := db.QueryRowContext(ctx, "SELECT "+strings.Join(same, " AND "), args...).Scan(&utc)
	if err != nil {
		return false, fmt.Errorf("compare the time zone %s with UTC: %w", mysql.QuoteString(zone), err)
	}
	return utc.Valid && utc.Bool, nil
}

// zoneNotes says, for each copied column whose values cross between a
// TIMESTAMP and another type (or a TIME that becomes a date), in which
// time zone they are converted; for each new column whose default is an
// expression, that it is computed once in that zone, or, for one that
// differs from row to row (schema.PerRowDefault), that it is computed for
// each row in tailor's zone, which matters unless the zone is UTC's (utc).
func zoneNotes(source, target *schema.Table, pairs [][2]string, zone, whose string, utc bool) []string {
	var out []string
	for _, p := range pairs {
		o, ok1 := source.Column(p[0])
		n, ok2 := target.Column(p[1])
		if !ok1 || !ok2 || n.Generated || !schema.CrossesZone(o, n) && !schema.DatesTime(o, n) {
			continue
		}
		out = append(out, fmt.Sprintf("Column %s is %s and becomes %s%s: its values are converted in the time zone %s, %s.",
			mysql.QuoteIdent(o.Name), o.ColumnType, mysql.QuoteIdent(n.Name), describeTarget(target, n.Name), mysql.QuoteString(zone), whose))
	}
	written := make([]string, len(pairs))
	for i, p := range pairs {
		written[i] = p[1]
	}
	for _, n := range schema.NewComputedColumns(target, written) {
		switch {
		case schema.StampsDefault(n, utc):
			out = append(out, fmt.Sprintf("Column %s is new, and its default, %s, is an expression: the server computes it once, in the time zone %s, when the copy begins, and every row tailor copies or applies gets that value (unless it is longer than 64 KiB), as the server's own ALTER computes it in its zone (a clock as of its start).",
				mysql.QuoteIdent(n.Name), n.Default, mysql.QuoteString(zone)))
		case !utc && schema.PerRowDefault(n):
			out = append(out, fmt.Sprintf("Column %s is new, and its default, %s, may differ from row to row (it reads a column, or calls a function such as UUID or SYSDATE): the server computes it for each row tailor copies or applies, in %s, tailor's sessions' zone, where the server's own ALTER would use %s; where the zone matters to it, set its values after the change.",
				mysql.QuoteIdent(n.Name), n.Default, schema.SessionZone, mysql.QuoteString(zone)))
		}
	}
	return out
}

// zoneGeneratedRefusals refuses, for each STORED generated column of the
// new table whose value may depend on the session's time zone, a copy in
// a zone other than tailor's: the server computes such a column when a
// row is written, in the writing session's zone, and every copied row is
// written by tailor (a column that stays as it was too), so every row
// would quietly get a value computed in tailor's zone. A value may
// depend on the zone when the expression reads a TIMESTAMP column (as a
// date or text), calls UNIX_TIMESTAMP, or the column is a TIMESTAMP
// itself (made from a clock time). The server refuses clock functions in
// a STORED column, so none is looked for. Names are compared without
// case, as the server resolves them. The test is by the expression's
// text, so it also refuses some that do not depend on the zone
// (UNIX_TIMESTAMP of a TIMESTAMP): the sentence says the ways round it.
func zoneGeneratedRefusals(target *schema.Table, zone string) []string {
	if schema.SameZone(zone, schema.SessionZone) {
		return nil
	}
	var out []string
	for _, g := range target.Columns {
		if !g.Stored {
			continue
		}
		expr := strings.ToLower(g.Expression)
		var reads string
		switch {
		case g.Family() == schema.FamTimestamp:
			reads = "it is a TIMESTAMP made from a clock time"
		case strings.Contains(expr, "unix_timestamp("):
			reads = "it calls UNIX_TIMESTAMP"
		}
		for _, c := range target.Columns {
			if reads == "" && c.Family() == schema.FamTimestamp && strings.Contains(expr, strings.ToLower(mysql.QuoteIdent(c.Name))) {
				reads = "it reads TIMESTAMP column " + mysql.QuoteIdent(c.Name)
			}
		}
		if reads == "" {
			continue
		}
		out = append(out, fmt.Sprintf("Column %s is STORED, generated from %s, and may depend on the time zone (%s): tailor's copy would compute it in %s, not in %s as the server's own ALTER does; make it VIRTUAL, use a plain ALTER TABLE, or, if the application's sessions write in UTC, pass --time-zone '+00:00' (which converts TIMESTAMP values and clock defaults in UTC too).",
			mysql.QuoteIdent(g.Name), g.Expression, reads, schema.SessionZone, mysql.QuoteString(zone)))
	}
	return out
}

// describeTarget is " (TYPE)" of column name of t, or "" when t lacks it.
func describeTarget(t *schema.Table, name string) string {
	if c, ok := t.Column(name); ok {
		return " " + c.ColumnType
	}
	return ""
}

// refusals are the sentences saying why tailor would refuse the change: the
// plan's own reasons, then one per failed check.
func refusals(alter *ddl.Alter, source, target *schema.Table, strategy Strategy, checks []preflight.Check) []string {
	out := []string{}
	failed := preflight.Failed(checks)
	// The foreign-keys check may already refuse the new foreign key; one
	// sentence about it is enough.
	if alter.AddsForeignKey && !slices.ContainsFunc(failed, func(c preflight.Check) bool { return c.Name == preflight.CheckForeignKeys }) {
		out = append(out, "The ALTER adds a foreign key, which tailor cannot keep correct across the table swap; add it with a plain ALTER TABLE after the migration or in a separate change.")
	}
	out = append(out, engineRefusals(source, target, strategy.Kind == StrategyOnlineCopy)...)
	for _, c := range failed {
		out = append(out, fmt.Sprintf("The %s check failed: %s.", c.Name, strings.TrimSuffix(c.Message, ".")))
	}
	return out
}

// chooseStrategy decides how tailor makes the change, and why, in one
// sentence. Only INSTANT is left to the server: NOCOPY avoids a rebuild but
// may still read the whole table (to build an index, say), which takes as
// long as the table is large and is replayed by each replica after it
// finishes on the primary, holding replication back all that time.
func chooseStrategy(n Native, forceCopy bool, mariadb bool) Strategy {
	if n.Algorithm == mysql.AlgorithmInstant {
		if forceCopy {
			return Strategy{Kind: StrategyOnlineCopy, Reason: "The server could make this change INSTANT, but a copy was forced, so tailor copies the table online and swaps it in."}
		}
		return Strategy{Kind: StrategyNativeInstant, Reason: "The server makes this change INSTANT, changing only the table's metadata under a brief metadata lock, so tailor lets the server do it."}
	}
	var what string
	switch {
	case n.Algorithm == mysql.AlgorithmNoCopy:
		what = "would change the table without rebuilding it (NOCOPY) but still read all of it, which runs long and then again on each replica"
	case n.Algorithm == mysql.AlgorithmInplace && n.Lock == mysql.LockNone:
		verb := "work through the whole table"
		if mariadb {
			verb = "rebuild the table" // NOCOPY was refused, so INPLACE means a rebuild.
		}
		what = fmt.Sprintf("would %s (INPLACE, LOCK=NONE), which runs long on the primary and then again on each replica, holding replication back", verb)
	case n.Algorithm == mysql.AlgorithmInplace && n.Lock == mysql.LockShared:
		what = "would block writes for the whole ALTER (INPLACE, LOCK=SHARED)"
	case n.Algorithm == mysql.AlgorithmInplace:
		what = "would block reads and writes for the whole ALTER (INPLACE, LOCK=EXCLUSIVE)"
	case n.Algorithm == mysql.AlgorithmCopy && n.Lock == mysql.LockNone:
		what = "would copy the table (COPY, LOCK=NONE), which runs long on the primary and then again on each replica, holding replication back"
	default:
		what = "would copy the table and block writes for the whole copy (ALGORITHM=COPY)"
	}
	return Strategy{Kind: StrategyOnlineCopy, Reason: "The server " + what + "; tailor copies the table online and swaps it in."}
}

// engineRefusals refuses a change that moves an InnoDB table to another
// storage engine, however it would be made: MariaDB 10.11 makes such a
// change by copying the table with writes blocked even when asked for
// ALGORITHM=INSTANT, and the table would lose transactions and crash
// safety. It also refuses a copy of a table that is not InnoDB: the copy
// and the cut-over need transactions and row locks on both sides.
func engineRefusals(source, target *schema.Table, copying bool) []string {
	switch {
	case isInnoDB(source.Engine) && target != nil && !isInnoDB(target.Engine):
		return []string{fmt.Sprintf("The ALTER moves table %s from the InnoDB to the %s storage engine: the server would copy the whole table with writes blocked, even when asked for ALGORITHM=INSTANT, and the table would no longer be transactional; remove the ENGINE option.",
			mysql.QuoteIdent(source.Name), target.Engine)}
	case copying && !isInnoDB(source.Engine):
		return []string{fmt.Sprintf("Table %s uses the %s storage engine, and tailor copies only InnoDB tables because it relies on transactions and row locks; convert it with ALTER TABLE ... ENGINE=InnoDB first.", mysql.QuoteIdent(source.Name), source.Engine)}
	}
	return nil
}

func isInnoDB(engine string) bool { return strings.EqualFold(engine, "InnoDB") }

// checkAlterNamesTable refuses a whole "ALTER TABLE name ..." written for
// another table than the one to plan. Names compare as the server compares
// them: exactly, unless lower_case_table_names is set.
func checkAlterNamesTable(ctx context.Context, db *sql.DB, alter *ddl.Alter, database, table string) error {
	lowerCase, err := mysql.LowerCaseTableNames(ctx, db)
	if err != nil {
		return err
	}
	if ok, written := alter.WrittenFor(database, table, lowerCase); !ok {
		return userError(nil, "the ALTER is written for table %s but the plan is for %s; give only the clauses, or make the database and table match the statement", written, mysql.QuoteTable(database, table))
	}
	return nil
}

// walkKey is the key a backfill walks: the copy key's columns, or none.
func walkKey(t *schema.Table) []string {
	key, err := t.CopyKey()
	if err != nil {
		return nil
	}
	return key.Columns
}
