package v1

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/vigil-monitoring/vigil/storage"
)

// Remote write 2.0 samples keep their start timestamps in the TSDB.
func TestRemoteWriteV2StartTimestamps(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.EnableRemoteWrite = true })
	base := testStart.Add(20 * time.Minute).UnixMilli()
	st := writev2.NewSymbolTable()
	withST := v2Series(&st, labels.FromStrings("__name__", "st_total", "k", "with"),
		writev2.Sample{Timestamp: base, Value: 1, StartTimestamp: base - 30000},
		writev2.Sample{Timestamp: base + 1000, Value: 2, StartTimestamp: base - 30000},
		writev2.Sample{Timestamp: base + 2000, Value: 1, StartTimestamp: base + 1500})
	without := v2Series(&st, labels.FromStrings("__name__", "st_total", "k", "without"), writev2.Sample{Timestamp: base, Value: 5})
	resp, body := postV2(t, env, &writev2.Request{Symbols: st.Symbols(), Timeseries: []writev2.TimeSeries{withST, without}}, v2ContentType)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	checkStartTimestamps(t, env, "st_total", base-1, base+3000, storage.ValFloat, map[string][]int64{
		"with":    {base - 30000, base - 30000, base + 1500},
		"without": {0},
	})
}

// checkStartTimestamps requires the series of metric name in [mint, maxt], by their label k,
// to have samples of type vt (any histogram type for ValHistogram) with the start timestamps want.
func checkStartTimestamps(t *testing.T, env *testEnv, name string, mint, maxt int64, vt storage.ValueType, want map[string][]int64) {
	t.Helper()
	q, err := env.db.Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", name))
	n := 0
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		var got []int64
		for gvt := it.Next(); gvt != storage.ValNone; gvt = it.Next() {
			if (gvt == storage.ValFloat) != (vt == storage.ValFloat) {
				t.Fatalf("%s: a %s sample, want %s", s.Labels(), gvt, vt)
			}
			got = append(got, it.AtST())
		}
		if k := s.Labels().Get("k"); !slices.Equal(got, want[k]) {
			t.Fatalf("%s: start timestamps %v, want %v", k, got, want[k])
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("%d series, want %d", n, len(want))
	}
}

// Remote write 2.0 native histograms (integer and float counts) keep their start timestamps in
// the TSDB, as floats do.
func TestRemoteWriteV2HistogramStartTimestamps(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.EnableRemoteWrite = true })
	base := testStart.Add(20 * time.Minute).UnixMilli()
	st := writev2.NewSymbolTable()
	series := func(k string, hs ...writev2.Histogram) writev2.TimeSeries {
		return writev2.TimeSeries{LabelsRefs: st.SymbolizeLabels(labels.FromStrings("__name__", "st_seconds", "k", k), nil), Histograms: hs}
	}
	req := &writev2.Request{Timeseries: []writev2.TimeSeries{
		series("int",
			writev2.FromIntHistogram(base-30000, base, rwIntHist),
			writev2.FromIntHistogram(base-30000, base+1000, rwIntHist),
			writev2.FromIntHistogram(base+1500, base+2000, rwIntHist)),
		series("float",
			writev2.FromFloatHistogram(base-1000, base, rwFloatHist),
			writev2.FromFloatHistogram(base, base+1000, rwFloatHist)),
		series("without", writev2.FromIntHistogram(0, base, rwIntHist)),
	}}
	req.Symbols = st.Symbols()
	resp, body := postV2(t, env, req, v2ContentType)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	checkStartTimestamps(t, env, "st_seconds", base-1, base+3000, storage.ValHistogram, map[string][]int64{
		"int":     {base - 30000, base - 30000, base + 1500},
		"float":   {base - 1000, base},
		"without": {0},
	})
}
