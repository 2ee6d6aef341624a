package cutover

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// triggerOwner is the definer of one of the fixture's triggers: a user
// other than the one tailor connects as.
const triggerOwner = "`tailor_trigger_owner`@`localhost`"

// session runs queries on a connection of its own, which is discarded
// afterwards rather than handed back to the pool with changed settings.
func (f *fixture) session(queries ...string) {
	f.t.Helper()
	ctx := context.Background()
	conn, err := f.db.Conn(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	defer func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	for _, q := range queries {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			f.t.Fatalf("%s: %v", q, err)
		}
	}
}

// addTriggers gives the original four triggers, written in the form the
// server stores (so that SHOW CREATE TRIGGER can be compared), and returns
// them as schema.LoadTriggers reads them:
//
//   - audit_insert, AFTER INSERT, defined by triggerOwner under
//     PIPES_AS_CONCAT: one audit row per insert, whose note is 'insert:'
//     and the marker only if || still concatenates;
//   - mark_insert, AFTER INSERT, created last with FOLLOWS audit_insert, so
//     second in order;
//   - count_insert, AFTER INSERT, created from a latin1 session with a
//     non-ASCII literal: counts the inserts;
//   - touch_update, BEFORE UPDATE: appends '+' to the marker.
//
// The three AFTER INSERT triggers append a, b, c to @fired in the order
// they fire.
func (f *fixture) addTriggers() []schema.Trigger {
	f.t.Helper()
	f.exec("CREATE TABLE audit (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, marker varchar(100) NOT NULL, note varchar(200) NOT NULL) ENGINE=InnoDB")
	f.exec("CREATE TABLE counter (k int PRIMARY KEY, n int NOT NULL, note varchar(20) NOT NULL) ENGINE=InnoDB")
	f.exec("INSERT INTO counter VALUES (1, 0, '')")
	f.exec("CREATE USER IF NOT EXISTS " + triggerOwner)
	f.exec("GRANT ALL PRIVILEGES ON " + mysql.QuoteIdent(f.dbName) + ".* TO " + triggerOwner)
	on := " ON " + mysql.QuoteIdent(f.cfg.Table) + " FOR EACH ROW "
	f.session("SET SESSION sql_mode = 'PIPES_AS_CONCAT,ANSI_QUOTES,STRICT_ALL_TABLES'",
		"CREATE DEFINER="+triggerOwner+" TRIGGER `audit_insert` AFTER INSERT"+on+
			"BEGIN INSERT INTO audit (marker, note) VALUES (NEW.marker, 'insert:' || NEW.marker); SET @fired = CONCAT(COALESCE(@fired, ''), 'a'); END")
	f.session("SET NAMES latin1",
		"CREATE DEFINER=`root`@`localhost` TRIGGER `count_insert` AFTER INSERT"+on+
			"BEGIN UPDATE counter SET n = n + 1, note = 'caf\xe9' WHERE k = 1; SET @fired = CONCAT(COALESCE(@fired, ''), 'c'); END")
	f.session("CREATE DEFINER=`root`@`localhost` TRIGGER `mark_insert` AFTER INSERT" + on +
		"FOLLOWS `audit_insert` SET @fired = CONCAT(COALESCE(@fired, ''), 'b')")
	f.session("CREATE DEFINER=`root`@`localhost` TRIGGER `touch_update` BEFORE UPDATE" + on + "SET NEW.marker = CONCAT(NEW.marker, '+')")
	triggers := f.triggers(f.cfg.Table)
	var names []string
	for _, t := range triggers {
		names = append(names, fmt.Sprintf("%s:%d", t.Name, t.Order))
	}
	if want := []string{"audit_insert:1", "mark_insert:2", "count_insert:3", "touch_update:1"}; !slices.Equal(names, want) {
		f.t.Fatalf("the fixture's triggers are %v, want %v", names, want)
	}
	return triggers
}

func (f *fixture) triggers(table string) []schema.Trigger {
	f.t.Helper()
	ts, err := schema.LoadTriggers(context.Background(), f.db, f.dbName, table)
	if err != nil {
		f.t.Fatal(err)
	}
	return ts
}

// showCreates maps each trigger on table to SHOW CREATE TRIGGER's
// statement, in the bytes the server stored.
func (f *fixture) showCreates(table string) map[string]string {
	f.t.Helper()
	ctx := context.Background()
	conn, err := f.db.Conn(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	defer func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, "SET character_set_results = binary"); err != nil {
		f.t.Fatal(err)
	}
	out := map[string]string{}
	for _, t := range f.triggers(table) {
		var name, mode, stmt, cs, cc, dc, created sql.RawBytes
		rows, err := conn.QueryContext(ctx, "SHOW CREATE TRIGGER "+mysql.QuoteIdent(t.Name))
		if err != nil {
			f.t.Fatal(err)
		}
		if !rows.Next() {
			f.t.Fatalf("SHOW CREATE TRIGGER %s: no row", t.Name)
		}
		if err := rows.Scan(&name, &mode, &stmt, &cs, &cc, &dc, &created); err != nil {
			f.t.Fatal(err)
		}
		out[t.Name] = string(stmt)
		rows.Close()
	}
	return out
}

// assertTriggersOn checks that table has exactly the triggers want, with
// the same SHOW CREATE TRIGGER statements as shows, and that the shadow,
// if it still exists, has none.
func (f *fixture) assertTriggersOn(table string, want []schema.Trigger, shows map[string]string) {
	f.t.Helper()
	if got := f.triggers(table); !slices.Equal(got, want) {
		f.t.Errorf("triggers on %s:\n got %+v\nwant %+v", table, got, want)
	}
	// Modulo the table's name: RENAME TABLE rewrites it in the statement,
	// quoted as the trigger's sql_mode quotes names ("t" under ANSI_QUOTES),
	// whatever the statement had.
	anyName := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			for _, q := range []string{mysql.QuoteIdent(table), `"` + strings.ReplaceAll(table, `"`, `""`) + `"`} {
				v = strings.Replace(v, " ON "+q+" FOR EACH ROW ", " ON <table> FOR EACH ROW ", 1)
			}
			out[k] = v
		}
		return out
	}
	if now := f.showCreates(table); !maps.Equal(anyName(now), anyName(shows)) {
		f.t.Errorf("SHOW CREATE TRIGGER on %s:\n got %q\nwant %q", table, now, shows)
	}
	if f.exists(f.cfg.Shadow) {
		if left := f.triggers(f.cfg.Shadow); len(left) > 0 {
			f.t.Errorf("the shadow has triggers %v", left)
		}
	}
}

// assertFiredOnce checks that every insert the writers made fired the
// triggers exactly once, and none other did: one audit row per insert,
// with the note only sql_mode PIPES_AS_CONCAT gives, and the counter equal
// to the number of inserts.
func (f *fixture) assertFiredOnce(w *writers) {
	f.t.Helper()
	rows, err := f.db.Query("SELECT marker, COUNT(*), MIN(note) FROM audit GROUP BY marker")
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	type audited struct {
		n    int
		note string
	}
	audit := map[string]audited{}
	for rows.Next() {
		var m string
		var a audited
		if err := rows.Scan(&m, &a.n, &a.note); err != nil {
			f.t.Fatal(err)
		}
		audit[m] = a
	}
	total := 0
	for _, markers := range w.done {
		for _, m := range markers {
			total++
			if a := audit[m]; a.n != 1 || a.note != "insert:"+m {
				f.t.Errorf("insert %s has %d audit rows (note %q), want 1", m, a.n, a.note)
			}
			delete(audit, m)
		}
	}
	for m, a := range audit {
		f.t.Errorf("%d audit rows for %s, which no writer inserted", a.n, m)
	}
	var n int
	if err := f.db.QueryRow("SELECT n FROM counter").Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	if n != total {
		f.t.Errorf("count_insert counted %d inserts, the writers made %d", n, total)
	}
	f.t.Logf("%d inserts, each audited once", total)
}

// assertTriggersWork inserts and updates a row of the table on a fresh
// session: the AFTER INSERT triggers fire once each, in their order, the
// latin1 literal is intact and the BEFORE UPDATE trigger changes the row.
func (f *fixture) assertTriggersWork() {
	f.t.Helper()
	ctx := context.Background()
	conn, _ := f.conn()
	marker := fmt.Sprintf("probe-%d", time.Now().UnixNano())
	table := mysql.QuoteIdent(f.cfg.Table)
	for _, q := range []string{
		"SET @fired = NULL",
		"UPDATE counter SET note = ''",
		"INSERT INTO " + table + " (marker) VALUES ('" + marker + "')",
		"UPDATE " + table + " SET marker = 'updated-" + marker + "' WHERE marker = '" + marker + "'",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			f.t.Fatalf("%s: %v", q, err)
		}
	}
	var fired, note string
	var audits int
	if err := conn.QueryRowContext(ctx, "SELECT @fired, (SELECT note FROM counter), (SELECT COUNT(*) FROM audit WHERE marker = ?)", marker).Scan(&fired, &note, &audits); err != nil {
		f.t.Fatal(err)
	}
	if fired != "abc" || note != "café" || audits != 1 {
		f.t.Errorf("after an insert: fired %q, counter note %q, %d audit rows; want abc, café, 1", fired, note, audits)
	}
	if _, ok := f.markers(f.cfg.Table)["updated-"+marker+"+"]; !ok {
		f.t.Errorf("the BEFORE UPDATE trigger did not change the row")
	}
}

// copyUnderLock is a catch-up for tests: it copies the rows of the original
// that the shadow lacks, reading them through the locking session a (the
// only one that can while the lock is held).
func (f *fixture) copyUnderLock(ctx context.Context, a *sql.Conn) error {
	rows, err := a.QueryContext(ctx, "SELECT id, marker FROM "+mysql.QuoteIdent(f.cfg.Table))
	if err != nil {
		return err
	}
	var args []any
	for rows.Next() {
		var id int
		var m string
		if err := rows.Scan(&id, &m); err != nil {
			rows.Close()
			return err
		}
		args = append(args, id, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for len(args) > 0 {
		batch := args[:min(len(args), 2000)]
		args = args[len(batch):]
		q := "INSERT IGNORE INTO " + mysql.QuoteIdent(f.cfg.Shadow) + " (id, marker) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?),", len(batch)/2), ",")
		if _, err := f.db.ExecContext(ctx, q, batch...); err != nil {
			return err
		}
	}
	return nil
}

// waitForQuery waits until a statement starting with prefix runs, and
// returns its connection id.
func (f *fixture) waitForQuery(prefix string) int64 {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var id int64
		err := f.db.QueryRow("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID() LIMIT 1", prefix+"%").Scan(&id)
		if err == nil {
			return id
		}
		if !errors.Is(err, sql.ErrNoRows) {
			f.t.Error(err)
			return 0
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.t.Errorf("no statement %q within 20s", prefix)
	return 0
}
