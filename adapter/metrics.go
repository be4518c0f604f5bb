package adapter

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// The adapter's own metrics. They go to component-base's legacy registry because that is what
// /metrics serves (with the API server library's own metrics; client_golang's default registry
// is not served).
var (
	relistDuration = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace: "vigil_adapter", Name: "relist_duration_seconds",
		Help:    "Time to rediscover metrics (all /api/v1/series calls of one relist).",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	})
	relists = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "vigil_adapter", Name: "relists_total",
		Help: "Relists by trigger (periodic, miss, config) and result (ok, error).",
	}, []string{"trigger", "result"})
	discovered = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace: "vigil_adapter", Name: "metrics_discovered",
		Help: "Metrics servable after the last relist, by API (custom, external).",
	}, []string{"api"})
	configReloads = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "vigil_adapter", Name: "config_reloads_total",
		Help: "Config loads by result (ok, error).",
	}, []string{"result"})
	configLastSuccess = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace: "vigil_adapter", Name: "config_last_reload_successful",
		Help: "1 if the last config load succeeded, 0 if the running rules are older than the file.",
	})
	registerOnce sync.Once
)

// RegisterMetrics adds the adapter's metrics to the registry the API server serves.
func RegisterMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(relistDuration, relists, discovered, configReloads, configLastSuccess)
	})
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
