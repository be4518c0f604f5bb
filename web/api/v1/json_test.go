package v1

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	jsoniter "github.com/json-iterator/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/util/jsonutil"

	"github.com/vigil-monitoring/vigil/promql"
)

// The hand-written encoder must produce byte for byte what Prometheus's own marshalling does:
// its jsonutil helpers for sample values and timestamps, jsoniter (standard-library
// configuration) for strings.

func upstreamFloat(f float64) string {
	s := jsoniter.ConfigCompatibleWithStandardLibrary.BorrowStream(nil)
	defer jsoniter.ConfigCompatibleWithStandardLibrary.ReturnStream(s)
	jsonutil.MarshalFloat(f, s)
	return string(s.Buffer())
}

func upstreamTimestamp(t int64) string {
	s := jsoniter.ConfigCompatibleWithStandardLibrary.BorrowStream(nil)
	defer jsoniter.ConfigCompatibleWithStandardLibrary.ReturnStream(s)
	jsonutil.MarshalTimestamp(t, s)
	return string(s.Buffer())
}

var floatCases = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.1, 1.5e-7, 1e-6, 9.99999e-7, 1e21, 9.99e20, -1e21, 123456789.123456789,
	math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 1e300, 2.5e-300, 1.0 / 3,
}

func TestAppendFloatMatchesPrometheus(t *testing.T) {
	for _, f := range floatCases {
		got := `"` + string(appendFloat(nil, f)) + `"`
		if want := upstreamFloat(f); got != want {
			t.Errorf("%v: got %s, want %s", f, got, want)
		}
	}
}

func TestAppendTimestampMatchesPrometheus(t *testing.T) {
	for _, ts := range []int64{0, 1, 10, 100, 999, 1000, 1001, 1500, -1, -1500, 1704067800123, math.MaxInt64, math.MinInt64 + 1} {
		if got, want := string(appendTimestamp(nil, ts)), upstreamTimestamp(ts); got != want {
			t.Errorf("%d: got %s, want %s", ts, got, want)
		}
	}
}

var stringCases = []string{
	"", "plain", `quote " and \ backslash`, "new\nline\ttab\rcr", "\x00\x01\x1f\x7f", "<script>&amp;</script>",
	"unicode é ü 日本", "\u2028\u2029", "bad utf8 \xff\xfe end", "emoji 😀", "\b\f",
}

func FuzzAppendString(f *testing.F) {
	for _, s := range stringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := jsoniter.ConfigCompatibleWithStandardLibrary.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
		// Label strings: as Prometheus's label marshalling, except that invalid UTF-8 becomes
		// U+FFFD instead of being copied raw.
		st := jsoniter.ConfigCompatibleWithStandardLibrary.BorrowStream(nil)
		defer jsoniter.ConfigCompatibleWithStandardLibrary.ReturnStream(st)
		st.WriteString(string([]rune(s))) // one U+FFFD per invalid byte
		if got := appendLabelString(nil, s); !bytes.Equal(got, st.Buffer()) {
			t.Fatalf("label %q: got %s, want %s", s, got, st.Buffer())
		}
		if !json.Valid(appendLabelString(nil, s)) {
			t.Fatalf("label %q: invalid JSON", s)
		}
	})
}

func TestEncodeLabels(t *testing.T) {
	ls := labels.FromStrings("__name__", "a<b", "quote", `"`, "utf8.name", "日本")
	want := `{"__name__":"a<b","quote":"\"","utf8.name":"日本"}`
	if got := string(appendLabels(nil, ls)); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if got := string(appendLabels(nil, labels.EmptyLabels())); got != "{}" {
		t.Fatalf("empty labels: %s", got)
	}
}

// TestLargeMatrixStreams checks that big results are written in pieces (bounded buffer) and
// still form one valid document.
func TestLargeMatrixStreams(t *testing.T) {
	m := promql.Matrix{}
	for i := range 50 {
		s := promql.Series{Metric: labels.FromStrings("__name__", "m", "i", strings.Repeat("x", i))}
		for j := range 2000 {
			s.Floats = append(s.Floats, promql.FPoint{T: int64(j) * 15000, F: float64(j) / 7})
		}
		m = append(m, s)
	}
	var out countingWriter
	enc := newEncoder(&out)
	if err := enc.value(&queryData{ResultType: m.Type(), Result: m}); err != nil {
		t.Fatal(err)
	}
	if err := enc.flush(); err != nil {
		t.Fatal(err)
	}
	if out.writes < 10 || out.maxWrite > 2*flushSize {
		t.Fatalf("%d writes, largest %d bytes: not streamed", out.writes, out.maxWrite)
	}
	var decoded struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	}
	if err := json.Unmarshal(out.buf.Bytes(), &decoded); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	if decoded.ResultType != "matrix" || len(decoded.Result) != 50 || len(decoded.Result[49].Values) != 2000 || decoded.Result[3].Values[7][1] != "1" {
		t.Fatalf("decoded %s with %d series", decoded.ResultType, len(decoded.Result))
	}
}

type countingWriter struct {
	buf      bytes.Buffer
	writes   int
	maxWrite int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	w.maxWrite = max(w.maxWrite, len(p))
	return w.buf.Write(p)
}

// TestStepMatrixEncoding checks that a range query's compact result is written exactly as the
// same points in a Matrix: absent steps skipped, timestamps from the grid.
func TestStepMatrixEncoding(t *testing.T) {
	sm := promql.StepMatrix{Start: 1704067200500, Step: 15000, Steps: 200, Series: []promql.StepSeries{
		{Metric: labels.FromStrings("__name__", "a", "i", "0"), First: 0, Values: []float64{1, 2, 3}},
		{Metric: labels.FromStrings("i", "1"), First: 5, Values: []float64{math.NaN(), 0, 7, math.Inf(-1)}, Absent: []uint64{0b0010}},
		{Metric: labels.FromStrings("i", "2"), First: 70, Values: make([]float64, 130), Absent: make([]uint64, 3)},
	}}
	for j := range 130 {
		sm.Series[2].Values[j] = float64(j) / 3
		if j%7 == 0 {
			sm.Series[2].Absent[j/64] |= 1 << (j % 64)
		}
	}
	encode := func(v promql.Value) string {
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
	got, want := encode(sm), encode(sm.Matrix())
	if got != want {
		t.Fatalf("step matrix:\n%s\nmatrix:\n%s", got, want)
	}
	if !strings.Contains(got, `{"metric":{"i":"1"},"values":[[1704067275.500,"NaN"],[1704067305.500,"7"],[1704067320.500,"-Inf"]]}`) {
		t.Fatalf("unexpected encoding %s", got)
	}
}
