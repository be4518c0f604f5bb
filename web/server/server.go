// Package server is Vigil's one HTTP server: the UI, the Prometheus API, the Alertmanager API,
// /metrics and the lifecycle endpoints are all served by one net/http server on one listener,
// set up as Prometheus sets up its own (web/web.go: Listener and Run):
//
//   - --web.config.file through github.com/prometheus/exporter-toolkit's web.Serve: TLS,
//     client-certificate authentication, basic auth with bcrypt hashes (results cached), HTTP/2
//     and response headers, on every path;
//   - --web.max-connections through Prometheus's shared connection-limiting listener, so that
//     connections beyond the limit wait in the kernel's backlog instead of taking descriptors
//     that scrapes and storage need;
//   - --web.read-timeout as the server's ReadTimeout, which net/http also uses as the header
//     and idle-connection timeouts: slow bodies and idle keep-alive connections are closed;
//   - --web.route-prefix (default: the path of --web.external-url): every route is served
//     under the prefix, and GET / redirects to it.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"

	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/prometheus/util/netconnlimit"
)

// Server is the listener and the HTTP server on it.
type Server struct {
	ln            net.Listener
	srv           *http.Server
	webConfigFile string
	logger        *slog.Logger
}

// Listen validates the web configuration file, listens on address with at most
// f.MaxConnections connections at once, and prepares a server for handler, whose routes are
// served under f.RoutePrefix. Serve starts serving.
func Listen(f *Flags, address string, handler http.Handler, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// As Prometheus at start-up: a broken web config stops the server before it listens.
	if err := toolkitweb.Validate(f.WebConfigFile); err != nil {
		return nil, fmt.Errorf("unable to validate web configuration file %q: %w", f.WebConfigFile, err)
	}
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", address, err)
	}
	ln = netconnlimit.SharedLimitListener(ln, netconnlimit.NewSharedSemaphore(f.MaxConnections))
	srv := &http.Server{
		Handler:  WithPrefix(f.RoutePrefix, handler),
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
		// Prometheus sets only this: net/http uses it for ReadHeaderTimeout and IdleTimeout too.
		ReadTimeout: f.ReadTimeout,
	}
	return &Server{ln: ln, srv: srv, webConfigFile: f.WebConfigFile, logger: logger}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown, with TLS and authentication as the web configuration file
// says. It returns http.ErrServerClosed after Shutdown.
func (s *Server) Serve() error {
	path := s.webConfigFile
	return toolkitweb.Serve(s.ln, s.srv, &toolkitweb.FlagConfig{WebConfigFile: &path}, s.logger)
}

// Shutdown closes the listener and idle connections and waits for requests in progress to end
// until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	// Shutdown closes the listener only once Serve has started; close it in any case.
	s.ln.Close()
	return err
}

// WithPrefix serves h's routes under prefix ("/" or "/path" without a trailing slash): a
// request for prefix+P reaches h as P. As in Prometheus, GET / outside the prefix redirects to
// the prefix (302); any other path outside it is not found.
func WithPrefix(prefix string, h http.Handler) http.Handler {
	if prefix == "" || prefix == "/" {
		return h
	}
	stripped := http.StripPrefix(prefix, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == prefix:
			// The prefix itself is the root of the routes.
			r2 := r.Clone(r.Context())
			r2.URL.Path, r2.URL.RawPath = "/", ""
			h.ServeHTTP(w, r2)
		case strings.HasPrefix(p, prefix+"/"):
			stripped.ServeHTTP(w, r)
		case p == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.Redirect(w, r, prefix, http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
}
