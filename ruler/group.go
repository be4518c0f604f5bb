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
// Modified by Vigil: parts ported from github.com/prometheus/prometheus rules/group.go (v0.315.0).

package ruler

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/storage"
)

// Group is a list of rules evaluated in order at one interval.
type Group struct {
	name        string
	file        string
	interval    time.Duration
	queryOffset *time.Duration
	limit       int
	rules       []Rule
	opts        *Options
	metrics     *Metrics
	logger      *slog.Logger

	// seriesInPreviousEval holds, per rule, the series written at the last evaluation, so that
	// series that disappear get a stale marker. Only the group's goroutine touches it (and
	// CopyState, before the new group runs).
	seriesInPreviousEval []map[string]labels.Labels
	// staleSeries are series of rules removed by a reload, marked stale at the next evaluation.
	staleSeries []labels.Labels

	mtx               sync.Mutex
	evaluationTime    time.Duration
	ruleEvalTimeSum   time.Duration
	lastEvaluation    time.Time
	lastEvalTimestamp time.Time

	shouldRestore bool
	markStale     bool
	done          chan struct{}
	terminated    chan struct{}
	managerDone   chan struct{}
}

type groupOptions struct {
	name, file    string
	interval      time.Duration
	queryOffset   *time.Duration
	limit         int
	rules         []Rule
	shouldRestore bool
	opts          *Options
	metrics       *Metrics
	managerDone   chan struct{}
}

func newGroup(o groupOptions) *Group {
	key := groupKey(o.file, o.name)
	if o.metrics != nil {
		o.metrics.IterationsMissed.WithLabelValues(key)
		o.metrics.IterationsScheduled.WithLabelValues(key)
		o.metrics.EvalTotal.WithLabelValues(key)
		o.metrics.EvalFailures.WithLabelValues(key)
		o.metrics.GroupLastEvalTime.WithLabelValues(key)
		o.metrics.GroupLastDuration.WithLabelValues(key)
		o.metrics.GroupLastRuleDurationSum.WithLabelValues(key)
		o.metrics.GroupRules.WithLabelValues(key).Set(float64(len(o.rules)))
		o.metrics.GroupSamples.WithLabelValues(key)
		o.metrics.GroupInterval.WithLabelValues(key).Set(o.interval.Seconds())
	}
	return &Group{
		name: o.name, file: o.file, interval: o.interval, queryOffset: o.queryOffset, limit: o.limit,
		rules: o.rules, opts: o.opts, metrics: o.metrics, shouldRestore: o.shouldRestore,
		logger:               o.opts.Logger.With("file", o.file, "group", o.name),
		seriesInPreviousEval: make([]map[string]labels.Labels, len(o.rules)),
		done:                 make(chan struct{}),
		terminated:           make(chan struct{}),
		managerDone:          o.managerDone,
	}
}

func groupKey(file, name string) string { return file + ";" + name }

// Name returns the group's name.
func (g *Group) Name() string { return g.name }

// File returns the rule file the group comes from.
func (g *Group) File() string { return g.file }

// Interval returns the evaluation interval.
func (g *Group) Interval() time.Duration { return g.interval }

// Limit returns the group's limit (0: none).
func (g *Group) Limit() int { return g.limit }

// Rules returns the rules in evaluation order.
func (g *Group) Rules() []Rule { return g.rules }

// QueryOffset returns the offset applied to the evaluation time of queries: the group's
// query_offset, else the global rule_query_offset.
func (g *Group) QueryOffset() time.Duration {
	if g.queryOffset != nil {
		return *g.queryOffset
	}
	return g.opts.defaultQueryOffset()
}

// AlertingRules returns the group's alerting rules, most severe state first, then by name.
func (g *Group) AlertingRules() []*AlertingRule {
	var res []*AlertingRule
	for _, r := range g.rules {
		if ar, ok := r.(*AlertingRule); ok {
			res = append(res, ar)
		}
	}
	slices.SortFunc(res, func(a, b *AlertingRule) int {
		if sa, sb := a.State(), b.State(); sa != sb {
			return int(sb - sa)
		}
		return strings.Compare(a.Name(), b.Name())
	})
	return res
}

// EvaluationTime returns how long the last evaluation of the whole group took.
func (g *Group) EvaluationTime() time.Duration {
	g.mtx.Lock()
	defer g.mtx.Unlock()
	return g.evaluationTime
}

// RuleEvaluationTimeSum returns the sum of the rules' last evaluation durations.
func (g *Group) RuleEvaluationTimeSum() time.Duration {
	g.mtx.Lock()
	defer g.mtx.Unlock()
	return g.ruleEvalTimeSum
}

// LastEvaluation returns the wall-clock time the last evaluation started (zero before the first).
func (g *Group) LastEvaluation() time.Time {
	g.mtx.Lock()
	defer g.mtx.Unlock()
	return g.lastEvaluation
}

// LastEvalTimestamp returns the time slot of the last evaluation (the timestamp of its samples).
func (g *Group) LastEvalTimestamp() time.Time {
	g.mtx.Lock()
	defer g.mtx.Unlock()
	return g.lastEvalTimestamp
}

func (g *Group) hash() uint64 {
	return labels.New(labels.Label{Name: "name", Value: g.name}, labels.Label{Name: "file", Value: g.file}).Hash()
}

// evalTimestamp returns the start of the slot containing startTime (ns). Slots are offset by a
// hash of the group so that groups with the same interval do not all evaluate at once, and the
// offset is stable across restarts so that series keep regular timestamps.
func (g *Group) evalTimestamp(startTime int64) time.Time {
	offset := int64(g.hash() % uint64(g.interval))
	adjNow := startTime - offset
	base := adjNow - (adjNow % int64(g.interval))
	return time.Unix(0, base+offset).UTC()
}

func (g *Group) run(ctx context.Context) {
	defer close(g.terminated)
	evalTS := g.evalTimestamp(time.Now().UnixNano()).Add(g.interval)
	select {
	case <-time.After(time.Until(evalTS)):
	case <-g.done:
		return
	}
	tick := time.NewTicker(g.interval)
	defer tick.Stop()

	defer func() {
		if !g.markStale {
			return
		}
		// The group was removed: mark its series stale after two intervals (unless a new
		// group took them over or Vigil stops, where the series just end).
		go func(now time.Time) {
			for _, m := range g.seriesInPreviousEval {
				for _, l := range m {
					g.staleSeries = append(g.staleSeries, l)
				}
			}
			g.seriesInPreviousEval = nil
			select {
			case <-g.managerDone:
			case <-time.After(2 * g.interval):
				g.cleanupStaleSeries(ctx, now)
			}
		}(time.Now())
	}()

	iter := func() {
		missed := (time.Since(evalTS) / g.interval) - 1
		if missed > 0 {
			// Slow evaluations skip slots instead of piling up.
			g.metrics.IterationsMissed.WithLabelValues(groupKey(g.file, g.name)).Add(float64(missed))
			g.metrics.IterationsScheduled.WithLabelValues(groupKey(g.file, g.name)).Add(float64(missed))
		}
		evalTS = evalTS.Add((missed + 1) * g.interval)
		g.evalIteration(ctx, evalTS)
	}

	g.evalIteration(ctx, evalTS)
	if g.shouldRestore {
		// As Prometheus: evaluate twice before restoring, so that the alerts active now are
		// known and the restored ActiveAt applies to them.
		select {
		case <-g.done:
			return
		case <-tick.C:
			iter()
		}
		g.RestoreForState(time.Now())
	}
	for {
		select {
		case <-g.done:
			return
		default:
		}
		select {
		case <-g.done:
			return
		case <-tick.C:
			iter()
		}
	}
}

func (g *Group) stop() {
	close(g.done)
	<-g.terminated
}

func (g *Group) evalIteration(ctx context.Context, ts time.Time) {
	key := groupKey(g.file, g.name)
	g.metrics.IterationsScheduled.WithLabelValues(key).Inc()
	start := time.Now()
	g.eval(ctx, ts)
	d := time.Since(start)
	g.metrics.IterationDuration.Observe(d.Seconds())
	var sum time.Duration
	for _, r := range g.rules {
		sum += r.EvaluationDuration()
	}
	g.metrics.GroupLastRuleDurationSum.WithLabelValues(key).Set(sum.Seconds())
	g.metrics.GroupLastDuration.WithLabelValues(key).Set(d.Seconds())
	g.metrics.GroupLastEvalTime.WithLabelValues(key).Set(float64(start.UnixNano()) / 1e9)
	g.mtx.Lock()
	g.ruleEvalTimeSum, g.evaluationTime, g.lastEvaluation, g.lastEvalTimestamp = sum, d, start, ts
	g.mtx.Unlock()
}

// eval evaluates every rule once at ts, in order. Each rule's results are committed before the
// next rule runs, so later rules see them.
func (g *Group) eval(ctx context.Context, ts time.Time) {
	key := groupKey(g.file, g.name)
	offset := g.QueryOffset()
	samplesTotal := 0
	for i, rule := range g.rules {
		select {
		case <-g.done:
			return
		default:
		}
		samplesTotal += g.evalRule(ctx, i, rule, ts, offset, key)
	}
	g.metrics.GroupSamples.WithLabelValues(key).Set(float64(samplesTotal))
	g.cleanupStaleSeries(ctx, ts)
}

func (g *Group) evalRule(ctx context.Context, i int, rule Rule, ts time.Time, offset time.Duration, key string) int {
	logger := g.logger.With("name", rule.Name(), "index", i)
	start := time.Now()
	defer func() {
		d := time.Since(start)
		g.metrics.EvalDuration.Observe(d.Seconds())
		rule.setEvaluation(start, d)
	}()
	g.metrics.EvalTotal.WithLabelValues(key).Inc()

	vector, err := rule.eval(ctx, offset, ts, g.opts.QueryFunc, g.opts.externalURL(), g.limit)
	if err != nil {
		rule.setHealth(HealthBad, err)
		g.metrics.EvalFailures.WithLabelValues(key).Inc()
		var canceled promql.ErrQueryCanceled
		if !errors.As(err, &canceled) {
			logger.Warn("Evaluating rule failed", "rule", rule.String(), "err", err)
		}
		return 0
	}
	rule.setHealth(HealthGood, nil)

	if ar, ok := rule.(*AlertingRule); ok {
		g.opts.notify(ctx, ar.exprQS, ar.alertsToSend(ts, g.opts.ResendDelay, g.interval))
	}

	app := g.opts.Appendable.Appender(ctx)
	seriesReturned := make(map[string]labels.Labels, len(g.seriesInPreviousEval[i]))
	var numOutOfOrder, numDuplicates int
	buf := make([]byte, 0, 1024)
	for _, s := range vector {
		var err error
		if s.H != nil {
			// A recording rule that yields native histograms records them, as in Prometheus;
			// an alerting rule's ALERTS samples are floats.
			_, err = app.AppendHistogram(0, s.Metric, s.T, nil, s.H)
		} else {
			_, err = app.Append(0, s.Metric, s.T, s.F)
		}
		if err != nil {
			rule.setHealth(HealthBad, err)
			switch {
			case errors.Is(err, storage.ErrOutOfOrderSample):
				numOutOfOrder++
				logger.Debug("Rule evaluation result discarded", "err", err, "sample", s.String())
			case errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
				numDuplicates++
				logger.Debug("Rule evaluation result discarded", "err", err, "sample", s.String())
			default:
				logger.Warn("Rule evaluation result discarded", "err", err, "sample", s.String())
			}
			continue
		}
		buf = s.Metric.Bytes(buf)
		seriesReturned[string(buf)] = s.Metric
	}
	if numOutOfOrder > 0 {
		logger.Warn("Error on ingesting out-of-order result from rule evaluation", "num_dropped", numOutOfOrder)
	}
	if numDuplicates > 0 {
		logger.Warn("Error on ingesting results from rule evaluation with different value but same timestamp", "num_dropped", numDuplicates)
	}
	// Series written last time and not this time end with a stale marker, so that queries stop
	// seeing them at once instead of after the lookback delta.
	for metric, lset := range g.seriesInPreviousEval[i] {
		if _, ok := seriesReturned[metric]; ok {
			continue
		}
		if _, err := app.Append(0, lset, ts.Add(-offset).UnixMilli(), storage.StaleNaN()); err != nil &&
			!errors.Is(err, storage.ErrOutOfOrderSample) && !errors.Is(err, storage.ErrDuplicateSampleForTimestamp) {
			logger.Warn("Adding stale sample failed", "sample", lset.String(), "err", err)
		}
	}
	if err := app.Commit(); err != nil {
		rule.setHealth(HealthBad, err)
		g.metrics.EvalFailures.WithLabelValues(key).Inc()
		logger.Warn("Rule sample appending failed", "err", err)
		return len(vector)
	}
	g.seriesInPreviousEval[i] = seriesReturned
	return len(vector)
}

func (g *Group) cleanupStaleSeries(ctx context.Context, ts time.Time) {
	if len(g.staleSeries) == 0 {
		return
	}
	app := g.opts.Appendable.Appender(ctx)
	t := ts.Add(-g.QueryOffset()).UnixMilli()
	for _, s := range g.staleSeries {
		if _, err := app.Append(0, s, t, storage.StaleNaN()); err != nil &&
			!errors.Is(err, storage.ErrOutOfOrderSample) && !errors.Is(err, storage.ErrDuplicateSampleForTimestamp) {
			g.logger.Warn("Adding stale sample for previous configuration failed", "sample", s.String(), "err", err)
		}
	}
	if err := app.Commit(); err != nil {
		g.logger.Warn("Stale sample appending for previous configuration failed", "err", err)
		return
	}
	g.staleSeries = nil
}

// RestoreForState restores the ActiveAt of pending and firing alerts from the
// ALERTS_FOR_STATE series written before a restart, as Prometheus does: the time Vigil was down
// does not count towards `for` (within the outage tolerance), and an alert about to fire gets at
// least the grace period before it does.
func (g *Group) RestoreForState(ts time.Time) {
	key := groupKey(g.file, g.name)
	defer func() {
		g.metrics.GroupLastRestoreDuration.WithLabelValues(key).Set(time.Since(ts).Seconds())
		g.shouldRestore = false
	}()
	q, err := g.opts.Queryable.Querier(ts.Add(-g.opts.OutageTolerance).UnixMilli(), ts.UnixMilli())
	if err != nil {
		g.logger.Error("Failed to get Querier", "err", err)
		return
	}
	defer q.Close()

	for _, rule := range g.rules {
		ar, ok := rule.(*AlertingRule)
		if !ok {
			continue
		}
		g.restoreRule(ts, q, ar)
		ar.SetRestored(true)
	}
}

func (g *Group) restoreRule(ts time.Time, q storage.Querier, ar *AlertingRule) {
	hold := ar.HoldDuration()
	if hold < g.opts.ForGracePeriod {
		// Alerts with a short `for` fire soon anyway; the grace period is longer.
		return
	}
	ss := q.Select(g.opts.Context, false, nil, ar.forStateMatchers()...)
	type lastSample struct {
		t int64
		v float64
	}
	last := map[string]lastSample{}
	var it storage.Iterator
	for ss.Next() {
		s := ss.At()
		it = s.Iterator(it)
		var t int64
		v := math.NaN()
		found := false
		for it.Next() != storage.ValNone {
			t, v = it.At()
			found = true
		}
		if err := it.Err(); err != nil {
			g.logger.Error("Failed to restore 'for' state", "alertname", ar.Name(), "stage", "Iterator", "err", err)
			continue
		}
		if !found {
			continue
		}
		lb := labels.NewBuilder(s.Labels())
		lb.Del(labels.MetricName)
		last[lb.Labels().String()] = lastSample{t, v}
	}
	if err := ss.Err(); err != nil {
		g.logger.Error("Failed to restore 'for' state", "alertname", ar.Name(), "stage", "Select", "err", err)
		return
	}
	if len(last) == 0 {
		return
	}
	ar.mtx.Lock()
	defer ar.mtx.Unlock()
	for _, a := range ar.active {
		s, ok := last[a.Labels.String()]
		if !ok || storage.IsStaleNaN(s.v) {
			continue
		}
		downAt := time.Unix(s.t/1000, 0).UTC()
		restoredActiveAt := time.Unix(int64(s.v), 0).UTC()
		remaining := hold - downAt.Sub(restoredActiveAt)
		switch {
		case remaining <= 0:
			// It was firing already: keep the original ActiveAt.
		case remaining < g.opts.ForGracePeriod:
			restoredActiveAt = ts.Add(g.opts.ForGracePeriod).Add(-hold)
		default:
			// The outage does not count towards `for`.
			restoredActiveAt = restoredActiveAt.Add(ts.Sub(downAt))
		}
		a.ActiveAt = restoredActiveAt
		g.logger.Debug("'for' state restored", "alertname", ar.Name(), "restored_time", a.ActiveAt.Format(time.RFC850), "labels", a.Labels.String())
	}
}

// equals reports whether ng has the same definition as g (a reload then keeps g running).
func (g *Group) equals(ng *Group) bool {
	if g.name != ng.name || g.file != ng.file || g.interval != ng.interval || g.limit != ng.limit {
		return false
	}
	if (g.queryOffset == nil) != (ng.queryOffset == nil) || (g.queryOffset != nil && *g.queryOffset != *ng.queryOffset) {
		return false
	}
	if len(g.rules) != len(ng.rules) {
		return false
	}
	for i, r := range g.rules {
		if r.String() != ng.rules[i].String() {
			return false
		}
	}
	return true
}

func nameAndLabels(r Rule) string { return r.Name() + r.Labels().String() }

// copyState takes over the state of the group this one replaces on reload: evaluation times,
// the series of rules kept (for stale markers) and the alerts of alerting rules kept. Rules
// are matched by name and labels, in order.
func (g *Group) copyState(from *Group) {
	g.evaluationTime = from.evaluationTime
	g.lastEvaluation = from.lastEvaluation
	ruleMap := make(map[string][]int, len(from.rules))
	for fi, fr := range from.rules {
		k := nameAndLabels(fr)
		ruleMap[k] = append(ruleMap[k], fi)
	}
	for i, r := range g.rules {
		k := nameAndLabels(r)
		idx := ruleMap[k]
		if len(idx) == 0 {
			continue
		}
		fi := idx[0]
		ruleMap[k] = idx[1:]
		g.seriesInPreviousEval[i] = from.seriesInPreviousEval[fi]
		ar, ok := r.(*AlertingRule)
		if !ok {
			continue
		}
		if far, ok := from.rules[fi].(*AlertingRule); ok {
			ar.copyActive(far)
		}
	}
	g.staleSeries = from.staleSeries
	// Series of rules that are gone get stale markers.
	for _, idx := range ruleMap {
		for _, fi := range idx {
			for _, s := range from.seriesInPreviousEval[fi] {
				g.staleSeries = append(g.staleSeries, s)
			}
		}
	}
}
