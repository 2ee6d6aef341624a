package throttle

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/sandbox"
)

// TestReplicaOverTLS watches a replica that accepts only encrypted
// connections (require_secure_transport) with the TLS settings of
// Config.Conn, its certificate checked under the replica's own address;
// with a CA that did not sign it, the replica is unreachable and the
// reason says why in a sentence.
func TestReplicaOverTLS(t *testing.T) {
	sandbox.Need(t, sbx)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	replica, err := sandbox.StartReplica(ctx, sbx, sandbox.Options{TLS: true, RequireSecureTransport: true, Log: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()
	addr := "127.0.0.1:" + strconv.Itoa(replica.Port)

	t.Run("verified", func(t *testing.T) {
		db, dbName := sbx.NewDatabase(t)
		cfg, _ := baseConfig(t, db, dbName)
		cfg.Replicas = []string{addr}
		cfg.Conn.TLS = replica.Conn("").TLS // VERIFY_IDENTITY, the replica's CA, a client certificate
		th := start(t, cfg)
		waitFree(t, th)
		if s := th.State(); len(s.Replicas) != 1 || s.Replicas[0].Health != HealthOK || !s.Replicas[0].LagKnown {
			t.Fatalf("replicas = %+v, want %s healthy with its lag known", s.Replicas, addr)
		}
	})

	t.Run("wrong CA", func(t *testing.T) {
		other, err := sandbox.MakeCerts(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		db, dbName := sbx.NewDatabase(t)
		cfg, _ := baseConfig(t, db, dbName)
		cfg.Replicas = []string{addr}
		cfg.Conn.TLS = replica.Conn("").TLS
		cfg.Conn.TLS.CA = other.CA
		th := start(t, cfg)
		got := throttledFor(t, th, "replica "+addr+" unreachable (")
		if !strings.Contains(got, "not signed by the certificate authority in --ssl-ca "+other.CA) {
			t.Errorf("reason %q does not say the CA is wrong", got)
		}
	})
}
