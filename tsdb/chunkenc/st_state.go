package chunkenc

import (
	"encoding/binary"
	"fmt"
	"math"
)

// AppendState appends the column's full state (its bits and what the next Append encodes
// against) to b, for the head snapshot; SetState restores it.
func (c *STColumn) AppendState(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(c.b.b)))
	b = append(b, c.b.b...)
	b = append(b, c.b.count)
	b = binary.AppendUvarint(b, uint64(c.n))
	b = binary.AppendVarint(b, c.prevT)
	b = binary.AppendVarint(b, c.prevST)
	return binary.AppendVarint(b, c.prevDiff)
}

// SetState restores a column written by AppendState from the start of b and returns the bytes
// it used. The column's bytes are copied.
func (c *STColumn) SetState(b []byte) (int, error) {
	fail := func(what string) (int, error) {
		return 0, fmt.Errorf("chunkenc: start timestamp column state: %s", what)
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return fail("bad length")
	}
	off := k
	data := b[off : off+int(n)]
	off += int(n)
	if len(b)-off < 1 {
		return fail("truncated")
	}
	count := b[off]
	off++
	num, k := binary.Uvarint(b[off:])
	if k <= 0 || num > math.MaxUint16 || count >= 8 || (len(data) == 0 && (count != 0 || num != 0)) {
		return fail("inconsistent state")
	}
	off += k
	var vs [3]int64
	for i := range vs {
		v, k := binary.Varint(b[off:])
		if k <= 0 {
			return fail("bad timestamp")
		}
		vs[i] = v
		off += k
	}
	buf := make([]byte, len(data), len(data)+len(data)/8+8)
	copy(buf, data)
	*c = STColumn{b: bstream{b: buf, count: count}, n: uint16(num), prevT: vs[0], prevST: vs[1], prevDiff: vs[2]}
	return off, nil
}
