package kubernetes

import "github.com/prometheus/client_golang/prometheus"

// kubernetesMetrics count informer events and failed list/watch calls, shared by all
// Kubernetes discoverers of the process. They keep Prometheus's names (the prometheus-mixin's
// PrometheusKubernetesListWatchFailures watches the failures).
type kubernetesMetrics struct {
	eventCount    *prometheus.CounterVec
	failuresCount prometheus.Counter
}

var defaultMetrics = &kubernetesMetrics{
	eventCount: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "prometheus_sd_kubernetes_events_total",
		Help: "The number of Kubernetes events handled.",
	}, []string{"role", "event"}),
	failuresCount: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "prometheus_sd_kubernetes_failures_total",
		Help: "The number of failed WATCH/LIST requests.",
	}),
}

// Collectors returns the discovery's metrics for registration (once per process).
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{defaultMetrics.eventCount, defaultMetrics.failuresCount}
}
