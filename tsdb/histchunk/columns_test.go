package histchunk

import (
	"math"
	"math/rand"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitoring/vigil/tsdb/internal/histgen"
)

// upstreamChunks appends hs (15 s apart) as the head and the compactor do (recoding, cutting a
// new chunk where a sample does not fit or after maxSamples) and returns the chunks' bytes.
func upstreamChunks(t testing.TB, hs []*histogram.Histogram, maxSamples int) [][]byte {
	var (
		out  [][]byte
		c    Chunk = NewHistogramChunk()
		prev Appender
	)
	app, err := c.Appender()
	require.NoError(t, err)
	for i, h := range hs {
		if c.NumSamples() >= maxSamples {
			out = append(out, c.Bytes())
			prev, c = app, NewHistogramChunk()
			app, _ = c.Appender()
		}
		nc, recoded, napp, err := app.AppendHistogram(prev, 0, int64(i)*15000, h.Copy(), false)
		require.NoError(t, err)
		if nc != nil {
			if !recoded {
				out = append(out, c.Bytes())
			}
			c = nc
		}
		app, prev = napp, nil
	}
	return append(out, c.Bytes())
}

// requireSameSamples compares every way of reading the columnar chunk col with the upstream
// chunk up.
func requireSameSamples(t testing.TB, up, col []byte) {
	var hc HistogramChunk
	hc.Reset(up)
	var ci ColumnsIterator
	ci.Reset(col)
	ui := hc.Iterator(nil)
	for n := 0; ; n++ {
		uvt, cvt := ui.Next(), ci.Next()
		require.Equal(t, uvt, cvt, "sample %d", n)
		if uvt == ValNone {
			break
		}
		require.Equal(t, ui.AtT(), ci.AtT())
		ut, uh := ui.AtHistogram(nil)
		ct, ch := ci.AtHistogram(nil)
		require.Equal(t, ut, ct)
		require.True(t, identical(uh, ch), "sample %d: upstream %v, columns %v", n, uh, ch)
		require.Equal(t, uh.CustomValues, ch.CustomValues)
		var reuse histogram.Histogram
		_, ch2 := ci.AtHistogram(&reuse)
		require.True(t, identical(uh, ch2), "sample %d (reused histogram)", n)
		_, ufh := ui.AtFloatHistogram(nil)
		_, cfh := ci.AtFloatHistogram(nil)
		require.Equal(t, math.Float64bits(ufh.Sum), math.Float64bits(cfh.Sum), "sample %d (float sum)", n)
		ufh.Sum, cfh.Sum = 0, 0 // NaN sums (random bits) compare unequal
		require.Equal(t, ufh, cfh, "sample %d (float)", n)
	}
	require.NoError(t, ci.Err())

	// SeekTo lands on the same samples.
	for _, seek := range []int64{math.MinInt64, 0, 1, 15000 * 7, 15000*7 + 1, math.MaxInt64} {
		ui = hc.Iterator(ui)
		ci.Reset(col)
		uvt, cvt := ui.SeekTo(seek), ci.SeekTo(seek)
		require.Equal(t, uvt, cvt, "seek %d", seek)
		if uvt != ValNone {
			require.Equal(t, ui.AtT(), ci.AtT(), "seek %d", seek)
		}
	}
}

func gauge(hs []*histogram.Histogram) []*histogram.Histogram {
	out := make([]*histogram.Histogram, len(hs))
	for i, h := range hs {
		h = h.Copy()
		h.CounterResetHint = histogram.GaugeType
		if i%3 == 2 { // goes down now and then
			h = hs[i-2].Copy()
			h.CounterResetHint = histogram.GaugeType
		}
		out[i] = h
	}
	return out
}

// withNegatives mirrors the positive buckets to negative ones and adds NaN observations (the
// count then exceeds the bucket total, so it cannot be derived).
func withNegatives(hs []*histogram.Histogram, nan bool) []*histogram.Histogram {
	out := make([]*histogram.Histogram, len(hs))
	for i, h := range hs {
		h = h.Copy()
		h.NegativeSpans = append([]histogram.Span(nil), h.PositiveSpans...)
		h.NegativeBuckets = append([]int64(nil), h.PositiveBuckets...)
		h.Count *= 2
		h.Count -= h.ZeroCount
		if nan {
			h.Count += uint64(i)
		}
		out[i] = h
	}
	return out
}

func TestColumnsDecodeAsUpstream(t *testing.T) {
	for _, tc := range []struct {
		name       string
		hs         []*histogram.Histogram
		maxSamples int
		wantSome   bool // at least one chunk is coded column-wise
	}{
		{"exponential, growing", histgen.Latency(480, 1, 0, false), 120, true},
		{"exponential, counter reset", histgen.Latency(300, 2, 130, false), 480, true},
		{"custom buckets", histgen.Latency(480, 3, 0, true), 120, true},
		{"gauge", gauge(histgen.Latency(200, 4, 0, false)), 120, true},
		{"negative buckets, count derived", withNegatives(histgen.Latency(200, 5, 0, false), false), 120, true},
		{"negative buckets, NaN observations", withNegatives(histgen.Latency(200, 6, 0, false), true), 120, true},
		{"one sample", histgen.Latency(1, 7, 0, false), 120, false},
		{"empty histograms", []*histogram.Histogram{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}}, 120, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var some bool
			for _, up := range upstreamChunks(t, tc.hs, tc.maxSamples) {
				col, ok := EncodeColumns(up)
				if !ok {
					continue
				}
				some = true
				require.Less(t, len(col), len(up))
				requireSameSamples(t, up, col)
			}
			require.Equal(t, tc.wantSome, some)
		})
	}
}

func TestColumnsRefused(t *testing.T) {
	hs := histgen.Latency(30, 8, 0, false)
	stale := hs[20].Copy()
	stale.Sum = math.Float64frombits(value.StaleNaN)
	hs[20] = stale
	var staleChunks int
	for _, up := range upstreamChunks(t, hs, 10) {
		var hc HistogramChunk
		hc.Reset(up)
		it := hc.Iterator(nil)
		for it.Next() != ValNone {
			if _, h := it.AtHistogram(nil); value.IsStaleNaN(h.Sum) {
				staleChunks++
				_, ok := EncodeColumns(up)
				require.False(t, ok, "a chunk with a stale marker")
			}
		}
	}
	require.Equal(t, 1, staleChunks)
	for _, b := range [][]byte{nil, {0, 1}, {0, 5, 0, 1, 2}} {
		_, ok := EncodeColumns(b)
		require.False(t, ok, "damaged chunk %v", b)
	}
}

// The benchmark workload's chunks shrink: per-bucket columns avoid upstream's neighbour deltas.
func TestColumnsSmaller(t *testing.T) {
	var up, col int
	for seed := range int64(20) {
		for _, b := range upstreamChunks(t, histgen.Latency(480, seed, 0, false), 120) {
			c, ok := EncodeColumns(b)
			if !ok {
				c = b
			}
			up, col = up+len(b), col+len(c)
		}
	}
	t.Logf("upstream %d bytes, columns %d bytes: %.2f×", up, col, float64(col)/float64(up))
	require.Less(t, col, up)
}

// FuzzColumns builds chunks from fuzzed histograms: a chunk coded column-wise must decode to
// exactly the upstream chunk's samples.
func FuzzColumns(f *testing.F) {
	f.Add(int64(1), uint16(100), uint8(0))
	f.Add(int64(2), uint16(300), uint8(7))
	f.Add(int64(3), uint16(40), uint8(2))
	f.Fuzz(func(t *testing.T, seed int64, n uint16, flags uint8) {
		n %= 600
		hs := histgen.Latency(int(n), seed, int(n)/3*int(flags&1), flags&2 != 0)
		if flags&4 != 0 {
			hs = withNegatives(hs, flags&8 != 0)
		}
		if flags&16 != 0 && len(hs) > 2 {
			hs = gauge(hs)
		}
		r := rand.New(rand.NewSource(seed))
		for _, h := range hs {
			if flags&32 != 0 { // huge and odd values
				h.Sum = math.Float64frombits(r.Uint64())
				h.ZeroCount += uint64(r.Int63())
				h.Count += h.ZeroCount
			}
		}
		for _, up := range upstreamChunks(t, hs, 1+int(flags>>6)*160) {
			if col, ok := EncodeColumns(up); ok {
				requireSameSamples(t, up, col)
			}
		}
	})
}

// FuzzColumnsDecode reads damaged columnar chunks (they come from disk): an error or samples,
// never a panic.
func FuzzColumnsDecode(f *testing.F) {
	for _, custom := range []bool{false, true} {
		for _, up := range upstreamChunks(f, histgen.Latency(100, 9, 0, custom), 120) {
			if col, ok := EncodeColumns(up); ok {
				f.Add(col)
			}
		}
	}
	f.Add([]byte{0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ci ColumnsIterator
		ci.Reset(b)
		var h histogram.Histogram
		var fh histogram.FloatHistogram
		for ci.Next() != ValNone {
			ci.AtHistogram(&h)
			ci.AtFloatHistogram(&fh)
		}
		_ = ci.Err()
		ci.Reset(b)
		ci.SeekTo(30000)
	})
}

// BenchmarkColumns measures coding a 120-sample chunk column-wise (done once per chunk at
// compaction, checked by decoding) and reading all samples of either encoding.
func BenchmarkColumns(b *testing.B) {
	up := upstreamChunks(b, histgen.Latency(120, 1, 0, false), 120)[0]
	col, ok := EncodeColumns(up)
	if !ok {
		b.Fatal("not coded column-wise")
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			EncodeColumns(up)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*120), "ns/sample")
	})
	var h histogram.Histogram
	b.Run("read/upstream", func(b *testing.B) {
		var hc HistogramChunk
		var it Iterator
		b.ReportAllocs()
		for range b.N {
			hc.Reset(up)
			it = hc.Iterator(it)
			for it.Next() != ValNone {
				it.AtHistogram(&h)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*120), "ns/sample")
	})
	b.Run("read/columns", func(b *testing.B) {
		var ci ColumnsIterator
		b.ReportAllocs()
		for range b.N {
			ci.Reset(col)
			for ci.Next() != ValNone {
				ci.AtHistogram(&h)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*120), "ns/sample")
	})
}
