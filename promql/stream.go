package promql

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Series-at-a-time evaluation: expressions whose output series each depend on one input series
// (selectors, range functions, vector-number operations, pointwise functions) and joins whose
// "many" side is such an expression are produced one series at a time, so that aggregations,
// subqueries and joins over them never hold the whole input matrix.

// computeCanStream decides canStream for one node (see canStream, which caches it).
func (ev *evaluator) computeCanStream(expr parser.Expr) bool {
	switch e := expr.(type) {
	case *parser.ParenExpr:
		return ev.canStream(e.Expr)
	case *parser.VectorSelector:
		return true
	case *parser.BinaryExpr:
		if e.Op.IsSetOperator() {
			return false
		}
		lhs, rhs := unwrapParens(e.LHS), unwrapParens(e.RHS)
		if _, ok := rhs.(*parser.NumberLiteral); ok && ev.exprType(lhs) == parser.ValueTypeVector {
			return ev.canStream(lhs)
		}
		if _, ok := lhs.(*parser.NumberLiteral); ok && ev.exprType(rhs) == parser.ValueTypeVector {
			return ev.canStream(rhs)
		}
		if m := ev.streamableJoin(e); m != nil {
			return ev.canStream(m)
		}
		return false
	case *parser.Call:
		if _, ok := pointwiseFunctions[e.Func.Name]; ok && len(e.Args) == 1 {
			return ev.canStream(e.Args[0])
		}
		if nativeHistogramFunctions[e.Func.Name] && len(e.Args) == 1 {
			return ev.canStream(e.Args[0])
		}
		if e.Func.Name == "absent_over_time" || rangeFunctions[e.Func.Name] == nil {
			return false
		}
		for _, a := range e.Args {
			switch unwrapParens(a).(type) {
			case *parser.MatrixSelector, *parser.SubqueryExpr:
				return true
			}
		}
	}
	return false
}

// streamableJoin returns the "many" side of a vector-vector arithmetic or comparison that can
// be evaluated by streaming that side against the materialized other side, or nil.
func (ev *evaluator) streamableJoin(e *parser.BinaryExpr) parser.Expr {
	m := e.VectorMatching
	if m == nil || ev.exprType(e.LHS) != parser.ValueTypeVector || ev.exprType(e.RHS) != parser.ValueTypeVector ||
		m.Card == parser.CardManyToMany || m.FillValues.LHS != nil || m.FillValues.RHS != nil {
		return nil
	}
	if m.Card == parser.CardOneToMany {
		return e.RHS
	}
	return e.LHS
}

// stream produces the series of expr one at a time through emit, without materializing the
// whole matrix. Emitted points are only valid during the call. It returns false, without
// evaluating anything, when expr cannot be streamed.
func (ev *evaluator) stream(expr parser.Expr, emit func(Series)) bool {
	ev.analysis.visits++
	if !ev.canStream(expr) {
		return false
	}
	switch e := expr.(type) {
	case *parser.ParenExpr:
		return ev.stream(e.Expr, emit)
	case *parser.VectorSelector:
		if e.Smoothed {
			ev.smoothedVectorSelector(e, emit)
		} else {
			ev.vectorSelector(e, emit)
		}
		return true
	case *parser.BinaryExpr:
		lhs, rhs := unwrapParens(e.LHS), unwrapParens(e.RHS)
		if num, ok := rhs.(*parser.NumberLiteral); ok && ev.exprType(lhs) == parser.ValueTypeVector {
			return ev.stream(lhs, ev.scalarBinopStream(e, num.Val, false, emit))
		}
		if num, ok := lhs.(*parser.NumberLiteral); ok && ev.exprType(rhs) == parser.ValueTypeVector {
			return ev.stream(rhs, ev.scalarBinopStream(e, num.Val, true, emit))
		}
		ev.streamJoin(e, emit)
		return true
	case *parser.Call:
		if f, ok := pointwiseFunctions[e.Func.Name]; ok && len(e.Args) == 1 {
			var out []FPoint
			return ev.stream(e.Args[0], func(s Series) {
				out = out[:0]
				for _, p := range s.Floats {
					out = append(out, FPoint{T: p.T, F: f(p.F)})
				}
				emit(Series{Metric: s.Metric, Floats: out, dropName: true})
			})
		}
		if nativeHistogramFunctions[e.Func.Name] && len(e.Args) == 1 {
			// histogram_count & co. map each histogram point on its own (upstream's function
			// per point) and drop float points.
			fn := upFunctionCalls[e.Func.Name]
			uenh := &upEvalNodeHelper{enableDelayedNameRemoval: true}
			vals := []Vector{make(Vector, 1)}
			var out []FPoint
			// The functions reduce each histogram to a float, keeping none.
			return ev.streamBorrowing(e.Args[0], true, func(s Series) {
				out = out[:0]
				for _, p := range s.Histograms {
					vals[0][0] = Sample{Metric: s.Metric, T: p.T, H: p.H}
					uenh.Ts, uenh.Out = p.T, uenh.Out[:0]
					res, annos := fn(vals, nil, e.Args, uenh)
					ev.annos.Merge(annos)
					uenh.Out = res
					if len(res) > 0 {
						out = append(out, FPoint{T: p.T, F: res[0].F})
					}
				}
				ev.currentSamples -= len(s.Floats) + len(s.Histograms) - len(out)
				if len(out) > 0 {
					emit(Series{Metric: s.Metric, Floats: out, dropName: true})
				}
			})
		}
		for i, a := range e.Args {
			switch unwrapParens(a).(type) {
			case *parser.MatrixSelector, *parser.SubqueryExpr:
				e.Args[i] = unwrapParens(a)
				ev.evalRangeFunction(e, i, emit)
				return true
			}
		}
	}
	return false
}

// joinCells hold, per match group, the "one" side's sample at each step: the index of the
// series that has it (-1: none) and its value, in separate arrays to avoid padding.
type joinCells struct {
	series []int32
	f      []float64
	h      []*histogram.FloatHistogram // nil unless the one side has native histograms
}

// streamJoin evaluates a one-to-one or many-to-one (group_left/group_right) operation by
// materializing the "one" side and streaming the "many" side against it. Errors are those of
// vectorBinop: duplicate series on the one side, and multiple matches, at a step.
func (ev *evaluator) streamJoin(e *parser.BinaryExpr, emit func(Series)) {
	matching := e.VectorMatching
	swapped := matching.Card == parser.CardOneToMany
	manyExpr, oneExpr := e.LHS, e.RHS
	if swapped {
		manyExpr, oneExpr = e.RHS, e.LHS
	}
	n := ev.numSteps()
	origSamples := ev.currentSamples
	ev.checkAlloc(n) // dupAtStep

	names := slices.Clone(matching.MatchingLabels)
	buf := make([]byte, 0, 1024)
	var sigf func(labels.Labels) []byte
	if matching.On {
		slices.Sort(names)
		sigf = func(l labels.Labels) []byte { buf = l.BytesWithLabels(buf, names...); return buf }
	} else {
		names = append([]string{labels.MetricName}, names...)
		slices.Sort(names)
		sigf = func(l labels.Labels) []byte { buf = l.BytesWithoutLabels(buf, names...); return buf }
	}

	// Index the one side by match group and step (the values go into cells, only the labels
	// are kept), and record the first duplicate per step.
	sigToOrd := map[string]int{}
	var (
		cells      []joinCells
		oneMetrics []labels.Labels
	)
	dupAtStep := make([]error, n)
	oneSide := "right"
	if swapped {
		oneSide = "left"
	}
	addOne := func(s Series) {
		si := len(oneMetrics)
		oneMetrics = append(oneMetrics, s.Metric)
		sig := sigf(s.Metric)
		ord, ok := sigToOrd[string(sig)]
		if !ok {
			ord = len(cells)
			sigToOrd[string(sig)] = ord
			ev.checkAlloc(n)
			row := joinCells{series: make([]int32, n), f: make([]float64, n)}
			for k := range row.series {
				row.series[k] = -1
			}
			cells = append(cells, row)
		}
		place := func(t int64, f float64, h *histogram.FloatHistogram) {
			k := (t - ev.startTS) / ev.interval
			row := &cells[ord]
			if prev := row.series[k]; prev >= 0 {
				if dupAtStep[k] == nil {
					matchedLabels := s.Metric.MatchLabels(matching.On, matching.MatchingLabels...)
					d1, d2 := s.Metric.String(), oneMetrics[prev].String()
					if d1 > d2 {
						d1, d2 = d2, d1
					}
					dupAtStep[k] = fmt.Errorf("found duplicate series for the match group %s on the %s hand-side of the operation: [%s, %s]"+
						";many-to-many matching not allowed: matching labels must be unique on one side", matchedLabels.String(), oneSide, d1, d2)
				}
				return
			}
			row.series[k], row.f[k] = int32(si), f
			if h != nil {
				if row.h == nil {
					row.h = make([]*histogram.FloatHistogram, n)
				}
				row.h[k] = h
			}
		}
		for _, p := range s.Floats {
			place(p.T, p.F, nil)
		}
		for _, p := range s.Histograms {
			place(p.T, 0, p.H)
		}
	}
	if !ev.stream(oneExpr, addOne) {
		for _, s := range ev.eval(oneExpr).(Matrix) {
			addOne(s)
		}
	}

	// The one side is now held as cells: count those instead of its points, until the end.
	ev.currentSamples = origSamples
	ev.addSamples(len(cells) * n)
	defer func() { ev.currentSamples -= len(cells) * n }()

	// Multiple-match detection: per match group (one-to-one) or per result series
	// (many-to-one), the steps already matched.
	words := (n + 63) / 64
	matchedByOrd := make([][]uint64, len(cells))
	matchedByMetric := map[uint64][]uint64{}
	markStep := func(bits []uint64, k int) bool {
		w, b := k/64, uint64(1)<<(k%64)
		if bits[w]&b != 0 {
			return false
		}
		bits[w] |= b
		return true
	}

	enh := &evalNodeHelper{}
	pos := parser.Node(e) // PositionRange walks the operands: only when annotating
	type outSeries struct {
		metric labels.Labels
		pts    []FPoint
		hpts   []HPoint
	}
	var outs []outSeries
	ev.stream(manyExpr, func(s Series) {
		outs = outs[:0]
		ord, ok := sigToOrd[string(sigf(s.Metric))]
		lastOne, lastMetric, lastHash := int32(-1), labels.EmptyLabels(), uint64(0)
		do := func(t int64, f float64, h *histogram.FloatHistogram) {
			k := int((t - ev.startTS) / ev.interval)
			if dupAtStep[k] != nil {
				ev.error(dupAtStep[k])
			}
			if !ok {
				return
			}
			oneIdx := cells[ord].series[k]
			if oneIdx < 0 {
				return
			}
			fl, fr := f, cells[ord].f[k]
			var hl, hr *histogram.FloatHistogram
			if cells[ord].h != nil {
				hr = cells[ord].h[k]
			}
			hl = h
			if swapped {
				fl, fr = fr, fl
				hl, hr = hr, hl
			}
			value, hvalue, keep, anno, ok := elemBinop(e.Op, fl, fr, hl, hr, pos)
			if anno != nil {
				ev.warn(anno)
			}
			if !ok {
				return
			}
			if e.ReturnBool {
				value, hvalue = btos(keep), nil
			}
			if oneIdx != lastOne {
				lastOne = oneIdx
				lastMetric = buildResultMetric(s.Metric, oneMetrics[oneIdx], e.Op, matching, enh)
				lastHash = lastMetric.Hash()
			}
			if matching.Card == parser.CardOneToOne {
				if matchedByOrd[ord] == nil {
					matchedByOrd[ord] = make([]uint64, words)
				}
				if !markStep(matchedByOrd[ord], k) {
					ev.errorf("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
				}
			} else {
				bits := matchedByMetric[lastHash]
				if bits == nil {
					bits = make([]uint64, words)
					matchedByMetric[lastHash] = bits
				}
				if !markStep(bits, k) {
					ev.errorf("multiple matches for labels: grouping labels must ensure unique matches")
				}
			}
			if !keep && !e.ReturnBool {
				return
			}
			// Usually all points of a many-side series go to one result series.
			i := len(outs) - 1
			if i < 0 || !labels.Equal(outs[i].metric, lastMetric) {
				i = slices.IndexFunc(outs, func(o outSeries) bool { return labels.Equal(o.metric, lastMetric) })
				if i < 0 {
					// Reuse the point buffers of earlier series.
					if len(outs) < cap(outs) {
						outs = outs[:len(outs)+1]
					} else {
						outs = append(outs, outSeries{})
					}
					i = len(outs) - 1
					outs[i].metric, outs[i].pts, outs[i].hpts = lastMetric, outs[i].pts[:0], outs[i].hpts[:0]
				}
			}
			if hvalue != nil {
				outs[i].hpts = append(outs[i].hpts, HPoint{T: t, H: hvalue})
				return
			}
			outs[i].pts = append(outs[i].pts, FPoint{T: t, F: value})
		}
		for _, p := range s.Floats {
			do(p.T, p.F, nil)
		}
		if len(s.Histograms) > 0 {
			nf := make([]int, len(outs))
			for i := range outs {
				nf[i] = len(outs[i].pts)
			}
			for _, p := range s.Histograms {
				do(p.T, 0, p.H)
			}
			for i := range outs {
				// Float results of histograms (bool): back in time order.
				if i < len(nf) && nf[i] > 0 && len(outs[i].pts) > nf[i] {
					slices.SortFunc(outs[i].pts, func(a, b FPoint) int { return cmp.Compare(a.T, b.T) })
				}
			}
		}
		for _, o := range outs {
			emit(Series{Metric: o.metric, Floats: o.pts, Histograms: o.hpts, dropName: e.ReturnBool})
		}
		ev.currentSamples -= len(s.Floats) + len(s.Histograms)
	})
}

// scalarBinopStream returns an emit function applying "series op v" (or "v op series" when
// swap is set) to each streamed series, with vectorScalarBinop's semantics.
func (ev *evaluator) scalarBinopStream(e *parser.BinaryExpr, v float64, swap bool, emit func(Series)) func(Series) {
	var out []FPoint
	pos := parser.Node(e) // PositionRange walks the operands: only when annotating
	var hout []HPoint
	return func(s Series) {
		out, hout = out[:0], hout[:0]
		for _, p := range s.Histograms {
			if r, ok := ev.histScalarBinop(e.Op, p.H, v, swap, e.ReturnBool, pos); ok {
				if r.H != nil {
					hout = append(hout, HPoint{T: p.T, H: r.H})
				} else {
					out = append(out, FPoint{T: p.T, F: r.F})
				}
			}
		}
		for _, p := range s.Floats {
			lf, rf := p.F, v
			if swap {
				lf, rf = rf, lf
			}
			value, keep, err := vectorElemBinop(e.Op, lf, rf, pos)
			if err != nil {
				ev.warn(err)
				continue
			}
			if e.Op.IsComparisonOperator() && swap {
				value = rf
			}
			if e.ReturnBool {
				value, keep = btos(keep), true
			}
			if keep {
				out = append(out, FPoint{T: p.T, F: value})
			}
		}
		if len(out) == 0 && len(hout) == 0 {
			return
		}
		if len(s.Histograms) > 0 && len(s.Floats) > 0 && len(out) > 1 {
			// Results of histograms (bool) and of floats: back in time order.
			slices.SortFunc(out, func(a, b FPoint) int { return cmp.Compare(a.T, b.T) })
		}
		emit(Series{Metric: s.Metric, Floats: out, Histograms: hout, dropName: s.dropName || changesMetricSchema(e.Op) || e.ReturnBool})
	}
}
