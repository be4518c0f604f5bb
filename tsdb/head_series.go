package tsdb

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb/chunkenc"
)

// samplesPerChunk is when the head cuts a chunk. Only the open chunk is on the heap (closed ones
// are in the head chunk files, 24 bytes of heap each), so smaller chunks mean less heap per
// series; blocks re-encode into 480-sample chunks, so disk is unaffected. Upstream uses 120.
const samplesPerChunk = 60

// memChunk is a closed, immutable chunk of the head; its bytes live in the head chunk files.
type memChunk struct {
	ref        uint64
	minT, maxT int64
}

// memSeries is a series in the head. Everything but ref and labelIDs is guarded by mu. The struct
// is kept small: there is one per active series.
//
// The head snapshot (head_snapshot.go) writes and restores the sample data of a series (closed
// chunks, open chunk and its appender state): a field added here that holds samples (native
// histograms, start timestamps) must be added to writeHeadSnapshot and loadHeadSnapshot with a
// new snapshotVersion, or a clean restart loses it (the WAL before the snapshot is not replayed).
type memSeries struct {
	mu  sync.Mutex
	ref uint64
	// labelIDs is the label set encoded by the head's symbol table (see headSymbols).
	labelIDs string
	// lset caches the materialised labels of a series that queries read (rules every
	// interval, dashboards): materialising them on every read would cost more CPU than the
	// whole evaluation. Dropped by Head.dropIdleLabels when not read for a sweep interval, so
	// series that nobody queries keep only labelIDs.
	lset     labels.Labels
	lsetRead bool
	// hashNext chains series whose label hashes collide (rare), saving a slice per series.
	hashNext *memSeries

	closed []memChunk
	// open is the chunk being appended to; its newest sample is the series' newest committed
	// sample (a chunk is only cut right before the next sample goes into a new one).
	open chunkenc.OpenChunk
	// openMinT is the first timestamp of the open chunk.
	openMinT int64
	// hist, when its chunk holds samples, is the open chunk of a series whose newest samples
	// are native histograms; open is empty then. Nil for float series.
	hist *histHead

	// pendingT is the newest sample of the series in the uncommitted batch of appender pendingApp,
	// so that a batch itself cannot go out of order.
	pendingT   int64
	pendingApp uint32

	// pendingKind is the kind of the sample at pendingT.
	pendingKind sampleKind
	// logged is set once the series record is in the WAL.
	logged bool
	// removed is set when truncation drops the series; appenders holding it look it up again.
	removed bool
	// hasST is set once the series has a start timestamp column (see head_st.go); it fits in
	// the struct's padding.
	hasST bool
}

func newMemSeries(ref uint64, labelIDs string) *memSeries {
	return &memSeries{ref: ref, labelIDs: labelIDs, pendingT: math.MinInt64}
}

// lastT is the newest committed timestamp, MinInt64 when there is none (caller holds mu).
func (s *memSeries) lastT() int64 {
	if s.open.NumSamples() > 0 {
		t, _ := s.open.Last()
		return t
	}
	if s.hist.active() {
		return s.hist.lastT
	}
	return math.MinInt64
}

// appendable checks a sample against the committed state (caller holds mu).
func (s *memSeries) appendable(t int64, v float64) error {
	if !s.hasOpen() {
		return nil
	}
	lt := s.lastT()
	if t > lt {
		return nil
	}
	if t < lt {
		return storage.ErrOutOfOrderSample
	}
	if s.hist.active() { // a float where a histogram is
		return storage.ErrDuplicateSampleForTimestamp
	}
	if _, lv := s.open.Last(); math.Float64bits(v) != math.Float64bits(lv) {
		return storage.ErrDuplicateSampleForTimestamp
	}
	return nil
}

func (s *memSeries) hasOpen() bool { return s.open.NumSamples() > 0 || s.hist.active() }

// append adds a committed sample (caller holds mu). It returns false for a duplicate, which is
// dropped.
func (s *memSeries) append(t int64, v float64, h *Head) bool { return s.appendST(t, v, 0, h) }

// appendST is append with the sample's start timestamp st (0: none).
func (s *memSeries) appendST(t int64, v float64, st int64, h *Head) bool {
	if t <= s.lastT() {
		return false
	}
	n := s.open.NumSamples()
	if st != 0 && !s.hasST {
		h.startST(s)
	}
	if n == 0 || n >= samplesPerChunk || t >= rangeEnd(s.openMinT, h.chunkRange) {
		s.cutChunk(t, h)
	}
	s.open.Append(t, v)
	if s.hasST {
		h.stColumn(s).Append(t, st)
	}
	return true
}

// cutChunk moves the open chunk (float or histogram) to the head chunk files and starts a new
// float chunk sized like it.
func (s *memSeries) cutChunk(t int64, h *Head) {
	hint := 128
	if s.open.NumSamples() > 0 {
		b := s.open.Bytes()
		hint = len(b) + len(b)/8
		lt := s.lastT()
		s.closed = append(s.closed, memChunk{ref: h.storeChunk(s.withST(nil, b, h), lt), minT: s.openMinT, maxT: lt})
		if s.hasST {
			h.stColumn(s).Reset()
		}
	} else if s.hist.active() {
		s.closeHistChunk(h)
		s.hist = nil // the series is a float series again
	}
	s.open.Reset(hint)
	s.openMinT = t
	h.metrics.chunksCreated.Inc()
	h.metrics.chunks.Inc()
}

// rangeEnd returns the end (exclusive) of the aligned range of width r containing t.
func rangeEnd(t, r int64) int64 {
	if r <= 0 {
		return math.MaxInt64
	}
	q := t / r
	if t%r != 0 && t < 0 {
		q-- // Go division truncates towards zero; we want the floor
	}
	return (q + 1) * r
}

// minTime returns the oldest sample's time, MaxInt64 when empty (caller holds mu).
func (s *memSeries) minTime() int64 {
	if len(s.closed) > 0 {
		return s.closed[0].minT
	}
	if s.hasOpen() {
		return s.openMinT
	}
	return math.MaxInt64
}

// truncateBefore drops closed chunks that end before mint and the open chunk if it ends before
// mint too. It returns the number of chunks removed (caller holds mu).
func (s *memSeries) truncateBefore(mint int64, h *Head) int {
	n := 0
	for n < len(s.closed) && s.closed[n].maxT < mint {
		h.forgetChunk(s.closed[n].ref)
		n++
	}
	if n > 0 {
		rest := make([]memChunk, len(s.closed)-n)
		copy(rest, s.closed[n:])
		s.closed = rest
	}
	if len(s.closed) == 0 && s.hasOpen() && s.lastT() < mint {
		s.open = chunkenc.OpenChunk{}
		s.hist = nil
		if s.hasST {
			h.stColumn(s).Reset()
		}
		n++
	}
	return n
}

// empty reports whether the series holds no samples (caller holds mu).
func (s *memSeries) empty() bool {
	return len(s.closed) == 0 && !s.hasOpen()
}

// chunksFor appends the chunks overlapping [mint, maxt] to dst, copying the open chunk since
// appends keep writing into its last byte (into *openBuf, reused, when given; caller holds mu,
// and a head chunk read generation).
func (s *memSeries) chunksFor(mint, maxt int64, dst []chunkEntry, h *Head, openBuf *[]byte) ([]chunkEntry, error) {
	for _, c := range s.closed {
		if c.maxT >= mint && c.minT <= maxt {
			data, err := h.chunkData(c.ref)
			if err != nil {
				var b labels.ScratchBuilder
				return dst, fmt.Errorf("series %s: %w", h.seriesLabels(s, &b), err)
			}
			dst = append(dst, chunkEntry{data: data, minT: c.minT, maxT: c.maxT})
		}
	}
	if s.hasOpen() && s.lastT() >= mint && s.openMinT <= maxt {
		var cp []byte
		if openBuf != nil {
			cp = (*openBuf)[:0]
		}
		if s.hist.active() {
			cp = s.appendOpenHistBytes(cp, h)
		} else {
			cp = s.appendOpenBytes(cp, h)
		}
		if openBuf != nil {
			*openBuf = cp
		}
		dst = append(dst, chunkEntry{data: cp, minT: s.openMinT, maxT: s.lastT()})
	}
	return dst, nil
}

// appendOpenBytes appends the open float chunk's bytes to dst: with the start timestamp column
// (an EncST chunk) when the series has start timestamps.
func (s *memSeries) appendOpenBytes(dst []byte, h *Head) []byte {
	if !s.hasST {
		return append(dst, s.open.Bytes()...)
	}
	return chunkenc.AppendWithST(dst, s.open.Bytes(), h.stColumn(s).Bytes())
}

// appendOpenHistBytes appends the open histogram chunk's bytes to dst: an EncST chunk when the
// series has start timestamps.
func (s *memSeries) appendOpenHistBytes(dst []byte, h *Head) []byte {
	if !s.hasST {
		return s.hist.appendBytes(dst)
	}
	return chunkenc.AppendWithST(dst, s.hist.appendBytes(nil), h.stColumn(s).Bytes())
}

// overlaps reports whether the series has samples in [mint, maxt] (caller holds mu).
func (s *memSeries) overlaps(mint, maxt int64) bool {
	for _, c := range s.closed {
		if c.maxT >= mint && c.minT <= maxt {
			return true
		}
	}
	return s.hasOpen() && s.lastT() >= mint && s.openMinT <= maxt
}

// seriesStore maps refs and label hashes to series. Refs are dense (allocated sequentially), so
// the ref index is a paged array of atomic pointers: 8 bytes per series instead of a map entry,
// and lookups by ref (every append from a scrape cache) take no lock.
type seriesStore struct {
	pagesMu sync.Mutex // serialises growth
	pages   atomic.Pointer[[]*seriesPage]

	stripes [hashStripes]hashStripe
	syms    *headSymbols
}

const (
	seriesPageBits = 12
	seriesPageSize = 1 << seriesPageBits
	hashStripes    = 1 << 10
)

type seriesPage [seriesPageSize]atomic.Pointer[memSeries]

type hashStripe struct {
	sync.RWMutex
	m map[uint64]*memSeries
	_ [32]byte // keep stripes on separate cache lines
}

func newSeriesStore() *seriesStore {
	s := &seriesStore{syms: newHeadSymbols()}
	for i := range s.stripes {
		s.stripes[i].m = map[uint64]*memSeries{}
	}
	s.pages.Store(&[]*seriesPage{})
	return s
}

func (s *seriesStore) page(ref uint64) *seriesPage {
	ps := *s.pages.Load()
	if p := ref >> seriesPageBits; p < uint64(len(ps)) {
		return ps[p]
	}
	return nil
}

func (s *seriesStore) getByRef(ref uint64) *memSeries {
	if pg := s.page(ref); pg != nil {
		return pg[ref&(seriesPageSize-1)].Load()
	}
	return nil
}

func (s *seriesStore) setRef(ref uint64, ms *memSeries) {
	pg := s.page(ref)
	if pg == nil {
		s.pagesMu.Lock()
		ps := *s.pages.Load()
		p := ref >> seriesPageBits
		if p >= uint64(len(ps)) {
			// Copy on grow: readers keep using the old slice, whose pages are shared.
			nps := make([]*seriesPage, p+1, max(p+1, uint64(len(ps))*2))
			copy(nps, ps)
			for i := len(ps); i < len(nps); i++ {
				nps[i] = new(seriesPage)
			}
			s.pages.Store(&nps)
			ps = nps
		}
		pg = ps[p]
		s.pagesMu.Unlock()
	}
	pg[ref&(seriesPageSize-1)].Store(ms)
}

func (s *seriesStore) getByHash(hash uint64, lset labels.Labels) *memSeries {
	st := &s.stripes[hash&(hashStripes-1)]
	st.RLock()
	defer st.RUnlock()
	for ms := st.m[hash]; ms != nil; ms = ms.hashNext {
		if s.syms.equal(ms.labelIDs, lset) {
			return ms
		}
	}
	return nil
}

// getOrCreate returns the series for lset, creating it with ref from newRef if it is new.
func (s *seriesStore) getOrCreate(hash uint64, lset labels.Labels, newRef func() uint64) (*memSeries, bool) {
	if ms := s.getByHash(hash, lset); ms != nil {
		return ms, false
	}
	st := &s.stripes[hash&(hashStripes-1)]
	st.Lock()
	for ms := st.m[hash]; ms != nil; ms = ms.hashNext {
		if s.syms.equal(ms.labelIDs, lset) {
			st.Unlock()
			return ms, false
		}
	}
	var buf [64]byte
	ms := newMemSeries(newRef(), s.syms.intern(lset, buf[:0]))
	ms.hashNext = st.m[hash]
	st.m[hash] = ms
	s.setRef(ms.ref, ms)
	st.Unlock()
	return ms, true
}

// remove deletes a series, whose labels hash to hash, from both indexes. Its symbols are still
// in use (see release).
func (s *seriesStore) remove(ms *memSeries, hash uint64) {
	st := &s.stripes[hash&(hashStripes-1)]
	st.Lock()
	var prev *memSeries
	for cur := st.m[hash]; cur != nil; prev, cur = cur, cur.hashNext {
		if cur == ms {
			if prev == nil {
				if cur.hashNext == nil {
					delete(st.m, hash)
				} else {
					st.m[hash] = cur.hashNext
				}
			} else {
				prev.hashNext = cur.hashNext
			}
			break
		}
	}
	st.Unlock()
	if pg := s.page(ms.ref); pg != nil {
		pg[ms.ref&(seriesPageSize-1)].CompareAndSwap(ms, nil)
	}
}

// forEach calls f for every series (in ref order). f must not call back into the store.
func (s *seriesStore) forEach(f func(*memSeries)) {
	for _, pg := range *s.pages.Load() {
		for i := range pg {
			if ms := pg[i].Load(); ms != nil {
				f(ms)
			}
		}
	}
}
