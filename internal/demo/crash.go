package demo

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/workload"
)

const (
	// crashAtPercent is how much of the copy the saved state must show
	// before the demo kills tailor: with a checkpoint every
	// crashCheckpoint, the kill comes a checkpoint's worth of rows later
	// at most, in the middle of the copy.
	crashAtPercent = 30
	// crashCheckpoint is the child's --checkpoint-interval: short, so that
	// the saved state follows the copy closely enough to stop it at a
	// chosen point (tailor's default is 10s).
	crashCheckpoint = 100 * time.Millisecond
	// stoppedFor is how long writes go on with no tailor running.
	stoppedFor = 3 * time.Second
)

// crashAndResume runs bin/tailor alter --execute, kills it with SIGKILL
// once the saved state shows part of the copy done, shows the saved state,
// lets the writers write a while, resumes with --resume, and compares the
// result with the control table.
func crashAndResume(ctx context.Context, out io.Writer, sbx *sandbox.Sandbox, db *sql.DB, load *workload.Load, socket string, opts Options) error {
	args := alterArgs(sbx.Port, socket, opts)
	printCommand(out, opts.Tailor, args)
	fmt.Fprintf(out, "    (the password goes in MYSQL_PWD, never on the command line; the state is saved every %s, the default is 10s)\n", crashCheckpoint)
	first, err := startTailor(ctx, opts.Tailor, args, opts.Stderr)
	if err != nil {
		return err
	}
	defer first.stop()
	fmt.Fprintf(out, "==> waiting until shop.orders_tailor_state shows %d%% of the %d rows copied\n", crashAtPercent, opts.Rows)
	fmt.Fprintln(out, "      SELECT rows_copied FROM shop.orders_tailor_state")
	if err := waitForCopy(ctx, db, first, int64(opts.Rows)*crashAtPercent/100); err != nil {
		return err
	}
	fmt.Fprintf(out, "==> kill -9 %d (SIGKILL: tailor gets no chance to clean up or save anything)\n", first.cmd.Process.Pid)
	if err := first.kill(); err != nil {
		return err
	}
	killedAt := time.Now()
	fmt.Fprintf(out, "    tailor ended: %v\n", first.err)

	fmt.Fprintln(out, "==> what the saved state says")
	fmt.Fprintln(out, "      SELECT phase, rows_copied, copy_low_watermark, binlog_file, binlog_pos, updated_at FROM shop.orders_tailor_state")
	st, found, err := readState(ctx, db)
	if err != nil {
		return err
	}
	if !found {
		return errors.New("no saved state after the kill: shop.orders_tailor_state is missing")
	}
	fmt.Fprintf(out, "    phase %s, %d rows copied (%d%% of %d), low-watermark %s\n", st.phase, st.rowsCopied, st.rowsCopied*100/int64(max(opts.Rows, 1)), opts.Rows, st.lowWatermark)
	fmt.Fprintf(out, "    every change up to %s:%d applied to the shadow; saved %s before the kill\n", st.binlogFile, st.binlogPos, killedAt.Sub(st.updatedAt).Round(time.Millisecond))
	tables, err := tailorTables(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    left in shop: %s\n", strings.Join(tables, ", "))

	fmt.Fprintf(out, "==> the writers go on for %s with no tailor running\n", stoppedFor)
	before := load.Snapshot().Transactions
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(stoppedFor):
	}
	fmt.Fprintf(out, "    %d more transactions, in the binary log for the resumed run to apply\n", load.Snapshot().Transactions-before)

	resumeArgs := append(append([]string(nil), args...), "--resume")
	printCommand(out, opts.Tailor, resumeArgs)
	second, err := startTailor(ctx, opts.Tailor, resumeArgs, opts.Stderr)
	if err != nil {
		return err
	}
	defer second.stop()
	<-second.done
	time.Sleep(time.Second) // some writes land in the new table too
	stats := load.Stop()
	var exit *exec.ExitError
	if errors.As(second.err, &exit) {
		return fmt.Errorf("the resumed tailor exited with code %d (its log is above)", exit.ExitCode())
	}
	if second.err != nil {
		return fmt.Errorf("the resumed tailor: %w", second.err)
	}
	fmt.Fprintln(out, "==> the resumed run's summary (its stdout)")
	for _, line := range strings.Split(strings.TrimRight(second.stdout.String(), "\n"), "\n") {
		fmt.Fprintln(out, "    "+line)
	}
	if !resumedRows.MatchString(second.stdout.String()) {
		return errors.New("the resumed run's summary does not say how many rows were copied before the resume")
	}
	// A finished migration's saved state keeps what tailor revert needs
	// (phase done) until the old table is dropped; nothing else of it
	// may stay.
	if st, found, err := readState(ctx, db); err != nil {
		return err
	} else if found && st.phase != "done" {
		return fmt.Errorf("the saved state is still in phase %s after the migration finished", st.phase)
	} else if found {
		fmt.Fprintln(out, "    the saved state now keeps only what tailor revert needs (phase done), until the old table is dropped")
	} else {
		fmt.Fprintln(out, "    the saved state went with the finished migration")
	}
	printLoad(out, stats)
	return compareWithControl(ctx, out, db, stats)
}

var resumedRows = regexp.MustCompile(`rows copied: +\d+ in this run, \d+ before the resume`)

// alterArgs is the tailor alter command line of the demo's migration, the
// password left out.
func alterArgs(port int, socket string, opts Options) []string {
	args := []string{"alter", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--user", sandbox.User,
		"--database", "shop", "--table", "orders", "--alter", opts.Alter, "--execute",
		// A change the server could make INSTANT would copy nothing to
		// interrupt.
		"--force-copy",
		"--control-socket", socket,
		"--checkpoint-interval", crashCheckpoint.String(),
		"--progress-interval", "1s"}
	if opts.Threads > 0 {
		args = append(args, "--threads", strconv.Itoa(opts.Threads))
	}
	if opts.ChunkSize > 0 {
		args = append(args, "--chunk-size", strconv.Itoa(opts.ChunkSize))
	} else if ct := chunkTime(opts); ct != operate.DefaultChunkTime {
		args = append(args, "--chunk-time", ct.String())
	}
	if opts.LogFormat != "" && opts.LogFormat != "text" {
		args = append(args, "--log-format", opts.LogFormat)
	}
	return args
}

// printCommand prints a command line as a shell would take it, wrapped
// after --table's value as the plain demo wraps it.
func printCommand(out io.Writer, bin string, args []string) {
	words := []string{shellQuote(bin)}
	for _, a := range args {
		words = append(words, shellQuote(a))
	}
	split := len(words)
	for i, w := range words {
		if w == "--alter" {
			split = i
			break
		}
	}
	fmt.Fprintf(out, "==> %s", strings.Join(words[:split], " "))
	if split < len(words) {
		fmt.Fprintf(out, " \\\n      %s", strings.Join(words[split:], " "))
	}
	fmt.Fprintln(out)
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell, in single quotes when it needs
// any (an ALTER may hold backticks, which double quotes would run).
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// checkBinary fails with what to do when the tailor binary is missing.
func checkBinary(path string) error {
	st, err := os.Stat(path)
	if err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return nil
	}
	return fmt.Errorf("--crash-and-resume runs the tailor binary, and there is no tailor binary at %s: run make build (make demo does), or give its path with --tailor", path)
}

// child is a tailor binary running.
type child struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	done   chan struct{}
	err    error // cmd.Wait's, once done is closed
}

// startTailor starts bin with args, the password in MYSQL_PWD. Its stderr
// goes through a pipe (so that it logs lines, without a progress bar) to
// log; its stdout is kept for the caller. A cancelled ctx interrupts it as
// Ctrl-C does, so that it removes what it made; it is killed if it has not
// ended 30s later.
func startTailor(ctx context.Context, bin string, args []string, log io.Writer) (*child, error) {
	c := &child{cmd: exec.CommandContext(ctx, bin, args...), done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), "MYSQL_PWD="+sandbox.Password)
	c.cmd.Stdout = &c.stdout
	c.cmd.Cancel = func() error { return c.cmd.Process.Signal(os.Interrupt) }
	c.cmd.WaitDelay = 30 * time.Second
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(log, sc.Text())
		}
		// Wait only once the pipe is read to its end, as StderrPipe asks.
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the process, by its PID, and waits for its end.
func (c *child) kill() error {
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil && !c.exited() {
		return fmt.Errorf("kill tailor (pid %d): %w", c.cmd.Process.Pid, err)
	}
	<-c.done
	return nil
}

// stop ends the process if it still runs when the demo stops early, so
// that it never outlives the sandbox: as Ctrl-C would, then by SIGKILL.
func (c *child) stop() {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.kill()
	}
}

// waitForCopy polls the saved state until it shows at least rows copied.
func waitForCopy(ctx context.Context, db *sql.DB, c *child, rows int64) error {
	for {
		st, _, err := readState(ctx, db)
		if err != nil {
			return err
		}
		if st.rowsCopied >= rows {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("tailor ended (%v) before the saved state showed %d rows copied (its log is above); if it finished the copy that soon, give more --rows", c.err, rows)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// savedState is what the demo shows of shop.orders_tailor_state.
type savedState struct {
	phase        string
	rowsCopied   int64
	lowWatermark string
	binlogFile   string
	binlogPos    uint64
	updatedAt    time.Time
}

// readState reads the saved state; found is false while (or once) the
// table does not exist.
func readState(ctx context.Context, db *sql.DB) (st savedState, found bool, err error) {
	var lw sql.NullString
	var updated string
	err = db.QueryRowContext(ctx, "SELECT phase, rows_copied, copy_low_watermark, binlog_file, binlog_pos, DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f') FROM shop.orders_tailor_state").
		Scan(&st.phase, &st.rowsCopied, &lw, &st.binlogFile, &st.binlogPos, &updated)
	switch {
	case errors.Is(err, sql.ErrNoRows), mysql.ErrorNumber(err) == 1146: // ER_NO_SUCH_TABLE
		return st, false, nil
	case err != nil:
		return st, false, fmt.Errorf("read the saved state: %w", err)
	}
	st.lowWatermark = "NULL"
	if lw.Valid {
		st.lowWatermark = lw.String
	}
	// updated_at is UTC (docs/state.md).
	st.updatedAt, err = time.ParseInLocation("2006-01-02 15:04:05.000000", updated, time.UTC)
	if err != nil {
		return st, false, fmt.Errorf("read the saved state: updated_at %q: %w", updated, err)
	}
	return st, true, nil
}

// tailorTables lists the tables tailor has made next to shop.orders, with
// the rows the shadow holds.
func tailorTables(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME LIKE 'orders\_tailor\_%' ORDER BY TABLE_NAME`)
	if err != nil {
		return nil, fmt.Errorf("list tailor's tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, name := range names {
		if name != "orders_tailor_new" {
			continue
		}
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM shop.orders_tailor_new").Scan(&n); err != nil {
			return nil, fmt.Errorf("count the shadow's rows: %w", err)
		}
		names[i] = fmt.Sprintf("%s (the shadow, %d rows)", name, n)
	}
	return names, nil
}
