package promql_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/promql/promqltest"
)

// hugeSubqueries have subqueries of billions of steps (30d at 1ms: 2.6e9) over every
// evaluation path: constants, selectors, range functions, aggregations, binary operations
// (streamed and step-wise), joins, nesting, @, functions over whole steps.
var hugeSubqueries = []string{
	`max_over_time(vector(1)[30d:1ms])`,
	`count_over_time(up[30d:1ms])`,
	`max_over_time(up @ 100[30d:1ms])`,
	`max_over_time(rate(up[5m])[30d:1ms])`,
	`max_over_time(sum by (job) (up)[30d:1ms])`,
	`max_over_time(topk(1, up)[30d:1ms])`,
	`max_over_time(quantile(0.5, up)[30d:1ms])`,
	`max_over_time((up + up)[30d:1ms])`,
	`max_over_time((up > bool 0)[30d:1ms])`,
	`max_over_time((up and up)[30d:1ms])`,
	`max_over_time((up * on (job) group_left sum by (job) (up))[30d:1ms])`,
	`max_over_time(timestamp(up)[30d:1ms])`,
	`max_over_time(vector(scalar(sum(up)))[30d:1ms])`,
	`max_over_time(absent(nonexistent)[30d:1ms])`,
	`max_over_time(label_replace(up, "a", "b", "", "")[30d:1ms])`,
	`absent_over_time(vector(1)[30d:1ms])`,
	`max_over_time(max_over_time(vector(1)[1d:1ms])[30d:1h])`,
	`sum_over_time(vector(1)[30d:1ms]) + on () vector(1)`,
	`max_over_time(vector(1)[30d:1ms])[1h:1m]`,
}

// upStorage has two `up` series with a sample every 4 minutes from 31 days before t=0 to 2
// hours after it, so that every step of the subqueries above has a value.
func upStorage(t *testing.T) *promqltest.MemStorage {
	st := promqltest.NewMemStorage()
	for _, inst := range []string{"a", "b"} {
		var pts []promqltest.Point
		for ts := -31 * 24 * time.Hour; ts <= 2*time.Hour; ts += 4 * time.Minute {
			pts = append(pts, promqltest.Point{T: ts.Milliseconds(), F: 1})
		}
		if err := st.Add(labels.FromStrings("__name__", "up", "job", "node", "instance", inst), pts...); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

const allocBound = 64 << 20

// TestHugeSubqueryMaxSamples: with --query.max-samples, a subquery of billions of steps fails
// with Prometheus's error once the limit is reached, having allocated little. Before, the
// evaluator allocated per-step arrays for all 2.6e9 steps up front (20 GB) and accounted
// samples only after a series' points were all produced.
func TestHugeSubqueryMaxSamples(t *testing.T) {
	st := upStorage(t)
	ng := promql.NewEngine(promql.EngineOpts{MaxSamples: 10_000})
	ctx := context.Background()
	for _, qs := range hugeSubqueries {
		for _, rangeQuery := range []bool{false, true} {
			var res *promql.Result
			alloc := allocated(func() {
				var q promql.Query
				var err error
				if rangeQuery {
					q, err = ng.NewRangeQuery(ctx, st, qs, time.Unix(600, 0), time.Unix(4200, 0), time.Minute)
				} else {
					q, err = ng.NewInstantQuery(ctx, st, qs, time.Unix(600, 0))
				}
				if err != nil {
					if rangeQuery {
						return // a range vector at the top
					}
					t.Fatalf("%s: %v", qs, err)
				}
				res = q.Exec(ctx)
			})
			if res == nil {
				continue
			}
			var tooMany promql.ErrTooManySamples
			if !errors.As(res.Err, &tooMany) || res.Err.Error() != "query processing would load too many samples into memory in query execution" {
				t.Errorf("%s (range %v): err %v, want too many samples", qs, rangeQuery, res.Err)
			}
			if alloc > allocBound {
				t.Errorf("%s (range %v): allocated %d MiB, want <= %d MiB", qs, rangeQuery, alloc>>20, allocBound>>20)
			}
		}
	}
}

// TestHugeSubqueryTimeout: with Prometheus's default sample limit (50 million), the query
// timeout stops the evaluation of a subquery of billions of steps while it runs. The clock is
// synctest's: a test hook sleeps past the 30 s timeout at the 50th context check, and the
// evaluation must end at the next check. Queries that need a dense per-step array (an
// aggregation's accumulators over 2.6e9 steps) fail the sample limit before any step instead.
func TestHugeSubqueryTimeout(t *testing.T) {
	st := upStorage(t)
	for _, qs := range hugeSubqueries {
		synctest.Test(t, func(t *testing.T) {
			ng := promql.NewEngine(promql.EngineOpts{Timeout: 30 * time.Second, MaxSamples: 50_000_000})
			checks, afterTimeout := 0, 0
			timedOut := false
			restore := promql.SetCheckCtxHook(func() {
				checks++
				if timedOut {
					afterTimeout++
				}
				if checks == 50 {
					time.Sleep(time.Minute)
					timedOut = true
				}
			})
			defer restore()
			ctx := context.Background()
			var res *promql.Result
			alloc := allocated(func() {
				q, err := ng.NewInstantQuery(ctx, st, qs, time.Unix(600, 0))
				if err != nil {
					t.Fatal(err)
				}
				res = q.Exec(ctx)
			})
			var tooMany promql.ErrTooManySamples
			if checks < 50 {
				if !errors.As(res.Err, &tooMany) {
					t.Errorf("%s: finished after %d context checks: %v", qs, checks, res.Err)
				}
				return
			}
			var timeout promql.ErrQueryTimeout
			if !errors.As(res.Err, &timeout) || res.Err.Error() != "query timed out in expression evaluation" {
				t.Errorf("%s: err %v, want timeout", qs, res.Err)
			}
			if afterTimeout > 1 {
				t.Errorf("%s: %d context checks after the timeout, want 1", qs, afterTimeout)
			}
			if alloc > allocBound {
				t.Errorf("%s: allocated %d MiB, want <= %d MiB", qs, alloc>>20, allocBound>>20)
			}
		})
	}
}

// TestCanceledBeforeEvaluation: a context canceled up front stops the query before any
// evaluation step.
func TestCanceledBeforeEvaluation(t *testing.T) {
	st := upStorage(t)
	ng := promql.NewEngine(promql.EngineOpts{})
	checks := 0
	defer promql.SetCheckCtxHook(func() { checks++ })()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q, err := ng.NewInstantQuery(ctx, st, hugeSubqueries[0], time.Unix(600, 0))
	if err != nil {
		t.Fatal(err)
	}
	res := q.Exec(ctx)
	var canceled promql.ErrQueryCanceled
	if !errors.As(res.Err, &canceled) {
		t.Errorf("err %v, want canceled", res.Err)
	}
	if checks != 0 {
		t.Errorf("%d evaluation steps after cancellation", checks)
	}
}

// TestSparseSubquerySkipsEmptySteps: a selector in a 2.6e9-step subquery over two samples ten
// days apart jumps over the steps without a value instead of visiting each (which took minutes):
// a handful of context checks, and each sample counted once per step of its 5-minute lookback.
func TestSparseSubquerySkipsEmptySteps(t *testing.T) {
	st := promqltest.NewMemStorage()
	day := 24 * time.Hour
	if err := st.Add(labels.FromStrings("__name__", "sparse"),
		promqltest.Point{T: (-20 * day).Milliseconds(), F: 1}, promqltest.Point{T: (-10 * day).Milliseconds(), F: 1}); err != nil {
		t.Fatal(err)
	}
	checks := 0
	defer promql.SetCheckCtxHook(func() { checks++ })()
	ng := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000})
	res := instant(t, ng, st, `count_over_time(sparse[30d:1ms])`, time.Unix(0, 0))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if v := res.Value.(promql.Vector); len(v) != 1 || v[0].F != 600_000 {
		t.Fatalf("got %v, want 600000 (2 samples x 5m at 1ms)", res.Value)
	}
	if checks > 2000 {
		t.Errorf("%d context checks, want the empty steps skipped", checks)
	}
}
