package promql

import (
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// histRangeBridge runs upstream's implementation of a range-vector function (upstream_functions.go)
// for the steps whose window holds native histograms; float-only windows keep Vigil's own
// functions. The range argument is handed over as a matrix selector without offset or @, the
// window's reference time being passed as the evaluation time, so that upstream's window
// arithmetic (rangeStart = Ts - range) lands where Vigil's window is.
type histRangeBridge struct {
	fn        upFunctionCall
	matrixArg int
	args      parser.Expressions
	vecVals   []Vector
	mat       Matrix
	enh       upEvalNodeHelper
	wantRate  bool
	sts       upStartTimestamps
}

func (ev *evaluator) newHistRangeBridge(e *parser.Call, matrixArg int) *histRangeBridge {
	b := &histRangeBridge{fn: upFunctionCalls[e.Func.Name], matrixArg: matrixArg}
	b.args = make(parser.Expressions, len(e.Args))
	copy(b.args, e.Args)
	arg := unwrapParens(e.Args[matrixArg])
	pos := arg.PositionRange()
	vs := &parser.VectorSelector{PosRange: pos}
	ms := &parser.MatrixSelector{VectorSelector: vs, EndPos: pos.End}
	switch a := arg.(type) {
	case *parser.MatrixSelector:
		orig := a.VectorSelector.(*parser.VectorSelector)
		vs.Name, vs.Anchored, vs.Smoothed = orig.Name, orig.Anchored, orig.Smoothed
		ms.Range = a.Range
	case *parser.SubqueryExpr:
		ms.Range = a.Range
	}
	b.args[matrixArg] = ms
	// Upstream passes the other (scalar) arguments in order, without the range argument.
	b.vecVals = make([]Vector, len(e.Args)-1)
	b.mat = make(Matrix, 1)
	b.enh.enableDelayedNameRemoval = true
	switch e.Func.Name {
	case "rate", "increase", "delta":
		b.wantRate = true // the scratch is made at the first histogram step
	}
	return b
}

// startSeries is called before the first step of each series.
func (b *histRangeBridge) startSeries() {
	if b.enh.histRate != nil {
		b.enh.histRate.startSeries()
	}
}

// recycle takes back the histograms of a series' result once the consumer is done with them
// (evaluator.histBorrow).
func (b *histRangeBridge) recycle(hs []HPoint) {
	if b.enh.histRate != nil {
		b.enh.histRate.recycle(hs)
	}
}

// call computes one step; the result is a float, or a histogram when h is non-nil. fsts and
// hsts are the start timestamps of pts and hpts (nil when the function reads none, or the
// samples come from a subquery), handed to upstream's functions as its engine does.
func (b *histRangeBridge) call(c *rangeCall, metric labels.Labels, pts []FPoint, hpts []HPoint, fsts, hsts []int64) (f float64, h *histogram.FloatHistogram, ok bool) {
	if b.fn == nil {
		c.ev.errorf("function %q is not supported", c.e.Func.Name)
	}
	if b.wantRate && b.enh.histRate == nil {
		b.enh.histRate = &histRateScratch{}
	}
	j := 0
	for i := range c.params {
		if i == b.matrixArg {
			continue
		}
		b.vecVals[j] = append(b.vecVals[j][:0], Sample{F: c.params[i]})
		j++
	}
	b.mat[0] = Series{Metric: metric, Floats: pts, Histograms: hpts}
	b.enh.StartTimestamps = nil
	if fsts != nil || hsts != nil {
		b.sts = upStartTimestamps{Floats: fsts, Histograms: hsts}
		b.enh.StartTimestamps = &b.sts
	}
	b.enh.Ts = c.rangeEnd
	b.enh.Out = b.enh.Out[:0]
	out, annos := b.fn(b.vecVals, b.mat, b.args, &b.enh)
	b.enh.Out = out[:0] // reused at the next step
	if !c.repeat {
		c.ev.annos.Merge(annos)
	}
	if len(out) == 0 {
		return 0, nil, false
	}
	return out[0].F, out[0].H, true
}
