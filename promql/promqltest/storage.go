package promqltest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
)

// MemStorage is a minimal in-memory storage.Queryable and storage.Appendable for tests: series in
// label order, samples in time order. It is safe for concurrent use.
type MemStorage struct {
	mu     sync.RWMutex
	series map[uint64]*memSeries
}

type memSeries struct {
	lset    labels.Labels
	samples []Point
}

// NewMemStorage returns an empty storage.
func NewMemStorage() *MemStorage {
	return &MemStorage{series: map[uint64]*memSeries{}}
}

// Add appends samples to the series lset (created if new). Samples must be newer than the
// series' last one.
func (m *MemStorage) Add(lset labels.Labels, pts ...Point) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := lset.Hash()
	s, ok := m.series[h]
	if !ok {
		s = &memSeries{lset: lset}
		m.series[h] = s
	}
	for _, p := range pts {
		if n := len(s.samples); n > 0 && s.samples[n-1].T >= p.T {
			return fmt.Errorf("series %s: %w", lset, storage.ErrOutOfOrderSample)
		}
		s.samples = append(s.samples, p)
	}
	return nil
}

// Appender implements storage.Appendable.
func (m *MemStorage) Appender(context.Context) storage.Appender { return &memAppender{m: m} }

type memAppender struct {
	m       *MemStorage
	pending []struct {
		l labels.Labels
		p Point
	}
}

func (a *memAppender) Append(_ storage.SeriesRef, lset labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	a.pending = append(a.pending, struct {
		l labels.Labels
		p Point
	}{lset, Point{T: t, F: v}})
	return 0, nil
}

// AppendST implements storage.STAppender.
func (a *memAppender) AppendST(_ storage.SeriesRef, lset labels.Labels, st, t int64, v float64) (storage.SeriesRef, error) {
	a.pending = append(a.pending, struct {
		l labels.Labels
		p Point
	}{lset, Point{ST: st, T: t, F: v}})
	return 0, nil
}

func (a *memAppender) AppendHistogram(ref storage.SeriesRef, lset labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return a.AppendHistogramST(ref, lset, 0, t, h, fh)
}

// AppendHistogramST implements storage.HistogramSTAppender.
func (a *memAppender) AppendHistogramST(_ storage.SeriesRef, lset labels.Labels, st, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if (h == nil) == (fh == nil) {
		return 0, fmt.Errorf("series %s: exactly one of h and fh must be set", lset)
	}
	a.pending = append(a.pending, struct {
		l labels.Labels
		p Point
	}{lset, Point{ST: st, T: t, H: h, FH: fh}})
	return 0, nil
}

func (a *memAppender) Commit() error {
	for _, p := range a.pending {
		if err := a.m.Add(p.l, p.p); err != nil {
			return err
		}
	}
	a.pending = nil
	return nil
}

func (a *memAppender) Rollback() error { a.pending = nil; return nil }

// Querier implements storage.Queryable.
func (m *MemStorage) Querier(mint, maxt int64) (storage.Querier, error) {
	return &memQuerier{m: m, mint: mint, maxt: maxt}, nil
}

type memQuerier struct {
	m          *MemStorage
	mint, maxt int64
}

func (q *memQuerier) matching(ms []*labels.Matcher) []*memSeries {
	q.m.mu.RLock()
	defer q.m.mu.RUnlock()
	var out []*memSeries
outer:
	for _, s := range q.m.series {
		for _, m := range ms {
			if !m.Matches(s.lset.Get(m.Name)) {
				continue outer
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *memSeries) int { return labels.Compare(a.lset, b.lset) })
	return out
}

func (q *memQuerier) Select(_ context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
	}
	var res []storage.Series
	for _, s := range q.matching(ms) {
		lo := sort.Search(len(s.samples), func(i int) bool { return s.samples[i].T >= mint })
		hi := sort.Search(len(s.samples), func(i int) bool { return s.samples[i].T > maxt })
		if lo >= hi {
			continue
		}
		res = append(res, &memSeriesView{lset: s.lset, samples: s.samples[lo:hi]})
	}
	return &memSeriesSet{series: res, i: -1}
}

func (q *memQuerier) LabelValues(_ context.Context, name string, ms ...*labels.Matcher) ([]string, error) {
	set := map[string]struct{}{}
	for _, s := range q.matching(ms) {
		if v := s.lset.Get(name); v != "" {
			set[v] = struct{}{}
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}

func (q *memQuerier) LabelNames(_ context.Context, ms ...*labels.Matcher) ([]string, error) {
	set := map[string]struct{}{}
	for _, s := range q.matching(ms) {
		s.lset.Range(func(l labels.Label) { set[l.Name] = struct{}{} })
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}

func (q *memQuerier) Close() error { return nil }

type memSeriesSet struct {
	series []storage.Series
	i      int
}

func (s *memSeriesSet) Next() bool         { s.i++; return s.i < len(s.series) }
func (s *memSeriesSet) At() storage.Series { return s.series[s.i] }
func (s *memSeriesSet) Err() error         { return nil }

type memSeriesView struct {
	lset    labels.Labels
	samples []Point
}

func (s *memSeriesView) Labels() labels.Labels { return s.lset }

func (s *memSeriesView) Iterator(reuse storage.Iterator) storage.Iterator {
	if it, ok := reuse.(*memIterator); ok {
		it.samples, it.i = s.samples, -1
		return it
	}
	return &memIterator{samples: s.samples, i: -1}
}

type memIterator struct {
	samples []Point
	i       int
}

func (it *memIterator) Next() storage.ValueType {
	if it.i < len(it.samples) {
		it.i++
	}
	return it.valueType()
}

func (it *memIterator) SeekTo(t int64) storage.ValueType {
	if it.i < 0 {
		it.i = 0
	}
	if it.i >= len(it.samples) {
		return storage.ValNone
	}
	if it.samples[it.i].T >= t {
		return it.valueType()
	}
	it.i += sort.Search(len(it.samples)-it.i, func(j int) bool { return it.samples[it.i+j].T >= t })
	return it.valueType()
}

// valueType is the type of the current sample.
func (it *memIterator) valueType() storage.ValueType {
	if it.i >= len(it.samples) {
		return storage.ValNone
	}
	switch p := it.samples[it.i]; {
	case p.H != nil:
		return storage.ValHistogram
	case p.FH != nil:
		return storage.ValFloatHistogram
	}
	return storage.ValFloat
}

func (it *memIterator) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	p := it.samples[it.i]
	if h == nil {
		return p.T, p.H.Copy()
	}
	p.H.CopyTo(h)
	return p.T, h
}

func (it *memIterator) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	p := it.samples[it.i]
	if p.H != nil {
		return p.T, p.H.ToFloat(fh)
	}
	if fh == nil {
		return p.T, p.FH.Copy()
	}
	p.FH.CopyTo(fh)
	return p.T, fh
}

// AtST returns the current sample's start timestamp (0: none).
func (it *memIterator) AtST() int64 { return it.samples[it.i].ST }

func (it *memIterator) At() (int64, float64) { p := it.samples[it.i]; return p.T, p.F }
func (it *memIterator) AtT() int64           { return it.samples[it.i].T }
func (it *memIterator) Err() error           { return nil }
