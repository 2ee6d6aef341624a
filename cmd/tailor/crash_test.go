package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/workload"
)

var (
	builtOnce sync.Once
	builtBin  string
	builtErr  error
)

// tailorBinary builds the binary once for the tests that run it as a
// process.
func tailorBinary(t *testing.T) string {
	t.Helper()
	builtOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tailor-bin-")
		if err != nil {
			builtErr = err
			return
		}
		builtBin = filepath.Join(dir, "tailor")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			builtErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return builtBin
}

// process is a tailor binary running.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr []string
	stdout bytes.Buffer
	done   chan struct{}
	err    error
}

func startTailor(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(tailorBinary(t), args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "MYSQL_PWD="+sandbox.Password)
	p.cmd.Stdout = &p.stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr = append(p.stderr, sc.Text())
			p.mu.Unlock()
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.stderr, "\n")
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("tailor did not exit within %s; stderr:\n%s", within, p.log())
	}
	var exitErr *exec.ExitError
	if errors.As(p.err, &exitErr) {
		return exitErr.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("tailor: %v", p.err)
	}
	return 0
}

// kill9 kills the process as kill -9 does: no cleanup of any kind.
func (p *process) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// saved is what the test reads of the saved state.
type saved struct {
	phase       string
	rowsCopied  int64
	copyDone    bool
	checksumed  bool
	found       bool
	updatedNote string
}

func readSaved(t *testing.T, db *sql.DB, database string) saved {
	t.Helper()
	var s saved
	err := db.QueryRow("SELECT phase, rows_copied, copy_done, checksum_passed, note FROM `"+database+"`.orders_tailor_state").
		Scan(&s.phase, &s.rowsCopied, &s.copyDone, &s.checksumed, &s.updatedNote)
	switch {
	case err == nil:
		s.found = true
	case errors.Is(err, sql.ErrNoRows), strings.Contains(err.Error(), "1146"):
	default:
		t.Fatalf("read the saved state: %v", err)
	}
	return s
}

// poll calls cond every few milliseconds until it holds, or fails the test.
func poll(t *testing.T, p *process, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if p.exited() {
			t.Fatalf("tailor exited while waiting for %s: %v\n%s", what, p.err, p.log())
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s; stderr:\n%s", what, within, p.log())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var resumedRows = regexp.MustCompile(`rows copied: +(\d+) in this run, (\d+) before the resume`)

// TestKill9AndResume kills the real binary with SIGKILL at each phase of a
// migration, with writers writing throughout, and resumes it with
// --resume: the result equals the control table, and the copy was resumed
// rather than started over.
func TestKill9AndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs migrations")
	}
	const rows = 20_000
	const alter = "ADD COLUMN refunded_at DATETIME(6) NULL, ADD INDEX idx_status (status)"
	var blocker *sql.Conn
	endBlocker := func() {
		if blocker != nil {
			_, _ = blocker.ExecContext(context.Background(), "ROLLBACK")
			blocker.Close()
			blocker = nil
		}
	}
	// hold opens a transaction that runs q and stays open: it holds the
	// metadata lock of the table q reads until endBlocker.
	hold := func(t *testing.T, s crashSetup, q string) {
		t.Helper()
		c, err := s.db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		blocker = c
		// Before the database is dropped, which would wait for it.
		t.Cleanup(endBlocker)
		for _, q := range []string{"USE `" + s.database + "`", "BEGIN", q} {
			if _, err := c.ExecContext(context.Background(), q); err != nil {
				t.Fatal(err)
			}
		}
	}
	// heldRow is a row no writer touches: locking it holds the table's
	// metadata lock (as a writer does) without holding up the writers.
	const heldRow = "SELECT id FROM orders WHERE id = 9000000000000 FOR UPDATE"
	cases := []crashCase{
		{
			name: "copy early",
			crashWhen: func(t *testing.T, s crashSetup, p *process) {
				poll(t, p, "rows copied", time.Minute, func() bool { return readSaved(t, s.db, s.database).rowsCopied >= 2_000 })
			},
			minBefore: 2_000,
		},
		{
			name: "copy late",
			crashWhen: func(t *testing.T, s crashSetup, p *process) {
				poll(t, p, "most rows copied", time.Minute, func() bool { return readSaved(t, s.db, s.database).rowsCopied >= 14_000 })
			},
			minBefore: 14_000,
		},
		{
			// An open transaction on the shadow holds the index build: the
			// ALTER waits on the server, and goes on waiting after tailor
			// is killed; the resume must kill it before anything else.
			name:  "build-indexes",
			extra: []string{"--defer-indexes", "always"},
			crashWhen: func(t *testing.T, s crashSetup, p *process) {
				poll(t, p, "the copy done", time.Minute, func() bool { return readSaved(t, s.db, s.database).copyDone })
				hold(t, s, "SELECT COUNT(*) FROM orders_tailor_new WHERE id = 1")
				poll(t, p, "the index build waiting", time.Minute, func() bool {
					var n int
					_ = s.db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE%orders_tailor_new%ADD%'").Scan(&n)
					return n > 0
				})
			},
			release:   endBlocker,
			minBefore: rows,
		},
		{
			// A transaction that wrote the original holds the checksum's
			// snapshot (LOCK TABLES ... READ) back.
			name:  "checksum",
			extra: []string{"--cut-over-lock-timeout-seconds", "1"},
			crashWhen: func(t *testing.T, s crashSetup, p *process) {
				poll(t, p, "the copy done", time.Minute, func() bool { return readSaved(t, s.db, s.database).copyDone })
				hold(t, s, heldRow)
				poll(t, p, "the checksum phase", time.Minute, func() bool { return readSaved(t, s.db, s.database).phase == "checksum" })
				time.Sleep(1500 * time.Millisecond) // an attempt or two at its snapshot
			},
			release:   endBlocker,
			minBefore: rows,
		},
		{
			name:  "postponed",
			extra: []string{"--postpone-cut-over-flag-file", "FLAG"},
			crashWhen: func(t *testing.T, s crashSetup, p *process) {
				poll(t, p, "the postponed phase", time.Minute, func() bool { return readSaved(t, s.db, s.database).phase == "postponed" })
			},
			minBefore: rows,
		},
		{
			name:  "cut-over attempts",
			extra: []string{"--cut-over-lock-timeout-seconds", "1", "--cut-over-attempts", "0"},
			crashWhen: func(t *testing.T, s crashSetup, p *process) {
				poll(t, p, "the checksum passed", time.Minute, func() bool { return readSaved(t, s.db, s.database).checksumed })
				hold(t, s, heldRow)
				poll(t, p, "a cut-over attempt given up", time.Minute, func() bool { return strings.Contains(p.log(), "cut-over attempt gave up") })
			},
			release:   endBlocker,
			minBefore: rows,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, database := sbx.NewDatabase(t)
			db.SetMaxOpenConns(20)
			ctx := context.Background()
			if err := workload.Create(ctx, db, "orders", rows); err != nil {
				t.Fatal(err)
			}
			// The row heldRow locks, in both tables so that they stay equal.
			for _, table := range []string{"orders", "orders_control"} {
				if _, err := db.Exec("INSERT INTO " + table + " (id, customer, amount, created) SELECT 9000000000000, customer, amount, created FROM orders WHERE id = 1"); err != nil {
					t.Fatal(err)
				}
			}
			s := crashSetup{db: db, database: database, flag: filepath.Join(t.TempDir(), "postpone")}
			if err := os.WriteFile(s.flag, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			extra := []string{"--execute", "--force-copy", "--threads", "1", "--chunk-size", "50", "--checkpoint-interval", "100ms", "--control-socket", filepath.Join(t.TempDir(), "ctl.sock")}
			for _, e := range c.extra {
				extra = append(extra, strings.ReplaceAll(e, "FLAG", s.flag))
			}
			load := workload.Start(ctx, db, workload.Options{Table: "orders", Writers: 2, Rate: 150, InitialRows: rows, Seed: 3})
			defer load.Stop()

			first := startTailor(t, alterArgs(database, "orders", alter, extra...)...)
			c.crashWhen(t, s, first)
			first.kill9(t)
			st := readSaved(t, db, database)
			t.Logf("killed during %s: saved phase %s, %d rows copied, copy done %v, checksum passed %v", c.name, st.phase, st.rowsCopied, st.copyDone, st.checksumed)
			if !st.found || st.rowsCopied < c.minBefore {
				t.Fatalf("saved state after the kill: %+v", st)
			}
			time.Sleep(300 * time.Millisecond) // writes while nothing follows them

			resumeArgs := append(append([]string(nil), extra...), "--resume")
			resumed := time.Now()
			second := startTailor(t, alterArgs(database, "orders", alter, resumeArgs...)...)
			// How long a resume takes to get going: to its first chunk, or
			// to the phase after the copy when the copy was done.
			poll(t, second, "the resume under way", time.Minute, func() bool {
				l := second.log()
				return strings.Contains(l, "copying rows") || strings.Contains(l, "the copy was done by an earlier run")
			})
			t.Logf("the resume was under way %s after it started", time.Since(resumed).Round(time.Millisecond))
			if c.release != nil {
				if c.name == "build-indexes" {
					// The resume kills the index build the killed run left
					// waiting on the server, if the server has not ended it
					// already (it may notice the lost client first), before
					// it says it resumes; then the blocker may go.
					poll(t, second, "the resume past its leftover check", time.Minute, func() bool {
						return strings.Contains(second.log(), "resuming the saved migration")
					})
					t.Logf("leftover index build killed by the resume: %v", strings.Contains(second.log(), "killing a statement an earlier run left running"))
				}
				c.release()
			}
			if c.name == "postponed" {
				poll(t, second, "the resumed run postponed", time.Minute, func() bool { return readSaved(t, db, database).phase == "postponed" })
				if err := os.Remove(s.flag); err != nil {
					t.Fatal(err)
				}
			}
			code := second.wait(t, 3*time.Minute)
			time.Sleep(200 * time.Millisecond)
			stats := load.Stop()
			t.Logf("resume exited %d; stdout:\n%s", code, second.stdout.String())
			if code != 0 {
				t.Fatalf("resume exited %d; stderr:\n%s", code, second.log())
			}
			m := resumedRows.FindStringSubmatch(second.stdout.String())
			if m == nil {
				t.Fatalf("the summary does not count this run's and earlier runs' rows:\n%s", second.stdout.String())
			}
			now, _ := strconv.ParseInt(m[1], 10, 64)
			before, _ := strconv.ParseInt(m[2], 10, 64)
			t.Logf("rows copied: %d by the resume, %d saved before it, for a table of %d rows (plus the writers' inserts)", now, before, rows)
			if float64(now+before) > 1.3*float64(rows) {
				t.Errorf("rows copied over both runs: %d + %d for a %d-row table; the copy started over", now, before, rows)
			}
			if stats.Errors > 0 {
				t.Errorf("%d writes failed, last: %s", stats.Errors, stats.LastError)
			}
			diff, err := workload.Compare(ctx, db, "orders", workload.SameColumns(nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !diff.Equal() {
				t.Fatalf("migrated table differs from the control record: %s", diff)
			}
			var def string
			_ = db.QueryRow("SHOW CREATE TABLE orders").Scan(new(string), &def)
			if !strings.Contains(def, "KEY `idx_status`") || !strings.Contains(def, "`refunded_at`") {
				t.Errorf("new definition:\n%s", def)
			}
			if st := readSaved(t, db, database); !st.found || st.phase != "done" {
				t.Errorf("after the migration the saved state is %+v, want what a revert needs (phase done)", st)
			}
		})
	}
}

// crashSetup is what a crash case works on.
type crashSetup struct {
	db       *sql.DB
	database string
	flag     string // the postpone flag file
}

// crashCase kills tailor at one moment of a migration.
type crashCase struct {
	name  string
	extra []string
	// crashWhen returns at the moment to kill; release, when set, ends
	// what held the phase up, once the resumed run has started.
	crashWhen func(t *testing.T, s crashSetup, p *process)
	release   func()
	// minBefore is the least the saved state must have copied.
	minBefore int64
}

// TestKill9Revert migrates with the binary, writes on, then kills a
// revert with SIGKILL while its cut-over is held up; tailor revert again
// continues it, and the table is back, equal to the control table, with
// every write.
func TestKill9Revert(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs migrations")
	}
	const rows = 5_000
	db, database := sbx.NewDatabase(t)
	db.SetMaxOpenConns(20)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	load := workload.Start(ctx, db, workload.Options{Table: "orders", Writers: 2, Rate: 150, InitialRows: rows, Seed: 9})
	defer load.Stop()
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	forward := startTailor(t, alterArgs(database, "orders", "ADD COLUMN refunded_at DATETIME(6) NULL", "--execute", "--force-copy", "--control-socket", sock)...)
	if code := forward.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("alter exited %d:\n%s", code, forward.log())
	}
	time.Sleep(500 * time.Millisecond) // writes since the cut-over

	blocker, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = blocker.ExecContext(context.Background(), "ROLLBACK")
		blocker.Close()
	})
	revertArgs := append([]string{"revert"}, connArgs()...)
	revertArgs = append(revertArgs, "--database", database, "--table", "orders", "--execute", "--control-socket", sock,
		"--checkpoint-interval", "100ms", "--cut-over-lock-timeout-seconds", "1", "--cut-over-attempts", "0")
	first := startTailor(t, revertArgs...)
	poll(t, first, "the revert checked", time.Minute, func() bool { return readSaved(t, db, database).checksumed })
	for _, q := range []string{"BEGIN", "SELECT id FROM `" + database + "`.orders WHERE id = 1 FOR UPDATE"} {
		if _, err := blocker.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	poll(t, first, "a cut-over attempt given up", time.Minute, func() bool { return strings.Contains(first.log(), "cut-over attempt gave up") })
	first.kill9(t)
	if _, err := blocker.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)

	second := startTailor(t, revertArgs...)
	if code := second.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("revert again exited %d:\n%s", code, second.log())
	}
	t.Logf("revert again:\n%s", second.stdout.String())
	if !strings.Contains(second.stdout.String(), "Reverted") {
		t.Errorf("the summary does not say it reverted:\n%s", second.stdout.String())
	}
	time.Sleep(200 * time.Millisecond)
	if stats := load.Stop(); stats.Errors > 0 {
		t.Errorf("%d writes failed, last: %s", stats.Errors, stats.LastError)
	}
	diff, err := workload.Compare(ctx, db, "orders", workload.SameColumns(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !diff.Equal() {
		t.Fatalf("the reverted table differs from the control record: %s", diff)
	}
	var def string
	_ = db.QueryRow("SHOW CREATE TABLE orders").Scan(new(string), &def)
	if strings.Contains(def, "refunded_at") {
		t.Errorf("not reverted:\n%s", def)
	}
}
