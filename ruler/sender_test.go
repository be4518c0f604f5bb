package ruler

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/routing"
)

func TestSenderToAlertmanager(t *testing.T) {
	bodies := make(chan []postableAlert, 10)
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/am/api/v2/alerts" || r.Method != http.MethodPost {
			http.Error(w, "wrong path "+r.URL.Path, http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var alerts []postableAlert
		if err := json.Unmarshal(b, &alerts); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		bodies <- alerts
	}))
	defer am.Close()
	cfg, err := config.Load(`
global:
  external_labels: {cluster: eu1, team: ext}
alerting:
  alert_relabel_configs:
    - source_labels: [alertname]
      regex: Dropped
      action: drop
  alertmanagers:
    - path_prefix: /am
      timeout: 5s
      static_configs:
        - targets: ['` + strings.TrimPrefix(am.URL, "http://") + `']
      alert_relabel_configs:
        - target_label: via
          replacement: am
`)
	if err != nil {
		t.Fatal(err)
	}
	local := &captureNotifier{}
	reg := prometheus.NewRegistry()
	s := NewSender(local, SenderOptions{Registerer: reg})
	if err := s.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	s.Run()
	defer s.Stop()

	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	err = s.Send(context.Background(),
		routing.Alert{Labels: model.LabelSet{"alertname": "Up", "team": "own"}, StartsAt: start, EndsAt: start.Add(4 * time.Minute)},
		routing.Alert{Labels: model.LabelSet{"alertname": "Dropped"}, StartsAt: start},
	)
	if err != nil {
		t.Fatal(err)
	}
	// Local routing gets external labels (the alert's own win) and the global relabeling.
	got := local.take()
	if len(got) != 1 || got[0].Labels["cluster"] != "eu1" || got[0].Labels["team"] != "own" || got[0].Labels["via"] != "" {
		t.Fatalf("local: %v", got)
	}
	select {
	case alerts := <-bodies:
		if len(alerts) != 1 {
			t.Fatalf("posted %v", alerts)
		}
		a := alerts[0]
		if a.Labels["via"] != "am" || a.Labels["cluster"] != "eu1" || a.Labels["alertname"] != "Up" {
			t.Errorf("posted labels %v", a.Labels)
		}
		if a.StartsAt == nil || !a.StartsAt.Equal(start) || a.EndsAt == nil || !a.EndsAt.Equal(start.Add(4*time.Minute)) {
			t.Errorf("posted times %v %v", a.StartsAt, a.EndsAt)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing posted to the Alertmanager")
	}
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(s.sent.WithLabelValues(am.URL+"/am/api/v2/alerts")) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if v := testutil.ToFloat64(s.sent.WithLabelValues(am.URL + "/am/api/v2/alerts")); v != 1 {
		t.Errorf("sent metric %v", v)
	}
}

func TestSenderQueueBounded(t *testing.T) {
	cfg, err := config.Load("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:1']\n")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSender(nil, SenderOptions{QueueCapacity: 3})
	if err := s.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := s.Send(context.Background(), routing.Alert{Labels: model.LabelSet{"alertname": model.LabelValue(rune('a' + i))}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.queueLen(); n != 3 {
		t.Errorf("queue length %d, want 3", n)
	}
	if v := testutil.ToFloat64(s.dropped); v != 2 {
		t.Errorf("dropped %v, want 2", v)
	}
	// The oldest went: the newest three stay.
	if b := s.nextBatch(); len(b) != 3 || b[0].Labels["alertname"] != "c" {
		t.Errorf("batch %v", b)
	}
}

func TestSenderRejectsUnsupportedDiscovery(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load("alerting:\n  alertmanagers:\n    - file_sd_configs:\n        - files: ['" + dir + "/*.json']\n")
	if err != nil {
		t.Fatal(err)
	}
	err = NewSender(nil, SenderOptions{}).ApplyConfig(cfg)
	if err == nil || !strings.Contains(err.Error(), "file_sd_configs") {
		t.Errorf("got %v, want an error naming file_sd_configs", err)
	}
}
