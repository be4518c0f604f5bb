package scrape

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-monitoring/vigil/config"
)

// Each scrape failure and rejection is counted in the prometheus_target_* counter Prometheus
// counts it in, which the prometheus-mixin's alerts watch.
func TestScrapeLimitMetrics(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		tweak  func(*config.ScrapeConfig)
		metric string
	}{
		{"sample_limit", "a 1\nb 1\nc 1\n", func(c *config.ScrapeConfig) { c.SampleLimit = 2 }, "prometheus_target_scrapes_exceeded_sample_limit_total"},
		{"body_size_limit", strings.Repeat("a 1\n", 100), func(c *config.ScrapeConfig) { c.BodySizeLimit = 50; c.EnableCompression = false }, "prometheus_target_scrapes_exceeded_body_size_limit_total"},
		{"label_limit", "a{x=\"1\",y=\"2\"} 1\n", func(c *config.ScrapeConfig) { c.LabelLimit = 3 }, "prometheus_target_scrape_pool_exceeded_label_limits_total"},
		{"label_value_length_limit", "a{x=\"long value\"} 1\n", func(c *config.ScrapeConfig) { c.LabelValueLengthLimit = 4 }, "prometheus_target_scrape_pool_exceeded_label_limits_total"},
		{"duplicate timestamps", "a 1 1000\na 2 1000\n", nil, "prometheus_target_scrapes_sample_duplicate_timestamp_total"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", textType)
				_, _ = w.Write([]byte(c.body))
			}))
			defer srv.Close()
			reg := prometheus.NewRegistry()
			m := newMetrics(reg)
			sl := testLoop(t, newTestStorage(), c.tweak, strings.TrimPrefix(srv.URL, "http://"))
			sl.metrics = m
			sl.scrapeAndReport(ts0)
			names := []string{
				"prometheus_target_scrapes_exceeded_sample_limit_total",
				"prometheus_target_scrapes_exceeded_body_size_limit_total",
				"prometheus_target_scrape_pool_exceeded_label_limits_total",
				"prometheus_target_scrapes_sample_duplicate_timestamp_total",
			}
			for _, n := range names {
				want := 0.0
				if n == c.metric {
					want = 1
				}
				got, err := testutil.GatherAndCount(reg, n)
				if err != nil || got != 1 {
					t.Fatalf("%s: %d series, %v", n, got, err)
				}
				mfs, _ := reg.Gather()
				for _, mf := range mfs {
					if mf.GetName() == n {
						if v := mf.GetMetric()[0].GetCounter().GetValue(); v != want {
							t.Errorf("%s = %v, want %v (lastError %v)", n, v, want, sl.target.LastError())
						}
					}
				}
			}
		})
	}
}
