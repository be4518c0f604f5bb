package tsdb

// Side-by-side benchmarks of native histogram storage against the upstream Prometheus TSDB, as
// in bench_test.go:
//
//	go test -run '^$' -bench 'SideHistogram' -benchtime 1x -count 6 ./tsdb/
//
// Workload: latency histograms as client libraries expose them, 15 s interval. "exp" are
// exponential histograms (schema 3) whose 10–20 populated buckets fill as requests come in
// (a few hundred observations per scrape over a moving window of buckets) and whose tail grows
// a bucket now and then, so appenders recode; "nhcb" are classic histograms converted to custom
// buckets (NHCB: 14 fixed bucket bounds, all buckets present).

import (
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	ustorage "github.com/prometheus/prometheus/storage"

	"github.com/vigil-monitoring/vigil/storage"
)

// benchHists holds the current histogram of each series and advances them one scrape at a time.
// The histogram objects are reused from scrape to scrape (both TSDBs copy what they keep by
// Commit).
type benchHists struct {
	hs     []*histogram.Histogram
	counts [][]int64 // absolute bucket counts
	r      *rand.Rand
	custom bool
}

var nhcbBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

func newBenchHists(n int, custom bool) *benchHists {
	w := &benchHists{hs: make([]*histogram.Histogram, n), counts: make([][]int64, n), r: rand.New(rand.NewSource(7)), custom: custom}
	for i := range w.hs {
		if custom {
			w.hs[i] = &histogram.Histogram{Schema: histogram.CustomBucketsSchema, CustomValues: nhcbBounds,
				PositiveSpans: []histogram.Span{{Offset: 0, Length: uint32(len(nhcbBounds) + 1)}}}
			w.counts[i] = make([]int64, len(nhcbBounds)+1)
		} else {
			// Schema 3 (buckets ×1.09); around 100 ms, 10 buckets to start with.
			w.hs[i] = &histogram.Histogram{Schema: 3, ZeroThreshold: 1e-128,
				PositiveSpans: []histogram.Span{{Offset: -27 + int32(i%5), Length: 10}}}
			w.counts[i] = make([]int64, 10, 20)
		}
	}
	return w
}

// step adds one scrape's worth of observations to every series.
func (w *benchHists) step() {
	for i, h := range w.hs {
		c := w.counts[i]
		if !w.custom && len(c) < 20 && w.r.Intn(40) == 0 {
			c = append(c, 0) // the tail grows a bucket
			h.PositiveSpans[0].Length++
		}
		obs := 100 + w.r.Intn(200)
		for range obs / 16 { // observations land in batches around the median
			b := len(c)/2 + int(w.r.NormFloat64()*float64(len(c))/5)
			b = min(max(b, 0), len(c)-1)
			c[b] += 16
		}
		w.counts[i] = c
		h.Count += uint64(obs / 16 * 16)
		h.Sum += float64(obs) * 0.1 * (1 + w.r.Float64()*0.1)
		h.PositiveBuckets = h.PositiveBuckets[:0]
		var prev int64
		for _, v := range c {
			h.PositiveBuckets = append(h.PositiveBuckets, v-prev)
			prev = v
		}
	}
}

// processCPU returns the user and system CPU time the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchHistLabels(i int) labels.Labels {
	return labels.FromStrings(
		"__name__", "http_request_duration_seconds",
		"code", []string{"200", "404", "500"}[i%3],
		"handler", fmt.Sprintf("/api/v%d/%d", i%3, i%50),
		"instance", fmt.Sprintf("10.%d.%d.%d:8080", (i/65536)%256, (i/256)%256, i%256),
		"job", "job-"+fmt.Sprint(i%10),
		"method", []string{"GET", "POST"}[i%2],
		"namespace", "ns-"+fmt.Sprint(i%20),
		"pod", fmt.Sprintf("app-%d-7f9c8d6b5-%05x", i%300, i),
	)
}

// appendHists appends the current histograms of w at t, in batches of 1000 as a scrape would.
func appendHists(s store, refs []uint64, lsets []labels.Labels, t int64, w *benchHists) error {
	const batch = 1000
	for start := 0; start < len(lsets); start += batch {
		switch st := s.(type) {
		case vigilStore:
			app := st.db.Appender(context.Background())
			for i := start; i < min(start+batch, len(lsets)); i++ {
				ref, err := app.AppendHistogram(storage.SeriesRef(refs[i]), lsets[i], t, w.hs[i], nil)
				if err != nil {
					return err
				}
				refs[i] = uint64(ref)
			}
			if err := app.Commit(); err != nil {
				return err
			}
		case upstreamStore:
			app := st.db.Appender(context.Background())
			for i := start; i < min(start+batch, len(lsets)); i++ {
				ref, err := app.AppendHistogram(ustorage.SeriesRef(refs[i]), lsets[i], t, w.hs[i], nil)
				if err != nil {
					return err
				}
				refs[i] = uint64(ref)
			}
			if err := app.Commit(); err != nil {
				return err
			}
		}
	}
	return nil
}

func fillHists(b testing.TB, s store, n, steps int, custom bool) {
	lsets := make([]labels.Labels, n)
	for i := range lsets {
		lsets[i] = benchHistLabels(i)
	}
	refs := make([]uint64, n)
	w := newBenchHists(n, custom)
	for step := 0; step < steps; step++ {
		w.step()
		if err := appendHists(s, refs, lsets, int64(step)*benchInterval, w); err != nil {
			b.Fatal(err)
		}
	}
}

var histKinds = []struct {
	name   string
	custom bool
}{{"exp", false}, {"nhcb", true}}

// BenchmarkSideHistogramAppend measures steady-state histogram appends of 10k series (refs
// cached): ns and allocations per histogram sample. Generating the next scrape is not timed.
func BenchmarkSideHistogramAppend(b *testing.B) {
	const n = 10_000
	for _, hk := range histKinds {
		for _, kind := range []string{"vigil", "upstream"} {
			b.Run(fmt.Sprintf("%s/%s", hk.name, kind), func(b *testing.B) {
				s := openStore(b, kind, 2*3600*1000)
				defer s.close()
				lsets := make([]labels.Labels, n)
				for i := range lsets {
					lsets[i] = benchHistLabels(i)
				}
				refs := make([]uint64, n)
				w := newBenchHists(n, hk.custom)
				for step := range 3 { // series exist, chunks are open, refs cached
					w.step()
					if err := appendHists(s, refs, lsets, int64(step)*benchInterval, w); err != nil {
						b.Fatal(err)
					}
				}
				steps := max(20, b.N/n)
				b.ReportAllocs()
				var cpu time.Duration
				b.ResetTimer()
				for step := 3; step < 3+steps; step++ {
					b.StopTimer()
					w.step()
					c0 := processCPU()
					b.StartTimer()
					if err := appendHists(s, refs, lsets, int64(step)*benchInterval, w); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					cpu += processCPU() - c0
					b.StartTimer()
				}
				b.StopTimer()
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(steps*n), "ns/sample")
				// CPU time (user + system, all threads, GC included) is what a loaded machine
				// does not distort as much as wall time.
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(steps*n), "cpu-ns/sample")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkSideHistogramHeadMemory reports heap bytes per histogram series after one hour of
// 15 s scrapes (240 samples per series).
func BenchmarkSideHistogramHeadMemory(b *testing.B) {
	const n = 10_000
	for _, hk := range histKinds {
		for _, kind := range []string{"vigil", "upstream"} {
			b.Run(fmt.Sprintf("%s/%s", hk.name, kind), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					before := heapInUse()
					s := openStore(b, kind, 2*3600*1000)
					fillHists(b, s, n, 240, hk.custom)
					after := heapInUse()
					b.ReportMetric(float64(after-before)/float64(n), "heapB/series")
					runtime.KeepAlive(s)
					s.close()
				}
			})
		}
	}
}

// BenchmarkSideHistogramDiskBytes reports block bytes (index + chunks + meta) per histogram
// sample for 2,000 series × 8 h of 15 s samples (2 h blocks).
func BenchmarkSideHistogramDiskBytes(b *testing.B) {
	const n, hours = 2000, 8
	steps := hours * 3600 * 1000 / benchInterval
	for _, hk := range histKinds {
		for _, kind := range []string{"vigil", "upstream"} {
			b.Run(fmt.Sprintf("%s/%s", hk.name, kind), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					s := openStore(b, kind, 2*3600*1000)
					fillHists(b, s, n, steps, hk.custom)
					if err := s.compact(); err != nil {
						b.Fatal(err)
					}
					var inBlocks int64
					switch st := s.(type) {
					case vigilStore:
						for _, bl := range st.db.Blocks() {
							inBlocks += int64(bl.Meta().Stats.NumSamples)
						}
					case upstreamStore:
						for _, bl := range st.db.Blocks() {
							inBlocks += int64(bl.Meta().Stats.NumSamples)
						}
					}
					if inBlocks == 0 {
						b.Fatal("no samples in blocks")
					}
					b.ReportMetric(float64(dirSize(b, s.dir(), true))/float64(inBlocks), "B/sample")
					b.ReportMetric(float64(inBlocks), "samples")
					s.close()
				}
			})
		}
	}
}
