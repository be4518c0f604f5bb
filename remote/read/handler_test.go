package read

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	upconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	upstorage "github.com/prometheus/prometheus/storage"
	upremote "github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/teststorage"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// stores holds the same samples in Vigil's TSDB and in upstream's (the oracle).
type stores struct {
	vigil    *tsdb.DB
	upstream *teststorage.TestStorage
}

type testSeries struct {
	lset labels.Labels
	n    int                 // samples, one a minute from 0
	v    func(i int) float64 // value of sample i
	skip func(i int) bool    // optional gaps
}

func loadStores(t testing.TB, series []testSeries) *stores {
	t.Helper()
	// Everything stays in the head, as in upstream's test storage (24h blocks): no compaction
	// runs while a benchmark measures.
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = 0
	opts.MinBlockDuration = int64(24 * time.Hour / time.Millisecond)
	opts.MaxBlockDuration = opts.MinBlockDuration
	db, err := tsdb.Open(t.TempDir(), opts, slog.New(slog.DiscardHandler), nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	up := teststorage.New(t)
	vapp := db.Appender(context.Background())
	uapp := up.Appender(context.Background())
	for _, s := range series {
		for i := 0; i < s.n; i++ {
			if s.skip != nil && s.skip(i) {
				continue
			}
			ts := int64(i) * 60_000
			_, err := vapp.Append(0, s.lset, ts, s.v(i))
			require.NoError(t, err)
			_, err = uapp.Append(0, s.lset, ts, s.v(i))
			require.NoError(t, err)
		}
	}
	require.NoError(t, vapp.Commit())
	require.NoError(t, uapp.Commit())
	return &stores{vigil: db, upstream: up}
}

// The data of upstream's read handler tests (test_metric1 with 120, 121 and 241 samples), plus
// series with special values, gaps and a stale marker.
func testData() []testSeries {
	ramp := func(i int) float64 { return float64(100 * i) }
	return []testSeries{
		{lset: labels.FromStrings("__name__", "test_metric1", "foo", "bar1", "baz", "qux"), n: 120, v: ramp},
		{lset: labels.FromStrings("__name__", "test_metric1", "foo", "bar2", "baz", "qux"), n: 121, v: ramp},
		{lset: labels.FromStrings("__name__", "test_metric1", "foo", "bar3", "baz", "qux"), n: 241, v: ramp},
		{lset: labels.FromStrings("__name__", "special", "kind", "values"), n: 300, v: func(i int) float64 {
			switch i % 7 {
			case 0:
				return math.NaN()
			case 1:
				return math.Inf(1)
			case 2:
				return math.Inf(-1)
			case 3:
				return storage.StaleNaN()
			case 4:
				return math.Copysign(0, -1)
			}
			return float64(i) * 1.0001
		}},
		{lset: labels.FromStrings("__name__", "gappy", "b", "c"), n: 500, v: func(i int) float64 { return float64(i % 13) },
			skip: func(i int) bool { return i%50 < 20 }},
	}
}

func encodeRequest(t testing.TB, req *prompb.ReadRequest) []byte {
	data, err := proto.Marshal(req)
	require.NoError(t, err)
	return snappy.Encode(nil, data)
}

func serve(h http.Handler, body []byte) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/read", bytes.NewReader(body)))
	return rec
}

func handlers(t testing.TB, s *stores, ext labels.Labels, sampleLimit, maxBytesInFrame int) (vigil, upstream http.Handler) {
	vigil = NewHandler(Options{
		Queryable: s.vigil, ExternalLabels: func() labels.Labels { return ext },
		SampleLimit: sampleLimit, ConcurrentLimit: 1, MaxBytesInFrame: maxBytesInFrame,
	})
	upstream = upremote.NewReadHandler(nil, nil, s.upstream, func() upconfig.Config {
		return upconfig.Config{GlobalConfig: upconfig.GlobalConfig{ExternalLabels: ext}}
	}, sampleLimit, 1, maxBytesInFrame)
	return vigil, upstream
}

func query(t testing.TB, start, end int64, hints *upstorage.SelectHints, ms ...*labels.Matcher) *prompb.Query {
	q, err := upremote.ToQuery(start, end, ms, hints)
	require.NoError(t, err)
	return q
}

func eq(name, value string) *labels.Matcher {
	return labels.MustNewMatcher(labels.MatchEqual, name, value)
}

func re(name, value string) *labels.Matcher {
	return labels.MustNewMatcher(labels.MatchRegexp, name, value)
}

func decodeSamples(t testing.TB, rec *httptest.ResponseRecorder) *prompb.ReadResponse {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/x-protobuf", rec.Header().Get("Content-Type"))
	require.Equal(t, "snappy", rec.Header().Get("Content-Encoding"))
	raw, err := snappy.Decode(nil, rec.Body.Bytes())
	require.NoError(t, err)
	var resp prompb.ReadResponse
	require.NoError(t, proto.Unmarshal(raw, &resp))
	return &resp
}

// summary describes a response by series and sample ranges, short enough for a failure message.
func summary(r *prompb.ReadResponse) string {
	var b strings.Builder
	for i, res := range r.Results {
		for _, ts := range res.Timeseries {
			fmt.Fprintf(&b, "query %d %v: %d samples", i, ts.Labels, len(ts.Samples))
			if n := len(ts.Samples); n > 0 {
				fmt.Fprintf(&b, " [%d..%d]", ts.Samples[0].Timestamp, ts.Samples[n-1].Timestamp)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func decodeFrames(t testing.TB, rec *httptest.ResponseRecorder) []*prompb.ChunkedReadResponse {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse", rec.Header().Get("Content-Type"))
	require.Empty(t, rec.Header().Get("Content-Encoding"))
	var res []*prompb.ChunkedReadResponse
	stream := upremote.NewChunkedReader(bytes.NewReader(rec.Body.Bytes()), upconfig.DefaultChunkedReadLimit, nil)
	for {
		r := &prompb.ChunkedReadResponse{}
		err := stream.NextProto(r)
		if errors.Is(err, io.EOF) {
			return res
		}
		require.NoError(t, err)
		res = append(res, r)
	}
}

// requests are the read requests both handlers answer: external label matchers (dropped when
// equal to the external value), regular expressions, several queries, hints, partial ranges.
func requests(t testing.TB) map[string][]*prompb.Query {
	hints := &upstorage.SelectHints{Step: 1, Func: "avg", Start: 0, End: 14400001}
	return map[string][]*prompb.Query{
		"external label matcher": {query(t, 0, 14400001, hints, eq("__name__", "test_metric1"), eq("d", "e"))},
		"several queries": {
			query(t, 0, 14400001, hints, eq("__name__", "test_metric1"), eq("foo", "bar1")),
			query(t, 0, 14400001, nil, re("__name__", "special|gappy")),
		},
		"partial range":              {query(t, 3_000_000, 9_000_000, nil, re("__name__", ".+"))},
		"external label other value": {query(t, 0, 14400001, nil, eq("__name__", "test_metric1"), eq("d", "x"))},
		"source label wins":          {query(t, 0, 14400001, nil, eq("baz", "qux"), eq("foo", "bar3"))},
		"no match":                   {query(t, 0, 14400001, nil, eq("__name__", "nothing"))},
		"empty range":                {query(t, 10, 5, nil, eq("__name__", "test_metric1"))},
		"not-equal and not-regexp": {query(t, 0, 14400001, nil, labels.MustNewMatcher(labels.MatchNotEqual, "foo", "bar2"),
			labels.MustNewMatcher(labels.MatchNotRegexp, "__name__", "gap.*"), re("__name__", ".+"))},
	}
}

var extLabels = labels.FromStrings("baz", "a", "b", "c", "d", "e")

// Vigil's SAMPLES answers equal upstream's handler's on the same data.
func TestSampledReadMatchesUpstream(t *testing.T) {
	s := loadStores(t, testData())
	vh, uh := handlers(t, s, extLabels, 1e6, 0)
	for name, qs := range requests(t) {
		t.Run(name, func(t *testing.T) {
			for _, accepted := range [][]prompb.ReadRequest_ResponseType{nil, {prompb.ReadRequest_SAMPLES}, {7, prompb.ReadRequest_SAMPLES}} {
				body := encodeRequest(t, &prompb.ReadRequest{Queries: qs, AcceptedResponseTypes: accepted})
				got, want := decodeSamples(t, serve(vh, body)), decodeSamples(t, serve(uh, body))
				require.Equal(t, len(qs), len(got.Results))
				// Series come unsorted from both (clients sort); their order may differ.
				for _, r := range append(got.Results, want.Results...) {
					slices.SortFunc(r.Timeseries, func(a, b *prompb.TimeSeries) int {
						return labels.Compare(a.ToLabels(&labels.ScratchBuilder{}, nil), b.ToLabels(&labels.ScratchBuilder{}, nil))
					})
				}
				// NaN != NaN: compare the encodings.
				gb, _ := proto.Marshal(got)
				wb, _ := proto.Marshal(want)
				if !bytes.Equal(gb, wb) {
					t.Fatalf("vigil:\n%s\nupstream:\n%s", summary(got), summary(want))
				}
			}
		})
	}
}

// streamedSamples reads frames as a client does: the chunks of each series of each query,
// decoded, samples outside the query's range left out (upstream streams whole stored chunks,
// which may reach beyond it). Values are compared as bits (NaN, stale markers, -0).
func streamedSamples(t testing.TB, frames []*prompb.ChunkedReadResponse, qs []*prompb.Query) []string {
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
				require.Equal(t, prompb.Chunk_XOR, c.Type)
				chk, err := chunkenc.FromData(chunkenc.EncXOR, c.Data)
				require.NoError(t, err)
				it := chk.Iterator(nil)
				for it.Next() != chunkenc.ValNone {
					ts, v := it.At()
					if ts < c.MinTimeMs || ts > c.MaxTimeMs {
						t.Fatalf("sample at %d outside its chunk's [%d, %d]", ts, c.MinTimeMs, c.MaxTimeMs)
					}
					if ts >= q.StartTimestampMs && ts <= q.EndTimestampMs {
						out[len(out)-1] += fmt.Sprintf(" %d:%x", ts, math.Float64bits(v))
					}
				}
				require.NoError(t, it.Err())
			}
		}
	}
	return out
}

// Vigil's STREAMED_XOR_CHUNKS answers hold the same series, in the same order, with the same
// samples as upstream's handler's; on upstream's own test data the frames are byte for byte
// the same (the same 120-sample XOR chunks, frame cuts and labels).
func TestStreamReadMatchesUpstream(t *testing.T) {
	s := loadStores(t, testData())
	// 57+480: upstream's test size, at most two chunks a frame; 0: the default (1 MiB); 1: one
	// chunk a frame.
	for _, frame := range []int{57 + 480, 0, 1} {
		vh, uh := handlers(t, s, extLabels, 1e6, frame)
		for name, qs := range requests(t) {
			t.Run(fmt.Sprintf("%s/frame=%d", name, frame), func(t *testing.T) {
				body := encodeRequest(t, &prompb.ReadRequest{Queries: qs, AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{
					prompb.ReadRequest_STREAMED_XOR_CHUNKS, prompb.ReadRequest_SAMPLES}})
				gotFrames := decodeFrames(t, serve(vh, body))
				got, want := streamedSamples(t, gotFrames, qs), streamedSamples(t, decodeFrames(t, serve(uh, body)), qs)
				require.Equal(t, want, got)
				for _, f := range gotFrames {
					size := 0
					for _, c := range f.ChunkedSeries[0].Chunks {
						size += c.Size()
					}
					if frame > 0 && len(f.ChunkedSeries[0].Chunks) > 1 && size-f.ChunkedSeries[0].Chunks[len(f.ChunkedSeries[0].Chunks)-1].Size() > frame {
						t.Errorf("frame of %d chunk bytes over %d before its last chunk", size, frame)
					}
				}
			})
		}
	}
	// Upstream's TestStreamReadEndpoint data and frame size: the same frames, byte for byte.
	vh, uh := handlers(t, s, extLabels, 1e6, 57+480)
	body := encodeRequest(t, &prompb.ReadRequest{
		Queries: []*prompb.Query{
			query(t, 0, 14400001, &upstorage.SelectHints{Step: 1, Func: "avg", Start: 0, End: 14400001}, eq("__name__", "test_metric1"), eq("d", "e")),
			query(t, 0, 14400001, nil, eq("__name__", "test_metric1"), eq("foo", "bar1")),
		},
		AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{prompb.ReadRequest_STREAMED_XOR_CHUNKS},
	})
	got, want := decodeFrames(t, serve(vh, body)), decodeFrames(t, serve(uh, body))
	require.Len(t, got, 5)
	require.Equal(t, want, got)
	require.Equal(t, []byte("\000\001\200\364\356\006@\307p\000\000\000\000\000"), got[1].ChunkedSeries[0].Chunks[1].Data)
}

func TestReadErrors(t *testing.T) {
	s := loadStores(t, testData())
	vh, uh := handlers(t, s, labels.EmptyLabels(), 100, 0)
	all := []*prompb.Query{query(t, 0, 14400001, nil, eq("__name__", "test_metric1"))}
	for name, body := range map[string][]byte{
		"not snappy":       []byte("hello"),
		"not protobuf":     snappy.Encode(nil, []byte{0xff, 0xff, 0xff}),
		"unknown response": encodeRequest(t, &prompb.ReadRequest{Queries: all, AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{9}}),
		"bad matcher":      encodeRequest(t, &prompb.ReadRequest{Queries: []*prompb.Query{{Matchers: []*prompb.LabelMatcher{{Type: 7, Name: "a"}}}}}),
		"bad regexp":       encodeRequest(t, &prompb.ReadRequest{Queries: []*prompb.Query{{Matchers: []*prompb.LabelMatcher{{Type: prompb.LabelMatcher_RE, Name: "a", Value: "("}}}}}),
		"sample limit":     encodeRequest(t, &prompb.ReadRequest{Queries: all}),
		"big decoded size": snappy.Encode(nil, make([]byte, decodeReadLimit+1)),
	} {
		t.Run(name, func(t *testing.T) {
			got, want := serve(vh, body), serve(uh, body)
			if got.Code != want.Code || got.Body.String() != want.Body.String() {
				t.Errorf("vigil %d %q, upstream %d %q", got.Code, got.Body.String(), want.Code, want.Body.String())
			}
			if got.Code/100 != 4 && got.Code/100 != 5 {
				t.Errorf("answered %d", got.Code)
			}
		})
	}
	// The sample limit counts per query, as upstream: two queries of 100 samples each pass.
	two := encodeRequest(t, &prompb.ReadRequest{Queries: []*prompb.Query{
		query(t, 0, 99*60_000, nil, eq("foo", "bar1")), query(t, 0, 99*60_000, nil, eq("foo", "bar2")),
	}})
	require.Equal(t, http.StatusOK, serve(vh, two).Code)
}

// Requests past the concurrency limit wait for a slot (or their client); the gauge counts them.
func TestReadConcurrencyLimit(t *testing.T) {
	s := loadStores(t, testData()[:1])
	reg := prometheus.NewRegistry()
	h := NewHandler(Options{Queryable: blockingQueryable{s.vigil, make(chan struct{})}, ConcurrentLimit: 1, Registerer: reg})
	bq := h.opts.Queryable.(blockingQueryable)
	body := encodeRequest(t, &prompb.ReadRequest{Queries: []*prompb.Query{query(t, 0, 1e9, nil, eq("foo", "bar1"))}})
	first := make(chan int)
	go func() { first <- serve(h, body).Code }()
	for testutil.ToFloat64(h.queries) != 1 {
		runtime.Gosched() // until the first request holds the only slot
	}
	// The second request waits behind the first, then gives up with its client.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/read", bytes.NewReader(body)).WithContext(ctx))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Equal(t, 1.0, testutil.ToFloat64(h.queries))
	close(bq.release)
	require.Equal(t, http.StatusOK, <-first)
	require.Equal(t, 0.0, testutil.ToFloat64(h.queries))
	require.Equal(t, 1, testutil.CollectAndCount(reg, "prometheus_remote_read_handler_queries"))
}

type blockingQueryable struct {
	storage.Queryable
	release chan struct{}
}

func (b blockingQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	<-b.release
	return b.Queryable.Querier(mint, maxt)
}

// FuzzDecodeReadRequest: any body decodes or fails as upstream's decoder does, and the handler
// answers it without panicking, with 200 or an error status.
func FuzzDecodeReadRequest(f *testing.F) {
	for _, qs := range requests(f) {
		f.Add(encodeRequest(f, &prompb.ReadRequest{Queries: qs}))
		f.Add(encodeRequest(f, &prompb.ReadRequest{Queries: qs, AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{prompb.ReadRequest_STREAMED_XOR_CHUNKS}}))
	}
	f.Add([]byte{})
	f.Add([]byte("garbage"))
	s := loadStores(f, testData())
	h := NewHandler(Options{Queryable: s.vigil, SampleLimit: 10_000, MaxBytesInFrame: 300})
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gerr := DecodeReadRequest(bytes.NewReader(body))
		want, werr := upremote.DecodeReadRequest(httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("vigil error %v, upstream %v", gerr, werr)
		}
		if gerr == nil && !proto.Equal(got, want) {
			t.Fatalf("vigil %v, upstream %v", got, want)
		}
		rec := serve(h, body)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest && rec.Code != http.StatusInternalServerError {
			t.Fatalf("status %d", rec.Code)
		}
		if gerr != nil && rec.Code != http.StatusBadRequest {
			t.Fatalf("undecodable body answered %d", rec.Code)
		}
	})
}

// BenchmarkReadEndpoint serves the same read (1,000 series × 720 samples, one query for all)
// from Vigil's handler over its TSDB and from upstream's over upstream's TSDB, for both
// response types, reading the answer as a client does.
func BenchmarkReadEndpoint(b *testing.B) {
	var series []testSeries
	for i := 0; i < 1000; i++ {
		series = append(series, testSeries{
			lset: labels.FromStrings("__name__", "bench_metric", "instance", fmt.Sprintf("host-%04d", i), "job", "bench"),
			n:    720, v: func(j int) float64 { return float64((i*7919 + j*31) % 1000) },
		})
	}
	s := loadStores(b, series)
	vh, uh := handlers(b, s, labels.FromStrings("cluster", "c1"), 0, 0)
	q := []*prompb.Query{query(b, 0, 720*60_000, nil, eq("__name__", "bench_metric"))}
	for _, rt := range []prompb.ReadRequest_ResponseType{prompb.ReadRequest_SAMPLES, prompb.ReadRequest_STREAMED_XOR_CHUNKS} {
		body := encodeRequest(b, &prompb.ReadRequest{Queries: q, AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{rt}})
		for _, impl := range []struct {
			name string
			h    http.Handler
		}{{"vigil", vh}, {"upstream", uh}} {
			b.Run(strings.ToLower(rt.String())+"/"+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				var n int
				for b.Loop() {
					rec := serve(impl.h, body)
					if rec.Code != http.StatusOK {
						b.Fatal(rec.Code, rec.Body.String())
					}
					n = rec.Body.Len()
				}
				b.ReportMetric(float64(n), "resp-bytes")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/720_000, "ns/sample")
			})
		}
	}
}
