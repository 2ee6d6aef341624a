package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/backfill"
	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// TestStatusOfBackfills reads the saved backfills of a table as an
// operator does: none (exit 7, whether or not tailor_backfills exists); one
// finished and one stopped on a row it could not write, with the command
// that resumes it; the stopped one after its run died (saved running, its
// lock free) and while a session holds its lock; and, once the row is fixed,
// the printed command run as printed, which finishes it.
func TestStatusOfBackfills(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	t.Setenv("MYSQL_PWD", sandbox.Password)
	sock := filepath.Join(ctlSocketDir(t), "b.sock")
	for _, q := range []string{
		"CREATE TABLE t (id INT NOT NULL PRIMARY KEY, src VARCHAR(40) NOT NULL, dst VARCHAR(10) NULL, n INT NOT NULL DEFAULT 0)",
		"INSERT INTO t (id, src) SELECT seq, CONCAT('r', seq) FROM seq_1_to_3000",
		"CREATE TABLE other (id INT NOT NULL PRIMARY KEY, n INT NOT NULL DEFAULT 0)",
		"INSERT INTO other (id) SELECT seq FROM seq_1_to_10",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// No migration and no backfill: without tailor_backfills, then with
	// only another table's backfill in it.
	o := tailor(t, statusArgs(dbName, "t", sock)...)
	o.wantCode(t, exitNoMigration)
	o.errorLine(t, "no migration of", "no backfill", "`tailor_backfills`")
	tailor(t, backfillArgs(dbName, "other", "--set", "n = 1", "--execute")...).wantCode(t, exitOK)
	o = tailor(t, statusArgs(dbName, "t", sock, "--output", "json")...)
	o.wantCode(t, exitNoMigration)
	if doc := decodeStatus(t, o); doc.State != stateNone || doc.Backfills == nil || len(doc.Backfills) != 0 {
		t.Errorf("JSON status = %+v, want state none and no backfill", doc)
	}

	tailor(t, backfillArgs(dbName, "t", "--set", "n = n + 1", "--execute")...).wantCode(t, exitOK)
	// Row 1500 passes the sample at each end of the range, and its batch
	// cannot store it: the run stops after 1400 rows.
	if _, err := db.Exec("UPDATE t SET src = 'a value far too long' WHERE id = 1500"); err != nil {
		t.Fatal(err)
	}
	tailor(t, backfillArgs(dbName, "t", "--set", "dst = src", "--where", "dst IS NULL", "--chunk-size", "100", "--execute")...).wantCode(t, exitResumable)

	o = tailor(t, statusArgs(dbName, "t", sock)...)
	o.wantCode(t, exitOK)
	resume := "tailor backfill --host 127.0.0.1 --port " + strconv.Itoa(sbx.Port) + " --user " + sandbox.User + " --database " + dbName +
		" --table t --set 'dst = src' --where 'dst IS NULL' --control-socket " + sock + " --execute --resume"
	wantLines(t, o.stdout,
		"migration: "+dbName+".t\nstate: none: no tailor answers on "+sock,
		"\n\nbackfill: "+dbName+".t (job ",
		"state: done\nstatement: UPDATE `"+dbName+"`.`t` SET n = n + 1 WHERE (<key range>)\nkey: PRIMARY, walked up to id = 3000\n",
		"progress: 3000 rows changed, 3000 rows walked in ", "batches; every row up to id = 3000 is done\nnext: nothing to resume",
		"state: stopped\nstatement: UPDATE `"+dbName+"`.`t` SET dst = src WHERE (<key range>) AND (dst IS NULL)\n",
		"last moved: ",
		"why: ",
		"progress: 1400 rows changed, 1400 rows walked in 14 batches; every row up to id = 1400 is done\n",
		"next: "+resume+" continues it",
	)
	if strings.Contains(o.stdout, "next: tailor alter") {
		t.Error("status offers to resume a migration")
	}

	o = tailor(t, statusArgs(dbName, "t", sock, "--output", "json")...)
	o.wantCode(t, exitOK)
	doc := decodeStatus(t, o)
	if doc.State != stateNone || len(doc.Backfills) != 2 {
		t.Fatalf("JSON status = %+v, want no migration and two backfills", doc)
	}
	done, stopped := doc.Backfills[0], doc.Backfills[1]
	switch {
	case done.State != backfill.StateDone || done.BackfillRecord == nil || done.FinishedAt == nil || done.RowsChanged != 3000 || done.ResumeCommand != "":
		t.Errorf("done = %+v", done)
	case stopped.State != backfill.StateStopped || stopped.Crashed || stopped.BackfillRecord == nil || !stopped.PartsKnown || stopped.Set != "dst = src" || stopped.Where != "dst IS NULL":
		t.Errorf("stopped = %+v", stopped)
	case stopped.ResumeCommand != resume || compactJSON(stopped.LastKey) != `[{"t":"int64","v":"1400"}]` || stopped.FinishedAt != nil || stopped.Note == "":
		t.Errorf("stopped = %+v, last key %s", stopped.BackfillRecord, stopped.LastKey)
	case time.Since(stopped.UpdatedAt) > time.Minute || stopped.UpdatedAgo > 60:
		t.Errorf("stopped moved last at %s, %.1fs ago", stopped.UpdatedAt, stopped.UpdatedAgo)
	}

	// A run that died leaves its state saying running, and its lock free.
	if _, err := db.Exec("UPDATE tailor_backfills SET status = 'running', note = '' WHERE job = ?", stopped.Job); err != nil {
		t.Fatal(err)
	}
	o = tailor(t, statusArgs(dbName, "t", sock)...)
	o.wantCode(t, exitOK)
	wantLines(t, o.stdout, "state: stopped (crashed): its saved state says running, but no session holds its lock tailor-backfill:"+stopped.Job, "next: "+resume)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got, id int64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0), CONNECTION_ID()", backfill.LockName(stopped.Job)).Scan(&got, &id); err != nil || got != 1 {
		t.Fatalf("take the backfill's lock: %v", err)
	}
	o = tailor(t, statusArgs(dbName, "t", sock)...)
	o.wantCode(t, exitOK)
	wantLines(t, o.stdout, "state: running elsewhere: server connection "+strconv.FormatInt(id, 10)+" holds its lock", "next: it is running: ask it with tailor ctl status")
	// Closing a *sql.Conn only hands the session back to the pool.
	if _, err := conn.ExecContext(ctx, "DO RELEASE_LOCK(?)", backfill.LockName(stopped.Job)); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()

	// The command status printed, run as printed, finishes the backfill.
	if _, err := db.Exec("UPDATE t SET src = 'fixed' WHERE id = 1500"); err != nil {
		t.Fatal(err)
	}
	words := posixWords(resume)
	if words[0] != "tailor" {
		t.Fatalf("not a tailor command: %q", resume)
	}
	tailor(t, words[1:]...).wantCode(t, exitOK)
	if n := count(t, db, "SELECT COUNT(*) FROM t WHERE dst IS NULL OR dst <> src"); n != 0 {
		t.Errorf("%d rows not backfilled", n)
	}
	o = tailor(t, statusArgs(dbName, "t", sock, "--output", "json")...)
	o.wantCode(t, exitOK)
	for _, b := range decodeStatus(t, o).Backfills {
		if b.State != backfill.StateDone || b.ResumeCommand != "" {
			t.Errorf("after the resume: %+v", b)
		}
	}
}

func compactJSON(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return err.Error()
	}
	return b.String()
}

// posixWords splits a command line as a POSIX shell does the ones
// shellQuote writes: words between spaces, '...' quoting and \ escapes.
func posixWords(s string) []string {
	var words []string
	var cur strings.Builder
	quoted, inWord := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestStatusDescribesBackfills renders saved backfills the sandbox test
// does not reach, without a server.
func TestStatusDescribesBackfills(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 11, 10, 0, 0, time.UTC)
	base := func() backfill.SavedBackfill {
		return backfill.SavedBackfill{
			Job: "0123456789abcdef", FormatVersion: 1, Readable: true, Status: "stopped", State: backfill.StateStopped,
			Statement: "DELETE FROM `shop`.`orders` WHERE (<key range>) AND (created < '2020-01-01')",
			Where:     "created < '2020-01-01'", Delete: true, Exact: true,
			KeyName: "by_code", KeyColumns: []string{"code", "seq"}, Upper: []any{"zz", int64(9)}, Last: []any{"it's", int64(3)},
			RowsChanged: 42, RowsWalked: 1000, Batches: 2, RunID: "3f9a1c27d4e8b605", Note: "interrupted",
			StartedAt: now.Add(-10 * time.Minute), UpdatedAt: now.Add(-3 * time.Minute),
		}
	}
	cases := []struct {
		name  string
		saved func() backfill.SavedBackfill
		want  []string
	}{
		{"delete on another key", base, []string{
			"backfill: shop.orders (job 0123456789abcdef)\nstate: stopped\n",
			"key: by_code, walked up to (code, seq) = ('zz', 9)\n",
			"started: 2026-12-06 11:00:00 UTC\nlast moved: 2026-12-06 11:07:00 UTC (3m0s ago)\nwhy: interrupted\n",
			"progress: 42 rows changed, 1000 rows walked in 2 batches; every row up to (code, seq) = ('it''s', 3) is done\n",
			`next: tailor backfill --port 3307 --password --database shop --table orders --delete --where 'created < '\''2020-01-01'\''' --key by_code --control-socket /tmp/t.sock --execute --resume continues it`,
		}},
		{"statement not known", func() backfill.SavedBackfill {
			b := base()
			b.Exact, b.Where, b.Delete = false, "", false
			return b
		}, []string{"next: resume it with the --set and --where it was started with: tailor backfill --port 3307 --password --database shop --table orders --set ... --where ... --execute --resume"}},
		{"key gone", func() backfill.SavedBackfill {
			b := base()
			b.KeyColumns, b.Exact = nil, false
			return b
		}, []string{"key: by_code, walked up to ('zz', 9)\n", "next: it cannot be resumed: the table has no key `by_code`"}},
		{"nothing done", func() backfill.SavedBackfill {
			b := base()
			b.Last, b.Status, b.Crashed, b.Note = nil, "running", true, ""
			return b
		}, []string{"state: stopped (crashed)", "in 2 batches; no batch done yet\n"}},
		{"another format", func() backfill.SavedBackfill {
			return backfill.SavedBackfill{Job: "0123456789abcdef", FormatVersion: 2, Status: "stopped", State: backfill.StateStopped}
		}, []string{"format: 2; this tailor reads another", "next: finish it with the tailor that started it, or delete its row (table_name 'orders', job '0123456789abcdef') from `shop`.`tailor_backfills`"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cmd := newStatusCommand()
			if err := cmd.ParseFlags([]string{"--database", "shop", "--table", "orders", "--control-socket", "/tmp/t.sock", "--port", "3307", "--password=s3cret"}); err != nil {
				t.Fatal(err)
			}
			f := &statusFlags{database: "shop", table: "orders", controlSocket: "/tmp/t.sock"}
			doc := statusDoc{Database: "shop", Table: "orders", State: stateNone, Backfills: f.backfillDocs(cmd, []backfill.SavedBackfill{c.saved()}, now)}
			var b strings.Builder
			writeBackfillsText(&b, doc)
			wantLines(t, b.String(), c.want...)
			if strings.Contains(b.String(), "s3cret") {
				t.Errorf("the password is shown:\n%s", b.String())
			}
		})
	}
}

// TestStatusOfRunningBackfill asks a running tailor backfill (the binary)
// over its control socket, as status does for a migration; stops it with
// Ctrl-C; and runs the command status then prints, which finishes it
// with every row changed once.
func TestStatusOfRunningBackfill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	db, dbName := sbx.NewDatabase(t)
	t.Setenv("MYSQL_PWD", sandbox.Password)
	sock := filepath.Join(ctlSocketDir(t), "r.sock")
	for _, q := range []string{
		"CREATE TABLE t (id INT NOT NULL PRIMARY KEY, n INT NOT NULL DEFAULT 0)",
		"INSERT INTO t (id) SELECT seq FROM seq_1_to_20000",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	args := append([]string{"backfill"}, connArgs()...)
	args = append(args, "--database", dbName, "--table", "t", "--set", "n = n + 1", "--chunk-size", "10", "--control-socket", sock, "--execute")
	p := startTailor(t, args...)
	ctx := context.Background()
	poll(t, p, "the backfill answers on its socket, paused", time.Minute, func() bool {
		_, err := control.Send(ctx, sock, "pause")
		return err == nil
	})

	o := tailor(t, statusArgs(dbName, "t", sock)...)
	o.wantCode(t, exitOK)
	wantLines(t, o.stdout, "backfill: "+dbName+".t\nstate: running (it answered on "+sock+")\nstatement: UPDATE `"+dbName+"`.`t` SET n = n + 1 WHERE (<key range>)\n", "walked: ")
	o = tailor(t, statusArgs(dbName, "t", sock, "--output", "json")...)
	o.wantCode(t, exitOK)
	doc := decodeStatus(t, o)
	var running control.Status
	if err := json.Unmarshal(doc.Running, &running); err != nil || doc.State != stateRunning || running.Statement == "" || doc.Backfills != nil {
		t.Fatalf("JSON status = %+v (%v), want the running backfill's", doc, err)
	}

	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, time.Minute); code != exitInterrupted {
		t.Fatalf("Ctrl-C: exit %d\n%s", code, p.log())
	}
	o = tailor(t, statusArgs(dbName, "t", sock, "--output", "json")...)
	o.wantCode(t, exitOK)
	doc = decodeStatus(t, o)
	if len(doc.Backfills) != 1 || doc.Backfills[0].State != backfill.StateStopped || doc.Backfills[0].ResumeCommand == "" {
		t.Fatalf("after Ctrl-C: %+v", doc)
	}
	words := posixWords(doc.Backfills[0].ResumeCommand)
	tailor(t, words[1:]...).wantCode(t, exitOK)
	if n := count(t, db, "SELECT COUNT(*) FROM t WHERE n <> 1"); n != 0 {
		t.Errorf("%d rows not changed exactly once", n)
	}
}
