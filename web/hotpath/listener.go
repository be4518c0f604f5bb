// Package hotpath answers the request Vigil receives most often — POST /api/v2/alerts, sent by
// every Prometheus server on a keep-alive connection, often with a single alert — directly on
// the connection, and hands every connection that carries anything else to net/http.
//
// net/http's work per request (a Request with its header map, a context, a goroutine that
// watches the connection for a close while the handler runs) costs more CPU than reading and
// answering a small request itself: over loopback a server that only answers 200 costs 2.1 to
// 2.5 times as much CPU per request through net/http as on the hot path (README, "Alerting").
// The hot path takes only requests it can answer exactly as net/http and the handler behind
// it would; anything unusual in the request (another method or path, chunked bodies, Expect,
// Connection: close, HTTP/1.0, invalid headers, a body the handler declines) goes to net/http
// unread, and the connection stays with net/http from then on.
package hotpath

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/http/httpguts"
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
	// ReadHeaderTimeout is the time a request's header may take to arrive once its first byte
	// has, as http.Server's field of that name (0: no limit).
	ReadHeaderTimeout time.Duration
	// Logger gets panics of Serve, as net/http logs a handler's.
	Logger *slog.Logger
}

// Limits of what the hot path reads itself; larger requests go to net/http.
const (
	maxHeader   = 64 << 10
	maxBody     = 16 << 20
	initialBuf  = 4 << 10
	keptBufSize = 64 << 10 // a connection's buffer grown beyond this is let go after the request
)

// Listener wraps the listener of an http.Server: Accept returns only the connections that
// carry something other than hot requests. Close it (http.Server.Shutdown and Close do) to stop
// the hot connections too.
type Listener struct {
	inner   net.Listener
	opts    Options
	logger  *slog.Logger
	line    []byte // the request line of a hot request
	handoff chan accepted
	done    chan struct{}
	closing atomic.Bool
	once    sync.Once

	mu    sync.Mutex
	conns map[net.Conn]struct{} // connections on the hot path

	served atomic.Int64
}

type accepted struct {
	c   net.Conn
	err error
}

// NewListener serves hot requests on the connections inner accepts.
func NewListener(inner net.Listener, opts Options) *Listener {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Listener{
		inner:   inner,
		opts:    opts,
		logger:  logger,
		line:    []byte("POST " + opts.Path + " HTTP/1.1\r\n"),
		handoff: make(chan accepted),
		done:    make(chan struct{}),
		conns:   map[net.Conn]struct{}{},
	}
	go l.acceptLoop()
	return l
}

// Served is how many requests the hot path has answered.
func (l *Listener) Served() int64 { return l.served.Load() }

// Accept returns the next connection for net/http.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case a := <-l.handoff:
		return a.c, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Addr is the address of the wrapped listener.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Close stops accepting and ends the hot connections once their current request is answered.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		l.closing.Store(true)
		close(l.done)
		err = l.inner.Close()
		l.mu.Lock()
		for c := range l.conns {
			// Wakes a connection waiting for its next request; one in a request ends after it.
			_ = c.SetReadDeadline(time.Now())
		}
		l.mu.Unlock()
	})
	return err
}

func (l *Listener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			if l.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// net/http decides whether to retry (and backs off first) or to give up.
			select {
			case l.handoff <- accepted{err: err}:
				continue
			case <-l.done:
				return
			}
		}
		if !l.track(c) {
			c.Close()
			return
		}
		go l.serveConn(c)
	}
}

func (l *Listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing.Load() {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *Listener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// serveConn answers hot requests on c until the peer closes it or sends something else.
func (l *Listener) serveConn(c net.Conn) {
	buf := make([]byte, initialBuf)
	var start, end int // the unread bytes are buf[start:end]
	handedOff := false
	defer func() {
		if err := recover(); err != nil {
			l.logger.Error("panic serving hot path", "remote", c.RemoteAddr().String(), "err", fmt.Sprint(err))
		}
		l.untrack(c)
		if !handedOff {
			c.Close()
		}
	}()
	deadline := false // a header timeout is set
	answered := false // a request has been answered on c
	for {
		req := l.parse(buf[start:end])
		// After an answer net/http waits for 4 bytes of the next request, with no timeout,
		// and ends quietly if they do not come.
		waiting := answered && end-start < 4
		if waiting {
			req = request{}
		}
		switch {
		case req.handOff:
			handedOff = l.handOff(c, buf[start:end], deadline)
			return
		case req.length == 0: // incomplete: read more
			if end == len(buf) {
				if start > 0 {
					end = copy(buf, buf[start:end])
					start = 0
				} else {
					buf = append(buf, make([]byte, len(buf))...)[:len(buf)*2]
				}
			}
			// A deadline only while a started header is incomplete, as net/http: none while
			// idle between requests, none for the body.
			if want := l.opts.ReadHeaderTimeout > 0 && !req.headerDone && end > start && !waiting; want != deadline {
				if want {
					_ = c.SetReadDeadline(time.Now().Add(l.opts.ReadHeaderTimeout))
				} else {
					_ = c.SetReadDeadline(time.Time{})
				}
				deadline = want
			}
			if l.closing.Load() && end == start {
				return
			}
			n, err := c.Read(buf[end:])
			end += n
			if err != nil && n == 0 {
				// net/http answers a request cut short with 400.
				if errors.Is(err, io.EOF) && end > start && !waiting {
					handedOff = l.handOff(c, buf[start:end], deadline)
				}
				return
			}
			continue
		}
		body := buf[start+req.length-req.bodyLen : start+req.length]
		if !l.opts.Serve(req.contentType, body) {
			handedOff = l.handOff(c, buf[start:end], deadline)
			return
		}
		l.served.Add(1)
		answered = true
		if _, err := c.Write(okResponse()); err != nil {
			return
		}
		start += req.length
		if start == end {
			start, end = 0, 0
			if len(buf) > keptBufSize {
				buf = make([]byte, initialBuf)
			}
		}
		if deadline {
			_ = c.SetReadDeadline(time.Time{})
			deadline = false
		}
		if l.closing.Load() {
			return
		}
	}
}

// handOff gives c to net/http with the bytes already read from it.
func (l *Listener) handOff(c net.Conn, pending []byte, deadline bool) bool {
	if deadline {
		_ = c.SetReadDeadline(time.Time{}) // net/http sets its own
	}
	var hc net.Conn = c
	if len(pending) > 0 {
		hc = &prefixConn{Conn: c, pending: bytes.Clone(pending)}
	}
	l.untrack(c)
	select {
	case l.handoff <- accepted{c: hc}:
		return true
	case <-l.done:
		return false
	}
}

// request is what parse found at the start of the unread bytes.
type request struct {
	handOff     bool // not for the hot path
	length      int  // of the whole request; 0 while incomplete
	headerDone  bool // the header is complete (the body may not be)
	bodyLen     int
	contentType string
}

var (
	crlf         = []byte("\r\n")
	hContentLen  = []byte("Content-Length")
	hContentType = []byte("Content-Type")
	hHost        = []byte("Host")
	hConnection  = []byte("Connection")
	hTransferEnc = []byte("Transfer-Encoding")
	hExpect      = []byte("Expect")
	hUpgrade     = []byte("Upgrade")
	hTrailer     = []byte("Trailer")
	vKeepAlive   = []byte("keep-alive")
	notHot       = request{handOff: true}
)

// parse reads the request at the start of b, strictly: everything net/http would reject,
// treat specially or answer otherwise than the hot path is handed off.
func (l *Listener) parse(b []byte) request {
	if len(b) < len(l.line) {
		if bytes.HasPrefix(l.line, b) {
			return request{}
		}
		return notHot
	}
	if !bytes.HasPrefix(b, l.line) {
		return notHot
	}
	var (
		req                   request
		hosts, lengths, types int
		contentLength         int
		rest                  = b[len(l.line):]
	)
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if len(b)-len(rest) > maxHeader || len(rest) > maxHeader {
				return notHot
			}
			return request{}
		}
		if i == 0 || rest[i-1] != '\r' {
			return notHot // a bare LF, which net/http accepts and the hot path need not
		}
		line := rest[:i-1]
		rest = rest[i+1:]
		if len(line) == 0 {
			break // the end of the header
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return notHot
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		for _, ch := range name {
			if !tokenByte[ch] {
				return notHot
			}
		}
		if !validValue(value) {
			return notHot
		}
		switch len(name) { // the names the hot path looks at, by length first
		case len(hContentLen):
			if bytes.EqualFold(name, hContentLen) {
				lengths++
				n, ok := parseLength(value)
				if !ok {
					return notHot
				}
				contentLength = n
			}
		case len(hContentType):
			if bytes.EqualFold(name, hContentType) {
				types++
				req.contentType = contentType(value)
			}
		case len(hHost):
			if bytes.EqualFold(name, hHost) {
				hosts++
				if !httpguts.ValidHostHeader(unsafe.String(unsafe.SliceData(value), len(value))) {
					return notHot
				}
			}
		case len(hConnection):
			if bytes.EqualFold(name, hConnection) && !bytes.EqualFold(value, vKeepAlive) {
				return notHot
			}
		case len(hTransferEnc), len(hExpect), len(hUpgrade): // Upgrade and Trailer: 7
			if bytes.EqualFold(name, hTransferEnc) || bytes.EqualFold(name, hExpect) ||
				bytes.EqualFold(name, hUpgrade) || bytes.EqualFold(name, hTrailer) {
				return notHot
			}
		}
	}
	if hosts != 1 || lengths != 1 || types > 1 || contentLength > maxBody {
		return notHot
	}
	headerLen := len(b) - len(rest)
	if headerLen > maxHeader {
		return notHot
	}
	req.headerDone = true
	req.bodyLen = contentLength
	if len(rest) < contentLength {
		return req
	}
	req.length = headerLen + contentLength
	return req
}

// tokenByte holds the bytes of a header name (RFC 7230 tchar), as httpguts.IsTokenRune.
var tokenByte = func() (t [256]bool) {
	for c := range 128 {
		t[c] = httpguts.IsTokenRune(rune(c))
	}
	return t
}()

const jsonType = "application/json"

// contentType is the Content-Type value as a string, without a copy for the usual one.
func contentType(v []byte) string {
	if string(v) == jsonType {
		return jsonType
	}
	return string(v)
}

// trimOWS drops the optional white space around a header value.
func trimOWS(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// validValue is httpguts.ValidHeaderFieldValue on bytes: no control characters but tab.
func validValue(v []byte) bool {
	for _, ch := range v {
		if (ch < ' ' && ch != '\t') || ch == 0x7f {
			return false
		}
	}
	return true
}

// parseLength takes the plain decimal Content-Length net/http takes, and no other form.
func parseLength(v []byte) (int, bool) {
	if len(v) == 0 || len(v) > 9 {
		return 0, false
	}
	n := 0
	for _, ch := range v {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + int(ch-'0')
	}
	return n, true
}

// prefixConn is a connection handed to net/http with bytes the hot path read from it first.
type prefixConn struct {
	net.Conn
	pending []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite lets net/http close its side gracefully, as on the bare TCP connection.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// okResponse is net/http's answer to a handler that sets Cache-Control: no-store and writes
// status 200 and no body; the Date is rendered once a second.
func okResponse() []byte {
	now := time.Now().Unix()
	if r := cachedResponse.Load(); r != nil && r.unix == now {
		return r.bytes
	}
	r := &response{unix: now, bytes: []byte("HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nDate: " +
		time.Unix(now, 0).UTC().Format(http.TimeFormat) + "\r\nContent-Length: 0\r\n\r\n")}
	cachedResponse.Store(r)
	return r.bytes
}

type response struct {
	unix  int64
	bytes []byte
}

var cachedResponse atomic.Pointer[response]
