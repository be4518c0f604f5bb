package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// With --enable-feature=st-storage,use-start-timestamps a scraped OpenMetrics counter's
// _created line becomes its samples' start timestamp, which start_timestamp() returns; the
// _created series is not stored.
func TestScrapedStartTimestamps(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
		fmt.Fprint(w, "# TYPE st_e2e_requests counter\nst_e2e_requests_total 17\nst_e2e_requests_created 1520872607.123\n# EOF\n")
	}))
	defer target.Close()
	cfg := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: st
    scrape_protocols: [OpenMetricsText1.0.0]
    static_configs: [{targets: [%q]}]
`, strings.TrimPrefix(target.URL, "http://"))), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startServer(t, "--config.file="+cfg, "--enable-feature=st-storage,use-start-timestamps")
	query := func(q string) string {
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var body string
	waitUntil(t, "start_timestamp of the scraped counter", func() bool {
		body = query("start_timestamp(st_e2e_requests_total)")
		return strings.Contains(body, `"1520872607.123"`)
	})
	if body := query("count(st_e2e_requests_created)"); !strings.Contains(body, `"result":[]`) {
		t.Errorf("the _created line was stored as a series: %s", body)
	}
}

// With --enable-feature=st-storage,use-start-timestamps a client_golang native histogram's
// created timestamp (protobuf exposition) becomes its samples' start timestamp, which
// start_timestamp() returns.
func TestScrapedHistogramStartTimestamps(t *testing.T) {
	reg := prometheus.NewRegistry()
	before := time.Now()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "st_e2e_latency_seconds", Help: "Latency.", NativeHistogramBucketFactor: 1.1,
	})
	after := time.Now()
	reg.MustRegister(h)
	for _, v := range []float64{0.01, 0.2, 0.2, 3} {
		h.Observe(v)
	}
	target := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer target.Close()
	cfg := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: st
    scrape_native_histograms: true
    static_configs: [{targets: [%q]}]
`, strings.TrimPrefix(target.URL, "http://"))), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startServer(t, "--config.file="+cfg, "--enable-feature=st-storage,use-start-timestamps")
	var got float64
	waitUntil(t, "start_timestamp of the scraped native histogram", func() bool {
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape("start_timestamp(st_e2e_latency_seconds)"))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) != 1 {
			return false
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		got, err = strconv.ParseFloat(s, 64)
		return err == nil
	})
	// client_golang takes the created timestamp when the histogram is made.
	lo, hi := float64(before.Truncate(time.Millisecond).UnixMilli())/1000, float64(after.UnixMilli()+1)/1000
	if got < lo || got > hi {
		t.Fatalf("start_timestamp(st_e2e_latency_seconds) = %v, want the creation time in [%v, %v]", got, lo, hi)
	}
}
