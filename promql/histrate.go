package promql

import (
	"sort"

	"github.com/prometheus/prometheus/model/histogram"
)

// histRateScratch is what rate, increase and delta over native histograms keep from one step
// to the next of a series (upHistogramRate): the counter-reset verdict of each pair of
// consecutive samples, computed once per pair instead of once per pair and window, and the
// result histograms the consumer handed back (recycle), copied into instead of allocated.
// DetectReset depends on the two histograms only, and a series holds one sample per
// timestamp, so a pair is known by its two timestamps within a series.
type histRateScratch struct {
	t, prevT []int64 // the later and the earlier sample's timestamp, ascending by t
	reset    []bool
	out      []bool
	free     []*histogram.FloatHistogram
}

// startSeries forgets the previous series' verdicts.
func (s *histRateScratch) startSeries() {
	s.t, s.prevT, s.reset = s.t[:0], s.prevT[:0], s.reset[:0]
}

// resets returns, for each i ≥ 1, points[i].H.DetectReset(points[i-1].H) (false where either
// is nil); the slice is reused at the next call.
func (s *histRateScratch) resets(points []HPoint) []bool {
	s.out = append(s.out[:0], false)
	if len(points) < 2 {
		return s.out
	}
	j := sort.Search(len(s.t), func(k int) bool { return s.t[k] >= points[1].T })
	if j > 256 && j > len(s.t)/2 {
		// Drop the verdicts of pairs the windows have left behind.
		n := copy(s.t, s.t[j:])
		copy(s.prevT, s.prevT[j:])
		copy(s.reset, s.reset[j:])
		s.t, s.prevT, s.reset = s.t[:n], s.prevT[:n], s.reset[:n]
		j = 0
	}
	for i := 1; i < len(points); i++ {
		cur, prev := points[i], points[i-1]
		for j < len(s.t) && s.t[j] < cur.T {
			j++
		}
		if j < len(s.t) && s.t[j] == cur.T && s.prevT[j] == prev.T {
			s.out = append(s.out, s.reset[j])
			j++
			continue
		}
		r := cur.H != nil && prev.H != nil && cur.H.DetectReset(prev.H)
		s.out = append(s.out, r)
		if j == len(s.t) {
			s.t, s.prevT, s.reset = append(s.t, cur.T), append(s.prevT, prev.T), append(s.reset, r)
			j++
		}
	}
	return s.out
}

// copyToSchema is h.CopyToSchema(schema), into a recycled histogram when there is one.
func (s *histRateScratch) copyToSchema(h *histogram.FloatHistogram, schema int32) *histogram.FloatHistogram {
	if s == nil || len(s.free) == 0 || schema != h.Schema || h.UsesCustomBuckets() {
		return h.CopyToSchema(schema)
	}
	c := s.free[len(s.free)-1]
	s.free[len(s.free)-1] = nil
	s.free = s.free[:len(s.free)-1]
	h.CopyTo(c)
	return c
}

// recycle takes back result histograms the consumer no longer references.
func (s *histRateScratch) recycle(hs []HPoint) {
	for _, p := range hs {
		if p.H != nil {
			s.free = append(s.free, p.H)
		}
	}
}
