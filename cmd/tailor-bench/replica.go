package main

// --replica attaches a replica sandbox to the bench's primary and measures,
// for every run, how far the replica falls behind while the migration runs
// and until it has caught up afterwards.
//
// The lag is measured by position, not with Seconds_Behind_Master (which
// MariaDB computes from the timestamp of the event being applied, only while
// the SQL thread has one, and rounds to whole seconds). Every sampleEvery
// the watcher reads the primary's GTID sequence number (@@gtid_binlog_pos)
// and the replica's (@@gtid_slave_pos, updated as each transaction commits
// there), and keeps the times at which the primary reached each sequence
// number. The replica's lag at a sample is how long ago the primary first
// held a transaction the replica has not applied yet: zero when the replica
// has everything the primary had, otherwise the time since the first sample
// at which the primary's sequence number exceeded the replica's. That is the
// age of the oldest transaction the replica still owes, to within one
// sampling interval, the figure a heartbeat table would give.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sampleEvery is how often the replica watcher reads both positions.
const sampleEvery = 25 * time.Millisecond

// catchUpTimeout bounds the wait, after a run, for the replica to apply
// what the primary wrote during it.
const catchUpTimeout = 10 * time.Minute

// ReplicaLag is what the replica did during one run.
type ReplicaLag struct {
	// PeakMs is the largest lag sampled, from the migration's start until
	// the replica caught up with the primary's position at its end.
	PeakMs float64 `json:"peak_ms"`
	// CaughtUpMs is how long after the migration ended the replica had
	// applied everything the primary had written by then (to within a
	// sampling interval). -1 when it did not within catchUpTimeout.
	CaughtUpMs float64 `json:"caught_up_after_end_ms"`
	Samples    int     `json:"samples"`
	// Error is why sampling stopped early, if it did.
	Error string `json:"error,omitempty"`
}

// posSample is the primary's sequence number at a moment.
type posSample struct {
	at  time.Time
	seq int64
}

// lagAt is the replica's lag at now, when it has applied up to replicaSeq
// and history holds the primary's sequence numbers in time order: the time
// since the first sample at which the primary was past replicaSeq, or zero
// when it never was.
func lagAt(history []posSample, now time.Time, replicaSeq int64) time.Duration {
	i, _ := slices.BinarySearchFunc(history, replicaSeq+1, func(s posSample, seq int64) int {
		switch {
		case s.seq < seq:
			return -1
		case s.seq > seq:
			return 1
		}
		return 0
	})
	if i >= len(history) {
		return 0
	}
	return max(now.Sub(history[i].at), 0)
}

// gtidSeq is the sequence number of domain 0 in a MariaDB GTID position
// ("0-1-4711" or "0-1-4711,1-3-12"); 0 for an empty position. The bench's
// primary writes domain 0 only.
func gtidSeq(pos string) (int64, error) {
	pos = strings.TrimSpace(pos)
	if pos == "" {
		return 0, nil
	}
	for _, g := range strings.Split(pos, ",") {
		parts := strings.Split(strings.TrimSpace(g), "-")
		if len(parts) != 3 {
			return 0, fmt.Errorf("GTID %q is not domain-server-sequence", g)
		}
		if parts[0] != "0" {
			continue
		}
		n, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("GTID %q: %w", g, err)
		}
		return n, nil
	}
	return 0, nil
}

// replicaWatch samples both positions from its start until finish.
type replicaWatch struct {
	primary, replica *sql.DB
	stop             context.CancelFunc
	done             chan struct{}

	mu      sync.Mutex
	history []posSample
	peak    time.Duration
	samples int
	err     error
	// target, once targetSet, is the primary's sequence number the
	// replica must reach; caughtAt is when it was seen to.
	target    int64
	targetSet bool
	caughtAt  time.Time
	end       time.Time
}

// watchReplica starts sampling.
func watchReplica(ctx context.Context, primary, replica *sql.DB) *replicaWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &replicaWatch{primary: primary, replica: replica, stop: cancel, done: make(chan struct{})}
	go w.loop(ctx)
	return w
}

func (w *replicaWatch) loop(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		finished, err := w.sample(ctx)
		if err != nil && ctx.Err() == nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		if finished {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sample reads both positions once, and says whether the replica reached
// the target.
func (w *replicaWatch) sample(ctx context.Context) (bool, error) {
	var ppos, rpos string
	if err := w.primary.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&ppos); err != nil {
		return false, fmt.Errorf("read the primary's position: %w", err)
	}
	now := time.Now()
	if err := w.replica.QueryRowContext(ctx, "SELECT @@gtid_slave_pos").Scan(&rpos); err != nil {
		return false, fmt.Errorf("read the replica's position: %w", err)
	}
	pseq, err := gtidSeq(ppos)
	if err != nil {
		return false, err
	}
	rseq, err := gtidSeq(rpos)
	if err != nil {
		return false, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.history); n == 0 || pseq > w.history[n-1].seq {
		w.history = append(w.history, posSample{at: now, seq: pseq})
	}
	w.samples++
	w.peak = max(w.peak, lagAt(w.history, now, rseq))
	if w.targetSet && rseq >= w.target {
		w.caughtAt = now
		return true, nil
	}
	return false, nil
}

// markEnd records the end of the migration: the replica has caught up once
// it has applied everything the primary has written now. It returns that
// moment.
func (w *replicaWatch) markEnd(ctx context.Context) time.Time {
	end := time.Now()
	var ppos string
	err := w.primary.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&ppos)
	var target int64
	if err == nil {
		target, err = gtidSeq(ppos)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.end = end
	if err != nil {
		w.err = errors.Join(w.err, fmt.Errorf("read the primary's position at the end: %w", err))
		return end
	}
	w.target, w.targetSet = target, true
	return end
}

// finish waits, for at most catchUpTimeout, until the replica has reached
// the position of markEnd, and returns the figures.
func (w *replicaWatch) finish(ctx context.Context) *ReplicaLag {
	var err error
	select {
	case <-w.done:
	case <-ctx.Done():
	case <-time.After(catchUpTimeout):
		err = fmt.Errorf("the replica did not reach the primary's position at the end within %s", catchUpTimeout)
	}
	w.stop()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	lag := &ReplicaLag{CaughtUpMs: -1, PeakMs: millis(w.peak), Samples: w.samples}
	if !w.caughtAt.IsZero() {
		lag.CaughtUpMs = millis(max(w.caughtAt.Sub(w.end), 0))
	}
	if err = errors.Join(err, w.err); err != nil {
		lag.Error = oneLine(err.Error())
	}
	return lag
}

// replicaLagLabel is the text table's replica lag cell.
func replicaLagLabel(l *ReplicaLag) string {
	switch {
	case l == nil:
		return "-"
	case l.CaughtUpMs < 0:
		return msLabel(l.PeakMs) + " (not caught up)"
	}
	return msLabel(l.PeakMs)
}

// syncReplica waits, with --replica, until the replica has applied all the
// primary has written (the template, a restored table), so that a run's lag
// is its own.
func (b *bench) syncReplica(ctx context.Context) error {
	if b.replicaSbx == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	defer cancel()
	if err := b.replicaSbx.SyncWith(ctx, b.primarySbx); err != nil {
		return fmt.Errorf("wait for the replica before the run: %w", err)
	}
	return nil
}

// replicaNote explains the replica lag column.
func replicaNote() string {
	return "replica lag is the peak lag of a replica sandbox (same settings, single-threaded replication by GTID) from the migration's start until it had applied all the primary had written when the migration ended. It is measured by position every " + sampleEvery.String() + ": the time since the primary first held a transaction (its @@gtid_binlog_pos) that the replica had not applied yet (its @@gtid_slave_pos), 0 when it had them all. tailor finds the replica itself (SHOW SLAVE HOSTS, confirmed by connecting to it) and throttles its copy on its heartbeat lag above its default --max-lag-millis 1500; a native ALTER reaches the replica as one statement, replayed only after it committed on the primary."
}

// replicaLagColumn inserts the replica lag of runs into a table before its
// last column (the note): header and one row per run.
func replicaLagColumn(header []string, rows [][]string, runs []Run) ([]string, [][]string) {
	insert := func(cells []string, cell string) []string {
		n := len(cells)
		if n == 0 {
			return []string{cell}
		}
		out := append([]string{}, cells[:n-1]...)
		return append(out, cell, cells[n-1])
	}
	var out [][]string
	for i, r := range rows {
		cell := "-"
		if i < len(runs) {
			cell = replicaLagLabel(runs[i].ReplicaLag)
		}
		out = append(out, insert(r, cell))
	}
	return insert(header, "replica lag"), out
}
