package notify

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/common/model"
)

// TestWebhookVersion4 checks Alertmanager's webhook JSON (version 4) and that max_alerts cuts
// the list while truncatedAlerts counts the rest.
func TestWebhookVersion4(t *testing.T) {
	type payload struct {
		Version         string            `json:"version"`
		GroupKey        string            `json:"groupKey"`
		TruncatedAlerts int               `json:"truncatedAlerts"`
		Status          string            `json:"status"`
		Receiver        string            `json:"receiver"`
		GroupLabels     map[string]string `json:"groupLabels"`
		CommonLabels    map[string]string `json:"commonLabels"`
		ExternalURL     string            `json:"externalURL"`
		Alerts          []struct {
			Status      string            `json:"status"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			Fingerprint string            `json:"fingerprint"`
		} `json:"alerts"`
	}
	var (
		mu  sync.Mutex
		got []payload
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Errorf("decoding: %v", err)
		}
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}))
	defer srv.Close()

	ints := loadIntegrations(t, `
route: {receiver: test}
receivers:
- name: test
  webhook_configs:
  - url: `+srv.URL+`/hook
    max_alerts: 2
`)
	var alerts []*types.Alert
	for _, inst := range []string{"a", "b", "c"} {
		a := testAlert(false)
		a.Labels = a.Labels.Clone()
		a.Labels["instance"] = model.LabelValue(inst)
		a.EndsAt = time.Now().Add(time.Hour)
		alerts = append(alerts, a)
	}
	if retry, err := ints[0].Notify(groupCtx(t), alerts...); err != nil || retry {
		t.Fatalf("Notify: retry=%v err=%v", retry, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("requests = %d", len(got))
	}
	p := got[0]
	if p.Version != "4" || p.GroupKey != testGroupKey || p.Status != "firing" || p.Receiver != "test" {
		t.Errorf("header = %+v", p)
	}
	if p.TruncatedAlerts != 1 || len(p.Alerts) != 2 {
		t.Errorf("truncatedAlerts=%d alerts=%d, want 1 and 2", p.TruncatedAlerts, len(p.Alerts))
	}
	if p.GroupLabels["alertname"] != "HighLatency" || p.CommonLabels["service"] != "api" || p.ExternalURL != "http://vigil.example:9090" {
		t.Errorf("labels/url = %v %v %q", p.GroupLabels, p.CommonLabels, p.ExternalURL)
	}
	if p.Alerts[0].Labels["instance"] != "a" || p.Alerts[0].Annotations["summary"] != "p99 latency above 1s" || p.Alerts[0].Fingerprint == "" {
		t.Errorf("first alert = %+v", p.Alerts[0])
	}
}
