// Package server is Vigil's one HTTP server: the UI, the Prometheus API, the Alertmanager API,
// /metrics and the lifecycle endpoints are all served by one net/http server on one listener,
// set up as Prometheus sets up its own (web/web.go: Listener and Run):
//
//   - --web.config.file in github.com/prometheus/exporter-toolkit's format and semantics (its
//     types, parser and TLS construction): TLS, client-certificate authentication, basic auth
//     with bcrypt hashes (results cached), rate limit, HTTP/2 and response headers, on every
//     path. Unlike the toolkit's web.Serve, which re-reads and re-parses the file on every
//     request, the parsed file is cached and re-read only when a stat shows it changed
//     (webconfig.go);
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
	"crypto/tls"
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
	ln        net.Listener
	srv       *http.Server
	webConfig *webConfig // nil without --web.config.file
	logger    *slog.Logger
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
	handler = WithPrefix(f.RoutePrefix, handler)
	var wc *webConfig
	if f.WebConfigFile != "" {
		wc = newWebConfig(f.WebConfigFile, logger)
		if v := wc.current(); v.err != nil {
			ln.Close()
			return nil, fmt.Errorf("unable to read web configuration file %q: %w", f.WebConfigFile, v.err)
		}
		handler = &authHandler{config: wc, handler: handler}
	}
	srv := &http.Server{
		Handler:  handler,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
		// Prometheus sets only this: net/http uses it for ReadHeaderTimeout and IdleTimeout too.
		ReadTimeout: f.ReadTimeout,
	}
	return &Server{ln: ln, srv: srv, webConfig: wc, logger: logger}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown, with TLS and authentication as the web configuration file
// says. It returns http.ErrServerClosed after Shutdown.
//
// As exporter-toolkit's web.Serve: whether TLS is on and whether HTTP/2 is offered are decided
// here, from the file as it is now; the TLS settings, certificates and client CA are re-read
// on every handshake from the current file; basic auth, headers and the rate limit on every
// request.
func (s *Server) Serve() error {
	addr := s.ln.Addr().String()
	s.logger.Info("Listening on", "address", addr)
	if s.webConfig == nil {
		s.logger.Info("TLS is disabled.", "http2", false, "address", addr)
		return s.srv.Serve(s.ln)
	}
	v := s.webConfig.current()
	if v.err != nil {
		return fmt.Errorf("unable to read web configuration file %q: %w", s.webConfig.path, v.err)
	}
	if v.limiter != nil {
		s.logger.Info("Rate Limiter is enabled.", "burst", v.cfg.RateLimiterConfig.Burst, "interval", v.cfg.RateLimiterConfig.Interval)
	}
	if !v.cfg.TLSConfig.IsEnabled() {
		s.logger.Info("TLS is disabled.", "http2", false, "address", addr)
		return s.srv.Serve(s.ln)
	}
	tlsConfig, err := toolkitweb.ConfigToTLSConfig(&v.cfg.TLSConfig)
	if err != nil {
		return fmt.Errorf("web configuration file %q: %w", s.webConfig.path, err)
	}
	if !v.cfg.HTTPConfig.HTTP2 {
		s.srv.TLSNextProto = make(map[string]func(*http.Server, *tls.Conn, http.Handler))
	}
	s.logger.Info("TLS is enabled.", "http2", v.cfg.HTTPConfig.HTTP2, "address", addr)
	s.srv.TLSConfig = tlsConfig
	// New connections get the TLS settings and certificates of the file as it is then.
	s.srv.TLSConfig.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c, err := s.webConfig.tlsConfig()
		if err != nil {
			return nil, err
		}
		c.NextProtos = s.srv.TLSConfig.NextProtos
		return c, nil
	}
	return s.srv.ServeTLS(s.ln, "", "")
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
