package plan

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

const (
	// maxIdentifier is the servers' limit on a table name, in characters.
	maxIdentifier = 64
	// probeLockWait is the probe session's lock_wait_timeout, in seconds.
	// It is short because of what a wait does to others: an ALTER that adds
	// a foreign key needs a metadata lock on the parent table, and while it
	// waits for one (behind a long transaction), every writer of the parent
	// queues behind it (seen on MariaDB 10.11). A plan that gives up is
	// better than a plan that stalls the application.
	probeLockWait = 1
	// probeDropWait is the lock_wait_timeout for dropping the clone, which
	// matters more than a prompt answer: a clone with a foreign key needs
	// the parent's metadata lock to go.
	probeDropWait = 10
	// probeMutexWait is how long, in seconds, a plan waits for another plan
	// of the same table to finish with the clone's name.
	probeMutexWait = 5
	// cleanupTimeout bounds dropping the clone once Make is done or
	// cancelled.
	cleanupTimeout = 15 * time.Second
)

// ProbeName is the name of the clone a plan tries the ALTER on:
// _<table>_tailor_probe, with the table's name cut short and a hash of the
// whole name added when that would pass 64 characters.
func ProbeName(table string) string { return derivedName(table, "_tailor_probe") }

func derivedName(table, suffix string) string {
	name := "_" + table + suffix
	if utf8.RuneCountInString(name) <= maxIdentifier {
		return name
	}
	sum := sha256.Sum256([]byte(table))
	tag := "_" + hex.EncodeToString(sum[:])[:8]
	keep := maxIdentifier - 1 - len(tag) - len(suffix)
	return "_" + string([]rune(table)[:keep]) + tag + suffix
}

// probeMutex is the name of the server lock that keeps two plans of the same
// table off the same clone; GET_LOCK names are limited to 64 characters.
func probeMutex(database, table string) string {
	name := "tailor-plan:" + database + "." + table
	if len(name) <= maxIdentifier {
		return name
	}
	sum := sha256.Sum256([]byte(database + "\x00" + table))
	return "tailor-plan:" + hex.EncodeToString(sum[:])[:40]
}

// probe is the clone and the one session that works on it. The session
// reads in READ COMMITTED, so that copying sample rows out of the table
// takes no row locks on it (REPEATABLE READ would lock every row read), and
// it does not write the binary log when the account may turn that off, so
// replicas never see the clone. Those settings must never reach the caller's
// pool: close discards the connection instead of returning it.
type probe struct {
	db       *sql.DB
	conn     *sql.Conn
	log      *slog.Logger
	server   mysql.Server
	database string
	table    string
	name     string
	// sqlMode is the server's global sql_mode, read once, under which the
	// ALTER is tried: see learn.
	sqlMode string
	// timeZone is the time zone the ALTER is tried in (Plan.TimeZone), as
	// the shadow's is made: a TIMESTAMP literal in a DEFAULT is read in it.
	timeZone string
	// binlogOff is true when the session does not write the binary log.
	binlogOff bool
	// leftover is true when a clone of an interrupted plan was dropped.
	leftover bool
	closed   bool
	closeErr error
}

func openProbe(ctx context.Context, db *sql.DB, server mysql.Server, database, table, timeZone string, log *slog.Logger) (*probe, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open a session for the clone: %w", err)
	}
	pr := &probe{db: db, conn: conn, log: log, server: server, database: database, table: table, timeZone: timeZone, name: ProbeName(table)}
	if err := pr.setUp(ctx); err != nil {
		pr.discard()
		return nil, err
	}
	return pr, nil
}

func (pr *probe) setUp(ctx context.Context) error {
	for _, q := range []string{
		fmt.Sprintf("SET SESSION lock_wait_timeout = %d", probeLockWait),
		"SET SESSION innodb_lock_wait_timeout = 1",
		"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
	} {
		if _, err := pr.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("prepare the session for the clone (%s): %w", q, err)
		}
	}
	// Turning the binary log off needs SUPER or BINLOG ADMIN; without it the
	// clone's statements replicate, which is harmless, and the plan says so.
	_, err := pr.conn.ExecContext(ctx, "SET SESSION sql_log_bin = 0")
	switch {
	case err == nil:
		pr.binlogOff = true
	case mysql.ErrorNumber(err) == 0:
		return fmt.Errorf("turn off the binary log for the clone's session: %w", err)
	}
	var got sql.NullInt64
	if err := pr.conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", probeMutex(pr.database, pr.table), probeMutexWait).Scan(&got); err != nil {
		return fmt.Errorf("take the lock on the clone's name: %w", err)
	}
	if got.Int64 != 1 {
		return userError(nil, "another tailor plan of table %s is running right now; try again when it has finished", mysql.QuoteIdent(pr.table))
	}
	if pr.sqlMode, err = mysql.GlobalSQLMode(ctx, pr.conn); err != nil {
		return err
	}
	// Holding the lock, no other plan uses the name, so a table by that name
	// is what an interrupted plan left behind.
	var n int
	if err := pr.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", pr.database, pr.name).Scan(&n); err != nil {
		return fmt.Errorf("look for a leftover clone %s: %w", pr.name, err)
	}
	if n > 0 {
		pr.leftover = true
		pr.log.Warn("dropping leftover clone", "clone", pr.name)
		if _, err := pr.conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+pr.quoted()); err != nil {
			return userError(err, "tailor could not drop %s, a clone left by an interrupted plan: %s", mysql.QuoteIdent(pr.name), serverMessage(err))
		}
	}
	return nil
}

func (pr *probe) quoted() string { return mysql.QuoteTable(pr.database, pr.name) }

// recreate makes the clone afresh: empty, with the table's definition.
// CREATE TABLE ... LIKE takes a shared metadata lock on the table that does
// not wait for, nor hold up, transactions writing to it (MariaDB 10.11).
func (pr *probe) recreate(ctx context.Context) error {
	if _, err := pr.conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+pr.quoted()); err != nil {
		return pr.refused(ctx, err, "drop")
	}
	if _, err := pr.conn.ExecContext(ctx, "CREATE TABLE "+pr.quoted()+" LIKE "+mysql.QuoteTable(pr.database, pr.table)); err != nil {
		return pr.refused(ctx, err, "create")
	}
	return nil
}

// refused is the error of the server refusing to drop or create the clone
// (verb): ClonePrivileges has found the privileges in the grants, but the
// server has the last word.
func (pr *probe) refused(ctx context.Context, err error, verb string) error {
	if mysql.ErrorNumber(err) != 0 && ctx.Err() == nil {
		return userError(err, "tailor could not %s %s, the empty clone it tries the ALTER on: %s (the plan needs CREATE, ALTER, INSERT and DROP on database %s)",
			verb, mysql.QuoteIdent(pr.name), serverMessage(err), mysql.QuoteIdent(pr.database))
	}
	return pr.failed(err, verb+" the clone")
}

// learn tries the ALTER on a fresh clone with each algorithm, cheapest
// first, and returns the first the server accepts with the refusals of the
// cheaper ones. The clone is left altered by the accepted try. clauses may
// end in a "--" comment, so the algorithm goes on a new line.
//
// The ALTER runs under the server's global sql_mode, not tailor's own
// (mysql.SQLMode, which allows zero dates so that existing rows copy as
// they are): a definition the server's configured mode forbids, such as
// DEFAULT '1970-00-00 00:00:00' under NO_ZERO_DATE and strict mode
// ("Invalid default value", MariaDB 10.11), is refused here as the server's
// own ALTER would be. The clone is empty, so only the definition is judged,
// never the table's rows.
func (pr *probe) learn(ctx context.Context, clauses string, algorithms []mysql.AlterAlgorithm) (Native, error) {
	n := Native{Refused: []Refusal{}}
	for _, a := range algorithms {
		// A refused try changes nothing, but a fresh clone costs little and
		// makes every try independent of the one before.
		if err := pr.recreate(ctx); err != nil {
			return n, err
		}
		var before storage
		if keepsStorage(a) {
			var err error
			if before, err = pr.storage(ctx); err != nil {
				return n, err
			}
		}
		err := pr.server.ExecInSQLMode(ctx, pr.conn, pr.sqlMode, pr.timeZone, "ALTER TABLE "+pr.quoted()+" "+clauses+"\n, "+a.Clause())
		if err == nil && keepsStorage(a) {
			after, serr := pr.storage(ctx)
			if serr != nil {
				return n, serr
			}
			if why := before.rebuiltBy(after); why != "" {
				pr.log.Debug("algorithm accepted but not honoured", "algorithm", a.Clause(), "message", why)
				n.Refused = append(n.Refused, Refusal{Clause: a.Clause(), Message: why})
				continue
			}
		}
		if err == nil {
			n.Algorithm, n.Lock, n.Clause = a.Algorithm, a.Lock, a.Clause()
			return n, nil
		}
		if !mysql.IsAlgorithmRefusal(err) {
			return n, pr.rejected(err)
		}
		pr.log.Debug("algorithm refused", "algorithm", a.Clause(), "message", serverMessage(err))
		n.Refused = append(n.Refused, Refusal{Clause: a.Clause(), Message: serverMessage(err)})
	}
	if len(n.Refused) == 0 {
		return n, errors.New("plan: the server offers no ALTER algorithm to try")
	}
	return n, userError(nil, "the server refused every way of making the ALTER, the last with: %s", n.Refused[len(n.Refused)-1].Message)
}

// keepsStorage reports whether a change the server makes with algorithm a
// keeps the table in its storage engine and row format: INSTANT changes
// only metadata and NOCOPY does not rebuild the table, while both a new
// engine and a new row format need every row written anew.
func keepsStorage(a mysql.AlterAlgorithm) bool {
	return a.Algorithm == mysql.AlgorithmInstant || a.Algorithm == mysql.AlgorithmNoCopy
}

// storage is what a table's rows are stored as.
type storage struct {
	engine, rowFormat string
}

// storage reads the clone's storage engine and row format.
func (pr *probe) storage(ctx context.Context) (storage, error) {
	var s storage
	var rowFormat sql.NullString
	err := pr.conn.QueryRowContext(ctx, "SELECT ENGINE, ROW_FORMAT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		pr.database, pr.name).Scan(&s.engine, &rowFormat)
	if err != nil {
		return s, pr.failed(err, "read the storage engine of")
	}
	s.rowFormat = rowFormat.String
	return s, nil
}

// rebuiltBy says why the change from s to after cannot have been made
// without rebuilding the table, or "" when it can. The server's acceptance
// of ALGORITHM=INSTANT or NOCOPY is not proof: MariaDB 10.11 accepts
// "ENGINE=MyISAM, ALGORITHM=INSTANT" (and NOCOPY, and Aria and MEMORY
// likewise) on an InnoDB table, then copies the whole table with writes
// blocked, as ALGORITHM=COPY would.
func (s storage) rebuiltBy(after storage) string {
	switch {
	case !strings.EqualFold(s.engine, after.engine):
		return fmt.Sprintf("accepted by the server, which then moved the table from the %s to the %s storage engine by copying every row with writes blocked: a change of engine is never made in place", s.engine, after.engine)
	case !strings.EqualFold(s.rowFormat, after.rowFormat):
		return fmt.Sprintf("accepted by the server, which then changed the row format from %s to %s, and that rewrites every row", s.rowFormat, after.rowFormat)
	}
	return ""
}

// rejected explains an error of the ALTER itself on the clone.
func (pr *probe) rejected(err error) error {
	num := mysql.ErrorNumber(err)
	switch {
	case num == 0:
		return pr.failed(err, "try the ALTER on the clone")
	case num == mysql.ErrLockWaitTimeout:
		return userError(err, "the ALTER could not be tried within %d s because another session holds a lock on a table it needs (for a new foreign key, the parent table); try again when that session's transaction has ended", probeLockWait)
	case num == errCantDropFieldOrKey && strings.Contains(strings.ToUpper(err.Error()), "FOREIGN KEY"):
		return userError(err, "the server rejected the ALTER (%s), and if that foreign key does exist, tailor cannot plan its removal because the clone it tries the ALTER on (CREATE TABLE ... LIKE) has no foreign keys", serverMessage(err))
	}
	return userError(err, "the server rejected the ALTER: %s", serverMessage(err))
}

// errCantDropFieldOrKey is the server's "Can't DROP ...; check that it
// exists".
const errCantDropFieldOrKey = 1091

func (pr *probe) failed(err error, doing string) error {
	return fmt.Errorf("%s %s: %w", doing, mysql.QuoteIdent(pr.name), err)
}

// readTarget reads the clone's definition after the ALTER: as a table, as
// SHOW CREATE TABLE under the table's own name, and the new columns that are
// NOT NULL without a default (which existing rows fill with the type's
// implicit value).
func (pr *probe) readTarget(ctx context.Context, alter *ddl.Alter, source *schema.Table) (*schema.Table, string, []string, error) {
	target, err := schema.Load(ctx, pr.db, pr.database, pr.name)
	if err != nil {
		return nil, "", nil, fmt.Errorf("read the altered clone: %w", err)
	}
	var name, def string
	if err := pr.conn.QueryRowContext(ctx, "SHOW CREATE TABLE "+pr.quoted()).Scan(&name, &def); err != nil {
		return nil, "", nil, pr.failed(err, "read the definition of")
	}
	// SHOW CREATE TABLE quotes as QuoteIdent does (sql_quote_show_create is
	// on by default); if it does not, the clone's name stays, which is only
	// cosmetic.
	if rest, ok := strings.CutPrefix(def, "CREATE TABLE "+mysql.QuoteIdent(pr.name)); ok {
		def = "CREATE TABLE " + mysql.QuoteIdent(pr.table) + rest
	}
	noDefault, err := pr.newColumnsWithoutDefault(ctx, alter, source, target)
	if err != nil {
		return nil, "", nil, err
	}
	target.Name = pr.table
	return target, def, noDefault, nil
}

func (pr *probe) newColumnsWithoutDefault(ctx context.Context, alter *ddl.Alter, source, target *schema.Table) ([]string, error) {
	all, err := columnsWithoutDefault(ctx, pr.db, pr.database, pr.name, target)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, col := range all {
		lower := strings.ToLower(col)
		_, existed := source.Column(col)
		if slices.Contains(alter.Added, lower) && (!existed || slices.Contains(alter.Dropped, lower)) {
			out = append(out, col)
		}
	}
	return out, nil
}

// columnsWithoutDefault are the columns of database.name, whose definition
// is t, that are NOT NULL without a default and neither generated nor
// AUTO_INCREMENT: in strict mode, an INSERT that does not name one fails.
// information_schema.COLUMNS says which have no default (COLUMN_DEFAULT is
// NULL); the server's own "NULL" default of a nullable column does not
// matter here.
func columnsWithoutDefault(ctx context.Context, db *sql.DB, database, name string, t *schema.Table) ([]string, error) {
	rows, err := db.QueryContext(ctx,
		`SELECT COLUMN_NAME, COLUMN_DEFAULT IS NULL, LOWER(EXTRA) FROM information_schema.COLUMNS
		  WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, database, name)
	if err != nil {
		return nil, fmt.Errorf("read the column defaults of %s: %w", mysql.QuoteIdent(name), err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var col, extra string
		var noDefault bool
		if err := rows.Scan(&col, &noDefault, &extra); err != nil {
			return nil, fmt.Errorf("read the column defaults of %s: %w", mysql.QuoteIdent(name), err)
		}
		c, _ := t.Column(col)
		if noDefault && !c.Nullable && !c.Generated && !strings.Contains(extra, "auto_increment") {
			out = append(out, col)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the column defaults of %s: %w", mysql.QuoteIdent(name), err)
	}
	return out, nil
}

// close drops the clone and ends the session; it is safe to call more than
// once and returns the first call's result. It runs on a context of its own
// so that a cancelled plan still cleans up.
func (pr *probe) close() error {
	if pr.closed {
		return pr.closeErr
	}
	pr.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	err := dropOn(ctx, pr.conn, pr.quoted())
	pr.discard()
	if err != nil {
		// The session may be broken (a cancelled query closes it); try once
		// more on a fresh one.
		pr.log.Warn("dropping the clone failed; retrying on a new session", "clone", pr.name, "err", err)
		err = pr.dropOnFreshSession(ctx)
	}
	if err != nil {
		pr.closeErr = userError(err, "tailor could not drop %s, its clone of the table: %v; drop it by hand", mysql.QuoteTable(pr.database, pr.name), err)
	}
	return pr.closeErr
}

func (pr *probe) dropOnFreshSession(ctx context.Context) error {
	conn, err := pr.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer discardConn(conn)
	if pr.binlogOff {
		// The clone was never logged, so neither may its drop be: replicas
		// do not have it. (A failure here leaves the drop logged, which is
		// harmless with IF EXISTS.)
		_, _ = conn.ExecContext(ctx, "SET SESSION sql_log_bin = 0")
	}
	return dropOn(ctx, conn, pr.quoted())
}

func dropOn(ctx context.Context, conn *sql.Conn, quoted string) error {
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", probeDropWait)); err != nil {
		return err
	}
	_, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+quoted)
	return err
}

// discard ends the probe's session, releasing its server lock.
func (pr *probe) discard() { discardConn(pr.conn) }

// discardConn closes conn's connection instead of returning it to the pool,
// so that session settings made on it never reach another user of the pool.
func discardConn(conn *sql.Conn) {
	// database/sql closes a connection whose Raw function reports it bad.
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

// serverMessage is the server's own words: the driver's "Error 1846
// (0A000): " prefix is dropped.
func serverMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "Error ") {
		return msg[i+2:]
	}
	return msg
}
