package hooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

const (
	// outputTail is how much of a hook's combined stdout and stderr is kept
	// for the error message: the end, where a script's reason for failing
	// usually is. Bounded so a chatty hook cannot grow tailor's memory.
	outputTail = 4 << 10
	// waitDelay bounds how long Wait waits for the output pipe after the
	// hook exits or is killed. A process that left the hook's process group
	// (setsid, a daemonising tool) can hold the pipe open forever; without
	// the bound the migration would wait for it.
	waitDelay = 2 * time.Second
)

// runFile runs one hook file and logs the run.
func (r *Runner) runFile(ctx context.Context, event Event, path string, env []string) error {
	name := filepath.Base(path)
	hookCtx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()

	out := &tailBuffer{max: outputTail}
	// The file is executed directly with no arguments: nothing about the
	// migration reaches a command line or a shell.
	cmd := exec.CommandContext(hookCtx, path)
	cmd.Dir = r.dir
	cmd.Env = env
	cmd.Stdin = nil // the null device
	cmd.Stdout = out
	cmd.Stderr = out // the same pointer, so exec writes from one goroutine
	// Its own process group, so that a timeout kills what the hook started
	// too (a `curl` in a shell script), not only the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's id is the leader's pid; a negative pid signals the
		// whole group. SIGKILL, not SIGTERM: the hook already had its
		// whole timeout, and a trap must not be able to extend it.
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			// Already gone: tell exec so, rather than fail a hook that
			// exited 0 just as its time ran out.
			return os.ErrProcessDone
		}
		return err
	}
	cmd.WaitDelay = waitDelay

	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	status := exitStatus(cmd)
	r.log.Info("hook ran", "event", string(event), "file", name, "duration", took, "exit_status", status)
	if len(out.Bytes()) > 0 {
		r.log.Debug("hook output", "event", string(event), "file", name, "output", out.String())
	}

	switch {
	case err == nil:
		return nil
	case errors.Is(err, exec.ErrWaitDelay) && ctx.Err() == nil && hookCtx.Err() == nil:
		// The hook exited 0 but left something holding its output open
		// (a background job). The hook itself succeeded.
		r.log.Warn("hook left a process holding its output open", "event", string(event), "file", name)
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("hook %s (%s) killed: %w%s", name, event, context.Cause(ctx), out.suffix())
	case errors.Is(hookCtx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("hook %s (%s) timed out after %s and was killed%s", name, event, r.timeout, out.suffix())
	case status != "":
		return fmt.Errorf("hook %s (%s) failed with %s%s", name, event, status, out.suffix())
	default:
		return fmt.Errorf("hook %s (%s): %w%s", name, event, err, out.suffix())
	}
}

// exitStatus describes how the hook's process ended ("exit status 3",
// "signal killed"), or "" when it did not start.
func exitStatus(cmd *exec.Cmd) string {
	if cmd.ProcessState == nil {
		return ""
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", cmd.ProcessState.ExitCode())
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max     int
	buf     []byte
	dropped int64
}

// Write keeps p's end; it never fails, so a hook is never blocked (or
// killed by SIGPIPE) for writing too much.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	// Trim only when twice over, so appending stays amortised O(1).
	if len(t.buf) > 2*t.max {
		cut := len(t.buf) - t.max
		t.dropped += int64(cut)
		t.buf = append(t.buf[:0], t.buf[cut:]...)
	}
	return len(p), nil
}

// Bytes returns at most the last max bytes written.
func (t *tailBuffer) Bytes() []byte {
	if len(t.buf) > t.max {
		return t.buf[len(t.buf)-t.max:]
	}
	return t.buf
}

// String returns the kept output as valid UTF-8 (the cut may split a
// character), trimmed of surrounding blank space.
func (t *tailBuffer) String() string {
	b := t.Bytes()
	// Skip continuation bytes left at the start by the cut.
	for len(b) > 0 && !utf8.RuneStart(b[0]) {
		b = b[1:]
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
}

// suffix is the output for an error message: "" when there was none.
func (t *tailBuffer) suffix() string {
	s := t.String()
	if s == "" {
		return ""
	}
	if t.dropped > 0 || len(t.buf) > t.max {
		return "; output (last " + fmt.Sprint(t.max) + " bytes): ..." + s
	}
	return "; output: " + s
}
