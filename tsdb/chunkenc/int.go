package chunkenc

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Int chunk layout: header (EncInt, uint16 count), one mode byte (value deltas or
// delta-of-deltas), then a bit stream: first timestamp and value as varints, then per sample a
// timestamp delta-of-delta in the XOR chunk's buckets and a value (delta or delta-of-delta) in
// the buckets below. Mode is chosen per chunk by trying both: random gauges compress best as
// deltas, steady counters as delta-of-deltas (mostly one bit).
const (
	intModeDelta byte = 0
	intModeDoD   byte = 1
)

// maxExactInt bounds the integers a float64 holds exactly.
const maxExactInt = 1 << 53

// IsIntegral reports whether v can be stored in an int chunk without loss.
func IsIntegral(v float64) bool {
	if v != math.Trunc(v) || v > maxExactInt || v < -maxExactInt {
		return false // also false for NaN (incl. stale markers) and ±Inf
	}
	return !(v == 0 && math.Signbit(v)) // keep -0 in XOR, it is a distinct float
}

// EncodeInt encodes samples as an int chunk. ok is false if a value is not integral, the
// slices are empty or too long.
func EncodeInt(ts []int64, vs []float64) (b []byte, ok bool) {
	if len(ts) == 0 || len(ts) != len(vs) || len(ts) > MaxSamplesPerChunk {
		return nil, false
	}
	for _, v := range vs {
		if !IsIntegral(v) {
			return nil, false
		}
	}
	d := encodeIntMode(ts, vs, intModeDelta)
	if len(ts) > 2 {
		if dod := encodeIntMode(ts, vs, intModeDoD); len(dod) < len(d) {
			d = dod
		}
	}
	return d, true
}

func encodeIntMode(ts []int64, vs []float64, mode byte) []byte {
	s := bstream{b: make([]byte, chunkHeaderSize+1, chunkHeaderSize+1+len(ts)*2)}
	s.b[0] = byte(EncInt)
	binary.BigEndian.PutUint16(s.b[1:], uint16(len(ts)))
	s.b[3] = mode
	var buf [binary.MaxVarintLen64]byte
	for _, x := range buf[:binary.PutVarint(buf[:], ts[0])] {
		s.writeByte(x)
	}
	for _, x := range buf[:binary.PutVarint(buf[:], int64(vs[0]))] {
		s.writeByte(x)
	}
	var tDelta, vDelta int64
	for i := 1; i < len(ts); i++ {
		td := ts[i] - ts[i-1]
		if i == 1 {
			for _, x := range buf[:binary.PutUvarint(buf[:], uint64(td))] {
				s.writeByte(x)
			}
		} else {
			writeTimestampDoD(&s, td-tDelta)
		}
		tDelta = td
		vd := int64(vs[i]) - int64(vs[i-1])
		if mode == intModeDoD && i > 1 {
			writeIntValue(&s, vd-vDelta)
		} else {
			writeIntValue(&s, vd)
		}
		vDelta = vd
	}
	return s.b
}

func writeTimestampDoD(s *bstream, dod int64) {
	switch {
	case dod == 0:
		s.writeBit(false)
	case bitRange(dod, 14):
		s.writeBits(0b10, 2)
		s.writeBits(uint64(dod), 14)
	case bitRange(dod, 17):
		s.writeBits(0b110, 3)
		s.writeBits(uint64(dod), 17)
	case bitRange(dod, 20):
		s.writeBits(0b1110, 4)
		s.writeBits(uint64(dod), 20)
	default:
		s.writeBits(0b1111, 4)
		s.writeBits(uint64(dod), 64)
	}
}

func writeIntValue(s *bstream, d int64) {
	switch {
	case d == 0:
		s.writeBit(false)
	case bitRange(d, 8):
		s.writeBits(0b10, 2)
		s.writeBits(uint64(d), 8)
	case bitRange(d, 16):
		s.writeBits(0b110, 3)
		s.writeBits(uint64(d), 16)
	case bitRange(d, 32):
		s.writeBits(0b1110, 4)
		s.writeBits(uint64(d), 32)
	default:
		s.writeBits(0b1111, 4)
		s.writeBits(uint64(d), 64)
	}
}

type intIterator struct {
	br       bstreamReader
	mode     byte
	numTotal uint16
	numRead  uint16
	t        int64
	v        int64
	tDelta   int64
	vDelta   int64
	err      error
}

func (it *intIterator) reset(b []byte) {
	*it = intIterator{}
	if len(b) < chunkHeaderSize+1 {
		it.err = fmt.Errorf("chunkenc: int chunk of %d bytes is shorter than its header", len(b))
		return
	}
	it.numTotal = binary.BigEndian.Uint16(b[1:])
	it.mode = b[3]
	if it.mode != intModeDelta && it.mode != intModeDoD {
		it.err = fmt.Errorf("chunkenc: int chunk has unknown mode %d", it.mode)
		return
	}
	it.br = newBReader(b[chunkHeaderSize+1:])
}

func (it *intIterator) At() (int64, float64) { return it.t, float64(it.v) }
func (it *intIterator) AtT() int64           { return it.t }
func (it *intIterator) Err() error           { return it.err }

func (it *intIterator) SeekTo(t int64) bool {
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

func (it *intIterator) Next() bool {
	if it.err != nil || it.numRead == it.numTotal {
		return false
	}
	switch it.numRead {
	case 0:
		t, err := readVarint(&it.br)
		if err != nil {
			it.err = fmt.Errorf("chunkenc: reading first timestamp: %w", err)
			return false
		}
		v, err := readVarint(&it.br)
		if err != nil {
			it.err = fmt.Errorf("chunkenc: reading first value: %w", err)
			return false
		}
		it.t, it.v = t, v
	case 1:
		td, err := readUvarint(&it.br)
		if err != nil {
			it.err = fmt.Errorf("chunkenc: reading second timestamp: %w", err)
			return false
		}
		it.tDelta = int64(td)
		it.t += it.tDelta
		vd, ok := it.readBucket(8, 16, 32)
		if !ok {
			return false
		}
		it.vDelta = vd
		it.v += vd
	default:
		dod, ok := it.readBucket(14, 17, 20)
		if !ok {
			return false
		}
		it.tDelta += dod
		it.t += it.tDelta
		vd, ok := it.readBucket(8, 16, 32)
		if !ok {
			return false
		}
		if it.mode == intModeDoD {
			vd += it.vDelta
		}
		it.vDelta = vd
		it.v += vd
	}
	it.numRead++
	return true
}

// readBucket reads a value written with a 0/10/110/1110/1111 prefix for 0, s1, s2, s3 or 64
// bits.
func (it *intIterator) readBucket(s1, s2, s3 uint8) (int64, bool) {
	var d byte
	for i := 0; i < 4; i++ {
		d <<= 1
		bit, err := it.br.readBitFast()
		if err != nil {
			bit, err = it.br.readBit()
		}
		if err != nil {
			it.err = fmt.Errorf("chunkenc: reading int chunk: %w", err)
			return 0, false
		}
		if !bit {
			break
		}
		d |= 1
	}
	var sz uint8
	switch d {
	case 0b0:
		return 0, true
	case 0b10:
		sz = s1
	case 0b110:
		sz = s2
	case 0b1110:
		sz = s3
	case 0b1111:
		sz = 64
	}
	bits, err := it.br.readBitsFast(sz)
	if err != nil {
		bits, err = it.br.readBits(sz)
	}
	if err != nil {
		it.err = fmt.Errorf("chunkenc: reading int chunk: %w", err)
		return 0, false
	}
	if sz == 64 {
		return int64(bits), true
	}
	if bits > (1 << (sz - 1)) {
		bits -= 1 << sz
	}
	return int64(bits), true
}

// intModeSize returns len(encodeIntMode(ts, ms, mode)) for integer values ms without encoding:
// the block writer compares candidate sizes and encodes only the one it keeps.
func intModeSize(ts, ms []int64, mode byte) int {
	n := chunkHeaderSize + 1 + varintLen(ts[0]) + varintLen(ms[0])
	bits := 0
	var tDelta, vDelta int64
	for i := 1; i < len(ts); i++ {
		td := ts[i] - ts[i-1]
		if i == 1 {
			n += uvarintLen(uint64(td))
		} else {
			bits += timestampDoDBits(td - tDelta)
		}
		tDelta = td
		vd := ms[i] - ms[i-1]
		if mode == intModeDoD && i > 1 {
			bits += intValueBits(vd - vDelta)
		} else {
			bits += intValueBits(vd)
		}
		vDelta = vd
	}
	return n + (bits+7)/8
}

// timestampDoDBits is the size in bits of what writeTimestampDoD writes.
func timestampDoDBits(dod int64) int {
	switch {
	case dod == 0:
		return 1
	case bitRange(dod, 14):
		return 2 + 14
	case bitRange(dod, 17):
		return 3 + 17
	case bitRange(dod, 20):
		return 4 + 20
	}
	return 4 + 64
}

// intValueBits is the size in bits of what writeIntValue writes.
func intValueBits(d int64) int {
	switch {
	case d == 0:
		return 1
	case bitRange(d, 8):
		return 2 + 8
	case bitRange(d, 16):
		return 3 + 16
	case bitRange(d, 32):
		return 4 + 32
	}
	return 4 + 64
}

func varintLen(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return uvarintLen(ux)
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}
