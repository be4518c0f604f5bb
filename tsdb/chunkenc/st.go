package chunkenc

// Start timestamps (the created timestamp of a counter, the start of a delta's interval) are
// kept only for the series that have them: such a series' chunks are EncST, a float chunk of
// any other encoding (XOR in the head, XOR or int in blocks) followed by a column of start
// timestamps. Series without start timestamps keep their chunks as they are, byte for byte,
// and pay nothing.
//
// The column follows the ideas of upstream's chunkenc/st.go (v0.315.0), in a stream of its own
// so that the float encodings stay untouched: per sample, one bit "same start timestamp as the
// previous sample" (the first sample compares with 0, "none"), else a 1 bit and the
// delta-of-delta of prevT-st, where prevT is the previous sample's timestamp (the sample's own
// for the first one). A cumulative counter (st constant) costs one bit per sample, a delta
// series (st = the previous sample's timestamp, or a constant offset from it) two.
//
//	EncST chunk: byte EncST, uint16 big-endian sample count, uvarint len(inner),
//	             inner chunk (with its own header), column bits.

import (
	"encoding/binary"
	"fmt"
)

// EncST is a float chunk with start timestamps. Its value stays clear of upstream's encodings
// and of the native histogram ones.
const EncST Encoding = 0x20

// STColumn is the start timestamp column of a chunk being appended to (the head's open chunk,
// or a block chunk being written).
type STColumn struct {
	b        bstream
	n        uint16
	prevT    int64
	prevST   int64
	prevDiff int64
}

// Reset empties the column.
func (c *STColumn) Reset() { *c = STColumn{b: bstream{b: c.b.b[:0]}} }

// NumSamples returns the number of samples in the column.
func (c *STColumn) NumSamples() int { return int(c.n) }

// Bytes returns the encoded column. It aliases the column's buffer.
func (c *STColumn) Bytes() []byte { return c.b.b }

// Append adds the start timestamp st (0: none) of the sample at t.
func (c *STColumn) Append(t, st int64) {
	if c.n == 0 {
		c.prevT = t
	}
	if st == c.prevST {
		c.b.writeBit(false)
	} else {
		c.b.writeBit(true)
		diff := c.prevT - st
		writeIntValue(&c.b, diff-c.prevDiff)
		c.prevDiff = diff
	}
	c.prevT, c.prevST = t, st
	c.n++
}

// AppendNone adds n samples without start timestamps, the newest at lastT: what a column
// started in the middle of a chunk holds for the samples before it.
func (c *STColumn) AppendNone(n int, lastT int64) {
	for range n {
		c.b.writeBit(false) // st 0 == the initial prevST
	}
	c.n += uint16(n)
	c.prevT = lastT
}

// AppendWithST appends to dst the EncST chunk made of the encoded float chunk inner and the
// start timestamp column col (of as many samples), and returns it.
func AppendWithST(dst, inner, col []byte) []byte {
	dst = append(dst, byte(EncST), 0, 0)
	if len(inner) >= chunkHeaderSize {
		copy(dst[len(dst)-2:], inner[1:3])
	}
	dst = binary.AppendUvarint(dst, uint64(len(inner)))
	dst = append(dst, inner...)
	return append(dst, col...)
}

// SplitST returns the inner chunk and the column of an EncST chunk. The inner chunk is a float
// chunk (EncXOR, EncInt, EncDecimal) or a native histogram chunk (EncHistogram,
// EncFloatHistogram, EncHistogramColumns); readers of the inner chunk check its encoding.
func SplitST(b []byte) (inner, col []byte, err error) { return splitST(b) }

func splitST(b []byte) (inner, col []byte, err error) {
	if len(b) < chunkHeaderSize {
		return nil, nil, fmt.Errorf("chunkenc: start timestamp chunk of %d bytes is shorter than its header", len(b))
	}
	l, k := binary.Uvarint(b[chunkHeaderSize:])
	if k <= 0 || l > uint64(len(b)-chunkHeaderSize-k) {
		return nil, nil, fmt.Errorf("chunkenc: start timestamp chunk: bad inner chunk length")
	}
	start := chunkHeaderSize + k
	inner = b[start : start+int(l)]
	if len(inner) == 0 || Encoding(inner[0]) == EncST {
		return nil, nil, fmt.Errorf("chunkenc: start timestamp chunk: bad inner chunk")
	}
	return inner, b[start+int(l):], nil
}

// stReader decodes a column in step with the samples of the inner chunk.
type stReader struct {
	br       bstreamReader
	n        int
	prevT    int64
	st       int64
	prevDiff int64
	err      error
}

func (r *stReader) reset(col []byte) {
	*r = stReader{br: newBReader(col)}
}

// next decodes the start timestamp of the sample at t.
func (r *stReader) next(t int64) {
	if r.err != nil {
		return
	}
	if r.n == 0 {
		r.prevT = t
	}
	changed, err := r.br.readBit()
	if err != nil {
		r.err = fmt.Errorf("chunkenc: reading start timestamp: %w", err)
		return
	}
	if changed {
		dod, err := readIntValue(&r.br)
		if err != nil {
			r.err = fmt.Errorf("chunkenc: reading start timestamp: %w", err)
			return
		}
		r.prevDiff += dod
		r.st = r.prevT - r.prevDiff
	}
	r.prevT = t
	r.n++
}

// STReader decodes a start timestamp column in step with the samples of a chunk decoded by
// another iterator (the histogram chunks' iterators read EncST chunks with it).
type STReader struct{ r stReader }

// Reset points the reader at the column col (the second result of SplitST).
func (r *STReader) Reset(col []byte) { r.r.reset(col) }

// Next decodes the start timestamp of the next sample, whose timestamp is t.
func (r *STReader) Next(t int64) error {
	r.r.next(t)
	return r.r.err
}

// ST returns the start timestamp decoded by the last Next (0: none).
func (r *STReader) ST() int64 { return r.r.st }

// NumRead returns the number of samples decoded since Reset.
func (r *STReader) NumRead() int { return r.r.n }

// readIntValue reads what writeIntValue wrote.
func readIntValue(br *bstreamReader) (int64, error) {
	var d byte
	for range 4 {
		d <<= 1
		bit, err := br.readBit()
		if err != nil {
			return 0, err
		}
		if !bit {
			break
		}
		d |= 1
	}
	var sz uint8
	switch d {
	case 0b0:
		return 0, nil
	case 0b10:
		sz = 8
	case 0b110:
		sz = 16
	case 0b1110:
		sz = 32
	default:
		bits, err := br.readBits(64)
		return int64(bits), err
	}
	bits, err := br.readBits(sz)
	if err != nil {
		return 0, err
	}
	// Sign-extend as bitRange admits values: -(2^(sz-1)-1) ... 2^(sz-1).
	if bits > 1<<(sz-1) {
		bits -= 1 << sz
	}
	return int64(bits), nil
}

// EncodeST is Encode for samples with start timestamps sts (0: none): the smallest float
// encoding, wrapped with a column when any start timestamp is set.
func EncodeST(ts []int64, vs []float64, sts []int64) []byte {
	inner := Encode(ts, vs)
	any := false
	for _, st := range sts {
		if st != 0 {
			any = true
			break
		}
	}
	if !any {
		return inner
	}
	var c STColumn
	for i, t := range ts {
		c.Append(t, sts[i])
	}
	return AppendWithST(make([]byte, 0, len(inner)+len(c.Bytes())+8), inner, c.Bytes())
}
