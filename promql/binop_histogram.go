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
// Modified by Vigil: vectorElemBinop of upstream's promql/engine.go (v0.315.0), used for
// the elements of a binary operation of which one side is a native histogram.

package promql

import (
	"errors"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
	"github.com/prometheus/prometheus/util/annotations"
)

// binopAnnotation turns the error of a vector-vector operation into upstream's annotation
// (handleVectorBinopError).
func binopAnnotation(err error, e parser.Node, op parser.ItemType) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, annotations.PromQLInfo) || errors.Is(err, annotations.PromQLWarning) {
		return err
	}
	if errors.Is(err, histogram.ErrHistogramsIncompatibleSchema) {
		return annotations.NewIncompatibleBucketLayoutInBinOpWarning(parser.ItemTypeStr[op], e.PositionRange())
	}
	return nil
}

func histElemBinop(op parser.ItemType, lhs, rhs float64, hlhs, hrhs *histogram.FloatHistogram, pos posrange.PositionRange) (res float64, resH *histogram.FloatHistogram, keep bool, info, err error) {
	switch {
	case hlhs == nil && hrhs == nil:
		{
			switch op {
			case parser.ADD:
				return lhs + rhs, nil, true, nil, nil
			case parser.SUB:
				return lhs - rhs, nil, true, nil, nil
			case parser.MUL:
				return lhs * rhs, nil, true, nil, nil
			case parser.DIV:
				return lhs / rhs, nil, true, nil, nil
			case parser.POW:
				return math.Pow(lhs, rhs), nil, true, nil, nil
			case parser.MOD:
				return math.Mod(lhs, rhs), nil, true, nil, nil
			case parser.EQLC:
				return lhs, nil, lhs == rhs, nil, nil
			case parser.NEQ:
				return lhs, nil, lhs != rhs, nil, nil
			case parser.GTR:
				return lhs, nil, lhs > rhs, nil, nil
			case parser.LSS:
				return lhs, nil, lhs < rhs, nil, nil
			case parser.GTE:
				return lhs, nil, lhs >= rhs, nil, nil
			case parser.LTE:
				return lhs, nil, lhs <= rhs, nil, nil
			case parser.ATAN2:
				return math.Atan2(lhs, rhs), nil, true, nil, nil
			case parser.TRIM_LOWER, parser.TRIM_UPPER:
				return 0, nil, false, nil, annotations.NewIncompatibleTypesInBinOpInfo("float", parser.ItemTypeStr[op], "float", pos)
			}
		}
	case hlhs == nil && hrhs != nil:
		{
			switch op {
			case parser.MUL:
				return 0, hrhs.Copy().Mul(lhs).Compact(0), true, nil, nil
			case parser.ADD, parser.SUB, parser.DIV, parser.POW, parser.MOD, parser.EQLC, parser.NEQ, parser.GTR, parser.TRIM_LOWER, parser.TRIM_UPPER, parser.LSS, parser.GTE, parser.LTE, parser.ATAN2:
				return 0, nil, false, nil, annotations.NewIncompatibleTypesInBinOpInfo("float", parser.ItemTypeStr[op], "histogram", pos)
			}
		}
	case hlhs != nil && hrhs == nil:
		{
			switch op {
			case parser.MUL:
				return 0, hlhs.Copy().Mul(rhs).Compact(0), true, nil, nil
			case parser.DIV:
				return 0, hlhs.Copy().Div(rhs).Compact(0), true, nil, nil
			// TrimBuckets mutates its receiver in place, and hlhs may be shared
			// with other samples/series, so trim a copy rather than hlhs itself.
			case parser.TRIM_UPPER:
				return 0, hlhs.Copy().TrimBuckets(rhs, true), true, nil, nil
			case parser.TRIM_LOWER:
				return 0, hlhs.Copy().TrimBuckets(rhs, false), true, nil, nil
			case parser.ADD, parser.SUB, parser.POW, parser.MOD, parser.EQLC, parser.NEQ, parser.GTR, parser.LSS, parser.GTE, parser.LTE, parser.ATAN2:
				return 0, nil, false, nil, annotations.NewIncompatibleTypesInBinOpInfo("histogram", parser.ItemTypeStr[op], "float", pos)
			}
		}
	case hlhs != nil && hrhs != nil:
		{
			switch op {
			case parser.ADD:
				res, counterResetCollision, nhcbBoundsReconciled, err := hlhs.Copy().Add(hrhs)
				if err != nil {
					return 0, nil, false, nil, err
				}
				if counterResetCollision {
					err = annotations.NewHistogramCounterResetCollisionWarning(pos, annotations.HistogramAdd)
				}
				if nhcbBoundsReconciled {
					info = annotations.NewMismatchedCustomBucketsHistogramsInfo(pos, annotations.HistogramAdd)
				}
				return 0, res.Compact(0), true, info, err
			case parser.SUB:
				res, counterResetCollision, nhcbBoundsReconciled, err := hlhs.Copy().Sub(hrhs)
				if err != nil {
					return 0, nil, false, nil, err
				}
				// The result must be marked as gauge.
				res.CounterResetHint = histogram.GaugeType
				if counterResetCollision {
					err = annotations.NewHistogramCounterResetCollisionWarning(pos, annotations.HistogramSub)
				}
				if nhcbBoundsReconciled {
					info = annotations.NewMismatchedCustomBucketsHistogramsInfo(pos, annotations.HistogramSub)
				}

				return 0, res.Compact(0), true, info, err
			case parser.EQLC:
				// This operation expects that both histograms are compacted.
				return 0, hlhs, hlhs.Equals(hrhs), nil, nil
			case parser.NEQ:
				// This operation expects that both histograms are compacted.
				return 0, hlhs, !hlhs.Equals(hrhs), nil, nil
			case parser.MUL, parser.DIV, parser.POW, parser.MOD, parser.GTR, parser.LSS, parser.GTE, parser.LTE, parser.ATAN2, parser.TRIM_LOWER, parser.TRIM_UPPER:
				return 0, nil, false, nil, annotations.NewIncompatibleTypesInBinOpInfo("histogram", parser.ItemTypeStr[op], "histogram", pos)
			}
		}
	}
	panic(fmt.Errorf("operator %q not allowed for operations between Vectors", op))
}

// histScalarBinop computes "h op v" (or "v op h" when swap is set) as upstream's
// VectorscalarBinop does for a histogram element: the result is a histogram or, with bool, a
// float; ok is false when the element is dropped (annotations are added).
func (ev *evaluator) histScalarBinop(op parser.ItemType, h *histogram.FloatHistogram, v float64, swap, returnBool bool, pos parser.Node) (out Sample, ok bool) {
	lf, rf := 0.0, v
	lh, rh := h, (*histogram.FloatHistogram)(nil)
	if swap {
		lf, rf = rf, lf
		lh, rh = rh, lh
	}
	f, hres, keep, _, err := histElemBinop(op, lf, rf, lh, rh, pos.PositionRange())
	if err != nil && !errors.Is(err, annotations.PromQLWarning) {
		if a := binopAnnotation(err, pos, op); a != nil {
			ev.warn(a)
		}
		return Sample{}, false
	}
	if op.IsComparisonOperator() && swap {
		f, hres = rf, rh
	}
	if returnBool {
		f, hres, keep = btos(keep), nil, true
	}
	if !keep {
		return Sample{}, false
	}
	return Sample{F: f, H: hres}, true
}

// elemBinop applies op to one pair of vector elements, floats or native histograms. anno is
// the annotation to report, if any; ok is false when the pair yields nothing.
func elemBinop(op parser.ItemType, fl, fr float64, hl, hr *histogram.FloatHistogram, pos parser.Node) (value float64, h *histogram.FloatHistogram, keep bool, anno error, ok bool) {
	if hl == nil && hr == nil {
		value, keep, err := vectorElemBinop(op, fl, fr, pos)
		if err != nil {
			return 0, nil, false, err, false
		}
		return value, nil, keep, nil, true
	}
	value, h, keep, info, err := histElemBinop(op, fl, fr, hl, hr, pos.PositionRange())
	if err != nil {
		return 0, nil, false, binopAnnotation(err, pos, op), false
	}
	return value, h, keep, info, true
}
