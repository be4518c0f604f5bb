package histchunk

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzBitWriter writes the same values with the bstream writers and with a bitWriter, flushed
// after every few values, and requires the same bytes and free bit count.
func FuzzBitWriter(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18})
	f.Add([]byte{3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x80, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{4, 0, 1, 2, 3, 4, 5, 6, 7, 8, 4, 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0, 5})
	f.Fuzz(func(t *testing.T, in []byte) {
		var ref, got bstream
		ref.stream, got.stream = make([]byte, 0, 1), make([]byte, 0, 1)
		var refLead, refTrail, lead, trail uint8 = 0xff, 0, 0xff, 0
		refPrev, prev := 0.0, 0.0
		w := got.writer()
		for len(in) >= 9 {
			op, v := in[0], binary.BigEndian.Uint64(in[1:9])
			in = in[9:]
			switch op % 5 {
			case 0:
				// Mostly small values, as the dods of a chunk are.
				val := int64(v) >> (v & 63)
				putVarbitInt(&ref, val)
				w.varbitInt(val)
			case 1:
				val := math.Float64frombits(v)
				xorWrite(&ref, val, refPrev, &refLead, &refTrail)
				refPrev = val
				w.xor(val, prev, &lead, &trail)
				prev = val
			case 2:
				n := uint(op>>3) % 65
				ref.writeBits(v, int(n))
				w.writeBits(v, n)
			case 3:
				ref.writeBit(bit(v&1 == 1))
				w.writeBits(v&1, 1)
			case 4: // a flush, as at the end of a sample, and a new writer for the next one
				w.flush()
				require.Equal(t, ref.stream, got.stream)
				require.Equal(t, ref.count, got.count)
				w = got.writer()
			}
		}
		w.flush()
		require.Equal(t, ref.stream, got.stream)
		require.Equal(t, ref.count, got.count)
		require.Equal(t, refLead, lead)
		require.Equal(t, refTrail, trail)
	})
}
