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
// Modified by Vigil: parts ported from github.com/prometheus/prometheus rules/alerting.go (v0.315.0).

package ruler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v2"

	"github.com/vigil-monitoring/vigil/promql"
)

const (
	alertMetricName         = "ALERTS"
	alertForStateMetricName = "ALERTS_FOR_STATE"
	alertStateLabel         = "alertstate"
	// resolvedRetention is how long resolved alerts stay in memory: the API shows them and they
	// keep being sent (with their end time) so that receivers learn of the resolution.
	resolvedRetention = 15 * time.Minute
)

// errDuplicateAlertLabelSet has Prometheus's text.
var errDuplicateAlertLabelSet = errors.New("vector contains metrics with the same labelset after applying alert labels")

// AlertState is the state of an alert or, for a rule, of its most severe alert.
type AlertState int

// Alert states, ordered by severity.
const (
	StateUnknown AlertState = iota
	StateInactive
	StatePending
	StateFiring
)

func (s AlertState) String() string {
	switch s {
	case StateInactive:
		return "inactive"
	case StatePending:
		return "pending"
	case StateFiring:
		return "firing"
	default:
		return "unknown"
	}
}

// Alert is one alert of an alerting rule. Values returned by the API accessors are copies.
type Alert struct {
	State       AlertState
	Labels      labels.Labels
	Annotations labels.Labels
	// Value is the value of the expression at the last evaluation.
	Value float64
	// ActiveAt is when the alert became pending; FiredAt when it fired; ResolvedAt when it
	// stopped being active; LastSentAt when it was last sent; ValidUntil is the end time sent
	// with a firing alert; KeepFiringSince is when keep_firing_for started to apply.
	ActiveAt, FiredAt, ResolvedAt, LastSentAt, ValidUntil, KeepFiringSince time.Time
}

func (a *Alert) needsSending(ts time.Time, resendDelay time.Duration) bool {
	if a.State == StatePending {
		return false
	}
	// A resolved alert not yet sent as resolved goes out at once.
	if a.ResolvedAt.After(a.LastSentAt) {
		return true
	}
	return a.LastSentAt.Add(resendDelay).Before(ts)
}

// AlertingRule generates alerts from the samples of its expression.
type AlertingRule struct {
	ruleStatus
	name           string
	expr           parser.Expr
	exprQS         string
	holdDuration   time.Duration
	keepFiringFor  time.Duration
	labels         labels.Labels
	annotations    labels.Labels
	externalLabels map[string]string
	externalURL    string
	logger         *slog.Logger

	mtx sync.Mutex
	// restored is false until the `for` state was restored after a start: ALERTS and
	// ALERTS_FOR_STATE are not written before, so that restore reads the pre-restart series.
	restored bool
	active   map[uint64]*Alert
}

// NewAlertingRule returns an alerting rule. restored=false delays writing ALERTS and
// ALERTS_FOR_STATE until RestoreForState ran.
func NewAlertingRule(name string, expr parser.Expr, hold, keepFiringFor time.Duration,
	lset, annotations, externalLabels labels.Labels, externalURL string, restored bool, logger *slog.Logger,
) *AlertingRule {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &AlertingRule{
		name: name, expr: expr, exprQS: expr.String(), holdDuration: hold, keepFiringFor: keepFiringFor,
		labels: lset, annotations: annotations, externalLabels: externalLabels.Map(), externalURL: externalURL,
		restored: restored, active: map[uint64]*Alert{}, logger: logger,
	}
}

// Name returns the alert name.
func (r *AlertingRule) Name() string { return r.name }

// Labels returns the labels added to every alert.
func (r *AlertingRule) Labels() labels.Labels { return r.labels }

// Annotations returns the annotation templates.
func (r *AlertingRule) Annotations() labels.Labels { return r.annotations }

// Query returns the expression.
func (r *AlertingRule) Query() parser.Expr { return r.expr }

// HoldDuration is the rule's `for`.
func (r *AlertingRule) HoldDuration() time.Duration { return r.holdDuration }

// KeepFiringFor is the rule's `keep_firing_for`.
func (r *AlertingRule) KeepFiringFor() time.Duration { return r.keepFiringFor }

// Restored reports whether the `for` state restore has run (or was not needed).
func (r *AlertingRule) Restored() bool {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	return r.restored
}

// SetRestored marks the restore as done (rule unit tests start restored, as in promtool).
func (r *AlertingRule) SetRestored(v bool) {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	r.restored = v
}

// State returns the most severe state of the rule's alerts; unknown before the first
// evaluation.
func (r *AlertingRule) State() AlertState {
	if r.EvaluationTimestamp().IsZero() {
		return StateUnknown
	}
	r.mtx.Lock()
	defer r.mtx.Unlock()
	st := StateInactive
	for _, a := range r.active {
		if a.State > st {
			st = a.State
		}
	}
	return st
}

// ActiveAlerts returns copies of the pending and firing alerts (resolved ones excluded),
// sorted by labels.
func (r *AlertingRule) ActiveAlerts() []*Alert {
	var res []*Alert
	for _, a := range r.AllAlerts() {
		if a.ResolvedAt.IsZero() {
			res = append(res, a)
		}
	}
	return res
}

// AllAlerts returns copies of every alert in memory, resolved ones (kept 15 minutes) included,
// sorted by labels.
func (r *AlertingRule) AllAlerts() []*Alert {
	r.mtx.Lock()
	res := make([]*Alert, 0, len(r.active))
	for _, a := range r.active {
		c := *a
		res = append(res, &c)
	}
	r.mtx.Unlock()
	slices.SortFunc(res, func(a, b *Alert) int { return labels.Compare(a.Labels, b.Labels) })
	return res
}

func (r *AlertingRule) sample(a *Alert, ts time.Time) promql.Sample {
	lb := labels.NewBuilder(r.labels)
	a.Labels.Range(func(l labels.Label) { lb.Set(l.Name, l.Value) })
	lb.Set(labels.MetricName, alertMetricName)
	lb.Set(labels.AlertName, r.name)
	lb.Set(alertStateLabel, a.State.String())
	return promql.Sample{Metric: lb.Labels(), T: ts.UnixMilli(), F: 1}
}

func (r *AlertingRule) forStateSample(a *Alert, ts time.Time, v float64) promql.Sample {
	lb := labels.NewBuilder(r.labels)
	if a != nil {
		a.Labels.Range(func(l labels.Label) { lb.Set(l.Name, l.Value) })
	}
	lb.Set(labels.MetricName, alertForStateMetricName)
	lb.Set(labels.AlertName, r.name)
	return promql.Sample{Metric: lb.Labels(), T: ts.UnixMilli(), F: v}
}

func (r *AlertingRule) eval(ctx context.Context, queryOffset time.Duration, ts time.Time, query QueryFunc, externalURL *url.URL, limit int) (promql.Vector, error) {
	res, err := query(ctx, r.exprQS, ts.Add(-queryOffset))
	if err != nil {
		return nil, err
	}

	lb := labels.NewBuilder(labels.EmptyLabels())
	sb := labels.NewScratchBuilder(0)
	alerts := make(map[uint64]*Alert, len(res))
	for _, smpl := range res {
		exp := newAlertExpander(ctx, r, smpl, ts, query, externalURL)
		lb.Reset(smpl.Metric)
		lb.Del(labels.MetricName)
		r.labels.Range(func(l labels.Label) { lb.Set(l.Name, exp.expand(l.Value)) })
		lb.Set(labels.AlertName, r.name)

		sb.Reset()
		r.annotations.Range(func(a labels.Label) { sb.Add(a.Name, exp.expand(a.Value)) })
		annotations := sb.Labels()

		lbs := lb.Labels()
		h := lbs.Hash()
		if _, ok := alerts[h]; ok {
			// Two samples would make the same alert: Prometheus fails the evaluation.
			return nil, errDuplicateAlertLabelSet
		}
		alerts[h] = &Alert{Labels: lbs, Annotations: annotations, ActiveAt: ts, State: StatePending, Value: smpl.F}
	}

	r.mtx.Lock()
	defer r.mtx.Unlock()

	for h, a := range alerts {
		// An active alert keeps its ActiveAt; only value and annotations follow the query.
		if cur, ok := r.active[h]; ok && cur.State != StateInactive {
			cur.Value = a.Value
			cur.Annotations = a.Annotations
			continue
		}
		r.active[h] = a
	}

	var vec promql.Vector
	numActive := 0
	for fp, a := range r.active {
		if _, ok := alerts[fp]; !ok {
			keepFiring := false
			if a.State == StateFiring && r.keepFiringFor > 0 {
				if a.KeepFiringSince.IsZero() {
					a.KeepFiringSince = ts
				}
				if ts.Sub(a.KeepFiringSince) < r.keepFiringFor {
					keepFiring = true
				}
			}
			// Pending alerts that stop are forgotten; resolved ones after the retention.
			if a.State == StatePending || (!a.ResolvedAt.IsZero() && ts.Sub(a.ResolvedAt) > resolvedRetention) {
				delete(r.active, fp)
			}
			if a.State != StateInactive && !keepFiring {
				a.State = StateInactive
				a.ResolvedAt = ts
			}
			if !keepFiring {
				continue
			}
		} else {
			a.KeepFiringSince = time.Time{}
		}
		numActive++

		if a.State == StatePending && ts.Sub(a.ActiveAt) >= r.holdDuration {
			a.State = StateFiring
			a.FiredAt = ts
		}
		// A restored ActiveAt can move a firing alert back to pending (restore with grace).
		if a.State == StateFiring && ts.Sub(a.ActiveAt) < r.holdDuration {
			a.State = StatePending
			a.FiredAt = time.Time{}
			a.LastSentAt = time.Time{}
			a.KeepFiringSince = time.Time{}
		}
		if r.restored {
			vec = append(vec, r.sample(a, ts.Add(-queryOffset)))
			vec = append(vec, r.forStateSample(a, ts.Add(-queryOffset), float64(a.ActiveAt.Unix())))
		}
	}

	if limit > 0 && numActive > limit {
		r.active = map[uint64]*Alert{}
		return nil, fmt.Errorf("exceeded limit of %d with %d alerts", limit, numActive)
	}
	return vec, nil
}

// alertsToSend marks the alerts due at ts as sent and returns copies of them.
func (r *AlertingRule) alertsToSend(ts time.Time, resendDelay, interval time.Duration) []*Alert {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	var out []*Alert
	for _, a := range r.active {
		if !a.needsSending(ts, resendDelay) {
			continue
		}
		a.LastSentAt = ts
		// Receivers resolve an alert by itself after ValidUntil unless it is re-sent: four
		// times the larger of interval and resend delay survives a few lost sends.
		a.ValidUntil = ts.Add(4 * max(interval, resendDelay))
		c := *a
		c.Labels = a.Labels.Copy()
		out = append(out, &c)
	}
	return out
}

// copyActive takes over the alerts of the rule this one replaces on reload.
func (r *AlertingRule) copyActive(from *AlertingRule) {
	from.mtx.Lock()
	defer from.mtx.Unlock()
	r.mtx.Lock()
	defer r.mtx.Unlock()
	for h, a := range from.active {
		r.active[h] = a
	}
}

// String returns the rule as rule-file YAML.
func (r *AlertingRule) String() string {
	b, err := yaml.Marshal(rulefmt.Rule{
		Alert: r.name, Expr: r.exprQS, For: model.Duration(r.holdDuration), KeepFiringFor: model.Duration(r.keepFiringFor),
		Labels: r.labels.Map(), Annotations: r.annotations.Map(),
	})
	if err != nil {
		return fmt.Sprintf("error marshaling alerting rule: %s", err)
	}
	return string(b)
}

// forStateMatchers selects the rule's ALERTS_FOR_STATE series. Templated label values cannot be
// matched literally and are left out, as in Prometheus.
func (r *AlertingRule) forStateMatchers() []*labels.Matcher {
	var ms []*labels.Matcher
	r.forStateSample(nil, time.Now(), 0).Metric.Range(func(l labels.Label) {
		if strings.Contains(l.Value, "{{") {
			return
		}
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, l.Name, l.Value))
	})
	return ms
}
