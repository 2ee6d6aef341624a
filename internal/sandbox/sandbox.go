// Package sandbox starts and stops a throwaway mariadbd: its own temporary
// data directory, a free loopback port, a unix socket, and a binary log in ROW
// format with full row images. Tests, the demo and the benchmark use it; it is
// stopped by the PID it started, never by name.
package sandbox

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// ErrNoServer is returned by Start when no mariadbd binary can be found.
var ErrNoServer = errors.New("no mariadbd binary found (install the mariadb-server package)")

// Options tune a sandbox.
type Options struct {
	// Dir is where the data directory goes; a new temporary one when empty.
	Dir string
	// ServerID is @@server_id; 1 when zero.
	ServerID int
	// ExtraArgs are appended to mariadbd's command line.
	ExtraArgs []string
	// Zone is the server's system time zone, the TZ of its environment
	// (Europe/Amsterdam, say: a zone whose clock changes); empty keeps
	// the machine's.
	Zone string
	// Log receives mariadbd's error log when the server fails to start.
	Log func(string)
	// TLS makes a certificate authority, a server certificate and a client
	// certificate (MakeCerts) in the sandbox's directory, and starts the
	// server with them (ssl-ca, ssl-cert, ssl-key). Conn then connects
	// with VERIFY_IDENTITY and the client certificate.
	TLS bool
	// RequireSecureTransport starts a TLS sandbox with
	// require_secure_transport=ON: the server refuses a TCP connection in
	// the clear (its unix socket counts as secure).
	RequireSecureTransport bool
}

// Sandbox is a running mariadbd.
type Sandbox struct {
	Dir    string
	Port   int
	Socket string
	// Certs are the TLS files of a sandbox started with Options.TLS; nil
	// otherwise.
	Certs   *Certs
	cmd     *exec.Cmd
	exited  chan struct{}
	ownsDir bool
	// binary, serverID and opts launch the server again (Relaunch).
	binary   string
	serverID int
	opts     Options
}

// User and Password are the administrative account every sandbox has. It is
// a throwaway server on loopback; the password exists so that tests exercise
// password handling the way a real server needs it.
const (
	User     = "tailor"
	Password = "sandbox-pw"
)

// FindServer returns the paths of mariadbd and mariadb-install-db.
func FindServer() (server, installer string, err error) {
	lookup := func(names ...string) string {
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				return p
			}
			for _, dir := range []string{"/usr/sbin", "/usr/libexec", "/usr/local/mysql/bin"} {
				p := filepath.Join(dir, n)
				if st, err := os.Stat(p); err == nil && !st.IsDir() {
					return p
				}
			}
		}
		return ""
	}
	server = lookup("mariadbd", "mysqld")
	installer = lookup("mariadb-install-db", "mysql_install_db")
	if server == "" || installer == "" {
		return "", "", ErrNoServer
	}
	return server, installer, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start creates a data directory, starts mariadbd on it and waits until it
// accepts connections and has the tailor account.
func Start(ctx context.Context, opts Options) (*Sandbox, error) {
	server, installer, err := FindServer()
	if err != nil {
		return nil, err
	}
	s := &Sandbox{Dir: opts.Dir, binary: server, opts: opts}
	if s.Dir == "" {
		// Unix socket paths are limited to ~108 bytes, so keep the directory short.
		s.Dir, err = os.MkdirTemp("", "tailor-sbx-")
		if err != nil {
			return nil, fmt.Errorf("create sandbox directory: %w", err)
		}
		s.ownsDir = true
	}
	data := filepath.Join(s.Dir, "data")
	s.Socket = filepath.Join(s.Dir, "mysqld.sock")
	serverID := opts.ServerID
	if serverID == 0 {
		serverID = 1
	}
	s.serverID = serverID
	// A private tmpdir: sandboxes started at the same time would otherwise
	// delete each other's #sql-temptable files in the shared /tmp.
	tmp := filepath.Join(s.Dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		s.removeDir()
		return nil, fmt.Errorf("create sandbox tmpdir: %w", err)
	}
	install := exec.CommandContext(ctx, installer, "--no-defaults", "--datadir="+data, "--tmpdir="+tmp,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve")
	if os.Geteuid() == 0 {
		install.Args = append(install.Args, "--user=root")
	}
	if out, err := install.CombinedOutput(); err != nil {
		s.removeDir()
		return nil, fmt.Errorf("initialise sandbox data directory: %w: %s", err, lastLines(out, 10))
	}
	if opts.TLS || opts.RequireSecureTransport {
		certs, err := MakeCerts(filepath.Join(s.Dir, "tls"))
		if err != nil {
			s.removeDir()
			return nil, err
		}
		s.Certs = &certs
	}
	for attempt := 0; ; attempt++ {
		s.Port, err = freePort()
		if err != nil {
			s.removeDir()
			return nil, err
		}
		err = s.launch(ctx, server, data, serverID, opts)
		if err == nil {
			break
		}
		if attempt >= 2 || ctx.Err() != nil {
			if opts.Log != nil {
				if b, rerr := os.ReadFile(filepath.Join(s.Dir, "error.log")); rerr == nil {
					opts.Log(lastLines(b, 30))
				}
			}
			s.removeDir()
			return nil, err
		}
	}
	if err := s.bootstrap(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Sandbox) launch(ctx context.Context, server, data string, serverID int, opts Options) error {
	args := []string{
		"--no-defaults",
		"--datadir=" + data,
		"--tmpdir=" + filepath.Join(s.Dir, "tmp"),
		"--socket=" + s.Socket,
		"--port=" + strconv.Itoa(s.Port),
		"--bind-address=127.0.0.1",
		"--pid-file=" + filepath.Join(s.Dir, "mysqld.pid"),
		"--log-error=" + filepath.Join(s.Dir, "error.log"),
		"--server-id=" + strconv.Itoa(serverID),
		// The address this server gives its primary when it replicates
		// (SHOW SLAVE HOSTS there), so that checks can reach it; it has no
		// effect on a server that is not a replica.
		"--report-host=127.0.0.1",
		"--report-port=" + strconv.Itoa(s.Port),
		"--log-bin=" + filepath.Join(data, "binlog"),
		"--binlog-format=ROW",
		"--binlog-row-image=FULL",
		"--log-slave-updates",
		"--skip-name-resolve",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_unicode_520_ci",
		"--innodb-buffer-pool-size=512M",
		"--innodb-log-file-size=256M",
		"--innodb-flush-log-at-trx-commit=2",
		"--sync-binlog=0",
		"--max-connections=500",
		"--skip-log-bin-trust-function-creators",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	if s.Certs != nil {
		args = append(args, "--ssl-ca="+s.Certs.CA, "--ssl-cert="+s.Certs.ServerCert, "--ssl-key="+s.Certs.ServerKey)
		if opts.RequireSecureTransport {
			args = append(args, "--require-secure-transport=ON")
		}
	}
	args = append(args, opts.ExtraArgs...)
	// The server must outlive a cancelled start context only until Stop, so
	// it is not tied to ctx; Stop ends it by PID.
	cmd := exec.Command(server, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if opts.Zone != "" {
		cmd.Env = append(os.Environ(), "TZ="+opts.Zone)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mariadbd: %w", err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.DialTimeout("unix", s.Socket, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("mariadbd exited during start-up (see %s)", filepath.Join(s.Dir, "error.log"))
		case <-ctx.Done():
			s.kill()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("mariadbd did not accept connections within 60s (see %s)", filepath.Join(s.Dir, "error.log"))
		}
	}
}

// bootstrap creates the tailor account, reachable over TCP with a password.
func (s *Sandbox) bootstrap(ctx context.Context) error {
	root, err := mysql.Open(ctx, mysql.ConnConfig{Socket: s.Socket, User: "root"})
	if err != nil {
		return fmt.Errorf("connect to sandbox as root: %w", err)
	}
	defer root.Close()
	for _, q := range []string{
		"CREATE USER IF NOT EXISTS " + mysql.QuoteString(User) + "@'%' IDENTIFIED BY " + mysql.QuoteString(Password),
		"GRANT ALL PRIVILEGES ON *.* TO " + mysql.QuoteString(User) + "@'%' WITH GRANT OPTION",
	} {
		if _, err := root.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("prepare sandbox account: %w", err)
		}
	}
	return nil
}

// Conn is the configuration to reach the sandbox over TCP as the tailor
// account, with database as the default schema. A TLS sandbox is reached
// with VERIFY_IDENTITY, its CA and its client certificate.
func (s *Sandbox) Conn(database string) mysql.ConnConfig {
	c := mysql.ConnConfig{Host: "127.0.0.1", Port: s.Port, User: User, Password: Password, Database: database}
	if s.Certs != nil {
		c.TLS = mysql.TLSOptions{Mode: mysql.SSLVerifyIdentity, CA: s.Certs.CA, Cert: s.Certs.ClientCert, Key: s.Certs.ClientKey}
	}
	return c
}

// Open connects to the sandbox.
func (s *Sandbox) Open(ctx context.Context, database string) (*sql.DB, error) {
	return mysql.Open(ctx, s.Conn(database))
}

// PID is the server's process id.
func (s *Sandbox) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Sandbox) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// Stop shuts the server down (SIGTERM, then SIGKILL after 30 s) and removes
// the data directory if Start created it.
func (s *Sandbox) Stop() {
	s.Shutdown()
	s.removeDir()
}

// Shutdown shuts the server down as Stop does, by its PID, and keeps its
// data directory, so that Relaunch can start it again. Clients see what a
// server restart shows them: their sessions end, and connecting fails
// until the server is back.
func (s *Sandbox) Shutdown() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			s.kill()
		}
	}
}

// Relaunch starts the server again after Shutdown, on the same data
// directory, port and socket, and waits until it accepts connections.
func (s *Sandbox) Relaunch(ctx context.Context) error {
	if s.cmd != nil {
		select {
		case <-s.exited:
		default:
			return errors.New("sandbox: relaunch of a server that is still running")
		}
	}
	return s.launch(ctx, s.binary, filepath.Join(s.Dir, "data"), s.serverID, s.opts)
}

// Restart shuts the server down and starts it again on the same data
// directory and port: a server restart, as clients see one.
func (s *Sandbox) Restart(ctx context.Context) error {
	s.Shutdown()
	return s.Relaunch(ctx)
}

func (s *Sandbox) removeDir() {
	if s.ownsDir {
		_ = os.RemoveAll(s.Dir)
	}
}

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(string(bytes.Join(lines, []byte("\n"))))
}
