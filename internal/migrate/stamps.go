package migrate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// The temporary tables defaultStamps computes and checks the stamps in,
// in its own session.
const (
	stampsComputed = "`tailor_default_stamps`"
	stampsWritten  = "`tailor_default_stamps_written`"
)

// defaultStamps has the server compute, once and in the migration's time
// zone, the default of each new column of the shadow whose default is an
// expression written as one value (schema.StampsDefault), as the server's
// own ALTER computes it in its session's zone, a clock as of the ALTER's
// start (see schema/clock.go). Each is computed into a column of its own
// definition in a temporary table made and written in the zone and the
// server's sql_mode (a constant expression is computed when the table is
// opened), and read back as its bytes (computeStamps). The values must
// then come back the same when written as the copy writes them
// (checkStamps), or the migration is refused. A resumed migration
// computes them again: the rows copied before it keep the earlier time.
func (r *Runner) defaultStamps(ctx context.Context, shadowTable *schema.Table) ([]schema.Stamp, error) {
	var cols []schema.Column
	for _, c := range schema.NewComputedColumns(shadowTable, r.mapping.NewNames()) {
		if schema.StampsDefault(c, r.plan.TimeZoneIsUTC) {
			cols = append(cols, c)
		}
	}
	if len(cols) == 0 {
		return nil, nil
	}
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	defer func() {
		// The session goes back to the pool: without its temporary
		// tables, or not at all.
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "DROP TEMPORARY TABLE IF EXISTS "+stampsComputed+", "+stampsWritten); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	cols, stamps, err := r.computeStamps(ctx, conn, cols)
	if err != nil || len(stamps) == 0 {
		return nil, err
	}
	if err := checkStamps(ctx, conn, cols, stamps); err != nil {
		return nil, err
	}
	for i, c := range cols {
		r.log.Info("a new column's default is an expression: every row copied gets the value it has now in the migration's time zone",
			"column", c.Name, "default", c.Default, "value", shownStamp(stamps[i].Value), "time_zone", r.plan.TimeZone)
	}
	return stamps, nil
}

// stampDefinition is c's definition in the stamps' temporary tables: its
// type, NULL or NOT NULL, and its default.
func stampDefinition(c schema.Column) string {
	null := " NULL"
	if !c.Nullable {
		null = " NOT NULL"
	}
	return mysql.QuoteIdent(c.Name) + " " + c.TypeDefinition() + null + " DEFAULT (" + c.Default + ")"
}

// computeStamps computes the defaults of cols in stampsComputed and reads
// them as bytes (a FLOAT through a DOUBLE, whose text keeps every digit;
// a TIMESTAMP in SessionZone, as the copy writes it). A value longer than
// schema.MaxStampBytes is left to the server row by row: it returns the
// columns kept and their stamps.
func (r *Runner) computeStamps(ctx context.Context, conn *sql.Conn, cols []schema.Column) ([]schema.Column, []schema.Stamp, error) {
	defs, reads, names := make([]string, len(cols)), make([]string, len(cols)), make([]string, len(cols))
	for i, c := range cols {
		defs[i], names[i] = stampDefinition(c), mysql.QuoteIdent(c.Name)
		value := names[i]
		if c.Family() == schema.FamFloat {
			value = "CAST(" + value + " AS DOUBLE)"
		}
		// NULL past MaxStampBytes; its length tells it from a NULL
		// default.
		bytes := "LENGTH(CAST(" + value + " AS BINARY))"
		reads[i] = "IF(" + bytes + " <= " + strconv.Itoa(schema.MaxStampBytes) + ", HEX(CAST(" + value + " AS BINARY)), NULL), " + bytes
	}
	list := strings.Join(names, ", ")
	inZone := func(stmt string) error {
		return r.server.ExecInSQLMode(ctx, conn, r.plan.SQLMode, r.plan.TimeZone, stmt)
	}
	if err := inZone("CREATE TEMPORARY TABLE " + stampsComputed + " (" + strings.Join(defs, ", ") + ") ENGINE=InnoDB"); err != nil {
		return nil, nil, fmt.Errorf("compute the defaults of the new columns %s in a temporary table: %w", list, err)
	}
	if err := inZone("INSERT INTO " + stampsComputed + " () VALUES ()"); err != nil {
		if mysql.ErrorNumber(err) != 0 {
			return nil, nil, invalid(fmt.Errorf("the server cannot store the default of a new column (of %s) in it: %s; give the column a default it can hold (the server's own ALTER would refuse it too, on a table with rows)", list, serverMessage(err)))
		}
		return nil, nil, fmt.Errorf("compute the defaults of the new columns %s: %w", list, err)
	}
	vals := make([]sql.NullString, len(cols))
	lengths := make([]sql.NullInt64, len(cols))
	dest := make([]any, 0, 2*len(cols))
	for i := range vals {
		dest = append(dest, &vals[i], &lengths[i])
	}
	if err := conn.QueryRowContext(ctx, "SELECT "+strings.Join(reads, ", ")+" FROM "+stampsComputed).Scan(dest...); err != nil {
		return nil, nil, fmt.Errorf("read the defaults of the new columns %s: %w", list, err)
	}
	var kept []schema.Column
	var stamps []schema.Stamp
	for i, c := range cols {
		s := schema.Stamp{Column: c.Name, Value: "NULL"}
		switch {
		case vals[i].Valid:
			b, err := hex.DecodeString(vals[i].String)
			if err != nil {
				return nil, nil, fmt.Errorf("read the default of the new column %s: %w", names[i], err)
			}
			s.Value, s.Bytes = "X'"+vals[i].String+"'", append([]byte{}, b...) // empty, not NULL
		case lengths[i].Valid:
			r.log.Warn("a new column's default is longer than tailor writes as one value; the server computes it for each row, in tailor's sessions' time zone",
				"column", c.Name, "bytes", lengths[i].Int64, "limit", schema.MaxStampBytes)
			continue
		}
		kept, stamps = append(kept, c), append(stamps, s)
	}
	return kept, stamps, nil
}

// checkStamps writes stamps into cols of stampsWritten as the copy writes
// them, in this session's strict mode and SessionZone, and compares them
// with the values computed (as values and as bytes): a value the copy
// cannot write as the server stored it (an ENUM's error value, a number
// out of range) is refused.
func checkStamps(ctx context.Context, conn *sql.Conn, cols []schema.Column, stamps []schema.Stamp) error {
	defs, names, values, same := make([]string, len(cols)), make([]string, len(cols)), make([]string, len(cols)), make([]string, len(cols))
	for i, c := range cols {
		col := mysql.QuoteIdent(c.Name)
		defs[i], names[i], values[i] = stampDefinition(c), col, stamps[i].Value
		same[i] = "(a." + col + " <=> b." + col + " AND CAST(a." + col + " AS BINARY) <=> CAST(b." + col + " AS BINARY))"
	}
	list := strings.Join(names, ", ")
	if _, err := conn.ExecContext(ctx, "CREATE TEMPORARY TABLE "+stampsWritten+" ("+strings.Join(defs, ", ")+") ENGINE=InnoDB"); err != nil {
		return fmt.Errorf("check the defaults of the new columns %s: %w", list, err)
	}
	var warnings int
	_, err := conn.ExecContext(ctx, "INSERT INTO "+stampsWritten+" ("+list+") VALUES ("+strings.Join(values, ", ")+")")
	if err == nil {
		err = conn.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings)
	}
	flags := make([]bool, len(cols))
	dest := make([]any, len(cols))
	for i := range flags {
		dest[i] = &flags[i]
	}
	if err == nil && warnings == 0 {
		err = conn.QueryRowContext(ctx, "SELECT "+strings.Join(same, ", ")+" FROM "+stampsComputed+" a, "+stampsWritten+" b").Scan(dest...)
	}
	switch {
	case err != nil && mysql.ErrorNumber(err) == 0:
		return fmt.Errorf("check the defaults of the new columns %s: %w", list, err)
	case err != nil || warnings > 0:
		why := fmt.Sprintf("%d warnings", warnings)
		if err != nil {
			why = serverMessage(err)
		}
		shown := make([]string, len(values))
		for i, v := range values {
			shown[i] = shownStamp(v)
		}
		return invalid(fmt.Errorf("the defaults of the new columns %s give values here (%s) that tailor cannot write into the rows it copies as the server stores them (%s); add the columns in an ALTER of their own, or with literal defaults", list, strings.Join(shown, ", "), why))
	}
	for i, c := range cols {
		if !flags[i] {
			return invalid(fmt.Errorf("the default of the new column %s, %s, gives a value here (%s) that tailor cannot write into the rows it copies as the server stores it; add the column in an ALTER of its own, or with a literal default", names[i], c.Default, shownStamp(stamps[i].Value)))
		}
	}
	return nil
}

// shownStamp is a stamp's literal cut for a log line or a message.
func shownStamp(v string) string {
	if len(v) > 80 {
		return v[:80] + "...'"
	}
	return v
}
