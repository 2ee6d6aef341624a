// Package backfill changes the existing rows of a live table in small,
// throttled, resumable batches: the "backfill" step of an expand-contract
// schema change (tailor backfill), and batched purges.
//
// It walks a key of the table (the primary key, or a NOT NULL unique key)
// from its start to the largest key the table had when the backfill began,
// in consecutive ranges (lower, upper] found from the key, never with
// OFFSET. Each range is one short transaction:
//
//	UPDATE t SET <set> WHERE (<key range>) AND (<where>)   -- or DELETE
//
// in which the backfill's saved state (a row of StateTable) is locked,
// checked and moved to the range's upper key. A batch is therefore done and
// recorded, or neither: after a crash, a killed connection or a commit whose
// outcome was lost with its connection, the saved state says exactly which
// batches are done, and --resume continues after the last of them, so that
// even a change that is not idempotent (n = n + 1) is made once per row.
//
// Rows inserted after the backfill began, past the range, are the
// application's to write: the expand-contract playbook has it write the new
// column before the backfill starts. At the end the backfill counts the rows
// that still match the condition, so the operator sees whether it does.
//
// A batch that raises an error or a warning (a NULL into a NOT NULL column,
// a truncated value) is rolled back and the backfill stops naming the row's
// key, rather than store something else than the expression's value. The
// same is tried before anything is changed, on a sample at each end of the
// range, rolled back.
package backfill

import (
	"errors"
	"log/slog"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
)

// Config is everything one backfill needs. Defaults fills the documented
// defaults; the flags of cmd/tailor document them.
type Config struct {
	Conn     mysql.ConnConfig
	Database string
	Table    string
	// Set is the UPDATE's assignments, "col = expr, ..."; empty with
	// Delete.
	Set string
	// Where selects the rows to change; required with Delete.
	Where string
	// Delete deletes the matching rows instead of updating them.
	Delete bool
	// Key is the name of the index to walk (PRIMARY, or a unique index on
	// NOT NULL columns); empty for the primary key, or else the first
	// such unique key.
	Key string
	// Execute makes the changes; without it Run checks, samples and
	// estimates, and changes nothing.
	Execute bool
	// Resume continues the backfill the saved state says stopped; Restart
	// forgets a saved state of the same backfill and starts again.
	Resume, Restart bool
	// ResumeIfStopped continues a stopped backfill of the same statement
	// when its saved state says there is one, and starts one otherwise:
	// tailor migrate retrying a statement cannot know whether the attempt
	// that failed got as far as its first batch.
	ResumeIfStopped bool
	// Settings are the batches' size, the throttle, the redo log's limit,
	// the control endpoints, the hooks, the progress reports and the
	// reconnect timeout, as tailor alter's (package operate).
	operate.Settings
	Logger                     *slog.Logger
	testBeforeCommit           func(batch int64)
	testAfterSampleRolledBack  func()
	testDisableStillMatchCount bool
}

// Defaults fills the zero fields of c.
func (c *Config) Defaults() {
	c.Settings.Defaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks c for values that cannot work, before anything connects.
func (c *Config) Validate() error {
	var errs []error
	if c.Database == "" {
		errs = append(errs, errors.New("--database is required"))
	}
	if c.Table == "" {
		errs = append(errs, errors.New("--table is required"))
	}
	switch {
	case c.Delete && c.Set != "":
		errs = append(errs, errors.New("--delete deletes rows and takes no --set"))
	case c.Delete && c.Where == "":
		errs = append(errs, errors.New("--delete needs --where to say which rows; to empty a table, say --where \"TRUE\""))
	case !c.Delete && c.Set == "":
		errs = append(errs, errors.New("--set is required: the change to make, e.g. --set \"display_name = full_name\" (or --delete to delete rows)"))
	}
	if (c.Resume || c.ResumeIfStopped) && c.Restart {
		errs = append(errs, errors.New("--resume continues the saved backfill and --restart starts it over: give one of them"))
	}
	if err := c.Settings.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Result is what a finished (or dry) run reports.
type Result struct {
	DryRun bool
	// Statement is the backfill's statement, its key range shown as
	// "<key range>"; FirstBatch the first batch's, with its bounds.
	Statement  string
	FirstBatch string
	// Key is the index walked, and Range its first and last keys.
	Key   string
	Range [2][]any
	// Matching is the number of rows that match Where (a dry run's count).
	Matching int64
	// Estimate is a dry run's estimate of the backfill's duration,
	// unthrottled, from the sample's speed; zero when unknown.
	Estimate time.Duration
	// Done is a rerun of a backfill that had finished: nothing was done.
	Done       bool
	FinishedAt time.Time
	// RowsChanged, RowsWalked and Batches are this run's; the Before
	// ones those of the runs a Resumed backfill continues.
	RowsChanged, RowsWalked, Batches int64
	RowsChangedBefore                int64
	Resumed                          bool
	// StillMatching is the rows that match Where once the walk is done
	// (rows written since by an application that does not yet write the
	// new way); -1 when not counted (no Where, or a DELETE).
	StillMatching int64
	Elapsed       time.Duration
}
