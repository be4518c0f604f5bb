package v1

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/vigil-monitoring/vigil/storage"
)

// histStore is an Appendable that keeps what was committed, floats and native histograms, and
// refuses a sample not newer than the series' last one (committed or pending) with
// storage.ErrOutOfOrderSample, as the TSDB does.
type histStore struct {
	mu     sync.Mutex
	series map[string][]storedSample
}

type storedSample struct {
	T  int64
	F  float64
	H  *histogram.Histogram
	FH *histogram.FloatHistogram
}

func newHistStore() *histStore { return &histStore{series: map[string][]storedSample{}} }

func (s *histStore) Appender(context.Context) storage.Appender {
	return &histStoreAppender{s: s, pending: map[string][]storedSample{}}
}

func (s *histStore) get(ls labels.Labels) []storedSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.series[ls.String()]
}

type histStoreAppender struct {
	s       *histStore
	pending map[string][]storedSample
}

func (a *histStoreAppender) add(ls labels.Labels, smp storedSample) (storage.SeriesRef, error) {
	k := ls.String()
	a.s.mu.Lock()
	last := append(a.s.series[k][:len(a.s.series[k]):len(a.s.series[k])], a.pending[k]...)
	a.s.mu.Unlock()
	if n := len(last); n > 0 && last[n-1].T >= smp.T {
		return 0, storage.ErrOutOfOrderSample
	}
	a.pending[k] = append(a.pending[k], smp)
	return 1, nil
}

func (a *histStoreAppender) Append(_ storage.SeriesRef, ls labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	return a.add(ls, storedSample{T: t, F: v})
}

func (a *histStoreAppender) AppendHistogram(_ storage.SeriesRef, ls labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if (h == nil) == (fh == nil) {
		return 0, fmt.Errorf("exactly one of h and fh must be set")
	}
	return a.add(ls, storedSample{T: t, H: h, FH: fh})
}

func (a *histStoreAppender) Commit() error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	for k, ss := range a.pending {
		a.s.series[k] = append(a.s.series[k], ss...)
	}
	a.pending = nil
	return nil
}

func (a *histStoreAppender) Rollback() error { a.pending = nil; return nil }

// invalidHistogram has more observations in its bucket than its count: refused as upstream's
// TSDB refuses it (histogram.ErrHistogramCountNotBigEnough).
func invalidHistogram(t int64) prompb.Histogram {
	return prompb.Histogram{
		Timestamp: t, Count: &prompb.Histogram_CountInt{CountInt: 1},
		PositiveSpans: []prompb.BucketSpan{{Offset: 0, Length: 1}}, PositiveDeltas: []int64{5},
	}
}

var (
	rwIntHist = &histogram.Histogram{
		Schema: 1, Count: 13, Sum: 18.4, ZeroThreshold: 0.001, ZeroCount: 2,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}, {Offset: 1, Length: 2}},
		PositiveBuckets: []int64{1, 1, -1, 0},
		NegativeSpans:   []histogram.Span{{Offset: 0, Length: 2}},
		NegativeBuckets: []int64{2, 2},
	}
	rwFloatHist = &histogram.FloatHistogram{
		Schema: 0, Count: 7.5, Sum: -3.25,
		PositiveSpans:   []histogram.Span{{Offset: -1, Length: 2}},
		PositiveBuckets: []float64{2.5, 5},
	}
	rwNHCB = &histogram.Histogram{
		Schema: histogram.CustomBucketsSchema, Count: 9, Sum: 3.5,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 3}},
		PositiveBuckets: []int64{4, -1, -1},
		CustomValues:    []float64{0.1, 0.5, 1},
	}
	// Schema 10 is in the reserved range: the receiver reduces it to 8.
	rwSchema10 = &histogram.Histogram{
		Schema: 10, Count: 4, Sum: 4,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 8}},
		PositiveBuckets: []int64{1, -1, 0, 0, 1, -1, 1, 0},
	}
)

func TestRemoteWriteHistogramsV1(t *testing.T) {
	store := newHistStore()
	env := newTestEnv(t, func(o *Options) { o.EnableRemoteWrite = true; o.Appendable = store })
	base := time.Now().Add(-time.Minute).UnixMilli()
	name := func(n string) []prompb.Label { return []prompb.Label{{Name: "__name__", Value: n}} }
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: name("int_hist"), Histograms: []prompb.Histogram{prompb.FromIntHistogram(base, rwIntHist), prompb.FromIntHistogram(base+1000, rwIntHist)}},
		{Labels: name("float_hist"), Histograms: []prompb.Histogram{prompb.FromFloatHistogram(base, rwFloatHist)}},
		{Labels: name("nhcb"), Histograms: []prompb.Histogram{prompb.FromIntHistogram(base, rwNHCB)}},
		{Labels: name("fine"), Histograms: []prompb.Histogram{prompb.FromIntHistogram(base, rwSchema10)}},
		// A series that changed type within the batch: floats first, then histograms, as upstream.
		{Labels: name("mixed"), Samples: []prompb.Sample{{Timestamp: base, Value: 1}}, Histograms: []prompb.Histogram{prompb.FromIntHistogram(base+1000, rwIntHist)}},
	}}
	if code, body := postWrite(t, env, writeBody(t, req), "application/x-protobuf"); code != http.StatusNoContent {
		t.Fatalf("write: %d %s", code, body)
	}
	reduced := rwSchema10.Copy()
	if err := reduced.ReduceResolution(8); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want []storedSample
	}{
		{"int_hist", []storedSample{{T: base, H: rwIntHist}, {T: base + 1000, H: rwIntHist}}},
		{"float_hist", []storedSample{{T: base, FH: rwFloatHist}}},
		{"nhcb", []storedSample{{T: base, H: rwNHCB}}},
		{"fine", []storedSample{{T: base, H: reduced}}},
		{"mixed", []storedSample{{T: base, F: 1}, {T: base + 1000, H: rwIntHist}}},
	} {
		got := store.get(labels.FromStrings("__name__", tc.name))
		if !reflect.DeepEqual(normalize(got), normalize(tc.want)) {
			t.Errorf("%s stored\n%v\nwant\n%v", tc.name, got, tc.want)
		}
	}
	if reduced.Schema != 8 {
		t.Fatalf("reduced schema %d", reduced.Schema)
	}

	// Refused histograms: out of order, invalid, too far in the future; the rest is written
	// and the answer is 400 with the reasons.
	bad := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: name("int_hist"), Histograms: []prompb.Histogram{prompb.FromIntHistogram(base, rwIntHist), prompb.FromIntHistogram(base+2000, rwIntHist)}},
		{Labels: name("invalid"), Histograms: []prompb.Histogram{invalidHistogram(base)}},
		{Labels: name("future"), Histograms: []prompb.Histogram{prompb.FromIntHistogram(time.Now().Add(time.Hour).UnixMilli(), rwIntHist)}},
		{Labels: name("bad_schema"), Histograms: []prompb.Histogram{prompb.FromIntHistogram(base, &histogram.Histogram{Schema: 60})}},
	}}
	code, body := postWrite(t, env, writeBody(t, bad), "application/x-protobuf")
	if code != http.StatusBadRequest {
		t.Fatalf("bad batch: %d %s", code, body)
	}
	for _, want := range []string{"out of order sample", "histogram's observation count should equal", "too far in the future", "invalid schema"} {
		if !strings.Contains(body, want) {
			t.Errorf("answer %q lacks %q", body, want)
		}
	}
	if got := store.get(labels.FromStrings("__name__", "int_hist")); len(got) != 3 || got[2].T != base+2000 {
		t.Errorf("good histogram of the bad batch not stored: %v", got)
	}
	for _, n := range []string{"invalid", "future", "bad_schema"} {
		if got := store.get(labels.FromStrings("__name__", n)); got != nil {
			t.Errorf("%s stored: %v", n, got)
		}
	}
}

// normalize turns integer histograms into float ones so that DeepEqual compares values, and
// drops the counter-reset hint that the wire format carries as given.
func normalize(ss []storedSample) []string {
	var out []string
	for _, s := range ss {
		switch {
		case s.H != nil:
			out = append(out, fmt.Sprintf("%d int %s %v", s.T, s.H.String(), s.H.CustomValues))
		case s.FH != nil:
			out = append(out, fmt.Sprintf("%d float %s %v", s.T, s.FH.String(), s.FH.CustomValues))
		default:
			out = append(out, fmt.Sprintf("%d %g", s.T, s.F))
		}
	}
	return out
}

func TestRemoteWriteHistogramsV2(t *testing.T) {
	store := newHistStore()
	env := newTestEnv(t, func(o *Options) { o.EnableRemoteWrite = true; o.Appendable = store })
	base := time.Now().Add(-time.Minute).UnixMilli()

	st := writev2.NewSymbolTable()
	ih := v2Series(&st, labels.FromStrings("__name__", "v2_hist", "k", "int"))
	ih.Histograms = []writev2.Histogram{writev2.FromIntHistogram(0, base, rwIntHist), writev2.FromIntHistogram(0, base+1000, rwIntHist)}
	fh := v2Series(&st, labels.FromStrings("__name__", "v2_hist", "k", "float"))
	fh.Histograms = []writev2.Histogram{writev2.FromFloatHistogram(0, base, rwFloatHist)}
	nhcb := v2Series(&st, labels.FromStrings("__name__", "v2_hist", "k", "nhcb"))
	nhcb.Histograms = []writev2.Histogram{writev2.FromIntHistogram(0, base, rwNHCB), writev2.FromFloatHistogram(0, base+1000, rwNHCB.ToFloat(nil))}
	req := &writev2.Request{Symbols: st.Symbols(), Timeseries: []writev2.TimeSeries{ih, fh, nhcb}}

	// client_golang's remote-write client (Prometheus 3's sender) checks the written counts.
	api, err := remoteapi.NewAPI(env.srv.URL, remoteapi.WithAPIPath("api/v1/write"))
	if err != nil {
		t.Fatal(err)
	}
	stats, err := api.Write(context.Background(), remoteapi.WriteV2MessageType, req)
	if err != nil {
		t.Fatalf("client_golang write: %v", err)
	}
	if stats.Samples != 0 || stats.Histograms != 5 {
		t.Fatalf("written stats %+v, want 5 histograms", stats)
	}
	for k, want := range map[string][]storedSample{
		"int":   {{T: base, H: rwIntHist}, {T: base + 1000, H: rwIntHist}},
		"float": {{T: base, FH: rwFloatHist}},
		"nhcb":  {{T: base, H: rwNHCB}, {T: base + 1000, FH: rwNHCB.ToFloat(nil)}},
	} {
		got := store.get(labels.FromStrings("__name__", "v2_hist", "k", k))
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			t.Errorf("%s stored\n%v\nwant\n%v", k, normalize(got), normalize(want))
		}
	}

	// A partial write: headers count the histograms written, the refused ones are listed.
	st = writev2.NewSymbolTable()
	again := v2Series(&st, labels.FromStrings("__name__", "v2_hist", "k", "int"))
	again.Histograms = []writev2.Histogram{writev2.FromIntHistogram(0, base, rwIntHist), writev2.FromIntHistogram(0, base+5000, rwIntHist)}
	badCV := v2Series(&st, labels.FromStrings("__name__", "v2_hist", "k", "badcv"))
	decreasing := rwNHCB.Copy()
	decreasing.CustomValues = []float64{1, 0.5, 2}
	badCV.Histograms = []writev2.Histogram{writev2.FromIntHistogram(0, base, decreasing)}
	resp, body := postV2(t, env, &writev2.Request{Symbols: st.Symbols(), Timeseries: []writev2.TimeSeries{again, badCV}}, v2ContentType)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("partial write: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{"out of order sample", "custom bounds must be in strictly increasing order"} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %q: %s", want, body)
		}
	}
	if got := resp.Header.Get("X-Prometheus-Remote-Write-Histograms-Written"); got != "1" {
		t.Errorf("histograms written header %q, want 1", got)
	}
}
