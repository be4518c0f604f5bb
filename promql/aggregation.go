package promql

import (
	"container/heap"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/prometheus/common/model"
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

	var params []float64
	if e.Param != nil && e.Param.Type() == parser.ValueTypeScalar {
		params = ev.scalarValues(e.Param)
	}
	origSamples := ev.currentSamples
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
	minP, maxP, hasNaN := paramStats(params)
	switch e.Op {
	case parser.TOPK, parser.BOTTOMK, parser.LIMITK:
		if maxP < 1 {
			return nil
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
		seriess = make(map[uint64]int, len(input))
	case parser.LIMIT_RATIO:
		if maxP == 0 && minP == 0 {
			return nil
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
		seriess = make(map[uint64]int, len(input))
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
		if len(s.Floats) > 0 {
			result[dst] = s
			dst++
		}
	}
	return result[:dst]
}

// nextValue consumes the point of series at ts, if it has one.
func nextValue(ts int64, s *Series) (float64, bool) {
	if len(s.Floats) > 0 && s.Floats[0].T == ts {
		f := s.Floats[0].F
		s.Floats = s.Floats[1:]
		return f, true
	}
	return 0, false
}

func (ev *evaluator) aggregation(e *parser.AggregateExpr, q float64, input, output Matrix, seriesToResult []int, groups []groupedAggregation, enh *evalNodeHelper, numSteps int) {
	op := e.Op
	for i := range groups {
		groups[i].seen = false
	}
	for si := range input {
		f, ok := nextValue(enh.Ts, &input[si])
		if !ok {
			continue
		}
		group := &groups[seriesToResult[si]]
		if !group.seen {
			*group = groupedAggregation{seen: true, floatValue: f, floatMean: f, groupCount: 1, dropName: input[si].dropName}
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
			ss.Floats = make([]FPoint, 0, numSteps)
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
			nextValue(enh.Ts, &input[i])
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

seriesLoop:
	for si := range input {
		f, ok := nextValue(enh.Ts, &input[si])
		if !ok {
			continue
		}
		s := Sample{Metric: input[si].Metric, F: f, dropName: input[si].dropName}
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
			out = append(out, Series{Metric: s.Metric, Floats: []FPoint{{T: enh.Ts, F: s.F}}, dropName: s.dropName})
			return
		}
		h := s.Metric.Hash()
		idx, ok := seriess[h]
		if !ok {
			idx = len(out)
			seriess[h] = idx
			out = append(out, Series{Metric: s.Metric, dropName: s.dropName, Floats: make([]FPoint, 0, min(numSteps, 64))})
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
		enh.lb.Set(valueLabel, strconv.FormatFloat(s.F, 'f', -1, 64))
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
