package tsdb

// Side-by-side benchmarks against the upstream Prometheus TSDB (github.com/prometheus/prometheus
// /tsdb, opened in the same process on the same workload). Each benchmark reports the figure for
// Vigil and for upstream as sub-benchmarks; compare the two lines of one run:
//
//	go test -run '^$' -bench 'Side' -benchtime 1x ./tsdb/
//
// Workload: realistic label sets (8 labels: metric name, job, instance, namespace, pod,
// container, method, code), 15 s interval; half counters with integer increments, a quarter
// integer gauges (byte counts as a random walk), a quarter float gauges (a random walk with
// decimals).

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	ustorage "github.com/prometheus/prometheus/storage"
	upstream "github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/vigil-monitoring/vigil/storage"
)

const benchInterval = 15000

func benchLabels(i int) labels.Labels {
	return labels.FromStrings(
		"__name__", "app_metric_"+strconv.Itoa(i%200),
		"code", []string{"200", "404", "500"}[i%3],
		"container", "app-"+strconv.Itoa(i%7),
		"instance", fmt.Sprintf("10.%d.%d.%d:9100", (i/65536)%256, (i/256)%256, i%256),
		"job", "job-"+strconv.Itoa(i%10),
		"method", []string{"GET", "POST"}[i%2],
		"namespace", "ns-"+strconv.Itoa(i%20),
		"pod", fmt.Sprintf("app-%d-7f9c8d6b5-%05x", i%300, i),
	)
}

// workload produces the next value of each series.
type workload struct {
	vals []float64
	r    *rand.Rand
}

func newWorkload(n int) *workload {
	w := &workload{vals: make([]float64, n), r: rand.New(rand.NewSource(42))}
	for i := range w.vals {
		switch i % 4 {
		case 2:
			w.vals[i] = float64(w.r.Int63n(1 << 30))
		case 3:
			w.vals[i] = math.Round(w.r.Float64()*10000) / 100
		}
	}
	return w
}

func (w *workload) next(i int) float64 {
	switch i % 4 {
	case 0, 1: // counter
		w.vals[i] += float64(w.r.Intn(100))
	case 2: // integer gauge
		w.vals[i] += float64(w.r.Intn(1<<16) - 1<<15)
	case 3: // float gauge
		w.vals[i] = math.Round((w.vals[i]+w.r.NormFloat64())*100) / 100
	}
	return w.vals[i]
}

// store abstracts over Vigil's DB and upstream's for the benchmarks.
type store interface {
	append(refs []uint64, lsets []labels.Labels, t int64, vals func(i int) float64) error
	compact() error
	selectAll(mint, maxt int64) (int, error)
	dir() string
	close() error
}

type vigilStore struct{ db *DB }

func (s vigilStore) append(refs []uint64, lsets []labels.Labels, t int64, vals func(i int) float64) error {
	const batch = 1000
	for start := 0; start < len(lsets); start += batch {
		app := s.db.Appender(context.Background())
		for i := start; i < min(start+batch, len(lsets)); i++ {
			ref, err := app.Append(storage.SeriesRef(refs[i]), lsets[i], t, vals(i))
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

func (s vigilStore) compact() error { return s.db.Compact() }
func (s vigilStore) dir() string    { return s.db.Dir() }
func (s vigilStore) close() error   { return s.db.Close() }

func (s vigilStore) selectAll(mint, maxt int64) (int, error) {
	q, err := s.db.Querier(mint, maxt)
	if err != nil {
		return 0, err
	}
	defer q.Close()
	m := labels.MustNewMatcher(labels.MatchRegexp, "__name__", "app_metric_.*")
	ss := q.Select(context.Background(), true, nil, m)
	n := 0
	var it storage.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		for it.Next() != storage.ValNone {
			n++
		}
		if it.Err() != nil {
			return n, it.Err()
		}
	}
	return n, ss.Err()
}

type upstreamStore struct{ db *upstream.DB }

func openUpstream(b testing.TB, dir string, blockRange int64) upstreamStore {
	opts := upstream.DefaultOptions()
	opts.MinBlockDuration = blockRange
	opts.MaxBlockDuration = blockRange * 9
	opts.RetentionDuration = 0
	db, err := upstream.Open(dir, nil, nil, opts, nil)
	if err != nil {
		b.Fatal(err)
	}
	db.DisableCompactions()
	return upstreamStore{db}
}

func (s upstreamStore) append(refs []uint64, lsets []labels.Labels, t int64, vals func(i int) float64) error {
	const batch = 1000
	for start := 0; start < len(lsets); start += batch {
		app := s.db.Appender(context.Background())
		for i := start; i < min(start+batch, len(lsets)); i++ {
			ref, err := app.Append(ustorage.SeriesRef(refs[i]), lsets[i], t, vals(i))
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

func (s upstreamStore) compact() error {
	s.db.EnableCompactions()
	defer s.db.DisableCompactions()
	return s.db.Compact(context.Background())
}
func (s upstreamStore) dir() string  { return s.db.Dir() }
func (s upstreamStore) close() error { return s.db.Close() }

func (s upstreamStore) selectAll(mint, maxt int64) (int, error) {
	q, err := s.db.Querier(mint, maxt)
	if err != nil {
		return 0, err
	}
	defer q.Close()
	m := labels.MustNewMatcher(labels.MatchRegexp, "__name__", "app_metric_.*")
	ss := q.Select(context.Background(), true, nil, m)
	n := 0
	var it chunkenc.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		for it.Next() != chunkenc.ValNone {
			n++
		}
		if it.Err() != nil {
			return n, it.Err()
		}
	}
	return n, ss.Err()
}

func openStore(b testing.TB, kind string, blockRange int64) store {
	dir := b.TempDir()
	if kind == "upstream" {
		return openUpstream(b, dir, blockRange)
	}
	db, err := Open(dir, &Options{MinBlockDuration: blockRange, MaxBlockDuration: blockRange * 9, WALSegmentSize: 128 << 20}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	// Background compaction would race with the measurement; the benchmarks compact explicitly.
	close(db.stopc)
	<-db.donec
	db.stopc = make(chan struct{})
	db.donec = make(chan struct{})
	go func() { <-db.stopc; close(db.donec) }()
	return vigilStore{db}
}

// fillStore appends `steps` scrapes of n series starting at t0.
func fillStore(b testing.TB, s store, n, steps int, t0 int64) {
	lsets := make([]labels.Labels, n)
	for i := range lsets {
		lsets[i] = benchLabels(i)
	}
	refs := make([]uint64, n)
	w := newWorkload(n)
	for step := 0; step < steps; step++ {
		if err := s.append(refs, lsets, t0+int64(step)*benchInterval, w.next); err != nil {
			b.Fatal(err)
		}
	}
}

func seriesCounts(b *testing.B) []int {
	if os.Getenv("VIGIL_BENCH_1M") != "" {
		return []int{100_000, 1_000_000}
	}
	return []int{100_000}
}

// BenchmarkSideAppend measures steady-state appends (series exist, refs cached as the scrape
// loop caches them): ns and allocations per sample.
func BenchmarkSideAppend(b *testing.B) {
	for _, n := range seriesCounts(b) {
		for _, kind := range []string{"vigil", "upstream"} {
			b.Run(fmt.Sprintf("%s/series=%d", kind, n), func(b *testing.B) {
				s := openStore(b, kind, 2*3600*1000)
				defer s.close()
				lsets := make([]labels.Labels, n)
				for i := range lsets {
					lsets[i] = benchLabels(i)
				}
				refs := make([]uint64, n)
				w := newWorkload(n)
				if err := s.append(refs, lsets, 0, w.next); err != nil {
					b.Fatal(err)
				}
				steps := max(1, b.N/n)
				b.ReportAllocs()
				b.ResetTimer()
				c0 := processCPU()
				for step := 1; step <= steps; step++ {
					if err := s.append(refs, lsets, int64(step)*benchInterval, w.next); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				samples := float64(steps * n)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/samples, "ns/sample")
				// CPU time per sample (all threads, GC included): less distorted by a loaded machine.
				b.ReportMetric(float64((processCPU()-c0).Nanoseconds())/samples, "cpu-ns/sample")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkSideHeadMemory reports heap bytes per active head series after one hour of 15 s
// scrapes (240 samples per series), the head's steady state between block cuts.
func BenchmarkSideHeadMemory(b *testing.B) {
	for _, n := range seriesCounts(b) {
		for _, kind := range []string{"vigil", "upstream"} {
			b.Run(fmt.Sprintf("%s/series=%d", kind, n), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					before := heapInUse()
					s := openStore(b, kind, 2*3600*1000)
					fillStore(b, s, n, 240, 0)
					after := heapInUse()
					b.ReportMetric(float64(after-before)/float64(n), "heapB/series")
					runtime.KeepAlive(s)
					s.close()
				}
			})
		}
	}
}

func dirSize(b testing.TB, dir string, skipWAL bool) int64 {
	var n int64
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		if info.IsDir() && skipWAL && (info.Name() == "wal" || info.Name() == "chunks_head" || info.Name() == "wbl") {
			return filepath.SkipDir
		}
		if !info.IsDir() && info.Name() != "lock" {
			n += info.Size()
		}
		return nil
	})
	return n
}

// BenchmarkSideDiskBytes reports bytes per sample of compacted blocks (index + chunks +
// tombstones + meta), WAL excluded, for 10k series × 8 h of 15 s samples (2 h blocks, compacted
// into bigger ones where both TSDBs do).
func BenchmarkSideDiskBytes(b *testing.B) {
	const n, hours = 10_000, 8
	steps := hours * 3600 * 1000 / benchInterval
	for _, kind := range []string{"vigil", "upstream"} {
		b.Run(kind, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s := openStore(b, kind, 2*3600*1000)
				fillStore(b, s, n, steps, 0)
				if err := s.compact(); err != nil {
					b.Fatal(err)
				}
				// Samples in blocks: everything before the head's last block range.
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
				size := dirSize(b, s.dir(), true)
				b.ReportMetric(float64(size)/float64(inBlocks), "B/sample")
				b.ReportMetric(float64(inBlocks), "samples")
				s.close()
			}
		})
	}
}

// BenchmarkSideSelect reports the cost per returned sample of selecting all series and
// iterating them over the last 1 h and the last 24 h (1,000 series, 26 h of data, mostly in
// compacted blocks).
func BenchmarkSideSelect(b *testing.B) {
	const n, hours = 1000, 26
	steps := hours * 3600 * 1000 / benchInterval
	end := int64(steps-1) * benchInterval
	for _, kind := range []string{"vigil", "upstream"} {
		s := openStore(b, kind, 2*3600*1000)
		fillStore(b, s, n, steps, 0)
		if err := s.compact(); err != nil {
			b.Fatal(err)
		}
		for _, rng := range []time.Duration{time.Hour, 24 * time.Hour} {
			b.Run(fmt.Sprintf("%s/range=%s", kind, rng), func(b *testing.B) {
				b.ReportAllocs()
				total := 0
				for i := 0; i < b.N; i++ {
					got, err := s.selectAll(end-rng.Milliseconds(), end)
					if err != nil {
						b.Fatal(err)
					}
					total += got
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total), "ns/sample")
			})
		}
		s.close()
	}
}
