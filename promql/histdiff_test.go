package promql_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	upromql "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	ustorage "github.com/prometheus/prometheus/storage"
	utsdb "github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/almost"

	"github.com/vigil-monitoring/vigil/promql"
)

// TestHistogramDifferentialAgainstUpstream runs native histogram queries through Vigil's
// engine and the upstream engine over the same upstream TSDB (Vigil's read through
// upstreamQueryable, until Vigil's TSDB stores histograms), and requires identical results
// (floats and histograms, within 1e-9 relative) and identical warnings and infos. The data:
// counter histograms with exponential buckets (one series resets), gauge histograms, counters
// with custom buckets (NHCB), and a series that turns from floats into histograms.
func TestHistogramDifferentialAgainstUpstream(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a TSDB")
	}
	dir := t.TempDir()
	db, err := utsdb.Open(dir, nil, nil, utsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Unix(1_700_000_000, 0)
	const steps = 480 // 2h at 15s
	end := start.Add(steps * benchInterval)
	loadHistDiffData(t, db, start, steps)

	p := parser.NewParser(promql.DefaultParserOptions)
	ng := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute})
	ung := upromql.NewEngine(upromql.EngineOpts{
		MaxSamples: 50_000_000, Timeout: time.Minute, EnableAtModifier: true, EnableNegativeOffset: true, Parser: p,
		EnablePerStepStats:       true,
		NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
	})
	queries := []string{
		`latency_seconds`, `latency_seconds offset 10m`, `latency_seconds @ 1700003600`, `queue_size`, `nhcb_seconds`, `mixed_metric`,
		`rate(latency_seconds[5m])`, `increase(latency_seconds[10m])`, `irate(latency_seconds[5m])`, `delta(queue_size[5m])`,
		`idelta(queue_size[5m])`, `rate(queue_size[5m])`, `resets(latency_seconds[30m])`, `changes(latency_seconds[30m])`,
		`rate(nhcb_seconds[5m])`, `rate(mixed_metric[20m])`, `delta(latency_seconds[5m])`,
		`sum_over_time(queue_size[5m])`, `avg_over_time(queue_size[5m])`, `count_over_time(latency_seconds[5m])`,
		`last_over_time(latency_seconds[5m])`, `first_over_time(queue_size[5m])`, `max_over_time(latency_seconds[5m])`,
		`quantile_over_time(0.5, latency_seconds[5m])`, `present_over_time(queue_size[5m])`, `stddev_over_time(queue_size[5m])`,
		`deriv(queue_size[10m])`, `predict_linear(latency_seconds[10m], 60)`, `absent_over_time(queue_size[5m])`,
		`histogram_count(rate(latency_seconds[5m]))`, `histogram_sum(latency_seconds)`, `histogram_avg(rate(latency_seconds[5m]))`,
		`histogram_stddev(queue_size)`, `histogram_stdvar(rate(nhcb_seconds[5m]))`,
		`histogram_quantile(0.9, rate(latency_seconds[5m]))`, `histogram_quantile(0.5, queue_size)`,
		`histogram_quantile(0.99, sum by (job) (rate(latency_seconds[5m])))`, `histogram_quantile(0.9, sum(rate(nhcb_seconds[5m])))`,
		`histogram_quantiles(rate(latency_seconds[5m]), "q", 0.1, 0.5, 0.9)`,
		`histogram_fraction(0, 0.2, rate(latency_seconds[5m]))`, `histogram_fraction(-1, 1, queue_size)`,
		`sum(rate(latency_seconds[5m]))`, `sum by (job) (queue_size)`, `avg(rate(latency_seconds[5m]))`, `avg by (job) (queue_size)`,
		`count(latency_seconds)`, `group by (job) (queue_size)`, `min(latency_seconds)`, `max by (job) (queue_size)`,
		`stddev(queue_size)`, `quantile(0.5, latency_seconds)`, `topk(2, latency_seconds)`, `bottomk(1, queue_size)`,
		`limitk(2, latency_seconds)`, `limit_ratio(0.5, queue_size)`, `count_values("v", histogram_count(queue_size))`,
		`sum(latency_seconds) + sum(queue_size)`, `sum({__name__=~"latency_seconds|mixed_metric"})`,
		`latency_seconds * 2`, `2 * latency_seconds`, `latency_seconds / 4`, `-latency_seconds`, `latency_seconds + 1`,
		`latency_seconds > 1`, `latency_seconds == bool 1`, `queue_size - on (job, instance) queue_size`,
		`latency_seconds + on (job, instance) queue_size`, `latency_seconds * on (job, instance) group_left histogram_count(queue_size)`,
		`latency_seconds == latency_seconds`, `latency_seconds != ignoring (instance) group_left latency_seconds{instance="instance0"}`,
		`rate(latency_seconds[5m]) / on (job, instance) histogram_count(rate(latency_seconds[5m]))`,
		`latency_seconds </ 0.1`, `latency_seconds >/ 0.1`, `queue_size and latency_seconds`, `queue_size or latency_seconds`,
		`latency_seconds unless queue_size`,
		`rate(latency_seconds[10m:1m])`, `max_over_time(histogram_count(rate(latency_seconds[5m]))[30m:1m])`,
		`sum_over_time(queue_size[10m:2m] offset 5m)`, `increase(latency_seconds[5m] @ 1700003000)`,
		`timestamp(latency_seconds)`, `abs(latency_seconds)`, `clamp(queue_size, 0, 1)`, `sort(histogram_sum(queue_size))`,
		`label_replace(latency_seconds, "x", "$1", "instance", "(.*)")`, `vector(1) + histogram_count(queue_size)`,
		`rate(latency_seconds[5m] anchored)`, `increase(latency_seconds[5m] smoothed)`, `histogram_count(latency_seconds smoothed)`,
	}
	ctx := context.Background()
	compared := 0
	for _, q := range queries {
		for _, rangeQuery := range []bool{false, true} {
			name := fmt.Sprintf("%s range=%v", q, rangeQuery)
			var (
				vq         promql.Query
				uq         upromql.Query
				err1, err2 error
			)
			vopts := promql.QueryOpts{EnablePerStepStats: true}
			uopts := upromql.NewPrometheusQueryOpts(true, 0)
			if rangeQuery {
				vq, err1 = ng.NewRangeQueryWithOpts(ctx, upstreamQueryable{db}, vopts, q, end.Add(-time.Hour), end, time.Minute)
				uq, err2 = ung.NewRangeQuery(ctx, db, uopts, q, end.Add(-time.Hour), end, time.Minute)
			} else {
				vq, err1 = ng.NewInstantQueryWithOpts(ctx, upstreamQueryable{db}, vopts, q, end)
				uq, err2 = ung.NewInstantQuery(ctx, db, uopts, q, end)
			}
			if (err1 == nil) != (err2 == nil) {
				t.Errorf("%s: vigil err %v, upstream err %v", name, err1, err2)
				continue
			}
			if err1 != nil {
				continue
			}
			vr, ur := vq.Exec(ctx), uq.Exec(ctx)
			if (vr.Err == nil) != (ur.Err == nil) {
				t.Errorf("%s: vigil err %v, upstream err %v", name, vr.Err, ur.Err)
				continue
			}
			if vr.Err != nil {
				continue
			}
			vw, vi := vr.Warnings.AsStrings(q, 0, 0)
			uw, ui := ur.Warnings.AsStrings(q, 0, 0)
			slices.Sort(vw)
			slices.Sort(uw)
			slices.Sort(vi)
			slices.Sort(ui)
			if !slices.Equal(vw, uw) || !slices.Equal(vi, ui) {
				t.Errorf("%s: annotations differ: vigil %v %v, upstream %v %v", name, vw, vi, uw, ui)
			}
			a, b := renderVigilH(vr.Value), renderUpstreamH(ur.Value)
			compared += len(a)
			if diff := compareRenderedH(a, b); diff != "" {
				t.Errorf("%s: %s", name, diff)
			}
			if diff := compareStats(vq.Stats(), uq.Stats().Samples); diff != "" {
				t.Errorf("%s: stats: %s", name, diff)
			}
		}
	}
	if compared < 5000 {
		t.Errorf("compared %d points: the data set does not exercise the queries", compared)
	}
	t.Logf("compared %d points over %d queries", compared, 2*len(queries))
}

func loadHistDiffData(t *testing.T, db *utsdb.DB, start time.Time, steps int) {
	ctx := context.Background()
	type series struct {
		ls   labels.Labels
		kind string
		ref  ustorage.SeriesRef
	}
	var ss []*series
	for i := range 6 {
		job, inst := "job"+strconv.Itoa(i%2), "instance"+strconv.Itoa(i)
		ss = append(ss,
			&series{ls: labels.FromStrings("__name__", "latency_seconds", "job", job, "instance", inst), kind: "counter"},
			&series{ls: labels.FromStrings("__name__", "queue_size", "job", job, "instance", inst), kind: "gauge"},
		)
		if i < 3 {
			ss = append(ss, &series{ls: labels.FromStrings("__name__", "nhcb_seconds", "job", job, "instance", inst), kind: "nhcb"})
		}
	}
	ss = append(ss, &series{ls: labels.FromStrings("__name__", "mixed_metric", "job", "job0", "instance", "instance0"), kind: "mixed"})
	for step := 0; step <= steps; step++ {
		ts := start.Add(time.Duration(step) * benchInterval).UnixMilli()
		app := db.Appender(ctx)
		for i, s := range ss {
			var err error
			switch s.kind {
			case "counter":
				st := step
				if i == 0 && step >= steps/2 {
					st = step - steps/2 // a counter reset half-way
				}
				s.ref, err = app.AppendHistogram(s.ref, s.ls, ts, benchHistogram(i, st), nil)
			case "gauge":
				h := &histogram.FloatHistogram{
					CounterResetHint: histogram.GaugeType, Schema: 0, ZeroThreshold: 0.001,
					PositiveSpans: []histogram.Span{{Offset: -2, Length: 5}},
					NegativeSpans: []histogram.Span{{Offset: 0, Length: 2}},
				}
				for b := range 5 {
					h.PositiveBuckets = append(h.PositiveBuckets, float64((step*(b+1)+i)%7))
				}
				h.NegativeBuckets = []float64{float64(step % 3), float64((step + i) % 4)}
				h.ZeroCount = float64(step % 2)
				for _, c := range h.PositiveBuckets {
					h.Count += c
				}
				for _, c := range h.NegativeBuckets {
					h.Count += c
				}
				h.Count += h.ZeroCount
				h.Sum = h.Count * 0.7
				s.ref, err = app.AppendHistogram(s.ref, s.ls, ts, nil, h)
			case "nhcb":
				h := &histogram.Histogram{
					Schema: histogram.CustomBucketsSchema, CustomValues: []float64{0.1, 0.5, 1, 5},
					PositiveSpans: []histogram.Span{{Offset: 0, Length: 5}},
				}
				prev := int64(0)
				for b := range 5 {
					c := int64(step * (1 + (i+b)%4))
					h.PositiveBuckets = append(h.PositiveBuckets, c-prev)
					prev = c
					h.Count += uint64(c)
				}
				h.Sum = float64(h.Count) * 0.3
				s.ref, err = app.AppendHistogram(s.ref, s.ls, ts, h, nil)
			case "mixed":
				if step < steps-30 {
					s.ref, err = app.Append(s.ref, s.ls, ts, float64(step))
				} else {
					s.ref, err = app.AppendHistogram(s.ref, s.ls, ts, benchHistogram(i, step), nil)
				}
			}
			if err != nil {
				t.Fatalf("append %s: %v", s.ls, err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

type renderedH struct {
	key string
	f   float64
	h   *histogram.FloatHistogram
}

func renderVigilH(v promql.Value) []renderedH {
	var out []renderedH
	switch v := v.(type) {
	case promql.Vector:
		for _, s := range v {
			out = append(out, renderedH{fmt.Sprintf("%s@%d", s.Metric, s.T), s.F, s.H})
		}
	case promql.StepMatrix:
		return renderVigilH(v.Matrix())
	case promql.Matrix:
		for _, s := range v {
			for _, p := range s.Floats {
				out = append(out, renderedH{fmt.Sprintf("%s@%d", s.Metric, p.T), p.F, nil})
			}
			for _, p := range s.Histograms {
				out = append(out, renderedH{fmt.Sprintf("%s@%d", s.Metric, p.T), 0, p.H})
			}
		}
	case promql.Scalar:
		out = append(out, renderedH{fmt.Sprintf("scalar@%d", v.T), v.V, nil})
	}
	slices.SortFunc(out, func(a, b renderedH) int { return strings.Compare(a.key, b.key) })
	return out
}

func renderUpstreamH(v any) []renderedH {
	var out []renderedH
	switch v := v.(type) {
	case upromql.Vector:
		for _, s := range v {
			out = append(out, renderedH{fmt.Sprintf("%s@%d", s.Metric, s.T), s.F, s.H})
		}
	case upromql.Matrix:
		for _, s := range v {
			for _, p := range s.Floats {
				out = append(out, renderedH{fmt.Sprintf("%s@%d", s.Metric, p.T), p.F, nil})
			}
			for _, p := range s.Histograms {
				out = append(out, renderedH{fmt.Sprintf("%s@%d", s.Metric, p.T), 0, p.H})
			}
		}
	case upromql.Scalar:
		out = append(out, renderedH{fmt.Sprintf("scalar@%d", v.T), v.V, nil})
	}
	slices.SortFunc(out, func(a, b renderedH) int { return strings.Compare(a.key, b.key) })
	return out
}

func compareRenderedH(a, b []renderedH) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d points from vigil, %d from upstream", len(a), len(b))
	}
	for i := range a {
		if a[i].key != b[i].key {
			return fmt.Sprintf("point %d: vigil %s, upstream %s", i, a[i].key, b[i].key)
		}
		if (a[i].h == nil) != (b[i].h == nil) {
			return fmt.Sprintf("%s: vigil histogram %v, upstream %v", a[i].key, a[i].h, b[i].h)
		}
		if a[i].h != nil {
			if !histogramsClose(a[i].h, b[i].h) {
				return fmt.Sprintf("%s: vigil %s, upstream %s", a[i].key, a[i].h.TestExpression(), b[i].h.TestExpression())
			}
			continue
		}
		if !almost.Equal(a[i].f, b[i].f, 1e-9) && !(math.IsNaN(a[i].f) && math.IsNaN(b[i].f)) {
			return fmt.Sprintf("%s: vigil %v, upstream %v", a[i].key, a[i].f, b[i].f)
		}
	}
	return ""
}

// histogramsClose compares two histograms as the conformance files do (compacted, floats
// within 1e-9 relative, counter reset hints equal).
func histogramsClose(a, b *histogram.FloatHistogram) bool {
	a, b = a.Copy().Compact(0), b.Copy().Compact(0)
	if a.Schema != b.Schema || a.ZeroThreshold != b.ZeroThreshold || a.CounterResetHint != b.CounterResetHint ||
		!histogram.CustomBucketBoundsMatch(a.CustomValues, b.CustomValues) ||
		!slices.Equal(a.PositiveSpans, b.PositiveSpans) || !slices.Equal(a.NegativeSpans, b.NegativeSpans) {
		return false
	}
	eq := func(x, y float64) bool { return almost.Equal(x, y, 1e-9) || (math.IsNaN(x) && math.IsNaN(y)) }
	if !eq(a.Count, b.Count) || !eq(a.Sum, b.Sum) || !eq(a.ZeroCount, b.ZeroCount) ||
		len(a.PositiveBuckets) != len(b.PositiveBuckets) || len(a.NegativeBuckets) != len(b.NegativeBuckets) {
		return false
	}
	for i := range a.PositiveBuckets {
		if !eq(a.PositiveBuckets[i], b.PositiveBuckets[i]) {
			return false
		}
	}
	for i := range a.NegativeBuckets {
		if !eq(a.NegativeBuckets[i], b.NegativeBuckets[i]) {
			return false
		}
	}
	return true
}
