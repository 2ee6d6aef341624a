// Package verify checks, before the cut-over, that the shadow holds the same
// rows as the original on the copied columns: it compares checksums of key
// ranges of both tables, read in one consistent snapshot, re-copies a range
// that differs, and fails, naming the rows, when re-copying does not mend it.
//
// # Why both tables are equal in the snapshot when the copy is right
//
// While the verify runs, the application keeps writing the original and the
// applier keeps writing those changes into the shadow, a little behind; two
// reads at different moments never agree on a busy table. So both tables are
// read in one InnoDB read view, created at a moment when the shadow has
// every change the original has:
//
//  1. LOCK TABLES t READ, on a dedicated connection. It is granted once no
//     transaction holds an uncommitted write to t (it waits for their
//     metadata locks, which are released only after commit), and from then
//     until UNLOCK no write to t can begin. Readers are not blocked.
//  2. CatchUp. A transaction is written to the binary log before the engine
//     commits it (two-phase commit) and releases its metadata locks after,
//     so every change committed to t lies before the binary log position
//     CatchUp reads now; when it returns, the applier has committed all of
//     them to the shadow, and no new change to t can commit.
//  3. START TRANSACTION WITH CONSISTENT SNAPSHOT (REPEATABLE READ), on
//     each snapshot connection, creates a read view at once (a plain START
//     TRANSACTION would create it at the first read, after the UNLOCK). It
//     sees the original as of the lock and the shadow with all its changes;
//     nothing commits to either table until the UNLOCK, so every
//     connection's read view sees the same state of both.
//  4. UNLOCK TABLES. Writes flow again; the snapshots see none of them in
//     either table.
//
// In that read view, if the copy and the applier are right, the tables are
// equal on the copied columns, for every read of the snapshot however long
// it lasts; a difference found there is a lost, extra or wrong row, not a
// change in flight. Chunk boundaries are found outside the snapshot, which
// costs nothing: any key can be a boundary, and the ranges cover the key
// space (see rowcopy.Chunker).
//
// The argument needs: that only the applier writes the shadow while a
// snapshot is taken (the re-copy runs between snapshots); that CatchUp reads
// the binary log position when called, not before, and keeps to its
// context's deadline; InnoDB tables (a table without transactions has no
// snapshot); and that TIMESTAMP values are converted in the copy's time zone
// (every tailor session runs in +00:00). What it does not give:
//
//   - Columns without an exact comparison across their type change (text to
//     number, for one) are left out and listed in Result.Unverified.
//   - A chunk's rows are summed, with its row count, as the exact sum of
//     CRC32 times CRC32C of each row where the server has CRC32C (MariaDB
//     10.8 and later), and as the XOR of the rows' MD5s, in two 64-bit
//     halves, elsewhere: a chance difference goes unnoticed with odds of
//     about 2^-64 per chunk with the CRCs, 2^-128 with MD5 (see
//     side.crcSumQuery). Neither is a defence against collisions crafted on
//     purpose, which would need control of both tables' bytes.
//   - MariaDB 10.11 does not queue new writers behind a LOCK TABLES ... READ
//     that is waiting (seen in testing: an INSERT went through while the
//     LOCK waited for an open transaction). Writers are then held only from
//     the grant to the UNLOCK, but a steady stream of overlapping write
//     transactions can starve the lock until its timeout, and the verify
//     fails after LockAttempts. That is a limit on progress, not on
//     correctness. MySQL's metadata lock priorities queue writers behind
//     the waiting lock instead (not tested here), for at most LockTimeout.
//
// # The snapshot's cost
//
// An open REPEATABLE READ snapshot keeps InnoDB from purging the undo log of
// every change made after it began, and each of its reads must rebuild old
// versions of the rows changed since. Both costs grow with time and write
// rate, not with the number of chunks checked, so the snapshot is renewed,
// between chunks, once it is older than SnapshotMaxAge (30s by default).
// Each renewal holds writes for a moment: the lock, the last changes'
// catch-up and the start of the transactions; the backlog is applied before
// the lock, while writes flow (holds of 0.1 to 7ms in the tests, under
// 2,000 to 13,000 writes per second).
//
// # Several sessions
//
// Key ranges are checksummed by Threads sessions at once, each in its own
// read view; the views are all created under one hold of the writers (step
// 3 on every session before the UNLOCK), so they see the same state of both
// tables, and are renewed together: once they are older than
// SnapshotMaxAge, no new range is handed out until the ranges being checked
// are done, and a new set of views is taken. Views of one moment hold back
// purge no more than one of them would; the hold is longer by a START
// TRANSACTION per session (no writes, 2 cores: about 0.1ms held with one
// session, 0.15 to 0.2ms with four).
//
// # Key ranges
//
// A range of the original's key, (lower, upper], is read from the shadow
// with the shadow's names for the key columns. That selects the same rows
// only when the shadow orders the key as the original does; when the ALTER
// changes the key's collation or its type to one that orders differently,
// the tables are compared whole, in one range and one snapshot.
//
// # During the copy
//
// Behind compares the ranges the copy has finished while it copies the
// rest, and Run, given what it compared (Config.Checked), compares only the
// ranges above it and the rows the applier changed since; see Behind for
// why that keeps the argument above, and for the one write it does not see.
//
// # A chunk that differs
//
// Once every range has been checked, each chunk that differed is copied
// again with Recopy (the Copier, which is safe beside the applier) outside
// any snapshot, and checked again in a new snapshot, up to Attempts times,
// one chunk after the other. A chunk still different fails the verify with
// a *MismatchError naming up to ten of its rows. Without Recopy, the first
// chunk found different fails it at once.
package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/schema"
)

// Defaults for the zero values of Config.
const (
	// DefaultChunkSize: checksumming costs little per row, and larger
	// ranges save round trips (MariaDB 10.11, 100,000 rows of 8 columns,
	// both tables: 0.55s in ranges of 10,000, 0.78s in ranges of 1,000).
	DefaultChunkSize = 10000
	// DefaultLockTimeout bounds one hold of the writers.
	DefaultLockTimeout  = 2 * time.Second
	DefaultLockAttempts = 5
	// DefaultSnapshotMaxAge: see "The snapshot's cost" above.
	DefaultSnapshotMaxAge = 30 * time.Second
	DefaultAttempts       = 3
	// DefaultThreads: the checksum is the server's CPU work, so sessions
	// beyond its cores gain nothing (MariaDB 10.11 on 2 cores, 1,000,000
	// rows of 4 columns, both tables: 2.9s with one session, 1.6s with
	// two, 1.7s with four).
	DefaultThreads = 2
	// MaxThreads bounds Threads: each is a connection and, while a
	// snapshot is taken, a transaction started with writes held.
	MaxThreads = 64
)

// Config describes one verify.
type Config struct {
	// DB reaches the server; its sessions must use the time zone of the
	// copy's (tailor's all use +00:00).
	DB *sql.DB
	// Mapping pairs the original's columns with the shadow's.
	Mapping *schema.Mapping
	// ChunkSize is the number of rows per checksummed key range.
	ChunkSize int
	// LockTimeout bounds how long writers to the original are held while a
	// snapshot is taken: waiting for the read lock and catching up. The
	// server's lock_wait_timeout takes whole seconds; the exact bound is
	// kept by killing the waiting LOCK TABLES.
	LockTimeout time.Duration
	// LockAttempts is how many times taking one snapshot is tried.
	LockAttempts int
	// SnapshotMaxAge is how long one snapshot is used before a new one is
	// taken (between chunks).
	SnapshotMaxAge time.Duration
	// CatchUp returns once every change committed to the original so far
	// (from the binary log position it reads when called) is applied to the
	// shadow, or when ctx ends. Nil means the shadow is kept in step by
	// other means (in the original's own transactions).
	CatchUp func(ctx context.Context) error
	// Settle, when set, is what runs before the writers are held, in place
	// of CatchUp: it brings the shadow close enough to the original that
	// the CatchUp under the hold has little left, so that the hold is
	// short.
	Settle func(ctx context.Context) error
	// Recopy copies a chunk of the original into the shadow again. Nil means
	// a chunk that differs fails the verify at once.
	Recopy func(ctx context.Context, c rowcopy.Chunk) error
	// Attempts is how many times one chunk is copied again before the
	// verify gives up.
	Attempts int
	// Threads is the number of sessions that checksum key ranges at once,
	// each in a snapshot of its own taken under the same hold of the
	// writers.
	Threads int
	// Server chooses the row checksum (CRC32C where the server has it);
	// the zero value means Run asks the server.
	Server mysql.Server
	// Logger receives progress; the caller is expected to have added the
	// table to it. Nil discards.
	Logger *slog.Logger
	// Checked, when set, is what Behind checked while the table was being
	// copied: Run then checks only the key ranges above it, and the rows
	// of its Recheck keys.
	Checked *Checked
	// Progress, when set, is called after each chunk of the pass is
	// checked with the chunks and the original's rows checked so far, for
	// a status to show. It is called from the checking goroutines, so it
	// must be quick and safe for concurrent use.
	Progress func(chunks int, rows int64)
	// Gate, when set, lets each chunk of the pass be checked: it holds
	// the sessions back while the application's commits are slow, as it
	// does the copy (package migrate). Nil checks with every session.
	Gate Gate
}

// Gate runs work when it lets it, and may then rest before it returns;
// work returns how long it kept the server busy, which a resting gate
// rests as long.
type Gate interface {
	Do(ctx context.Context, work func(context.Context) (busy time.Duration, err error)) error
}

func (c Config) withDefaults() Config {
	if c.ChunkSize == 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.LockTimeout == 0 {
		c.LockTimeout = DefaultLockTimeout
	}
	if c.LockAttempts == 0 {
		c.LockAttempts = DefaultLockAttempts
	}
	if c.SnapshotMaxAge == 0 {
		c.SnapshotMaxAge = DefaultSnapshotMaxAge
	}
	if c.Attempts == 0 {
		c.Attempts = DefaultAttempts
	}
	if c.Threads == 0 {
		c.Threads = DefaultThreads
	}
	if c.Recopy == nil {
		c.Attempts = 0
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// Validate reports a Config that cannot describe a verify. Zero values are
// valid: they stand for the defaults.
func (c Config) Validate() error {
	switch {
	case c.DB == nil:
		return errors.New("verify: no database")
	case c.Mapping == nil || c.Mapping.Source == nil || c.Mapping.Shadow == nil || len(c.Mapping.Key) == 0:
		return errors.New("verify: no complete column mapping")
	case c.ChunkSize < 0, c.LockAttempts < 0, c.Attempts < 0:
		return fmt.Errorf("verify: negative chunk size (%d), lock attempts (%d) or attempts (%d)", c.ChunkSize, c.LockAttempts, c.Attempts)
	case c.Threads < 0 || c.Threads > MaxThreads:
		return fmt.Errorf("verify: threads must be between 1 and %d, not %d", MaxThreads, c.Threads)
	case c.LockTimeout < 0, c.SnapshotMaxAge < 0:
		return fmt.Errorf("verify: negative lock timeout (%s) or snapshot age (%s)", c.LockTimeout, c.SnapshotMaxAge)
	case c.Settle != nil && c.CatchUp == nil:
		// The hold would then catch nothing up.
		return errors.New("verify: a Settle without a CatchUp")
	}
	return nil
}

// Checked is the part of the tables Behind compared during the copy.
type Checked struct {
	// UpTo is the key up to which (included) every range was compared;
	// nil means the whole key space.
	UpTo []any
	// Recheck returns the keys the applier has written to the shadow since
	// before the first check (values from the binary log's row images), or
	// false when there were too many to keep: the whole table is then
	// compared. It is called with the snapshot of their comparison open;
	// nil means no key changed.
	Recheck func() ([][]any, bool)
}

// Result is what a verify found and what it cost.
type Result struct {
	// Chunks and Rows are the key ranges checked and the original's rows in
	// them.
	Chunks int
	Rows   int64
	// Mended is the number of chunks that differed and were equal once
	// copied again.
	Mended int
	// Snapshots is the number of snapshots taken; WritesHeld the total time
	// writers to the original were held for them, failed attempts included,
	// and MaxWritesHeld the longest single hold (each from the LOCK TABLES
	// request to the UNLOCK).
	Snapshots     int
	WritesHeld    time.Duration
	MaxWritesHeld time.Duration
	// Rechecked is the number of keys compared again (Config.Checked).
	Rechecked int64
	// Unverified lists the copied columns left out of the checksum.
	Unverified []Unverified
	// Elapsed is the verify's duration.
	Elapsed time.Duration
}

// MismatchError is a chunk that still differs after Attempts re-copies.
type MismatchError struct {
	// Table is the original, quoted.
	Table string
	Chunk rowcopy.Chunk
	// Recopies is how many times the chunk was copied again.
	Recopies int
	// KeyCols are the original's names of the key columns.
	KeyCols []string
	// Rows are up to ten rows that differ.
	Rows []RowDiff
}

func (e *MismatchError) Error() string {
	found := "the rows could not be located"
	if len(e.Rows) > 0 {
		found = describe(e.KeyCols, e.Rows)
	}
	if e.Recopies == 0 {
		return fmt.Sprintf("the new table differs from %s in key range %s (%s)", e.Table, e.Chunk, found)
	}
	return fmt.Sprintf("the new table differs from %s in key range %s even after copying it again %d times (%s)",
		e.Table, e.Chunk, e.Recopies, found)
}

// Run checks every key range of the original against the shadow (those
// above Config.Checked, and its keys, when set). It returns a
// *MismatchError for a range that re-copying cannot mend.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	start := time.Now()
	v, err := newVerifier(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	cfg, p, log := v.cfg, v.plan, v.cfg.Logger
	res.Unverified = p.unverified
	for _, u := range p.unverified {
		log.Warn("column not verified", "column", u.Old, "new_column", u.New, "reason", u.Reason)
	}
	defer func() {
		v.snap.close()
		res.Snapshots, res.WritesHeld, res.MaxWritesHeld = v.snap.count, v.snap.held, v.snap.maxHeld
		res.Elapsed = time.Since(start)
	}()
	next, threads := rowcopy.NewChunker(cfg.DB, cfg.Mapping, cfg.ChunkSize).Next, cfg.Threads
	checked := cfg.Checked
	switch {
	case !p.byChunks:
		log.Warn("comparing the tables whole, in one snapshot", "reason", p.whole)
		next, threads, checked = wholeTable(), 1, nil
	case checked != nil && checked.UpTo == nil:
		next = noChunks
	case checked != nil:
		next = rowcopy.NewChunkerIn(cfg.DB, cfg.Mapping, cfg.ChunkSize, checked.UpTo, nil).Next
	}
	if err := v.check(ctx, next, threads, &res); err != nil {
		return res, err
	}
	if checked != nil && checked.Recheck != nil {
		err := v.recheck(ctx, checked.Recheck, &res)
		if errors.Is(err, errRecheck) {
			log.Warn("comparing the whole table: what was compared during the copy cannot be relied on", "reason", err.Error())
			if err = v.snap.end(ctx); err == nil {
				err = v.check(ctx, rowcopy.NewChunker(cfg.DB, cfg.Mapping, cfg.ChunkSize).Next, threads, &res)
			}
		}
		if err != nil {
			return res, err
		}
	}
	log.Info("verified the new table", "chunks", res.Chunks, "rows", res.Rows, "rechecked", res.Rechecked, "mended", res.Mended,
		"threads", threads, "snapshots", v.snap.count, "writes_held_max", v.snap.maxHeld.Round(time.Microsecond).String(),
		"elapsed", time.Since(start).Round(time.Millisecond).String())
	return res, nil
}

// newVerifier checks cfg and the tables, and plans their checksums.
func newVerifier(ctx context.Context, cfg Config) (*verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	for _, tbl := range []*schema.Table{cfg.Mapping.Source, cfg.Mapping.Shadow} {
		// Without transactions there is no snapshot, and reads after the
		// UNLOCK would see the tables at different moments.
		if tbl.Engine != "" && !strings.EqualFold(tbl.Engine, "InnoDB") {
			return nil, fmt.Errorf("cannot verify %s because its engine %s has no consistent snapshot", tbl.Name, tbl.Engine)
		}
	}
	if cfg.Server == (mysql.Server{}) {
		var err error
		if cfg.Server, err = mysql.DetectServer(ctx, cfg.DB); err != nil {
			return nil, err
		}
	}
	p, err := newPlan(cfg.Mapping, cfg.Server.HasCRC32C())
	if err != nil {
		return nil, err
	}
	return &verifier{cfg: cfg, plan: p, snap: &snapshotter{db: cfg.DB, table: p.orig.table, cfg: cfg, log: cfg.Logger}}, nil
}

// check checks the chunks next hands out, and mends those that differ.
func (v *verifier) check(ctx context.Context, next func(context.Context) (rowcopy.Chunk, bool, error), threads int, res *Result) error {
	var pass Result
	differ, err := v.pass(ctx, next, threads, &pass)
	res.Chunks += pass.Chunks
	res.Rows += pass.Rows
	if err != nil {
		return err
	}
	for _, d := range differ {
		rows, err := v.mend(ctx, d)
		if err != nil {
			return err
		}
		res.Chunks++
		res.Rows += int64(rows)
		res.Mended++
	}
	return nil
}

// noChunks hands out no chunk.
func noChunks(context.Context) (rowcopy.Chunk, bool, error) { return rowcopy.Chunk{}, false, nil }

// wholeTable hands out one chunk without bounds.
func wholeTable() func(context.Context) (rowcopy.Chunk, bool, error) {
	done := false
	return func(context.Context) (rowcopy.Chunk, bool, error) {
		if done {
			return rowcopy.Chunk{}, false, nil
		}
		done = true
		return rowcopy.Chunk{Seq: 1}, true, nil
	}
}

type verifier struct {
	cfg  Config
	plan *plan
	snap *snapshotter
}

// describe lists rows as "id=5 missing, id=7 different".
func describe(keyCols []string, diffs []RowDiff) string {
	rows := make([]string, len(diffs))
	for j, r := range diffs {
		parts := make([]string, len(keyCols))
		for i, c := range keyCols {
			parts[i] = fmt.Sprintf("%s=%v", c, rowcopy.Printable(r.Key[i]))
		}
		rows[j] = strings.Join(parts, " ") + " " + r.Kind.String()
	}
	return strings.Join(rows, ", ")
}
