package throttle

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// Run writes the heartbeat and checks the primary and replicas until ctx
// ends, then returns nil. It returns early with an error wrapping
// ErrCriticalLoad or ErrPanicFlag when the migration must abort, or with
// the error that kept it from starting (the heartbeat table cannot be
// written, a load threshold names no status variable, the replicas cannot
// be listed). Run may be called once at a time.
func (t *Throttler) Run(ctx context.Context) error {
	if !t.running.CompareAndSwap(false, true) {
		return errors.New("throttle: Run is already running")
	}
	defer t.running.Store(false)
	t.mu.Lock()
	t.ended = nil
	t.mu.Unlock()

	err := t.run(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ErrCriticalLoad) && !errors.Is(err, ErrPanicFlag) {
		err = nil // stopped by its caller, which is the normal end
	}
	t.mu.Lock()
	t.ended = ErrStopped
	if err != nil {
		t.ended = err
	}
	t.wakeLocked()
	t.mu.Unlock()
	return err
}

func (t *Throttler) run(ctx context.Context) error {
	c, err := t.start(ctx)
	if err != nil {
		return err
	}
	defer c.closeReplicas()

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { t.heartbeat(ctx) })
	defer wg.Wait()
	defer cancel() // runs before wg.Wait: stop the heartbeat, then wait for it

	tick := time.NewTicker(t.cfg.CheckInterval)
	defer tick.Stop()
	for {
		if err := t.check(ctx, c); err != nil {
			return err
		}
		if err := t.hibernate(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// checker is what the check loop keeps between checks. Only Run's
// goroutine touches it.
type checker struct {
	primaryPort  int
	discover     bool
	discoveredAt time.Time
	replicas     map[string]*replicaConn // by address
	// ignored are discovered addresses found to replicate nothing.
	ignored map[string]bool
}

// start creates the heartbeat table and writes a first beat, checks the
// load thresholds against the server's status variables, and finds the
// replicas.
func (t *Throttler) start(ctx context.Context) (*checker, error) {
	db := t.cfg.DB
	// A one-row table keyed by a constant id: each beat overwrites the
	// row, so the table never grows, and a replica holds exactly the last
	// beat it applied.
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+t.hbTable+
		" (id TINYINT UNSIGNED NOT NULL PRIMARY KEY, micros BIGINT NOT NULL COMMENT 'Unix time of the beat in microseconds, by the clock of the host running tailor')"+
		" ENGINE=InnoDB COMMENT='tailor throttler heartbeat'"); err != nil {
		return nil, fmt.Errorf("create heartbeat table %s: %w", t.hbTable, err)
	}
	if err := t.beat(ctx); err != nil {
		return nil, err
	}
	_, names, err := ReadStatus(ctx, db, nil)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	maxLoad := t.maxLoad
	t.mu.Unlock()
	for _, l := range []struct {
		flag string
		load Load
	}{{"--max-load", maxLoad}, {"--critical-load", t.cfg.CriticalLoad}} {
		if name := l.load.unknown(names); name != "" {
			return nil, fmt.Errorf("%s: the server has no status variable %s", l.flag, name)
		}
	}
	t.mu.Lock()
	t.statusNames = names
	t.mu.Unlock()

	c := &checker{discover: t.cfg.Replicas == nil, replicas: map[string]*replicaConn{}, ignored: map[string]bool{}}
	if err := db.QueryRowContext(ctx, "SELECT @@port").Scan(&c.primaryPort); err != nil {
		return nil, fmt.Errorf("read the primary's port: %w", err)
	}
	if c.discover {
		// A failed listing (MariaDB 10.5.2+ wants REPLICATION MASTER ADMIN
		// for it) is said loudly but does not stop the migration: the
		// plan's replicas check warned about it already.
		if err := t.discoverReplicas(ctx, c); err != nil {
			t.log.Warn("cannot list the replicas, so their lag is not watched; grant the privilege, or name them with --throttle-control-replicas", "err", err)
		}
	} else {
		for _, r := range t.cfg.Replicas {
			addr, _ := parseAddr(r) // checked by New
			c.replicas[addr] = &replicaConn{addr: addr}
		}
	}
	return c, nil
}

// heartbeat writes a beat every Interval until ctx ends, except while
// hibernating. A failed beat is logged when beats start failing and when
// they work again, not each time; the replicas' lag grows meanwhile, which
// throttles, as it should when the primary does not take writes.
func (t *Throttler) heartbeat(ctx context.Context) {
	tick := time.NewTicker(t.cfg.Interval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t.mu.Lock()
		hibernating := !t.hibernateUntil.IsZero()
		t.mu.Unlock()
		if hibernating {
			continue
		}
		err := t.beat(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			t.log.Warn("heartbeat write failed", "table", t.hbTable, "error", err)
		case err == nil && failing:
			t.log.Info("heartbeat writes work again", "table", t.hbTable)
		}
		failing = err != nil
	}
}

// beat writes the current time into the heartbeat row. The time is tailor's
// own, not the primary's NOW(6): the lag is later computed against tailor's
// clock too, so it does not depend on the primary's and the replicas'
// clocks agreeing (gh-ost does the same).
//
// The write is also the probe of what the application feels: a one-row
// autocommit write, whose time is the wait for a row lock, the redo log's
// flush and the binary log's group commit, as any small transaction of the
// application's. Its time is recorded for CommitLatency.
func (t *Throttler) beat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.ReplicaTimeout)
	defer cancel()
	// A session of its own before the clock starts: the time measured is
	// the server's, not a wait for a free connection in the pool.
	conn, err := t.cfg.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("write heartbeat to %s: %w", t.hbTable, err)
	}
	defer conn.Close()
	at := time.Now()
	now := at.UnixMicro()
	_, err = conn.ExecContext(ctx, "INSERT INTO "+t.hbTable+" (id, micros) VALUES (1, ?) ON DUPLICATE KEY UPDATE micros = ?", now, now)
	done := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err == nil:
		t.lastBeat = at
		t.commits.add(done, done.Sub(at))
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		// A write that did not commit within ReplicaTimeout took at
		// least that long: the application waits as long.
		t.commits.add(done, done.Sub(at))
	}
	if err != nil {
		return fmt.Errorf("write heartbeat to %s: %w", t.hbTable, err)
	}
	return nil
}

// check measures everything once and updates the verdict. It returns an
// error only when the migration must abort.
func (t *Throttler) check(ctx context.Context, c *checker) error {
	if path := t.cfg.PanicFlagFile; path != "" && fileExists(path) {
		return fmt.Errorf("%w: %s exists", ErrPanicFlag, path)
	}
	t.mu.Lock()
	maxLoad := t.maxLoad
	t.mu.Unlock()

	var status map[string]int64
	var statusErr error
	if names := loadNames(maxLoad, t.cfg.CriticalLoad); len(names) > 0 {
		qctx, cancel := context.WithTimeout(ctx, t.cfg.ReplicaTimeout)
		status, _, statusErr = ReadStatus(qctx, t.cfg.DB, names)
		cancel()
	}
	var critical string
	if statusErr == nil {
		critical = t.cfg.CriticalLoad.crossed(status)
	}
	if critical != "" && t.cfg.CriticalLoadHibernate == 0 {
		return fmt.Errorf("%w: %s", ErrCriticalLoad, critical)
	}

	flag := t.cfg.FlagFile != "" && fileExists(t.cfg.FlagFile)
	query := t.throttleQuery(ctx)
	if c.discover && time.Since(c.discoveredAt) >= rediscoverEvery {
		if err := t.discoverReplicas(ctx, c); err != nil && ctx.Err() == nil {
			t.log.Warn("replicas not listed again; watching the ones known", "error", err)
		}
	}
	probes := t.probeReplicas(ctx, c)
	if ctx.Err() != nil {
		return nil // measurements cut short are not worth a verdict
	}

	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.status, t.statusErr, t.flagExists, t.queryReason, t.replicas = status, statusErr, flag, query, probes
	if critical != "" {
		t.critical, t.hibernateUntil = critical, now.Add(t.cfg.CriticalLoadHibernate)
		t.log.Warn("critical load reached; hibernating", "load", critical, "hibernate_ms", t.cfg.CriticalLoadHibernate.Milliseconds())
	}
	if !t.ready {
		t.ready = true
		t.wakeLocked()
	}
	t.evaluateLocked(now)
	return nil
}

// hibernate sleeps out a critical-load hibernation, if one began, and ends
// it. Nothing is written or checked meanwhile: the point is to leave the
// servers alone.
func (t *Throttler) hibernate(ctx context.Context) error {
	t.mu.Lock()
	until := t.hibernateUntil
	t.mu.Unlock()
	if until.IsZero() {
		return nil
	}
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hibernateUntil, t.critical = time.Time{}, ""
	t.log.Info("hibernation over; checking the load again")
	// The verdict is left to the check that follows at once: ending the
	// critical-load reason here could let the copy through for an instant
	// on stale measurements.
	return nil
}

// throttleQuery runs the operator's query and returns the reason it gives
// to throttle, or "".
func (t *Throttler) throttleQuery(ctx context.Context) string {
	if t.cfg.ThrottleQuery == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.ReplicaTimeout)
	defer cancel()
	var v sql.NullFloat64
	if err := t.cfg.DB.QueryRowContext(ctx, t.cfg.ThrottleQuery).Scan(&v); err != nil {
		return fmt.Sprintf("throttle-query failed (%v)", err)
	}
	if v.Valid && v.Float64 > 0 {
		return fmt.Sprintf("throttle-query returned %v", v.Float64)
	}
	return ""
}

// wakeLocked wakes every Wait. t.mu is held.
func (t *Throttler) wakeLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// fileExists reports whether path exists. A file that cannot be looked at
// (a directory without permission) counts as there: an operator who made a
// flag file means it.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
