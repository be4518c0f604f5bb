// Copyright The Prometheus Authors
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// Modified by Vigil: ported from github.com/prometheus/prometheus promql/promqltest/test.go (v0.315.0).

package promqltest

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/util/almost"
	"github.com/prometheus/prometheus/util/convertnhcb"
)

// HistogramTestExpression returns the test notation of h, or "" for nil.
func HistogramTestExpression(h *histogram.FloatHistogram) string {
	if h != nil {
		return h.TestExpression()
	}
	return ""
}

// withNHCB adds to the load, as load_with_nhcb does upstream, the native histograms with
// custom buckets converted from the classic histogram series (_bucket/_count/_sum) it defines.
func (cmd *Load) withNHCB() error {
	type wrapper struct {
		metric labels.Labels
		byTS   map[int64]convertnhcb.TempHistogram
	}
	hmap := map[uint64]*wrapper{}
	var order []uint64
	process := func(m labels.Labels, name string, pts []Point, update func(*convertnhcb.TempHistogram, float64)) {
		m2 := convertnhcb.GetHistogramMetricBase(m, name)
		h := m2.Hash()
		w, ok := hmap[h]
		if !ok {
			w = &wrapper{byTS: map[int64]convertnhcb.TempHistogram{}}
			hmap[h] = w
			order = append(order, h)
		}
		w.metric = m2
		for _, p := range pts {
			if p.H != nil || p.FH != nil {
				continue
			}
			th, ok := w.byTS[p.T]
			if !ok {
				th = convertnhcb.NewTempHistogram()
			}
			update(&th, p.F)
			w.byTS[p.T] = th
		}
	}
	for _, s := range cmd.Series {
		suffix, name := convertnhcb.GetHistogramMetricBaseName(s.Metric.Get(labels.MetricName))
		switch suffix {
		case convertnhcb.SuffixBucket:
			if !s.Metric.Has(labels.BucketLabel) {
				return fmt.Errorf("expected bucket label in metric %s", s.Metric)
			}
			le, err := strconv.ParseFloat(s.Metric.Get(labels.BucketLabel), 64)
			if err != nil || math.IsNaN(le) {
				continue
			}
			process(s.Metric, name, s.Samples, func(th *convertnhcb.TempHistogram, f float64) { _ = th.SetBucketCount(le, f) })
		case convertnhcb.SuffixCount:
			process(s.Metric, name, s.Samples, func(th *convertnhcb.TempHistogram, f float64) { _ = th.SetCount(f) })
		case convertnhcb.SuffixSum:
			process(s.Metric, name, s.Samples, func(th *convertnhcb.TempHistogram, f float64) { _ = th.SetSum(f) })
		}
	}
	for _, h := range order {
		w := hmap[h]
		ls := LoadSeries{Metric: w.metric}
		for t, th := range w.byTS {
			ih, fh, err := th.Convert()
			if err != nil {
				return err
			}
			if fh == nil {
				if err := ih.Validate(); err != nil {
					return err
				}
				fh = ih.ToFloat(nil)
			}
			if err := fh.Validate(); err != nil {
				return err
			}
			ls.Samples = append(ls.Samples, Point{T: t, FH: fh})
		}
		sort.Slice(ls.Samples, func(i, j int) bool { return ls.Samples[i].T < ls.Samples[j].T })
		cmd.Series = append(cmd.Series, ls)
	}
	return nil
}

// compareNativeHistogram compares two native histograms, tolerating small differences in the
// float fields. The counter reset hint is compared only when the expectation sets it.
func compareNativeHistogram(exp, cur *histogram.FloatHistogram, counterResetHintSet bool) bool {
	if exp == nil || cur == nil {
		return false
	}
	if exp.Schema != cur.Schema ||
		!almost.Equal(exp.Count, cur.Count, defaultEpsilon) ||
		!almost.Equal(exp.Sum, cur.Sum, defaultEpsilon) {
		return false
	}
	if exp.UsesCustomBuckets() {
		if !histogram.CustomBucketBoundsMatch(exp.CustomValues, cur.CustomValues) {
			return false
		}
	}
	if exp.ZeroThreshold != cur.ZeroThreshold ||
		!almost.Equal(exp.ZeroCount, cur.ZeroCount, defaultEpsilon) {
		return false
	}
	if !spansMatch(exp.NegativeSpans, cur.NegativeSpans) || !floatBucketsMatch(exp.NegativeBuckets, cur.NegativeBuckets) {
		return false
	}
	if !spansMatch(exp.PositiveSpans, cur.PositiveSpans) || !floatBucketsMatch(exp.PositiveBuckets, cur.PositiveBuckets) {
		return false
	}
	if counterResetHintSet && exp.CounterResetHint != cur.CounterResetHint {
		return false
	}
	return true
}

func floatBucketsMatch(b1, b2 []float64) bool {
	if len(b1) != len(b2) {
		return false
	}
	for i, b := range b1 {
		if !almost.Equal(b, b2[i], defaultEpsilon) {
			return false
		}
	}
	return true
}

func spansMatch(s1, s2 []histogram.Span) bool {
	if len(s1) == 0 && len(s2) == 0 {
		return true
	}

	s1idx, s2idx := 0, 0
	for {
		if s1idx >= len(s1) {
			return allEmptySpans(s2[s2idx:])
		}
		if s2idx >= len(s2) {
			return allEmptySpans(s1[s1idx:])
		}

		currS1, currS2 := s1[s1idx], s2[s2idx]
		s1idx++
		s2idx++
		if currS1.Length == 0 {
			// This span is zero length, so we add consecutive such spans
			// until we find a non-zero span.
			for ; s1idx < len(s1) && s1[s1idx].Length == 0; s1idx++ {
				currS1.Offset += s1[s1idx].Offset
			}
			if s1idx < len(s1) {
				currS1.Offset += s1[s1idx].Offset
				currS1.Length = s1[s1idx].Length
				s1idx++
			}
		}
		if currS2.Length == 0 {
			// This span is zero length, so we add consecutive such spans
			// until we find a non-zero span.
			for ; s2idx < len(s2) && s2[s2idx].Length == 0; s2idx++ {
				currS2.Offset += s2[s2idx].Offset
			}
			if s2idx < len(s2) {
				currS2.Offset += s2[s2idx].Offset
				currS2.Length = s2[s2idx].Length
				s2idx++
			}
		}

		if currS1.Length == 0 && currS2.Length == 0 {
			// The last spans of both set are zero length. Previous spans match.
			return true
		}

		if currS1.Offset != currS2.Offset || currS1.Length != currS2.Length {
			return false
		}
	}
}

func allEmptySpans(s []histogram.Span) bool {
	for _, ss := range s {
		if ss.Length > 0 {
			return false
		}
	}
	return true
}
