package promql_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	upromql "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	ustorage "github.com/prometheus/prometheus/storage"
	utsdb "github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/storage"
)

// The native histogram side-by-side benchmark: VIGIL_BENCH_HIST_SERIES (default 1000) native
// histogram counters (schema 3, 24 populated buckets) over 6h at 15s, in one upstream TSDB that
// both engines read (Vigil's through upstreamQueryable): the figures compare the engines only,
// on the same decoded samples.

var histBenchQueries = []struct{ name, query string }{
	{"hist_quantile_sum_rate", `histogram_quantile(0.9, sum(rate(request_latency_seconds[5m])))`},
	{"hist_quantile_sum_by_rate", `histogram_quantile(0.9, sum by (job) (rate(request_latency_seconds[5m])))`},
	{"hist_count_rate", `sum(histogram_count(rate(request_latency_seconds[5m])))`},
}

type histBenchEnv struct {
	db  *utsdb.DB
	ng  *promql.Engine
	ung *upromql.Engine
	end time.Time
}

var (
	histBenchOnce sync.Once
	histBenchData *histBenchEnv
	histBenchErr  error
)

func histBenchSeries() int {
	if v, err := strconv.Atoi(os.Getenv("VIGIL_BENCH_HIST_SERIES")); err == nil && v > 0 {
		return v
	}
	return 1000
}

func loadHistBenchEnv(tb testing.TB) *histBenchEnv {
	histBenchOnce.Do(func() { histBenchData, histBenchErr = newHistBenchEnv(histBenchSeries(), benchSpan) })
	if histBenchErr != nil {
		tb.Fatal(histBenchErr)
	}
	return histBenchData
}

// benchHistogram is series i's cumulative histogram at a step: 24 buckets from index -4 on,
// growing by 1..3 per step each.
func benchHistogram(i, step int) *histogram.Histogram {
	const n = 24
	h := &histogram.Histogram{
		Schema:        3,
		ZeroThreshold: 1e-128,
		PositiveSpans: []histogram.Span{{Offset: -4, Length: n}},
	}
	prev := int64(0)
	for b := range n {
		c := int64(step * (1 + (i+b)%3))
		h.PositiveBuckets = append(h.PositiveBuckets, c-prev)
		prev = c
		h.Count += uint64(c)
		h.Sum += float64(c) * float64(b+1) * 0.01
	}
	return h
}

func newHistBenchEnv(numSeries int, span time.Duration) (*histBenchEnv, error) {
	dir, err := os.MkdirTemp("", "vigil-promql-histbench")
	if err != nil {
		return nil, err
	}
	db, err := utsdb.Open(dir, nil, nil, utsdb.DefaultOptions(), nil)
	if err != nil {
		return nil, fmt.Errorf("opening upstream tsdb: %w", err)
	}
	series := make([]labels.Labels, numSeries)
	for i := range series {
		series[i] = labels.FromStrings("__name__", "request_latency_seconds", "job", "job"+strconv.Itoa(i%10), "instance", "instance"+strconv.Itoa(i))
	}
	start := time.Unix(1_700_000_000, 0)
	refs := make([]ustorage.SeriesRef, numSeries)
	ctx := context.Background()
	for step := 0; step <= int(span/benchInterval); step++ {
		ts := start.Add(time.Duration(step) * benchInterval).UnixMilli()
		app := db.Appender(ctx)
		for i, ls := range series {
			if refs[i], err = app.AppendHistogram(refs[i], ls, ts, benchHistogram(i, step), nil); err != nil {
				return nil, fmt.Errorf("append: %w", err)
			}
		}
		if err := app.Commit(); err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
	}
	if err := db.Compact(ctx); err != nil {
		return nil, fmt.Errorf("compact: %w", err)
	}
	db.DisableCompactions()
	runtime.GC()
	return &histBenchEnv{
		db: db,
		ng: promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: 2 * time.Minute}),
		ung: upromql.NewEngine(upromql.EngineOpts{
			MaxSamples: 50_000_000, Timeout: 2 * time.Minute, EnableAtModifier: true, EnableNegativeOffset: true,
			Parser: parser.NewParser(promql.DefaultParserOptions),
		}),
		end: start.Add(span),
	}, nil
}

func (e *histBenchEnv) run(tb testing.TB, vigil bool, q string, rangeQuery bool) (int, promql.Value, any) {
	ctx := context.Background()
	from := e.end.Add(-time.Hour)
	if vigil {
		var qry promql.Query
		var err error
		if rangeQuery {
			qry, err = e.ng.NewRangeQuery(ctx, upstreamQueryable{e.db}, q, from, e.end, benchInterval)
		} else {
			qry, err = e.ng.NewInstantQuery(ctx, upstreamQueryable{e.db}, q, e.end)
		}
		if err != nil {
			tb.Fatal(err)
		}
		defer qry.Close()
		res := qry.Exec(ctx)
		if res.Err != nil {
			tb.Fatal(res.Err)
		}
		switch v := res.Value.(type) {
		case promql.StepMatrix:
			return len(v.Series), v, nil
		case promql.Vector:
			return len(v), v, nil
		}
		return 1, res.Value, nil
	}
	var qry upromql.Query
	var err error
	if rangeQuery {
		qry, err = e.ung.NewRangeQuery(ctx, e.db, nil, q, from, e.end, benchInterval)
	} else {
		qry, err = e.ung.NewInstantQuery(ctx, e.db, nil, q, e.end)
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		tb.Fatal(res.Err)
	}
	switch v := res.Value.(type) {
	case upromql.Matrix:
		return len(v), nil, v
	case upromql.Vector:
		return len(v), nil, v
	}
	return 1, nil, res.Value
}

// TestHistogramEngineRatios prints Vigil's latency, allocated bytes and peak heap relative to
// the upstream engine for native histogram queries over the same TSDB (VIGIL_BENCH=1), after
// checking that both return the same values.
func TestHistogramEngineRatios(t *testing.T) {
	if os.Getenv("VIGIL_BENCH") == "" {
		t.Skip("set VIGIL_BENCH=1 to run the side-by-side comparison")
	}
	sel := benchQuerySelector(t)
	e := loadHistBenchEnv(t)
	fmt.Printf("%d native histogram series\n", histBenchSeries())
	fmt.Printf("%-36s %12s %12s %10s %10s %10s %12s %12s\n", "query", "vigil", "upstream", "ns ratio", "B/op ratio", "peak ratio", "vigil peak", "upstr. peak")
	for _, mode := range []string{"instant", "range1h"} {
		for _, q := range histBenchQueries {
			if !sel.MatchString(mode + "/" + q.name) {
				continue
			}
			rq := mode == "range1h"
			nv, vv, _ := e.run(t, true, q.query, rq)
			nu, _, uv := e.run(t, false, q.query, rq)
			if nv != nu {
				t.Errorf("%s %s: %d series from vigil, %d from upstream", mode, q.name, nv, nu)
			}
			if err := sameFloats(vv, uv); err != nil {
				t.Errorf("%s %s: %v", mode, q.name, err)
			}
			var rv, ru testing.BenchmarkResult
			var pv, pu uint64
			for i := range 3 {
				v := testing.Benchmark(func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						e.run(b, true, q.query, rq)
					}
				})
				u := testing.Benchmark(func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						e.run(b, false, q.query, rq)
					}
				})
				for range peakSamples {
					pv = max(pv, peakHeap(func() { e.run(t, true, q.query, rq) }))
					pu = max(pu, peakHeap(func() { e.run(t, false, q.query, rq) }))
				}
				if i == 0 || v.NsPerOp() < rv.NsPerOp() {
					rv = v
				}
				if i == 0 || u.NsPerOp() < ru.NsPerOp() {
					ru = u
				}
			}
			fmt.Printf("%-36s %10.2fms %10.2fms %10.2f %10.2f %10.2f %10.1fkB %10.1fkB\n", mode+"/"+q.name,
				float64(rv.NsPerOp())/1e6, float64(ru.NsPerOp())/1e6,
				float64(rv.NsPerOp())/float64(ru.NsPerOp()),
				float64(rv.AllocedBytesPerOp())/float64(max(ru.AllocedBytesPerOp(), 1)),
				float64(pv)/float64(max(pu, 1)), float64(pv)/1e3, float64(pu)/1e3)
		}
	}
}

// sameFloats compares float results of the two engines (the benchmark queries return floats).
func sameFloats(v promql.Value, u any) error {
	var vm promql.Matrix
	switch x := v.(type) {
	case promql.StepMatrix:
		vm = x.Matrix()
	case promql.Vector:
		for _, s := range x {
			vm = append(vm, promql.Series{Metric: s.Metric, Floats: []promql.FPoint{{T: s.T, F: s.F}}})
		}
	}
	var um upromql.Matrix
	switch x := u.(type) {
	case upromql.Matrix:
		um = x
	case upromql.Vector:
		for _, s := range x {
			um = append(um, upromql.Series{Metric: s.Metric, Floats: []upromql.FPoint{{T: s.T, F: s.F}}})
		}
	}
	if len(vm) != len(um) {
		return fmt.Errorf("%d series vs %d", len(vm), len(um))
	}
	for i := range vm {
		if len(vm[i].Floats) != len(um[i].Floats) {
			return fmt.Errorf("%s: %d points vs %d", vm[i].Metric, len(vm[i].Floats), len(um[i].Floats))
		}
		for j, p := range vm[i].Floats {
			q := um[i].Floats[j]
			if p.T != q.T || !closeEnough(p.F, q.F) {
				return fmt.Errorf("%s: point %d: %v@%d vs %v@%d", vm[i].Metric, j, p.F, p.T, q.F, q.T)
			}
		}
	}
	return nil
}

func closeEnough(a, b float64) bool {
	if a == b {
		return true
	}
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= 1e-9*max(a, -a, b, -b)
}

// upstreamQueryable serves an upstream storage.Queryable through Vigil's storage interfaces.
type upstreamQueryable struct{ q ustorage.Queryable }

func (u upstreamQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := u.q.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return upstreamQuerier{q}, nil
}

type upstreamQuerier struct{ q ustorage.Querier }

func (u upstreamQuerier) Select(ctx context.Context, sorted bool, h *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	var uh *ustorage.SelectHints
	if h != nil {
		uh = &ustorage.SelectHints{Start: h.Start, End: h.End, Step: h.Step, Range: h.Range, Func: h.Func}
	}
	return upstreamSeriesSet{u.q.Select(ctx, sorted, uh, ms...)}
}

func (u upstreamQuerier) LabelValues(ctx context.Context, name string, ms ...*labels.Matcher) ([]string, error) {
	v, _, err := u.q.LabelValues(ctx, name, nil, ms...)
	return v, err
}

func (u upstreamQuerier) LabelNames(ctx context.Context, ms ...*labels.Matcher) ([]string, error) {
	v, _, err := u.q.LabelNames(ctx, nil, ms...)
	return v, err
}

func (u upstreamQuerier) Close() error { return u.q.Close() }

type upstreamSeriesSet struct{ ss ustorage.SeriesSet }

func (s upstreamSeriesSet) Next() bool         { return s.ss.Next() }
func (s upstreamSeriesSet) At() storage.Series { return upstreamSeries{s.ss.At()} }
func (s upstreamSeriesSet) Err() error         { return s.ss.Err() }

type upstreamSeries struct{ s ustorage.Series }

func (s upstreamSeries) Labels() labels.Labels { return s.s.Labels() }

func (s upstreamSeries) Iterator(reuse storage.Iterator) storage.Iterator {
	var ui chunkenc.Iterator
	if r, ok := reuse.(*upstreamIterator); ok {
		ui = r.it
	}
	return &upstreamIterator{it: s.s.Iterator(ui)}
}

type upstreamIterator struct{ it chunkenc.Iterator }

func (i *upstreamIterator) Next() storage.ValueType          { return storage.ValueType(i.it.Next()) }
func (i *upstreamIterator) SeekTo(t int64) storage.ValueType { return storage.ValueType(i.it.Seek(t)) }
func (i *upstreamIterator) At() (int64, float64)             { return i.it.At() }
func (i *upstreamIterator) AtT() int64                       { return i.it.AtT() }
func (i *upstreamIterator) AtST() int64                      { return i.it.AtST() }
func (i *upstreamIterator) Err() error                       { return i.it.Err() }
func (i *upstreamIterator) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	return i.it.AtHistogram(h)
}

func (i *upstreamIterator) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return i.it.AtFloatHistogram(fh)
}

// BenchmarkHistogramEngine runs the native histogram queries through both engines
// (VIGIL_BENCH_QUERIES selects "<vigil|upstream>/<mode>/<query>").
func BenchmarkHistogramEngine(b *testing.B) {
	e := loadHistBenchEnv(b)
	for _, engine := range []string{"vigil", "upstream"} {
		for _, mode := range []string{"instant", "range1h"} {
			for _, q := range histBenchQueries {
				b.Run(engine+"/"+mode+"/"+q.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						e.run(b, engine == "vigil", q.query, mode == "range1h")
					}
				})
			}
		}
	}
}
