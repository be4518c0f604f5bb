package hotpath

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
}

func (r *recorder) serve(contentType string, body []byte) bool {
	if contentType != "application/json" || !bytes.HasPrefix(body, []byte("[")) {
		return false
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
	hotSrv             *http.Server
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
	plain := &http.Server{Handler: handler(p.plainRec.serve), ReadHeaderTimeout: headerTimeout}
	p.hotSrv = &http.Server{Handler: handler(p.hotRec.serve), ReadHeaderTimeout: headerTimeout}
	p.hot = NewListener(ln2, Options{Path: "/hot", Serve: p.hotRec.serve, ReadHeaderTimeout: headerTimeout})
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

// TestListenerHeaderTimeout: a header that stops arriving ends the connection after the
// header timeout, an idle connection does not.
func TestListenerHeaderTimeout(t *testing.T) {
	p := startPair(t, 200*time.Millisecond)
	idle, err := net.Dial("tcp", p.hotAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	stalled, err := net.Dial("tcp", p.hotAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if _, err := stalled.Write([]byte("POST /hot HTTP/1.1\r\nHost: vigil\r\n")); err != nil {
		t.Fatal(err)
	}
	stalled.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := stalled.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("stalled header: read %v, want the server to close", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stalled header closed after %v", d)
	}
	// The idle connection still serves after the stalled one was closed.
	if _, err := idle.Write([]byte(post("", `[1]`))); err != nil {
		t.Fatal(err)
	}
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	n, err := idle.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200 OK\r\n") {
		t.Fatalf("idle connection: %q, %v", buf[:n], err)
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
		if r := l.parse(req); r.length != len(req) {
			b.Fatalf("parse: %+v", r)
		}
	}
}
