// Package histgen generates native histogram samples shaped like real ones, for the tests and
// benchmarks of the histogram storage: a latency histogram whose buckets fill as requests come
// in and whose tail grows new buckets from time to time (which makes chunk appenders recode),
// optionally with a counter reset, or the same with custom buckets (NHCB).
package histgen

import (
	"math"
	"math/rand"

	"github.com/prometheus/prometheus/model/histogram"
)

// Latency returns n cumulative samples of a latency histogram (schema 2 or, with custom, 12
// custom buckets from 1 ms to 10 s), seeded by seed, reset to zero at sample reset when reset > 0.
// Between 20 and 60 observations arrive per sample, so 10–20 buckets are populated.
func Latency(n int, seed int64, reset int, custom bool) []*histogram.Histogram {
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
		out = append(out, build(counts, zero, sum, custom))
	}
	return out
}

func build(counts map[int]uint64, zero uint64, sum float64, custom bool) *histogram.Histogram {
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
	var prev int64
	for k := lo; k <= hi; k++ {
		c := counts[k]
		h.Count += c
		h.PositiveBuckets = append(h.PositiveBuckets, int64(c)-prev)
		prev = int64(c)
	}
	return h
}
