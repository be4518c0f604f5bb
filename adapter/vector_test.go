package adapter

import (
	"encoding/json"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
)

// decodeVector must agree with model.Sample's own JSON decoding.
func TestDecodeVectorMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	strs := []string{"", "web-1", `quo"te`, `back\slash`, "tab\tnew\nline", "ünïcödé ✓", "<&>", "\u2028", "x/y", strings.Repeat("long", 40)}
	vals := []float64{0, 1.5, -2, 1e300, 5e-324, math.Inf(1), math.Inf(-1), math.NaN(), 123456789012345}
	for n := range 300 {
		vec := model.Vector{}
		for range rng.Intn(6) {
			m := model.Metric{}
			for range rng.Intn(4) {
				m[model.LabelName(strs[rng.Intn(len(strs))]+"l")] = model.LabelValue(strs[rng.Intn(len(strs))])
			}
			vec = append(vec, &model.Sample{Metric: m, Value: model.SampleValue(vals[rng.Intn(len(vals))]), Timestamp: model.Time(rng.Int63n(1 << 42))})
		}
		b, err := json.Marshal(vec)
		if err != nil {
			t.Fatal(err)
		}
		if n%2 == 1 { // reformatted with whitespace
			var v any
			_ = json.Unmarshal(b, &v)
			b, _ = json.MarshalIndent(v, " ", "\t")
			b = []byte(strings.ReplaceAll(string(b), `"value": [`, `"value" : [ `))
		}
		got, err := decodeVector(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		var want model.Vector
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d samples, want %d", b, len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			same := g.Timestamp == w.Timestamp && (g.Value == w.Value || math.IsNaN(float64(g.Value)) && math.IsNaN(float64(w.Value)))
			if !same || !reflect.DeepEqual(g.Metric, w.Metric) {
				t.Fatalf("%s\nsample %d: got %v, want %v", b, i, g, w)
			}
		}
	}
}

func TestDecodeVectorErrors(t *testing.T) {
	for _, in := range []string{`{}`, `[{"metric":{"a":1},"value":[1,"2"]}]`, `[{"value":[1,2]}]`, `[{"value":[1,"x"]}]`, `[{"value":[1,"2"]} {}]`, `[{"metric":{"a" "b"}}]`} {
		if _, err := decodeVector([]byte(in)); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
	vec, err := decodeVector([]byte(`[{"metric":null,"value":[1.0005,"3"],"extra":{"a":[1,{"b":"]"}]}},{}]`))
	if err != nil || len(vec) != 1 || vec[0].Timestamp != 1000 || vec[0].Value != 3 || vec[0].Metric == nil {
		t.Errorf("got %v %v", vec, err)
	}
}

// FuzzDecodeVector: the hand-written decoder of the metrics server's answers never panics, and
// whatever it accepts that encoding/json also accepts as a vector decodes to the same samples.
func FuzzDecodeVector(f *testing.F) {
	for _, s := range []string{
		`[]`,
		`[{"metric":{"pod":"web-1","namespace":"default"},"value":[1700000000.123,"42.5"]}]`,
		`[{"metric":{},"value":[1,"NaN"]},{"metric":{"a":"b"},"value":[2,"+Inf"]}]`,
		`[{"metric":null,"value":[1.0005,"3"],"extra":{"a":[1,{"b":"]"}]}},{}]`,
		`[{"metric":{"a\u00e9\"":"x\\y\n"},"value":[1e3,"-1e-300"]}]`,
		`[{"value":[1,"x"]}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeVector(b)
		if err != nil {
			return
		}
		// The reference: encoding/json on the exact keys "metric" and "value" (servers send
		// them in lower case; encoding/json would also match other cases), samples without a
		// value (native histograms) left out as the decoder does.
		var objs []map[string]json.RawMessage
		if json.Unmarshal(b, &objs) != nil {
			return // lenient where encoding/json is strict: no reference
		}
		var want model.Vector
		for _, o := range objs {
			v, ok := o["value"]
			if !ok {
				continue
			}
			w := &model.Sample{Metric: model.Metric{}}
			var pair model.SamplePair
			if json.Unmarshal(v, &pair) != nil {
				return
			}
			if m, ok := o["metric"]; ok && json.Unmarshal(m, &w.Metric) != nil {
				return
			}
			w.Timestamp, w.Value = pair.Timestamp, pair.Value
			want = append(want, w)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d samples, encoding/json %d", b, len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			same := g.Timestamp == w.Timestamp && (g.Value == w.Value || math.IsNaN(float64(g.Value)) && math.IsNaN(float64(w.Value)))
			if !same || len(g.Metric) != len(w.Metric) {
				t.Fatalf("%q sample %d: got %v, encoding/json %v", b, i, g, w)
			}
			for k, v := range w.Metric {
				if g.Metric[k] != v {
					t.Fatalf("%q sample %d label %s: got %q, encoding/json %q", b, i, k, g.Metric[k], v)
				}
			}
		}
	})
}
