package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/migrate"
)

// ctlHandler stands in for a running migration behind the control socket:
// what these tests check is tailor ctl, not how a migration follows
// commands (internal/migrate tests that against a real server).
type ctlHandler struct {
	mu       sync.Mutex
	commands []control.Command
	// refuse is returned by Command for the command of that name.
	refuse map[string]error
}

func (h *ctlHandler) Status() control.Status {
	return control.Status{
		Database: "shop", Table: "orders", Alter: "ADD COLUMN note TEXT",
		Phase: "copy", RowsCopied: 1500, RowsTotal: 10000, Percent: 15,
		ETA: control.Duration(-1), ChunkSize: 1000, MaxLagMillis: 1500,
	}
}

func (h *ctlHandler) Command(_ context.Context, cmd control.Command) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.commands = append(h.commands, cmd)
	if err := h.refuse[cmd.Name]; err != nil {
		return "", err
	}
	return "ok: " + cmd.String(), nil
}

func (h *ctlHandler) received() []control.Command {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]control.Command(nil), h.commands...)
}

// ctlSocketDir is a directory for a control socket: t.TempDir(), unless its
// path is too long for a socket address (sun_path holds 104 bytes on macOS,
// 108 on Linux), as it can be under a long TMPDIR.
func ctlSocketDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if len(dir) < 80 {
		return dir
	}
	dir, err := os.MkdirTemp("/tmp", "tctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// serveCtl listens with h on a unix socket at path until the test ends.
func serveCtl(t *testing.T, path string, h control.Handler) {
	t.Helper()
	s, err := control.ListenUnix(t.Context(), path, h, nil)
	if err != nil {
		t.Fatalf("ListenUnix: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

func TestCtlUsage(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(ctlSocketDir(t), "tailor.sock")
	for _, tc := range []struct {
		name  string
		args  []string
		words []string
	}{
		{"no command", []string{"ctl", "--control-socket", sock}, []string{"command", "status"}},
		{"no socket", []string{"ctl", "status"}, []string{"--control-socket", "--database", "--table"}},
		{"database without table", []string{"ctl", "--database", "shop", "status"}, []string{"--control-socket", "--table"}},
		{"bad number", []string{"ctl", "--control-socket", sock, "chunk-size=abc"}, []string{"chunk-size", "whole number", "abc"}},
		{"unknown command", []string{"ctl", "--control-socket", sock, "frobnicate"}, []string{"unknown command", "frobnicate"}},
		{"socket and database", []string{"ctl", "--control-socket", sock, "--database", "shop", "--table", "orders", "status"}, []string{"--control-socket", "--database", "not both"}},
		{"socket and table", []string{"ctl", "--control-socket", sock, "--table", "orders", "status"}, []string{"--control-socket", "not both"}},
		{"bad timeout", []string{"ctl", "--control-socket", sock, "--timeout", "soon", "status"}, []string{"--timeout", "duration"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := tailor(t, tc.args...)
			o.wantCode(t, exitUsage)
			o.errorLine(t, tc.words...)
			if o.stdout != "" {
				t.Errorf("stdout is not empty: %q", o.stdout)
			}
		})
	}
}

func TestCtlNobodyListens(t *testing.T) {
	t.Parallel()
	dir := ctlSocketDir(t)

	// No file at all.
	missing := filepath.Join(dir, "missing.sock")
	o := tailor(t, "ctl", "--control-socket", missing, "status")
	o.wantCode(t, exitConnect)
	o.errorLine(t, "no migration answers", missing, "tailor alter --execute")

	// A socket left by a run that died: it exists, nobody accepts.
	stale := filepath.Join(dir, "stale.sock")
	s, err := control.ListenUnix(t.Context(), stale, &ctlHandler{}, nil)
	if err != nil {
		t.Fatalf("ListenUnix: %v", err)
	}
	// Close removes the socket file; put it back as a dead socket.
	if err := os.Link(stale, stale+".keep"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(stale+".keep", stale); err != nil {
		t.Fatal(err)
	}
	o = tailor(t, "ctl", "--control-socket", stale, "pause")
	o.wantCode(t, exitConnect)
	o.errorLine(t, "no migration answers", stale)
	if o.stdout != "" {
		t.Errorf("stdout is not empty: %q", o.stdout)
	}
}

func TestCtlExchange(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(ctlSocketDir(t), "tailor.sock")
	h := &ctlHandler{refuse: map[string]error{control.CmdCutOver: errors.New("cut-over is not postponed")}}
	serveCtl(t, sock, h)

	t.Run("status", func(t *testing.T) {
		o := tailor(t, "ctl", "--control-socket", sock, "status")
		o.wantCode(t, exitOK)
		for _, want := range []string{"migration: shop.orders", "phase: copy", "copied: 1500 of ~10000 rows", "settings: chunk-size=1000 max-lag-millis=1500"} {
			if !strings.Contains(o.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, o.stdout)
			}
		}
		if o.stderr != "" {
			t.Errorf("stderr is not empty: %q", o.stderr)
		}
	})
	t.Run("status json", func(t *testing.T) {
		o := tailor(t, "ctl", "--control-socket", sock, "status", "json")
		o.wantCode(t, exitOK)
		if !strings.HasPrefix(o.stdout, "{") || !strings.Contains(o.stdout, `"table":"orders"`) {
			t.Errorf("stdout is not the JSON status: %q", o.stdout)
		}
	})
	t.Run("pause", func(t *testing.T) {
		o := tailor(t, "ctl", "--control-socket", sock, "pause")
		o.wantCode(t, exitOK)
		if o.stdout != "ok: pause\n" {
			t.Errorf("stdout = %q, want the handler's reply", o.stdout)
		}
	})
	t.Run("chunk-size", func(t *testing.T) {
		o := tailor(t, "ctl", "--control-socket", sock, "chunk-size=2000")
		o.wantCode(t, exitOK)
		if o.stdout != "ok: chunk-size=2000\n" {
			t.Errorf("stdout = %q, want the handler's reply", o.stdout)
		}
	})
	t.Run("refused", func(t *testing.T) {
		o := tailor(t, "ctl", "--control-socket", sock, "cut-over")
		o.wantCode(t, exitInvalid)
		msg := o.errorLine(t, "refused", "cut-over", "cut-over is not postponed")
		if strings.Contains(msg, "error: ") {
			t.Errorf("the protocol's prefix leaks into the message: %q", msg)
		}
		if o.stdout != "" {
			t.Errorf("stdout is not empty: %q", o.stdout)
		}
	})

	// status is answered by the server itself; the rest reached the
	// handler, in order, as parsed commands.
	want := []control.Command{
		{Name: control.CmdPause},
		{Name: control.CmdChunkSize, Arg: "2000"},
		{Name: control.CmdCutOver},
	}
	got := h.received()
	if len(got) != len(want) {
		t.Fatalf("handler received %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("handler received %+v, want %+v", got, want)
			break
		}
	}
}

// TestCtlDefaultSocket finds the socket of --database and --table where
// tailor alter puts it by default, under $TMPDIR. Not parallel: it sets
// TMPDIR.
func TestCtlDefaultSocket(t *testing.T) {
	dir := ctlSocketDir(t)
	t.Setenv("TMPDIR", dir)
	path := migrate.DefaultControlSocket("shop", "orders")
	if filepath.Dir(path) != filepath.Clean(dir) {
		t.Fatalf("DefaultControlSocket = %s, want it in $TMPDIR %s", path, dir)
	}
	h := &ctlHandler{}
	serveCtl(t, path, h)

	o := tailor(t, "ctl", "--database", "shop", "--table", "orders", "resume")
	o.wantCode(t, exitOK)
	if o.stdout != "ok: resume\n" {
		t.Errorf("stdout = %q, want the handler's reply", o.stdout)
	}
	// Another table's migration is not this one.
	o = tailor(t, "ctl", "--database", "shop", "--table", "customers", "status")
	o.wantCode(t, exitConnect)
	o.errorLine(t, "no migration answers", migrate.DefaultControlSocket("shop", "customers"))
}
