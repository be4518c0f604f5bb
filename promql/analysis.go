package promql

import "github.com/prometheus/prometheus/promql/parser"

// exprAnalysis caches, per query, what the evaluator asks of expression nodes again and
// again: their types and whether they can be streamed. parser.BinaryExpr.Type() walks the
// whole left-hand chain, and canStream recursed into the operand at every level of a chain
// of binary operations, so that `a + a + … + a` with n terms cost O(n³) before any sample
// was read (2,000 terms: 25 s). With the cache every node is analysed once.
type exprAnalysis struct {
	types      map[parser.Expr]parser.ValueType
	streamable map[parser.Expr]bool
	// visits counts the evaluation steps that depend on the expression's shape: nodes
	// analysed (cache misses) and calls of eval and stream. Tests use it to check that the
	// cost of an expression is linear in its size.
	visits int
}

func newExprAnalysis() *exprAnalysis {
	return &exprAnalysis{types: map[parser.Expr]parser.ValueType{}, streamable: map[parser.Expr]bool{}}
}

// exprType returns expr.Type(), computing it once per node: the node types whose Type()
// recurses into their operands are handled here with the cache.
func (ev *evaluator) exprType(expr parser.Expr) parser.ValueType {
	switch e := expr.(type) {
	case *parser.BinaryExpr, *parser.ParenExpr, *parser.UnaryExpr, *parser.StepInvariantExpr:
		if t, ok := ev.analysis.types[expr]; ok {
			return t
		}
		ev.analysis.visits++
		var t parser.ValueType
		switch e := e.(type) {
		case *parser.BinaryExpr:
			// As parser.BinaryExpr.Type: scalar only between two scalars.
			if ev.exprType(e.LHS) == parser.ValueTypeScalar && ev.exprType(e.RHS) == parser.ValueTypeScalar {
				t = parser.ValueTypeScalar
			} else {
				t = parser.ValueTypeVector
			}
		case *parser.ParenExpr:
			t = ev.exprType(e.Expr)
		case *parser.UnaryExpr:
			t = ev.exprType(e.Expr)
		case *parser.StepInvariantExpr:
			t = ev.exprType(e.Expr)
		}
		ev.analysis.types[expr] = t
		return t
	case nil:
		return parser.ValueTypeNone
	}
	return expr.Type()
}

// canStream reports whether stream can produce expr series by series.
func (ev *evaluator) canStream(expr parser.Expr) bool {
	if ok, cached := ev.analysis.streamable[expr]; cached {
		return ok
	}
	ev.analysis.visits++
	ok := ev.computeCanStream(expr)
	ev.analysis.streamable[expr] = ok
	return ok
}
