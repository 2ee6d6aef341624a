package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/workload"
)

// zoneTable has a column of each kind whose values the ALTER of zoneAlter
// moves between a TIMESTAMP and another type, both ways.
const (
	zoneTable = `(id INT NOT NULL PRIMARY KEY,
		ts TIMESTAMP(6) NULL DEFAULT NULL, dt DATETIME(6) NULL, s VARCHAR(32) NULL, d DATE NULL,
		t2 TIMESTAMP NULL DEFAULT NULL, t3 TIMESTAMP NULL DEFAULT NULL, v VARCHAR(64) NOT NULL) ENGINE=InnoDB`
	zoneAlter = `MODIFY ts DATETIME(6) NULL, MODIFY dt TIMESTAMP(6) NULL DEFAULT NULL, MODIFY s TIMESTAMP NULL DEFAULT NULL,
		MODIFY d TIMESTAMP NULL DEFAULT NULL, MODIFY t2 VARCHAR(40) NULL, MODIFY t3 BIGINT NULL`
)

var zoneColumns = []workload.ColumnPair{{Table: "ts", Control: "ts"}, {Table: "dt", Control: "dt"}, {Table: "s", Control: "s"},
	{Table: "d", Control: "d"}, {Table: "t2", Control: "t2"}, {Table: "t3", Control: "t3"}, {Table: "v", Control: "v"}}

// zoneWriter writes, in a session in +00:00, the same transactions to the
// table and its control table. Its TIMESTAMPs are instants written as UTC
// text, among them both instants that read 02:30 in Amsterdam on the night
// its clock turns back, and the zero value; its clock times (DATETIME,
// text, DATE) are any time but in the hour Amsterdam's clock skips, which
// no TIMESTAMP holds there, and the time that night that happens twice.
type zoneWriter struct {
	db     *sql.DB
	table  string
	mu     sync.Mutex
	rng    *rand.Rand
	nextID int
	writes atomic.Int64
}

func (w *zoneWriter) instant() any {
	switch n := w.rng.IntN(12); n {
	case 0:
		return nil
	case 1:
		return "0000-00-00 00:00:00"
	case 2:
		return "2024-10-27 00:30:00.250000" // 02:30 CEST
	case 3:
		return "2024-10-27 01:30:00.750000" // 02:30 CET
	case 4:
		return "2024-03-31 01:00:00" // 03:00 CEST, the skipped hour's end
	default:
		sec := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + w.rng.Int64N(40*365*86400)
		return time.Unix(sec, int64(w.rng.IntN(1000000))*1000).UTC().Format("2006-01-02 15:04:05.000000")
	}
}

func (w *zoneWriter) clock(fraction bool) any {
	switch n := w.rng.IntN(10); n {
	case 0:
		return nil
	case 1:
		return "2024-10-27 02:30:00" // happens twice in Amsterdam
	default:
		t := time.Date(1990+w.rng.IntN(40), time.Month(1+w.rng.IntN(12)), 1+w.rng.IntN(28), 0, w.rng.IntN(60), w.rng.IntN(60), 0, time.UTC)
		if h := w.rng.IntN(23); h < 2 {
			t = t.Add(time.Duration(h) * time.Hour)
		} else {
			t = t.Add(time.Duration(h+1) * time.Hour) // never 02:xx
		}
		if fraction {
			t = t.Add(time.Duration(w.rng.IntN(1000000)) * time.Microsecond)
			return t.Format("2006-01-02 15:04:05.000000")
		}
		return t.Format("2006-01-02 15:04:05")
	}
}

func (w *zoneWriter) date() any {
	if w.rng.IntN(8) == 0 {
		return nil
	}
	return time.Date(1990+w.rng.IntN(40), time.Month(1+w.rng.IntN(12)), 1+w.rng.IntN(28), 0, 0, 0, 0, time.UTC).Format("2006-01-02")
}

// whole is an instant without its fraction, for TIMESTAMP(0) columns.
func whole(v any) any {
	if s, ok := v.(string); ok && len(s) > 19 {
		return s[:19]
	}
	return v
}

func (w *zoneWriter) row() []any {
	return []any{w.instant(), w.clock(true), w.clock(false), w.date(), whole(w.instant()), whole(w.instant())}
}

func (w *zoneWriter) write(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var q string
	var args []any
	switch op := w.rng.IntN(10); {
	case op < 4:
		w.nextID++
		q = "INSERT INTO %s (id, ts, dt, s, d, t2, t3, v) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
		args = append(append([]any{w.nextID}, w.row()...), fmt.Sprintf("v%d", w.nextID))
	case op < 9:
		q = "UPDATE %s SET ts = ?, dt = ?, s = ?, d = ?, t2 = ?, t3 = ?, v = CONCAT(v, '.') WHERE id = ?"
		args = append(w.row(), 1+w.rng.IntN(w.nextID))
	default:
		q, args = "DELETE FROM %s WHERE id = ?", []any{1 + w.rng.IntN(w.nextID)}
	}
	if err := toBoth(ctx, w.db, w.table, q, args); err != nil {
		return err
	}
	w.writes.Add(1)
	return nil
}

// fill inserts n rows into the table and its control table.
func (w *zoneWriter) fill(t *testing.T, n int) {
	t.Helper()
	for range n {
		w.nextID++
		args := append(append([]any{w.nextID}, w.row()...), fmt.Sprintf("v%d", w.nextID))
		for _, tbl := range []string{w.table, workload.ControlTable(w.table)} {
			mustExec(t, w.db, "INSERT INTO "+mysql.QuoteIdent(tbl)+" (id, ts, dt, s, d, t2, t3, v) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", args...)
		}
	}
}

// alterControlInZone makes the ALTER on the control table the server's own
// way, in a session in zone (the server's global one when empty): what the
// migrated table must then hold.
func alterControlInZone(t *testing.T, db *sql.DB, table, zone string) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	set := "SET SESSION time_zone = @@GLOBAL.time_zone"
	if zone != "" {
		set = "SET SESSION time_zone = " + mysql.QuoteString(zone)
	}
	for _, q := range []string{set, "ALTER TABLE " + mysql.QuoteIdent(workload.ControlTable(table)) + " " + zoneAlter + ", ALGORITHM=COPY", "SET SESSION time_zone = '+00:00'"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// inServerZone is a session of db in the server's system zone, closed
// when the test ends.
func inServerZone(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.ExecContext(context.Background(), "SET time_zone = '+00:00'")
		conn.Close()
	})
	mustExecConn(t, conn, "SET time_zone = 'SYSTEM'")
	return conn
}

// TestTimeZoneConversionsUnderWrites migrates, under writes, a table whose
// ALTER moves values between TIMESTAMPs and other types both ways, on a
// server whose system zone is Europe/Amsterdam (with its clock changes).
// The migrated table must hold what the server's own ALTER makes of the
// control table in a session of the same zone: the server's global one
// by default, --time-zone's when given; a resume converts in the zone the
// migration saved even after the server's zone changed. tailor's sessions
// all run in +00:00: before the conversions were explicit, every such
// value came out shifted by the zone's offset, and the checksum agreed.
// It has a sandbox of its own, since the zone is the server's.
func TestTimeZoneConversionsUnderWrites(t *testing.T) {
	sandbox.Need(t, sbx)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	amsterdam, err := sandbox.Start(ctx, sandbox.Options{
		Zone: "Europe/Amsterdam",
		Log:  func(s string) { t.Log(s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(amsterdam.Stop)
	// Without the zone's rules (Debian's tzdata) the server would quietly
	// run in UTC, where nothing here is converted.
	admin, err := amsterdam.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var system string
	err = admin.QueryRowContext(ctx, "SELECT @@system_time_zone").Scan(&system)
	admin.Close()
	if err != nil {
		t.Fatal(err)
	}
	if system != "CET" && system != "CEST" {
		t.Fatalf("the sandbox started with TZ=Europe/Amsterdam runs in %q, not CET or CEST: is /usr/share/zoneinfo/Europe/Amsterdam installed (apt-get install tzdata)?", system)
	}

	setup := func(t *testing.T, seed uint64) (*sql.DB, string, *zoneWriter) {
		db, dbName := amsterdam.NewDatabase(t)
		mustExec(t, db, "CREATE TABLE zt "+zoneTable)
		mustExec(t, db, "CREATE TABLE zt_control "+zoneTable)
		w := &zoneWriter{db: db, table: "zt", rng: rand.New(rand.NewPCG(seed, 9))}
		w.fill(t, 600)
		return db, dbName, w
	}
	config := func(dbName string) Config {
		cfg := testConfig(t, dbName, "zt", zoneAlter)
		cfg.Conn = amsterdam.Conn(dbName)
		cfg.ChunkSize = 50
		return cfg
	}

	for _, c := range []struct{ name, zone, shown string }{
		{"server's zone", "", "'SYSTEM'"},
		{"given zone", "-03:00", "'-03:00'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, dbName, w := setup(t, uint64(len(c.name)))
			cfg := config(dbName)
			cfg.TimeZone = c.zone
			res := migrateUnderWrites(ctx, t, cfg, w.write, 5, true)
			t.Logf("%d transactions during the migration, %d events applied", w.writes.Load(), res.EventsApplied)
			alterControlInZone(t, db, "zt", c.zone)
			wantEqualToControl(ctx, t, db, "zt", zoneColumns)
			notes := strings.Join(res.Plan.Notes, "\n")
			for _, col := range []string{"`ts`", "`dt`", "`s`", "`d`", "`t2`", "`t3`"} {
				if !strings.Contains(notes, "Column "+col+" is ") {
					t.Errorf("the plan's notes do not name column %s:\n%s", col, notes)
				}
			}
			if !strings.Contains(notes, "converted in the time zone "+c.shown) {
				t.Errorf("the plan's notes do not name the zone %s:\n%s", c.shown, notes)
			}
		})
	}

	// The revert converts back in the saved zone: rows written to the new
	// types after the swap must read, in the server's zone, as what was
	// written. Amsterdam is at +02:00 on 2024-06-01 and +01:00 on
	// 2024-02-01.
	t.Run("revert converts back", func(t *testing.T) {
		db, dbName, w := setup(t, 33)
		migrateUnderWrites(ctx, t, config(dbName), w.write, 5, true)
		mustExec(t, db, `UPDATE zt SET ts = '2024-10-27 02:30:00.5', dt = '2024-10-27 00:30:00', s = '2024-06-01 10:00:00',
			d = '2024-01-31 23:00:00', t2 = '2024-06-01 12:00:00', t3 = 20240601120000 WHERE id = 1`)
		mustExec(t, db, `INSERT INTO zt (id, ts, dt, s, d, t2, t3, v) VALUES (100000, '2024-03-31 03:15:00', '2024-03-31 01:15:00',
			'2024-10-27 01:30:00', NULL, '0000-00-00 00:00:00', 0, 'after the swap')`)
		mustExec(t, db, "DELETE FROM zt WHERE id = 2")
		cfg := revertConfig(t, dbName, "zt")
		cfg.Conn = amsterdam.Conn(dbName)
		if _, err := runMigration(ctx, t, cfg); err != nil {
			t.Fatal(err)
		}
		conn := inServerZone(t, db)
		for id, want := range map[int]string{
			1:      "2024-10-27 02:30:00.500000|2024-10-27 02:30:00.000000|2024-06-01 12:00:00|2024-02-01|2024-06-01 12:00:00|2024-06-01 12:00:00",
			100000: "2024-03-31 03:15:00.000000|2024-03-31 03:15:00.000000|2024-10-27 02:30:00|NULL|0000-00-00 00:00:00|0000-00-00 00:00:00",
		} {
			var got string
			if err := conn.QueryRowContext(ctx, `SELECT CONCAT_WS('|', ts, dt, s, IFNULL(d, 'NULL'), t2, t3) FROM zt WHERE id = ?`, id).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("row %d after the revert reads %s in the server's zone, want %s", id, got, want)
			}
		}
		if def := showCreate(t, db, dbName, "zt"); !strings.Contains(def, "`ts` timestamp(6)") {
			t.Errorf("the revert did not bring the old definition back:\n%s", def)
		}
	})

	// A clock time the zone skips (Amsterdam's clock went from 02:00 to
	// 03:00 on 2024-03-31) is no TIMESTAMP there: the server's own ALTER
	// refuses it, and so must the applier, naming the row, where
	// CONVERT_TZ alone would store the hour's end.
	t.Run("a time the zone skips", func(t *testing.T) {
		db, dbName, _ := setup(t, 44)
		cfg := config(dbName)
		var once sync.Once
		cfg.testHooks = &testHooks{afterChunk: func(int) {
			once.Do(func() {
				mustExec(t, db, "INSERT INTO zt (id, dt, v) VALUES (200000, '2024-03-31 02:30:00', 'skipped')")
			})
		}}
		_, err := runMigration(ctx, t, cfg)
		wantKind(t, err, KindFailed, "id=200000", "no time in SYSTEM: 2024-03-31 02:30:00.000000")
		if def := showCreate(t, db, dbName, "zt"); !strings.Contains(def, "`dt` datetime(6)") {
			t.Errorf("the table was changed:\n%s", def)
		}
		// Once the row is there, the plan's narrowing check names it.
		dry := config(dbName)
		dry.Execute = false
		res, err := runMigration(ctx, t, dry)
		if err != nil {
			t.Fatal(err)
		}
		var narrowing string
		for _, c := range res.Plan.Checks {
			if c.Name == "narrowing" {
				narrowing = string(c.Status) + ": " + c.Message + "\n" + strings.Join(c.Details, "\n")
			}
		}
		if !strings.Contains(narrowing, "id=200000: dt '2024-03-31 02:30:00.000000' does not fit TIMESTAMP(6)") {
			t.Errorf("the narrowing check does not name the row:\n%s", narrowing)
		}
	})

	// A column added with a default that reads the clock: the server makes
	// the change INSTANT, in the server's zone (Amsterdam is at +01:00 in
	// winter, +02:00 in summer, never at UTC's clock); copied, its rows
	// would get UTC's clock time, which the plan says.
	t.Run("clock default", func(t *testing.T) {
		db, dbName, w := setup(t, 5)
		const add = "ADD COLUMN c DATETIME DEFAULT CURRENT_TIMESTAMP"
		cfg := config(dbName)
		cfg.Alter, cfg.ForceCopy = add, false
		if _, err := runMigration(ctx, t, cfg); err != nil {
			t.Fatal(err)
		}
		var off int64
		if err := db.QueryRow("SELECT MAX(ABS(TIMESTAMPDIFF(SECOND, c, CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', 'SYSTEM')))) FROM zt").Scan(&off); err != nil {
			t.Fatal(err)
		}
		if off > 60 {
			t.Errorf("the INSTANT change filled c %d s away from the clock time in the server's zone", off)
		}

		// Copied, under writes: every row, copied or applied (an update
		// is applied as a delete and an insert), gets the one value the
		// default has in the server's zone, in the column's type, as the
		// server's own ALTER gives it (a number, bits, a DATE cut from a
		// DATETIME, an instant; ON UPDATE CURRENT_TIMESTAMP too: the
		// writes during the migration were to the original, which has no
		// such column); a default that reads a column or calls UUID() is
		// computed for each row.
		copied := config(dbName)
		copied.OkToDropTable = true
		copied.Alter = "ADD COLUMN cc DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3), ADD COLUMN cd DATE DEFAULT CURRENT_TIMESTAMP, " +
			"ADD COLUMN cv VARCHAR(30) NOT NULL DEFAULT (NOW()), ADD COLUMN big BIGINT DEFAULT (NOW()), ADD COLUMN b BIT(8) DEFAULT (DAYOFMONTH(CURDATE())), " +
			"ADD COLUMN tsc TIMESTAMP(3) NULL DEFAULT CURRENT_TIMESTAMP(3), ADD COLUMN age INT DEFAULT (DATEDIFF(CURDATE(), d)), " +
			"ADD COLUMN tok VARCHAR(80) DEFAULT (CONCAT(NOW(6), '-', UUID())), ADD UNIQUE KEY tok (tok), " +
			"ADD COLUMN f FLOAT DEFAULT (UNIX_TIMESTAMP()), ADD COLUMN lbl VARCHAR(40) DEFAULT (CONCAT('rand-', CURDATE())), " +
			"ADD COLUMN e BIGINT DEFAULT (UNIX_TIMESTAMP('2024-01-01 00:00:00')), ADD COLUMN z DATETIME DEFAULT (FROM_UNIXTIME(0)), " +
			"ADD COLUMN upd DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), ADD COLUMN pad VARCHAR(400) DEFAULT (LPAD('x', 300, 'x'))"
		res := migrateUnderWrites(ctx, t, copied, w.write, 5, true)
		t.Logf("%d transactions during the migration, %d events applied", w.writes.Load(), res.EventsApplied)
		zconn := inServerZone(t, db)
		var values, rows, all, toks, ages int
		if err := zconn.QueryRowContext(ctx, "SELECT COUNT(DISTINCT cc, cd, cv, big, b, tsc), COUNT(*), COALESCE(MAX(ABS(TIMESTAMPDIFF(SECOND, cc, NOW()))), -1) FROM zt "+
			"WHERE cd = DATE(cc) AND cv = DATE_FORMAT(cc, '%Y-%m-%d %H:%i:%s') AND big = DATE_FORMAT(cc, '%Y%m%d%H%i%s') + 0 AND b = DAYOFMONTH(cc) AND tsc = cc "+
			// A FLOAT holds an epoch to 128 s; its text, to 10,000 s.
			"AND ABS(f - UNIX_TIMESTAMP(cc)) <= 128 AND lbl = CONCAT('rand-', DATE(cc)) AND e = 1704063600 AND z = '1970-01-01 01:00:00' AND pad = LPAD('x', 300, 'x') AND upd = cc").Scan(&values, &rows, &off); err != nil {
			t.Fatal(err)
		}
		if err := zconn.QueryRowContext(ctx, "SELECT COUNT(*), COUNT(DISTINCT tok), COUNT(DISTINCT age) FROM zt").Scan(&all, &toks, &ages); err != nil {
			t.Fatal(err)
		}
		if values != 1 || rows != all || off > 120 {
			t.Errorf("%d of %d rows hold the new columns' defaults of one moment, in the columns' types, in %d values, %d s from the clock time in the server's zone; want all, in one value, within 120 s", rows, all, values, off)
		}
		if toks != all || ages < 2 {
			t.Errorf("%d distinct tokens and %d distinct ages in %d rows: the defaults that differ from row to row were not computed for each row", toks, ages, all)
		}
		// A default the column cannot hold (the server's strict mode
		// refuses it, as it refuses the server's own ALTER) is bad input:
		// refused, naming the column, with nothing left behind.
		before := checksum(t, db, dbName, "zt")
		bad := config(dbName)
		bad.Alter = "ADD COLUMN yr TINYINT DEFAULT (UNIX_TIMESTAMP())"
		_, err = runMigration(ctx, t, bad)
		wantKind(t, err, KindInvalid, "the server cannot store the default of a new column (of `yr`) in it", "Out of range value for column 'yr'", "give the column a default it can hold")
		if after := checksum(t, db, dbName, "zt"); after != before || len(tablesIn(t, db, dbName)) != 2 {
			t.Errorf("the refused migration left %v, checksum %d, want %d", tablesIn(t, db, dbName), after, before)
		}
		dry := config(dbName)
		dry.Alter, dry.Execute = "ADD COLUMN c2 DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3), ADD COLUMN c3 DATETIME DEFAULT '2000-01-01 00:00:00', ADD COLUMN c4 VARCHAR(10) DEFAULT 'now', ADD COLUMN c5 INT DEFAULT (DATEDIFF(CURDATE(), d))", false
		res, err := runMigration(ctx, t, dry)
		if err != nil {
			t.Fatal(err)
		}
		notes := strings.Join(res.Plan.Notes, "\n")
		if !strings.Contains(notes, "Column `c2` is new, and its default, current_timestamp(3), is an expression: the server computes it once") ||
			!strings.Contains(notes, "Column `c5` is new, and its default, (to_days(curdate()) - to_days(`d`)), may differ from row to row") ||
			strings.Contains(notes, "`c3`") || strings.Contains(notes, "`c4`") {
			t.Errorf("the plan's notes do not name c2 and c5 (only):\n%s", notes)
		}

		// A STORED column generated from a TIMESTAMP would be computed
		// anew by the copy, in tailor's zone: refused, unless the
		// migration's zone is given as UTC.
		mustExec(t, db, "ALTER TABLE zt ADD COLUMN gd DATE AS (CAST(ts AS DATE)) STORED, ADD COLUMN gv DATE AS (CAST(ts AS DATE)) VIRTUAL")
		before = checksum(t, db, dbName, "zt")
		gen := config(dbName)
		gen.Alter = "ADD COLUMN other INT NULL"
		_, err = runMigration(ctx, t, gen)
		wantKind(t, err, KindInvalid, "Column `gd` is STORED, generated from cast(`ts` as date), and may depend on the time zone (it reads TIMESTAMP column `ts`): tailor's copy would compute it in +00:00, not in 'SYSTEM'", "--time-zone '+00:00'")
		if strings.Contains(fmt.Sprint(err), "`gv`") {
			t.Errorf("the refusal names gv: %v", err)
		}
		if after := checksum(t, db, dbName, "zt"); after != before || len(tablesIn(t, db, dbName)) != 2 {
			t.Errorf("the refused migration left %v, checksum %d, want %d", tablesIn(t, db, dbName), after, before)
		}
		gen.TimeZone, gen.OkToDropTable = "+00:00", true
		if _, err := runMigration(ctx, t, gen); err != nil {
			t.Errorf("with --time-zone +00:00: %v", err)
		}
		mustExec(t, db, "ALTER TABLE zt DROP COLUMN gd, DROP COLUMN gv, DROP COLUMN other")

		// A TIMESTAMP literal in a DEFAULT is read in the session's zone
		// when the definition is made: the shadow's ALTER runs in the
		// server's zone, as the server's own would.
		lit := config(dbName)
		lit.Alter = "ADD COLUMN tsd TIMESTAMP NOT NULL DEFAULT '2024-01-01 00:00:00'"
		if _, err := runMigration(ctx, t, lit); err != nil {
			t.Fatal(err)
		}
		conn := inServerZone(t, db)
		var name, def string
		if err := conn.QueryRowContext(ctx, "SHOW CREATE TABLE zt").Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		var other int
		if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM zt WHERE tsd <> '2024-01-01 00:00:00'").Scan(&other); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(def, "`tsd` timestamp NOT NULL DEFAULT '2024-01-01 00:00:00'") || other != 0 {
			t.Errorf("%d rows hold another tsd than the default read in the server's zone; definition there:\n%s", other, def)
		}
	})

	t.Run("resume keeps the saved zone", func(t *testing.T) {
		db, dbName, w := setup(t, 21)
		cfg := config(dbName)
		var chunks atomic.Int64
		cfg.testHooks = &testHooks{stopAfterChunk: func(int) error {
			if chunks.Add(1) == 5 {
				return errStopped
			}
			return nil
		}}
		_, err := runMigration(ctx, t, cfg)
		wantKind(t, err, KindResumable, "stopped by the test")
		if rec := savedState(t, db, dbName, "zt"); rec == nil || rec.TimeZone != "SYSTEM" {
			t.Fatalf("saved state %+v, want the time zone SYSTEM", rec)
		}
		// The server's zone changes while the migration is stopped; the
		// rows already copied were converted in the old one.
		mustExec(t, db, "SET GLOBAL time_zone = '+09:00'")
		defer mustExec(t, db, "SET GLOBAL time_zone = 'SYSTEM'")
		for range 50 {
			if err := w.write(ctx); err != nil {
				t.Fatal(err)
			}
		}
		other := config(dbName)
		other.Resume, other.TimeZone = true, "+09:00"
		_, err = runMigration(ctx, t, other)
		wantKind(t, err, KindInvalid, "converts values between a TIMESTAMP and another type in the time zone 'SYSTEM'", "--time-zone gives '+09:00'")

		resume := config(dbName)
		resume.Resume = true
		res := migrateUnderWrites(ctx, t, resume, w.write, 5, true)
		// Its plan, and so its narrowing check, converted in the saved
		// zone too.
		if notes := strings.Join(res.Plan.Notes, "\n"); !strings.Contains(notes, "converted in the time zone 'SYSTEM', the zone the resumed migration saved") {
			t.Errorf("the resumed plan's notes do not name the saved zone:\n%s", notes)
		}
		alterControlInZone(t, db, "zt", "SYSTEM")
		wantEqualToControl(ctx, t, db, "zt", zoneColumns)
	})
}
