// Package write sends the samples Vigil stores to remote-write receivers (Prometheus's
// remote_write): one queue per remote_write entry tails the WAL, from a position each queue saves
// in the data directory, and sends through dynamically sharded HTTP senders in the remote write
// 1.0 or 2.0 protocol. See docs/remote-write.md.
package write

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/config"
)

// Storage is what the manager reads of the storage for its global metrics.
type Storage interface {
	MaxTime() int64          // newest sample in the head, milliseconds
	SamplesAppended() uint64 // samples committed
}

// Options configure a Manager.
type Options struct {
	WAL           WAL
	DataDir       string // the queues' positions go to DataDir/remote_write
	Storage       Storage
	Metadata      MetadataSource
	FlushDeadline time.Duration
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
}

// Manager runs the remote-write queues of the configuration.
type Manager struct {
	opts Options

	mu       sync.Mutex
	queues   map[string]*queue // by config hash
	external labels.Labels
	stopped  bool
}

// NewManager returns a manager with no queues; ApplyConfig starts them.
func NewManager(o Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{opts: o, queues: map[string]*queue{}}
	if o.Registerer != nil && o.Storage != nil {
		o.Registerer.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: "prometheus", Subsystem: "remote_storage", Name: "highest_timestamp_in_seconds",
				Help: "Highest timestamp that has come into the remote storage via the Appender interface, in seconds since epoch. Initialized to 0 when no data has been received yet.",
			}, func() float64 {
				t := o.Storage.MaxTime()
				if t < 0 {
					return 0
				}
				return float64(t) / 1000
			}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Namespace: "prometheus", Subsystem: "remote_storage", Name: "samples_in_total",
				Help: "Samples in to remote storage, compare to samples out for queue managers.",
			}, func() float64 { return float64(o.Storage.SamplesAppended()) }),
		)
	}
	return m
}

// ApplyConfig starts, keeps and stops queues to match cfg. A queue whose configuration (and the
// external labels) are unchanged keeps running; a changed one is stopped (saving its position)
// and started again from that position, so a reload loses nothing. Errors (a client that cannot
// be built, duplicate configurations) leave the running queues as they are.
func (m *Manager) ApplyConfig(cfg *config.Config) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return nil
	}
	external := cfg.GlobalConfig.ExternalLabels
	sameExternal := labels.Equal(external, m.external)
	keep := map[string]*queue{}
	var start []*queue
	seen := map[string]bool{}
	for _, rw := range cfg.RemoteWriteConfigs {
		hash, err := rw.Hash()
		if err != nil {
			return fmt.Errorf("remote_write: %w", err)
		}
		if seen[hash] {
			return fmt.Errorf("duplicate remote write configs are not allowed, found duplicate for URL: %s", rw.URL)
		}
		seen[hash] = true
		if q, ok := m.queues[hash]; ok && sameExternal {
			keep[hash] = q
			continue
		}
		name := hash[:6]
		if rw.Name != "" {
			name = rw.Name
		}
		q, err := newQueue(queueParams{
			name: name, hash: hash, cfg: rw, external: external,
			wal: m.opts.WAL, dataDir: m.opts.DataDir, metadata: m.opts.Metadata,
			logger: m.opts.Logger, reg: m.opts.Registerer, flushDeadline: m.opts.FlushDeadline,
		})
		if err != nil {
			return err
		}
		start = append(start, q)
	}
	// Stop the old queues first: a restarted queue (same name and URL) resumes from the
	// position its predecessor saved, and the metrics' labels are free again.
	for hash, q := range m.queues {
		if _, ok := keep[hash]; !ok {
			q.stop()
		}
	}
	for _, q := range start {
		q.start()
		keep[q.hash] = q
		m.opts.Logger.Info("Starting remote write queue", "remote_name", q.name, "url", q.url, "protobuf_message", q.cfg.ProtobufMessage)
	}
	m.queues = keep
	m.external = external
	return nil
}

// Stop stops every queue; each sends what it holds for up to the flush deadline and saves its
// position.
func (m *Manager) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	var wg sync.WaitGroup
	for _, q := range m.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.stop()
		}()
	}
	wg.Wait()
	m.queues = map[string]*queue{}
	m.stopped = true
}

// QueueStatus is one queue's state, for /api/v1/status/remote_write.
type QueueStatus struct {
	Name            string `json:"name"`
	URL             string `json:"url"`
	ProtobufMessage string `json:"protobufMessage"`
	Shards          int    `json:"shards"`
	DesiredShards   int    `json:"desiredShards"`
	MinShards       int    `json:"minShards"`
	MaxShards       int    `json:"maxShards"`
	Capacity        int    `json:"capacity"`
	SamplesPending  int64  `json:"samplesPending"`
	SamplesSent     int64  `json:"samplesSent"`
	SamplesFailed   int64  `json:"samplesFailed"`
	SamplesRetried  int64  `json:"samplesRetried"`
	SamplesDropped  int64  `json:"samplesDropped"`
	// Series is how many WAL series the queue knows; SeriesBytes the memory their labels and
	// index take in the queue.
	Series               int64     `json:"series"`
	SeriesBytes          int64     `json:"seriesBytes"`
	HighestTimestamp     time.Time `json:"highestTimestamp"`
	HighestSentTimestamp time.Time `json:"highestSentTimestamp"`
	LastSend             time.Time `json:"lastSend"`
	ReadSegment          int       `json:"readSegment"`
	ReadOffset           int64     `json:"readOffset"`
	CommittedSegment     int       `json:"committedSegment"`
	CommittedOffset      int64     `json:"committedOffset"`
	LastError            string    `json:"lastError,omitempty"`
	LastErrorTime        time.Time `json:"lastErrorTime"`
}

// Status returns the state of every queue, sorted by name.
func (m *Manager) Status() []QueueStatus {
	m.mu.Lock()
	qs := make([]*queue, 0, len(m.queues))
	for _, q := range m.queues {
		qs = append(qs, q)
	}
	m.mu.Unlock()
	res := make([]QueueStatus, 0, len(qs))
	for _, q := range qs {
		st := QueueStatus{
			Name: q.name, URL: q.url, ProtobufMessage: string(q.cfg.ProtobufMessage),
			Shards: int(q.numShards.Load()), DesiredShards: int(q.desired.Load()),
			MinShards: q.qc.MinShards, MaxShards: q.qc.MaxShards, Capacity: q.qc.Capacity,
			SamplesPending: q.pending.Load(), SamplesSent: q.sent.Load(), SamplesFailed: q.failed.Load(),
			SamplesRetried: q.retried.Load(), SamplesDropped: q.dropped.Load(),
			Series: q.seriesKnown.Load(), SeriesBytes: q.seriesBytes.Load(),
			HighestTimestamp:     secondsTime(q.m.highestTimestamp.get()),
			HighestSentTimestamp: secondsTime(q.m.highestSentTimestamp.get()),
		}
		if t := q.lastSendOK.Load(); t > 0 {
			st.LastSend = time.Unix(0, t).UTC()
		}
		if p := q.readPos.Load(); p != nil {
			st.ReadSegment, st.ReadOffset = p.Segment, p.Offset
		}
		if q.running.Load() {
			c := q.tracker.committed()
			st.CommittedSegment, st.CommittedOffset = c.Segment, c.Offset
		}
		q.statusMu.Lock()
		st.LastError, st.LastErrorTime = q.lastError, q.lastErrorAt.UTC()
		q.statusMu.Unlock()
		res = append(res, st)
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Name < res[j].Name })
	return res
}

func secondsTime(s float64) time.Time {
	if s <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(s * 1000)).UTC()
}
