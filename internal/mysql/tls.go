package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	driver "github.com/go-sql-driver/mysql"
)

// SSLMode says whether a connection is encrypted and what is checked of
// the server's certificate. The names and meanings are the mysql client's
// --ssl-mode (MySQL 5.7.11 and later).
type SSLMode int

const (
	// SSLDisabled connects without TLS. It is the zero value, so that a
	// ConnConfig made without TLS settings (the sandbox's, a test's)
	// connects in the clear as it always did; the command line's default
	// is SSLPreferred, as the mysql client's is.
	SSLDisabled SSLMode = iota
	// SSLPreferred encrypts when the server offers TLS and connects in the
	// clear when it does not; the server's certificate is not checked. Over
	// a unix socket, which never leaves the host, it connects in the clear.
	SSLPreferred
	// SSLRequired encrypts or fails; the server's certificate is not
	// checked, so it guards against eavesdropping, not impersonation.
	SSLRequired
	// SSLVerifyCA is SSLRequired, and the server's certificate must be
	// signed by the certificate authority of TLSOptions.CA.
	SSLVerifyCA
	// SSLVerifyIdentity is SSLVerifyCA, and the certificate must also name
	// the host connected to (a DNS name or an IP address among its subject
	// alternative names; "localhost" over a unix socket).
	SSLVerifyIdentity
)

var sslModeNames = [...]string{"DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"}

func (m SSLMode) String() string {
	if m < 0 || int(m) >= len(sslModeNames) {
		return fmt.Sprintf("SSLMode(%d)", int(m))
	}
	return sslModeNames[m]
}

// Verifies reports whether the mode checks the server's certificate
// against a certificate authority.
func (m SSLMode) Verifies() bool { return m == SSLVerifyCA || m == SSLVerifyIdentity }

// ParseSSLMode reads a mode by the mysql client's name, in any case.
func ParseSSLMode(s string) (SSLMode, error) {
	for i, name := range sslModeNames {
		if strings.EqualFold(strings.TrimSpace(s), name) {
			return SSLMode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown SSL mode %q: use one of %s", s, strings.Join(sslModeNames[:], ", "))
}

// TLSOptions say how a connection is encrypted: the mysql client's
// --ssl-mode, --ssl-ca, --ssl-cert and --ssl-key. The files are PEM and are
// read each time a pool is opened, so a certificate renewed on disk is
// picked up by the next connection pool.
type TLSOptions struct {
	Mode SSLMode
	// CA is the certificate authority (one or more certificates) that
	// signed the server's certificate; required by the verifying modes.
	CA string
	// Cert and Key are the client's certificate and private key, for an
	// account created with REQUIRE X509 or REQUIRE SUBJECT; both or neither.
	Cert string
	Key  string
}

// Validate reports settings that cannot work, in the flags' words.
func (o TLSOptions) Validate() error {
	if o.Mode < SSLDisabled || o.Mode > SSLVerifyIdentity {
		return fmt.Errorf("unknown --ssl-mode %d", int(o.Mode))
	}
	if (o.Cert == "") != (o.Key == "") {
		return errors.New("--ssl-cert and --ssl-key go together: give the client certificate and its private key, or neither")
	}
	if o.Mode.Verifies() && o.CA == "" {
		return fmt.Errorf("--ssl-mode %s checks the server's certificate against a certificate authority: give it with --ssl-ca", o.Mode)
	}
	return nil
}

// TLSConfig is the crypto/tls configuration for c, or nil when c connects
// in the clear. Each call makes a new one, read from the files of c.TLS:
// the server name it checks is c's own host, so that a replica reached
// with a copy of c is checked against the replica's name.
func (c ConnConfig) TLSConfig() (*tls.Config, error) {
	o := c.TLS
	if o.Mode == SSLDisabled || (o.Mode == SSLPreferred && c.Socket != "") {
		return nil, nil
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.Cert != "" {
		pair, err := tls.LoadX509KeyPair(o.Cert, o.Key)
		if err != nil {
			return nil, fmt.Errorf("load the client certificate (--ssl-cert %s, --ssl-key %s): %w", o.Cert, o.Key, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	var roots *x509.CertPool
	if o.CA != "" {
		pem, err := os.ReadFile(o.CA)
		if err != nil {
			return nil, fmt.Errorf("read --ssl-ca: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ssl-ca %s holds no PEM certificate", o.CA)
		}
	}
	switch o.Mode {
	case SSLPreferred, SSLRequired:
		// As the mysql client: encrypted, the certificate not checked.
		cfg.InsecureSkipVerify = true
	case SSLVerifyCA:
		// Go checks the chain and the name together; VERIFY_CA wants the
		// chain alone, so the built-in check is off and this one does it.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyChain(cs.PeerCertificates, roots)
		}
	case SSLVerifyIdentity:
		cfg.RootCAs = roots
		cfg.ServerName = c.Host
		if c.Socket != "" {
			cfg.ServerName = "localhost"
		}
	}
	return cfg, nil
}

// verifyChain checks that the server's certificate is signed, through the
// intermediates it sent, by one of roots, for server authentication.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool) error {
	if len(certs) == 0 {
		return errors.New("the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	return nil
}

// ResolvePreferred turns SSLPreferred into what a connection made now
// gets: SSLRequired when the server offers TLS, SSLDisabled when it does
// not. It is for clients that cannot fall back to the clear by
// themselves: go-mysql's binary log connection fails on a server without
// TLS when it is given a TLS configuration (v1.13.0, client/auth.go).
// Other modes are returned as they are.
func ResolvePreferred(ctx context.Context, c ConnConfig) (ConnConfig, error) {
	if c.TLS.Mode != SSLPreferred {
		return c, nil
	}
	if c.Socket != "" {
		c.TLS.Mode = SSLDisabled
		return c, nil
	}
	db, err := open(ctx, c, nil)
	if err != nil {
		return c, err
	}
	defer db.Close()
	var name, cipher string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		return c, fmt.Errorf("find whether the connection to %s is encrypted: %w", c, err)
	}
	if cipher != "" {
		c.TLS.Mode = SSLRequired
	} else {
		c.TLS.Mode = SSLDisabled
	}
	return c, nil
}

// TLSError is the one sentence that says what went wrong when err, from
// connecting with c, is a failure of the encryption c asks for: a server
// without TLS, a certificate its CA did not sign or that names another
// host, a handshake the server refused, a server that requires TLS of a
// connection in the clear. It is nil for any other error.
func TLSError(c ConnConfig, err error) error {
	o := c.TLS
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		alert     tls.AlertError
		record    tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, driver.ErrNoTLS) || strings.Contains(err.Error(), "does not support TLS required by the client"):
		return fmt.Errorf("the server at %s does not offer TLS, which --ssl-mode %s requires; enable TLS on the server (its ssl-cert and ssl-key settings) or connect with --ssl-mode PREFERRED", c.Addr(), o.Mode)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("the certificate of the server at %s is not signed by the certificate authority in --ssl-ca %s; give the CA that signed the server's certificate", c.Addr(), o.CA)
	case errors.As(err, &hostname):
		return fmt.Errorf("the certificate of the server at %s is not issued for %q (%v); connect with a --host the certificate names, or check only its authority with --ssl-mode VERIFY_CA", c.Addr(), hostname.Host, certNames(hostname.Certificate))
	case errors.As(err, &invalid):
		return fmt.Errorf("the certificate of the server at %s is not valid: %v", c.Addr(), invalid.Error())
	case errors.As(err, &alert):
		return fmt.Errorf("the server at %s refused the TLS handshake (%v); check --ssl-cert and --ssl-key, the client certificate the account may require", c.Addr(), alert.Error())
	case errors.As(err, &record):
		return fmt.Errorf("the TLS handshake with the server at %s failed: the server did not answer in TLS", c.Addr())
	case ErrorNumber(err) == ErrSecureTransportRequired:
		return fmt.Errorf("the server at %s accepts only encrypted connections (require_secure_transport), and this one is in the clear under --ssl-mode %s; use --ssl-mode REQUIRED or a verifying mode", c.Addr(), o.Mode)
	}
	return nil
}

// certNames lists the names a certificate is issued for.
func certNames(cert *x509.Certificate) string {
	if cert == nil {
		return "no certificate"
	}
	var names []string
	names = append(names, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "it names none"
	}
	return "it names " + strings.Join(names, ", ")
}
