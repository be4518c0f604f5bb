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
// Modified by Vigil: ported from github.com/prometheus/prometheus promql/functions.go and
// promql/quantile.go (v0.315.0), names prefixed with "up". Vigil's engine evaluates float
// samples with its own functions (functions.go); these upstream implementations take over
// for a step whose input holds native histograms, so that histogram semantics and
// annotations are upstream's own.

package promql

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/facette/natsort"
	"github.com/prometheus/common/model"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
	"github.com/prometheus/prometheus/schema"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/prometheus/prometheus/util/kahansum"
)

type upFunctionCall func(vectorVals []Vector, matrixVals Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations)

// === time() float64 ===
func upFuncTime(_ []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return Vector{Sample{
		F: float64(enh.Ts) / 1000,
	}}, nil
}

// upPickOrInterpolateLeft returns the value at the left boundary of the range.
// If interpolation is needed (when smoothed is true and the first sample is before the range start),
// it returns the interpolated value at the left boundary; otherwise, it returns the first sample's value.
func upPickOrInterpolateLeft(floats []FPoint, first int, rangeStart int64, smoothed, isCounter bool) float64 {
	if smoothed && floats[first].T < rangeStart {
		return upInterpolate(floats[first], floats[first+1], rangeStart, isCounter)
	}
	return floats[first].F
}

// upPickOrInterpolateRight returns the value at the right boundary of the range.
// If interpolation is needed (when smoothed is true and the last sample is after the range end),
// it returns the interpolated value at the right boundary; otherwise, it returns the last sample's value.
func upPickOrInterpolateRight(floats []FPoint, last int, rangeEnd int64, smoothed, isCounter bool) float64 {
	if smoothed && last > 0 && floats[last].T > rangeEnd {
		return upInterpolate(floats[last-1], floats[last], rangeEnd, isCounter)
	}
	return floats[last].F
}

// upInterpolate performs linear interpolation between two points.
// If isCounter is true and there is a counter reset, it models the counter
// as starting from 0 (post-reset) by setting y1 to 0.
// It then calculates the interpolated value at the given timestamp.
func upInterpolate(p1, p2 FPoint, t int64, isCounter bool) float64 {
	y1 := p1.F
	y2 := p2.F
	if isCounter && y2 < y1 {
		y1 = 0
	}

	return y1 + (y2-y1)*float64(t-p1.T)/float64(p2.T-p1.T)
}

// upInterpolateHistograms performs linear interpolation between two histogram points.
// If isCounter is true and there is a counter reset, it models the counter
// as starting from 0 (post-reset) by returning h2 scaled by the fraction.
// It returns an error if the histograms are incompatible (e.g. mixing
// exponential and custom-bucket schemas). NHCB bucket-bounds reconciliation
// warnings are collected into annos.
func upInterpolateHistograms(h1 *histogram.FloatHistogram, t1 int64, h2 *histogram.FloatHistogram, t2, t int64, isCounter bool, annos *annotations.Annotations, pos posrange.PositionRange) (*histogram.FloatHistogram, error) {
	if t == t1 {
		return h1.Copy(), nil
	}
	if t == t2 {
		return h2.Copy(), nil
	}
	fraction := float64(t-t1) / float64(t2-t1)

	if isCounter && h2.DetectReset(h1) {
		// Counter reset: model as starting from zero.
		return h2.Copy().Mul(fraction), nil
	}

	// Result = H1 + (H2 - H1) * fraction.
	result := h2.Copy()
	_, _, nhcbReconciled, err := result.Sub(h1)
	if err != nil {
		return nil, err
	}
	if nhcbReconciled {
		annos.Add(annotations.NewMismatchedCustomBucketsHistogramsInfo(pos, annotations.HistogramSub))
	}
	result.Mul(fraction)
	_, _, nhcbReconciled, err = result.Add(h1)
	if err != nil {
		return nil, err
	}
	if nhcbReconciled {
		annos.Add(annotations.NewMismatchedCustomBucketsHistogramsInfo(pos, annotations.HistogramAdd))
	}
	return result, nil
}

// upPickOrInterpolateLeftHistogram returns the histogram at the left boundary of the range.
// If interpolation is needed (when smoothed is true and the first sample is before the range start),
// it returns the interpolated histogram at the left boundary; otherwise, it returns a copy of the first sample's histogram.
func upPickOrInterpolateLeftHistogram(hists []HPoint, first int, rangeStart int64, smoothed, isCounter bool, annos *annotations.Annotations, pos posrange.PositionRange) (*histogram.FloatHistogram, error) {
	if smoothed && hists[first].T < rangeStart {
		return upInterpolateHistograms(hists[first].H, hists[first].T, hists[first+1].H, hists[first+1].T, rangeStart, isCounter, annos, pos)
	}
	return hists[first].H.Copy(), nil
}

// upPickOrInterpolateRightHistogram returns the histogram at the right boundary of the range.
// If interpolation is needed (when smoothed is true and the last sample is after the range end),
// it returns the interpolated histogram at the right boundary; otherwise, it returns a copy of the last sample's histogram.
func upPickOrInterpolateRightHistogram(hists []HPoint, last int, rangeEnd int64, smoothed, isCounter bool, annos *annotations.Annotations, pos posrange.PositionRange) (*histogram.FloatHistogram, error) {
	if smoothed && last > 0 && hists[last].T > rangeEnd {
		return upInterpolateHistograms(hists[last-1].H, hists[last-1].T, hists[last].H, hists[last].T, rangeEnd, isCounter, annos, pos)
	}
	return hists[last].H.Copy(), nil
}

// upCorrectForCounterResets calculates the correction for counter resets.
// This function is only used for upExtendedRate functions with smoothed or anchored rates.
func upCorrectForCounterResets(left, right float64, points []FPoint) float64 {
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

// upAnnosFromInterpolationError classifies an error returned by
// upInterpolateHistograms (via pickOrInterpolate*Histogram) into the appropriate
// annotation. If the error is not recognised, annos is left unchanged.
func upAnnosFromInterpolationError(annos *annotations.Annotations, err error, metricName string, pos posrange.PositionRange) {
	if errors.Is(err, histogram.ErrHistogramsIncompatibleSchema) {
		annos.Add(annotations.NewMixedExponentialCustomHistogramsWarning(metricName, pos))
	}
}

// upAddHistogramWithAnnotations adds other into base in place, translating
// histogram errors and bucket-bounds reconciliations into annotations.
// It returns false if the operation failed.
func upAddHistogramWithAnnotations(base, other *histogram.FloatHistogram, annos *annotations.Annotations, metricName string, pos posrange.PositionRange) bool {
	_, _, nhcbBoundsReconciled, err := base.Add(other)
	if err != nil {
		if errors.Is(err, histogram.ErrHistogramsIncompatibleSchema) {
			annos.Add(annotations.NewMixedExponentialCustomHistogramsWarning(metricName, pos))
		}
		return false
	}
	if nhcbBoundsReconciled {
		annos.Add(annotations.NewMismatchedCustomBucketsHistogramsInfo(pos, annotations.HistogramAdd))
	}
	return true
}

// upSubHistogramWithAnnotations subtracts other from base in place, translating
// histogram errors and bucket-bounds reconciliations into annotations.
// It returns false if the operation failed.
func upSubHistogramWithAnnotations(base, other *histogram.FloatHistogram, annos *annotations.Annotations, metricName string, pos posrange.PositionRange) bool {
	_, _, nhcbBoundsReconciled, err := base.Sub(other)
	if err != nil {
		if errors.Is(err, histogram.ErrHistogramsIncompatibleSchema) {
			annos.Add(annotations.NewMixedExponentialCustomHistogramsWarning(metricName, pos))
		}
		return false
	}
	if nhcbBoundsReconciled {
		annos.Add(annotations.NewMismatchedCustomBucketsHistogramsInfo(pos, annotations.HistogramSub))
	}
	return true
}

// upValidateHistogramRange checks all histogram samples in h for schema
// consistency and counter-type hints. It returns false (and adds an annotation
// to annos) when exponential and custom buckets are mixed. It adds a
// NativeHistogramNotCounterWarning for any sample carrying a gauge hint while
// isCounter is true.
func upValidateHistogramRange(h []HPoint, isCounter bool, annos *annotations.Annotations, metricName string, pos posrange.PositionRange) bool {
	usingCustomBuckets := h[0].H.UsesCustomBuckets()
	for _, p := range h {
		if p.H.UsesCustomBuckets() != usingCustomBuckets {
			annos.Add(annotations.NewMixedExponentialCustomHistogramsWarning(metricName, pos))
			return false
		}
		if isCounter && p.H.CounterResetHint == histogram.GaugeType {
			annos.Add(annotations.NewNativeHistogramNotCounterWarning(metricName, pos))
		}
	}
	return true
}

// upCorrectForCounterResetsHistogram calculates the histogram correction for
// counter resets between firstSampleIndex and lastSampleIndex in h, using
// left and right as the boundary values. It mirrors upCorrectForCounterResets
// for float samples. It returns the accumulated correction (nil if none),
// any annotations, and false if combining histograms failed.
func upCorrectForCounterResetsHistogram(h []HPoint, firstSampleIndex, lastSampleIndex int, left, right *histogram.FloatHistogram, rangeStart int64, smoothed bool, metricName string, pos posrange.PositionRange) (*histogram.FloatHistogram, annotations.Annotations, bool) {
	// firstSampleIndex is represented by left, so the loop starts one beyond.
	first := firstSampleIndex + 1
	prev := left
	if smoothed && h[firstSampleIndex].T < rangeStart && h[firstSampleIndex+1].H.DetectReset(h[firstSampleIndex].H) {
		// The left interpolation spanned the reset between h[firstSampleIndex]
		// and h[firstSampleIndex+1]. That reset is already accounted for, so
		// skip h[firstSampleIndex+1] from the loop and use it as the comparison
		// anchor for any reset that immediately follows.
		prev = h[firstSampleIndex+1].H
		first++
	}
	// lastSampleIndex is always excluded: right is either a direct copy of
	// h[lastSampleIndex] or an interpolation that inherits its CounterResetHint.
	// Including h[lastSampleIndex] in the loop would make right.DetectReset
	// self-detect on the same hint. The final right.DetectReset(prev) below
	// handles the right-boundary reset safely once h[lastSampleIndex] is not prev.
	last := lastSampleIndex - 1

	// first > last+1 when there is nothing between the two boundary samples to
	// check. This happens when firstSampleIndex == lastSampleIndex (single-sample
	// window), or when the smoothed left interpolation already spanned the only
	// reset interval (lastSampleIndex == firstSampleIndex+1 and first was
	// incremented above). Both boundaries were interpolated from the same reset
	// segment, so there is nothing more to correct.
	if first > last+1 {
		return nil, nil, true
	}

	var (
		correction *histogram.FloatHistogram
		annos      annotations.Annotations
	)

	addCorrection := func(h *histogram.FloatHistogram) bool {
		if correction == nil {
			correction = h.Copy()
			return true
		}
		return upAddHistogramWithAnnotations(correction, h, &annos, metricName, pos)
	}

	for _, p := range h[first : last+1] {
		if p.H.DetectReset(prev) {
			if !addCorrection(prev) {
				return nil, annos, false
			}
		}
		prev = p.H
	}
	if right.DetectReset(prev) {
		if !addCorrection(prev) {
			return nil, annos, false
		}
	}
	return correction, annos, true
}

// upExtendedRate is a utility function for anchored/smoothed rate/increase/delta.
// It calculates the rate (allowing for counter resets if isCounter is true),
// interpolates at the first/last sample boundary if needed, and returns
// the result as either per-second (if isRate is true) or overall.
func upExtendedRate(vals Matrix, args parser.Expressions, enh *upEvalNodeHelper, isCounter, isRate bool) (Vector, annotations.Annotations) {
	var (
		ms              = args[0].(*parser.MatrixSelector)
		vs              = ms.VectorSelector.(*parser.VectorSelector)
		samples         = vals[0]
		f               = samples.Floats
		lastSampleIndex = len(f) - 1
		rangeStart      = enh.Ts - durationMilliseconds(ms.Range+vs.Offset)
		rangeEnd        = enh.Ts - durationMilliseconds(vs.Offset)
		annos           annotations.Annotations
		smoothed        = vs.Smoothed
	)

	firstSampleIndex := max(0, sort.Search(lastSampleIndex, func(i int) bool { return f[i].T > rangeStart })-1)
	if smoothed {
		lastSampleIndex = sort.Search(lastSampleIndex, func(i int) bool { return f[i].T >= rangeEnd })
	}

	if f[lastSampleIndex].T <= rangeStart {
		return enh.Out, annos
	}
	if smoothed && f[firstSampleIndex].T > rangeEnd {
		return enh.Out, annos
	}

	left := upPickOrInterpolateLeft(f, firstSampleIndex, rangeStart, smoothed, isCounter)
	right := upPickOrInterpolateRight(f, lastSampleIndex, rangeEnd, smoothed, isCounter)

	resultFloat := right - left

	if isCounter {
		// We only need to consider samples exactly within the range
		// for counter resets correction, as upPickOrInterpolateLeft and
		// upPickOrInterpolateRight already handle the resets at boundaries.
		if f[firstSampleIndex].T <= rangeStart {
			firstSampleIndex++
		}
		if f[lastSampleIndex].T >= rangeEnd {
			lastSampleIndex--
		}

		resultFloat += upCorrectForCounterResets(left, right, f[firstSampleIndex:lastSampleIndex+1])
	}
	if isRate {
		resultFloat /= ms.Range.Seconds()
	}

	return append(enh.Out, Sample{F: resultFloat}), annos
}

// upExtendedHistogramRate is a utility function for anchored/smoothed rate/increase/delta
// with native histograms. It calculates the rate (allowing for counter resets if
// isCounter is true), interpolates at the range boundaries if needed, and returns
// the result as either per-second (if isRate is true) or overall.
//
// TODO: upHistogramRate pre-computes the minimum exponential schema across all
// samples and reduces every sample to that schema before doing arithmetic, so
// the schema is reduced at most once. upExtendedHistogramRate reduces schema on
// the fly during pairwise Sub/Add operations. In the common constant-schema
// case both produce identical results. In mixed-schema cases the final schema
// is also the same (global minimum wins either way), but intermediate values
// may briefly sit at a higher resolution before being pulled down when the
// correction is added. Aligning the two approaches requires a min-schema
// pre-scan followed by CopyToSchema on the interpolated boundaries, which is
// a non-trivial change and warrants its own PR.
func upExtendedHistogramRate(vals Matrix, args parser.Expressions, enh *upEvalNodeHelper, isCounter, isRate bool) (Vector, annotations.Annotations) {
	var (
		ms              = args[0].(*parser.MatrixSelector)
		vs              = ms.VectorSelector.(*parser.VectorSelector)
		samples         = vals[0]
		h               = samples.Histograms
		lastSampleIndex = len(h) - 1
		rangeStart      = enh.Ts - durationMilliseconds(ms.Range+vs.Offset)
		rangeEnd        = enh.Ts - durationMilliseconds(vs.Offset)
		annos           annotations.Annotations
		metricName      = upGetMetricName(samples.Metric)
		pos             = args[0].PositionRange()
		smoothed        = vs.Smoothed
	)

	firstSampleIndex := max(0, sort.Search(lastSampleIndex, func(i int) bool { return h[i].T > rangeStart })-1)
	if smoothed {
		lastSampleIndex = sort.Search(lastSampleIndex, func(i int) bool { return h[i].T >= rangeEnd })
	}

	if h[lastSampleIndex].T <= rangeStart {
		return enh.Out, annos
	}
	if smoothed && h[firstSampleIndex].T > rangeEnd {
		return enh.Out, annos
	}

	if !upValidateHistogramRange(h[firstSampleIndex:lastSampleIndex+1], isCounter, &annos, metricName, pos) {
		return enh.Out, annos
	}

	left, err := upPickOrInterpolateLeftHistogram(h, firstSampleIndex, rangeStart, smoothed, isCounter, &annos, pos)
	if err != nil {
		upAnnosFromInterpolationError(&annos, err, metricName, pos)
		return enh.Out, annos
	}
	right, err := upPickOrInterpolateRightHistogram(h, lastSampleIndex, rangeEnd, smoothed, isCounter, &annos, pos)
	if err != nil {
		upAnnosFromInterpolationError(&annos, err, metricName, pos)
		return enh.Out, annos
	}

	if !isCounter && (left.CounterResetHint != histogram.GaugeType || right.CounterResetHint != histogram.GaugeType) {
		annos.Add(annotations.NewNativeHistogramNotGaugeWarning(metricName, pos))
	}

	// Copy right so that upCorrectForCounterResetsHistogram can still call
	// right.DetectReset without observing mutations from upSubHistogramWithAnnotations.
	resultHistogram := right.Copy()
	if !upSubHistogramWithAnnotations(resultHistogram, left, &annos, metricName, pos) {
		return enh.Out, annos
	}

	if isCounter {
		correction, newAnnos, ok := upCorrectForCounterResetsHistogram(h, firstSampleIndex, lastSampleIndex, left, right, rangeStart, smoothed, metricName, pos)
		annos.Merge(newAnnos)
		if !ok {
			return enh.Out, annos
		}
		if correction != nil && !upAddHistogramWithAnnotations(resultHistogram, correction, &annos, metricName, pos) {
			return enh.Out, annos
		}
	}
	if isRate {
		resultHistogram.Div(ms.Range.Seconds())
	}

	resultHistogram.CounterResetHint = histogram.GaugeType
	return append(enh.Out, Sample{H: resultHistogram.Compact(0)}), annos
}

// upExtrapolatedRate is a utility function for rate/increase/delta.
// It calculates the rate (allowing for counter resets if isCounter is true),
// extrapolates if the first/last sample is close to the boundary, and returns
// the result as either per-second (if isRate is true) or overall.
//
// Note: If the vector selector is smoothed or anchored, it will use the
// upExtendedRate or upExtendedHistogramRate function instead.
func upExtrapolatedRate(vals Matrix, args parser.Expressions, enh *upEvalNodeHelper, isCounter, isRate bool) (Vector, annotations.Annotations) {
	ms := args[0].(*parser.MatrixSelector)
	vs := ms.VectorSelector.(*parser.VectorSelector)
	if vs.Anchored || vs.Smoothed {
		samples := vals[0]
		if len(samples.Histograms) > 0 && len(samples.Floats) > 0 {
			var annos annotations.Annotations
			return enh.Out, annos.Add(annotations.NewMixedFloatsHistogramsWarning(upGetMetricName(samples.Metric), args[0].PositionRange()))
		}
		if len(samples.Histograms) > 0 {
			return upExtendedHistogramRate(vals, args, enh, isCounter, isRate)
		}
		if len(samples.Floats) > 0 {
			return upExtendedRate(vals, args, enh, isCounter, isRate)
		}
		// Not enough samples.
		return enh.Out, nil
	}

	var (
		samples            = vals[0]
		startTimestamps    []int64
		rangeStart         = enh.Ts - durationMilliseconds(ms.Range+vs.Offset)
		rangeEnd           = enh.Ts - durationMilliseconds(vs.Offset)
		resultFloat        float64
		resultHistogram    *histogram.FloatHistogram
		firstT, lastT      int64
		numSamplesMinusOne int
		annos              annotations.Annotations
	)

	// Drop this vector element and return a warning if this rate window contains mixed float and histogram samples.
	if len(samples.Histograms) > 0 && len(samples.Floats) > 0 {
		return enh.Out, annos.Add(annotations.NewMixedFloatsHistogramsWarning(upGetMetricName(samples.Metric), args[0].PositionRange()))
	}

	// To calculate a rate, we normally need at least two float or two histogram samples. However,
	// we can calculate rate with a single sample as long as there's a start timestamp reset inside the window.
	switch {
	case len(samples.Histograms) > 0:
		numSamplesMinusOne = len(samples.Histograms) - 1
		firstT = samples.Histograms[0].T
		lastT = samples.Histograms[numSamplesMinusOne].T
		var newAnnos annotations.Annotations
		if enh.StartTimestamps != nil {
			startTimestamps = enh.StartTimestamps.Histograms
		}
		if len(samples.Histograms) > 1 {
			resultHistogram, newAnnos = upHistogramRate(samples.Histograms, startTimestamps, isCounter,
				samples.Metric, args[0].PositionRange(), enh.histRate)
			annos.Merge(newAnnos)
			if resultHistogram == nil {
				// The histograms are not compatible with each other.
				return enh.Out, annos
			}
		}
	case len(samples.Floats) > 0:
		numSamplesMinusOne = len(samples.Floats) - 1
		firstT = samples.Floats[0].T
		lastT = samples.Floats[numSamplesMinusOne].T
		resultFloat = samples.Floats[numSamplesMinusOne].F - samples.Floats[0].F
		if !isCounter {
			break
		}
		// Handle counter resets:
		if enh.StartTimestamps != nil {
			startTimestamps = enh.StartTimestamps.Floats
		}
		var overlapDetected bool
		for i, currPoint := range samples.Floats[1:] {
			prevPoint := samples.Floats[i]
			// Warn once per series if start timestamp overlap detected.
			if !overlapDetected && i+1 < len(startTimestamps) {
				if upCheckStartTimeOverlap(startTimestamps[i], prevPoint.T, startTimestamps[i+1]) {
					// Extract metric name only when needed.
					annos.Add(annotations.NewStartTimeOverlapWarning(upGetMetricName(samples.Metric), args[0].PositionRange()))
					overlapDetected = true
				}
			}
			if currPoint.F < prevPoint.F || (i+1 < len(startTimestamps) && upIsStartTimestampReset(startTimestamps[i], prevPoint.T, startTimestamps[i+1], currPoint.T)) {
				resultFloat += prevPoint.F
			}
		}
	default:
		// TODO: add RangeTooShortWarning
		return enh.Out, annos
	}

	// Duration between first/last samples and boundary of range.
	durationToStart := float64(firstT-rangeStart) / 1000
	durationToEnd := float64(rangeEnd-lastT) / 1000

	sampledInterval := float64(lastT-firstT) / 1000
	var averageDurationBetweenSamples float64
	if numSamplesMinusOne > 0 {
		averageDurationBetweenSamples = sampledInterval / float64(numSamplesMinusOne)
	}
	extrapolationThreshold := averageDurationBetweenSamples * 1.1

	if sts := startTimestamps; isCounter && len(sts) > 0 && sts[0] != 0 && sts[0] > rangeStart && sts[0] < firstT {
		// Take the first sample in the range and check whether its ST points inside the range
		// (while also having a sensible value). If yes, we assume that there is a zero-value sample
		// at the time of ST, and use that instead of extrapolating towards left side.
		//
		// Note that the rangeStart is exclusive, thus ST=rangeStart would be outside the range.
		//
		// Also note that when there's a single sample, we lose extrapolation to the right, because
		// we need at least two samples to calculate average duration between samples, which leads
		// to extrapolation threshold being 0.
		durationToStart = 0
		sampledInterval = float64(lastT-sts[0]) / 1000
		if len(samples.Floats) > 0 {
			resultFloat += samples.Floats[0].F
		} else if len(samples.Histograms) > 0 {
			if resultHistogram == nil {
				resultHistogram = samples.Histograms[0].H.Copy()
			} else if !upAddHistogramWithAnnotations(resultHistogram, samples.Histograms[0].H, &annos, upGetMetricName(samples.Metric), args[0].PositionRange()) {
				return enh.Out, annos
			}
		}
	} else if numSamplesMinusOne == 0 {
		// There's a single sample, and we do not have suitable ST to calculate the increase. Return nothing.
		return enh.Out, annos
	} else {
		// If samples are close enough to the (lower or upper) boundary of the
		// range, we extrapolate the rate all the way to the boundary in
		// question. "Close enough" is defined as "up to 10% more than the
		// average duration between samples within the range", see
		// extrapolationThreshold below. Essentially, we are assuming a more or
		// less regular spacing between samples, and if we don't see a sample
		// where we would expect one, we assume the series does not cover the
		// whole range, but starts and/or ends within the range. We still
		// extrapolate the rate in this case, but not all the way to the
		// boundary, but only by half of the average duration between samples
		// (which is our guess for where the series actually starts or ends).

		if durationToStart >= extrapolationThreshold {
			durationToStart = averageDurationBetweenSamples / 2
		}
		if isCounter {
			// Counters cannot be negative. If we have any slope at all
			// (i.e. resultFloat went up), we can extrapolate the zero point
			// of the counter. If the duration to the zero point is shorter
			// than the durationToStart, we take the zero point as the start
			// of the series, thereby avoiding extrapolation to negative
			// counter values.
			durationToZero := durationToStart
			if resultFloat > 0 &&
				len(samples.Floats) > 0 &&
				samples.Floats[0].F >= 0 {
				durationToZero = sampledInterval * (samples.Floats[0].F / resultFloat)
			} else if resultHistogram != nil &&
				resultHistogram.Count > 0 &&
				len(samples.Histograms) > 0 &&
				samples.Histograms[0].H.Count >= 0 {
				durationToZero = sampledInterval * (samples.Histograms[0].H.Count / resultHistogram.Count)
			}
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
		factor /= ms.Range.Seconds()
	}
	if resultHistogram == nil {
		resultFloat *= factor
	} else {
		resultHistogram.Mul(factor)
	}

	return append(enh.Out, Sample{F: resultFloat, H: resultHistogram}), annos
}

// upHistogramRate is a helper function for upExtrapolatedRate. It requires
// points[0] to be a histogram. It returns nil if any other Point in points is
// not a histogram or there are incompatibilities between histograms, and a warning
// wrapped in an annotation in that case. Otherwise, it returns the calculated histogram,
// and potentially some annotations.
// upDetectReset is curr.DetectReset(prev) where prev is points[i-1].H, from the verdicts of
// histRateScratch.resets when there are (Vigil).
func upDetectReset(resets []bool, i int, curr, prev *histogram.FloatHistogram) bool {
	if resets != nil {
		return resets[i]
	}
	return curr.DetectReset(prev)
}

func upHistogramRate(
	points []HPoint,
	startTimestamps []int64,
	isCounter bool,
	labels labels.Labels,
	pos posrange.PositionRange,
	rs *histRateScratch, // Vigil: nil computes as upstream does
) (*histogram.FloatHistogram, annotations.Annotations) {
	var (
		prev               = points[0].H
		usingCustomBuckets = prev.UsesCustomBuckets()
		last               = points[len(points)-1].H
		annos              annotations.Annotations
	)

	if last == nil {
		return nil, annos.Add(annotations.NewMixedFloatsHistogramsWarning(upGetMetricName(labels), pos))
	}

	// We check for gauge type histograms in the loop below, but the loop
	// below does not run on the first and last point, so check the first
	// and last point now.
	if isCounter && (prev.CounterResetHint == histogram.GaugeType || last.CounterResetHint == histogram.GaugeType) {
		// TODO(start-timestamps): for delta histograms, we plan to use Gauge counter reset hint,
		// while the reset will be indicated via a start timestamp. This will be an expected usage pattern,
		// thus we should not be returning the following warning. When addressing this, also check
		// other places where this warning is being emitted.
		annos.Add(annotations.NewNativeHistogramNotCounterWarning(upGetMetricName(labels), pos))
	}

	// Null out the 1st sample if there is a counter reset between the 1st
	// and 2nd. In this case, we want to ignore any incompatibility in the
	// bucket layout of the 1st sample because we do not need to look at it.
	// Vigil: resets[i] is points[i].H.DetectReset(points[i-1].H), kept across steps.
	var resets []bool
	if isCounter && rs != nil {
		resets = rs.resets(points)
	}
	firstNulled := false
	if isCounter {
		second := points[1].H
		if second != nil && (len(startTimestamps) > 1 && upIsStartTimestampReset(startTimestamps[0], points[0].T, startTimestamps[1], points[1].T) || upDetectReset(resets, 1, second, prev)) {
			firstNulled = true
			prev = &histogram.FloatHistogram{}
			prev.Schema = second.Schema
			prev.CustomValues = second.CustomValues
			usingCustomBuckets = second.UsesCustomBuckets()
		}
	}

	if last.UsesCustomBuckets() != usingCustomBuckets {
		return nil, annos.Add(annotations.NewMixedExponentialCustomHistogramsWarning(upGetMetricName(labels), pos))
	}

	// First iteration to find out two things:
	// - What's the smallest relevant schema?
	// - Are all data points histograms?
	minSchema := min(last.Schema, prev.Schema)
	for _, currPoint := range points[1 : len(points)-1] {
		curr := currPoint.H
		if curr == nil {
			return nil, annotations.New().Add(annotations.NewMixedFloatsHistogramsWarning(upGetMetricName(labels), pos))
		}
		if !isCounter {
			continue
		}
		if curr.CounterResetHint == histogram.GaugeType {
			annos.Add(annotations.NewNativeHistogramNotCounterWarning(upGetMetricName(labels), pos))
		}
		if curr.Schema < minSchema {
			minSchema = curr.Schema
		}
		if curr.UsesCustomBuckets() != usingCustomBuckets {
			return nil, annotations.New().Add(annotations.NewMixedExponentialCustomHistogramsWarning(upGetMetricName(labels), pos))
		}
	}

	h := rs.copyToSchema(last, minSchema)
	// This subtraction may deliberately include conflicting counter resets.
	// Counter resets are treated explicitly in this function, so the
	// information about conflicting counter resets is ignored here.
	_, _, nhcbBoundsReconciled, err := h.Sub(prev)
	if err != nil {
		if errors.Is(err, histogram.ErrHistogramsIncompatibleSchema) {
			return nil, annotations.New().Add(annotations.NewMixedExponentialCustomHistogramsWarning(upGetMetricName(labels), pos))
		}
	}
	if nhcbBoundsReconciled {
		annos.Add(annotations.NewMismatchedCustomBucketsHistogramsInfo(pos, annotations.HistogramSub))
	}

	if isCounter {
		// Second iteration to deal with counter resets.
		var overlapDetected bool
		for i, currPoint := range points[1:] {
			curr := currPoint.H
			// Warn once per series if start timestamp overlap detected.
			if !overlapDetected && i+1 < len(startTimestamps) {
				if upCheckStartTimeOverlap(startTimestamps[i], points[i].T, startTimestamps[i+1]) {
					// Extract metric name only when needed.
					annos.Add(annotations.NewStartTimeOverlapWarning(upGetMetricName(labels), pos))
					overlapDetected = true
				}
			}
			// Check start timestamps first since it's potentially cheaper.
			if i+1 < len(startTimestamps) && upIsStartTimestampReset(startTimestamps[i], points[i].T, startTimestamps[i+1], currPoint.T) || (i == 0 && firstNulled && curr.DetectReset(prev)) || (i > 0 || !firstNulled) && upDetectReset(resets, i+1, curr, prev) {
				// Counter reset conflict ignored here for the same reason as above.
				_, _, nhcbBoundsReconciled, err := h.Add(prev)
				if err != nil {
					if errors.Is(err, histogram.ErrHistogramsIncompatibleSchema) {
						return nil, annotations.New().Add(annotations.NewMixedExponentialCustomHistogramsWarning(upGetMetricName(labels), pos))
					}
				}
				if nhcbBoundsReconciled {
					annos.Add(annotations.NewMismatchedCustomBucketsHistogramsInfo(pos, annotations.HistogramAdd))
				}
			}
			prev = curr
		}
	} else if points[0].H.CounterResetHint != histogram.GaugeType || points[len(points)-1].H.CounterResetHint != histogram.GaugeType {
		annos.Add(annotations.NewNativeHistogramNotGaugeWarning(upGetMetricName(labels), pos))
	}

	h.CounterResetHint = histogram.GaugeType
	return h.Compact(0), annos
}

// upIsStartTimestampReset tells whether there was a counter reset by checking the start timestamp value.
func upIsStartTimestampReset(prevStartTimestamp, prevTimestamp, currStartTimestamp, currTimestamp int64) bool {
	if prevStartTimestamp == currStartTimestamp || currStartTimestamp == 0 || currStartTimestamp >= currTimestamp {
		// No reset if start timestamp hasn't changed, if it is not set (value is 0), if it is clearly invalid
		// (ST > T), or if it is OTel's unknown start time (ST == T).
		return false
	}

	if currStartTimestamp < prevTimestamp {
		return false
	}

	if currStartTimestamp > prevTimestamp {
		return true
	}

	// If this place is reached, then it means that the current datapoint start timestamp is pointing
	// to a previous datapoint. In OTel, this should only happen in two cases:
	// * this is a delta series,
	// * or this is a cumulative series with unknown start timestamp.
	//
	// This should be treated as a reset for deltas, but it is not a reset for cumulative series
	// with unknown start timestamp. Thus we have to check whether the start timestamp
	// of the previous datapoint is known.
	//
	// A previous start timestamp greater than the previous sample timestamp is invalid; treat it
	// as unknown to avoid a spurious reset.
	if prevStartTimestamp > prevTimestamp {
		return false
	}
	return prevStartTimestamp != 0 && prevStartTimestamp != prevTimestamp
}

// upCheckStartTimeOverlap detects when a sample's start timestamp overlaps with a
// previous sample's timestamp, indicating potential data quality issues.
// Works for both delta and cumulative counter metrics.
//
// Returns true when: currST != 0 && currST < prevT && currST != prevST
// This correctly handles:
//   - Valid deltas: currST = prevT (no overlap detected)
//   - Valid cumulative: currST = prevST (no overlap detected)
//   - Invalid overlap: currST < prevT && currST != prevST (overlap detected)
func upCheckStartTimeOverlap(prevStartTimestamp, prevTimestamp, currStartTimestamp int64) bool {
	return currStartTimestamp != 0 && currStartTimestamp < prevTimestamp && currStartTimestamp != prevStartTimestamp
}

// === delta(Matrix parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncDelta(_ []Vector, matrixVals Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upExtrapolatedRate(matrixVals, args, enh, false, false)
}

// === rate(node parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncRate(_ []Vector, matrixVals Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upExtrapolatedRate(matrixVals, args, enh, true, true)
}

// === increase(node parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncIncrease(_ []Vector, matrixVals Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upExtrapolatedRate(matrixVals, args, enh, true, false)
}

// === irate(node parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncIrate(_ []Vector, matrixVals Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upInstantValue(matrixVals, args, enh, true)
}

// === idelta(node model.ValMatrix) (Vector, Annotations) ===
func upFuncIdelta(_ []Vector, matrixVals Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upInstantValue(matrixVals, args, enh, false)
}

func upInstantValue(vals Matrix, args parser.Expressions, enh *upEvalNodeHelper, isRate bool) (Vector, annotations.Annotations) {
	type sampleWithSt struct {
		Sample

		ST int64
	}

	var (
		samples = vals[0]
		out     = enh.Out
		ss      = make([]sampleWithSt, 0, 2)
		annos   annotations.Annotations
	)

	// No sense in trying to compute a rate without at least two points. Drop
	// this Vector element.
	// TODO: add RangeTooShortWarning
	if len(samples.Floats)+len(samples.Histograms) < 2 {
		return out, nil
	}

	// Add the last 2 float samples if they exist.
	for i := max(0, len(samples.Floats)-2); i < len(samples.Floats); i++ {
		s := sampleWithSt{
			Sample: Sample{
				F: samples.Floats[i].F,
				T: samples.Floats[i].T,
			},
		}
		if sts := enh.StartTimestamps; sts != nil && i < len(sts.Floats) {
			s.ST = sts.Floats[i]
		}
		ss = append(ss, s)
	}

	// Add the last 2 histogram samples into their correct position if they exist.
	for i := max(0, len(samples.Histograms)-2); i < len(samples.Histograms); i++ {
		s := sampleWithSt{
			Sample: Sample{
				H: samples.Histograms[i].H,
				T: samples.Histograms[i].T,
			},
		}
		if sts := enh.StartTimestamps; sts != nil && i < len(sts.Histograms) {
			s.ST = sts.Histograms[i]
		}
		switch {
		case len(ss) == 0:
			ss = append(ss, s)
		case len(ss) == 1:
			if s.T < ss[0].T {
				ss = append([]sampleWithSt{s}, ss...)
			} else {
				ss = append(ss, s)
			}
		case s.T < ss[0].T:
			// s is older than 1st, so discard it.
		case s.T > ss[1].T:
			// s is newest, so add it as 2nd and make the old 2nd the new 1st.
			ss[0] = ss[1]
			ss[1] = s
		default:
			// In all other cases, we just make s the new 1st.
			// This establishes a correct order, even in the (irregular)
			// case of equal timestamps.
			ss[0] = s
		}
	}

	resultSample := ss[1]
	sampledInterval := ss[1].T - ss[0].T
	if sampledInterval == 0 {
		// Avoid dividing by 0.
		return out, nil
	}
	switch {
	case ss[1].H == nil && ss[0].H == nil:
		if !isRate || !(ss[1].F < ss[0].F || upIsStartTimestampReset(ss[0].ST, ss[0].T, ss[1].ST, ss[1].T)) {
			// Gauge, or counter without reset, or counter with NaN value.
			resultSample.F = ss[1].F - ss[0].F
		}

		// In case of a counter reset, we leave resultSample at
		// its current value, which is already ss[1].
	case ss[1].H != nil && ss[0].H != nil:
		resultSample.H = ss[1].H.Copy()
		// irate should only be applied to counters.
		if isRate && (ss[1].H.CounterResetHint == histogram.GaugeType || ss[0].H.CounterResetHint == histogram.GaugeType) {
			annos.Add(annotations.NewNativeHistogramNotCounterWarning(upGetMetricName(samples.Metric), args.PositionRange()))
		}
		// idelta should only be applied to gauges.
		if !isRate && (ss[1].H.CounterResetHint != histogram.GaugeType || ss[0].H.CounterResetHint != histogram.GaugeType) {
			annos.Add(annotations.NewNativeHistogramNotGaugeWarning(upGetMetricName(samples.Metric), args.PositionRange()))
		}
		if !isRate || (!upIsStartTimestampReset(ss[0].ST, ss[0].T, ss[1].ST, ss[1].T) && !ss[1].H.DetectReset(ss[0].H)) {
			// This subtraction may deliberately include conflicting
			// counter resets. Counter resets are treated explicitly
			// in this function, so the information about
			// conflicting counter resets is ignored here.
			_, _, nhcbBoundsReconciled, err := resultSample.H.Sub(ss[0].H)
			if errors.Is(err, histogram.ErrHistogramsIncompatibleSchema) {
				return out, annos.Add(annotations.NewMixedExponentialCustomHistogramsWarning(upGetMetricName(samples.Metric), args.PositionRange()))
			}
			if nhcbBoundsReconciled {
				annos.Add(annotations.NewMismatchedCustomBucketsHistogramsInfo(args.PositionRange(), annotations.HistogramSub))
			}
		}
		resultSample.H.CounterResetHint = histogram.GaugeType
		resultSample.H.Compact(0)
	default:
		// Mix of a float and a histogram.
		return out, annos.Add(annotations.NewMixedFloatsHistogramsWarning(upGetMetricName(samples.Metric), args.PositionRange()))
	}

	if isRate {
		// Convert to per-second.
		if resultSample.H == nil {
			resultSample.F /= float64(sampledInterval) / 1000
		} else {
			resultSample.H.Div(float64(sampledInterval) / 1000)
		}
	}

	return append(out, resultSample.Sample), annos
}

// Calculate the trend value at the given index i in raw data d.
// This is somewhat analogous to the slope of the trend at the given index.
// The argument "tf" is the trend factor.
// The argument "s0" is the computed smoothed value.
// The argument "s1" is the computed trend factor.
// The argument "b" is the raw input value.
func upCalcTrendValue(i int, tf, s0, s1, b float64) float64 {
	if i == 0 {
		return b
	}

	x := tf * (s1 - s0)
	y := (1 - tf) * b

	return x + y
}

// Double exponential smoothing is similar to a weighted moving average, where
// historical data has exponentially less influence on the current data. It also
// accounts for trends in data. The smoothing factor (0 < sf < 1) affects how
// historical data will affect the current data. A lower smoothing factor
// increases the influence of historical data. The trend factor (0 < tf < 1)
// affects how trends in historical data will affect the current data. A higher
// trend factor increases the influence. of trends. Algorithm taken from
// https://en.wikipedia.org/wiki/Exponential_smoothing .
func upFuncDoubleExponentialSmoothing(vectorVals []Vector, matrixVal Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(vectorVals) < 2 || len(vectorVals[0]) == 0 || len(vectorVals[1]) == 0 || len(matrixVal) == 0 {
		return enh.Out, nil
	}
	samples := matrixVal[0]
	// The smoothing factor argument.
	sf := vectorVals[0][0].F

	// The trend factor argument.
	tf := vectorVals[1][0].F

	// Check that the input parameters are valid.
	if sf <= 0 || sf >= 1 {
		panic(fmt.Errorf("invalid smoothing factor. Expected: 0 < sf < 1, got: %f", sf))
	}
	if tf <= 0 || tf >= 1 {
		panic(fmt.Errorf("invalid trend factor. Expected: 0 < tf < 1, got: %f", tf))
	}

	l := len(samples.Floats)

	// Can't do the smoothing operation with less than two points.
	if l < 2 {
		// Annotate mix of float and histogram.
		if l == 1 && len(samples.Histograms) > 0 {
			return enh.Out, annotations.New().Add(annotations.NewHistogramIgnoredInMixedRangeInfo(upGetMetricName(samples.Metric), args[0].PositionRange()))
		}
		return enh.Out, nil
	}

	var s0, s1, b float64
	// Set initial values.
	s1 = samples.Floats[0].F
	b = samples.Floats[1].F - samples.Floats[0].F

	// Run the smoothing operation.
	var x, y float64
	for i := 1; i < l; i++ {
		// Scale the raw value against the smoothing factor.
		x = sf * samples.Floats[i].F

		// Scale the last smoothed value with the trend at this point.
		b = upCalcTrendValue(i-1, tf, s0, s1, b)
		y = (1 - sf) * (s1 + b)

		s0, s1 = s1, x+y
	}
	if len(samples.Histograms) > 0 {
		return append(enh.Out, Sample{F: s1}), annotations.New().Add(annotations.NewHistogramIgnoredInMixedRangeInfo(upGetMetricName(samples.Metric), args[0].PositionRange()))
	}
	return append(enh.Out, Sample{F: s1}), nil
}

// upFilterFloats filters out histogram samples from the vector in-place.
func upFilterFloats(v Vector) Vector {
	floats := v[:0]
	for _, s := range v {
		if s.H == nil {
			floats = append(floats, s)
		}
	}
	return floats
}

// === sort(node parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncSort(vectorVals []Vector, _ Matrix, _ parser.Expressions, _ *upEvalNodeHelper) (Vector, annotations.Annotations) {
	// NaN should sort to the bottom, so take descending sort with NaN first and
	// reverse it.
	byValueSorter := vectorByReverseValueHeap(upFilterFloats(vectorVals[0]))
	sort.Sort(sort.Reverse(byValueSorter))
	return Vector(byValueSorter), nil
}

// === sortDesc(node parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncSortDesc(vectorVals []Vector, _ Matrix, _ parser.Expressions, _ *upEvalNodeHelper) (Vector, annotations.Annotations) {
	// NaN should sort to the bottom, so take ascending sort with NaN first and
	// reverse it.
	byValueSorter := vectorByValueHeap(upFilterFloats(vectorVals[0]))
	sort.Sort(sort.Reverse(byValueSorter))
	return Vector(byValueSorter), nil
}

// === sort_by_label(vector parser.ValueTypeVector, label parser.ValueTypeString...) (Vector, Annotations) ===
func upFuncSortByLabel(vectorVals []Vector, _ Matrix, args parser.Expressions, _ *upEvalNodeHelper) (Vector, annotations.Annotations) {
	lbls := upStringSliceFromArgs(args[1:])
	slices.SortFunc(vectorVals[0], func(a, b Sample) int {
		for _, label := range lbls {
			lv1 := a.Metric.Get(label)
			lv2 := b.Metric.Get(label)

			if lv1 == lv2 {
				continue
			}

			if natsort.Compare(lv1, lv2) {
				return -1
			}

			return +1
		}

		// If all labels provided as arguments were equal, sort by the full label set. This ensures a consistent ordering.
		return labels.Compare(a.Metric, b.Metric)
	})

	return vectorVals[0], nil
}

// === sort_by_label_desc(vector parser.ValueTypeVector, label parser.ValueTypeString...) (Vector, Annotations) ===
func upFuncSortByLabelDesc(vectorVals []Vector, _ Matrix, args parser.Expressions, _ *upEvalNodeHelper) (Vector, annotations.Annotations) {
	lbls := upStringSliceFromArgs(args[1:])
	slices.SortFunc(vectorVals[0], func(a, b Sample) int {
		for _, label := range lbls {
			lv1 := a.Metric.Get(label)
			lv2 := b.Metric.Get(label)

			if lv1 == lv2 {
				continue
			}

			if natsort.Compare(lv1, lv2) {
				return +1
			}

			return -1
		}

		// If all labels provided as arguments were equal, sort by the full label set. This ensures a consistent ordering.
		return -labels.Compare(a.Metric, b.Metric)
	})

	return vectorVals[0], nil
}

func upClamp(vec Vector, minVal, maxVal float64, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if maxVal < minVal {
		return enh.Out, nil
	}
	for _, el := range vec {
		if el.H != nil {
			// Process only float samples.
			continue
		}
		if !enh.enableDelayedNameRemoval {
			el.Metric = el.Metric.DropReserved(schema.IsMetadataLabel)
		}
		enh.Out = append(enh.Out, Sample{
			Metric:   el.Metric,
			F:        math.Max(minVal, math.Min(maxVal, el.F)),
			dropName: true,
		})
	}
	return enh.Out, nil
}

// === upClamp(Vector parser.ValueTypeVector, min, max Scalar) (Vector, Annotations) ===
func upFuncClamp(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	vec := vectorVals[0]
	minVal := vectorVals[1][0].F
	maxVal := vectorVals[2][0].F
	return upClamp(vec, minVal, maxVal, enh)
}

// === clamp_max(Vector parser.ValueTypeVector, max Scalar) (Vector, Annotations) ===
func upFuncClampMax(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	vec := vectorVals[0]
	maxVal := vectorVals[1][0].F
	return upClamp(vec, math.Inf(-1), maxVal, enh)
}

// === clamp_min(Vector parser.ValueTypeVector, min Scalar) (Vector, Annotations) ===
func upFuncClampMin(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	vec := vectorVals[0]
	minVal := vectorVals[1][0].F
	return upClamp(vec, minVal, math.Inf(+1), enh)
}

// === round(Vector parser.ValueTypeVector, toNearest=1 Scalar) (Vector, Annotations) ===
func upFuncRound(vectorVals []Vector, _ Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	// round returns a number rounded to toNearest.
	// Ties are solved by rounding up.
	toNearest := float64(1)
	if len(args) >= 2 {
		toNearest = vectorVals[1][0].F
	}
	// Invert as it seems to cause fewer floating point accuracy issues.
	toNearestInverse := 1.0 / toNearest
	return upSimpleFloatFunc(vectorVals, enh, func(f float64) float64 {
		return math.Floor(f*toNearestInverse+0.5) / toNearestInverse
	}), nil
}

// === Scalar(node parser.ValueTypeVector) Scalar ===
func upFuncScalar(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	var (
		v     = vectorVals[0]
		value float64
		found bool
	)

	for _, s := range v {
		if s.H == nil {
			if found {
				// More than one float found, return NaN.
				return append(enh.Out, Sample{F: math.NaN()}), nil
			}
			found = true
			value = s.F
		}
	}
	// Return the single float if found, otherwise return NaN.
	if !found {
		return append(enh.Out, Sample{F: math.NaN()}), nil
	}
	return append(enh.Out, Sample{F: value}), nil
}

func upAggrOverTime(matrixVal Matrix, enh *upEvalNodeHelper, aggrFn func(Series) float64) Vector {
	if len(matrixVal) == 0 {
		return enh.Out
	}
	el := matrixVal[0]

	return append(enh.Out, Sample{F: aggrFn(el)})
}

func upAggrHistOverTime(matrixVal Matrix, enh *upEvalNodeHelper, aggrFn func(Series) (*histogram.FloatHistogram, error)) (Vector, error) {
	if len(matrixVal) == 0 {
		return enh.Out, nil
	}
	el := matrixVal[0]
	res, err := aggrFn(el)

	return append(enh.Out, Sample{H: res}), err
}

// === avg_over_time(Matrix parser.ValueTypeMatrix) (Vector, Annotations)  ===
func upFuncAvgOverTime(_ []Vector, matrixVal Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(matrixVal) == 0 {
		return enh.Out, nil
	}
	firstSeries := matrixVal[0]
	if len(firstSeries.Floats) > 0 && len(firstSeries.Histograms) > 0 {
		return enh.Out, annotations.New().Add(annotations.NewMixedFloatsHistogramsWarning(upGetMetricName(firstSeries.Metric), args[0].PositionRange()))
	}
	// We improve the accuracy with the help of Kahan summation.
	// For a while, we assumed that incremental mean calculation combined
	// with Kahan summation (see
	// https://stackoverflow.com/questions/61665473/is-it-beneficial-for-precision-to-calculate-the-incremental-mean-average
	// for inspiration) is generally the preferred solution. However, it
	// then turned out that direct mean calculation (still in combination
	// with Kahan summation) is often more accurate. See discussion in
	// https://github.com/prometheus/prometheus/issues/16714 . The problem
	// with the direct mean calculation is that it can overflow float64 for
	// inputs on which the incremental mean calculation works just fine. Our
	// current approach is therefore to use direct mean calculation as long
	// as we do not overflow (or underflow) the running sum. Once the latter
	// would happen, we switch to incremental mean calculation. This seems
	// to work reasonably well, but note that a deeper understanding would
	// be needed to find out if maybe an earlier switch to incremental mean
	// calculation would be better in terms of accuracy. Also, we could
	// apply a number of additional means to improve the accuracy, like
	// processing the values in a particular order. For now, we decided that
	// the current implementation is accurate enough for practical purposes.
	if len(firstSeries.Floats) == 0 {
		// The passed values only contain histograms.
		var annos annotations.Annotations
		vec, err := upAggrHistOverTime(matrixVal, enh, func(s Series) (*histogram.FloatHistogram, error) {
			var counterResetSeen, notCounterResetSeen, nhcbBoundsReconciledSeen bool

			trackCounterReset := func(h *histogram.FloatHistogram) {
				switch h.CounterResetHint {
				case histogram.CounterReset:
					counterResetSeen = true
				case histogram.NotCounterReset:
					notCounterResetSeen = true
				}
			}

			defer func() {
				if counterResetSeen && notCounterResetSeen {
					annos.Add(annotations.NewHistogramCounterResetCollisionWarning(args[0].PositionRange(), annotations.HistogramAgg))
				}
				if nhcbBoundsReconciledSeen {
					annos.Add(annotations.NewMismatchedCustomBucketsHistogramsInfo(args[0].PositionRange(), annotations.HistogramAgg))
				}
			}()

			var (
				sum                  = s.Histograms[0].H.Copy()
				mean, kahanC         *histogram.FloatHistogram
				count                = 1.
				incrementalMean      bool
				nhcbBoundsReconciled bool
				err                  error
			)
			trackCounterReset(sum)
			for i, h := range s.Histograms[1:] {
				trackCounterReset(h.H)
				count = float64(i + 2)
				if !incrementalMean {
					sumCopy := sum.Copy()
					var cCopy *histogram.FloatHistogram
					if kahanC != nil {
						cCopy = kahanC.Copy()
					}
					cCopy, _, nhcbBoundsReconciled, err = sumCopy.KahanAdd(h.H, cCopy)
					if err != nil {
						return sumCopy.Div(count), err
					}
					if nhcbBoundsReconciled {
						nhcbBoundsReconciledSeen = true
					}
					if !sumCopy.HasOverflow() {
						sum, kahanC = sumCopy, cCopy
						continue
					}
					incrementalMean = true
					mean = sum.Copy().Div(count - 1)
					if kahanC != nil {
						kahanC.Div(count - 1)
					}
				}
				q := (count - 1) / count
				if kahanC != nil {
					kahanC.Mul(q)
				}
				toAdd := h.H.Copy().Div(count)
				kahanC, _, nhcbBoundsReconciled, err = mean.Mul(q).KahanAdd(toAdd, kahanC)
				if err != nil {
					return mean, err
				}
				if nhcbBoundsReconciled {
					nhcbBoundsReconciledSeen = true
				}
			}
			if incrementalMean {
				if kahanC != nil {
					_, _, _, err := mean.Add(kahanC)
					return mean, err
				}
				return mean, nil
			}
			if kahanC != nil {
				_, _, _, err := sum.Div(count).Add(kahanC.Div(count))
				return sum, err
			}
			return sum.Div(count), nil
		})
		if err != nil {
			if errors.Is(err, histogram.ErrHistogramsIncompatibleSchema) {
				return enh.Out, annotations.New().Add(annotations.NewMixedExponentialCustomHistogramsWarning(upGetMetricName(firstSeries.Metric), args[0].PositionRange()))
			}
		}
		return vec, annos
	}
	return upAggrOverTime(matrixVal, enh, func(s Series) float64 {
		var (
			// Pre-set the 1st sample to start the loop with the 2nd.
			sum, count      = s.Floats[0].F, 1.
			mean, kahanC    float64
			incrementalMean bool
		)
		for i, f := range s.Floats[1:] {
			count = float64(i + 2)
			if !incrementalMean {
				newSum, newC := kahansum.Inc(f.F, sum, kahanC)
				// Perform regular mean calculation as long as
				// the sum doesn't overflow.
				if !math.IsInf(newSum, 0) {
					sum, kahanC = newSum, newC
					continue
				}
				// Handle overflow by reverting to incremental
				// calculation of the mean value.
				incrementalMean = true
				mean = sum / (count - 1)
				kahanC /= (count - 1)
			}
			q := (count - 1) / count
			mean, kahanC = kahansum.Inc(f.F/count, q*mean, q*kahanC)
		}
		if incrementalMean {
			return mean + kahanC
		}
		return sum/count + kahanC/count
	}), nil
}

// === count_over_time(Matrix parser.ValueTypeMatrix) (Vector, Notes)  ===
func upFuncCountOverTime(_ []Vector, matrixVals Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upAggrOverTime(matrixVals, enh, func(s Series) float64 {
		return float64(len(s.Floats) + len(s.Histograms))
	}), nil
}

// === first_over_time(Matrix parser.ValueTypeMatrix) (Vector, Notes)  ===
func upFuncFirstOverTime(_ []Vector, matrixVal Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(matrixVal) == 0 {
		return enh.Out, nil
	}
	el := matrixVal[0]

	var f FPoint
	if len(el.Floats) > 0 {
		f = el.Floats[0]
	}

	var h HPoint
	if len(el.Histograms) > 0 {
		h = el.Histograms[0]
	}

	// If a float data point exists and is older than any histogram data
	// points, return it.
	if h.H == nil || (len(el.Floats) > 0 && f.T < h.T) {
		return append(enh.Out, Sample{
			Metric: el.Metric,
			F:      f.F,
		}), nil
	}
	return append(enh.Out, Sample{
		Metric: el.Metric,
		H:      h.H.Copy(),
	}), nil
}

// === last_over_time(Matrix parser.ValueTypeMatrix) (Vector, Notes)  ===
func upFuncLastOverTime(_ []Vector, matrixVal Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(matrixVal) == 0 {
		return enh.Out, nil
	}
	el := matrixVal[0]

	var f FPoint
	if len(el.Floats) > 0 {
		f = el.Floats[len(el.Floats)-1]
	}

	var h HPoint
	if len(el.Histograms) > 0 {
		h = el.Histograms[len(el.Histograms)-1]
	}

	if h.H == nil || (len(el.Floats) > 0 && h.T < f.T) {
		return append(enh.Out, Sample{
			Metric: el.Metric,
			F:      f.F,
		}), nil
	}
	return append(enh.Out, Sample{
		Metric: el.Metric,
		H:      h.H.Copy(),
	}), nil
}

// === mad_over_time(Matrix parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncMadOverTime(_ []Vector, matrixVal Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(matrixVal) == 0 {
		return enh.Out, nil
	}
	samples := matrixVal[0]
	var annos annotations.Annotations
	if len(samples.Floats) == 0 {
		return enh.Out, nil
	}
	if len(samples.Histograms) > 0 {
		annos.Add(annotations.NewHistogramIgnoredInMixedRangeInfo(upGetMetricName(samples.Metric), args[0].PositionRange()))
	}
	return upAggrOverTime(matrixVal, enh, func(s Series) float64 {
		values := make(vectorByValueHeap, 0, len(s.Floats))
		for _, f := range s.Floats {
			// A NaN sample makes the median, and therefore the deviation,
			// undefined, so propagate NaN rather than silently dropping it.
			if math.IsNaN(f.F) {
				return math.NaN()
			}
			values = append(values, Sample{F: f.F})
		}
		median := quantile(0.5, values)
		for i := range values {
			values[i].F = math.Abs(values[i].F - median)
		}
		return quantile(0.5, values)
	}), annos
}

// === ts_of_first_over_time(Matrix parser.ValueTypeMatrix) (Vector, Notes)  ===
func upFuncTsOfFirstOverTime(_ []Vector, matrixVal Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(matrixVal) == 0 {
		return enh.Out, nil
	}
	el := matrixVal[0]

	var tf int64 = math.MaxInt64
	if len(el.Floats) > 0 {
		tf = el.Floats[0].T
	}

	var th int64 = math.MaxInt64
	if len(el.Histograms) > 0 {
		th = el.Histograms[0].T
	}

	return append(enh.Out, Sample{
		Metric: el.Metric,
		F:      float64(min(tf, th)) / 1000,
	}), nil
}

// === ts_of_last_over_time(Matrix parser.ValueTypeMatrix) (Vector, Notes)  ===
func upFuncTsOfLastOverTime(_ []Vector, matrixVal Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(matrixVal) == 0 {
		return enh.Out, nil
	}
	el := matrixVal[0]

	var tf int64
	if len(el.Floats) > 0 {
		tf = el.Floats[len(el.Floats)-1].T
	}

	var th int64
	if len(el.Histograms) > 0 {
		th = el.Histograms[len(el.Histograms)-1].T
	}

	return append(enh.Out, Sample{
		Metric: el.Metric,
		F:      float64(max(tf, th)) / 1000,
	}), nil
}

// === ts_of_max_over_time(Matrix parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncTsOfMaxOverTime(_ []Vector, matrixVal Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upCompareOverTime(matrixVal, args, enh, func(cur, maxVal float64) bool {
		return (cur >= maxVal) || math.IsNaN(maxVal)
	}, true)
}

// === ts_of_min_over_time(Matrix parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncTsOfMinOverTime(_ []Vector, matrixVals Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upCompareOverTime(matrixVals, args, enh, func(cur, maxVal float64) bool {
		return (cur <= maxVal) || math.IsNaN(maxVal)
	}, true)
}

// upCompareOverTime is a helper used by upFuncMaxOverTime and upFuncMinOverTime.
func upCompareOverTime(matrixVal Matrix, args parser.Expressions, enh *upEvalNodeHelper, compareFn func(float64, float64) bool, returnTimestamp bool) (Vector, annotations.Annotations) {
	if len(matrixVal) == 0 {
		return enh.Out, nil
	}
	samples := matrixVal[0]
	var annos annotations.Annotations
	if len(samples.Floats) == 0 {
		return enh.Out, nil
	}
	if len(samples.Histograms) > 0 {
		annos.Add(annotations.NewHistogramIgnoredInMixedRangeInfo(upGetMetricName(samples.Metric), args[0].PositionRange()))
	}
	return upAggrOverTime(matrixVal, enh, func(s Series) float64 {
		maxVal := s.Floats[0].F
		tsOfMax := s.Floats[0].T
		for _, f := range s.Floats {
			if compareFn(f.F, maxVal) {
				maxVal = f.F
				tsOfMax = f.T
			}
		}
		if returnTimestamp {
			return float64(tsOfMax) / 1000
		}
		return maxVal
	}), annos
}

// === max_over_time(Matrix parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncMaxOverTime(_ []Vector, matrixVals Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upCompareOverTime(matrixVals, args, enh, func(cur, maxVal float64) bool {
		return (cur > maxVal) || math.IsNaN(maxVal)
	}, false)
}

// === min_over_time(Matrix parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncMinOverTime(_ []Vector, matrixVals Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upCompareOverTime(matrixVals, args, enh, func(cur, maxVal float64) bool {
		return (cur < maxVal) || math.IsNaN(maxVal)
	}, false)
}

// === sum_over_time(Matrix parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncSumOverTime(_ []Vector, matrixVal Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(matrixVal) == 0 {
		return enh.Out, nil
	}
	firstSeries := matrixVal[0]
	if len(firstSeries.Floats) > 0 && len(firstSeries.Histograms) > 0 {
		return enh.Out, annotations.New().Add(annotations.NewMixedFloatsHistogramsWarning(upGetMetricName(firstSeries.Metric), args[0].PositionRange()))
	}
	if len(firstSeries.Floats) == 0 {
		// The passed values only contain histograms.
		var annos annotations.Annotations
		vec, err := upAggrHistOverTime(matrixVal, enh, func(s Series) (*histogram.FloatHistogram, error) {
			var counterResetSeen, notCounterResetSeen, nhcbBoundsReconciledSeen bool

			trackCounterReset := func(h *histogram.FloatHistogram) {
				switch h.CounterResetHint {
				case histogram.CounterReset:
					counterResetSeen = true
				case histogram.NotCounterReset:
					notCounterResetSeen = true
				}
			}

			defer func() {
				if counterResetSeen && notCounterResetSeen {
					annos.Add(annotations.NewHistogramCounterResetCollisionWarning(args[0].PositionRange(), annotations.HistogramAgg))
				}
				if nhcbBoundsReconciledSeen {
					annos.Add(annotations.NewMismatchedCustomBucketsHistogramsInfo(args[0].PositionRange(), annotations.HistogramAgg))
				}
			}()

			sum := s.Histograms[0].H.Copy()
			trackCounterReset(sum)
			var (
				comp                 *histogram.FloatHistogram
				nhcbBoundsReconciled bool
				err                  error
			)
			for _, h := range s.Histograms[1:] {
				trackCounterReset(h.H)
				comp, _, nhcbBoundsReconciled, err = sum.KahanAdd(h.H, comp)
				if err != nil {
					return sum, err
				}
				if nhcbBoundsReconciled {
					nhcbBoundsReconciledSeen = true
				}
			}
			if comp != nil {
				sum, _, nhcbBoundsReconciled, err = sum.Add(comp)
				if err != nil {
					return sum, err
				}
				if nhcbBoundsReconciled {
					nhcbBoundsReconciledSeen = true
				}
			}
			return sum, err
		})
		if err != nil {
			if errors.Is(err, histogram.ErrHistogramsIncompatibleSchema) {
				return enh.Out, annotations.New().Add(annotations.NewMixedExponentialCustomHistogramsWarning(upGetMetricName(firstSeries.Metric), args[0].PositionRange()))
			}
		}
		return vec, annos
	}
	return upAggrOverTime(matrixVal, enh, func(s Series) float64 {
		var sum, c float64
		for _, f := range s.Floats {
			sum, c = kahansum.Inc(f.F, sum, c)
		}
		if math.IsInf(sum, 0) {
			return sum
		}
		return sum + c
	}), nil
}

// === quantile_over_time(Matrix parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncQuantileOverTime(vectorVals []Vector, matrixVal Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(vectorVals) == 0 || len(vectorVals[0]) == 0 || len(matrixVal) == 0 {
		return enh.Out, nil
	}
	q := vectorVals[0][0].F
	el := matrixVal[0]
	if len(el.Floats) == 0 {
		return enh.Out, nil
	}

	var annos annotations.Annotations
	if math.IsNaN(q) || q < 0 || q > 1 {
		annos.Add(annotations.NewInvalidQuantileWarning(q, args[0].PositionRange()))
	}
	if len(el.Histograms) > 0 {
		annos.Add(annotations.NewHistogramIgnoredInMixedRangeInfo(upGetMetricName(el.Metric), args[0].PositionRange()))
	}
	values := make(vectorByValueHeap, 0, len(el.Floats))
	for _, f := range el.Floats {
		values = append(values, Sample{F: f.F})
	}
	return append(enh.Out, Sample{F: quantile(q, values)}), annos
}

func upVarianceOverTime(matrixVal Matrix, args parser.Expressions, enh *upEvalNodeHelper, varianceToResult func(float64) float64) (Vector, annotations.Annotations) {
	if len(matrixVal) == 0 {
		return enh.Out, nil
	}
	samples := matrixVal[0]
	var annos annotations.Annotations
	if len(samples.Floats) == 0 {
		return enh.Out, nil
	}
	if len(samples.Histograms) > 0 {
		annos.Add(annotations.NewHistogramIgnoredInMixedRangeInfo(upGetMetricName(samples.Metric), args[0].PositionRange()))
	}
	return upAggrOverTime(matrixVal, enh, func(s Series) float64 {
		var count float64
		var mean, cMean float64
		var aux, cAux float64
		for _, f := range s.Floats {
			count++
			delta := f.F - (mean + cMean)
			mean, cMean = kahansum.Inc(delta/count, mean, cMean)
			aux, cAux = kahansum.Inc(delta*(f.F-(mean+cMean)), aux, cAux)
		}
		variance := (aux + cAux) / count
		if varianceToResult == nil {
			return variance
		}
		return varianceToResult(variance)
	}), annos
}

// === stddev_over_time(Matrix parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncStddevOverTime(_ []Vector, matrixVals Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upVarianceOverTime(matrixVals, args, enh, math.Sqrt)
}

// === stdvar_over_time(Matrix parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncStdvarOverTime(_ []Vector, matrixVals Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upVarianceOverTime(matrixVals, args, enh, nil)
}

// === absent(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncAbsent(vectorVals []Vector, _ Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(vectorVals[0]) > 0 {
		return enh.Out, nil
	}
	return append(enh.Out,
		Sample{
			Metric: upCreateLabelsForAbsentFunction(args[0]),
			F:      1,
		}), nil
}

// === absent_over_time(Vector parser.ValueTypeMatrix) (Vector, Annotations) ===
// As this function has a matrix as argument, it does not get all the Series.
// This function will return 1 if the matrix has at least one element.
// Due to engine optimization, this function is only called when this condition is true.
// Then, the engine post-processes the results to get the expected output.
func upFuncAbsentOverTime(_ []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return append(enh.Out, Sample{F: 1}), nil
}

// === present_over_time(Vector parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncPresentOverTime(_ []Vector, matrixVals Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upAggrOverTime(matrixVals, enh, func(Series) float64 {
		return 1
	}), nil
}

func upSimpleFloatFunc(vectorVals []Vector, enh *upEvalNodeHelper, f func(float64) float64) Vector {
	for _, el := range vectorVals[0] {
		if el.H == nil { // Process only float samples.
			if !enh.enableDelayedNameRemoval {
				el.Metric = el.Metric.DropReserved(schema.IsMetadataLabel)
			}
			enh.Out = append(enh.Out, Sample{
				Metric:   el.Metric,
				F:        f(el.F),
				dropName: true,
			})
		}
	}
	return enh.Out
}

// === abs(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncAbs(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Abs), nil
}

// === ceil(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncCeil(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Ceil), nil
}

// === floor(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncFloor(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Floor), nil
}

// === exp(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncExp(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Exp), nil
}

// === sqrt(Vector VectorNode) (Vector, Annotations) ===
func upFuncSqrt(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Sqrt), nil
}

// === max_of(a, b parser.ValueTypeScalar) Scalar ===
func upFuncMaxOf(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return append(enh.Out, Sample{F: math.Max(vectorVals[0][0].F, vectorVals[1][0].F)}), nil
}

// === min_of(a, b parser.ValueTypeScalar) Scalar ===
func upFuncMinOf(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return append(enh.Out, Sample{F: math.Min(vectorVals[0][0].F, vectorVals[1][0].F)}), nil
}

// === ln(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncLn(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Log), nil
}

// === log2(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncLog2(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Log2), nil
}

// === log10(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncLog10(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Log10), nil
}

// === sin(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncSin(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Sin), nil
}

// === cos(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncCos(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Cos), nil
}

// === tan(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncTan(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Tan), nil
}

// === asin(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncAsin(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Asin), nil
}

// === acos(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncAcos(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Acos), nil
}

// === atan(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncAtan(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Atan), nil
}

// === sinh(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncSinh(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Sinh), nil
}

// === cosh(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncCosh(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Cosh), nil
}

// === tanh(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncTanh(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Tanh), nil
}

// === asinh(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncAsinh(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Asinh), nil
}

// === acosh(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncAcosh(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Acosh), nil
}

// === atanh(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncAtanh(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, math.Atanh), nil
}

// === rad(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncRad(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, func(v float64) float64 {
		return v * math.Pi / 180
	}), nil
}

// === deg(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncDeg(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, func(v float64) float64 {
		return v * 180 / math.Pi
	}), nil
}

// === pi() Scalar ===
func upFuncPi([]Vector, Matrix, parser.Expressions, *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return Vector{Sample{F: math.Pi}}, nil
}

// === sgn(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncSgn(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleFloatFunc(vectorVals, enh, func(v float64) float64 {
		switch {
		case v < 0:
			return -1
		case v > 0:
			return 1
		default:
			return v
		}
	}), nil
}

// === timestamp(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncTimestamp(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	vec := vectorVals[0]
	for _, el := range vec {
		if !enh.enableDelayedNameRemoval {
			el.Metric = el.Metric.DropReserved(schema.IsMetadataLabel)
		}
		enh.Out = append(enh.Out, Sample{
			Metric:   el.Metric,
			F:        float64(el.T) / 1000,
			dropName: true,
		})
	}
	return enh.Out, nil
}

// === start_timestamp(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncStartTimestamp(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	vec := vectorVals[0]
	var sts []int64
	if enh.StartTimestamps != nil {
		sts = enh.StartTimestamps.Floats
	}
	for i, el := range vec {
		if !enh.enableDelayedNameRemoval {
			el.Metric = el.Metric.DropReserved(schema.IsMetadataLabel)
		}

		if i >= len(sts) {
			// Only return results if start timestamps slice is populated. This means that the output is empty
			// when `use-start-timestamps` is disabled or when this function is called on an expression.
			continue
		}

		enh.Out = append(enh.Out, Sample{
			Metric:   el.Metric,
			F:        float64(sts[i]) / 1000,
			dropName: true,
		})
	}
	return enh.Out, nil
}

// upLinearRegression performs a least-square linear regression analysis on the
// provided SamplePairs. It returns the slope, and the intercept value at the
// provided time.
func upLinearRegression(samples []FPoint, interceptTime int64) (slope, intercept float64) {
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

// === deriv(node parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncDeriv(_ []Vector, matrixVal Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(matrixVal) == 0 {
		return enh.Out, nil
	}
	samples := matrixVal[0]

	// No sense in trying to compute a derivative without at least two float points.
	// Drop this Vector element.
	if len(samples.Floats) < 2 {
		// Annotate mix of float and histogram.
		if len(samples.Floats) == 1 && len(samples.Histograms) > 0 {
			return enh.Out, annotations.New().Add(annotations.NewHistogramIgnoredInMixedRangeInfo(upGetMetricName(samples.Metric), args[0].PositionRange()))
		}
		return enh.Out, nil
	}

	// We pass in an arbitrary timestamp that is near the values in use
	// to avoid floating point accuracy issues, see
	// https://github.com/prometheus/prometheus/issues/2674
	slope, _ := upLinearRegression(samples.Floats, samples.Floats[0].T)
	if len(samples.Histograms) > 0 {
		return append(enh.Out, Sample{F: slope}), annotations.New().Add(annotations.NewHistogramIgnoredInMixedRangeInfo(upGetMetricName(samples.Metric), args[0].PositionRange()))
	}
	return append(enh.Out, Sample{F: slope}), nil
}

// === predict_linear(node parser.ValueTypeMatrix, k parser.ValueTypeScalar) (Vector, Annotations) ===
func upFuncPredictLinear(vectorVals []Vector, matrixVal Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(vectorVals) == 0 || len(vectorVals[0]) == 0 || len(matrixVal) == 0 {
		return enh.Out, nil
	}
	samples := matrixVal[0]
	duration := vectorVals[0][0].F

	// No sense in trying to predict anything without at least two float points.
	// Drop this Vector element.
	if len(samples.Floats) < 2 {
		// Annotate mix of float and histogram.
		if len(samples.Floats) == 1 && len(samples.Histograms) > 0 {
			return enh.Out, annotations.New().Add(annotations.NewHistogramIgnoredInMixedRangeInfo(upGetMetricName(samples.Metric), args[0].PositionRange()))
		}
		return enh.Out, nil
	}

	slope, intercept := upLinearRegression(samples.Floats, enh.Ts)
	if len(samples.Histograms) > 0 {
		return append(enh.Out, Sample{F: slope*duration + intercept}), annotations.New().Add(annotations.NewHistogramIgnoredInMixedRangeInfo(upGetMetricName(samples.Metric), args[0].PositionRange()))
	}
	return append(enh.Out, Sample{F: slope*duration + intercept}), nil
}

func upSimpleHistogramFunc(vectorVals []Vector, enh *upEvalNodeHelper, f func(h *histogram.FloatHistogram) float64) Vector {
	for _, el := range vectorVals[0] {
		if el.H != nil { // Process only histogram samples.
			if !enh.enableDelayedNameRemoval {
				el.Metric = el.Metric.DropReserved(func(n string) bool { return n == labels.MetricName })
			}
			enh.Out = append(enh.Out, Sample{
				Metric:   el.Metric,
				F:        f(el.H),
				dropName: true,
			})
		}
	}
	return enh.Out
}

// === histogram_count(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncHistogramCount(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleHistogramFunc(vectorVals, enh, func(h *histogram.FloatHistogram) float64 {
		return h.Count
	}), nil
}

// === histogram_sum(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncHistogramSum(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleHistogramFunc(vectorVals, enh, func(h *histogram.FloatHistogram) float64 {
		return h.Sum
	}), nil
}

// === histogram_avg(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncHistogramAvg(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upSimpleHistogramFunc(vectorVals, enh, func(h *histogram.FloatHistogram) float64 {
		return h.Sum / h.Count
	}), nil
}

func upHistogramVariance(vectorVals []Vector, enh *upEvalNodeHelper, varianceToResult func(float64) float64) (Vector, annotations.Annotations) {
	return upSimpleHistogramFunc(vectorVals, enh, func(h *histogram.FloatHistogram) float64 {
		mean := h.Sum / h.Count
		var variance, cVariance float64
		it := h.AllBucketIterator()
		for it.Next() {
			bucket := it.At()
			if bucket.Count == 0 {
				continue
			}
			var val float64
			switch {
			case h.UsesCustomBuckets():
				// Use arithmetic mean in case of custom buckets.
				val = (bucket.Upper + bucket.Lower) / 2.0
			case bucket.Lower <= 0 && bucket.Upper >= 0:
				// Use zero (effectively the arithmetic mean) in the zero bucket of a standard exponential histogram.
				val = 0
			default:
				// Use geometric mean in case of standard exponential buckets.
				val = math.Sqrt(bucket.Upper * bucket.Lower)
				if bucket.Upper < 0 {
					val = -val
				}
			}
			delta := val - mean
			variance, cVariance = kahansum.Inc(bucket.Count*delta*delta, variance, cVariance)
		}
		variance += cVariance
		variance /= h.Count
		if varianceToResult != nil {
			variance = varianceToResult(variance)
		}
		return variance
	}), nil
}

// === histogram_stddev(Vector parser.ValueTypeVector) (Vector, Annotations)  ===
func upFuncHistogramStdDev(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upHistogramVariance(vectorVals, enh, math.Sqrt)
}

// === histogram_stdvar(Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncHistogramStdVar(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upHistogramVariance(vectorVals, enh, nil)
}

// === histogram_fraction(lower, upper parser.ValueTypeScalar, Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncHistogramFraction(vectorVals []Vector, _ Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(vectorVals) < 3 || len(vectorVals[0]) == 0 || len(vectorVals[1]) == 0 {
		return enh.Out, nil
	}
	lower := vectorVals[0][0].F
	upper := vectorVals[1][0].F
	inVec := vectorVals[2]

	annos := enh.resetHistograms(inVec, args[2])

	// Deal with the native histograms.
	for _, sample := range enh.nativeHistogramSamples {
		if sample.H == nil {
			// Native histogram conflicts with classic histogram at the same timestamp, ignore.
			continue
		}
		if !enh.enableDelayedNameRemoval {
			sample.Metric = sample.Metric.DropReserved(schema.IsMetadataLabel)
		}
		hf, hfAnnos := upHistogramFraction(lower, upper, sample.H, upGetMetricName(sample.Metric), args[2].PositionRange())
		annos.Merge(hfAnnos)
		enh.Out = append(enh.Out, Sample{
			Metric:   sample.Metric,
			F:        hf,
			dropName: true,
		})
	}

	// Deal with classic histograms that have already been filtered for conflicting native histograms.
	for _, mb := range enh.signatureToMetricWithBuckets {
		if len(mb.buckets) == 0 {
			continue
		}
		if !enh.enableDelayedNameRemoval {
			mb.metric = mb.metric.DropReserved(schema.IsMetadataLabel)
		}

		enh.Out = append(enh.Out, Sample{
			Metric:   mb.metric,
			F:        bucketFraction(lower, upper, mb.buckets),
			dropName: true,
		})
	}

	return enh.Out, annos
}

// === histogram_quantile(k parser.ValueTypeScalar, Vector parser.ValueTypeVector) (Vector, Annotations) ===
func upFuncHistogramQuantile(vectorVals []Vector, _ Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(vectorVals) < 2 || len(vectorVals[0]) == 0 {
		return enh.Out, nil
	}
	q := vectorVals[0][0].F
	inVec := vectorVals[1]
	var annos annotations.Annotations

	if err := upValidateQuantile(q, args[0]); err != nil {
		annos.Add(err)
	}
	annos.Merge(enh.resetHistograms(inVec, args[1]))

	// Deal with the native histograms.
	for _, sample := range enh.nativeHistogramSamples {
		if sample.H == nil {
			// Native histogram conflicts with classic histogram at the same timestamp, ignore.
			continue
		}
		if !enh.enableDelayedNameRemoval {
			sample.Metric = sample.Metric.DropReserved(schema.IsMetadataLabel)
		}
		hq, hqAnnos := upHistogramQuantile(q, sample.H, upGetMetricName(sample.Metric), args[1].PositionRange())
		annos.Merge(hqAnnos)
		enh.Out = append(enh.Out, Sample{
			Metric:   sample.Metric,
			F:        hq,
			dropName: true,
		})
	}

	// Deal with classic histograms that have already been filtered for conflicting native histograms.
	for _, mb := range enh.signatureToMetricWithBuckets {
		if len(mb.buckets) > 0 {
			upQuantile, forcedMonotonicity, _, minBucket, maxBucket, maxDiff := bucketQuantile(q, mb.buckets)
			if forcedMonotonicity {
				metricName := ""
				if enh.enableDelayedNameRemoval {
					metricName = upGetMetricName(mb.metric)
				}
				annos.Add(annotations.NewHistogramQuantileForcedMonotonicityInfo(metricName, args[1].PositionRange(), enh.Ts, minBucket, maxBucket, maxDiff))
			}

			if !enh.enableDelayedNameRemoval {
				mb.metric = mb.metric.DropReserved(schema.IsMetadataLabel)
			}

			enh.Out = append(enh.Out, Sample{
				Metric:   mb.metric,
				F:        upQuantile,
				dropName: true,
			})
		}
	}

	return enh.Out, annos
}

func upValidateQuantile(q float64, arg parser.Expr) error {
	if math.IsNaN(q) || q < 0 || q > 1 {
		return annotations.NewInvalidQuantileWarning(q, arg.PositionRange())
	}
	return nil
}

// === histogram_quantiles(Vector parser.ValueTypeVector, label parser.ValueTypeString, q0 parser.ValueTypeScalar, qs parser.ValueTypeScalar...) (Vector, Annotations) ===
func upFuncHistogramQuantiles(vectorVals []Vector, _ Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	var (
		inVec         = vectorVals[0]
		quantileLabel = args[1].(*parser.StringLiteral).Val
		numQuantiles  = len(vectorVals[2:])
		qs            = make([]float64, 0, numQuantiles)

		annos annotations.Annotations
	)

	if enh.quantileStrs == nil {
		enh.quantileStrs = make(map[float64]string, numQuantiles)
	}
	for i := 2; i < len(vectorVals); i++ {
		q := vectorVals[i][0].F

		if err := upValidateQuantile(q, args[i]); err != nil {
			annos.Add(err)
		}

		if _, ok := enh.quantileStrs[q]; !ok {
			enh.quantileStrs[q] = labels.FormatOpenMetricsFloat(q)
		}
		qs = append(qs, q)
	}

	annos.Merge(enh.resetHistograms(inVec, args[0]))

	for _, q := range qs {
		// Deal with the native histograms.
		for _, sample := range enh.nativeHistogramSamples {
			if sample.H == nil {
				// Native histogram conflicts with classic histogram at the same timestamp, ignore.
				continue
			}
			if !enh.enableDelayedNameRemoval {
				sample.Metric = sample.Metric.DropReserved(schema.IsMetadataLabel)
			}
			hq, hqAnnos := upHistogramQuantile(q, sample.H, sample.Metric.Get(model.MetricNameLabel), args[0].PositionRange())
			annos.Merge(hqAnnos)
			enh.Out = append(enh.Out, Sample{
				Metric:   enh.getOrCreateLblsWithQuantile(sample.Metric, quantileLabel, q),
				F:        hq,
				dropName: true,
			})
		}

		// Deal with classic histograms that have already been filtered for conflicting native histograms.
		for _, mb := range enh.signatureToMetricWithBuckets {
			if len(mb.buckets) > 0 {
				hq, forcedMonotonicity, _, minBucket, maxBucket, maxDiff := bucketQuantile(q, mb.buckets)
				if forcedMonotonicity {
					metricName := ""
					if enh.enableDelayedNameRemoval {
						metricName = upGetMetricName(mb.metric)
					}
					annos.Add(annotations.NewHistogramQuantileForcedMonotonicityInfo(metricName, args[0].PositionRange(), enh.Ts, minBucket, maxBucket, maxDiff))
				}

				if !enh.enableDelayedNameRemoval {
					mb.metric = mb.metric.DropReserved(schema.IsMetadataLabel)
				}

				enh.Out = append(enh.Out, Sample{
					Metric:   enh.getOrCreateLblsWithQuantile(mb.metric, quantileLabel, q),
					F:        hq,
					dropName: true,
				})
			}
		}
	}

	return enh.Out, annos
}

// upPickFirstSampleIndices returns the start indices into the floats and
// histograms slices for anchored range processing. The anchor is the single
// most recent sample at or before the range start, regardless of type; it is
// retained as the baseline together with every sample after the range start,
// while earlier samples of either type are skipped.
// If the vector selector is not anchored, it always returns 0, 0, true.
// found is false when no sample lies strictly after the range start, in which
// case there is nothing to measure.
func upPickFirstSampleIndices(floats []FPoint, histograms []HPoint, args parser.Expressions, enh *upEvalNodeHelper) (firstFloat, firstHistogram int, found bool) {
	ms := args[0].(*parser.MatrixSelector)
	vs := ms.VectorSelector.(*parser.VectorSelector)
	if !vs.Anchored {
		return 0, 0, true
	}
	rangeStart := enh.Ts - durationMilliseconds(ms.Range+vs.Offset)

	// Index of the last float / histogram at or before the range start, or -1.
	lastFloatLE := sort.Search(len(floats), func(i int) bool { return floats[i].T > rangeStart }) - 1
	lastHistLE := sort.Search(len(histograms), func(i int) bool { return histograms[i].T > rangeStart }) - 1

	// Without a sample strictly after the range start there is nothing to measure.
	if lastFloatLE+1 >= len(floats) && lastHistLE+1 >= len(histograms) {
		return 0, 0, false
	}

	switch {
	case lastFloatLE < 0 && lastHistLE < 0:
		// No anchor; every sample is after the range start, so include all.
		return 0, 0, true
	case lastHistLE < 0 || (lastFloatLE >= 0 && floats[lastFloatLE].T >= histograms[lastHistLE].T):
		// The anchor is a float; histograms at or before the range start precede
		// it and are skipped.
		return lastFloatLE, lastHistLE + 1, true
	default:
		// The anchor is a histogram; floats at or before the range start precede
		// it and are skipped.
		return lastFloatLE + 1, lastHistLE, true
	}
}

// === resets(Matrix parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncResets(_ []Vector, matrixVal Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(matrixVal) == 0 {
		return enh.Out, nil
	}
	floats := matrixVal[0].Floats
	histograms := matrixVal[0].Histograms
	resets := 0
	if len(floats) == 0 && len(histograms) == 0 {
		return enh.Out, nil
	}

	var (
		prevSample, curSample  Sample
		prevST                 int64
		floatSTs, histogramSTs []int64
	)
	if sts := enh.StartTimestamps; sts != nil {
		floatSTs = sts.Floats
		histogramSTs = sts.Histograms
	}
	firstFloat, firstHistogram, found := upPickFirstSampleIndices(floats, histograms, args, enh)
	if !found {
		return enh.Out, nil
	}
	for iFloat, iHistogram := firstFloat, firstHistogram; iFloat < len(floats) || iHistogram < len(histograms); {
		var curST int64
		switch {
		// Process a float sample if no histogram sample remains or its timestamp is earlier.
		// Process a histogram sample if no float sample remains or its timestamp is earlier.
		case iHistogram >= len(histograms) || iFloat < len(floats) && floats[iFloat].T < histograms[iHistogram].T:
			curSample.T = floats[iFloat].T
			curSample.F = floats[iFloat].F
			curSample.H = nil
			if iFloat < len(floatSTs) {
				curST = floatSTs[iFloat]
			}
			iFloat++
		case iFloat >= len(floats) || iHistogram < len(histograms) && floats[iFloat].T > histograms[iHistogram].T:
			curSample.T = histograms[iHistogram].T
			curSample.H = histograms[iHistogram].H
			if iHistogram < len(histogramSTs) {
				curST = histogramSTs[iHistogram]
			}
			iHistogram++
		}
		// Skip the comparison for the first sample, just initialize prevSample.
		if iFloat+iHistogram == 1+firstFloat+firstHistogram {
			prevSample = curSample
			prevST = curST
			continue
		}

		switch {
		case prevSample.H == nil && curSample.H == nil:
			if curSample.F < prevSample.F || upIsStartTimestampReset(prevST, prevSample.T, curST, curSample.T) {
				resets++
			}
		case prevSample.H != nil && curSample.H == nil, prevSample.H == nil && curSample.H != nil:
			resets++
		case prevSample.H != nil && curSample.H != nil:
			if upIsStartTimestampReset(prevST, prevSample.T, curST, curSample.T) || curSample.H.DetectReset(prevSample.H) {
				resets++
			}
		}
		prevSample = curSample
		prevST = curST
	}

	return append(enh.Out, Sample{F: float64(resets)}), nil
}

// === changes(Matrix parser.ValueTypeMatrix) (Vector, Annotations) ===
func upFuncChanges(_ []Vector, matrixVal Matrix, args parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	if len(matrixVal) == 0 {
		return enh.Out, nil
	}
	floats := matrixVal[0].Floats
	histograms := matrixVal[0].Histograms
	changes := 0
	if len(floats) == 0 && len(histograms) == 0 {
		return enh.Out, nil
	}

	var prevSample, curSample Sample
	firstFloat, firstHistogram, found := upPickFirstSampleIndices(floats, histograms, args, enh)
	if !found {
		return enh.Out, nil
	}
	for iFloat, iHistogram := firstFloat, firstHistogram; iFloat < len(floats) || iHistogram < len(histograms); {
		switch {
		// Process a float sample if no histogram sample remains or its timestamp is earlier.
		// Process a histogram sample if no float sample remains or its timestamp is earlier.
		case iHistogram >= len(histograms) || iFloat < len(floats) && floats[iFloat].T < histograms[iHistogram].T:
			curSample.F = floats[iFloat].F
			curSample.H = nil
			iFloat++
		case iFloat >= len(floats) || iHistogram < len(histograms) && floats[iFloat].T > histograms[iHistogram].T:
			curSample.H = histograms[iHistogram].H
			iHistogram++
		}
		// Skip the comparison for the first sample, just initialize prevSample.
		if iFloat+iHistogram == 1+firstFloat+firstHistogram {
			prevSample = curSample
			continue
		}
		switch {
		case prevSample.H == nil && curSample.H == nil:
			if curSample.F != prevSample.F && !(math.IsNaN(curSample.F) && math.IsNaN(prevSample.F)) {
				changes++
			}
		case prevSample.H != nil && curSample.H == nil, prevSample.H == nil && curSample.H != nil:
			changes++
		case prevSample.H != nil && curSample.H != nil:
			if !curSample.H.Equals(prevSample.H) {
				changes++
			}
		}
		prevSample = curSample
	}

	return append(enh.Out, Sample{F: float64(changes)}), nil
}

// label_replace function operates only on series; does not look at timestamps or values.

// === Vector(s Scalar) (Vector, Annotations) ===
func upFuncVector(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return append(enh.Out,
		Sample{
			Metric: labels.Labels{},
			F:      vectorVals[0][0].F,
		}), nil
}

// label_join function operates only on series; does not look at timestamps or values.

// Common code for date related functions.
func upDateWrapper(vectorVals []Vector, enh *upEvalNodeHelper, f func(time.Time) float64) Vector {
	if len(vectorVals) == 0 {
		return append(enh.Out,
			Sample{
				Metric: labels.Labels{},
				F:      f(time.Unix(enh.Ts/1000, 0).UTC()),
			})
	}

	for _, el := range vectorVals[0] {
		if el.H != nil {
			// Ignore histogram sample.
			continue
		}
		t := time.Unix(int64(el.F), 0).UTC()
		if !enh.enableDelayedNameRemoval {
			el.Metric = el.Metric.DropReserved(schema.IsMetadataLabel)
		}
		enh.Out = append(enh.Out, Sample{
			Metric:   el.Metric,
			F:        f(t),
			dropName: true,
		})
	}
	return enh.Out
}

// === days_in_month(v Vector) Scalar ===
func upFuncDaysInMonth(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upDateWrapper(vectorVals, enh, func(t time.Time) float64 {
		return float64(32 - time.Date(t.Year(), t.Month(), 32, 0, 0, 0, 0, time.UTC).Day())
	}), nil
}

// === day_of_month(v Vector) Scalar ===
func upFuncDayOfMonth(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upDateWrapper(vectorVals, enh, func(t time.Time) float64 {
		return float64(t.Day())
	}), nil
}

// === day_of_week(v Vector) Scalar ===
func upFuncDayOfWeek(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upDateWrapper(vectorVals, enh, func(t time.Time) float64 {
		return float64(t.Weekday())
	}), nil
}

// === day_of_year(v Vector) Scalar ===
func upFuncDayOfYear(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upDateWrapper(vectorVals, enh, func(t time.Time) float64 {
		return float64(t.YearDay())
	}), nil
}

// === hour(v Vector) Scalar ===
func upFuncHour(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upDateWrapper(vectorVals, enh, func(t time.Time) float64 {
		return float64(t.Hour())
	}), nil
}

// === minute(v Vector) Scalar ===
func upFuncMinute(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upDateWrapper(vectorVals, enh, func(t time.Time) float64 {
		return float64(t.Minute())
	}), nil
}

// === month(v Vector) Scalar ===
func upFuncMonth(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upDateWrapper(vectorVals, enh, func(t time.Time) float64 {
		return float64(t.Month())
	}), nil
}

// === year(v Vector) Scalar ===
func upFuncYear(vectorVals []Vector, _ Matrix, _ parser.Expressions, enh *upEvalNodeHelper) (Vector, annotations.Annotations) {
	return upDateWrapper(vectorVals, enh, func(t time.Time) float64 {
		return float64(t.Year())
	}), nil
}

// upFunctionCalls is a list of all functions supported by PromQL, including their types.
var upFunctionCalls = map[string]upFunctionCall{
	"abs":                          upFuncAbs,
	"absent":                       upFuncAbsent,
	"absent_over_time":             upFuncAbsentOverTime,
	"acos":                         upFuncAcos,
	"acosh":                        upFuncAcosh,
	"asin":                         upFuncAsin,
	"asinh":                        upFuncAsinh,
	"atan":                         upFuncAtan,
	"atanh":                        upFuncAtanh,
	"avg_over_time":                upFuncAvgOverTime,
	"ceil":                         upFuncCeil,
	"changes":                      upFuncChanges,
	"clamp":                        upFuncClamp,
	"clamp_max":                    upFuncClampMax,
	"clamp_min":                    upFuncClampMin,
	"cos":                          upFuncCos,
	"cosh":                         upFuncCosh,
	"count_over_time":              upFuncCountOverTime,
	"days_in_month":                upFuncDaysInMonth,
	"day_of_month":                 upFuncDayOfMonth,
	"day_of_week":                  upFuncDayOfWeek,
	"day_of_year":                  upFuncDayOfYear,
	"deg":                          upFuncDeg,
	"end":                          nil, // Folded into NumberLiteral by foldQueryContextFunctions.
	"delta":                        upFuncDelta,
	"deriv":                        upFuncDeriv,
	"exp":                          upFuncExp,
	"first_over_time":              upFuncFirstOverTime,
	"floor":                        upFuncFloor,
	"histogram_avg":                upFuncHistogramAvg,
	"histogram_count":              upFuncHistogramCount,
	"histogram_fraction":           upFuncHistogramFraction,
	"histogram_quantile":           upFuncHistogramQuantile,
	"histogram_quantiles":          upFuncHistogramQuantiles,
	"histogram_sum":                upFuncHistogramSum,
	"histogram_stddev":             upFuncHistogramStdDev,
	"histogram_stdvar":             upFuncHistogramStdVar,
	"double_exponential_smoothing": upFuncDoubleExponentialSmoothing,
	"hour":                         upFuncHour,
	"idelta":                       upFuncIdelta,
	"increase":                     upFuncIncrease,
	"info":                         nil,
	"irate":                        upFuncIrate,
	"max_of":                       upFuncMaxOf,
	"label_replace":                nil, // evalLabelReplace not called via this map.
	"label_join":                   nil, // evalLabelJoin not called via this map.
	"min_of":                       upFuncMinOf,
	"ln":                           upFuncLn,
	"log10":                        upFuncLog10,
	"log2":                         upFuncLog2,
	"last_over_time":               upFuncLastOverTime,
	"mad_over_time":                upFuncMadOverTime,
	"max_over_time":                upFuncMaxOverTime,
	"min_over_time":                upFuncMinOverTime,
	"ts_of_first_over_time":        upFuncTsOfFirstOverTime,
	"ts_of_last_over_time":         upFuncTsOfLastOverTime,
	"ts_of_max_over_time":          upFuncTsOfMaxOverTime,
	"ts_of_min_over_time":          upFuncTsOfMinOverTime,
	"minute":                       upFuncMinute,
	"month":                        upFuncMonth,
	"pi":                           upFuncPi,
	"predict_linear":               upFuncPredictLinear,
	"present_over_time":            upFuncPresentOverTime,
	"quantile_over_time":           upFuncQuantileOverTime,
	"rad":                          upFuncRad,
	"range":                        nil, // Folded into NumberLiteral by foldQueryContextFunctions.
	"rate":                         upFuncRate,
	"resets":                       upFuncResets,
	"round":                        upFuncRound,
	"scalar":                       upFuncScalar,
	"sgn":                          upFuncSgn,
	"sin":                          upFuncSin,
	"sinh":                         upFuncSinh,
	"sort":                         upFuncSort,
	"sort_desc":                    upFuncSortDesc,
	"sort_by_label":                upFuncSortByLabel,
	"sort_by_label_desc":           upFuncSortByLabelDesc,
	"start":                        nil, // Folded into NumberLiteral by foldQueryContextFunctions.
	"start_timestamp":              upFuncStartTimestamp,
	"step":                         nil, // Folded into NumberLiteral by foldQueryContextFunctions.
	"sqrt":                         upFuncSqrt,
	"stddev_over_time":             upFuncStddevOverTime,
	"stdvar_over_time":             upFuncStdvarOverTime,
	"sum_over_time":                upFuncSumOverTime,
	"tan":                          upFuncTan,
	"tanh":                         upFuncTanh,
	"time":                         upFuncTime,
	"timestamp":                    upFuncTimestamp,
	"vector":                       upFuncVector,
	"year":                         upFuncYear,
}

// AtModifierUnsafeFunctions are the functions whose result
// can vary if evaluation time is changed when the arguments are
// step invariant. It also includes functions that use the timestamps
// of the passed instant vector argument to calculate a result since
// that can also change with change in eval time.
// upCreateLabelsForAbsentFunction returns the labels that are uniquely and exactly matched
// in a given expression. It is used in the absent functions.
func upCreateLabelsForAbsentFunction(expr parser.Expr) labels.Labels {
	b := labels.NewBuilder(labels.EmptyLabels())

	var lm []*labels.Matcher
	switch n := expr.(type) {
	case *parser.VectorSelector:
		lm = n.LabelMatchers
	case *parser.MatrixSelector:
		lm = n.VectorSelector.(*parser.VectorSelector).LabelMatchers
	default:
		return labels.EmptyLabels()
	}

	// The 'has' map implements backwards-compatibility for historic behaviour:
	// e.g. in `absent(x{job="a",job="b",foo="bar"})` then `job` is removed from the output.
	// Note this gives arguably wrong behaviour for `absent(x{job="a",job="a",foo="bar"})`.
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

func upStringFromArg(e parser.Expr) string {
	return e.(*parser.StringLiteral).Val
}

func upStringSliceFromArgs(args parser.Expressions) []string {
	tmp := make([]string, len(args))
	for i := range args {
		tmp[i] = upStringFromArg(args[i])
	}
	return tmp
}

func upGetMetricName(metric labels.Labels) string {
	return metric.Get(model.MetricNameLabel)
}

// Helpers to calculate quantiles.

// upExcludedLabels are the labels to exclude from signature calculation for
// quantiles.
var upExcludedLabels = []string{
	labels.BucketLabel,
}

// Vigil: the classic-histogram helpers (bucket, bucketQuantile, bucketFraction, quantile and
// what they use) are Vigil's own copies in quantile.go, identical to upstream's; the ported
// functions call them rather than a second copy.

type upMetricWithBuckets struct {
	metric  labels.Labels
	buckets bucketSlice
}

// upHistogramQuantile calculates the upQuantile 'q' based on the given histogram.
//
// For custom buckets, the result is interpolated linearly, i.e. it is assumed
// the observations are uniformly distributed within each bucket. (This is a
// quite blunt assumption, but it is consistent with the interpolation method
// used for classic histograms so far.)
//
// For exponential buckets, the interpolation is done under the assumption that
// the samples within each bucket are distributed in a way that they would
// uniformly populate the buckets in a hypothetical histogram with higher
// resolution. For example, if the rank calculation suggests that the requested
// upQuantile is right in the middle of the population of the (1,2] bucket, we
// assume the upQuantile would be right at the bucket boundary between the two
// buckets the (1,2] bucket would be divided into if the histogram had double
// the resolution, which is 2**2**-1 = 1.4142... We call this exponential
// interpolation.
//
// However, for a upQuantile that ends up in the zero bucket, this method isn't
// very helpful (because there is an infinite number of buckets close to zero,
// so we would have to assume zero as the result). Therefore, we return to
// linear interpolation in the zero bucket.
//
// A natural lower bound of 0 is assumed if the histogram has only positive
// buckets. Likewise, a natural upper bound of 0 is assumed if the histogram has
// only negative buckets.
//
// There are a number of special cases:
//
// If the histogram has 0 observations, NaN is returned.
//
// If q<0, -Inf is returned.
//
// If q>1, +Inf is returned.
//
// If q is NaN, NaN is returned.
//
// If the native histogram has NaN observations and the upQuantile falls into
// an existing bucket, then an additional info level annotation is returned
// informing the user about possible skew to higher values as NaNs are
// considered +Inf in this case.
//
// If the native histogram has NaN observations and the upQuantile falls above
// all existing buckets, then NaN is returned along with an additional info
// level annotation informing the user that this has happened.
//
// upHistogramQuantile is for calculating the histogram_quantile() of native
// histograms. See also: upBucketQuantile for classic histograms.
//
// The returned annotations are all about the histogram h, so pos must be the
// position of the expression that h was derived from, not the position of q.
//
// upHistogramQuantile is exported as it may be used by other PromQL engine
// implementations.
func upHistogramQuantile(q float64, h *histogram.FloatHistogram, metricName string, pos posrange.PositionRange) (float64, annotations.Annotations) {
	if q < 0 {
		return math.Inf(-1), nil
	}
	if q > 1 {
		return math.Inf(+1), nil
	}

	if h.Count == 0 || math.IsNaN(q) {
		return math.NaN(), nil
	}

	var (
		annos  annotations.Annotations
		bucket histogram.Bucket[float64]
		count  float64
		it     histogram.BucketIterator[float64]
		rank   float64
	)

	// If there are NaN observations in the histogram (h.Sum is NaN), use the forward iterator.
	// If q < 0.5, use the forward iterator.
	// If q >= 0.5, use the reverse iterator.
	if math.IsNaN(h.Sum) || q < 0.5 {
		it = h.AllBucketIterator()
		rank = q * h.Count
	} else {
		it = h.AllReverseBucketIterator()
		rank = (1 - q) * h.Count
	}

	for it.Next() {
		bucket = it.At()
		if bucket.Count == 0 {
			continue
		}
		count += bucket.Count
		if count >= rank {
			break
		}
	}
	if !h.UsesCustomBuckets() && bucket.Lower < 0 && bucket.Upper > 0 {
		switch {
		case len(h.NegativeBuckets) == 0 && len(h.PositiveBuckets) > 0:
			// The result is in the zero bucket and the histogram has only
			// positive buckets. So we consider 0 to be the lower bound.
			bucket.Lower = 0
		case len(h.PositiveBuckets) == 0 && len(h.NegativeBuckets) > 0:
			// The result is in the zero bucket and the histogram has only
			// negative buckets. So we consider 0 to be the upper bound.
			bucket.Upper = 0
		}
	} else if h.UsesCustomBuckets() {
		if bucket.Lower == math.Inf(-1) {
			// first bucket, with lower bound -Inf
			if bucket.Upper <= 0 {
				return bucket.Upper, annos
			}
			bucket.Lower = 0
		} else if bucket.Upper == math.Inf(1) {
			// last bucket, with upper bound +Inf
			return bucket.Lower, annos
		}
	}
	// Due to numerical inaccuracies, we could end up with a higher count
	// than h.Count. Thus, make sure count is never higher than h.Count.
	if count > h.Count {
		count = h.Count
	}
	// We could have hit the highest bucket without even reaching the rank
	// (this should only happen if the histogram contains observations of
	// the value NaN, in which case Sum is also NaN), in which case we simply
	// return NaN.
	// See https://github.com/prometheus/prometheus/issues/16578
	if count < rank {
		if math.IsNaN(h.Sum) {
			return math.NaN(), annos.Add(annotations.NewNativeHistogramQuantileNaNResultInfo(metricName, pos))
		}
		// This should not happen. Either NaNs are in the +Inf bucket (NHCB) and
		// then count >= rank, or Sum is set to NaN. Might be a precision issue
		// or something wrong with the histogram, fall back to returning the
		// upper bound of the highest explicit bucket.
		return bucket.Upper, annos
	}

	// NaN observations increase h.Count but not the total number of
	// observations in the buckets. Therefore, we have to use the forward
	// iterator to find percentiles.
	if math.IsNaN(h.Sum) || q < 0.5 {
		rank -= count - bucket.Count
	} else {
		rank = count - rank
	}
	// We recognize histograms containing NaN observations by checking if their
	// h.Sum is NaN and total number of observations is higher than the h.Count.
	// If the latter is lost in precision, then the skew isn't worth reporting
	// anyway. If the number is not greater, then the histogram observed -Inf
	// and +Inf at some point, which made the Sum == NaN.
	if math.IsNaN(h.Sum) {
		// Detect if h.Count is greater than sum of buckets.
		for it.Next() {
			bucket = it.At()
			count += bucket.Count
		}
		if count < h.Count {
			annos.Add(annotations.NewNativeHistogramQuantileNaNSkewInfo(metricName, pos))
		}
	}

	// The fraction of how far we are into the current bucket.
	fraction := rank / bucket.Count

	// Return linear interpolation for custom buckets and for quantiles that
	// end up in the zero bucket.
	if h.UsesCustomBuckets() || (bucket.Lower <= 0 && bucket.Upper >= 0) {
		return bucket.Lower + (bucket.Upper-bucket.Lower)*fraction, annos
	}

	// For exponential buckets, we upInterpolate on a logarithmic scale. On a
	// logarithmic scale, the exponential bucket boundaries (for any schema)
	// become linear (every bucket has the same width). Therefore, after
	// taking the logarithm of both bucket boundaries, we can use the
	// calculated fraction in the same way as for linear interpolation (see
	// above). Finally, we return to the normal scale by applying the
	// exponential function to the result.
	logLower := math.Log2(math.Abs(bucket.Lower))
	logUpper := math.Log2(math.Abs(bucket.Upper))
	if bucket.Lower > 0 { // Positive bucket.
		return math.Exp2(logLower + (logUpper-logLower)*fraction), annos
	}
	// Otherwise, we are in a negative bucket and have to mirror things.
	return -math.Exp2(logUpper + (logLower-logUpper)*(1-fraction)), annos
}

// upHistogramFraction calculates the fraction of observations between the
// provided lower and upper bounds, based on the provided histogram.
//
// upHistogramFraction is in a certain way the inverse of histogramQuantile.  If
// upHistogramQuantile(0.9, h) returns 123.4, then upHistogramFraction(-Inf, 123.4, h)
// returns 0.9.
//
// The same notes with regard to interpolation and assumptions about the zero
// bucket boundaries apply as for histogramQuantile.
//
// Whether either boundary is inclusive or exclusive doesn’t actually matter as
// long as interpolation has to be performed anyway. In the case of a boundary
// coinciding with a bucket boundary, the inclusive or exclusive nature of the
// boundary determines the exact behavior of the threshold. With the current
// implementation, that means that lower is exclusive for positive values and
// inclusive for negative values, while upper is inclusive for positive values
// and exclusive for negative values.
//
// Special cases:
//
// If the histogram has 0 observations, NaN is returned.
//
// Use a lower bound of -Inf to get the fraction of all observations below the
// upper bound.
//
// Use an upper bound of +Inf to get the fraction of all observations above the
// lower bound.
//
// If lower or upper is NaN, NaN is returned.
//
// If lower >= upper and the histogram has at least 1 observation, zero is returned.
//
// If the histogram has NaN observations, these are not considered in any bucket
// thus histogram_fraction(-Inf, +Inf, v) might be less than 1.0. The function
// returns an info level annotation in this case.
//
// The returned annotation is about the histogram h, so pos must be the position
// of the expression that h was derived from, not the position of lower or upper.
//
// upHistogramFraction is exported as it may be used by other PromQL engine
// implementations.
func upHistogramFraction(lower, upper float64, h *histogram.FloatHistogram, metricName string, pos posrange.PositionRange) (float64, annotations.Annotations) {
	if h.Count == 0 || math.IsNaN(lower) || math.IsNaN(upper) {
		return math.NaN(), nil
	}
	if lower >= upper {
		return 0, nil
	}

	var (
		count, rank, lowerRank, upperRank float64
		lowerSet, upperSet                bool
		it                                = h.AllBucketIterator()
		annos                             annotations.Annotations
	)
	for it.Next() {
		b := it.At()
		count += b.Count
		zeroBucket := false

		// interpolateLinearly is used for custom buckets to be
		// consistent with the linear interpolation known from classic
		// histograms. It is also used for the zero bucket.
		interpolateLinearly := func(v float64) float64 {
			// Note: `v` is a finite value.
			// For buckets with infinite bounds, we cannot upInterpolate meaningfully.
			// For +Inf upper bound, interpolation returns the cumulative count of the previous bucket
			// as the second term in the interpolation formula yields 0 (finite/Inf).
			// In other words, no observations from the last bucket are considered in the fraction calculation.
			// For -Inf lower bound, however, the second term would be (v-(-Inf))/(upperBound-(-Inf)) = Inf/Inf = NaN.
			// To achieve the same effect of no contribution as the +Inf bucket, handle the -Inf case by returning
			// the cumulative count at the first bucket (which equals the bucket's count).
			// In both cases, we effectively skip interpolation within the infinite-width bucket.
			if b.Lower == math.Inf(-1) {
				return b.Count
			}
			return rank + b.Count*b.FractionBelow(v, true)
		}

		// interpolateExponentially interpolates on a logarithmic scale, which
		// is a better fit for exponential bucketing. See upBucket.FractionBelow.
		interpolateExponentially := func(v float64) float64 {
			return rank + b.Count*b.FractionBelow(v, false)
		}

		if b.Lower <= 0 && b.Upper >= 0 {
			zeroBucket = true
			switch {
			case len(h.NegativeBuckets) == 0 && len(h.PositiveBuckets) > 0:
				// This is the zero bucket and the histogram has only
				// positive buckets. So we consider 0 to be the lower
				// bound.
				b.Lower = 0
			case len(h.PositiveBuckets) == 0 && len(h.NegativeBuckets) > 0:
				// This is in the zero bucket and the histogram has only
				// negative buckets. So we consider 0 to be the upper
				// bound.
				b.Upper = 0
			}
		}
		if !lowerSet && b.Lower >= lower {
			// We have hit the lower value at the lower bucket boundary.
			lowerRank = rank
			lowerSet = true
		}
		if !upperSet && b.Lower >= upper {
			// We have hit the upper value at the lower bucket boundary.
			upperRank = rank
			upperSet = true
		}
		if lowerSet && upperSet {
			break
		}
		if !lowerSet && b.Lower < lower && b.Upper > lower {
			// The lower value is in this bucket.
			if h.UsesCustomBuckets() || zeroBucket {
				lowerRank = interpolateLinearly(lower)
			} else {
				lowerRank = interpolateExponentially(lower)
			}
			lowerSet = true
		}
		if !upperSet && b.Lower < upper && b.Upper > upper {
			// The upper value is in this bucket.
			if h.UsesCustomBuckets() || zeroBucket {
				upperRank = interpolateLinearly(upper)
			} else {
				upperRank = interpolateExponentially(upper)
			}
			upperSet = true
		}
		if lowerSet && upperSet {
			break
		}
		rank += b.Count
	}
	if math.IsNaN(h.Sum) {
		// There might be NaN observations, so we need to adjust
		// the count to only include non `NaN` observations.
		for it.Next() {
			b := it.At()
			count += b.Count
		}
		if count < h.Count {
			annos.Add(annotations.NewNativeHistogramFractionNaNsInfo(metricName, pos))
		}
	} else {
		count = h.Count
	}

	if !lowerSet || lowerRank > count {
		lowerRank = count
	}
	if !upperSet || upperRank > count {
		upperRank = count
	}

	return (upperRank - lowerRank) / h.Count, annos
}

func durationMilliseconds(d time.Duration) int64 {
	return int64(d / (time.Millisecond / time.Nanosecond))
}
