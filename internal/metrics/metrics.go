// Package metrics holds the Prometheus collectors of one migration.
//
// Every Metrics has its own registry (no global default registry, so two
// migrations in one process, or two tests, never share counters); the control
// server exposes it on GET /metrics. The migration calls the small methods
// below at the moments they describe. All methods are safe for concurrent use
// and do nothing on a nil *Metrics, so a caller without metrics can pass nil.
//
// The metric names and their meaning are listed in docs/operating.md;
// TestDocsListEveryMetric keeps that table in step with Names.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metric names. They are constants so that tests and docs refer to the same
// spelling the registry exports.
const (
	NameInfo               = "tailor_migration_info"
	NamePhase              = "tailor_phase"
	NameRowsCopied         = "tailor_rows_copied_total"
	NameRowsCopiedBefore   = "tailor_rows_copied_before_resume"
	NameRowsEstimate       = "tailor_rows_estimate"
	NameEventsApplied      = "tailor_events_applied_total"
	NameBacklog            = "tailor_backlog_events"
	NameReplicaLag         = "tailor_replica_lag_seconds"
	NameThrottled          = "tailor_throttled"
	NameThrottledSeconds   = "tailor_throttled_seconds_total"
	NameCommitLatency      = "tailor_commit_latency_seconds"
	NameCopyWorkers        = "tailor_copy_workers"
	NameChecksumWorkers    = "tailor_checksum_workers"
	NameChunkDuration      = "tailor_chunk_duration_seconds"
	NameChunkRows          = "tailor_chunk_rows"
	NameChunkSize          = "tailor_chunk_size_rows"
	NameCutOverAttempts    = "tailor_cutover_attempts_total"
	NameCutOverLock        = "tailor_cutover_lock_seconds"
	NameCutOverPostponed   = "tailor_cutover_postponed"
	NameRetries            = "tailor_retries_total"
	NameStartTimestampSecs = "tailor_start_time_seconds"
)

// Names lists every tailor_ metric the registry exports, in the order of
// the table in docs/operating.md.
func Names() []string {
	return []string{
		NameInfo, NamePhase, NameStartTimestampSecs,
		NameRowsCopied, NameRowsCopiedBefore, NameRowsEstimate, NameEventsApplied, NameBacklog,
		NameReplicaLag, NameThrottled, NameThrottledSeconds,
		NameCommitLatency, NameCopyWorkers, NameChecksumWorkers,
		NameChunkDuration, NameChunkRows, NameChunkSize,
		NameCutOverAttempts, NameCutOverLock, NameCutOverPostponed,
		NameRetries,
	}
}

// Metrics is the set of collectors of one migration. Create it with New.
type Metrics struct {
	reg *prometheus.Registry

	info             *prometheus.GaugeVec
	phase            *prometheus.GaugeVec
	start            prometheus.Gauge
	rowsCopied       prometheus.Counter
	rowsBefore       prometheus.Gauge
	rowsEstimate     prometheus.Gauge
	eventsApplied    prometheus.Counter
	backlog          prometheus.Gauge
	replicaLag       *prometheus.GaugeVec
	throttled        prometheus.Gauge
	throttledSeconds *prometheus.CounterVec
	commitLatency    prometheus.Gauge
	copyWorkers      prometheus.Gauge
	checksumWorkers  prometheus.Gauge
	chunkDuration    prometheus.Histogram
	chunkRows        prometheus.Histogram
	chunkSize        prometheus.Gauge
	cutOverAttempts  prometheus.Counter
	cutOverLock      prometheus.Histogram
	cutOverPostponed prometheus.Gauge
	retries          *prometheus.CounterVec

	// mu guards lastPhase, so that two SetPhase calls cannot leave two
	// phases at 1.
	mu        sync.Mutex
	lastPhase string
}

// New returns a Metrics registered on a fresh registry, which also carries
// the Go runtime and process collectors (memory, GC, open files), useful
// when a long migration misbehaves.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameInfo,
			Help: "Always 1; the labels name the table being migrated.",
		}, []string{"database", "table"}),
		phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NamePhase,
			Help: "1 for the phase the migration is in, 0 for phases it has been in.",
		}, []string{"phase"}),
		start: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameStartTimestampSecs,
			Help: "Unix time at which the migration started, in seconds.",
		}),
		rowsCopied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: NameRowsCopied,
			Help: "Rows copied from the original table into the shadow table.",
		}),
		rowsBefore: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameRowsCopiedBefore,
			Help: "Rows the earlier runs of a resumed migration copied (0 for a new one); tailor_rows_copied_total counts this run's.",
		}),
		rowsEstimate: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameRowsEstimate,
			Help: "Estimated rows of the original table (InnoDB statistics; may be off by tens of percent).",
		}),
		eventsApplied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: NameEventsApplied,
			Help: "Row changes read from the binary log and applied to the shadow table.",
		}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameBacklog,
			Help: "Row changes read from the binary log and not yet applied.",
		}),
		replicaLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameReplicaLag,
			Help: "Replication lag of each watched replica, in seconds, as last measured.",
		}, []string{"replica"}),
		throttled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameThrottled,
			Help: "1 while the row copy is throttled or paused, else 0.",
		}),
		throttledSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameThrottledSeconds,
			Help: "Seconds the row copy spent throttled, by reason (lag, max-load, flag-file, query, operator, critical-load).",
		}, []string{"reason"}),
		commitLatency: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameCommitLatency,
			Help: "Commit latency of a one-row autocommit write on the primary (the heartbeat), 90th percentile over the last 2 s, in seconds.",
		}),
		copyWorkers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameCopyWorkers,
			Help: "Chunks the copy copies at once now; fewer than --threads while the commit latency is above --max-commit-latency.",
		}),
		checksumWorkers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameChecksumWorkers,
			Help: "Key ranges the checksum compares at once now; fewer than its sessions while the commit latency is above --max-commit-latency.",
		}),
		// Chunks are sized to take about half a second; the buckets span
		// 5 ms (tiny tables) to a minute (a badly chosen key).
		chunkDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    NameChunkDuration,
			Help:    "Time to copy one chunk of rows, in seconds.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}),
		chunkRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    NameChunkRows,
			Help:    "Rows copied by one chunk (the last chunk of a range is short).",
			Buckets: prometheus.ExponentialBuckets(10, 4, 8),
		}),
		chunkSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameChunkSize,
			Help: "Target rows per chunk currently in use.",
		}),
		cutOverAttempts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: NameCutOverAttempts,
			Help: "Cut-over attempts started, including ones that gave up on the lock and were retried.",
		}),
		// The lock blocks the table's writers, so the interesting range is
		// milliseconds up to the lock timeout (seconds).
		cutOverLock: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    NameCutOverLock,
			Help:    "Time writers to the table were held by one cut-over attempt, in seconds.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10},
		}),
		cutOverPostponed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameCutOverPostponed,
			Help: "1 while the copy is done and the cut-over waits for the operator, else 0.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameRetries,
			Help: "Work retried after its connection to the server was lost, by what was retried (copy, chunk-boundary, apply, binlog, checksum, migration-lock).",
		}, []string{"what"}),
	}
	m.reg.MustRegister(
		m.info, m.phase, m.start, m.rowsCopied, m.rowsBefore, m.rowsEstimate,
		m.eventsApplied, m.backlog, m.replicaLag, m.throttled,
		m.throttledSeconds, m.commitLatency, m.copyWorkers, m.checksumWorkers, m.chunkDuration, m.chunkRows, m.chunkSize,
		m.cutOverAttempts, m.cutOverLock, m.cutOverPostponed, m.retries,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is the registry holding the collectors, for promhttp.HandlerFor.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Start records which table is migrated and when the migration started.
func (m *Metrics) Start(database, table string, at time.Time) {
	if m == nil {
		return
	}
	m.info.WithLabelValues(database, table).Set(1)
	m.start.Set(float64(at.UnixNano()) / 1e9)
}

// SetPhase marks phase as current. The previous phase stays as a series at
// 0 rather than being deleted, so a query over a range does not see a gap.
func (m *Metrics) SetPhase(phase string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lastPhase != "" && m.lastPhase != phase {
		m.phase.WithLabelValues(m.lastPhase).Set(0)
	}
	m.phase.WithLabelValues(phase).Set(1)
	m.lastPhase = phase
}

// SetRowsEstimate records the estimated row count of the original table.
func (m *Metrics) SetRowsEstimate(rows int64) {
	if m == nil {
		return
	}
	m.rowsEstimate.Set(float64(rows))
}

// ObserveChunk records one copied chunk: rows copied and how long it took.
// A negative row count (a caller bug) is ignored rather than letting the
// counter panic.
func (m *Metrics) ObserveChunk(rows int64, d time.Duration) {
	if m == nil || rows < 0 {
		return
	}
	m.rowsCopied.Add(float64(rows))
	m.chunkRows.Observe(float64(rows))
	m.chunkDuration.Observe(d.Seconds())
}

// SetRowsCopiedBefore records the rows the earlier runs of a resumed
// migration copied: a run's counter starts from 0, and this says how much
// of the table was already in the shadow.
func (m *Metrics) SetRowsCopiedBefore(rows int64) {
	if m == nil {
		return
	}
	m.rowsBefore.Set(float64(rows))
}

// SetChunkSize records the target rows per chunk in use (it changes with
// dynamic sizing and the chunk-size command).
func (m *Metrics) SetChunkSize(rows int64) {
	if m == nil {
		return
	}
	m.chunkSize.Set(float64(rows))
}

// AddEventsApplied counts n row changes applied to the shadow table.
func (m *Metrics) AddEventsApplied(n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.eventsApplied.Add(float64(n))
}

// SetBacklog records the row changes read but not yet applied.
func (m *Metrics) SetBacklog(n int64) {
	if m == nil {
		return
	}
	m.backlog.Set(float64(n))
}

// SetReplicaLag records the measured lag of one replica (host:port or the
// name the operator gave it).
func (m *Metrics) SetReplicaLag(replica string, lag time.Duration) {
	if m == nil {
		return
	}
	m.replicaLag.WithLabelValues(replica).Set(lag.Seconds())
}

// SetThrottled records whether the copy is currently held back.
func (m *Metrics) SetThrottled(on bool) {
	if m == nil {
		return
	}
	m.throttled.Set(boolGauge(on))
}

// AddThrottled counts d of time spent throttled for reason. Callers add as
// they go (each throttle check interval), not once at the end, so that a
// long throttle shows up while it lasts.
func (m *Metrics) AddThrottled(reason string, d time.Duration) {
	if m == nil || d <= 0 {
		return
	}
	m.throttledSeconds.WithLabelValues(reason).Add(d.Seconds())
}

// SetCommitLatency records the commit latency the heartbeat writes
// measure.
func (m *Metrics) SetCommitLatency(d time.Duration) {
	if m == nil {
		return
	}
	m.commitLatency.Set(d.Seconds())
}

// SetCopyWorkers records how many chunks the copy copies at once.
func (m *Metrics) SetCopyWorkers(n int) {
	if m == nil {
		return
	}
	m.copyWorkers.Set(float64(n))
}

// SetChecksumWorkers records how many key ranges the checksum compares at
// once.
func (m *Metrics) SetChecksumWorkers(n int) {
	if m == nil {
		return
	}
	m.checksumWorkers.Set(float64(n))
}

// CutOverAttempt counts the start of one cut-over attempt.
func (m *Metrics) CutOverAttempt() {
	if m == nil {
		return
	}
	m.cutOverAttempts.Inc()
}

// ObserveCutOverLock records how long one cut-over attempt held the
// table's writers, whether the attempt succeeded or gave up.
func (m *Metrics) ObserveCutOverLock(d time.Duration) {
	if m == nil {
		return
	}
	m.cutOverLock.Observe(d.Seconds())
}

// SetCutOverPostponed records whether the cut-over waits for the operator.
func (m *Metrics) SetCutOverPostponed(on bool) {
	if m == nil {
		return
	}
	m.cutOverPostponed.Set(boolGauge(on))
}

func boolGauge(on bool) float64 {
	if on {
		return 1
	}
	return 0
}

// AddRetry counts one retry of what after a lost connection.
func (m *Metrics) AddRetry(what string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(what).Inc()
}
