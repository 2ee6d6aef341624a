package versioned

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/migfiles"
	"github.com/tailor-osc/tailor/internal/mysql"
)

// ScratchDatabase is the database a plan applies the pending DDL to, on
// empty clones of the tables it changes: "_tailor_plan_<database>", cut to
// the 64 characters a database name may have. The plan creates it, and
// drops it before it returns.
func ScratchDatabase(database string) string {
	name := "_tailor_plan_" + database
	if r := []rune(name); len(r) > 64 {
		name = string(r[:64])
	}
	return name
}

// planLockWait is how long a plan waits for another plan of the same
// database to finish with the scratch database: a plan takes seconds.
const planLockWait = time.Minute

// planLockName is the name of the server lock (GET_LOCK) of the plans of
// database: "tailor-plan:<database>", or a hash of the database when that
// is longer than the 64 characters a lock name may have.
func planLockName(database string) string {
	name := "tailor-plan:" + database
	if utf8.RuneCountInString(name) <= 64 {
		return name
	}
	sum := sha256.Sum256([]byte(database))
	return "tailor-plan:" + hex.EncodeToString(sum[:])[:64-len("tailor-plan:")]
}

// simulation is the scratch database of one plan: the schema the pending
// statements planned so far produce, on empty tables. Only the run's own
// database is mirrored, and only tables: CREATE TABLE, ALTERs and DROP
// TABLE are applied there, which is what later ALTERs are planned
// against. Views, routines and grants are not (a GRANT is server-wide).
type simulation struct {
	db       *sql.DB
	database string
	log      *slog.Logger
	// conn is the scratch session, its default database the scratch one;
	// nil until the first statement needs it.
	conn    *sql.Conn
	scratch string
	// touched are the tables ("db.table", lower-cased) an earlier pending
	// statement created, changed or dropped: their scratch copy, or its
	// absence, is what they will be.
	touched map[string]bool
	// written are the tables whose rows an earlier pending statement
	// changes: their checks against the rows as they are now (duplicates
	// for a unique key, say) would not be the checks of their turn.
	written map[string]bool
	// broken is why the scratch database could not be made; planning goes
	// on against the tables as they are.
	broken string
}

func tableKey(database, table string) string { return strings.ToLower(database + "." + table) }

func (s *simulation) touches(database, table string) bool {
	return s.touched[tableKey(database, table)]
}

// changes reports whether an earlier pending statement changes the table's
// definition or its rows.
func (s *simulation) changes(database, table string) bool {
	return s.touches(database, table) || s.written[tableKey(database, table)]
}

// open makes the scratch database, in a session that does not write the
// binary log when the account may turn it off (a plan replicates
// nothing), without foreign key checks (a clone's foreign keys name tables
// that are not cloned), and in the server's configured sql_mode, as the
// statements will run.
func (s *simulation) open(ctx context.Context) error {
	if s.conn != nil {
		return nil
	}
	if s.broken != "" {
		return fmt.Errorf("%s", s.broken)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect for the plan's scratch database: %w", err)
	}
	s.scratch = ScratchDatabase(s.database)
	// Two plans of one database (two pull requests' CI against the same
	// staging server) share the scratch name; each would drop the other's
	// clones. The second waits for the first, which holds the lock on this
	// session until close.
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", planLockName(s.database), planLockWait.Seconds()).Scan(&got); err != nil || got.Int64 != 1 {
		discard(conn)
		if err == nil {
			err = fmt.Errorf("another tailor migrate plan of database %s held it for %s", mysql.QuoteIdent(s.database), planLockWait)
		}
		s.broken = fmt.Sprintf("the plan could not take the lock of its scratch database %s: %v", mysql.QuoteIdent(s.scratch), err)
		return fmt.Errorf("%s", s.broken)
	}
	_, _ = conn.ExecContext(ctx, "SET SESSION sql_log_bin = 0") // needs SUPER or BINLOG ADMIN; without it the scratch replicates, harmlessly
	var charset, collation string
	err = conn.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", s.database).Scan(&charset, &collation)
	for _, q := range []string{
		"SET SESSION foreign_key_checks = 0",
		"SET SESSION sql_mode = @@GLOBAL.sql_mode",
		// A plan that died leaves its scratch database; it holds nothing
		// but empty clones.
		"DROP DATABASE IF EXISTS " + mysql.QuoteIdent(s.scratch),
		"CREATE DATABASE " + mysql.QuoteIdent(s.scratch) + " CHARACTER SET " + charset + " COLLATE " + collation,
		"USE " + mysql.QuoteIdent(s.scratch),
	} {
		if err != nil {
			break
		}
		_, err = conn.ExecContext(ctx, q)
	}
	if err != nil {
		discard(conn)
		s.broken = fmt.Sprintf("the plan could not make its scratch database %s: %v", mysql.QuoteIdent(s.scratch), err)
		return fmt.Errorf("%s", s.broken)
	}
	s.conn = conn
	return nil
}

// close drops the scratch database.
func (s *simulation) close(ctx context.Context) {
	if s.conn == nil {
		return
	}
	if _, err := s.conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+mysql.QuoteIdent(s.scratch)); err != nil {
		s.log.Warn("could not drop the plan's scratch database", "scratch", s.scratch, "error", err.Error())
	}
	discard(s.conn)
}

// clone returns the scratch database holding the table as the earlier
// pending statements leave it, cloning it (CREATE TABLE ... LIKE, which
// copies no row) on first use.
func (s *simulation) clone(ctx context.Context, database, table string) (string, error) {
	if err := s.open(ctx); err != nil {
		return "", err
	}
	var n int
	if err := s.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", s.scratch, table).Scan(&n); err != nil {
		return "", err
	}
	if n > 0 {
		return s.scratch, nil
	}
	if s.touches(database, table) {
		return "", fmt.Errorf("table %s does not exist once the earlier pending statements have run", quoted(database, table))
	}
	if _, err := s.conn.ExecContext(ctx, "CREATE TABLE "+mysql.QuoteTable(s.scratch, table)+" LIKE "+mysql.QuoteTable(database, table)); err != nil {
		return "", fmt.Errorf("table %s cannot be cloned: %v", quoted(database, table), err)
	}
	return s.scratch, nil
}

// apply applies a planned statement to the scratch database, so that the
// later statements are planned against what it makes. A statement the
// scratch cannot take is noted, not refused: the plan of the statements
// after it may then be against the table as it is.
func (s *simulation) apply(ctx context.Context, st *migfiles.Statement, database, table string, sp *StatementPlan) {
	if sp.Strategy == Refused || len(sp.RefusedBecause) > 0 || table == "" || !strings.EqualFold(database, s.database) {
		return
	}
	switch st.Kind {
	case migfiles.KindUpdate, migfiles.KindDelete, migfiles.KindInsert:
		s.written[tableKey(database, table)] = true
		return
	}
	var q string
	switch {
	case st.Kind == migfiles.KindAlterTable && st.Alter != nil:
		if _, err := s.clone(ctx, database, table); err != nil {
			sp.Notes = append(sp.Notes, "Not applied to the plan's clone: "+err.Error()+".")
			return
		}
		q = "ALTER TABLE " + mysql.QuoteTable(s.scratch, table) + " " + st.Clauses
	case st.Kind == migfiles.KindCreateTable && st.Schema == "":
		q = st.Text // unqualified: the scratch session's default database is the scratch
	case st.Destroys == "DROP TABLE" && st.Schema == "":
		q = "DROP TABLE IF EXISTS " + mysql.QuoteTable(s.scratch, table)
	default:
		return
	}
	if err := s.open(ctx); err != nil {
		sp.Notes = append(sp.Notes, err.Error()+".")
		return
	}
	if _, err := s.conn.ExecContext(ctx, q); err != nil {
		if st.Kind == migfiles.KindAlterTable {
			sp.RefusedBecause = append(sp.RefusedBecause, fmt.Sprintf("the server rejects it once the earlier pending statements have run: %v", err))
			return
		}
		sp.Notes = append(sp.Notes, fmt.Sprintf("Could not be tried on the plan's clone (%v); later statements on %s are planned against the table as it is.", err, quoted(database, table)))
		return
	}
	s.touched[tableKey(database, table)] = true
}
