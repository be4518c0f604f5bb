package histchunk

// Vigil's own block encoding of integer histogram chunks (not from upstream).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
)

// Columns codes a whole integer histogram chunk column by column instead of sample by sample:
// the layout (schema, zero threshold, spans, custom values) once, then one column per
// timestamps, zero count, count (left out when every count is the zero count plus the bucket
// total), each bucket's absolute count, and the sum (XOR). Each integer column is coded as
// varbit deltas or varbit deltas of deltas, whichever is smaller for that column. Upstream's
// sample-wise encoding codes every bucket relative to its neighbour, so the noise of two buckets
// adds up; per-bucket columns do not.
//
// It holds only chunks whose samples all share one layout and hold no stale markers (upstream's
// chunks after recoding always share one layout), and is decoded to exactly the samples of the
// upstream chunk it was made from (EncodeColumns checks), counter reset hints included.
//
// Layout: upstream's 3-byte header (sample count, counter reset header), then a bit stream:
// schema (varbit), zero threshold (64 bits), positive and negative spans (count, then offset and
// length per span, varbit), custom values (count, 64 bits each) for custom-bucket schemas, a
// count-derived bit, then the columns.

// EncodeColumns returns the columnar encoding of the upstream integer histogram chunk b (without
// Vigil's encoding byte), or ok false when the chunk cannot be coded so (mixed layouts, stale
// markers, a damaged chunk) or the result would not be smaller.
func EncodeColumns(b []byte) (out []byte, ok bool) {
	if len(b) < histogramHeaderSize {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	crh := CounterResetHeader(b[histogramFlagPos] & CounterResetHeaderMask)
	var (
		hc      HistogramChunk
		h       histogram.Histogram
		lay     *histogram.Histogram
		ts      = make([]int64, 0, n)
		sums    = make([]float64, 0, n)
		cols    []int64 // zero count, count, buckets: n values each; timestamps separately
		np, nn  int
		derived = true
	)
	hc.Reset(b)
	it := hc.Iterator(nil)
	for i := 0; it.Next() != ValNone; i++ {
		t, hp := it.AtHistogram(&h)
		if i >= n || hp != &h || value.IsStaleNaN(h.Sum) || h.CounterResetHint != counterResetHint(crh, uint16(i+1)) {
			return nil, false // not an integer histogram, a stale marker or a reduced schema
		}
		if lay == nil {
			lay = h.Copy()
			np, nn = len(lay.PositiveBuckets), len(lay.NegativeBuckets)
			if (2+np+nn)*n > 1<<24 {
				return nil, false
			}
			cols = make([]int64, (2+np+nn)*n)
		} else if !sameLayout(lay, &h) {
			return nil, false
		}
		ts, sums = append(ts, t), append(sums, h.Sum)
		cols[i], cols[n+i] = int64(h.ZeroCount), int64(h.Count)
		total := h.ZeroCount
		var abs int64
		for j, d := range h.PositiveBuckets {
			abs += d
			cols[(2+j)*n+i] = abs
			total += uint64(abs)
		}
		abs = 0
		for j, d := range h.NegativeBuckets {
			abs += d
			cols[(2+np+j)*n+i] = abs
			total += uint64(abs)
		}
		if total != h.Count {
			derived = false
		}
	}
	if it.Err() != nil || n == 0 || len(ts) != n {
		return nil, false
	}

	var bs bstream
	bs.stream = make([]byte, histogramHeaderSize, len(b))
	copy(bs.stream, b[:histogramHeaderSize])
	putVarbitInt(&bs, int64(lay.Schema))
	bs.writeBits(math.Float64bits(lay.ZeroThreshold), 64)
	putSpans(&bs, lay.PositiveSpans)
	putSpans(&bs, lay.NegativeSpans)
	if histogram.IsCustomBucketsSchema(lay.Schema) {
		putVarbitUint(&bs, uint64(len(lay.CustomValues)))
		for _, v := range lay.CustomValues {
			bs.writeBits(math.Float64bits(v), 64)
		}
	}
	if derived {
		bs.writeBit(one)
	} else {
		bs.writeBit(zero)
	}
	putColumn(&bs, ts)
	putColumn(&bs, cols[:n])
	if !derived {
		putColumn(&bs, cols[n:2*n])
	}
	for j := range np + nn {
		putColumn(&bs, cols[(2+j)*n:(3+j)*n])
	}
	leading, trailing := uint8(0xff), uint8(0)
	for i, v := range sums {
		if i == 0 {
			bs.writeBits(math.Float64bits(v), 64)
		} else {
			xorWrite(&bs, v, sums[i-1], &leading, &trailing)
		}
	}
	out = bs.bytes()
	if len(out) >= len(b) {
		return nil, false
	}

	// Decode what was written and compare with the upstream chunk's samples (the hints were
	// compared above: both follow from the header the chunk keeps).
	var ci ColumnsIterator
	ci.Reset(out)
	if ci.Err() != nil || ci.n != n || ci.schema != lay.Schema || math.Float64bits(ci.zThreshold) != math.Float64bits(lay.ZeroThreshold) ||
		!slices.Equal(ci.pSpans, lay.PositiveSpans) || !slices.Equal(ci.nSpans, lay.NegativeSpans) ||
		!slices.EqualFunc(ci.customValues, lay.CustomValues, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }) ||
		!slices.Equal(ci.ts, ts) || !slices.Equal(ci.cols, cols) ||
		!slices.EqualFunc(ci.sums, sums, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }) {
		return nil, false
	}
	return out, true
}

// identical compares two integer histograms field by field, the sum bit for bit.
func identical(a, b *histogram.Histogram) bool {
	return a.CounterResetHint == b.CounterResetHint && a.Count == b.Count && a.ZeroCount == b.ZeroCount &&
		math.Float64bits(a.Sum) == math.Float64bits(b.Sum) && sameLayout(a, b) &&
		slices.Equal(a.PositiveBuckets, b.PositiveBuckets) && slices.Equal(a.NegativeBuckets, b.NegativeBuckets)
}

func sameLayout(a, b *histogram.Histogram) bool {
	return a.Schema == b.Schema && math.Float64bits(a.ZeroThreshold) == math.Float64bits(b.ZeroThreshold) &&
		slices.Equal(a.PositiveSpans, b.PositiveSpans) && slices.Equal(a.NegativeSpans, b.NegativeSpans) &&
		len(a.PositiveBuckets) == len(b.PositiveBuckets) && len(a.NegativeBuckets) == len(b.NegativeBuckets) &&
		slices.EqualFunc(a.CustomValues, b.CustomValues, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

func putSpans(bs *bstream, spans []histogram.Span) {
	putVarbitUint(bs, uint64(len(spans)))
	for _, s := range spans {
		putVarbitInt(bs, int64(s.Offset))
		putVarbitUint(bs, uint64(s.Length))
	}
}

func readSpans(br *bstreamReader, spans []histogram.Span) ([]histogram.Span, error) {
	n, err := readVarbitUint(br)
	if err != nil {
		return nil, err
	}
	if n > math.MaxUint16 {
		return nil, fmt.Errorf("%d spans", n)
	}
	spans = spans[:0]
	for range n {
		off, err := readVarbitInt(br)
		if err != nil {
			return nil, err
		}
		l, err := readVarbitUint(br)
		if err != nil {
			return nil, err
		}
		if off < math.MinInt32 || off > math.MaxInt32 || l > math.MaxUint32 {
			return nil, errors.New("span out of range")
		}
		spans = append(spans, histogram.Span{Offset: int32(off), Length: uint32(l)})
	}
	return spans, nil
}

// varbitIntBits is the size putVarbitInt gives v.
func varbitIntBits(v int64) int {
	switch {
	case v == 0:
		return 1
	case bitRange(v, 3):
		return 5
	case bitRange(v, 6):
		return 9
	case bitRange(v, 9):
		return 13
	case bitRange(v, 12):
		return 17
	case bitRange(v, 18):
		return 24
	case bitRange(v, 25):
		return 32
	case bitRange(v, 56):
		return 64
	}
	return 72
}

// putColumn writes a mode bit and then vs as varbit deltas (mode 0) or deltas of deltas (mode 1),
// the first value and (mode 1) the first delta as such. Differences wrap around as int64.
func putColumn(bs *bstream, vs []int64) {
	var d1, d2 int
	for i := range vs {
		d1 += varbitIntBits(delta(vs, i))
		d2 += varbitIntBits(dod(vs, i))
	}
	if d1 <= d2 {
		bs.writeBit(zero)
		for i := range vs {
			putVarbitInt(bs, delta(vs, i))
		}
		return
	}
	bs.writeBit(one)
	for i := range vs {
		putVarbitInt(bs, dod(vs, i))
	}
}

func delta(vs []int64, i int) int64 {
	if i == 0 {
		return vs[0]
	}
	return vs[i] - vs[i-1]
}

func dod(vs []int64, i int) int64 {
	if i < 2 {
		return delta(vs, i)
	}
	return vs[i] - 2*vs[i-1] + vs[i-2]
}

func readColumn(br *bstreamReader, vs []int64) error {
	mode, err := br.readBit()
	if err != nil {
		return err
	}
	var prev, d int64
	for i := range vs {
		x, err := readVarbitInt(br)
		if err != nil {
			return err
		}
		if mode == one && i >= 2 {
			d += x
		} else {
			d = x
			if i == 0 {
				d = x - prev // prev is 0: vs[0] = x
			}
		}
		vs[i] = prev + d
		prev = vs[i]
	}
	return nil
}

// ColumnsIterator iterates over a columnar chunk (EncodeColumns's output). It decodes the whole
// chunk on Reset, into buffers it keeps from chunk to chunk.
type ColumnsIterator struct {
	n, i          int
	crh           CounterResetHeader
	derived       bool
	schema        int32
	zThreshold    float64
	pSpans        []histogram.Span
	nSpans        []histogram.Span
	customValues  []float64
	np, nn        int
	ts            []int64
	cols          []int64 // zero count, count, buckets: n values each
	sums          []float64
	err           error
	returnedSpans bool // pSpans/nSpans/customValues were handed out by AtHistogram(nil): do not reuse
}

// Reset points the iterator at a columnar chunk (without Vigil's encoding byte).
func (it *ColumnsIterator) Reset(b []byte) {
	it.i, it.n, it.err = -1, 0, nil
	if it.returnedSpans {
		it.pSpans, it.nSpans, it.returnedSpans = nil, nil, false
	}
	if err := it.decode(b); err != nil {
		it.err = fmt.Errorf("columnar histogram chunk: %w", err)
		it.n = 0
	}
}

func (it *ColumnsIterator) decode(b []byte) error {
	if len(b) < histogramHeaderSize {
		return errors.New("shorter than its header")
	}
	n := int(binary.BigEndian.Uint16(b))
	it.crh = CounterResetHeader(b[histogramFlagPos] & CounterResetHeaderMask)
	br := newBReader(b[histogramHeaderSize:])
	schema, err := readVarbitInt(&br)
	if err != nil {
		return err
	}
	if schema != int64(histogram.CustomBucketsSchema) && (schema < int64(histogram.ExponentialSchemaMin) || schema > int64(histogram.ExponentialSchemaMax)) {
		return fmt.Errorf("schema %d", schema)
	}
	it.schema = int32(schema)
	zt, err := br.readBits(64)
	if err != nil {
		return err
	}
	it.zThreshold = math.Float64frombits(zt)
	if it.pSpans, err = readSpans(&br, it.pSpans); err != nil {
		return err
	}
	if it.nSpans, err = readSpans(&br, it.nSpans); err != nil {
		return err
	}
	it.np, it.nn = bucketCount(it.pSpans), bucketCount(it.nSpans)
	// Every value but the counts takes at least one bit: a damaged chunk cannot make the
	// iterator allocate more than the chunk could hold.
	if it.np < 0 || it.nn < 0 || (2+it.np+it.nn)*n > 8*len(b) {
		return errors.New("more values than the chunk holds")
	}
	it.customValues = nil
	if histogram.IsCustomBucketsSchema(it.schema) {
		k, err := readVarbitUint(&br)
		if err != nil {
			return err
		}
		if k > 1<<16 {
			return fmt.Errorf("%d custom values", k)
		}
		it.customValues = make([]float64, k)
		for j := range it.customValues {
			v, err := br.readBits(64)
			if err != nil {
				return err
			}
			it.customValues[j] = math.Float64frombits(v)
		}
	}
	d, err := br.readBit()
	if err != nil {
		return err
	}
	it.derived = d == one
	it.ts = resize(it.ts, n)
	if err := readColumn(&br, it.ts); err != nil {
		return err
	}
	it.cols = resize(it.cols, (2+it.np+it.nn)*n)
	for c := range 2 + it.np + it.nn {
		if c == 1 && it.derived {
			continue
		}
		if err := readColumn(&br, it.cols[c*n:(c+1)*n]); err != nil {
			return err
		}
	}
	if it.derived {
		for i := range n {
			total := uint64(it.cols[i])
			for c := 2; c < 2+it.np+it.nn; c++ {
				total += uint64(it.cols[c*n+i])
			}
			it.cols[n+i] = int64(total)
		}
	}
	it.sums = resize(it.sums, n)
	leading, trailing := uint8(0), uint8(0)
	for i := range n {
		if i == 0 {
			v, err := br.readBits(64)
			if err != nil {
				return err
			}
			it.sums[0] = math.Float64frombits(v)
			continue
		}
		it.sums[i] = it.sums[i-1]
		if err := xorRead(&br, &it.sums[i], &leading, &trailing); err != nil {
			return err
		}
	}
	it.n = n
	return nil
}

func bucketCount(spans []histogram.Span) int {
	var n int
	for _, s := range spans {
		n += int(s.Length)
		if n > 1<<20 {
			return -1
		}
	}
	return n
}

func (it *ColumnsIterator) Next() ValueType {
	if it.i+1 >= it.n {
		it.i = it.n
		return ValNone
	}
	it.i++
	return ValHistogram
}

func (it *ColumnsIterator) SeekTo(t int64) ValueType {
	if it.i < 0 {
		it.i = 0
	}
	for ; it.i < it.n; it.i++ {
		if it.ts[it.i] >= t {
			return ValHistogram
		}
	}
	return ValNone
}

func (*ColumnsIterator) At() (int64, float64) { panic("cannot call ColumnsIterator.At") }

func (it *ColumnsIterator) AtT() int64 { return it.ts[it.i] }

func (*ColumnsIterator) AtST() int64 { return 0 }

func (it *ColumnsIterator) Err() error { return it.err }

func (it *ColumnsIterator) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	i, n := it.i, it.n
	if h == nil {
		h = &histogram.Histogram{}
		// Spans and custom values are shared with the iterator as upstream's iterator does;
		// a histogram handed out so keeps them, so the next chunk decodes into new ones.
		h.PositiveSpans, h.NegativeSpans, h.CustomValues = it.pSpans, it.nSpans, it.customValues
		it.returnedSpans = true
	} else {
		h.PositiveSpans = append(h.PositiveSpans[:0], it.pSpans...)
		h.NegativeSpans = append(h.NegativeSpans[:0], it.nSpans...)
		h.CustomValues = it.customValues // interned, as upstream's iterator does
	}
	h.CounterResetHint = counterResetHint(it.crh, uint16(i+1))
	h.Schema, h.ZeroThreshold = it.schema, it.zThreshold
	h.ZeroCount, h.Count, h.Sum = uint64(it.cols[i]), uint64(it.cols[n+i]), it.sums[i]
	h.PositiveBuckets = it.deltas(h.PositiveBuckets[:0], 2, it.np)
	h.NegativeBuckets = it.deltas(h.NegativeBuckets[:0], 2+it.np, it.nn)
	return it.ts[i], h
}

// deltas appends the buckets of columns from..from+k of the current sample as upstream's
// neighbour deltas.
func (it *ColumnsIterator) deltas(dst []int64, from, k int) []int64 {
	var prev int64
	for c := from; c < from+k; c++ {
		v := it.cols[c*it.n+it.i]
		dst = append(dst, v-prev)
		prev = v
	}
	return dst
}

func (it *ColumnsIterator) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	var h histogram.Histogram
	t, hp := it.AtHistogram(&h)
	return t, hp.ToFloat(fh)
}
