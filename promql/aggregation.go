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
// Modified by Vigil: parts ported from github.com/prometheus/prometheus promql/engine.go (v0.315.0).

package promql

import (
	"container/heap"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/prometheus/prometheus/util/kahansum"
)

// groupedAggregation is the running state of one output group at one step.
type groupedAggregation struct {
	floatValue        float64
	floatMean         float64
	floatKahanC       float64
	groupCount        float64
	heap              vectorByValueHeap
	seen              bool
	incrementalMean   bool
	groupAggrComplete bool
	dropName          bool
	hasFloat          bool     // sum/avg: a float was folded in
	hist              *histAcc // sum/avg: native histograms folded in
}

// evalAggregation evaluates an aggregation. Group membership is computed once per input
// series (one label hash per series), then the groups are folded step by step.
func (ev *evaluator) evalAggregation(e *parser.AggregateExpr) Value {
	sortedGrouping := slices.Clone(e.Grouping)
	slices.Sort(sortedGrouping)

	if e.Op == parser.COUNT_VALUES {
		valueLabel := unwrapParens(e.Param).(*parser.StringLiteral)
		if !model.UTF8Validation.IsValidLabelName(valueLabel.Val) {
			ev.errorf("invalid label name %s", valueLabel)
		}
		if !e.Without {
			sortedGrouping = append(sortedGrouping, valueLabel.Val)
			slices.Sort(sortedGrouping)
		}
		return ev.rangeEval(nil, func(v []Vector, enh *evalNodeHelper) Vector {
			return aggregationCountValues(e, sortedGrouping, valueLabel.Val, v[0], enh)
		}, e.Expr)
	}

	if streamableAgg(e.Op) {
		if res, ok := ev.streamAggregation(e, sortedGrouping); ok {
			return res
		}
	}
	var params []float64
	if e.Param != nil && ev.exprType(e.Param) == parser.ValueTypeScalar {
		params = ev.scalarValues(e.Param)
	}
	origSamples := ev.currentSamples
	switch e.Op {
	case parser.TOPK, parser.BOTTOMK, parser.LIMITK, parser.LIMIT_RATIO:
		if res, ok := ev.streamAggregationK(e, sortedGrouping, params); ok {
			ev.currentSamples = origSamples + res.TotalSamples()
			return res
		}
	}
	input := ev.eval(e.Expr).(Matrix)
	result := ev.aggregateMatrix(e, sortedGrouping, input, params)
	ev.currentSamples = origSamples + result.TotalSamples()
	return result
}

// paramStats returns the extremes of an aggregation parameter over the steps. As in
// Prometheus, a NaN makes both extremes NaN (math.Max/Min propagate it).
func paramStats(params []float64) (minV, maxV float64, hasNaN bool) {
	if len(params) == 0 {
		return 0, 0, false
	}
	minV, maxV = math.MaxFloat64, -math.MaxFloat64
	for _, p := range params {
		maxV, minV = math.Max(maxV, p), math.Min(minV, p)
		hasNaN = hasNaN || math.IsNaN(p)
	}
	return minV, maxV, hasNaN
}

// checkAggParams validates the parameter of topk, bottomk, limitk, limit_ratio and quantile
// as Prometheus does; skip is set when the parameter makes the result empty.
func (ev *evaluator) checkAggParams(e *parser.AggregateExpr, params []float64) (skip bool) {
	minP, maxP, hasNaN := paramStats(params)
	switch e.Op {
	case parser.TOPK, parser.BOTTOMK, parser.LIMITK:
		if maxP < 1 {
			return true
		}
		if hasNaN {
			ev.errorf("Parameter value is NaN")
		}
		if minP <= minInt64 {
			ev.errorf("Scalar value %v underflows int64", minP)
		}
		if maxP >= maxInt64 {
			ev.errorf("Scalar value %v overflows int64", maxP)
		}
	case parser.LIMIT_RATIO:
		if maxP == 0 && minP == 0 {
			return true
		}
		if hasNaN {
			ev.errorf("Ratio value is NaN")
		}
		if maxP > 1.0 {
			ev.warn(annotations.NewInvalidRatioWarning(maxP, 1.0, e.Param.PositionRange()))
		}
		if minP < -1.0 {
			ev.warn(annotations.NewInvalidRatioWarning(minP, -1.0, e.Param.PositionRange()))
		}
	case parser.QUANTILE:
		if hasNaN {
			ev.warn(annotations.NewInvalidQuantileWarning(math.NaN(), e.Param.PositionRange()))
		}
		if maxP > 1 {
			ev.warn(annotations.NewInvalidQuantileWarning(maxP, e.Param.PositionRange()))
		}
		if minP < 0 {
			ev.warn(annotations.NewInvalidQuantileWarning(minP, e.Param.PositionRange()))
		}
	}
	return false
}

func (ev *evaluator) aggregateMatrix(e *parser.AggregateExpr, sortedGrouping []string, input Matrix, params []float64) Matrix {
	enh := &evalNodeHelper{}
	buf := make([]byte, 0, 1024)
	groupToResult := make(map[uint64]int)
	seriesToResult := make([]int, len(input))
	var result Matrix
	kOp := e.Op == parser.TOPK || e.Op == parser.BOTTOMK || e.Op == parser.LIMITK || e.Op == parser.LIMIT_RATIO
	numSteps := ev.numSteps()
	for si, s := range input {
		var key uint64
		key, buf = generateGroupingKey(s.Metric, sortedGrouping, e.Without, buf)
		idx, ok := groupToResult[key]
		if !ok {
			idx = len(groupToResult)
			groupToResult[key] = idx
			if !kOp {
				m := generateGroupingLabels(enh, s.Metric, e.Without, sortedGrouping)
				result = append(result, Series{Metric: m})
			}
		}
		seriesToResult[si] = idx
	}
	groups := make([]groupedAggregation, len(groupToResult))

	var seriess map[uint64]int // topk & co: output series by labels hash
	if ev.checkAggParams(e, params) {
		return nil
	}
	if kOp {
		seriess = make(map[uint64]int, len(input))
	}

	var kResult Matrix
	step := 0
	for ts := ev.startTS; ts <= ev.endTS; ts, step = ts+ev.interval, step+1 {
		ev.checkCtx()
		var p float64
		if params != nil {
			p = params[step]
		}
		enh.Ts = ts
		if kOp {
			kResult = ev.aggregationK(e, p, input, seriesToResult, groups, enh, seriess, kResult, numSteps)
		} else {
			ev.aggregation(e, p, input, result, seriesToResult, groups, enh, numSteps)
		}
	}
	if kOp {
		return kResult
	}
	dst := 0
	for _, s := range result {
		if len(s.Floats) > 0 || len(s.Histograms) > 0 {
			result[dst] = s
			dst++
		}
	}
	return result[:dst]
}

// nextValue consumes the float point of series at ts, if it has one.
func nextValue(ts int64, s *Series) (float64, bool) {
	if len(s.Floats) > 0 && s.Floats[0].T == ts {
		f := s.Floats[0].F
		s.Floats = s.Floats[1:]
		return f, true
	}
	return 0, false
}

// nextValues consumes the point of series at ts, float or histogram, if it has one.
func nextValues(ts int64, s *Series) (float64, *histogram.FloatHistogram, bool) {
	if f, ok := nextValue(ts, s); ok {
		return f, nil, true
	}
	if len(s.Histograms) > 0 && s.Histograms[0].T == ts {
		h := s.Histograms[0].H
		s.Histograms = s.Histograms[1:]
		return 0, h, true
	}
	return 0, nil, false
}

func (ev *evaluator) aggregation(e *parser.AggregateExpr, q float64, input, output Matrix, seriesToResult []int, groups []groupedAggregation, enh *evalNodeHelper, numSteps int) {
	op := e.Op
	for i := range groups {
		groups[i].seen = false
	}
	for si := range input {
		f, h, ok := nextValues(enh.Ts, &input[si])
		if !ok {
			continue
		}
		group := &groups[seriesToResult[si]]
		if h != nil {
			switch op {
			case parser.SUM, parser.AVG:
				if !group.seen {
					*group = groupedAggregation{seen: true, groupCount: 1, dropName: input[si].dropName, hist: &histAcc{}}
				} else {
					group.groupCount++
					if input[si].dropName {
						group.dropName = true
					}
				}
				if group.hist == nil {
					group.hist = &histAcc{}
				}
				ev.histAccAdd(group.hist, e, h, input[si].Metric.Get(labels.MetricName))
				continue
			case parser.COUNT, parser.GROUP:
				f = 0
			default:
				if name, ignored := histAggIgnored(op); ignored {
					ev.warn(annotations.NewHistogramIgnoredInAggregationInfo(name, e.Expr.PositionRange()))
				}
				continue
			}
		}
		if !group.seen {
			*group = groupedAggregation{seen: true, floatValue: f, floatMean: f, groupCount: 1, dropName: input[si].dropName, hasFloat: true}
			switch op {
			case parser.STDVAR, parser.STDDEV:
				if math.IsNaN(f) || math.IsInf(f, 0) {
					group.floatValue = math.NaN()
				} else {
					group.floatValue = 0
				}
			case parser.QUANTILE:
				group.heap = append(group.heap[:0], Sample{F: f})
			case parser.GROUP:
				group.floatValue = 1
			}
			continue
		}
		if input[si].dropName {
			group.dropName = true
		}
		group.hasFloat = true
		switch op {
		case parser.SUM:
			group.floatValue, group.floatKahanC = kahansum.Inc(f, group.floatValue, group.floatKahanC)
		case parser.AVG:
			group.groupCount++
			if !group.incrementalMean {
				newV, newC := kahansum.Inc(f, group.floatValue, group.floatKahanC)
				if !math.IsInf(newV, 0) {
					// The sum is still finite: keep summing, divide at the end.
					group.floatValue, group.floatKahanC = newV, newC
					break
				}
				// Overflow: switch to an incremental mean from here on.
				group.incrementalMean = true
				group.floatMean = group.floatValue / (group.groupCount - 1)
				group.floatKahanC /= group.groupCount - 1
			}
			qq := (group.groupCount - 1) / group.groupCount
			group.floatMean, group.floatKahanC = kahansum.Inc(f/group.groupCount, qq*group.floatMean, qq*group.floatKahanC)
		case parser.GROUP:
		case parser.MAX:
			if group.floatValue < f || math.IsNaN(group.floatValue) {
				group.floatValue = f
			}
		case parser.MIN:
			if group.floatValue > f || math.IsNaN(group.floatValue) {
				group.floatValue = f
			}
		case parser.COUNT:
			group.groupCount++
		case parser.STDVAR, parser.STDDEV:
			group.groupCount++
			delta := f - group.floatMean
			group.floatMean += delta / group.groupCount
			group.floatValue += delta * (f - group.floatMean)
		case parser.QUANTILE:
			group.heap = append(group.heap, Sample{F: f})
		default:
			ev.errorf("expected aggregation operator but got %q", op)
		}
	}
	for ri := range groups {
		aggr := &groups[ri]
		if !aggr.seen {
			continue
		}
		if aggr.hist != nil {
			if h := ev.histAccResult(aggr.hist, e, aggr.hasFloat); h != nil {
				ss := &output[ri]
				ss.Histograms = append(ss.Histograms, HPoint{T: enh.Ts, H: h})
				ss.dropName = aggr.dropName
			}
			aggr.hist = nil
			continue
		}
		switch op {
		case parser.AVG:
			if aggr.incrementalMean {
				aggr.floatValue = aggr.floatMean + aggr.floatKahanC
			} else {
				aggr.floatValue = aggr.floatValue/aggr.groupCount + aggr.floatKahanC/aggr.groupCount
			}
		case parser.COUNT:
			aggr.floatValue = aggr.groupCount
		case parser.STDVAR:
			aggr.floatValue /= aggr.groupCount
		case parser.STDDEV:
			aggr.floatValue = math.Sqrt(aggr.floatValue / aggr.groupCount)
		case parser.QUANTILE:
			aggr.floatValue = quantile(q, aggr.heap)
		case parser.SUM:
			aggr.floatValue += aggr.floatKahanC
		}
		ss := &output[ri]
		if ss.Floats == nil {
			ss.Floats = make([]FPoint, 0, min(numSteps, maxPrealloc))
		}
		ss.Floats = append(ss.Floats, FPoint{T: enh.Ts, F: aggr.floatValue})
		ss.dropName = aggr.dropName
	}
	ev.addSamples(len(groups))
}

// aggregationK implements topk, bottomk, limitk and limit_ratio at one step, appending the
// selected samples to the output series (by input labels).
func (ev *evaluator) aggregationK(e *parser.AggregateExpr, fParam float64, input Matrix, seriesToResult []int, groups []groupedAggregation, enh *evalNodeHelper, seriess map[uint64]int, out Matrix, numSteps int) Matrix {
	op := e.Op
	groupsRemaining := len(groups)
	for i := range groups {
		groups[i].seen = false
	}
	// Every series must be advanced past this step even when we stop early.
	defer func() {
		for i := range input {
			nextValues(enh.Ts, &input[i])
		}
	}()

	var k int64
	var r float64
	switch op {
	case parser.TOPK, parser.BOTTOMK, parser.LIMITK:
		k = min(int64(fParam), int64(len(input)))
		if k < 1 {
			return out
		}
	case parser.LIMIT_RATIO:
		switch {
		case fParam == 0:
			return out
		case fParam < -1.0:
			r = -1.0
		case fParam > 1.0:
			r = 1.0
		default:
			r = fParam
		}
	}

	// One Sample for the whole loop: heap.Push takes a pointer, which would otherwise
	// allocate per input sample.
	var s Sample
seriesLoop:
	for si := range input {
		f, h, ok := nextValues(enh.Ts, &input[si])
		if !ok {
			continue
		}
		s = Sample{Metric: input[si].Metric, F: f, H: h, dropName: input[si].dropName}
		if h != nil && (op == parser.TOPK || op == parser.BOTTOMK) {
			name, _ := histAggIgnored(op)
			ev.warn(annotations.NewHistogramIgnoredInAggregationInfo(name, e.PositionRange()))
			continue
		}
		group := &groups[seriesToResult[si]]
		if !group.seen {
			*group = groupedAggregation{seen: true, heap: group.heap[:0]}
			switch op {
			case parser.LIMIT_RATIO:
				if addRatioSample(r, &s) {
					heap.Push(&group.heap, &s)
				}
			case parser.LIMITK:
				group.heap = append(group.heap, s)
				if int64(len(group.heap)) == k {
					group.groupAggrComplete = true
					groupsRemaining--
					if groupsRemaining == 0 {
						break seriesLoop
					}
				}
			case parser.TOPK:
				heap.Push(&group.heap, &s)
			case parser.BOTTOMK:
				heap.Push((*vectorByReverseValueHeap)(&group.heap), &s)
			}
			continue
		}
		switch op {
		case parser.TOPK:
			switch {
			case int64(len(group.heap)) < k:
				heap.Push(&group.heap, &s)
			case group.heap[0].F < s.F || (math.IsNaN(group.heap[0].F) && !math.IsNaN(s.F)):
				group.heap[0] = s
				if k > 1 {
					heap.Fix(&group.heap, 0)
				}
			}
		case parser.BOTTOMK:
			switch {
			case int64(len(group.heap)) < k:
				heap.Push((*vectorByReverseValueHeap)(&group.heap), &s)
			case group.heap[0].F > s.F || (math.IsNaN(group.heap[0].F) && !math.IsNaN(s.F)):
				group.heap[0] = s
				if k > 1 {
					heap.Fix((*vectorByReverseValueHeap)(&group.heap), 0)
				}
			}
		case parser.LIMITK:
			if int64(len(group.heap)) < k {
				group.heap = append(group.heap, s)
			}
			if !group.groupAggrComplete && int64(len(group.heap)) == k {
				group.groupAggrComplete = true
				groupsRemaining--
				if groupsRemaining == 0 {
					break seriesLoop
				}
			}
		case parser.LIMIT_RATIO:
			if addRatioSample(r, &s) {
				heap.Push(&group.heap, &s)
			}
		}
	}

	add := func(s Sample) {
		if ev.startTS == ev.endTS {
			if s.H != nil {
				out = append(out, Series{Metric: s.Metric, Histograms: []HPoint{{T: enh.Ts, H: s.H}}, dropName: s.dropName})
				return
			}
			out = append(out, Series{Metric: s.Metric, Floats: []FPoint{{T: enh.Ts, F: s.F}}, dropName: s.dropName})
			return
		}
		h := s.Metric.Hash()
		idx, ok := seriess[h]
		if !ok {
			idx = len(out)
			seriess[h] = idx
			out = append(out, Series{Metric: s.Metric, dropName: s.dropName})
		}
		if s.H != nil {
			out[idx].Histograms = append(out[idx].Histograms, HPoint{T: enh.Ts, H: s.H})
			return
		}
		if out[idx].Floats == nil {
			out[idx].Floats = make([]FPoint, 0, min(numSteps, maxPrealloc))
		}
		out[idx].Floats = append(out[idx].Floats, FPoint{T: enh.Ts, F: s.F})
	}
	n := 0
	for gi := range groups {
		aggr := &groups[gi]
		if !aggr.seen {
			continue
		}
		switch op {
		case parser.TOPK:
			if len(aggr.heap) > 1 {
				sort.Sort(sort.Reverse(aggr.heap))
			}
		case parser.BOTTOMK:
			if len(aggr.heap) > 1 {
				sort.Sort(sort.Reverse((*vectorByReverseValueHeap)(&aggr.heap)))
			}
		}
		for _, v := range aggr.heap {
			add(v)
			n++
		}
	}
	ev.addSamples(n)
	return out
}

// addRatioSample decides deterministically, from the hash of its labels, whether a series is
// in the limit_ratio sample (the same series for the same ratio at every step and query).
func addRatioSample(ratioLimit float64, s *Sample) bool {
	sampleOffset := float64(s.Metric.Hash()) / float64(math.MaxUint64)
	return (ratioLimit >= 0 && sampleOffset < ratioLimit) ||
		(ratioLimit < 0 && sampleOffset >= (1.0+ratioLimit))
}

func aggregationCountValues(e *parser.AggregateExpr, grouping []string, valueLabel string, vec Vector, enh *evalNodeHelper) Vector {
	type groupCount struct {
		labels labels.Labels
		count  int
	}
	result := map[uint64]*groupCount{}
	var order []uint64
	var buf []byte
	for _, s := range vec {
		enh.resetBuilder(s.Metric)
		if s.H != nil {
			enh.lb.Set(valueLabel, s.H.String())
		} else {
			enh.lb.Set(valueLabel, strconv.FormatFloat(s.F, 'f', -1, 64))
		}
		metric := enh.lb.Labels()
		var key uint64
		key, buf = generateGroupingKey(metric, grouping, e.Without, buf)
		group, ok := result[key]
		if !ok {
			result[key] = &groupCount{labels: generateGroupingLabels(enh, metric, e.Without, grouping), count: 1}
			order = append(order, key)
			continue
		}
		group.count++
	}
	for _, key := range order {
		aggr := result[key]
		enh.Out = append(enh.Out, Sample{Metric: aggr.labels, F: float64(aggr.count)})
	}
	return enh.Out
}

func generateGroupingKey(metric labels.Labels, grouping []string, without bool, buf []byte) (uint64, []byte) {
	if without {
		return metric.HashWithoutLabels(buf, grouping...)
	}
	if len(grouping) == 0 {
		// No grouping: everything in one group, no hashing needed.
		return 0, buf
	}
	return metric.HashForLabels(buf, grouping...)
}

func generateGroupingLabels(enh *evalNodeHelper, metric labels.Labels, without bool, grouping []string) labels.Labels {
	enh.resetBuilder(metric)
	switch {
	case without:
		enh.lb.Del(grouping...)
		enh.lb.Del(labels.MetricName)
		return enh.lb.Labels()
	case len(grouping) > 0:
		enh.lb.Keep(grouping...)
		return enh.lb.Labels()
	default:
		return labels.EmptyLabels()
	}
}

// streamableAgg tells whether an aggregation can fold its input one series at a time.
func streamableAgg(op parser.ItemType) bool {
	switch op {
	case parser.SUM, parser.AVG, parser.COUNT, parser.MIN, parser.MAX, parser.GROUP, parser.STDDEV, parser.STDVAR:
		return true
	}
	return false
}

// streamGroup accumulates one output group of a streamed aggregation, per step.
type streamGroup struct {
	metric   labels.Labels
	dropName bool
	value    []float64
	kahanC   []float64
	mean     []float64
	count    []float64 // 0: no input at this step
	incr     []bool    // avg switched to incremental mean (overflow)
	// hist holds, per step, the native histograms of a sum or avg (nil for float-only input).
	hist []*histAcc
}

// streamAggregation folds the input series of e into per-group, per-step accumulators as they
// are produced, so that e.g. sum(rate(x[5m])) over a range never holds the rate matrix. The
// fold order per step is the input series order, as in aggregation(), so results are equal.
func (ev *evaluator) streamAggregation(e *parser.AggregateExpr, sortedGrouping []string) (Matrix, bool) {
	n := ev.numSteps()
	enh := &evalNodeHelper{}
	buf := make([]byte, 0, 1024)
	groupIdx := map[uint64]int{}
	var groups []*streamGroup
	op := e.Op
	// streamAggHistograms copies or adds the histograms of sum/avg/count/group, keeping none.
	borrow := op == parser.SUM || op == parser.AVG || op == parser.COUNT || op == parser.GROUP
	ok := ev.streamBorrowing(e.Expr, borrow, func(s Series) {
		var key uint64
		key, buf = generateGroupingKey(s.Metric, sortedGrouping, e.Without, buf)
		gi, found := groupIdx[key]
		if !found {
			gi = len(groups)
			groupIdx[key] = gi
			// Account the group's per-step accumulators before allocating them.
			ev.addSamples(n)
			g := &streamGroup{
				metric: generateGroupingLabels(enh, s.Metric, e.Without, sortedGrouping),
				value:  make([]float64, n),
				count:  make([]float64, n),
			}
			switch op {
			case parser.SUM:
				g.kahanC = make([]float64, n)
			case parser.AVG:
				g.kahanC, g.mean, g.incr = make([]float64, n), make([]float64, n), make([]bool, n)
			case parser.STDDEV, parser.STDVAR:
				g.mean = make([]float64, n)
			}
			groups = append(groups, g)
		}
		g := groups[gi]
		if s.dropName {
			g.dropName = true
		}
		if len(s.Histograms) > 0 {
			ev.streamAggHistograms(e, g, s, n)
		}
		for _, p := range s.Floats {
			k := int((p.T - ev.startTS) / ev.interval)
			f := p.F
			if g.count[k] == 0 {
				g.count[k] = 1
				switch op {
				case parser.STDVAR, parser.STDDEV:
					g.mean[k] = f
					if math.IsNaN(f) || math.IsInf(f, 0) {
						g.value[k] = math.NaN()
					} else {
						g.value[k] = 0
					}
				case parser.GROUP:
					g.value[k] = 1
				case parser.AVG:
					g.value[k], g.mean[k] = f, f
				default:
					g.value[k] = f
				}
				continue
			}
			switch op {
			case parser.SUM:
				g.value[k], g.kahanC[k] = kahansum.Inc(f, g.value[k], g.kahanC[k])
			case parser.AVG:
				g.count[k]++
				cnt := g.count[k]
				if !g.incr[k] {
					newV, newC := kahansum.Inc(f, g.value[k], g.kahanC[k])
					if !math.IsInf(newV, 0) {
						g.value[k], g.kahanC[k] = newV, newC
						continue
					}
					g.incr[k] = true
					g.mean[k] = g.value[k] / (cnt - 1)
					g.kahanC[k] /= cnt - 1
				}
				q := (cnt - 1) / cnt
				g.mean[k], g.kahanC[k] = kahansum.Inc(f/cnt, q*g.mean[k], q*g.kahanC[k])
			case parser.MAX:
				if g.value[k] < f || math.IsNaN(g.value[k]) {
					g.value[k] = f
				}
			case parser.MIN:
				if g.value[k] > f || math.IsNaN(g.value[k]) {
					g.value[k] = f
				}
			case parser.COUNT, parser.GROUP:
				g.count[k]++
			case parser.STDVAR, parser.STDDEV:
				g.count[k]++
				delta := f - g.mean[k]
				g.mean[k] += delta / g.count[k]
				g.value[k] += delta * (f - g.mean[k])
			}
		}
		// The input series is folded in: it no longer occupies memory.
		ev.currentSamples -= len(s.Floats) + len(s.Histograms)
	})
	if !ok {
		return nil, false
	}
	out := make(Matrix, 0, len(groups))
	for _, g := range groups {
		pts := make([]FPoint, 0, n)
		var hpts []HPoint
		for k := range n {
			cnt := g.count[k]
			if g.hist != nil && g.hist[k] != nil {
				if h := ev.histAccResult(g.hist[k], e, cnt > 0); h != nil {
					hpts = append(hpts, HPoint{T: ev.startTS + int64(k)*ev.interval, H: h})
				}
				continue
			}
			if cnt == 0 {
				continue
			}
			v := g.value[k]
			switch op {
			case parser.SUM:
				v += g.kahanC[k]
			case parser.AVG:
				if g.incr[k] {
					v = g.mean[k] + g.kahanC[k]
				} else {
					v = v/cnt + g.kahanC[k]/cnt
				}
			case parser.COUNT:
				v = cnt
			case parser.STDVAR:
				v /= cnt
			case parser.STDDEV:
				v = math.Sqrt(v / cnt)
			}
			pts = append(pts, FPoint{T: ev.startTS + int64(k)*ev.interval, F: v})
		}
		if len(pts) > 0 || len(hpts) > 0 {
			out = append(out, Series{Metric: g.metric, Floats: pts, Histograms: hpts, dropName: g.dropName})
		}
	}
	ev.currentSamples -= len(groups) * n
	ev.addSamples(out.TotalSamples())
	return out, true
}

// streamAggregationK implements topk, bottomk, limitk and limit_ratio over a streamable input:
// each step keeps only its k candidates per group (a heap per group and step) instead of the
// whole input matrix. Series are offered to the heaps in input order, as in aggregationK, so
// ties resolve the same way.
func (ev *evaluator) streamAggregationK(e *parser.AggregateExpr, sortedGrouping []string, params []float64) (Matrix, bool) {
	n := ev.numSteps()
	op := e.Op
	ev.checkAlloc(n)
	ks := make([]int64, n)
	ratios := make([]float64, n)
	for i := range n {
		var p float64
		if params != nil {
			p = params[i]
		}
		switch op {
		case parser.LIMIT_RATIO:
			ratios[i] = max(-1, min(1, p))
		default:
			if !math.IsNaN(p) && p > minInt64 && p < maxInt64 {
				ks[i] = int64(p)
			}
		}
	}
	buf := make([]byte, 0, 1024)
	groupIdx := map[uint64]int{}
	var heaps [][]vectorByValueHeap // by group, then step
	var s Sample
	ok := ev.stream(e.Expr, func(in Series) {
		var key uint64
		key, buf = generateGroupingKey(in.Metric, sortedGrouping, e.Without, buf)
		gi, found := groupIdx[key]
		if !found {
			gi = len(heaps)
			groupIdx[key] = gi
			ev.checkAlloc(n)
			heaps = append(heaps, make([]vectorByValueHeap, n))
		}
		hs := heaps[gi]
		for _, p := range in.Histograms {
			k := int((p.T - ev.startTS) / ev.interval)
			switch op {
			case parser.TOPK, parser.BOTTOMK:
				if ks[k] > 0 {
					name, _ := histAggIgnored(op)
					ev.warn(annotations.NewHistogramIgnoredInAggregationInfo(name, e.PositionRange()))
				}
			case parser.LIMITK:
				if int64(len(hs[k])) < ks[k] {
					hs[k] = append(hs[k], Sample{Metric: in.Metric, H: p.H, dropName: in.dropName})
				}
			case parser.LIMIT_RATIO:
				s = Sample{Metric: in.Metric, H: p.H, dropName: in.dropName}
				if ratios[k] != 0 && addRatioSample(ratios[k], &s) {
					heap.Push(&hs[k], &s)
				}
			}
		}
		for _, p := range in.Floats {
			k := int((p.T - ev.startTS) / ev.interval)
			s = Sample{Metric: in.Metric, F: p.F, dropName: in.dropName}
			h := &hs[k]
			switch op {
			case parser.TOPK:
				switch {
				case int64(len(*h)) < ks[k]:
					heap.Push(h, &s)
				case ks[k] > 0 && ((*h)[0].F < s.F || (math.IsNaN((*h)[0].F) && !math.IsNaN(s.F))):
					(*h)[0] = s
					if ks[k] > 1 {
						heap.Fix(h, 0)
					}
				}
			case parser.BOTTOMK:
				rh := (*vectorByReverseValueHeap)(h)
				switch {
				case int64(len(*h)) < ks[k]:
					heap.Push(rh, &s)
				case ks[k] > 0 && ((*h)[0].F > s.F || (math.IsNaN((*h)[0].F) && !math.IsNaN(s.F))):
					(*h)[0] = s
					if ks[k] > 1 {
						heap.Fix(rh, 0)
					}
				}
			case parser.LIMITK:
				if int64(len(*h)) < ks[k] {
					*h = append(*h, s)
				}
			case parser.LIMIT_RATIO:
				if ratios[k] != 0 && addRatioSample(ratios[k], &s) {
					heap.Push(h, &s)
				}
			}
		}
		ev.currentSamples -= len(in.Floats) + len(in.Histograms)
	})
	if !ok {
		return nil, false
	}
	if ev.checkAggParams(e, params) {
		return nil, true
	}
	var out Matrix
	seriess := map[uint64]int{}
	for k := range n {
		ts := ev.startTS + int64(k)*ev.interval
		for gi := range heaps {
			h := heaps[gi][k]
			switch op {
			case parser.TOPK:
				if len(h) > 1 {
					sort.Sort(sort.Reverse(h))
				}
			case parser.BOTTOMK:
				if len(h) > 1 {
					sort.Sort(sort.Reverse((*vectorByReverseValueHeap)(&h)))
				}
			}
			for _, v := range h {
				if ev.startTS == ev.endTS {
					if v.H != nil {
						out = append(out, Series{Metric: v.Metric, Histograms: []HPoint{{T: ts, H: v.H}}, dropName: v.dropName})
						continue
					}
					out = append(out, Series{Metric: v.Metric, Floats: []FPoint{{T: ts, F: v.F}}, dropName: v.dropName})
					continue
				}
				hash := v.Metric.Hash()
				idx, ok := seriess[hash]
				if !ok {
					idx = len(out)
					seriess[hash] = idx
					out = append(out, Series{Metric: v.Metric, dropName: v.dropName})
				}
				if v.H != nil {
					out[idx].Histograms = append(out[idx].Histograms, HPoint{T: ts, H: v.H})
					continue
				}
				out[idx].Floats = append(out[idx].Floats, FPoint{T: ts, F: v.F})
			}
			heaps[gi][k] = nil
		}
	}
	ev.addSamples(out.TotalSamples())
	return out, true
}

// streamAggHistograms folds the histogram points of a streamed series into its group: sum and
// avg accumulate them (upstream's histogram arithmetic), count and group count them, the other
// aggregations ignore them with upstream's info annotation.
func (ev *evaluator) streamAggHistograms(e *parser.AggregateExpr, g *streamGroup, s Series, n int) {
	switch e.Op {
	case parser.SUM, parser.AVG:
		if g.hist == nil {
			g.hist = make([]*histAcc, n)
		}
		name := s.Metric.Get(labels.MetricName)
		for _, p := range s.Histograms {
			k := int((p.T - ev.startTS) / ev.interval)
			if g.hist[k] == nil {
				g.hist[k] = &histAcc{}
			}
			ev.histAccAdd(g.hist[k], e, p.H, name)
		}
	case parser.COUNT, parser.GROUP:
		for _, p := range s.Histograms {
			k := int((p.T - ev.startTS) / ev.interval)
			if g.count[k] == 0 && e.Op == parser.GROUP {
				g.value[k] = 1
			}
			g.count[k]++
		}
	default:
		if name, ignored := histAggIgnored(e.Op); ignored {
			ev.warn(annotations.NewHistogramIgnoredInAggregationInfo(name, e.Expr.PositionRange()))
		}
	}
}
