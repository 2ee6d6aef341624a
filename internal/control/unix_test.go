package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func listenUnix(t *testing.T, h Handler, opts ...Option) (*Server, string) {
	t.Helper()
	path := socketPath(t)
	s, err := ListenUnix(t.Context(), path, h, testLogger(t), opts...)
	if err != nil {
		t.Fatalf("ListenUnix: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path
}

func send(t *testing.T, path, line string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	return Send(ctx, path, line)
}

// rawExchange writes data to the socket the way nc does and reads the reply
// until the server closes the connection. halfClose is nc -N: shut the
// write side after the data.
func rawExchange(t *testing.T, path, data string, halfClose bool) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, data); err != nil {
		t.Fatalf("write: %v", err)
	}
	if halfClose {
		_ = c.(*net.UnixConn).CloseWrite()
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func TestSocketMode0600(t *testing.T) {
	t.Parallel()
	s, path := listenUnix(t, &fakeHandler{})
	if s.Addr() != path {
		t.Errorf("Addr() = %q, want %q", s.Addr(), path)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want a socket with 0600", fi.Mode())
	}
	// The private directory the socket was made in is gone.
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("socket directory holds %d entries, want only the socket: %v", len(entries), entries)
	}
}

func TestStatusViaSend(t *testing.T) {
	t.Parallel()
	_, path := listenUnix(t, &fakeHandler{})
	reply, err := send(t, path, "status")
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	for _, want := range []string{
		"migration: shop.orders\n",
		"alter: ADD COLUMN note TEXT, ADD INDEX (created)\n",
		"phase: copy\n",
		"copied: 1500 of ~10000 rows (15.0%), 500 rows/s, eta 17s\n",
		"binlog: 42 events applied, backlog 3, read up to mysql-bin.000007:9120, applied up to mysql-bin.000007:8800, applier lag 1.3s\n",
		"replica lag: r1:3306 1.2s, r2:3306 unknown (heartbeat written 100ms ago)\n",
		"cut-over: attempt 2 of 5\n",
		"throttled: yes (replica r1:3306 lag 1.2s > 1s)\n",
		"settings: chunk-size=1000 max-lag-millis=1000 max-load=none\n",
		"cut-over: postponed (send cut-over to proceed)\n",
	} {
		if !strings.Contains(reply+"\n", want) {
			t.Errorf("status lacks %q:\n%s", want, reply)
		}
	}

	reply, err = send(t, path, "status json")
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if strings.Contains(reply, "\n") {
		t.Errorf("status json spans lines: %q", reply)
	}
	var st Status
	if err := json.Unmarshal([]byte(reply), &st); err != nil {
		t.Fatalf("decode status json: %v\n%s", err, reply)
	}
	want := testStatus()
	if st.RowsCopied != want.RowsCopied || st.ETA != want.ETA || st.Replicas[1].Lag != -1 || st.Alter != want.Alter ||
		st.BinlogRead != want.BinlogRead || st.BinlogApplied != want.BinlogApplied || st.ApplierLag != want.ApplierLag ||
		st.HeartbeatLag != want.HeartbeatLag || st.CutOverAttempt != 2 || st.CutOverAttempts != 5 {
		t.Errorf("status json = %+v, want %+v", st, want)
	}
}

func TestStatusViaRawDial(t *testing.T) {
	t.Parallel()
	_, path := listenUnix(t, &fakeHandler{})
	tests := []struct {
		name, data string
		halfClose  bool
		want       string
	}{
		{"newline", "status\n", false, "phase: copy\n"},
		{"crlf", "status\r\n", false, "phase: copy\n"},
		{"no newline, half-closed", "status", true, "phase: copy\n"},
		{"json", "status --json\n", false, `"phase":"copy"`},
		{"second line ignored", "help\nabort\n", false, "tailor control commands"},
		{"unknown", "frobnicate\n", false, "error: unknown command \"frobnicate\"; send help for the list\n"},
		{"too long", strings.Repeat("x", MaxLineBytes+10), false, "error: command is longer than 4096 bytes\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := rawExchange(t, path, tt.data, tt.halfClose); !strings.Contains(got, tt.want) {
				t.Errorf("reply to %q = %q, want it to contain %q", tt.data, got, tt.want)
			}
		})
	}
}

func TestCommandsReachHandler(t *testing.T) {
	t.Parallel()
	h := &fakeHandler{}
	_, path := listenUnix(t, h)
	lines := []string{"pause", "resume", "chunk-size=500", "max-lag-millis=1500",
		"max-load=Threads_running=25", "max-load=", "cut-over", "abort", "unpostpone"}
	want := []Command{
		{CmdPause, ""}, {CmdResume, ""}, {CmdChunkSize, "500"}, {CmdMaxLagMillis, "1500"},
		{CmdMaxLoad, "Threads_running=25"}, {CmdMaxLoad, ""}, {CmdCutOver, ""}, {CmdAbort, ""}, {CmdCutOver, ""},
	}
	for i, line := range lines {
		reply, err := send(t, path, line)
		if err != nil {
			t.Fatalf("Send(%q): %v", line, err)
		}
		if wantReply := "ok: " + want[i].String(); reply != wantReply {
			t.Errorf("Send(%q) = %q, want %q", line, reply, wantReply)
		}
	}
	got := h.received()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("handler received %v, want %v", got, want)
	}
	// status and help are answered by the server, not the handler.
	for _, line := range []string{"status", "help"} {
		if _, err := send(t, path, line); err != nil {
			t.Fatalf("Send(%q): %v", line, err)
		}
	}
	if n := len(h.received()); n != len(want) {
		t.Errorf("handler received %d commands after status and help, want %d", n, len(want))
	}
}

func TestBadCommandErrors(t *testing.T) {
	t.Parallel()
	h := &fakeHandler{refuse: map[string]error{CmdCutOver: errRefused}}
	_, path := listenUnix(t, h)
	tests := []struct{ line, want string }{
		{"frobnicate", `unknown command "frobnicate"; send help for the list`},
		{"chunk-size=abc", `chunk-size needs a whole number, not "abc"`},
		{"chunk-size=0", "chunk-size must be between 1 and 1000000, not 0"},
		{"", "empty command; send help for the list"},
		{"cut-over", "cut-over is not postponed"},
	}
	for _, tt := range tests {
		_, err := send(t, path, tt.line)
		var ce *CommandError
		if !errors.As(err, &ce) || ce.Msg != tt.want {
			t.Errorf("Send(%q) error = %v, want CommandError %q", tt.line, err, tt.want)
		}
	}
	if _, err := send(t, path, "status\nabort"); err == nil || errors.As(err, new(*CommandError)) {
		t.Errorf("Send of two lines = %v, want a local error", err)
	}
	if got := h.received(); len(got) != 1 || got[0].Name != CmdCutOver {
		t.Errorf("handler received %v, want only the refused cut-over", got)
	}
}

func TestStaleSocketRemoved(t *testing.T) {
	t.Parallel()
	path := socketPath(t)
	// A socket nobody listens on: what a crashed run leaves.
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = l.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket missing before the test: %v", err)
	}
	s, err := ListenUnix(t.Context(), path, &fakeHandler{}, testLogger(t))
	if err != nil {
		t.Fatalf("ListenUnix over a stale socket: %v", err)
	}
	defer s.Close()
	if _, err := send(t, path, "status"); err != nil {
		t.Errorf("Send: %v", err)
	}
}

func TestRefusesToReplace(t *testing.T) {
	t.Parallel()
	t.Run("live socket", func(t *testing.T) {
		t.Parallel()
		_, path := listenUnix(t, &fakeHandler{})
		_, err := ListenUnix(t.Context(), path, &fakeHandler{}, testLogger(t))
		if err == nil || !strings.Contains(err.Error(), "in use by a running process") {
			t.Fatalf("second ListenUnix = %v, want in-use error", err)
		}
		// The first server is untouched.
		if _, err := send(t, path, "status"); err != nil {
			t.Errorf("first server after refused second: %v", err)
		}
	})
	tests := []struct {
		name   string
		create func(path string) error
		want   string
	}{
		{"regular file", func(p string) error { return os.WriteFile(p, []byte("keep me"), 0o644) }, "regular file is in the way"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }, "directory is in the way"},
		{"symlink", func(p string) error { return os.Symlink("/etc/passwd", p) }, "symbolic link is in the way"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := socketPath(t)
			if err := tt.create(path); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Lstat(path)
			_, err := ListenUnix(t.Context(), path, &fakeHandler{}, testLogger(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ListenUnix = %v, want error containing %q", err, tt.want)
			}
			after, err := os.Lstat(path)
			if err != nil || !os.SameFile(before, after) {
				t.Errorf("the file in the way was changed: %v", err)
			}
		})
	}
}

func TestSocketRemovedOnClose(t *testing.T) {
	t.Parallel()
	t.Run("Close", func(t *testing.T) {
		t.Parallel()
		path := socketPath(t)
		s, err := ListenUnix(t.Context(), path, &fakeHandler{}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket still there after Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
	t.Run("context done", func(t *testing.T) {
		t.Parallel()
		path := socketPath(t)
		ctx, cancel := context.WithCancel(t.Context())
		s, err := ListenUnix(ctx, path, &fakeHandler{}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		cancel()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("socket still there 5s after the context ended")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("replaced socket kept", func(t *testing.T) {
		t.Parallel()
		path := socketPath(t)
		s, err := ListenUnix(t.Context(), path, &fakeHandler{}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		// Someone removed ours and put a file of theirs in its place.
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := os.Lstat(path); err != nil {
			t.Errorf("Close removed a file that was not its socket: %v", err)
		}
	})
}

func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	h := &fakeHandler{}
	_, path := listenUnix(t, h)
	const clients = 50
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			line := "status"
			if i%2 == 1 {
				line = fmt.Sprintf("chunk-size=%d", i)
			}
			if _, err := send(t, path, line); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(h.received()); n != clients/2 {
		t.Errorf("handler received %d commands, want %d", n, clients/2)
	}
}

// TestHungClients checks that clients that connect and say nothing, or a
// command the handler sits on, neither stop other clients nor outlive
// their deadline, and that Close does not wait for them.
func TestHungClients(t *testing.T) {
	t.Parallel()
	h := &fakeHandler{block: make(chan struct{})}
	s, path := listenUnix(t, h, WithTimeout(300*time.Millisecond), WithMaxConns(4))

	// Three silent clients hold three of the four slots.
	var silent []net.Conn
	for range 3 {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	// A fourth is answered while they hang.
	if _, err := send(t, path, "status"); err != nil {
		t.Fatalf("status while others hang: %v", err)
	}
	// The silent clients are cut at the deadline.
	for _, c := range silent {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("silent client: %v", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("silent client held for %v", time.Since(start))
		}
	}
	// A command the handler blocks on times out with an error reply.
	_, err := send(t, path, "pause")
	var ce *CommandError
	if !errors.As(err, &ce) || !strings.Contains(ce.Msg, "deadline exceeded") {
		t.Errorf("blocked command = %v, want a deadline error reply", err)
	}

	// Close returns promptly while a client hangs.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // let the server accept it
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("Close took %v with a hung client", d)
	}
}

func TestTooManyClients(t *testing.T) {
	t.Parallel()
	_, path := listenUnix(t, &fakeHandler{}, WithMaxConns(1), WithTimeout(2*time.Second))
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // let the server accept it and take the slot
	_, err = send(t, path, "status")
	var ce *CommandError
	if !errors.As(err, &ce) || !strings.Contains(ce.Msg, "too many control connections") {
		t.Errorf("second client = %v, want too-many error", err)
	}
}

func TestSendContext(t *testing.T) {
	t.Parallel()
	if _, err := Send(t.Context(), filepath.Join(t.TempDir(), "none.sock"), "status"); err == nil {
		t.Error("Send to a missing socket succeeded")
	}
	h := &fakeHandler{block: make(chan struct{})}
	_, path := listenUnix(t, h)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Send(ctx, path, "pause")
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("Send with a 100ms context against a blocked handler = %v after %v", err, time.Since(start))
	}
}
