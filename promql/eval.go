package promql

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
	"github.com/prometheus/prometheus/schema"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/vigil-monitoring/vigil/storage"
)

// evaluator evaluates an expression at the steps startTS, startTS+interval, ..., endTS (all
// ms). An instant query is a range of one step (interval 1). Subqueries run in a child
// evaluator with their own steps. Errors abort evaluation by panicking with an error value,
// recovered in Eval, because they can arise deep inside per-step loops.
type evaluator struct {
	logger        *slog.Logger
	ctx           context.Context
	querier       storage.Querier
	startTS       int64
	endTS         int64
	interval      int64
	lookbackDelta int64
	noStepSubq    func(int64) int64

	maxSamples     int
	currentSamples int
	peakSamples    int
	stats          *sampleStats  // Prometheus's sample counts (see Stats)
	analysis       *exprAnalysis // shared with subquery evaluators
	sortTime       time.Duration

	annos *annotations.Annotations

	// histBorrow is set by a streaming consumer around ev.stream of a range function call
	// when it keeps none of the histograms it is emitted (it copies or reduces them):
	// evalRangeFunction takes it and reuses its result histograms (histRateScratch).
	histBorrow bool
	// useST: functions read the samples' start timestamps (EngineOpts.UseStartTimestamps).
	useST bool
}

// streamBorrowing streams a range function call to a consumer that keeps none of the
// emitted histograms past emit (see histBorrow); other expressions are streamed as usual.
// With borrow false it is ev.stream.
func (ev *evaluator) streamBorrowing(expr parser.Expr, borrow bool, emit func(Series)) bool {
	if !borrow {
		return ev.stream(expr, emit)
	}
	if c, ok := unwrapParens(expr).(*parser.Call); ok && rangeFunctions[c.Func.Name] != nil {
		ev.histBorrow = true
		defer ev.clearHistBorrow()
	}
	return ev.stream(expr, emit)
}

func (ev *evaluator) clearHistBorrow() { ev.histBorrow = false }

func (ev *evaluator) numSteps() int { return int((ev.endTS-ev.startTS)/ev.interval) + 1 }

func (ev *evaluator) error(err error) { panic(err) }

func (ev *evaluator) errorf(format string, args ...any) { ev.error(fmt.Errorf(format, args...)) }

func (ev *evaluator) warn(err error) { ev.annos.Add(err) }

// addSamples accounts n samples held in memory and fails the query past the limit.
func (ev *evaluator) addSamples(n int) {
	ev.currentSamples += n
	if ev.currentSamples > ev.peakSamples {
		ev.peakSamples = ev.currentSamples
	}
	if ev.currentSamples > ev.maxSamples {
		ev.error(ErrTooManySamples(env))
	}
}

func (ev *evaluator) checkCtx() {
	if checkCtxHook != nil {
		checkCtxHook()
	}
	if err := ev.ctx.Err(); err != nil {
		ev.error(contextErr(err, "expression evaluation"))
	}
}

// checkCtxHook, when set (tests), runs at every context check of the evaluation.
var checkCtxHook func()

// Per-step loops can run for billions of steps (a subquery of 30d at 1ms has 2.6e9): they
// check the context and the sample limit every stepCheckEvery steps, counting the points they
// have produced but not yet accounted, so that --query.timeout and --query.max-samples hold
// while the points accumulate rather than after.
const stepCheckEvery = 1024

// stepCheck is called at every step of a per-step loop (step counts from 0) with the points the
// loop holds that addSamples has not accounted yet.
func (ev *evaluator) stepCheck(step, pending int) {
	if step%stepCheckEvery != 0 {
		return
	}
	ev.checkCtx()
	if ev.currentSamples+pending > ev.maxSamples {
		ev.error(ErrTooManySamples(env))
	}
}

// checkAlloc fails the query when n more per-step values (a dense per-step array about to be
// allocated) would exceed the sample limit. Allocations proportional to the number of steps
// are checked before they are made: one of 2.6e9 steps is 20 GB.
func (ev *evaluator) checkAlloc(n int) {
	if n > ev.maxSamples-ev.currentSamples {
		ev.error(ErrTooManySamples(env))
	}
}

// maxPrealloc bounds the capacity preallocated for a series' points: a range query has at most
// 11,000 steps through the API, but a subquery's steps are unbounded; past this the slices grow
// as points are produced (and accounted).
const maxPrealloc = 1 << 14

// preallocSteps is the capacity to preallocate for one series' points over the steps.
func (ev *evaluator) preallocSteps() int { return min(ev.numSteps(), maxPrealloc) }

// growPoints makes room for one more point in pts, which holds at most limit points: past the
// bounded preallocation, capacity doubles (append grows large slices by 1.25x, which copied a
// 43-million-point subquery result five times over).
func growPoints(pts []FPoint, limit int) []FPoint {
	if len(pts) < cap(pts) {
		return pts
	}
	n := min(2*cap(pts), limit) - len(pts)
	return slices.Grow(pts, max(n, 1))
}

// Eval evaluates expr and removes the names marked for delayed removal.
func (ev *evaluator) Eval(expr parser.Expr) (v Value, ws annotations.Annotations, err error) {
	ws, err = ev.run(func() { v = ev.cleanupMetricLabels(ev.eval(expr)) })
	if err != nil {
		v = nil
	}
	return v, ws, err
}

// EvalVector evaluates the instant-vector expression of an instant query (see evalVector).
func (ev *evaluator) EvalVector(expr parser.Expr) (v Vector, ws annotations.Annotations, err error) {
	ws, err = ev.run(func() { v = ev.evalVector(expr) })
	return v, ws, err
}

// EvalSteps evaluates the expression of a range query (see evalSteps).
func (ev *evaluator) EvalSteps(expr parser.Expr) (m StepMatrix, ws annotations.Annotations, err error) {
	ws, err = ev.run(func() { m = ev.evalSteps(expr) })
	return m, ws, err
}

// run runs f, turning the errors raised by panicking (ev.error) into an error.
func (ev *evaluator) run(f func()) (ws annotations.Annotations, err error) {
	if ev.annos == nil {
		ev.annos = &annotations.Annotations{}
	}
	defer func() {
		ws = *ev.annos
		r := recover()
		if r == nil {
			return
		}
		switch e := r.(type) {
		case runtime.Error:
			// A bug must not take the server down: fail the query, log the stack.
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			if ev.logger != nil {
				ev.logger.Error("runtime panic during query evaluation", "err", e, "stacktrace", string(buf))
			}
			err = fmt.Errorf("unexpected error: %w", e)
		case error:
			err = e
		default:
			err = fmt.Errorf("%v", e)
		}
	}()
	f()
	return nil, nil
}

// cleanupMetricLabels applies the delayed name removal at the end of the evaluation.
func (ev *evaluator) cleanupMetricLabels(v Value) Value {
	mat, ok := v.(Matrix)
	if !ok {
		return v
	}
	for i := range mat {
		if mat[i].dropName {
			mat[i].Metric = mat[i].Metric.DropReserved(schema.IsMetadataLabel)
		}
	}
	return ev.mergeSeriesWithSameLabelset(mat)
}

// mergeSeriesWithSameLabelset merges series that ended up with the same labels (after name
// removal or label_replace), failing if two of them have a point at the same step.
func (ev *evaluator) mergeSeriesWithSameLabelset(mat Matrix) Matrix {
	if len(mat) <= 1 {
		return mat
	}
	seen := make(map[uint64]int, len(mat))
	dup := false
	for i := range mat {
		h := mat[i].Metric.Hash()
		if _, ok := seen[h]; ok {
			dup = true
			break
		}
		seen[h] = i
	}
	if !dup {
		return mat
	}
	byHash := make(map[uint64]int, len(mat))
	merged := make(Matrix, 0, len(mat))
	for _, s := range mat {
		h := s.Metric.Hash()
		j, ok := byHash[h]
		if !ok {
			byHash[h] = len(merged)
			merged = append(merged, s)
			continue
		}
		base := &merged[j]
		if len(base.Histograms) > 0 || len(s.Histograms) > 0 {
			hs := make([]HPoint, 0, len(base.Histograms)+len(s.Histograms))
			hs = append(hs, base.Histograms...)
			hs = append(hs, s.Histograms...)
			slices.SortFunc(hs, func(a, b HPoint) int { return cmp.Compare(a.T, b.T) })
			for k := 1; k < len(hs); k++ {
				if hs[k].T == hs[k-1].T {
					ev.errorf("vector cannot contain metrics with the same labelset")
				}
			}
			for _, f := range append(slices.Clone(base.Floats), s.Floats...) {
				if _, found := slices.BinarySearchFunc(hs, f.T, func(h HPoint, t int64) int { return cmp.Compare(h.T, t) }); found {
					ev.errorf("vector cannot contain metrics with the same labelset")
				}
			}
			base.Histograms = hs
		}
		pts := make([]FPoint, 0, len(base.Floats)+len(s.Floats))
		pts = append(pts, base.Floats...)
		pts = append(pts, s.Floats...)
		slices.SortFunc(pts, func(a, b FPoint) int {
			switch {
			case a.T < b.T:
				return -1
			case a.T > b.T:
				return 1
			}
			return 0
		})
		for k := 1; k < len(pts); k++ {
			if pts[k].T == pts[k-1].T {
				ev.errorf("vector cannot contain metrics with the same labelset")
			}
		}
		base.Floats = pts
	}
	return merged
}

// eval evaluates expr over the evaluator's steps. Instant vectors and scalars come back as a
// Matrix with one point per step present; range vectors (instant queries only) as a Matrix of
// raw samples; string literals as String.
func (ev *evaluator) eval(expr parser.Expr) Value {
	ev.analysis.visits++
	ev.checkCtx()
	if ev.endTS < ev.startTS {
		return Matrix{}
	}
	switch e := expr.(type) {
	case *parser.AggregateExpr:
		return ev.evalAggregation(e)
	case *parser.Call:
		return ev.evalCall(e)
	case *parser.ParenExpr:
		return ev.eval(e.Expr)
	case *parser.UnaryExpr:
		mat := ev.eval(e.Expr).(Matrix)
		if e.Op == parser.SUB {
			for i := range mat {
				mat[i].dropName = true
				for j := range mat[i].Floats {
					mat[i].Floats[j].F = -mat[i].Floats[j].F
				}
				for j := range mat[i].Histograms {
					mat[i].Histograms[j].H = mat[i].Histograms[j].H.Copy().Mul(-1)
				}
			}
		}
		return mat
	case *parser.BinaryExpr:
		// Series-wise operations (vector op number) skip the per-step machinery.
		var mat Matrix
		if ev.stream(e, collect(&mat)) {
			return mat
		}
		return ev.evalBinary(e)
	case *parser.NumberLiteral:
		return ev.constant(e.Val)
	case *parser.StringLiteral:
		return String{V: e.Val, T: ev.startTS}
	case *parser.VectorSelector:
		var mat Matrix
		if e.Smoothed {
			ev.smoothedVectorSelector(e, collect(&mat))
		} else {
			ev.vectorSelector(e, collect(&mat))
		}
		return mat
	case *parser.MatrixSelector:
		if ev.startTS != ev.endTS {
			ev.errorf("cannot do range evaluation of matrix selector")
		}
		return ev.matrixSelector(e)
	case *parser.SubqueryExpr:
		// A subquery's result as such (an instant query's range vector): Prometheus counts the
		// inner evaluation's samples at the last step.
		mat, child := ev.runSubquery(e, 0, 0, false)
		ev.stats.add(ev.numSteps()-1, child.stats.total, false)
		return mat
	case *parser.StepInvariantExpr:
		return ev.eval(e.Expr)
	case *parser.DurationExpr:
		ev.errorf("unexpected duration expression %s", e)
	}
	ev.errorf("unhandled expression of type %T", expr)
	return nil
}

// collect returns an emit function that appends copies of the emitted series to mat. Emitted
// series' points are only valid during the emit call: producers reuse their buffers.
func collect(mat *Matrix) func(Series) {
	return func(s Series) {
		s.Floats = slices.Clone(s.Floats)
		s.Histograms = slices.Clone(s.Histograms)
		*mat = append(*mat, s)
	}
}

// constant returns a scalar with value v at every step.
func (ev *evaluator) constant(v float64) Matrix {
	n := ev.numSteps()
	ev.checkAlloc(n)
	pts := make([]FPoint, 0, min(n, maxPrealloc))
	for ts, step := ev.startTS, 0; ts <= ev.endTS; ts, step = ts+ev.interval, step+1 {
		ev.stepCheck(step, len(pts))
		pts = growPoints(pts, n)
		pts = append(pts, FPoint{T: ts, F: v})
	}
	ev.addSamples(n)
	return Matrix{{Metric: labels.EmptyLabels(), Floats: pts}}
}

// scalarValues evaluates a scalar expression to one value per step.
func (ev *evaluator) scalarValues(e parser.Expr) []float64 {
	mat := ev.eval(e).(Matrix)
	ev.checkAlloc(ev.numSteps() - mat.TotalSamples())
	vals := make([]float64, ev.numSteps())
	if len(mat) == 0 {
		return vals
	}
	for _, p := range mat[0].Floats {
		vals[(p.T-ev.startTS)/ev.interval] = p.F
	}
	return vals
}

// selectHints returns the storage hints and the reference times of the first and last step
// for a selector (the @ modifier pins both).
func (ev *evaluator) selectSeries(vs *parser.VectorSelector, rangeMs int64, fn string) storage.SeriesSet {
	refStart, refEnd := ev.startTS, ev.endTS
	if vs.Timestamp != nil {
		refStart, refEnd = *vs.Timestamp, *vs.Timestamp
	}
	off := vs.OriginalOffset.Milliseconds()
	hints := &storage.SelectHints{
		Start: refStart - off,
		End:   refEnd - off,
		Range: rangeMs,
		Func:  fn,
	}
	if ev.startTS != ev.endTS {
		hints.Step = ev.interval
	}
	if rangeMs == 0 {
		hints.Start -= ev.lookbackDelta - 1
		if vs.Smoothed {
			hints.End += ev.lookbackDelta
		}
	} else {
		hints.Start -= rangeMs - 1
		if vs.Anchored || vs.Smoothed {
			hints.Start -= ev.lookbackDelta
		}
		if vs.Smoothed {
			hints.End += ev.lookbackDelta
		}
	}
	ss := ev.querier.Select(ev.ctx, false, hints, vs.LabelMatchers...)
	if vs.SkipHistogramBuckets {
		ss = histogramStatsSeriesSet{ss}
	}
	return ss
}

func (ev *evaluator) seriesSetErr(ss storage.SeriesSet) {
	if err := ss.Err(); err != nil {
		if ctxErr := ev.ctx.Err(); ctxErr != nil {
			ev.error(contextErr(ctxErr, "expression evaluation"))
		}
		ev.error(ErrStorage{Err: fmt.Errorf("expanding series: %w", err)})
	}
}

// refTime returns the storage time a selector reads for evaluation step ts.
func refTime(ts int64, at *int64, offsetMs int64) int64 {
	if at != nil {
		return *at - offsetMs
	}
	return ts - offsetMs
}

// vectorSelector walks every selected series once and emits, per series, the value at each
// step: the newest sample in (ref-lookback, ref], unless that sample is a stale marker.
func (ev *evaluator) vectorSelector(vs *parser.VectorSelector, emit func(Series)) {
	ss := ev.selectSeries(vs, 0, "")
	off := vs.OriginalOffset.Milliseconds()
	buf := make([]FPoint, 0, ev.preallocSteps())
	var hbuf []HPoint
	var it storage.Iterator
	var cur sampleCursor
	for ss.Next() {
		ev.checkCtx()
		s := ss.At()
		it = s.Iterator(it)
		cur.reset(it)
		buf, hbuf = buf[:0], hbuf[:0]
		if vs.Timestamp != nil {
			// The @ modifier pins the lookup: compute it once and repeat it per step.
			if _, f, h, ok := cur.lookup(refTime(0, vs.Timestamp, off), ev.lookbackDelta); ok {
				for ts, step := ev.startTS, 0; ts <= ev.endTS; ts, step = ts+ev.interval, step+1 {
					ev.stepCheck(step, len(buf)+len(hbuf))
					if h != nil {
						hbuf = append(hbuf, HPoint{T: ts, H: h})
						continue
					}
					buf = growPoints(buf, ev.numSteps())
					buf = append(buf, FPoint{T: ts, F: f})
				}
			}
		} else {
			for ts, iter := ev.startTS, 0; ts <= ev.endTS; ts, iter = ts+ev.interval, iter+1 {
				ev.stepCheck(iter, len(buf)+len(hbuf))
				if _, f, h, ok := cur.lookup(ts-off, ev.lookbackDelta); ok {
					if h != nil {
						hbuf = append(hbuf, HPoint{T: ts, H: h})
						continue
					}
					buf = growPoints(buf, ev.numSteps())
					buf = append(buf, FPoint{T: ts, F: f})
					continue
				}
				// No value until the next sample: jump to the first step that reads it
				// (a 30d:1ms subquery over sparse data has billions of empty steps).
				next, more := cur.nextSample()
				if !more {
					break
				}
				if k := (next + off - ev.startTS + ev.interval - 1) / ev.interval; ev.startTS+k*ev.interval > ts+ev.interval {
					ts = ev.startTS + (k-1)*ev.interval
				}
			}
		}
		if err := it.Err(); err != nil {
			ev.error(ErrStorage{Err: fmt.Errorf("iterating series %s: %w", s.Labels(), err)})
		}
		if len(buf) == 0 && len(hbuf) == 0 {
			continue
		}
		ev.countSelected(buf, vs.Timestamp != nil)
		if len(hbuf) > 0 {
			ev.countSelectedHistograms(hbuf, vs.Timestamp != nil)
		}
		ev.addSamples(len(buf) + len(hbuf))
		emit(Series{Metric: s.Labels(), Floats: buf, Histograms: hbuf})
	}
	ev.seriesSetErr(ss)
}

// smoothedVectorSelector evaluates "metric smoothed": the value at each step is interpolated
// linearly between the samples around it (within the lookback delta on either side), or the
// last sample before it when there is none after.
func (ev *evaluator) smoothedVectorSelector(vs *parser.VectorSelector, emit func(Series)) {
	ss := ev.selectSeries(vs, 0, "")
	off := vs.OriginalOffset.Milliseconds()
	lb := ev.lookbackDelta
	buf := make([]FPoint, 0, ev.preallocSteps())
	var hbuf []HPoint
	var it storage.Iterator
	var w window
	for ss.Next() {
		ev.checkCtx()
		s := ss.At()
		it = s.Iterator(it)
		w.reset(it)
		buf, hbuf = buf[:0], hbuf[:0]
		for ts, step := ev.startTS, 0; ts <= ev.endTS; ts, step = ts+ev.interval, step+1 {
			ev.stepCheck(step, len(buf))
			dataTS := refTime(ts, vs.Timestamp, off)
			floats := w.slide(dataTS-lb, dataTS+lb)
			if hists := w.hists(); len(hists) > 0 {
				if len(floats) > 0 {
					ev.warn(annotations.NewMixedFloatsHistogramsWarning(s.Labels().Get(labels.MetricName), vs.PositionRange()))
					continue
				}
				if h := ev.smoothedHistogram(hists, dataTS, s.Labels().Get(labels.MetricName), vs.PositionRange()); h != nil {
					hbuf = append(hbuf, HPoint{T: ts, H: h})
				}
				continue
			}
			if len(floats) == 0 {
				continue
			}
			i := sort.Search(len(floats), func(i int) bool { return floats[i].T >= dataTS })
			switch {
			case i < len(floats) && floats[i].T == dataTS:
				buf = append(buf, FPoint{F: floats[i].F, T: ts})
			case i > 0 && i < len(floats):
				buf = append(buf, FPoint{F: interpolate(floats[i-1], floats[i], dataTS, false), T: ts})
			case i > 0:
				buf = append(buf, FPoint{F: floats[i-1].F, T: ts})
			}
		}
		if len(buf) == 0 && len(hbuf) == 0 {
			continue
		}
		// Prometheus counts no samples for a smoothed selector (its smoothSeries does not).
		ev.addSamples(len(buf) + len(hbuf))
		emit(Series{Metric: s.Labels(), Floats: buf, Histograms: hbuf})
	}
	ev.seriesSetErr(ss)
}

// smoothedHistogram is the histogram value of a smoothed selector at dataTS from the window's
// histograms, as upstream's smoothSeries computes it: the sample at dataTS, else interpolated
// between its neighbours (as a counter unless both are gauges), else the last one before with
// an unknown counter reset hint.
func (ev *evaluator) smoothedHistogram(hists []HPoint, dataTS int64, metricName string, pos posrange.PositionRange) *histogram.FloatHistogram {
	i := sort.Search(len(hists), func(i int) bool { return hists[i].T >= dataTS })
	switch {
	case i < len(hists) && hists[i].T == dataTS:
		return hists[i].H.Copy()
	case i > 0 && i < len(hists):
		prev, next := hists[i-1], hists[i]
		if prev.H.UsesCustomBuckets() != next.H.UsesCustomBuckets() {
			ev.warn(annotations.NewMixedExponentialCustomHistogramsWarning(metricName, pos))
			return nil
		}
		isCounter := prev.H.CounterResetHint != histogram.GaugeType || next.H.CounterResetHint != histogram.GaugeType
		h, err := upInterpolateHistograms(prev.H, prev.T, next.H, next.T, dataTS, isCounter, ev.annos, pos)
		if err != nil {
			upAnnosFromInterpolationError(ev.annos, err, metricName, pos)
			return nil
		}
		return h
	case i > 0:
		h := hists[i-1].H.Copy()
		h.CounterResetHint = histogram.UnknownCounterReset
		return h
	}
	return nil
}

// countSelected counts the points an instant selector produced for one series: one sample per
// step, read from storage once when the @ modifier pins them (Prometheus evaluates a
// step-invariant selector once and counts it at every step).
func (ev *evaluator) countSelected(pts []FPoint, pinned bool) {
	st := ev.stats
	if !st.perStep() {
		st.total += int64(len(pts))
		if pinned {
			st.read++
		} else {
			st.read += int64(len(pts))
		}
		return
	}
	for i, p := range pts {
		step := int((p.T - ev.startTS) / ev.interval)
		st.add(step, 1, !pinned)
		if pinned && i == 0 {
			st.addRead(0, 1)
		}
	}
}

// countSelectedHistograms counts the histogram points of an instant selector as countSelected
// does for floats.
// A histogram sample counts as (Size+8)/16 samples, as upstream's HPoint.size.
func (ev *evaluator) countSelectedHistograms(pts []HPoint, pinned bool) {
	st := ev.stats
	for i, p := range pts {
		n := int64(hpointSize(p.H))
		if !st.perStep() {
			st.total += n
			if !pinned || i == 0 {
				st.read += n
			}
			continue
		}
		step := int((p.T - ev.startTS) / ev.interval)
		st.add(step, n, !pinned)
		if pinned && i == 0 {
			st.addRead(0, n)
		}
	}
}

// hpointSize is the number of samples a histogram counts for (upstream's HPoint.size).
func hpointSize(h *histogram.FloatHistogram) int { return (h.Size() + 8) / 16 }

// hpointsSize is the sum of hpointSize over pts.
func hpointsSize(pts []HPoint) int {
	n := 0
	for _, p := range pts {
		n += hpointSize(p.H)
	}
	return n
}

// sampleCursor answers "newest sample at or before ref within the lookback" for increasing ref
// values, reading each sample at most once and seeking over gaps.
type sampleCursor struct {
	it      storage.Iterator
	wantST  bool // read start timestamps too (nst, pst)
	done    bool
	pending bool // nt/nf/nh hold the next unread sample (> last ref)
	nt      int64
	nf      float64
	nh      *histogram.FloatHistogram // non-nil: the next sample is a native histogram
	hasPrev bool
	pt      int64
	pf      float64
	ph      *histogram.FloatHistogram
	phOut   bool                      // ph was returned by lookup: it must not be reused
	spare   *histogram.FloatHistogram // a histogram read but never returned, to read into
	nst     int64
	pst     int64
}

// at reads the iterator's current sample of type vt into nt/nf/nh.
func (c *sampleCursor) at(vt storage.ValueType) {
	if vt == storage.ValFloat {
		c.nt, c.nf = c.it.At()
		c.nh = nil
		return
	}
	fh := c.spare
	if fh == nil {
		fh = &histogram.FloatHistogram{}
	}
	c.spare = nil
	c.nt, c.nh = c.it.AtFloatHistogram(fh)
	c.nf = 0
}

func (c *sampleCursor) reset(it storage.Iterator) {
	spare := c.spare
	if c.ph != nil && !c.phOut {
		spare = c.ph
	}
	*c = sampleCursor{it: it, spare: spare, wantST: c.wantST}
}

// st returns the start timestamp of the sample the last successful lookup returned (wantST).
func (c *sampleCursor) st() int64 { return c.pst }

func (c *sampleCursor) advance() {
	if c.done {
		c.pending = false
		return
	}
	if vt := c.it.Next(); vt != storage.ValNone {
		c.at(vt)
		if c.wantST {
			c.nst = c.it.AtST()
		}
		c.pending = true
		return
	}
	c.done, c.pending = true, false
}

// nextSample returns the timestamp of the next unread sample after a lookup, or false when the
// series has no more. A lookup that found nothing finds nothing for any ref before it: the newest
// sample at or before such a ref is the same one (absent, expired or a stale marker).
func (c *sampleCursor) nextSample() (int64, bool) {
	return c.nt, c.pending
}

func (c *sampleCursor) lookup(ref, lookback int64) (int64, float64, *histogram.FloatHistogram, bool) {
	if !c.pending && !c.done {
		c.advance()
	}
	minT := ref - lookback // exclusive
	if c.pending && c.nt <= minT {
		// Everything up to minT is irrelevant: jump over it.
		c.hasPrev = false
		if vt := c.it.SeekTo(minT + 1); vt != storage.ValNone {
			c.at(vt)
			if c.wantST {
				c.nst = c.it.AtST()
			}
			c.pending = true
		} else {
			c.done, c.pending = true, false
		}
	}
	for c.pending && c.nt <= ref {
		if c.ph != nil && !c.phOut && c.nh != nil {
			// Skipped without being returned: read the next histogram into it.
			c.spare = c.ph
		}
		c.hasPrev, c.pt, c.pf, c.ph, c.phOut, c.pst = true, c.nt, c.nf, c.nh, false, c.nst
		c.advance()
	}
	if !c.hasPrev || c.pt <= minT {
		return 0, 0, nil, false
	}
	if c.ph != nil {
		if value.IsStaleNaN(c.ph.Sum) {
			return 0, 0, nil, false
		}
		c.phOut = true
		return c.pt, 0, c.ph, true
	}
	if storage.IsStaleNaN(c.pf) {
		return 0, 0, nil, false
	}
	return c.pt, c.pf, nil, true
}

// window is a sliding window over one series' samples (stale markers dropped) for increasing
// ranges (lo, hi]. Each sample is read once, from a storage iterator or from an in-memory
// slice (subquery results). Native histogram samples go to a side buffer (hbuf), nil-cost for
// float series.
type window struct {
	it      storage.Iterator
	mem     []FPoint // in-memory source when it is nil
	hmem    []HPoint
	memPos  int
	hmemPos int
	buf     []FPoint
	head    int
	hbuf    []HPoint
	hhead   int
	done    bool
	pending bool
	nt      int64
	nf      float64
	nh      *histogram.FloatHistogram // the pending sample is a histogram
	// free holds histograms that left the window (read from storage), to read into again:
	// functions copy the histograms they keep. With recycle set, reset also frees the
	// window's histograms (the caller keeps none of them).
	free    []*histogram.FloatHistogram
	recycle bool
	// wantST keeps the samples' start timestamps in sts, parallel to buf (in-memory sources,
	// subquery results, have none: their start timestamps are 0).
	wantST bool
	sts    []int64
	hsts   []int64 // the same for hbuf
	nst    int64
}

func (w *window) reset(it storage.Iterator) {
	if w.recycle && w.it != nil {
		for _, p := range w.hbuf[w.hhead:] {
			w.free = append(w.free, p.H)
		}
	}
	w.it, w.mem, w.memPos = it, nil, 0
	w.hmem, w.hmemPos = nil, 0
	w.buf = w.buf[:0]
	w.sts, w.hsts = w.sts[:0], w.hsts[:0]
	w.head = 0
	clear(w.hbuf)
	w.hbuf, w.hhead = w.hbuf[:0], 0
	w.done = false
	w.pending = false
	w.nh = nil
}

func (w *window) resetSlice(pts []FPoint, hpts []HPoint) {
	w.reset(nil)
	w.mem, w.hmem = pts, hpts
}

// hists returns the histogram points of the window placed by the last slide.
func (w *window) hists() []HPoint { return w.hbuf[w.hhead:] }

func (w *window) nextMem() {
	fOK, hOK := w.memPos < len(w.mem), w.hmemPos < len(w.hmem)
	switch {
	case fOK && (!hOK || w.mem[w.memPos].T < w.hmem[w.hmemPos].T):
		w.nt, w.nf, w.nh = w.mem[w.memPos].T, w.mem[w.memPos].F, nil
		w.memPos++
		w.pending = true
	case hOK:
		w.nt, w.nf, w.nh = w.hmem[w.hmemPos].T, 0, w.hmem[w.hmemPos].H
		w.hmemPos++
		w.pending = true
	default:
		w.done, w.pending = true, false
	}
}

// at reads the iterator's current sample of type vt; false for a stale marker.
func (w *window) at(vt storage.ValueType) bool {
	if vt == storage.ValFloat {
		w.nt, w.nf = w.it.At()
		w.nh = nil
		return !storage.IsStaleNaN(w.nf)
	}
	var fh *histogram.FloatHistogram
	if n := len(w.free); n > 0 {
		fh, w.free = w.free[n-1], w.free[:n-1]
	} else {
		fh = &histogram.FloatHistogram{}
	}
	w.nt, w.nh = w.it.AtFloatHistogram(fh)
	w.nf = 0
	if value.IsStaleNaN(w.nh.Sum) {
		w.free = append(w.free, w.nh)
		return false
	}
	return true
}

func (w *window) next() {
	if w.it == nil {
		w.nst = 0
		w.nextMem()
		return
	}
	for vt := w.it.Next(); vt != storage.ValNone; vt = w.it.Next() {
		if !w.at(vt) {
			continue
		}
		if w.wantST {
			w.nst = w.it.AtST()
		}
		w.pending = true
		return
	}
	w.done, w.pending = true, false
}

// seek positions the source at the first sample with timestamp >= t.
func (w *window) seek(t int64) {
	w.pending = false
	if w.it == nil {
		w.memPos += sort.Search(len(w.mem)-w.memPos, func(i int) bool { return w.mem[w.memPos+i].T >= t })
		w.hmemPos += sort.Search(len(w.hmem)-w.hmemPos, func(i int) bool { return w.hmem[w.hmemPos+i].T >= t })
		w.next()
		return
	}
	vt := w.it.SeekTo(t)
	if vt == storage.ValNone {
		w.done = true
		return
	}
	if w.at(vt) {
		if w.wantST {
			w.nst = w.it.AtST()
		}
		w.pending = true
	} else {
		w.next()
	}
}

// slide moves the window to (lo, hi] and returns its float points (valid until the next
// call); hists returns its histogram points.
func (w *window) slide(lo, hi int64) []FPoint {
	// Drop points that fell out on the left.
	for w.head < len(w.buf) && w.buf[w.head].T <= lo {
		w.head++
	}
	for w.hhead < len(w.hbuf) && w.hbuf[w.hhead].T <= lo {
		if w.it != nil {
			w.free = append(w.free, w.hbuf[w.hhead].H)
		}
		w.hbuf[w.hhead].H = nil
		w.hhead++
	}
	if w.head == len(w.buf) && w.hhead == len(w.hbuf) {
		w.buf, w.sts, w.head = w.buf[:0], w.sts[:0], 0
		w.hbuf, w.hsts, w.hhead = w.hbuf[:0], w.hsts[:0], 0
		if !w.pending && !w.done {
			w.next()
		}
		if w.pending && w.nt <= lo {
			// Nothing buffered: seek instead of reading the gap.
			w.seek(lo + 1)
		}
	} else {
		if w.head > 1024 && w.head > len(w.buf)/2 {
			n := copy(w.buf, w.buf[w.head:])
			if w.wantST {
				copy(w.sts, w.sts[w.head:])
				w.sts = w.sts[:n]
			}
			w.buf, w.head = w.buf[:n], 0
		}
		if w.hhead > 64 && w.hhead > len(w.hbuf)/2 {
			n := copy(w.hbuf, w.hbuf[w.hhead:])
			clear(w.hbuf[n:])
			if w.wantST {
				copy(w.hsts, w.hsts[w.hhead:])
				w.hsts = w.hsts[:n]
			}
			w.hbuf, w.hhead = w.hbuf[:n], 0
		}
	}
	if !w.pending && !w.done {
		w.next()
	}
	for w.pending && w.nt <= hi {
		switch {
		case w.nt <= lo:
			if w.nh != nil && w.it != nil {
				w.free = append(w.free, w.nh)
			}
		case w.nh != nil:
			w.hbuf = append(w.hbuf, HPoint{T: w.nt, H: w.nh})
			if w.wantST {
				w.hsts = append(w.hsts, w.nst)
			}
		default:
			w.buf = append(w.buf, FPoint{T: w.nt, F: w.nf})
			if w.wantST {
				w.sts = append(w.sts, w.nst)
			}
		}
		w.next()
	}
	return w.buf[w.head:]
}

// startTimestamps returns the start timestamps of the points the window holds, parallel to what
// slide returned last; nil unless wantST.
func (w *window) startTimestamps() []int64 {
	if !w.wantST {
		return nil
	}
	return w.sts[w.head:]
}

// histStartTimestamps is startTimestamps for the histogram points (hists).
func (w *window) histStartTimestamps() []int64 {
	if !w.wantST {
		return nil
	}
	return w.hsts[w.hhead:]
}

// matrixSelector evaluates a range vector selector for an instant query: the raw samples in
// (t-range, t] per series.
func (ev *evaluator) matrixSelector(ms *parser.MatrixSelector) Matrix {
	vs := ms.VectorSelector.(*parser.VectorSelector)
	rangeMs := ms.Range.Milliseconds()
	off := vs.OriginalOffset.Milliseconds()
	maxt := refTime(ev.startTS, vs.Timestamp, off)
	mint := maxt - rangeMs
	lo, hi := mint, maxt
	switch {
	case vs.Anchored:
		lo -= ev.lookbackDelta
	case vs.Smoothed:
		lo -= ev.lookbackDelta
		hi += ev.lookbackDelta
	}
	ss := ev.selectSeries(vs, rangeMs, "")
	var it storage.Iterator
	var w window
	var mat Matrix
	for ss.Next() {
		ev.checkCtx()
		s := ss.At()
		it = s.Iterator(it)
		w.reset(it)
		pts := w.slide(lo, hi)
		hpts := slices.Clone(w.hists())
		if vs.Anchored || vs.Smoothed {
			pts = extendFloats(pts, mint, maxt, vs.Smoothed)
		}
		if len(pts) == 0 && len(hpts) == 0 {
			continue
		}
		ev.stats.add(0, int64(len(pts)+hpointsSize(hpts)), true)
		ev.addSamples(len(pts) + len(hpts))
		mat = append(mat, Series{Metric: s.Labels(), Floats: slices.Clone(pts), Histograms: hpts})
	}
	ev.seriesSetErr(ss)
	return mat
}

// subqueryTimeRange computes the child evaluator's steps for subquery e.
func (ev *evaluator) subqueryTimeRange(e *parser.SubqueryExpr) (start, end, interval int64) {
	offset := e.OriginalOffset.Milliseconds()
	rangeMs := e.Range.Milliseconds()
	outerStart, outerEnd := ev.startTS, ev.startTS+int64(ev.numSteps()-1)*ev.interval
	if e.Timestamp != nil {
		outerStart, outerEnd = *e.Timestamp, *e.Timestamp
	}
	end = outerEnd - offset
	if e.Step != 0 {
		interval = e.Step.Milliseconds()
	} else {
		interval = ev.noStepSubq(rangeMs)
	}
	// The first step is the first multiple of interval after (start - offset - range).
	first := outerStart - offset - rangeMs
	start = interval * (first / interval)
	if start <= first {
		start += interval
	}
	return start, end, interval
}

// subqueryEvaluator returns the child evaluator that runs a subquery's inner expression at
// the subquery's own steps. The samples it reads go straight to ev's counts (see
// readForwarder), with outerOffset, outerRange and pinned as for mergeRead.
func (ev *evaluator) subqueryEvaluator(e *parser.SubqueryExpr, outerOffset, outerRange int64, pinned bool) *evaluator {
	start, end, interval := ev.subqueryTimeRange(e)
	child := &evaluator{
		logger:         ev.logger,
		ctx:            ev.ctx,
		querier:        ev.querier,
		startTS:        start,
		endTS:          end,
		interval:       interval,
		lookbackDelta:  ev.lookbackDelta,
		noStepSubq:     ev.noStepSubq,
		maxSamples:     ev.maxSamples,
		currentSamples: ev.currentSamples,
		analysis:       ev.analysis,
		annos:          ev.annos,
		useST:          ev.useST,
	}
	// The child attributes the samples it reads to ev's steps as it reads them, rather than
	// keeping per-step arrays of its own: a subquery's steps are unbounded (30d:1ms is 2.6e9).
	child.stats = &sampleStats{forward: ev.readForwarder(child, outerOffset, outerRange, pinned)}
	return child
}

// runSubquery evaluates the inner expression of a subquery at its own steps. The caller merges
// the child's sample counts (see mergeSubqueryStats).
func (ev *evaluator) runSubquery(e *parser.SubqueryExpr, outerOffset, outerRange int64, pinned bool) (Matrix, *evaluator) {
	child := ev.subqueryEvaluator(e, outerOffset, outerRange, pinned)
	res := child.eval(e.Expr)
	ev.currentSamples = child.currentSamples
	ev.peakSamples = max(ev.peakSamples, child.peakSamples)
	mat, ok := res.(Matrix)
	if !ok {
		ev.errorf("subquery of %T", res)
	}
	return mat, child
}

// rangeSource describes one input series of a range-vector argument; its samples are in the
// window passed to forEachRangeSeries.
type rangeSource struct {
	metric       labels.Labels
	dropName     bool
	fromSubquery bool // samples read are counted by the subquery's evaluator
}

// forEachRangeSeries calls fn for every series of a range-vector argument (matrix selector or
// subquery) with an iterator over the series' samples.
func (ev *evaluator) forEachRangeSeries(arg parser.Expr, fnName string, w *window, fn func(src rangeSource)) {
	switch a := arg.(type) {
	case *parser.MatrixSelector:
		vs := a.VectorSelector.(*parser.VectorSelector)
		ss := ev.selectSeries(vs, a.Range.Milliseconds(), fnName)
		var it storage.Iterator
		for ss.Next() {
			ev.checkCtx()
			s := ss.At()
			it = s.Iterator(it)
			w.reset(it)
			fn(rangeSource{metric: s.Labels()})
			if err := it.Err(); err != nil {
				ev.error(ErrStorage{Err: fmt.Errorf("iterating series %s: %w", s.Labels(), err)})
			}
		}
		ev.seriesSetErr(ss)
	case *parser.SubqueryExpr:
		// When the inner expression can be produced series by series, feed each series to
		// fn as it comes instead of materializing the subquery's whole result.
		// The samples the subquery read go to the outer steps whose windows consume them.
		offset, rangeMs := a.OriginalOffset.Milliseconds(), a.Range.Milliseconds()
		pinned := a.Timestamp != nil
		child := ev.subqueryEvaluator(a, offset, rangeMs, pinned)
		if child.endTS >= child.startTS {
			streamed := child.stream(a.Expr, func(s Series) {
				w.resetSlice(s.Floats, subqueryHistograms(s.Histograms))
				fn(rangeSource{metric: s.Metric, dropName: s.dropName, fromSubquery: true})
				child.currentSamples -= len(s.Floats) // consumed, no longer held
			})
			ev.peakSamples = max(ev.peakSamples, child.peakSamples)
			if streamed {
				return
			}
		}
		mat, _ := ev.runSubquery(a, offset, rangeMs, pinned)
		for _, s := range mat {
			w.resetSlice(s.Floats, subqueryHistograms(s.Histograms))
			fn(rangeSource{metric: s.Metric, dropName: s.dropName, fromSubquery: true})
		}
		ev.currentSamples -= mat.TotalSamples()
	default:
		ev.errorf("expected range vector argument, got %T", arg)
	}
}

// subqueryHistograms returns a subquery's histogram points with "reset" and "not reset" hints
// made "unknown", as upstream's evalSubquery does: a subquery may skip the sample with the
// reset, or return it at several steps.
func subqueryHistograms(hs []HPoint) []HPoint {
	if len(hs) == 0 {
		return hs
	}
	out := make([]HPoint, len(hs))
	for i, hp := range hs {
		out[i] = hp
		switch hp.H.CounterResetHint {
		case histogram.NotCounterReset, histogram.CounterReset:
			h := *hp.H // a shallow copy: only the hint changes
			h.CounterResetHint = histogram.UnknownCounterReset
			out[i].H = &h
		}
	}
	return out
}

// rangeArgParams describes the window placement of a range-vector argument.
type rangeArgParams struct {
	rangeMs  int64
	offset   int64
	at       *int64
	anchored bool
	smoothed bool
}

func rangeParams(arg parser.Expr) rangeArgParams {
	switch a := arg.(type) {
	case *parser.MatrixSelector:
		vs := a.VectorSelector.(*parser.VectorSelector)
		return rangeArgParams{
			rangeMs: a.Range.Milliseconds(), offset: vs.OriginalOffset.Milliseconds(), at: vs.Timestamp,
			anchored: vs.Anchored, smoothed: vs.Smoothed,
		}
	case *parser.SubqueryExpr:
		return rangeArgParams{rangeMs: a.Range.Milliseconds(), offset: a.OriginalOffset.Milliseconds(), at: a.Timestamp}
	}
	return rangeArgParams{}
}

var (
	anchoredSafeFunctions = []string{"changes", "delta", "increase", "rate", "resets"}
	smoothedSafeFunctions = []string{"delta", "increase", "rate"}
)

// evalRangeFunction evaluates a function whose argument matrixArg is a range vector, one
// series at a time: the window slides over the series' samples as the steps advance.
func (ev *evaluator) evalRangeFunction(e *parser.Call, matrixArg int, emit func(Series)) {
	name := e.Func.Name
	fn := rangeFunctions[name]
	if fn == nil {
		ev.errorf("function %q is not supported", name)
	}
	p := rangeParams(e.Args[matrixArg])
	switch {
	case p.anchored && !slices.Contains(anchoredSafeFunctions, name):
		ev.errorf("anchored modifier can only be used with: %s - not with %s", strings.Join(anchoredSafeFunctions, ", "), name)
	case p.smoothed && !slices.Contains(smoothedSafeFunctions, name):
		ev.errorf("smoothed modifier can only be used with: %s - not with %s", strings.Join(smoothedSafeFunctions, ", "), name)
	}
	// Scalar parameters, one value per step.
	params := make([][]float64, len(e.Args))
	for i, a := range e.Args {
		if i != matrixArg && ev.exprType(a) == parser.ValueTypeScalar {
			params[i] = ev.scalarValues(a)
		}
	}
	n := ev.numSteps()
	dropName := name != "last_over_time" && name != "first_over_time"
	call := &rangeCall{ev: ev, e: e, params: make([]float64, len(e.Args)), p: p, pos: e.Args[matrixArg].PositionRange()}
	out := make([]FPoint, 0, min(n, maxPrealloc))
	var hout []HPoint
	w := window{recycle: true}
	hb := ev.newHistRangeBridge(e, matrixArg)
	// The consumer does not keep the result histograms past emit: they are recycled.
	borrow := ev.histBorrow
	ev.histBorrow = false
	// As upstream, only these functions read start timestamps, and only from storage:
	// subqueries cut their propagation.
	w.wantST = ev.useST && stFunctions[name]
	checkCounter := name == "rate" || name == "increase"
	// The possible-non-counter annotation is one per metric name: made once per name in a row,
	// not once per series (the annotations are a set keyed by their text anyway).
	lastWarned := ""
	st := ev.stats
	ev.forEachRangeSeries(e.Args[matrixArg], name, &w, func(src rangeSource) {
		out, hout = out[:0], hout[:0]
		call.metric = src.metric
		hb.startSeries()
		step := 0
		prevWindow := 0
		for ts := ev.startTS; ts <= ev.endTS; ts, step = ts+ev.interval, step+1 {
			ev.stepCheck(step, len(out))
			for i := range params {
				if params[i] != nil {
					call.params[i] = params[i][step]
				}
			}
			ref := refTime(ts, p.at, p.offset)
			lo, hi := ref-p.rangeMs, ref
			switch {
			case p.anchored:
				lo -= ev.lookbackDelta
			case p.smoothed:
				lo -= ev.lookbackDelta
				hi += ev.lookbackDelta
			}
			var pts []FPoint
			if p.at == nil || step == 0 {
				pts = w.slide(lo, hi)
			} else {
				pts = w.buf[w.head:]
			}
			hpts := w.hists()
			ev.addSamples(len(pts) + len(hpts) - prevWindow)
			prevWindow = len(pts) + len(hpts)
			if len(hpts) > 0 {
				// Native histograms in the window: upstream's function computes the step.
				call.ts, call.rangeStart, call.rangeEnd = ts, ref-p.rangeMs, ref
				// Prometheus's counts, a histogram weighing its size: the whole window at
				// every step; read, the first window and then what is new.
				size := len(pts) + hpointsSize(hpts)
				if st.perStep() {
					st.add(step, int64(size), false)
				} else {
					st.total += int64(size)
				}
				if !src.fromSubquery && (step == 0 || p.at == nil) {
					read := size
					if step > 0 {
						// Only what the previous step's window did not hold.
						k := sort.Search(len(hpts), func(i int) bool { return hpts[i].T > hi-ev.interval })
						read = len(pts) - sort.Search(len(pts), func(i int) bool { return pts[i].T > hi-ev.interval }) + hpointsSize(hpts[k:])
					}
					if st.perStep() {
						st.addRead(step, int64(read))
					} else {
						st.read += int64(read)
					}
				}
				// With @ every step computes the same window: its annotations count once, as
				// upstream evaluates a step-invariant expression once.
				call.repeat = p.at != nil && step > 0
				var fsts, hsts []int64
				if w.wantST && !src.fromSubquery {
					fsts, hsts = w.startTimestamps(), w.histStartTimestamps()
				}
				if f, h, ok := hb.call(call, src.metric, pts, hpts, fsts, hsts); ok {
					if h != nil {
						hout = append(hout, HPoint{T: ts, H: h})
					} else {
						out = growPoints(out, n)
						out = append(out, FPoint{T: ts, F: f})
					}
				}
				continue
			}
			if len(pts) == 0 {
				continue
			}
			// Prometheus's counts: the whole window at every step; read from storage, the
			// whole window at the first step and then what the previous window did not hold.
			read := 0
			if !src.fromSubquery && (step == 0 || p.at == nil) {
				read = len(pts)
				if step > 0 {
					read -= sort.Search(len(pts), func(i int) bool { return pts[i].T > hi-ev.interval })
				}
			}
			if st.perStep() {
				st.add(step, int64(len(pts)), false)
				st.addRead(step, int64(read))
			} else {
				st.total += int64(len(pts))
				st.read += int64(read)
			}
			call.ts, call.rangeStart, call.rangeEnd = ts, ref-p.rangeMs, ref
			call.sts, call.repeat = nil, p.at != nil && step > 0
			if w.wantST && !src.fromSubquery {
				call.sts = w.startTimestamps()
			}
			if v, ok := fn(call, pts); ok {
				out = growPoints(out, n)
				out = append(out, FPoint{T: ts, F: v})
			}
		}
		ev.currentSamples -= prevWindow
		if len(out) == 0 && len(hout) == 0 {
			return
		}
		ev.addSamples(len(out) + len(hout))
		if checkCounter && len(out) > 0 {
			metricName := src.metric.Get(labels.MetricName)
			if metricName != "" && metricName != lastWarned && !strings.HasSuffix(metricName, "_total") && !strings.HasSuffix(metricName, "_sum") &&
				!strings.HasSuffix(metricName, "_count") && !strings.HasSuffix(metricName, "_bucket") {
				ev.warn(annotations.NewPossibleNonCounterInfo(metricName, e.Args[0].PositionRange()))
				lastWarned = metricName
			}
		}
		emit(Series{Metric: src.metric, Floats: out, Histograms: hout, dropName: dropName || src.dropName})
		if borrow {
			hb.recycle(hout)
			clear(hout)
		}
	})
}

// evalCall evaluates a function call.
func (ev *evaluator) evalCall(e *parser.Call) Value {
	name := e.Func.Name
	switch name {
	case "label_replace":
		return ev.evalLabelReplace(e.Args)
	case "label_join":
		return ev.evalLabelJoin(e.Args)
	case "info":
		return ev.evalInfo(e.Args)
	case "timestamp":
		if vs, ok := unwrapParens(e.Args[0]).(*parser.VectorSelector); ok {
			return ev.evalTimestampOfSelector(vs, false)
		}
	case "start_timestamp":
		// As upstream: only a selector given directly has start timestamps; over any other
		// expression (and without UseStartTimestamps) the result is empty.
		if vs, ok := e.Args[0].(*parser.VectorSelector); ok && ev.useST {
			return ev.evalTimestampOfSelector(vs, true)
		}
	}
	if _, ok := pointwiseFunctions[name]; ok || nativeHistogramFunctions[name] {
		var mat Matrix
		if ev.stream(e, collect(&mat)) {
			return mat
		}
	}
	for i, a := range e.Args {
		switch unwrapParens(a).(type) {
		case *parser.MatrixSelector, *parser.SubqueryExpr:
			e.Args[i] = unwrapParens(a)
			var mat Matrix
			ev.evalRangeFunction(e, i, collect(&mat))
			if name == "absent_over_time" {
				return ev.absentOverTime(e, mat)
			}
			return mat
		}
	}
	fn := instantFunctions[name]
	if fn == nil {
		ev.errorf("function %q is not supported", name)
	}
	if (name == "sort" || name == "sort_desc" || name == "sort_by_label" || name == "sort_by_label_desc") && ev.startTS != ev.endTS {
		ev.warn(annotations.NewSortInRangeQueryWarning(e.PositionRange()))
	}
	// Steps whose input holds native histograms run upstream's implementation.
	upFn := upFunctionCalls[name]
	var uenh *upEvalNodeHelper
	return ev.rangeEval(nil, func(v []Vector, enh *evalNodeHelper) Vector {
		if upFn != nil && (nativeHistogramFunctions[name] || hasHistograms(v)) {
			if uenh == nil {
				uenh = &upEvalNodeHelper{enableDelayedNameRemoval: true}
			}
			uenh.Ts, uenh.Out = enh.Ts, uenh.Out[:0]
			out, annos := upFn(v, nil, e.Args, uenh)
			ev.annos.Merge(annos)
			uenh.Out = out
			return out
		}
		return fn(ev, v, e.Args, enh)
	}, e.Args...)
}

// nativeHistogramFunctions only read native histograms.
var nativeHistogramFunctions = map[string]bool{
	"histogram_count": true, "histogram_sum": true, "histogram_avg": true,
	"histogram_stddev": true, "histogram_stdvar": true,
}

// hasHistograms tells whether any of the vectors holds a native histogram sample.
func hasHistograms(vs []Vector) bool {
	for _, v := range vs {
		for i := range v {
			if v[i].H != nil {
				return true
			}
		}
	}
	return false
}

func unwrapParens(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// absentOverTime turns the per-series presence computed by evalRangeFunction into the single
// series absent_over_time returns: 1 at the steps where no series had samples.
func (ev *evaluator) absentOverTime(e *parser.Call, mat Matrix) Matrix {
	steps := ev.numSteps()
	found := make(map[int64]struct{}, steps)
	for _, s := range mat {
		if len(s.Floats) == steps {
			return Matrix{}
		}
		for _, p := range s.Floats {
			found[p.T] = struct{}{}
		}
	}
	if len(found) == steps {
		return Matrix{}
	}
	ev.checkAlloc(steps - len(found))
	pts := make([]FPoint, 0, steps-len(found))
	for ts, step := ev.startTS, 0; ts <= ev.endTS; ts, step = ts+ev.interval, step+1 {
		ev.stepCheck(step, len(pts))
		if _, ok := found[ts]; !ok {
			pts = append(pts, FPoint{T: ts, F: 1})
		}
	}
	return Matrix{{Metric: createLabelsForAbsentFunction(e.Args[0]), Floats: pts, dropName: true}}
}

// evalTimestampOfSelector implements timestamp(selector): the timestamp of the sample the
// selector picks, rather than of the evaluation step; with start, start_timestamp(selector):
// that sample's start timestamp (0 when it has none).
func (ev *evaluator) evalTimestampOfSelector(vs *parser.VectorSelector, start bool) Matrix {
	fn := "timestamp"
	if start {
		fn = "start_timestamp"
	}
	ss := ev.selectSeries(vs, 0, fn)
	off := vs.OriginalOffset.Milliseconds()
	var it storage.Iterator
	cur := sampleCursor{wantST: start}
	value := func(t int64) float64 {
		if start {
			return float64(cur.st()) / 1000
		}
		return float64(t) / 1000
	}
	var mat Matrix
	buf := make([]FPoint, 0, ev.preallocSteps())
	for ss.Next() {
		ev.checkCtx()
		s := ss.At()
		it = s.Iterator(it)
		cur.reset(it)
		buf = buf[:0]
		if vs.Timestamp != nil {
			if t, _, _, ok := cur.lookup(*vs.Timestamp-off, ev.lookbackDelta); ok {
				v := value(t)
				for ts, step := ev.startTS, 0; ts <= ev.endTS; ts, step = ts+ev.interval, step+1 {
					ev.stepCheck(step, len(buf))
					buf = append(buf, FPoint{T: ts, F: v})
				}
			}
		} else {
			for ts, step := ev.startTS, 0; ts <= ev.endTS; ts, step = ts+ev.interval, step+1 {
				ev.stepCheck(step, len(buf))
				if t, _, _, ok := cur.lookup(ts-off, ev.lookbackDelta); ok {
					buf = append(buf, FPoint{T: ts, F: value(t)})
				}
			}
		}
		if len(buf) == 0 {
			continue
		}
		ev.countSelected(buf, vs.Timestamp != nil)
		ev.addSamples(len(buf))
		mat = append(mat, Series{Metric: s.Labels(), Floats: slices.Clone(buf), dropName: true})
	}
	ev.seriesSetErr(ss)
	return mat
}

// evalNodeHelper carries per-node state and buffers across the steps of rangeEval.
type evalNodeHelper struct {
	Ts  int64
	Out Vector

	lb     *labels.Builder
	lblBuf []byte

	// Binary operations.
	numSigs            int
	rightSigs          []Sample
	sigsPresent        []bool
	matchedSigs        []map[uint64]struct{}
	matchedSigsPresent []bool
	resultMetric       map[string]labels.Labels
	lblResultBuf       []byte

	// histogram_quantile on classic buckets.
	signatureToMetricWithBuckets  map[string]*metricWithBuckets
	quantileStrs                  map[float64]string
	signatureToLabelsWithQuantile map[string]map[float64]labels.Labels
}

func (enh *evalNodeHelper) resetBuilder(lbls labels.Labels) {
	if enh.lb == nil {
		enh.lb = labels.NewBuilder(lbls)
	} else {
		enh.lb.Reset(lbls)
	}
}

// seriesHelper holds the join signature ordinal of an input series of a binary operation.
type seriesHelper struct{ sigOrdinal int }

// rangeEval evaluates exprs and calls f once per step with their values at that step,
// assembling the returned vectors into series. With matching set, each input series' join
// signature is computed once up front (not per step).
func (ev *evaluator) rangeEval(matching *parser.VectorMatching, f func([]Vector, *evalNodeHelper) Vector, exprs ...parser.Expr) Matrix {
	return ev.rangeEvalHelpers(matching, func(v []Vector, _ [][]seriesHelper, enh *evalNodeHelper) Vector {
		return f(v, enh)
	}, exprs...)
}

func (ev *evaluator) rangeEvalHelpers(matching *parser.VectorMatching, f func([]Vector, [][]seriesHelper, *evalNodeHelper) Vector, exprs ...parser.Expr) Matrix {
	numSteps := ev.numSteps()
	matrixes := make([]Matrix, len(exprs))
	origNumSamples := ev.currentSamples
	for i, e := range exprs {
		if e == nil || ev.exprType(e) == parser.ValueTypeString {
			continue
		}
		matrixes[i] = ev.eval(e).(Matrix)
	}
	vectors := make([]Vector, len(exprs))
	biggest := 1
	for i := range exprs {
		vectors[i] = make(Vector, 0, len(matrixes[i]))
		biggest = max(biggest, len(matrixes[i]))
	}
	enh := &evalNodeHelper{Out: make(Vector, 0, biggest)}

	var seriesHelpers, bufHelpers [][]seriesHelper
	if matching != nil {
		seriesHelpers = make([][]seriesHelper, len(exprs))
		bufHelpers = make([][]seriesHelper, len(exprs))
		names := slices.Clone(matching.MatchingLabels)
		var sigf func(labels.Labels) string
		buf := make([]byte, 0, 1024)
		if matching.On {
			slices.Sort(names)
			sigf = func(l labels.Labels) string { return string(l.BytesWithLabels(buf, names...)) }
		} else {
			names = append([]string{labels.MetricName}, names...)
			slices.Sort(names)
			sigf = func(l labels.Labels) string { return string(l.BytesWithoutLabels(buf, names...)) }
		}
		sigToOrdinal := map[string]int{}
		for i := range exprs {
			seriesHelpers[i] = make([]seriesHelper, len(matrixes[i]))
			bufHelpers[i] = make([]seriesHelper, 0, len(matrixes[i]))
			for si, s := range matrixes[i] {
				sig := sigf(s.Metric)
				ord, ok := sigToOrdinal[sig]
				if !ok {
					ord = enh.numSigs
					sigToOrdinal[sig] = ord
					enh.numSigs++
				}
				seriesHelpers[i][si] = seriesHelper{sigOrdinal: ord}
			}
		}
	}

	type outSeries struct {
		idx int   // index into out
		ts  int64 // last step written
	}
	seriess := make(map[uint64]outSeries, biggest)
	var out Matrix
	var (
		prevMetric []labels.Labels
		prevHash   []uint64
	)
	tempNumSamples := ev.currentSamples
	for ts := ev.startTS; ts <= ev.endTS; ts += ev.interval {
		ev.checkCtx()
		ev.currentSamples = tempNumSamples
		for i := range exprs {
			var sh []seriesHelper
			if matching != nil {
				sh = seriesHelpers[i]
				bufHelpers[i] = bufHelpers[i][:0]
			}
			var bh []seriesHelper
			if matching != nil {
				bh = bufHelpers[i]
			}
			vectors[i], bh = ev.gatherVector(ts, matrixes[i], vectors[i], bh, sh)
			if matching != nil {
				bufHelpers[i] = bh
			}
		}
		enh.Ts = ts
		result := f(vectors, bufHelpers, enh)
		enh.Out = result[:0]
		ev.addSamples(len(result))
		tempNumSamples += len(result)

		if ev.startTS == ev.endTS {
			mat := make(Matrix, len(result))
			for i, s := range result {
				if s.H != nil {
					mat[i] = Series{Metric: s.Metric, Histograms: []HPoint{{T: ts, H: s.H}}, dropName: s.dropName}
					continue
				}
				mat[i] = Series{Metric: s.Metric, Floats: []FPoint{{T: ts, F: s.F}}, dropName: s.dropName}
			}
			ev.currentSamples = origNumSamples + len(mat)
			return mat
		}
		for i, s := range result {
			// Output positions are usually stable across steps: reuse the previous step's hash
			// when the labels are the same (a pointer comparison for unchanged labels).
			var h uint64
			if i < len(prevMetric) && labels.Equal(prevMetric[i], s.Metric) {
				h = prevHash[i]
			} else {
				h = s.Metric.Hash()
				if i < len(prevMetric) {
					prevMetric[i], prevHash[i] = s.Metric, h
				} else {
					prevMetric, prevHash = append(prevMetric, s.Metric), append(prevHash, h)
				}
			}
			os, ok := seriess[h]
			if ok {
				if os.ts == ts {
					ev.errorf("vector cannot contain metrics with the same labelset")
				}
			} else {
				os.idx = len(out)
				ser := Series{Metric: s.Metric, dropName: s.dropName}
				if s.H == nil {
					ser.Floats = make([]FPoint, 0, min(numSteps, maxPrealloc))
				}
				out = append(out, ser)
			}
			os.ts = ts
			if s.H != nil {
				out[os.idx].Histograms = append(out[os.idx].Histograms, HPoint{T: ts, H: s.H})
			} else {
				out[os.idx].Floats = append(growPoints(out[os.idx].Floats, numSteps), FPoint{T: ts, F: s.F})
			}
			seriess[h] = os
		}
	}
	ev.currentSamples = origNumSamples + out.TotalSamples()
	return out
}

// gatherVector collects the points of input at step ts into output, consuming them.
func (ev *evaluator) gatherVector(ts int64, input Matrix, output Vector, bufHelpers, seriesHelpers []seriesHelper) (Vector, []seriesHelper) {
	output = output[:0]
	for i := range input {
		s := &input[i]
		switch {
		case len(s.Floats) > 0 && s.Floats[0].T == ts:
			output = append(output, Sample{Metric: s.Metric, F: s.Floats[0].F, T: ts, dropName: s.dropName})
			s.Floats = s.Floats[1:]
		case len(s.Histograms) > 0 && s.Histograms[0].T == ts:
			output = append(output, Sample{Metric: s.Metric, H: s.Histograms[0].H, T: ts, dropName: s.dropName})
			s.Histograms = s.Histograms[1:]
		default:
			continue
		}
		if len(seriesHelpers) > 0 {
			bufHelpers = append(bufHelpers, seriesHelpers[i])
		}
	}
	return output, bufHelpers
}

// evalLabelReplace implements label_replace, which works on series rather than samples.
func (ev *evaluator) evalLabelReplace(args parser.Expressions) Value {
	var (
		dst      = stringFromArg(args[1])
		repl     = stringFromArg(args[2])
		src      = stringFromArg(args[3])
		regexStr = stringFromArg(args[4])
	)
	regex, err := compileAnchoredRegexp(regexStr)
	if err != nil {
		ev.errorf("invalid regular expression in label_replace(): %s", regexStr)
	}
	if !model.UTF8Validation.IsValidLabelName(dst) {
		ev.errorf("invalid destination label name in label_replace(): %s", dst)
	}
	mat := ev.eval(args[0]).(Matrix)
	lb := labels.NewBuilder(labels.EmptyLabels())
	for i, el := range mat {
		srcVal := el.Metric.Get(src)
		indexes := regex.FindStringSubmatchIndex(srcVal)
		if indexes == nil {
			continue
		}
		res := regex.ExpandString([]byte{}, repl, srcVal, indexes)
		lb.Reset(el.Metric)
		lb.Set(dst, string(res))
		mat[i].Metric = lb.Labels()
		if dst == model.MetricNameLabel {
			mat[i].dropName = false
		}
	}
	return ev.mergeSeriesWithSameLabelset(mat)
}

// evalLabelJoin implements label_join.
func (ev *evaluator) evalLabelJoin(args parser.Expressions) Value {
	var (
		dst       = stringFromArg(args[1])
		sep       = stringFromArg(args[2])
		srcLabels = make([]string, len(args)-3)
	)
	for i := 3; i < len(args); i++ {
		src := stringFromArg(args[i])
		if !model.UTF8Validation.IsValidLabelName(src) {
			ev.errorf("invalid source label name in label_join(): %s", src)
		}
		srcLabels[i-3] = src
	}
	if !model.UTF8Validation.IsValidLabelName(dst) {
		ev.errorf("invalid destination label name in label_join(): %s", dst)
	}
	mat := ev.eval(args[0]).(Matrix)
	srcVals := make([]string, len(srcLabels))
	lb := labels.NewBuilder(labels.EmptyLabels())
	for i, el := range mat {
		for j, src := range srcLabels {
			srcVals[j] = el.Metric.Get(src)
		}
		lb.Reset(el.Metric)
		lb.Set(dst, strings.Join(srcVals, sep))
		mat[i].Metric = lb.Labels()
		if dst == model.MetricNameLabel {
			mat[i].dropName = false
		}
	}
	return ev.mergeSeriesWithSameLabelset(mat)
}
