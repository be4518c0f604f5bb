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
// Modified by Vigil: the native histogram branches of upstream's aggregation
// (promql/engine.go, v0.315.0), as an accumulator used by both of Vigil's aggregation paths.

package promql

import (
	"errors"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/annotations"
)

// histAcc is the native histogram part of one group's sum or avg at one step.
type histAcc struct {
	value, kahanC, mean *histogram.FloatHistogram
	count               float64
	incrementalMean     bool
	incompatible        bool
	counterResetSeen    bool
	notCounterResetSeen bool
}

// histAggIgnored tells whether op ignores native histograms (with an info annotation), and
// names it for the annotation.
func histAggIgnored(op parser.ItemType) (string, bool) {
	switch op {
	case parser.MIN:
		return "min", true
	case parser.MAX:
		return "max", true
	case parser.STDDEV:
		return "stddev", true
	case parser.STDVAR:
		return "stdvar", true
	case parser.QUANTILE:
		return "quantile", true
	case parser.TOPK:
		return "topk", true
	case parser.BOTTOMK:
		return "bottomk", true
	}
	return "", false
}

func (a *histAcc) noteHint(h *histogram.FloatHistogram) {
	switch h.CounterResetHint {
	case histogram.CounterReset:
		a.counterResetSeen = true
	case histogram.NotCounterReset:
		a.notCounterResetSeen = true
	}
}

func (ev *evaluator) histAggError(err error, e *parser.AggregateExpr, metricName string) {
	if errors.Is(err, histogram.ErrHistogramsIncompatibleSchema) {
		ev.warn(annotations.NewMixedExponentialCustomHistogramsWarning(metricName, e.Expr.PositionRange()))
	}
}

// add folds h into the accumulator of a sum or avg.
func (ev *evaluator) histAccAdd(a *histAcc, e *parser.AggregateExpr, h *histogram.FloatHistogram, metricName string) {
	a.count++
	if a.value == nil && !a.incrementalMean {
		a.value = h.Copy()
		a.noteHint(h)
		return
	}
	if a.incompatible {
		return
	}
	a.noteHint(h)
	var (
		reconciled bool
		err        error
	)
	if e.Op == parser.SUM {
		a.kahanC, _, reconciled, err = a.value.KahanAdd(h, a.kahanC)
		if err != nil {
			ev.histAggError(err, e, metricName)
			a.incompatible = true
		}
		if reconciled {
			ev.warn(annotations.NewMismatchedCustomBucketsHistogramsInfo(e.Expr.PositionRange(), annotations.HistogramAgg))
		}
		return
	}
	// avg: a direct mean while the sum does not overflow, then an incremental mean.
	if !a.incrementalMean {
		v := a.value.Copy()
		var c *histogram.FloatHistogram
		if a.kahanC != nil {
			c = a.kahanC.Copy()
		}
		c, _, reconciled, err = v.KahanAdd(h, c)
		if err != nil {
			ev.histAggError(err, e, metricName)
			a.incompatible = true
			return
		}
		if reconciled {
			ev.warn(annotations.NewMismatchedCustomBucketsHistogramsInfo(e.Expr.PositionRange(), annotations.HistogramAgg))
		}
		if !v.HasOverflow() {
			a.value, a.kahanC = v, c
			return
		}
		a.incrementalMean = true
		a.mean = a.value.Copy().Div(a.count - 1)
		if a.kahanC != nil {
			a.kahanC.Div(a.count - 1)
		}
	}
	q := (a.count - 1) / a.count
	if a.kahanC != nil {
		a.kahanC.Mul(q)
	}
	toAdd := h.Copy().Div(a.count)
	a.kahanC, _, reconciled, err = a.mean.Mul(q).KahanAdd(toAdd, a.kahanC)
	if err != nil {
		ev.histAggError(err, e, metricName)
		a.incompatible = true
		return
	}
	if reconciled {
		ev.warn(annotations.NewMismatchedCustomBucketsHistogramsInfo(e.Expr.PositionRange(), annotations.HistogramAgg))
	}
}

// histAccResult finishes a sum or avg of histograms at one step: nil when there is no result
// (floats mixed in, incompatible histograms), with upstream's annotations.
func (ev *evaluator) histAccResult(a *histAcc, e *parser.AggregateExpr, hasFloat bool) *histogram.FloatHistogram {
	if hasFloat {
		ev.warn(annotations.NewMixedFloatsHistogramsAggWarning(e.Expr.PositionRange()))
		return nil
	}
	if a.incompatible {
		return nil
	}
	if a.counterResetSeen && a.notCounterResetSeen {
		ev.warn(annotations.NewHistogramCounterResetCollisionWarning(e.Expr.PositionRange(), annotations.HistogramAgg))
	}
	var res *histogram.FloatHistogram
	switch {
	case e.Op == parser.SUM:
		res = a.value
		if a.kahanC != nil {
			res, _, _, _ = res.Add(a.kahanC)
		}
	case a.incrementalMean:
		res = a.mean
		if a.kahanC != nil {
			res, _, _, _ = a.mean.Add(a.kahanC)
		}
	default:
		res = a.value.Div(a.count)
		if a.kahanC != nil {
			res, _, _, _ = res.Add(a.kahanC.Div(a.count))
		}
	}
	return res.Compact(0)
}
