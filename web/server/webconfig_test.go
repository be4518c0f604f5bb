package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/vigil-monitoring/vigil/web/server/servertest"
)

// serveToolkit serves h with exporter-toolkit's own web.Serve and the web config at path.
func serveToolkit(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	done := make(chan error, 1)
	go func() {
		done <- toolkitweb.Serve(ln, srv, &toolkitweb.FlagConfig{WebConfigFile: &path}, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("toolkit Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// observed is what a client sees of one request.
type observed struct {
	Failed  bool // no response: the TLS handshake or the connection failed
	Status  int
	Proto   string
	Body    string
	Headers string // every response header but Date
}

func observe(client *http.Client, url string, auth func(*http.Request)) observed {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if auth != nil {
		auth(req)
	}
	resp, err := client.Do(req)
	if err != nil {
		return observed{Failed: true}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var hs []string
	for k, v := range resp.Header {
		if k != "Date" {
			hs = append(hs, k+": "+strings.Join(v, ","))
		}
	}
	slices.Sort(hs)
	return observed{Status: resp.StatusCode, Proto: resp.Proto, Body: string(body), Headers: strings.Join(hs, "; ")}
}

// Vigil's web config handling answers as exporter-toolkit's web.Serve does: the same status
// codes, WWW-Authenticate, configured headers, bodies, protocols and handshake failures, for
// a table of web configs and requests.
func TestWebConfigMatchesToolkit(t *testing.T) {
	users := map[string]string{"alice": "s3cret", "bob": ""}
	headers := "http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n    X-Content-Type-Options: nosniff\n    Strict-Transport-Security: max-age=31536000\n    Content-Security-Policy: default-src 'self'\n"
	configs := []struct {
		name string
		opts servertest.Options
	}{
		{"empty file", servertest.Options{}},
		{"headers only", servertest.Options{Extra: headers}},
		{"users", servertest.Options{Users: users}},
		{"users and headers", servertest.Options{Users: users, Extra: headers}},
		{"rate limit", servertest.Options{Users: users, Extra: "rate_limit:\n  burst: 3\n  interval: 1h\n"}},
		{"TLS", servertest.Options{TLS: true}},
		{"TLS, users, headers", servertest.Options{TLS: true, Users: users, Extra: headers}},
		{"TLS without HTTP/2", servertest.Options{TLS: true, Users: users, Extra: "http_server_config:\n  http2: false\n"}},
		{"TLS 1.3 only", servertest.Options{TLS: true, Extra: "  min_version: TLS13\n"}},
		{"client certificates required", servertest.Options{TLS: true, RequireClientCert: true, Users: users}},
		// Extra lines indented under tls_server_config: WriteConfig writes them right after it
		// when there are no users.
		{"client certificates if given", servertest.Options{TLS: true,
			Extra: "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n"}},
	}
	basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	header := func(v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("Authorization", v) } }
	requests := []struct {
		name string
		auth func(*http.Request)
	}{
		{"no credentials", nil},
		{"unknown user", basic("mallory", "s3cret")},
		{"wrong password", basic("alice", "wrong")},
		{"right credentials", basic("alice", "s3cret")},
		{"right credentials again (cached)", basic("alice", "s3cret")},
		{"empty password", basic("bob", "")},
		{"empty user", basic("", "s3cret")},
		{"not base64", header("Basic !!!")},
		{"bearer", header("Bearer s3cret")},
	}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			opts := cfg.opts
			files := servertest.WriteConfig(t, opts)
			_, vigilAddr := serve(t, okHandler, "--web.config.file="+files.WebConfig)
			toolkitAddr := serveToolkit(t, okHandler, files.WebConfig)
			scheme := "http"
			if opts.TLS {
				scheme = "https"
			}
			for _, withCert := range []bool{false, true} {
				clients := map[string]*http.Client{}
				for _, impl := range []string{"vigil", "toolkit"} {
					c := &http.Client{Timeout: 30 * time.Second}
					if opts.TLS {
						c = files.Client(t, withCert)
						c.Transport.(*http.Transport).ForceAttemptHTTP2 = true
						if cfg.name == "TLS 1.3 only" && !withCert {
							c.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS12
						}
					}
					clients[impl] = c
				}
				for _, rq := range requests {
					v := observe(clients["vigil"], scheme+"://"+vigilAddr+"/metrics", rq.auth)
					k := observe(clients["toolkit"], scheme+"://"+toolkitAddr+"/metrics", rq.auth)
					if v != k {
						t.Errorf("client certificate %v, %s:\nVigil:   %+v\ntoolkit: %+v", withCert, rq.name, v, k)
					}
				}
			}
		})
	}
}

// rewrite replaces the web config in place (same inode), keeping its modification time if
// mtime is not zero: what a fast editor on a file system with coarse timestamps can leave.
func rewrite(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

func bcryptHash(t *testing.T, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// Edits to the web config take effect on the next request, without a restart: a new user, a
// removed user, a changed password, a new header; a file that does not parse is answered 500
// (as by exporter-toolkit) until it is fixed.
func TestWebConfigReload(t *testing.T) {
	files := servertest.WriteConfig(t, servertest.Options{Users: map[string]string{"alice": "a"}})
	s, addr := serve(t, okHandler, "--web.config.file="+files.WebConfig)
	// Check the file on every request: how often it is checked is TestWebConfigCheckInterval's.
	s.webConfig.checkEvery.Store(0)
	path := files.WebConfig
	get := func(user, pass string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	expect := func(step string, want map[[2]string]int) {
		t.Helper()
		for up, code := range want {
			if got := get(up[0], up[1]).StatusCode; got != code {
				t.Errorf("%s: %s:%s answered %d, want %d", step, up[0], up[1], got, code)
			}
		}
	}
	alice, bob, alice2 := bcryptHash(t, "a"), bcryptHash(t, "b"), bcryptHash(t, "a2")
	expect("start", map[[2]string]int{{"alice", "a"}: 200, {"bob", "b"}: 401})

	rewrite(t, path, "basic_auth_users:\n  alice: "+alice+"\n  bob: "+bob+"\n", time.Time{})
	expect("bob added", map[[2]string]int{{"alice", "a"}: 200, {"bob", "b"}: 200})

	rewrite(t, path, "basic_auth_users:\n  bob: "+bob+"\n", time.Time{})
	expect("alice removed", map[[2]string]int{{"alice", "a"}: 401, {"bob", "b"}: 200})

	rewrite(t, path, "basic_auth_users:\n  bob: "+bob+"\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n", time.Time{})
	if h := get("bob", "b").Header.Get("X-Frame-Options"); h != "deny" {
		t.Errorf("header added: X-Frame-Options %q", h)
	}

	rewrite(t, path, "basic_auth_users:\n  bob: [\n", time.Time{})
	expect("broken file", map[[2]string]int{{"bob", "b"}: 500, {"alice", "a"}: 500})
	rewrite(t, path, "basic_auth_users:\n  bobby: "+bob+"\n", time.Time{})
	expect("fixed", map[[2]string]int{{"bobby", "b"}: 200, {"bob", "b"}: 401})
	os.Remove(path)
	expect("file removed", map[[2]string]int{{"bobby", "b"}: 500})

	// Same size, same inode, same mtime: a change within one timestamp tick of the file
	// system. While the mtime is recent the file's bytes are compared.
	now := time.Now()
	rewrite(t, path, "basic_auth_users:\n  alice: "+alice+"\n", now)
	expect("recreated", map[[2]string]int{{"alice", "a"}: 200})
	rewrite(t, path, "basic_auth_users:\n  alice: "+alice2+"\n", now)
	expect("same stat, new password", map[[2]string]int{{"alice", "a"}: 401, {"alice", "a2"}: 200})

	// An old mtime is trusted: the file is not read again while its stat is unchanged ...
	old := now.Add(-time.Hour)
	rewrite(t, path, "basic_auth_users:\n  alice: "+alice+"\n", old)
	expect("old mtime", map[[2]string]int{{"alice", "a"}: 200})
	parses := s.webConfig.parses.Load()
	for range 20 {
		expect("unchanged", map[[2]string]int{{"alice", "a"}: 200})
	}
	if n := s.webConfig.parses.Load() - parses; n != 0 {
		t.Errorf("unchanged file parsed %d more times", n)
	}
	// ... and a file renamed over it (as Kubernetes updates a ConfigMap) is a new inode.
	tmp := filepath.Join(filepath.Dir(path), "web.yml.new")
	rewrite(t, tmp, "basic_auth_users:\n  alice: "+alice2+"\n", old)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expect("renamed over, same size and mtime", map[[2]string]int{{"alice", "a"}: 401, {"alice", "a2"}: 200})
	if n := s.webConfig.parses.Load() - parses; n != 1 {
		t.Errorf("file parsed %d times after one change", n)
	}
}

// The file is checked for changes at most every checkInterval: an edit takes effect on the
// first request checkInterval after the last check, and not before.
func TestWebConfigCheckInterval(t *testing.T) {
	files := servertest.WriteConfig(t, servertest.Options{Users: map[string]string{"alice": "a"}})
	clock := time.Unix(1e9, 0)
	w := newWebConfig(files.WebConfig, slog.New(slog.DiscardHandler))
	w.now, w.epoch = func() time.Time { return clock }, clock
	if v := w.current(); v.err != nil || len(v.cfg.Users) != 1 {
		t.Fatalf("first read: %+v", v)
	}
	rewrite(t, files.WebConfig, "basic_auth_users: {}\n", time.Time{})
	clock = clock.Add(checkInterval - time.Nanosecond)
	if v := w.current(); len(v.cfg.Users) != 1 {
		t.Fatal("file checked before checkInterval passed")
	}
	clock = clock.Add(time.Nanosecond)
	if v := w.current(); v.err != nil || len(v.cfg.Users) != 0 {
		t.Fatalf("edit not seen checkInterval after the check: %+v", v)
	}
	h := &authHandler{config: w, handler: okHandler}
	rewrite(t, files.WebConfig, "basic_auth_users:\n  alice: [\n", time.Time{})
	clock = clock.Add(checkInterval)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("broken file: %d", rec.Code)
	}
}

// TLS settings changed in the file apply to new connections: requiring client certificates
// takes effect without a restart.
func TestWebConfigReloadTLS(t *testing.T) {
	files := servertest.WriteConfig(t, servertest.Options{TLS: true})
	s, addr := serve(t, okHandler, "--web.config.file="+files.WebConfig)
	s.webConfig.checkEvery.Store(0)
	get := func(withCert bool) error {
		c := files.Client(t, withCert)
		c.Transport.(*http.Transport).DisableKeepAlives = true
		resp, err := c.Get("https://" + addr + "/metrics")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(false); err != nil {
		t.Fatal(err)
	}
	rewrite(t, files.WebConfig, "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n", time.Time{})
	if err := get(false); err == nil {
		t.Error("client without a certificate accepted after client certificates became required")
	}
	if err := get(true); err != nil {
		t.Errorf("client with a certificate: %v", err)
	}
}

// discardWriter is a ResponseWriter that keeps nothing but the header map.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// failingListener makes http.Server.Serve return at once.
type failingListener struct{ net.Listener }

func (failingListener) Accept() (net.Conn, error) { return nil, errors.New("no connections here") }

// toolkitHandler returns the handler exporter-toolkit's web.Serve wraps around h: Serve
// installs it in the server before serving, and returns when the listener fails.
func toolkitHandler(b testing.TB, h http.Handler, path string) http.Handler {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	srv := &http.Server{Handler: h}
	toolkitweb.Serve(failingListener{ln}, srv, &toolkitweb.FlagConfig{WebConfigFile: &path}, slog.New(slog.DiscardHandler))
	if srv.Handler == h {
		b.Fatal("web.Serve did not wrap the handler")
	}
	return srv.Handler
}

// BenchmarkWebConfigHandler is the cost per request of the web config's HTTP handling (headers,
// basic auth with a cached bcrypt result) in exporter-toolkit and in Vigil, in process.
func BenchmarkWebConfigHandler(b *testing.B) {
	files := servertest.WriteConfig(b, servertest.Options{TLS: true, Users: map[string]string{"alice": "s3cret", "bob": "b"},
		Extra: "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	f := parse(b, "127.0.0.1:0", "--web.config.file="+files.WebConfig)
	s, err := Listen(f, "127.0.0.1:0", next, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	// An mtime older than the racy window, as a config file's normally is.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(files.WebConfig, old, old)
	for _, impl := range []struct {
		name string
		h    http.Handler
	}{{"toolkit", toolkitHandler(b, next, files.WebConfig)}, {"vigil", s.srv.Handler}} {
		b.Run(impl.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodPost, "/api/v2/alerts", nil)
			req.SetBasicAuth("alice", "s3cret")
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				impl.h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// The file is accepted or refused (500) as by exporter-toolkit's handler, and an accepted
// file sets the same headers: a differential fuzz test of the parser on the toolkit's.
func FuzzWebConfigParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"basic_auth_users:\n  alice: $2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi\n",
		"http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
		"http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
		"http_server_config:\n  headers:\n    Server: vigil\n",
		"http_server_config:\n  http2: false\n  unknown: 1\n",
		"tls_server_config:\n  min_version: TLS11\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
		"tls_server_config:\n  curve_preferences: [X25519, P-1]\n",
		"rate_limit:\n  interval: 1s\n  burst: 0\n",
		"basic_auth_users: [\n",
		"basic_auth_users:\n  a: b\n  a: c\n",
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		f.Fatal(err)
	}
	toolkit := toolkitHandler(f, okHandler, path)
	wc := newWebConfig(path, slog.New(slog.DiscardHandler))
	wc.checkEvery.Store(0)
	vigil := &authHandler{config: wc, handler: okHandler}
	f.Fuzz(func(t *testing.T, content string) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		k, v := httptest.NewRecorder(), httptest.NewRecorder()
		toolkit.ServeHTTP(k, httptest.NewRequest(http.MethodGet, "/", nil))
		vigil.ServeHTTP(v, httptest.NewRequest(http.MethodGet, "/", nil))
		if (k.Code == http.StatusInternalServerError) != (v.Code == http.StatusInternalServerError) {
			t.Fatalf("toolkit %d, Vigil %d for %q", k.Code, v.Code, content)
		}
		if v.Code == http.StatusTooManyRequests {
			// A rate_limit edited into the file: Vigil applies it, the toolkit reads it only
			// at start-up.
			return
		}
		for name := range extraHTTPHeaders {
			if k.Header().Get(name) != v.Header().Get(name) {
				t.Fatalf("%s: toolkit %q, Vigil %q for %q", name, k.Header().Get(name), v.Header().Get(name), content)
			}
		}
	})
}
