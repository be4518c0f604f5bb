package tsdb

import "github.com/prometheus/client_golang/prometheus"

// floatSamples labels the sample counters as Prometheus's, whose type label tells float samples
// from native histograms; Vigil's storage holds float samples only.
var floatSamples = prometheus.Labels{"type": "float"}

// headMetrics keep Prometheus's prometheus_tsdb_* names and labels where the meaning is the same
// (the prometheus-mixin's PrometheusNotIngestingSamples sums head_samples_appended_total without
// type); Vigil-only ones have Vigil's prefix.
type headMetrics struct {
	seriesCreated   prometheus.Counter
	seriesRemoved   prometheus.Counter
	samplesAppended prometheus.Counter
	outOfOrder      prometheus.Counter
	outOfBound      prometheus.Counter
	chunksRemoved   prometheus.Counter
	chunksCreated   prometheus.Counter
	chunks          prometheus.Gauge
	walWriteFailed  prometheus.Counter
	chunkSpills     prometheus.Counter
}

func newHeadMetrics(reg prometheus.Registerer, h func() *Head) *headMetrics {
	m := &headMetrics{
		seriesCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_head_series_created_total", Help: "Total number of series created in the head.",
		}),
		seriesRemoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_head_series_removed_total", Help: "Total number of series removed from the head.",
		}),
		samplesAppended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_head_samples_appended_total", Help: "Total number of appended samples.",
			ConstLabels: floatSamples,
		}),
		outOfOrder: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_out_of_order_samples_total", Help: "Total number of samples rejected as out of order or duplicate.",
			ConstLabels: floatSamples,
		}),
		outOfBound: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_out_of_bound_samples_total", Help: "Total number of samples rejected for being older than the head.",
			ConstLabels: floatSamples,
		}),
		chunksRemoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_head_chunks_removed_total", Help: "Total number of head chunks removed by truncation.",
		}),
		chunksCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_head_chunks_created_total", Help: "Total number of chunks created in the head",
		}),
		chunks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "prometheus_tsdb_head_chunks", Help: "Total number of chunks in the head block.",
		}),
		walWriteFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_tsdb_head_commits_failed_total", Help: "Total number of commits that failed to write the WAL.",
		}),
		chunkSpills: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_tsdb_head_chunk_spills_total", Help: "Closed head chunks kept on the heap because the head chunk file could not be written.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.seriesCreated, m.seriesRemoved, m.samplesAppended, m.outOfOrder, m.outOfBound,
			m.chunksRemoved, m.chunksCreated, m.chunks, m.walWriteFailed, m.chunkSpills,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "prometheus_tsdb_head_series", Help: "Total number of series in the head.",
			}, func() float64 { return float64(h().NumSeries()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "prometheus_tsdb_head_min_time", Help: "Minimum time bound of the head block (ms).",
			}, func() float64 { return float64(h().MinTime()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "prometheus_tsdb_head_max_time", Help: "Maximum timestamp of the head block (ms).",
			}, func() float64 { return float64(h().MaxTime()) }),
		)
	}
	return m
}
