package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// notification is the part of a webhook (version 4) payload the tests look at.
type notification struct {
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	GroupKey string `json:"groupKey"`
	Alerts   []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// sink is a webhook receiver that records every notification and when it arrived.
type sink struct {
	srv *httptest.Server
	url string
	mu  sync.Mutex
	got []notification
	at  []time.Time
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var n notification
	if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, n)
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
}

// newSink serves the sink on a loopback port.
func newSink(t *testing.T) *sink {
	s := &sink{}
	s.srv = httptest.NewServer(s)
	s.url = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// newPipeSink serves the sink over in-memory connections (net.Pipe), for tests in a synctest
// bubble, where goroutines must not wait on real sockets. Notifiers reach it through the
// returned HTTP client option.
func newPipeSink(t *testing.T) (*sink, commoncfg.HTTPClientOption) {
	s := &sink{}
	var dial commoncfg.HTTPClientOption
	s.url, dial = servePipe(t, s)
	return s, dial
}

// servePipe serves h over in-memory connections until the test ends and returns its URL and
// the HTTP client option that dials it.
func servePipe(t *testing.T, h http.Handler) (string, commoncfg.HTTPClientOption) {
	l := &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://sink.test", commoncfg.WithDialContextFunc(l.dial)
}

// pipeListener hands the server end of a net.Pipe to Accept for every dial.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "sink.test:80" }

// times returns when each notification arrived.
func (s *sink) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.at...)
}

func (s *sink) notifications() []notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notification(nil), s.got...)
}

// alertnames lists, sorted, the alertname of every alert in every notification received.
func (s *sink) alertnames() []string {
	var out []string
	for _, n := range s.notifications() {
		for _, a := range n.Alerts {
			out = append(out, a.Labels["alertname"]+"/"+a.Status)
		}
	}
	sort.Strings(out)
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testConfig routes everything to the sink, grouped by alertname, with short timings, and
// inhibits warnings by a critical alert of the same service.
func testConfig(hookURL string) string {
	return fmt.Sprintf(`
global:
  resolve_timeout: 5m
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 500ms
  repeat_interval: 1h
  routes:
  - receiver: hook
    matchers: ['team="db"']
    group_by: [alertname, service]
inhibit_rules:
- source_matchers: ['severity="critical"']
  target_matchers: ['severity="warning"']
  equal: [service]
receivers:
- name: hook
  webhook_configs:
  - url: %s
    send_resolved: true
`, hookURL)
}

func newTestRouter(t testing.TB, dataDir, conf string, cluster ClusterOptions, httpOpts ...commoncfg.HTTPClientOption) *Router {
	t.Helper()
	cfgFile := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(cfgFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{
		ConfigFile: cfgFile,
		DataDir:    dataDir,
		Cluster:    cluster,
		Logger:     slog.New(slog.DiscardHandler),
		Registerer: prometheus.NewRegistry(),

		NotifierHTTPOptions: httpOpts,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func firing(labels ...string) Alert {
	ls := model.LabelSet{}
	for i := 0; i+1 < len(labels); i += 2 {
		ls[model.LabelName(labels[i])] = model.LabelValue(labels[i+1])
	}
	return Alert{Labels: ls, Annotations: model.LabelSet{"summary": "test"}}
}

func addSilence(t *testing.T, r *Router, name, value string) string {
	t.Helper()
	now := time.Now()
	sil := &silencepb.Silence{
		Matchers:  []*silencepb.Matcher{{Type: silencepb.Matcher_EQUAL, Name: name, Pattern: value}},
		StartsAt:  timestamppb.New(now),
		EndsAt:    timestamppb.New(now.Add(time.Hour)),
		CreatedBy: "test",
		Comment:   "maintenance",
	}
	if err := r.Silences().Set(context.Background(), sil); err != nil {
		t.Fatalf("setting silence: %v", err)
	}
	return sil.Id
}

// TestPipelineSilenceAndInhibition sends alerts through the in-process intake and checks what
// the receiver gets: a plain alert is delivered, a silenced one and an inhibited one are not.
// It runs in a synctest bubble (fake clock, webhook over net.Pipe): "nothing else was sent"
// holds exactly after the groups' flushes instead of after a wall-clock pause.
func TestPipelineSilenceAndInhibition(t *testing.T) {
	synctest.Test(t, testPipelineSilenceAndInhibition)
}

func testPipelineSilenceAndInhibition(t *testing.T) {
	hook, dial := newPipeSink(t)
	r := newTestRouter(t, t.TempDir(), testConfig(hook.url), ClusterOptions{}, dial)
	defer r.Stop()
	addSilence(t, r, "alertname", "Silenced")

	err := r.Send(context.Background(),
		firing("alertname", "Plain", "service", "api"),
		firing("alertname", "Silenced", "service", "api"),
		firing("alertname", "DBDown", "service", "db", "severity", "critical", "team", "db"),
		firing("alertname", "DBSlow", "service", "db", "severity", "warning", "team", "db"),
	)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	waitFor(t, 5*time.Second, "two notifications", func() bool { return len(hook.notifications()) >= 2 })
	// Give the silenced and inhibited groups time to flush if they were going to.
	time.Sleep(700 * time.Millisecond)
	got := strings.Join(hook.alertnames(), " ")
	if got != "DBDown/firing Plain/firing" {
		t.Fatalf("delivered %q, want only DBDown and Plain", got)
	}
	for _, n := range hook.notifications() {
		if n.Alerts[0].Labels["alertname"] == "DBDown" && n.GroupKey != `{}/{team="db"}:{alertname="DBDown", service="db"}` {
			t.Errorf("DBDown group key = %q", n.GroupKey)
		}
	}

	// Bad input is rejected with the API's validation, valid alerts in the batch still land.
	err = r.Send(context.Background(), Alert{Labels: model.LabelSet{}}, firing("alertname", "Late"))
	if err == nil || !strings.Contains(err.Error(), "at least one label pair required") {
		t.Fatalf("Send with an empty label set: err = %v", err)
	}
	waitFor(t, 5*time.Second, "the valid alert of a mixed batch", func() bool {
		return strings.Contains(strings.Join(hook.alertnames(), " "), "Late/firing")
	})

	// Resolving sends a resolved notification (send_resolved: true).
	if err := r.Send(context.Background(), Alert{Labels: model.LabelSet{"alertname": "Plain", "service": "api"}, StartsAt: time.Now().Add(-time.Minute), EndsAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the resolved notification", func() bool {
		return strings.Contains(strings.Join(hook.alertnames(), " "), "Plain/resolved")
	})
}

// TestRestartDoesNotResend stops a router after it notified, starts a new one on the same data
// directory and sends the same alert again: within repeat_interval nothing is sent again,
// and the silence created before the restart still holds.
// It runs in a synctest bubble (fake clock, webhook over net.Pipe).
func TestRestartDoesNotResend(t *testing.T) {
	synctest.Test(t, testRestartDoesNotResend)
}

func testRestartDoesNotResend(t *testing.T) {
	hook, dial := newPipeSink(t)
	dir := t.TempDir()
	conf := testConfig(hook.url)

	r1 := newTestRouter(t, dir, conf, ClusterOptions{}, dial)
	silID := addSilence(t, r1, "alertname", "Silenced")
	if err := r1.Send(context.Background(), firing("alertname", "Persistent", "service", "api")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the first notification", func() bool { return len(hook.notifications()) == 1 })
	r1.Stop()
	for _, f := range []string{"nflog", "silences"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Fatalf("snapshot %s after Stop: %v", f, err)
		}
	}

	r2 := newTestRouter(t, dir, conf, ClusterOptions{}, dial)
	defer r2.Stop()
	if err := r2.Send(context.Background(), firing("alertname", "Persistent", "service", "api"), firing("alertname", "Silenced")); err != nil {
		t.Fatal(err)
	}
	// group_wait (100ms) and a group_interval (500ms) pass: the dedup stage must find the
	// notification log entry from before the restart.
	time.Sleep(1200 * time.Millisecond)
	if n := len(hook.notifications()); n != 1 {
		t.Fatalf("notifications after restart = %d (%v), want still 1", n, hook.alertnames())
	}
	sils, _, err := r2.Silences().Query(context.Background())
	if err != nil || len(sils) != 1 || sils[0].Id != silID {
		t.Fatalf("silences after restart = %v, %v; want %s", sils, err, silID)
	}
}

// TestReloadKeepsRunningConfigOnError applies a broken file and checks the old config stays.
func TestReloadKeepsRunningConfigOnError(t *testing.T) {
	hook := newSink(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(cfgFile, []byte(testConfig(hook.srv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{ConfigFile: cfgFile, DataDir: filepath.Join(dir, "data"), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	before := r.Config()
	tests := []struct{ name, content, wantErr string }{
		{"undefined receiver", "route: {receiver: nope}\nreceivers: [{name: hook}]\n", `undefined receiver "nope"`},
		{"bad yaml", "route: [\n", "yaml"},
		{"unknown field", "route: {receiver: hook}\nreceivers: [{name: hook}]\nbogus: 1\n", "field bogus not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(cfgFile, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			err := r.Reload()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Reload err = %v, want %q", err, tc.wantErr)
			}
			if r.Config() != before {
				t.Fatal("running config replaced by a failed reload")
			}
		})
	}
	// A good file replaces it, and alerts keep flowing through the new dispatcher.
	if err := os.WriteFile(cfgFile, []byte(strings.Replace(testConfig(hook.srv.URL), "group_wait: 100ms", "group_wait: 50ms", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err != nil {
		t.Fatalf("good reload: %v", err)
	}
	if r.Config() == before || time.Duration(*r.Config().Route.GroupWait) != 50*time.Millisecond {
		t.Fatal("good reload not applied")
	}
	if err := r.Send(context.Background(), firing("alertname", "AfterReload")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a notification after reload", func() bool { return len(hook.notifications()) == 1 })
}

// TestDefaultConfig checks the embedded default loads and routes to a receiver without
// integrations.
func TestDefaultConfig(t *testing.T) {
	r, err := New(Options{DataDir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	if got := r.Config().Route.Receiver; got != "default" {
		t.Fatalf("default receiver = %q", got)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestHASendsOnce runs two clustered routers on loopback that receive the same alerts, as two
// Prometheus servers would send them to both; the receiver must get one notification per group.
func TestHASendsOnce(t *testing.T) {
	hook := newSink(t)
	conf := testConfig(hook.srv.URL)
	addrA, addrB := freeAddr(t), freeAddr(t)
	opts := func(listen, peer string) ClusterOptions {
		return ClusterOptions{
			ListenAddress: listen, AdvertiseAddress: listen, Peers: []string{peer},
			PeerTimeout: 2 * time.Second, GossipInterval: 50 * time.Millisecond,
			PushPullInterval: time.Second, SettleTimeout: 500 * time.Millisecond,
		}
	}
	a := newTestRouter(t, t.TempDir(), conf, opts(addrA, addrB))
	defer a.Stop()
	b := newTestRouter(t, t.TempDir(), conf, opts(addrB, addrA))
	defer b.Stop()
	waitFor(t, 10*time.Second, "the two peers to see each other", func() bool {
		return a.peer.ClusterSize() == 2 && b.peer.ClusterSize() == 2
	})

	// Silences gossip too: one created on a is enforced by b.
	addSilence(t, a, "alertname", "Silenced")
	waitFor(t, 5*time.Second, "the silence to reach b", func() bool {
		s, _, _ := b.Silences().Query(context.Background())
		return len(s) == 1
	})

	batch := []Alert{firing("alertname", "GroupOne", "service", "api"), firing("alertname", "GroupTwo", "service", "web"), firing("alertname", "Silenced")}
	for _, r := range []*Router{a, b} {
		if err := r.Send(context.Background(), batch...); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "both groups notified", func() bool { return len(hook.notifications()) >= 2 })
	// The second peer waits one peer_timeout (2s) before its own attempt; wait past that.
	time.Sleep(3 * time.Second)
	if got := strings.Join(hook.alertnames(), " "); got != "GroupOne/firing GroupTwo/firing" {
		t.Fatalf("HA pair delivered %q, want each group once and the silenced one never", got)
	}
}
