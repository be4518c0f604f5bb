package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
