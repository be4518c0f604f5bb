package scrape

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the scrape subsystem's own metrics (Prometheus's prometheus_target_* under
// Vigil's prefix).
type metrics struct {
	scrapeDuration prometheus.Histogram
	scrapesFailed  *prometheus.CounterVec
	rejected       *prometheus.CounterVec
	poolTargets    *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		scrapeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_target_scrape_duration_seconds",
			Help:    "Duration of scrapes, fetch to commit.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		scrapesFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_target_scrapes_failed_total",
			Help: "Scrapes that failed (up=0), by scrape job.",
		}, []string{"scrape_job"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_target_scrapes_samples_rejected_total",
			Help: "Scraped samples the storage or the scrape loop rejected, by reason.",
		}, []string{"reason"}),
		poolTargets: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_target_scrape_pool_targets",
			Help: "Active targets per scrape job.",
		}, []string{"scrape_job"}),
	}
	if reg != nil {
		reg.MustRegister(m.scrapeDuration, m.scrapesFailed, m.rejected, m.poolTargets)
	}
	return m
}

func (m *metrics) observe(job string, d time.Duration, scrapeErr error, s appendStats) {
	m.scrapeDuration.Observe(d.Seconds())
	if scrapeErr != nil {
		m.scrapesFailed.WithLabelValues(job).Inc()
	}
	if s.outOfOrder > 0 {
		m.rejected.WithLabelValues("out_of_order").Add(float64(s.outOfOrder))
	}
	if s.duplicates > 0 {
		m.rejected.WithLabelValues("duplicate_timestamp").Add(float64(s.duplicates))
	}
	if s.bounds > 0 {
		m.rejected.WithLabelValues("out_of_bounds").Add(float64(s.bounds))
	}
	if s.histograms > 0 {
		m.rejected.WithLabelValues("native_histogram").Add(float64(s.histograms))
	}
}
