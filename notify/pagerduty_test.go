package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestPagerDutyEventsV2 checks the Events API v2 request: routing key, trigger then resolve
// with the same dedup key (the SHA-256 of the group key), and the payload fields from config.
func TestPagerDutyEventsV2(t *testing.T) {
	type event struct {
		RoutingKey  string `json:"routing_key"`
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
		Client      string `json:"client"`
		ClientURL   string `json:"client_url"`
		Payload     struct {
			Summary       string         `json:"summary"`
			Source        string         `json:"source"`
			Severity      string         `json:"severity"`
			Class         string         `json:"class"`
			Component     string         `json:"component"`
			Group         string         `json:"group"`
			CustomDetails map[string]any `json:"custom_details"`
		} `json:"payload"`
		Links  []map[string]string `json:"links"`
		Images []map[string]string `json:"images"`
	}
	var (
		mu     sync.Mutex
		events []event
		status = http.StatusAccepted
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		var e event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			t.Errorf("decoding: %v", err)
		}
		mu.Lock()
		events = append(events, e)
		s := status
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s)
		if s == http.StatusAccepted {
			io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"`+e.DedupKey+`"}`)
		} else {
			io.WriteString(w, `{"status":"invalid event","message":"Event object is invalid","errors":["x"]}`)
		}
	}))
	defer srv.Close()

	ints := loadIntegrations(t, `
route: {receiver: test}
receivers:
- name: test
  pagerduty_configs:
  - routing_key: R0UT1NGKEY
    url: `+srv.URL+`/v2/enqueue
    severity: '{{ .CommonLabels.severity }}'
    class: latency
    component: '{{ .CommonLabels.service }}'
    group: backend
    details:
      runbook: 'https://runbooks.example/{{ .GroupLabels.alertname }}'
    links:
    - href: 'https://dash.example/{{ .CommonLabels.service }}'
      text: dashboard
    images:
    - src: 'https://img.example/graph.png'
      alt: graph
`)
	sum := sha256.Sum256([]byte(testGroupKey))
	wantDedup := hex.EncodeToString(sum[:])

	for i, tc := range []struct {
		resolved   bool
		wantAction string
	}{{false, "trigger"}, {true, "resolve"}} {
		if retry, err := ints[0].Notify(groupCtx(t), testAlert(tc.resolved)); err != nil || retry {
			t.Fatalf("%s: retry=%v err=%v", tc.wantAction, retry, err)
		}
		mu.Lock()
		e := events[i]
		mu.Unlock()
		if e.RoutingKey != "R0UT1NGKEY" || e.EventAction != tc.wantAction || e.DedupKey != wantDedup {
			t.Errorf("%s: key/action/dedup = %q/%q/%q", tc.wantAction, e.RoutingKey, e.EventAction, e.DedupKey)
		}
		p := e.Payload
		wantSummary := "[FIRING:1] HighLatency (api page)"
		if tc.resolved {
			wantSummary = "[RESOLVED] HighLatency (api page)"
		}
		if p.Summary != wantSummary || p.Severity != "page" || p.Class != "latency" || p.Component != "api" || p.Group != "backend" {
			t.Errorf("%s: payload = %+v", tc.wantAction, p)
		}
		if p.Source != "Alertmanager" || e.Client != "Alertmanager" || e.ClientURL != "http://vigil.example:9090/#/alerts?receiver=test" {
			t.Errorf("%s: source/client/client_url = %q/%q/%q", tc.wantAction, p.Source, e.Client, e.ClientURL)
		}
		if p.CustomDetails["runbook"] != "https://runbooks.example/HighLatency" || p.CustomDetails["num_firing"] == nil {
			t.Errorf("%s: custom_details = %v", tc.wantAction, p.CustomDetails)
		}
		if len(e.Links) != 1 || e.Links[0]["href"] != "https://dash.example/api" || len(e.Images) != 1 || e.Images[0]["src"] != "https://img.example/graph.png" {
			t.Errorf("%s: links/images = %v / %v", tc.wantAction, e.Links, e.Images)
		}
	}

	for _, tc := range []struct {
		status    int
		wantRetry bool
	}{{http.StatusBadRequest, false}, {http.StatusTooManyRequests, true}, {http.StatusBadGateway, true}} {
		mu.Lock()
		status = tc.status
		mu.Unlock()
		retry, err := ints[0].Notify(groupCtx(t), testAlert(false))
		if err == nil || retry != tc.wantRetry {
			t.Errorf("status %d: retry=%v err=%v, want retry=%v", tc.status, retry, err, tc.wantRetry)
		}
	}
}

// TestPagerDutyEventsV1 checks the generic events API v1 form (service_key, incident_key).
func TestPagerDutyEventsV1(t *testing.T) {
	type event struct {
		ServiceKey  string         `json:"service_key"`
		EventType   string         `json:"event_type"`
		IncidentKey string         `json:"incident_key"`
		Description string         `json:"description"`
		Client      string         `json:"client"`
		Details     map[string]any `json:"details"`
	}
	var (
		mu     sync.Mutex
		events []event
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/generic/2010-04-15/create_event.json" {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		}
		var e event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			t.Errorf("decoding: %v", err)
		}
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
		io.WriteString(w, `{"status":"success","message":"Event processed","incident_key":"`+e.IncidentKey+`"}`)
	}))
	defer srv.Close()

	ints := loadIntegrations(t, `
route: {receiver: test}
receivers:
- name: test
  pagerduty_configs:
  - service_key: SERVICEKEY1
    url: `+srv.URL+`/v2/enqueue
`)
	sum := sha256.Sum256([]byte(testGroupKey))
	for i, resolved := range []bool{false, true} {
		if retry, err := ints[0].Notify(groupCtx(t), testAlert(resolved)); err != nil || retry {
			t.Fatalf("retry=%v err=%v", retry, err)
		}
		mu.Lock()
		e := events[i]
		mu.Unlock()
		want := "trigger"
		if resolved {
			want = "resolve"
		}
		if e.ServiceKey != "SERVICEKEY1" || e.EventType != want || e.IncidentKey != hex.EncodeToString(sum[:]) {
			t.Errorf("event %d = %+v", i, e)
		}
		if !resolved && (e.Client != "Alertmanager" || e.Description != "[FIRING:1] HighLatency (api page)") {
			t.Errorf("trigger client/description = %q/%q", e.Client, e.Description)
		}
		if e.Details["num_firing"] == nil {
			t.Errorf("details = %v", e.Details)
		}
	}
}
