package promql_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	upromql "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	utsdb "github.com/prometheus/prometheus/tsdb"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// chainQuery returns `up + up + … + up` with n terms (the probe of issue #19).
func chainQuery(n int) string {
	return strings.Repeat("up + ", n-1) + "up"
}

// upEnv holds ten `up` series, 5 minutes at 15 s, in Vigil's TSDB and the upstream TSDB.
type upEnv struct {
	vigil    *tsdb.DB
	upstream *utsdb.DB
	end      time.Time
}

func newUpEnv(tb testing.TB) *upEnv {
	tb.Helper()
	dir := tb.TempDir()
	vdb, err := tsdb.Open(dir+"/vigil", tsdb.DefaultOptions(), nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { vdb.Close() })
	udb, err := utsdb.Open(dir+"/upstream", nil, nil, utsdb.DefaultOptions(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { udb.Close() })
	start := time.Unix(1_700_000_000, 0)
	ctx := context.Background()
	va, ua := vdb.Appender(ctx), udb.Appender(ctx)
	for i := range 10 {
		ls := labels.FromStrings("__name__", "up", "job", "node", "instance", "host"+strconv.Itoa(i))
		for s := range 21 {
			ts := start.Add(time.Duration(s) * 15 * time.Second).UnixMilli()
			if _, err := va.Append(0, ls, ts, 1); err != nil {
				tb.Fatal(err)
			}
			if _, err := ua.Append(0, ls, ts, 1); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := va.Commit(); err != nil {
		tb.Fatal(err)
	}
	if err := ua.Commit(); err != nil {
		tb.Fatal(err)
	}
	return &upEnv{vigil: vdb, upstream: udb, end: start.Add(5 * time.Minute)}
}

// TestLongBinaryChainLinear checks that the cost of a chain of binary operations grows
// linearly with its length: the shape-dependent evaluation steps (nodes analysed, eval and
// stream calls) and the allocations of 2n terms are at most 2.5 times those of n terms. Before
// the analysis cache, every level of the chain re-walked the operands below it (canStream, and
// BinaryExpr.Type / PositionRange, which recurse), so that 2,000 terms took 25 s.
func TestLongBinaryChainLinear(t *testing.T) {
	env := newUpEnv(t)
	ng := promql.NewEngine(promql.EngineOpts{})
	ctx := context.Background()
	measure := func(n int) (visits int, allocs float64) {
		qs := chainQuery(n)
		allocs = testing.AllocsPerRun(3, func() {
			q, err := ng.NewInstantQuery(ctx, env.vigil, qs, env.end)
			if err != nil {
				t.Fatal(err)
			}
			res := q.Exec(ctx)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if v := res.Value.(promql.Vector); len(v) != 10 || v[0].F != float64(n) {
				t.Fatalf("%d terms: got %v", n, v)
			}
			visits = promql.EvalVisits(q)
		})
		return visits, allocs
	}
	for _, n := range []int{250, 1000} {
		v1, a1 := measure(n)
		v2, a2 := measure(2 * n)
		t.Logf("%d terms: %d steps, %.0f allocs; %d terms: %d steps, %.0f allocs", n, v1, a1, 2*n, v2, a2)
		if r := float64(v2) / float64(v1); r > 2.5 {
			t.Errorf("evaluation steps grew %.2fx from %d to %d terms (want <= 2.5x)", r, n, 2*n)
		}
		if r := a2 / a1; r > 2.5 {
			t.Errorf("allocations grew %.2fx from %d to %d terms (want <= 2.5x)", r, n, 2*n)
		}
	}
}

// BenchmarkLongBinaryChain runs `up + up + … + up` (500 and 2,000 terms, instant query over
// ten series) through Vigil's engine and the upstream engine in the same run, parse included.
func BenchmarkLongBinaryChain(b *testing.B) {
	env := newUpEnv(b)
	ng := promql.NewEngine(promql.EngineOpts{})
	ung := upromql.NewEngine(upromql.EngineOpts{
		MaxSamples: 50_000_000, Timeout: time.Minute, EnableAtModifier: true, EnableNegativeOffset: true,
		Parser: parser.NewParser(promql.DefaultParserOptions),
	})
	ctx := context.Background()
	for _, n := range []int{500, 2000} {
		qs := chainQuery(n)
		b.Run(strconv.Itoa(n)+"/vigil", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				q, err := ng.NewInstantQuery(ctx, env.vigil, qs, env.end)
				if err != nil {
					b.Fatal(err)
				}
				if res := q.Exec(ctx); res.Err != nil {
					b.Fatal(res.Err)
				}
			}
		})
		b.Run(strconv.Itoa(n)+"/upstream", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				q, err := ung.NewInstantQuery(ctx, env.upstream, nil, qs, env.end)
				if err != nil {
					b.Fatal(err)
				}
				if res := q.Exec(ctx); res.Err != nil {
					b.Fatal(res.Err)
				}
				q.Close()
			}
		})
	}
}
