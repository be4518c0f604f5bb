package promql_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	upromql "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	ustorage "github.com/prometheus/prometheus/storage"
	utsdb "github.com/prometheus/prometheus/tsdb"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// The side-by-side benchmark loads the same data into Vigil's TSDB and the upstream TSDB and
// runs the same queries through Vigil's engine and the upstream promql.Engine.
//
// Size: VIGIL_BENCH_SERIES series (default 10000) over 6h at a 15s interval. A target has 4
// counters, 1 gauge, 1 info series and 12 classic histogram buckets (18 series).

const (
	benchInterval = 15 * time.Second
	benchSpan     = 6 * time.Hour
)

var benchQueries = []struct{ name, query string }{
	{"rate_sum_by", `sum by (job) (rate(http_requests_total[5m]))`},
	{"topk", `topk(10, rate(http_requests_total[5m]))`},
	{"histogram_quantile", `histogram_quantile(0.99, sum by (job, le) (rate(request_duration_seconds_bucket[5m])))`},
	{"join_group_left", `rate(http_requests_total[5m]) * on (job, instance) group_left (version) build_info`},
	{"subquery", `max_over_time(rate(http_requests_total[5m])[30m:1m])`},
	{"count_by", `count by (job) (memory_bytes > 1000)`},
}

type benchEnv struct {
	vigil    *tsdb.DB
	upstream *utsdb.DB
	ng       *promql.Engine
	ung      *upromql.Engine
	end      time.Time
}

var (
	benchOnce sync.Once
	benchData *benchEnv
	benchErr  error
)

func benchSeries() int {
	if v, err := strconv.Atoi(os.Getenv("VIGIL_BENCH_SERIES")); err == nil && v > 0 {
		return v
	}
	return 10000
}

func loadBenchEnv(tb testing.TB) *benchEnv {
	benchOnce.Do(func() {
		benchData, benchErr = newBenchEnv(benchSeries(), benchSpan)
	})
	if benchErr != nil {
		tb.Fatal(benchErr)
	}
	return benchData
}

func newBenchEnv(numSeries int, span time.Duration) (*benchEnv, error) {
	dir, err := os.MkdirTemp("", "vigil-promql-bench")
	if err != nil {
		return nil, err
	}
	vdb, err := tsdb.Open(dir+"/vigil", tsdb.DefaultOptions(), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("opening vigil tsdb: %w", err)
	}
	uopts := utsdb.DefaultOptions()
	udb, err := utsdb.Open(dir+"/upstream", nil, nil, uopts, nil)
	if err != nil {
		return nil, fmt.Errorf("opening upstream tsdb: %w", err)
	}
	targets := max(numSeries/18, 1)
	var series []labels.Labels
	var kinds []int // 0 counter, 1 gauge, 2 info, 3.. bucket index
	buckets := []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}
	for tg := range targets {
		job := "job" + strconv.Itoa(tg%10)
		inst := "instance" + strconv.Itoa(tg)
		for _, code := range []string{"200", "500"} {
			for _, method := range []string{"get", "post"} {
				series = append(series, labels.FromStrings("__name__", "http_requests_total", "job", job, "instance", inst, "code", code, "method", method))
				kinds = append(kinds, 0)
			}
		}
		series = append(series, labels.FromStrings("__name__", "memory_bytes", "job", job, "instance", inst))
		kinds = append(kinds, 1)
		series = append(series, labels.FromStrings("__name__", "build_info", "job", job, "instance", inst, "version", "v"+strconv.Itoa(tg%3)))
		kinds = append(kinds, 2)
		for bi, le := range buckets {
			series = append(series, labels.FromStrings("__name__", "request_duration_seconds_bucket", "job", job, "instance", inst, "le", le))
			kinds = append(kinds, 3+bi)
		}
	}
	start := time.Unix(1_700_000_000, 0)
	steps := int(span / benchInterval)
	ctx := context.Background()
	vrefs := make([]storage.SeriesRef, len(series))
	urefs := make([]ustorage.SeriesRef, len(series))
	for step := 0; step <= steps; step++ {
		ts := start.Add(time.Duration(step) * benchInterval).UnixMilli()
		va := vdb.Appender(ctx)
		ua := udb.Appender(ctx)
		for i, ls := range series {
			v := benchValue(kinds[i], i, step)
			if vrefs[i], err = va.Append(vrefs[i], ls, ts, v); err != nil {
				return nil, fmt.Errorf("vigil append: %w", err)
			}
			r, err := ua.Append(urefs[i], ls, ts, v)
			if err != nil {
				return nil, fmt.Errorf("upstream append: %w", err)
			}
			urefs[i] = r
		}
		if err := va.Commit(); err != nil {
			return nil, fmt.Errorf("vigil commit: %w", err)
		}
		if err := ua.Commit(); err != nil {
			return nil, fmt.Errorf("upstream commit: %w", err)
		}
	}
	// Compact now (head to blocks), so that background compaction does not run, and
	// allocate, while queries are measured.
	if err := vdb.Compact(); err != nil {
		return nil, fmt.Errorf("vigil compact: %w", err)
	}
	if err := udb.Compact(ctx); err != nil {
		return nil, fmt.Errorf("upstream compact: %w", err)
	}
	udb.DisableCompactions()
	runtime.GC()
	p := parser.NewParser(promql.DefaultParserOptions)
	return &benchEnv{
		vigil:    vdb,
		upstream: udb,
		ng:       promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: 2 * time.Minute}),
		ung: upromql.NewEngine(upromql.EngineOpts{
			MaxSamples: 50_000_000, Timeout: 2 * time.Minute, EnableAtModifier: true, EnableNegativeOffset: true, Parser: p,
			EnablePerStepStats:       true, // only used by queries that ask for it (the differential test)
			NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
		}),
		end: start.Add(span),
	}, nil
}

func benchValue(kind, i, step int) float64 {
	switch {
	case kind == 0:
		return float64(step * (1 + i%7))
	case kind == 1:
		return float64(500 + (i*31+step*7)%1000)
	case kind == 2:
		return 1
	}
	// Cumulative bucket counts grow with the bucket index.
	return float64(step * (kind - 2))
}

// runVigil and runUpstream run one query and return the number of result series.
func (e *benchEnv) runVigil(tb testing.TB, q string, rangeQuery bool) int {
	ctx := context.Background()
	var qry promql.Query
	var err error
	if rangeQuery {
		qry, err = e.ng.NewRangeQuery(ctx, e.vigil, q, e.end.Add(-time.Hour), e.end, benchInterval)
	} else {
		qry, err = e.ng.NewInstantQuery(ctx, e.vigil, q, e.end)
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
		return len(v.Series)
	case promql.Matrix:
		return len(v)
	case promql.Vector:
		return len(v)
	}
	return 1
}

func (e *benchEnv) runUpstream(tb testing.TB, q string, rangeQuery bool) int {
	ctx := context.Background()
	var qry upromql.Query
	var err error
	if rangeQuery {
		qry, err = e.ung.NewRangeQuery(ctx, e.upstream, nil, q, e.end.Add(-time.Hour), e.end, benchInterval)
	} else {
		qry, err = e.ung.NewInstantQuery(ctx, e.upstream, nil, q, e.end)
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
		return len(v)
	case upromql.Vector:
		return len(v)
	}
	return 1
}

func BenchmarkEngine(b *testing.B) {
	e := loadBenchEnv(b)
	for _, mode := range []string{"instant", "range1h"} {
		for _, q := range benchQueries {
			for _, engine := range []string{"vigil", "upstream"} {
				b.Run(mode+"/"+q.name+"/"+engine, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if engine == "vigil" {
							e.runVigil(b, q.query, mode == "range1h")
						} else {
							e.runUpstream(b, q.query, mode == "range1h")
						}
					}
				})
			}
		}
	}
}

// peakSamples is the number of peak-heap measurements per engine and round (three rounds).
const peakSamples = 3

// peakHeap runs f and returns the peak live heap above the level before it. A sampler
// goroutine forces garbage collections back to back while f runs and keeps the largest live
// heap seen; f is slowed down, but both engines are measured the same way.
func peakHeap(f func()) uint64 {
	// Two collections empty the sync.Pool victim caches of earlier runs.
	runtime.GC()
	runtime.GC()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	base := live[0].Value.Uint64()
	var peak uint64
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for !stop.Load() {
			runtime.GC()
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
		}
	}()
	f()
	stop.Store(true)
	wg.Wait()
	if peak > base {
		return peak - base
	}
	return 0
}

// TestEngineRatios prints, per query, Vigil's latency, allocated bytes and peak heap relative
// to the upstream engine on the same data. It only runs with VIGIL_BENCH=1 (it loads a large
// data set); the results must be equal in size.
func TestEngineRatios(t *testing.T) {
	if os.Getenv("VIGIL_BENCH") == "" {
		t.Skip("set VIGIL_BENCH=1 to run the side-by-side comparison")
	}
	sel := benchQuerySelector(t)
	e := loadBenchEnv(t)
	fmt.Printf("%-28s %12s %12s %10s %10s %10s %12s %12s\n", "query", "vigil", "upstream", "ns ratio", "B/op ratio", "peak ratio", "vigil peak", "upstr. peak")
	for _, mode := range []string{"instant", "range1h"} {
		for _, q := range benchQueries {
			if !sel.MatchString(mode + "/" + q.name) {
				continue
			}
			rq := mode == "range1h"
			if nv, nu := e.runVigil(t, q.query, rq), e.runUpstream(t, q.query, rq); nv != nu {
				t.Errorf("%s %s: %d series from vigil, %d from upstream", mode, q.name, nv, nu)
			}
			// The machine is shared: alternate the engines three times and keep each one's
			// fastest run.
			var rv, ru testing.BenchmarkResult
			var pv, pu uint64
			for i := range 3 {
				v := testing.Benchmark(func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						e.runVigil(b, q.query, rq)
					}
				})
				u := testing.Benchmark(func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						e.runUpstream(b, q.query, rq)
					}
				})
				// Peak heap: the largest of peakSamples runs. Each forced collection sees the
				// live heap at one moment of the query, never more than the true peak; a
				// query lasting a few collections can miss its peak in any one run.
				for range peakSamples {
					pv = max(pv, peakHeap(func() { e.runVigil(t, q.query, rq) }))
					pu = max(pu, peakHeap(func() { e.runUpstream(t, q.query, rq) }))
				}
				if i == 0 || v.NsPerOp() < rv.NsPerOp() {
					rv = v
				}
				if i == 0 || u.NsPerOp() < ru.NsPerOp() {
					ru = u
				}
			}
			fmt.Printf("%-28s %10.2fms %10.2fms %10.2f %10.2f %10.2f %10.1fkB %10.1fkB\n", mode+"/"+q.name,
				float64(rv.NsPerOp())/1e6, float64(ru.NsPerOp())/1e6,
				float64(rv.NsPerOp())/float64(ru.NsPerOp()),
				float64(rv.AllocedBytesPerOp())/float64(max(ru.AllocedBytesPerOp(), 1)),
				float64(pv)/float64(max(pu, 1)), float64(pv)/1e3, float64(pu)/1e3)
		}
	}
}

// benchQuerySelector compiles VIGIL_BENCH_QUERIES, a regexp on "<mode>/<query>" (all queries
// when unset).
func benchQuerySelector(t *testing.T) *regexp.Regexp {
	re, err := regexp.Compile(os.Getenv("VIGIL_BENCH_QUERIES"))
	if err != nil {
		t.Fatalf("VIGIL_BENCH_QUERIES: %v", err)
	}
	return re
}
