package write

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons in prometheus_remote_storage_samples_dropped_total{reason}, as Prometheus's.
const (
	reasonDroppedSeries = "dropped_series" // write_relabel_configs dropped the series
	reasonUnknownSeries = "unintentionally_dropped_series"
	reasonTooOld        = "too_old"
)

// queueMetrics are one queue's prometheus_remote_storage_* and prometheus_wal_watcher_*
// metrics, with Prometheus's names and labels (remote_name, url; consumer for the watcher).
type queueMetrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector

	samplesTotal, samplesFailed, samplesRetried                prometheus.Counter
	exemplarsTotal, exemplarsFailed, exemplarsRetried          prometheus.Counter
	metadataTotal, metadataFailed, metadataRetried             prometheus.Counter
	samplesDropped, exemplarsDropped                           *prometheus.CounterVec
	histogramsTotal, histogramsFailed, histogramsRetried       prometheus.Counter
	histogramsDropped                                          *prometheus.CounterVec
	histogramsPending                                          prometheus.Gauge
	enqueueRetries                                             prometheus.Counter
	sentBatchDuration                                          prometheus.Histogram
	highestTimestamp, highestSentTimestamp                     *maxGauge
	samplesPending, exemplarsPending                           prometheus.Gauge
	shardCapacity, shards, shardsMax, shardsMin, shardsDesired prometheus.Gauge
	bytesTotal, metadataBytesTotal                             prometheus.Counter
	maxSamplesPerSend                                          prometheus.Gauge

	recordsRead        *prometheus.CounterVec
	decodeFailures     prometheus.Counter
	samplesPreTailing  prometheus.Counter
	currentSegment     prometheus.Gauge
	notificationsSkips prometheus.Counter
}

// maxGauge only moves up.
type maxGauge struct {
	mu sync.Mutex
	v  float64
	prometheus.Gauge
}

func (m *maxGauge) set(v float64) {
	m.mu.Lock()
	if v > m.v {
		m.v = v
		m.Gauge.Set(v)
	}
	m.mu.Unlock()
}

func (m *maxGauge) get() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v
}

func newQueueMetrics(reg prometheus.Registerer, name, url string) *queueMetrics {
	cl := prometheus.Labels{"remote_name": name, "url": url}
	m := &queueMetrics{reg: reg}
	counter := func(n, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "prometheus", Subsystem: "remote_storage", Name: n, Help: help, ConstLabels: cl})
		m.collectors = append(m.collectors, c)
		return c
	}
	gauge := func(n, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "prometheus", Subsystem: "remote_storage", Name: n, Help: help, ConstLabels: cl})
		m.collectors = append(m.collectors, g)
		return g
	}
	m.samplesTotal = counter("samples_total", "Total number of samples sent to remote storage.")
	m.exemplarsTotal = counter("exemplars_total", "Total number of exemplars sent to remote storage (Vigil stores none).")
	m.metadataTotal = counter("metadata_total", "Total number of metadata entries sent to remote storage.")
	m.samplesFailed = counter("samples_failed_total", "Total number of samples which failed on send to remote storage, non-recoverable errors.")
	m.exemplarsFailed = counter("exemplars_failed_total", "Total number of exemplars which failed on send to remote storage, non-recoverable errors.")
	m.metadataFailed = counter("metadata_failed_total", "Total number of metadata entries which failed on send to remote storage, non-recoverable errors.")
	m.samplesRetried = counter("samples_retried_total", "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.")
	m.exemplarsRetried = counter("exemplars_retried_total", "Total number of exemplars which failed on send to remote storage but were retried because the send error was recoverable.")
	m.metadataRetried = counter("metadata_retried_total", "Total number of metadata entries which failed on send to remote storage but were retried because the send error was recoverable.")
	m.samplesDropped = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "prometheus", Subsystem: "remote_storage", Name: "samples_dropped_total",
		Help: "Total number of samples which were dropped after being read from the WAL before being sent via remote write, either via relabelling, due to being too old or unintentionally because of an unknown reference ID.", ConstLabels: cl}, []string{"reason"})
	m.exemplarsDropped = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "prometheus", Subsystem: "remote_storage", Name: "exemplars_dropped_total",
		Help: "Total number of exemplars which were dropped after being read from the WAL before being sent via remote write.", ConstLabels: cl}, []string{"reason"})
	m.collectors = append(m.collectors, m.samplesDropped, m.exemplarsDropped)
	m.histogramsTotal = counter("histograms_total", "Total number of histograms sent to remote storage.")
	m.histogramsFailed = counter("histograms_failed_total", "Total number of histograms which failed on send to remote storage, non-recoverable errors.")
	m.histogramsRetried = counter("histograms_retried_total", "Total number of histograms which failed on send to remote storage but were retried because the send error was recoverable.")
	m.histogramsDropped = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "prometheus", Subsystem: "remote_storage", Name: "histograms_dropped_total",
		Help: "Total number of histograms which were dropped after being read from the WAL before being sent via remote write, either via relabelling, due to being too old or unintentionally because of an unknown reference ID.", ConstLabels: cl}, []string{"reason"})
	m.collectors = append(m.collectors, m.histogramsDropped)
	m.histogramsPending = gauge("histograms_pending", "The number of histograms pending in the queues shards to be sent to the remote storage.")
	m.enqueueRetries = counter("enqueue_retries_total", "Total number of times enqueue has failed because a shards queue was full.")
	m.sentBatchDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "prometheus", Subsystem: "remote_storage", Name: "sent_batch_duration_seconds",
		Help: "Duration of send calls to the remote storage.", Buckets: append(prometheus.DefBuckets, 25, 60, 120, 300), ConstLabels: cl})
	m.collectors = append(m.collectors, m.sentBatchDuration)
	m.highestTimestamp = &maxGauge{Gauge: gauge("queue_highest_timestamp_seconds", "Highest timestamp that was enqueued, in seconds since epoch. Initialized to 0 when no data has been received yet.")}
	m.highestSentTimestamp = &maxGauge{Gauge: gauge("queue_highest_sent_timestamp_seconds", "Highest timestamp successfully sent by this queue, in seconds since epoch. Initialized to 0 when no data has been sent yet.")}
	m.samplesPending = gauge("samples_pending", "The number of samples pending in the queues shards to be sent to the remote storage.")
	m.exemplarsPending = gauge("exemplars_pending", "The number of exemplars pending in the queues shards to be sent to the remote storage.")
	m.shardCapacity = gauge("shard_capacity", "The capacity of each shard of the queue used for parallel sending to the remote storage.")
	m.shards = gauge("shards", "The number of shards used for parallel sending to the remote storage.")
	m.shardsMax = gauge("shards_max", "The maximum number of shards that the queue is allowed to run.")
	m.shardsMin = gauge("shards_min", "The minimum number of shards that the queue is allowed to run.")
	m.shardsDesired = gauge("shards_desired", "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.")
	m.bytesTotal = counter("bytes_total", "The total number of bytes of data (not metadata) sent by the queue after compression.")
	m.metadataBytesTotal = counter("metadata_bytes_total", "The total number of bytes of metadata sent by the queue after compression.")
	m.maxSamplesPerSend = gauge("max_samples_per_send", "The maximum number of samples to be sent, in a single request, to the remote storage.")

	wl := prometheus.Labels{"consumer": name}
	m.recordsRead = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "prometheus", Subsystem: "wal_watcher", Name: "records_read_total",
		Help: "Number of records read by the WAL watcher from the WAL.", ConstLabels: wl}, []string{"type"})
	m.decodeFailures = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "prometheus", Subsystem: "wal_watcher", Name: "record_decode_failures_total",
		Help: "Number of records read by the WAL watcher that resulted in an error when decoding.", ConstLabels: wl})
	m.samplesPreTailing = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "prometheus", Subsystem: "wal_watcher", Name: "samples_sent_pre_tailing_total",
		Help: "Number of sample records read by the WAL watcher and sent to remote write during replay of existing WAL.", ConstLabels: wl})
	m.currentSegment = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "prometheus", Subsystem: "wal_watcher", Name: "current_segment",
		Help: "Current segment the WAL watcher is reading records from.", ConstLabels: wl})
	m.notificationsSkips = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "prometheus", Subsystem: "wal_watcher", Name: "notifications_skipped_total",
		Help: "The number of WAL write notifications that the Watcher has skipped due to already being in a WAL read routine.", ConstLabels: wl})
	m.collectors = append(m.collectors, m.recordsRead, m.decodeFailures, m.samplesPreTailing, m.currentSegment, m.notificationsSkips)
	// The label values Prometheus always exposes, so that rate() has a series from the start.
	m.samplesDropped.WithLabelValues(reasonDroppedSeries)
	m.histogramsDropped.WithLabelValues(reasonDroppedSeries)
	m.recordsRead.WithLabelValues("series")
	m.recordsRead.WithLabelValues("samples")
	return m
}

// counts are a batch's float samples and histograms.
type counts struct{ floats, hists int }

func (c counts) total() int { return c.floats + c.hists }

func countKinds(batch []sample) counts {
	var c counts
	for i := range batch {
		if batch[i].isHist() {
			c.hists++
		}
	}
	c.floats = len(batch) - c.hists
	return c
}

func (m *queueMetrics) addSent(c counts) {
	m.samplesTotal.Add(float64(c.floats))
	m.histogramsTotal.Add(float64(c.hists))
}

func (m *queueMetrics) addFailed(c counts) {
	m.samplesFailed.Add(float64(c.floats))
	m.histogramsFailed.Add(float64(c.hists))
}

func (m *queueMetrics) addRetried(c counts) {
	m.samplesRetried.Add(float64(c.floats))
	m.histogramsRetried.Add(float64(c.hists))
}

func (m *queueMetrics) addPending(c counts, sign float64) {
	m.samplesPending.Add(sign * float64(c.floats))
	m.histogramsPending.Add(sign * float64(c.hists))
}

func (m *queueMetrics) addDropped(reason string, c counts) {
	if c.floats > 0 {
		m.samplesDropped.WithLabelValues(reason).Add(float64(c.floats))
	}
	if c.hists > 0 {
		m.histogramsDropped.WithLabelValues(reason).Add(float64(c.hists))
	}
}

func (m *queueMetrics) register() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.MustRegister(c)
	}
}

func (m *queueMetrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}

// logLimiter lets one message per key through per interval (bad receivers must not flood the
// log: one line per kind of failure and queue every interval, with the count suppressed).
type logLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	last     map[string]time.Time
	skipped  map[string]int
}

func newLogLimiter(interval time.Duration) *logLimiter {
	return &logLimiter{interval: interval, last: map[string]time.Time{}, skipped: map[string]int{}}
}

// allow reports whether a message of kind key may be logged now, and how many were suppressed
// since the last one.
func (l *logLimiter) allow(key string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[key]; ok && now.Sub(t) < l.interval {
		l.skipped[key]++
		return false, 0
	}
	l.last[key] = now
	n := l.skipped[key]
	l.skipped[key] = 0
	return true, n
}
