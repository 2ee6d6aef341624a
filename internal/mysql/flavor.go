package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Flavor is the family of server tailor talks to. Every difference between
// MySQL and MariaDB that matters to tailor is a method of Server, so the rest
// of the code never compares version strings.
type Flavor int

const (
	// FlavorMySQL is Oracle MySQL (and compatible builds such as Percona Server).
	FlavorMySQL Flavor = iota
	// FlavorMariaDB is MariaDB.
	FlavorMariaDB
)

func (f Flavor) String() string {
	if f == FlavorMariaDB {
		return "MariaDB"
	}
	return "MySQL"
}

// Version is a server version as major.minor.patch.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v is the same as or newer than major.minor.patch.
func (v Version) AtLeast(major, minor, patch int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

// Server is the flavour and version of one server.
type Server struct {
	Flavor  Flavor
	Version Version
	// Raw is @@version as the server reported it, for display.
	Raw string
}

func (s Server) String() string { return s.Flavor.String() + " " + s.Version.String() }

// ParseServer interprets @@version (and @@version_comment, which some MySQL
// builds need to be told apart) as a Server.
func ParseServer(version, comment string) (Server, error) {
	s := Server{Raw: version, Flavor: FlavorMySQL}
	if strings.Contains(strings.ToLower(version), "mariadb") || strings.Contains(strings.ToLower(comment), "mariadb") {
		s.Flavor = FlavorMariaDB
	}
	core := version
	// Some MariaDB builds prefix the version with 5.5.5- for old clients.
	if s.Flavor == FlavorMariaDB {
		core = strings.TrimPrefix(core, "5.5.5-")
	}
	if i := strings.IndexAny(core, "-+ "); i >= 0 {
		core = core[:i]
	}
	parts := strings.Split(core, ".")
	if len(parts) < 2 {
		return s, fmt.Errorf("parse server version %q: expected major.minor.patch", version)
	}
	nums := make([]int, 3)
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return s, fmt.Errorf("parse server version %q: %w", version, err)
		}
		nums[i] = n
	}
	s.Version = Version{nums[0], nums[1], nums[2]}
	return s, nil
}

// DetectServer asks the server what it is.
func DetectServer(ctx context.Context, db *sql.DB) (Server, error) {
	var version, comment string
	if err := db.QueryRowContext(ctx, "SELECT @@version, @@version_comment").Scan(&version, &comment); err != nil {
		return Server{}, fmt.Errorf("read server version: %w", err)
	}
	return ParseServer(version, comment)
}

// SupportsRenameUnderLock reports whether a session holding LOCK TABLES ...
// WRITE on a table may RENAME it. MySQL allows it from 8.0.13; MariaDB 10.11
// answers error 1192 ("Can't execute the given command because you have
// active locked tables or an active transaction"), so there the cut-over has
// to use two sessions.
func (s Server) SupportsRenameUnderLock() bool {
	return s.Flavor == FlavorMySQL && s.Version.AtLeast(8, 0, 13)
}

// BinlogFlavor is the flavour name go-mysql's binlog syncer expects.
func (s Server) BinlogFlavor() string {
	if s.Flavor == FlavorMariaDB {
		return "mariadb"
	}
	return "mysql"
}

// BinlogStatusQuery is the statement that reports the current binary log
// file and position. MySQL 8.2 renamed SHOW MASTER STATUS (and 8.4 removed
// the old name); MariaDB still accepts it.
func (s Server) BinlogStatusQuery() string {
	if s.Flavor == FlavorMySQL && s.Version.AtLeast(8, 2, 0) {
		return "SHOW BINARY LOG STATUS"
	}
	return "SHOW MASTER STATUS"
}

// ReportsAlterProgress reports whether information_schema.PROCESSLIST shows
// an ALTER TABLE's progress: MariaDB (since 5.3) has the STAGE, MAX_STAGE
// and PROGRESS columns, the percentage of the current stage done; MySQL
// has none (performance_schema's stage events need instruments enabled).
func (s Server) ReportsAlterProgress() bool {
	return s.Flavor == FlavorMariaDB
}

// HasCRC32C reports whether the server has the CRC32C() function (the
// Castagnoli polynomial, beside CRC32's ISO 3309 one). MariaDB added it in
// 10.8.0 (MDEV-27208); MySQL has none.
func (s Server) HasCRC32C() bool {
	return s.Flavor == FlavorMariaDB && s.Version.AtLeast(10, 8, 0)
}

// BoundStatement returns stmt so that the server itself ends it once it has
// run for d, whatever the client does meanwhile: a frozen or cut-off client
// cannot keep it waiting, with the locks it holds, for longer. MariaDB
// (10.1+) has max_statement_time for every statement, set for one statement
// with SET STATEMENT ... FOR, in seconds with microsecond precision; an
// ended statement fails with error 1969. MySQL's max_execution_time applies
// to SELECT only, so there stmt is returned unchanged and lock_wait_timeout
// is the only bound the server keeps.
func (s Server) BoundStatement(stmt string, d time.Duration) string {
	if s.Flavor != FlavorMariaDB || d <= 0 {
		return stmt
	}
	secs := strconv.FormatFloat(max(d.Seconds(), 0.001), 'f', 3, 64)
	return "SET STATEMENT max_statement_time = " + secs + " FOR " + stmt
}
