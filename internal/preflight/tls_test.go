package preflight

import (
	"context"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/sandbox"
)

// TestProbeReplicaOverTLS probes a server that accepts only encrypted
// connections with the TLS settings of the primary's ConnConfig: the right
// CA reaches it (and finds it is not the registered replica), a wrong one
// says so in the check's sentence.
func TestProbeReplicaOverTLS(t *testing.T) {
	sandbox.Need(t, sbx)
	ctx := context.Background()
	own, err := sandbox.Start(ctx, sandbox.Options{TLS: true, RequireSecureTransport: true, Log: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	conn := sbx.Conn("")
	conn.TLS = own.Conn("").TLS
	s := probeReplica(ctx, conn, "127.0.0.1", own.Port, "99", sbx.Port)
	if want := "is registered with server id 99 but the server at that address has id 1"; !strings.Contains(s.problem, want) {
		t.Errorf("probe = %q, want %q", s, want)
	}
	other, err := sandbox.MakeCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	conn.TLS.CA = other.CA
	s = probeReplica(ctx, conn, "127.0.0.1", own.Port, "99", sbx.Port)
	if want := "cannot be reached with tailor's TLS settings (the certificate of the server at 127.0.0.1:"; !strings.Contains(s.String(), want) || !strings.Contains(s.String(), other.CA) {
		t.Errorf("probe = %q, want %q and the CA", s, want)
	}
}
