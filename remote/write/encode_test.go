package write

import (
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
)

// FuzzEncodeV1 checks Vigil's hand-written 1.0 encoding against the upstream prompb decoder.
func FuzzEncodeV1(f *testing.F) {
	f.Add("up", "job", "node", int64(1700000000000), 1.5, int64(-5), math.Inf(1))
	f.Add("", "a", "", int64(0), 0.0, int64(math.MinInt64), math.NaN())
	f.Add("x\xffy", "é", "long value with spaces", int64(math.MaxInt64), -0.0, int64(1), 3.0)
	f.Fuzz(func(t *testing.T, name, ln, lv string, t1 int64, v1 float64, t2 int64, v2 float64) {
		lset := labels.FromStrings("__name__", name, ln, lv)
		g := newArenaGen()
		off, _, _, ok := encodeSeries(g, lset, nil, nil)
		if !ok {
			t.Fatal("arena full")
		}
		b := appendSampleV1(nil, g, off, t1, v1)
		b = appendSampleV1(b, g, off, t2, v2)
		var req prompb.WriteRequest
		if err := req.Unmarshal(b); err != nil {
			t.Fatalf("upstream cannot decode: %v", err)
		}
		if len(req.Timeseries) != 2 {
			t.Fatalf("%d timeseries", len(req.Timeseries))
		}
		sb := labels.NewScratchBuilder(0)
		for i, want := range []prompb.Sample{{Value: v1, Timestamp: t1}, {Value: v2, Timestamp: t2}} {
			ts := req.Timeseries[i]
			if got := ts.ToLabels(&sb, nil); !labels.Equal(got, lset) {
				t.Fatalf("labels %v, want %v", got, lset)
			}
			if len(ts.Samples) != 1 || ts.Samples[0].Timestamp != want.Timestamp ||
				math.Float64bits(ts.Samples[0].Value) != math.Float64bits(want.Value) {
				t.Fatalf("samples %v, want %v", ts.Samples, want)
			}
		}
	})
}

// FuzzRetryAfter: any Retry-After header gives a non-negative wait.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "5", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if d := retryAfter(v); d < 0 {
			t.Fatalf("retryAfter(%q) = %v", v, d)
		}
	})
}

func TestTrackerCommitted(t *testing.T) {
	tr := newTracker(position{0, 0})
	s1 := tr.add(position{0, 10}, 2)
	s2 := tr.add(position{0, 20}, 1)
	tr.read(position{0, 30})
	if got := tr.committed(); got != (position{0, 10}) {
		t.Fatalf("committed %v", got)
	}
	tr.done([]sample{{seq: s2}})
	if got := tr.committed(); got != (position{0, 10}) {
		t.Fatalf("a later record done moved the position: %v", got)
	}
	tr.done([]sample{{seq: s1}, {seq: s1}})
	if got := tr.committed(); got != (position{0, 30}) {
		t.Fatalf("all done: committed %v, want the read position", got)
	}
}
