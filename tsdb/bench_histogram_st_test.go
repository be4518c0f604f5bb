package tsdb

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	ustorage "github.com/prometheus/prometheus/storage"

	"github.com/vigil-monitoring/vigil/storage"
)

// Side-by-side benchmarks of native histogram series with start timestamps (a created
// timestamp, as client_golang exposes and --enable-feature=st-storage scrapes): Vigil's
// AppendHistogramST against upstream's AppenderV2 with EnableSTStorage and
// EnableHistogramSTEncoding (its HistogramST chunks). The figures without start timestamps
// are BenchmarkSideHistogramAppend and BenchmarkSideHistogramDiskBytes.

// appendHistsST appends the current histograms of w at t with start timestamps st(i), in
// batches of 1000 as a scrape would.
func appendHistsST(s stStore, refs []uint64, lsets []labels.Labels, t int64, w *benchHists, st func(i int) int64) error {
	const batch = 1000
	for start := 0; start < len(lsets); start += batch {
		switch s := s.(type) {
		case vigilStore:
			app := s.db.Appender(context.Background())
			hsta := app.(storage.HistogramSTAppender)
			for i := start; i < min(start+batch, len(lsets)); i++ {
				ref, err := hsta.AppendHistogramST(storage.SeriesRef(refs[i]), lsets[i], st(i), t, w.hs[i], nil)
				if err != nil {
					return err
				}
				refs[i] = uint64(ref)
			}
			if err := app.Commit(); err != nil {
				return err
			}
		case upstreamSTStore:
			app := s.db.AppenderV2(context.Background())
			for i := start; i < min(start+batch, len(lsets)); i++ {
				ref, err := app.Append(ustorage.SeriesRef(refs[i]), lsets[i], st(i), t, 0, w.hs[i], nil, ustorage.AppendV2Options{})
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

// BenchmarkSideHistogramAppendST measures steady-state appends of histogram samples with start
// timestamps, 10k series (refs cached): ns per histogram sample, CPU included.
func BenchmarkSideHistogramAppendST(b *testing.B) {
	const n = 10_000
	for _, hk := range histKinds {
		for _, kind := range []string{"vigil", "upstream"} {
			b.Run(fmt.Sprintf("%s/%s", hk.name, kind), func(b *testing.B) {
				s := openSTStore(b, kind, 2*3600*1000)
				defer s.close()
				lsets := make([]labels.Labels, n)
				for i := range lsets {
					lsets[i] = benchHistLabels(i)
				}
				refs := make([]uint64, n)
				w := newBenchHists(n, hk.custom)
				for step := range 3 {
					w.step()
					if err := appendHistsST(s, refs, lsets, int64(step)*benchInterval, w, createdAt); err != nil {
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
					if err := appendHistsST(s, refs, lsets, int64(step)*benchInterval, w, createdAt); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					cpu += processCPU() - c0
					b.StartTimer()
				}
				b.StopTimer()
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(steps*n), "ns/sample")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(steps*n), "cpu-ns/sample")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkSideHistogramDiskBytesST reports block bytes per histogram sample with start
// timestamps, 2,000 series × 8 h of 15 s samples (2 h blocks).
func BenchmarkSideHistogramDiskBytesST(b *testing.B) {
	const n, hours = 2000, 8
	steps := hours * 3600 * 1000 / benchInterval
	for _, hk := range histKinds {
		for _, kind := range []string{"vigil", "upstream"} {
			b.Run(fmt.Sprintf("%s/%s", hk.name, kind), func(b *testing.B) {
				for range b.N {
					s := openSTStore(b, kind, 2*3600*1000)
					lsets := make([]labels.Labels, n)
					for i := range lsets {
						lsets[i] = benchHistLabels(i)
					}
					refs := make([]uint64, n)
					w := newBenchHists(n, hk.custom)
					for step := range steps {
						w.step()
						if err := appendHistsST(s, refs, lsets, int64(step)*benchInterval, w, createdAt); err != nil {
							b.Fatal(err)
						}
					}
					reportSTBlockBytes(b, s)
					s.close()
				}
			})
		}
	}
}

// BenchmarkSideHistogramHeadMemoryST reports heap bytes per histogram series with start
// timestamps after one hour of 15 s scrapes (240 samples per series).
func BenchmarkSideHistogramHeadMemoryST(b *testing.B) {
	const n = 10_000
	for _, hk := range histKinds {
		for _, kind := range []string{"vigil", "upstream"} {
			b.Run(fmt.Sprintf("%s/%s", hk.name, kind), func(b *testing.B) {
				for range b.N {
					before := heapInUse()
					s := openSTStore(b, kind, 2*3600*1000)
					lsets := make([]labels.Labels, n)
					for i := range lsets {
						lsets[i] = benchHistLabels(i)
					}
					refs := make([]uint64, n)
					w := newBenchHists(n, hk.custom)
					for step := range 240 {
						w.step()
						if err := appendHistsST(s, refs, lsets, int64(step)*benchInterval, w, createdAt); err != nil {
							b.Fatal(err)
						}
					}
					lsets, refs, w = nil, nil, nil
					after := heapInUse()
					b.ReportMetric(float64(after-before)/float64(n), "heapB/series")
					runtime.KeepAlive(s)
					s.close()
				}
			})
		}
	}
}
