package operate

import (
	"errors"
	"fmt"
	"time"

	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/throttle"
)

// Settings are how a long-running run is operated, the same for tailor
// alter's migration and tailor backfill (cmd/tailor's flags document
// them): the size of its chunks (a migration's copy) or batches (a
// backfill), the throttle, the redo log's limit, the control endpoints,
// the hooks, the progress reports and how long lost connections are
// retried. Both runners' Configs embed one.
type Settings struct {
	// ChunkSize is the rows of a chunk or batch; with ChunkTime set it is
	// only the first ones' size. DefaultChunkSize when zero.
	ChunkSize int
	// ChunkTime, when set, adapts the size so that a chunk or batch takes
	// about this long (and so holds its rows' locks about this long); zero
	// keeps ChunkSize fixed.
	ChunkTime time.Duration
	// Throttle holds the work back: replica lag (a heartbeat measures it),
	// the server's load, a flag file, a query (package throttle).
	Throttle throttle.Limits
	// MaxRedoFill is how full InnoDB's redo log may get, as a fraction of
	// its checkpoint age limit, before the next chunk or batch waits (at
	// most 5 s) for the server to flush: at the limit InnoDB stalls every
	// write of the server (DefaultMaxRedoFill says why). 1 never waits;
	// zero is DefaultMaxRedoFill.
	MaxRedoFill float64
	// ControlSocket is the unix socket (mode 0600) that answers status and
	// control commands while the run works; empty means the default path
	// (migrate.DefaultControlSocket).
	ControlSocket string
	// HTTPAddr, when set, also serves the status as JSON, the commands and
	// Prometheus metrics over HTTP on this loopback address.
	HTTPAddr string
	// HooksPath is a directory of executables run at the run's moments
	// (package hooks); empty for none.
	HooksPath string
	// ProgressInterval is how often progress is reported;
	// DefaultProgressInterval when zero.
	ProgressInterval time.Duration
	// QuietProgress leaves the progress lines out of the log, for a caller
	// that draws the progress itself (a terminal's progress bar).
	QuietProgress bool
	// ReconnectTimeout is how long work whose connection to the server was
	// lost (a killed session, a network cut, a server restart) is retried
	// before the run gives up; DefaultReconnectTimeout when zero.
	ReconnectTimeout time.Duration
}

// DefaultChunkSize is the rows of a chunk or batch unless Settings say.
const DefaultChunkSize = 1000

// DefaultChunkTime is the target time per chunk or batch of the command
// line's adaptive size (Settings leave ChunkTime zero: a fixed size). A
// chunk holds its rows' shared locks that long, a batch the locks of the
// rows it changes, and under load one can take several times its target,
// so the target stays well below the 100 ms a write should ever wait
// (MariaDB 10.11, 2 cores, 300 writes/s, 1,000,000 rows: with 50 ms chunks
// one of nine copies had a write stall of 113 ms, with 20 ms chunks five
// copies 15 ms at most, at the same speed within noise; see
// docs/benchmarks.md).
const DefaultChunkTime = 20 * time.Millisecond

// The bounds of an adaptive chunk or batch size, in rows.
const (
	MinChunkRows = 100
	MaxChunkRows = 50_000
)

// DefaultProgressInterval is how often progress is reported unless
// Settings say.
const DefaultProgressInterval = 5 * time.Second

// DefaultReconnectTimeout is how long a run waits out a server it lost its
// connections to: a MariaDB restart with a warm buffer pool takes seconds,
// one that recovers a large redo log longer.
const DefaultReconnectTimeout = time.Minute

// Defaults fills the zero fields of s.
func (s *Settings) Defaults() {
	if s.ChunkSize == 0 {
		s.ChunkSize = DefaultChunkSize
	}
	s.Throttle.Defaults()
	if s.MaxRedoFill == 0 {
		s.MaxRedoFill = DefaultMaxRedoFill
	}
	if s.ProgressInterval == 0 {
		s.ProgressInterval = DefaultProgressInterval
	}
	if s.ReconnectTimeout == 0 {
		s.ReconnectTimeout = DefaultReconnectTimeout
	}
}

// Validate says, in the flags' words, what in s cannot work.
func (s Settings) Validate() error {
	var errs []error
	if s.ChunkSize < 1 || s.ChunkSize > control.MaxChunkSize {
		errs = append(errs, fmt.Errorf("--chunk-size must be between 1 and %d, not %d", control.MaxChunkSize, s.ChunkSize))
	}
	if s.ChunkTime < 0 || s.ChunkTime > time.Minute {
		errs = append(errs, fmt.Errorf("--chunk-time must be between 0 and 1m, not %s", s.ChunkTime))
	}
	if s.MaxRedoFill < 0 || s.MaxRedoFill > 1 {
		errs = append(errs, fmt.Errorf("--max-redo-fill must be between 1 and 100 (percent), not %g", s.MaxRedoFill*100))
	}
	if err := s.Throttle.Validate(); err != nil {
		errs = append(errs, err)
	}
	if s.ProgressInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("--progress-interval must be at least 100ms, not %v", s.ProgressInterval))
	}
	if s.ReconnectTimeout < time.Second || s.ReconnectTimeout > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--reconnect-timeout must be between 1s and 24h, not %v", s.ReconnectTimeout))
	}
	return errors.Join(errs...)
}

// Sizer adapts the chunk or batch size to ChunkTime from the times
// measured; nil when ChunkTime is zero (a fixed size).
func (s Settings) Sizer() *rowcopy.Sizer {
	if s.ChunkTime <= 0 {
		return nil
	}
	return rowcopy.NewSizer(s.ChunkTime, s.ChunkSize, MinChunkRows, MaxChunkRows)
}
