package ruler

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/promql/promqltest"
	"github.com/vigil-monitoring/vigil/storage"
)

// TestHistogramRules: a recording rule whose expression yields native histograms records them
// (AppendHistogram), and an alerting rule on a histogram expression fires with value 0 and
// $value the histogram, as upstream's rules package does. The query function stands in for the
// engine so that only the ruler's part is under test.
func TestHistogramRules(t *testing.T) {
	fh := &histogram.FloatHistogram{
		Schema: 0, Count: 6, Sum: 9.5,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}},
		PositiveBuckets: []float64{2, 4},
	}
	query := func(_ context.Context, qs string, ts time.Time) (promql.Vector, error) {
		switch qs {
		case "sum by (job) (rate(lat[5m]))":
			return promql.Vector{
				{Metric: labels.FromStrings("job", "api"), T: ts.UnixMilli(), H: fh},
				{Metric: labels.FromStrings("job", "db"), T: ts.UnixMilli(), F: 3}, // a float among them
			}, nil
		case "lat > 0":
			return promql.Vector{{Metric: labels.FromStrings("__name__", "lat", "job", "api"), T: ts.UnixMilli(), H: fh}}, nil
		}
		return nil, nil
	}
	st := promqltest.NewMemStorage()
	notifier := &captureNotifier{}
	m := NewManager(&Options{QueryFunc: query, Queryable: st, Appendable: st, Notifier: notifier})
	g := loadOne(t, m, `
groups:
  - name: h
    rules:
      - record: job:lat:rate5m
        expr: sum by (job) (rate(lat[5m]))
      - alert: LatencyHistogram
        expr: lat > 0
        annotations:
          value: "{{ $value }}"
`)
	g.eval(context.Background(), t0)
	for _, r := range g.Rules() {
		if r.Health() != HealthGood {
			t.Fatalf("rule %s: %s %v", r.Name(), r.Health(), r.LastError())
		}
	}

	got := readAll(t, st, labels.MustNewMatcher(labels.MatchEqual, "__name__", "job:lat:rate5m"))
	want := map[string]string{
		`{__name__="job:lat:rate5m", job="api"}`: fh.String(),
		`{__name__="job:lat:rate5m", job="db"}`:  "3",
	}
	if len(got) != len(want) {
		t.Fatalf("recorded %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s recorded %q, want %q", k, got[k], v)
		}
	}

	alerts := g.AlertingRules()[0].ActiveAlerts()
	if len(alerts) != 1 {
		t.Fatalf("alerts %v", alerts)
	}
	if a := alerts[0]; a.Value != 0 || a.Annotations.Get("value") != fh.String() {
		t.Fatalf("alert value %v, $value %q; want 0 and %q (upstream)", a.Value, a.Annotations.Get("value"), fh.String())
	}
}

// readAll returns the last sample of every matching series as text: the float, or the
// histogram's String.
func readAll(t *testing.T, q storage.Queryable, ms ...*labels.Matcher) map[string]string {
	t.Helper()
	qr, err := q.Querier(0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	res := map[string]string{}
	ss := qr.Select(context.Background(), false, nil, ms...)
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		for typ := it.Next(); typ != storage.ValNone; typ = it.Next() {
			switch typ {
			case storage.ValFloat:
				_, v := it.At()
				res[s.Labels().String()] = strconv.FormatFloat(v, 'g', -1, 64)
			default:
				_, h := it.AtFloatHistogram(nil)
				res[s.Labels().String()] = h.String()
			}
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return res
}
