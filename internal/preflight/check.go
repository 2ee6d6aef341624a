// Package preflight runs the checks that decide whether a change may start:
// the server's binary log and privileges, the table's key, foreign keys and
// triggers, data that a new unique key or a narrower type would lose, long
// transactions that would block the change, and the replicas' lag. The
// checks only read; `tailor plan` prints them, and `tailor alter --execute`
// runs them before it creates anything.
package preflight

import (
	"context"
	"database/sql"
	"time"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// Status is a check's verdict.
type Status string

// The verdicts, from good to bad.
const (
	// Pass: nothing to worry about.
	Pass Status = "pass"
	// Warn: the change may go ahead, but read the message.
	Warn Status = "warn"
	// Fail: tailor refuses to make the change as asked.
	Fail Status = "fail"
)

// Check is the outcome of one check.
type Check struct {
	// Name identifies the check; it is stable, for automation (see the
	// Check names below).
	Name string `json:"name"`
	// Status is the verdict.
	Status Status `json:"status"`
	// Message is one sentence: what was found, and for a warning or a
	// failure what to do about it.
	Message string `json:"message"`
	// Details are the evidence, one item a line: duplicate values, rows
	// that would change, sessions that hold locks.
	Details []string `json:"details,omitempty"`
}

// The names of the checks.
const (
	CheckBinlog           = "binlog"
	CheckPrivileges       = "privileges"
	CheckCopyKey          = "copy-key"
	CheckForeignKeys      = "foreign-keys"
	CheckTriggers         = "triggers"
	CheckUniqueDuplicates = "unique-duplicates"
	CheckNarrowing        = "narrowing"
	CheckLongTransactions = "long-transactions"
	CheckReplicas         = "replicas"
)

// Input is what the checks look at.
type Input struct {
	DB     *sql.DB
	Server mysql.Server
	// Conn is how DB was opened; the replicas check reaches replicas with
	// the same user and password.
	Conn     mysql.ConnConfig
	Database string
	Table    string
	// Alter is the parsed change.
	Alter *ddl.Alter
	// Source is the table as it is now.
	Source *schema.Table
	// Target is the table's definition after the change, read from an empty
	// clone the change was applied to.
	Target *schema.Table
	// Columns are the columns whose values carry over, as (name in Source,
	// name in Target) pairs: ddl.Alter.CopiedColumns.
	Columns [][2]string
	// Copy is true when the change will be made by copying the rows into a
	// shadow table and swapping it in (the checks of the binary log, the
	// copy key, foreign keys and triggers apply only then); false for a
	// native change the server makes in place.
	Copy bool
	// RecreateTriggers is the user's consent to have the table's triggers
	// recreated on the new table at the cut-over.
	RecreateTriggers bool
	// LongTransaction is the age from which an open transaction is
	// reported; zero means DefaultLongTransaction.
	LongTransaction time.Duration
	// TimeZone is the time zone in which the copy converts a value
	// between a TIMESTAMP and another type (schema.Mapping.TimeZone):
	// the narrowing check converts and compares in it. TimeZoneIsUTC
	// says its clock is UTC's.
	TimeZone      string
	TimeZoneIsUTC bool
}

// DefaultLongTransaction is the age from which an open transaction is
// reported when Input leaves it zero.
const DefaultLongTransaction = 10 * time.Second

// Run runs every check and returns them in a fixed order. An error means a
// check could not be run at all (the connection failed); what a check
// cannot see (a privilege it lacks) is a warning in its result instead.
func Run(ctx context.Context, in Input) ([]Check, error) {
	server, err := ServerChecks(ctx, in)
	if err != nil {
		return nil, err
	}
	data, err := DataChecks(ctx, in)
	if err != nil {
		return nil, err
	}
	return append(server, data...), nil
}

// Failed returns the failed checks.
func Failed(checks []Check) []Check {
	var out []Check
	for _, c := range checks {
		if c.Status == Fail {
			out = append(out, c)
		}
	}
	return out
}
