package hotpath

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is the Serve of the tests: it takes JSON arrays and declines anything else, and
// records what it took.
type recorder struct {
	mu    sync.Mutex
	taken []string
	// gate, when set, holds the body ["block"] until it is closed; entered tells it is held.
	gate, entered chan struct{}
}

func (r *recorder) serve(contentType string, body []byte) bool {
	if contentType != "application/json" || !bytes.HasPrefix(body, []byte("[")) {
		return false
	}
	if r.gate != nil && string(body) == `["block"]` {
		r.entered <- struct{}{}
		<-r.gate
	}
	r.mu.Lock()
	r.taken = append(r.taken, string(body))
	r.mu.Unlock()
	return true
}

func (r *recorder) bodies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.taken
	r.taken = nil
	return out
}

// handler is the net/http side: the hot route answers as the hot path does when serve takes
// the body, and otherwise with an error naming the body; other routes echo the request.
func handler(serve Serve) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hot", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, "reading body: ", err)
			return
		}
		if serve(r.Header.Get("Content-Type"), body) {
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprintf(w, "declined %q", body)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %q", r.Method, r.URL, r.Proto, body)
	})
	return mux
}

// pair is the same handler served by net/http alone and behind the hot path.
type pair struct {
	plainAddr, hotAddr string
	plainRec, hotRec   *recorder
	hot                *Listener
	plainSrv, hotSrv   *http.Server
}

func startPair(t testing.TB, headerTimeout time.Duration) *pair {
	t.Helper()
	p := &pair{plainRec: &recorder{}, hotRec: &recorder{}}
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.plainSrv = &http.Server{Handler: handler(p.plainRec.serve), ReadHeaderTimeout: headerTimeout}
	p.hotSrv = &http.Server{Handler: handler(p.hotRec.serve), ReadHeaderTimeout: headerTimeout}
	if p.hot, err = NewListener(ln2, p.hotSrv, Options{Path: "/hot", Serve: p.hotRec.serve}); err != nil {
		t.Fatal(err)
	}
	plain := p.plainSrv
	go plain.Serve(ln1)
	go p.hotSrv.Serve(p.hot)
	t.Cleanup(func() { plain.Close(); p.hotSrv.Close() })
	p.plainAddr, p.hotAddr = ln1.Addr().String(), ln2.Addr().String()
	return p
}

var dateHeader = regexp.MustCompile(`(?m)^Date: [^\r\n]*\r\n`)

// exchange sends data on a new connection, closes the sending side and returns everything the
// server answered until it closed the connection, Date headers removed.
func exchange(t testing.TB, addr string, data []byte) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	out, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("reading answer: %v (after %q)", err, out)
	}
	return dateHeader.ReplaceAllString(string(out), "")
}

func isReset(err error) bool { return strings.Contains(err.Error(), "connection reset") }

func post(headers, body string) string {
	return fmt.Sprintf("POST /hot HTTP/1.1\r\nHost: vigil\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s", len(body), headers, body)
}

// requests are request streams sent to both servers: the hot path must answer every one of
// them byte for byte as net/http does (Date aside), serving hot the number given.
var requests = []struct {
	name string
	data string
	hot  int
}{
	{"one", post("", `[1]`), 1},
	{"pipelined", post("", `[1]`) + post("", `[2]`) + post("", `[3]`), 3},
	{"keep-alive header", post("Connection: keep-alive\r\n", `[1]`), 1},
	{"lower-case names, spaces", "POST /hot HTTP/1.1\r\nhost:vigil\r\ncontent-type:  application/json \r\ncontent-length:3\t\r\nUser-Agent: Prometheus/3.5.0\r\n\r\n[1]", 1},
	{"large body", post("", "["+strings.Repeat(`"x",`, 50000)+`"x"]`), 1},
	{"leading zeros in length", "POST /hot HTTP/1.1\r\nHost: vigil\r\nContent-Type: application/json\r\nContent-Length: 003\r\n\r\n[1]", 1},
	{"declined body", post("", `{}`), 0},
	{"declined then hot", post("", `{}`) + post("", `[1]`), 0},
	{"other content type", "POST /hot HTTP/1.1\r\nHost: vigil\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n[1]", 0},
	{"hot then GET then hot", post("", `[1]`) + "GET /x HTTP/1.1\r\nHost: vigil\r\n\r\n" + post("", `[2]`), 1},
	{"GET", "GET /hot HTTP/1.1\r\nHost: vigil\r\n\r\n", 0},
	{"other path", "POST /hot/x HTTP/1.1\r\nHost: vigil\r\nContent-Length: 3\r\n\r\n[1]", 0},
	{"query", "POST /hot?x=1 HTTP/1.1\r\nHost: vigil\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n[1]", 0},
	{"absolute URI", "POST http://vigil/hot HTTP/1.1\r\nHost: vigil\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n[1]", 0},
	{"lower-case method", "post /hot HTTP/1.1\r\nHost: vigil\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n[1]", 0},
	{"HTTP/1.0", "POST /hot HTTP/1.0\r\nHost: vigil\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n[1]", 0},
	{"connection close", post("Connection: close\r\n", `[1]`) + post("", `[2]`), 0},
	{"chunked", "POST /hot HTTP/1.1\r\nHost: vigil\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1]\r\n0\r\n\r\n", 0},
	{"expect", post("Expect: 100-continue\r\n", `[1]`), 0},
	{"upgrade", post("Connection: Upgrade\r\nUpgrade: h2c\r\n", `[1]`), 0},
	{"no host", "POST /hot HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n[1]", 0},
	{"two hosts", post("Host: other\r\n", `[1]`), 0},
	{"bad host", "POST /hot HTTP/1.1\r\nHost: a b\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n[1]", 0},
	{"two lengths", post("Content-Length: 3\r\n", `[1]`), 0},
	{"two lengths differing", post("Content-Length: 4\r\n", `[1]`), 0},
	{"signed length", "POST /hot HTTP/1.1\r\nHost: vigil\r\nContent-Type: application/json\r\nContent-Length: +3\r\n\r\n[1]", 0},
	{"no length", "POST /hot HTTP/1.1\r\nHost: vigil\r\nContent-Type: application/json\r\n\r\n", 0},
	{"two content types", post("Content-Type: text/plain\r\n", `[1]`), 0},
	{"bad header name", post("Bad Name: x\r\n", `[1]`), 0},
	{"space before colon", post("X-A : x\r\n", `[1]`), 0},
	{"control in value", post("X-A: a\x01b\r\n", `[1]`), 0},
	{"obs-fold", post("X-A: a\r\n b\r\n", `[1]`), 0},
	{"bare LF", "POST /hot HTTP/1.1\nHost: vigil\nContent-Type: application/json\nContent-Length: 3\n\n[1]", 0},
	{"leading blank line", "\r\n" + post("", `[1]`), 0},
	{"garbage after", post("", `[1]`) + "garbage\r\n\r\n", 1},
	{"body cut short", post("", `[1, 2]`)[:len(post("", `[1, 2]`))-2], 0},
	{"header cut short", "POST /hot HTTP/1.1\r\nHost: vigil\r\nContent-Le", 0},
	{"request line cut short", "POST /h", 0},
	{"hot then cut short", post("", `[1]`) + "POST /hot HTTP/1.1\r\nHost", 1},
	{"huge header", post("X-Big: "+strings.Repeat("a", maxHeader)+"\r\n", `[1]`), 0},
	{"CRLF after a POST", post("", `[1]`) + "\r\n" + post("", `[2]`), 2},
	{"CRLFCRLF after a POST", post("", `[1]`) + "\r\n\r\n" + post("", `[2]`), 2},
	{"LF after a POST, then GET", post("", `[1]`) + "\nGET /x HTTP/1.1\r\nHost: vigil\r\n\r\n", 1},
	{"five CRLF bytes after a POST", post("", `[1]`) + "\r\n\r\n\r" + post("", `[2]`), 1},
	{"CRLF after a POST, then EOF", post("", `[1]`) + "\r\n\r\n", 1},
	{"CRLF after a POST, then part of a request", post("", `[1]`) + "\r\nPO", 1},
	{"three bytes after a POST", post("", `[1]`) + "POS", 1},
	{"CRLF before the first request", "\r\n" + post("", `[1]`), 0},
}

func TestListenerAnswersAsNetHTTP(t *testing.T) {
	p := startPair(t, 5*time.Second)
	for _, tc := range requests {
		t.Run(tc.name, func(t *testing.T) {
			before := p.hot.Served()
			want := exchange(t, p.plainAddr, []byte(tc.data))
			got := exchange(t, p.hotAddr, []byte(tc.data))
			if got != want {
				t.Errorf("answer differs from net/http's\n got: %.600q\nwant: %.600q", got, want)
			}
			if gotB, wantB := p.hotRec.bodies(), p.plainRec.bodies(); fmt.Sprint(gotB) != fmt.Sprint(wantB) {
				t.Errorf("bodies served: %.200q, net/http's handler: %.200q", gotB, wantB)
			}
			if n := p.hot.Served() - before; n != int64(tc.hot) {
				t.Errorf("hot path answered %d requests, want %d", n, tc.hot)
			}
		})
	}
}

// TestListenerByteByByte sends requests a byte at a time: partial request lines, headers and
// bodies are read on.
func TestListenerByteByByte(t *testing.T) {
	p := startPair(t, 5*time.Second)
	data := post("", `[1]`) + post("", `[22]`)
	c, err := net.Dial("tcp", p.hotAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range len(data) {
		if _, err := c.Write([]byte{data[i]}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Microsecond)
	}
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), "HTTP/1.1 200 OK\r\n"); n != 2 || p.hot.Served() != 2 {
		t.Errorf("answers %q (%d served), want two 200s from the hot path", out, p.hot.Served())
	}
}

// step is a pause and then bytes sent, in a timed exchange.
type step struct {
	wait time.Duration
	data string
}

// timed sends steps on a new connection and returns what the server answered, and whether it
// had closed the connection, by a while after the last step.
func timed(t *testing.T, addr string, steps []step, after time.Duration) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer c.Close()
	for _, s := range steps {
		time.Sleep(s.wait)
		c.Write([]byte(s.data)) // the server may have closed: what it answered tells
	}
	c.SetReadDeadline(time.Now().Add(after))
	out, err := io.ReadAll(c)
	switch {
	case err == nil || isReset(err):
		out = append(out, "<closed>"...)
	case !errors.Is(err, os.ErrDeadlineExceeded):
		t.Error(err)
	}
	return dateHeader.ReplaceAllString(string(out), "")
}

// TestListenerTimeouts runs timed exchanges against net/http alone and behind the hot path:
// the header timeout runs from the connection's start for its first request and from the
// first 4 bytes of later ones, not between requests, and a connection handed to net/http keeps
// the timeout already running.
func TestListenerTimeouts(t *testing.T) {
	const d = 300 * time.Millisecond
	head := "POST /hot HTTP/1.1\r\nHost: vigil\r\n"
	rest := "Content-Type: application/json\r\nContent-Length: 3\r\n\r\n[1]"
	tests := []struct {
		name  string
		steps []step
	}{
		{"silent", nil},
		{"silent, then a request", []step{{d + d/3, post("", `[1]`)}}},
		{"a request soon", []step{{d / 3, post("", `[1]`)}}},
		{"header too slow", []step{{0, head}, {d + d/3, rest}}},
		{"header in time", []step{{0, head}, {d / 3, rest}}},
		{"idle between requests", []step{{0, post("", `[1]`)}, {d + d/3, post("", `[2]`)}}},
		{"second header too slow", []step{{0, post("", `[1]`)}, {d / 2, "POST"}, {d * 2 / 3, " /hot HTTP/1.1\r\nHost: v\r\n"}, {d / 2, rest}}},
		{"second header in time", []step{{0, post("", `[1]`)}, {d / 2, "POST"}, {d / 3, " /hot HTTP/1.1\r\nHost: v\r\n"}, {d / 3, rest}}},
		{"three bytes, idle", []step{{0, post("", `[1]`)}, {0, "POS"}, {d + d/3, "T /hot HTTP/1.1\r\nHost: v\r\n" + rest}}},
		{"handed off mid-header", []step{{0, head}, {d * 2 / 3, "Connection: close\r\n"}, {d * 2 / 3, rest}}},
		{"body slower than the header timeout", []step{{0, head + rest[:len(rest)-2]}, {d + d/3, "1]"}}},
	}
	p := startPair(t, d)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want, got string
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); want = timed(t, p.plainAddr, tc.steps, 2*d) }()
			go func() { defer wg.Done(); got = timed(t, p.hotAddr, tc.steps, 2*d) }()
			wg.Wait()
			if got != want {
				t.Errorf("behind the hot path %q, net/http alone %q", got, want)
			}
		})
	}
}

// TestListenerShutdown: Shutdown ends idle hot connections and returns, and Accept reports the
// listener closed.
func TestListenerShutdown(t *testing.T) {
	p := startPair(t, 5*time.Second)
	c, err := net.Dial("tcp", p.hotAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(post("", `[1]`))); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.hotSrv.Shutdown(t.Context()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err != io.EOF {
		t.Errorf("idle hot connection after Shutdown: read %v, want EOF", err)
	}
	if _, err := p.hot.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", p.hotAddr); err == nil {
		t.Error("listener still accepts after Shutdown")
	}
}

// TestListenerShutdownInProgress shuts both servers down while a request is in progress: the
// hot path's Shutdown waits for it as net/http's does, answers it with Connection: close, and
// drops a request that arrives during the shutdown.
func TestListenerShutdownInProgress(t *testing.T) {
	blocked := post("", `["block"]`)
	tests := []struct {
		name         string
		first, later string // sent before the shutdown starts (and Serve is held), and during it
		hold         bool   // the first request holds Serve until the test lets it go
	}{
		{"held in Serve", blocked, "", true},
		{"held, next request pipelined", blocked + post("", `[2]`), "", true},
		{"held, next request during shutdown", blocked, post("", `[2]`), true},
		{"body arriving", blocked[:len(blocked)-4], blocked[len(blocked)-4:], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var answers [2]string
			for i, hot := range []bool{false, true} {
				p := startPair(t, 5*time.Second)
				rec, addr := p.plainRec, p.plainAddr
				shutdown := func(ctx context.Context) error { return p.plainSrv.Shutdown(ctx) }
				if hot {
					rec, addr = p.hotRec, p.hotAddr
					shutdown = func(ctx context.Context) error {
						if err := p.hotSrv.Shutdown(ctx); err != nil {
							return err
						}
						return p.hot.Shutdown(ctx)
					}
				}
				rec.gate, rec.entered = make(chan struct{}), make(chan struct{}, 1)
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.Write([]byte(tc.first))
				if tc.hold {
					<-rec.entered
				} else {
					time.Sleep(50 * time.Millisecond) // the header is read
					close(rec.gate)
				}
				done := make(chan error, 1)
				go func() { done <- shutdown(t.Context()) }()
				time.Sleep(50 * time.Millisecond)
				select {
				case err := <-done:
					t.Fatalf("hot=%v: shutdown returned (%v) with a request in progress", hot, err)
				default:
				}
				c.Write([]byte(tc.later))
				if tc.hold {
					close(rec.gate)
				}
				select {
				case err := <-done:
					if err != nil {
						t.Fatal(err)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("hot=%v: shutdown did not return", hot)
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				out, _ := io.ReadAll(c)
				answers[i] = dateHeader.ReplaceAllString(string(out), "")
			}
			if answers[1] != answers[0] {
				t.Errorf("behind the hot path %q, net/http alone %q", answers[1], answers[0])
			}
			if !strings.Contains(answers[0], "Connection: close") {
				t.Errorf("net/http answered %q, want a 200 with Connection: close", answers[0])
			}
		})
	}
}

// TestListenerShutdownDeadline: a connection that does not take its answers does not hold
// Shutdown past its context; it is closed then.
func TestListenerShutdownDeadline(t *testing.T) {
	p := startPair(t, 5*time.Second)
	c, err := net.Dial("tcp", p.hotAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // requests, never reading the answers, until the server stops taking them
		req := []byte(post("", `[1]`))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Write(req); err != nil {
				return
			}
		}
	}()
	// The server is blocked writing answers once it stops answering.
	for deadline, prev := time.Now().Add(20*time.Second), int64(-1); ; {
		time.Sleep(100 * time.Millisecond)
		n := p.hot.Served()
		if n > 0 && n == prev {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hot path still answers (%d), the client's buffers do not fill", n)
		}
		prev = n
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := p.hotSrv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.hot.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	served := p.hot.Served()
	time.Sleep(100 * time.Millisecond)
	if n := p.hot.Served(); n != served {
		t.Errorf("the hot path answered %d more requests after Shutdown", n-served)
	}
}

func FuzzListener(f *testing.F) {
	for _, tc := range requests {
		f.Add([]byte(tc.data))
	}
	p := startPair(f, 5*time.Second)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		want := exchange(t, p.plainAddr, data)
		got := exchange(t, p.hotAddr, data)
		if got != want {
			t.Errorf("answer to %q differs from net/http's\n got: %q\nwant: %q", data, got, want)
		}
		if gotB, wantB := p.hotRec.bodies(), p.plainRec.bodies(); fmt.Sprint(gotB) != fmt.Sprint(wantB) {
			t.Errorf("bodies served: %q, net/http's handler: %q", gotB, wantB)
		}
	})
}

// BenchmarkParse reads the header of a request as Prometheus's notifier sends it.
func BenchmarkParse(b *testing.B) {
	l := &Listener{line: []byte("POST /api/v2/alerts HTTP/1.1\r\n")}
	req := []byte("POST /api/v2/alerts HTTP/1.1\r\nHost: alertmanager:9093\r\nUser-Agent: Prometheus/3.5.0\r\nContent-Length: 215\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n" + strings.Repeat("x", 215))
	b.ReportAllocs()
	for b.Loop() {
		var st reqState
		if !l.parse(req, &st) || !st.complete(req) || st.headerLen+st.bodyLen != len(req) {
			b.Fatalf("parse: %+v", st)
		}
	}
}

// FuzzParseIncremental: a request read in pieces gets the verdict it gets read whole.
func FuzzParseIncremental(f *testing.F) {
	for _, tc := range requests {
		f.Add([]byte(tc.data), uint8(7))
	}
	l := &Listener{line: []byte("POST /hot HTTP/1.1\r\n")}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		var whole reqState
		okWhole := l.parse(data, &whole)
		var inc reqState
		okInc := true
		for n := 0; okInc && n < len(data); {
			n = min(len(data), n+int(step)+1)
			okInc = l.parse(data[:n], &inc)
		}
		if okInc != okWhole || (okWhole && (inc.headerLen != whole.headerLen || inc.bodyLen != whole.bodyLen || inc.contentType != whole.contentType)) {
			t.Errorf("in pieces of %d: %v %+v, whole: %v %+v", int(step)+1, okInc, inc, okWhole, whole)
		}
	})
}

func TestNewListenerRefuses(t *testing.T) {
	tests := []struct {
		name string
		path string
		srv  *http.Server
	}{
		{"relative path", "api/v2/alerts", &http.Server{}},
		{"unclean path", "/api//alerts", &http.Server{}},
		{"escaped path", "/api%2Falerts", &http.Server{}},
		{"read timeout", "/hot", &http.Server{ReadTimeout: time.Second}},
		{"write timeout", "/hot", &http.Server{WriteTimeout: time.Second}},
		{"idle timeout", "/hot", &http.Server{IdleTimeout: time.Second}},
		{"small header limit", "/hot", &http.Server{MaxHeaderBytes: 1024}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if _, err := NewListener(ln, tc.srv, Options{Path: tc.path, Serve: (&recorder{}).serve}); err == nil {
				t.Error("NewListener accepted it")
			}
		})
	}
}

// TestListenerInnerClosed: when the wrapped listener fails, the server's Serve returns.
func TestListenerInnerClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	hot, err := NewListener(ln, srv, Options{Path: "/hot", Serve: (&recorder{}).serve})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(hot) }()
	ln.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}
