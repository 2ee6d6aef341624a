package mysql_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	driver "github.com/go-sql-driver/mysql"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

func TestParseSSLMode(t *testing.T) {
	t.Parallel()
	for _, m := range []mysql.SSLMode{mysql.SSLDisabled, mysql.SSLPreferred, mysql.SSLRequired, mysql.SSLVerifyCA, mysql.SSLVerifyIdentity} {
		for _, s := range []string{m.String(), strings.ToLower(m.String())} {
			got, err := mysql.ParseSSLMode(s)
			if err != nil || got != m {
				t.Errorf("ParseSSLMode(%q) = %v, %v", s, got, err)
			}
		}
	}
	if _, err := mysql.ParseSSLMode("ON"); err == nil {
		t.Error("ParseSSLMode(ON) accepted")
	}
}

func TestTLSOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		o  mysql.TLSOptions
		ok bool
	}{
		{mysql.TLSOptions{}, true},
		{mysql.TLSOptions{Mode: mysql.SSLRequired}, true},
		{mysql.TLSOptions{Mode: mysql.SSLVerifyCA}, false},
		{mysql.TLSOptions{Mode: mysql.SSLVerifyIdentity, CA: "ca.pem"}, true},
		{mysql.TLSOptions{Mode: mysql.SSLRequired, Cert: "c.pem"}, false},
		{mysql.TLSOptions{Mode: mysql.SSLRequired, Key: "k.pem"}, false},
		{mysql.TLSOptions{Mode: mysql.SSLRequired, Cert: "c.pem", Key: "k.pem"}, true},
	} {
		if err := c.o.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate() = %v", c.o, err)
		}
	}
}

// TestTLSConfig checks what each mode checks of the sandbox's server
// certificate (issued for 127.0.0.1 and localhost) without a server.
func TestTLSConfig(t *testing.T) {
	t.Parallel()
	certs, err := sandbox.MakeCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	other, err := sandbox.MakeCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	serverCert := readCert(t, certs.ServerCert)
	conn := func(host string, mode mysql.SSLMode, ca string) mysql.ConnConfig {
		return mysql.ConnConfig{Host: host, Port: 3306, TLS: mysql.TLSOptions{Mode: mode, CA: ca, Cert: certs.ClientCert, Key: certs.ClientKey}}
	}

	for _, c := range []mysql.ConnConfig{conn("127.0.0.1", mysql.SSLDisabled, ""), {Socket: "/s", TLS: mysql.TLSOptions{Mode: mysql.SSLPreferred}}} {
		if cfg, err := c.TLSConfig(); cfg != nil || err != nil {
			t.Errorf("%v in the clear: TLSConfig() = %v, %v", c.TLS.Mode, cfg, err)
		}
	}
	for _, mode := range []mysql.SSLMode{mysql.SSLPreferred, mysql.SSLRequired} {
		cfg, err := conn("127.0.0.1", mode, "").TLSConfig()
		if err != nil || !cfg.InsecureSkipVerify || len(cfg.Certificates) != 1 {
			t.Errorf("%v: %+v, %v", mode, cfg, err)
		}
	}
	// VERIFY_CA checks the authority, not the name: a replica reached as
	// 10.0.0.7 with the same certificate passes.
	state := tls.ConnectionState{PeerCertificates: []*x509.Certificate{serverCert}}
	cfg, err := conn("10.0.0.7", mysql.SSLVerifyCA, certs.CA).TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.VerifyConnection(state); err != nil {
		t.Errorf("VERIFY_CA refused the certificate its CA signed: %v", err)
	}
	cfg, err = conn("127.0.0.1", mysql.SSLVerifyCA, other.CA).TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	verr := cfg.VerifyConnection(state)
	if !errors.As(verr, new(x509.UnknownAuthorityError)) {
		t.Errorf("VERIFY_CA with another CA: %v", verr)
	}
	// VERIFY_IDENTITY checks the name of the host connected to, which a
	// copy of the config for a replica changes.
	cfg, err = conn("db-replica-2", mysql.SSLVerifyIdentity, certs.CA).TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != "db-replica-2" || cfg.InsecureSkipVerify || cfg.RootCAs == nil {
		t.Errorf("VERIFY_IDENTITY: ServerName %q, InsecureSkipVerify %v", cfg.ServerName, cfg.InsecureSkipVerify)
	}
	_, herr := serverCert.Verify(x509.VerifyOptions{Roots: cfg.RootCAs, DNSName: cfg.ServerName})
	if msg := mysql.TLSError(conn("db-replica-2", mysql.SSLVerifyIdentity, certs.CA), fmt.Errorf("connect: %w", herr)); msg == nil ||
		!strings.Contains(msg.Error(), `not issued for "db-replica-2"`) || !strings.Contains(msg.Error(), "localhost, 127.0.0.1") || !strings.Contains(msg.Error(), "VERIFY_CA") {
		t.Errorf("TLSError of %v = %v", herr, msg)
	}
}

func TestTLSError(t *testing.T) {
	t.Parallel()
	c := mysql.ConnConfig{Host: "db1", Port: 3306, TLS: mysql.TLSOptions{Mode: mysql.SSLRequired}}
	for _, e := range []struct {
		err   error
		words []string
	}{
		{fmt.Errorf("connect: %w", driver.ErrNoTLS), []string{"does not offer TLS", "--ssl-mode REQUIRED", "db1:3306"}},
		{errors.New("the MySQL Server does not support TLS required by the client"), []string{"does not offer TLS"}},
		{fmt.Errorf("connect: %w", tls.AlertError(48)), []string{"refused the TLS handshake", "--ssl-cert"}},
		{&driver.MySQLError{Number: mysql.ErrSecureTransportRequired}, []string{"require_secure_transport"}},
	} {
		msg := mysql.TLSError(c, e.err)
		if msg == nil {
			t.Errorf("TLSError(%v) = nil", e.err)
			continue
		}
		for _, w := range e.words {
			if !strings.Contains(msg.Error(), w) {
				t.Errorf("TLSError(%v) = %q, without %q", e.err, msg, w)
			}
		}
	}
	if msg := mysql.TLSError(c, &driver.MySQLError{Number: mysql.ErrAccessDenied}); msg != nil {
		t.Errorf("a refused login is not a TLS error: %v", msg)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
