package sandbox

import (
	"context"
	"testing"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// TestTLSSandbox starts a sandbox of its own with TLS and
// require_secure_transport: Conn reaches it encrypted, checking the
// server's name, with the client certificate; a connection in the clear is
// refused with the server's error, and TLSError puts that in one sentence.
func TestTLSSandbox(t *testing.T) {
	Need(t, sbx)
	ctx := context.Background()
	own, err := Start(ctx, Options{TLS: true, RequireSecureTransport: true, Log: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	if own.Certs == nil {
		t.Fatal("a TLS sandbox has no certificates")
	}
	c := own.Conn("")
	if c.TLS.Mode != mysql.SSLVerifyIdentity {
		t.Fatalf("Conn of a TLS sandbox uses %s", c.TLS.Mode)
	}
	db, err := mysql.Open(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name, cipher string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		t.Fatal(err)
	}
	if cipher == "" {
		t.Fatal("the connection of Conn is not encrypted")
	}
	var secure string
	if err := db.QueryRowContext(ctx, "SELECT @@require_secure_transport").Scan(&secure); err != nil {
		t.Fatal(err)
	}
	if secure != "1" {
		t.Fatalf("require_secure_transport = %s", secure)
	}

	plain := c
	plain.TLS = mysql.TLSOptions{}
	_, err = mysql.Open(ctx, plain)
	if err == nil {
		t.Fatal("a connection in the clear was accepted")
	}
	// MariaDB 10.11 refuses it as a wrong password (MySQL has an error
	// of its own, ErrSecureTransportRequired).
	if n := mysql.ErrorNumber(err); n != mysql.ErrAccessDenied && n != mysql.ErrSecureTransportRequired {
		t.Fatalf("refusal %v has error number %d, want %d", err, n, mysql.ErrAccessDenied)
	}
	// Over the unix socket, which the server counts as secure, the clear
	// is accepted.
	local := plain
	local.Socket = own.Socket
	ldb, err := mysql.Open(ctx, local)
	if err != nil {
		t.Fatalf("the unix socket in the clear: %v", err)
	}
	ldb.Close()
}
