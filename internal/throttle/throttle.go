// Package throttle decides when tailor's copy must pause to spare the
// primary and its replicas, resumes it by itself, and says why.
//
// It follows gh-ost's throttler: replica lag measured with a heartbeat row
// that the throttler writes on the primary and reads back on each replica,
// thresholds on the primary's global status (max-load, and critical-load
// that aborts or hibernates), flag files, an operator's query, and the
// operator's own pause. Run does the measuring; the copier calls Wait
// before each chunk.
package throttle

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// Defaults of Config.
const (
	DefaultMaxLag         = 1500 * time.Millisecond
	DefaultInterval       = 100 * time.Millisecond
	DefaultCheckInterval  = 250 * time.Millisecond
	DefaultReplicaTimeout = 3 * time.Second
)

// ErrCriticalLoad is returned, wrapped with the crossed threshold, by Run
// (and Wait) when the primary reaches the critical load and no hibernation
// is configured: the migration must stop.
var ErrCriticalLoad = errors.New("critical load reached")

// ErrPanicFlag is returned, wrapped with the file's name, by Run (and Wait)
// when the panic flag file appears: the migration must stop at once.
var ErrPanicFlag = errors.New("panic flag file found")

// ErrStopped is returned by Wait once Run has ended without an abort: with
// nobody measuring, nothing may be copied.
var ErrStopped = errors.New("throttler stopped")

// Config configures a Throttler. Only DB, Database and HeartbeatTable are
// required.
type Config struct {
	// DB is the primary.
	DB *sql.DB
	// Conn holds the user and password to reach the replicas with; its
	// host, port, socket and database are replaced.
	Conn mysql.ConnConfig
	// Server is the primary's flavour and version (for SHOW SLAVE HOSTS
	// versus SHOW REPLICAS).
	Server mysql.Server
	// Database and HeartbeatTable name the one-row heartbeat table on the
	// primary, such as "_orders_tailor_hb". Run creates it when missing;
	// Close drops it.
	Database, HeartbeatTable string
	// MaxLag is the replica lag above which the copy waits (--max-lag-millis);
	// DefaultMaxLag when zero.
	MaxLag time.Duration
	// Replicas are the host:port addresses of the replicas to watch
	// (--throttle-control-replicas). Nil means those the primary lists with
	// SHOW SLAVE HOSTS (only replicas that set report_host); an empty,
	// non-nil slice means none.
	Replicas []string
	// MaxLoad throttles while any of its thresholds is reached.
	MaxLoad Load
	// CriticalLoad aborts the migration (or hibernates, see
	// CriticalLoadHibernate) when any of its thresholds is reached.
	CriticalLoad Load
	// CriticalLoadHibernate, when positive, turns the critical-load abort
	// into a pause of everything, the heartbeat included, for that long,
	// after which the load is checked again.
	CriticalLoadHibernate time.Duration
	// FlagFile throttles while the file exists (--throttle-flag-file).
	FlagFile string
	// PanicFlagFile aborts the migration when the file appears
	// (--panic-flag-file).
	PanicFlagFile string
	// ThrottleQuery is run on the primary at each check; a result above
	// zero throttles, as does an error (a broken query must not silently
	// disable the operator's protection).
	ThrottleQuery string
	// Interval is how often the heartbeat is written; DefaultInterval when
	// zero. Lag is known only to within one Interval.
	Interval time.Duration
	// CheckInterval is how often replicas, load, files and the query are
	// checked; DefaultCheckInterval when zero. A quarter second reacts well
	// within the default lag budget of 1.5 s and within one chunk of copy
	// (about half a second), while adding only a few cheap queries per
	// second to each server; checking faster would not sharpen a lag that
	// is only known to within one heartbeat Interval anyway.
	CheckInterval time.Duration
	// ReplicaTimeout bounds connecting to and reading one replica; one that
	// takes longer counts as unreachable. DefaultReplicaTimeout when zero.
	ReplicaTimeout time.Duration
	// Logger receives the starts and ends of throttling; none when nil.
	Logger *slog.Logger
	// IgnoreServerIDs are server ids in SHOW SLAVE HOSTS that are not
	// replicas to watch: tailor's own binary log reader registers as one.
	IgnoreServerIDs []uint32
}

// Health is what the throttler knows of one replica.
type Health string

// The states of a replica. Every state but HealthOK throttles.
const (
	HealthOK          Health = "ok"
	HealthLagging     Health = "lagging"
	HealthUnreachable Health = "unreachable"
	HealthStopped     Health = "replication stopped"
	HealthNoHeartbeat Health = "no heartbeat"
)

// ReplicaState is the last measurement of one replica.
type ReplicaState struct {
	// Addr is the replica's host:port.
	Addr   string
	Health Health
	// Lag is how old the heartbeat the replica holds is, when LagKnown.
	Lag      time.Duration
	LagKnown bool
	// Detail says more on an unhealthy replica: the error, or which thread
	// stopped.
	Detail string
}

// State is the throttler's current verdict.
type State struct {
	Throttled bool
	// Reasons say why, one per cause, such as
	// "replica 127.0.0.1:3307 lag 2.3s > 1.5s".
	Reasons []string
	// Since is when the current verdict (throttled or not) began.
	Since time.Time
	// Replicas are the last measurements, in address order.
	Replicas []ReplicaState
	// HibernatingUntil is when a critical-load hibernation ends, or zero.
	HibernatingUntil time.Time
	// LastBeat is when the last heartbeat was written to the primary, by
	// tailor's clock, or zero before the first. The replicas' lag is
	// measured against the beats, so while beats fail (or hibernation
	// stops them) every replica's lag grows with the time since LastBeat.
	LastBeat time.Time
	// CommitLatency is the heartbeat writes' commit latency over the last
	// LatencyWindow (see Throttler.CommitLatency), when CommitLatencyKnown.
	CommitLatency      time.Duration
	CommitLatencyKnown bool
}

// The kinds of reason, the keys of ThrottledSeconds.
const (
	KindLag          = "lag"
	KindMaxLoad      = "max-load"
	KindFlagFile     = "flag-file"
	KindQuery        = "query"
	KindOperator     = "operator"
	KindCriticalLoad = "critical-load"
)

var kinds = [...]string{KindLag, KindMaxLoad, KindFlagFile, KindQuery, KindOperator, KindCriticalLoad}

// reason is one cause of throttling. key tells causes apart without their
// changing numbers, so that a lag going from 2.3 s to 2.4 s is not news.
type reason struct{ kind, key, text string }

// Throttler measures the primary and replicas and holds the copy back when
// they suffer. Its methods are safe for concurrent use.
type Throttler struct {
	cfg     Config
	log     *slog.Logger
	hbTable string // quoted database.table
	running atomic.Bool

	mu sync.Mutex
	// Settings the operator may change while the migration runs.
	maxLag  time.Duration
	maxLoad Load
	paused  bool
	pauseBy string
	// Measurements, from the last check.
	ready          bool // a first check has completed
	replicas       []probe
	status         map[string]int64
	statusErr      error
	statusNames    map[string]bool // every status variable, once Run has read them
	flagExists     bool
	queryReason    string
	hibernateUntil time.Time
	critical       string
	lastBeat       time.Time
	// commits are the heartbeat writes' latencies (CommitLatency).
	commits latencies
	// The verdict, and its history.
	reasons   []reason
	throttled bool
	since     time.Time
	kindSince map[string]time.Time
	kindTotal map[string]time.Duration
	changed   chan struct{} // closed and replaced at each change of verdict
	ended     error         // set when Run has returned
}

// New checks cfg and returns a Throttler; Run starts it.
func New(cfg Config) (*Throttler, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("throttle: no primary connection")
	case cfg.Database == "" || cfg.HeartbeatTable == "":
		return nil, errors.New("throttle: the heartbeat table needs a database and a name")
	case cfg.MaxLag < 0, cfg.Interval < 0, cfg.CheckInterval < 0, cfg.ReplicaTimeout < 0, cfg.CriticalLoadHibernate < 0:
		return nil, errors.New("throttle: intervals, timeouts and the maximum lag must not be negative")
	}
	for _, r := range cfg.Replicas {
		if _, err := parseAddr(r); err != nil {
			return nil, fmt.Errorf("throttle: --throttle-control-replicas: %w", err)
		}
	}
	if cfg.MaxLag == 0 {
		cfg.MaxLag = DefaultMaxLag
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	if cfg.ReplicaTimeout == 0 {
		cfg.ReplicaTimeout = DefaultReplicaTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Throttler{
		cfg: cfg, log: log,
		hbTable:   mysql.QuoteTable(cfg.Database, cfg.HeartbeatTable),
		maxLag:    cfg.MaxLag,
		maxLoad:   cfg.MaxLoad,
		since:     time.Now(),
		kindSince: map[string]time.Time{},
		kindTotal: map[string]time.Duration{},
		changed:   make(chan struct{}),
	}, nil
}

// parseAddr reads host:port, or a host alone on port 3306.
func parseAddr(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, "3306"
	}
	p, err := strconv.Atoi(port)
	if host == "" || err != nil || p <= 0 || p > 65535 {
		return "", fmt.Errorf("'%s' is not a host:port address", s)
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// Wait returns at once when the copy may go on, and otherwise blocks until
// it may, ctx ends, or the migration must abort (ErrCriticalLoad,
// ErrPanicFlag). Until Run has completed its first check it blocks, since
// nothing is known yet; after Run ends it returns ErrStopped or Run's abort.
func (t *Throttler) Wait(ctx context.Context) error {
	for {
		t.mu.Lock()
		ended, ready, throttled, changed := t.ended, t.ready, t.throttled, t.changed
		t.mu.Unlock()
		switch {
		case ended != nil:
			return ended
		case ready && !throttled:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for throttling to end: %w", ctx.Err())
		case <-changed:
		}
	}
}

// State is the current verdict and the last measurements.
func (t *Throttler) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := State{Throttled: t.throttled, Since: t.since, HibernatingUntil: t.hibernateUntil, LastBeat: t.lastBeat}
	s.CommitLatency, s.CommitLatencyKnown = t.commits.percentile(time.Now())
	for _, r := range t.reasons {
		s.Reasons = append(s.Reasons, r.text)
	}
	for _, p := range t.replicas {
		s.Replicas = append(s.Replicas, p.state(t.maxLag))
	}
	return s
}

// CommitLatency is the 90th percentile of the time the heartbeat writes of
// the last LatencyWindow took, and false when none was written in it
// (before the first, while hibernating, while they fail other than by
// timing out). Each beat is a one-row autocommit write on the primary, so
// this is what a small transaction of the application waits for now: the
// copy's own writes compete with the application's for the redo log's
// flushes, the binary log's group commit and the CPUs, and this is where
// that shows first.
func (t *Throttler) CommitLatency() (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.commits.percentile(time.Now())
}

// Pause throttles until Resume, for the given reason (which may be empty).
func (t *Throttler) Pause(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.paused, t.pauseBy = true, reason
	t.evaluateLocked(time.Now())
}

// Resume ends an operator's Pause; the other causes still apply.
func (t *Throttler) Resume() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.paused, t.pauseBy = false, ""
	t.evaluateLocked(time.Now())
}

// SetMaxLag changes the lag limit; the verdict changes at once, on the last
// measurements. Zero restores DefaultMaxLag.
func (t *Throttler) SetMaxLag(d time.Duration) {
	if d <= 0 {
		d = DefaultMaxLag
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maxLag = d
	t.evaluateLocked(time.Now())
}

// SetMaxLoad changes the max-load thresholds. Once Run has read the
// server's status variables, a name the server does not have is refused
// (and the thresholds are left as they were); a name that is new is
// measured from the next check on.
func (t *Throttler) SetMaxLoad(l Load) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.statusNames != nil {
		if name := l.unknown(t.statusNames); name != "" {
			return fmt.Errorf("max-load: the server has no status variable %s", name)
		}
	}
	t.maxLoad = l
	t.evaluateLocked(time.Now())
	return nil
}

// ThrottledSeconds is the time spent throttled so far, by kind of reason
// (KindLag, KindMaxLoad, ...; every kind is present). Causes that overlap
// each count in full, so the sum may exceed the time throttled.
func (t *Throttler) ThrottledSeconds() map[string]float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	out := make(map[string]float64, len(kinds))
	for _, k := range kinds {
		d := t.kindTotal[k]
		if since, ok := t.kindSince[k]; ok {
			d += now.Sub(since)
		}
		out[k] = d.Seconds()
	}
	return out
}

// Close drops the heartbeat table. Call it after Run has returned.
func (t *Throttler) Close(ctx context.Context) error {
	if _, err := t.cfg.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+t.hbTable); err != nil {
		return fmt.Errorf("drop heartbeat table %s: %w", t.hbTable, err)
	}
	return nil
}

// evaluateLocked recomputes the verdict from the settings and the last
// measurements, accounts the time of each kind, logs the starts and ends of
// throttling, and wakes the waiters when the verdict changed. t.mu is held.
func (t *Throttler) evaluateLocked(now time.Time) {
	if !t.ready {
		return
	}
	var rs []reason
	if !t.hibernateUntil.IsZero() {
		rs = append(rs, reason{KindCriticalLoad, "critical-load", fmt.Sprintf("critical-load %s, hibernating until %s", t.critical, t.hibernateUntil.Format(time.TimeOnly))})
	}
	if t.paused {
		text := "paused by the operator"
		if t.pauseBy != "" {
			text += " (" + t.pauseBy + ")"
		}
		rs = append(rs, reason{KindOperator, "operator", text})
	}
	if t.flagExists {
		rs = append(rs, reason{KindFlagFile, "flag-file", "flag file " + t.cfg.FlagFile + " exists"})
	}
	if t.queryReason != "" {
		rs = append(rs, reason{KindQuery, "query", t.queryReason})
	}
	if len(t.maxLoad) > 0 {
		if t.statusErr != nil {
			rs = append(rs, reason{KindMaxLoad, "max-load", "max-load cannot be read (" + t.statusErr.Error() + ")"})
		} else if c := t.maxLoad.crossed(t.status); c != "" {
			rs = append(rs, reason{KindMaxLoad, "max-load", "max-load " + c})
		}
	}
	for _, p := range t.replicas {
		if text := p.reason(t.maxLag); text != "" {
			rs = append(rs, reason{KindLag, "replica " + p.addr, text})
		}
	}

	before, beforeKeys := t.throttled, keys(t.reasons)
	t.reasons, t.throttled = rs, len(rs) > 0
	active := map[string]bool{}
	for _, r := range rs {
		active[r.kind] = true
	}
	for _, k := range kinds {
		since, was := t.kindSince[k]
		switch {
		case active[k] && !was:
			t.kindSince[k] = now
		case !active[k] && was:
			t.kindTotal[k] += now.Sub(since)
			delete(t.kindSince, k)
		}
	}
	texts := make([]string, len(rs))
	for i, r := range rs {
		texts[i] = r.text
	}
	switch {
	case t.throttled && !before:
		t.log.Info("throttling", "reasons", texts)
	case !t.throttled && before:
		t.log.Info("throttling ended", "throttled_ms", now.Sub(t.since).Milliseconds())
	case t.throttled && keys(rs) != beforeKeys:
		t.log.Info("throttling for other reasons", "reasons", texts)
	}
	if t.throttled != before {
		t.since = now
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// keys joins the keys of rs, to see whether the set of causes changed.
func keys(rs []reason) string {
	var s string
	for _, r := range rs {
		s += r.key + "\x00"
	}
	return s
}
