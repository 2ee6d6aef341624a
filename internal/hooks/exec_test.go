package hooks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunFailingHook(t *testing.T) {
	dir := privateDir(t)
	writeHook(t, dir, "on-validated-check", `echo "checked replicas"; echo "replica lag too high" >&2; exit 3`, 0o755)
	r, logs := newRunner(t, dir, 10*time.Second)
	err := r.Run(context.Background(), OnValidated, Facts{})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"on-validated-check", "exit status 3", "checked replicas", "replica lag too high"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !strings.Contains(logs.String(), `exit_status="exit status 3"`) {
		t.Errorf("log lacks the exit status:\n%s", logs)
	}
}

func TestRunOutputIsBounded(t *testing.T) {
	dir := privateDir(t)
	// ~200 KiB of noise, then the line that matters.
	writeHook(t, dir, "on-failure", `i=0; while [ $i -lt 4000 ]; do echo "noise noise noise noise noise noise noise $i"; i=$((i+1)); done; echo "THE REAL REASON" >&2; exit 1`, 0o755)
	r, _ := newRunner(t, dir, 10*time.Second)
	err := r.Run(context.Background(), OnFailure, Facts{})
	if err == nil || !strings.Contains(err.Error(), "THE REAL REASON") || !strings.Contains(err.Error(), "last 4096 bytes") {
		t.Fatalf("err = %.300v..., want the output's tail", err)
	}
	if n := len(err.Error()); n > outputTail+300 {
		t.Errorf("error is %d bytes, want about %d", n, outputTail)
	}
}

func TestRunFailureStopsOrContinues(t *testing.T) {
	tests := []struct {
		event   Event
		wantRan bool
	}{
		{OnBeforeCutOver, false}, // the caller aborts; later hooks would announce a cut-over that won't happen
		{OnBeforeRowCopy, false},
		{OnSuccess, true}, // one broken notifier must not silence the others
		{OnFailure, true},
		{OnStatus, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.event), func(t *testing.T) {
			dir := privateDir(t)
			writeHook(t, dir, string(tt.event)+"-1", "echo first failed; exit 1", 0o755)
			writeHook(t, dir, string(tt.event)+"-2", "touch second-ran; exit 2", 0o755)
			r, _ := newRunner(t, dir, 10*time.Second)
			err := r.Run(context.Background(), tt.event, Facts{})
			if err == nil || !strings.Contains(err.Error(), "first failed") {
				t.Fatalf("err = %v, want the first hook's failure", err)
			}
			_, statErr := os.Stat(filepath.Join(dir, "second-ran"))
			if ran := statErr == nil; ran != tt.wantRan {
				t.Fatalf("second hook ran = %v, want %v", ran, tt.wantRan)
			}
			if tt.wantRan && !strings.Contains(err.Error(), "exit status 2") {
				t.Errorf("err = %v, want both failures joined", err)
			}
		})
	}
}

// hangingHook starts a child and waits for it, recording both pids.
const hangingHook = `echo $$ > hook.pid
sleep 300 &
echo $! > child.pid
echo "started child"
wait`

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	dir := privateDir(t)
	writeHook(t, dir, "on-before-cut-over", hangingHook, 0o755)
	r, _ := newRunner(t, dir, 500*time.Millisecond)
	var err error
	within(t, 5*time.Second, func() { err = r.Run(context.Background(), OnBeforeCutOver, Facts{}) })
	if err == nil || !strings.Contains(err.Error(), "timed out after 500ms") || !strings.Contains(err.Error(), "started child") {
		t.Fatalf("err = %v, want a timeout with the output", err)
	}
	assertGone(t, waitPIDFile(t, filepath.Join(dir, "hook.pid")))
	assertGone(t, waitPIDFile(t, filepath.Join(dir, "child.pid")))
}

func TestRunContextCancelKillsProcessGroup(t *testing.T) {
	dir := privateDir(t)
	writeHook(t, dir, "on-row-copy-complete", hangingHook, 0o755)
	writeHook(t, dir, "on-row-copy-complete-later", "touch later-ran", 0o755)
	r, _ := newRunner(t, dir, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once the child runs; on a poll timeout cancel anyway, and
		// the pid checks below report it.
		_, _ = readPIDFile(filepath.Join(dir, "child.pid"), 5*time.Second)
		cancel()
	}()
	var err error
	within(t, 10*time.Second, func() { err = r.Run(ctx, OnRowCopyComplete, Facts{}) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	assertGone(t, waitPIDFile(t, filepath.Join(dir, "hook.pid")))
	assertGone(t, waitPIDFile(t, filepath.Join(dir, "child.pid")))
	if _, err := os.Stat(filepath.Join(dir, "later-ran")); err == nil {
		t.Error("a hook ran after cancellation")
	}
}

func TestRunCanceledContextRunsNothing(t *testing.T) {
	dir := privateDir(t)
	writeHook(t, dir, "on-startup", "touch ran", 0o755)
	r, _ := newRunner(t, dir, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Run(ctx, OnStartup, Facts{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the hook ran")
	}
}

// A hook that succeeds but leaves a background job holding its output
// succeeded; Run must not wait for the job.
func TestRunBackgroundJobDoesNotBlock(t *testing.T) {
	dir := privateDir(t)
	writeHook(t, dir, "on-success", "sleep 3 &\necho $! > child.pid\nexit 0", 0o755)
	r, logs := newRunner(t, dir, time.Minute)
	var err error
	within(t, waitDelay+2*time.Second, func() { err = r.Run(context.Background(), OnSuccess, Facts{}) })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "holding its output open") {
		t.Errorf("no warning logged:\n%s", logs)
	}
	assertGone(t, waitPIDFile(t, filepath.Join(dir, "child.pid")))
}
