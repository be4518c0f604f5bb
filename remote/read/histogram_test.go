package read

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/gogo/protobuf/proto"
	upconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	upremote "github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/teststorage"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitoring/vigil/promql/promqltest"
)

// SAMPLES answers carry native histograms (integer and float, custom buckets) as upstream's
// read handler does, byte for byte, next to a float series. The storage is promqltest's
// MemStorage (the storage contract), so that the handler's part is tested on its own.
func TestSampledReadHistogramsMatchUpstream(t *testing.T) {
	vigil := promqltest.NewMemStorage()
	up := teststorage.New(t)
	uapp := up.Appender(context.Background())
	vapp := vigil.Appender(context.Background())
	ih := labels.FromStrings("__name__", "h_int", "job", "a")
	fh := labels.FromStrings("__name__", "h_float", "job", "a")
	cb := labels.FromStrings("__name__", "h_nhcb", "job", "a")
	fl := labels.FromStrings("__name__", "plain", "job", "a")
	for i := range 30 {
		ts := int64(i) * 60_000
		h := &histogram.Histogram{
			Schema: 1, Count: uint64(4 + 2*i), Sum: 1.5 * float64(i), ZeroThreshold: 0.001, ZeroCount: 1,
			PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}},
			PositiveBuckets: []int64{1, int64(2 * i)},
			NegativeSpans:   []histogram.Span{{Offset: 1, Length: 1}},
			NegativeBuckets: []int64{1},
		}
		f := h.ToFloat(nil)
		f.Sum = -f.Sum
		c := &histogram.Histogram{
			Schema: histogram.CustomBucketsSchema, Count: uint64(i), Sum: float64(i),
			PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{0, int64(i)},
			CustomValues: []float64{0.5, 1},
		}
		for _, a := range []struct {
			ls labels.Labels
			h  *histogram.Histogram
			fh *histogram.FloatHistogram
		}{{ih, h, nil}, {fh, nil, f}, {cb, c, nil}} {
			_, err := vapp.AppendHistogram(0, a.ls, ts, a.h, a.fh)
			require.NoError(t, err)
			_, err = uapp.AppendHistogram(0, a.ls, ts, a.h, a.fh)
			require.NoError(t, err)
		}
		_, err := vapp.Append(0, fl, ts, float64(i))
		require.NoError(t, err)
		_, err = uapp.Append(0, fl, ts, float64(i))
		require.NoError(t, err)
	}
	require.NoError(t, vapp.Commit())
	require.NoError(t, uapp.Commit())

	vh := NewHandler(Options{Queryable: vigil, ExternalLabels: func() labels.Labels { return extLabels }, SampleLimit: 1e6, ConcurrentLimit: 1})
	uh := upremote.NewReadHandler(nil, nil, up, func() upconfig.Config {
		return upconfig.Config{GlobalConfig: upconfig.GlobalConfig{ExternalLabels: extLabels}}
	}, 1e6, 1, 0)
	qs := []*prompb.Query{
		{StartTimestampMs: 0, EndTimestampMs: 30 * 60_000, Matchers: []*prompb.LabelMatcher{{Type: prompb.LabelMatcher_EQ, Name: "job", Value: "a"}}},
		{StartTimestampMs: 5 * 60_000, EndTimestampMs: 9 * 60_000, Matchers: []*prompb.LabelMatcher{{Type: prompb.LabelMatcher_RE, Name: "__name__", Value: "h_.*"}}},
	}
	body := encodeRequest(t, &prompb.ReadRequest{Queries: qs, AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{prompb.ReadRequest_SAMPLES}})
	got, want := decodeSamples(t, serve(vh, body)), decodeSamples(t, serve(uh, body))
	for _, r := range append(got.Results, want.Results...) {
		slices.SortFunc(r.Timeseries, func(a, b *prompb.TimeSeries) int {
			return labels.Compare(a.ToLabels(&labels.ScratchBuilder{}, nil), b.ToLabels(&labels.ScratchBuilder{}, nil))
		})
	}
	// The counter-reset hint is the storage's (upstream's chunks say "no reset" after a chunk's
	// first sample, MemStorage keeps what was appended): not the handler's to compare.
	for _, r := range append(got.Results, want.Results...) {
		for _, ts := range r.Timeseries {
			for i := range ts.Histograms {
				ts.Histograms[i].ResetHint = prompb.Histogram_UNKNOWN
			}
		}
	}
	n := 0
	for _, r := range got.Results {
		for _, ts := range r.Timeseries {
			n += len(ts.Histograms)
		}
	}
	require.Equal(t, 3*30+3*5, n, "histogram samples in the answer")
	gb, _ := proto.Marshal(got)
	wb, _ := proto.Marshal(want)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("vigil:\n%.3000v\nupstream:\n%.3000v", got.String(), want.String())
	}
}

// streamedAnySamples decodes streamed frames of any chunk encoding into "query labels" lines
// followed by "t:value" per sample within the query's range (histograms as their String).
func streamedAnySamples(t *testing.T, frames []*prompb.ChunkedReadResponse, qs []*prompb.Query) []string {
	t.Helper()
	var out []string
	last := ""
	for _, f := range frames {
		q := qs[f.QueryIndex]
		for _, cs := range f.ChunkedSeries {
			key := fmt.Sprintf("%d %v", f.QueryIndex, cs.Labels)
			if key != last {
				out = append(out, key)
				last = key
			}
			for _, c := range cs.Chunks {
				enc := map[prompb.Chunk_Encoding]chunkenc.Encoding{
					prompb.Chunk_XOR: chunkenc.EncXOR, prompb.Chunk_HISTOGRAM: chunkenc.EncHistogram, prompb.Chunk_FLOAT_HISTOGRAM: chunkenc.EncFloatHistogram,
				}[c.Type]
				chk, err := chunkenc.FromData(enc, c.Data)
				require.NoError(t, err)
				it := chk.Iterator(nil)
				for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
					var (
						ts  int64
						val string
					)
					if vt == chunkenc.ValFloat {
						var v float64
						ts, v = it.At()
						val = fmt.Sprint(v)
					} else {
						var fh *histogram.FloatHistogram
						ts, fh = it.AtFloatHistogram(nil)
						val = fh.String()
					}
					if ts < c.MinTimeMs || ts > c.MaxTimeMs {
						t.Fatalf("sample at %d outside its chunk's [%d, %d]", ts, c.MinTimeMs, c.MaxTimeMs)
					}
					if ts >= q.StartTimestampMs && ts <= q.EndTimestampMs {
						out = append(out, fmt.Sprintf("  %d:%s", ts, val))
					}
				}
				require.NoError(t, it.Err())
			}
		}
	}
	return out
}

// STREAMED_XOR_CHUNKS answers (what Prometheus 3 asks for) carry native histograms in
// upstream's histogram and float histogram chunks, decoding to the samples upstream's handler
// sends: with a counter reset (a new chunk), a bucket layout that grows (the chunk recoded) and
// a series that turns from floats to histograms.
func TestStreamReadHistogramsMatchUpstream(t *testing.T) {
	vigil := promqltest.NewMemStorage()
	up := teststorage.New(t)
	uapp := up.Appender(context.Background())
	vapp := vigil.Appender(context.Background())
	hs := labels.FromStrings("__name__", "h_int", "job", "a")
	fs := labels.FromStrings("__name__", "h_float", "job", "a")
	mixed := labels.FromStrings("__name__", "mixed", "job", "a")
	for i := range 300 {
		ts := int64(i) * 15_000
		k := int64(i % 170) // a counter reset at i=170
		h := &histogram.Histogram{
			Schema: 0, Count: uint64(2 * k), Sum: float64(k),
			PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}},
			PositiveBuckets: []int64{k, 0},
		}
		if i >= 50 { // a third bucket from i=50 on: the layout grows
			h.PositiveSpans = []histogram.Span{{Offset: 0, Length: 3}}
			h.PositiveBuckets = []int64{k, 0, -k}
		}
		f := h.ToFloat(nil)
		for _, a := range []struct {
			ls labels.Labels
			h  *histogram.Histogram
			fh *histogram.FloatHistogram
		}{{hs, h, nil}, {fs, nil, f}} {
			_, err := vapp.AppendHistogram(0, a.ls, ts, a.h, a.fh)
			require.NoError(t, err)
			_, err = uapp.AppendHistogram(0, a.ls, ts, a.h, a.fh)
			require.NoError(t, err)
		}
		var err error
		if i < 10 {
			_, err = vapp.Append(0, mixed, ts, float64(i))
			require.NoError(t, err)
			_, err = uapp.Append(0, mixed, ts, float64(i))
		} else {
			_, err = vapp.AppendHistogram(0, mixed, ts, h, nil)
			require.NoError(t, err)
			_, err = uapp.AppendHistogram(0, mixed, ts, h, nil)
		}
		require.NoError(t, err)
	}
	require.NoError(t, vapp.Commit())
	require.NoError(t, uapp.Commit())
	vh := NewHandler(Options{Queryable: vigil, ExternalLabels: func() labels.Labels { return extLabels }, SampleLimit: 1e6, ConcurrentLimit: 1})
	uh := upremote.NewReadHandler(nil, nil, up, func() upconfig.Config {
		return upconfig.Config{GlobalConfig: upconfig.GlobalConfig{ExternalLabels: extLabels}}
	}, 1e6, 1, 0)
	qs := []*prompb.Query{
		{StartTimestampMs: 0, EndTimestampMs: 300 * 15_000, Matchers: []*prompb.LabelMatcher{{Type: prompb.LabelMatcher_EQ, Name: "job", Value: "a"}}},
		{StartTimestampMs: 40 * 15_000, EndTimestampMs: 180 * 15_000, Matchers: []*prompb.LabelMatcher{{Type: prompb.LabelMatcher_RE, Name: "__name__", Value: "h_.*|mixed"}}},
	}
	body := encodeRequest(t, &prompb.ReadRequest{Queries: qs, AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{prompb.ReadRequest_STREAMED_XOR_CHUNKS}})
	got := streamedAnySamples(t, decodeFrames(t, serve(vh, body)), qs)
	want := streamedAnySamples(t, decodeFrames(t, serve(uh, body)), qs)
	require.Equal(t, len(want), len(got))
	require.Equal(t, want, got)
	require.Greater(t, len(got), 2*300)
}
