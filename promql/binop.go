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
	"bytes"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/schema"
	"github.com/prometheus/prometheus/util/annotations"
)

func (ev *evaluator) evalBinary(e *parser.BinaryExpr) Value {
	lt, rt := ev.exprType(e.LHS), ev.exprType(e.RHS)
	switch {
	case lt == parser.ValueTypeScalar && rt == parser.ValueTypeScalar:
		return ev.rangeEval(nil, func(v []Vector, enh *evalNodeHelper) Vector {
			return append(enh.Out, Sample{F: scalarBinop(ev, e.Op, v[0][0].F, v[1][0].F)})
		}, e.LHS, e.RHS)
	case lt == parser.ValueTypeVector && rt == parser.ValueTypeVector:
		switch e.Op {
		case parser.LAND:
			return ev.rangeEvalHelpers(e.VectorMatching, func(v []Vector, sh [][]seriesHelper, enh *evalNodeHelper) Vector {
				return vectorAnd(v[0], v[1], sh[0], sh[1], enh)
			}, e.LHS, e.RHS)
		case parser.LOR:
			return ev.rangeEvalHelpers(e.VectorMatching, func(v []Vector, sh [][]seriesHelper, enh *evalNodeHelper) Vector {
				return vectorOr(v[0], v[1], sh[0], sh[1], enh)
			}, e.LHS, e.RHS)
		case parser.LUNLESS:
			return ev.rangeEvalHelpers(e.VectorMatching, func(v []Vector, sh [][]seriesHelper, enh *evalNodeHelper) Vector {
				return vectorUnless(v[0], v[1], sh[0], sh[1], enh)
			}, e.LHS, e.RHS)
		default:
			return ev.rangeEvalHelpers(e.VectorMatching, func(v []Vector, sh [][]seriesHelper, enh *evalNodeHelper) Vector {
				return ev.vectorBinop(e.Op, v[0], v[1], e.VectorMatching, e.ReturnBool, sh[0], sh[1], enh, e)
			}, e.LHS, e.RHS)
		}
	case lt == parser.ValueTypeVector && rt == parser.ValueTypeScalar:
		return ev.rangeEval(nil, func(v []Vector, enh *evalNodeHelper) Vector {
			return ev.vectorScalarBinop(e.Op, v[0], v[1][0].F, false, e.ReturnBool, enh, e)
		}, e.LHS, e.RHS)
	case lt == parser.ValueTypeScalar && rt == parser.ValueTypeVector:
		return ev.rangeEval(nil, func(v []Vector, enh *evalNodeHelper) Vector {
			return ev.vectorScalarBinop(e.Op, v[1], v[0][0].F, true, e.ReturnBool, enh, e)
		}, e.LHS, e.RHS)
	}
	ev.errorf("binary operation between %s and %s is not supported", lt, rt)
	return nil
}

func (enh *evalNodeHelper) resetSigsPresent() []bool {
	if len(enh.sigsPresent) == 0 {
		enh.sigsPresent = make([]bool, enh.numSigs)
	} else {
		clear(enh.sigsPresent)
	}
	return enh.sigsPresent
}

func (enh *evalNodeHelper) resetMatchedSigsPresent() []bool {
	if len(enh.matchedSigsPresent) == 0 {
		enh.matchedSigsPresent = make([]bool, enh.numSigs)
	} else {
		clear(enh.matchedSigsPresent)
	}
	return enh.matchedSigsPresent
}

func (enh *evalNodeHelper) resetRightSigs() []Sample {
	if enh.rightSigs == nil {
		enh.rightSigs = make([]Sample, enh.numSigs)
	} else {
		clear(enh.rightSigs)
	}
	return enh.rightSigs
}

func (enh *evalNodeHelper) resetMatchedSigs() []map[uint64]struct{} {
	if enh.matchedSigs == nil {
		enh.matchedSigs = make([]map[uint64]struct{}, enh.numSigs)
	} else {
		for i := range enh.matchedSigs {
			clear(enh.matchedSigs[i])
		}
	}
	return enh.matchedSigs
}

func vectorAnd(lhs, rhs Vector, lhsh, rhsh []seriesHelper, enh *evalNodeHelper) Vector {
	if len(lhs) == 0 || len(rhs) == 0 {
		return nil
	}
	present := enh.resetSigsPresent()
	for _, sh := range rhsh {
		present[sh.sigOrdinal] = true
	}
	for i, ls := range lhs {
		if present[lhsh[i].sigOrdinal] {
			enh.Out = append(enh.Out, ls)
		}
	}
	return enh.Out
}

func vectorOr(lhs, rhs Vector, lhsh, rhsh []seriesHelper, enh *evalNodeHelper) Vector {
	switch {
	case len(lhs) == 0:
		return append(enh.Out, rhs...)
	case len(rhs) == 0:
		return append(enh.Out, lhs...)
	}
	present := enh.resetSigsPresent()
	for i, ls := range lhs {
		present[lhsh[i].sigOrdinal] = true
		enh.Out = append(enh.Out, ls)
	}
	for j, rs := range rhs {
		if !present[rhsh[j].sigOrdinal] {
			enh.Out = append(enh.Out, rs)
		}
	}
	return enh.Out
}

func vectorUnless(lhs, rhs Vector, lhsh, rhsh []seriesHelper, enh *evalNodeHelper) Vector {
	if len(lhs) == 0 || len(rhs) == 0 {
		return append(enh.Out, lhs...)
	}
	present := enh.resetSigsPresent()
	for _, sh := range rhsh {
		present[sh.sigOrdinal] = true
	}
	for i, ls := range lhs {
		if !present[lhsh[i].sigOrdinal] {
			enh.Out = append(enh.Out, ls)
		}
	}
	return enh.Out
}

// vectorBinop evaluates a binary arithmetic or comparison operation between two vectors.
func (ev *evaluator) vectorBinop(op parser.ItemType, lhs, rhs Vector, matching *parser.VectorMatching, returnBool bool, lhsh, rhsh []seriesHelper, enh *evalNodeHelper, pos parser.Node) Vector {
	if matching.Card == parser.CardManyToMany {
		ev.errorf("many-to-many only allowed for set operators")
	}
	if (len(lhs) == 0 && len(rhs) == 0) ||
		((len(lhs) == 0 || len(rhs) == 0) && matching.FillValues.RHS == nil && matching.FillValues.LHS == nil) {
		return nil
	}
	// The "one" side is always the right one below.
	if matching.Card == parser.CardOneToMany {
		lhs, rhs = rhs, lhs
		lhsh, rhsh = rhsh, lhsh
	}
	rightSigs := enh.resetRightSigs()
	rightSigsPresent := enh.resetSigsPresent()
	for i, rs := range rhs {
		sigOrd := rhsh[i].sigOrdinal
		if rightSigsPresent[sigOrd] {
			dupl := rightSigs[sigOrd]
			oneSide := "right"
			if matching.Card == parser.CardOneToMany {
				oneSide = "left"
			}
			matchedLabels := rs.Metric.MatchLabels(matching.On, matching.MatchingLabels...)
			dupl1, dupl2 := rs.Metric.String(), dupl.Metric.String()
			if dupl1 > dupl2 {
				dupl1, dupl2 = dupl2, dupl1
			}
			ev.errorf("found duplicate series for the match group %s on the %s hand-side of the operation: [%s, %s]"+
				";many-to-many matching not allowed: matching labels must be unique on one side", matchedLabels.String(), oneSide, dupl1, dupl2)
		}
		rightSigs[sigOrd] = rs
		rightSigsPresent[sigOrd] = true
	}
	var (
		matchedSigsPresent []bool
		matchedSigs        []map[uint64]struct{}
	)
	if matching.Card == parser.CardOneToOne {
		matchedSigsPresent = enh.resetMatchedSigsPresent()
	} else {
		matchedSigs = enh.resetMatchedSigs()
	}
	var info error
	doBinOp := func(ls, rs Sample, sigOrd int) {
		fl, fr := ls.F, rs.F
		hl, hr := ls.H, rs.H
		if matching.Card == parser.CardOneToMany {
			fl, fr = fr, fl
			hl, hr = hr, hl
		}
		value, hvalue, keep, anno, ok := elemBinop(op, fl, fr, hl, hr, pos)
		if anno != nil {
			info = anno
		}
		if !ok {
			return
		}
		if returnBool {
			value, hvalue = btos(keep), nil
		}
		metric := resultMetric(ls.Metric, rs.Metric, op, matching, enh, ev.startTS != ev.endTS)
		if matching.Card == parser.CardOneToOne {
			if matchedSigsPresent[sigOrd] {
				ev.errorf("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
			}
			matchedSigsPresent[sigOrd] = true
		} else {
			insertSig := metric.Hash()
			if matchedSigs[sigOrd] == nil {
				matchedSigs[sigOrd] = map[uint64]struct{}{}
			}
			if _, dup := matchedSigs[sigOrd][insertSig]; dup {
				ev.errorf("multiple matches for labels: grouping labels must ensure unique matches")
			}
			matchedSigs[sigOrd][insertSig] = struct{}{}
		}
		if !keep && !returnBool {
			return
		}
		enh.Out = append(enh.Out, Sample{Metric: metric, F: value, H: hvalue, dropName: returnBool})
	}
	for i, ls := range lhs {
		sigOrd := lhsh[i].sigOrdinal
		var rs Sample
		if rightSigsPresent[sigOrd] {
			rs = rightSigs[sigOrd]
		} else {
			fill := matching.FillValues.RHS
			if fill == nil {
				continue
			}
			rs = Sample{Metric: ls.Metric.MatchLabels(matching.On, matching.MatchingLabels...), F: *fill}
		}
		doBinOp(ls, rs, sigOrd)
	}
	if fill := matching.FillValues.LHS; fill != nil {
		for i, rs := range rhs {
			sigOrd := rhsh[i].sigOrdinal
			if (matching.Card == parser.CardOneToOne && matchedSigsPresent[sigOrd]) ||
				(matching.Card != parser.CardOneToOne && len(matchedSigs[sigOrd]) > 0) {
				continue
			}
			ls := Sample{Metric: rs.Metric.MatchLabels(matching.On, matching.MatchingLabels...), F: *fill}
			doBinOp(ls, rs, sigOrd)
		}
	}
	if info != nil {
		ev.warn(info)
	}
	return enh.Out
}

// resultMetric returns the labels of the result of a binary operation between lhs and rhs,
// cached per label pair across steps when there is more than one step.
func resultMetric(lhs, rhs labels.Labels, op parser.ItemType, matching *parser.VectorMatching, enh *evalNodeHelper, cache bool) labels.Labels {
	if !cache {
		return buildResultMetric(lhs, rhs, op, matching, enh)
	}
	if enh.resultMetric == nil {
		enh.resultMetric = make(map[string]labels.Labels, len(enh.Out))
	}
	buf := bytes.NewBuffer(enh.lblResultBuf[:0])
	enh.lblBuf = lhs.Bytes(enh.lblBuf)
	buf.Write(enh.lblBuf)
	enh.lblBuf = rhs.Bytes(enh.lblBuf)
	buf.Write(enh.lblBuf)
	enh.lblResultBuf = buf.Bytes()
	if ret, ok := enh.resultMetric[string(enh.lblResultBuf)]; ok {
		return ret
	}
	str := string(enh.lblResultBuf)
	ret := buildResultMetric(lhs, rhs, op, matching, enh)
	enh.resultMetric[str] = ret
	return ret
}

func buildResultMetric(lhs, rhs labels.Labels, op parser.ItemType, matching *parser.VectorMatching, enh *evalNodeHelper) labels.Labels {
	enh.resetBuilder(lhs)
	if changesMetricSchema(op) {
		schema.Metadata{}.SetToLabels(enh.lb)
	}
	if matching.Card == parser.CardOneToOne {
		if matching.On {
			enh.lb.Keep(matching.MatchingLabels...)
		} else {
			enh.lb.Del(matching.MatchingLabels...)
		}
	}
	for _, ln := range matching.Include {
		// Included labels from the "one" side overwrite; missing ones are removed.
		if v := rhs.Get(ln); v != "" {
			enh.lb.Set(ln, v)
		} else {
			enh.lb.Del(ln)
		}
	}
	return enh.lb.Labels()
}

func (ev *evaluator) vectorScalarBinop(op parser.ItemType, lhs Vector, rhs float64, swap, returnBool bool, enh *evalNodeHelper, pos parser.Node) Vector {
	for _, s := range lhs {
		if s.H != nil {
			if out, ok := ev.histScalarBinop(op, s.H, rhs, swap, returnBool, pos); ok {
				s.F, s.H = out.F, out.H
				if changesMetricSchema(op) || returnBool {
					s.dropName = true
				}
				enh.Out = append(enh.Out, s)
			}
			continue
		}
		lf, rf := s.F, rhs
		if swap {
			lf, rf = rf, lf
		}
		value, keep, err := vectorElemBinop(op, lf, rf, pos)
		if err != nil {
			ev.warn(err)
			continue
		}
		// Comparisons with the scalar on the left keep the vector's value.
		if op.IsComparisonOperator() && swap {
			value = rf
		}
		if returnBool {
			value = btos(keep)
			keep = true
		}
		if keep {
			s.F = value
			if changesMetricSchema(op) || returnBool {
				s.dropName = true
			}
			enh.Out = append(enh.Out, s)
		}
	}
	return enh.Out
}

func scalarBinop(ev *evaluator, op parser.ItemType, lhs, rhs float64) float64 {
	switch op {
	case parser.ADD:
		return lhs + rhs
	case parser.SUB:
		return lhs - rhs
	case parser.MUL:
		return lhs * rhs
	case parser.DIV:
		return lhs / rhs
	case parser.POW:
		return math.Pow(lhs, rhs)
	case parser.MOD:
		return math.Mod(lhs, rhs)
	case parser.EQLC:
		return btos(lhs == rhs)
	case parser.NEQ:
		return btos(lhs != rhs)
	case parser.GTR:
		return btos(lhs > rhs)
	case parser.LSS:
		return btos(lhs < rhs)
	case parser.GTE:
		return btos(lhs >= rhs)
	case parser.LTE:
		return btos(lhs <= rhs)
	case parser.ATAN2:
		return math.Atan2(lhs, rhs)
	}
	ev.errorf("operator %q not allowed for Scalar operations", op)
	return 0
}

// vectorElemBinop applies op to two floats. For comparisons, keep tells whether the sample
// stays (and the value is the left one).
func vectorElemBinop(op parser.ItemType, lhs, rhs float64, pos parser.Node) (float64, bool, error) {
	switch op {
	case parser.ADD:
		return lhs + rhs, true, nil
	case parser.SUB:
		return lhs - rhs, true, nil
	case parser.MUL:
		return lhs * rhs, true, nil
	case parser.DIV:
		return lhs / rhs, true, nil
	case parser.POW:
		return math.Pow(lhs, rhs), true, nil
	case parser.MOD:
		return math.Mod(lhs, rhs), true, nil
	case parser.EQLC:
		return lhs, lhs == rhs, nil
	case parser.NEQ:
		return lhs, lhs != rhs, nil
	case parser.GTR:
		return lhs, lhs > rhs, nil
	case parser.LSS:
		return lhs, lhs < rhs, nil
	case parser.GTE:
		return lhs, lhs >= rhs, nil
	case parser.LTE:
		return lhs, lhs <= rhs, nil
	case parser.ATAN2:
		return math.Atan2(lhs, rhs), true, nil
	case parser.TRIM_LOWER, parser.TRIM_UPPER:
		return 0, false, annotations.NewIncompatibleTypesInBinOpInfo("float", parser.ItemTypeStr[op], "float", pos.PositionRange())
	}
	return 0, false, fmt.Errorf("operator %q not allowed for operations between Vectors", op)
}

func btos(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func changesMetricSchema(op parser.ItemType) bool {
	switch op {
	case parser.ADD, parser.SUB, parser.DIV, parser.MUL, parser.POW, parser.MOD, parser.ATAN2:
		return true
	}
	return false
}
