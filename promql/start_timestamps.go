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
// Modified by Vigil: the start-timestamp rules ported from github.com/prometheus/prometheus
// promql/functions.go (v0.315.0): isStartTimestampReset, checkStartTimeOverlap, and the
// start-timestamp parts of extrapolatedRate, instantValue and funcResets.

package promql

import (
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/util/annotations"
)

// Start timestamps (the created timestamp of a cumulative counter, the start of a delta's
// interval) tell rate, increase, irate and resets about counter resets that the values alone
// do not show, and where a counter that starts inside the range was zero. These helpers keep
// that logic apart from the functions so that float and histogram code paths share it.

// stFunctions are the range functions that read start timestamps, as upstream.
var stFunctions = map[string]bool{"rate": true, "increase": true, "irate": true, "resets": true}

// stAt returns the start timestamp of point i, or 0 when sts does not have it.
func stAt(sts []int64, i int) int64 {
	if i < len(sts) {
		return sts[i]
	}
	return 0
}

// isStartTimestampReset tells whether there was a counter reset by checking the start timestamp value.
func isStartTimestampReset(prevStartTimestamp, prevTimestamp, currStartTimestamp, currTimestamp int64) bool {
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
	// The current start timestamp points at the previous sample. In OTel this happens for a
	// delta series (a reset) and for a cumulative series with an unknown start time (not a
	// reset): the previous sample's start timestamp tells them apart. One greater than the
	// previous sample's timestamp is invalid and taken as unknown, to avoid a spurious reset.
	if prevStartTimestamp > prevTimestamp {
		return false
	}
	return prevStartTimestamp != 0 && prevStartTimestamp != prevTimestamp
}

// checkStartTimeOverlap detects when a sample's start timestamp overlaps with a
// previous sample's timestamp, indicating potential data quality issues:
// currST != 0 && currST < prevT && currST != prevST. Valid deltas (currST = prevT) and
// valid cumulative series (currST = prevST) do not overlap.
func checkStartTimeOverlap(prevStartTimestamp, prevTimestamp, currStartTimestamp int64) bool {
	return currStartTimestamp != 0 && currStartTimestamp < prevTimestamp && currStartTimestamp != prevStartTimestamp
}

// isCounterReset tells whether the counter reset between points i-1 and i: its value went
// down, or its start timestamp says so.
func isCounterReset(pts []FPoint, sts []int64, i int) bool {
	return pts[i].F < pts[i-1].F || (i < len(sts) && isStartTimestampReset(sts[i-1], pts[i-1].T, sts[i], pts[i].T))
}

// counterResetCorrection returns what the counter resets inside pts add to last - first (the
// value before each reset). With start timestamps it warns, once per call, about a start
// timestamp overlapping the previous sample.
func (c *rangeCall) counterResetCorrection(pts []FPoint, sts []int64) float64 {
	var correction float64
	overlap := false
	for i := 1; i < len(pts); i++ {
		if !overlap && !c.repeat && i < len(sts) && checkStartTimeOverlap(sts[i-1], pts[i-1].T, sts[i]) {
			c.ev.warn(annotations.NewStartTimeOverlapWarning(c.metric.Get(labels.MetricName), c.pos))
			overlap = true
		}
		if isCounterReset(pts, sts, i) {
			correction += pts[i-1].F
		}
	}
	return correction
}

// startsInRange tells whether the first point's start timestamp lies inside the range
// (rangeStart, firstT): the counter is then taken to have been zero at that time, instead of
// extrapolating towards the range start. A start timestamp at rangeStart is outside (the
// range start is exclusive).
func startsInRange(sts []int64, rangeStart, firstT int64) bool {
	return len(sts) > 0 && sts[0] != 0 && sts[0] > rangeStart && sts[0] < firstT
}
