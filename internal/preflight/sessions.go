package preflight

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// Session is a session of the server that could hold up a change of a
// table: by holding a metadata lock on it (any open transaction that has
// touched the table does, until it ends), by waiting for one (the server
// queues later lock requests behind it), or by keeping a transaction open.
type Session struct {
	// ID is the connection id, as KILL takes it.
	ID int64
	// User and Host are the session's account, as the processlist shows
	// it; both are empty when tailor cannot see the session there (without
	// PROCESS it sees only its own user's sessions).
	User, Host string
	// Age is the longest of how long its transaction has been open and how
	// long it has been in its current state; 0 when it cannot be seen.
	Age time.Duration
	// State is the processlist's command and state ("Query: Waiting for
	// table metadata lock", "Sleep").
	State string
	// Command is the processlist's COMMAND alone ("Query", "Sleep",
	// "Binlog Dump", "Slave_SQL"): what kind of thread it is.
	Command string
	// Query is the statement it runs (or InnoDB last saw it run), on one
	// line and truncated.
	Query string
	// Lock says which lock on the table it holds or waits for ("holds
	// SHARED_READ on `shop`.`orders`"); empty for a transaction not known
	// to touch the table.
	Lock string
	// Waiting is true when the session waits for a metadata lock.
	Waiting bool
	// Transaction is how long its InnoDB transaction has been open; 0 when
	// it has none, or tailor cannot see InnoDB's transactions.
	Transaction time.Duration
}

// String describes the session on one line, for a check's details.
func (s Session) String() string {
	who := "?, age unknown"
	if s.User != "" {
		who = s.User + "@" + s.Host + ", " + roundAge(s.Age)
	}
	parts := []string{fmt.Sprintf("session %d (%s)", s.ID, who)}
	if s.Lock != "" {
		parts = append(parts, s.Lock)
	}
	if s.Transaction > 0 {
		parts = append(parts, "in a transaction open "+roundAge(s.Transaction))
	}
	if s.State != "" {
		parts = append(parts, s.State)
	}
	if s.Query != "" {
		parts = append(parts, "running: "+s.Query)
	}
	return strings.Join(parts, "; ")
}

// BlockerReport is what Blockers found.
type BlockerReport struct {
	// Sessions hold or wait for a metadata lock on the table, longest first.
	Sessions []Session
	// Exact is true when the server shows which sessions hold metadata
	// locks on the table (performance_schema's metadata_locks, or MariaDB's
	// METADATA_LOCK_INFO plugin). Otherwise Sessions holds the sessions
	// that wait for a table metadata lock and the sessions whose running
	// statement names the table, and misses a transaction that touched the
	// table and is idle.
	Exact bool
	// Note says what tailor could not see, as one clause in lower case to
	// append to a message, or "" when it saw everything.
	Note string
}

// Blockers lists the sessions that would hold up a change of database.table
// right now: those holding a metadata lock on it (when the server shows
// them) or waiting for one, for at least minAge. minAge keeps out the
// short-lived sessions of the application and of tailor itself; the
// connection Blockers runs on is always left out. A lock holder that the
// account cannot see in the processlist (it lacks PROCESS) is kept whatever
// its age, which is then unknown.
func Blockers(ctx context.Context, db *sql.DB, database, table string, minAge time.Duration) (BlockerReport, error) {
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		return BlockerReport{}, err
	}
	obs, err := observe(ctx, db, server, database, table)
	if err != nil {
		return BlockerReport{}, err
	}
	return BlockerReport{Sessions: obs.blockers(minAge), Exact: obs.lockView != "", Note: obs.note()}, nil
}

// Where the holders of metadata locks can be seen.
const (
	viewPerformanceSchema = "performance_schema.metadata_locks"
	viewLockInfo          = "information_schema.METADATA_LOCK_INFO"
)

// observation is one look at the server's sessions, as far as the account
// can see them, and at the metadata locks on one table.
type observation struct {
	server          mysql.Server
	database, table string
	// self is the connection the observation ran on.
	self  int64
	procs map[int64]procRow
	// process is true when InnoDB's transactions could be read (which
	// needs PROCESS; so does seeing other users' sessions).
	process bool
	trx     map[int64]trxRow
	// lockView is where the holders of metadata locks were read, or "".
	lockView string
	held     map[int64][]string
	// pending are the lock requests waiting on the table
	// (performance_schema only).
	pending map[int64][]string
}

type procRow struct {
	user, host, command, state, info string
	age                              time.Duration
}

type trxRow struct {
	age   time.Duration
	query string
}

// observe reads the processlist, InnoDB's transactions and the metadata
// locks on database.table, all on one connection so that it can be left out.
func observe(ctx context.Context, db *sql.DB, server mysql.Server, database, table string) (*observation, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("look at the server's sessions: %w", err)
	}
	defer conn.Close()
	o := &observation{server: server, database: database, table: table,
		procs: map[int64]procRow{}, trx: map[int64]trxRow{}, held: map[int64][]string{}, pending: map[int64][]string{}}
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&o.self); err != nil {
		return nil, fmt.Errorf("read the connection id: %w", err)
	}
	if err := o.readProcesslist(ctx, conn); err != nil {
		return nil, err
	}
	if err := o.readTransactions(ctx, conn); err != nil {
		return nil, err
	}
	if err := o.readLocks(ctx, conn); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *observation) readProcesslist(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, "SELECT ID, USER, COALESCE(HOST, ''), COALESCE(COMMAND, ''), COALESCE(STATE, ''), COALESCE(INFO, ''), "+
		o.server.ProcesslistMillis()+" FROM information_schema.PROCESSLIST")
	if err != nil {
		return fmt.Errorf("read the processlist: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var p procRow
		var ms float64
		if err := rows.Scan(&id, &p.user, &p.host, &p.command, &p.state, &p.info, &ms); err != nil {
			return fmt.Errorf("read the processlist: %w", err)
		}
		p.age = time.Duration(ms * float64(time.Millisecond))
		o.procs[id] = p
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the processlist: %w", err)
	}
	return nil
}

// readTransactions reads InnoDB's open transactions. trx_started is in the
// server's system time zone (InnoDB fills it with localtime), not in the
// session's, hence the conversion of NOW().
func (o *observation) readTransactions(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, `SELECT trx_mysql_thread_id,
		       TIMESTAMPDIFF(SECOND, trx_started, CONVERT_TZ(NOW(), @@session.time_zone, 'SYSTEM')), COALESCE(trx_query, '')
		  FROM information_schema.INNODB_TRX`)
	if isAccessDenied(err) {
		return nil // needs PROCESS; note() says so
	}
	if err != nil {
		return fmt.Errorf("read InnoDB's transactions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, secs int64
		var t trxRow
		if err := rows.Scan(&id, &secs, &t.query); err != nil {
			return fmt.Errorf("read InnoDB's transactions: %w", err)
		}
		t.age = time.Duration(max(secs, 0)) * time.Second
		o.trx[id] = t
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read InnoDB's transactions: %w", err)
	}
	o.process = true
	return nil
}

// readLocks reads who holds (and, from performance_schema, who waits for)
// a metadata lock on the table. performance_schema is off by default on
// MariaDB, and its metadata lock instrument off by default there too; MySQL
// 8.0 has both on. MariaDB's METADATA_LOCK_INFO plugin shows granted locks
// only, but needs no privilege.
func (o *observation) readLocks(ctx context.Context, conn *sql.Conn) error {
	var enabled sql.NullString
	err := conn.QueryRowContext(ctx, "SELECT IF(@@performance_schema, (SELECT ENABLED FROM performance_schema.setup_instruments WHERE NAME = 'wait/lock/metadata/sql/mdl'), NULL)").Scan(&enabled)
	if err != nil && !isAccessDenied(err) {
		return fmt.Errorf("look for performance_schema's metadata locks: %w", err)
	}
	if enabled.String == "YES" {
		err := o.readLockRows(ctx, conn, viewPerformanceSchema, `SELECT t.PROCESSLIST_ID, m.LOCK_TYPE, m.LOCK_STATUS
			  FROM performance_schema.metadata_locks m JOIN performance_schema.threads t ON t.THREAD_ID = m.OWNER_THREAD_ID
			 WHERE m.OBJECT_TYPE = 'TABLE' AND m.OBJECT_SCHEMA = ? AND m.OBJECT_NAME = ? AND t.PROCESSLIST_ID IS NOT NULL`)
		if err == nil || !isAccessDenied(err) {
			return err
		}
	}
	var plugin int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO' AND PLUGIN_STATUS = 'ACTIVE'").Scan(&plugin); err != nil {
		return fmt.Errorf("look for the METADATA_LOCK_INFO plugin: %w", err)
	}
	if plugin == 0 {
		return nil
	}
	err = o.readLockRows(ctx, conn, viewLockInfo, `SELECT THREAD_ID, LOCK_MODE, 'GRANTED'
		  FROM information_schema.METADATA_LOCK_INFO
		 WHERE LOCK_TYPE = 'Table metadata lock' AND TABLE_SCHEMA = ? AND TABLE_NAME = ?`)
	if isAccessDenied(err) {
		return nil
	}
	return err
}

func (o *observation) readLockRows(ctx context.Context, conn *sql.Conn, view, q string) error {
	rows, err := conn.QueryContext(ctx, q, o.database, o.table)
	if err != nil {
		return fmt.Errorf("read the metadata locks on %s from %s: %w", o.table, view, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var mode, status string
		if err := rows.Scan(&id, &mode, &status); err != nil {
			return fmt.Errorf("read the metadata locks on %s: %w", o.table, err)
		}
		if id == o.self || id == 0 {
			continue // 0: a server thread without a connection
		}
		mode = strings.TrimPrefix(mode, "MDL_")
		if status == "GRANTED" {
			o.held[id] = append(o.held[id], mode)
		} else {
			o.pending[id] = append(o.pending[id], mode)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the metadata locks on %s: %w", o.table, err)
	}
	o.lockView = view
	return nil
}

// session builds the Session of id, from what the observation saw of it.
func (o *observation) session(id int64) Session {
	s := Session{ID: id}
	if p, ok := o.procs[id]; ok {
		s.User, s.Host, s.Age, s.Query = p.user, p.host, p.age, oneLine(p.info)
		s.State, s.Command = p.command, p.command
		if p.state != "" {
			s.State += ": " + p.state
		}
	}
	if t, ok := o.trx[id]; ok {
		s.Transaction = t.age
		s.Age = max(s.Age, t.age)
		if s.Query == "" {
			s.Query = oneLine(t.query)
		}
	}
	return s
}

// waitingForTable reports whether the processlist shows the session
// waiting for a table metadata lock (on any table).
func (p procRow) waitingForTable() bool {
	return p.state == "Waiting for table metadata lock"
}

// blockers are the sessions that hold or wait for a metadata lock on the
// table for at least minAge, longest first.
func (o *observation) blockers(minAge time.Duration) []Session {
	found := map[int64]Session{}
	add := func(id int64, lock string, waiting bool) {
		if id == o.self {
			return
		}
		s, seen := found[id]
		if !seen {
			s = o.session(id)
			_, visible := o.procs[id]
			switch {
			case !visible && o.process:
				// With PROCESS every connection is in the processlist;
				// what is not is one of the server's own threads (InnoDB
				// statistics, purge), which lock a table only briefly.
				return
			case visible && s.Age < minAge:
				return
			}
			// A session tailor cannot see has no known age: it is kept,
			// since its lock is certain.
		}
		if s.Lock != "" && lock != "" {
			lock = s.Lock + ", " + lock
		}
		s.Lock, s.Waiting = lock, s.Waiting || waiting
		found[id] = s
	}
	where := mysql.QuoteTable(o.database, o.table)
	for id, modes := range o.held {
		add(id, "holds "+strings.Join(modes, ", ")+" on "+where, false)
	}
	for id, modes := range o.pending {
		add(id, "waits for "+strings.Join(modes, ", ")+" on "+where, true)
	}
	if o.lockView != viewPerformanceSchema {
		// Which table a waiting session waits for is not shown; the
		// statement it runs usually names it.
		for id, p := range o.procs {
			if p.waitingForTable() && namesTable(p.info, o.table) {
				add(id, "waits for a metadata lock (its statement names "+where+")", true)
			}
		}
	}
	if o.lockView == "" {
		for id, p := range o.procs {
			if p.command == "Query" && !p.waitingForTable() && namesTable(p.info, o.table) {
				add(id, "runs a statement naming "+where+", so probably holds a metadata lock on it", false)
			}
		}
	}
	return sortSessions(found)
}

// note is one sentence, starting in lower case, saying what the
// observation could not see; "" when nothing was hidden.
func (o *observation) note() string {
	var missing []string
	if o.lockView == "" {
		how := "INSTALL SONAME 'metadata_lock_info' would show it"
		if o.server.Flavor == mysql.FlavorMySQL {
			how = "turning on performance_schema and its wait/lock/metadata/sql/mdl instrument would show it"
		}
		missing = append(missing, "without the METADATA_LOCK_INFO plugin tailor cannot tell which tables an open transaction has touched ("+how+")")
	}
	if !o.process {
		missing = append(missing, "without the PROCESS privilege it sees only its own user's sessions and none of InnoDB's transactions")
	}
	return strings.Join(missing, ", and ")
}

func sortSessions(found map[int64]Session) []Session {
	out := make([]Session, 0, len(found))
	for _, s := range found {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Session) int {
		return cmp.Or(cmp.Compare(b.Age, a.Age), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// namesTable reports whether the statement q mentions table as a whole
// name (bare, backticked or qualified), compared as the server compares
// identifiers in statements on a case-insensitive file system: loosely,
// since a false match only lists one session more.
func namesTable(q, table string) bool {
	if table == "" {
		return false
	}
	lq, lt := strings.ToLower(q), strings.ToLower(table)
	isIdent := func(r rune) bool { return r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r) }
	for start := 0; ; {
		i := strings.Index(lq[start:], lt)
		if i < 0 {
			return false
		}
		i += start
		end := i + len(lt)
		before, _ := utf8.DecodeLastRuneInString(lq[:i])
		after, _ := utf8.DecodeRuneInString(lq[end:])
		if !isIdent(before) && !isIdent(after) {
			return true
		}
		start = i + 1
	}
}

// queryLimit is how much of a statement a check shows.
const queryLimit = 120

// oneLine puts a statement on one line and cuts it to queryLimit
// characters.
func oneLine(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if r := []rune(q); len(r) > queryLimit {
		return string(r[:queryLimit]) + "…"
	}
	return q
}

// roundAge shows an age in whole seconds ("12s"), or in milliseconds under
// a second.
func roundAge(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// isAccessDenied reports whether err is the server refusing a statement for
// lack of a privilege: 1227 (needs e.g. PROCESS), 1142 (table), 1044
// (database), 1143 (column).
func isAccessDenied(err error) bool {
	switch mysql.ErrorNumber(err) {
	case 1227, 1142, 1044, 1143:
		return true
	}
	return false
}
