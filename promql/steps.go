package promql

import (
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/schema"
)

// evalSteps evaluates the expression of a range query into a StepMatrix. Expressions that can
// be produced series by series are streamed straight into it, so that the result is the only
// copy of the output held; the others are evaluated to a Matrix whose series are converted and
// released one by one.
func (ev *evaluator) evalSteps(expr parser.Expr) StepMatrix {
	b := stepBuilder{m: StepMatrix{Start: ev.startTS, Step: ev.interval, Steps: ev.numSteps()}}
	if !ev.stream(expr, b.add) {
		mat := ev.eval(expr).(Matrix)
		for i := range mat {
			b.add(mat[i])
			mat[i].Floats = nil
		}
	}
	sortStart := time.Now()
	ev.sortAndMerge(&b.m)
	ev.sortTime = time.Since(sortStart)
	return b.m
}

// stepBuilder copies emitted series into a StepMatrix (emitted points are only valid during
// the call), applying the delayed name removal.
type stepBuilder struct {
	m     StepMatrix
	used  int       // floats handed out
	arena []float64 // the rest of the current arena
}

const (
	// Once a result holds arenaAfter floats, values come from 64 KiB arenas rather than one
	// allocation per series: a series of 241 steps (1,928 bytes) would take a 2,048-byte size
	// class, 6% more; an arena loses at most one series' worth at its end.
	arenaFloats = 8192
	arenaAfter  = 2 * arenaFloats
)

// values returns n zeroed floats for a series.
func (b *stepBuilder) values(n int) []float64 {
	b.used += n
	if b.used <= arenaAfter || n > arenaFloats/8 {
		return make([]float64, n)
	}
	if len(b.arena) < n {
		b.arena = make([]float64, arenaFloats)
	}
	v := b.arena[:n:n]
	b.arena = b.arena[n:]
	return v
}

func (b *stepBuilder) add(s Series) {
	if len(s.Histograms) > 0 {
		b.addWithHistograms(s)
		return
	}
	if len(s.Floats) == 0 {
		return
	}
	step := b.m.Step
	first := int((s.Floats[0].T - b.m.Start) / step)
	n := int((s.Floats[len(s.Floats)-1].T-b.m.Start)/step) - first + 1
	ss := StepSeries{Metric: s.Metric, First: first, Values: b.values(n)}
	if s.dropName {
		ss.Metric = s.Metric.DropReserved(schema.IsMetadataLabel)
	}
	if len(s.Floats) == n {
		for i, p := range s.Floats {
			ss.Values[i] = p.F
		}
	} else {
		ss.Absent = make([]uint64, (n+63)/64)
		for i := range n {
			ss.Absent[i/64] |= 1 << (i % 64)
		}
		for _, p := range s.Floats {
			i := int((p.T-b.m.Start)/step) - first
			ss.Values[i] = p.F
			ss.Absent[i/64] &^= 1 << (i % 64)
		}
	}
	b.m.Series = append(b.m.Series, ss)
}

// addWithHistograms adds a series that has histogram points: they go to the Histograms side
// column, the floats to Values as in add.
func (b *stepBuilder) addWithHistograms(s Series) {
	step := b.m.Step
	minT, maxT := s.Histograms[0].T, s.Histograms[len(s.Histograms)-1].T
	if len(s.Floats) > 0 {
		minT, maxT = min(minT, s.Floats[0].T), max(maxT, s.Floats[len(s.Floats)-1].T)
	}
	first := int((minT - b.m.Start) / step)
	n := int((maxT-b.m.Start)/step) - first + 1
	ss := StepSeries{Metric: s.Metric, First: first, Values: b.values(n), Histograms: make([]*histogram.FloatHistogram, n)}
	if s.dropName {
		ss.Metric = s.Metric.DropReserved(schema.IsMetadataLabel)
	}
	if len(s.Floats)+len(s.Histograms) != n {
		ss.Absent = make([]uint64, (n+63)/64)
		for i := range n {
			ss.Absent[i/64] |= 1 << (i % 64)
		}
	}
	for _, p := range s.Floats {
		i := int((p.T-b.m.Start)/step) - first
		ss.Values[i] = p.F
		if ss.Absent != nil {
			ss.Absent[i/64] &^= 1 << (i % 64)
		}
	}
	for _, p := range s.Histograms {
		i := int((p.T-b.m.Start)/step) - first
		ss.Histograms[i] = p.H
		if ss.Absent != nil {
			ss.Absent[i/64] &^= 1 << (i % 64)
		}
	}
	b.m.Series = append(b.m.Series, ss)
}

// sortAndMerge sorts the series by labels and merges series that ended up with the same labels
// (after name removal), failing if two of them have a point at the same step, as
// mergeSeriesWithSameLabelset does for a Matrix. Sorted, such series are neighbours: no map
// of the whole result is needed.
func (ev *evaluator) sortAndMerge(m *StepMatrix) {
	slices.SortFunc(m.Series, func(a, b StepSeries) int { return labels.Compare(a.Metric, b.Metric) })
	out := m.Series[:0]
	for i := range m.Series {
		if n := len(out); n > 0 && labels.Equal(out[n-1].Metric, m.Series[i].Metric) {
			out[n-1] = ev.mergeStepSeries(&out[n-1], &m.Series[i])
			continue
		}
		out = append(out, m.Series[i])
	}
	clear(m.Series[len(out):])
	m.Series = out
}

func (ev *evaluator) mergeStepSeries(a, b *StepSeries) StepSeries {
	first := min(a.First, b.First)
	last := max(a.First+len(a.Values), b.First+len(b.Values)) - 1
	n := last - first + 1
	out := StepSeries{Metric: a.Metric, First: first, Values: make([]float64, n), Absent: make([]uint64, (n+63)/64)}
	if a.Histograms != nil || b.Histograms != nil {
		out.Histograms = make([]*histogram.FloatHistogram, n)
	}
	for i := range n {
		out.Absent[i/64] |= 1 << (i % 64)
	}
	for _, s := range []*StepSeries{a, b} {
		for j, v := range s.Values {
			if !s.Has(j) {
				continue
			}
			i := s.First + j - first
			if out.Has(i) {
				ev.errorf("vector cannot contain metrics with the same labelset")
			}
			out.Values[i] = v
			if s.Histograms != nil {
				out.Histograms[i] = s.Histograms[j]
			}
			out.Absent[i/64] &^= 1 << (i % 64)
		}
	}
	if out.Len() == n {
		out.Absent = nil
	}
	return out
}

// evalVector evaluates the expression of an instant query returning an instant vector.
// Streamable expressions are streamed straight into the Vector (no intermediate Matrix); the
// others are evaluated to a Matrix converted series by series. Series that end up with the same
// labels after the delayed name removal fail the query, as in mergeSeriesWithSameLabelset.
func (ev *evaluator) evalVector(expr parser.Expr) Vector {
	var vec Vector
	dropped := false
	add := func(s Series) {
		if len(s.Floats) == 0 && len(s.Histograms) == 0 {
			return
		}
		m := s.Metric
		if s.dropName {
			m = m.DropReserved(schema.IsMetadataLabel)
			dropped = true
		}
		if len(s.Histograms) > 0 {
			vec = append(vec, Sample{Metric: m, T: ev.startTS, H: s.Histograms[0].H})
			return
		}
		vec = append(vec, Sample{Metric: m, T: ev.startTS, F: s.Floats[0].F})
	}
	if !ev.stream(expr, add) {
		mat := ev.eval(expr).(Matrix)
		vec = make(Vector, 0, len(mat))
		for i := range mat {
			add(mat[i])
			mat[i] = Series{}
		}
	}
	if dropped && len(vec) > 1 {
		// Only name removal can make two series equal: compare sorted hashes.
		hashes := make([]uint64, len(vec))
		for i := range vec {
			hashes[i] = vec[i].Metric.Hash()
		}
		slices.Sort(hashes)
		for i := 1; i < len(hashes); i++ {
			if hashes[i] == hashes[i-1] {
				ev.errorf("vector cannot contain metrics with the same labelset")
			}
		}
	}
	return vec
}
