package index

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/storage"
	promchunks "github.com/prometheus/prometheus/tsdb/chunks"
	promindex "github.com/prometheus/prometheus/tsdb/index"
)

// writeUpstreamIndex writes the same series with Prometheus' own index writer, the format this
// one is measured against.
func writeUpstreamIndex(t testing.TB, path string, series []testSeries) {
	t.Helper()
	w, err := promindex.NewWriter(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range symbolsOf(series) {
		if err := w.AddSymbol(s); err != nil {
			t.Fatal(err)
		}
	}
	var metas []promchunks.Meta
	for i, s := range series {
		metas = metas[:0]
		for _, c := range s.chks {
			metas = append(metas, promchunks.Meta{Ref: promchunks.ChunkRef(c.Ref), MinTime: c.MinTime, MaxTime: c.MaxTime})
		}
		if err := w.AddSeries(storage.SeriesRef(i), s.lset, metas...); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkIndexSizeVsUpstream reports bytes per series of this index and of Prometheus' index
// for the same 100k series (about 8 labels, 3.5 chunks each).
func BenchmarkIndexSizeVsUpstream(b *testing.B) {
	series := genSeries(rand.New(rand.NewPCG(1, 1)), 100_000)
	dir := b.TempDir()
	var ours, theirs int64
	for i := 0; b.Loop(); i++ {
		p1 := filepath.Join(dir, "vigil")
		p2 := filepath.Join(dir, "prometheus")
		writeIndex(b, p1, series)
		writeUpstreamIndex(b, p2, series)
		s1, err1 := os.Stat(p1)
		s2, err2 := os.Stat(p2)
		if err1 != nil || err2 != nil {
			b.Fatal(err1, err2)
		}
		ours, theirs = s1.Size(), s2.Size()
		os.Remove(p1)
		os.Remove(p2)
	}
	n := float64(len(series))
	b.ReportMetric(float64(ours)/n, "vigil-bytes/series")
	b.ReportMetric(float64(theirs)/n, "prometheus-bytes/series")
	b.ReportMetric(float64(ours)/float64(theirs), "ratio")
}
