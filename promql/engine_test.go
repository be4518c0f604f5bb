package promql_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/promql/promqltest"
	"github.com/vigil-monitoring/vigil/storage"
)

// testData loads a small data set: counters, gauges and a classic histogram, every 15s for
// 10 minutes from t=0.
func testData(t testing.TB) *promqltest.MemStorage {
	t.Helper()
	st := promqltest.NewMemStorage()
	add := func(ls labels.Labels, f func(i int) float64) {
		var pts []promqltest.Point
		for i := 0; i <= 40; i++ {
			pts = append(pts, promqltest.Point{T: int64(i) * 15000, F: f(i)})
		}
		if err := st.Add(ls, pts...); err != nil {
			t.Fatal(err)
		}
	}
	for _, inst := range []string{"a", "b"} {
		k := 1.0
		if inst == "b" {
			k = 2
		}
		add(labels.FromStrings("__name__", "http_requests_total", "job", "api", "instance", inst), func(i int) float64 { return k * float64(i) * 15 })
		add(labels.FromStrings("__name__", "temperature", "job", "api", "instance", inst), func(i int) float64 { return k * 10 })
		for _, le := range []string{"0.1", "1", "+Inf"} {
			add(labels.FromStrings("__name__", "latency_bucket", "job", "api", "instance", inst, "le", le), func(i int) float64 {
				switch le {
				case "0.1":
					return float64(i)
				case "1":
					return float64(i) * 3
				}
				return float64(i) * 4
			})
		}
	}
	add(labels.FromStrings("__name__", "info_meta", "job", "api", "version", "1.2"), func(int) float64 { return 1 })
	return st
}

func instant(t *testing.T, ng *promql.Engine, q storage.Queryable, qs string, ts time.Time) *promql.Result {
	t.Helper()
	qry, err := ng.NewInstantQuery(context.Background(), q, qs, ts)
	if err != nil {
		t.Fatalf("%s: %v", qs, err)
	}
	defer qry.Close()
	return qry.Exec(context.Background())
}

func TestInstantQueries(t *testing.T) {
	st := testData(t)
	ng := promql.NewEngine(promql.EngineOpts{})
	at := time.Unix(600, 0)
	cases := []struct {
		query string
		want  string // Value.String()
	}{
		{`temperature{instance="a"}`, `{__name__="temperature", instance="a", job="api"} => 10 @[600000]`},
		{`temperature{instance=~"b|c"}`, `{__name__="temperature", instance="b", job="api"} => 20 @[600000]`},
		{`temperature{instance!="a"}`, `{__name__="temperature", instance="b", job="api"} => 20 @[600000]`},
		{`temperature{instance!~"a"}`, `{__name__="temperature", instance="b", job="api"} => 20 @[600000]`},
		{`sum(temperature)`, `{} => 30 @[600000]`},
		{`round(sum by (instance) (rate(http_requests_total[5m])), 0.001)`, "{instance=\"a\"} => 1 @[600000]\n{instance=\"b\"} => 2 @[600000]"},
		{`scalar(sum(temperature))`, `scalar: 30 @[600000]`},
		{`"hello"`, `hello`},
		{`1 + 2 * 3`, `scalar: 7 @[600000]`},
		{`temperature{instance="a"} offset 10m`, `{__name__="temperature", instance="a", job="api"} => 10 @[600000]`},
		{`http_requests_total{instance="a"} @ 300`, `{__name__="http_requests_total", instance="a", job="api"} => 300 @[600000]`},
		{`http_requests_total{instance="a"} @ start()`, `{__name__="http_requests_total", instance="a", job="api"} => 600 @[600000]`},
		{`max_over_time(http_requests_total{instance="b"}[1m:15s])`, `{instance="b", job="api"} => 1200 @[600000]`},
		{`topk(1, temperature)`, `{__name__="temperature", instance="b", job="api"} => 20 @[600000]`},
		{`count_values("v", temperature)`, "{v=\"10\"} => 1 @[600000]\n{v=\"20\"} => 1 @[600000]"},
		{`round(histogram_quantile(0.5, sum by (le) (rate(latency_bucket[5m]))), 0.001)`, `{} => 0.55 @[600000]`},
		{`temperature{instance="a"} > bool 15`, `{instance="a", job="api"} => 0 @[600000]`},
		{`temperature{instance="a"} * on(job) group_left(version) info_meta`, `{instance="a", job="api", version="1.2"} => 10 @[600000]`},
		{`label_replace(temperature{instance="a"}, "x", "$1", "instance", "(.*)")`, `{__name__="temperature", instance="a", job="api", x="a"} => 10 @[600000]`},
		{`absent(nonexistent{job="x"})`, `{job="x"} => 1 @[600000]`},
		{`temperature{instance="a"} unless temperature{instance="a"}`, ``},
		{`time()`, `scalar: 600 @[600000]`},
		{`day_of_month()`, `{} => 1 @[600000]`},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			res := instant(t, ng, st, c.query, at)
			if res.Err != nil {
				t.Fatalf("unexpected error: %v", res.Err)
			}
			if got := res.Value.String(); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestRangeQuery(t *testing.T) {
	st := testData(t)
	ng := promql.NewEngine(promql.EngineOpts{})
	qry, err := ng.NewRangeQuery(context.Background(), st, `round(sum(rate(http_requests_total[1m])), 0.001)`, time.Unix(300, 0), time.Unix(420, 0), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	res := qry.Exec(context.Background())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := "{} =>\n3 @[300000]\n3 @[360000]\n3 @[420000]"
	if got := res.Value.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, ok := qry.Statement().(*parser.EvalStmt); !ok {
		t.Errorf("Statement() = %T, want *parser.EvalStmt", qry.Statement())
	}
}

func TestStalenessAndLookback(t *testing.T) {
	st := promqltest.NewMemStorage()
	ls := labels.FromStrings("__name__", "m")
	if err := st.Add(ls, promqltest.Point{T: 0, F: 1}, promqltest.Point{T: 60000, F: 2}, promqltest.Point{T: 120000, F: storage.StaleNaN()}); err != nil {
		t.Fatal(err)
	}
	ng := promql.NewEngine(promql.EngineOpts{LookbackDelta: 2 * time.Minute})
	for _, c := range []struct {
		at      int64
		present bool
		value   float64
	}{
		{0, true, 1}, {60, true, 2}, {119, true, 2}, {120, false, 0}, {200, false, 0},
	} {
		res := instant(t, ng, st, "m", time.Unix(c.at, 0))
		vec := res.Value.(promql.Vector)
		if c.present != (len(vec) == 1) || (c.present && vec[0].F != c.value) {
			t.Errorf("at %ds: got %v, want present=%v value=%v", c.at, vec, c.present, c.value)
		}
	}
	// A per-query lookback delta overrides the engine's.
	qry, err := ng.NewInstantQueryWithOpts(context.Background(), st, promql.QueryOpts{LookbackDelta: 30 * time.Second}, "m", time.Unix(100, 0))
	if err != nil {
		t.Fatal(err)
	}
	if vec := qry.Exec(context.Background()).Value.(promql.Vector); len(vec) != 0 {
		t.Errorf("per-query lookback of 30s still sees a 40s old sample: %v", vec)
	}
	// Without the stale marker, the sample would be visible until the lookback delta ends.
	st2 := promqltest.NewMemStorage()
	if err := st2.Add(ls, promqltest.Point{T: 0, F: 1}); err != nil {
		t.Fatal(err)
	}
	if vec := instant(t, ng, st2, "m", time.Unix(119, 0)).Value.(promql.Vector); len(vec) != 1 {
		t.Errorf("sample within lookback not returned")
	}
	if vec := instant(t, ng, st2, "m", time.Unix(120, 0)).Value.(promql.Vector); len(vec) != 0 {
		t.Errorf("sample exactly lookback old returned: %v", vec)
	}
}

func TestErrors(t *testing.T) {
	st := testData(t)
	ctx := context.Background()
	t.Run("parse error", func(t *testing.T) {
		ng := promql.NewEngine(promql.EngineOpts{})
		_, err := ng.NewInstantQuery(ctx, st, "sum(", time.Unix(0, 0))
		var perr parser.ParseErrors
		if !errors.As(err, &perr) {
			t.Fatalf("got %T %v, want parser.ParseErrors", err, err)
		}
	})
	t.Run("range query of range vector", func(t *testing.T) {
		ng := promql.NewEngine(promql.EngineOpts{})
		_, err := ng.NewRangeQuery(ctx, st, "temperature[5m]", time.Unix(0, 0), time.Unix(60, 0), time.Second)
		if err == nil || !strings.Contains(err.Error(), "invalid expression type") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("too many samples", func(t *testing.T) {
		ng := promql.NewEngine(promql.EngineOpts{MaxSamples: 10})
		res := instant(t, ng, st, "http_requests_total[10m]", time.Unix(600, 0))
		var e promql.ErrTooManySamples
		if !errors.As(res.Err, &e) {
			t.Fatalf("got %v, want ErrTooManySamples", res.Err)
		}
		if res.Err.Error() != "query processing would load too many samples into memory in query execution" {
			t.Errorf("wrong text: %q", res.Err.Error())
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ng := promql.NewEngine(promql.EngineOpts{})
		qry, err := ng.NewInstantQuery(ctx, st, "temperature", time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		res := qry.Exec(cctx)
		var e promql.ErrQueryCanceled
		if !errors.As(res.Err, &e) {
			t.Fatalf("got %v, want ErrQueryCanceled", res.Err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		ng := promql.NewEngine(promql.EngineOpts{Timeout: time.Nanosecond})
		qry, err := ng.NewInstantQuery(ctx, st, "temperature", time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
		res := qry.Exec(ctx)
		var e promql.ErrQueryTimeout
		if !errors.As(res.Err, &e) {
			t.Fatalf("got %v, want ErrQueryTimeout", res.Err)
		}
	})
	t.Run("storage error", func(t *testing.T) {
		ng := promql.NewEngine(promql.EngineOpts{})
		res := instant(t, ng, failingQueryable{}, "temperature", time.Unix(0, 0))
		var e promql.ErrStorage
		if !errors.As(res.Err, &e) || !errors.Is(res.Err, errDisk) {
			t.Fatalf("got %v, want ErrStorage wrapping errDisk", res.Err)
		}
	})
	t.Run("disabled features", func(t *testing.T) {
		ng := promql.NewEngine(promql.EngineOpts{DisableAtModifier: true, DisableNegativeOffset: true})
		if _, err := ng.NewInstantQuery(ctx, st, "temperature @ 100", time.Unix(0, 0)); err == nil || err.Error() != "@ modifier is disabled" {
			t.Errorf("@: got %v", err)
		}
		if _, err := ng.NewInstantQuery(ctx, st, "temperature offset -1m", time.Unix(0, 0)); err == nil || err.Error() != "negative offset is disabled" {
			t.Errorf("negative offset: got %v", err)
		}
		if _, err := promql.NewEngine(promql.EngineOpts{}).NewInstantQuery(ctx, st, "temperature offset -1m @ 5", time.Unix(0, 0)); err != nil {
			t.Errorf("default engine rejected @ / negative offset: %v", err)
		}
	})
	t.Run("many-to-many", func(t *testing.T) {
		ng := promql.NewEngine(promql.EngineOpts{})
		res := instant(t, ng, st, "temperature + on(job) temperature", time.Unix(600, 0))
		if res.Err == nil || !strings.Contains(res.Err.Error(), "many-to-many matching not allowed") {
			t.Fatalf("got %v", res.Err)
		}
	})
}

var errDisk = errors.New("disk on fire")

type failingQueryable struct{}

func (failingQueryable) Querier(int64, int64) (storage.Querier, error) { return failingQuerier{}, nil }

type failingQuerier struct{}

func (failingQuerier) Select(context.Context, bool, *storage.SelectHints, ...*labels.Matcher) storage.SeriesSet {
	return storage.ErrSeriesSet(errDisk)
}
func (failingQuerier) LabelValues(context.Context, string, ...*labels.Matcher) ([]string, error) {
	return nil, errDisk
}
func (failingQuerier) LabelNames(context.Context, ...*labels.Matcher) ([]string, error) {
	return nil, errDisk
}
func (failingQuerier) Close() error { return nil }

// blockingQueryable blocks Querier until released, to hold queries inside the engine.
type blockingQueryable struct {
	inner   storage.Queryable
	release chan struct{}
	active  atomic.Int32
	peak    atomic.Int32
}

func (b *blockingQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	n := b.active.Add(1)
	defer b.active.Add(-1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	<-b.release
	return b.inner.Querier(mint, maxt)
}

func TestMaxConcurrency(t *testing.T) {
	st := testData(t)
	bq := &blockingQueryable{inner: st, release: make(chan struct{})}
	ng := promql.NewEngine(promql.EngineOpts{MaxConcurrent: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			qry, err := ng.NewInstantQuery(context.Background(), bq, "sum(temperature)", time.Unix(600, 0))
			if err != nil {
				errs <- err
				return
			}
			if res := qry.Exec(context.Background()); res.Err != nil {
				errs <- res.Err
			}
		}()
	}
	// Let the queries pile up, then release them one by one.
	time.Sleep(50 * time.Millisecond)
	if a := bq.active.Load(); a != 2 {
		t.Errorf("%d queries executing, want 2", a)
	}
	for range 6 {
		bq.release <- struct{}{}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p := bq.peak.Load(); p > 2 {
		t.Errorf("peak concurrency %d > 2", p)
	}

	// A query waiting for a slot gives up with its context.
	bq2 := &blockingQueryable{inner: st, release: make(chan struct{})}
	ng2 := promql.NewEngine(promql.EngineOpts{MaxConcurrent: 1})
	done := make(chan struct{})
	go func() {
		defer close(done)
		qry, _ := ng2.NewInstantQuery(context.Background(), bq2, "temperature", time.Unix(0, 0))
		qry.Exec(context.Background())
	}()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	qry, _ := ng2.NewInstantQuery(ctx, bq2, "temperature", time.Unix(0, 0))
	res := qry.Exec(ctx)
	var e promql.ErrQueryTimeout
	if !errors.As(res.Err, &e) || !strings.Contains(res.Err.Error(), "query queue") {
		t.Errorf("got %v, want timeout in query queue", res.Err)
	}
	bq2.release <- struct{}{}
	<-done
}

func TestValueStrings(t *testing.T) {
	m := promql.Matrix{{Metric: labels.FromStrings("a", "b"), Floats: []promql.FPoint{{T: 1000, F: 1.5}, {T: 2000, F: math.Inf(1)}}}}
	if got, want := m.String(), "{a=\"b\"} =>\n1.5 @[1000]\n+Inf @[2000]"; got != want {
		t.Errorf("Matrix.String() = %q, want %q", got, want)
	}
	if got, want := (promql.Scalar{T: 5, V: 0.25}).String(), "scalar: 0.25 @[5]"; got != want {
		t.Errorf("Scalar.String() = %q, want %q", got, want)
	}
}

// TestStreamingMatchesMaterialized checks that the series-at-a-time paths (streamed
// aggregations, subqueries, vector-number operations, joins) give the results of the
// step-wise paths: "or on() vector(-1) == -2" adds nothing but cannot be streamed, which
// forces materialization of the operand it is attached to.
func TestStreamingMatchesMaterialized(t *testing.T) {
	st := testData(t)
	ng := promql.NewEngine(promql.EngineOpts{})
	const force = ` or on() (vector(-1) == -2)`
	for _, tmpl := range []string{
		`sum by (job) (rate(http_requests_total[2m])%s)`,
		`avg(temperature%s)`,
		`count by (instance) (latency_bucket%s)`,
		`min(rate(latency_bucket[1m])%s)`,
		`max without (le) (latency_bucket%s)`,
		`group by (job) (temperature%s)`,
		`stddev(rate(http_requests_total[1m])%s)`,
		`stdvar(latency_bucket%s)`,
		`topk(2, rate(latency_bucket[1m])%s)`,
		`bottomk by (instance) (1, latency_bucket%s)`,
		`limitk(3, latency_bucket%s)`,
		`limit_ratio(0.5, latency_bucket%s)`,
		`max_over_time((rate(http_requests_total[1m])%s)[3m:30s])`,
		`sum((latency_bucket%s) > 10)`,
		`count(abs(temperature%s - 15))`,
		`(rate(latency_bucket[1m])%s) * on (job) group_left (version) info_meta`,
		`info_meta * on (job) group_right (version) (latency_bucket%s)`,
		`(latency_bucket%s) > on (job, instance) group_left temperature`,
		`(temperature%s) / on (instance, job) rate(http_requests_total[1m])`,
		`(temperature%s) >= bool ignoring (__name__) temperature`,
		`sum by (le) ((latency_bucket%s) / ignoring (le) group_left temperature)`,
	} {
		streamed := strings.Replace(tmpl, "%s", "", 1)
		forced := strings.Replace(tmpl, "%s", force, 1)
		for _, rangeQuery := range []bool{false, true} {
			var a, b promql.Value
			for i, q := range []string{streamed, forced} {
				var qry promql.Query
				var err error
				if rangeQuery {
					qry, err = ng.NewRangeQuery(context.Background(), st, q, time.Unix(60, 0), time.Unix(600, 0), 45*time.Second)
				} else {
					qry, err = ng.NewInstantQuery(context.Background(), st, q, time.Unix(400, 0))
				}
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				res := qry.Exec(context.Background())
				if res.Err != nil {
					t.Fatalf("%s: %v", q, res.Err)
				}
				if i == 0 {
					a = res.Value
				} else {
					b = res.Value
				}
			}
			if got, want := normalize(a), normalize(b); got != want {
				t.Errorf("%s (range=%v):\nstreamed:\n%s\nmaterialized:\n%s", streamed, rangeQuery, got, want)
			}
		}
	}
}

// normalize renders a result independent of series order, with values rounded to absorb
// float summation order.
func normalize(v promql.Value) string {
	var lines []string
	add := func(m labels.Labels, t int64, f float64) {
		lines = append(lines, m.String()+" "+strconv.FormatInt(t, 10)+" "+strconv.FormatFloat(f, 'g', 10, 64))
	}
	switch v := v.(type) {
	case promql.Vector:
		for _, s := range v {
			add(s.Metric, s.T, s.F)
		}
	case promql.StepMatrix:
		return normalize(v.Matrix())
	case promql.Matrix:
		for _, s := range v {
			for _, p := range s.Floats {
				add(s.Metric, p.T, p.F)
			}
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func TestEngineMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	ng := promql.NewEngine(promql.EngineOpts{Reg: reg, MaxConcurrent: 3})
	// A second engine on the same registry must not panic.
	promql.NewEngine(promql.EngineOpts{Reg: reg})
	if res := instant(t, ng, testData(t), "sum(temperature)", time.Unix(600, 0)); res.Err != nil {
		t.Fatal(res.Err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.Gauge != nil:
				got[mf.GetName()] = m.Gauge.GetValue()
			case m.Counter != nil:
				got[mf.GetName()] = m.Counter.GetValue()
			}
		}
	}
	if got["prometheus_engine_queries_concurrent_max"] != 3 {
		t.Errorf("queries_concurrent_max = %v, want 3", got["prometheus_engine_queries_concurrent_max"])
	}
	if got["prometheus_engine_query_samples_total"] <= 0 {
		t.Errorf("query_samples_total = %v, want > 0", got["prometheus_engine_query_samples_total"])
	}
	if got["prometheus_engine_queries"] != 0 {
		t.Errorf("queries = %v after the query ended", got["prometheus_engine_queries"])
	}
}
