package tsdb

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb/chunkenc"
	"github.com/vigil-monitoring/vigil/tsdb/record"
	"github.com/vigil-monitoring/vigil/tsdb/tombstones"
)

// walLog is what the head needs from the WAL.
type walLog interface {
	Log(recs ...[]byte) error
}

// Head holds the newest data in memory: every series appended since the last block was cut.
type Head struct {
	chunkRange int64
	wal        walLog // nil: no WAL (tests)
	metrics    *headMetrics

	series   *seriesStore
	postings *memPostings

	lastRef     atomic.Uint64
	appenderID  atomic.Uint32
	numSeries   atomic.Int64
	appended    atomic.Uint64 // samples committed, for SamplesAppended
	minTime     atomic.Int64
	maxTime     atomic.Int64
	minValidT   atomic.Int64 // samples before this are out of bounds (already in blocks)
	appendMu    sync.RWMutex // held for reading by commits, for writing by truncation
	tombstones  *tombstones.MemTombstones
	encoderPool sync.Pool
	// chunks holds closed chunks off the Go heap; spilled holds the few that could not be
	// written there (disk full), keyed by refs with headChunkSpillBit set.
	chunks   *headChunks
	spillMu  sync.RWMutex
	spilled  map[uint64][]byte
	spillSeq uint64
	// batchPool recycles appenders' sample buffers: a scrape appends about the same number of
	// samples every time, so steady-state appends allocate nothing.
	batchPool sync.Pool
	histPool  sync.Pool // the same for histogram samples
	builders  sync.Pool // *labels.ScratchBuilder for queriedLabels
	// stCols holds the start timestamp columns of the series that have them (head_st.go).
	stCols      stColumns
	stBatchPool sync.Pool // appenders' pendingST buffers
}

func newHead(chunkRange int64, w walLog, m *headMetrics, hc *headChunks) *Head {
	h := &Head{
		chunks:     hc,
		spilled:    map[uint64][]byte{},
		chunkRange: chunkRange,
		wal:        w,
		metrics:    m,
		series:     newSeriesStore(),
		postings:   newMemPostings(),
		tombstones: tombstones.NewMemTombstones(),
	}
	h.minTime.Store(math.MaxInt64)
	h.maxTime.Store(math.MinInt64)
	h.minValidT.Store(math.MinInt64)
	return h
}

// MinTime and MaxTime bound the head's samples; MinTime > MaxTime when it is empty.
func (h *Head) MinTime() int64 { return h.minTime.Load() }
func (h *Head) MaxTime() int64 { return h.maxTime.Load() }

// SamplesAppended is the number of samples committed since the head was created (remote
// write's prometheus_remote_storage_samples_in_total).
func (h *Head) SamplesAppended() uint64 { return h.appended.Load() }

// NumSeries is the number of series in the head.
func (h *Head) NumSeries() int64 { return h.numSeries.Load() }

func (h *Head) updateTimes(mint, maxt int64) {
	for {
		cur := h.minTime.Load()
		if mint >= cur || h.minTime.CompareAndSwap(cur, mint) {
			break
		}
	}
	for {
		cur := h.maxTime.Load()
		if maxt <= cur || h.maxTime.CompareAndSwap(cur, maxt) {
			break
		}
	}
}

func (h *Head) getOrCreate(lset labels.Labels) (*memSeries, bool, error) {
	// An empty value means "no such label": never index one.
	lset = lset.WithoutEmpty()
	hash := lset.Hash()
	if ms := h.series.getByHash(hash, lset); ms != nil {
		return ms, false, nil
	}
	if lset.IsEmpty() {
		return nil, false, storage.ErrEmptyLabelSet
	}
	if name, dup := lset.HasDuplicateLabelNames(); dup {
		return nil, false, fmt.Errorf("%w: %q in %s", storage.ErrDuplicateLabelName, name, lset)
	}
	ms, created := h.series.getOrCreate(hash, lset, func() uint64 { return h.lastRef.Add(1) })
	if created {
		h.indexSeries(ms)
		h.numSeries.Add(1)
		h.metrics.seriesCreated.Inc()
	}
	return ms, created, nil
}

// indexSeries adds a new series to the postings, keyed by the symbol table's strings.
func (h *Head) indexSeries(ms *memSeries) {
	h.postings.add(ms.ref, func(f func(labels.Label)) { h.series.syms.rangeLabels(ms.labelIDs, f) })
}

// seriesLabels materialises the labels of a series whose symbols cannot be freed meanwhile: the
// caller holds a head chunk read generation (a querier), or holds the series' mutex and saw it
// not removed, or excludes truncation (appendMu); b is reused.
func (h *Head) seriesLabels(ms *memSeries, b *labels.ScratchBuilder) labels.Labels {
	return h.series.syms.labels(ms.labelIDs, b)
}

// queriedLabels returns the labels of a series a query reads, from its cache (see memSeries.lset),
// materialising and caching them on a miss. The caller holds ms.mu and may materialise (see
// seriesLabels).
func (h *Head) queriedLabels(ms *memSeries) labels.Labels {
	if ms.lset.IsEmpty() {
		b, _ := h.builders.Get().(*labels.ScratchBuilder)
		if b == nil {
			b = &labels.ScratchBuilder{}
		}
		ms.lset = h.seriesLabels(ms, b)
		h.builders.Put(b)
	}
	ms.lsetRead = true
	return ms.lset
}

// labelCacheSweep is how often Head.dropIdleLabels runs (from the DB's background loop): a
// series' cached labels go after one to two sweeps without a read.
const labelCacheSweep = 5 * time.Minute

// dropIdleLabels drops the cached labels of series no query has read since the last call.
func (h *Head) dropIdleLabels() {
	h.series.forEach(func(s *memSeries) {
		s.mu.Lock()
		if s.lsetRead {
			s.lsetRead = false
		} else {
			s.lset = labels.EmptyLabels()
		}
		s.mu.Unlock()
	})
}

// Appender returns a batch appender on the head.
func (h *Head) Appender() *headAppender {
	id := h.appenderID.Add(1)
	if id == 0 { // 0 means "no pending batch" in memSeries.pendingApp
		id = h.appenderID.Add(1)
	}
	a := &headAppender{head: h, id: id, minT: math.MaxInt64, maxT: math.MinInt64}
	if b, ok := h.batchPool.Get().(*[]pendingSample); ok {
		a.samples = (*b)[:0]
	}
	if b, ok := h.histPool.Get().(*[]pendingHistogram); ok {
		a.hists = (*b)[:0]
	}
	return a
}

// recycle hands the sample buffer back for the next appender.
func (a *headAppender) recycle() {
	if cap(a.samples) > 0 {
		b := a.samples[:0]
		clear(b[:cap(b)]) // drop series pointers so removed series can be collected
		a.head.batchPool.Put(&b)
	}
	if cap(a.hists) > 0 {
		b := a.hists[:0]
		clear(b[:cap(b)]) // drop series and histograms
		a.head.histPool.Put(&b)
	}
	if cap(a.stSamples) > 0 {
		b := a.stSamples[:0]
		a.head.stBatchPool.Put(&b)
	}
	a.samples, a.newSeries, a.hists, a.splits, a.stSamples = nil, nil, nil, nil, nil
}

// newSeries is a series the batch must log before its samples, with the labels it was appended
// with (empty when appended by ref only), which spares materialising them from the symbols.
type newSeries struct {
	s    *memSeries
	lset labels.Labels
}

type pendingSample struct {
	s *memSeries
	t int64
	v float64
}

type headAppender struct {
	head       *Head
	id         uint32
	samples    []pendingSample
	hists      []pendingHistogram
	splits     []batchSplit
	stSamples  []pendingST // start timestamps of some of samples, in order (AppendST)
	newSeries  []newSeries
	minT, maxT int64
	done       bool
}

func (a *headAppender) Append(ref storage.SeriesRef, lset labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	return a.appendKind(ref, lset, t, kindFloat, v, nil, nil)
}

// appendKind adds a float (kindFloat, v) or histogram sample (h or fh) to the batch.
func (a *headAppender) appendKind(ref storage.SeriesRef, lset labels.Labels, t int64, kind sampleKind, v float64, hi *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if a.done {
		return 0, fmt.Errorf("append on a committed or rolled back appender")
	}
	if t < a.head.minValidT.Load() {
		a.head.metrics.outOfBound.Inc()
		return 0, storage.ErrOutOfBounds
	}
	var ms *memSeries
	if ref != 0 {
		ms = a.head.series.getByRef(uint64(ref))
	}
	// created holds the labels ms was found by, for logging it if it is new.
	var created labels.Labels
	if ms == nil {
		if ref != 0 && lset.IsEmpty() {
			return 0, storage.ErrUnknownSeriesRef
		}
		var err error
		ms, _, err = a.head.getOrCreate(lset)
		if err != nil {
			return 0, err
		}
		created = lset
	}
	ms.mu.Lock()
	for ms.removed {
		// Truncation removed the series between our lookup and the lock: create it anew.
		ms.mu.Unlock()
		if lset.IsEmpty() {
			return 0, storage.ErrUnknownSeriesRef
		}
		var err error
		if ms, _, err = a.head.getOrCreate(lset); err != nil {
			return 0, err
		}
		created = lset
		ms.mu.Lock()
	}
	if kind == kindFloat && storage.IsStaleNaN(v) {
		// A stale marker for a series whose newest sample is a histogram (scrape's end-of-series
		// marker is a float) is stored as a stale histogram, as upstream does, so that the
		// histogram chunk is not cut for it.
		last := kindFloat
		if ms.pendingApp == a.id {
			last = ms.pendingKind
		} else if ms.hist.active() {
			last = kindFloatHistogram
			if ms.hist.enc == chunkenc.EncHistogram {
				last = kindHistogram
			}
		}
		switch last {
		case kindHistogram:
			kind, hi = kindHistogram, &histogram.Histogram{Sum: v}
		case kindFloatHistogram:
			kind, fh = kindFloatHistogram, &histogram.FloatHistogram{Sum: v}
		}
	}
	if !ms.logged && ms.pendingApp != a.id {
		a.newSeries = append(a.newSeries, newSeries{ms, created})
	}
	var err error
	if kind == kindFloat {
		err = ms.appendable(t, v)
	} else {
		err = ms.appendableHistogram(t, hi, fh)
	}
	if err == nil && ms.pendingApp == a.id {
		// The batch already holds newer or equal samples of this series.
		if t < ms.pendingT {
			err = storage.ErrOutOfOrderSample
		} else if t == ms.pendingT {
			err = storage.ErrDuplicateSampleForTimestamp
		}
	}
	if err == nil {
		if ms.pendingApp == a.id && kind < ms.pendingKind {
			a.splits = append(a.splits, batchSplit{floats: len(a.samples), hists: len(a.hists)})
		}
		ms.pendingT, ms.pendingApp, ms.pendingKind = t, a.id, kind
	}
	ms.mu.Unlock()
	if err != nil {
		if err == storage.ErrOutOfOrderSample {
			a.head.metrics.outOfOrder.Inc()
		}
		return storage.SeriesRef(ms.ref), err
	}
	if kind == kindFloat {
		a.samples = append(a.samples, pendingSample{ms, t, v})
	} else {
		a.hists = append(a.hists, pendingHistogram{s: ms, t: t, h: hi, fh: fh})
	}
	if t < a.minT {
		a.minT = t
	}
	if t > a.maxT {
		a.maxT = t
	}
	return storage.SeriesRef(ms.ref), nil
}

type walBuffers struct {
	series         []record.RefSeries
	samples        []record.RefSample
	hists          []record.RefHistogramSample
	fhists         []record.RefFloatHistogramSample
	samplesST      []record.RefSampleST
	b1, b2, b3, b4 []byte
	c1, c2, c3, c4 []byte // snappy-compressed forms
}

func (a *headAppender) Commit() error {
	if a.done {
		return fmt.Errorf("commit on a committed or rolled back appender")
	}
	a.done = true
	h := a.head
	if len(a.samples) == 0 && len(a.hists) == 0 && len(a.newSeries) == 0 {
		return nil
	}
	h.appendMu.RLock()
	defer h.appendMu.RUnlock()
	if err := a.log(); err != nil {
		h.metrics.walWriteFailed.Inc()
		a.release()
		return fmt.Errorf("writing to the WAL: %w", err)
	}
	for _, ns := range a.newSeries {
		ns.s.mu.Lock()
		ns.s.logged = true
		ns.s.mu.Unlock()
	}
	var appended, dropped int
	k := 0 // next of a.stSamples
	a.segments(func(off int, floats []pendingSample, hists []pendingHistogram) error {
		for i := range floats {
			p := &floats[i]
			var st int64
			if k < len(a.stSamples) && a.stSamples[k].i == off+i {
				st = a.stSamples[k].st
				k++
			}
			p.s.mu.Lock()
			if p.s.appendST(p.t, p.v, st, h) {
				appended++
			} else {
				dropped++ // a concurrent appender committed the same or a newer sample first
			}
			if p.s.pendingApp == a.id {
				p.s.pendingApp = 0
			}
			p.s.mu.Unlock()
		}
		for i := range hists {
			p := &hists[i]
			p.s.mu.Lock()
			if p.s.appendHistogramST(p.t, p.st, p.h, p.fh, h) {
				appended++
			} else {
				dropped++
			}
			if p.s.pendingApp == a.id {
				p.s.pendingApp = 0
			}
			p.s.mu.Unlock()
		}
		return nil
	})
	h.metrics.samplesAppended.Add(float64(appended))
	h.appended.Add(uint64(appended))
	if dropped > 0 {
		h.metrics.outOfOrder.Add(float64(dropped))
	}
	if appended > 0 {
		h.updateTimes(a.minT, a.maxT)
	}
	a.recycle()
	return nil
}

// maxPooledSeriesRecord is the largest series record buffer kept for reuse (a few hundred series).
const maxPooledSeriesRecord = 64 << 10

// seriesPerRecord bounds the series in one WAL series record.
const seriesPerRecord = 1000

func (a *headAppender) log() error {
	h := a.head
	if h.wal == nil {
		return nil
	}
	buf, _ := h.encoderPool.Get().(*walBuffers)
	if buf == nil {
		buf = &walBuffers{}
	}
	defer func() {
		// A burst of new series (a target's first scrape) makes series buffers of megabytes;
		// pooling them would keep that memory for good, for records that are rare afterwards.
		if cap(buf.b1) > maxPooledSeriesRecord {
			buf.series, buf.b1, buf.c1 = nil, nil, nil
		}
		clear(buf.series) // the label sets of new series, which the head keeps only as ids
		h.encoderPool.Put(buf)
	}()
	var enc record.Encoder
	recs := make([][]byte, 0, 2)
	for pending := a.newSeries; len(pending) > 0; {
		// A target's first scrape creates thousands of series: one record per seriesPerRecord,
		// logged as it is made, so the buffers stay a few hundred kilobytes instead of holding
		// the labels of all of them several times over (raw, compressed, framed). A crash between
		// them leaves series without samples, which head truncation drops.
		if len(recs) > 0 {
			if err := h.wal.Log(recs...); err != nil {
				return err
			}
			recs = recs[:0]
		}
		n := min(len(pending), seriesPerRecord)
		buf.series = buf.series[:0]
		for _, ns := range pending[:n] {
			ls := ns.lset.WithoutEmpty() // as getOrCreate made the series
			if ls.IsEmpty() {
				ns.s.mu.Lock()
				if !ns.s.removed {
					var b labels.ScratchBuilder
					ls = h.seriesLabels(ns.s, &b)
				}
				ns.s.mu.Unlock()
				if ls.IsEmpty() {
					continue // truncated before its first sample: nothing to log
				}
			}
			buf.series = append(buf.series, record.RefSeries{Ref: ns.s.ref, Labels: ls})
		}
		pending = pending[n:]
		buf.b1 = enc.Series(buf.series, buf.b1[:0])
		rec := record.Compress(buf.b1, buf.c1)
		if len(rec) < len(buf.b1) {
			buf.c1 = rec
		}
		recs = append(recs, rec)
	}
	segs, seg := len(a.splits)+1, 0
	err := a.segments(func(off int, floats []pendingSample, hists []pendingHistogram) error {
		recs = a.sampleRecords(buf, recs, off, floats, hists)
		if seg++; seg < segs {
			// Each segment's records must be logged before the buffers are reused.
			if err := h.wal.Log(recs...); err != nil {
				return err
			}
			recs = recs[:0]
		}
		return nil
	})
	if err != nil {
		return err
	}
	return h.wal.Log(recs...)
}

// segments calls f with the batch's floats and histograms, segment by segment (see batchSplit).
// off is the index in a.samples of the segment's first float.
func (a *headAppender) segments(f func(off int, floats []pendingSample, hists []pendingHistogram) error) error {
	fi, hi := 0, 0
	for _, sp := range a.splits {
		if err := f(fi, a.samples[fi:sp.floats], a.hists[hi:sp.hists]); err != nil {
			return err
		}
		fi, hi = sp.floats, sp.hists
	}
	return f(fi, a.samples[fi:], a.hists[hi:])
}

// sampleRecords appends the records of floats and hists to recs: floats (one SamplesST record
// when some of them have start timestamps), then integer histograms, then float histograms.
// off is the index of floats[0] in a.samples.
func (a *headAppender) sampleRecords(buf *walBuffers, recs [][]byte, off int, floats []pendingSample, hists []pendingHistogram) [][]byte {
	var enc record.Encoder
	compress := func(b []byte, c *[]byte) []byte {
		rec := record.Compress(b, *c)
		if len(rec) < len(b) {
			*c = rec
		}
		return rec
	}
	if sts := a.stsOf(off, len(floats)); len(sts) > 0 {
		recs = append(recs, compress(buf.logSamplesST(off, floats, sts), &buf.c2))
	} else if len(floats) > 0 {
		buf.samples = buf.samples[:0]
		for _, p := range floats {
			buf.samples = append(buf.samples, record.RefSample{Ref: p.s.ref, T: p.t, V: p.v})
		}
		buf.b2 = enc.Samples(buf.samples, buf.b2[:0])
		recs = append(recs, compress(buf.b2, &buf.c2))
	}
	if len(hists) == 0 {
		return recs
	}
	buf.hists, buf.fhists = buf.hists[:0], buf.fhists[:0]
	var hasST, fhasST bool
	for _, p := range hists {
		if p.h != nil {
			buf.hists = append(buf.hists, record.RefHistogramSample{Ref: p.s.ref, ST: p.st, T: p.t, H: p.h})
			hasST = hasST || p.st != 0
		} else {
			buf.fhists = append(buf.fhists, record.RefFloatHistogramSample{Ref: p.s.ref, ST: p.st, T: p.t, FH: p.fh})
			fhasST = fhasST || p.st != 0
		}
	}
	// As for floats, a record holds all the histograms of its kind: with start timestamps
	// (HistogramSamplesST) when one of them has one.
	if len(buf.hists) > 0 {
		if hasST {
			buf.b3 = enc.HistogramSamplesST(buf.hists, buf.b3[:0])
		} else {
			buf.b3 = enc.HistogramSamples(buf.hists, buf.b3[:0])
		}
		recs = append(recs, compress(buf.b3, &buf.c3))
		clear(buf.hists)
	}
	if len(buf.fhists) > 0 {
		if fhasST {
			buf.b4 = enc.FloatHistogramSamplesST(buf.fhists, buf.b4[:0])
		} else {
			buf.b4 = enc.FloatHistogramSamples(buf.fhists, buf.b4[:0])
		}
		recs = append(recs, compress(buf.b4, &buf.c4))
		clear(buf.fhists)
	}
	return recs
}

func (a *headAppender) release() {
	for i := range a.samples {
		a.samples[i].s.clearPending(a.id)
	}
	for i := range a.hists {
		a.hists[i].s.clearPending(a.id)
	}
	a.recycle()
}

// clearPending forgets the batch's pending sample of the series, if it is appender id's.
func (s *memSeries) clearPending(id uint32) {
	s.mu.Lock()
	if s.pendingApp == id {
		s.pendingApp = 0
	}
	s.mu.Unlock()
}

func (a *headAppender) Rollback() error {
	if a.done {
		return nil
	}
	a.done = true
	a.release()
	return nil
}

// headAppender is the Appender of the head; DB.Appender wraps it to trigger compaction.
var _ storage.Appender = (*headAppender)(nil)

// truncate drops all data before mint from the head and removes series left empty. It returns
// the refs of removed series (for the WAL checkpoint's keep function).
func (h *Head) truncate(mint int64) map[uint64]struct{} {
	h.appendMu.Lock()
	defer h.appendMu.Unlock()
	if mint > h.minValidT.Load() {
		h.minValidT.Store(mint)
	}
	removed := map[uint64]struct{}{}
	var lsets []labels.Labels
	var dead []*memSeries
	newMin := int64(math.MaxInt64)
	h.series.forEach(func(s *memSeries) {
		s.mu.Lock()
		n := s.truncateBefore(mint, h)
		h.metrics.chunksRemoved.Add(float64(n))
		h.metrics.chunks.Sub(float64(n))
		empty := s.empty() && s.pendingApp == 0
		if empty {
			s.removed = true
		}
		if !empty {
			if mt := s.minTime(); mt < newMin {
				newMin = mt
			}
		}
		s.mu.Unlock()
		if empty {
			dead = append(dead, s)
		}
	})
	var b labels.ScratchBuilder
	for _, s := range dead {
		h.forgetST(s)
		ls := h.seriesLabels(s, &b)
		h.series.remove(s, ls.Hash())
		removed[s.ref] = struct{}{}
		lsets = append(lsets, ls)
	}
	h.postings.deleteRefs(removed, lsets)
	// No lookup by hash, ref or postings finds the series any more, but queriers opened before
	// may still materialise their labels: the symbols go once those are closed.
	if len(dead) > 0 {
		h.chunks.retire(func() {
			for _, s := range dead {
				h.series.syms.release(s.labelIDs)
			}
		})
	}
	h.numSeries.Add(-int64(len(dead)))
	h.metrics.seriesRemoved.Add(float64(len(dead)))
	if newMin == math.MaxInt64 {
		// Empty head: keep the bounds at the truncation point so block cutting does not rescan.
		h.minTime.Store(math.MaxInt64)
		h.maxTime.Store(math.MinInt64)
	} else {
		h.minTime.Store(newMin)
	}
	h.chunks.truncate(mint)
	h.tombstones.DeleteTombstones(removed)
	h.tombstones.TruncateBefore(mint)
	return removed
}

// storeChunk moves a closed chunk's bytes off the heap and returns its reference. If the chunk
// file cannot be written (disk full), the chunk stays on the heap: appends must not fail for it.
func (h *Head) storeChunk(b []byte, maxT int64) uint64 {
	return h.storeChunkEnc(nil, b, maxT)
}

// storeChunkEnc is storeChunk of the chunk made of enc followed by body.
func (h *Head) storeChunkEnc(enc, body []byte, maxT int64) uint64 {
	ref, err := h.chunks.writeEnc(enc, body, maxT)
	if err == nil {
		return ref
	}
	h.metrics.chunkSpills.Inc()
	cp := make([]byte, 0, len(enc)+len(body))
	cp = append(append(cp, enc...), body...)
	h.spillMu.Lock()
	h.spillSeq++
	ref = headChunkSpillBit | h.spillSeq
	h.spilled[ref] = cp
	h.spillMu.Unlock()
	return ref
}

func (h *Head) chunkData(ref uint64) ([]byte, error) {
	if ref&headChunkSpillBit != 0 {
		h.spillMu.RLock()
		defer h.spillMu.RUnlock()
		if b, ok := h.spilled[ref]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("head chunk %x: %w", ref, errHeadChunkGone)
	}
	return h.chunks.chunk(ref)
}

func (h *Head) forgetChunk(ref uint64) {
	if ref&headChunkSpillBit != 0 {
		h.spillMu.Lock()
		delete(h.spilled, ref)
		h.spillMu.Unlock()
	}
}
