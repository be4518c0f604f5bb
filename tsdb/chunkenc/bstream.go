package chunkenc

import (
	"encoding/binary"
	"errors"
	"io"
)

// bstream is an append-only bit stream. count is the number of free bits in the last byte.
type bstream struct {
	b     []byte
	count uint8
}

func (s *bstream) writeBit(bit bool) {
	if s.count == 0 {
		s.b = append(s.b, 0)
		s.count = 8
	}
	if bit {
		s.b[len(s.b)-1] |= 1 << (s.count - 1)
	}
	s.count--
}

// writeBits writes the nbits low bits of u, most significant first, filling the free bits of
// the last byte in one step instead of bit by bit.
func (s *bstream) writeBits(u uint64, nbits int) {
	if nbits == 0 {
		return
	}
	u <<= 64 - uint(nbits) // left-align: bits past nbits are zero
	for nbits > 0 {
		if s.count == 0 {
			s.b = append(s.b, 0)
			s.count = 8
		}
		s.b[len(s.b)-1] |= byte(u >> (64 - uint(s.count)))
		n := min(int(s.count), nbits)
		u <<= uint(n)
		nbits -= n
		s.count -= uint8(n)
	}
}

func (s *bstream) writeByte(byt byte) {
	if s.count == 0 {
		s.b = append(s.b, byt)
		return
	}
	// Fill the free bits of the last byte with the high bits of byt, the rest goes into a new one.
	s.b[len(s.b)-1] |= byt >> (8 - s.count)
	s.b = append(s.b, byt<<s.count)
}

// bstreamReader reads bits from a byte slice, buffering 64 bits at a time.
type bstreamReader struct {
	stream       []byte
	streamOffset int
	buffer       uint64
	valid        uint8
	last         byte // bits of the final byte that are valid (others are zero padding)
}

var errEOS = io.EOF

func newBReader(b []byte) bstreamReader {
	return bstreamReader{stream: b}
}

func (r *bstreamReader) readBit() (bool, error) {
	if r.valid == 0 {
		if !r.loadNextBuffer(1) {
			return false, errEOS
		}
	}
	r.valid--
	return (r.buffer>>r.valid)&1 == 1, nil
}

// readBitFast is readBit without refilling; callers fall back to readBit when it fails.
func (r *bstreamReader) readBitFast() (bool, error) {
	if r.valid == 0 {
		return false, errEOS
	}
	r.valid--
	return (r.buffer>>r.valid)&1 == 1, nil
}

func (r *bstreamReader) readBits(nbits uint8) (uint64, error) {
	if r.valid == 0 {
		if !r.loadNextBuffer(nbits) {
			return 0, errEOS
		}
	}
	if nbits <= r.valid {
		return r.readBitsFast(nbits)
	}
	// Part from the current buffer, the rest from the next.
	bitmask := (uint64(1) << r.valid) - 1
	nbits -= r.valid
	v := (r.buffer & bitmask) << nbits
	r.valid = 0
	if !r.loadNextBuffer(nbits) {
		return 0, errEOS
	}
	bitmask = (uint64(1) << nbits) - 1
	v |= (r.buffer >> (r.valid - nbits)) & bitmask
	r.valid -= nbits
	return v, nil
}

func (r *bstreamReader) readBitsFast(nbits uint8) (uint64, error) {
	if nbits > r.valid {
		return 0, errEOS
	}
	bitmask := (uint64(1) << nbits) - 1
	r.valid -= nbits
	return (r.buffer >> r.valid) & bitmask, nil
}

func (r *bstreamReader) ReadByte() (byte, error) {
	v, err := r.readBits(8)
	if err != nil {
		return 0, err
	}
	return byte(v), nil
}

func (r *bstreamReader) loadNextBuffer(nbits uint8) bool {
	if r.streamOffset >= len(r.stream) {
		return false
	}
	if r.streamOffset+8 < len(r.stream) {
		r.buffer = binary.BigEndian.Uint64(r.stream[r.streamOffset:])
		r.streamOffset += 8
		r.valid = 64
		return true
	}
	// Fewer than 8 bytes left: load them all, padded with zeros on the right.
	nbytes := len(r.stream) - r.streamOffset
	buffer := uint64(0)
	for i := 0; i < nbytes; i++ {
		buffer |= uint64(r.stream[r.streamOffset+i]) << uint(8*(nbytes-i-1))
	}
	r.buffer = buffer
	r.streamOffset = len(r.stream)
	r.valid = uint8(nbytes * 8)
	return r.valid >= nbits || nbits == 0 || r.valid > 0
}

var errVarint = errors.New("chunkenc: bad varint")

func readVarint(r *bstreamReader) (int64, error) {
	v, err := binary.ReadVarint(r)
	if err != nil {
		return 0, errVarint
	}
	return v, nil
}

func readUvarint(r *bstreamReader) (uint64, error) {
	v, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, errVarint
	}
	return v, nil
}
