package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Kubernetes discovery that has no cluster, or whose API server cannot be reached, does not stop
// Vigil: the other jobs run, /api/v1/targets says why in discoveryErrors, and the failures are
// counted (prometheus_sd_failed_configs, prometheus_sd_kubernetes_failures_total).
func TestKubernetesSDFailuresAreReported(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "http://" + l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(`
scrape_configs:
- job_name: in-cluster
  kubernetes_sd_configs: [{role: pod}]
- job_name: unreachable
  kubernetes_sd_configs: [{role: endpointslice, api_server: '`+unreachable+`'}]
- job_name: static
  static_configs: [{targets: ['127.0.0.1:1']}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startServer(t, "--config.file="+cfg)

	type discoveryError struct {
		ScrapePool, Mechanism, Error string
	}
	var errs map[string]discoveryError
	waitUntil(t, "discovery errors of both jobs on /api/v1/targets", func() bool {
		var res struct {
			Data struct {
				ActiveTargets   []struct{ ScrapePool string }
				DiscoveryErrors []discoveryError
			}
		}
		if err := json.Unmarshal([]byte(getBody(t, base+"/api/v1/targets")), &res); err != nil {
			t.Fatal(err)
		}
		errs = map[string]discoveryError{}
		for _, e := range res.Data.DiscoveryErrors {
			errs[e.ScrapePool] = e
		}
		return len(errs) == 2 && len(res.Data.ActiveTargets) == 1 && res.Data.ActiveTargets[0].ScrapePool == "static"
	})
	if e := errs["in-cluster"]; e.Mechanism != "kubernetes" || !strings.Contains(e.Error, "in-cluster configuration") {
		t.Errorf("in-cluster: %+v", e)
	}
	if e := errs["unreachable"]; e.Mechanism != "kubernetes" || !strings.Contains(e.Error, "connection refused") {
		t.Errorf("unreachable: %+v", e)
	}
	if !strings.Contains(getBody(t, base+"/metrics"), `prometheus_sd_failed_configs{name="scrape"} 1`) {
		t.Error(`prometheus_sd_failed_configs{name="scrape"} is not 1`)
	}
	waitUntil(t, "prometheus_sd_kubernetes_failures_total counting", func() bool {
		return metricValue(t, base, "prometheus_sd_kubernetes_failures_total") >= 1
	})
	// ?scrapePool= filters them as it filters targets.
	if body := getBody(t, base+"/api/v1/targets?scrapePool=static"); strings.Contains(body, "discoveryErrors") {
		t.Errorf("scrapePool=static shows other pools' discovery errors: %s", body)
	}
}
