package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// replicaStartTimeout bounds the wait for a new replica's replication
// threads to run, and SyncWith's wait when ctx has no deadline.
const replicaStartTimeout = 30 * time.Second

// StartReplica starts a new sandbox and makes it a replica of primary, with
// global transaction ids (MASTER_USE_GTID=slave_pos), as the tailor account.
// It returns once both replication threads run. The replica is an ordinary
// *Sandbox: Conn and Open reach it, and Stop stops it and removes its files.
//
// The replica starts from the primary's current binary log position, so it
// holds none of the data the primary had before: create the databases and
// tables that should replicate after StartReplica returns (the primary's
// whole history may hold statements that do not replay on a fresh server).
//
// opts are those of Start. ServerID zero picks an id that neither the
// primary nor its other replicas use; one in use is refused. The replica
// registers with the primary as 127.0.0.1 and its own port (SHOW SLAVE HOSTS
// lists it); ExtraArgs may override that ("--report-port=1" makes a replica
// that cannot be reached at its reported address) or add "--read-only".
func StartReplica(ctx context.Context, primary *Sandbox, opts Options) (*Sandbox, error) {
	if primary == nil {
		return nil, errors.New("start replica: no primary sandbox")
	}
	pdb, err := primary.Open(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("start replica: %w", err)
	}
	defer pdb.Close()
	var primaryID int
	var gtidPos string
	if err := pdb.QueryRowContext(ctx, "SELECT @@server_id, @@gtid_binlog_pos").Scan(&primaryID, &gtidPos); err != nil {
		return nil, fmt.Errorf("start replica: read the primary's server id and position: %w", err)
	}
	used, err := replicaIDs(ctx, pdb)
	if err != nil {
		return nil, err
	}
	used[primaryID] = true
	if opts.ServerID == 0 {
		opts.ServerID = primaryID + 1
		for used[opts.ServerID] {
			opts.ServerID++
		}
	} else if used[opts.ServerID] {
		return nil, fmt.Errorf("start replica: server id %d is already used by the primary or one of its replicas", opts.ServerID)
	}
	replica, err := Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := replica.follow(ctx, primary, gtidPos); err != nil {
		replica.Stop()
		return nil, err
	}
	return replica, nil
}

// replicaIDs are the server ids of the replicas registered with the server.
func replicaIDs(ctx context.Context, db *sql.DB) (map[int]bool, error) {
	rows, err := mysql.ShowRows(ctx, db, "SHOW SLAVE HOSTS")
	if err != nil {
		return nil, fmt.Errorf("start replica: list the primary's replicas: %w", err)
	}
	ids := map[int]bool{}
	for _, r := range rows {
		if id, err := strconv.Atoi(r["server_id"]); err == nil {
			ids[id] = true
		}
	}
	return ids, nil
}

// follow points the server at primary, from gtidPos on, and starts the
// replication threads.
func (s *Sandbox) follow(ctx context.Context, primary *Sandbox, gtidPos string) error {
	db, err := s.Open(ctx, "")
	if err != nil {
		return fmt.Errorf("start replica: %w", err)
	}
	defer db.Close()
	steps := []struct{ what, q string }{
		// The replica's own start-up (the tailor account) is in its binary
		// log under the same GTID domain; a newer GTID there would conflict
		// with the position set next.
		{"clear its binary log", "RESET MASTER"},
		{"set its position", "SET GLOBAL gtid_slave_pos = " + mysql.QuoteString(gtidPos)},
		{"point it at the primary", fmt.Sprintf("CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = %d, MASTER_USER = %s, MASTER_PASSWORD = %s, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1",
			primary.Port, mysql.QuoteString(User), mysql.QuoteString(Password))},
		{"start replication", "START SLAVE"},
	}
	for _, st := range steps {
		if _, err := db.ExecContext(ctx, st.q); err != nil {
			return fmt.Errorf("start replica: %s: %w", st.what, err)
		}
	}
	return s.WaitReplicating(ctx)
}

// WaitReplicating waits until both replication threads of the sandbox run
// (after StartReplica, or a test's STOP SLAVE and START SLAVE), for at most
// 30 s. It fails at once when a thread stopped on an error.
func (s *Sandbox) WaitReplicating(ctx context.Context) error {
	db, err := s.Open(ctx, "")
	if err != nil {
		return fmt.Errorf("wait for replication: %w", err)
	}
	defer db.Close()
	deadline := time.Now().Add(replicaStartTimeout)
	for {
		rows, err := mysql.ShowRows(ctx, db, "SHOW SLAVE STATUS")
		if err != nil {
			return fmt.Errorf("wait for replication: %w", err)
		}
		if len(rows) == 0 {
			return errors.New("wait for replication: the sandbox is not a replica")
		}
		st := rows[0]
		io, sqlThread := st["slave_io_running"], st["slave_sql_running"]
		if io == "Yes" && sqlThread == "Yes" {
			return nil
		}
		if sqlThread == "No" && st["last_sql_error"] != "" {
			return fmt.Errorf("wait for replication: the replica's SQL thread stopped: %s", st["last_sql_error"])
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for replication: threads not running after %s (IO %s, SQL %s; last IO error %q)",
				replicaStartTimeout, io, sqlThread, st["last_io_error"])
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for replication: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// SyncWith waits until the replica sandbox has applied everything primary
// had written when SyncWith was called, for at most ctx's deadline or 30 s.
// It fails at once when the replica's SQL thread stops on an error (a
// statement on a database the replica does not have, say).
func (s *Sandbox) SyncWith(ctx context.Context, primary *Sandbox) error {
	pdb, err := primary.Open(ctx, "")
	if err != nil {
		return fmt.Errorf("sync replica: %w", err)
	}
	defer pdb.Close()
	var pos string
	if err := pdb.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		return fmt.Errorf("sync replica: read the primary's position: %w", err)
	}
	db, err := s.Open(ctx, "")
	if err != nil {
		return fmt.Errorf("sync replica: %w", err)
	}
	defer db.Close()
	deadline := time.Now().Add(replicaStartTimeout)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	for {
		// MASTER_GTID_WAIT waits on the server, so it is given a short
		// timeout of its own: a cancelled context only closes the client's
		// side, and a stopped SQL thread would never get there.
		var res int
		if err := db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, 0.5)", pos).Scan(&res); err != nil {
			return fmt.Errorf("sync replica: %w", err)
		}
		if res == 0 {
			return nil
		}
		rows, err := mysql.ShowRows(ctx, db, "SHOW SLAVE STATUS")
		if err != nil {
			return fmt.Errorf("sync replica: %w", err)
		}
		if len(rows) > 0 && rows[0]["slave_sql_running"] != "Yes" {
			if e := rows[0]["last_sql_error"]; e != "" {
				return fmt.Errorf("sync replica: the replica's SQL thread stopped: %s", e)
			}
			return errors.New("sync replica: the replica's SQL thread is not running")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sync replica: position %s not reached in time", pos)
		}
	}
}
