// Copyright The Prometheus Authors
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// Modified by Vigil: the XOR chunk encoding ported from github.com/prometheus/prometheus tsdb/chunkenc/xor.go (v0.315.0).

package chunkenc

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// Encoding is the first byte of every encoded chunk.
type Encoding byte

const (
	EncNone Encoding = 0
	// EncXOR is Gorilla-style: delta-of-delta timestamps, XOR'd float values. The head writes it
	// because it appends in O(1) for any value.
	EncXOR Encoding = 1
	// EncInt is for chunks whose values are all integers (most counters and many gauges): values
	// as zigzag delta-of-delta varints, which is far smaller than XOR on integer-valued floats.
	// Blocks pick it at compaction when it is smaller.
	EncInt Encoding = 2
	// EncHistogram and EncFloatHistogram are native histogram chunks (integer and float counts):
	// the bytes after the encoding byte are upstream Prometheus's HistogramChunk and
	// FloatHistogramChunk exactly (tsdb/histchunk). Upstream numbers them 2 and 3; Vigil's 2 was
	// taken by EncInt before histograms came, and its blocks must stay readable.
	EncHistogram      Encoding = 4
	EncFloatHistogram Encoding = 5
	// EncHistogramColumns is Vigil's block-only encoding of integer histogram chunks, column by
	// column (histchunk.EncodeColumns): chosen when a block's chunks are written and it is
	// smaller than the upstream encoding; the head and the WAL never hold it. Readers before
	// 2026-12-07 report "unknown chunk encoding 7" for those chunks.
	EncHistogramColumns Encoding = 7
)

func (e Encoding) String() string {
	switch e {
	case EncXOR:
		return "XOR"
	case EncInt:
		return "int"
	case EncHistogram:
		return "histogram"
	case EncFloatHistogram:
		return "floathistogram"
	case EncDecimal:
		return "decimal"
	case EncHistogramColumns:
		return "histogramcolumns"
	case EncPacked:
		return "packed"
	}
	return fmt.Sprintf("<unknown encoding %d>", byte(e))
}

// chunkHeaderSize is the encoding byte plus a big-endian uint16 sample count.
const chunkHeaderSize = 3

// MaxSamplesPerChunk bounds a chunk so that the uint16 count cannot overflow.
const MaxSamplesPerChunk = math.MaxUint16

// XORChunk is an appendable Gorilla chunk.
type XORChunk struct {
	b bstream
}

// NewXORChunk returns an empty chunk with room for a typical chunk of 120 samples.
func NewXORChunk() *XORChunk {
	c := &XORChunk{}
	c.Reset(128)
	return c
}

// Reset empties the chunk, allocating capHint bytes: callers that know how big the previous
// chunk of a series grew avoid the slack of append's doubling.
func (c *XORChunk) Reset(capHint int) {
	b := make([]byte, chunkHeaderSize, max(capHint, chunkHeaderSize+16))
	b[0] = byte(EncXOR)
	c.b = bstream{b: b}
}

// Bytes returns the encoded chunk, encoding byte first. The slice aliases the chunk: it changes
// when samples are appended.
func (c *XORChunk) Bytes() []byte { return c.b.b }

// NumSamples returns the number of samples in the chunk.
func (c *XORChunk) NumSamples() int { return int(binary.BigEndian.Uint16(c.b.b[1:])) }

// Compact trims spare capacity once the chunk is full.
func (c *XORChunk) Compact() {
	if cap(c.b.b) > len(c.b.b)+4 {
		nb := make([]byte, len(c.b.b))
		copy(nb, c.b.b)
		c.b.b = nb
	}
}

// xorState is what the next sample of an XOR chunk is encoded against.
type xorState struct {
	t        int64
	v        float64
	tDelta   uint64
	num      uint16 // samples in the chunk: kept here so appends never read the header
	leading  uint8
	trailing uint8
}

// XORAppender appends to an XORChunk.
type XORAppender struct {
	c  *XORChunk
	st xorState
}

// Appender returns an appender positioned after the chunk's last sample. For a fresh chunk this
// is free; for an existing one it decodes the chunk once.
func (c *XORChunk) Appender() (*XORAppender, error) {
	a := &XORAppender{c: c, st: xorState{leading: 0xff}}
	n := c.NumSamples()
	if n == 0 {
		return a, nil
	}
	it := newXORIterator(c.b.b)
	for it.Next() {
	}
	if it.Err() != nil {
		return nil, it.Err()
	}
	a.st = xorState{t: it.t, v: it.val, tDelta: it.tDelta, num: uint16(n), leading: it.leading, trailing: it.trailing}
	return a, nil
}

// Append adds a sample. Timestamps must increase; the caller checks.
func (a *XORAppender) Append(t int64, v float64) { a.st.append(&a.c.b, t, v) }

// NumSamples returns the number of samples appended to the chunk.
func (a *XORAppender) NumSamples() int { return int(a.st.num) }

// OpenChunk is an XOR chunk and its appender state in one value, for embedding in a struct
// that exists once per series (the head's): no separate allocations, no pointer between them.
// The zero value is an empty chunk without a buffer; Reset before appending.
type OpenChunk struct {
	b  bstream
	st xorState
}

// Reset empties the chunk, allocating capHint bytes for it.
func (c *OpenChunk) Reset(capHint int) {
	b := make([]byte, chunkHeaderSize, max(capHint, chunkHeaderSize+16))
	b[0] = byte(EncXOR)
	c.b = bstream{b: b}
	c.st = xorState{leading: 0xff}
}

// Append adds a sample. Timestamps must increase; the caller checks.
func (c *OpenChunk) Append(t int64, v float64) { c.st.append(&c.b, t, v) }

// NumSamples returns the number of samples in the chunk.
func (c *OpenChunk) NumSamples() int { return int(c.st.num) }

// Last returns the newest sample; only meaningful when NumSamples() > 0.
func (c *OpenChunk) Last() (int64, float64) { return c.st.t, c.st.v }

// Bytes returns the encoded chunk. It aliases the buffer, which appends keep modifying.
func (c *OpenChunk) Bytes() []byte { return c.b.b }

func (a *xorState) append(b *bstream, t int64, v float64) {
	num := a.num
	switch num {
	case 0:
		var buf [binary.MaxVarintLen64]byte
		for _, x := range buf[:binary.PutVarint(buf[:], t)] {
			b.writeByte(x)
		}
		b.writeBits(math.Float64bits(v), 64)
	case 1:
		tDelta := uint64(t - a.t)
		var buf [binary.MaxVarintLen64]byte
		for _, x := range buf[:binary.PutUvarint(buf[:], tDelta)] {
			b.writeByte(x)
		}
		a.writeValue(b, v)
		a.tDelta = tDelta
	default:
		tDelta := uint64(t - a.t)
		writeTimestampDoD(b, int64(tDelta-a.tDelta))
		a.writeValue(b, v)
		a.tDelta = tDelta
	}
	a.t, a.v = t, v
	a.num = num + 1
	binary.BigEndian.PutUint16(b.b[1:], num+1)
}

// bitRange reports whether x fits in nbits as a two's complement number.
func bitRange(x int64, nbits uint8) bool {
	return -((1<<(nbits-1))-1) <= x && x <= 1<<(nbits-1)
}

func (a *xorState) writeValue(b *bstream, v float64) {
	delta := math.Float64bits(v) ^ math.Float64bits(a.v)
	if delta == 0 {
		b.writeBit(false)
		return
	}
	b.writeBit(true)
	leading := uint8(bits.LeadingZeros64(delta))
	trailing := uint8(bits.TrailingZeros64(delta))
	// Leading zeros are stored in 5 bits.
	if leading >= 32 {
		leading = 31
	}
	if a.leading != 0xff && leading >= a.leading && trailing >= a.trailing {
		b.writeBit(false)
		b.writeBits(delta>>a.trailing, 64-int(a.leading)-int(a.trailing))
		return
	}
	a.leading, a.trailing = leading, trailing
	b.writeBit(true)
	b.writeBits(uint64(leading), 5)
	// 64 significant bits are written as 0 in 6 bits; 0 significant bits cannot happen here.
	sigbits := 64 - leading - trailing
	b.writeBits(uint64(sigbits), 6)
	b.writeBits(delta>>trailing, int(sigbits))
}

// xorIterator decodes an XOR chunk.
type xorIterator struct {
	br       bstreamReader
	numTotal uint16
	numRead  uint16

	t        int64
	val      float64
	leading  uint8
	trailing uint8
	tDelta   uint64
	err      error
}

func newXORIterator(b []byte) *xorIterator {
	it := &xorIterator{}
	it.reset(b)
	return it
}

func (it *xorIterator) reset(b []byte) {
	*it = xorIterator{leading: 0xff}
	if len(b) < chunkHeaderSize {
		it.err = fmt.Errorf("chunkenc: XOR chunk of %d bytes is shorter than its header", len(b))
		return
	}
	it.br = newBReader(b[chunkHeaderSize:])
	it.numTotal = binary.BigEndian.Uint16(b[1:])
}

func (it *xorIterator) At() (int64, float64) { return it.t, it.val }
func (it *xorIterator) AtT() int64           { return it.t }
func (it *xorIterator) Err() error           { return it.err }

func (it *xorIterator) SeekTo(t int64) bool {
	if it.err != nil {
		return false
	}
	for it.numRead == 0 || t > it.t {
		if !it.Next() {
			return false
		}
	}
	return true
}

func (it *xorIterator) Next() bool {
	if it.err != nil || it.numRead == it.numTotal {
		return false
	}
	if it.numRead == 0 {
		t, err := readVarint(&it.br)
		if err != nil {
			it.err = fmt.Errorf("chunkenc: reading first timestamp: %w", err)
			return false
		}
		v, err := it.br.readBits(64)
		if err != nil {
			it.err = fmt.Errorf("chunkenc: reading first value: %w", err)
			return false
		}
		it.t, it.val = t, math.Float64frombits(v)
		it.numRead++
		return true
	}
	if it.numRead == 1 {
		tDelta, err := readUvarint(&it.br)
		if err != nil {
			it.err = fmt.Errorf("chunkenc: reading second timestamp: %w", err)
			return false
		}
		it.tDelta = tDelta
		it.t += int64(tDelta)
		return it.readValue()
	}

	// Delta-of-delta prefix: up to four 1 bits.
	var d byte
	for i := 0; i < 4; i++ {
		d <<= 1
		bit, err := it.br.readBitFast()
		if err != nil {
			bit, err = it.br.readBit()
		}
		if err != nil {
			it.err = fmt.Errorf("chunkenc: reading timestamp prefix: %w", err)
			return false
		}
		if !bit {
			break
		}
		d |= 1
	}
	var sz uint8
	var dod int64
	switch d {
	case 0b0:
	case 0b10:
		sz = 14
	case 0b110:
		sz = 17
	case 0b1110:
		sz = 20
	case 0b1111:
		bits, err := it.br.readBits(64)
		if err != nil {
			it.err = fmt.Errorf("chunkenc: reading timestamp: %w", err)
			return false
		}
		dod = int64(bits)
	}
	if sz != 0 {
		bits, err := it.br.readBitsFast(sz)
		if err != nil {
			bits, err = it.br.readBits(sz)
		}
		if err != nil {
			it.err = fmt.Errorf("chunkenc: reading timestamp: %w", err)
			return false
		}
		// Sign-extend.
		if bits > (1 << (sz - 1)) {
			bits -= 1 << sz
		}
		dod = int64(bits)
	}
	it.tDelta = uint64(int64(it.tDelta) + dod)
	it.t += int64(it.tDelta)
	return it.readValue()
}

func (it *xorIterator) readValue() bool {
	bit, err := it.br.readBitFast()
	if err != nil {
		bit, err = it.br.readBit()
	}
	if err != nil {
		it.err = fmt.Errorf("chunkenc: reading value: %w", err)
		return false
	}
	if bit {
		bit, err = it.br.readBitFast()
		if err != nil {
			bit, err = it.br.readBit()
		}
		if err != nil {
			it.err = fmt.Errorf("chunkenc: reading value: %w", err)
			return false
		}
		if bit {
			// New leading/trailing.
			lb, err := it.br.readBitsFast(5)
			if err != nil {
				lb, err = it.br.readBits(5)
			}
			if err != nil {
				it.err = fmt.Errorf("chunkenc: reading value: %w", err)
				return false
			}
			mb, err := it.br.readBitsFast(6)
			if err != nil {
				mb, err = it.br.readBits(6)
			}
			if err != nil {
				it.err = fmt.Errorf("chunkenc: reading value: %w", err)
				return false
			}
			if mb == 0 {
				mb = 64
			}
			it.leading = uint8(lb)
			if uint64(it.leading)+mb > 64 {
				it.err = fmt.Errorf("chunkenc: corrupt value header")
				return false
			}
			it.trailing = 64 - it.leading - uint8(mb)
		} else if it.leading == 0xff {
			it.err = fmt.Errorf("chunkenc: value reuses an unset window")
			return false
		}
		mbits := 64 - it.leading - it.trailing
		bits, err := it.br.readBitsFast(mbits)
		if err != nil {
			bits, err = it.br.readBits(mbits)
		}
		if err != nil {
			it.err = fmt.Errorf("chunkenc: reading value: %w", err)
			return false
		}
		vbits := math.Float64bits(it.val)
		vbits ^= bits << it.trailing
		it.val = math.Float64frombits(vbits)
	}
	it.numRead++
	return true
}

// AppendState appends the chunk and its appender state to b (for a head snapshot): SetState
// restores a chunk that appends exactly as this one would.
func (c *OpenChunk) AppendState(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(c.b.b)))
	b = append(b, c.b.b...)
	b = append(b, c.b.count, c.st.leading, c.st.trailing)
	b = binary.AppendVarint(b, c.st.t)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.st.v))
	b = binary.AppendUvarint(b, c.st.tDelta)
	return binary.AppendUvarint(b, uint64(c.st.num))
}

// SetState restores a chunk written by AppendState from the start of b and returns the bytes
// it used. The chunk bytes are copied.
func (c *OpenChunk) SetState(b []byte) (int, error) {
	fail := func(what string) (int, error) {
		return 0, fmt.Errorf("chunkenc: open chunk state: %s", what)
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n < chunkHeaderSize || n > uint64(len(b)-k) {
		return fail("bad chunk length")
	}
	off := k
	data := b[off : off+int(n)]
	off += int(n)
	if len(b)-off < 3 {
		return fail("truncated")
	}
	count, leading, trailing := b[off], b[off+1], b[off+2]
	off += 3
	t, k := binary.Varint(b[off:])
	if k <= 0 {
		return fail("bad timestamp")
	}
	off += k
	if len(b)-off < 8 {
		return fail("truncated value")
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(b[off:]))
	off += 8
	tDelta, k := binary.Uvarint(b[off:])
	if k <= 0 {
		return fail("bad time delta")
	}
	off += k
	num, k := binary.Uvarint(b[off:])
	if k <= 0 || num > math.MaxUint16 || count >= 8 || Encoding(data[0]) != EncXOR ||
		uint64(binary.BigEndian.Uint16(data[1:])) != num {
		return fail("inconsistent state")
	}
	off += k
	buf := make([]byte, len(data), len(data)+len(data)/8+16)
	copy(buf, data)
	c.b = bstream{b: buf, count: count}
	c.st = xorState{t: t, v: v, tDelta: tDelta, num: uint16(num), leading: leading, trailing: trailing}
	return off, nil
}
