package v1

import (
	"bytes"
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	uppromql "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	upv1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/vigil-monitoring/vigil/promql"
)

// Native histograms in query results must be encoded byte for byte as Prometheus's own JSON
// codec (web/api/v1.JSONCodec of v0.315) encodes the same result.

// testHistograms covers the shapes a histogram takes: exponential with positive, negative and
// zero buckets, empty buckets in the middle (left out of the JSON), no buckets at all, custom
// bucket boundaries (NHCB), float counts and special values.
func testHistograms() []*histogram.FloatHistogram {
	exp := &histogram.Histogram{
		Schema: 0, Count: 21, Sum: 1234.5, ZeroThreshold: 0.001, ZeroCount: 2,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}, {Offset: 1, Length: 2}},
		PositiveBuckets: []int64{1, 1, -1, 3},
		NegativeSpans:   []histogram.Span{{Offset: -2, Length: 3}},
		NegativeBuckets: []int64{2, -2, 1},
	}
	gaps := &histogram.FloatHistogram{
		Schema: 3, Count: 7.5, Sum: -0.25,
		PositiveSpans:   []histogram.Span{{Offset: -5, Length: 4}},
		PositiveBuckets: []float64{1.5, 0, 0, 6},
	}
	nhcb := &histogram.FloatHistogram{
		Schema: histogram.CustomBucketsSchema, Count: 10, Sum: 42,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 4}},
		PositiveBuckets: []float64{1, 2, 3, 4},
		CustomValues:    []float64{0.1, 0.5, 2.5},
	}
	return []*histogram.FloatHistogram{
		exp.ToFloat(nil),
		gaps,
		nhcb,
		{Schema: 0, Count: 0, Sum: 0},
		{Schema: -2, Count: math.Inf(1), Sum: math.NaN(), ZeroThreshold: 1e-128, ZeroCount: 3e-7},
		{Schema: 8, Count: 1e22, Sum: 1e-9, PositiveSpans: []histogram.Span{{Offset: 1000, Length: 1}}, PositiveBuckets: []float64{1e22}},
	}
}

func upstreamJSON(t *testing.T, v parser.Value) string {
	t.Helper()
	b, err := upv1.JSONCodec{}.Encode(&upv1.Response{Data: &upv1.QueryData{ResultType: v.Type(), Result: v}})
	if err != nil {
		t.Fatal(err)
	}
	// Upstream encodes the whole response; compare its data object.
	const prefix = `{"status":"","data":`
	s := string(b)
	if len(s) < len(prefix)+1 || s[:len(prefix)] != prefix {
		t.Fatalf("unexpected upstream envelope %s", s)
	}
	return s[len(prefix) : len(s)-1]
}

func vigilJSON(t *testing.T, v promql.Value) string {
	t.Helper()
	var b bytes.Buffer
	enc := newEncoder(&b)
	if err := enc.value(&queryData{ResultType: v.Type(), Result: v}); err != nil {
		t.Fatal(err)
	}
	if err := enc.flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestHistogramJSONMatchesPrometheus(t *testing.T) {
	hs := testHistograms()
	m1 := labels.FromStrings("__name__", "req_duration_seconds", "job", "api")
	m2 := labels.FromStrings("job", "db")

	// Vector: histograms and floats mixed, as sum by () over a mixed selector can give.
	var vec promql.Vector
	var upVec uppromql.Vector
	for i, h := range hs {
		vec = append(vec, promql.Sample{Metric: labels.FromStrings("i", string(rune('a'+i))), T: 1704067200123 + int64(i), H: h})
		upVec = append(upVec, uppromql.Sample{Metric: labels.FromStrings("i", string(rune('a'+i))), T: 1704067200123 + int64(i), H: h})
	}
	vec = append(vec, promql.Sample{Metric: m2, T: 5, F: 1.5})
	upVec = append(upVec, uppromql.Sample{Metric: m2, T: 5, F: 1.5})

	// Matrix: a histogram-only series, a series that changed type, a float-only series.
	var hp []promql.HPoint
	var upHP []uppromql.HPoint
	for i, h := range hs {
		hp = append(hp, promql.HPoint{T: int64(i) * 15000, H: h})
		upHP = append(upHP, uppromql.HPoint{T: int64(i) * 15000, H: h})
	}
	mat := promql.Matrix{
		{Metric: m1, Histograms: hp},
		{Metric: m2, Floats: []promql.FPoint{{T: 1000, F: 3}, {T: 2000, F: 4}}, Histograms: hp[:2]},
		{Metric: labels.FromStrings("x", "y"), Floats: []promql.FPoint{{T: 1000, F: 3}}},
	}
	upMat := uppromql.Matrix{
		{Metric: m1, Histograms: upHP},
		{Metric: m2, Floats: []uppromql.FPoint{{T: 1000, F: 3}, {T: 2000, F: 4}}, Histograms: upHP[:2]},
		{Metric: labels.FromStrings("x", "y"), Floats: []uppromql.FPoint{{T: 1000, F: 3}}},
	}

	for _, tc := range []struct {
		name string
		got  promql.Value
		want parser.Value
	}{
		{"vector", vec, upVec},
		{"matrix", mat, upMat},
		{"empty vector", promql.Vector{}, uppromql.Vector{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := vigilJSON(t, tc.got), upstreamJSON(t, tc.want); got != want {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// A range query's StepMatrix with histograms encodes as the Matrix it stands for, hence as
// Prometheus encodes that matrix.
func TestStepMatrixHistogramJSONMatchesPrometheus(t *testing.T) {
	hs := testHistograms()
	sm := promql.StepMatrix{Start: 1704067200500, Step: 15000, Steps: 20, Series: []promql.StepSeries{
		// histograms only, one step absent
		{Metric: labels.FromStrings("__name__", "h"), First: 1, Values: make([]float64, 6), Absent: []uint64{0b100}, Histograms: hs},
		// floats, then histograms (the series changed type), an absent step between
		{Metric: labels.FromStrings("i", "mixed"), First: 0, Values: []float64{1, 2, 0, 0, 0}, Absent: []uint64{0b00100}, Histograms: []*histogram.FloatHistogram{nil, nil, nil, hs[0], hs[2]}},
		// floats only
		{Metric: labels.FromStrings("i", "floats"), First: 3, Values: []float64{math.NaN(), 7}},
	}}
	got := vigilJSON(t, sm)
	if viaMatrix := vigilJSON(t, sm.Matrix()); got != viaMatrix {
		t.Fatalf("step matrix:\n%s\nmatrix:\n%s", got, viaMatrix)
	}
	var up uppromql.Matrix
	for _, s := range sm.Matrix() {
		us := uppromql.Series{Metric: s.Metric}
		for _, p := range s.Floats {
			us.Floats = append(us.Floats, uppromql.FPoint{T: p.T, F: p.F})
		}
		for _, p := range s.Histograms {
			us.Histograms = append(us.Histograms, uppromql.HPoint{T: p.T, H: p.H})
		}
		up = append(up, us)
	}
	if want := upstreamJSON(t, up); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestAppendHistogramExample(t *testing.T) {
	// The example of Prometheus's documentation of the format.
	h := &histogram.FloatHistogram{
		Schema: 0, Count: 4, Sum: 3,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}},
		PositiveBuckets: []float64{1, 3},
	}
	const want = `{"count":"4","sum":"3","buckets":[[0,"0.5","1","1"],[0,"1","2","3"]]}`
	if got := string(appendHistogram(nil, h)); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
