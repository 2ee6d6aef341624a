package preflight

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// maxReplicaLag is the lag above which the replicas check warns.
const maxReplicaLag = time.Second

// replicaTimeout bounds connecting to one replica and reading its status: an
// unreachable replica must not hold the checks up for long.
const replicaTimeout = 3 * time.Second

// replicaState is what the replicas check learnt of one replication stream.
type replicaState struct {
	// name is how the message names it: "replica 127.0.0.1:3307", or
	// "this server" for its own replication from its source.
	name string
	// lag is how far the applier is behind, when it runs.
	lag time.Duration
	// problem is why the stream is a warning ("has stopped replicating
	// (...)"), or "".
	problem string
}

func (r replicaState) String() string {
	if r.problem != "" {
		return r.name + " " + r.problem
	}
	return fmt.Sprintf("%s is %d s behind", r.name, int64(r.lag/time.Second))
}

// checkReplicas reports the lag of the replicas attached to the server, and
// of the server itself when it is a replica. It never fails: a lagging
// replica is something to know before adding the copy's write load, not a
// reason to refuse.
// NoReplicasMessage is the replicas check's message when it saw every
// session and no replica or other binary log reader among them.
const NoReplicasMessage = "no replicas attached"

func checkReplicas(ctx context.Context, in Input) (Check, error) {
	c := Check{Name: CheckReplicas, Status: Pass}
	var states []replicaState
	var unseen []string // what could not be seen, for the message

	var port int
	var serverID uint32
	if err := in.DB.QueryRowContext(ctx, "SELECT @@port, @@server_id").Scan(&port, &serverID); err != nil {
		return Check{}, fmt.Errorf("read the server's port and id: %w", err)
	}
	// Registrations found not to be replicas (see Followers): said, but
	// no reason to look at replication.
	var readers []string
	process, err := seesAllSessions(ctx, in.DB)
	if err != nil {
		return Check{}, err
	}
	// MariaDB 10.5.2+ lets only REPLICATION MASTER ADMIN list replicas;
	// the binary log readers in the processlist still show that some are
	// attached.
	registered, err := mysql.ShowRows(ctx, in.DB, in.Server.ReplicaHostsQuery())
	listed := err == nil
	switch {
	case isAccessDenied(err):
		unseen = append(unseen, fmt.Sprintf("the account may not run %s (%s)", in.Server.ReplicaHostsQuery(), serverError(err)))
	case err != nil:
		return Check{}, fmt.Errorf("list the replicas: %w", err)
	}
	if !process {
		unseen = append(unseen, "without PROCESS tailor sees only its own user's binary log readers")
	}
	for _, r := range registered {
		host, id := r["host"], r["server_id"]
		p, _ := strconv.Atoi(r["port"])
		if host == "" || p == 0 {
			states = append(states, replicaState{name: "replica with server id " + id,
				problem: "does not report its address, so its lag is unknown (set report_host and report_port on it)"})
			continue
		}
		addr := net.JoinHostPort(host, strconv.Itoa(p))
		if v := confirmReplica(ctx, in.Conn, host, p, id, serverID, port); v.kind == followerNotReplica {
			readers = append(readers, "the reader registered as "+addr+" with server id "+id+" "+v.why+", so it is not a replica")
			continue
		}
		states = append(states, probeReplica(ctx, in.Conn, host, p, id, port))
	}
	dumps, err := queryStrings(ctx, in.DB,
		"SELECT CONCAT(USER, '@', COALESCE(HOST, '')) FROM information_schema.PROCESSLIST WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID') ORDER BY ID")
	if err != nil {
		return Check{}, fmt.Errorf("look for binary log readers: %w", err)
	}
	// A replica registers only when it has report_host set; the others
	// show only as a binary log reader, as do other tools that read it.
	if extra := len(dumps) - len(registered); extra > 0 {
		they, replicas, them := "they are", "replicas their lag is", "them"
		if extra == 1 {
			they, replicas, them = "it is", "a replica its lag is", "it"
		}
		why := fmt.Sprintf("without reporting an address, so if %s %s unknown (set report_host and report_port on %s)", they, replicas, them)
		if !listed {
			why = fmt.Sprintf("and if %s %s unknown, since the replicas cannot be listed", they, replicas)
		}
		states = append(states, replicaState{
			name:    plural(extra, "binary log reader", "binary log readers"),
			problem: fmt.Sprintf("connected as %s %s", strings.Join(dumps, ", "), why),
		})
	}
	own, err := replicaStatus(ctx, in.DB, in.Server, "this server", 0)
	switch {
	case isAccessDenied(err):
		unseen = append(unseen, fmt.Sprintf("the account may not read whether this server is itself a replica (%s)", serverError(err)))
	case err != nil:
		return Check{}, err
	}
	states = append(states, own...)

	var problems []string
	for _, s := range states {
		c.Details = append(c.Details, s.String())
		if s.problem != "" || s.lag > maxReplicaLag {
			problems = append(problems, s.String())
		}
	}
	switch {
	case len(problems) > 0:
		c.Status = Warn
		c.Message = strings.Join(problems, "; ") + "; look at replication before starting, since the change adds write load that every replica must apply too"
	case len(states) == 0 && !listed && !process:
		c.Status = Warn
		c.Message = "tailor cannot tell whether replicas are attached: " + strings.Join(unseen, ", and ")
		return c, nil
	case len(states) == 0:
		c.Message = NoReplicasMessage
	case len(states) == 1:
		c.Message = states[0].String()
	default:
		var most time.Duration
		for _, s := range states {
			most = max(most, s.lag)
		}
		c.Message = fmt.Sprintf("%d replication streams, at most %d s behind", len(states), int64(most/time.Second))
	}
	if len(readers) > 0 {
		c.Details = append(c.Details, readers...)
		c.Message += "; " + plural(len(readers), "binary log reader registered as a replica is not one", "binary log readers registered as replicas are not replicas") + " (another tailor, a change-data-capture tool)"
	}
	if len(unseen) > 0 {
		c.Message += "; " + strings.Join(unseen, ", and ")
	}
	return c, nil
}

// seesAllSessions reports whether the account has PROCESS, which is what
// lets it see other users' sessions: reading InnoDB's transactions needs
// exactly that privilege, so the server answers without parsing grants.
// (A query the optimizer can answer without reading the table, such as one
// with WHERE 0, is not refused, hence the COUNT.)
func seesAllSessions(ctx context.Context, db *sql.DB) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.INNODB_TRX").Scan(&n)
	if isAccessDenied(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read InnoDB's transactions: %w", err)
	}
	return true, nil
}

// probeReplica connects to the replica registered as host:port with server
// id wantID, with the primary's user and password, and reads its lag
// behind the primary, which listens on primaryPort.
func probeReplica(ctx context.Context, conn mysql.ConnConfig, host string, port int, wantID string, primaryPort int) replicaState {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	name := "replica " + addr
	ctx, cancel := context.WithTimeout(ctx, replicaTimeout)
	defer cancel()
	conn.Host, conn.Port, conn.Socket, conn.Database, conn.Timeout = host, port, "", "", replicaTimeout
	db, err := mysql.Open(ctx, conn)
	if tlsErr := mysql.TLSError(conn, err); tlsErr != nil {
		// The primary's TLS settings, checked under the replica's name.
		return replicaState{name: name, problem: fmt.Sprintf("cannot be reached with tailor's TLS settings (%v)", tlsErr)}
	}
	if err != nil {
		return replicaState{name: name, problem: fmt.Sprintf("cannot be reached with tailor's user and password (%s)", rootCause(err))}
	}
	defer db.Close()
	var id string
	if err := db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id); err != nil {
		return replicaState{name: name, problem: fmt.Sprintf("cannot be read (%s)", rootCause(err))}
	}
	if id != wantID {
		return replicaState{name: name, problem: fmt.Sprintf("is registered with server id %s but the server at that address has id %s, so its lag is unknown (a tool reading the binary log may register this way)", wantID, id)}
	}
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		return replicaState{name: name, problem: fmt.Sprintf("cannot be read (%s)", rootCause(err))}
	}
	states, err := replicaStatus(ctx, db, server, name, primaryPort)
	if err != nil {
		return replicaState{name: name, problem: fmt.Sprintf("does not show its replication status (%s)", rootCause(err))}
	}
	if len(states) == 0 {
		return replicaState{name: name, problem: "shows no replication status, so its lag is unknown"}
	}
	// The stream that is worst off speaks for the replica: a stopped one,
	// else the one furthest behind.
	worst := states[0]
	for _, s := range states[1:] {
		switch {
		case worst.problem != "":
		case s.problem != "" || s.lag > worst.lag:
			worst = s
		}
	}
	return worst
}

// replicaStatus reads the replication streams of the server behind db, as
// states named name. With a sourcePort, only the streams from a source on
// that port are kept, when there is one (a multi-source replica also
// replicates from other servers); without, all are, named by their source.
func replicaStatus(ctx context.Context, db *sql.DB, server mysql.Server, name string, sourcePort int) ([]replicaState, error) {
	syntax := server.ReplicaStatus()
	rows, err := mysql.ShowRows(ctx, db, syntax.Query)
	if err != nil {
		return nil, err
	}
	col := func(r map[string]string, c string) string { return r[strings.ToLower(c)] }
	var fromSource []map[string]string
	for _, r := range rows {
		if sourcePort != 0 && col(r, syntax.SourcePort) == strconv.Itoa(sourcePort) {
			fromSource = append(fromSource, r)
		}
	}
	if len(fromSource) > 0 {
		rows = fromSource
	}
	var out []replicaState
	for _, r := range rows {
		s := replicaState{name: name}
		if sourcePort == 0 {
			s.name = fmt.Sprintf("%s (replicating from %s)", name, net.JoinHostPort(col(r, syntax.SourceHost), col(r, syntax.SourcePort)))
		}
		io, applier, lag := col(r, syntax.IORunning), col(r, syntax.SQLRunning), col(r, syntax.Lag)
		secs, err := strconv.ParseInt(lag, 10, 64)
		switch {
		case io != "Yes" || applier != "Yes" || err != nil:
			why := fmt.Sprintf("%s: %s, %s: %s", syntax.IORunning, io, syntax.SQLRunning, applier)
			for _, e := range []string{col(r, syntax.LastSQLError), col(r, syntax.LastIOError)} {
				if e != "" {
					why += ", last error: " + oneLine(e)
					break
				}
			}
			s.problem = "has stopped replicating (" + why + ")"
		default:
			s.lag = time.Duration(secs) * time.Second
		}
		out = append(out, s)
	}
	return out, nil
}

// rootCause is the part of a connection error that says what went wrong
// ("connection refused", "i/o timeout", the server's message), without the
// layers of wrapping around it.
func rootCause(err error) string {
	var netErr *net.OpError
	if errors.As(err, &netErr) && netErr.Err != nil {
		return netErr.Err.Error()
	}
	if mysql.ErrorNumber(err) != 0 {
		return serverError(err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", replicaTimeout)
	}
	return err.Error()
}

// serverError is the server's message of err without the driver's
// "Error 1227 (42000): " prefix.
func serverError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "): "); i >= 0 && strings.Contains(msg[:i], "Error ") {
		return msg[i+3:]
	}
	return msg
}
