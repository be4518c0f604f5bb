package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestTimeIntervalsAndCustomTemplates covers two alertmanager.yml features through the whole
// pipeline: a route muted by mute_time_intervals delivers nothing (and explain says why), and a
// custom template file named in templates: renders the Slack title.
// It runs in a synctest bubble (fake clock, Slack endpoint over net.Pipe).
func TestTimeIntervalsAndCustomTemplates(t *testing.T) {
	synctest.Test(t, testTimeIntervalsAndCustomTemplates)
}

func testTimeIntervalsAndCustomTemplates(t *testing.T) {
	var (
		mu     sync.Mutex
		titles []string
	)
	slackURL, dial := servePipe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Attachments []struct {
				Title string `json:"title"`
			} `json:"attachments"`
		}
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil || len(m.Attachments) != 1 {
			t.Errorf("slack payload: %v", err)
			return
		}
		mu.Lock()
		titles = append(titles, m.Attachments[0].Title)
		mu.Unlock()
	}))

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vigil.tmpl"), []byte(`{{ define "vigil.title" }}Vigil: {{ .CommonLabels.alertname }} on {{ .CommonLabels.service }}{{ end }}`), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`
templates: ['%s/*.tmpl']
time_intervals:
- name: always
  time_intervals:
  - weekdays: ['sunday:saturday']
route:
  receiver: chat
  group_by: [alertname]
  group_wait: 50ms
  routes:
  - matchers: ['team="quiet"']
    receiver: chat
    mute_time_intervals: [always]
receivers:
- name: chat
  slack_configs:
  - api_url: %s/services/x
    title: '{{ template "vigil.title" . }}'
`, dir, slackURL)
	r := newTestRouter(t, t.TempDir(), conf, ClusterOptions{}, dial)
	defer r.Stop()
	if err := r.Send(context.Background(),
		firing("alertname", "Loud", "service", "api"),
		firing("alertname", "Quiet", "service", "api", "team", "quiet"),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the slack message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(titles) == 1
	})
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	got := strings.Join(titles, "|")
	mu.Unlock()
	if got != "Vigil: Loud on api" {
		t.Fatalf("slack titles = %q, want only the custom-templated Loud", got)
	}
	ex, err := r.Explain(context.Background(), firing("alertname", "Quiet", "service", "api", "team", "quiet").Labels)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Routes) != 1 || strings.Join(ex.Routes[0].MutedNowBy, ",") != "always" {
		t.Errorf("explain routes = %+v, want muted now by 'always'", ex.Routes)
	}
}

// TestRetryWithBackoff makes the receiver fail twice with 500: the notify pipeline retries
// (with backoff) within the group's flush until it is accepted, and logs the notification.
// It runs in a synctest bubble (fake clock, receiver over net.Pipe).
func TestRetryWithBackoff(t *testing.T) {
	synctest.Test(t, testRetryWithBackoff)
}

func testRetryWithBackoff(t *testing.T) {
	var (
		mu       sync.Mutex
		attempts []time.Time
	)
	url, dial := servePipe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, time.Now())
		if len(attempts) <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	r := newTestRouter(t, t.TempDir(), testConfig(url), ClusterOptions{}, dial)
	defer r.Stop()
	if err := r.Send(context.Background(), firing("alertname", "Flaky")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the third attempt", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts) >= 3
	})
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	n := len(attempts)
	gap := attempts[2].Sub(attempts[1])
	mu.Unlock()
	if n != 3 {
		t.Errorf("attempts = %d, want 3 (two failures, one success, no more)", n)
	}
	if gap <= 0 {
		t.Errorf("retries not spaced: %v", gap)
	}
	ex, err := r.Explain(context.Background(), firing("alertname", "Flaky").Labels)
	if err != nil {
		t.Fatal(err)
	}
	if nf := ex.Routes[0].Notifications; len(nf) != 1 || !nf[0].IncludedFiring {
		t.Errorf("notification log after the retried send = %+v", nf)
	}
}
