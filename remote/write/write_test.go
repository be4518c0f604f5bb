package write

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// receiver is a remote-write endpoint decoding with the upstream protobuf types (the oracle for
// Vigil's own encoder). fail, when set, answers instead of storing.
type receiver struct {
	mu       sync.Mutex
	samples  map[string]map[int64]float64  // series → t → v
	hists    map[string]map[int64]recvHist // series → t → native histogram
	dups     int
	requests int
	headers  http.Header
	fail     atomic.Pointer[func(w http.ResponseWriter) bool]
	metadata []prompb.MetricMetadata
	v2       bool
	srv      *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{samples: map[string]map[int64]float64{}, hists: map[string]map[int64]recvHist{}}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if f := r.fail.Load(); f != nil && (*f)(w) {
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	r.headers = req.Header.Clone()
	add := func(lset labels.Labels, t int64, v float64) {
		k := lset.String()
		if r.samples[k] == nil {
			r.samples[k] = map[int64]float64{}
		}
		if _, ok := r.samples[k][t]; ok {
			r.dups++
		}
		r.samples[k][t] = v
	}
	addHist := func(lset labels.Labels, t int64, h recvHist) {
		k := lset.String()
		if r.hists[k] == nil {
			r.hists[k] = map[int64]recvHist{}
		}
		if _, ok := r.hists[k][t]; ok {
			r.dups++
		}
		r.hists[k][t] = h
	}
	n, nh := 0, 0
	if req.Header.Get("Content-Type") == contentTypeV2 {
		var wr writev2.Request
		if err := wr.Unmarshal(raw); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		b := labels.NewScratchBuilder(0)
		for _, ts := range wr.Timeseries {
			lset, err := ts.ToLabels(&b, wr.Symbols)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			for _, s := range ts.Samples {
				add(lset, s.Timestamp, s.Value)
				n++
			}
			for _, h := range ts.Histograms {
				if h.IsFloatHistogram() {
					addHist(lset, h.Timestamp, recvHist{fh: h.ToFloatHistogram()})
				} else {
					addHist(lset, h.Timestamp, recvHist{h: h.ToIntHistogram()})
				}
				nh++
			}
		}
		w.Header().Set(samplesWrittenHeader, strconv.Itoa(n))
		w.Header().Set(histogramsWritten, strconv.Itoa(nh))
		w.Header().Set(exemplarsWrittenHdr, "0")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	b := labels.NewScratchBuilder(0)
	for _, ts := range wr.Timeseries {
		lset := ts.ToLabels(&b, nil)
		for _, s := range ts.Samples {
			add(lset, s.Timestamp, s.Value)
		}
		for _, h := range ts.Histograms {
			if h.IsFloatHistogram() {
				addHist(lset, h.Timestamp, recvHist{fh: h.ToFloatHistogram()})
			} else {
				addHist(lset, h.Timestamp, recvHist{h: h.ToIntHistogram()})
			}
		}
	}
	r.metadata = append(r.metadata, wr.Metadata...)
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.samples {
		n += len(s)
	}
	return n
}

// histCount is the number of distinct histogram samples received.
func (r *receiver) histCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.hists {
		n += len(s)
	}
	return n
}

func (r *receiver) setFail(f func(w http.ResponseWriter) bool) {
	if f == nil {
		r.fail.Store(nil)
		return
	}
	r.fail.Store(&f)
}

func rwConfig(t testing.TB, u string, mod func(*config.RemoteWriteConfig)) *config.Config {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	rw := config.DefaultRemoteWriteConfig
	rw.URL = &commoncfg.URL{URL: pu}
	rw.Name = "test"
	rw.QueueConfig.BatchSendDeadline = model.Duration(20 * time.Millisecond)
	rw.QueueConfig.MinBackoff = model.Duration(5 * time.Millisecond)
	rw.QueueConfig.MaxBackoff = model.Duration(50 * time.Millisecond)
	rw.MetadataConfig.Send = false
	if mod != nil {
		mod(&rw)
	}
	return &config.Config{GlobalConfig: config.DefaultGlobalConfig, RemoteWriteConfigs: []*config.RemoteWriteConfig{&rw}}
}

func openDB(t testing.TB, dir string) *tsdb.DB {
	t.Helper()
	db, err := tsdb.Open(dir, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newManager(db *tsdb.DB, dir string) *Manager {
	return NewManager(Options{WAL: db.WAL(), DataDir: dir, Storage: db.Head(), FlushDeadline: 2 * time.Second})
}

// appendScrapes appends n scrapes of series series each, at timestamps from t0 every 1000 ms.
func appendScrapes(t *testing.T, db *tsdb.DB, t0 int64, n, nseries int) {
	t.Helper()
	for i := range n {
		app := db.Appender(context.Background())
		for s := range nseries {
			lset := labels.FromStrings("__name__", "m", "series", strconv.Itoa(s))
			if _, err := app.Append(0, lset, t0+int64(i)*1000, float64(i*nseries+s)); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSendsEverySampleOnce(t *testing.T) {
	for _, msg := range []string{"prometheus.WriteRequest", "io.prometheus.write.v2.Request"} {
		t.Run(msg, func(t *testing.T) {
			dir := t.TempDir()
			db := openDB(t, dir)
			defer db.Close()
			recv := newReceiver(t)
			m := newManager(db, dir)
			cfg := rwConfig(t, recv.srv.URL, func(c *config.RemoteWriteConfig) {
				c.ProtobufMessage = "prometheus.WriteRequest"
				if msg != string(c.ProtobufMessage) {
					c.ProtobufMessage = "io.prometheus.write.v2.Request"
				}
			})
			cfg.GlobalConfig.ExternalLabels = labels.FromStrings("cluster", "a")
			if err := m.ApplyConfig(cfg); err != nil {
				t.Fatal(err)
			}
			appendScrapes(t, db, 1000, 50, 20)
			waitFor(t, "1000 samples", func() bool { return recv.count() == 1000 })
			defer func() { t.Logf("received %d %+v", recv.count(), m.Status()) }()
			m.Stop()
			recv.mu.Lock()
			defer recv.mu.Unlock()
			if recv.dups != 0 {
				t.Errorf("%d samples received twice", recv.dups)
			}
			for k, s := range recv.samples {
				if want := `cluster="a"`; !containsStr(k, want) {
					t.Errorf("series %s lacks the external label", k)
				}
				if len(s) != 50 {
					t.Errorf("series %s: %d samples, want 50", k, len(s))
				}
			}
			wantCT := contentTypeV1
			if msg != "prometheus.WriteRequest" {
				wantCT = contentTypeV2
			}
			if got := recv.headers.Get("Content-Type"); got != wantCT {
				t.Errorf("Content-Type %q, want %q", got, wantCT)
			}
			if recv.headers.Get("Content-Encoding") != "snappy" || recv.headers.Get(versionHeader) == "" {
				t.Errorf("headers: %v", recv.headers)
			}
		})
	}
}

func containsStr(s, sub string) bool { return len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0) }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestOutageAndRestartLoseNothing: the receiver fails (500) while samples keep coming, the
// queue is stopped hard mid-outage (as a crash would leave it: the position is the one saved
// before), the DB is reopened, and a new manager sends everything exactly once.
func TestOutageAndRestartLoseNothing(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	recv := newReceiver(t)
	m := newManager(db, dir)
	if err := m.ApplyConfig(rwConfig(t, recv.srv.URL, nil)); err != nil {
		t.Fatal(err)
	}
	appendScrapes(t, db, 1000, 10, 10)
	waitFor(t, "first samples", func() bool { return recv.count() == 100 })
	var failures atomic.Int64
	recv.setFail(func(w http.ResponseWriter) bool {
		failures.Add(1)
		http.Error(w, "down", http.StatusInternalServerError)
		return true
	})
	appendScrapes(t, db, 11000, 20, 10)
	waitFor(t, "retries", func() bool { return failures.Load() > 3 })
	st := m.Status()
	if len(st) != 1 || st[0].SamplesRetried == 0 || st[0].LastError == "" {
		t.Errorf("status during the outage: %+v", st)
	}
	// Stop with the receiver still down: the flush deadline passes, the rest stays unacknowledged.
	m.opts.FlushDeadline = 100 * time.Millisecond
	for _, q := range m.queues {
		q.flushDeadline = 100 * time.Millisecond
	}
	m.Stop()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir)
	defer db.Close()
	appendScrapes(t, db, 31000, 10, 10)
	recv.setFail(nil)
	m = newManager(db, dir)
	if err := m.ApplyConfig(rwConfig(t, recv.srv.URL, nil)); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	waitFor(t, "all 400 samples", func() bool { return recv.count() == 400 })
	time.Sleep(100 * time.Millisecond)
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if recv.dups != 0 {
		t.Errorf("%d samples received twice", recv.dups)
	}
}

func TestNonRecoverableDropsAndCounts(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	recv := newReceiver(t)
	recv.setFail(func(w http.ResponseWriter) bool {
		http.Error(w, "bad", http.StatusBadRequest)
		return true
	})
	m := newManager(db, dir)
	if err := m.ApplyConfig(rwConfig(t, recv.srv.URL, nil)); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	appendScrapes(t, db, 1000, 5, 10)
	waitFor(t, "failed samples", func() bool { st := m.Status(); return st[0].SamplesFailed == 50 })
	st := m.Status()[0]
	if st.SamplesPending != 0 || st.SamplesRetried != 0 || st.CommittedOffset == 0 {
		t.Errorf("status after 400s: %+v", st)
	}
}

func TestWriteRelabelAndReloadKeepsQueue(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	recv := newReceiver(t)
	m := newManager(db, dir)
	cfg := rwConfig(t, recv.srv.URL, nil)
	if err := m.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	q := m.queues
	if err := m.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	for h := range q {
		if m.queues[h] != q[h] {
			t.Fatal("an unchanged config restarted its queue")
		}
	}
	appendScrapes(t, db, 1000, 3, 10)
	waitFor(t, "30 samples", func() bool { return recv.count() == 30 })
	// Drop series 0-4 from now on: a changed config restarts the queue at its position.
	relabeled := rwConfig(t, recv.srv.URL, func(c *config.RemoteWriteConfig) {
		rc := &struct{}{}
		_ = rc
		cfg2, err := config.Load("remote_write:\n  - url: http://x\n    write_relabel_configs:\n      - source_labels: [series]\n        regex: '[0-4]'\n        action: drop\n")
		if err != nil {
			t.Fatal(err)
		}
		c.WriteRelabelConfigs = cfg2.RemoteWriteConfigs[0].WriteRelabelConfigs
	})
	if err := m.ApplyConfig(relabeled); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	appendScrapes(t, db, 10000, 3, 10)
	waitFor(t, "45 samples", func() bool { return recv.count() == 45 })
	time.Sleep(50 * time.Millisecond)
	if n := recv.count(); n != 45 {
		t.Errorf("%d samples, want 45", n)
	}
	keys := []string{}
	recv.mu.Lock()
	for k := range recv.samples {
		keys = append(keys, k)
	}
	recv.mu.Unlock()
	sort.Strings(keys)
	if len(keys) != 10 {
		t.Errorf("series: %v", keys)
	}
	_ = fmt.Sprint()
}

func TestX(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	recv := newReceiver(t)
	m := newManager(db, dir)
	cfg := rwConfig(t, recv.srv.URL, nil)
	cfg.GlobalConfig.ExternalLabels = labels.FromStrings("cluster", "a")
	if err := m.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	appendScrapes(t, db, 1000, 50, 20)
	time.Sleep(2 * time.Second)
	t.Logf("%d %d %+v", recv.count(), recv.requests, m.Status())
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// Bad receivers: the queue stays bounded (reading the WAL pauses), logs a few clear lines, counts
// what happens, and once the receiver recovers sends everything it could still send.
func TestBadReceivers(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	cases := []struct {
		name         string
		fail         func(w http.ResponseWriter) bool
		url          string // instead of the receiver's
		retry429     bool
		recovers     bool // samples are retried and all arrive once the receiver is healthy
		neverHealthy bool // retried for ever
		logSubstr    string
	}{
		{name: "500", fail: func(w http.ResponseWriter) bool { http.Error(w, "boom", 500); return true }, recovers: true, logSubstr: "500 Internal Server Error: boom"},
		{name: "429 retried", retry429: true, fail: func(w http.ResponseWriter) bool {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", 429)
			return true
		}, recovers: true, logSubstr: "429 Too Many Requests"},
		{name: "429 dropped", fail: func(w http.ResponseWriter) bool { http.Error(w, "slow down", 429); return true }, logSubstr: "samples dropped"},
		{name: "400", fail: func(w http.ResponseWriter) bool { http.Error(w, "bad labels", 400); return true }, logSubstr: "bad labels"},
		{name: "hangs", fail: func(w http.ResponseWriter) bool {
			select {
			case <-hang:
			case <-time.After(2 * time.Second):
			}
			return true
		}, recovers: true, logSubstr: "context deadline exceeded"},
		{name: "closes mid-body", fail: func(w http.ResponseWriter) bool {
			// Read part of the request, then drop the connection without an answer.
			if hj, ok := w.(http.Hijacker); ok {
				c, buf, _ := hj.Hijack()
				buf.Read(make([]byte, 10))
				c.Close()
			}
			return true
		}, recovers: true, logSubstr: "EOF"},
		{name: "unresolvable", url: "http://vigil-remote-write-test.invalid/api/v1/write", neverHealthy: true, logSubstr: "no such host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := openDB(t, dir)
			defer db.Close()
			recv := newReceiver(t)
			recv.setFail(tc.fail)
			var logs syncBuffer
			m := NewManager(Options{WAL: db.WAL(), DataDir: dir, Storage: db.Head(), FlushDeadline: 200 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			u := recv.srv.URL
			if tc.url != "" {
				u = tc.url
			}
			cfg := rwConfig(t, u, func(c *config.RemoteWriteConfig) {
				c.QueueConfig.Capacity = 50
				c.QueueConfig.MaxShards = 1
				c.QueueConfig.MaxSamplesPerSend = 20
				c.QueueConfig.RetryOnRateLimit = tc.retry429
				c.RemoteTimeout = model.Duration(300 * time.Millisecond)
			})
			if err := m.ApplyConfig(cfg); err != nil {
				t.Fatal(err)
			}
			defer m.Stop()
			appendScrapes(t, db, 1000, 100, 10) // 1000 samples, far more than the queue holds
			var st QueueStatus
			waitFor(t, "the queue to react", func() bool {
				st = m.Status()[0]
				return st.SamplesRetried > 0 || st.SamplesFailed > 0
			})
			time.Sleep(300 * time.Millisecond)
			st = m.Status()[0]
			// Bounded: the shard's capacity, the batch being sent, and the rest of the WAL record
			// whose samples were being enqueued.
			if st.SamplesPending > 50+20+10 {
				t.Errorf("queue holds %d samples, more than capacity + one batch + one record", st.SamplesPending)
			}
			if tc.logSubstr != "" && !strings.Contains(logs.String(), tc.logSubstr) {
				t.Errorf("log lacks %q:\n%s", tc.logSubstr, logs.String())
			}
			if n := strings.Count(logs.String(), "\n"); n > 6 {
				t.Errorf("%d log lines in a second of failures: not rate-limited:\n%s", n, logs.String())
			}
			if tc.neverHealthy {
				if st.SamplesFailed != 0 || st.SamplesRetried == 0 || st.SamplesSent != 0 {
					t.Errorf("unreachable receiver: %+v", st)
				}
				return
			}
			if !tc.recovers {
				waitFor(t, "every sample counted as failed", func() bool { return m.Status()[0].SamplesFailed == 1000 })
				return
			}
			recv.setFail(nil)
			waitFor(t, "every sample delivered", func() bool { return recv.count() == 1000 })
		})
	}
}

// The WAL is truncated (head compaction, checkpoint) while the receiver is down: as in
// Prometheus, the queue does not hold truncation back; it skips to the first remaining segment,
// says so in the log and status, and sends everything written after.
func TestWALTruncatedPastPosition(t *testing.T) {
	dir := t.TempDir()
	db, err := tsdb.Open(dir, &tsdb.Options{MinBlockDuration: 10_000, MaxBlockDuration: 10_000, WALSegmentSize: 4096}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recv := newReceiver(t)
	var logs syncBuffer
	m := NewManager(Options{WAL: db.WAL(), DataDir: dir, Storage: db.Head(), FlushDeadline: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := m.ApplyConfig(rwConfig(t, recv.srv.URL, func(c *config.RemoteWriteConfig) {
		c.QueueConfig.Capacity, c.QueueConfig.MaxSamplesPerSend, c.QueueConfig.MaxShards = 10, 10, 1
	})); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	recv.setFail(func(w http.ResponseWriter) bool { http.Error(w, "down", 503); return true })
	appendScrapes(t, db, 1000, 60, 10) // 60 s of data: the head holds more than 1.5 block ranges
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := db.WAL().Segments(); first == 0 {
		t.Fatal("compaction did not truncate the WAL")
	}
	recv.setFail(nil)
	appendScrapes(t, db, 61000, 5, 10)
	waitFor(t, "the samples after the truncation", func() bool {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		for _, s := range recv.samples {
			if _, ok := s[65000]; !ok {
				return false
			}
		}
		return len(recv.samples) == 10
	})
	if !strings.Contains(logs.String(), "WAL was truncated past this queue's position") {
		t.Errorf("no log line about the skipped segments:\n%s", logs.String())
	}
	if st := m.Status()[0]; !strings.Contains(st.LastError, "WAL truncated") {
		t.Errorf("status does not say the WAL was truncated: %+v", st)
	}
}

// A partial batch is sent once the watcher has read all of the WAL, not only at
// batch_send_deadline: with a deadline of an hour and batches larger than what is written, the
// samples still arrive (waitFor gives up after 20 s).
func TestCaughtUpFlushesPartialBatches(t *testing.T) {
	for _, msg := range []string{"prometheus.WriteRequest", "io.prometheus.write.v2.Request"} {
		t.Run(msg, func(t *testing.T) {
			dir := t.TempDir()
			db := openDB(t, dir)
			defer db.Close()
			recv := newReceiver(t)
			m := newManager(db, dir)
			cfg := rwConfig(t, recv.srv.URL, func(c *config.RemoteWriteConfig) {
				c.ProtobufMessage = remoteapi.WriteMessageType(msg)
				c.QueueConfig.BatchSendDeadline = model.Duration(time.Hour)
				c.QueueConfig.MaxSamplesPerSend = 10000
				c.QueueConfig.MinShards = 3
			})
			if err := m.ApplyConfig(cfg); err != nil {
				t.Fatal(err)
			}
			defer m.Stop()
			for i := range 3 {
				appendScrapes(t, db, 1000+int64(i)*1000, 1, 20)
				waitFor(t, "the scrape's samples", func() bool { return recv.count() == 20*(i+1) })
			}
		})
	}
}

// recvHist is a histogram as the receiver decoded it: integer or float counts.
type recvHist struct {
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
}
