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

// Package promql is Vigil's PromQL evaluator. Expressions are parsed with the upstream
// Prometheus parser (the language definition) and evaluated by this package over a
// storage.Queryable. Only float samples exist in Vigil's storage; native histograms are rejected.
//
// The evaluation semantics (lookback, staleness, extrapolation, annotations, error texts)
// follow Prometheus 3 so that the upstream promqltest files pass unchanged; several numeric
// routines are ported from Prometheus (Apache 2.0). The evaluation strategy differs: selectors
// and range-vector functions walk each series once with a sliding window instead of re-seeking
// per step.
package promql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/vigil-monitoring/vigil/storage"
)

const (
	defaultLookbackDelta = 5 * time.Minute
	env                  = "query execution"

	// The largest float that can be converted to an int64 without overflow.
	maxInt64 = 9223372036854774784
	// The smallest float that can be converted to an int64 without underflow.
	minInt64 = -9223372036854775808
)

// Error types carry the same texts as Prometheus's so that the HTTP layer can map them to the
// same error types (timeout, canceled, execution) and clients see the same messages.
type (
	// ErrQueryTimeout is returned if a query timed out during processing.
	ErrQueryTimeout string
	// ErrQueryCanceled is returned if a query was canceled during processing.
	ErrQueryCanceled string
	// ErrTooManySamples is returned if a query would load more than the maximum allowed samples
	// into memory.
	ErrTooManySamples string
	// ErrStorage wraps an error from the storage layer.
	ErrStorage struct{ Err error }
)

func (e ErrQueryTimeout) Error() string { return fmt.Sprintf("query timed out in %s", string(e)) }
func (e ErrQueryCanceled) Error() string {
	return fmt.Sprintf("query was canceled in %s", string(e))
}

func (e ErrTooManySamples) Error() string {
	return fmt.Sprintf("query processing would load too many samples into memory in %s", string(e))
}
func (e ErrStorage) Error() string { return e.Err.Error() }
func (e ErrStorage) Unwrap() error { return e.Err }

// EngineOpts configure an Engine.
type EngineOpts struct {
	Logger *slog.Logger
	// Reg receives the engine's metrics (same names as Prometheus's); nil disables them.
	Reg prometheus.Registerer
	// MaxSamples bounds the number of samples held in memory by one query (0: unlimited).
	MaxSamples int
	// Timeout bounds one query's execution (0: no timeout beyond the caller's context).
	Timeout time.Duration
	// LookbackDelta is how far back an instant selector looks for a sample (default 5m).
	LookbackDelta time.Duration
	// MaxConcurrent bounds the number of queries executing at once (0: unlimited).
	MaxConcurrent int
	// EnableAtModifier and EnableNegativeOffset mirror Prometheus's options. As in
	// Prometheus 3, where both features are always on, the zero value does not turn them off:
	// only DisableAtModifier / DisableNegativeOffset do.
	EnableAtModifier, EnableNegativeOffset bool
	// DisableAtModifier and DisableNegativeOffset reject queries using "@" or a negative
	// offset ("@ modifier is disabled", "negative offset is disabled").
	DisableAtModifier, DisableNegativeOffset bool
	// Parser parses queries; nil uses the standard parser with experimental functions,
	// duration expressions, extended range selectors and fill modifiers enabled.
	Parser parser.Parser
	// NoStepSubqueryIntervalFn returns the subquery step (ms) when a subquery has none; nil
	// uses one minute, Prometheus's default evaluation interval.
	NoStepSubqueryIntervalFn func(rangeMillis int64) int64
	// UseStartTimestamps makes rate, increase, irate and resets use the samples' start
	// timestamps (counter resets, the zero point of a counter that starts inside the range) and
	// start_timestamp() return them, as upstream's option of the same name (Prometheus's
	// --enable-feature=use-start-timestamps).
	UseStartTimestamps bool
}

// DefaultParserOptions are the parser features the engine accepts by default.
var DefaultParserOptions = parser.Options{
	EnableExperimentalFunctions:  true,
	ExperimentalDurationExpr:     true,
	EnableExtendedRangeSelectors: true,
	EnableBinopFillModifiers:     true,
}

// Engine evaluates PromQL queries. It is safe for concurrent use.
type Engine struct {
	logger        *slog.Logger
	maxSamples    int
	timeout       time.Duration
	lookbackDelta time.Duration
	sem           chan struct{}
	atModifier    bool
	negOffset     bool
	parser        parser.Parser
	noStepSubq    func(int64) int64
	metrics       *engineMetrics
	useST         bool
}

type engineMetrics struct {
	current    prometheus.Gauge
	maxConc    prometheus.Gauge
	duration   *prometheus.SummaryVec
	samples    prometheus.Counter
	queueSlots prometheus.Gauge
}

func newEngineMetrics(reg prometheus.Registerer, maxConcurrent int) *engineMetrics {
	m := &engineMetrics{
		current: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "prometheus", Subsystem: "engine", Name: "queries",
			Help: "The current number of queries being executed or waiting.",
		}),
		maxConc: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "prometheus", Subsystem: "engine", Name: "queries_concurrent_max",
			Help: "The max number of concurrent queries.",
		}),
		duration: prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Namespace: "prometheus", Subsystem: "engine", Name: "query_duration_seconds",
			Help:       "Query timings",
			Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
		}, []string{"slice"}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "prometheus", Subsystem: "engine", Name: "query_samples_total",
			Help: "The total number of samples loaded by all queries.",
		}),
	}
	if maxConcurrent > 0 {
		m.maxConc.Set(float64(maxConcurrent))
	} else {
		m.maxConc.Set(-1)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.current, m.maxConc, m.duration, m.samples} {
			// An engine rebuilt on the same registry (tests, reloads) keeps the first
			// collector rather than panicking.
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					panic(fmt.Errorf("registering engine metric: %w", err))
				}
			}
		}
	}
	return m
}

// NewEngine returns an engine with the given options.
func NewEngine(opts EngineOpts) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LookbackDelta <= 0 {
		opts.LookbackDelta = defaultLookbackDelta
	}
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = math.MaxInt
	}
	if opts.Parser == nil {
		opts.Parser = parser.NewParser(DefaultParserOptions)
	}
	if opts.NoStepSubqueryIntervalFn == nil {
		opts.NoStepSubqueryIntervalFn = func(int64) int64 { return time.Minute.Milliseconds() }
	}
	ng := &Engine{
		logger:        opts.Logger,
		maxSamples:    opts.MaxSamples,
		timeout:       opts.Timeout,
		lookbackDelta: opts.LookbackDelta,
		atModifier:    !opts.DisableAtModifier,
		negOffset:     !opts.DisableNegativeOffset,
		parser:        opts.Parser,
		noStepSubq:    opts.NoStepSubqueryIntervalFn,
		metrics:       newEngineMetrics(opts.Reg, opts.MaxConcurrent),
		useST:         opts.UseStartTimestamps,
	}
	if opts.MaxConcurrent > 0 {
		ng.sem = make(chan struct{}, opts.MaxConcurrent)
	}
	return ng
}

// Result is the outcome of a query: a Value or an Err, plus annotations (warnings and infos;
// use Warnings.AsStrings(query, 0, 0) to split and render them as Prometheus does).
type Result struct {
	Value    Value
	Err      error
	Warnings annotations.Annotations
}

// Query is a prepared query.
type Query interface {
	// Exec evaluates the query. It may be called once.
	Exec(ctx context.Context) *Result
	// Close releases resources held by the query.
	Close()
	// Statement returns the parsed statement (a *parser.EvalStmt).
	Statement() parser.Statement
	// String returns the query string.
	String() string
	// Cancel cancels a running Exec.
	Cancel()
	// Stats returns the statistics of the executed query (nil before Exec).
	Stats() *Stats
}

type query struct {
	ng        *Engine
	q         string
	stmt      *parser.EvalStmt
	queryable storage.Queryable
	cancel    context.CancelFunc
	perStep   bool
	stats     *Stats
	visits    int // exprAnalysis.visits of the last Exec (tests)
}

func (q *query) Stats() *Stats               { return q.stats }
func (q *query) Statement() parser.Statement { return q.stmt }
func (q *query) String() string              { return q.q }
func (q *query) Close()                      {}
func (q *query) Cancel() {
	if q.cancel != nil {
		q.cancel()
	}
}

// QueryOpts are per-query options (the API's lookback_delta parameter).
type QueryOpts struct {
	// LookbackDelta overrides the engine's lookback delta when positive.
	LookbackDelta time.Duration
	// EnablePerStepStats makes Stats carry per-step sample counts (the API's stats=all).
	EnablePerStepStats bool
}

// NewInstantQuery prepares an instant query of qs at ts.
func (ng *Engine) NewInstantQuery(ctx context.Context, q storage.Queryable, qs string, ts time.Time) (Query, error) {
	return ng.NewInstantQueryWithOpts(ctx, q, QueryOpts{}, qs, ts)
}

// NewRangeQuery prepares a range query of qs from start to end every step.
func (ng *Engine) NewRangeQuery(ctx context.Context, q storage.Queryable, qs string, start, end time.Time, step time.Duration) (Query, error) {
	return ng.NewRangeQueryWithOpts(ctx, q, QueryOpts{}, qs, start, end, step)
}

// NewInstantQueryWithOpts is NewInstantQuery with per-query options.
func (ng *Engine) NewInstantQueryWithOpts(_ context.Context, q storage.Queryable, opts QueryOpts, qs string, ts time.Time) (Query, error) {
	return ng.newQuery(q, opts, qs, ts, ts, 0)
}

// NewRangeQueryWithOpts is NewRangeQuery with per-query options.
func (ng *Engine) NewRangeQueryWithOpts(_ context.Context, q storage.Queryable, opts QueryOpts, qs string, start, end time.Time, step time.Duration) (Query, error) {
	if step <= 0 {
		return nil, errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer")
	}
	if end.Before(start) {
		return nil, errors.New("end timestamp must not be before start time")
	}
	return ng.newQuery(q, opts, qs, start, end, step)
}

func (ng *Engine) newQuery(q storage.Queryable, opts QueryOpts, qs string, start, end time.Time, step time.Duration) (Query, error) {
	expr, err := ng.parser.ParseExpr(qs)
	if err != nil {
		return nil, err
	}
	if err := ng.validateOpts(expr); err != nil {
		return nil, err
	}
	if step != 0 && expr.Type() != parser.ValueTypeVector && expr.Type() != parser.ValueTypeScalar {
		return nil, fmt.Errorf("invalid expression type %q for range query, must be Scalar or instant Vector", parser.DocumentedType(expr.Type()))
	}
	lookback := ng.lookbackDelta
	if opts.LookbackDelta > 0 {
		lookback = opts.LookbackDelta
	}
	es := &parser.EvalStmt{Start: start, End: end, Interval: step, LookbackDelta: lookback}
	es.Expr, err = preprocessExpr(expr, start, end, step)
	if err != nil {
		return nil, err
	}
	return &query{ng: ng, q: qs, stmt: es, queryable: q, perStep: opts.EnablePerStepStats}, nil
}

var (
	errAtModifierDisabled     = errors.New("@ modifier is disabled")
	errNegativeOffsetDisabled = errors.New("negative offset is disabled")
)

func (ng *Engine) validateOpts(expr parser.Expr) error {
	if ng.atModifier && ng.negOffset {
		return nil
	}
	var err error
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		var at bool
		var off time.Duration
		switch n := node.(type) {
		case *parser.VectorSelector:
			at, off = n.Timestamp != nil || n.StartOrEnd != 0, n.OriginalOffset
		case *parser.SubqueryExpr:
			at, off = n.Timestamp != nil || n.StartOrEnd != 0, n.OriginalOffset
		}
		if at && !ng.atModifier {
			err = errAtModifierDisabled
		} else if off < 0 && !ng.negOffset {
			err = errNegativeOffsetDisabled
		}
		return err
	})
	return err
}

func contextErr(err error, where string) error {
	switch {
	case errors.Is(err, context.Canceled):
		return ErrQueryCanceled(where)
	case errors.Is(err, context.DeadlineExceeded):
		return ErrQueryTimeout(where)
	default:
		return err
	}
}

func contextDone(ctx context.Context, where string) error {
	if err := ctx.Err(); err != nil {
		return contextErr(err, where)
	}
	return nil
}

// Exec runs the query.
func (q *query) Exec(ctx context.Context) *Result {
	ng := q.ng
	execStart := time.Now()
	q.stats = &Stats{}
	defer func() { q.stats.ExecTotalTime = time.Since(execStart) }()
	ng.metrics.current.Inc()
	defer ng.metrics.current.Dec()
	if ng.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ng.timeout)
		defer cancel()
	}
	ctx, q.cancel = context.WithCancel(ctx)
	defer q.cancel()

	if ng.sem != nil {
		queueStart := time.Now()
		select {
		case ng.sem <- struct{}{}:
		case <-ctx.Done():
			return &Result{Err: contextErr(ctx.Err(), "query queue")}
		}
		defer func() { <-ng.sem }()
		q.stats.ExecQueueTime = time.Since(queueStart)
		ng.metrics.duration.WithLabelValues("queue_time").Observe(q.stats.ExecQueueTime.Seconds())
	}
	if err := contextDone(ctx, env); err != nil {
		return &Result{Err: err}
	}
	evalStart := time.Now()
	v, ws, err := q.execEvalStmt(ctx)
	q.stats.EvalTotalTime = time.Since(evalStart)
	return &Result{Value: v, Err: err, Warnings: ws}
}

func (q *query) execEvalStmt(ctx context.Context) (Value, annotations.Annotations, error) {
	s := q.stmt
	st := q.stats
	prepStart := time.Now()
	mint, maxt := findMinMaxTime(s)
	querier, err := q.queryable.Querier(mint, maxt)
	st.QueryPreparationTime = time.Since(prepStart)
	q.ng.metrics.duration.WithLabelValues("prepare_time").Observe(st.QueryPreparationTime.Seconds())
	if err != nil {
		return nil, nil, ErrStorage{Err: fmt.Errorf("opening querier: %w", err)}
	}
	defer querier.Close()

	start := s.Start.UnixMilli()
	ev := &evaluator{
		logger:        q.ng.logger,
		ctx:           ctx,
		querier:       querier,
		startTS:       start,
		endTS:         s.End.UnixMilli(),
		interval:      s.Interval.Milliseconds(),
		lookbackDelta: s.LookbackDelta.Milliseconds(),
		maxSamples:    q.ng.maxSamples,
		noStepSubq:    q.ng.noStepSubq,
		analysis:      newExprAnalysis(),
		useST:         q.ng.useST,
	}
	if ev.interval == 0 {
		ev.interval = 1
	}
	ev.stats = newSampleStats(ev.numSteps(), q.perStep)
	innerStart := time.Now()
	var (
		val   Value
		steps StepMatrix
		ws    annotations.Annotations
	)
	switch {
	case s.Interval == 0 && s.Expr.Type() == parser.ValueTypeVector:
		var vec Vector
		vec, ws, err = ev.EvalVector(s.Expr)
		val = vec
	case s.Interval == 0:
		val, ws, err = ev.Eval(s.Expr)
	default:
		steps, ws, err = ev.EvalSteps(s.Expr)
	}
	st.ResultSortTime = ev.sortTime
	st.InnerEvalTime = time.Since(innerStart) - ev.sortTime
	q.ng.metrics.duration.WithLabelValues("inner_eval").Observe(st.InnerEvalTime.Seconds())
	if s.Interval != 0 {
		q.ng.metrics.duration.WithLabelValues("result_sort").Observe(st.ResultSortTime.Seconds())
	}
	st.TotalSamples, st.SamplesRead, st.PeakSamples = ev.stats.total, ev.stats.read, ev.peakSamples
	q.visits = ev.analysis.visits
	if q.perStep {
		st.StartTimestamp, st.Interval = ev.startTS, ev.interval
		st.TotalSamplesPerStep, st.SamplesReadPerStep = ev.stats.totalPerStep, ev.stats.readPerStep
	}
	q.ng.metrics.samples.Add(float64(ev.stats.total))
	if err != nil {
		return nil, ws, err
	}
	if s.Interval != 0 {
		// A range query's result, sorted by evalSteps.
		if err := contextDone(ctx, "expression evaluation"); err != nil {
			return nil, ws, err
		}
		return steps, ws, nil
	}
	if str, ok := val.(String); ok {
		return str, ws, nil
	}
	if vec, ok := val.(Vector); ok {
		return vec, ws, nil
	}
	mat := val.(Matrix)
	switch s.Expr.Type() {
	case parser.ValueTypeScalar:
		return Scalar{V: mat[0].Floats[0].F, T: start}, ws, nil
	case parser.ValueTypeMatrix:
		sort.Sort(mat)
		return mat, ws, nil
	}
	return nil, ws, fmt.Errorf("unexpected expression type %q", s.Expr.Type())
}

// subqueryTimes returns the sum of offsets and ranges of all subqueries in the path, reset at
// the innermost subquery with an @ modifier (whose timestamp is returned).
func subqueryTimes(path []parser.Node) (time.Duration, time.Duration, *int64) {
	var (
		subqOffset, subqRange time.Duration
		ts                    int64 = math.MaxInt64
	)
	for _, node := range path {
		if n, ok := node.(*parser.SubqueryExpr); ok {
			subqOffset += n.OriginalOffset
			subqRange += n.Range
			if n.Timestamp != nil {
				subqOffset = n.OriginalOffset
				subqRange = n.Range
				ts = *n.Timestamp
			}
		}
	}
	if ts != math.MaxInt64 {
		return subqOffset, subqRange, &ts
	}
	return subqOffset, subqRange, nil
}

// findMinMaxTime returns the time range (ms, inclusive) the statement reads from storage.
func findMinMaxTime(s *parser.EvalStmt) (int64, int64) {
	var minTS, maxTS int64 = math.MaxInt64, math.MinInt64
	var evalRange time.Duration
	parser.Inspect(s.Expr, func(node parser.Node, path []parser.Node) error {
		switch n := node.(type) {
		case *parser.Call:
			if n.Func.Name != "info" {
				break
			}
			// info() reads info series at the time of its argument's selectors.
			ts, off := infoSeriesSelectTimestampAndOffset(n.Args[0])
			start, end := timeRangeForSelector(s, &parser.VectorSelector{Timestamp: ts, OriginalOffset: off}, path, 0)
			minTS = min(minTS, start)
			maxTS = max(maxTS, end)
		case *parser.VectorSelector:
			start, end := timeRangeForSelector(s, n, path, evalRange)
			minTS = min(minTS, start)
			maxTS = max(maxTS, end)
			evalRange = 0
		case *parser.MatrixSelector:
			evalRange = n.Range
		}
		return nil
	})
	if maxTS == math.MinInt64 {
		return 0, 0
	}
	return minTS, maxTS
}

func timeRangeForSelector(s *parser.EvalStmt, n *parser.VectorSelector, path []parser.Node, evalRange time.Duration) (int64, int64) {
	start, end := s.Start.UnixMilli(), s.End.UnixMilli()
	subqOffset, subqRange, subqTs := subqueryTimes(path)
	if subqTs != nil {
		start, end = *subqTs, *subqTs
	}
	if n.Timestamp != nil {
		start, end = *n.Timestamp, *n.Timestamp
	} else {
		start = start - subqOffset.Milliseconds() - subqRange.Milliseconds()
		end -= subqOffset.Milliseconds()
	}
	lookback := s.LookbackDelta.Milliseconds()
	if evalRange == 0 {
		start -= lookback - 1
		if n.Smoothed {
			end += lookback
		}
	} else {
		switch {
		case n.Anchored:
			start -= lookback + evalRange.Milliseconds() - 1
		case n.Smoothed:
			start -= lookback + evalRange.Milliseconds() - 1
			end += lookback
		default:
			start -= evalRange.Milliseconds() - 1
		}
	}
	off := n.OriginalOffset.Milliseconds()
	return start - off, end - off
}
