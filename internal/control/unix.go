package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// staleProbeTimeout bounds the dial that tells a live socket from a stale
// one: a live tailor accepts at once.
const staleProbeTimeout = time.Second

// ListenUnix serves the line protocol on a unix socket at path, mode 0600
// (only the user running tailor, and root, may connect).
//
// A socket created by listen(2) gets mode 0777 minus the umask, and a
// chmod afterwards leaves a window in which anyone may connect. To close
// it, the socket is created inside a fresh 0700 directory next to path,
// made 0600 there, and only then hard-linked to path: nobody else can
// reach it before it is 0600. link(2) fails if path exists, so a file
// created at path in the meantime is never replaced.
//
// An existing socket at path is removed when nothing listens on it (a
// previous run that crashed) and is an error when something does; any
// other kind of file at path is an error. Close removes the socket, unless
// it has been replaced by another since.
func ListenUnix(ctx context.Context, path string, h Handler, log *slog.Logger, opts ...Option) (*Server, error) {
	if h == nil {
		return nil, errors.New("listen on control socket: nil handler")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return nil, errors.New("listen on control socket: empty path")
	}
	if err := removeStale(ctx, path, log); err != nil {
		return nil, err
	}
	ln, ours, err := listenPrivate(ctx, path)
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	s, base := newServer(ctx, path)
	u := &unixServer{ln: ln, h: h, log: log, opts: o, sem: make(chan struct{}, o.maxConns)}
	s.shutdown = func() error {
		err := ln.Close()
		u.wg.Wait()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		// Remove path only if it is still our socket: a second tailor
		// started after ours crashed could have put its own there.
		if fi, statErr := os.Lstat(path); statErr == nil && os.SameFile(fi, ours) {
			if rmErr := os.Remove(path); rmErr != nil {
				err = errors.Join(err, fmt.Errorf("remove control socket: %w", rmErr))
			}
		}
		return err
	}
	u.wg.Go(func() { u.accept(base) })
	s.watch(ctx)
	log.Info("control socket listening", "path", path)
	return s, nil
}

// removeStale clears path for a new socket, or says why it cannot.
func removeStale(ctx context.Context, path string, log *slog.Logger) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("control socket %s: a %s is in the way; refusing to replace it", path, describeMode(fi.Mode()))
	}
	dctx, cancel := context.WithTimeout(ctx, staleProbeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(dctx, "unix", path)
	if err == nil {
		_ = c.Close()
		return fmt.Errorf("control socket %s is in use by a running process", path)
	}
	// Only "connection refused" proves nobody listens; a timeout may be a
	// busy live server, and a permission error another user's socket.
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("control socket %s exists and cannot be probed: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale control socket %s: %w", path, err)
	}
	log.Info("removed stale control socket", "path", path)
	return nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsRegular():
		return "regular file"
	}
	return "file of mode " + m.String()
}

// listenPrivate creates the 0600 socket at path as ListenUnix describes, and
// returns the listener and the socket's file info for Close.
func listenPrivate(ctx context.Context, path string) (*net.UnixListener, fs.FileInfo, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".tailor-ctl-")
	if err != nil {
		return nil, nil, fmt.Errorf("control socket %s: private directory: %w", path, err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "unix", tmp)
	if err != nil {
		return nil, nil, fmt.Errorf("control socket %s: listen: %w", path, err)
	}
	ln := l.(*net.UnixListener)
	// The listener is reached through path; the name it was bound to goes
	// away below, and Close removes path itself.
	ln.SetUnlinkOnClose(false)
	fail := func(format string, err error) (*net.UnixListener, fs.FileInfo, error) {
		_ = ln.Close()
		return nil, nil, fmt.Errorf(format, path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail("control socket %s: chmod: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		return fail("control socket %s: %w", err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		_ = os.Remove(path)
		return fail("control socket %s: %w", err)
	}
	return ln, fi, nil
}

// unixServer serves the line protocol.
type unixServer struct {
	ln   *net.UnixListener
	h    Handler
	log  *slog.Logger
	opts options
	sem  chan struct{}
	wg   sync.WaitGroup
}

// accept serves connections until the listener is closed.
func (u *unixServer) accept(ctx context.Context) {
	for {
		c, err := u.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			// Out of file descriptors, say: wait a little rather than spin.
			u.log.Warn("control socket accept failed", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		select {
		case u.sem <- struct{}{}:
		default:
			// Replied inline: a short write to a fresh unix socket lands in
			// its buffer and does not block.
			// No draining here: that would hold up accept. Send copes with
			// a reset after the reply.
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(c, "error: too many control connections; try again\n")
			if uc, ok := c.(*net.UnixConn); ok {
				_ = uc.CloseWrite()
			}
			_ = c.Close()
			continue
		}
		u.wg.Go(func() {
			defer func() { <-u.sem }()
			u.serve(ctx, c)
		})
	}
}

// serve reads one command line, runs it and writes the reply. Each step
// has its own deadline, so a client that never writes, or never reads,
// holds the goroutine for a bounded time; closing the connection when ctx
// ends lets Close return without waiting for those deadlines.
func (u *unixServer) serve(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	_ = c.SetReadDeadline(time.Now().Add(u.opts.timeout))
	line, err := readLine(c)
	var reply string
	switch {
	case errors.Is(err, io.EOF):
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		reply = "error: no command received in " + u.opts.timeout.String() + "\n"
	case err != nil:
		reply = errorReply(err)
	default:
		cctx, cancel := context.WithTimeout(ctx, u.opts.timeout)
		reply, err = execute(cctx, u.h, u.log, "socket", line)
		cancel()
		if err != nil {
			reply = errorReply(err)
		}
	}
	_ = c.SetWriteDeadline(time.Now().Add(u.opts.timeout))
	if _, err := io.WriteString(c, reply); err != nil {
		return
	}
	lingerClose(c)
}

// lingerTimeout bounds how long a served connection's leftover input is
// drained before closing.
const lingerTimeout = 200 * time.Millisecond

// lingerClose ends the reply (the client reads EOF) and then discards what
// the client sent beyond its first line before the connection is closed:
// closing a unix socket with unread input makes the peer's read fail with
// "connection reset", which could cost the client the reply it has not read
// yet.
func lingerClose(c net.Conn) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return
	}
	_ = uc.CloseWrite()
	_ = uc.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, io.LimitReader(uc, 1<<16))
}

// readLine reads up to the first newline, or to the end of the stream when
// the client half-closes without one (printf status | nc -U).
func readLine(r io.Reader) (string, error) {
	br := bufio.NewReader(io.LimitReader(r, MaxLineBytes+1))
	line, err := br.ReadString('\n')
	switch {
	case err == nil:
	case errors.Is(err, io.EOF) && line != "" && len(line) <= MaxLineBytes:
	case errors.Is(err, io.EOF) && len(line) > MaxLineBytes:
		return "", fmt.Errorf("command is longer than %d bytes", MaxLineBytes)
	case errors.Is(err, io.EOF):
		return "", io.EOF // connected and left without a word: nothing to answer
	default:
		return "", fmt.Errorf("read command: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// CommandError is a reply of "error: ..." from the server: the command
// reached tailor and was refused, as opposed to a failure to reach it.
type CommandError struct {
	Msg string
}

func (e *CommandError) Error() string { return e.Msg }

// Send sends one command line to the control socket at socketPath and
// returns the reply without its final newline. A reply of "error: ..." is
// returned as a *CommandError. ctx bounds the whole exchange.
func Send(ctx context.Context, socketPath, line string) (string, error) {
	if strings.ContainsAny(strings.TrimRight(line, "\r\n"), "\r\n") {
		return "", errors.New("send control command: one line only")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socketPath)
	if err != nil {
		return "", fmt.Errorf("connect to control socket: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	// A server that refuses the connection (too many clients) may reply
	// and close before reading the command, failing the write or the read
	// after the reply arrived; the reply is what counts, so those errors
	// matter only when no reply came.
	_, werr := io.WriteString(c, strings.TrimRight(line, "\r\n")+"\n")
	if uc, ok := c.(*net.UnixConn); ok && werr == nil {
		_ = uc.CloseWrite()
	}
	// The status reply is short; the limit only guards against reading a
	// wrong socket forever.
	b, err := io.ReadAll(io.LimitReader(c, 1<<20))
	switch {
	case err != nil && ctx.Err() != nil:
		return "", fmt.Errorf("read control reply: %w", ctx.Err())
	case len(b) == 0 && werr != nil:
		return "", fmt.Errorf("send control command: %w", werr)
	case len(b) == 0 && err != nil:
		return "", fmt.Errorf("read control reply: %w", err)
	case len(b) == 0:
		return "", errors.New("read control reply: connection closed without a reply")
	}
	reply := strings.TrimRight(string(b), "\n")
	if msg, ok := strings.CutPrefix(reply, "error: "); ok {
		return "", &CommandError{Msg: msg}
	}
	return reply, nil
}
