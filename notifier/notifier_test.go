package notifier

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/config"
)

// captureNotifier records what the Sender hands to its local Notifier.
type captureNotifier struct {
	mtx    sync.Mutex
	alerts []Alert
}

func (c *captureNotifier) Send(_ context.Context, alerts ...Alert) error {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	c.alerts = append(c.alerts, alerts...)
	return nil
}

func (c *captureNotifier) take() []Alert {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	a := c.alerts
	c.alerts = nil
	return a
}

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
		Alert{Labels: model.LabelSet{"alertname": "Up", "team": "own"}, StartsAt: start, EndsAt: start.Add(4 * time.Minute)},
		Alert{Labels: model.LabelSet{"alertname": "Dropped"}, StartsAt: start},
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
		if err := s.Send(context.Background(), Alert{Labels: model.LabelSet{"alertname": model.LabelValue(rune('a' + i))}}); err != nil {
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

// The Alertmanagers for /api/v1/alertmanagers: active are the targets relabel_configs keep, as
// scheme://address/path_prefix/api/v2/alerts and each once; dropped are those relabel_configs
// drop, with the URL they had before relabeling. A new configuration replaces both lists.
func TestSenderAlertmanagerLists(t *testing.T) {
	cfg, err := config.Load(`
alerting:
  alertmanagers:
    - scheme: https
      path_prefix: /am/
      static_configs:
        - targets: ['am1:9093', 'am2:9093', 'am1:9093']
          labels: {dc: a}
        - targets: ['skip:9093']
          labels: {dc: b}
      relabel_configs:
        - source_labels: [dc]
          regex: b
          action: drop
        - source_labels: [__address__]
          regex: 'am2:9093'
          target_label: __address__
          replacement: am2.internal:19093
    - static_configs:
        - targets: ['local:9093']
      relabel_configs:
        - source_labels: [__address__]
          regex: 'nomatch.*'
          action: keep
    - static_configs:
        - targets: ['plain:9093']
`)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSender(nil, SenderOptions{})
	if got := s.Alertmanagers(); len(got) != 0 {
		t.Fatalf("active before any configuration: %v", got)
	}
	if err := s.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	strs := func(us []*url.URL) []string {
		out := []string{}
		for _, u := range us {
			out = append(out, u.String())
		}
		return out
	}
	wantActive := []string{"https://am1:9093/am/api/v2/alerts", "https://am2.internal:19093/am/api/v2/alerts", "http://plain:9093/api/v2/alerts"}
	if got := strs(s.Alertmanagers()); !slices.Equal(got, wantActive) {
		t.Errorf("active %q, want %q", got, wantActive)
	}
	wantDropped := []string{"https://skip:9093/am/api/v2/alerts", "http://local:9093/api/v2/alerts"}
	if got := strs(s.DroppedAlertmanagers()); !slices.Equal(got, wantDropped) {
		t.Errorf("dropped %q, want %q", got, wantDropped)
	}
	// The lists are copies: changing one does not change the Sender's.
	s.Alertmanagers()[0].Host = "changed"
	s.DroppedAlertmanagers()[0].Host = "changed"
	if got := s.Alertmanagers()[0].Host; got != "am1:9093" {
		t.Errorf("active changed through a returned URL: %q", got)
	}
	if got := s.DroppedAlertmanagers()[0].Host; got != "skip:9093" {
		t.Errorf("dropped changed through a returned URL: %q", got)
	}
	// The discovered gauge counts the active ones.
	if v := testutil.ToFloat64(s.discovered); v != 3 {
		t.Errorf("alertmanagers discovered %v, want 3", v)
	}

	cfg2, err := config.Load("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['other:9093']\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyConfig(cfg2); err != nil {
		t.Fatal(err)
	}
	if got := strs(s.Alertmanagers()); !slices.Equal(got, []string{"http://other:9093/api/v2/alerts"}) {
		t.Errorf("active after reload %q", got)
	}
	if got := s.DroppedAlertmanagers(); len(got) != 0 {
		t.Errorf("dropped after reload %v", got)
	}
}

// Alerts go once to each Alertmanager URL even when two targets end up at the same one.
func TestSenderPostsOncePerAlertmanager(t *testing.T) {
	var posts atomic.Int32
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { posts.Add(1) }))
	defer am.Close()
	addr := strings.TrimPrefix(am.URL, "http://")
	cfg, err := config.Load("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['" + addr + "', '" + addr + "']\n")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSender(nil, SenderOptions{})
	if err := s.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if !s.sendAll([]Alert{{Labels: model.LabelSet{"alertname": "A"}}}) {
		t.Fatal("sendAll failed")
	}
	if n := posts.Load(); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
}
