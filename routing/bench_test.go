package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

const benchConfig = `
route:
  receiver: void
  group_by: [alertname, instance]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
- name: void
`

// dispatched is the number of alerts the dispatcher has finished routing into groups.
func dispatched(b *testing.B, reg *prometheus.Registry) uint64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "alertmanager_dispatcher_alert_processing_duration_seconds" {
			return mf.GetMetric()[0].GetSummary().GetSampleCount()
		}
	}
	return 0
}

func benchAlerts(n int) []Alert {
	out := make([]Alert, n)
	for i := range out {
		out[i] = Alert{
			Labels:      model.LabelSet{"alertname": "BenchAlert", "instance": model.LabelValue(fmt.Sprintf("host-%d:9100", i)), "job": "node"},
			Annotations: model.LabelSet{"summary": "load"},
		}
	}
	return out
}

// BenchmarkDispatch10kGroups measures in-process intake plus dispatch (routing, grouping) with
// 10k aggregation groups active: each op is one alert update, counted once the dispatcher has
// processed it.
func BenchmarkDispatch10kGroups(b *testing.B) {
	const groups = 10000
	dir := b.TempDir()
	cfg := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(cfg, []byte(benchConfig), 0o600); err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r, err := New(Options{ConfigFile: cfg, DataDir: filepath.Join(dir, "data"), Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Stop()
	alerts := benchAlerts(groups)
	ctx := context.Background()
	for i := 0; i < groups; i += 64 {
		if err := r.Send(ctx, alerts[i:min(i+64, groups)]...); err != nil {
			b.Fatal(err)
		}
	}
	waitDispatched := func(n uint64) {
		for deadline := time.Now().Add(time.Minute); dispatched(b, reg) < n; {
			if time.Now().After(deadline) {
				b.Fatalf("dispatcher processed %d of %d alerts", dispatched(b, reg), n)
			}
			// Gathering walks all 10k groups (upstream's alert-state collector): poll gently.
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitDispatched(groups)
	ags, _, err := r.Groups(ctx, func(*dispatchRoute) bool { return true }, func(*alertT, time.Time) bool { return true })
	if err != nil || len(ags) != groups {
		b.Fatalf("groups = %d (%v), want %d", len(ags), err, groups)
	}
	start := dispatched(b, reg)
	b.ResetTimer()
	for i := 0; i < b.N; i += 64 {
		batch := make([]Alert, 0, 64)
		for j := i; j < min(i+64, b.N); j++ {
			batch = append(batch, alerts[j%groups])
		}
		if err := r.Send(ctx, batch...); err != nil {
			b.Fatal(err)
		}
	}
	waitDispatched(start + uint64(b.N))
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}

type (
	dispatchRoute = dispatch.Route
	alertT        = types.Alert
)

// BenchmarkNotificationLatency measures the time from an alert entering the router to the
// webhook receiver's request, over real HTTP, with group_wait 200ms: each op is one new group.
// The goal is at most group_wait + 100ms; the timing tests check the schedule itself on a fake
// clock (TestDispatcherTiming), so this wall-clock figure lives here and not in a test.
// ms-over-group_wait is the median of latency − group_wait; p99-ms the 99th percentile latency.
func BenchmarkNotificationLatency(b *testing.B) {
	const groupWait = 200 * time.Millisecond
	received := make(chan string, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil || len(n.Alerts) == 0 {
			b.Errorf("decoding webhook: %v", err)
			return
		}
		received <- n.Alerts[0].Labels["alertname"]
	}))
	defer hook.Close()
	conf := strings.Replace(testConfig(hook.URL), "group_wait: 100ms", "group_wait: "+groupWait.String(), 1)
	r := newTestRouter(b, b.TempDir(), conf, ClusterOptions{})
	defer r.Stop()

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("Latency%d", i)
		start := time.Now()
		if err := r.Send(context.Background(), firing("alertname", name)); err != nil {
			b.Fatal(err)
		}
		for got := range received {
			if got == name {
				break
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2]-groupWait)/float64(time.Millisecond), "ms-over-group_wait")
	b.ReportMetric(float64(lat[len(lat)*99/100])/float64(time.Millisecond), "p99-ms")
}
