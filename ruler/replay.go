package ruler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/storage"
)

// Engine is what the ruler needs of a PromQL engine (implemented by *promql.Engine).
type Engine interface {
	NewInstantQueryWithOpts(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, ts time.Time) (promql.Query, error)
	NewRangeQueryWithOpts(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, start, end time.Time, step time.Duration) (promql.Query, error)
}

// RangeQueryFunc evaluates a range query; the result is a promql.StepMatrix or promql.Matrix.
type RangeQueryFunc func(ctx context.Context, qs string, start, end time.Time, step time.Duration) (promql.Value, error)

// EngineRangeQueryFunc returns a RangeQueryFunc over engine and q.
func EngineRangeQueryFunc(engine Engine, q storage.Queryable) RangeQueryFunc {
	return func(ctx context.Context, qs string, start, end time.Time, step time.Duration) (promql.Value, error) {
		qry, err := engine.NewRangeQueryWithOpts(ctx, q, promql.QueryOpts{}, qs, start, end, step)
		if err != nil {
			return nil, err
		}
		defer qry.Close()
		res := qry.Exec(ctx)
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Value, nil
	}
}

// ParseAlertingRule parses and validates one alerting rule as written in the `rules:` list of a
// rule file (alert, expr, for, keep_firing_for, labels, annotations), with the upstream rulefmt
// validation that rule files get. A one-item YAML list ("- alert: …", pasted from a file) is
// accepted too. checkExpr, if set, vets the expression text before it is parsed (e.g. bounds
// on its size).
func ParseAlertingRule(text []byte, p parser.Parser, checkExpr func(string) error) (*rulefmt.Rule, error) {
	if p == nil {
		p = parser.NewParser(promql.DefaultParserOptions)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("no rule given")
	}
	node := doc.Content[0]
	if node.Kind == yaml.SequenceNode {
		if len(node.Content) != 1 {
			return nil, fmt.Errorf("exactly one rule is replayed, got a list of %d", len(node.Content))
		}
		node = node.Content[0]
	}
	if node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%d:%d: a rule is a mapping (alert, expr, for, …)", node.Line, node.Column)
	}
	// Re-encode the one node so that the decoder can refuse unknown fields, as for rule files.
	var buf bytes.Buffer
	if err := yaml.NewEncoder(&buf).Encode(node); err != nil {
		return nil, err
	}
	var r rulefmt.Rule
	dec := yaml.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	var rn rulefmt.RuleNode
	if err := node.Decode(&rn); err != nil {
		return nil, err
	}
	if r.Record != "" && r.Alert == "" {
		return nil, errors.New("only alerting rules can be replayed; this is a recording rule")
	}
	if checkExpr != nil {
		if err := checkExpr(r.Expr); err != nil {
			return nil, err
		}
	}
	if errs := r.Validate(rn, config.NameValidationScheme, p); len(errs) > 0 {
		all := make([]error, len(errs))
		for i := range errs {
			all[i] = &errs[i]
		}
		return nil, errors.Join(all...)
	}
	return &r, nil
}

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// Start and End are the first and last evaluation times; Interval the time between two.
	Start, End time.Time
	Interval   time.Duration
	// QueryOffset is the rule group's query_offset (or the global rule_query_offset): each
	// evaluation at t queries the data at t-QueryOffset, as the ruler does.
	QueryOffset time.Duration
	// Query evaluates the `query` template function and, without RangeQuery, the rule's
	// expression at each evaluation.
	Query QueryFunc
	// RangeQuery, if set, evaluates the rule's expression once over the whole range; each
	// evaluation then reads its step of the result (the same values as an instant query at
	// that time, at a fraction of the cost).
	RangeQuery RangeQueryFunc
	// ExternalLabels and ExternalURL are $externalLabels and $externalURL in templates.
	ExternalLabels labels.Labels
	ExternalURL    *url.URL
	// Parser parses the expression; nil uses promql.DefaultParserOptions (as the engine).
	Parser parser.Parser
	Logger *slog.Logger
}

// ReplayInterval is a stretch of evaluations in one state, half-open: [Start, End). Start is the
// evaluation that entered the state; End the evaluation that left it (the next state's start,
// or the resolution), or, for an alert still in that state at the last evaluation, one
// interval after it (an evaluation's state holds until the next one).
type ReplayInterval struct {
	State      AlertState
	Start, End time.Time
}

// ReplayAlert is one alert the rule would have produced, with its labels and the annotations of
// its last active evaluation.
type ReplayAlert struct {
	Labels, Annotations labels.Labels
	Intervals           []ReplayInterval
}

// ReplayResult is what Replay found: the alerts sorted by labels, and how many evaluations ran.
type ReplayResult struct {
	Alerts      []*ReplayAlert
	Evaluations int
}

// Replay evaluates the alerting rule r at every Interval from Start to End with the ruler's own
// alert state machine (AlertingRule.eval: `for`, keep_firing_for, resolution, templating) and
// returns when each alert would have been pending and firing. Nothing is written or sent.
func Replay(ctx context.Context, r *rulefmt.Rule, o ReplayOptions) (*ReplayResult, error) {
	if o.Interval <= 0 {
		return nil, errors.New("the evaluation interval must be positive")
	}
	if o.End.Before(o.Start) {
		return nil, errors.New("end must not be before start")
	}
	if r.Alert == "" {
		return nil, errors.New("only alerting rules can be replayed")
	}
	p := o.Parser
	if p == nil {
		p = parser.NewParser(promql.DefaultParserOptions)
	}
	expr, err := p.ParseExpr(r.Expr)
	if err != nil {
		return nil, err
	}
	extURL := ""
	if o.ExternalURL != nil {
		extURL = o.ExternalURL.String()
	}
	rule := NewAlertingRule(r.Alert, expr, time.Duration(r.For), time.Duration(r.KeepFiringFor),
		labels.FromMap(r.Labels), labels.FromMap(r.Annotations), o.ExternalLabels, extURL, true, o.Logger)

	query := o.Query
	if o.RangeQuery != nil {
		val, err := o.RangeQuery(ctx, rule.exprQS, o.Start.Add(-o.QueryOffset), o.End.Add(-o.QueryOffset), o.Interval)
		if err != nil {
			return nil, err
		}
		steps, err := newStepVectors(val, o.Start.Add(-o.QueryOffset), o.Interval)
		if err != nil {
			return nil, err
		}
		query = func(ctx context.Context, qs string, t time.Time) (promql.Vector, error) {
			if qs == rule.exprQS {
				if v, ok := steps.at(t); ok {
					return v, nil
				}
			}
			if o.Query == nil {
				return nil, fmt.Errorf("no query function for %q", qs)
			}
			return o.Query(ctx, qs, t)
		}
	}
	if query == nil {
		return nil, errors.New("no query function")
	}

	type track struct {
		alert *ReplayAlert
		open  bool // the last interval is still going on
	}
	tracks := map[uint64]*track{}
	var order []*ReplayAlert
	res := &ReplayResult{}
	for ts := o.Start; !ts.After(o.End); ts = ts.Add(o.Interval) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := rule.eval(ctx, o.QueryOffset, ts, query, o.ExternalURL, 0); err != nil {
			return nil, fmt.Errorf("evaluation at %s: %w", ts.UTC().Format(time.RFC3339Nano), err)
		}
		res.Evaluations++
		rule.mtx.Lock()
		for h, a := range rule.active {
			if a.State != StatePending && a.State != StateFiring {
				continue
			}
			tr := tracks[h]
			if tr == nil {
				tr = &track{alert: &ReplayAlert{Labels: a.Labels}}
				tracks[h] = tr
				order = append(order, tr.alert)
			}
			tr.alert.Annotations = a.Annotations
			// An evaluation's state holds until the next evaluation.
			iv := tr.alert.Intervals
			if tr.open && iv[len(iv)-1].State == a.State {
				iv[len(iv)-1].End = ts.Add(o.Interval)
			} else {
				tr.alert.Intervals = append(iv, ReplayInterval{State: a.State, Start: ts, End: ts.Add(o.Interval)})
			}
			tr.open = true
		}
		// Alerts no longer pending or firing (resolved, or forgotten when pending) ended at ts,
		// which their last interval's end already is.
		for h, tr := range tracks {
			if a, ok := rule.active[h]; !ok || (a.State != StatePending && a.State != StateFiring) {
				tr.open = false
			}
		}
		rule.mtx.Unlock()
	}
	res.Alerts = order
	slices.SortFunc(res.Alerts, func(a, b *ReplayAlert) int { return labels.Compare(a.Labels, b.Labels) })
	return res, nil
}

// stepVectors serves the steps of a range query result as instant vectors.
type stepVectors struct {
	start, step int64 // ms
	steps       promql.StepMatrix
	mat         promql.Matrix
	pos         []int // per series of mat: the next point to look at
}

func newStepVectors(v promql.Value, start time.Time, step time.Duration) (*stepVectors, error) {
	s := &stepVectors{start: start.UnixMilli(), step: step.Milliseconds()}
	switch v := v.(type) {
	case promql.StepMatrix:
		s.steps = v
	case promql.Matrix:
		s.mat = v
		s.pos = make([]int, len(v))
	default:
		return nil, fmt.Errorf("range query answered %T, not a matrix", v)
	}
	return s, nil
}

// at returns the vector at t, which must be on the step grid. Calls come in time order.
func (s *stepVectors) at(t time.Time) (promql.Vector, bool) {
	ms := t.UnixMilli()
	if s.step <= 0 || ms < s.start || (ms-s.start)%s.step != 0 {
		return nil, false
	}
	var vec promql.Vector
	if s.mat != nil {
		for i := range s.mat {
			pts := s.mat[i].Floats
			for s.pos[i] < len(pts) && pts[s.pos[i]].T < ms {
				s.pos[i]++
			}
			if s.pos[i] < len(pts) && pts[s.pos[i]].T == ms {
				vec = append(vec, promql.Sample{Metric: s.mat[i].Metric, T: ms, F: pts[s.pos[i]].F})
			}
		}
		return vec, true
	}
	m := s.steps
	if m.Step != s.step && m.Steps > 1 || m.Start != s.start && m.Steps > 0 {
		return nil, false
	}
	idx := int((ms - s.start) / s.step)
	for i := range m.Series {
		ser := &m.Series[i]
		j := idx - ser.First
		if j < 0 || j >= len(ser.Values) || !ser.Has(j) {
			continue
		}
		vec = append(vec, promql.Sample{Metric: ser.Metric, T: ms, F: ser.Values[j]})
	}
	return vec, true
}
