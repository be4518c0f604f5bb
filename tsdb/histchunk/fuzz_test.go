package histchunk

import (
	"testing"

	"github.com/prometheus/prometheus/model/histogram"

	"github.com/vigil-monitoring/vigil/tsdb/internal/histgen"
)

// fuzzSeeds are valid chunks of both encodings, which the fuzzer mutates.
func fuzzSeeds(f *testing.F) {
	hc, fc := NewHistogramChunk(), NewFloatHistogramChunk()
	ha, _ := hc.Appender()
	fa, _ := fc.Appender()
	for i, h := range histgen.Latency(20, 9, 12, false) {
		ha.AppendHistogram(nil, 0, int64(i)*1000, h, true)
		fa.AppendFloatHistogram(nil, 0, int64(i)*1000, h.ToFloat(nil), true)
	}
	f.Add(append([]byte(nil), hc.Bytes()...), false)
	f.Add(append([]byte(nil), fc.Bytes()...), true)
	f.Add([]byte{0, 1, 0}, false)
	f.Add([]byte{}, true)
}

// FuzzDecode reads damaged chunks (they come from disk): decoding must end with an error or
// samples, never panic, and the appender built on a chunk must not panic either.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte, float bool) {
		if len(b) < histogramHeaderSize {
			return // the chunk readers in tsdb refuse those before decoding
		}
		var c Chunk
		if float {
			c = NewFloatHistogramChunk()
		} else {
			c = NewHistogramChunk()
		}
		c.Reset(b)
		it := c.Iterator(nil)
		var h *histogram.Histogram
		var fh *histogram.FloatHistogram
		for n := 0; n < 1<<16; n++ {
			vt := it.Next()
			if vt == ValNone {
				break
			}
			if vt == ValHistogram {
				_, h = it.AtHistogram(h)
			}
			_, fh = it.AtFloatHistogram(fh)
		}
		_ = it.Err()
	})
}
