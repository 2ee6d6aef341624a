package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/operate"
)

// The kinds of run, in the order each repetition runs them.
const (
	kindBaseline      = "baseline"
	kindNativeCopy    = "native-copy"
	kindNativeInplace = "native-inplace"
	kindPtOSC         = "pt-osc"
	kindPtOSC1000     = "pt-osc-chunk1000"
	kindTailor        = "tailor"
)

// allKinds lists every kind of run of alter mode.
func allKinds() []string {
	return []string{kindBaseline, kindNativeCopy, kindNativeInplace, kindPtOSC, kindPtOSC1000, kindTailor}
}

// modeKinds lists every kind of run of mode.
func modeKinds(mode string) []string {
	if mode == modeBackfill {
		return backfillKinds()
	}
	return allKinds()
}

// parseKinds reads --runs: a comma-separated subset of all, kept in all's
// order.
func parseKinds(s string, all []string) ([]string, error) {
	want := map[string]bool{}
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if k == "all" {
			for _, a := range all {
				want[a] = true
			}
			continue
		}
		known := false
		for _, a := range all {
			known = known || a == k
		}
		if !known {
			return nil, fmt.Errorf("--runs: unknown run %q (known: all, %s)", k, strings.Join(all, ", "))
		}
		want[k] = true
	}
	var out []string
	for _, a := range all {
		if want[a] {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--runs names no run (known: %s)", strings.Join(all, ", "))
	}
	return out, nil
}

// nativeAlter runs the ALTER in the server with the given algorithm. A
// refusal of the algorithm is reported as such, not as a failure.
func (b *bench) nativeAlter(ctx context.Context, algorithm string, run *Run) {
	q := "ALTER TABLE " + mysql.QuoteIdent(benchTable) + " " + b.opts.alter + ", ALGORITHM=" + algorithm
	if _, err := b.db.ExecContext(ctx, q); err != nil {
		run.Status, run.Note = statusFailed, oneLine(err.Error())
		if mysql.IsAlgorithmRefusal(err) {
			run.Status, run.Note = statusRefused, refusalNote(err)
		}
	}
}

// ptOSC runs pt-online-schema-change with its defaults, or with fixed
// chunks of chunkSize rows when chunkSize is set. The password goes in a
// defaults file of mode 0600, not on the command line.
func (b *bench) ptOSC(ctx context.Context, chunkSize int, run *Run) {
	dir, err := os.MkdirTemp("", "tailor-bench-ptosc-")
	if err != nil {
		run.Status, run.Note = statusFailed, "create a temporary directory for pt-online-schema-change: "+err.Error()
		return
	}
	defer os.RemoveAll(dir)
	defaults := filepath.Join(dir, "my.cnf")
	c := b.conn
	cnf := fmt.Sprintf("[client]\nuser=%s\npassword=%s\nhost=%s\nport=%d\n", c.User, c.Password, c.Host, c.Port)
	if err := os.WriteFile(defaults, []byte(cnf), 0o600); err != nil {
		run.Status, run.Note = statusFailed, "write the defaults file for pt-online-schema-change: "+err.Error()
		return
	}
	args := []string{"--execute", "--alter", b.opts.alter}
	if chunkSize > 0 {
		// --chunk-time 0 keeps the size fixed; otherwise it is only the
		// first chunk's and pt-osc resizes chunks to take 0.5 s each.
		args = append(args, "--chunk-size", strconv.Itoa(chunkSize), "--chunk-time", "0")
	}
	args = append(args, fmt.Sprintf("F=%s,D=%s,t=%s,h=%s,P=%d,u=%s", defaults, b.opts.database, benchTable, c.Host, c.Port, c.User))
	cmd := exec.CommandContext(ctx, b.opts.ptOSC, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if b.opts.verbose {
		cmd.Stdout = io.MultiWriter(&out, b.stderr)
		cmd.Stderr = cmd.Stdout
	}
	err = cmd.Run()
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			run.PeakRSSBytes = ru.Maxrss * 1024
		}
	}
	if err != nil {
		run.Status = statusFailed
		run.Note = fmt.Sprintf("pt-online-schema-change failed (%v): %s", err, lastLine(out.String()))
		return
	}
}

// tailorRun migrates the table with tailor, in this process, for at most
// timeout when it is set (a run that does not finish in it is a timeout).
func (b *bench) tailorRun(ctx context.Context, run *Run, timeout time.Duration) {
	dir, err := os.MkdirTemp("", "tailor-bench-")
	if err != nil {
		run.Status, run.Note = statusFailed, "create a temporary directory for the control socket: "+err.Error()
		return
	}
	defer os.RemoveAll(dir)
	resetPeakRSS := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	runner, err := migrate.New(migrate.Config{
		Conn:               b.conn,
		Database:           b.opts.database,
		Table:              benchTable,
		Alter:              b.opts.alter,
		Execute:            true,
		ForceCopy:          true,
		OkToDropTable:      true,
		SkipChecksum:       b.opts.skipChecksum,
		ChecksumDuringCopy: b.opts.checksumDuringCopy,
		Threads:            b.opts.threads,
		MaxCommitLatency:   maxCommitLatencyConfig(b.opts.maxCommitLatency),
		// A run the sweep timed out leaves its shadow and saved state.
		InitiallyDropGhostTable: true,
		Settings: operate.Settings{
			ChunkSize:     b.opts.chunkSize,
			ChunkTime:     b.chunkTime(),
			ControlSocket: filepath.Join(dir, "tailor.sock"),
		},
		Logger: b.logger,
	})
	if err != nil {
		run.Status, run.Note = statusFailed, oneLine(err.Error())
		return
	}
	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		runCtx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	stopProfile := b.startCPUProfile(run)
	var applier applierWatch
	stopWatching := watchPhases(func() (string, float64) {
		st := runner.Status()
		applier.observe(time.Now(), st.Backlog, st.EventsApplied, st.ApplierLag)
		latency := -1.0
		if st.CommitLatency >= 0 {
			latency = millis(st.CommitLatency)
		}
		return st.Phase.String(), latency
	}, run)
	res, err := runner.Run(runCtx)
	stopWatching()
	stopProfile()
	var events int64
	if res != nil {
		events = res.EventsApplied
	}
	run.Applier = applier.stats(events)
	run.PeakRSSBytes = peakRSS()
	if !resetPeakRSS {
		run.Note = "peak RSS since the benchmark started; "
	}
	if b.opts.replica && !hasPhase(run.Phases, migrate.PhaseBuildIndexes.String()) {
		run.Note += "indexes built during the copy (tailor saw the replica); "
	}
	if err != nil {
		if ctx.Err() == nil && errors.Is(runCtx.Err(), context.DeadlineExceeded) {
			run.Status, run.Note = statusTimeout, run.Note+fmt.Sprintf("did not finish within %s (%s)", timeout, applierNote(run.Applier))
			return
		}
		run.Status, run.Note = statusFailed, run.Note+oneLine(err.Error())
		return
	}
	run.CutOverLockMs = float64(res.CutOverLock.Microseconds()) / 1000
	run.Note += fmt.Sprintf("cut-over %s, %s", msLabel(run.CutOverLockMs), applierNote(run.Applier))
}

// applierNote is what the applier did, for a run's note.
func applierNote(a *ApplierStats) string {
	if a == nil {
		return "no change stream"
	}
	return fmt.Sprintf("%d events applied (%.0f/s over %.1fs), backlog peak %d", a.Events, a.PerSecond, a.Seconds, a.BacklogPeak)
}

// hasPhase says whether phases hold one named name.
func hasPhase(phases []PhaseSpan, name string) bool {
	for _, p := range phases {
		if p.Phase == name {
			return true
		}
	}
	return false
}

// watchPhases records when a runner enters each phase into run.Phases, by
// polling phase (only from its own goroutine), until the returned function
// is called.
func watchPhases(sample func() (phase string, commitLatencyMs float64), run *Run) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		last := ""
		record := func(now time.Time) {
			phase, latency := sample()
			if phase == last {
				if n := len(run.Phases); n > 0 && latency > run.Phases[n-1].CommitLatencyMaxMs {
					run.Phases[n-1].CommitLatencyMaxMs = latency
				}
				return
			}
			if n := len(run.Phases); n > 0 {
				run.Phases[n-1].end = now
				run.Phases[n-1].Seconds = now.Sub(run.Phases[n-1].start).Seconds()
			}
			run.Phases = append(run.Phases, PhaseSpan{Phase: phase, start: now})
			last = phase
		}
		for {
			select {
			case <-done:
				now := time.Now()
				if n := len(run.Phases); n > 0 {
					run.Phases[n-1].end = now
					run.Phases[n-1].Seconds = now.Sub(run.Phases[n-1].start).Seconds()
				}
				return
			case now := <-tick.C:
				record(now)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// chunkTime is tailor's target time per chunk: none when the chunk size is
// fixed, as on tailor alter's command line.
func (b *bench) chunkTime() time.Duration {
	if b.opts.chunkSize > 0 {
		return 0
	}
	return b.opts.chunkTime
}

// startCPUProfile starts a CPU profile of run when --cpuprofile asks for
// one, and returns what stops it.
func (b *bench) startCPUProfile(run *Run) (stop func()) {
	if b.opts.cpuProfile == "" {
		return func() {}
	}
	load := "idle"
	if run.Load {
		load = "load"
	}
	name := fmt.Sprintf("%s.%d.%s.pprof", b.opts.cpuProfile, run.Repeat, load)
	f, err := os.Create(name)
	if err != nil {
		fmt.Fprintf(b.stderr, "    no CPU profile: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		fmt.Fprintf(b.stderr, "    no CPU profile: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		fmt.Fprintf(b.stderr, "    CPU profile in %s\n", name)
	}
}

// peakRSS is VmHWM of this process, in bytes, or 0 when unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb * 1024
				}
			}
		}
	}
	return 0
}

// ptOSCVersion is the first line of pt-online-schema-change --version, or
// "" when it cannot be run.
func ptOSCVersion(ctx context.Context, path string) string {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

// oneLine folds a message onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// lastLine is the last non-empty line of s, folded.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return oneLine(lines[len(lines)-1])
}

// refusalNote is the server's refusal of an algorithm, without the error
// number and the advice to use another algorithm.
func refusalNote(err error) string {
	msg := err.Error()
	var me *driver.MySQLError
	if errors.As(err, &me) {
		msg = me.Message
	}
	msg, _, _ = strings.Cut(msg, " Try ALGORITHM")
	return "refused by the server: " + oneLine(msg)
}
