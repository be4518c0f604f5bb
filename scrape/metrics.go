package scrape

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the scrape subsystem's own metrics. Where Prometheus has the same metric they
// keep its prometheus_target_* name and labels, so that the prometheus-mixin's alerts
// (PrometheusTargetLimitHit, PrometheusDuplicateTimestamps, …) and dashboards work unchanged;
// the rest have Vigil's prefix.
type metrics struct {
	scrapeDuration      prometheus.Histogram
	scrapesFailed       *prometheus.CounterVec
	poolTargets         *prometheus.GaugeVec
	syncFailed          *prometheus.CounterVec
	exceededTargetLimit prometheus.Counter
	exceededLabelLimits prometheus.Counter
	exceededBodySize    prometheus.Counter
	exceededSampleLimit prometheus.Counter
	exceededBucketLimit prometheus.Counter
	outOfOrder          prometheus.Counter
	duplicates          prometheus.Counter
	outOfBounds         prometheus.Counter
	intervalLength      *prometheus.SummaryVec
	syncLength          *prometheus.SummaryVec
	discoveredTargets   *prometheus.GaugeVec
	failedConfigs       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &metrics{
		failedConfigs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "prometheus_sd_failed_configs",
			Help:        "Current number of service discovery configurations that failed to load.",
			ConstLabels: prometheus.Labels{"name": "scrape"},
		}),
		scrapeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_target_scrape_duration_seconds",
			Help:    "Duration of scrapes, fetch to commit.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		scrapesFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_target_scrapes_failed_total",
			Help: "Scrapes that failed (up=0), by scrape job.",
		}, []string{"scrape_job"}),
		poolTargets: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "prometheus_target_scrape_pool_targets",
			Help: "Current number of targets in this scrape pool.",
		}, []string{"scrape_job"}),
		syncFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prometheus_target_sync_failed_total",
			Help: "Total number of target sync failures.",
		}, []string{"scrape_job"}),
		exceededTargetLimit: counter("prometheus_target_scrape_pool_exceeded_target_limit_total",
			"Total number of times scrape pools hit the target limit, during sync or config reload."),
		exceededLabelLimits: counter("prometheus_target_scrape_pool_exceeded_label_limits_total",
			"Total number of times scrape pools hit the label limits, during sync or config reload."),
		exceededBodySize: counter("prometheus_target_scrapes_exceeded_body_size_limit_total",
			"Total number of scrapes that hit the body size limit"),
		exceededSampleLimit: counter("prometheus_target_scrapes_exceeded_sample_limit_total",
			"Total number of scrapes that hit the sample limit and were rejected."),
		exceededBucketLimit: counter("prometheus_target_scrapes_exceeded_native_histogram_bucket_limit_total",
			"Total number of scrapes that hit the native histogram bucket limit and were rejected."),
		outOfOrder: counter("prometheus_target_scrapes_sample_out_of_order_total",
			"Total number of samples rejected due to not being out of the expected order."),
		duplicates: counter("prometheus_target_scrapes_sample_duplicate_timestamp_total",
			"Total number of samples rejected due to duplicate timestamps but different values."),
		outOfBounds: counter("prometheus_target_scrapes_sample_out_of_bounds_total",
			"Total number of samples rejected due to timestamp falling outside of the time bounds."),
		intervalLength: prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Name:       "prometheus_target_interval_length_seconds",
			Help:       "Actual intervals between scrapes.",
			Objectives: map[float64]float64{0.01: 0.001, 0.05: 0.005, 0.5: 0.05, 0.90: 0.01, 0.99: 0.001},
		}, []string{"interval"}),
		syncLength: prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Name:       "prometheus_target_sync_length_seconds",
			Help:       "Actual interval to sync the scrape pool.",
			Objectives: map[float64]float64{0.01: 0.001, 0.05: 0.005, 0.5: 0.05, 0.90: 0.01, 0.99: 0.001},
		}, []string{"scrape_job"}),
		discoveredTargets: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "prometheus_sd_discovered_targets",
			Help: "Current number of discovered targets.",
		}, []string{"name", "config"}),
	}
	if reg != nil {
		reg.MustRegister(m.scrapeDuration, m.scrapesFailed, m.poolTargets, m.syncFailed,
			m.exceededTargetLimit, m.exceededLabelLimits, m.exceededBodySize, m.exceededSampleLimit, m.exceededBucketLimit,
			m.outOfOrder, m.duplicates, m.outOfBounds, m.intervalLength, m.syncLength, m.discoveredTargets,
			m.failedConfigs)
	}
	return m
}

func (m *metrics) observe(job string, d time.Duration, scrapeErr error, s appendStats) {
	m.scrapeDuration.Observe(d.Seconds())
	if scrapeErr != nil {
		m.scrapesFailed.WithLabelValues(job).Inc()
		var labelErr labelLimitError
		switch {
		case errors.Is(scrapeErr, errSampleLimit):
			m.exceededSampleLimit.Inc()
		case errors.Is(scrapeErr, errBucketLimit):
			m.exceededBucketLimit.Inc()
		case errors.Is(scrapeErr, errBodySizeLimit):
			m.exceededBodySize.Inc()
		case errors.As(scrapeErr, &labelErr):
			m.exceededLabelLimits.Inc()
		}
	}
	m.outOfOrder.Add(float64(s.outOfOrder))
	m.duplicates.Add(float64(s.duplicates))
	m.outOfBounds.Add(float64(s.bounds))
}

// metadataCollector exposes the size of the targets' metadata caches per scrape job, as
// Prometheus's prometheus_target_metadata_cache_* (the mixin's PrometheusNotIngestingSamples
// takes entries > 0 as "this server scrapes something").
type metadataCollector struct {
	m              *Manager
	entries, bytes *prometheus.Desc
}

func newMetadataCollector(m *Manager) *metadataCollector {
	return &metadataCollector{
		m:       m,
		entries: prometheus.NewDesc("prometheus_target_metadata_cache_entries", "Total number of metric metadata entries in the cache", []string{"scrape_job"}, nil),
		bytes:   prometheus.NewDesc("prometheus_target_metadata_cache_bytes", "The number of bytes that are currently used for storing metric metadata in the cache", []string{"scrape_job"}, nil),
	}
}

func (c *metadataCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.entries
	ch <- c.bytes
}

func (c *metadataCollector) Collect(ch chan<- prometheus.Metric) {
	for job, p := range c.m.snapshot() {
		var entries, size int
		for _, t := range p.activeTargets() {
			ms := t.metadataStore()
			if ms == nil {
				continue
			}
			ms.mtx.RLock()
			for _, e := range ms.entries {
				entries++
				size += len(e.MetricFamily) + len(e.Type) + len(e.Help) + len(e.Unit)
			}
			ms.mtx.RUnlock()
		}
		ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(entries), job)
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(size), job)
	}
}
