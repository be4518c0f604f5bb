// Package chunkenc holds Vigil's chunk encodings: XOR (Gorilla) for the head, where appends must
// be O(1) for any value, and an integer encoding that blocks use when it is smaller.
package chunkenc

import "fmt"

// Iterator decodes any chunk encoding. The zero value is not usable; Reset it with a chunk.
// One Iterator can be reset over many chunks without allocating.
type Iterator struct {
	enc Encoding
	x   xorIterator
	i   intIterator
	d   decimalIterator
	p   packedIterator
	err error
	// hasST is set for an EncST chunk: enc is then its inner chunk's encoding and st decodes
	// the start timestamps in step.
	hasST bool
	st    stReader
}

// NewIterator returns an iterator over the encoded chunk b.
func NewIterator(b []byte) *Iterator {
	it := &Iterator{}
	it.Reset(b)
	return it
}

// Reset points the iterator at a new chunk.
func (it *Iterator) Reset(b []byte) {
	it.err = nil
	it.hasST = false
	if len(b) == 0 {
		it.enc = EncNone
		it.err = fmt.Errorf("chunkenc: empty chunk")
		return
	}
	if Encoding(b[0]) == EncST {
		inner, col, err := splitST(b)
		if err != nil {
			it.enc, it.err = EncNone, err
			return
		}
		b = inner
		it.hasST = true
		it.st.reset(col)
	}
	it.enc = Encoding(b[0])
	switch it.enc {
	case EncXOR:
		it.x.reset(b)
	case EncInt:
		it.i.reset(b)
	case EncDecimal:
		it.d.reset(b)
	case EncPacked:
		it.p.reset(b)
	default:
		it.err = fmt.Errorf("chunkenc: unknown chunk encoding %d", b[0])
	}
}

func (it *Iterator) Next() bool {
	if it.hasST {
		return it.nextST()
	}
	return it.nextInner()
}

// nextInner advances the float chunk (the inner one of an EncST chunk).
func (it *Iterator) nextInner() bool {
	switch it.enc {
	case EncXOR:
		return it.x.Next()
	case EncInt:
		return it.i.Next()
	case EncDecimal:
		return it.d.i.Next()
	case EncPacked:
		return it.p.Next()
	}
	return false
}

func (it *Iterator) SeekTo(t int64) bool {
	if it.hasST {
		// The column is decoded sample by sample, in step with the values.
		for !it.started() || it.AtT() < t {
			if !it.nextST() {
				return false
			}
		}
		return true
	}
	switch it.enc {
	case EncXOR:
		return it.x.SeekTo(t)
	case EncInt:
		return it.i.SeekTo(t)
	case EncDecimal:
		return it.d.i.SeekTo(t)
	case EncPacked:
		return it.p.SeekTo(t)
	}
	return false
}

func (it *Iterator) At() (int64, float64) {
	switch it.enc {
	case EncXOR:
		return it.x.At()
	case EncDecimal:
		return it.d.At()
	case EncPacked:
		return it.p.At()
	}
	return it.i.At()
}

// nextST advances the inner chunk and the start timestamp column together.
func (it *Iterator) nextST() bool {
	if !it.nextInner() {
		return false
	}
	it.st.next(it.AtT())
	if it.st.err != nil {
		it.err = it.st.err
		return false
	}
	return true
}

// started tells whether Next has returned a sample.
func (it *Iterator) started() bool { return it.st.n > 0 }

// AtST returns the current sample's start timestamp, 0 when it has none (or the chunk keeps
// none).
func (it *Iterator) AtST() int64 {
	if it.hasST {
		return it.st.st
	}
	return 0
}

// AtT returns only the current timestamp.
func (it *Iterator) AtT() int64 {
	switch it.enc {
	case EncXOR:
		return it.x.t
	case EncDecimal:
		return it.d.i.t
	case EncPacked:
		return it.p.t.x
	}
	return it.i.t
}

func (it *Iterator) Err() error {
	if it.err != nil {
		return it.err
	}
	switch it.enc {
	case EncXOR:
		return it.x.Err()
	case EncInt:
		return it.i.Err()
	case EncDecimal:
		return it.d.i.Err()
	case EncPacked:
		return it.p.err
	}
	return nil
}

// NumSamples returns the sample count recorded in a chunk's header, or 0 if it is malformed.
func NumSamples(b []byte) int {
	if len(b) < chunkHeaderSize {
		return 0
	}
	return int(b[1])<<8 | int(b[2])
}

// encodeNumeric encodes integral values and short decimals in the smallest of the int or
// decimal encoding and the packed one. The int/decimal candidates are sized without being
// encoded (that was most of the block writer's encoding time); one is built only if it wins.
func encodeNumeric(ts []int64, vs []float64) ([]byte, bool) {
	if len(ts) == 0 || len(ts) != len(vs) || len(ts) > MaxSamplesPerChunk {
		return nil, false
	}
	k, ms, ok := mantissas(vs)
	if !ok {
		return nil, false
	}
	p := encodePacked(ts, ms, k)
	size := intModeSize(ts, ms, intModeDelta)
	if len(ts) > 2 {
		size = min(size, intModeSize(ts, ms, intModeDoD))
	}
	if k > 0 {
		size++ // the decimal chunk's scale byte
	}
	if size >= len(p) {
		return p, true
	}
	if k == 0 {
		return EncodeInt(ts, vs)
	}
	return EncodeDecimal(ts, vs)
}

// Recode returns the smallest encoding of the samples of chunk b: the int encoding when every
// value is integral, the decimal one when every value is a short decimal, and that is smaller,
// else b itself. ts and vs are scratch space, returned
// for reuse.
func Recode(b []byte, ts []int64, vs []float64) (out []byte, tsOut []int64, vsOut []float64, err error) {
	if len(b) == 0 || Encoding(b[0]) != EncXOR {
		return b, ts, vs, nil
	}
	ts, vs = ts[:0], vs[:0]
	var it xorIterator
	it.reset(b)
	for it.Next() {
		ts = append(ts, it.t)
		vs = append(vs, it.val)
	}
	if it.Err() != nil {
		return nil, ts, vs, it.Err()
	}
	if enc, ok := encodeNumeric(ts, vs); ok && len(enc) < len(b) {
		return enc, ts, vs, nil
	}
	return b, ts, vs, nil
}

// Encode returns the smallest encoding of the given samples (int if integral, decimal if short
// decimals, and smaller, else XOR). It is what the block writer uses when it merges or splits chunks.
func Encode(ts []int64, vs []float64) []byte {
	c := NewXORChunk()
	a, _ := c.Appender()
	for i := range ts {
		a.Append(ts[i], vs[i])
	}
	if enc, ok := encodeNumeric(ts, vs); ok && len(enc) < len(c.Bytes()) {
		return enc
	}
	c.Compact()
	return c.Bytes()
}
