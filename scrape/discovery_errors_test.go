package scrape

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/discovery"
)

// reportingDiscoverer finds nothing and reports err as its runtime failure.
type reportingDiscoverer struct{ err error }

func (*reportingDiscoverer) Run(ctx context.Context, _ chan<- []*config.TargetGroup) { <-ctx.Done() }
func (d *reportingDiscoverer) LastError() error                                      { return d.err }

// As in Prometheus, a discovery config that cannot be built (here: kubernetes_sd_configs
// without in-cluster credentials) is logged and counted, does not fail the configuration, and
// the other jobs run; the next reload tries again. Running discoverers that fail are reported
// too. Both show in DiscoveryErrors (the targets API).
func TestDiscoveryErrors(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	cfg, err := config.Load(`
scrape_configs:
- job_name: in-cluster
  kubernetes_sd_configs: [{role: pod}]
  static_configs: [{targets: ['127.0.0.1:1']}]
- job_name: failing
  kubernetes_sd_configs: [{role: pod, api_server: 'http://127.0.0.1:1'}]
- job_name: fine
  static_configs: [{targets: ['127.0.0.1:2']}]
`)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	var builds atomic.Int32
	m := NewManager(&Options{
		DiscoveryUpdateInterval: 10 * time.Millisecond,
		NewKubernetesDiscoverer: func(c *config.KubernetesSDConfig, l *slog.Logger) (discovery.Discoverer, error) {
			builds.Add(1)
			if c.APIServer.URL == nil {
				return nil, errors.New("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined")
			}
			return &reportingDiscoverer{err: errors.New("Unauthorized")}, nil
		},
	}, slog.New(slog.DiscardHandler), newTestStorage(), reg)
	defer m.Stop()
	if err := m.ApplyConfig(cfg); err != nil {
		t.Fatalf("ApplyConfig: %v", err)
	}
	if got := testutil.ToFloat64(m.metrics.failedConfigs); got != 1 {
		t.Errorf("prometheus_sd_failed_configs = %v, want 1", got)
	}
	var got []string
	for _, e := range m.DiscoveryErrors() {
		got = append(got, e.ScrapePool+"/"+e.Mechanism+"/"+e.Err.Error())
	}
	want := []string{
		"failing/kubernetes/Unauthorized",
		"in-cluster/kubernetes/unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("DiscoveryErrors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A reload tries the failed one again (and keeps the working ones).
	if err := m.ApplyConfig(cfg); err != nil {
		t.Fatalf("second ApplyConfig: %v", err)
	}
	if n := builds.Load(); n != 3 {
		t.Errorf("%d kubernetes discoverers built after the reload, want 3 (the failed one retried)", n)
	}
	waitFor(t, "targets of the working discovery configs", func() bool {
		a := m.TargetsActive()
		return len(a["fine"]) == 1 && len(a["in-cluster"]) == 1
	})
}
