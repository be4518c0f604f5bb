package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/vigil-monitoring/vigil/web/server/servertest"
)

func parse(t testing.TB, listen string, args ...string) *Flags {
	t.Helper()
	app := kingpin.New("test", "")
	f := RegisterFlags(app)
	if _, err := app.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := f.Resolve(listen); err != nil {
		t.Fatal(err)
	}
	return f
}

// The flags resolve as Prometheus's: the external URL from the host name and listen port, its
// path as the default route prefix, the CORS regexp anchored.
func TestResolve(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args            []string
		wantURL, prefix string
	}{
		{nil, "http://" + host + ":9090", "/"},
		{[]string{"--web.external-url=https://example.com/vigil/"}, "https://example.com/vigil", "/vigil"},
		{[]string{"--web.external-url=http://example.com/a/b"}, "http://example.com/a/b", "/a/b"},
		{[]string{"--web.external-url=http://example.com/a", "--web.route-prefix=/"}, "http://example.com/a", "/"},
		{[]string{"--web.route-prefix=inner/"}, "http://" + host + ":9090", "/inner"},
	} {
		f := parse(t, ":9090", tc.args...)
		if f.ExternalURL.String() != tc.wantURL || f.RoutePrefix != tc.prefix {
			t.Errorf("%v: external URL %s, prefix %s; want %s, %s", tc.args, f.ExternalURL, f.RoutePrefix, tc.wantURL, tc.prefix)
		}
	}
	f := parse(t, ":9090", `--web.cors.origin=https?://(a|b)\.com`)
	if !f.CORSOrigin.MatchString("https://a.com") || f.CORSOrigin.MatchString("https://a.com.evil") {
		t.Errorf("CORS regexp %s is not anchored", f.CORSOrigin)
	}
	if f.ReadTimeout != 5*time.Minute || f.MaxConnections != 512 {
		t.Errorf("defaults: read timeout %s, max connections %d", f.ReadTimeout, f.MaxConnections)
	}
	for _, bad := range [][]string{{"--web.max-connections=0"}, {"--web.external-url='http://x'"}, {"--web.cors.origin=("}} {
		app := kingpin.New("test", "")
		f := RegisterFlags(app)
		if _, err := app.Parse(bad); err != nil {
			continue
		}
		if err := f.Resolve(":9090"); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// Every route is served under the prefix; GET / outside it redirects to it.
func TestWithPrefix(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "inner ", r.URL.Path) })
	h := WithPrefix("/vigil", inner)
	for _, tc := range []struct {
		method, path string
		code         int
		body, loc    string
	}{
		{"GET", "/vigil/metrics", 200, "inner /metrics", ""},
		{"POST", "/vigil/api/v2/alerts", 200, "inner /api/v2/alerts", ""},
		{"GET", "/vigil", 200, "inner /", ""},
		{"GET", "/vigil/", 200, "inner /", ""},
		{"GET", "/", 302, "", "/vigil"},
		{"GET", "/metrics", 404, "", ""},
		{"GET", "/vigilant/metrics", 404, "", ""},
		{"POST", "/", 404, "", ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.code || (tc.body != "" && rec.Body.String() != tc.body) || rec.Header().Get("Location") != tc.loc {
			t.Errorf("%s %s: %d %q Location %q; want %d %q %q", tc.method, tc.path, rec.Code, rec.Body.String(), rec.Header().Get("Location"), tc.code, tc.body, tc.loc)
		}
	}
	if got := WithPrefix("/", inner); fmt.Sprintf("%p", got) != fmt.Sprintf("%p", inner) {
		t.Error("prefix / wraps the handler")
	}
}

// serve starts a Server for h with args on a free loopback port until the test ends.
func serve(t *testing.T, h http.Handler, args ...string) (*Server, string) {
	t.Helper()
	f := parse(t, "127.0.0.1:0", args...)
	s, err := Listen(f, "127.0.0.1:0", h, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, s.Addr().String()
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	fmt.Fprint(w, "ok")
})

// With a web config of TLS and basic auth, every path needs the credentials, and only TLS is
// spoken.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	files := servertest.WriteConfig(t, servertest.Options{TLS: true, Users: map[string]string{"alice": "s3cret"},
		Extra: "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"})
	_, addr := serve(t, okHandler, "--web.config.file="+files.WebConfig, "--web.route-prefix=/p")
	client := files.Client(t, false)
	for _, path := range []string{"/p/metrics", "/p/api/v1/query?query=up", "/p/api/v2/alerts", "/p/-/reload", "/p/federate", "/p/", "/"} {
		for _, user := range []struct{ name, pass string }{{"", ""}, {"alice", "wrong"}, {"bob", "s3cret"}} {
			req, _ := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
			if user.name != "" {
				req.SetBasicAuth(user.name, user.pass)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "Basic" {
				t.Errorf("GET %s as %q: %d, want 401", path, user.name, resp.StatusCode)
			}
		}
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
		req.SetBasicAuth("alice", "s3cret")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK { // GET / is redirected to /p and followed
			t.Errorf("GET %s with credentials: %d", path, resp.StatusCode)
		}
		if resp.Header.Get("X-Frame-Options") != "deny" {
			t.Errorf("GET %s: headers of the web config not set: %v", path, resp.Header)
		}
	}
	// Plain HTTP on the TLS port is refused.
	resp, err := http.Get("http://" + addr + "/p/metrics")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP: %d", resp.StatusCode)
		}
	}
}

// With client_auth_type RequireAndVerifyClientCert, a client without a certificate of the CA
// is refused during the handshake.
func TestWebConfigClientCertificates(t *testing.T) {
	files := servertest.WriteConfig(t, servertest.Options{TLS: true, RequireClientCert: true})
	_, addr := serve(t, okHandler, "--web.config.file="+files.WebConfig)
	if resp, err := files.Client(t, false).Get("https://" + addr + "/metrics"); err == nil {
		resp.Body.Close()
		t.Fatalf("no client certificate: %d, want a handshake failure", resp.StatusCode)
	}
	resp, err := files.Client(t, true).Get("https://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with client certificate: %d", resp.StatusCode)
	}
}

// A web config that does not validate stops the server before it listens, as in Prometheus.
func TestInvalidWebConfig(t *testing.T) {
	files := servertest.WriteConfig(t, servertest.Options{Extra: "basic_auth_users:\n  alice: not-a-bcrypt-hash\n"})
	f := parse(t, "127.0.0.1:0", "--web.config.file="+files.WebConfig)
	if _, err := Listen(f, "127.0.0.1:0", okHandler, nil); err == nil {
		t.Fatal("Listen accepted a web config with a password that is not a bcrypt hash")
	}
}

// --web.read-timeout closes a connection whose request body trickles, and an idle keep-alive
// connection: neither can hold a descriptor forever.
func TestReadTimeoutClosesSlowAndIdleConnections(t *testing.T) {
	_, addr := serve(t, okHandler, "--web.read-timeout=300ms")
	for _, tc := range []struct {
		name string
		send string
	}{
		{"idle after a request", "GET /x HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"slow header", "GET /x HTTP/1.1\r\nHost:"},
		{"slow body", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc"},
		{"nothing sent", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			// The server must close the connection; the deadline only stops a broken test.
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			r := bufio.NewReader(c)
			for {
				if _, err := r.ReadByte(); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatal("the server kept the connection open")
					}
					return // EOF or reset: closed by the server
				}
			}
		})
	}
}

// At most --web.max-connections connections are served at once: the one past the limit is
// served once another closes.
func TestMaxConnections(t *testing.T) {
	_, addr := serve(t, okHandler, "--web.max-connections=2")
	get := func(c net.Conn) error {
		if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := get(c); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	third, err := net.Dial("tcp", addr) // completes in the kernel's backlog
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	answered := make(chan error, 1)
	go func() { answered <- get(third) }()
	select {
	case err := <-answered:
		t.Fatalf("third connection served while two are open (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	held[0].Close()
	if err := <-answered; err != nil {
		t.Fatalf("third connection after one closed: %v", err)
	}
}

func TestShutdownBeforeServe(t *testing.T) {
	f := parse(t, "127.0.0.1:0")
	s, err := Listen(f, "127.0.0.1:0", okHandler, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", s.Addr().String()); err == nil {
		t.Fatal("listener still open after Shutdown")
	}
}

// HTTP/2 is served over TLS unless http_server_config.http2 is false (exporter-toolkit's
// default is true).
func TestWebConfigHTTP2(t *testing.T) {
	for _, tc := range []struct {
		extra string
		proto int
	}{{"", 2}, {"http_server_config:\n  http2: false\n", 1}} {
		files := servertest.WriteConfig(t, servertest.Options{TLS: true, Extra: tc.extra})
		_, addr := serve(t, okHandler, "--web.config.file="+files.WebConfig)
		client := files.Client(t, false)
		client.Transport.(*http.Transport).ForceAttemptHTTP2 = true
		resp, err := client.Get("https://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != tc.proto {
			t.Errorf("web config %q: %s, want HTTP/%d", tc.extra, resp.Proto, tc.proto)
		}
	}
}
