package tsdb

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb/chunkenc"
	"github.com/vigil-monitoring/vigil/tsdb/record"
)

// Start timestamps in the head. A series gets a start timestamp column for its open chunk the
// first time a sample with a start timestamp arrives (memSeries.hasST); the column lives in
// Head.stCols, outside memSeries, so that the series without start timestamps (nearly all) pay
// neither bytes nor work beyond testing hasST. From then on the series' chunks are EncST: the
// open chunk joined with its column when read, and when cut into the head chunk files.

// stColumns maps series refs to their start timestamp columns: a paged array like the series
// store's ref index, with a page allocated only when one of its series gets a column, so that a
// head without start timestamps holds nothing and a lookup is two loads.
type stColumns struct {
	mu    sync.Mutex // serialises growth
	pages atomic.Pointer[[]*stPage]
}

type stPage [seriesPageSize]*chunkenc.STColumn

func (c *stColumns) page(ref uint64, create bool) *stPage {
	if ps := c.pages.Load(); ps != nil {
		if p := ref >> seriesPageBits; p < uint64(len(*ps)) && (*ps)[p] != nil {
			return (*ps)[p]
		}
	}
	if !create {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var ps []*stPage
	if cur := c.pages.Load(); cur != nil {
		ps = *cur
	}
	p := ref >> seriesPageBits
	if p >= uint64(len(ps)) {
		// Copy on grow: readers keep using the old slice, whose pages are shared.
		nps := make([]*stPage, p+1)
		copy(nps, ps)
		ps = nps
	} else {
		ps = append([]*stPage(nil), ps...)
	}
	if ps[p] == nil {
		ps[p] = new(stPage)
	}
	c.pages.Store(&ps)
	return ps[p]
}

// stColumn returns the column of s (caller holds s.mu and s.hasST is set).
func (h *Head) stColumn(s *memSeries) *chunkenc.STColumn {
	return h.stCols.page(s.ref, false)[s.ref&(seriesPageSize-1)]
}

// startST gives s a column, covering the samples its open chunk already holds as having no start
// timestamp (caller holds s.mu).
func (h *Head) startST(s *memSeries) {
	c := &chunkenc.STColumn{}
	if n := s.open.NumSamples(); n > 0 {
		lt, _ := s.open.Last()
		c.AppendNone(n, lt)
	} else if s.hist.active() {
		c.AppendNone(s.hist.n, s.hist.lastT)
	}
	h.stCols.page(s.ref, true)[s.ref&(seriesPageSize-1)] = c
	s.hasST = true
}

// forgetST drops the column of a series leaving the head.
func (h *Head) forgetST(s *memSeries) {
	if s.hasST {
		s.mu.Lock()
		h.stCols.page(s.ref, false)[s.ref&(seriesPageSize-1)] = nil
		s.mu.Unlock()
	}
}

// withST returns the chunk b of s's open chunk joined with its column into dst (reused), or b
// itself when s has no start timestamps (caller holds s.mu).
func (s *memSeries) withST(dst, b []byte, h *Head) []byte {
	if !s.hasST {
		return b
	}
	return chunkenc.AppendWithST(dst[:0], b, h.stColumn(s).Bytes())
}

// AppendST implements storage.STAppender: Append with the sample's start timestamp (0: none).
func (a *headAppender) AppendST(ref storage.SeriesRef, lset labels.Labels, st, t int64, v float64) (storage.SeriesRef, error) {
	n := len(a.samples)
	r, err := a.Append(ref, lset, t, v)
	if err == nil && st != 0 && len(a.samples) > n {
		if a.stSamples == nil {
			if b, ok := a.head.stBatchPool.Get().(*[]pendingST); ok {
				a.stSamples = (*b)[:0]
			}
		}
		a.stSamples = append(a.stSamples, pendingST{i: n, st: st})
	}
	return r, err
}

// pendingST is the start timestamp of the batch's sample samples[i].
type pendingST struct {
	i  int
	st int64
}

// logSamplesST encodes the batch's samples, with their start timestamps, as one SamplesST
// record (all of them, so that replay keeps each series' order).
func (buf *walBuffers) logSamplesST(off int, floats []pendingSample, sts []pendingST) []byte {
	buf.samplesST = buf.samplesST[:0]
	k := 0
	for i, p := range floats {
		var st int64
		if k < len(sts) && sts[k].i == off+i {
			st = sts[k].st
			k++
		}
		buf.samplesST = append(buf.samplesST, record.RefSampleST{Ref: p.s.ref, ST: st, T: p.t, V: p.v})
	}
	var enc record.Encoder
	buf.b2 = enc.SamplesST(buf.samplesST, buf.b2[:0])
	return buf.b2
}

// stsOf returns the start timestamps of a.samples[off:off+n].
func (a *headAppender) stsOf(off, n int) []pendingST {
	lo := sort.Search(len(a.stSamples), func(k int) bool { return a.stSamples[k].i >= off })
	hi := sort.Search(len(a.stSamples), func(k int) bool { return a.stSamples[k].i >= off+n })
	return a.stSamples[lo:hi]
}

// AppendHistogramST implements storage.HistogramSTAppender: AppendHistogram with the sample's
// start timestamp (0: none).
func (a *headAppender) AppendHistogramST(ref storage.SeriesRef, lset labels.Labels, st, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	n := len(a.hists)
	r, err := a.AppendHistogram(ref, lset, t, h, fh)
	if err == nil && len(a.hists) > n {
		a.hists[n].st = st
	}
	return r, err
}

var (
	_ storage.STAppender          = (*headAppender)(nil)
	_ storage.HistogramSTAppender = (*headAppender)(nil)
)
