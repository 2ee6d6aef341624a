package cutover

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// What other sessions may do to the cut-over's tables (issue 10): a
// session that holds the shadow across the swap must never let a write
// into the original after the catch-up.

// readShadowInTransaction opens a transaction that has read the shadow, and
// so holds a metadata lock on it until the returned function commits it.
func (f *fixture) readShadowInTransaction() func() {
	f.t.Helper()
	c, _ := f.conn()
	mustExec(f.t, c, "BEGIN")
	mustExec(f.t, c, "SELECT COUNT(*) FROM "+mysql.QuoteIdent(f.cfg.Shadow))
	return func() { mustExec(f.t, c, "COMMIT") }
}

// A reader of the shadow that ends within the budget: the RENAME holds t
// while it waits for the reader, so a writer queued behind the cut-over's
// lock goes into the new table, and the reported hold covers the wait.
func TestCutOverWithShadowReader(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	f.cfg.LockTimeout = 5 * time.Second
	endRead := f.readShadowInTransaction()
	writer, _ := f.conn()
	var writeDone <-chan error
	catchUp := func(context.Context) error {
		// Queued behind A's lock, like the application's writes.
		writeDone = run(writer, "INSERT INTO t (marker) VALUES ('queued at the cut-over')")
		f.waitForStatement("INSERT")
		go func() {
			time.Sleep(time.Second)
			endRead()
		}()
		return nil
	}
	res, err := Swap(context.Background(), f.db, mariadb, f.cfg, catchUp)
	if err != nil {
		t.Fatalf("Swap: %v", err)
	}
	if err := receive(t, "INSERT", writeDone); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.markers("t")["queued at the cut-over"]; !ok {
		t.Error("the write queued at the cut-over is not in the new table")
	}
	if _, ok := f.markers("t_tailor_old")["queued at the cut-over"]; ok {
		t.Error("the write queued at the cut-over went into the old table")
	}
	if res.LockHeld < time.Second {
		t.Errorf("LockHeld = %s; the writers waited for the reader of the shadow, at least 1s", res.LockHeld)
	}
}

// A reader of the shadow that outlasts the budget: the RENAME is ended,
// the writers go on into the original while the reader still holds the
// shadow, and the attempt fails, retryable, with nothing renamed.
func TestCutOverShadowReaderOutlastsBudget(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	f.cfg.LockTimeout = 2 * time.Second
	endRead := f.readShadowInTransaction()
	defer endRead()
	writer, _ := f.conn()
	var writeDone <-chan error
	catchUp := func(context.Context) error {
		writeDone = run(writer, "INSERT INTO t (marker) VALUES ('queued at the cut-over')")
		f.waitForStatement("INSERT")
		return nil
	}
	_, err := Swap(context.Background(), f.db, mariadb, f.cfg, catchUp)
	if err == nil || !IsRetryable(err) {
		t.Fatalf("Swap = %v, want a retryable failure", err)
	}
	if err := receive(t, "INSERT", writeDone); err != nil {
		t.Fatal(err)
	}
	f.assertUntouched()
	if _, ok := f.markers("t")["queued at the cut-over"]; !ok {
		t.Error("the write queued at the cut-over is not in the original")
	}
	if f.exists(SentryName("t")) {
		t.Error("the sentry is left behind")
	}
}

// frozenHelperEnv, when set, makes the test binary a process that runs one
// swap whose catch-up reports "locked" on stdout and then waits; the
// test stops it there with SIGSTOP. Its value is
// "port database table shadow old lock-timeout".
const frozenHelperEnv = "TAILOR_TEST_FROZEN_SWAP"

func frozenSwapHelper() int {
	var port int
	var database, table, shadow, old string
	var timeoutText string
	if _, err := fmt.Sscan(os.Getenv(frozenHelperEnv), &port, &database, &table, &shadow, &old, &timeoutText); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	timeout, err := time.ParseDuration(timeoutText)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	ctx := context.Background()
	db, err := mysql.Open(ctx, mysql.ConnConfig{Host: "127.0.0.1", Port: port, User: "tailor", Password: "sandbox-pw", Database: database})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	defer db.Close()
	cfg := Config{Database: database, Table: table, Shadow: shadow, Old: old, LockTimeout: timeout}
	_, err = Swap(ctx, db, mariadb, cfg, func(ctx context.Context) error {
		fmt.Println("locked")
		<-ctx.Done()
		return context.Cause(ctx)
	})
	fmt.Println("swap:", err)
	return 0
}

// A cut-over process frozen (SIGSTOP) while it holds the write lock does
// not hold the application's writers for longer than about the lock
// timeout: the server closes the locking session, and the writers go on
// into the original, while the process is still stopped.
func TestFrozenClientReleasesWriters(t *testing.T) {
	f := newFixture(t, "t", "t_tailor_new", "t_tailor_old")
	const lockTimeout = 2 * time.Second
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), frozenHelperEnv+"="+strings.Join([]string{
		strconv.Itoa(sbx.Port), f.dbName, "t", "t_tailor_new", "t_tailor_old", lockTimeout.String()}, " "))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if stopped {
			_ = cmd.Process.Signal(syscall.SIGCONT)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "locked" {
		t.Fatalf("helper said %q (%v), want \"locked\"", lines.Text(), lines.Err())
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped = true

	writer, _ := f.conn()
	started := time.Now()
	writeDone := run(writer, "INSERT INTO t (marker) VALUES ('written while tailor is frozen')")
	f.waitForStatement("INSERT") // held by the frozen process's lock
	select {
	case err := <-writeDone:
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the writer waited %s with the cut-over process stopped", time.Since(started).Round(time.Millisecond))
	case <-time.After(lockTimeout + 3*time.Second):
		// wait_timeout is the lock timeout in seconds plus one.
		t.Fatalf("the writer is still held %s after the cut-over process froze holding the lock", lockTimeout+3*time.Second)
	}
	if _, ok := f.markers("t")["written while tailor is frozen"]; !ok {
		t.Error("the write is not in the original")
	}

	// Woken up, the process finds its lock gone and gives up cleanly.
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	var said string
	for lines.Scan() {
		said += lines.Text()
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	t.Logf("the helper, woken up: %s", said)
	if !strings.HasPrefix(said, "swap: ") || said == "swap: <nil>" {
		t.Errorf("helper said %q, want a failed swap", said)
	}
	f.assertUntouched()
	if f.exists(SentryName("t")) {
		t.Error("the sentry is left behind")
	}
}
