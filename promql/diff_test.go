package promql_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	upromql "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/almost"
	"github.com/prometheus/prometheus/util/stats"

	"github.com/vigil-monitoring/vigil/promql"
)

// TestDifferentialAgainstUpstream runs a broad query list through Vigil's engine on Vigil's
// TSDB and through the upstream engine on the upstream TSDB, loaded with the same data, and
// requires identical results (labels, timestamps, values within 1e-9 relative). Queries whose
// result depends on the order of tied values (topk/bottomk/limitk over equal values) are
// avoided: the two TSDBs return series in different orders.
func TestDifferentialAgainstUpstream(t *testing.T) {
	if testing.Short() {
		t.Skip("loads two TSDBs")
	}
	e, err := newBenchEnv(360, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer e.vigil.Close()
	defer e.upstream.Close()
	queries := []string{
		`http_requests_total{code="500"}`,
		`http_requests_total{method=~"p.*", code!="200"} offset 10m`,
		`memory_bytes @ 1700003600`,
		`rate(http_requests_total[5m])`, `irate(http_requests_total[5m])`, `rate(memory_bytes[5m])`,
		`quantile(1.5, memory_bytes)`, `histogram_quantile(2, rate(request_duration_seconds_bucket[5m]))`, `increase(http_requests_total[10m])`,
		`delta(memory_bytes[5m])`, `idelta(memory_bytes[5m])`, `deriv(memory_bytes[10m])`,
		`predict_linear(memory_bytes[10m], 600)`, `resets(memory_bytes[30m])`, `changes(memory_bytes[30m])`,
		`avg_over_time(memory_bytes[10m])`, `min_over_time(memory_bytes[10m])`, `max_over_time(memory_bytes[10m])`,
		`sum_over_time(memory_bytes[10m])`, `count_over_time(memory_bytes[10m])`, `stddev_over_time(memory_bytes[10m])`,
		`stdvar_over_time(memory_bytes[10m])`, `quantile_over_time(0.3, memory_bytes[10m])`, `last_over_time(memory_bytes[10m])`,
		`present_over_time(memory_bytes[10m])`, `double_exponential_smoothing(memory_bytes[10m], 0.3, 0.6)`,
		`sum by (job) (rate(http_requests_total[5m]))`, `avg without (instance) (memory_bytes)`,
		`min by (code) (http_requests_total)`, `max(memory_bytes)`, `count by (job, code) (http_requests_total)`,
		`stddev by (job) (memory_bytes)`, `stdvar(memory_bytes)`, `group by (version) (build_info)`,
		`quantile by (job) (0.9, memory_bytes)`, `topk by (job) (2, memory_bytes)`, `bottomk(3, memory_bytes)`,
		`count_values("v", build_info)`,
		`histogram_quantile(0.9, sum by (job, le) (rate(request_duration_seconds_bucket[5m])))`,
		`histogram_quantile(0.5, rate(request_duration_seconds_bucket[5m]))`,
		`histogram_fraction(0, 0.1, sum by (le) (rate(request_duration_seconds_bucket[5m])))`,
		`rate(http_requests_total[5m]) * on (job, instance) group_left (version) build_info`,
		`build_info * on (job, instance) group_right (version) rate(http_requests_total[5m])`,
		`memory_bytes > bool 1000`, `memory_bytes > 1000`, `1000 < memory_bytes`, `2 ^ (memory_bytes / 1000)`,
		`memory_bytes % 7 - -memory_bytes`, `memory_bytes and on (instance) http_requests_total{code="500", method="get"}`,
		`memory_bytes unless memory_bytes > 1200`, `memory_bytes > 1300 or memory_bytes < 600`,
		`sum(memory_bytes) / count(memory_bytes)`, `memory_bytes / on (job, instance) group_left sum by (job, instance) (memory_bytes)`,
		`max_over_time(rate(http_requests_total[5m])[30m:1m])`, `avg_over_time(memory_bytes[20m:2m] offset 5m)`,
		`sum(rate(http_requests_total[5m] @ 1700003000))`,
		`label_replace(memory_bytes, "target", "$1-x", "instance", "instance(.*)")`,
		`label_join(memory_bytes, "both", "/", "job", "instance")`,
		`abs(memory_bytes - 1000)`, `clamp(memory_bytes, 800, 1200)`, `clamp_min(memory_bytes, 900)`, `round(memory_bytes / 7, 0.5)`,
		`ln(memory_bytes)`, `sqrt(memory_bytes)`, `exp(memory_bytes / 1000)`, `sgn(memory_bytes - 1000)`,
		`timestamp(memory_bytes)`, `time() - timestamp(memory_bytes)`, `vector(1)`, `scalar(sum(memory_bytes))`,
		`absent(nonexistent_metric{job="x"})`, `absent_over_time(memory_bytes[5m])`,
		`limitk(2, memory_bytes)`, `limit_ratio(0.3, memory_bytes)`,
		`hour(timestamp(memory_bytes))`, `day_of_week()`, `month()`,
		// Nesting and modifiers.
		`sum by (job) (max_over_time(memory_bytes[10m] offset -5m))`,
		`avg(avg_over_time(rate(http_requests_total[5m])[15m:30s] @ end()))`,
		`min_over_time(sum by (job) (memory_bytes)[20m:] offset 3m)`,
		`memory_bytes @ start() - memory_bytes`,
		`count(count by (job) (memory_bytes))`, `sum(sum by (job, instance) (rate(http_requests_total[5m])))`,
		`max by (job) (rate(http_requests_total[5m])) > on (job) group_left avg by (job) (rate(http_requests_total[5m]))`,
		`memory_bytes == bool on (job, instance) group_left max by (job, instance) (memory_bytes)`,
		`topk(3, sum by (instance) (memory_bytes))`,
		`sum by (job) (rate(http_requests_total[5m])) / ignoring (code) group_left sum by (job, code) (rate(http_requests_total[5m]))`,
		`-memory_bytes * 2 + 1`, `(memory_bytes > 900) * 2`, `memory_bytes / 0`, `0 / (memory_bytes - memory_bytes)`,
		`sum(memory_bytes offset 1h)`, `rate(http_requests_total[1m:15s])`, `deriv(sum(memory_bytes)[10m:1m])`,
		`count_values by (job) ("value", round(memory_bytes, 100))`, `sort_desc(sum by (job) (memory_bytes))`,
		`label_replace(sum by (job) (memory_bytes), "__name__", "renamed", "job", "(.*)")`,
		`stddev_over_time(rate(http_requests_total[5m])[20m:1m])`, `mad_over_time(memory_bytes[20m])`,
		`ts_of_max_over_time(memory_bytes[20m])`, `first_over_time(memory_bytes[20m])`,
		`quantile(0.25, rate(http_requests_total[5m]))`, `avg(memory_bytes) + on() group_left max(memory_bytes)`,
		`vector(time()) - on() group_right timestamp(memory_bytes)`,
		// Subqueries whose steps fall between outer windows, offsets, nesting (sample counts).
		`max_over_time(memory_bytes[30s:10s])`, `count_over_time(memory_bytes[2m:20s] offset 2m)`,
		`max_over_time(deriv(rate(http_requests_total[5m])[10m:1m])[30m:5m])`,
		`sum_over_time(memory_bytes[5m] @ 1700003000)`, `timestamp(memory_bytes @ 1700003000)`,
		`info(rate(http_requests_total[5m]), {__name__="build_info"})`,
		`memory_bytes smoothed`, `sum(memory_bytes smoothed)`,
	}
	ctx := context.Background()
	compared, emptyQueries := 0, 0
	for _, q := range queries {
		for _, rangeQuery := range []bool{false, true} {
			name := fmt.Sprintf("%s range=%v", q, rangeQuery)
			var vq promql.Query
			var uq upromql.Query
			var err1, err2 error
			vopts := promql.QueryOpts{EnablePerStepStats: true}
			uopts := upromql.NewPrometheusQueryOpts(true, 0)
			if rangeQuery {
				vq, err1 = e.ng.NewRangeQueryWithOpts(ctx, e.vigil, vopts, q, e.end.Add(-time.Hour), e.end, time.Minute)
				uq, err2 = e.ung.NewRangeQuery(ctx, e.upstream, uopts, q, e.end.Add(-time.Hour), e.end, time.Minute)
			} else {
				vq, err1 = e.ng.NewInstantQueryWithOpts(ctx, e.vigil, vopts, q, e.end)
				uq, err2 = e.ung.NewInstantQuery(ctx, e.upstream, uopts, q, e.end)
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
			a, b := renderVigil(vr.Value), renderUpstream(ur.Value)
			compared += len(a)
			if len(a) == 0 {
				emptyQueries++
			}
			if diff := compareRendered(a, b); diff != "" {
				t.Errorf("%s: %s", name, diff)
			}
			if diff := compareStats(vq.Stats(), uq.Stats().Samples); diff != "" {
				t.Errorf("%s: stats: %s", name, diff)
			}
		}
	}
	// Guard against a vacuous pass: only absent_over_time is empty on this data.
	if compared < 10000 || emptyQueries > 2 {
		t.Errorf("compared %d points, %d empty results: the data set does not exercise the queries", compared, emptyQueries)
	}
	t.Logf("compared %d points over %d queries", compared, 2*len(queries))
}

type rendered struct {
	key string // labels and timestamp
	f   float64
}

func renderVigil(v promql.Value) []rendered {
	var out []rendered
	switch v := v.(type) {
	case promql.Vector:
		for _, s := range v {
			out = append(out, rendered{fmt.Sprintf("%s@%d", s.Metric, s.T), s.F})
		}
	case promql.StepMatrix:
		return renderVigil(v.Matrix())
	case promql.Matrix:
		for _, s := range v {
			for _, p := range s.Floats {
				out = append(out, rendered{fmt.Sprintf("%s@%d", s.Metric, p.T), p.F})
			}
		}
	case promql.Scalar:
		out = append(out, rendered{fmt.Sprintf("scalar@%d", v.T), v.V})
	}
	slices.SortFunc(out, func(a, b rendered) int { return strings.Compare(a.key, b.key) })
	return out
}

func renderUpstream(v any) []rendered {
	var out []rendered
	switch v := v.(type) {
	case upromql.Vector:
		for _, s := range v {
			out = append(out, rendered{fmt.Sprintf("%s@%d", s.Metric, s.T), s.F})
		}
	case upromql.Matrix:
		for _, s := range v {
			for _, p := range s.Floats {
				out = append(out, rendered{fmt.Sprintf("%s@%d", s.Metric, p.T), p.F})
			}
		}
	case upromql.Scalar:
		out = append(out, rendered{fmt.Sprintf("scalar@%d", v.T), v.V})
	}
	slices.SortFunc(out, func(a, b rendered) int { return strings.Compare(a.key, b.key) })
	return out
}

func compareRendered(a, b []rendered) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d points from vigil, %d from upstream", len(a), len(b))
	}
	for i := range a {
		if a[i].key != b[i].key {
			return fmt.Sprintf("point %d: vigil %s, upstream %s", i, a[i].key, b[i].key)
		}
		if !almost.Equal(a[i].f, b[i].f, 1e-9) && !(math.IsNaN(a[i].f) && math.IsNaN(b[i].f)) {
			return fmt.Sprintf("%s: vigil %v, upstream %v", a[i].key, a[i].f, b[i].f)
		}
	}
	return ""
}

// compareStats requires Vigil's sample counts (total, read, and both per step) to be
// Prometheus's. Peak samples differ by design (Vigil holds fewer).
func compareStats(v *promql.Stats, u *stats.QuerySamples) string {
	if v.TotalSamples != u.TotalSamples || v.SamplesRead != u.SamplesRead {
		return fmt.Sprintf("total/read samples: vigil %d/%d, upstream %d/%d", v.TotalSamples, v.SamplesRead, u.TotalSamples, u.SamplesRead)
	}
	if v.StartTimestamp != u.StartTimestamp || v.Interval != u.Interval {
		return fmt.Sprintf("per-step grid: vigil %d+%d, upstream %d+%d", v.StartTimestamp, v.Interval, u.StartTimestamp, u.Interval)
	}
	if !slices.Equal(v.TotalSamplesPerStep, u.TotalSamplesPerStep) {
		return fmt.Sprintf("total samples per step: vigil %v, upstream %v", v.TotalSamplesPerStep, u.TotalSamplesPerStep)
	}
	if !slices.Equal(v.SamplesReadPerStep, u.SamplesReadPerStep) {
		return fmt.Sprintf("samples read per step: vigil %v, upstream %v", v.SamplesReadPerStep, u.SamplesReadPerStep)
	}
	return ""
}
