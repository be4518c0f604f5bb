// Package hotpath answers the request Vigil receives most often — POST /api/v2/alerts, sent by
// every Prometheus server on a keep-alive connection, often with a single alert — directly on
// the connection, and hands every connection that carries anything else to net/http.
//
// net/http's work per request (a Request with its header map, a context, a goroutine that
// watches the connection for a close while the handler runs) costs more CPU than reading and
// answering a small request itself: over loopback a server that only answers 200 costs about
// twice as much CPU per request through net/http as on the hot path (README, "Alerting").
// The hot path takes only requests it can answer exactly as net/http and the handler behind
// it would; anything unusual in the request (another method or path, chunked bodies, Expect,
// Connection: close, HTTP/1.0, invalid headers, a body the handler declines) goes to net/http
// unread, and the connection stays with net/http from then on. Timeouts and shutdown follow
// net/http's too (conn.go).
package hotpath

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Serve handles the body of one hot request. It returns false, having changed nothing, when
// the request is to be answered by net/http instead; true means it was handled and is
// answered with 200, no body and Cache-Control: no-store, as Vigil's handler answers. body is
// only valid during the call.
type Serve func(contentType string, body []byte) bool

// Options configure a Listener.
type Options struct {
	// Path is the request target served on the hot path, e.g. "/api/v2/alerts" (POST only).
	Path string
	// Serve handles the hot requests.
	Serve Serve
	// Logger gets panics of Serve, as net/http logs a handler's.
	Logger *slog.Logger
}

// Listener wraps the listener of an http.Server: Accept returns only the connections that
// carry something other than hot requests. The server's Shutdown and Close close it, which
// ends idle hot connections; Shutdown of the Listener itself waits for the others.
type Listener struct {
	inner         net.Listener
	serve         Serve
	headerTimeout time.Duration // the server's ReadHeaderTimeout
	logger        *slog.Logger
	line          []byte        // the request line of a hot request
	toHTTP        chan accepted // connections (and accept errors) for net/http
	done          chan struct{}
	closing       atomic.Bool
	once          sync.Once

	mu    sync.Mutex
	conns map[*hotConn]struct{} // connections on the hot path
	wg    sync.WaitGroup        // their goroutines

	served atomic.Int64
}

type accepted struct {
	c   net.Conn
	err error
}

// hotConn is a connection on the hot path.
type hotConn struct {
	net.Conn
	idle atomic.Bool // waiting for a request, none of it read: Close ends it
}

// NewListener serves hot requests on the plain TCP connections inner accepts and hands the
// rest to srv, which must then serve the Listener. It refuses server settings whose effect on
// a request the hot path does not reproduce.
func NewListener(inner net.Listener, srv *http.Server, opts Options) (*Listener, error) {
	if !validPath(opts.Path) {
		return nil, fmt.Errorf("hot path %q: want a clean absolute path of letters, digits and -._~/", opts.Path)
	}
	switch {
	case srv.ReadTimeout != 0, srv.WriteTimeout != 0, srv.IdleTimeout != 0:
		return nil, fmt.Errorf("hot path: the server's ReadTimeout, WriteTimeout and IdleTimeout must be 0")
	case srv.MaxHeaderBytes != 0 && srv.MaxHeaderBytes < maxHeader:
		return nil, fmt.Errorf("hot path: the server's MaxHeaderBytes must be 0 or at least %d", maxHeader)
	case srv.TLSConfig != nil:
		return nil, fmt.Errorf("hot path: TLS is not supported")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Listener{
		inner:         inner,
		serve:         opts.Serve,
		headerTimeout: srv.ReadHeaderTimeout,
		logger:        logger,
		line:          []byte("POST " + opts.Path + " HTTP/1.1\r\n"),
		toHTTP:        make(chan accepted),
		done:          make(chan struct{}),
		conns:         map[*hotConn]struct{}{},
	}
	go l.acceptLoop()
	return l, nil
}

func validPath(p string) bool {
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return false
	}
	for _, c := range []byte(p) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0) {
			return false
		}
	}
	return true
}

// Served is how many requests the hot path has answered.
func (l *Listener) Served() int64 { return l.served.Load() }

// Accept returns the next connection for net/http.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case a := <-l.toHTTP:
		return a.c, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Addr is the address of the wrapped listener.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Close stops accepting and ends the hot connections that wait for a request, as
// http.Server.Shutdown ends idle ones. The others end after their current request, which is
// answered with Connection: close; a request whose header arrives from now on is dropped.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		l.closing.Store(true)
		close(l.done)
		err = l.inner.Close()
		l.mu.Lock()
		for hc := range l.conns {
			// A connection goes idle before it looks at closing (conn.go), so either it sees
			// closing or this deadline ends its wait.
			if hc.idle.Load() {
				_ = hc.SetReadDeadline(time.Now())
			}
		}
		l.mu.Unlock()
	})
	return err
}

// Shutdown closes l and waits for the hot connections to end, as http.Server.Shutdown waits
// for its own; when ctx ends first, it closes them and returns ctx's error. Call it after the
// server's Shutdown and before stopping what Serve writes to.
func (l *Listener) Shutdown(ctx context.Context) error {
	_ = l.Close()
	ended := make(chan struct{})
	go func() { l.wg.Wait(); close(ended) }()
	select {
	case <-ended:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		for hc := range l.conns {
			_ = hc.Conn.Close()
		}
		l.mu.Unlock()
		return ctx.Err()
	}
}

func (l *Listener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			if l.closing.Load() {
				return
			}
			// net/http decides whether to retry (and backs off first) or to give up.
			select {
			case l.toHTTP <- accepted{err: err}:
				continue
			case <-l.done:
				return
			}
		}
		hc := &hotConn{Conn: c}
		if !l.track(hc) {
			c.Close()
			return
		}
		go l.serveConn(hc)
	}
}

func (l *Listener) track(hc *hotConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing.Load() {
		return false
	}
	l.conns[hc] = struct{}{}
	l.wg.Add(1)
	return true
}

func (l *Listener) untrack(hc *hotConn) {
	l.mu.Lock()
	delete(l.conns, hc)
	l.mu.Unlock()
}

// handOff gives c to net/http with the bytes already read from it. hdrDeadline is the header
// timeout of the request those bytes begin, if it is running.
func (l *Listener) handOff(hc *hotConn, pending []byte, hdrDeadline time.Time) bool {
	l.untrack(hc)
	pc := &prefixConn{Conn: hc.Conn, pending: bytes.Clone(pending), hdrDeadline: hdrDeadline}
	select {
	case l.toHTTP <- accepted{c: pc}:
		return true
	case <-l.done:
		return false
	}
}

// prefixConn is a connection handed to net/http with bytes the hot path read from it first.
type prefixConn struct {
	net.Conn
	pending []byte

	mu sync.Mutex
	// hdrDeadline keeps the header timeout the hot path started: net/http starts its own
	// when it takes the connection, and clears it once it has read the header.
	hdrDeadline time.Time
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *prefixConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	if !c.hdrDeadline.IsZero() {
		if t.IsZero() {
			c.hdrDeadline = time.Time{}
		} else if c.hdrDeadline.Before(t) {
			t = c.hdrDeadline
		}
	}
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

// CloseWrite lets net/http close its side gracefully, as on the bare TCP connection.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// okResponse is net/http's answer to a handler that sets Cache-Control: no-store and writes
// status 200 and no body, with Connection: close when the server is shutting down; the Date
// is rendered once a second.
func okResponse(closing bool) []byte {
	now := time.Now().Unix()
	r := cachedResponse.Load()
	if r == nil || r.unix != now {
		date := time.Unix(now, 0).UTC().Format(http.TimeFormat)
		r = &response{
			unix:  now,
			open:  []byte("HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nDate: " + date + "\r\nContent-Length: 0\r\n\r\n"),
			close: []byte("HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nDate: " + date + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
		}
		cachedResponse.Store(r)
	}
	if closing {
		return r.close
	}
	return r.open
}

type response struct {
	unix        int64
	open, close []byte
}

var cachedResponse atomic.Pointer[response]
