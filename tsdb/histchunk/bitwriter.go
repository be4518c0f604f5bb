package histchunk

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// bitWriter writes the fields of one sample to a bstream (Vigil's own, not upstream's): the
// bits gather in a register and go to the stream 32 at a time, instead of a call and an append
// per byte as bstream.writeBits does. The bits are exactly those of the bstream writers:
// putVarbitInt, xorWrite and writeBits have their counterparts here.
//
// Start with bstream.writer, which takes the stream's partial last byte back into the
// register, and end with flush, which writes what is left and leaves the stream as the
// bstream writers would have.
type bitWriter struct {
	b   *bstream
	acc uint64 // pending bits, the first one in the most significant bit; the rest are zero
	n   uint   // number of pending bits, below 32 between calls
}

func (b *bstream) writer() bitWriter {
	w := bitWriter{b: b}
	if b.count > 0 {
		last := len(b.stream) - 1
		w.acc = uint64(b.stream[last]) << 56 // its free low bits are zero
		w.n = 8 - uint(b.count)
		b.stream = b.stream[:last]
	}
	return w
}

// writeBits writes the nbits (at most 64) low bits of u, as bstream.writeBits does.
func (w *bitWriter) writeBits(u uint64, nbits uint) {
	if nbits > 32 {
		w.write32(u>>32, nbits-32)
		nbits = 32
	}
	w.write32(u, nbits)
}

// write32 writes the nbits (at most 32) low bits of u.
func (w *bitWriter) write32(u uint64, nbits uint) {
	w.acc |= (u << (64 - nbits)) >> w.n // a shift by 64 gives 0: nothing for nbits == 0
	w.n += nbits
	if w.n >= 32 {
		w.b.stream = binary.BigEndian.AppendUint32(w.b.stream, uint32(w.acc>>32))
		w.acc <<= 32
		w.n -= 32
	}
}

// flush writes the pending bits, the last byte partial if need be, and sets the stream's count
// of free bits in it.
func (w *bitWriter) flush() {
	for w.n >= 8 {
		w.b.stream = append(w.b.stream, byte(w.acc>>56))
		w.acc <<= 8
		w.n -= 8
	}
	w.b.count = 0
	if w.n > 0 {
		w.b.stream = append(w.b.stream, byte(w.acc>>56))
		w.b.count = uint8(8 - w.n)
	}
	w.acc, w.n = 0, 0
}

// varbitInt writes val as putVarbitInt does.
func (w *bitWriter) varbitInt(val int64) {
	uval := uint64(val)
	switch {
	case val == 0:
		w.write32(0, 1)
	case bitRange(val, 3):
		w.write32((0b10<<3)|(uval&0x7), 5)
	case bitRange(val, 6):
		w.write32((0b110<<6)|(uval&0x3F), 9)
	case bitRange(val, 9):
		w.write32((0b1110<<9)|(uval&0x1FF), 13)
	case bitRange(val, 12):
		w.write32((0b11110<<12)|(uval&0xFFF), 17)
	case bitRange(val, 18):
		w.write32((0b111110<<18)|(uval&0x3FFFF), 24)
	case bitRange(val, 25):
		w.write32((0b1111110<<25)|(uval&0x1FFFFFF), 32)
	case bitRange(val, 56):
		w.writeBits((0b11111110<<56)|(uval&0xFFFFFFFFFFFFFF), 64)
	default:
		w.write32(0b11111111, 8)
		w.writeBits(uval, 64)
	}
}

// xor writes newValue against currentValue as xorWrite does.
func (w *bitWriter) xor(newValue, currentValue float64, leading, trailing *uint8) {
	delta := math.Float64bits(newValue) ^ math.Float64bits(currentValue)
	if delta == 0 {
		w.write32(0, 1)
		return
	}
	newLeading := uint8(bits.LeadingZeros64(delta))
	newTrailing := uint8(bits.TrailingZeros64(delta))
	if newLeading >= 32 {
		newLeading = 31
	}
	if *leading != 0xff && newLeading >= *leading && newTrailing >= *trailing {
		w.write32(0b10, 2)
		w.writeBits(delta>>*trailing, 64-uint(*leading)-uint(*trailing))
		return
	}
	*leading, *trailing = newLeading, newTrailing
	sigbits := 64 - newLeading - newTrailing
	// Control bits 11, 5 bits of leading zeros, 6 of significant bits (64 is written as 0).
	w.write32(0b11<<11|uint64(newLeading)<<6|uint64(sigbits&0x3F), 13)
	w.writeBits(delta>>newTrailing, uint(sigbits))
}
