package chunkenc

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// EncPacked is the block encoding of chunks whose values are integers or short decimals (the
// values the int and decimal encodings take), stored column by column with an adaptive bit
// width instead of fixed prefix buckets. The int and decimal encodings spend 19 bits on a delta
// of 1,500 (a CPU-seconds counter growing by up to 15.00 per scrape) and 16 bits on a timestamp
// that a scrape jittered by a few milliseconds; a packed column spends the bits its values
// need (11 and about 5).
//
// Every column (the timestamps, the values as mantissas m = v × 10^k) is coded as:
//   - residuals of order 0 (the values themselves; the encoder does not try it for
//     timestamps), 1 (deltas) or 2 (deltas of deltas; the first delta is kept in the column
//     header), whichever codes smallest;
//   - minus a center c (the residuals' median or the middle of their range, whichever codes
//     smaller), divided by their greatest common divisor g (byte gauges that move by 4 KiB pages
//     have g = 4096), zigzag-coded to an unsigned u;
//   - each u in w bits, w chosen for the smallest column; the code 2^w − 1 is an escape,
//     followed by 6 bits holding len(u) − 1 and len(u) bits of u, so one outlier (a counter
//     reset, a missed scrape) costs its own bits and does not widen the whole column. w = 0
//     means every u is 0 (a constant, or timestamps exactly one interval apart).
//
// Layout: byte EncPacked, uint16 big-endian sample count, byte k (0..9: values are m / 10^k),
// varint t0, varint m0, then for two or more samples: uvarint length of the timestamp column,
// the timestamp column, the value column. A column is: byte order, byte w, varint c, uvarint g,
// varint first delta (order 2 only), then the codes of samples 1.. (order 2: 2..) as a bit
// stream padded to a byte.
//
// The reader returns m / 10^k (m for k = 0), the encoder's values bit for bit: a chunk is packed
// only when every value is integral (k = 0) or a short decimal (see EncDecimal). Like the int
// and decimal encodings it is chosen only when a block's chunks are written (compaction,
// import) and only when it is the smallest; the head and the WAL never hold it. Readers before
// it report "unknown chunk encoding 8" for those chunks.
const EncPacked Encoding = 8

const (
	packedMaxOrder = 2
	packedLenBits  = 6       // escape: bits holding len(u) − 1
	packedMaxGCD   = 1 << 32 // larger divisors are not used (and refused when reading)
)

// packedCol is a column's coding.
type packedCol struct {
	order  byte
	width  uint8
	center int64
	gcd    uint64
	first  int64 // order 2: x1 − x0
}

// EncodePacked encodes samples as a packed chunk. ok is false if a value is neither integral
// nor a short decimal, or the slices are empty or too long.
func EncodePacked(ts []int64, vs []float64) (b []byte, ok bool) {
	if len(ts) == 0 || len(ts) != len(vs) || len(ts) > MaxSamplesPerChunk {
		return nil, false
	}
	k, ms, ok := mantissas(vs)
	if !ok {
		return nil, false
	}
	return encodePacked(ts, ms, k), true
}

// mantissas returns the scale k and the mantissas m = v × 10^k of vs (k = 0 when every value
// is integral), or false when a value is neither integral nor a short decimal.
func mantissas(vs []float64) (k int, ms []int64, ok bool) {
	for _, v := range vs {
		if !IsIntegral(v) {
			if k = decimalScale(vs); k == 0 {
				return 0, nil, false
			}
			break
		}
	}
	ms = make([]int64, len(vs))
	for i, v := range vs {
		if k == 0 {
			ms[i] = int64(v)
			continue
		}
		m, ok := decimalMantissa(v, k)
		if !ok { // cannot happen (decimalScale checked every value); checked anyway
			return 0, nil, false
		}
		ms[i] = int64(m)
	}
	return k, ms, true
}

func encodePacked(ts, ms []int64, k int) []byte {
	out := make([]byte, chunkHeaderSize+1, chunkHeaderSize+16+len(ts)*2)
	out[0] = byte(EncPacked)
	binary.BigEndian.PutUint16(out[1:], uint16(len(ts)))
	out[3] = byte(k)
	out = binary.AppendVarint(out, ts[0])
	out = binary.AppendVarint(out, ms[0])
	if len(ts) == 1 {
		return out
	}
	var e packedEncoder
	tcol := e.column(nil, ts, 1) // order 0 would code absolute times: never the smallest
	out = binary.AppendUvarint(out, uint64(len(tcol)))
	out = append(out, tcol...)
	return e.column(out, ms, 0)
}

// packedEncoder holds scratch space for coding columns.
type packedEncoder struct {
	rs, sorted []int64
	us, best   []uint64
}

// column appends to dst the smallest coding of xs (len ≥ 2) as a column, trying residual
// orders from minOrder.
func (e *packedEncoder) column(dst []byte, xs []int64, minOrder byte) []byte {
	best, bestBits, bestHdr := packedCol{}, -1, 0
	for order := minOrder; order <= packedMaxOrder; order++ {
		if order == 2 && len(xs) < 3 {
			break
		}
		first := e.residuals(xs, order)
		cs := e.centers()
		for k, c := range cs {
			if k == 1 && c == cs[0] {
				break
			}
			col := packedCol{order: order, center: c, gcd: residualGCD(e.rs, c), first: first}
			e.codes(col)
			w, nbits := bestWidth(e.us)
			col.width = uint8(w)
			hdr := len(col.appendHeader(nil))
			if bestBits < 0 || hdr*8+nbits < bestHdr*8+bestBits {
				best, bestBits, bestHdr = col, nbits, hdr
				e.best, e.us = e.us, e.best // keep the codes of the best coding so far
			}
		}
	}
	dst = best.appendHeader(dst)
	s := bstream{b: dst}
	esc := uint64(1)<<best.width - 1
	for _, u := range e.best {
		switch {
		case best.width == 0:
		case u < esc:
			s.writeBits(u, int(best.width))
		default:
			s.writeBits(esc, int(best.width))
			l := bits.Len64(u)
			s.writeBits(uint64(l-1), packedLenBits)
			s.writeBits(u, l)
		}
	}
	return s.b
}

// residuals fills e.rs with the residuals of xs of the given order and returns the first delta
// (kept in the header for order 2). Arithmetic wraps, as the reader's does.
func (e *packedEncoder) residuals(xs []int64, order byte) (first int64) {
	e.rs = e.rs[:0]
	switch order {
	case 0:
		e.rs = append(e.rs, xs[1:]...)
	case 1:
		for i := 1; i < len(xs); i++ {
			e.rs = append(e.rs, xs[i]-xs[i-1])
		}
	case 2:
		first = xs[1] - xs[0]
		d := first
		for i := 2; i < len(xs); i++ {
			nd := xs[i] - xs[i-1]
			e.rs = append(e.rs, nd-d)
			d = nd
		}
	}
	return first
}

// centers returns the candidate centers of e.rs: its median and the middle of its range.
func (e *packedEncoder) centers() [2]int64 {
	if len(e.rs) == 0 {
		return [2]int64{}
	}
	lo, hi := e.rs[0], e.rs[0]
	for _, r := range e.rs {
		lo, hi = min(lo, r), max(hi, r)
	}
	e.sorted = append(e.sorted[:0], e.rs...)
	return [2]int64{selectNth(e.sorted, len(e.sorted)/2), lo + int64((uint64(hi)-uint64(lo))/2)}
}

// selectNth returns the n-th smallest element of a (reordering a): quickselect, linear on
// average, where sorting a chunk's column for its median was most of the encoder's time.
func selectNth(a []int64, n int) int64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		// Median of three as the pivot, then Hoare partition.
		m := lo + (hi-lo)/2
		if a[m] < a[lo] {
			a[m], a[lo] = a[lo], a[m]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[m] {
			a[hi], a[m] = a[m], a[hi]
		}
		p := a[m]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case n <= j:
			hi = j
		case n >= i:
			lo = i
		default:
			return a[n]
		}
	}
	return a[n]
}

// codes fills e.us with the unsigned codes of e.rs under col.
func (e *packedEncoder) codes(col packedCol) {
	e.us = e.us[:0]
	if col.gcd == 1 {
		for _, r := range e.rs {
			q := r - col.center
			e.us = append(e.us, uint64(q<<1)^uint64(q>>63))
		}
		return
	}
	for _, r := range e.rs {
		q := (r - col.center) / int64(col.gcd)
		e.us = append(e.us, uint64(q<<1)^uint64(q>>63))
	}
}

// residualGCD returns the greatest common divisor of r − c over rs, 1 when it is 0 or too big.
func residualGCD(rs []int64, c int64) uint64 {
	var g uint64
	for _, r := range rs {
		d := r - c
		var a uint64
		if d < 0 {
			a = uint64(-d) // MinInt64 gives 2^63, as wanted
		} else {
			a = uint64(d)
		}
		for a != 0 {
			g, a = a, g%a
		}
		if g == 1 {
			return 1
		}
	}
	if g == 0 || g >= packedMaxGCD {
		return 1
	}
	return g
}

// bestWidth returns the code width that makes us smallest, and that size in bits.
func bestWidth(us []uint64) (w, nbits int) {
	var cnt, ones [65]int // by bit length: all values, and values 2^l − 1
	for _, u := range us {
		l := bits.Len64(u)
		cnt[l]++
		if u&(u+1) == 0 {
			ones[l]++
		}
	}
	if cnt[0] == len(us) {
		return 0, 0
	}
	// above[l]: escape payload of the values longer than l bits.
	var above [66]int
	for l := 64; l >= 0; l-- {
		above[l] = above[l+1]
		if l < 64 {
			above[l] += cnt[l+1] * (packedLenBits + l + 1)
		}
	}
	nbits = -1
	for c := 1; c <= 64; c++ {
		size := len(us)*c + above[c] + ones[c]*(packedLenBits+c)
		if nbits < 0 || size < nbits {
			w, nbits = c, size
		}
	}
	return w, nbits
}

func (c packedCol) appendHeader(dst []byte) []byte {
	dst = append(dst, c.order, c.width)
	dst = binary.AppendVarint(dst, c.center)
	dst = binary.AppendUvarint(dst, c.gcd)
	if c.order == 2 {
		dst = binary.AppendVarint(dst, c.first)
	}
	return dst
}

// packedReader decodes one column.
type packedReader struct {
	br    bstreamReader
	col   packedCol
	esc   uint64
	x     int64 // the current value
	delta int64 // order 2: the current delta
}

// readPackedHeader parses a column header at the start of b and returns the reader over the
// rest of b.
func readPackedHeader(b []byte) (packedReader, int, error) {
	var r packedReader
	if len(b) < 2 {
		return r, 0, fmt.Errorf("chunkenc: packed column header of %d bytes", len(b))
	}
	r.col.order, r.col.width = b[0], b[1]
	if r.col.order > packedMaxOrder || r.col.width > 64 {
		return r, 0, fmt.Errorf("chunkenc: packed column has order %d, width %d", r.col.order, r.col.width)
	}
	off := 2
	c, n := binary.Varint(b[off:])
	if n <= 0 {
		return r, 0, fmt.Errorf("chunkenc: packed column: bad center")
	}
	off += n
	g, n := binary.Uvarint(b[off:])
	if n <= 0 || g == 0 || g >= packedMaxGCD {
		return r, 0, fmt.Errorf("chunkenc: packed column: bad divisor")
	}
	off += n
	r.col.center, r.col.gcd = c, g
	if r.col.order == 2 {
		f, n := binary.Varint(b[off:])
		if n <= 0 {
			return r, 0, fmt.Errorf("chunkenc: packed column: bad first delta")
		}
		off += n
		r.col.first = f
	}
	r.esc = uint64(1)<<r.col.width - 1
	r.br = newBReader(b[off:])
	return r, off, nil
}

// next decodes sample i (≥ 1) of the column; r.x holds sample i − 1.
func (r *packedReader) next(i int) error {
	if r.col.order == 2 && i == 1 {
		r.delta = r.col.first
		r.x += r.delta
		return nil
	}
	var u uint64
	if w := r.col.width; w > 0 {
		var err error
		if u, err = r.bits(w); err != nil {
			return err
		}
		if u == r.esc {
			l, err := r.bits(packedLenBits)
			if err != nil {
				return err
			}
			if u, err = r.bits(uint8(l) + 1); err != nil {
				return err
			}
		}
	}
	q := int64(u>>1) ^ -int64(u&1)
	res := q*int64(r.col.gcd) + r.col.center
	switch r.col.order {
	case 0:
		r.x = res
	case 1:
		r.x += res
	default:
		r.delta += res
		r.x += r.delta
	}
	return nil
}

func (r *packedReader) bits(n uint8) (uint64, error) {
	u, err := r.br.readBitsFast(n)
	if err != nil {
		u, err = r.br.readBits(n)
	}
	if err != nil {
		return 0, fmt.Errorf("chunkenc: reading packed column: %w", err)
	}
	return u, nil
}

type packedIterator struct {
	t, v     packedReader
	div      float64
	numTotal int
	numRead  int
	err      error
}

func (it *packedIterator) reset(b []byte) {
	*it = packedIterator{}
	if len(b) < chunkHeaderSize+1 {
		it.err = fmt.Errorf("chunkenc: packed chunk of %d bytes is shorter than its header", len(b))
		return
	}
	it.numTotal = int(binary.BigEndian.Uint16(b[1:]))
	k := int(b[chunkHeaderSize])
	if k > maxDecimalScale {
		it.err = fmt.Errorf("chunkenc: packed chunk has scale %d", k)
		return
	}
	it.div = pow10[k]
	off := chunkHeaderSize + 1
	t0, n := binary.Varint(b[off:])
	if n <= 0 {
		it.err = fmt.Errorf("chunkenc: packed chunk: bad first timestamp")
		return
	}
	off += n
	m0, n := binary.Varint(b[off:])
	if n <= 0 {
		it.err = fmt.Errorf("chunkenc: packed chunk: bad first value")
		return
	}
	off += n
	it.t.x, it.v.x = t0, m0
	if it.numTotal < 2 {
		return
	}
	l, n := binary.Uvarint(b[off:])
	if n <= 0 || l > uint64(len(b)-off-n) {
		it.err = fmt.Errorf("chunkenc: packed chunk: bad timestamp column length")
		return
	}
	off += n
	tcol := b[off : off+int(l)]
	var err error
	if it.t, _, err = readPackedHeader(tcol); err != nil {
		it.err = err
		return
	}
	if it.v, _, err = readPackedHeader(b[off+int(l):]); err != nil {
		it.err = err
		return
	}
	it.t.x, it.v.x = t0, m0
}

func (it *packedIterator) Next() bool {
	if it.err != nil || it.numRead >= it.numTotal {
		return false
	}
	if it.numRead > 0 {
		if err := it.t.next(it.numRead); err != nil {
			it.err = err
			return false
		}
		if err := it.v.next(it.numRead); err != nil {
			it.err = err
			return false
		}
	}
	it.numRead++
	return true
}

func (it *packedIterator) SeekTo(t int64) bool {
	if it.err != nil {
		return false
	}
	for it.numRead == 0 || t > it.t.x {
		if !it.Next() {
			return false
		}
	}
	return true
}

func (it *packedIterator) At() (int64, float64) {
	if it.div == 1 {
		return it.t.x, float64(it.v.x)
	}
	return it.t.x, float64(it.v.x) / it.div
}
