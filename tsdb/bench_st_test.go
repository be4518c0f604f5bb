package tsdb

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	ustorage "github.com/prometheus/prometheus/storage"
	upstream "github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/vigil-monitoring/vigil/storage"
)

// Side-by-side benchmarks of series with start timestamps (cumulative counters with a created
// timestamp, as scraped with --enable-feature=st-storage): Vigil's AppendST against upstream's
// AppenderV2 with EnableSTStorage (XOR2 chunks). The float-only figures are BenchmarkSideAppend
// and BenchmarkSideHeadMemory.

type stStore interface {
	appendST(refs []uint64, lsets []labels.Labels, t int64, vals func(i int) float64, st func(i int) int64) error
	close() error
}

func (s vigilStore) appendST(refs []uint64, lsets []labels.Labels, t int64, vals func(i int) float64, st func(i int) int64) error {
	const batch = 1000
	for start := 0; start < len(lsets); start += batch {
		app := s.db.Appender(context.Background()).(storage.STAppender)
		for i := start; i < min(start+batch, len(lsets)); i++ {
			ref, err := app.AppendST(storage.SeriesRef(refs[i]), lsets[i], st(i), t, vals(i))
			if err != nil {
				return err
			}
			refs[i] = uint64(ref)
		}
		if err := app.(storage.Appender).Commit(); err != nil {
			return err
		}
	}
	return nil
}

type upstreamSTStore struct{ db *upstream.DB }

func (s upstreamSTStore) appendST(refs []uint64, lsets []labels.Labels, t int64, vals func(i int) float64, st func(i int) int64) error {
	const batch = 1000
	for start := 0; start < len(lsets); start += batch {
		app := s.db.AppenderV2(context.Background())
		for i := start; i < min(start+batch, len(lsets)); i++ {
			ref, err := app.Append(ustorage.SeriesRef(refs[i]), lsets[i], st(i), t, vals(i), nil, nil, ustorage.AppendV2Options{})
			if err != nil {
				return err
			}
			refs[i] = uint64(ref)
		}
		if err := app.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func (s upstreamSTStore) close() error { return s.db.Close() }

func openSTStore(b testing.TB, kind string, blockRange int64) stStore {
	if kind == "vigil" {
		return openStore(b, kind, blockRange).(vigilStore)
	}
	opts := upstream.DefaultOptions()
	opts.MinBlockDuration = blockRange
	opts.MaxBlockDuration = blockRange * 9
	opts.RetentionDuration = 0
	opts.EnableSTStorage = true
	opts.FloatChunkEncoding = chunkenc.EncXOR2
	opts.EnableHistogramSTEncoding = true // as --enable-feature=st-storage sets it
	db, err := upstream.Open(b.TempDir(), nil, nil, opts, nil)
	if err != nil {
		b.Fatal(err)
	}
	db.DisableCompactions()
	return upstreamSTStore{db}
}

// createdAt is the created timestamp of series i: before the benchmark's first sample, a
// little different per series.
func createdAt(i int) int64 { return -60_000 - int64(i%1000) }

// BenchmarkSideAppendST measures steady-state appends of samples with start timestamps.
func BenchmarkSideAppendST(b *testing.B) {
	for _, n := range seriesCounts(b) {
		for _, kind := range []string{"vigil", "upstream"} {
			b.Run(fmt.Sprintf("%s/series=%d", kind, n), func(b *testing.B) {
				s := openSTStore(b, kind, 2*3600*1000)
				defer s.close()
				lsets := make([]labels.Labels, n)
				for i := range lsets {
					lsets[i] = benchLabels(i)
				}
				refs := make([]uint64, n)
				w := newWorkload(n)
				if err := s.appendST(refs, lsets, 0, w.next, createdAt); err != nil {
					b.Fatal(err)
				}
				steps := max(1, b.N/n)
				b.ReportAllocs()
				b.ResetTimer()
				for step := 1; step <= steps; step++ {
					if err := s.appendST(refs, lsets, int64(step)*benchInterval, w.next, createdAt); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(steps*n), "ns/sample")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkSideHeadMemoryST reports heap bytes per head series with start timestamps after one
// hour of 15 s scrapes, as BenchmarkSideHeadMemory does for float-only series.
func BenchmarkSideHeadMemoryST(b *testing.B) {
	for _, n := range seriesCounts(b) {
		for _, kind := range []string{"vigil", "upstream"} {
			b.Run(fmt.Sprintf("%s/series=%d", kind, n), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					before := heapInUse()
					s := openSTStore(b, kind, 2*3600*1000)
					lsets := make([]labels.Labels, n)
					for i := range lsets {
						lsets[i] = benchLabels(i)
					}
					refs := make([]uint64, n)
					w := newWorkload(n)
					for step := 0; step < 240; step++ {
						if err := s.appendST(refs, lsets, int64(step)*benchInterval, w.next, createdAt); err != nil {
							b.Fatal(err)
						}
					}
					lsets, refs = nil, nil
					after := heapInUse()
					b.ReportMetric(float64(after-before)/float64(n), "heapB/series")
					runtime.KeepAlive(s)
					s.close()
				}
			})
		}
	}
}

func (s upstreamSTStore) compact() error {
	s.db.EnableCompactions()
	defer s.db.DisableCompactions()
	return s.db.Compact(context.Background())
}

// BenchmarkSideDiskBytesST is BenchmarkSideDiskBytes for series with start timestamps
// (cumulative counters with a created timestamp): bytes per sample of compacted blocks.
func BenchmarkSideDiskBytesST(b *testing.B) {
	const n, hours = 10_000, 8
	steps := hours * 3600 * 1000 / benchInterval
	for _, kind := range []string{"vigil", "upstream"} {
		b.Run(kind, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s := openSTStore(b, kind, 2*3600*1000)
				lsets := make([]labels.Labels, n)
				for i := range lsets {
					lsets[i] = benchLabels(i)
				}
				refs := make([]uint64, n)
				w := newWorkload(n)
				for step := 0; step < steps; step++ {
					if err := s.appendST(refs, lsets, int64(step)*benchInterval, w.next, createdAt); err != nil {
						b.Fatal(err)
					}
				}
				reportSTBlockBytes(b, s)
				s.close()
			}
		})
	}
}

// reportSTBlockBytes compacts the store's head into blocks and reports their bytes per sample.
func reportSTBlockBytes(b *testing.B, s stStore) {
	var inBlocks int64
	var dir string
	switch st := s.(type) {
	case vigilStore:
		if err := st.compact(); err != nil {
			b.Fatal(err)
		}
		for _, bl := range st.db.Blocks() {
			inBlocks += int64(bl.Meta().Stats.NumSamples)
		}
		dir = st.dir()
	case upstreamSTStore:
		if err := st.compact(); err != nil {
			b.Fatal(err)
		}
		for _, bl := range st.db.Blocks() {
			inBlocks += int64(bl.Meta().Stats.NumSamples)
		}
		dir = st.db.Dir()
	}
	if inBlocks == 0 {
		b.Fatal("no samples in blocks")
	}
	b.ReportMetric(float64(dirSize(b, dir, true))/float64(inBlocks), "B/sample")
	b.ReportMetric(float64(inBlocks), "samples")
}
