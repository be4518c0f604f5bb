package scrape

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// refAppendable is the cheapest possible storage.Appendable: it hands out a new ref for a series it
// has not seen (ref 0) and accepts everything else, so the benchmark measures the scrape side.
type refAppendable struct {
	next    storage.SeriesRef
	samples int
}

func (a *refAppendable) Appender(context.Context) storage.Appender { return a }

func (a *refAppendable) Append(ref storage.SeriesRef, _ labels.Labels, _ int64, _ float64) (storage.SeriesRef, error) {
	a.samples++
	if ref == 0 {
		a.next++
		return a.next, nil
	}
	return ref, nil
}
func (a *refAppendable) Commit() error   { return nil }
func (a *refAppendable) Rollback() error { return nil }

// benchPayload is an avalanche-like exposition: n series over n/100 metric families with HELP
// and TYPE, 10 label pairs per series.
func benchPayload(n int) string {
	var sb strings.Builder
	for f := 0; f < n/100; f++ {
		fmt.Fprintf(&sb, "# HELP avalanche_metric_mmmmm_%d_0 A metric.\n# TYPE avalanche_metric_mmmmm_%d_0 gauge\n", f, f)
		for s := range 100 {
			fmt.Fprintf(&sb, "avalanche_metric_mmmmm_%d_0{cycle_id=\"0\",series_id=\"%d\"", f, s)
			for l := range 8 {
				fmt.Fprintf(&sb, ",label_key_kkkkk_%d=\"label_val_vvvvv_%d\"", l, l)
			}
			fmt.Fprintf(&sb, "} %d\n", 1000+s)
		}
	}
	return sb.String()
}

// BenchmarkScrapeAppend measures parse + cache lookup + append + staleness bookkeeping for a
// steady 10k-series target, reporting ns and heap allocations per sample.
func BenchmarkScrapeAppend(b *testing.B) {
	const n = 10000
	body := []byte(benchPayload(n))
	app := &refAppendable{}
	sl := testLoop(b, app, nil, "")
	ts := time.Now()
	// Warm up: the first scrape builds the cache.
	for range 2 {
		ts = ts.Add(time.Second)
		if _, err := sl.append(app, body, textType, ts); err != nil {
			b.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts = ts.Add(time.Second)
		stats, err := sl.append(app, body, textType, ts)
		if err != nil {
			b.Fatal(err)
		}
		if stats.added != n || stats.seriesAdded != 0 {
			b.Fatalf("not steady: %+v", stats)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	samples := float64(b.N) * n
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/samples, "ns/sample")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/samples, "allocs/sample")
}

// BenchmarkScrapeAppendFirst measures the first scrape of a target (label building, relabeling,
// new series), the cost a new target or a churning series pays.
func BenchmarkScrapeAppendFirst(b *testing.B) {
	const n = 10000
	body := []byte(benchPayload(n))
	ts := time.Now()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		app := &refAppendable{}
		sl := testLoop(b, app, nil, "")
		if _, err := sl.append(app, body, textType, ts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/(float64(b.N)*n), "ns/sample")
}

// BenchmarkScrapeAppendTSDB is BenchmarkScrapeAppend into the real head, committed every scrape:
// the whole ingestion cost of a steady 10k-series target.
func BenchmarkScrapeAppendTSDB(b *testing.B) {
	const n = 10000
	body := []byte(benchPayload(n))
	db, err := tsdb.Open(b.TempDir(), tsdb.DefaultOptions(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	sl := testLoop(b, db, nil, "")
	ts := time.Now()
	scrape := func() {
		ts = ts.Add(10 * time.Second)
		app := db.Appender(context.Background())
		stats, err := sl.append(app, body, textType, ts)
		if err != nil {
			b.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
		if stats.added != n {
			b.Fatalf("added %d", stats.added)
		}
	}
	scrape()
	scrape()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		scrape()
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	samples := float64(b.N) * n
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/samples, "ns/sample")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/samples, "allocs/sample")
}

// BenchmarkParseOnly is the floor under BenchmarkScrapeAppend: the upstream parser alone walking
// the same payload, so the scrape loop's own overhead is the difference.
func BenchmarkParseOnly(b *testing.B) {
	const n = 10000
	body := []byte(benchPayload(n))
	st := labels.NewSymbolTable()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, err := textparse.New(body, textType, st, textparse.ParserOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			et, err := p.Next()
			if err != nil {
				break
			}
			if et == textparse.EntrySeries {
				p.Series()
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/(float64(b.N)*n), "ns/sample")
}

// BenchmarkCacheMemory reports the heap the scrape cache keeps per series of a steady target
// (the cache is most of the scrape side's memory).
func BenchmarkCacheMemory(b *testing.B) {
	const n = 10000
	body := []byte(benchPayload(n))
	for i := 0; i < b.N; i++ {
		app := &refAppendable{}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		sl := testLoop(b, app, nil, "")
		ts := time.Now()
		for range 2 {
			ts = ts.Add(time.Second)
			if _, err := sl.append(app, body, textType, ts); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/series")
		runtime.KeepAlive(sl)
	}
}

// AppendHistogram refuses: this test double expects float samples only.
func (a *refAppendable) AppendHistogram(storage.SeriesRef, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, errors.New("refAppendable: unexpected histogram sample")
}

// BenchmarkScrapeHTTP is a whole scrape of a steady 10k-series target over loopback HTTP: the
// request, reading the body under the scrape timeout's network clock, parse and append.
func BenchmarkScrapeHTTP(b *testing.B) {
	const n = 10000
	body := []byte(benchPayload(n))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", textType)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	app := &refAppendable{}
	sl := testLoop(b, app, nil, strings.TrimPrefix(srv.URL, "http://"))
	ts := time.Now()
	for range 2 {
		ts = ts.Add(time.Second)
		sl.scrapeAndReport(ts)
	}
	if err := sl.target.LastError(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts = ts.Add(time.Second)
		sl.scrapeAndReport(ts)
	}
	b.StopTimer()
	if err := sl.target.LastError(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/(float64(b.N)*n), "ns/sample")
}
