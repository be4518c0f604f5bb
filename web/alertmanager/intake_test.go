package alertmanager

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/routing"
)

// TestPostAlertsMatchesUpstream sends each body both through Vigil's fast path and straight to
// the upstream handler, and requires the same status and body.
func TestPostAlertsMatchesUpstream(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(cfg, []byte("route: {receiver: r}\nreceivers: [{name: r}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r, err := routing.New(routing.Options{ConfigFile: cfg, DataDir: filepath.Join(dir, "data"), Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	h, err := New(r, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	tests := []struct {
		name, contentType, body string
		wantCode                int
	}{
		{"one firing", "application/json", `[{"labels":{"alertname":"A"}}]`, 200},
		{"batch with times and url", "application/json; charset=utf-8", fmt.Sprintf(`[{"labels":{"alertname":"B","i":"1"},"annotations":{"s":"x"},"startsAt":%q,"endsAt":%q,"generatorURL":"http://prom:9090/graph?g0.expr=up"},{"labels":{"alertname":"B","i":"2"}}]`, ts(-time.Hour), ts(time.Hour)), 200},
		{"resolved", "application/json", fmt.Sprintf(`[{"labels":{"alertname":"C"},"startsAt":%q,"endsAt":%q}]`, ts(-time.Hour), ts(-time.Minute)), 200},
		{"empty label value dropped", "application/json", `[{"labels":{"alertname":"D","gone":""}}]`, 200},
		{"date without fraction", "application/json", `[{"labels":{"alertname":"E"},"startsAt":"2026-01-02T03:04:05Z"}]`, 200},
		{"missing labels", "application/json", `[{"annotations":{"a":"b"}}]`, 422},
		{"null labels", "application/json", `[{"labels":null}]`, 422},
		{"only empty labels", "application/json", `[{"labels":{"a":""}}]`, 400},
		{"end before start", "application/json", fmt.Sprintf(`[{"labels":{"alertname":"F"},"startsAt":%q,"endsAt":%q}]`, ts(0), ts(-time.Hour)), 400},
		{"mixed valid and invalid", "application/json", fmt.Sprintf(`[{"labels":{"alertname":"G"}},{"labels":{"alertname":"H"},"startsAt":%q,"endsAt":%q}]`, ts(0), ts(-time.Hour)), 400},
		{"bad date", "application/json", `[{"labels":{"alertname":"I"},"startsAt":"yesterday"}]`, 400},
		{"bad generator url", "application/json", `[{"labels":{"alertname":"J"},"generatorURL":"::not a url"}]`, 422},
		{"not an array", "application/json", `{"labels":{"alertname":"K"}}`, 400},
		{"empty array", "application/json", `[]`, 200},
		{"truncated json", "application/json", `[{"labels":`, 400},
		{"wrong content type", "text/plain", `[{"labels":{"alertname":"L"}}]`, 415},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			do := func(handler http.Handler) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, "/api/v2/alerts", strings.NewReader(tc.body))
				req.Header.Set("Content-Type", tc.contentType)
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				return rec
			}
			fb := h.fallbacks.Load()
			ours, theirs := do(h), do(h.api)
			// Valid batches take the fast path; everything else is upstream's to answer.
			if fast := h.fallbacks.Load() == fb; fast != (tc.wantCode == 200 && tc.body != "[]") {
				t.Errorf("fast path taken = %v", fast)
			}
			if ours.Code != theirs.Code || ours.Body.String() != theirs.Body.String() {
				t.Fatalf("vigil %d %q, upstream %d %q", ours.Code, ours.Body, theirs.Code, theirs.Body)
			}
			if ours.Code != tc.wantCode {
				t.Errorf("status %d %q, want %d", ours.Code, ours.Body, tc.wantCode)
			}
			if ours.Header().Get("Cache-Control") != theirs.Header().Get("Cache-Control") {
				t.Errorf("Cache-Control %q vs upstream %q", ours.Header().Get("Cache-Control"), theirs.Header().Get("Cache-Control"))
			}
		})
	}

	// The fast path counts into upstream's alertmanager_alerts_received_total.
	before := testutil.ToFloat64(h.received.firing)
	req := httptest.NewRequest(http.MethodPost, "/api/v2/alerts", strings.NewReader(`[{"labels":{"alertname":"M"}},{"labels":{"alertname":"N"}}]`))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got := testutil.ToFloat64(h.received.firing) - before; got != 2 {
		t.Errorf("received firing counter went up by %v, want 2", got)
	}
	if n, err := testutil.GatherAndCount(reg, "alertmanager_alerts_received_total"); err != nil || n != 2 {
		t.Errorf("alertmanager_alerts_received_total series = %d (%v), want 2 (firing, resolved)", n, err)
	}
	a, err := r.Alerts().Get(model.LabelSet{"alertname": "D"}.Fingerprint())
	if err != nil || len(a.Labels) != 1 {
		t.Errorf("alert D = %v (%v), want the empty label dropped", a, err)
	}
}

// TestPostAlertsReusesBuffers posts alerts one after another, so that each request decodes in
// the buffers (body, generator URL memo) the previous one left in the pool, and requires every
// stored alert to keep its own strings and every generator URL to be judged on its own.
func TestPostAlertsReusesBuffers(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(cfg, []byte("route: {receiver: r}\nreceivers: [{name: r}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := routing.New(routing.Options{ConfigFile: cfg, DataDir: filepath.Join(dir, "data"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	h, err := New(r, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	post := func(body string) int {
		req := httptest.NewRequest(http.MethodPost, "/api/v2/alerts", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	urls := []struct {
		url  string
		code int
	}{{"http://a/1", 200}, {"::bad", 422}, {"http://a/1", 200}, {"::bad", 422}, {"::bad", 422}, {"http://b/2", 200}}
	for i := 0; i < 40; i++ {
		u := urls[i%len(urls)]
		body := fmt.Sprintf(`[{"labels":{"alertname":"R","i":"%02d"},"annotations":{"s":"x%02d"},"generatorURL":%q}]`, i, i, u.url)
		if code := post(body); code != u.code {
			t.Fatalf("request %d (%s): status %d, want %d", i, u.url, code, u.code)
		}
	}
	for i := 0; i < 40; i++ {
		u := urls[i%len(urls)]
		if u.code != 200 {
			continue
		}
		ls := model.LabelSet{"alertname": "R", "i": model.LabelValue(fmt.Sprintf("%02d", i))}
		a, err := r.Alerts().Get(ls.Fingerprint())
		if err != nil {
			t.Fatalf("alert %d: %v", i, err)
		}
		if !a.Labels.Equal(ls) || a.Annotations["s"] != model.LabelValue(fmt.Sprintf("x%02d", i)) || a.GeneratorURL != u.url {
			t.Errorf("alert %d = %v %v %q", i, a.Labels, a.Annotations, a.GeneratorURL)
		}
	}
}
