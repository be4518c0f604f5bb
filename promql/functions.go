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
// Modified by Vigil: parts ported from github.com/prometheus/prometheus promql/functions.go (v0.315.0).

package promql

// PromQL functions over float samples. The numeric details (extrapolation, Kahan summation,
// regression, smoothing) are ported from Prometheus (Apache 2.0) so that results match.

import (
	"container/heap"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/grafana/regexp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/prometheus/prometheus/util/kahansum"
)

// rangeCall is the context of one step of a range-vector function over one series.
type rangeCall struct {
	ev     *evaluator
	e      *parser.Call
	metric labels.Labels
	params []float64 // scalar arguments at this step, by argument index
	p      rangeArgParams
	pos    posrange.PositionRange // position of the range argument

	ts         int64 // evaluation step
	rangeStart int64 // exclusive start of the nominal range
	rangeEnd   int64 // inclusive end of the nominal range
	// sts holds the start timestamps of the window's points (parallel to them) for the
	// functions that use them (stFunctions), when the engine does; nil otherwise.
	sts []int64
	// repeat is set when the window is the previous step's again (an @-pinned argument):
	// Prometheus evaluates such a step-invariant call once, so its per-series warnings are
	// counted once.
	repeat bool
}

// rangeFunc computes a range-vector function over the window pts (non-empty, sorted).
type rangeFunc func(c *rangeCall, pts []FPoint) (float64, bool)

// instantFunc computes a function over instant vectors at one step. vals holds the argument
// values (scalars as one-sample vectors, strings as nil).
type instantFunc func(ev *evaluator, vals []Vector, args parser.Expressions, enh *evalNodeHelper) Vector

var rangeFunctions map[string]rangeFunc

var instantFunctions map[string]instantFunc

func init() {
	rangeFunctions = map[string]rangeFunc{
		"rate":                         func(c *rangeCall, p []FPoint) (float64, bool) { return extrapolatedRate(c, p, true, true) },
		"increase":                     func(c *rangeCall, p []FPoint) (float64, bool) { return extrapolatedRate(c, p, true, false) },
		"delta":                        func(c *rangeCall, p []FPoint) (float64, bool) { return extrapolatedRate(c, p, false, false) },
		"irate":                        func(c *rangeCall, p []FPoint) (float64, bool) { return instantValue(p, c.sts, true) },
		"idelta":                       func(_ *rangeCall, p []FPoint) (float64, bool) { return instantValue(p, nil, false) },
		"avg_over_time":                avgOverTime,
		"count_over_time":              func(_ *rangeCall, p []FPoint) (float64, bool) { return float64(len(p)), true },
		"sum_over_time":                sumOverTime,
		"min_over_time":                func(_ *rangeCall, p []FPoint) (float64, bool) { return compareOverTime(p, lessNaN, false), true },
		"max_over_time":                func(_ *rangeCall, p []FPoint) (float64, bool) { return compareOverTime(p, greaterNaN, false), true },
		"ts_of_min_over_time":          func(_ *rangeCall, p []FPoint) (float64, bool) { return compareOverTime(p, lessEqNaN, true), true },
		"ts_of_max_over_time":          func(_ *rangeCall, p []FPoint) (float64, bool) { return compareOverTime(p, greaterEqNaN, true), true },
		"first_over_time":              func(_ *rangeCall, p []FPoint) (float64, bool) { return p[0].F, true },
		"last_over_time":               func(_ *rangeCall, p []FPoint) (float64, bool) { return p[len(p)-1].F, true },
		"ts_of_first_over_time":        func(_ *rangeCall, p []FPoint) (float64, bool) { return float64(p[0].T) / 1000, true },
		"ts_of_last_over_time":         func(_ *rangeCall, p []FPoint) (float64, bool) { return float64(p[len(p)-1].T) / 1000, true },
		"present_over_time":            func(_ *rangeCall, _ []FPoint) (float64, bool) { return 1, true },
		"absent_over_time":             func(_ *rangeCall, _ []FPoint) (float64, bool) { return 1, true },
		"stddev_over_time":             func(_ *rangeCall, p []FPoint) (float64, bool) { return math.Sqrt(varianceOverTime(p)), true },
		"stdvar_over_time":             func(_ *rangeCall, p []FPoint) (float64, bool) { return varianceOverTime(p), true },
		"quantile_over_time":           quantileOverTime,
		"mad_over_time":                madOverTime,
		"changes":                      changes,
		"resets":                       resets,
		"deriv":                        deriv,
		"predict_linear":               predictLinear,
		"double_exponential_smoothing": doubleExponentialSmoothing,
	}
	instantFunctions = map[string]instantFunc{
		"abs":   simple(math.Abs),
		"ceil":  simple(math.Ceil),
		"floor": simple(math.Floor),
		"exp":   simple(math.Exp),
		"sqrt":  simple(math.Sqrt),
		"ln":    simple(math.Log),
		"log2":  simple(math.Log2),
		"log10": simple(math.Log10),
		"sin":   simple(math.Sin),
		"cos":   simple(math.Cos),
		"tan":   simple(math.Tan),
		"asin":  simple(math.Asin),
		"acos":  simple(math.Acos),
		"atan":  simple(math.Atan),
		"sinh":  simple(math.Sinh),
		"cosh":  simple(math.Cosh),
		"tanh":  simple(math.Tanh),
		"asinh": simple(math.Asinh),
		"acosh": simple(math.Acosh),
		"atanh": simple(math.Atanh),
		"rad":   simple(func(v float64) float64 { return v * math.Pi / 180 }),
		"deg":   simple(func(v float64) float64 { return v * 180 / math.Pi }),
		"sgn":   simple(sgn),
		"pi": func(_ *evaluator, _ []Vector, _ parser.Expressions, enh *evalNodeHelper) Vector {
			return append(enh.Out, Sample{F: math.Pi})
		},
		"time":      funcTime,
		"timestamp": funcTimestamp,
		// start_timestamp over a selector is evalTimestampOfSelector; over any other
		// expression it has no start timestamps to return.
		"start_timestamp": dropAll,
		"vector":          funcVector,
		"scalar":          funcScalar,
		"absent":          funcAbsent,
		"clamp":           funcClamp,
		"clamp_min":       funcClampMin,
		"clamp_max":       funcClampMax,
		"round":           funcRound,
		"max_of": func(_ *evaluator, v []Vector, _ parser.Expressions, enh *evalNodeHelper) Vector {
			return append(enh.Out, Sample{F: math.Max(v[0][0].F, v[1][0].F)})
		},
		"min_of": func(_ *evaluator, v []Vector, _ parser.Expressions, enh *evalNodeHelper) Vector {
			return append(enh.Out, Sample{F: math.Min(v[0][0].F, v[1][0].F)})
		},
		"sort":                funcSort,
		"sort_desc":           funcSortDesc,
		"sort_by_label":       funcSortByLabel,
		"sort_by_label_desc":  funcSortByLabelDesc,
		"histogram_quantile":  funcHistogramQuantile,
		"histogram_quantiles": funcHistogramQuantiles,
		"histogram_fraction":  funcHistogramFraction,
		// The following only read native histograms; Vigil stores none, so on float data they
		// return nothing, exactly as Prometheus does.
		"histogram_count":  dropAll,
		"histogram_sum":    dropAll,
		"histogram_avg":    dropAll,
		"histogram_stddev": dropAll,
		"histogram_stdvar": dropAll,
		"days_in_month": dateFunc(func(t time.Time) float64 {
			return float64(32 - time.Date(t.Year(), t.Month(), 32, 0, 0, 0, 0, time.UTC).Day())
		}),
		"day_of_month": dateFunc(func(t time.Time) float64 { return float64(t.Day()) }),
		"day_of_week":  dateFunc(func(t time.Time) float64 { return float64(t.Weekday()) }),
		"day_of_year":  dateFunc(func(t time.Time) float64 { return float64(t.YearDay()) }),
		"hour":         dateFunc(func(t time.Time) float64 { return float64(t.Hour()) }),
		"minute":       dateFunc(func(t time.Time) float64 { return float64(t.Minute()) }),
		"month":        dateFunc(func(t time.Time) float64 { return float64(t.Month()) }),
		"year":         dateFunc(func(t time.Time) float64 { return float64(t.Year()) }),
	}
	for name, f := range pointwiseFunctions {
		instantFunctions[name] = simple(f)
	}
}

// pointwiseFunctions map each sample value on its own (the metric name is dropped).
var pointwiseFunctions = map[string]func(float64) float64{
	"abs": math.Abs, "ceil": math.Ceil, "floor": math.Floor, "exp": math.Exp, "sqrt": math.Sqrt,
	"ln": math.Log, "log2": math.Log2, "log10": math.Log10,
	"sin": math.Sin, "cos": math.Cos, "tan": math.Tan, "asin": math.Asin, "acos": math.Acos, "atan": math.Atan,
	"sinh": math.Sinh, "cosh": math.Cosh, "tanh": math.Tanh, "asinh": math.Asinh, "acosh": math.Acosh, "atanh": math.Atanh,
	"rad": func(v float64) float64 { return v * math.Pi / 180 },
	"deg": func(v float64) float64 { return v * 180 / math.Pi },
	"sgn": sgn,
}

func lessNaN(cur, m float64) bool      { return cur < m || math.IsNaN(m) }
func greaterNaN(cur, m float64) bool   { return cur > m || math.IsNaN(m) }
func lessEqNaN(cur, m float64) bool    { return cur <= m || math.IsNaN(m) }
func greaterEqNaN(cur, m float64) bool { return cur >= m || math.IsNaN(m) }

func sgn(v float64) float64 {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return v
}

// extrapolatedRate implements rate, increase and delta: the increase between the first and
// last sample of the window (with counter resets), extrapolated towards the window's edges.
func extrapolatedRate(c *rangeCall, pts []FPoint, isCounter, isRate bool) (float64, bool) {
	if c.p.anchored || c.p.smoothed {
		return extendedRate(c, pts, isCounter, isRate)
	}
	var sts []int64
	if isCounter {
		sts = c.sts
	}
	// Two points are needed, or one whose start timestamp is inside the range.
	if len(pts) < 2 && !(isCounter && startsInRange(sts, c.rangeStart, pts[0].T)) {
		return 0, false
	}
	rangeStart, rangeEnd := c.rangeStart, c.rangeEnd
	n := len(pts) - 1
	firstT, lastT := pts[0].T, pts[n].T
	result := pts[n].F - pts[0].F
	if isCounter {
		result += c.counterResetCorrection(pts, sts)
	}
	durationToStart := float64(firstT-rangeStart) / 1000
	durationToEnd := float64(rangeEnd-lastT) / 1000
	sampledInterval := float64(lastT-firstT) / 1000
	var averageDurationBetweenSamples float64
	if n > 0 {
		averageDurationBetweenSamples = sampledInterval / float64(n)
	}
	extrapolationThreshold := averageDurationBetweenSamples * 1.1

	if isCounter && startsInRange(sts, rangeStart, firstT) {
		// The counter was zero at its start timestamp: count from there instead of
		// extrapolating to the left. With a single point there is no extrapolation to the
		// right either (the threshold is 0).
		durationToStart = 0
		sampledInterval = float64(lastT-sts[0]) / 1000
		result += pts[0].F
	} else {
		if durationToStart >= extrapolationThreshold {
			durationToStart = averageDurationBetweenSamples / 2
		}
		if isCounter && result > 0 && pts[0].F >= 0 {
			// Counters cannot go negative: do not extrapolate past the counter's zero point.
			durationToZero := sampledInterval * (pts[0].F / result)
			if durationToZero < durationToStart {
				durationToStart = durationToZero
			}
		}
	}
	if durationToEnd >= extrapolationThreshold {
		durationToEnd = averageDurationBetweenSamples / 2
	}
	factor := 1.0
	if sampledInterval != 0 {
		factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval
	}
	if isRate {
		factor /= float64(c.p.rangeMs) / 1000
	}
	return result * factor, true
}

// extendedRate implements rate/increase/delta for anchored and smoothed range selectors.
func extendedRate(c *rangeCall, f []FPoint, isCounter, isRate bool) (float64, bool) {
	rangeStart, rangeEnd := c.rangeStart, c.rangeEnd
	smoothed := c.p.smoothed
	lastSampleIndex := len(f) - 1
	firstSampleIndex := max(0, sort.Search(lastSampleIndex, func(i int) bool { return f[i].T > rangeStart })-1)
	if smoothed {
		lastSampleIndex = sort.Search(lastSampleIndex, func(i int) bool { return f[i].T >= rangeEnd })
	}
	if f[lastSampleIndex].T <= rangeStart {
		return 0, false
	}
	if smoothed && f[firstSampleIndex].T > rangeEnd {
		return 0, false
	}
	left := pickOrInterpolateLeft(f, firstSampleIndex, rangeStart, smoothed, isCounter)
	right := pickOrInterpolateRight(f, lastSampleIndex, rangeEnd, smoothed, isCounter)
	result := right - left
	if isCounter {
		if f[firstSampleIndex].T <= rangeStart {
			firstSampleIndex++
		}
		if f[lastSampleIndex].T >= rangeEnd {
			lastSampleIndex--
		}
		result += correctForCounterResets(left, right, f[firstSampleIndex:lastSampleIndex+1])
	}
	if isRate {
		result /= float64(c.p.rangeMs) / 1000
	}
	return result, true
}

func pickOrInterpolateLeft(floats []FPoint, first int, rangeStart int64, smoothed, isCounter bool) float64 {
	if smoothed && floats[first].T < rangeStart {
		return interpolate(floats[first], floats[first+1], rangeStart, isCounter)
	}
	return floats[first].F
}

func pickOrInterpolateRight(floats []FPoint, last int, rangeEnd int64, smoothed, isCounter bool) float64 {
	if smoothed && last > 0 && floats[last].T > rangeEnd {
		return interpolate(floats[last-1], floats[last], rangeEnd, isCounter)
	}
	return floats[last].F
}

func interpolate(p1, p2 FPoint, t int64, isCounter bool) float64 {
	y1, y2 := p1.F, p2.F
	if isCounter && y2 < y1 {
		y1 = 0
	}
	return y1 + (y2-y1)*float64(t-p1.T)/float64(p2.T-p1.T)
}

func correctForCounterResets(left, right float64, points []FPoint) float64 {
	var correction float64
	prev := left
	for _, p := range points {
		if p.F < prev {
			correction += prev
		}
		prev = p.F
	}
	if right < prev {
		correction += prev
	}
	return correction
}

// extendFloats builds the range vector of an anchored or smoothed selector: the boundary
// values at mint and maxt plus the samples strictly inside.
func extendFloats(floats []FPoint, mint, maxt int64, smoothed bool) []FPoint {
	if len(floats) == 0 {
		return floats
	}
	lastSampleIndex := len(floats) - 1
	firstSampleIndex := max(0, sort.Search(lastSampleIndex, func(i int) bool { return floats[i].T > mint })-1)
	if smoothed {
		lastSampleIndex = sort.Search(lastSampleIndex, func(i int) bool { return floats[i].T >= maxt })
	}
	if floats[lastSampleIndex].T <= mint {
		return nil
	}
	left := pickOrInterpolateLeft(floats, firstSampleIndex, mint, smoothed, false)
	right := pickOrInterpolateRight(floats, lastSampleIndex, maxt, smoothed, false)
	if floats[firstSampleIndex].T <= mint {
		firstSampleIndex++
	}
	if floats[lastSampleIndex].T >= maxt {
		lastSampleIndex--
	}
	count := max(lastSampleIndex-firstSampleIndex+1, 0)
	out := make([]FPoint, 0, count+2)
	out = append(out, FPoint{T: mint, F: left})
	if count > 0 {
		out = append(out, floats[firstSampleIndex:lastSampleIndex+1]...)
	}
	return append(out, FPoint{T: maxt, F: right})
}

// instantValue implements irate and idelta from the last two samples; sts are the samples'
// start timestamps (irate only).
func instantValue(pts []FPoint, sts []int64, isRate bool) (float64, bool) {
	if len(pts) < 2 {
		return 0, false
	}
	last, prev := pts[len(pts)-1], pts[len(pts)-2]
	sampledInterval := last.T - prev.T
	if sampledInterval == 0 {
		return 0, false
	}
	result := last.F
	if !isRate || !isCounterReset(pts, sts, len(pts)-1) {
		result = last.F - prev.F
	}
	if isRate {
		result /= float64(sampledInterval) / 1000
	}
	return result, true
}

func avgOverTime(_ *rangeCall, pts []FPoint) (float64, bool) {
	var (
		sum, count      = pts[0].F, 1.
		mean, kahanC    float64
		incrementalMean bool
	)
	for i, f := range pts[1:] {
		count = float64(i + 2)
		if !incrementalMean {
			newSum, newC := kahansum.Inc(f.F, sum, kahanC)
			// Switch to incremental mean only on overflow.
			if !math.IsInf(newSum, 0) {
				sum, kahanC = newSum, newC
				continue
			}
			incrementalMean = true
			mean = sum / (count - 1)
			kahanC /= (count - 1)
		}
		q := (count - 1) / count
		mean, kahanC = kahansum.Inc(f.F/count, q*mean, q*kahanC)
	}
	if incrementalMean {
		return mean + kahanC, true
	}
	return sum/count + kahanC/count, true
}

func sumOverTime(_ *rangeCall, pts []FPoint) (float64, bool) {
	var sum, c float64
	for _, f := range pts {
		sum, c = kahansum.Inc(f.F, sum, c)
	}
	if math.IsInf(sum, 0) {
		return sum, true
	}
	return sum + c, true
}

func compareOverTime(pts []FPoint, better func(cur, m float64) bool, returnTimestamp bool) float64 {
	m, tsOfM := pts[0].F, pts[0].T
	for _, f := range pts {
		if better(f.F, m) {
			m, tsOfM = f.F, f.T
		}
	}
	if returnTimestamp {
		return float64(tsOfM) / 1000
	}
	return m
}

func varianceOverTime(pts []FPoint) float64 {
	var count, mean, cMean, aux, cAux float64
	for _, f := range pts {
		count++
		delta := f.F - (mean + cMean)
		mean, cMean = kahansum.Inc(delta/count, mean, cMean)
		aux, cAux = kahansum.Inc(delta*(f.F-(mean+cMean)), aux, cAux)
	}
	return (aux + cAux) / count
}

func quantileOverTime(c *rangeCall, pts []FPoint) (float64, bool) {
	q := c.params[0]
	if math.IsNaN(q) || q < 0 || q > 1 {
		c.ev.warn(annotations.NewInvalidQuantileWarning(q, c.e.Args[0].PositionRange()))
	}
	values := make(vectorByValueHeap, 0, len(pts))
	for _, f := range pts {
		values = append(values, Sample{F: f.F})
	}
	return quantile(q, values), true
}

func madOverTime(_ *rangeCall, pts []FPoint) (float64, bool) {
	values := make(vectorByValueHeap, 0, len(pts))
	for _, f := range pts {
		if math.IsNaN(f.F) {
			return math.NaN(), true
		}
		values = append(values, Sample{F: f.F})
	}
	median := quantile(0.5, values)
	for i := range values {
		values[i].F = math.Abs(values[i].F - median)
	}
	return quantile(0.5, values), true
}

// firstAnchoredIndex returns where resets/changes start for an anchored selector: the last
// sample at or before the range start is the baseline.
func firstAnchoredIndex(c *rangeCall, pts []FPoint) (int, bool) {
	if !c.p.anchored {
		return 0, true
	}
	lastLE := sort.Search(len(pts), func(i int) bool { return pts[i].T > c.rangeStart }) - 1
	if lastLE+1 >= len(pts) {
		return 0, false
	}
	return max(lastLE, 0), true
}

func resets(c *rangeCall, pts []FPoint) (float64, bool) {
	first, ok := firstAnchoredIndex(c, pts)
	if !ok {
		return 0, false
	}
	n := 0
	for i := first + 1; i < len(pts); i++ {
		if isCounterReset(pts, c.sts, i) {
			n++
		}
	}
	return float64(n), true
}

func changes(c *rangeCall, pts []FPoint) (float64, bool) {
	first, ok := firstAnchoredIndex(c, pts)
	if !ok {
		return 0, false
	}
	n := 0
	for i := first + 1; i < len(pts); i++ {
		cur, prev := pts[i].F, pts[i-1].F
		if cur != prev && !(math.IsNaN(cur) && math.IsNaN(prev)) {
			n++
		}
	}
	return float64(n), true
}

func linearRegression(samples []FPoint, interceptTime int64) (slope, intercept float64) {
	var (
		n          float64
		sumX, cX   float64
		sumY, cY   float64
		sumXY, cXY float64
		sumX2, cX2 float64
		initY      float64
		constY     bool
	)
	initY = samples[0].F
	constY = true
	for i, sample := range samples {
		// Set constY to false if any new y values are encountered.
		if constY && i > 0 && sample.F != initY {
			constY = false
		}
		n += 1.0
		x := float64(sample.T-interceptTime) / 1e3
		sumX, cX = kahansum.Inc(x, sumX, cX)
		sumY, cY = kahansum.Inc(sample.F, sumY, cY)
		sumXY, cXY = kahansum.Inc(x*sample.F, sumXY, cXY)
		sumX2, cX2 = kahansum.Inc(x*x, sumX2, cX2)
	}
	if constY {
		if math.IsInf(initY, 0) {
			return math.NaN(), math.NaN()
		}
		return 0, initY
	}
	sumX += cX
	sumY += cY
	sumXY += cXY
	sumX2 += cX2

	covXY := sumXY - sumX*sumY/n
	varX := sumX2 - sumX*sumX/n

	slope = covXY / varX
	intercept = sumY/n - slope*sumX/n
	return slope, intercept
}

func deriv(_ *rangeCall, pts []FPoint) (float64, bool) {
	if len(pts) < 2 {
		return 0, false
	}
	// Use the first sample's timestamp as the intercept time to keep the regression's
	// numbers small (better float precision).
	slope, _ := linearRegression(pts, pts[0].T)
	return slope, true
}

func predictLinear(c *rangeCall, pts []FPoint) (float64, bool) {
	if len(pts) < 2 {
		return 0, false
	}
	duration := c.params[1]
	slope, intercept := linearRegression(pts, c.ts)
	return slope*duration + intercept, true
}

func calcTrendValue(i int, tf, s0, s1, b float64) float64 {
	if i == 0 {
		return b
	}
	x := tf * (s1 - s0)
	y := (1 - tf) * b
	return x + y
}

func doubleExponentialSmoothing(c *rangeCall, pts []FPoint) (float64, bool) {
	sf, tf := c.params[1], c.params[2]
	if sf <= 0 || sf >= 1 {
		c.ev.errorf("invalid smoothing factor. Expected: 0 < sf < 1, got: %f", sf)
	}
	if tf <= 0 || tf >= 1 {
		c.ev.errorf("invalid trend factor. Expected: 0 < tf < 1, got: %f", tf)
	}
	l := len(pts)
	if l < 2 {
		return 0, false
	}
	var s0, s1, b float64
	s1 = pts[0].F
	b = pts[1].F - pts[0].F
	var x, y float64
	for i := 1; i < l; i++ {
		x = sf * pts[i].F
		b = calcTrendValue(i-1, tf, s0, s1, b)
		y = (1 - sf) * (s1 + b)
		s0, s1 = s1, x+y
	}
	return s1, true
}

// simple returns an instant function applying f to every sample; the name is dropped.
func simple(f func(float64) float64) instantFunc {
	return func(_ *evaluator, vals []Vector, _ parser.Expressions, enh *evalNodeHelper) Vector {
		for _, el := range vals[0] {
			enh.Out = append(enh.Out, Sample{Metric: el.Metric, F: f(el.F), dropName: true})
		}
		return enh.Out
	}
}

func dropAll(_ *evaluator, _ []Vector, _ parser.Expressions, enh *evalNodeHelper) Vector {
	return enh.Out
}

func funcTime(_ *evaluator, _ []Vector, _ parser.Expressions, enh *evalNodeHelper) Vector {
	return append(enh.Out, Sample{F: float64(enh.Ts) / 1000})
}

func funcTimestamp(_ *evaluator, vals []Vector, _ parser.Expressions, enh *evalNodeHelper) Vector {
	for _, el := range vals[0] {
		enh.Out = append(enh.Out, Sample{Metric: el.Metric, F: float64(el.T) / 1000, dropName: true})
	}
	return enh.Out
}

func funcVector(_ *evaluator, vals []Vector, _ parser.Expressions, enh *evalNodeHelper) Vector {
	return append(enh.Out, Sample{Metric: labels.EmptyLabels(), F: vals[0][0].F})
}

func funcScalar(_ *evaluator, vals []Vector, _ parser.Expressions, enh *evalNodeHelper) Vector {
	if len(vals[0]) != 1 {
		return append(enh.Out, Sample{F: math.NaN()})
	}
	return append(enh.Out, Sample{F: vals[0][0].F})
}

func funcAbsent(_ *evaluator, vals []Vector, args parser.Expressions, enh *evalNodeHelper) Vector {
	if len(vals[0]) > 0 {
		return enh.Out
	}
	return append(enh.Out, Sample{Metric: createLabelsForAbsentFunction(args[0]), F: 1})
}

func clamp(vec Vector, minVal, maxVal float64, enh *evalNodeHelper) Vector {
	if maxVal < minVal {
		return enh.Out
	}
	for _, el := range vec {
		enh.Out = append(enh.Out, Sample{Metric: el.Metric, F: math.Max(minVal, math.Min(maxVal, el.F)), dropName: true})
	}
	return enh.Out
}

func funcClamp(_ *evaluator, vals []Vector, _ parser.Expressions, enh *evalNodeHelper) Vector {
	return clamp(vals[0], vals[1][0].F, vals[2][0].F, enh)
}

func funcClampMax(_ *evaluator, vals []Vector, _ parser.Expressions, enh *evalNodeHelper) Vector {
	return clamp(vals[0], math.Inf(-1), vals[1][0].F, enh)
}

func funcClampMin(_ *evaluator, vals []Vector, _ parser.Expressions, enh *evalNodeHelper) Vector {
	return clamp(vals[0], vals[1][0].F, math.Inf(+1), enh)
}

func funcRound(_ *evaluator, vals []Vector, args parser.Expressions, enh *evalNodeHelper) Vector {
	toNearest := float64(1)
	if len(args) >= 2 {
		toNearest = vals[1][0].F
	}
	// Round half up; multiply by the inverse to keep precision for fractions like 0.1.
	toNearestInverse := 1.0 / toNearest
	for _, el := range vals[0] {
		f := math.Floor(el.F*toNearestInverse+0.5) / toNearestInverse
		enh.Out = append(enh.Out, Sample{Metric: el.Metric, F: f, dropName: true})
	}
	return enh.Out
}

func dateFunc(f func(time.Time) float64) instantFunc {
	return func(_ *evaluator, vals []Vector, _ parser.Expressions, enh *evalNodeHelper) Vector {
		if len(vals) == 0 {
			return append(enh.Out, Sample{Metric: labels.EmptyLabels(), F: f(time.Unix(enh.Ts/1000, 0).UTC())})
		}
		for _, el := range vals[0] {
			t := time.Unix(int64(el.F), 0).UTC()
			enh.Out = append(enh.Out, Sample{Metric: el.Metric, F: f(t), dropName: true})
		}
		return enh.Out
	}
}

func funcSort(_ *evaluator, vals []Vector, _ parser.Expressions, _ *evalNodeHelper) Vector {
	// NaNs sort last in ascending order, as in Prometheus (reverse of the descending heap).
	byValueSorter := vectorByReverseValueHeap(vals[0])
	sort.Sort(sort.Reverse(byValueSorter))
	return Vector(byValueSorter)
}

func funcSortDesc(_ *evaluator, vals []Vector, _ parser.Expressions, _ *evalNodeHelper) Vector {
	byValueSorter := vectorByValueHeap(vals[0])
	sort.Sort(sort.Reverse(byValueSorter))
	return Vector(byValueSorter)
}

func funcSortByLabel(_ *evaluator, vals []Vector, args parser.Expressions, _ *evalNodeHelper) Vector {
	lbls := stringSliceFromArgs(args[1:])
	slices.SortFunc(vals[0], func(a, b Sample) int {
		for _, label := range lbls {
			lv1, lv2 := a.Metric.Get(label), b.Metric.Get(label)
			if lv1 == lv2 {
				continue
			}
			if naturalLess(lv1, lv2) {
				return -1
			}
			return +1
		}
		return labels.Compare(a.Metric, b.Metric)
	})
	return vals[0]
}

func funcSortByLabelDesc(_ *evaluator, vals []Vector, args parser.Expressions, _ *evalNodeHelper) Vector {
	lbls := stringSliceFromArgs(args[1:])
	slices.SortFunc(vals[0], func(a, b Sample) int {
		for _, label := range lbls {
			lv1, lv2 := a.Metric.Get(label), b.Metric.Get(label)
			if lv1 == lv2 {
				continue
			}
			if naturalLess(lv1, lv2) {
				return +1
			}
			return -1
		}
		return -labels.Compare(a.Metric, b.Metric)
	})
	return vals[0]
}

// naturalLess compares strings so that embedded numbers sort numerically ("a2" < "a10"),
// following the chunking of github.com/facette/natsort that Prometheus uses.
func naturalLess(a, b string) bool {
	ca, cb := natChunks(a), natChunks(b)
	for i := 0; i < len(ca) && i < len(cb); i++ {
		if ca[i] == cb[i] {
			continue
		}
		ai, aerr := strconv.Atoi(ca[i])
		bi, berr := strconv.Atoi(cb[i])
		if aerr == nil && berr == nil {
			if ai == bi {
				// Same number with different zero padding: fewer characters first.
				return len(ca[i]) < len(cb[i])
			}
			return ai < bi
		}
		return ca[i] < cb[i]
	}
	return len(ca) < len(cb)
}

func natChunks(s string) []string {
	var chunks []string
	start := 0
	for i := 1; i <= len(s); i++ {
		if i == len(s) || isDigit(s[i]) != isDigit(s[i-1]) {
			chunks = append(chunks, s[start:i])
			start = i
		}
	}
	return chunks
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// classicBuckets groups a vector of *_bucket samples by series (without le), for
// histogram_quantile/histogram_fraction on classic histograms.
func (enh *evalNodeHelper) classicBuckets(ev *evaluator, inVec Vector, arg parser.Expr) {
	if enh.signatureToMetricWithBuckets == nil {
		enh.signatureToMetricWithBuckets = map[string]*metricWithBuckets{}
	} else {
		for _, v := range enh.signatureToMetricWithBuckets {
			v.buckets = v.buckets[:0]
		}
	}
	for _, sample := range inVec {
		upperBound, err := strconv.ParseFloat(sample.Metric.Get(model.BucketLabel), 64)
		if err != nil {
			ev.warn(annotations.NewBadBucketLabelWarning(sample.Metric.Get(labels.MetricName), sample.Metric.Get(model.BucketLabel), arg.PositionRange()))
			continue
		}
		enh.lblBuf = sample.Metric.BytesWithoutLabels(enh.lblBuf, labels.BucketLabel)
		mb, ok := enh.signatureToMetricWithBuckets[string(enh.lblBuf)]
		if !ok {
			m := labels.NewBuilder(sample.Metric).Del(excludedLabels...).Labels()
			mb = &metricWithBuckets{m, nil}
			enh.signatureToMetricWithBuckets[string(enh.lblBuf)] = mb
		}
		mb.buckets = append(mb.buckets, bucket{upperBound, sample.F})
	}
}

func validateQuantile(ev *evaluator, q float64, arg parser.Expr) {
	if math.IsNaN(q) || q < 0 || q > 1 {
		ev.warn(annotations.NewInvalidQuantileWarning(q, arg.PositionRange()))
	}
}

// sortedBucketGroups returns the classic histogram groups in a deterministic order.
func (enh *evalNodeHelper) sortedBucketGroups() []*metricWithBuckets {
	keys := make([]string, 0, len(enh.signatureToMetricWithBuckets))
	for k, mb := range enh.signatureToMetricWithBuckets {
		if len(mb.buckets) > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]*metricWithBuckets, len(keys))
	for i, k := range keys {
		out[i] = enh.signatureToMetricWithBuckets[k]
	}
	return out
}

func funcHistogramQuantile(ev *evaluator, vals []Vector, args parser.Expressions, enh *evalNodeHelper) Vector {
	if len(vals[0]) == 0 {
		return enh.Out
	}
	q := vals[0][0].F
	validateQuantile(ev, q, args[0])
	enh.classicBuckets(ev, vals[1], args[1])
	for _, mb := range enh.sortedBucketGroups() {
		res, forcedMonotonicity, _, minBucket, maxBucket, maxDiff := bucketQuantile(q, mb.buckets)
		if forcedMonotonicity {
			ev.warn(annotations.NewHistogramQuantileForcedMonotonicityInfo(mb.metric.Get(labels.MetricName), args[1].PositionRange(), enh.Ts, minBucket, maxBucket, maxDiff))
		}
		enh.Out = append(enh.Out, Sample{Metric: mb.metric, F: res, dropName: true})
	}
	return enh.Out
}

func funcHistogramQuantiles(ev *evaluator, vals []Vector, args parser.Expressions, enh *evalNodeHelper) Vector {
	quantileLabel := args[1].(*parser.StringLiteral).Val
	qs := make([]float64, 0, len(vals)-2)
	if enh.quantileStrs == nil {
		enh.quantileStrs = map[float64]string{}
	}
	for i := 2; i < len(vals); i++ {
		q := vals[i][0].F
		validateQuantile(ev, q, args[i])
		if _, ok := enh.quantileStrs[q]; !ok {
			enh.quantileStrs[q] = labels.FormatOpenMetricsFloat(q)
		}
		qs = append(qs, q)
	}
	enh.classicBuckets(ev, vals[0], args[0])
	groups := enh.sortedBucketGroups()
	for _, q := range qs {
		for _, mb := range groups {
			res, forcedMonotonicity, _, minBucket, maxBucket, maxDiff := bucketQuantile(q, mb.buckets)
			if forcedMonotonicity {
				ev.warn(annotations.NewHistogramQuantileForcedMonotonicityInfo(mb.metric.Get(labels.MetricName), args[0].PositionRange(), enh.Ts, minBucket, maxBucket, maxDiff))
			}
			enh.Out = append(enh.Out, Sample{Metric: enh.lblsWithQuantile(mb.metric, quantileLabel, q), F: res, dropName: true})
		}
	}
	return enh.Out
}

func (enh *evalNodeHelper) lblsWithQuantile(lbls labels.Labels, quantileLabel string, q float64) labels.Labels {
	if enh.signatureToLabelsWithQuantile == nil {
		enh.signatureToLabelsWithQuantile = map[string]map[float64]labels.Labels{}
	}
	enh.lblBuf = lbls.Bytes(enh.lblBuf)
	cached, ok := enh.signatureToLabelsWithQuantile[string(enh.lblBuf)]
	if !ok {
		cached = map[float64]labels.Labels{}
		enh.signatureToLabelsWithQuantile[string(enh.lblBuf)] = cached
	}
	if l, ok := cached[q]; ok && !math.IsNaN(q) {
		return l
	}
	quantileStr := "NaN"
	if !math.IsNaN(q) {
		quantileStr = enh.quantileStrs[q]
	}
	l := labels.NewBuilder(lbls).Set(quantileLabel, quantileStr).Labels()
	cached[q] = l
	return l
}

func funcHistogramFraction(ev *evaluator, vals []Vector, args parser.Expressions, enh *evalNodeHelper) Vector {
	if len(vals[0]) == 0 || len(vals[1]) == 0 {
		return enh.Out
	}
	lower, upper := vals[0][0].F, vals[1][0].F
	enh.classicBuckets(ev, vals[2], args[2])
	for _, mb := range enh.sortedBucketGroups() {
		enh.Out = append(enh.Out, Sample{Metric: mb.metric, F: bucketFraction(lower, upper, mb.buckets), dropName: true})
	}
	return enh.Out
}

// vectorByValueHeap orders samples by value, NaN first (a min-heap for topk).
type vectorByValueHeap Vector

func (s vectorByValueHeap) Len() int { return len(s) }
func (s vectorByValueHeap) Less(i, j int) bool {
	vi, vj := s[i].F, s[j].F
	if math.IsNaN(vi) {
		return true
	}
	return vi < vj
}
func (s vectorByValueHeap) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s *vectorByValueHeap) Push(x any)   { *s = append(*s, *x.(*Sample)) }
func (s *vectorByValueHeap) Pop() any {
	old := *s
	n := len(old)
	el := old[n-1]
	*s = old[0 : n-1]
	return el
}

// vectorByReverseValueHeap orders samples by value descending, NaN first (for bottomk).
type vectorByReverseValueHeap Vector

func (s vectorByReverseValueHeap) Len() int { return len(s) }
func (s vectorByReverseValueHeap) Less(i, j int) bool {
	vi, vj := s[i].F, s[j].F
	if math.IsNaN(vi) {
		return true
	}
	return vi > vj
}
func (s vectorByReverseValueHeap) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s *vectorByReverseValueHeap) Push(x any)   { *s = append(*s, *x.(*Sample)) }
func (s *vectorByReverseValueHeap) Pop() any {
	old := *s
	n := len(old)
	el := old[n-1]
	*s = old[0 : n-1]
	return el
}

var _ heap.Interface = (*vectorByValueHeap)(nil)

// createLabelsForAbsentFunction returns the labels absent() reports: the equality matchers
// of the selector (except for the name), unless a label is matched more than once.
func createLabelsForAbsentFunction(expr parser.Expr) labels.Labels {
	b := labels.NewBuilder(labels.EmptyLabels())
	var lm []*labels.Matcher
	switch n := unwrapParens(expr).(type) {
	case *parser.VectorSelector:
		lm = n.LabelMatchers
	case *parser.MatrixSelector:
		lm = n.VectorSelector.(*parser.VectorSelector).LabelMatchers
	default:
		return labels.EmptyLabels()
	}
	has := make(map[string]bool, len(lm))
	for _, ma := range lm {
		if ma.Name == labels.MetricName {
			continue
		}
		if ma.Type == labels.MatchEqual && !has[ma.Name] {
			b.Set(ma.Name, ma.Value)
			has[ma.Name] = true
		} else {
			b.Del(ma.Name)
		}
	}
	return b.Labels()
}

func stringFromArg(e parser.Expr) string {
	return unwrapParens(e).(*parser.StringLiteral).Val
}

func stringSliceFromArgs(args parser.Expressions) []string {
	tmp := make([]string, len(args))
	for i := range args {
		tmp[i] = stringFromArg(args[i])
	}
	return tmp
}

func compileAnchoredRegexp(re string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?s:" + re + ")$")
}
