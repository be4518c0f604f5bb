package tsdb

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb/chunkenc"
	"github.com/vigil-monitoring/vigil/tsdb/tombstones"
)

// chunkEntry is one chunk of a selected series, with the deleted intervals to skip.
type chunkEntry struct {
	data       []byte
	minT, maxT int64
	dels       tombstones.Intervals
}

// selectedSeries is a series as returned by Select: its labels and the chunks overlapping the
// query range, oldest first, possibly from several blocks and the head.
type selectedSeries struct {
	lset       labels.Labels
	chunks     []chunkEntry
	mint, maxt int64

	// head, when set, is a head series whose chunks are looked up only when an iterator is
	// made (into the iterator's reused buffers), so that selecting thousands of series holds
	// no chunk copies; dels are its deleted intervals.
	head *memSeries
	h    *Head
	dels tombstones.Intervals
}

// Labels returns the series' labels; a lazy head series takes them from the head series' cache or
// materialises them as the query reaches it (its querier's read generation keeps the symbols).
func (s *selectedSeries) Labels() labels.Labels {
	if s.head != nil {
		s.head.mu.Lock()
		ls := s.h.queriedLabels(s.head)
		s.head.mu.Unlock()
		return ls
	}
	return s.lset
}

func (s *selectedSeries) Iterator(reuse storage.Iterator) storage.Iterator {
	it, ok := reuse.(*seriesIterator)
	if !ok {
		it = &seriesIterator{}
	}
	it.reset(s)
	return it
}

// seriesIterator walks the chunks of a selectedSeries within [mint, maxt]. When chunks overlap
// (overlapping blocks not yet compacted) it decodes and merges them into a buffer instead.
type seriesIterator struct {
	s       *selectedSeries
	chunks  []chunkEntry // s.chunks, or a head series' chunks resolved into chunkBuf
	ci      int
	chk     chunkenc.Iterator
	started bool
	t       int64
	v       float64
	err     error

	merged  []mergedSample
	mergedI int

	chunkBuf []chunkEntry
	openBuf  []byte // copy of a head series' open chunk
}

type mergedSample struct {
	t  int64
	v  float64
	st int64
}

func (it *seriesIterator) reset(s *selectedSeries) {
	it.s, it.ci, it.started, it.err = s, -1, false, nil
	it.merged, it.mergedI = it.merged[:0], -1
	it.chunks = s.chunks
	if s.head != nil {
		s.head.mu.Lock()
		chunks, err := s.head.chunksFor(s.mint, s.maxt, it.chunkBuf[:0], s.h, &it.openBuf)
		s.head.mu.Unlock()
		it.chunkBuf, it.chunks = chunks, chunks
		if err != nil {
			it.err = err
			it.chunks = nil
			return
		}
		for i := range it.chunks {
			it.chunks[i].dels = s.dels
		}
	}
	if overlapping(it.chunks) {
		it.mergeAll()
	}
}

func overlapping(cs []chunkEntry) bool {
	for i := 1; i < len(cs); i++ {
		if cs[i].minT <= cs[i-1].maxT {
			return true
		}
	}
	return false
}

func (it *seriesIterator) mergeAll() {
	for _, c := range it.chunks {
		var ci chunkenc.Iterator
		ci.Reset(c.data)
		for ci.Next() {
			t, v := ci.At()
			if t < it.s.mint || t > it.s.maxt || c.dels.InBounds(t) {
				continue
			}
			it.merged = append(it.merged, mergedSample{t, v, ci.AtST()})
		}
		if err := ci.Err(); err != nil {
			it.err = err
			return
		}
	}
	sort.SliceStable(it.merged, func(i, j int) bool { return it.merged[i].t < it.merged[j].t })
	// Same timestamp in two blocks: keep the later block's sample (the last one after a stable
	// sort), as Prometheus's vertical merge does.
	out := it.merged[:0]
	for i, m := range it.merged {
		if i+1 < len(it.merged) && it.merged[i+1].t == m.t {
			continue
		}
		out = append(out, m)
	}
	it.merged = out
	it.ci = math.MaxInt32 // marks merged mode
}

func (it *seriesIterator) At() (int64, float64) { return it.t, it.v }
func (it *seriesIterator) AtT() int64           { return it.t }

// The head and blocks hold float samples only so far: Next never returns a histogram type, so
// the histogram accessors have nothing to return.
func (it *seriesIterator) AtHistogram(*histogram.Histogram) (int64, *histogram.Histogram) {
	return it.t, nil
}

func (it *seriesIterator) AtFloatHistogram(*histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return it.t, nil
}

// AtST returns the current sample's start timestamp, 0 when it has none.
func (it *seriesIterator) AtST() int64 {
	if it.ci == math.MaxInt32 {
		return it.merged[it.mergedI].st
	}
	return it.chk.AtST()
}

func (it *seriesIterator) setChunkErr(err error) {
	it.err = fmt.Errorf("reading chunk of series %s: %w", it.s.Labels(), err)
}
func (it *seriesIterator) Err() error { return it.err }

// accept decides about a decoded sample: take it, skip it (before the range or deleted), or
// stop (past the range).
func (it *seriesIterator) accept(t int64) (take, stop bool) {
	if t > it.s.maxt {
		return false, true
	}
	if t < it.s.mint {
		return false, false
	}
	if dels := it.chunks[it.ci].dels; len(dels) > 0 && dels.InBounds(t) {
		return false, false
	}
	return true, false
}

func (it *seriesIterator) Next() storage.ValueType {
	if it.err != nil {
		return storage.ValNone
	}
	if it.ci == math.MaxInt32 {
		if it.mergedI+1 >= len(it.merged) {
			it.mergedI = len(it.merged)
			return storage.ValNone
		}
		it.mergedI++
		it.t, it.v = it.merged[it.mergedI].t, it.merged[it.mergedI].v
		it.started = true
		return storage.ValFloat
	}
	n := len(it.chunks)
	for {
		if it.ci >= 0 && it.ci < n {
			for it.chk.Next() {
				t, v := it.chk.At()
				take, stop := it.accept(t)
				if stop {
					it.ci = n
					return storage.ValNone
				}
				if take {
					it.t, it.v, it.started = t, v, true
					return storage.ValFloat
				}
			}
			if err := it.chk.Err(); err != nil {
				it.setChunkErr(err)
				return storage.ValNone
			}
		}
		if it.ci >= n {
			return storage.ValNone
		}
		it.ci++
		if it.ci >= n {
			return storage.ValNone
		}
		c := &it.chunks[it.ci]
		it.chk.Reset(c.data)
		if c.minT < it.s.mint {
			// Jump over the part of the chunk before the range instead of filtering it sample
			// by sample.
			if !it.chk.SeekTo(it.s.mint) {
				if err := it.chk.Err(); err != nil {
					it.setChunkErr(err)
					return storage.ValNone
				}
				continue
			}
			t, v := it.chk.At()
			take, stop := it.accept(t)
			if stop {
				it.ci = n
				return storage.ValNone
			}
			if take {
				it.t, it.v, it.started = t, v, true
				return storage.ValFloat
			}
		}
	}
}

func (it *seriesIterator) SeekTo(t int64) storage.ValueType {
	if it.err != nil {
		return storage.ValNone
	}
	if it.ci == math.MaxInt32 {
		if it.mergedI >= 0 && it.mergedI < len(it.merged) && it.merged[it.mergedI].t >= t {
			return storage.ValFloat
		}
		i := sort.Search(len(it.merged), func(i int) bool { return it.merged[i].t >= t })
		if i < it.mergedI {
			i = it.mergedI
		}
		it.mergedI = i
		if i >= len(it.merged) {
			return storage.ValNone
		}
		it.t, it.v, it.started = it.merged[i].t, it.merged[i].v, true
		return storage.ValFloat
	}
	n := len(it.chunks)
	if it.ci >= n {
		return storage.ValNone
	}
	if it.started && it.t >= t {
		return storage.ValFloat
	}
	if t < it.s.mint {
		t = it.s.mint
	}
	if it.ci < 0 || it.chunks[it.ci].maxT < t {
		next := it.ci + 1
		for next < n && it.chunks[next].maxT < t {
			next++
		}
		if next >= n {
			it.ci = n
			return storage.ValNone
		}
		it.ci = next
		it.chk.Reset(it.chunks[it.ci].data)
	}
	if !it.chk.SeekTo(t) {
		if err := it.chk.Err(); err != nil {
			it.setChunkErr(err)
			return storage.ValNone
		}
		return it.Next()
	}
	ct, v := it.chk.At()
	take, stop := it.accept(ct)
	if stop {
		it.ci = n
		return storage.ValNone
	}
	if take {
		it.t, it.v, it.started = ct, v, true
		return storage.ValFloat
	}
	return it.Next()
}

// listSeriesSet is a SeriesSet over a slice.
type listSeriesSet struct {
	series []*selectedSeries
	i      int
	err    error
}

func (s *listSeriesSet) Next() bool {
	if s.i >= len(s.series) {
		return false
	}
	s.i++
	return s.i <= len(s.series)
}
func (s *listSeriesSet) At() storage.Series { return s.series[s.i-1] }
func (s *listSeriesSet) Err() error         { return s.err }

// source is one of the places a querier reads: the head or a block.
type source interface {
	// selectSeries returns the matching series with chunks overlapping [mint, maxt], sorted by
	// labels.
	selectSeries(ctx context.Context, mint, maxt int64, metaOnly bool, ms ...*labels.Matcher) ([]*selectedSeries, error)
	labelValues(ctx context.Context, name string, ms ...*labels.Matcher) ([]string, error)
	labelNames(ctx context.Context, ms ...*labels.Matcher) ([]string, error)
}

// unsortedSource is a source that can also return its series unsorted, more cheaply.
type unsortedSource interface {
	selectSeriesUnsorted(ctx context.Context, mint, maxt int64, metaOnly bool, ms ...*labels.Matcher) ([]*selectedSeries, error)
}

// querier merges the sources that overlap its range.
type querier struct {
	mint, maxt int64
	sources    []source
	closers    []func()
}

// Select returns the series matching ms. They are sorted by labels if sortSeries is set or
// several sources are merged; a single source that can skip sorting (the head) returns them
// in its own order otherwise, as Prometheus's head does (PromQL does not ask for sorting).
func (q *querier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	metaOnly := false
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
		metaOnly = hints.Func == "series"
	}
	var all [][]*selectedSeries
	for _, s := range q.sources {
		sel := s.selectSeries
		if us, ok := s.(unsortedSource); ok && !sortSeries && len(q.sources) == 1 {
			sel = us.selectSeriesUnsorted
		}
		ss, err := sel(ctx, mint, maxt, metaOnly, ms...)
		if err != nil {
			return storage.ErrSeriesSet(err)
		}
		if len(ss) > 0 {
			all = append(all, ss)
		}
	}
	switch len(all) {
	case 0:
		return storage.EmptySeriesSet()
	case 1:
		return &listSeriesSet{series: all[0]}
	}
	return &listSeriesSet{series: mergeSelected(all)}
}

// mergeSelected merges sorted lists of series from several sources; a series present in several
// gets the chunks of all, sorted by time.
func mergeSelected(lists [][]*selectedSeries) []*selectedSeries {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]*selectedSeries, 0, n)
	idx := make([]int, len(lists))
	for {
		var best *selectedSeries
		for i, l := range lists {
			if idx[i] < len(l) && (best == nil || labels.Compare(l[idx[i]].lset, best.lset) < 0) {
				best = l[idx[i]]
			}
		}
		if best == nil {
			return out
		}
		merged := best
		first := true
		for i, l := range lists {
			if idx[i] < len(l) && labels.Equal(l[idx[i]].lset, best.lset) {
				if !first {
					if merged == best {
						cp := *best
						cp.chunks = append([]chunkEntry(nil), best.chunks...)
						merged = &cp
					}
					merged.chunks = append(merged.chunks, l[idx[i]].chunks...)
				}
				first = false
				idx[i]++
			}
		}
		if merged != best {
			sort.SliceStable(merged.chunks, func(a, b int) bool { return merged.chunks[a].minT < merged.chunks[b].minT })
		}
		out = append(out, merged)
	}
}

func (q *querier) LabelValues(ctx context.Context, name string, ms ...*labels.Matcher) ([]string, error) {
	var lists [][]string
	for _, s := range q.sources {
		vals, err := s.labelValues(ctx, name, ms...)
		if err != nil {
			return nil, err
		}
		lists = append(lists, vals)
	}
	return mergeStrings(lists), nil
}

func (q *querier) LabelNames(ctx context.Context, ms ...*labels.Matcher) ([]string, error) {
	var lists [][]string
	for _, s := range q.sources {
		names, err := s.labelNames(ctx, ms...)
		if err != nil {
			return nil, err
		}
		lists = append(lists, names)
	}
	return mergeStrings(lists), nil
}

func (q *querier) Close() error {
	for _, c := range q.closers {
		c()
	}
	q.closers = nil
	return nil
}

func mergeStrings(lists [][]string) []string {
	if len(lists) == 1 {
		return lists[0]
	}
	set := map[string]struct{}{}
	for _, l := range lists {
		for _, s := range l {
			set[s] = struct{}{}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// labelsFromSeries collects label values or names from selected series (when matchers restrict
// the set).
func valuesFromSeries(ss []*selectedSeries, name string) []string {
	set := map[string]struct{}{}
	for _, s := range ss {
		if v := s.lset.Get(name); v != "" {
			set[v] = struct{}{}
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func namesFromSeries(ss []*selectedSeries) []string {
	set := map[string]struct{}{}
	for _, s := range ss {
		s.lset.Range(func(l labels.Label) { set[l.Name] = struct{}{} })
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
