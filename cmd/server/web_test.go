package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/web/server/servertest"
)

// childArgsEnv makes the test binary run as vigil with the arguments it holds (JSON), and
// childNofileEnv with that RLIMIT_NOFILE, for tests that need a server in a process of its own.
const (
	childArgsEnv   = "VIGIL_TEST_CHILD_ARGS"
	childNofileEnv = "VIGIL_TEST_CHILD_NOFILE"
)

func TestMain(m *testing.M) {
	if args := os.Getenv(childArgsEnv); args != "" {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if n := os.Getenv(childNofileEnv); n != "" {
			var lim uint64
			fmt.Sscan(n, &lim)
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: lim, Max: lim}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
		os.Args = append([]string{"vigil"}, argv...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// basicAuth adds credentials to every request.
type basicAuth struct {
	user, pass string
	next       http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.pass)
	return b.next.RoundTrip(r)
}

// startSecureServer runs the whole server with a web config of TLS and basic auth (user alice)
// until the test ends; it returns the base URL, the files of the web config and a client that
// trusts the CA and sends alice's credentials.
func startSecureServer(t *testing.T, args ...string) (string, servertest.Files, *http.Client) {
	t.Helper()
	files := servertest.WriteConfig(t, servertest.Options{TLS: true, Users: map[string]string{"alice": "s3cret"}})
	addr := freeAddr(t)
	f, err := parseFlags(append([]string{"--storage.tsdb.path=" + t.TempDir(), "--web.listen-address=" + addr, "--web.enable-lifecycle", "--web.config.file=" + files.WebConfig}, args...))
	if err != nil {
		t.Fatal(err)
	}
	anon := files.Client(t, false)
	client := &http.Client{Transport: basicAuth{"alice", "s3cret", anon.Transport}, Timeout: 30 * time.Second}
	done := make(chan error, 1)
	go func() { done <- run(f, slog.New(slog.DiscardHandler)) }()
	base := "https://" + addr + f.web.RoutePrefix
	base = strings.TrimSuffix(base, "/")
	t.Cleanup(func() {
		if resp, err := client.Post(base+"/-/quit", "", nil); err == nil {
			resp.Body.Close()
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("server did not stop after /-/quit")
		}
	})
	waitUntil(t, "server ready", func() bool {
		select {
		case err := <-done:
			t.Fatalf("server stopped: %v", err)
		default:
		}
		resp, err := client.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base, files, client
}

// With --web.config.file of TLS and basic auth, every path of the one listener — telemetry,
// Prometheus API, Alertmanager API, lifecycle, profiling — answers 401 without credentials
// (POST /api/v2/alerts included: it used to be answered before any authentication), and the
// credentials open them.
func TestWebConfigCoversEveryPath(t *testing.T) {
	base, files, client := startSecureServer(t, "--web.external-url=https://vigil.example/v/")
	if !strings.HasSuffix(base, "/v") {
		t.Fatalf("base %s: route prefix not taken from the external URL", base)
	}
	anon := files.Client(t, false)
	alert := `[{"labels":{"alertname":"Auth","instance":"a"}}]`
	for _, tc := range []struct {
		method, path, body string
		want               int // with credentials
	}{
		{"GET", "/metrics", "", 200},
		{"GET", "/-/healthy", "", 200},
		{"GET", "/-/ready", "", 200},
		{"POST", "/-/reload", "", 200},
		{"GET", "/api/v1/query?query=up", "", 200},
		{"POST", "/api/v1/query", "query=up", 200},
		{"GET", "/api/v1/status/buildinfo", "", 200},
		{"POST", "/api/v2/alerts", alert, 200},
		{"GET", "/api/v2/alerts", "", 200},
		{"GET", "/api/v2/status", "", 200},
		{"GET", "/api/v2/silences", "", 200},
		{"GET", "/federate?match[]=up", "", 200},
		{"GET", "/debug/pprof/", "", 200},
		{"GET", "/query", "", 200},
		{"GET", "/static/app.js", "", 200},
	} {
		do := func(c *http.Client) *http.Response {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, _ := http.NewRequest(tc.method, base+tc.path, body)
			if strings.HasPrefix(tc.body, "[") {
				req.Header.Set("Content-Type", "application/json")
			} else if tc.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.path, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp
		}
		if resp := do(anon); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: %d, want 401", tc.method, tc.path, resp.StatusCode)
		}
		if resp := do(client); resp.StatusCode != tc.want {
			t.Errorf("%s %s with credentials: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
	// The alert posted without credentials was not stored; the one with them was.
	resp, err := client.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	var alerts []json.RawMessage
	json.NewDecoder(resp.Body).Decode(&alerts)
	resp.Body.Close()
	if len(alerts) != 1 {
		t.Fatalf("%d alerts stored, want 1 (the authenticated POST)", len(alerts))
	}
	// GET / outside the prefix redirects into it (after authentication).
	noFollow := &http.Client{Transport: client.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	root := strings.TrimSuffix(base, "/v") + "/"
	if resp, err := noFollow.Get(root); err != nil || resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/v" {
		t.Fatalf("GET /: %v %v", err, resp)
	}
	// Plain HTTP is not served.
	if resp, err := http.Get(strings.Replace(base, "https://", "http://", 1) + "/-/healthy"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP on the TLS listener: %d", resp.StatusCode)
		}
	}
}

func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (Debian %s; scripts/deps.sh installs it)", name, pkg)
	}
	t.Skipf("%s not found: install Debian %s (scripts/deps.sh)", name, pkg)
	return ""
}

func runTool(t *testing.T, env []string, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// promtool and amtool, Debian's, reach a Vigil behind TLS and basic auth with their usual means:
// amtool with --http.config.file, promtool (Debian's 2.42 has no --http.config.file for queries)
// with credentials in the URL and the CA in SSL_CERT_FILE. Without credentials both fail.
func TestPromtoolAndAmtoolWithWebConfig(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	amtool := requireTool(t, "amtool", "prometheus-alertmanager")
	base, files, _ := startSecureServer(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	caEnv := []string{"SSL_CERT_FILE=" + files.CA}

	withCreds := *u
	withCreds.User = url.UserPassword("alice", "s3cret")
	out, err := runTool(t, caEnv, promtool, "query", "instant", withCreds.String(), `vector(42)`)
	if err != nil || !strings.Contains(out, "42") {
		t.Fatalf("promtool query instant with credentials: %v\n%s", err, out)
	}
	if out, err := runTool(t, caEnv, promtool, "query", "instant", base, `vector(42)`); err == nil || !strings.Contains(out, "401") {
		t.Fatalf("promtool query instant without credentials: %v\n%s", err, out)
	}

	httpConfig := filepath.Join(files.Dir, "http.yml")
	if err := os.WriteFile(httpConfig, []byte(fmt.Sprintf("basic_auth:\n  username: alice\n  password: s3cret\ntls_config:\n  ca_file: %s\n", files.CA)), 0o600); err != nil {
		t.Fatal(err)
	}
	am := func(config string, args ...string) (string, error) {
		a := []string{"--alertmanager.url=" + base, "--no-version-check"}
		if config != "" {
			a = append(a, "--http.config.file="+config)
		}
		return runTool(t, nil, amtool, append(a, args...)...)
	}
	if out, err := am(httpConfig, "alert", "add", "alertname=ViaAmtool", "instance=x"); err != nil {
		t.Fatalf("amtool alert add: %v\n%s", err, out)
	}
	out, err = am(httpConfig, "alert", "query", "alertname=ViaAmtool")
	if err != nil || !strings.Contains(out, "ViaAmtool") {
		t.Fatalf("amtool alert query: %v\n%s", err, out)
	}
	if out, err := am(httpConfig, "silence", "add", "alertname=ViaAmtool", "--comment=test", "--author=test", "--duration=1h"); err != nil {
		t.Fatalf("amtool silence add: %v\n%s", err, out)
	}
	caOnly := filepath.Join(files.Dir, "http-noauth.yml")
	if err := os.WriteFile(caOnly, []byte(fmt.Sprintf("tls_config:\n  ca_file: %s\n", files.CA)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := am(caOnly, "alert", "query"); err == nil {
		t.Fatalf("amtool without credentials succeeded:\n%s", out)
	}
}

// Connections that idle or send their requests slowly — more of them than
// --web.max-connections and than the process may open files — must not starve scraping: the
// listener takes at most --web.max-connections of them, the rest wait in the kernel's backlog,
// so descriptors are left for the scrapes. Before, 1,100 such connections exhausted the
// descriptors and every scrape failed (up=0). The server runs in a process of its own with
// RLIMIT_NOFILE lowered.
func TestSlowConnectionsDoNotStarveScrapes(t *testing.T) {
	const (
		nofile   = 200
		maxConns = 40
		siege    = 400
	)
	var scrapes atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scrapes.Add(1)
		// Every scrape dials anew, so that it needs a descriptor of its own.
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "m 1")
	}))
	defer target.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("global: {scrape_interval: 500ms, scrape_timeout: 500ms}\nscrape_configs:\n- job_name: t\n  static_configs: [{targets: [%q]}]\n", strings.TrimPrefix(target.URL, "http://"))), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	args, _ := json.Marshal([]string{"--storage.tsdb.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + addr, "--config.file=" + cfg,
		fmt.Sprintf("--web.max-connections=%d", maxConns), "--log.level=error"})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(args), fmt.Sprintf("%s=%d", childNofileEnv, nofile))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("server stderr:\n%.4000s", stderr.String())
		}
	}()
	base := "http://" + addr
	waitUntil(t, "server ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	waitUntil(t, "first scrapes", func() bool { return scrapes.Load() >= 3 })

	// The siege: idle connections, half-sent headers, bodies that never finish.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range siege {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		switch i % 3 {
		case 1:
			io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n")
		case 2:
			io.WriteString(c, "POST /api/v2/alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[")
		}
	}
	start := scrapes.Load()
	// Wall-clock bound only against a hang; the scrapes are counted, not timed.
	for deadline := time.Now().Add(60 * time.Second); scrapes.Load() < start+8; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d scrapes in 60s of siege: scraping starved", scrapes.Load()-start)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil

	// The scrapes recorded succeeded: up is 1 for (nearly) all of them. A scrape may still time
	// out now and then on a loaded machine (-race, other work); a siege that takes the
	// descriptors fails every one.
	waitUntil(t, "the API after the siege", func() bool {
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(`avg_over_time(up{job="t"}[1m])`))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) != 1 {
			return false
		}
		v, _ := r.Data.Result[0].Value[1].(string)
		var avg float64
		fmt.Sscan(v, &avg)
		if avg < 0.9 {
			t.Fatalf("avg_over_time(up[1m]) = %s: scrapes failed during the siege", v)
		}
		return true
	})
}
