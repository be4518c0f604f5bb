package tsdb

import (
	"fmt"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb/chunkenc"
	"github.com/vigil-monitoring/vigil/tsdb/histchunk"
)

// sampleKind is the kind of a sample: its record type in the WAL and its chunk encoding.
type sampleKind uint8

const (
	kindFloat sampleKind = iota
	kindHistogram
	kindFloatHistogram
)

// histHead is the open chunk of a series whose newest samples are native histograms: an
// upstream histogram chunk (integer or float counts) and its appender, whose state (spans,
// previous buckets) the next sample is encoded against.
type histHead struct {
	enc   chunkenc.Encoding // EncHistogram or EncFloatHistogram
	chunk histchunk.Chunk
	app   histchunk.Appender
	lastT int64
	// n is the chunk's sample count, kept here so that the checks of every append do not read
	// the chunk's header (a cache miss per series at scrape time).
	n int
}

// newChunk starts the open chunk and its appender for a histogram (hi set) or float histogram
// sample.
func (hh *histHead) newChunk(hi *histogram.Histogram) {
	if hi != nil {
		// The stream grows from upstream's allocation size: starting it at the size of the
		// series' previous chunk spared a few allocations and copies per chunk but cost about
		// 1 KiB of heap per series (measured: +25–60% head heap per histogram series).
		hh.chunk, hh.app = histchunk.NewHistogramChunkAppender(0)
		return
	}
	hh.chunk = histchunk.NewFloatHistogramChunk()
	app, err := hh.chunk.Appender()
	if err != nil { // an empty chunk always has an appender
		panic(fmt.Sprintf("appender of an empty histogram chunk: %v", err))
	}
	hh.app = app
}

func (hh *histHead) active() bool { return hh != nil && hh.n > 0 }

// appendBytes appends the open chunk in Vigil's chunk format (the encoding byte, then upstream's
// bytes) to b.
func (hh *histHead) appendBytes(b []byte) []byte {
	b = append(b, byte(hh.enc))
	return append(b, hh.chunk.Bytes()...)
}

// lastHistograms decodes the newest sample of the open chunk (for duplicate checks, which are
// rare: the head keeps no decoded copy of it).
func (hh *histHead) last() (*histogram.Histogram, *histogram.FloatHistogram) {
	it := hh.chunk.Iterator(nil)
	var (
		h  *histogram.Histogram
		fh *histogram.FloatHistogram
	)
	for {
		switch it.Next() {
		case histchunk.ValHistogram:
			_, h = it.AtHistogram(h)
		case histchunk.ValFloatHistogram:
			_, fh = it.AtFloatHistogram(fh)
		default:
			return h, fh
		}
	}
}

// histogramChunk cutting: like upstream, a histogram chunk aims at about 1 KiB with at least 10
// samples; the head also cuts at samplesPerChunk, as for floats, to bound the open chunk's heap.
const (
	histChunkTargetBytes = histchunk.TargetBytesPerHistogramChunk
	histChunkMinSamples  = histchunk.MinSamplesPerHistogramChunk
	// histRecodeMaxSamples is the open chunk size from which the head cuts a new chunk rather
	// than recode the open one when a sample brings new buckets.
	histRecodeMaxSamples = 16
)

func kindOf(h *histogram.Histogram) (sampleKind, chunkenc.Encoding) {
	if h != nil {
		return kindHistogram, chunkenc.EncHistogram
	}
	return kindFloatHistogram, chunkenc.EncFloatHistogram
}

// appendableHistogram checks a histogram sample against the committed state (caller holds mu):
// the rules of floats, with Equals for "the same value again".
func (s *memSeries) appendableHistogram(t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) error {
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
	_, enc := kindOf(h)
	if !s.hist.active() || s.hist.enc != enc {
		return storage.ErrDuplicateSampleForTimestamp
	}
	lh, lfh := s.hist.last()
	if (h != nil && lh != nil && lh.Equals(h)) || (fh != nil && lfh != nil && lfh.Equals(fh)) {
		return nil
	}
	return storage.ErrDuplicateSampleForTimestamp
}

// appendHistogram adds a committed histogram sample (caller holds mu); exactly one of hi and fh
// is set. It returns false for a duplicate, which is dropped. A new chunk is cut when the type
// changes, when upstream's appender finds the sample not appendable (counter reset, schema or
// bucket layout change it cannot recode), at the size limits and at chunk range boundaries.
func (s *memSeries) appendHistogram(t int64, hi *histogram.Histogram, fh *histogram.FloatHistogram, h *Head) bool {
	return s.appendHistogramST(t, 0, hi, fh, h)
}

// appendHistogramST is appendHistogram with the sample's start timestamp st (0: none). The
// column of a series with start timestamps covers the samples of the open histogram chunk as
// it does a float one: recoding keeps the samples (and the column), a new chunk starts a new
// column (closeHistChunk).
func (s *memSeries) appendHistogramST(t, st int64, hi *histogram.Histogram, fh *histogram.FloatHistogram, h *Head) bool {
	if t <= s.lastT() {
		return false
	}
	if st != 0 && !s.hasST {
		h.startST(s)
	}
	_, enc := kindOf(hi)
	var prev histchunk.Appender
	cut := !s.hist.active() || s.hist.enc != enc
	if !cut {
		n := s.hist.n
		if n >= samplesPerChunk || (n >= histChunkMinSamples && len(s.hist.chunk.Bytes()) >= histChunkTargetBytes) || t >= rangeEnd(s.openMinT, h.chunkRange) {
			cut, prev = true, s.hist.app // same type: the new chunk's counter reset header is known
		}
	}
	if cut {
		if s.open.NumSamples() > 0 {
			lt := s.lastT()
			s.closed = append(s.closed, memChunk{ref: h.storeChunk(s.withST(nil, s.open.Bytes(), h), lt), minT: s.openMinT, maxT: lt})
			s.open = chunkenc.OpenChunk{}
			if s.hasST {
				h.stColumn(s).Reset()
			}
		} else if s.hist.active() {
			s.closeHistChunk(h)
		}
		if s.hist == nil {
			s.hist = &histHead{}
		}
		s.hist.enc = enc
		s.hist.newChunk(hi)
		s.hist.n = 0
		s.openMinT = t
		h.metrics.chunksCreated.Inc()
		h.metrics.chunks.Inc()
	}
	var (
		c       histchunk.Chunk
		recoded bool
		app     histchunk.Appender
		err     error
	)
	// Recoding rewrites the whole open chunk (a new bucket appeared): past histRecodeMaxSamples
	// the head cuts a new chunk instead, which costs far less CPU than decoding and re-encoding
	// every sample of the chunk. Blocks recode as upstream (ChunkBuilder), so this only changes
	// where head chunks end.
	appendOnly := s.hist.n >= histRecodeMaxSamples
	if hi != nil {
		c, recoded, app, err = s.hist.app.AppendHistogram(prev, 0, t, hi, appendOnly)
	} else {
		c, recoded, app, err = s.hist.app.AppendFloatHistogram(prev, 0, t, fh, appendOnly)
	}
	if err != nil && appendOnly {
		// Not appendable without recoding or a new chunk: cut one; its counter reset header
		// follows from the previous appender as when upstream's appender cuts.
		prev := s.hist.app
		s.closeHistChunk(h)
		s.hist.newChunk(hi)
		s.openMinT = t
		h.metrics.chunksCreated.Inc()
		h.metrics.chunks.Inc()
		if hi != nil {
			c, recoded, app, err = s.hist.app.AppendHistogram(prev, 0, t, hi, false)
		} else {
			c, recoded, app, err = s.hist.app.AppendFloatHistogram(prev, 0, t, fh, false)
		}
	}
	if err != nil { // only returned with appendOnly
		panic(fmt.Sprintf("appending a histogram: %v", err))
	}
	if c != nil {
		if !recoded {
			// Not appendable to the open chunk: that one is complete, c holds the sample.
			s.closeHistChunk(h)
			s.openMinT = t
			h.metrics.chunksCreated.Inc()
			h.metrics.chunks.Inc()
		}
		s.hist.chunk = c
	}
	s.hist.app = app
	s.hist.lastT = t
	s.hist.n++ // closeHistChunk set it to 0 if the sample started a new chunk
	if s.hasST {
		h.stColumn(s).Append(t, st)
	}
	return true
}

// closeHistChunk moves the open histogram chunk to the head chunk files (caller holds mu): an
// EncST chunk, and a new column, when the series has start timestamps.
func (s *memSeries) closeHistChunk(h *Head) {
	hh := s.hist
	if s.hasST {
		b := hh.appendBytes(make([]byte, 0, 1+len(hh.chunk.Bytes())))
		col := h.stColumn(s)
		b = chunkenc.AppendWithST(make([]byte, 0, len(b)+len(col.Bytes())+8), b, col.Bytes())
		col.Reset()
		s.closed = append(s.closed, memChunk{ref: h.storeChunk(b, hh.lastT), minT: s.openMinT, maxT: hh.lastT})
	} else {
		enc := [1]byte{byte(hh.enc)}
		s.closed = append(s.closed, memChunk{ref: h.storeChunkEnc(enc[:], hh.chunk.Bytes(), hh.lastT), minT: s.openMinT, maxT: hh.lastT})
	}
	hh.chunk, hh.app, hh.n = nil, nil, 0
}

// pendingHistogram is a histogram sample of an appender's batch.
type pendingHistogram struct {
	s  *memSeries
	t  int64
	st int64 // start timestamp (0: none)
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
}

// batchSplit marks where, in the batch, a series went back to a kind logged earlier in a
// commit (floats are logged and applied before histograms, integer histograms before float
// ones): the batch is committed in segments so that each series' samples stay in order.
type batchSplit struct{ floats, hists int }

// AppendHistogram adds a native histogram sample: exactly one of h and fh is set.
func (a *headAppender) AppendHistogram(ref storage.SeriesRef, lset labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if (h == nil) == (fh == nil) {
		return 0, fmt.Errorf("append histogram: exactly one of the integer and the float histogram must be given")
	}
	if h != nil {
		if err := h.Validate(); err != nil {
			return 0, err
		}
	} else if err := fh.Validate(); err != nil {
		return 0, err
	}
	kind, _ := kindOf(h)
	return a.appendKind(ref, lset, t, kind, 0, h, fh)
}
