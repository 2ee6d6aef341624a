package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// TestTLSFlags checks the TLS flags before any connection is made.
func TestTLSFlags(t *testing.T) {
	noPassword(t)
	dir := t.TempDir()
	certs, err := sandbox.MakeCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"alter", "--port", "1", "--database", "d", "--table", "t", "--alter", "ADD COLUMN x INT"}
	for _, c := range []struct {
		name  string
		args  []string
		words []string
	}{
		{"unknown mode", []string{"--ssl-mode", "ON"}, []string{"--ssl-mode", "VERIFY_IDENTITY"}},
		{"verify without CA", []string{"--ssl-mode", "verify_identity"}, []string{"--ssl-ca"}},
		{"cert without key", []string{"--ssl-mode", "REQUIRED", "--ssl-cert", certs.ClientCert}, []string{"--ssl-cert", "--ssl-key"}},
		{"missing CA file", []string{"--ssl-ca", filepath.Join(dir, "none.pem")}, []string{"--ssl-ca", "none.pem"}},
		{"CA not PEM", []string{"--ssl-ca", certs.ClientKey}, []string{"--ssl-ca", "no PEM certificate"}},
		{"key of another cert", []string{"--ssl-mode", "REQUIRED", "--ssl-cert", certs.ClientCert, "--ssl-key", certs.ServerKey}, []string{"client certificate", "--ssl-key"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := tailor(t, append(base, c.args...)...)
			o.wantCode(t, exitUsage)
			o.errorLine(t, c.words...)
		})
	}
}

// TestTLS runs tailor against a sandbox of its own started with TLS (a
// CA, server and client certificates made at test time) and
// require_secure_transport=ON, as an account that must present the
// client certificate (REQUIRE X509): every connection tailor makes, the
// binary log reader's and the proof's included, must be encrypted with
// it for the migration to finish.
func TestTLS(t *testing.T) {
	sandbox.Need(t, sbx)
	ctx := context.Background()
	own, err := sandbox.Start(ctx, sandbox.Options{TLS: true, RequireSecureTransport: true, Log: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	const user, password = "tailor_x509", "x509-secret-pw-17"
	admin, err := own.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, q := range []string{
		"CREATE USER " + mysql.QuoteString(user) + "@'%' IDENTIFIED BY " + mysql.QuoteString(password) + " REQUIRE X509",
		"GRANT ALL PRIVILEGES ON *.* TO " + mysql.QuoteString(user) + "@'%'",
		"CREATE DATABASE d",
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db, err := own.Open(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	smallTable(t, db, 20000)

	c := own.Certs
	server := []string{"--host", "127.0.0.1", "--port", strconv.Itoa(own.Port), "--user", user}
	verify := []string{"--ssl-mode", "VERIFY_IDENTITY", "--ssl-ca", c.CA, "--ssl-cert", c.ClientCert, "--ssl-key", c.ClientKey}
	args := func(cmd string, extra ...string) []string {
		a := append([]string{cmd}, server...)
		a = append(a, "--database", "d", "--table", "t")
		return append(a, extra...)
	}
	var outputs []string
	run := func(t *testing.T, a ...string) outcome {
		t.Helper()
		o := tailor(t, a...)
		outputs = append(outputs, o.stdout+o.stderr)
		return o
	}
	t.Setenv("MYSQL_PWD", password)

	t.Run("VERIFY_IDENTITY plan", func(t *testing.T) {
		o := run(t, args("plan", append(verify, "--alter", "ADD COLUMN refunded_at DATETIME NULL")...)...)
		o.wantCode(t, exitOK)
	})

	t.Run("VERIFY_IDENTITY alter under writes", func(t *testing.T) {
		// Writes during the copy reach the new table only through the
		// binary log reader, which connects with the same TLS settings.
		var written atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				if _, err := db.ExecContext(ctx, "INSERT INTO t (name, n) VALUES ('w', 7)"); err == nil {
					written.Add(1)
				}
				_, _ = db.ExecContext(ctx, "UPDATE t SET n = n + 1 WHERE id = 1 + FLOOR(RAND() * 20000)")
			}
		}()
		o := run(t, args("alter", append(verify, "--alter", "ADD COLUMN refunded_at DATETIME NULL", "--execute", "--force-copy", "--ok-to-drop-table", "--chunk-size", "500", "--verbose")...)...)
		close(stop)
		wg.Wait()
		o.wantCode(t, exitOK)
		if written.Load() == 0 {
			t.Fatal("no write reached the table during the migration")
		}
		var rows int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if want := 20000 + written.Load(); rows != want {
			t.Errorf("the new table has %d rows, want %d", rows, want)
		}
	})

	t.Run("status", func(t *testing.T) {
		// No migration is left (the old table and the state were
		// dropped): that status can say so means it read the server.
		o := run(t, args("status", verify...)...)
		o.wantCode(t, exitNoMigration)
		o.errorLine(t, "no saved state")
	})

	t.Run("defaults file", func(t *testing.T) {
		cnf := filepath.Join(t.TempDir(), "my.cnf")
		body := "[client]\nuser = " + user + "\npassword = " + password + "\nhost = 127.0.0.1\nport = " + strconv.Itoa(own.Port) +
			"\nssl-mode = VERIFY_IDENTITY\nssl_ca = " + c.CA + "\nssl-cert = " + c.ClientCert + "\nssl-key = \"" + c.ClientKey + "\"\n"
		if err := os.WriteFile(cnf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		noPassword(t)
		o := run(t, "plan", "--defaults-file", cnf, "--database", "d", "--table", "t", "--alter", "ADD COLUMN z INT")
		o.wantCode(t, exitOK)
	})

	t.Run("REQUIRED", func(t *testing.T) {
		// The certificate is not checked, but the client certificate is
		// still sent: the account requires it.
		o := run(t, args("alter", "--ssl-mode", "REQUIRED", "--ssl-cert", c.ClientCert, "--ssl-key", c.ClientKey,
			"--alter", "DROP COLUMN refunded_at", "--execute", "--force-copy", "--ok-to-drop-table")...)
		o.wantCode(t, exitOK)
	})

	t.Run("wrong CA", func(t *testing.T) {
		other, err := sandbox.MakeCerts(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range []string{"VERIFY_CA", "VERIFY_IDENTITY"} {
			o := run(t, args("plan", "--ssl-mode", mode, "--ssl-ca", other.CA, "--ssl-cert", c.ClientCert, "--ssl-key", c.ClientKey, "--alter", "ADD COLUMN z INT")...)
			o.wantCode(t, exitConnect)
			o.errorLine(t, "not signed by the certificate authority", "--ssl-ca", other.CA)
		}
		o := run(t, args("status", "--ssl-mode", "VERIFY_IDENTITY", "--ssl-ca", other.CA)...)
		o.wantCode(t, exitConnect)
		o.errorLine(t, "not signed by the certificate authority")
	})

	t.Run("no client certificate", func(t *testing.T) {
		o := run(t, args("plan", "--ssl-mode", "VERIFY_IDENTITY", "--ssl-ca", c.CA, "--alter", "ADD COLUMN z INT")...)
		o.wantCode(t, exitConnect)
		o.errorLine(t, "refused the login", user, "--ssl-cert")
	})

	t.Run("require_secure_transport", func(t *testing.T) {
		// The sandbox's own account needs no client certificate: only the
		// transport differs between these two.
		t.Setenv("MYSQL_PWD", sandbox.Password)
		plain := []string{"plan", "--host", "127.0.0.1", "--port", strconv.Itoa(own.Port), "--user", sandbox.User, "--database", "d", "--table", "t", "--alter", "ADD COLUMN z INT"}
		o := run(t, append(plain, "--ssl-mode", "DISABLED")...)
		o.wantCode(t, exitConnect)
		o.errorLine(t, "require_secure_transport", "--ssl-mode REQUIRED")
		o = run(t, append(plain, "--ssl-mode", "REQUIRED")...)
		o.wantCode(t, exitOK)
		// PREFERRED, the default, encrypts when the server offers TLS,
		// and so does the binary log reader, which must settle PREFERRED
		// itself: this server refuses its connection in the clear.
		execute := append([]string{"alter"}, plain[1:len(plain)-2]...)
		o = run(t, append(execute, "--alter", "ADD COLUMN z INT", "--execute", "--force-copy", "--ok-to-drop-table")...)
		o.wantCode(t, exitOK)
	})

	t.Run("REQUIRED without TLS on the server", func(t *testing.T) {
		plainDB, name := sbx.NewDatabase(t)
		smallTable(t, plainDB, 10)
		t.Setenv("MYSQL_PWD", sandbox.Password)
		o := run(t, alterArgs(name, "t", "ADD COLUMN z INT", "--ssl-mode", "REQUIRED")...)
		o.wantCode(t, exitConnect)
		o.errorLine(t, "does not offer TLS", "--ssl-mode REQUIRED")
		o = run(t, alterArgs(name, "t", "ADD COLUMN z INT", "--ssl-mode", "VERIFY_IDENTITY", "--ssl-ca", c.CA)...)
		o.wantCode(t, exitConnect)
		o.errorLine(t, "does not offer TLS", "VERIFY_IDENTITY")
	})

	for _, out := range outputs {
		for _, secret := range []string{password, sandbox.Password} {
			if strings.Contains(out, secret) {
				t.Errorf("a password appears in tailor's output:\n%s", out)
			}
		}
	}
}
