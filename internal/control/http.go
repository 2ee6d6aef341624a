package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ListenHTTP serves the control endpoints over HTTP at addr (host:port;
// port 0 picks a free one, see Server.Addr):
//
//	GET  /         the help text
//	GET  /status   Status as JSON (?format=text for the human block)
//	POST /command  one command, from ?cmd= or the request body; plain-text reply
//	GET  /metrics  Prometheus metrics of reg (absent when reg is nil)
//
// Unless AllowRemote is given, addr's host must be a loopback IP or
// "localhost" (":8080" means every interface and is refused), and requests
// must name a loopback host, so that a web page resolving its own name to
// 127.0.0.1 (DNS rebinding) cannot read the status. POST requests a browser
// marks as cross-site are refused too (http.CrossOriginProtection): a page
// the operator visits must not be able to abort the migration.
func ListenHTTP(ctx context.Context, addr string, h Handler, reg *prometheus.Registry, log *slog.Logger, opts ...Option) (*Server, error) {
	if h == nil {
		return nil, errors.New("listen for control HTTP: nil handler")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := buildOptions(opts)
	if !o.allowRemote {
		if err := checkLoopback(addr); err != nil {
			return nil, err
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for control HTTP on %s: %w", addr, err)
	}
	s, base := newServer(ctx, ln.Addr().String())
	srv := &http.Server{
		Handler:           routes(h, reg, log, o),
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: o.timeout,
		ReadTimeout:       o.timeout,
		// A scrape of a registry with many series takes a moment; the
		// write timeout also bounds a client that never reads.
		WriteTimeout:   2 * o.timeout,
		IdleTimeout:    time.Minute,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("control HTTP server stopped", "err", err)
		}
	})
	s.shutdown = func() error {
		// Requests in flight are short; give them a moment, then cut them.
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if err != nil {
			err = srv.Close()
		}
		wg.Wait()
		return err
	}
	s.watch(ctx)
	log.Info("control HTTP listening", "addr", s.addr)
	return s, nil
}

// checkLoopback refuses an address whose host is not a loopback IP or
// localhost.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("control HTTP address %q: %w", addr, err)
	}
	if !isLoopbackHost(host) {
		return fmt.Errorf("control HTTP address %q is not loopback; anyone reaching it could abort the migration (allow it explicitly to listen there)", addr)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	// A zone ("::1%lo") is allowed on IPv6 loopback.
	host, _, _ = strings.Cut(host, "%")
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func routes(h Handler, reg *prometheus.Registry, log *slog.Logger, o options) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, helpText)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st := h.Status()
		if r.URL.Query().Get("format") == "text" {
			writeText(w, http.StatusOK, st.String())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := st.encodeJSON(w, true); err != nil {
			log.Debug("control status write failed", "err", err)
		}
	})
	mux.HandleFunc("POST /command", func(w http.ResponseWriter, r *http.Request) {
		line := r.URL.Query().Get("cmd")
		if line == "" {
			// The body is the command as typed, not a form: curl -d
			// 'chunk-size=500' must not become a field named chunk-size.
			b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxLineBytes+2))
			if err != nil {
				writeText(w, http.StatusRequestEntityTooLarge, errorReply(err))
				return
			}
			line = strings.TrimRight(string(b), "\r\n")
		}
		if strings.ContainsAny(line, "\r\n") {
			writeText(w, http.StatusBadRequest, "error: one command per request\n")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), o.timeout)
		defer cancel()
		reply, err := execute(ctx, h, log, "http", line)
		switch {
		case errors.Is(err, errParse):
			writeText(w, http.StatusBadRequest, errorReply(err))
		case err != nil:
			// The command was understood and the migration refused it.
			writeText(w, http.StatusConflict, errorReply(err))
		default:
			writeText(w, http.StatusOK, reply)
		}
	})
	if reg != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			Timeout:  o.timeout,
		}))
	}
	var handler http.Handler = http.NewCrossOriginProtection().Handler(mux)
	if !o.allowRemote {
		handler = loopbackHostOnly(handler)
	}
	return handler
}

// loopbackHostOnly refuses requests whose Host is not a loopback name: a
// browser on the operator's machine sends the attacker's name in Host even
// when that name resolves to 127.0.0.1.
func loopbackHostOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if !isLoopbackHost(host) {
			writeText(w, http.StatusMisdirectedRequest, "error: this endpoint answers only to a loopback host name\n")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}
