package promql_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/promql/promqltest"
)

// TestStepMatrix checks the compact range-query result: absent steps inside a series, series
// starting and ending at different steps, the delayed name removal merging series that
// alternate in time, and the error when such series overlap.
func TestStepMatrix(t *testing.T) {
	st := promqltest.NewMemStorage()
	add := func(ls labels.Labels, from, to int, f func(i int) float64) {
		var pts []promqltest.Point
		for i := from; i <= to; i++ {
			pts = append(pts, promqltest.Point{T: int64(i) * 60000, F: f(i)})
		}
		if err := st.Add(ls, pts...); err != nil {
			t.Fatal(err)
		}
	}
	id := func(i int) float64 { return float64(i) }
	add(labels.FromStrings("__name__", "g", "k", "v"), 0, 99, id)
	add(labels.FromStrings("__name__", "early", "k", "x"), 0, 9, id)
	add(labels.FromStrings("__name__", "late", "k", "x"), 14, 20, id)
	add(labels.FromStrings("__name__", "late2", "k", "x"), 5, 20, id)

	for i := range 400 {
		add(labels.FromStrings("__name__", "many", "i", fmt.Sprintf("%03d", i)), 0, 99, func(j int) float64 { return float64(i*1000 + j) })
	}

	ng := promql.NewEngine(promql.EngineOpts{LookbackDelta: time.Minute})
	run := func(qs string, start, end int) *promql.Result {
		q, err := ng.NewRangeQuery(context.Background(), st, qs, time.Unix(int64(start)*60, 0), time.Unix(int64(end)*60, 0), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(q.Close)
		return q.Exec(context.Background())
	}

	// g > 50 and g % 3 != 0 (a gappy series): steps 52, 53, 55, 56, 58, ... up to 98, over
	// 0..120 (the series ends at 99; the grid does not).
	res := run(`g > 50 and g % 3 != 0`, 0, 120)
	sm, ok := res.Value.(promql.StepMatrix)
	if res.Err != nil || !ok || len(sm.Series) != 1 {
		t.Fatalf("%T %v %v", res.Value, res.Value, res.Err)
	}
	s := sm.Series[0]
	var want []promql.FPoint
	for i := 51; i <= 99; i++ {
		if i%3 != 0 {
			want = append(want, promql.FPoint{T: int64(i) * 60000, F: float64(i)})
		}
	}
	if s.First != 52 || len(s.Values) != 98-52+1 || s.Absent == nil || s.Len() != len(want) || sm.Steps != 121 {
		t.Fatalf("series first %d, %d values, %d points, %d steps", s.First, len(s.Values), s.Len(), sm.Steps)
	}
	if got := sm.Matrix()[0].Floats; !equalPoints(got, want) {
		t.Fatalf("points %v\nwant %v", got, want)
	}
	// A dense series has no bitmap.
	if res := run(`g`, 10, 20); res.Err != nil || res.Value.(promql.StepMatrix).Series[0].Absent != nil {
		t.Fatalf("dense series: %+v %v", res.Value, res.Err)
	}

	// early*1 and late*1 lose their names and become one series with a hole (10..13).
	res = run(`{__name__=~"early|late"} * 1`, 0, 20)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	mat := res.Value.(promql.StepMatrix).Matrix()
	if len(mat) != 1 || mat[0].Metric.String() != `{k="x"}` || len(mat[0].Floats) != 10+7 ||
		mat[0].Floats[9].T != 9*60000 || mat[0].Floats[10].T != 14*60000 {
		t.Fatalf("merged series: %v", mat)
	}
	// early and late2 overlap at steps 5..9.
	res = run(`{__name__=~"early|late2"} * 1`, 0, 20)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "vector cannot contain metrics with the same labelset") {
		t.Fatalf("overlapping series: %v %v", res.Value, res.Err)
	}
	// The same query through the non-streamed path (a set operator) merges the same way.
	res = run(`({__name__=~"early|late"} * 1) or vector(0) == 1`, 0, 20)
	if res.Err != nil || len(res.Value.(promql.StepMatrix).Series) != 1 {
		t.Fatalf("materialized path: %v %v", res.Value, res.Err)
	}
	// Instant queries stream into the Vector; the same collision fails them.
	for _, tc := range []struct {
		min     int64
		wantErr bool
	}{{7, true}, {3, false}, {15, false}} {
		q, err := ng.NewInstantQuery(context.Background(), st, `{__name__=~"early|late2"} * 1`, time.Unix(tc.min*60, 0))
		if err != nil {
			t.Fatal(err)
		}
		res := q.Exec(context.Background())
		if tc.wantErr != (res.Err != nil) {
			t.Fatalf("instant at %dm: %v %v", tc.min, res.Value, res.Err)
		}
		if vec, ok := res.Value.(promql.Vector); !tc.wantErr && (!ok || len(vec) != 1 || vec[0].Metric.String() != `{k="x"}` || vec[0].F != float64(tc.min)) {
			t.Fatalf("instant at %dm: %v", tc.min, res.Value)
		}
		q.Close()
	}
	// A large result (40,000 points) takes its values from arenas: every series keeps its own.
	res = run(`many`, 0, 99)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	mat = res.Value.(promql.StepMatrix).Matrix()
	if len(mat) != 400 {
		t.Fatalf("%d series", len(mat))
	}
	for i, s := range mat {
		if len(s.Floats) != 100 || s.Metric.Get("i") != fmt.Sprintf("%03d", i) {
			t.Fatalf("series %d: %s with %d points", i, s.Metric, len(s.Floats))
		}
		for j, p := range s.Floats {
			if p.T != int64(j)*60000 || p.F != float64(i*1000+j) {
				t.Fatalf("series %d point %d: %v", i, j, p)
			}
		}
	}
	// A scalar range query is one series without labels.
	res = run(`scalar(g)`, 0, 2)
	if sm := res.Value.(promql.StepMatrix); res.Err != nil || len(sm.Series) != 1 || sm.Series[0].Metric.Len() != 0 || sm.Series[0].Len() != 3 {
		t.Fatalf("scalar: %v %v", res.Value, res.Err)
	}
}

func equalPoints(a, b []promql.FPoint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].T != b[i].T || (a[i].F != b[i].F && !(math.IsNaN(a[i].F) && math.IsNaN(b[i].F))) {
			return false
		}
	}
	return true
}
