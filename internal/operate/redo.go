package operate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/throttle"
)

// DefaultMaxRedoFill is how full InnoDB's redo log may be, as a fraction
// of Innodb_checkpoint_max_age, before the next batch of a backfill or
// chunk of a copy waits for the server to flush.
//
// When the checkpoint age (the redo written since the oldest change not
// yet flushed to the tablespace) reaches Innodb_checkpoint_max_age, InnoDB
// makes every writing session wait while it flushes pages: the whole
// server stalls, not only the rows a batch holds. A backfill writes redo
// far faster than a paced application: filling a NULL CHAR(120) column of
// a sysbench table wrote about 1.3 KB of redo per row (the rows grow, so
// pages split), some 130 MB/s at 20 ms batches. Measured on MariaDB
// 10.11.19 with a 1 GB redo log (Innodb_checkpoint_max_age 869 MB) and the
// default innodb_io_capacity (200) and innodb_io_capacity_max (2000), the
// log filled within a few seconds, and from then on every application write
// stalled 30 to 110 ms about twice a second, 270 to 555 ms at worst,
// whatever the batch size.
//
// Above 7/8 of Innodb_checkpoint_max_age InnoDB flushes in the background
// without making anyone wait, but only down to 7/8, about once a second;
// below it, with the default innodb_max_dirty_pages_pct_lwm of 0, MariaDB
// 10.11 flushed nothing at all for minutes, so a limit under 7/8 could wait
// for ever. A waiting backfill therefore gains, each second, the room
// between 7/8 and its limit: at 90% (2.5% of the limit a second) 1,000,000
// rows took 74-78 s against 9 s when stalling the server (and at 93%, on a
// sandbox with innodb_flush_log_at_trx_commit=2, 41 s).
// 96% gains 8.5% a second and still leaves 4%, about 270 ms of batches at
// 130 MB/s, before the stalling limit.
const DefaultMaxRedoFill = 0.96

// The pace of RedoGate: how old a reading of the checkpoint age may be
// before a batch reads it again (at 130 MB/s of redo, 50 ms is 0.75% of an
// 869 MB limit), and the longest a batch waits before it goes anyway: a
// server whose page cleaner does not flush at that fill must not stop the
// backfill altogether.
const (
	redoPoll    = 50 * time.Millisecond
	redoMaxWait = 5 * time.Second
)

// RedoGate holds writes (a backfill's batches, a copy's chunks) back while
// InnoDB's redo log is fuller than maxFill of Innodb_checkpoint_max_age.
// The server reports the age as Innodb_checkpoint_age (MariaDB, Percona
// Server); on one that does not, every write goes. It is safe for
// concurrent use: the copy's workers wait one after the other, each reading
// a fill at most poll old.
type RedoGate struct {
	log     *slog.Logger
	read    func(context.Context) (float64, error)
	maxFill float64
	poll    time.Duration
	maxWait time.Duration
	// othersWrite, when set, says whether sessions other than the gate's
	// caller may be writing now; while it says no, nothing waits (see
	// NewRedoGate).
	othersWrite func() bool

	// mu serializes Wait, and guards these.
	mu   sync.Mutex
	off  bool
	told bool
	// toldAlone is told for the writes that go with no other session's
	// to protect.
	toldAlone bool
	readAt    time.Time
	fill      float64
	// waiting is the fill a batch waits on (math.Float64bits), 0 while
	// none waits, for the status.
	waiting atomic.Uint64
}

// NewRedoGate is a gate that reads the fill with read (ReadRedoFill).
//
// othersWrite, when not nil, says whether sessions other than the caller's
// may be writing now; while it says no, writes go whatever the fill. The
// wait protects other sessions' writes from InnoDB's stall at the limit;
// with none, it only slows the caller (a 10,000,000-row copy on an idle
// server went on at about 140,000 rows a second waiting at the limit, at
// 155,000 to 240,000 without waiting: its copy took 57 s against 45-48 s).
// The price: a write of another session that comes while the log is at the
// limit waits for InnoDB's flush, and the gate holds the caller again only
// while othersWrite says so, so an application that writes less often
// than othersWrite looks back may meet the stall each time; and a writer
// othersWrite cannot see is not protected. nil waits for every writer, as
// a caller that cannot tell must.
func NewRedoGate(read func(context.Context) (float64, error), maxFill float64, othersWrite func() bool, log *slog.Logger) *RedoGate {
	return &RedoGate{log: log, read: read, maxFill: maxFill, othersWrite: othersWrite, poll: redoPoll, maxWait: redoMaxWait}
}

// ErrNoCheckpointAge is a server that does not report the checkpoint age
// (MySQL).
var ErrNoCheckpointAge = errors.New("the server reports no Innodb_checkpoint_age")

// Wait returns once the redo log is at most maxFill full, or after
// maxWait. A maxFill of 1 or more never waits.
func (g *RedoGate) Wait(ctx context.Context) error {
	if g == nil || g.maxFill >= 1 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.off {
		return nil
	}
	var since time.Time
	for {
		if time.Since(g.readAt) >= g.poll {
			fill, err := g.read(ctx)
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, ErrNoCheckpointAge):
				g.off = true
				g.log.Info("the server does not report InnoDB's checkpoint age; writes do not wait for its redo log")
				return nil
			case err != nil:
				// The write goes on, and finds out about a lost
				// connection itself; the next one reads again.
				g.log.Warn("could not read InnoDB's checkpoint age", "err", err)
				return nil
			}
			g.fill, g.readAt = fill, time.Now()
		}
		waited := time.Duration(0)
		if !since.IsZero() {
			waited = time.Since(since)
		}
		switch {
		case g.fill <= g.maxFill:
			if !since.IsZero() {
				g.waiting.Store(0)
				g.log.Debug("InnoDB flushed its redo log; writes go on", "redo_fill_pct", percent(g.fill), "waited_ms", waited.Milliseconds())
			}
			return nil
		case g.othersWrite != nil && !g.othersWrite():
			g.waiting.Store(0)
			if !g.toldAlone {
				// Once a run: this holds for every chunk of an idle
				// copy once the log is full.
				g.toldAlone = true
				g.log.Info("InnoDB's redo log is nearly full, but no other session writes: writes do not wait for it to flush (until another session writes)",
					"redo_fill_pct", percent(g.fill), "max_pct", percent(g.maxFill))
			}
			return nil
		case waited >= g.maxWait:
			g.waiting.Store(0)
			g.log.Warn("InnoDB's redo log stays fuller than --max-redo-fill; one write goes anyway (raise innodb_io_capacity_max, or --max-redo-fill)",
				"redo_fill_pct", percent(g.fill), "max_pct", percent(g.maxFill), "waited_ms", waited.Milliseconds())
			g.readAt = time.Time{}
			return nil
		case since.IsZero():
			since = time.Now()
			g.waiting.Store(math.Float64bits(g.fill))
			msg := "InnoDB's redo log is nearly full; writes wait for it to flush"
			if !g.told {
				// Said once a run; it recurs as long as the run
				// writes faster than the server flushes.
				g.told = true
				g.log.Info(msg+" (whenever it is fuller than --max-redo-fill)", "redo_fill_pct", percent(g.fill), "max_pct", percent(g.maxFill))
			} else {
				g.log.Debug(msg, "redo_fill_pct", percent(g.fill), "max_pct", percent(g.maxFill))
			}
		}
		if err := mysql.Backoff(ctx, time.Until(g.readAt.Add(g.poll))); err != nil {
			return err
		}
	}
}

// Reason is the status's throttle reason while a batch waits, or "".
func (g *RedoGate) Reason() string {
	if g == nil {
		return ""
	}
	bits := g.waiting.Load()
	if bits == 0 {
		return ""
	}
	return fmt.Sprintf("InnoDB redo log %.1f%% full > --max-redo-fill %.0f%%: waiting for the server to flush", percent(math.Float64frombits(bits)), percent(g.maxFill))
}

// ReadRedoFill is Innodb_checkpoint_age over Innodb_checkpoint_max_age.
func ReadRedoFill(ctx context.Context, db *sql.DB) (float64, error) {
	status, _, err := throttle.ReadStatus(ctx, db, []string{"Innodb_checkpoint_age", "Innodb_checkpoint_max_age"})
	if err != nil {
		return 0, err
	}
	return redoFill(status)
}

// redoFill is the fill the status variables (keyed by lower-cased name,
// as throttle.ReadStatus reads them) say; ErrNoCheckpointAge when they are
// missing (MySQL has neither).
func redoFill(status map[string]int64) (float64, error) {
	age, ok1 := status["innodb_checkpoint_age"]
	maxAge, ok2 := status["innodb_checkpoint_max_age"]
	if !ok1 || !ok2 || maxAge <= 0 {
		return 0, ErrNoCheckpointAge
	}
	return float64(age) / float64(maxAge), nil
}

func percent(f float64) float64 { return math.Round(f*1000) / 10 }
