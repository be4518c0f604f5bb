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
	if err != nil || len(vec) != 1 || vec[0].Timestamp != 1001 || vec[0].Value != 3 || vec[0].Metric == nil {
		t.Errorf("got %v %v", vec, err)
	}
}
