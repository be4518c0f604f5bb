package ruler

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v2"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/storage"
)

// RuleHealth describes the health of a rule as the /api/v1/rules endpoint reports it.
type RuleHealth string

// The values of RuleHealth, as in Prometheus.
const (
	HealthUnknown RuleHealth = "unknown"
	HealthGood    RuleHealth = "ok"
	HealthBad     RuleHealth = "err"
)

// QueryFunc evaluates an instant query. Rules get their input through it, and the `query`
// template function uses it too.
type QueryFunc func(ctx context.Context, qs string, t time.Time) (promql.Vector, error)

// EngineQueryFunc returns a QueryFunc over engine and q. Scalars become a one-sample vector
// without labels; other result types are an error, as in Prometheus.
func EngineQueryFunc(engine Engine, q storage.Queryable) QueryFunc {
	return func(ctx context.Context, qs string, t time.Time) (promql.Vector, error) {
		qry, err := engine.NewInstantQueryWithOpts(ctx, q, promql.QueryOpts{}, qs, t)
		if err != nil {
			return nil, err
		}
		defer qry.Close()
		res := qry.Exec(ctx)
		if res.Err != nil {
			return nil, res.Err
		}
		switch v := res.Value.(type) {
		case promql.Vector:
			return v, nil
		case promql.Scalar:
			return promql.Vector{promql.Sample{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}, nil
		default:
			return nil, errors.New("rule result is not a vector or scalar")
		}
	}
}

// Rule is a recording or an alerting rule.
type Rule interface {
	// Name is the recorded metric name or the alert name.
	Name() string
	// Labels are the rule's labels (the group's labels merged in).
	Labels() labels.Labels
	// Query is the parsed expression; Query().String() is its canonical text.
	Query() parser.Expr
	Health() RuleHealth
	// LastError is the error of the last evaluation, nil when it succeeded.
	LastError() error
	// EvaluationTimestamp is the wall-clock time the last evaluation started.
	EvaluationTimestamp() time.Time
	// EvaluationDuration is how long the last evaluation took.
	EvaluationDuration() time.Duration
	// String is the rule in rule-file YAML; reloads compare rules by it.
	String() string

	eval(ctx context.Context, queryOffset time.Duration, ts time.Time, query QueryFunc, externalURL *url.URL, limit int) (promql.Vector, error)
	setHealth(h RuleHealth, err error)
	setEvaluation(start time.Time, d time.Duration)
}

// ruleStatus is the part every rule shares: health and evaluation time, read by the API while
// the group's goroutine writes them.
type ruleStatus struct {
	mtx        sync.Mutex
	health     RuleHealth
	lastError  error
	evalTime   time.Time
	evalDur    time.Duration
	healthSet  bool
	nameLabels string
}

func (s *ruleStatus) Health() RuleHealth {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	if !s.healthSet {
		return HealthUnknown
	}
	return s.health
}

func (s *ruleStatus) LastError() error {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	return s.lastError
}

func (s *ruleStatus) EvaluationTimestamp() time.Time {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	return s.evalTime
}

func (s *ruleStatus) EvaluationDuration() time.Duration {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	return s.evalDur
}

func (s *ruleStatus) setHealth(h RuleHealth, err error) {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	s.health, s.lastError, s.healthSet = h, err, true
}

func (s *ruleStatus) setEvaluation(start time.Time, d time.Duration) {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	s.evalTime, s.evalDur = start, d
}

// RecordingRule records its vector expression into new time series.
type RecordingRule struct {
	ruleStatus
	name   string
	expr   parser.Expr
	exprQS string
	labels labels.Labels
}

// NewRecordingRule returns a recording rule writing expr's result as metric name with lset.
func NewRecordingRule(name string, expr parser.Expr, lset labels.Labels) *RecordingRule {
	return &RecordingRule{name: name, expr: expr, exprQS: expr.String(), labels: lset}
}

// Name returns the recorded metric name.
func (r *RecordingRule) Name() string { return r.name }

// Labels returns the labels added to the results.
func (r *RecordingRule) Labels() labels.Labels { return r.labels }

// Query returns the expression.
func (r *RecordingRule) Query() parser.Expr { return r.expr }

// errDuplicateRecordingLabelSet has Prometheus's text: the web UI and users grep for it.
var errDuplicateRecordingLabelSet = errors.New("vector contains metrics with the same labelset after applying rule labels")

func (r *RecordingRule) eval(ctx context.Context, queryOffset time.Duration, ts time.Time, query QueryFunc, _ *url.URL, limit int) (promql.Vector, error) {
	vector, err := query(ctx, r.exprQS, ts.Add(-queryOffset))
	if err != nil {
		return nil, err
	}
	lb := labels.NewBuilder(labels.EmptyLabels())
	for i := range vector {
		s := &vector[i]
		lb.Reset(s.Metric)
		lb.Set(labels.MetricName, r.name)
		r.labels.Range(func(l labels.Label) { lb.Set(l.Name, l.Value) })
		s.Metric = lb.Labels()
	}
	if containsSameLabelset(vector) {
		return nil, errDuplicateRecordingLabelSet
	}
	if limit > 0 && len(vector) > limit {
		return nil, fmt.Errorf("exceeded limit of %d with %d series", limit, len(vector))
	}
	return vector, nil
}

func containsSameLabelset(vec promql.Vector) bool {
	switch len(vec) {
	case 0, 1:
		return false
	case 2:
		return labels.Equal(vec[0].Metric, vec[1].Metric)
	}
	seen := make(map[uint64][]labels.Labels, len(vec))
	for _, s := range vec {
		h := s.Metric.Hash()
		for _, o := range seen[h] {
			if labels.Equal(o, s.Metric) {
				return true
			}
		}
		seen[h] = append(seen[h], s.Metric)
	}
	return false
}

// String returns the rule as rule-file YAML.
func (r *RecordingRule) String() string {
	b, err := yaml.Marshal(rulefmt.Rule{Record: r.name, Expr: r.exprQS, Labels: r.labels.Map()})
	if err != nil {
		return fmt.Sprintf("error marshaling recording rule: %s", err)
	}
	return string(b)
}

// fromMaps merges group labels and rule labels (the rule's win), as Prometheus does.
func fromMaps(maps ...map[string]string) labels.Labels {
	m := map[string]string{}
	for _, mp := range maps {
		for k, v := range mp {
			m[k] = v
		}
	}
	return labels.FromMap(m)
}
