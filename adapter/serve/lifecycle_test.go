package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/apiserver/pkg/server/healthz"
)

// testServer runs a Server with a client CA and no cluster, serving api.
type testServer struct {
	s      *Server
	base   string
	admin  tls.Certificate
	bob    tls.Certificate
	cancel context.CancelFunc
	done   chan error
}

func startTestServer(t *testing.T, tweak func(*Options), api http.Handler, before func(*Server)) *testServer {
	t.Helper()
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // not in a cluster
	dir := t.TempDir()
	ca := newCA(t, dir, "client-ca")
	o := NewOptions()
	o.CertDir, o.SkipLookup, o.ClientCAFile = dir, true, ca.file
	if tweak != nil {
		tweak(o)
	}
	s, err := o.New(api)
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{s: s, base: "https://" + ln.Addr().String(), admin: ca.client(t, "alice", "system:masters"), bob: ca.client(t, "bob", "devs"), cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ts.done:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
	})
	return ts
}

func (ts *testServer) get(t *testing.T, path string, cert *tls.Certificate) (int, http.Header, string) {
	t.Helper()
	cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test server with a self-signed certificate
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}, Timeout: 20 * time.Second}
	resp, err := c.Get(ts.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// waitFor polls cond (a condition on the server, not a time margin).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// blockingAPI answers /apis/block only when release is closed, and counts the requests inside.
type blockingAPI struct {
	inside  atomic.Int32
	release chan struct{}
}

func (b *blockingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/apis/block" {
		b.inside.Add(1)
		<-b.release
	}
	_, _ = w.Write([]byte("done"))
}

// /readyz fails until every added check passes, naming the failing check as the generic API
// server does; /healthz and /livez do not wait for them.
func TestReadyzWaitsForChecks(t *testing.T) {
	var discovered atomic.Bool
	ts := startTestServer(t, nil, http.NotFoundHandler(), func(s *Server) {
		if err := s.AddReadyzChecks(healthz.PingHealthz); err == nil {
			t.Error("a second check named ping was accepted")
		}
		if err := s.AddReadyzChecks(healthz.NamedCheck("metric-discovery", func(*http.Request) error {
			if !discovered.Load() {
				return errors.New("metric discovery has not completed yet")
			}
			return nil
		})); err != nil {
			t.Fatal(err)
		}
	})
	code, _, body := ts.get(t, "/readyz?verbose", nil)
	if err := ts.s.AddReadyzChecks(healthz.NamedCheck("late", func(*http.Request) error { return nil })); err == nil {
		t.Error("a check added while serving was accepted")
	}
	if code != http.StatusInternalServerError || !strings.Contains(body, "[-]metric-discovery failed") || !strings.Contains(body, "[+]shutdown ok") {
		t.Fatalf("before discovery: /readyz = %d %q", code, body)
	}
	if code, _, _ := ts.get(t, "/readyz/metric-discovery", &ts.admin); code != http.StatusInternalServerError { // /readyz/<check> is not an always-allowed path
		t.Errorf("before discovery: /readyz/metric-discovery = %d", code)
	}
	for _, p := range []string{"/healthz", "/livez"} {
		if code, _, body := ts.get(t, p, nil); code != http.StatusOK || body != "ok" {
			t.Errorf("before discovery: %s = %d %q", p, code, body)
		}
	}
	discovered.Store(true)
	if code, _, body := ts.get(t, "/readyz", nil); code != http.StatusOK || body != "ok" {
		t.Fatalf("after discovery: /readyz = %d %q", code, body)
	}
}

// Beyond --max-requests-inflight requests are refused at once with 429 and Retry-After: 1,
// except those of system:masters; with the limit off nothing is refused.
func TestMaxRequestsInFlight(t *testing.T) {
	for _, limit := range []int{1, 0} {
		api := &blockingAPI{release: make(chan struct{})}
		ts := startTestServer(t, func(o *Options) { o.MaxRequestsInFlight = limit }, api, nil)
		blocked := make(chan int, 1)
		go func() {
			code, _, _ := ts.get(t, "/apis/block", &ts.admin)
			blocked <- code
		}()
		waitFor(t, "a request in flight", func() bool { return api.inside.Load() == 1 })
		code, h, body := ts.get(t, "/apis/other", &ts.bob)
		switch limit {
		case 1:
			if code != http.StatusTooManyRequests || h.Get("Retry-After") != "1" || !strings.Contains(body, "Too many requests, please try again later.") {
				t.Errorf("limit 1, second request: %d %v %q", code, h, body)
			}
			if code, _, _ := ts.get(t, "/apis/other", &ts.admin); code != http.StatusOK {
				t.Errorf("limit 1, system:masters: %d, want 200", code)
			}
		case 0:
			if code != http.StatusForbidden { // past the limiter, refused by authorization
				t.Errorf("no limit, second request: %d, want 403", code)
			}
		}
		close(api.release)
		if code := <-blocked; code != http.StatusOK {
			t.Errorf("request in flight: %d", code)
		}
	}
	o := NewOptions()
	o.MaxRequestsInFlight = -1
	if _, err := o.New(http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), "--max-requests-inflight can not be negative value") {
		t.Errorf("negative limit: %v", err)
	}
}

// On stop, /readyz fails at once while everything else is served for --shutdown-delay-duration;
// then the listener closes and a request in flight still completes before Serve returns.
func TestShutdownDelayAndDrain(t *testing.T) {
	api := &blockingAPI{release: make(chan struct{})}
	delayOver := make(chan time.Time)
	var asked atomic.Int64
	ts := startTestServer(t, func(o *Options) { o.ShutdownDelayDuration = 70 * time.Second }, api, func(s *Server) {
		s.after = func(d time.Duration) <-chan time.Time { asked.Store(int64(d)); return delayOver }
	})
	if code, _, _ := ts.get(t, "/readyz", nil); code != http.StatusOK {
		t.Fatalf("/readyz before shutdown: %d", code)
	}
	inFlight := make(chan int, 1)
	go func() {
		code, _, _ := ts.get(t, "/apis/block", &ts.admin)
		inFlight <- code
	}()
	waitFor(t, "a request in flight", func() bool { return api.inside.Load() == 1 })

	ts.cancel()
	waitFor(t, "/readyz to fail", func() bool {
		code, _, body := ts.get(t, "/readyz?verbose", nil)
		return code == http.StatusInternalServerError && strings.Contains(body, "[-]shutdown failed")
	})
	if time.Duration(asked.Load()) != 70*time.Second {
		t.Errorf("shutdown delay %v, want 70s", time.Duration(asked.Load()))
	}
	for _, p := range []string{"/healthz", "/livez", "/apis/other"} {
		cert := &ts.admin
		if code, _, _ := ts.get(t, p, cert); code != http.StatusOK {
			t.Errorf("during the shutdown delay: %s = %d, want 200", p, code)
		}
	}
	select {
	case err := <-ts.done:
		t.Fatalf("Serve returned during the shutdown delay: %v", err)
	default:
	}
	delayOver <- time.Now()
	select {
	case err := <-ts.done:
		t.Fatalf("Serve returned with a request in flight: %v", err)
	default:
	}
	close(api.release)
	if code := <-inFlight; code != http.StatusOK {
		t.Errorf("request in flight at shutdown: %d, want 200", code)
	}
	if err := <-ts.done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	ts.done <- nil // for the cleanup
}

// The extension-apiserver-authentication check passes once the ConfigMap was read and the CAs
// it holds are loaded; a cluster without the ConfigMap has nothing to wait for.
func TestAuthConfigMapCheck(t *testing.T) {
	type step struct {
		cm      *corev1.ConfigMap
		err     error
		loaded  bool
		wantErr string
	}
	notFound := apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, authConfigMapName)
	withCA := &corev1.ConfigMap{Data: map[string]string{"client-ca-file": "PEM"}}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"read and loaded", []step{
			{err: errors.New("connection refused"), wantErr: "connection refused"},
			{cm: withCA, wantErr: "client-ca-file of configmap kube-system/extension-apiserver-authentication not loaded yet"},
			{cm: withCA, loaded: true},
			{err: errors.New("connection refused")}, // ready stays ready
		}},
		{"no client CA in the ConfigMap", []step{{cm: &corev1.ConfigMap{Data: map[string]string{"requestheader-allowed-names": "[]"}}}}},
		{"no ConfigMap", []step{{err: notFound}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := &fakeCA{}
			var cur step
			c := &authConfigMapCheck{
				get: func(context.Context) (*corev1.ConfigMap, error) { return cur.cm, cur.err },
				cas: map[string]dynamiccertificates.CAContentProvider{"client-ca-file": ca},
			}
			req, _ := http.NewRequest(http.MethodGet, "/readyz", nil)
			for i, s := range tc.steps {
				cur = s
				ca.loaded = s.loaded
				err := c.Check(req)
				if (err == nil) != (s.wantErr == "") || (err != nil && !strings.Contains(err.Error(), s.wantErr)) {
					t.Errorf("step %d: %v, want %q", i, err, s.wantErr)
				}
			}
		})
	}
}

type fakeCA struct {
	dynamiccertificates.CAContentProvider
	loaded bool
}

func (f *fakeCA) CurrentCABundleContent() []byte {
	if f.loaded {
		return []byte("PEM")
	}
	return nil
}
