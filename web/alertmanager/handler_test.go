package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commonversion "github.com/prometheus/common/version"

	"github.com/vigil-monitoring/vigil/routing"
)

// hookSink records the alertnames of every webhook notification.
type hookSink struct {
	mu    sync.Mutex
	names []string
}

func (s *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Alerts []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range p.Alerts {
		s.names = append(s.names, a.Labels["alertname"]+"/"+a.Status)
	}
}

func (s *hookSink) delivered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]string(nil), s.names...)
	sort.Strings(out)
	return out
}

const testConfigFmt = `
global:
  resolve_timeout: 5m
  slack_api_url: https://hooks.slack.com/services/T0/B0/SECRETPART
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 500ms
  repeat_interval: 1h
  routes:
  - receiver: db-pager
    matchers: ['team="db"']
    continue: true
  - receiver: hook
    matchers: ['team="db"']
inhibit_rules:
- source_matchers: ['severity="critical"']
  target_matchers: ['severity="warning"']
  equal: [service]
receivers:
- name: hook
  webhook_configs:
  - url: %s
    send_resolved: false
- name: db-pager
  pagerduty_configs:
  - routing_key: SUPERSECRETKEY
    url: %s
`

// server starts a router and serves this package's handler the way cmd/server mounts it.
func server(t *testing.T) (*httptest.Server, *hookSink, *routing.Router) {
	t.Helper()
	sink := &hookSink{}
	hook := httptest.NewServer(sink)
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(testConfigFmt, hook.URL+"/hook/TOKEN123", hook.URL+"/pd")), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r, err := routing.New(routing.Options{ConfigFile: cfg, DataDir: filepath.Join(dir, "data"), Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	h, err := New(r, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	return serveAPI(t, h), sink, r
}

// serveAPI serves h on a loopback server as cmd/server mounts it; the server stops with the
// test.
func serveAPI(tb testing.TB, h *Handler) *httptest.Server {
	tb.Helper()
	mux := http.NewServeMux()
	mux.Handle("/api/v2/", h)
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv
}

// amtoolPath finds Debian's amtool; outside CI a missing binary skips, in CI it fails.
func amtoolPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("amtool")
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("amtool not found (Debian prometheus-alertmanager; scripts/deps.sh installs it)")
	}
	t.Skip("amtool not found: install Debian prometheus-alertmanager (scripts/deps.sh)")
	return ""
}

func amtool(t *testing.T, bin, url string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--alertmanager.url=" + url}, args...)...)
	// stderr carries amtool's version-mismatch warning; failures report it.
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

func mustAmtool(t *testing.T, bin, url string, args ...string) string {
	t.Helper()
	out, err := amtool(t, bin, url, args...)
	if err != nil {
		t.Fatalf("amtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestAmtool drives the API with the real amtool: alerts, silences, config and routing, and
// checks delivery — a silenced alert and an inhibited alert are not delivered.
func TestAmtool(t *testing.T) {
	bin := amtoolPath(t)
	srv, sink, _ := server(t)
	u := srv.URL

	// config show: the running config, secrets masked.
	out := mustAmtool(t, bin, u, "config", "show")
	if !strings.Contains(out, "routing_key: <secret>") || !strings.Contains(out, "/<secret>") ||
		strings.Contains(out, "SUPERSECRETKEY") || strings.Contains(out, "SECRETPART") || strings.Contains(out, "TOKEN123") {
		t.Errorf("config show does not mask secrets:\n%s", out)
	}
	if !strings.Contains(out, "receiver: db-pager") {
		t.Errorf("config show lacks the route tree:\n%s", out)
	}

	// config routes test: routing decided from the served config.
	tests := []struct {
		labels []string
		want   string
	}{
		{[]string{"alertname=X"}, "hook"},
		{[]string{"alertname=X", "team=db"}, "db-pager,hook"},
	}
	for _, tc := range tests {
		out := mustAmtool(t, bin, u, append([]string{"config", "routes", "test"}, tc.labels...)...)
		if strings.TrimSpace(out) != tc.want {
			t.Errorf("routes test %v = %q, want %q", tc.labels, strings.TrimSpace(out), tc.want)
		}
	}
	if out, err := amtool(t, bin, u, "config", "routes", "test", "--verify.receivers=nope", "alertname=X"); err == nil {
		t.Errorf("routes test with a wrong expected receiver succeeded:\n%s", out)
	}

	// silence add / query.
	silID := strings.TrimSpace(mustAmtool(t, bin, u, "silence", "add", "alertname=Silenced", "--comment=maintenance", "--author=test", "--duration=1h"))
	if len(silID) != 36 {
		t.Fatalf("silence add printed %q, want an id", silID)
	}
	out = mustAmtool(t, bin, u, "silence", "query", "-o", "json")
	var sils []struct {
		ID        string `json:"id"`
		CreatedBy string `json:"createdBy"`
		Status    struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &sils); err != nil || len(sils) != 1 || sils[0].ID != silID || sils[0].Status.State != "active" || sils[0].CreatedBy != "test" {
		t.Fatalf("silence query = %s (%v)", out, err)
	}

	// alert add: plain, silenced, and an inhibited warning under a critical of the same service.
	for _, a := range [][]string{
		{"alertname=Plain", "service=api"},
		{"alertname=Silenced", "service=api"},
		{"alertname=DBDown", "service=db", "severity=critical"},
		{"alertname=DBSlow", "service=db", "severity=warning"},
	} {
		mustAmtool(t, bin, u, append([]string{"alert", "add", "--annotation=summary=test"}, a...)...)
	}
	out = mustAmtool(t, bin, u, "alert", "query", "-o", "json")
	var alerts []struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.Unmarshal([]byte(out), &alerts); err != nil {
		t.Fatalf("alert query: %v\n%s", err, out)
	}
	// amtool's default query hides silenced and inhibited alerts.
	var names []string
	for _, a := range alerts {
		names = append(names, a.Labels["alertname"])
	}
	sort.Strings(names)
	if got := strings.Join(names, ","); got != "DBDown,Plain" {
		t.Errorf("alert query (active only) = %s, want DBDown,Plain", got)
	}
	// With state flags amtool asks for exactly those states (filters active, silenced, inhibited).
	for _, tc := range []struct{ flag, want string }{
		{"--inhibited", "DBSlow"}, {"--silenced", "Silenced"}, {"--active", "DBDown,Plain"},
	} {
		out = mustAmtool(t, bin, u, "alert", "query", tc.flag, "-o", "json")
		if err := json.Unmarshal([]byte(out), &alerts); err != nil {
			t.Fatalf("alert query %s: %v\n%s", tc.flag, err, out)
		}
		names = names[:0]
		for _, a := range alerts {
			names = append(names, a.Labels["alertname"])
		}
		sort.Strings(names)
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("alert query %s = %s, want %s", tc.flag, got, tc.want)
		}
	}

	deadline := time.Now().Add(5 * time.Second)
	for len(sink.delivered()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(700 * time.Millisecond) // let the muted groups pass their flush
	if got := strings.Join(sink.delivered(), " "); got != "DBDown/firing Plain/firing" {
		t.Errorf("delivered %q, want DBDown and Plain only", got)
	}

	// silence expire, then the query shows it expired.
	mustAmtool(t, bin, u, "silence", "expire", silID)
	out = mustAmtool(t, bin, u, "silence", "query", "--expired", "-o", "json")
	if err := json.Unmarshal([]byte(out), &sils); err != nil || len(sils) != 1 || sils[0].Status.State != "expired" {
		t.Errorf("silence query --expired = %s (%v)", out, err)
	}
	if out, err := amtool(t, bin, u, "silence", "add", "alertname=x", "instance=~(", "--comment=x"); err == nil {
		t.Errorf("silence add with an invalid regexp succeeded:\n%s", out)
	}
}

// TestAPIErrors checks Alertmanager's status codes and messages for bad input.
func TestAPIErrors(t *testing.T) {
	srv, _, _ := server(t)
	now := time.Now().UTC()
	tests := []struct {
		name, method, path, body string
		wantCode                 int
		wantBody                 string
	}{
		{"end before start", "POST", "/api/v2/silences", fmt.Sprintf(`{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":%q,"endsAt":%q,"createdBy":"t","comment":"c"}`, now.Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339)), 400, "start time must be before end time"},
		{"invalid matcher", "POST", "/api/v2/silences", fmt.Sprintf(`{"matchers":[{"name":"a","value":"(","isRegex":true}],"startsAt":%q,"endsAt":%q,"createdBy":"t","comment":"c"}`, now.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339)), 400, "error parsing regexp"},
		{"unknown silence id", "GET", "/api/v2/silence/00000000-0000-0000-0000-000000000000", "", 404, ""},
		{"delete unknown silence", "DELETE", "/api/v2/silence/00000000-0000-0000-0000-000000000000", "", 404, ""},
		{"alert without labels", "POST", "/api/v2/alerts", `[{"labels":{}}]`, 400, "at least one label pair required"},
		{"bad filter", "GET", "/api/v2/alerts?filter=foo", "", 400, "bad matcher format"},
		{"explain without labels", "GET", ExplainPath, "", 400, "at least one label is required"},
		{"explain repeated label", "GET", ExplainPath + "?a=1&a=2", "", 400, `label \"a\" given 2 times`},
		{"explain", "GET", ExplainPath + "?alertname=X&team=db", "", 200, `"receiver":"db-pager","matchers":["team=\"db\""],"groupBy":["alertname"],"groupKey":"{}/{team=\"db\"}:{alertname=\"X\"}"`},
		{"status masks secrets", "GET", "/api/v2/status", "", 200, `routing_key: \u003csecret\u003e`},
		{"receivers", "GET", "/api/v2/receivers", "", 200, `{"name":"db-pager"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantCode || !strings.Contains(string(b), tc.wantBody) {
				t.Errorf("%s %s = %d %s, want %d containing %q", tc.method, tc.path, resp.StatusCode, b, tc.wantCode, tc.wantBody)
			}
		})
	}
}

// /api/v2/status reports the Alertmanager release whose API it serves as versionInfo.version
// (what amtool compares with its own) and Vigil's build in the other fields.
func TestStatusVersionInfo(t *testing.T) {
	saved := APIVersion
	defer func() { APIVersion = saved }()
	APIVersion = "0.34.2"
	srv, _, _ := server(t)
	resp, err := http.Get(srv.URL + "/api/v2/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		VersionInfo map[string]string `json:"versionInfo"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"version": "0.34.2", "revision": commonversion.Revision, "branch": commonversion.Branch,
		"buildUser": commonversion.BuildUser, "buildDate": commonversion.BuildDate, "goVersion": commonversion.GoVersion,
	}
	if !maps.Equal(body.VersionInfo, want) {
		t.Errorf("versionInfo %v, want %v", body.VersionInfo, want)
	}
}
