package histchunk

import (
	"math"
	"math/rand"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	upstream "github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
)

// latencyHistograms returns n cumulative samples of a latency histogram that gains buckets as
// the tail grows (forcing recodes), with a counter reset at reset (if > 0); custom is NHCB.
func latencyHistograms(n int, seed int64, reset int, custom bool) []*histogram.Histogram {
	r := rand.New(rand.NewSource(seed))
	counts := map[int]uint64{}
	var zero uint64
	sum := 0.0
	out := make([]*histogram.Histogram, 0, n)
	for i := range n {
		if i == reset && reset > 0 {
			counts, zero, sum = map[int]uint64{}, 0, 0
		}
		for range 20 + r.Intn(40) {
			v := math.Exp(r.NormFloat64()*1.2 - 3) // seconds, log-normal
			idx := int(math.Ceil(math.Log2(v) * 4))
			if custom {
				idx = min(max(int(math.Ceil(math.Log10(v)*3))+9, 0), 11)
			}
			if v < 1e-4 && !custom {
				zero++
			} else {
				counts[idx]++
			}
			sum += v
		}
		out = append(out, buildHistogram(counts, zero, sum, custom))
	}
	return out
}

func buildHistogram(counts map[int]uint64, zero uint64, sum float64, custom bool) *histogram.Histogram {
	h := &histogram.Histogram{Schema: 2, ZeroThreshold: 1e-4, ZeroCount: zero, Sum: sum, Count: zero}
	if custom {
		h.Schema, h.ZeroThreshold, h.ZeroCount, h.Count = histogram.CustomBucketsSchema, 0, 0, 0
		for i := range 11 {
			h.CustomValues = append(h.CustomValues, math.Pow(10, float64(i-9)/3))
		}
	}
	lo, hi := math.MaxInt, math.MinInt
	for k := range counts {
		lo, hi = min(lo, k), max(hi, k)
	}
	if lo > hi {
		return h
	}
	h.PositiveSpans = []histogram.Span{{Offset: int32(lo), Length: uint32(hi - lo + 1)}}
	if custom {
		h.PositiveSpans[0].Offset = int32(lo)
	}
	var prev int64
	for k := lo; k <= hi; k++ {
		c := counts[k]
		h.Count += c
		h.PositiveBuckets = append(h.PositiveBuckets, int64(c)-prev)
		prev = int64(c)
	}
	return h
}

// TestBytesAsUpstream appends the same samples to this package's chunks and upstream's and
// requires identical bytes, chunk cuts and recodes included.
func TestBytesAsUpstream(t *testing.T) {
	cases := map[string][]*histogram.Histogram{
		"exponential":          latencyHistograms(300, 1, 0, false),
		"exponential reset":    latencyHistograms(300, 2, 150, false),
		"custom buckets":       latencyHistograms(300, 3, 0, true),
		"custom buckets reset": latencyHistograms(300, 4, 77, true),
	}
	gauge := latencyHistograms(100, 5, 0, false)
	for _, h := range gauge {
		h.CounterResetHint = histogram.GaugeType
	}
	cases["gauge"] = gauge
	for name, hs := range cases {
		t.Run(name, func(t *testing.T) {
			t.Run("int", func(t *testing.T) {
				ours, theirs := NewHistogramChunk(), upstream.NewHistogramChunk()
				oa, err := ours.Appender()
				require.NoError(t, err)
				ua, err := theirs.Appender()
				require.NoError(t, err)
				for i, h := range hs {
					ts := int64(i) * 15000
					oc, orec, oa2, oerr := oa.AppendHistogram(nil, 0, ts, h, false)
					uc, urec, ua2, uerr := ua.AppendHistogram(nil, 0, ts, h, false)
					require.Equal(t, uerr, oerr)
					require.Equal(t, urec, orec)
					require.Equal(t, uc == nil, oc == nil, "sample %d", i)
					if oc != nil {
						if !orec {
							require.Equal(t, theirs.Bytes(), ours.Bytes(), "closed chunk before sample %d", i)
						}
						ours, theirs = oc.(*HistogramChunk), uc.(*upstream.HistogramChunk)
					}
					oa, ua = oa2, ua2
					require.Equal(t, theirs.Bytes(), ours.Bytes(), "after sample %d", i)
				}
			})
			t.Run("float", func(t *testing.T) {
				ours, theirs := NewFloatHistogramChunk(), upstream.NewFloatHistogramChunk()
				oa, err := ours.Appender()
				require.NoError(t, err)
				ua, err := theirs.Appender()
				require.NoError(t, err)
				for i, h := range hs {
					ts := int64(i) * 15000
					fh := h.ToFloat(nil)
					oc, orec, oa2, oerr := oa.AppendFloatHistogram(nil, 0, ts, fh, false)
					uc, urec, ua2, uerr := ua.AppendFloatHistogram(nil, 0, ts, fh, false)
					require.Equal(t, uerr, oerr)
					require.Equal(t, urec, orec)
					require.Equal(t, uc == nil, oc == nil, "sample %d", i)
					if oc != nil {
						ours, theirs = oc.(*FloatHistogramChunk), uc.(*upstream.FloatHistogramChunk)
					}
					oa, ua = oa2, ua2
					require.Equal(t, theirs.Bytes(), ours.Bytes(), "after sample %d", i)
				}
			})
		})
	}
}
