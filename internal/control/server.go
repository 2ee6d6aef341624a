package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Defaults of the options.
const (
	// DefaultTimeout bounds one client's connection (read the command, run
	// it, write the reply) so that a client that never sends its line, or
	// never reads the reply, holds nothing for longer.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxConns is the most connections served at once; more are
	// answered with an error at once. Operators and scrapers need a
	// handful; the bound is against a runaway script.
	DefaultMaxConns = 64
)

// Option changes how a server listens or serves.
type Option func(*options)

type options struct {
	allowRemote bool
	timeout     time.Duration
	maxConns    int
}

func buildOptions(opts []Option) options {
	o := options{timeout: DefaultTimeout, maxConns: DefaultMaxConns}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// AllowRemote lets ListenHTTP listen on an address that is not loopback,
// and serve requests whose Host is not a loopback name. Anyone who can
// reach the port can then pause or abort the migration: put it behind a
// firewall or an authenticating proxy.
func AllowRemote() Option { return func(o *options) { o.allowRemote = true } }

// WithTimeout sets the per-connection (socket) or per-request (HTTP) time
// limit; d <= 0 keeps DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithMaxConns sets the most socket connections served at once; n <= 0
// keeps DefaultMaxConns.
func WithMaxConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxConns = n
		}
	}
}

// Server is a listening control endpoint. It stops when the context given
// to Listen* is done or Close is called; Close waits for its goroutines.
type Server struct {
	addr   string
	cancel context.CancelFunc
	// shutdown closes the listener and waits for the connections; it is
	// specific to the kind of server.
	shutdown func() error

	// mu guards stopOnCtx, which undoes the context.AfterFunc that closes
	// the server when the Listen context ends. The AfterFunc may fire (and
	// call Close) before watch has stored its stop function.
	mu        sync.Mutex
	stopOnCtx func() bool

	closeOnce sync.Once
	closeErr  error
}

// newServer returns a server and the base context of its connections,
// canceled by Close. The base context keeps ctx's values but not its
// cancellation: Close, run when ctx ends (see watch), cancels it.
func newServer(ctx context.Context, addr string) (*Server, context.Context) {
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &Server{addr: addr, cancel: cancel}, base
}

// watch closes the server when ctx ends. It is called once the server is
// fully set up, so that Close always finds a shutdown function.
func (s *Server) watch(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopOnCtx = context.AfterFunc(ctx, func() { _ = s.Close() })
}

// Addr is where the server listens: the socket path, or host:port.
func (s *Server) Addr() string { return s.addr }

// Close stops listening, cuts the open connections, waits for their
// goroutines and, for a unix socket, removes the socket file. It is safe to
// call more than once and from several goroutines.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		if s.stopOnCtx != nil {
			s.stopOnCtx()
		}
		s.mu.Unlock()
		s.cancel()
		if s.shutdown != nil {
			s.closeErr = s.shutdown()
		}
	})
	return s.closeErr
}

// errParse marks a command the operator mistyped, as opposed to one the
// migration refused; HTTP answers them with different status codes.
var errParse = errors.New("bad command")

// execute parses and runs one command line and returns the reply, ending
// in a newline. status and help are answered here; everything else goes to
// the handler. The error wraps errParse for a line that does not parse.
func execute(ctx context.Context, h Handler, log *slog.Logger, via, line string) (string, error) {
	cmd, err := ParseCommand(line)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errParse, err)
	}
	switch cmd.Name {
	case CmdHelp:
		return helpText, nil
	case CmdStatus:
		st := h.Status()
		if cmd.Arg != "json" {
			return st.String(), nil
		}
		var b strings.Builder
		if err := st.encodeJSON(&b, false); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	// Changes to a running migration are logged; status polls are not,
	// since a dashboard would drown the log.
	reply, err := h.Command(ctx, cmd)
	if err != nil {
		log.Warn("control command refused", "cmd", cmd.String(), "via", via, "err", err)
		return "", err
	}
	log.Info("control command", "cmd", cmd.String(), "via", via, "reply", reply)
	return oneLine(reply) + "\n", nil
}

// errorReply is the reply line for err: "error: " and one line of text.
func errorReply(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, errParse.Error()+": ")
	return "error: " + oneLine(msg) + "\n"
}
