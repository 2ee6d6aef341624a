// Package versioned runs a folder of versioned migration files (package
// migfiles) against one database, the way tailor migrate does: it works out
// which files are pending against the history (package history), checks
// that the folder and the history agree, plans every pending statement, and
// applies them in order, each by the safest means tailor has:
//
//   - ALTER TABLE, CREATE INDEX and DROP INDEX go through the same planner
//     and engine as tailor alter (package migrate): INSTANT natively where
//     the planner says so, else an online copy with its checks, throttle,
//     control socket, hooks, checksum and cut-over;
//   - CREATE TABLE, views, routines, triggers, grants and other DDL run
//     directly, as written;
//   - an UPDATE or DELETE runs directly when EXPLAIN estimates it touches at
//     most Config.MaxDirectRows rows, and is refused otherwise, with the
//     advice to mark it "-- tailor:backfill", which runs it as tailor
//     backfill does (package backfill): in short, throttled, resumable
//     batches;
//   - a statement that destroys data (DROP TABLE, DROP COLUMN, TRUNCATE)
//     runs only with Config.AllowDestructive or its own
//     "-- tailor:allow-destructive" directive.
//
// Every statement's result is recorded in the history as it completes,
// because MySQL and MariaDB DDL is not transactional: a file that failed on
// its third statement has run its first two for good, and the next run
// continues at the third.
//
// The package sits beside migrate, not inside it: migrate is the engine of
// one table's change, and this is the runner of a folder, which uses it.
package versioned

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/tailor-osc/tailor/internal/backfill"
	"github.com/tailor-osc/tailor/internal/history"
	"github.com/tailor-osc/tailor/internal/migfiles"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
)

// DefaultMaxDirectRows is the largest number of rows, as EXPLAIN estimates
// them, that an UPDATE or DELETE may touch and still run directly, as one
// transaction. 10,000 rows of a narrow table change in well under a second
// on a MariaDB 10.11 of 2 cores; a larger change holds its row locks, and
// lags each replica, for as long as it runs, and belongs in a backfill.
const DefaultMaxDirectRows = 10_000

// DefaultLockWait is how long a run waits for another tailor migrate of
// the same database to finish before it refuses.
const DefaultLockWait = 10 * time.Second

// Config is everything a run of a folder needs.
type Config struct {
	Conn     mysql.ConnConfig
	Database string
	// Dir is the folder of migration files.
	Dir fs.FS
	// DirName is how the folder is named in messages (the --dir given).
	DirName string
	// Execute makes the changes; Apply without it plans and describes.
	Execute bool
	// AllowDestructive lets every statement that destroys data run, as the
	// "-- tailor:allow-destructive" directive lets one.
	AllowDestructive bool
	// OutOfOrder lets a pending versioned file older than the newest
	// applied one run, instead of being an error.
	OutOfOrder bool
	// MaxDirectRows is the most rows an UPDATE or DELETE without the
	// backfill directive may touch (EXPLAIN's estimate); zero means
	// DefaultMaxDirectRows.
	MaxDirectRows int64
	// Resume continues an online ALTER that a failed run left resumable
	// (migrate.KindResumable), from its saved state.
	Resume bool
	// LockWait is how long Apply waits for another run on the database to
	// release its lock; zero means DefaultLockWait, negative not at all.
	LockWait time.Duration
	// Alter is the template of every online ALTER's configuration: chunk
	// size, throttle, control socket, hooks, cut-over. Conn, Database,
	// Table, Alter, Execute, Resume and Logger are set per statement.
	Alter migrate.Config
	// Backfill is the template of every backfill's configuration (chunk
	// size, throttle, control, hooks); its statement fields are set per
	// statement.
	Backfill backfill.Config
	Logger   *slog.Logger
}

// Validate checks c before anything connects.
func (c *Config) Validate() error {
	var errs []error
	if c.Database == "" {
		errs = append(errs, errors.New("--database is required"))
	}
	if c.MaxDirectRows < 0 {
		errs = append(errs, fmt.Errorf("--max-direct-rows must not be negative, not %d", c.MaxDirectRows))
	}
	return errors.Join(errs...)
}

func (c *Config) defaults() {
	if c.MaxDirectRows == 0 {
		c.MaxDirectRows = DefaultMaxDirectRows
	}
	if c.LockWait == 0 {
		c.LockWait = DefaultLockWait
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.DirName == "" {
		c.DirName = "the migrations folder"
	}
}

// Runner runs one command (Plan, Apply, Status, Validate, History) on a
// folder; each method connects and disconnects.
type Runner struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and returns a Runner.
func New(cfg Config) (*Runner, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, invalid(err)
	}
	return &Runner{cfg: cfg, log: cfg.Logger.With("database", cfg.Database)}, nil
}

func invalid(err error) error { return &migrate.Error{Kind: migrate.KindInvalid, Err: err} }

// session is one connection to the server and what was read through it.
type session struct {
	db     *sql.DB
	server mysql.Server
}

func (r *Runner) connect(ctx context.Context) (*session, error) {
	conn := r.cfg.Conn
	conn.Database = r.cfg.Database
	db, err := mysql.Open(ctx, conn)
	if err != nil {
		if mysql.ErrorNumber(err) == errBadDB {
			return nil, invalid(fmt.Errorf("database %s does not exist; create it first (tailor migrate does not create the database it migrates)", mysql.QuoteIdent(r.cfg.Database)))
		}
		return nil, migrate.ConnectError(ctx, conn, err)
	}
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &session{db: db, server: server}, nil
}

// errBadDB is the server's "Unknown database" (ER_BAD_DB_ERROR).
const errBadDB = 1049

// readFolder reads and classifies the folder's files.
func (r *Runner) readFolder() ([]*migfiles.File, error) {
	if r.cfg.Dir == nil {
		return nil, invalid(errors.New("--dir is required: the folder of migration files"))
	}
	files, err := migfiles.Read(r.cfg.Dir)
	if err != nil {
		return nil, invalid(fmt.Errorf("%s: %w", r.cfg.DirName, err))
	}
	return files, nil
}

// readHistory lists the history without creating its table: planning and
// status change nothing, so a database never migrated has an empty
// history.
func readHistory(ctx context.Context, db *sql.DB, database string) ([]history.Entry, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", database, history.TableName).Scan(&n)
	if err != nil {
		return nil, fmt.Errorf("look for the history table: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	store, err := history.Open(ctx, db, database)
	if err != nil {
		return nil, err
	}
	return store.List(ctx)
}

// discard closes a connection taken from a pool for a session of its own
// and keeps it out of the pool: its session settings (a default database
// since dropped, sql_log_bin, sql_mode, a migration file's SET) must not
// reach the pool's next user, which Conn.Close would hand it to.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}
