package promqltest

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/almost"
	"github.com/prometheus/prometheus/util/annotations"
)

const defaultEpsilon = 0.000001 // relative error allowed for sample values

// ResultSeries is the engine-neutral form of a result series used for comparison.
type ResultSeries struct {
	Metric labels.Labels
	Points []Point
}

// Result is the engine-neutral form of a query result.
type Result struct {
	Type     parser.ValueType
	Scalar   float64
	String   string
	Series   []ResultSeries // vectors: one point each, in result order
	Warnings annotations.Annotations
}

// CheckFailure validates the error of a query expected to fail.
func (ev *Eval) CheckFailure(actual error) error {
	if ev.FailMessage != "" && ev.FailMessage != actual.Error() {
		return fmt.Errorf("expected error %q evaluating query %q (line %d), but got: %s", ev.FailMessage, ev.Expr, ev.Line, actual.Error())
	}
	if ev.FailRegexp != nil && !ev.FailRegexp.MatchString(actual.Error()) {
		return fmt.Errorf("expected error matching pattern %q evaluating query %q (line %d), but got: %s", ev.FailRegexp.String(), ev.Expr, ev.Line, actual.Error())
	}
	if exp := ev.Expects[ExpectFail]; len(exp) > 0 && !exp[0].Match(actual.Error()) {
		return fmt.Errorf("expected error matching %q evaluating query %q (line %d), but got: %s", exp[0].String(), ev.Expr, ev.Line, actual.Error())
	}
	return nil
}

func checkAnnotationsOfType(expr string, expected []Expect, actual []string, line int, kind string) error {
	if len(expected) == 0 {
		return nil
	}
	if len(actual) == 0 {
		return fmt.Errorf("expected %s annotations but none were found for query %q (line %d)", kind, expr, line)
	}
	for _, e := range expected {
		if !slices.ContainsFunc(actual, e.Match) {
			return fmt.Errorf("expected %s annotation matching %q but no matching annotation was found for query %q (line %d), found: %v", kind, e.String(), expr, line, actual)
		}
	}
	for _, a := range actual {
		if !slices.ContainsFunc(expected, func(e Expect) bool { return e.Match(a) }) {
			return fmt.Errorf("unexpected %s annotation %q found for query %s (line %d)", kind, a, expr, line)
		}
	}
	return nil
}

// CheckAnnotations validates the warnings and infos of a successful query.
func (ev *Eval) CheckAnnotations(expr string, annos annotations.Annotations) error {
	countWarnings, countInfo := annos.CountWarningsAndInfo()
	switch {
	case ev.Warn && countWarnings == 0:
		return fmt.Errorf("expected warnings evaluating query %q (line %d) but got none", expr, ev.Line)
	case ev.Info && countInfo == 0:
		return fmt.Errorf("expected info annotations evaluating query %q (line %d) but got none", expr, ev.Line)
	}
	for _, err := range annos {
		if !errors.Is(err, annotations.PromQLWarning) && !errors.Is(err, annotations.PromQLInfo) {
			return fmt.Errorf("unexpected annotation type, must be either info or warn but got: %w", err)
		}
	}
	warnings, infos := annos.AsStrings(expr, 0, 0)
	if err := checkAnnotationsOfType(expr, ev.Expects[ExpectWarn], warnings, ev.Line, "warn"); err != nil {
		return err
	}
	if err := checkAnnotationsOfType(expr, ev.Expects[ExpectInfo], infos, ev.Line, "info"); err != nil {
		return err
	}
	if ev.Expects[ExpectNoWarn] != nil && len(warnings) > 0 {
		return fmt.Errorf("unexpected warning annotations evaluating query %q (line %d): %v", expr, ev.Line, warnings)
	}
	if ev.Expects[ExpectNoInfo] != nil && len(infos) > 0 {
		return fmt.Errorf("unexpected info annotations evaluating query %q (line %d): %v", expr, ev.Line, infos)
	}
	return nil
}

// CompareResult compares a result with the expectation. start and step place the expected
// points of a matrix.
func (ev *Eval) CompareResult(res Result) error {
	switch res.Type {
	case parser.ValueTypeMatrix:
		if ev.IsOrdered() {
			return errors.New("expected ordered result, but query returned a matrix")
		}
		if ev.ExpectScalar {
			return fmt.Errorf("expected scalar result, but got matrix %v", res.Series)
		}
		for i := 1; i < len(res.Series); i++ {
			if labels.Compare(res.Series[i-1].Metric, res.Series[i].Metric) > 0 {
				return fmt.Errorf("matrix results should always be sorted by labels, but matrix is not sorted: %s before %s", res.Series[i-1].Metric, res.Series[i].Metric)
			}
		}
		seen := map[uint64]bool{}
		for _, s := range res.Series {
			h := s.Metric.Hash()
			if _, ok := ev.Metrics[h]; !ok {
				return fmt.Errorf("unexpected metric %s in result, has %v", s.Metric, s.Points)
			}
			seen[h] = true
			var expected, expectedH []Point
			var hintSet []bool
			for i, e := range ev.Expected[h].Vals {
				ts := ev.Start.Add(time.Duration(i) * ev.Step)
				if ts.After(ev.End) {
					return fmt.Errorf("expected %v points for %s, but query time range cannot return this many points", len(ev.Expected[h].Vals), ev.Metrics[h])
				}
				switch {
				case e.Histogram != nil:
					expectedH = append(expectedH, Point{T: ts.UnixMilli(), FH: e.Histogram})
					hintSet = append(hintSet, e.CounterResetHintSet)
				case !e.Omitted:
					expected = append(expected, Point{T: ts.UnixMilli(), F: e.Value})
				}
			}
			var floats, hists []Point
			for _, p := range s.Points {
				if p.FH != nil {
					hists = append(hists, p)
				} else {
					floats = append(floats, p)
				}
			}
			if len(expected) != len(floats) || len(expectedH) != len(hists) {
				return fmt.Errorf("expected %v float points and %v histogram points for %s, but got %s", len(expected), len(expectedH), ev.Metrics[h], formatPoints(s.Points))
			}
			for i, e := range expected {
				a := floats[i]
				if e.T != a.T {
					return fmt.Errorf("expected float value at index %v for %s to have timestamp %v, but it had timestamp %v (result has %s)", i, ev.Metrics[h], e.T, a.T, formatPoints(s.Points))
				}
				if !almost.Equal(a.F, e.F, defaultEpsilon) {
					return fmt.Errorf("expected float value at index %v (t=%v) for %s to be %v, but got %v (result has %s)", i, a.T, ev.Metrics[h], e.F, a.F, formatPoints(s.Points))
				}
			}
			for i, e := range expectedH {
				a := hists[i]
				if e.T != a.T {
					return fmt.Errorf("expected histogram value at index %v for %s to have timestamp %v, but it had timestamp %v (result has %s)", i, ev.Metrics[h], e.T, a.T, formatPoints(s.Points))
				}
				if !compareNativeHistogram(e.FH.Compact(0), a.FH.Copy().Compact(0), hintSet[i]) {
					return fmt.Errorf("expected histogram value at index %v (t=%v) for %s to be %v, but got %v (result has %s)", i, a.T, ev.Metrics[h], e.FH.TestExpression(), a.FH.TestExpression(), formatPoints(s.Points))
				}
			}
		}
		for h := range ev.Expected {
			if !seen[h] {
				return fmt.Errorf("expected metric %s not found", ev.Metrics[h])
			}
		}
	case parser.ValueTypeVector:
		if ev.ExpectScalar {
			return fmt.Errorf("expected scalar result, but got vector %v", res.Series)
		}
		seen := map[uint64]bool{}
		for pos, s := range res.Series {
			h := s.Metric.Hash()
			if _, ok := ev.Metrics[h]; !ok {
				if s.Points[0].FH != nil {
					return fmt.Errorf("unexpected metric %s in result, has value %s", s.Metric, s.Points[0].FH.TestExpression())
				}
				return fmt.Errorf("unexpected metric %s in result, has value %v", s.Metric, s.Points[0].F)
			}
			exp := ev.Expected[h]
			if ev.IsOrdered() && exp.Pos != pos+1 {
				return fmt.Errorf("expected metric %s with %v at position %d but was at %d", s.Metric, exp.Vals, exp.Pos, pos+1)
			}
			exp0, act := exp.Vals[0], s.Points[0]
			expH := exp0.Histogram
			if expH == nil && act.FH != nil {
				return fmt.Errorf("expected float value %v for %s but got histogram %s", exp0, s.Metric, act.FH.TestExpression())
			}
			if expH != nil && act.FH == nil {
				return fmt.Errorf("expected histogram %s for %s but got float value %v", expH.TestExpression(), s.Metric, act.F)
			}
			if expH != nil && !compareNativeHistogram(expH.Compact(0), act.FH.Copy().Compact(0), exp0.CounterResetHintSet) {
				return fmt.Errorf("expected %v for %s but got %s", expH.TestExpression(), s.Metric, act.FH.TestExpression())
			}
			if !almost.Equal(exp0.Value, s.Points[0].F, defaultEpsilon) {
				return fmt.Errorf("expected %v for %s but got %v", exp0.Value, s.Metric, s.Points[0].F)
			}
			seen[h] = true
		}
		for h, e := range ev.Expected {
			if !seen[h] {
				return fmt.Errorf("expected metric %s with %v not found", ev.Metrics[h], e.Vals)
			}
		}
	case parser.ValueTypeScalar:
		if !ev.ExpectScalar {
			return fmt.Errorf("expected vector or matrix result, but got scalar %v", res.Scalar)
		}
		exp0 := ev.Expected[0].Vals[0]
		if exp0.Histogram != nil {
			return fmt.Errorf("expected histogram %s but got scalar %v", exp0.Histogram.TestExpression(), res.Scalar)
		}
		if !almost.Equal(exp0.Value, res.Scalar, defaultEpsilon) {
			return fmt.Errorf("expected scalar %v but got %v", exp0.Value, res.Scalar)
		}
	case parser.ValueTypeString:
		want := ""
		if ev.ExpectedString != nil {
			want = *ev.ExpectedString
		}
		if want != res.String {
			return fmt.Errorf("expected string %q but got %q", want, res.String)
		}
	default:
		return fmt.Errorf("unexpected result type %q", res.Type)
	}
	return nil
}

// AtModifierUnsafeFunctions are functions whose result depends on the evaluation time even
// when their arguments do not; the @ variants of an instant eval skip them.
var AtModifierUnsafeFunctions = map[string]struct{}{
	"days_in_month": {}, "day_of_month": {}, "day_of_week": {}, "day_of_year": {},
	"end": {}, "hour": {}, "minute": {}, "month": {}, "year": {},
	"predict_linear": {}, "range": {}, "start": {}, "step": {}, "time": {},
	"timestamp": {},
}

// QueryContextFuncs matches functions that resolve differently in range mode.
var QueryContextFuncs = regexp.MustCompile(`(start|end|range|step)\(\)`)

// AtVariant is an instant query rewritten with @ modifiers, as upstream's runner does.
type AtVariant struct {
	Expr     string
	EvalTime time.Time
}

// AtModifierVariants returns the @-rewritten variants of an instant eval: every selector and
// subquery pinned to the eval time, evaluated at other times (same result expected).
func AtModifierVariants(exprStr string, evalTime time.Time) ([]AtVariant, error) {
	expr, err := testParser.ParseExpr(exprStr)
	if err != nil {
		return nil, err
	}
	ts := evalTime.UnixMilli()
	unsafe := false
	parser.Inspect(expr, func(node parser.Node, path []parser.Node) error {
		for _, p := range path {
			if sq, ok := p.(*parser.SubqueryExpr); ok && sq.Timestamp != nil {
				return nil
			}
		}
		switch n := node.(type) {
		case *parser.VectorSelector:
			if n.Timestamp == nil {
				n.Timestamp = &ts
			}
		case *parser.MatrixSelector:
			if vs := n.VectorSelector.(*parser.VectorSelector); vs.Timestamp == nil {
				vs.Timestamp = &ts
			}
		case *parser.SubqueryExpr:
			if n.Timestamp == nil {
				n.Timestamp = &ts
			}
		case *parser.Call:
			if _, ok := AtModifierUnsafeFunctions[n.Func.Name]; ok {
				unsafe = true
			}
		}
		return nil
	})
	if unsafe {
		return nil, nil
	}
	newExpr := expr.String()
	times := []int64{-10 * ts, 0, ts / 5, ts, 10 * ts}
	if ts == 0 {
		times = []int64{-1000, -ts, 1000}
	}
	out := make([]AtVariant, 0, len(times))
	for _, et := range times {
		out = append(out, AtVariant{Expr: newExpr, EvalTime: time.UnixMilli(et).UTC()})
	}
	return out, nil
}

// formatPoints prints result points as upstream's formatSeriesResult does.
func formatPoints(pts []Point) string {
	var floats, hists []string
	for _, p := range pts {
		if p.FH != nil {
			hists = append(hists, fmt.Sprintf("%v @[%v]", p.FH.TestExpression(), p.T))
		} else {
			floats = append(floats, fmt.Sprintf("%v @[%v]", p.F, p.T))
		}
	}
	return fmt.Sprintf("%d float points %v and %d histogram points %v", len(floats), floats, len(hists), hists)
}
