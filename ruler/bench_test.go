package ruler

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// BenchmarkGroupEval measures one evaluation of a group of 1,000 recording rules (each a
// sum of rates over 100 of 10,000 series) and 1,000 alerting rules over the same data: the
// cost per evaluation cycle the issue compares with Prometheus.
func BenchmarkGroupEval(b *testing.B) {
	e := newEnv(b)
	const series, perRule, nRules = 10000, 100, 1000
	app := e.db.Appender(context.Background())
	for s := range series {
		lset := labels.FromStrings("__name__", "bench_requests_total", "job", fmt.Sprintf("j%d", s/perRule), "instance", fmt.Sprintf("i%d", s))
		for i := range 20 {
			if _, err := app.Append(0, lset, t0.Add(time.Duration(i)*15*time.Second).UnixMilli(), float64(i*s)); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString("groups:\n  - name: bench\n    rules:\n")
	for r := range nRules {
		fmt.Fprintf(&sb, "      - record: job:bench_requests:rate5m_%d\n        expr: sum by (job) (rate(bench_requests_total{job=\"j%d\"}[5m]))\n", r, r%(series/perRule))
		fmt.Fprintf(&sb, "      - alert: Bench%d\n        expr: rate(bench_requests_total{job=\"j%d\"}[5m]) > 1e12\n        for: 5m\n", r, r%(series/perRule))
	}
	m := e.manager(nil)
	groups, errs := m.LoadGroups(time.Minute, labels.EmptyLabels(), nil, writeRulesB(b, sb.String()))
	if errs != nil {
		b.Fatal(errs)
	}
	var g *Group
	for _, gg := range groups {
		g = gg
	}
	ts := t0.Add(5 * time.Minute)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts = ts.Add(time.Second)
		g.eval(context.Background(), ts)
	}
	b.StopTimer()
	for _, r := range g.Rules() {
		if err := r.LastError(); err != nil {
			b.Fatalf("%s: %v", r.Name(), err)
		}
	}
}
