package schema

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/mysql"
)

func TestTriggerStatements(t *testing.T) {
	t.Parallel()
	base := Trigger{
		Database: "sh`op", Name: "we`ird trg", Table: "orders", Timing: "BEFORE", Event: "UPDATE", Order: 2,
		Body: "SET NEW.note = 'it''s `x`'", Definer: "app@10.0.%",
		SQLMode: "ANSI_QUOTES,NO_BACKSLASH_ESCAPES", CharacterSetClient: "latin1", CollationConnection: "latin1_swedish_ci",
	}
	with := func(f func(*Trigger)) Trigger { t := base; f(&t); return t }
	cases := []struct {
		name    string
		trigger Trigger
		table   string
		want    string
	}{
		{"odd names", base, "my orders",
			"CREATE DEFINER=`app`@`10.0.%` TRIGGER `we``ird trg` BEFORE UPDATE ON `my orders` FOR EACH ROW SET NEW.note = 'it''s `x`'"},
		{"definer with @ and backtick in the user", with(func(t *Trigger) { t.Definer = "a@b`c@localhost" }), "t",
			"CREATE DEFINER=`a@b``c`@`localhost` TRIGGER `we``ird trg` BEFORE UPDATE ON `t` FOR EACH ROW SET NEW.note = 'it''s `x`'"},
		{"role as definer", with(func(t *Trigger) { t.Definer = "auditor" }), "t",
			"CREATE DEFINER=`auditor` TRIGGER `we``ird trg` BEFORE UPDATE ON `t` FOR EACH ROW SET NEW.note = 'it''s `x`'"},
		{"empty host, non-ASCII table", with(func(t *Trigger) { t.Definer = "app@"; t.Timing, t.Event = "AFTER", "DELETE" }), "Bestellungen_ä€",
			"CREATE DEFINER=`app`@`` TRIGGER `we``ird trg` AFTER DELETE ON `Bestellungen_ä€` FOR EACH ROW SET NEW.note = 'it''s `x`'"},
	}
	for _, c := range cases {
		if got := c.trigger.CreateSQL(c.table); got != c.want {
			t.Errorf("%s: CreateSQL =\n %s\nwant\n %s", c.name, got, c.want)
		}
	}
	if got, want := base.DropSQL(), "DROP TRIGGER `sh``op`.`we``ird trg`"; got != want {
		t.Errorf("DropSQL = %s, want %s", got, want)
	}
	if got, want := base.SetSessionSQL(), "SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES', SESSION character_set_client = 'latin1', SESSION collation_connection = 'latin1_swedish_ci'"; got != want {
		t.Errorf("SetSessionSQL = %s, want %s", got, want)
	}
	script := with(func(t *Trigger) { t.Body = "SET NEW.note = 'café'" }).Script("orders")
	for _, part := range []string{"USE `sh``op`;\n", SaveSessionSQL + ";\n", "DELIMITER ;;\nCREATE DEFINER=", "'café';;\nDELIMITER ;\n", RestoreSessionSQL + ";\n", "send it in latin1"} {
		if !strings.Contains(script, part) {
			t.Errorf("Script lacks %q:\n%s", part, script)
		}
	}
}

func TestTriggerValidate(t *testing.T) {
	t.Parallel()
	ok := Trigger{Name: "x", Timing: "AFTER", Event: "INSERT", CharacterSetClient: "utf8mb4", CollationConnection: "utf8mb4_general_ci"}
	if err := ok.validate(); err != nil {
		t.Errorf("validate(%+v) = %v", ok, err)
	}
	bad := []func(*Trigger){
		func(t *Trigger) { t.Timing = "INSTEAD OF" },
		func(t *Trigger) { t.Event = "INSERT,UPDATE" },
		func(t *Trigger) { t.CharacterSetClient = "latin1'; DROP" },
	}
	for _, f := range bad {
		tr := ok
		f(&tr)
		if err := tr.validate(); err == nil {
			t.Errorf("validate(%+v) accepted it", tr)
		}
	}
}

// session runs statements on a connection of its own, which is discarded
// afterwards rather than handed back to the pool with changed settings.
func session(t *testing.T, db *sql.DB, queries ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	for _, q := range queries {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// showCreate is SHOW CREATE TRIGGER's statement, in the bytes the server
// stored (character_set_results binary).
func showCreate(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, "SET character_set_results = binary"); err != nil {
		t.Fatal(err)
	}
	var trigger, mode, stmt, cs, cc, dc, created sql.RawBytes
	rows, err := conn.QueryContext(ctx, "SHOW CREATE TRIGGER "+mysql.QuoteIdent(name))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("no trigger %s", name)
	}
	if err := rows.Scan(&trigger, &mode, &stmt, &cs, &cc, &dc, &created); err != nil {
		t.Fatal(err)
	}
	return string(stmt)
}

// Triggers are read with everything that makes them what they are, and the
// statements rendered from them create triggers the server cannot tell
// from the originals: same stored statement bytes (a latin1 body
// included), same settings, same order.
func TestLoadTriggersRecreate(t *testing.T) {
	db, name := sbx.NewDatabase(t)
	ctx := context.Background()
	session(t, db,
		"CREATE TABLE src (id INT PRIMARY KEY, v VARCHAR(20))",
		"CREATE TABLE dst LIKE src",
		"CREATE TABLE log (n INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(50))")
	// In canonical form, so that the stored statements can be compared.
	session(t, db, "SET SESSION sql_mode = 'PIPES_AS_CONCAT,ANSI_QUOTES'",
		"CREATE DEFINER=`root`@`localhost` TRIGGER `a_log` AFTER INSERT ON `src` FOR EACH ROW INSERT INTO log (v) VALUES ('a:' || NEW.v)",
		"CREATE DEFINER=`root`@`localhost` TRIGGER `c_log` AFTER INSERT ON `src` FOR EACH ROW INSERT INTO log (v) VALUES ('c')",
		"CREATE DEFINER=`root`@`localhost` TRIGGER `b_log` AFTER INSERT ON `src` FOR EACH ROW FOLLOWS `a_log` INSERT INTO log (v) VALUES ('b')")
	session(t, db, "SET NAMES latin1",
		"CREATE DEFINER=`root`@`localhost` TRIGGER `u_latin1` BEFORE UPDATE ON `src` FOR EACH ROW SET NEW.v = 'caf\xe9'")

	got, err := LoadTriggers(ctx, db, name, "src")
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, tr := range got {
		summary = append(summary, fmt.Sprintf("%s %s %s %d", tr.Name, tr.Timing, tr.Event, tr.Order))
	}
	want := []string{"a_log AFTER INSERT 1", "b_log AFTER INSERT 2", "c_log AFTER INSERT 3", "u_latin1 BEFORE UPDATE 1"}
	if !slices.Equal(summary, want) {
		t.Fatalf("LoadTriggers = %v, want %v", summary, want)
	}
	if a := got[0]; a.Definer != "root@localhost" || a.SQLMode != "PIPES_AS_CONCAT,ANSI_QUOTES" || a.Body != "INSERT INTO log (v) VALUES ('a:' || NEW.v)" ||
		a.Database != name || a.Table != "src" || a.DatabaseCollation != "utf8mb4_unicode_520_ci" {
		t.Errorf("a_log = %+v", a)
	}
	if u := got[3]; u.CharacterSetClient != "latin1" || u.CollationConnection != "latin1_swedish_ci" || u.Body != "SET NEW.v = 'café'" {
		t.Errorf("u_latin1 = %+v", u)
	}
	before := map[string]string{}
	for _, tr := range got {
		before[tr.Name] = showCreate(t, db, tr.Name)
	}

	// Move them to dst as the cut-over does: drop all, then create in order.
	for _, tr := range slices.Backward(got) {
		session(t, db, tr.DropSQL())
	}
	for _, tr := range got {
		stmt, err := EncodeForClient(ctx, db, tr.CreateSQL("dst"), tr.CharacterSetClient)
		if err != nil {
			t.Fatal(err)
		}
		session(t, db, "USE "+mysql.QuoteIdent(name), SaveSessionSQL, tr.SetSessionSQL(), stmt, RestoreSessionSQL)
	}
	moved, err := LoadTriggers(ctx, db, name, "dst")
	if err != nil {
		t.Fatal(err)
	}
	for i := range moved {
		moved[i].Table = "src"
	}
	if !reflect.DeepEqual(moved, got) {
		t.Errorf("recreated triggers differ:\n got %+v\nwant %+v", moved, got)
	}
	for _, tr := range got {
		after := strings.Replace(showCreate(t, db, tr.Name), "ON `dst`", "ON `src`", 1)
		if after != before[tr.Name] {
			t.Errorf("SHOW CREATE TRIGGER %s:\n got %q\nwant %q", tr.Name, after, before[tr.Name])
		}
	}
	// They work as the originals did, in the same order, with the same
	// sql_mode (|| concatenates) and the latin1 literal intact.
	session(t, db, "INSERT INTO dst VALUES (1, 'x')", "UPDATE dst SET v = 'y'")
	var logged string
	if err := db.QueryRow("SELECT GROUP_CONCAT(v ORDER BY n) FROM log").Scan(&logged); err != nil {
		t.Fatal(err)
	}
	if logged != "a:x,b,c" {
		t.Errorf("log = %q, want a:x,b,c", logged)
	}
	var v string
	if err := db.QueryRow("SELECT v FROM dst").Scan(&v); err != nil || v != "café" {
		t.Errorf("dst.v = %q, %v; want café", v, err)
	}

	if none, err := LoadTriggers(ctx, db, name, "src"); err != nil || len(none) != 0 {
		t.Errorf("LoadTriggers(src) = %v, %v; want none", none, err)
	}
}

func TestEncodeForClient(t *testing.T) {
	db, _ := sbx.NewDatabase(t)
	ctx := context.Background()
	cases := []struct {
		stmt, charset, want string
		fails               bool
	}{
		{"SET @a = 'café'", "latin1", "SET @a = 'caf\xe9'", false},
		{"SET @a = 'café 日本'", "utf8mb4", "SET @a = 'café 日本'", false},
		{"SET @a = 'ok'", "ascii", "SET @a = 'ok'", false},
		{"SET @a = '日本'", "latin1", "", true},
		{"SET @a = 1", "latin1) --", "", true},
	}
	for _, c := range cases {
		got, err := EncodeForClient(ctx, db, c.stmt, c.charset)
		if (err != nil) != c.fails || got != c.want {
			t.Errorf("EncodeForClient(%q, %s) = %q, %v; want %q (fails %v)", c.stmt, c.charset, got, err, c.want, c.fails)
		}
	}
}
