package preflight

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// TestReplicasCheck attaches a replica to the shared sandbox, then makes it
// lag and stop. It is not parallel: the other checks' tests would see the
// replica.
func TestReplicasCheck(t *testing.T) {
	sandbox.Need(t, sbx)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	primary, err := sbx.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close()
	server, err := mysql.DetectServer(ctx, primary)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{DB: primary, Server: server, Conn: sbx.Conn("")}
	c, err := checkReplicas(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckReplicas, Pass, "no replicas attached")

	// An account that may neither list replicas nor see other users'
	// sessions cannot tell; with PROCESS it can, from the processlist.
	_, dbName := sbx.NewDatabase(t)
	blind := restrictedUser(t, primary, dbName, "tlr_blind", "GRANT SELECT ON {db}.* TO {user}")
	c, err = checkReplicas(ctx, Input{DB: blind, Server: server, Conn: sbx.Conn("")})
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckReplicas, Warn, "tailor cannot tell whether replicas are attached: the account may not run SHOW SLAVE HOSTS (Access denied; you need (at least one of) the REPLICATION MASTER ADMIN privilege(s) for this operation), and without PROCESS tailor sees only its own user's binary log readers")
	seeing := restrictedUser(t, primary, dbName, "tlr_seeing", "GRANT PROCESS ON *.* TO {user}", "GRANT SELECT ON {db}.* TO {user}")
	c, err = checkReplicas(ctx, Input{DB: seeing, Server: server, Conn: sbx.Conn("")})
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckReplicas, Pass, "no replicas attached; the account may not run SHOW SLAVE HOSTS")

	replica, err := sandbox.StartReplica(ctx, sbx, sandbox.Options{Log: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()
	name := "replica 127.0.0.1:" + strconv.Itoa(replica.Port)
	c, err = checkReplicas(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckReplicas, Pass, name+" is 0 s behind")
	// A real replica is one; ignoring its server id leaves none.
	addr := "127.0.0.1:" + strconv.Itoa(replica.Port)
	if f, err := FindFollowers(ctx, in, nil); err != nil || len(f.Replicas) != 1 || f.Replicas[0] != addr || len(f.NotReplicas)+len(f.Unconfirmed) > 0 {
		t.Errorf("FindFollowers = %+v, %v; want the replica %s alone", f, err, addr)
	}
	var replicaID uint32
	rows, err := mysql.ShowRows(ctx, primary, "SHOW SLAVE HOSTS")
	if err != nil || len(rows) != 1 {
		t.Fatalf("SHOW SLAVE HOSTS = %v, %v", rows, err)
	}
	if n, err := strconv.ParseUint(rows[0]["server_id"], 10, 32); err == nil {
		replicaID = uint32(n)
	}
	if f, err := FindFollowers(ctx, in, []uint32{replicaID}); err != nil || len(f.Replicas) > 0 {
		t.Errorf("FindFollowers ignoring the replica = %+v, %v; want none", f, err)
	}

	c, err = checkReplicas(ctx, Input{DB: seeing, Server: server, Conn: sbx.Conn("")})
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckReplicas, Warn, "1 binary log reader connected as tailor@127.0.0.1:", "and if it is a replica its lag is unknown, since the replicas cannot be listed")

	// A database created after the replica started replicates.
	replicated := dbName + "_r"
	defer primary.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+mysql.QuoteIdent(replicated)) //nolint:errcheck // best effort
	table := mysql.QuoteTable(replicated, "counter")
	for _, q := range []string{"CREATE DATABASE " + mysql.QuoteIdent(replicated), "CREATE TABLE " + table + " (id INT PRIMARY KEY, n INT)", "INSERT INTO " + table + " VALUES (1, 0)"} {
		if _, err := primary.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := replica.SyncWith(ctx, sbx); err != nil {
		t.Fatal(err)
	}
	rdb, err := replica.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()

	// A row lock held on the replica stops its SQL thread on the next
	// update of that row, and the lag grows.
	lock, err := rdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := lock.QueryRowContext(ctx, "SELECT n FROM "+table+" WHERE id = 1 FOR UPDATE").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if _, err := primary.ExecContext(ctx, "UPDATE "+table+" SET n = n + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	c, err = checkReplicas(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckReplicas, Warn, name+" is ", " s behind; look at replication before starting")
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := replica.SyncWith(ctx, sbx); err != nil {
		t.Fatal(err)
	}

	// The replica itself reports its own replication.
	rin := Input{DB: rdb, Server: server, Conn: replica.Conn("")}
	c, err = checkReplicas(ctx, rin)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckReplicas, Pass, fmt.Sprintf("this server (replicating from 127.0.0.1:%d) is 0 s behind", sbx.Port))

	// A stopped SQL thread: the lag is unknown, and the check says why.
	if _, err := rdb.ExecContext(ctx, "STOP SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	if _, err := primary.ExecContext(ctx, "UPDATE "+table+" SET n = n + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	c, err = checkReplicas(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckReplicas, Warn, name+" has stopped replicating (Slave_IO_Running: Yes, Slave_SQL_Running: No)")
	c, err = checkReplicas(ctx, rin)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckReplicas, Warn, "this server (replicating from 127.0.0.1:", ") has stopped replicating (Slave_IO_Running: Yes, Slave_SQL_Running: No)")
	if _, err := rdb.ExecContext(ctx, "START SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	if err := replica.WaitReplicating(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestProbeUnreachableReplica(t *testing.T) {
	sandbox.Need(t, sbx)
	t.Parallel()
	port := sandbox.ClosedPort(t)
	s := probeReplica(context.Background(), sbx.Conn(""), "127.0.0.1", port, "2", sbx.Port)
	want := fmt.Sprintf("replica 127.0.0.1:%d cannot be reached with tailor's user and password (connect: connection refused)", port)
	if s.String() != want {
		t.Errorf("probe = %q, want %q", s, want)
	}
	// The sandbox itself answers with another server id than the one
	// registered.
	s = probeReplica(context.Background(), sbx.Conn(""), "127.0.0.1", sbx.Port, "99", sbx.Port)
	if want := "is registered with server id 99 but the server at that address has id 1"; !strings.Contains(s.problem, want) {
		t.Errorf("probe = %q, want %q", s, want)
	}
}
