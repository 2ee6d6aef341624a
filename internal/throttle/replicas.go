package throttle

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// rediscoverEvery is how often the primary is asked again for its replicas
// when they were not named: replicas come and go during a long migration,
// but not by the second.
const rediscoverEvery = 30 * time.Second

// probe is one measurement of one replica.
type probe struct {
	addr     string
	health   Health // never HealthLagging: that depends on the limit
	lag      time.Duration
	lagKnown bool
	detail   string
	// unconfirmed says why a discovered registration could not be
	// confirmed as the replica the primary lists (see replicaConn).
	unconfirmed string
}

// state is the probe as State shows it under the lag limit maxLag.
func (p probe) state(maxLag time.Duration) ReplicaState {
	s := ReplicaState{Addr: p.addr, Health: p.health, Lag: p.lag, LagKnown: p.lagKnown, Detail: p.detail}
	if p.health == HealthOK && p.lag > maxLag {
		s.Health = HealthLagging
	}
	return s
}

// reason is why the replica throttles under the limit maxLag, or "".
func (p probe) reason(maxLag time.Duration) string {
	name := "replica " + p.addr
	switch p.health {
	case HealthOK:
		if p.lag > maxLag {
			return fmt.Sprintf("%s lag %s > %s", name, roundLag(p.lag), roundLag(maxLag))
		}
		return ""
	case HealthNoHeartbeat:
		return name + " has no heartbeat (" + p.detail + ")"
	default:
		return fmt.Sprintf("%s %s (%s)", name, p.health, p.detail)
	}
}

// roundLag rounds a lag to what the heartbeat can tell: a tenth of a second
// reads well and is about the heartbeat's own precision.
func roundLag(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

// replicaConn is the connection to one watched replica, opened at its first
// probe and kept (database/sql reconnects it when it breaks).
type replicaConn struct {
	addr   string
	db     *sql.DB
	server mysql.Server
	// registeredID is the server id the primary lists for a discovered
	// replica ("" for one named by the operator); verified is set once the
	// server at addr has answered with that id. Until then a failure to
	// reach it, or another id, means the registration is not a replica
	// tailor can watch (another tool's binary log reader registers with
	// its own host name and the primary's port), and it is skipped rather
	// than throttling the copy forever.
	registeredID string
	verified     bool
}

func (c *checker) closeReplicas() {
	for _, rc := range c.replicas {
		if rc.db != nil {
			rc.db.Close()
		}
	}
}

// discoverReplicas asks the primary which replicas it has, and watches
// those from now on. Replicas that do not report an address (report_host
// unset) cannot be watched; they are logged.
func (t *Throttler) discoverReplicas(ctx context.Context, c *checker) error {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.ReplicaTimeout)
	defer cancel()
	q := t.cfg.Server.ReplicaHostsQuery()
	rows, err := mysql.ShowRows(ctx, t.cfg.DB, q)
	if err != nil {
		return fmt.Errorf("list the replicas with %s: %w", q, err)
	}
	c.discoveredAt = time.Now()
	// Skipped registrations get another look at each rediscovery: a
	// replica that was down, or being repointed, may be one now.
	clear(c.ignored)
	found := map[string]bool{}
	ids := map[string]string{}
	var blind []string
	for _, r := range rows {
		if id, err := strconv.ParseUint(r["server_id"], 10, 32); err == nil && slices.Contains(t.cfg.IgnoreServerIDs, uint32(id)) {
			continue
		}
		port, _ := strconv.Atoi(r["port"])
		if r["host"] == "" || port <= 0 {
			blind = append(blind, r["server_id"])
			continue
		}
		addr := net.JoinHostPort(r["host"], strconv.Itoa(port))
		found[addr] = true
		ids[addr] = r["server_id"]
	}
	if maps.Equal(found, mapKeys(c.replicas)) {
		return nil
	}
	for addr, rc := range c.replicas {
		if !found[addr] {
			if rc.db != nil {
				rc.db.Close()
			}
			delete(c.replicas, addr)
		}
	}
	for addr := range found {
		if c.replicas[addr] == nil {
			c.replicas[addr] = &replicaConn{addr: addr, registeredID: ids[addr]}
		}
	}
	t.log.Info("watching replicas", "replicas", slices.Sorted(maps.Keys(found)))
	if len(blind) > 0 {
		t.log.Warn("replicas without a reported address are not watched; set report_host and report_port on them, or name them with --throttle-control-replicas",
			slog.Any("server_ids", blind))
	}
	return nil
}

func mapKeys(m map[string]*replicaConn) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// probeReplicas measures every watched replica at once, so that a slow one
// delays the check by at most ReplicaTimeout, and returns the results in
// address order.
func (t *Throttler) probeReplicas(ctx context.Context, c *checker) []probe {
	conns := slices.SortedFunc(maps.Values(c.replicas), func(a, b *replicaConn) int { return strings.Compare(a.addr, b.addr) })
	out := make([]probe, len(conns))
	var wg sync.WaitGroup
	for i, rc := range conns {
		wg.Go(func() { out[i] = t.probe(ctx, rc, c.primaryPort) })
	}
	wg.Wait()
	if !c.discover {
		return out
	}
	// A discovered registration that could not be confirmed as the
	// replica the primary lists is skipped until the next rediscovery. A
	// replica named with --throttle-control-replicas, or one confirmed
	// before, is trusted to be one, and throttles when it fails.
	kept := out[:0]
	for _, p := range out {
		if p.unconfirmed == "" {
			kept = append(kept, p)
			continue
		}
		t.log.Warn("a server registered as a replica is not watched until the next look at the replicas", "addr", p.addr, "why", p.unconfirmed)
		c.ignored[p.addr] = true
		if rc := c.replicas[p.addr]; rc != nil && rc.db != nil {
			rc.db.Close()
		}
		delete(c.replicas, p.addr)
	}
	return kept
}

// probe reads one replica's replication threads and the heartbeat it holds.
// primaryPort picks, on a multi-source replica, the streams from the
// primary.
func (t *Throttler) probe(ctx context.Context, rc *replicaConn, primaryPort int) probe {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.ReplicaTimeout)
	defer cancel()
	p := probe{addr: rc.addr, health: HealthUnreachable}
	if rc.db == nil {
		host, port, _ := net.SplitHostPort(rc.addr)
		conn := t.cfg.Conn
		conn.Host, conn.Socket, conn.Database, conn.Timeout = host, "", "", t.cfg.ReplicaTimeout
		conn.Port, _ = strconv.Atoi(port)
		db, err := mysql.Open(ctx, conn)
		if err != nil {
			p.detail = t.rootCause(err)
			if tlsErr := mysql.TLSError(conn, err); tlsErr != nil {
				p.detail = tlsErr.Error()
			}
			if rc.registeredID != "" && !rc.verified {
				p.unconfirmed = "cannot be reached to confirm it: " + p.detail
			}
			return p
		}
		// One connection is all the probes need; a struggling replica
		// should not see more.
		db.SetMaxOpenConns(1)
		server, err := mysql.DetectServer(ctx, db)
		if err != nil {
			db.Close()
			p.detail = t.rootCause(err)
			return p
		}
		rc.db, rc.server = db, server
	}

	if rc.registeredID != "" && !rc.verified {
		var id string
		if err := rc.db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id); err != nil {
			p.detail = t.rootCause(err)
			p.unconfirmed = "cannot read its server_id: " + p.detail
			return p
		}
		if id != rc.registeredID {
			p.unconfirmed = fmt.Sprintf("the server there has server_id %s, not the registered %s (a binary log reader registered with this host?)", id, rc.registeredID)
			return p
		}
		rc.verified = true
	}
	syntax := rc.server.ReplicaStatus()
	rows, err := mysql.ShowRows(ctx, rc.db, syntax.Query)
	if err != nil {
		p.detail = "cannot read its replication status: " + t.rootCause(err)
		return p
	}
	if stopped := stoppedStream(rows, syntax, primaryPort); stopped != "" {
		p.health, p.detail = HealthStopped, stopped
	}

	var micros int64
	err = rc.db.QueryRowContext(ctx, "SELECT micros FROM "+t.hbTable+" WHERE id = 1").Scan(&micros)
	now := time.Now()
	switch {
	case err == nil:
		// Both ends of the difference come from tailor's clock (see beat);
		// the lag is known to within one heartbeat Interval plus the
		// round trips.
		p.lag, p.lagKnown = max(now.Sub(time.UnixMicro(micros)), 0), true
		if p.health != HealthStopped {
			p.health = HealthOK
		}
	case p.health == HealthStopped:
		// Stopped replication explains a missing heartbeat well enough.
	case errors.Is(err, sql.ErrNoRows):
		p.health, p.detail = HealthNoHeartbeat, "no beat has reached it yet"
	case mysql.ErrorNumber(err) == mysql.ErrNoSuchTable:
		p.health, p.detail = HealthNoHeartbeat, "the heartbeat table "+t.hbTable+" has not reached it; do replication filters leave it out?"
	default:
		p.detail = "cannot read the heartbeat: " + t.rootCause(err)
	}
	return p
}

// stoppedStream describes the first stream in a replica's status rows whose
// threads do not both run, or returns "". Only the streams from a source on
// primaryPort count when there is one (a multi-source replica also
// replicates from other servers). No row at all means the server is not
// replicating.
func stoppedStream(rows []map[string]string, syntax mysql.ReplicaStatusSyntax, primaryPort int) string {
	col := func(r map[string]string, c string) string { return r[strings.ToLower(c)] }
	if len(rows) == 0 {
		return "it has no replication configured"
	}
	var fromPrimary []map[string]string
	for _, r := range rows {
		if col(r, syntax.SourcePort) == strconv.Itoa(primaryPort) {
			fromPrimary = append(fromPrimary, r)
		}
	}
	if len(fromPrimary) > 0 {
		rows = fromPrimary
	}
	for _, r := range rows {
		io, applier := col(r, syntax.IORunning), col(r, syntax.SQLRunning)
		if io == "Yes" && applier == "Yes" {
			continue
		}
		var why []string
		if io != "Yes" {
			why = append(why, syntax.IORunning+": "+io)
		}
		if applier != "Yes" {
			why = append(why, syntax.SQLRunning+": "+applier)
		}
		for _, e := range []string{col(r, syntax.LastSQLError), col(r, syntax.LastIOError)} {
			if e != "" {
				why = append(why, "last error: "+strings.Join(strings.Fields(e), " "))
				break
			}
		}
		return strings.Join(why, ", ")
	}
	return ""
}

// rootCause is the part of a connection error that says what went wrong
// ("connect: connection refused", the server's message, a timeout),
// without the layers of wrapping around it.
func (t *Throttler) rootCause(err error) string {
	var netErr *net.OpError
	switch {
	case errors.As(err, &netErr) && netErr.Err != nil:
		return netErr.Err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s", t.cfg.ReplicaTimeout)
	case mysql.ErrorNumber(err) != 0:
		msg := err.Error()
		if i := strings.Index(msg, "): "); i >= 0 && strings.Contains(msg[:i], "Error ") {
			return msg[i+3:]
		}
		return msg
	}
	return err.Error()
}
