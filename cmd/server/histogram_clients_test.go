package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb"
)

// histogramClientTarget is a client_golang program with a native histogram (bucket factor 1.1:
// schema 3, classic buckets too) and a classic-only histogram. Every 100ms it observes the same
// thirteen values in both, under a lock that scrapes also take: whenever a scraper reads it, each
// histogram holds k times the same observations. The bucket proportions of any increase, and so
// histogram_quantile over a rate, are then the same for every scraper, whatever its scrape
// times.
func histogramClientTarget(t *testing.T) *httptest.Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	native := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "rc_native_seconds", Help: "Native histogram of a real client.",
		NativeHistogramBucketFactor: 1.1,
	})
	classic := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "rc_classic_seconds", Help: "Classic histogram of a real client.",
		Buckets: []float64{0.025, 0.1, 0.5, 1, 2.5, 5, 10},
	})
	reg.MustRegister(native, classic)
	// The 0.9 quantile (rank 11.7 of 13) falls inside a bucket, away from bucket edges, so that
	// rounding in the rates cannot move it to the next bucket.
	values := []float64{0.01, 0.05, 0.05, 0.2, 0.3, 0.7, 1.5, 3, 8, 12, 12.5, 13, 14}
	var mu sync.Mutex
	observe := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, v := range values {
			native.Observe(v)
			classic.Observe(v)
		}
	}
	observe()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				observe()
			}
		}
	}()
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(stop); <-done; srv.Close() })
	return srv
}

// TestHistogramRealClients scrapes one client_golang target with Vigil, Debian's Prometheus
// 2.42 (--enable-feature=native-histograms) and Prometheus 3.15 (/tmp/peers/prometheus3, built
// by ../shared/bench/peers.sh) side by side, and requires histogram_quantile(0.9,
// sum(rate(x[1m]))) to agree with Prometheus 3.15 on the native histogram and on the classic
// histogram converted to NHCB by convert_classic_histograms_to_nhcb. Prometheus 2.42 has no
// NHCB, and interpolates within native buckets linearly where 3.x (and Vigil) interpolate
// exponentially: it is compared on what does not interpolate (the mean observation, the
// fraction up to a bucket boundary), and its quantiles are logged.
func TestHistogramRealClients(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three servers for 20s")
	}
	requireHistogramStorage(t)
	prom2 := requireTool(t, "prometheus", "prometheus")
	prom3 := "/tmp/peers/prometheus3"
	if _, err := os.Stat(prom3); err != nil {
		t.Skip("/tmp/peers/prometheus3 missing: build it with ../shared/bench/peers.sh")
	}
	target := strings.TrimPrefix(histogramClientTarget(t).URL, "http://")
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Prometheus 3 and Vigil read the same file; 2.42 knows neither field and takes native
	// histograms from its feature flag.
	cfg3 := write("v3.yml", fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: native
    scrape_native_histograms: true
    static_configs: [{targets: [%[1]q]}]
  - job_name: nhcb
    convert_classic_histograms_to_nhcb: true
    static_configs: [{targets: [%[1]q]}]
`, target))
	cfg2 := write("v2.yml", fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: native
    static_configs: [{targets: [%q]}]
`, target))
	servers := map[string]string{
		"vigil": startServer(t, "--config.file="+cfg3),
	}
	servers["prometheus-3.15"], _ = startPrometheus(t, prom3, cfg3, filepath.Join(dir, "p3"))
	servers["prometheus-2.42"], _ = startPrometheus(t, prom2, cfg2, filepath.Join(dir, "p2"), "--enable-feature=native-histograms")

	queries := []struct {
		name, q string
		peers   []string
	}{
		{"native", `histogram_quantile(0.9, sum(rate(rc_native_seconds{job="native"}[1m])))`, []string{"prometheus-3.15"}},
		{"nhcb", `histogram_quantile(0.9, sum(rate(rc_classic_seconds{job="nhcb"}[1m])))`, []string{"prometheus-3.15"}},
		// Within a bucket (interpolated), and the share of observations up to 1s.
		{"native p63", `histogram_quantile(0.63, sum(rate(rc_native_seconds{job="native"}[1m])))`, []string{"prometheus-3.15"}},
		{"nhcb p63", `histogram_quantile(0.63, sum(rate(rc_classic_seconds{job="nhcb"}[1m])))`, []string{"prometheus-3.15"}},
		{"native fraction", `histogram_fraction(0, 1, sum(rate(rc_native_seconds{job="native"}[1m])))`, []string{"prometheus-3.15", "prometheus-2.42"}},
		{"native mean", `histogram_sum(sum(rate(rc_native_seconds{job="native"}[1m]))) / histogram_count(sum(rate(rc_native_seconds{job="native"}[1m])))`, []string{"prometheus-3.15", "prometheus-2.42"}},
	}
	// Ten seconds of scrapes everywhere; then all are asked at one time in the past.
	start := time.Now()
	waitUntilFor(t, 60*time.Second, "ten seconds of histogram samples on every server", func() bool {
		if time.Since(start) < 10*time.Second {
			return false
		}
		for _, base := range servers {
			if !strings.Contains(promResult(base, `count_over_time(rc_native_seconds{job="native"}[1m]) >= 8`, time.Time{}, time.Now(), 0), "native") {
				return false
			}
		}
		return true
	})
	at := time.Now().Add(-1500 * time.Millisecond)
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			want := queryValue(t, servers["vigil"], q.q, at)
			t.Logf("vigil: %s = %v", q.q, want)
			if !slices.Contains(q.peers, "prometheus-2.42") && strings.HasPrefix(q.name, "native") {
				t.Logf("prometheus-2.42 (linear interpolation, not compared): %v", queryValue(t, servers["prometheus-2.42"], q.q, at))
			}
			for _, peer := range q.peers {
				got := queryValue(t, servers[peer], q.q, at)
				if math.Abs(got-want) > 1e-9*math.Abs(want) {
					t.Errorf("%s: %v, vigil %v", peer, got, want)
				} else {
					t.Logf("%s agrees: %v", peer, got)
				}
			}
		})
	}
}

// requireHistogramStorage skips when Vigil's TSDB does not store native histograms yet (lane
// htsdb of issue #18 not merged).
func requireHistogramStorage(t *testing.T) {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), nil, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	app := db.Appender(context.Background())
	defer func() { _ = app.Rollback() }()
	if _, err := app.AppendHistogram(0, labels.FromStrings("__name__", "probe"), 1, &histogram.Histogram{}, nil); err != nil {
		t.Skipf("Vigil's TSDB does not store native histograms (%v): needs lane htsdb (issue #18)", err)
	}
}

// queryValue runs an instant query that must return exactly one sample and returns its value.
func queryValue(t *testing.T, base, q string, at time.Time) float64 {
	t.Helper()
	res := promResult(base, q, time.Time{}, at, 0)
	if strings.HasPrefix(res, "error") || strings.Count(res, "\n") != 0 || !strings.Contains(res, "@") {
		t.Fatalf("%s at %s: %q", q, base, res)
	}
	v := res[strings.LastIndex(res, "} ")+2:]
	f, err := strconv.ParseFloat(v[:strings.Index(v, "@")], 64)
	if err != nil {
		t.Fatalf("%s at %s: %q: %v", q, base, res, err)
	}
	return f
}
