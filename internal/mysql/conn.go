package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	driver "github.com/go-sql-driver/mysql"
)

// SQLMode is the sql_mode of every session tailor opens. Strict mode turns a
// value that does not fit the shadow table into an error instead of a warning
// and a silently changed row. NO_AUTO_VALUE_ON_ZERO keeps a copied id of 0 as 0
// instead of drawing a new auto-increment value. Zero dates are allowed on
// purpose: tailor copies what the original holds, and judging the original's
// data is the planner's job, not the copier's. A new definition is not
// made in this mode but in the server's global one (GlobalSQLMode,
// ExecInSQLMode), so a zero-date DEFAULT the server's configured mode
// forbids is refused as the server would refuse it.
const SQLMode = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO"

// LenientSQLMode is SQLMode without strict mode: the only mode in which a
// statement stores an ENUM's error value (index 0), which strict mode
// refuses like any value that does not fit. It is used for one statement at
// a time (Server.InSQLMode) whose warnings are then counted, so that no
// other value is changed unseen.
const LenientSQLMode = "NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO"

// ConnConfig says how to reach a server. Password is never logged: use
// LogValue or String when describing a ConnConfig.
type ConnConfig struct {
	Host     string
	Port     int
	Socket   string // a unix socket path; when set, Host and Port are ignored
	User     string
	Password string
	Database string
	// Timeout bounds connecting, and each read and write on the wire.
	Timeout time.Duration
	// TLS says whether and how the connection is encrypted.
	TLS TLSOptions
}

// Addr is host:port or the socket path.
func (c ConnConfig) Addr() string {
	if c.Socket != "" {
		return c.Socket
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// String describes the connection without its password.
func (c ConnConfig) String() string {
	return fmt.Sprintf("%s@%s/%s", c.User, c.Addr(), c.Database)
}

// DriverConfig is the go-sql-driver configuration for c, with tailor's
// session settings applied to every connection of the pool. It fails when
// the TLS files of c cannot be read.
func (c ConnConfig) DriverConfig() (*driver.Config, error) {
	tlsConfig, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	cfg := driver.NewConfig()
	// Config.TLS rather than RegisterTLSConfig: no registry shared by the
	// whole process, and a configuration per pool, whose server name is
	// the host this pool connects to.
	cfg.TLS = tlsConfig
	cfg.AllowFallbackToPlaintext = c.TLS.Mode == SSLPreferred
	cfg.User = c.User
	cfg.Passwd = c.Password
	if c.Socket != "" {
		cfg.Net = "unix"
		cfg.Addr = c.Socket
	} else {
		cfg.Net = "tcp"
		cfg.Addr = c.Addr()
	}
	cfg.DBName = c.Database
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	cfg.Timeout = timeout
	cfg.Collation = "utf8mb4_general_ci"
	cfg.Loc = time.UTC
	cfg.ParseTime = false
	cfg.InterpolateParams = false
	cfg.AllowNativePasswords = true
	cfg.RejectReadOnly = true
	cfg.Params = map[string]string{
		"sql_mode":  "'" + SQLMode + "'",
		"time_zone": "'+00:00'",
		// Every warning of a statement is listed, whatever the server's
		// max_error_count (0 would list none): tailor reads them to
		// refuse a value stored differently (rowcopy.CheckWarnings, the
		// applier's count of an ENUM's error values).
		"max_error_count": "65535",
		// Connection-level character set: binary-safe and able to hold any
		// character a column may store.
		"character_set_results": "utf8mb4",
	}
	return cfg, nil
}

// Open returns a pool for c and checks that the server answers.
func Open(ctx context.Context, c ConnConfig) (*sql.DB, error) {
	return open(ctx, c, nil)
}

// OpenRecording is Open, recording in own the server-side id of every
// connection the pool opens, so that the caller can tell its own sessions
// from everyone else's in the processlist.
func OpenRecording(ctx context.Context, c ConnConfig, own *OwnSessions) (*sql.DB, error) {
	return open(ctx, c, own)
}

func open(ctx context.Context, c ConnConfig, own *OwnSessions) (*sql.DB, error) {
	cfg, err := c.DriverConfig()
	if err != nil {
		return nil, fmt.Errorf("configure connection to %s: %w", c, err)
	}
	connector, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure connection to %s: %w", c, err)
	}
	if own != nil {
		connector = recordingConnector{Connector: connector, own: own}
	}
	db := sql.OpenDB(connector)
	db.SetConnMaxLifetime(time.Hour)
	// Bounded: the driver's Timeout covers only the dial, and a server
	// that accepts the connection but never speaks (a stopped process, a
	// proxy without its backend) would hold the handshake forever.
	pingCtx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	err = db.PingContext(pingCtx)
	timedOut := errors.Is(pingCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	cancel()
	if err != nil {
		db.Close()
		if timedOut {
			err = &ConnectTimeoutError{Timeout: cfg.Timeout, Err: err}
		}
		return nil, fmt.Errorf("connect to %s: %w", c, err)
	}
	return db, nil
}

// ConnectTimeoutError is a server that did not complete the connection
// within the connect timeout: the driver reports it as "invalid
// connection" or a bare deadline, which says nothing of the wait.
type ConnectTimeoutError struct {
	Timeout time.Duration
	Err     error
}

func (e *ConnectTimeoutError) Error() string {
	return fmt.Sprintf("the connection timed out: no answer within %s", e.Timeout)
}

func (e *ConnectTimeoutError) Unwrap() error { return e.Err }

// Server error numbers tailor acts on.
const (
	ErrDupEntry         = 1062
	ErrLockWaitTimeout  = 1205
	ErrLockDeadlock     = 1213
	ErrQueryInterrupted = 1317
	ErrTableExists      = 1050
	ErrNoSuchTable      = 1146
	ErrBadDB            = 1049
	ErrAccessDenied     = 1045
	ErrLockOrActiveTx   = 1192
	ErrWarnDataTrunc    = 1265
	ErrNoSuchThread     = 1094

	// ErrSecureTransportRequired is MySQL's refusal of a connection in the
	// clear by a server with require_secure_transport=ON. MariaDB (10.5.2
	// and later, checked on 10.11) refuses it as a wrong password instead,
	// with ErrAccessDenied.
	ErrSecureTransportRequired = 3159

	// ErrAccessDeniedNoPassword is the login refusal of an account that
	// authenticates without a password: unix_socket authentication, as a
	// rule, which accepts only a login over the server's unix socket by the
	// operating-system user of the account's name (root on Debian and
	// Ubuntu installs of MariaDB).
	ErrAccessDeniedNoPassword = 1698
)

// ErrorNumber is the server's error number of err, or 0.
func ErrorNumber(err error) uint16 {
	var me *driver.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// ErrAutoincReadFailed (1467, ER_AUTOINC_READ_FAILED) is what InnoDB
// reports when taking a table's AUTO-INC lock ends in a deadlock or a lock
// wait timeout (MariaDB 10.11, ha_innobase::get_auto_increment; since
// MDEV-33593 the transaction is then rolled back as for any deadlock). An
// INSERT ... SELECT into a table with an AUTO_INCREMENT column takes that
// lock for the whole statement (innodb_autoinc_lock_mode=1), so a copy
// chunk into a shadow that gains a surrogate AUTO_INCREMENT key meets it
// beside the applier's inserts. An exhausted counter is another error
// (1264, out of range), so this one is always a conflict.
const ErrAutoincReadFailed = 1467

// IsRetryable reports whether err is a transient conflict that a retry of
// the same transaction can resolve: a deadlock or a lock wait timeout, on
// rows or on the AUTO-INC lock.
func IsRetryable(err error) bool {
	switch ErrorNumber(err) {
	case ErrLockDeadlock, ErrLockWaitTimeout, ErrAutoincReadFailed:
		return true
	}
	return false
}

// Backoff waits d, or less if ctx ends first, between attempts of a retried
// transaction.
func Backoff(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
