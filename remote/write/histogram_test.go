package write

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/prompb"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// TestSkipsHistogramRecords: the WAL holds native histogram records (the TSDB stores them)
// between float samples; without send_native_histograms (the default) remote write tails past
// them without error and sends every float sample once.
func TestSkipsHistogramRecords(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	recv := newReceiver(t)
	m := newManager(db, dir)
	if err := m.ApplyConfig(rwConfig(t, recv.srv.URL, nil)); err != nil {
		t.Fatal(err)
	}
	const scrapes, floats, hists = 50, 20, 6
	appendMixed(t, db, 1000, scrapes, floats, hists)
	waitFor(t, "every float sample", func() bool { return recv.count() == scrapes*floats })
	m.Stop()
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if recv.dups != 0 || len(recv.samples) != floats || len(recv.hists) != 0 {
		t.Fatalf("%d series received, %d histogram series, %d samples twice; want %d float series once", len(recv.samples), len(recv.hists), recv.dups, floats)
	}
}

// testHistogram is the histogram of series s at scrape i: integer counts with an exponential
// schema (s%3 == 0), float counts (s%3 == 1), or custom buckets (NHCB, s%3 == 2).
func testHistogram(i, s int) (*histogram.Histogram, *histogram.FloatHistogram) {
	c := uint64(i + 1)
	switch s % 3 {
	case 0:
		return &histogram.Histogram{Schema: 1, Count: 3 * c, Sum: float64(i) * 1.5, ZeroThreshold: 0.001, ZeroCount: c,
			PositiveSpans: []histogram.Span{{Offset: -1, Length: 2}}, PositiveBuckets: []int64{int64(c), 0},
			NegativeSpans: []histogram.Span{{Offset: 2, Length: 1}}, NegativeBuckets: []int64{0}}, nil
	case 1:
		return nil, &histogram.FloatHistogram{Schema: 0, Count: 2.5 * float64(c), Sum: -float64(i) - 0.5, ZeroThreshold: 0.001, ZeroCount: 0.5 * float64(c),
			PositiveSpans: []histogram.Span{{Offset: 3, Length: 2}}, PositiveBuckets: []float64{float64(c), float64(c)}}
	default:
		return &histogram.Histogram{Schema: histogram.CustomBucketsSchema, Count: 2 * c, Sum: float64(i),
			PositiveSpans: []histogram.Span{{Length: 3}}, PositiveBuckets: []int64{int64(c), -int64(c), int64(c)},
			CustomValues: []float64{0.1, 1, 10}}, nil
	}
}

func histLabels(s int) labels.Labels {
	return labels.FromStrings("__name__", "h", "series", strconv.Itoa(s))
}

// appendMixed appends n scrapes (every 1000 ms from t0) of floats float series and hists
// histogram series (testHistogram of the scrape's index counted from 1000 ms).
func appendMixed(t *testing.T, db *tsdb.DB, t0 int64, n, floats, hists int) {
	t.Helper()
	for i := range n {
		app := db.Appender(context.Background())
		ts := t0 + int64(i)*1000
		for s := range floats {
			if _, err := app.Append(0, labels.FromStrings("__name__", "m", "series", strconv.Itoa(s)), ts, float64(i)); err != nil {
				t.Fatal(err)
			}
		}
		for s := range hists {
			h, fh := testHistogram(int(ts-1000)/1000, s)
			if _, err := app.AppendHistogram(0, histLabels(s), ts, h, fh); err != nil {
				t.Fatalf("histogram series %d: %v", s, err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// checkHistograms compares what the receiver holds with the histograms appended by
// appendMixed(t0, n, _, hists), except the series in skip.
func checkHistograms(t *testing.T, recv *receiver, t0 int64, n, hists int, skip map[int]bool) {
	t.Helper()
	recv.mu.Lock()
	defer recv.mu.Unlock()
	for s := range hists {
		got := recv.hists[histLabels(s).String()]
		if skip[s] {
			if len(got) != 0 {
				t.Errorf("series %d dropped by relabelling, but %d histograms received", s, len(got))
			}
			continue
		}
		if len(got) != n {
			t.Errorf("series %d: %d histograms received, want %d", s, len(got), n)
			continue
		}
		for i := range n {
			ts := t0 + int64(i)*1000
			h, fh := testHistogram(int(ts-1000)/1000, s)
			r := got[ts]
			switch {
			case h != nil && (r.h == nil || !r.h.Equals(h)):
				t.Errorf("series %d at %d: received %v / %v, want integer histogram %v", s, ts, r.h, r.fh, h)
			case fh != nil && (r.fh == nil || !r.fh.Equals(fh)):
				t.Errorf("series %d at %d: received %v / %v, want float histogram %v", s, ts, r.h, r.fh, fh)
			}
		}
	}
}

// TestSendsHistograms: with send_native_histograms, integer, float and custom-bucket histograms
// reach the receiver (decoded with upstream's types) once each and unchanged, in 1.0 and 2.0,
// through the same queue as the floats; write relabelling drops histogram series as float
// ones; the histogram metrics count them.
func TestSendsHistograms(t *testing.T) {
	for _, msg := range []string{"prometheus.WriteRequest", "io.prometheus.write.v2.Request"} {
		t.Run(msg, func(t *testing.T) {
			dir := t.TempDir()
			db := openDB(t, dir)
			defer db.Close()
			recv := newReceiver(t)
			reg := prometheus.NewRegistry()
			m := NewManager(Options{WAL: db.WAL(), DataDir: dir, Storage: db.Head(), FlushDeadline: 2 * time.Second, Registerer: reg})
			cfg := rwConfig(t, recv.srv.URL, func(c *config.RemoteWriteConfig) {
				c.ProtobufMessage = remoteapi.WriteMessageType(msg)
				c.SendNativeHistograms = true
				c.QueueConfig.MaxSamplesPerSend = 7 // batches mixing floats and histograms
				c.WriteRelabelConfigs = []*relabel.Config{{
					SourceLabels: model.LabelNames{"__name__", "series"}, Separator: ";", Regex: relabel.MustNewRegexp("h;4"),
					Action: relabel.Drop, NameValidationScheme: config.NameValidationScheme,
				}}
			})
			if err := m.ApplyConfig(cfg); err != nil {
				t.Fatal(err)
			}
			const scrapes, floats, hists = 30, 5, 6
			appendMixed(t, db, 1000, scrapes, floats, hists)
			sentHists := scrapes * (hists - 1)
			waitFor(t, "every sample and histogram", func() bool {
				return recv.count() == scrapes*floats && recv.histCount() == sentHists
			})
			qm := m.queueFor(t).m
			m.Stop()
			checkHistograms(t, recv, 1000, scrapes, hists, map[int]bool{4: true})
			recv.mu.Lock()
			if recv.dups != 0 {
				t.Errorf("%d received twice", recv.dups)
			}
			recv.mu.Unlock()
			l := []string{"test", recv.srv.URL}
			for _, c := range []struct {
				name string
				c    prometheus.Collector
				want float64
			}{
				{"histograms_total", qm.histogramsTotal, float64(sentHists)},
				{"samples_total", qm.samplesTotal, scrapes * floats},
				{"histograms_dropped_total{dropped_series}", qm.histogramsDropped.WithLabelValues(reasonDroppedSeries), scrapes},
				{"histograms_pending", qm.histogramsPending, 0},
				{"histograms_failed_total", qm.histogramsFailed, 0},
			} {
				if got := testutil.ToFloat64(c.c); got != c.want {
					t.Errorf("%s %v = %v, want %v", c.name, l, got, c.want)
				}
			}
		})
	}
}

// TestHistogramOutageAndRestartLoseNothing: histograms written while the receiver fails, and
// across a restart with the receiver still down, all arrive once.
func TestHistogramOutageAndRestartLoseNothing(t *testing.T) {
	for _, msg := range []string{"prometheus.WriteRequest", "io.prometheus.write.v2.Request"} {
		t.Run(msg, func(t *testing.T) {
			dir := t.TempDir()
			db := openDB(t, dir)
			recv := newReceiver(t)
			cfg := func() *config.Config {
				return rwConfig(t, recv.srv.URL, func(c *config.RemoteWriteConfig) {
					c.ProtobufMessage = remoteapi.WriteMessageType(msg)
					c.SendNativeHistograms = true
				})
			}
			m := newManager(db, dir)
			if err := m.ApplyConfig(cfg()); err != nil {
				t.Fatal(err)
			}
			const hists = 6
			appendMixed(t, db, 1000, 10, 2, hists)
			waitFor(t, "first histograms", func() bool { return recv.histCount() == 10*hists })
			var failures atomic.Int64
			recv.setFail(func(w http.ResponseWriter) bool {
				failures.Add(1)
				http.Error(w, "down", http.StatusInternalServerError)
				return true
			})
			appendMixed(t, db, 11000, 20, 2, hists)
			waitFor(t, "retries", func() bool { return failures.Load() > 3 })
			if st := m.Status(); len(st) != 1 || st[0].SamplesRetried == 0 {
				t.Errorf("status during the outage: %+v", st)
			}
			for _, q := range m.queues {
				q.flushDeadline = 100 * time.Millisecond
			}
			m.Stop()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openDB(t, dir)
			defer db.Close()
			appendMixed(t, db, 31000, 10, 2, hists)
			recv.setFail(nil)
			m = newManager(db, dir)
			if err := m.ApplyConfig(cfg()); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "all histograms", func() bool { return recv.histCount() == 40*hists && recv.count() == 40*2 })
			m.Stop()
			checkHistograms(t, recv, 1000, 40, hists, nil)
			recv.mu.Lock()
			defer recv.mu.Unlock()
			if recv.dups != 0 {
				t.Errorf("%d received twice", recv.dups)
			}
		})
	}
}

// FuzzEncodeHistogramV1 checks Vigil's 1.0 encoding of a histogram sample (labels by hand,
// histogram by prompb) against the upstream decoder, next to a float sample.
func FuzzEncodeHistogramV1(f *testing.F) {
	f.Add("h", "le", int32(1), uint64(10), 2.5, 0.001, int64(3), int64(-1), false, int64(1700000000000), 1.0)
	f.Add("", "x\xff", int32(-53), uint64(0), math.NaN(), 0.0, int64(0), int64(0), true, int64(math.MinInt64), math.Inf(-1))
	f.Add("h", "", int32(8), uint64(math.MaxUint64), -0.0, 1e300, int64(math.MaxInt64), int64(math.MinInt64), true, int64(-1), -0.0)
	f.Fuzz(func(t *testing.T, name, lv string, schema int32, count uint64, sum, zt float64, b1, b2 int64, float bool, ts int64, v float64) {
		lset := labels.FromStrings("__name__", name, "series", lv)
		g := newArenaGen()
		off, _, _, ok := encodeSeries(g, lset, nil, nil)
		if !ok {
			t.Fatal("arena full")
		}
		h := &histogram.Histogram{Schema: schema, Count: count, Sum: sum, ZeroThreshold: zt, ZeroCount: uint64(b1),
			PositiveSpans: []histogram.Span{{Offset: int32(b2), Length: 2}}, PositiveBuckets: []int64{b1, b2},
			NegativeSpans: []histogram.Span{{Offset: -1, Length: 1}}, NegativeBuckets: []int64{b2}}
		if histogram.IsCustomBucketsSchema(schema) {
			h.NegativeSpans, h.NegativeBuckets, h.CustomValues = nil, nil, []float64{zt, sum}
		}
		s := sample{g: g, off: off, t: ts, h: h}
		if float {
			s.h, s.fh = nil, h.ToFloat(nil)
		}
		want := histogramV1(&s)
		b, err := appendHistogramV1(nil, g, off, &want)
		if err != nil {
			t.Fatal(err)
		}
		b = appendSampleV1(b, g, off, ts, v)
		var req prompb.WriteRequest
		if err := req.Unmarshal(b); err != nil {
			t.Fatalf("upstream cannot decode: %v", err)
		}
		if len(req.Timeseries) != 2 {
			t.Fatalf("%d timeseries", len(req.Timeseries))
		}
		sb := labels.NewScratchBuilder(0)
		for _, ts := range req.Timeseries {
			if got := ts.ToLabels(&sb, nil); !labels.Equal(got, lset) {
				t.Fatalf("labels %v, want %v", got, lset)
			}
		}
		got := req.Timeseries[0]
		if len(got.Samples) != 0 || len(got.Histograms) != 1 {
			t.Fatalf("first series: %d samples, %d histograms", len(got.Samples), len(got.Histograms))
		}
		gb, err := got.Histograms[0].Marshal()
		if err != nil {
			t.Fatal(err)
		}
		wb, err := want.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gb, wb) {
			t.Fatalf("histogram decoded as %+v, want %+v", got.Histograms[0], want)
		}
		if fs := req.Timeseries[1]; len(fs.Histograms) != 0 || len(fs.Samples) != 1 || fs.Samples[0].Timestamp != ts ||
			math.Float64bits(fs.Samples[0].Value) != math.Float64bits(v) {
			t.Fatalf("second series %+v", fs)
		}
	})
}

// TestV2HistogramsWrittenHeader: the 2.0 answer's written-samples and written-histograms
// headers are accounted per kind: a receiver saying it wrote the floats but no histogram has
// the histograms counted as failed and the floats as sent; one confirming both has both sent.
func TestV2HistogramsWrittenHeader(t *testing.T) {
	for _, tc := range []struct {
		name                string
		histogramsWritten   string
		wantSent, wantFails float64
	}{
		{"histograms not written", "0", 0, 1},
		{"histograms written", "1000000", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := openDB(t, dir)
			defer db.Close()
			recv := newReceiver(t)
			recv.setFail(func(w http.ResponseWriter) bool {
				w.Header().Set(samplesWrittenHeader, "1000000")
				w.Header().Set(histogramsWritten, tc.histogramsWritten)
				w.WriteHeader(http.StatusNoContent)
				return true
			})
			m := newManager(db, dir)
			if err := m.ApplyConfig(rwConfig(t, recv.srv.URL, func(c *config.RemoteWriteConfig) {
				c.ProtobufMessage = remoteapi.WriteV2MessageType
				c.SendNativeHistograms = true
			})); err != nil {
				t.Fatal(err)
			}
			defer m.Stop()
			const scrapes, floats, hists = 10, 3, 3
			appendMixed(t, db, 1000, scrapes, floats, hists)
			qm := m.queueFor(t).m
			waitFor(t, "everything accounted", func() bool {
				return testutil.ToFloat64(qm.samplesTotal) == scrapes*floats &&
					testutil.ToFloat64(qm.histogramsTotal)+testutil.ToFloat64(qm.histogramsFailed) == scrapes*hists
			})
			if got := testutil.ToFloat64(qm.histogramsTotal); got != tc.wantSent*scrapes*hists {
				t.Errorf("histograms_total %v, want %v", got, tc.wantSent*scrapes*hists)
			}
			if got := testutil.ToFloat64(qm.histogramsFailed); got != tc.wantFails*scrapes*hists {
				t.Errorf("histograms_failed_total %v, want %v", got, tc.wantFails*scrapes*hists)
			}
			if got := testutil.ToFloat64(qm.samplesFailed); got != 0 {
				t.Errorf("samples_failed_total %v, want 0", got)
			}
		})
	}
}
