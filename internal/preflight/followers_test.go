package preflight

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// TestBinlogReadersAreNotReplicas connects binary log readers that register
// as replicas, as change-data-capture tools and a second tailor do: one at
// an address where no server answers, one at the primary's own address
// (go-mysql registers with the port it connects to), and one that is
// ignored as tailor's own. None is a replica. It is not parallel: the other
// tests' replicas checks would see the readers.
func TestBinlogReadersAreNotReplicas(t *testing.T) {
	sandbox.Need(t, sbx)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sbx.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{DB: db, Server: server, Conn: sbx.Conn("")}
	f, err := FindFollowers(ctx, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Replicas)+len(f.Unconfirmed)+len(f.NotReplicas) > 0 || f.Unlisted != "" {
		t.Fatalf("before any reader: %+v", f)
	}

	// The sandbox listens on 127.0.0.1 only: nothing answers at 127.0.0.2.
	for _, r := range []struct {
		host string
		id   uint32
	}{{"127.0.0.2", 4001}, {"127.0.0.1", 4002}, {"127.0.0.1", 4003}} {
		reader, err := sbx.StartBinlogReader(ctx, r.host, r.id)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := reader.Stop(); err != nil {
				t.Error(err)
			}
		}()
	}
	f, err = FindFollowers(ctx, in, []uint32{4003})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Replicas) > 0 || len(f.Unconfirmed) > 0 || f.Unlisted != "" {
		t.Errorf("binary log readers taken for replicas: %+v", f)
	}
	if len(f.NotReplicas) != 2 {
		t.Fatalf("not replicas = %q, want the two readers not ignored", f.NotReplicas)
	}
	got := strings.Join(f.NotReplicas, "\n")
	for _, want := range []string{
		"the reader registered as 127.0.0.2:",
		"with server id 4001 is no server that answers (connect: connection refused)",
		"with server id 4002 is answered by a server with id 1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("not replicas:\n%s\nwant %q", got, want)
		}
	}
	if strings.Contains(got, "4003") {
		t.Errorf("tailor's own reader listed:\n%s", got)
	}

	// The replicas check says so, and asks for no look at replication.
	c, err := checkReplicas(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, c, CheckReplicas, Pass, NoReplicasMessage+"; 3 binary log readers registered as replicas are not replicas")
	if len(c.Details) != 3 || !strings.Contains(strings.Join(c.Details, "\n"), "with server id 4001 is no server that answers (connect: connection refused), so it is not a replica") {
		t.Errorf("details = %q", c.Details)
	}
}

func TestPointsAt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sourceID, sourcePort string
		want                 bool
	}{
		{"1", "3306", true},
		{"1", "3307", true},  // the primary's id, behind a proxy's port
		{"7", "3306", false}, // another server on a port of the same number
		{"0", "3306", true},  // not yet connected: the port decides
		{"", "3306", true},   // no such column
		{"0", "3307", false}, // not yet connected, elsewhere
	}
	for _, tt := range tests {
		if got := pointsAt(tt.sourceID, tt.sourcePort, 1, 3306); got != tt.want {
			t.Errorf("pointsAt(%q, %q) = %v, want %v", tt.sourceID, tt.sourcePort, got, tt.want)
		}
	}
}
