package histchunk

import (
	"math/rand"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	upstream "github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitoring/vigil/tsdb/internal/histgen"
)

// TestBytesAsUpstream appends the same samples to this package's chunks and upstream's and
// requires identical bytes, chunk cuts and recodes included.
func TestBytesAsUpstream(t *testing.T) {
	cases := map[string][]*histogram.Histogram{
		"exponential":          histgen.Latency(300, 1, 0, false),
		"exponential reset":    histgen.Latency(300, 2, 150, false),
		"custom buckets":       histgen.Latency(300, 3, 0, true),
		"custom buckets reset": histgen.Latency(300, 4, 77, true),
	}
	gauge := histgen.Latency(100, 5, 0, false)
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

// BenchmarkAppendSide appends latency histograms to the open chunks of 4,000 series round
// robin, as the head does at scrape time (every series' state is out of the CPU caches by its
// next sample), with this package's appender and upstream's: ns per sample. The workload is
// that of tsdb's BenchmarkSideHistogramAppend (10–20 buckets that fill, a new one now and
// then); a chunk is cut at 1 KiB, or when a new bucket comes after 16 samples, as the head cuts.
func BenchmarkAppendSide(b *testing.B) {
	const series, samples = 4000, 60
	hs := make([][]*histogram.Histogram, series)
	r := rand.New(rand.NewSource(7))
	for i := range hs {
		h := &histogram.Histogram{Schema: 3, ZeroThreshold: 1e-128,
			PositiveSpans: []histogram.Span{{Offset: -27 + int32(i%5), Length: 10}}}
		counts := make([]int64, 10, 20)
		for range samples {
			if len(counts) < 20 && r.Intn(40) == 0 {
				counts = append(counts, 0)
				h.PositiveSpans[0].Length++
			}
			obs := 100 + r.Intn(200)
			for range obs / 16 {
				b := len(counts)/2 + int(r.NormFloat64()*float64(len(counts))/5)
				counts[min(max(b, 0), len(counts)-1)] += 16
			}
			h.Count += uint64(obs / 16 * 16)
			h.Sum += float64(obs) * 0.1 * (1 + r.Float64()*0.1)
			h.PositiveBuckets = h.PositiveBuckets[:0]
			var prev int64
			for _, v := range counts {
				h.PositiveBuckets = append(h.PositiveBuckets, v-prev)
				prev = v
			}
			hs[i] = append(hs[i], h.Copy())
		}
	}
	// The two appenders are driven by the same loop through these functions.
	type chunkApp struct {
		num, size func() int
		append    func(t int64, h *histogram.Histogram, appendOnly bool) error
		cut       func(t int64, h *histogram.Histogram)
	}
	run := func(b *testing.B, newChunk func() chunkApp) {
		chunks := make([]chunkApp, series)
		var cpu time.Duration
		for n := 0; n < b.N; {
			b.StopTimer()
			for i := range chunks {
				chunks[i] = newChunk()
			}
			runtime.GC()
			c0 := processCPU()
			b.StartTimer()
			for s := 0; s < samples && n < b.N; s++ {
				for i := 0; i < series && n < b.N; i, n = i+1, n+1 {
					c, t, h := chunks[i], int64(s)*15000, hs[i][s]
					num := c.num()
					if num >= 10 && c.size() >= TargetBytesPerHistogramChunk {
						c.cut(t, h)
						continue
					}
					if err := c.append(t, h, num >= 16); err != nil {
						c.cut(t, h)
					}
				}
			}
			cpu += processCPU() - c0
		}
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/sample")
	}
	b.Run("vigil", func(b *testing.B) {
		run(b, func() chunkApp {
			chunk, happ := NewHistogramChunkAppender(0) // as the head makes them
			var app Appender = happ
			return chunkApp{
				num:  func() int { return chunk.NumSamples() },
				size: func() int { return len(chunk.Bytes()) },
				append: func(t int64, h *histogram.Histogram, appendOnly bool) error {
					c, _, a, err := app.AppendHistogram(nil, 0, t, h, appendOnly)
					if c != nil {
						chunk = c.(*HistogramChunk)
					}
					app = a
					return err
				},
				cut: func(t int64, h *histogram.Histogram) {
					prev := app
					chunk, happ = NewHistogramChunkAppender(0)
					app = happ
					app.AppendHistogram(prev, 0, t, h, false)
				},
			}
		})
	})
	b.Run("upstream", func(b *testing.B) {
		run(b, func() chunkApp {
			chunk := upstream.NewHistogramChunk()
			app, _ := chunk.Appender()
			return chunkApp{
				num:  func() int { return chunk.NumSamples() },
				size: func() int { return len(chunk.Bytes()) },
				append: func(t int64, h *histogram.Histogram, appendOnly bool) error {
					c, _, a, err := app.AppendHistogram(nil, 0, t, h, appendOnly)
					if c != nil {
						chunk = c.(*upstream.HistogramChunk)
					}
					app = a
					return err
				},
				cut: func(t int64, h *histogram.Histogram) {
					prev := app
					chunk = upstream.NewHistogramChunk()
					app, _ = chunk.Appender()
					app.AppendHistogram(prev, 0, t, h, false)
				},
			}
		})
	})
}

// processCPU returns the user and system CPU time the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
