package promql

import (
	"fmt"
	"math"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// preprocessExpr resolves what depends on the query's time range before evaluation:
// start()/end()/range()/step() become numbers, duration expressions become durations, and
// "@ start()" / "@ end()" become fixed timestamps.
func preprocessExpr(expr parser.Expr, start, end time.Time, step time.Duration) (parser.Expr, error) {
	expr = foldQueryContextFunctions(expr, start, end, step)
	if err := parser.Walk(&durationVisitor{step: step, queryRange: end.Sub(start)}, expr, nil); err != nil {
		return nil, err
	}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			setStartOrEnd(n.StartOrEnd, &n.Timestamp, start, end)
		case *parser.SubqueryExpr:
			setStartOrEnd(n.StartOrEnd, &n.Timestamp, start, end)
		}
		return nil
	})
	detectHistogramStatsDecoding(expr)
	return expr, nil
}

func setStartOrEnd(which parser.ItemType, ts **int64, start, end time.Time) {
	switch which {
	case parser.START:
		v := start.UnixMilli()
		*ts = &v
	case parser.END:
		v := end.UnixMilli()
		*ts = &v
	}
}

func foldQueryContextFunctions(expr parser.Expr, start, end time.Time, step time.Duration) parser.Expr {
	if call, ok := expr.(*parser.Call); ok {
		switch call.Func.Name {
		case "start":
			return &parser.NumberLiteral{Val: float64(start.UnixMilli()) / 1000, PosRange: call.PosRange}
		case "end":
			return &parser.NumberLiteral{Val: float64(end.UnixMilli()) / 1000, PosRange: call.PosRange}
		case "range":
			return &parser.NumberLiteral{Val: end.Sub(start).Seconds(), PosRange: call.PosRange}
		case "step":
			var val float64
			if !start.Equal(end) {
				val = step.Seconds()
			}
			return &parser.NumberLiteral{Val: val, PosRange: call.PosRange}
		}
	}
	switch n := expr.(type) {
	case *parser.BinaryExpr:
		n.LHS = foldQueryContextFunctions(n.LHS, start, end, step)
		n.RHS = foldQueryContextFunctions(n.RHS, start, end, step)
	case *parser.Call:
		for i := range n.Args {
			n.Args[i] = foldQueryContextFunctions(n.Args[i], start, end, step)
		}
	case *parser.AggregateExpr:
		n.Expr = foldQueryContextFunctions(n.Expr, start, end, step)
		if n.Param != nil {
			n.Param = foldQueryContextFunctions(n.Param, start, end, step)
		}
	case *parser.UnaryExpr:
		n.Expr = foldQueryContextFunctions(n.Expr, start, end, step)
	case *parser.ParenExpr:
		n.Expr = foldQueryContextFunctions(n.Expr, start, end, step)
	case *parser.SubqueryExpr:
		n.Expr = foldQueryContextFunctions(n.Expr, start, end, step)
	}
	return expr
}

// durationVisitor evaluates duration expressions (experimental "foo[5m * 2]" syntax).
type durationVisitor struct {
	step       time.Duration
	queryRange time.Duration
}

func (v *durationVisitor) Visit(node parser.Node, _ []parser.Node) (parser.Visitor, error) {
	var err error
	switch n := node.(type) {
	case *parser.VectorSelector:
		if n.OriginalOffsetExpr != nil {
			n.OriginalOffset, err = v.calculateDuration(n.OriginalOffsetExpr, true)
		}
	case *parser.MatrixSelector:
		if n.RangeExpr != nil {
			n.Range, err = v.calculateDuration(n.RangeExpr, false)
		}
	case *parser.SubqueryExpr:
		if n.OriginalOffsetExpr != nil {
			if n.OriginalOffset, err = v.calculateDuration(n.OriginalOffsetExpr, true); err != nil {
				return nil, err
			}
		}
		if n.StepExpr != nil {
			if n.Step, err = v.calculateDuration(n.StepExpr, false); err != nil {
				return nil, err
			}
		}
		if n.RangeExpr != nil {
			n.Range, err = v.calculateDuration(n.RangeExpr, false)
		}
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (v *durationVisitor) calculateDuration(expr parser.Expr, allowedNegative bool) (time.Duration, error) {
	duration, err := v.evaluateDurationExpr(expr)
	if err != nil {
		return 0, err
	}
	pr := expr.PositionRange()
	if math.IsNaN(duration) || math.IsInf(duration, 0) {
		return 0, fmt.Errorf("%d:%d: duration is NaN or infinite", pr.Start, pr.End)
	}
	if duration <= 0 && !allowedNegative {
		return 0, fmt.Errorf("%d:%d: duration must be greater than 0", pr.Start, pr.End)
	}
	if duration > 1<<63/1e9 || duration < -(1<<63)/1e9 {
		return 0, fmt.Errorf("%d:%d: duration is out of range", pr.Start, pr.End)
	}
	return time.Duration(duration*1000) * time.Millisecond, nil
}

func (v *durationVisitor) evaluateDurationExpr(expr parser.Expr) (float64, error) {
	switch n := expr.(type) {
	case *parser.NumberLiteral:
		return n.Val, nil
	case *parser.DurationExpr:
		var lhs, rhs float64
		var err error
		if n.LHS != nil {
			if lhs, err = v.evaluateDurationExpr(n.LHS); err != nil {
				return 0, err
			}
		}
		if n.RHS != nil {
			if rhs, err = v.evaluateDurationExpr(n.RHS); err != nil {
				return 0, err
			}
		}
		pr := expr.PositionRange()
		switch n.Op {
		case parser.STEP:
			return v.step.Seconds(), nil
		case parser.RANGE:
			return v.queryRange.Seconds(), nil
		case parser.MIN_OF:
			return math.Min(lhs, rhs), nil
		case parser.MAX_OF:
			return math.Max(lhs, rhs), nil
		case parser.ADD:
			if n.LHS == nil {
				return rhs, nil
			}
			return lhs + rhs, nil
		case parser.SUB:
			if n.LHS == nil {
				return -rhs, nil
			}
			return lhs - rhs, nil
		case parser.MUL:
			return lhs * rhs, nil
		case parser.DIV:
			if rhs == 0 {
				return 0, fmt.Errorf("%d:%d: division by zero", pr.Start, pr.End)
			}
			return lhs / rhs, nil
		case parser.MOD:
			if rhs == 0 {
				return 0, fmt.Errorf("%d:%d: modulo by zero", pr.Start, pr.End)
			}
			return math.Mod(lhs, rhs), nil
		case parser.POW:
			return math.Pow(lhs, rhs), nil
		default:
			return 0, fmt.Errorf("unexpected duration expression operator %q", n.Op)
		}
	default:
		return 0, fmt.Errorf("unexpected duration expression type %T", n)
	}
}
