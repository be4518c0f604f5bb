package promql_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/promql"
)

// FuzzParseAndEval runs arbitrary query strings against a small data set. Errors are fine;
// panics are not, including those the engine recovers from (reported as "unexpected error").
func FuzzParseAndEval(f *testing.F) {
	for _, q := range []string{
		`sum by (job) (rate(http_requests_total[5m]))`,
		`topk(1, temperature) or bottomk(1, temperature)`,
		`histogram_quantile(0.9, sum by (le) (rate(latency_bucket[5m])))`,
		`temperature * on(job) group_left(version) info_meta`,
		`max_over_time(rate(http_requests_total[1m])[5m:30s] offset 1m)`,
		`count by (instance) (temperature > bool 5)`,
		`label_join(temperature, "x", "-", "job", "instance")`,
		`quantile_over_time(0.5, temperature[10m] @ 300)`,
		`limitk(1, temperature) + limit_ratio(0.5, temperature)`,
		`absent_over_time(nothing[1m])`,
		`sort_by_label(temperature, "instance")`,
		`predict_linear(http_requests_total[5m], 60)`,
		`clamp(temperature, 0, 15) - -temperature`,
		`count_values("v", http_requests_total)`,
		`info(temperature)`,
	} {
		f.Add(q)
	}
	st := testData(f)
	ng := promql.NewEngine(promql.EngineOpts{MaxSamples: 100000, Timeout: 5 * time.Second})
	f.Fuzz(func(t *testing.T, q string) {
		ctx := context.Background()
		check := func(qry promql.Query, err error) {
			if err != nil {
				return
			}
			defer qry.Close()
			res := qry.Exec(ctx)
			if res.Err != nil && strings.Contains(res.Err.Error(), "unexpected error") {
				t.Fatalf("query %q: %v", q, res.Err)
			}
		}
		check(ng.NewInstantQuery(ctx, st, q, time.Unix(600, 0)))
		check(ng.NewRangeQuery(ctx, st, q, time.Unix(0, 0), time.Unix(600, 0), 37*time.Second))
	})
}
