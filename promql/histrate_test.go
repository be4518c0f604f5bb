package promql

import (
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser/posrange"
)

// histRatePoints is a counter histogram series at 15s with counter resets at the given steps
// and, from step schemaFrom on, a lower schema.
func histRatePoints(n int, resetAt map[int]bool, schemaFrom int) []HPoint {
	pts := make([]HPoint, n)
	c := 0.0
	for i := range pts {
		if resetAt[i] {
			c = 0
		}
		c += float64(1 + i%3)
		schema := int32(3)
		if i >= schemaFrom {
			schema = 2
		}
		pts[i] = HPoint{T: int64(i) * 15000, H: &histogram.FloatHistogram{
			Schema: schema, Count: 4 * c, Sum: c * 1.5, ZeroCount: c,
			PositiveSpans:   []histogram.Span{{Offset: -1, Length: 3}},
			PositiveBuckets: []float64{c, 2 * c, 0},
		}}
	}
	return pts
}

// TestHistRateScratch checks that upHistogramRate with the scratch (verdicts kept across
// windows, recycled results) returns what upstream's code returns without it, over windows
// that slide, jump, repeat and change series.
func TestHistRateScratch(t *testing.T) {
	cases := []struct {
		name       string
		resets     map[int]bool
		schemaFrom int
		width      int // points per window
		stride     int // points the window moves per step (0: same window again)
	}{
		{"no resets", nil, 1000, 20, 1},
		{"resets", map[int]bool{5: true, 6: true, 30: true, 31: true}, 1000, 20, 1},
		{"reset after first", map[int]bool{1: true, 21: true, 41: true}, 1000, 20, 1},
		{"jumping windows", map[int]bool{10: true, 50: true}, 1000, 8, 13},
		{"same window", map[int]bool{3: true}, 1000, 6, 0},
		{"schema change", map[int]bool{12: true}, 40, 10, 1},
		{"two points", map[int]bool{7: true}, 1000, 2, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := &histRateScratch{}
			for series := range 2 {
				pts := histRatePoints(600, c.resets, c.schemaFrom)
				if series == 1 {
					// Same timestamps, other values: the verdicts must not carry over.
					pts = histRatePoints(600, map[int]bool{2: true, 9: true, 33: true}, c.schemaFrom)
				}
				rs.startSeries()
				var kept []HPoint
				for start := 0; start+c.width <= len(pts) && start < 400; start += max(c.stride, 1) {
					win := pts[start : start+c.width]
					want, wantAnnos := upHistogramRate(win, nil, true, labels.EmptyLabels(), posrange.PositionRange{}, nil)
					got, gotAnnos := upHistogramRate(win, nil, true, labels.EmptyLabels(), posrange.PositionRange{}, rs)
					if (want == nil) != (got == nil) || want != nil && !want.Equals(got) || len(wantAnnos) != len(gotAnnos) {
						t.Fatalf("series %d window at %d: got %v (%d annotations), want %v (%d)", series, start, got, len(gotAnnos), want, len(wantAnnos))
					}
					if got != nil {
						kept = append(kept, HPoint{H: got})
					}
					if len(kept) == 3 {
						rs.recycle(kept)
						kept = kept[:0]
					}
					if c.stride == 0 && start > 40 {
						break
					}
				}
			}
		})
	}
}

// TestHistRateScratchResets checks the verdicts themselves against DetectReset.
func TestHistRateScratchResets(t *testing.T) {
	pts := histRatePoints(300, map[int]bool{4: true, 5: true, 100: true, 250: true}, 1000)
	rs := &histRateScratch{}
	for _, w := range []struct{ lo, hi int }{{0, 20}, {1, 21}, {0, 21}, {15, 40}, {10, 30}, {200, 299}, {298, 300}, {299, 300}} {
		win := pts[w.lo:w.hi]
		got := rs.resets(win)
		for i := 1; i < len(win); i++ {
			if want := win[i].H.DetectReset(win[i-1].H); got[i] != want {
				t.Errorf("window %v, point %d: reset %v, want %v", w, i, got[i], want)
			}
		}
		if len(got) != len(win) {
			t.Errorf("window %v: %d verdicts for %d points", w, len(got), len(win))
		}
	}
}
