package preflight

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// Followers is what the readers of a server's binary log turned out to be:
// the replicas that replay it, and the other readers (a second tailor, a
// change-data-capture tool such as Debezium or Maxwell) that only read it.
//
// Whatever reads the binary log may register with the server as a replica
// (COM_REGISTER_SLAVE, listed by SHOW SLAVE HOSTS) with a host, a port and a
// server id of its choosing: go-mysql's syncer, which tailor itself uses,
// registers with its own host name and the primary's port. So a
// registration is a replica only when a server answers at its address, with
// its server id, and replicates from this server.
type Followers struct {
	// Replicas are the registrations confirmed as replicas of this server,
	// by address ("127.0.0.1:3307").
	Replicas []string
	// Unconfirmed are the registrations that may be replicas but could be
	// neither confirmed nor ruled out (a server answers at the address, but
	// not to tailor's account), each with why.
	Unconfirmed []string
	// NotReplicas are the binary log readers that are not replicas, each
	// with why.
	NotReplicas []string
	// Unlisted is why the registrations could not be listed, or "": then
	// nothing is known.
	Unlisted string
}

// FindFollowers sorts the binary log readers of the server behind in.DB into
// replicas and the other readers. Registrations with a server id in ignore
// (tailor's own binary log reader) are left out. It fails only when the
// server itself cannot be read; what cannot be learnt of a registration is
// in its entry.
//
// A binary log reader that did not register is not counted as a replica:
// MySQL and MariaDB replicas register when report_host is set on them, and
// a reader that did not cannot be told
// apart from a tool, since the primary knows no address to ask it at.
func FindFollowers(ctx context.Context, in Input, ignore []uint32) (Followers, error) {
	var f Followers
	var primaryID uint32
	var primaryPort int
	if err := in.DB.QueryRowContext(ctx, "SELECT @@server_id, @@port").Scan(&primaryID, &primaryPort); err != nil {
		return f, fmt.Errorf("read the server's id and port: %w", err)
	}
	registered, err := mysql.ShowRows(ctx, in.DB, in.Server.ReplicaHostsQuery())
	switch {
	case isAccessDenied(err):
		// MariaDB 10.5.2+ lets only REPLICATION MASTER ADMIN list them.
		f.Unlisted = fmt.Sprintf("the account may not run %s (%s)", in.Server.ReplicaHostsQuery(), serverError(err))
		return f, nil
	case err != nil:
		return f, fmt.Errorf("list the replicas: %w", err)
	}
	type registration struct {
		addr, id string
		port     int
	}
	var regs []registration
	for _, r := range registered {
		id, port := r["server_id"], 0
		if n, err := strconv.ParseUint(id, 10, 32); err == nil && slices.Contains(ignore, uint32(n)) {
			continue
		}
		port, _ = strconv.Atoi(r["port"])
		if r["host"] == "" || port <= 0 {
			f.Unconfirmed = append(f.Unconfirmed, "the registration with server id "+id+" reports no address (set report_host and report_port on it)")
			continue
		}
		regs = append(regs, registration{addr: net.JoinHostPort(r["host"], strconv.Itoa(port)), id: id, port: port})
	}
	verdicts := make([]follower, len(regs))
	var wg sync.WaitGroup
	for i, r := range regs {
		host, _, _ := net.SplitHostPort(r.addr)
		wg.Go(func() { verdicts[i] = confirmReplica(ctx, in.Conn, host, r.port, r.id, primaryID, primaryPort) })
	}
	wg.Wait()
	for i, v := range verdicts {
		switch v.kind {
		case followerReplica:
			f.Replicas = append(f.Replicas, regs[i].addr)
		case followerUnconfirmed:
			f.Unconfirmed = append(f.Unconfirmed, regs[i].addr+" "+v.why)
		default:
			f.NotReplicas = append(f.NotReplicas, "the reader registered as "+regs[i].addr+" with server id "+regs[i].id+" "+v.why)
		}
	}
	// Without PROCESS only the account's own sessions show: the readers
	// that did not register are then undercounted, which changes nothing
	// since they are not replicas.
	dumps, err := queryStrings(ctx, in.DB,
		"SELECT CONCAT(USER, '@', COALESCE(HOST, '')) FROM information_schema.PROCESSLIST WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID') ORDER BY ID")
	if err != nil {
		return f, fmt.Errorf("look for binary log readers: %w", err)
	}
	if extra := len(dumps) - len(registered); extra > 0 {
		f.NotReplicas = append(f.NotReplicas, fmt.Sprintf("%s among %s did not register as a replica",
			plural(extra, "binary log reader", "binary log readers"), strings.Join(dumps, ", ")))
	}
	return f, nil
}

// followerKind is what confirmReplica found at a registered address.
type followerKind int

const (
	followerNotReplica followerKind = iota
	followerReplica
	followerUnconfirmed
)

type follower struct {
	kind followerKind
	// why is what was found, phrased to follow the reader's name.
	why string
}

// confirmReplica connects to the registration host:port with the primary's
// user and password, and tells whether the server there is the one
// registered (server id wantID) and replicates from the primary (server id
// primaryID, listening on primaryPort).
func confirmReplica(ctx context.Context, conn mysql.ConnConfig, host string, port int, wantID string, primaryID uint32, primaryPort int) follower {
	ctx, cancel := context.WithTimeout(ctx, replicaTimeout)
	defer cancel()
	conn.Host, conn.Port, conn.Socket, conn.Database, conn.Timeout = host, port, "", "", replicaTimeout
	db, err := mysql.Open(ctx, conn)
	if err != nil {
		// A server that answers, but not to tailor's account or TLS
		// settings, may be the replica: it cannot be ruled out.
		if tlsErr := mysql.TLSError(conn, err); tlsErr != nil {
			return follower{followerUnconfirmed, fmt.Sprintf("answers, but not with tailor's TLS settings (%v)", tlsErr)}
		}
		if mysql.ErrorNumber(err) != 0 {
			return follower{followerUnconfirmed, fmt.Sprintf("answers, but refuses tailor's user and password (%s)", serverError(err))}
		}
		// Nothing listens there, or not a server: a reader registers
		// with an address of its choosing, which no server need hold.
		return follower{followerNotReplica, fmt.Sprintf("is no server that answers (%s)", rootCause(err))}
	}
	defer db.Close()
	var id string
	if err := db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id); err != nil {
		return follower{followerUnconfirmed, fmt.Sprintf("answers, but its server id cannot be read (%s)", rootCause(err))}
	}
	if id != wantID {
		return follower{followerNotReplica, fmt.Sprintf("is answered by a server with id %s", id)}
	}
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		return follower{followerUnconfirmed, fmt.Sprintf("answers, but its version cannot be read (%s)", rootCause(err))}
	}
	syntax := server.ReplicaStatus()
	rows, err := mysql.ShowRows(ctx, db, syntax.Query)
	if err != nil {
		return follower{followerUnconfirmed, fmt.Sprintf("answers, but does not show its replication status (%s)", rootCause(err))}
	}
	if len(rows) == 0 {
		return follower{followerNotReplica, "is answered by a server that does not replicate"}
	}
	col := func(r map[string]string, c string) string { return r[strings.ToLower(c)] }
	var sources []string
	for _, r := range rows {
		if pointsAt(col(r, syntax.SourceServerID), col(r, syntax.SourcePort), primaryID, primaryPort) {
			return follower{kind: followerReplica}
		}
		sources = append(sources, net.JoinHostPort(col(r, syntax.SourceHost), col(r, syntax.SourcePort)))
	}
	return follower{followerNotReplica, "is answered by a server that replicates from " + strings.Join(sources, ", ") + ", not from this server"}
}

// pointsAt tells whether a replication stream whose source has server id
// sourceID and port sourcePort (its status row's columns) reads from the
// primary with server id primaryID on primaryPort. The source's server id
// decides once the receiver has connected; before (0 or empty), the port
// alone, since the host the replica knows the primary by (a name, a virtual
// address) need not be any the primary knows itself by.
func pointsAt(sourceID, sourcePort string, primaryID uint32, primaryPort int) bool {
	if id, err := strconv.ParseUint(sourceID, 10, 32); err == nil && id != 0 {
		return uint32(id) == primaryID
	}
	return sourcePort == strconv.Itoa(primaryPort)
}
