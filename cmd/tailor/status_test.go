package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/sandbox"
	savedstate "github.com/tailor-osc/tailor/internal/state"
)

// statusArgs is tailor status of table in database on the sandbox, asking
// the control socket sock first.
func statusArgs(database, table, sock string, extra ...string) []string {
	args := append([]string{"status"}, connArgs()...)
	args = append(args, "--database", database, "--table", table, "--control-socket", sock)
	return append(args, extra...)
}

// decodeStatus reads tailor status --output json.
func decodeStatus(t *testing.T, o outcome) statusDoc {
	t.Helper()
	var doc statusDoc
	dec := json.NewDecoder(strings.NewReader(o.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not the JSON status: %v\n%s", err, o.stdout)
	}
	return doc
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestStatusUsage(t *testing.T) {
	noPassword(t)
	for _, tc := range []struct {
		name  string
		args  []string
		words []string
	}{
		{"no database", []string{"status", "--table", "t"}, []string{"--database is required"}},
		{"no table", []string{"status", "--database", "d"}, []string{"--table is required"}},
		{"bad output", []string{"status", "--database", "d", "--table", "t", "--output", "xml"}, []string{"--output must be text or json"}},
		{"argument", []string{"status", "--database", "d", "--table", "t", "orders"}, []string{`"orders"`}},
		{"password value as argument", []string{"status", "--database", "d", "--table", "t", "--password", "s3cret"}, []string{"--password=VALUE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tailor(t, tc.args...)
			o.wantCode(t, exitUsage)
			msg := o.errorLine(t, tc.words...)
			if strings.Contains(msg, "s3cret") {
				t.Errorf("the password is echoed: %q", msg)
			}
		})
	}
}

// TestStatusNoMigration: with nothing answering on the socket and no saved
// state, status says so and exits 7; a table or database that does not
// exist is exit 3, and a server out of reach exit 4.
func TestStatusNoMigration(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	t.Setenv("MYSQL_PWD", sandbox.Password)
	smallTable(t, db, 10)
	sock := filepath.Join(ctlSocketDir(t), "none.sock")

	o := tailor(t, statusArgs(dbName, "t", sock)...)
	o.wantCode(t, exitNoMigration)
	o.errorLine(t, "no migration of", "is running or saved", sock, "t_tailor_state")
	if o.stdout != "" {
		t.Errorf("stdout is not empty: %q", o.stdout)
	}

	o = tailor(t, statusArgs(dbName, "t", sock, "--output", "json")...)
	o.wantCode(t, exitNoMigration)
	if doc := decodeStatus(t, o); doc.State != stateNone || doc.Table != "t" || doc.Saved != nil || doc.Running != nil {
		t.Errorf("JSON status = %+v, want state none and nothing else", doc)
	}

	o = tailor(t, statusArgs(dbName, "missing", sock)...)
	o.wantCode(t, exitInvalid)
	o.errorLine(t, "`missing` does not exist", "--table")

	o = tailor(t, statusArgs(dbName+"_missing", "t", sock)...)
	o.wantCode(t, exitInvalid)
	o.errorLine(t, "does not exist", "--database")

	args := append([]string{"status", "--host", "127.0.0.1", "--port", "1", "--user", sandbox.User}, "--database", dbName, "--table", "t", "--control-socket", sock)
	o = tailor(t, args...)
	o.wantCode(t, exitConnect)
	o.errorLine(t, "cannot reach the server")
	if strings.Contains(o.stdout+o.stderr, sandbox.Password) {
		t.Error("the password is shown")
	}
}

// TestStatusOfStoppedMigration stops a migration at its cut-over (a
// transaction holds the table, and the one attempt gives up: exit 6, the
// shadow and the saved state kept), and reads its status: stopped, with
// the saved state and the command that resumes it. The resume, held
// before its cut-over, then answers status over its socket, counting the
// earlier run's rows; once it finished there is no migration left.
func TestStatusOfStoppedMigration(t *testing.T) {
	if testing.Short() {
		t.Skip("runs migrations and builds the binary")
	}
	const rows = 2_000
	const alter = "ADD COLUMN extra INT NULL"
	db, dbName := sbx.NewDatabase(t)
	t.Setenv("MYSQL_PWD", sandbox.Password)
	smallTable(t, db, rows)
	sock := filepath.Join(ctlSocketDir(t), "m.sock")

	// A transaction that read the table holds its metadata lock: the copy
	// and the checksum's snapshot go by it, the cut-over's RENAME cannot.
	ctx := context.Background()
	blocker, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	release := func() { _, _ = blocker.ExecContext(ctx, "ROLLBACK"); _ = blocker.Close() }
	t.Cleanup(release) // before the database is dropped, which would wait for it
	for _, q := range []string{"BEGIN", "SELECT COUNT(*) FROM t"} {
		if _, err := blocker.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	extra := []string{"--execute", "--force-copy", "--control-socket", sock, "--cut-over-attempts", "1", "--cut-over-lock-timeout-seconds", "1"}
	o := tailor(t, alterArgs(dbName, "t", alter, extra...)...)
	o.wantCode(t, exitResumable)
	release()

	o = tailor(t, statusArgs(dbName, "t", sock)...)
	o.wantCode(t, exitOK)
	wantLines(t, o.stdout,
		"migration: "+dbName+".t\n",
		"state: stopped: no tailor answers on "+sock,
		"alter: "+alter+"\n",
		"stopped: in phase cut-over; last saved ",
		"why: cut-over failed",
		"copied: 2000 rows over all runs; the copy is done\n",
		"checksum: passed\n",
		"the file is still on the server\n",
		"shadow: `t_tailor_new` exists, as the saved state describes it\n",
		"next: tailor alter --host 127.0.0.1 --port ",
		"--database "+dbName+" --table t --alter 'ADD COLUMN extra INT NULL' --control-socket "+sock+" --execute --resume continues it",
		"--initially-drop-ghost-table instead of --resume starts over",
	)
	if o.stderr != "" {
		t.Errorf("stderr is not empty: %q", o.stderr)
	}

	o = tailor(t, statusArgs(dbName, "t", sock, "--output", "json")...)
	o.wantCode(t, exitOK)
	doc := decodeStatus(t, o)
	s := doc.Saved
	switch {
	case doc.State != stateStopped || s == nil || s.SavedRecord == nil:
		t.Fatalf("JSON status = %+v, want a stopped migration with its saved state", doc)
	case !s.Readable || !s.Resumable || s.NotResumableBecause != "" || !s.ShadowExists || s.OldTableExists || s.ShadowTable != "t_tailor_new":
		t.Errorf("saved = %+v", s)
	case s.Phase != "cut-over" || !s.CopyDone || !s.ChecksumPassed || s.RowsCopied != rows || s.Alter != alter || s.BinlogFile == "" || s.BinlogFilePresent == nil || !*s.BinlogFilePresent:
		t.Errorf("saved record = %+v", s.SavedRecord)
	case !strings.Contains(doc.Next, "--resume") || len(s.CopyKeyColumns) != 1 || s.CopyKeyColumns[0] != "id":
		t.Errorf("next = %q, key %q", doc.Next, s.CopyKeyColumns)
	case time.Since(s.UpdatedAt) > time.Minute || s.UpdatedAgo < 0 || s.UpdatedAgo > 60:
		t.Errorf("updated %s, %.1fs ago", s.UpdatedAt, s.UpdatedAgo)
	}

	// The resume, held before its cut-over, answers over its socket.
	flag := filepath.Join(t.TempDir(), "postpone")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	resume := startTailor(t, alterArgs(dbName, "t", alter, append(extra, "--resume", "--postpone-cut-over-flag-file", flag)...)...)
	poll(t, resume, "the resumed run postponed", time.Minute, func() bool {
		reply, err := control.Send(ctx, sock, "status json")
		return err == nil && strings.Contains(reply, `"cut_over_postponed":true`)
	})
	o = tailor(t, statusArgs(dbName, "t", sock)...)
	o.wantCode(t, exitOK)
	wantLines(t, o.stdout,
		"migration: "+dbName+".t\nstate: running (it answered on "+sock+")\n",
		"phase: postponed\n",
		"copied: 2000 of ~",
		"0 in this run plus 2000 before the resume",
	)
	o = tailor(t, statusArgs(dbName, "t", sock, "--output", "json")...)
	o.wantCode(t, exitOK)
	doc = decodeStatus(t, o)
	var running control.Status
	if err := json.Unmarshal(doc.Running, &running); err != nil || doc.State != stateRunning || doc.Saved != nil {
		t.Fatalf("JSON status = %+v (%v), want the running migration's", doc, err)
	}
	if running.RowsCopied != 0 || running.RowsCopiedBefore != rows || running.Phase != "postponed" {
		t.Errorf("running = %+v, want 0 rows copied in this run and %d before", running, rows)
	}

	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	if code := resume.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("the resume exited %d:\n%s", code, resume.log())
	}
	// The finished migration dropped its state, or kept it as finished.
	o = tailor(t, statusArgs(dbName, "t", sock, "--output", "json")...)
	if o.code != exitNoMigration {
		o.wantCode(t, exitOK)
		if doc := decodeStatus(t, o); doc.State != stateFinished {
			t.Errorf("after the migration finished, state %q", doc.State)
		}
	}
}

// TestStatusDescribesSaved renders saved states the sandbox tests do not
// reach, without a server: a copy stopped midway, a purged binary log, a
// swap made before the stop, another format, a migration running
// elsewhere.
func TestStatusDescribesSaved(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 11, 10, 0, 0, time.UTC)
	record := func() *savedstate.Record {
		return &savedstate.Record{
			FormatVersion: 1, TailorVersion: "v0.4.0", RunID: "3f9a1c27d4e8b605", Database: "shop", Table: "orders",
			Alter: "ADD COLUMN note TEXT, COMMENT 'it''s'", Shadow: "orders_tailor_new", Phase: "copy",
			KeyColumns: []string{"id"}, LowWatermark: []any{int64(125915)}, RowsCopied: 125915,
			Position: capture.Position{File: "mariadb-bin.000012", Pos: 7340415}, GTID: "0-1-48213",
			StartedAt: now.Add(-10 * time.Minute), UpdatedAt: now.Add(-3 * time.Minute), Note: "lost the server\nfor good",
		}
	}
	base := func() *migrate.SavedMigration {
		return &migrate.SavedMigration{
			Database: "shop", Table: "orders", StateTable: "orders_tailor_state", Record: record(), TableExists: true,
			Shadow: "orders_tailor_new", Old: "orders_tailor_old", ShadowExists: true, ShadowMatches: true, BinlogPresent: true,
		}
	}
	cases := []struct {
		name  string
		args  []string
		saved func() *migrate.SavedMigration
		want  []string
	}{
		{"midway", []string{"--port", "3307", "--password=s3cret"}, base, []string{
			"state: stopped: no tailor answers on /tmp/t.sock",
			"run: 3f9a1c27d4e8b605, tailor v0.4.0 (state format 1)\n",
			"started: 2026-12-06 11:00:00 UTC\n",
			"stopped: in phase copy; last saved 2026-12-06 11:07:00 UTC (3m0s ago)\n",
			"why: lost the server for good\n",
			"copied: 125915 rows over all runs; every row up to the low-watermark id = 125915 is in the shadow\n",
			"checksum: not passed\n",
			"binlog: every change up to mariadb-bin.000012:7340415 (GTID 0-1-48213) is in the shadow; the file is still on the server\n",
			`next: tailor alter --port 3307 --password --database shop --table orders --alter 'ADD COLUMN note TEXT, COMMENT '\''it'\'''\''s'\''' --control-socket /tmp/t.sock --execute --resume continues it`,
		}},
		{"purged", nil, func() *migrate.SavedMigration {
			s := base()
			s.BinlogPresent, s.NotResumable = false, "the binary log mariadb-bin.000012 ... is no longer on the server (purged)"
			return s
		}, []string{
			"the file has been PURGED from the server\n",
			"next: it cannot be resumed (the binary log mariadb-bin.000012 ... is no longer on the server (purged)); start over: tailor alter --database shop",
			"--execute --initially-drop-ghost-table\n",
		}},
		{"swapped", nil, func() *migrate.SavedMigration {
			s := base()
			s.ShadowExists, s.OldExists, s.Swapped = false, true, true
			s.NotResumable = "its shadow table is gone and `orders_tailor_old` exists: the earlier run swapped the tables before it stopped"
			return s
		}, []string{
			"shadow: `orders_tailor_new` does not exist\n",
			"next: nothing to resume: its shadow table is gone and `orders_tailor_old` exists: the earlier run swapped the tables before it stopped; check `shop`.`orders`, then DROP TABLE `shop`.`orders_tailor_state`\n",
		}},
		{"another format", nil, func() *migrate.SavedMigration {
			s := base()
			s.Record, s.Format = nil, &savedstate.FormatError{Database: "shop", Table: "orders", Found: 2, Want: 1, TailorVersion: "v0.9.0"}
			return s
		}, []string{
			"format: 2, written by tailor v0.9.0; this tailor reads format 1 only",
			"next: resume it with tailor v0.9.0, which reads format 2, or start over: tailor alter --database shop --table orders --alter ... --control-socket /tmp/t.sock --execute --initially-drop-ghost-table\n",
		}},
		{"finished", nil, func() *migrate.SavedMigration {
			s := base()
			s.Record.Phase, s.Record.Note, s.Finished, s.NotResumable = "done", "kept for later", true, "it finished: the tables were swapped"
			return s
		}, []string{
			"state: finished: no tailor answers on /tmp/t.sock",
			"finished: 2026-12-06 11:07:00 UTC (3m0s ago)\nnote: kept for later\nnext: nothing to resume: the migration finished",
		}},
		{"running elsewhere", nil, func() *migrate.SavedMigration {
			s := base()
			s.LockHolder = 42
			return s
		}, []string{
			"state: running elsewhere: no tailor answers on /tmp/t.sock, but server connection 42 holds the migration lock; below is the saved state in `orders_tailor_state` as that run last wrote it\n",
			"next: ask it with tailor ctl status on the machine it runs on",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cmd := newStatusCommand()
			if err := cmd.ParseFlags(append([]string{"--database", "shop", "--table", "orders", "--control-socket", "/tmp/t.sock"}, c.args...)); err != nil {
				t.Fatal(err)
			}
			f := &statusFlags{database: "shop", table: "orders", controlSocket: "/tmp/t.sock"}
			s := c.saved()
			doc := statusDoc{Database: "shop", Table: "orders", State: stateStopped, ControlSocket: "/tmp/t.sock", Saved: newSavedDoc(s, now), Next: f.next(cmd, s)}
			switch {
			case s.LockHolder != 0:
				doc.State = stateRunningElsewhere
			case s.Finished:
				doc.State = stateFinished
			}
			var b strings.Builder
			writeSavedText(&b, doc, s)
			wantLines(t, b.String(), c.want...)
			if strings.Contains(b.String(), "s3cret") {
				t.Errorf("the password is shown:\n%s", b.String())
			}
		})
	}
}
