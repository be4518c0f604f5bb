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
	"github.com/vigil-monitoring/vigil/tsdb/histchunk"
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
// Chunks may be float or native histogram chunks: a series that changes type has chunks of
// both, and Next returns the type of every sample.
type seriesIterator struct {
	s       *selectedSeries
	chunks  []chunkEntry // s.chunks, or a head series' chunks resolved into chunkBuf
	ci      int
	chk     chunkIter
	started bool
	t       int64
	v       float64
	vt      storage.ValueType
	err     error

	merged  []mergedSample
	mergedI int

	chunkBuf []chunkEntry
	openBuf  []byte // copy of a head series' open chunk
}

type mergedSample struct {
	t  int64
	v  float64
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
	st int64
}

func (m *mergedSample) valueType() storage.ValueType {
	switch {
	case m.h != nil:
		return storage.ValHistogram
	case m.fh != nil:
		return storage.ValFloatHistogram
	}
	return storage.ValFloat
}

// chunkIter decodes one chunk of any encoding: Vigil's float encodings (chunkenc) or upstream's
// histogram encodings behind Vigil's encoding byte (histchunk). Its iterators are reused from
// chunk to chunk.
type chunkIter struct {
	hist  bool // the chunk is a histogram chunk: it is read by hit
	float chunkenc.Iterator
	hc    histchunk.HistogramChunk
	fhc   histchunk.FloatHistogramChunk
	hit   histchunk.Iterator
	iit   histchunk.Iterator // reused iterator of integer histogram chunks
	fit   histchunk.Iterator // and of float histogram chunks
	cit   histchunk.ColumnsIterator
	err   error
	// hasST is set for a histogram chunk with start timestamps (an EncST chunk around a
	// histogram chunk): st decodes the column in step with hit, and hvt is hit's current type.
	hasST bool
	st    chunkenc.STReader
	hvt   histchunk.ValueType
}

// isHistEnc reports whether e is one of the native histogram chunk encodings.
func isHistEnc(e chunkenc.Encoding) bool {
	return e == chunkenc.EncHistogram || e == chunkenc.EncFloatHistogram || e == chunkenc.EncHistogramColumns
}

// histChunkHeader is the size of the smallest valid histogram chunk: the encoding byte and
// upstream's header (sample count and counter reset flags).
const histChunkHeader = 1 + 3

func (c *chunkIter) reset(b []byte) {
	c.err, c.hist, c.hasST, c.hvt = nil, false, false, histchunk.ValNone
	if len(b) > 0 && chunkenc.Encoding(b[0]) == chunkenc.EncST {
		// A float chunk with start timestamps is read by the float iterator; a histogram
		// chunk's column is decoded here, next to the histogram iterator.
		if inner, col, err := chunkenc.SplitST(b); err == nil && isHistEnc(chunkenc.Encoding(inner[0])) {
			b = inner
			c.hasST = true
			c.st.Reset(col)
		}
	}
	if len(b) > 0 && (chunkenc.Encoding(b[0]) == chunkenc.EncHistogram || chunkenc.Encoding(b[0]) == chunkenc.EncFloatHistogram) {
		c.hist = true
		if len(b) < histChunkHeader {
			c.err = fmt.Errorf("chunkenc: %s chunk of %d bytes is shorter than its header", chunkenc.Encoding(b[0]), len(b))
			c.hit = nil
			return
		}
		if chunkenc.Encoding(b[0]) == chunkenc.EncHistogram {
			c.hc.Reset(b[1:])
			c.iit = c.hc.Iterator(c.iit)
			c.hit = c.iit
		} else {
			c.fhc.Reset(b[1:])
			c.fit = c.fhc.Iterator(c.fit)
			c.hit = c.fit
		}
		return
	}
	if len(b) > 0 && chunkenc.Encoding(b[0]) == chunkenc.EncHistogramColumns {
		c.hist = true
		c.cit.Reset(b[1:])
		c.hit = &c.cit
		return
	}
	c.float.Reset(b)
}

func toValueType(vt histchunk.ValueType) storage.ValueType { return storage.ValueType(vt) }

func (c *chunkIter) next() storage.ValueType {
	if c.hist {
		if c.hit == nil {
			return storage.ValNone
		}
		if c.hasST {
			return c.nextST()
		}
		return toValueType(c.hit.Next())
	}
	if c.float.Next() {
		return storage.ValFloat
	}
	return storage.ValNone
}

func (c *chunkIter) seekTo(t int64) storage.ValueType {
	if c.hist {
		if c.hit == nil {
			return storage.ValNone
		}
		if c.hasST {
			// The column is decoded sample by sample, in step with the histograms.
			for c.hvt == histchunk.ValNone || c.hit.AtT() < t {
				if c.nextST() == storage.ValNone {
					return storage.ValNone
				}
			}
			return toValueType(c.hvt)
		}
		return toValueType(c.hit.SeekTo(t))
	}
	if c.float.SeekTo(t) {
		return storage.ValFloat
	}
	return storage.ValNone
}

// at returns the current timestamp, and the value when it is a float.
func (c *chunkIter) at() (int64, float64) {
	if c.hist {
		return c.hit.AtT(), 0
	}
	return c.float.At()
}

func (c *chunkIter) errs() error {
	if c.err != nil {
		return c.err
	}
	if c.hist {
		if c.hit == nil {
			return nil
		}
		return c.hit.Err()
	}
	return c.float.Err()
}

// nextST advances a histogram chunk with start timestamps and its column together.
func (c *chunkIter) nextST() storage.ValueType {
	if c.err != nil {
		return storage.ValNone
	}
	c.hvt = c.hit.Next()
	if c.hvt == histchunk.ValNone {
		return storage.ValNone
	}
	if err := c.st.Next(c.hit.AtT()); err != nil {
		c.err, c.hvt = err, histchunk.ValNone
		return storage.ValNone
	}
	return toValueType(c.hvt)
}

// AtST returns the current sample's start timestamp, 0 when it has none.
func (c *chunkIter) AtST() int64 {
	if c.hist {
		if c.hasST {
			return c.st.ST()
		}
		return 0
	}
	return c.float.AtST()
}

func (it *seriesIterator) reset(s *selectedSeries) {
	it.s, it.ci, it.started, it.err, it.vt = s, -1, false, nil, storage.ValNone
	clear(it.merged) // drop histograms of the previous series
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
	var ci chunkIter
	for _, c := range it.chunks {
		ci.reset(c.data)
		for vt := ci.next(); vt != storage.ValNone; vt = ci.next() {
			t, v := ci.at()
			if t < it.s.mint || t > it.s.maxt || c.dels.InBounds(t) {
				continue
			}
			m := mergedSample{t: t, v: v, st: ci.AtST()}
			switch vt {
			case storage.ValHistogram:
				_, m.h = ci.hit.AtHistogram(nil)
			case storage.ValFloatHistogram:
				_, m.fh = ci.hit.AtFloatHistogram(nil)
			}
			it.merged = append(it.merged, m)
		}
		if err := ci.errs(); err != nil {
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

// AtHistogram returns the current integer histogram (after ValHistogram), copied into h when
// h is non-nil.
func (it *seriesIterator) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	if it.ci == math.MaxInt32 {
		m := &it.merged[it.mergedI]
		if m.h == nil {
			return it.t, nil
		}
		if h == nil {
			return it.t, m.h
		}
		m.h.CopyTo(h)
		return it.t, h
	}
	if !it.chk.hist || it.vt != storage.ValHistogram {
		return it.t, nil
	}
	return it.chk.hit.AtHistogram(h)
}

// AtFloatHistogram returns the current histogram as a float histogram (after ValHistogram or
// ValFloatHistogram), copied into fh when fh is non-nil.
func (it *seriesIterator) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	if it.ci == math.MaxInt32 {
		m := &it.merged[it.mergedI]
		switch {
		case m.h != nil:
			return it.t, m.h.ToFloat(fh)
		case m.fh == nil:
			return it.t, nil
		case fh == nil:
			return it.t, m.fh
		}
		m.fh.CopyTo(fh)
		return it.t, fh
	}
	if !it.chk.hist || (it.vt != storage.ValHistogram && it.vt != storage.ValFloatHistogram) {
		return it.t, nil
	}
	return it.chk.hit.AtFloatHistogram(fh)
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

// setMerged makes merged sample i the current one.
func (it *seriesIterator) setMerged(i int) storage.ValueType {
	m := &it.merged[i]
	it.t, it.v, it.vt, it.started = m.t, m.v, m.valueType(), true
	return it.vt
}

// take makes the chunk iterator's current sample the current one.
func (it *seriesIterator) take(t int64, v float64, vt storage.ValueType) storage.ValueType {
	it.t, it.v, it.vt, it.started = t, v, vt, true
	return vt
}

func (it *seriesIterator) Next() storage.ValueType {
	if it.err != nil {
		return storage.ValNone
	}
	if it.ci == math.MaxInt32 {
		if it.mergedI+1 >= len(it.merged) {
			it.mergedI = len(it.merged)
			it.vt = storage.ValNone
			return storage.ValNone
		}
		it.mergedI++
		return it.setMerged(it.mergedI)
	}
	n := len(it.chunks)
	for {
		if it.ci >= 0 && it.ci < n {
			for vt := it.chk.next(); vt != storage.ValNone; vt = it.chk.next() {
				t, v := it.chk.at()
				take, stop := it.accept(t)
				if stop {
					it.ci = n
					return storage.ValNone
				}
				if take {
					return it.take(t, v, vt)
				}
			}
			if err := it.chk.errs(); err != nil {
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
		it.chk.reset(c.data)
		if c.minT < it.s.mint {
			// Jump over the part of the chunk before the range instead of filtering it sample
			// by sample.
			vt := it.chk.seekTo(it.s.mint)
			if vt == storage.ValNone {
				if err := it.chk.errs(); err != nil {
					it.setChunkErr(err)
					return storage.ValNone
				}
				continue
			}
			t, v := it.chk.at()
			take, stop := it.accept(t)
			if stop {
				it.ci = n
				return storage.ValNone
			}
			if take {
				return it.take(t, v, vt)
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
			return it.vt
		}
		i := sort.Search(len(it.merged), func(i int) bool { return it.merged[i].t >= t })
		if i < it.mergedI {
			i = it.mergedI
		}
		it.mergedI = i
		if i >= len(it.merged) {
			it.vt = storage.ValNone
			return storage.ValNone
		}
		return it.setMerged(i)
	}
	n := len(it.chunks)
	if it.ci >= n {
		return storage.ValNone
	}
	if it.started && it.t >= t {
		return it.vt
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
		it.chk.reset(it.chunks[it.ci].data)
	}
	vt := it.chk.seekTo(t)
	if vt == storage.ValNone {
		if err := it.chk.errs(); err != nil {
			it.setChunkErr(err)
			return storage.ValNone
		}
		return it.Next()
	}
	ct, v := it.chk.at()
	take, stop := it.accept(ct)
	if stop {
		it.ci = n
		return storage.ValNone
	}
	if take {
		return it.take(ct, v, vt)
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
