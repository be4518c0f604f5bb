package chunkenc

import (
	"encoding/binary"
	"fmt"
	"math"
)

// EncDecimal is for chunks whose values are all decimal fractions with at most
// maxDecimalScale digits after the point (12.34, 0.5, 1699.27: CPU seconds from /proc, load
// averages, ratios, prices), which XOR encodes poorly because their binary mantissas look random.
// Each value v is stored as the integer m = v × 10^k with one k per chunk, in the int chunk's
// value stream; the reader returns m / 10^k, which is v bit for bit (checked when encoding: a
// chunk is decimal only if every value comes back identical). VictoriaMetrics stores floats the
// same way (decimal mantissa and exponent).
//
// Layout: header (EncDecimal, uint16 count), mode byte (as the int chunk's), scale byte k
// (1..maxDecimalScale), then the int chunk's bit stream of timestamps and mantissas.
//
// Blocks written with it need a reader that knows encoding 6 (Vigil after 0.1.0-dev of
// 2026-12-07); older readers report "unknown chunk encoding 6" for those chunks. The head and the
// WAL never hold it: it is chosen only when a block's chunks are written (compaction, import).
const EncDecimal Encoding = 6

// maxDecimalScale bounds k: 10^k must be exact in a float64 and mantissas stay small.
const maxDecimalScale = 9

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// decimalScale returns the smallest k in 1..maxDecimalScale such that every value is m / 10^k
// for an integer m exactly, or 0 if there is none (NaN, infinities, -0, too many digits, too big).
func decimalScale(vs []float64) int {
	k := 1
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) || (v == 0 && math.Signbit(v)) {
			return 0
		}
		for ; k <= maxDecimalScale; k++ {
			if _, ok := decimalMantissa(v, k); ok {
				break
			}
		}
		if k > maxDecimalScale {
			return 0
		}
	}
	return k
}

// decimalMantissa returns m with m / 10^k == v exactly.
func decimalMantissa(v float64, k int) (float64, bool) {
	m := math.Round(v*pow10[k]) + 0 // + 0: a -0 mantissa becomes +0 (v is never -0 here)
	if !IsIntegral(m) || m/pow10[k] != v {
		return 0, false
	}
	return m, true
}

// EncodeDecimal encodes samples as a decimal chunk. ok is false if a value is not a short
// decimal (see EncDecimal), or the slices are empty or too long. Integral chunks are the int
// encoding's, so this is for chunks with at least one fractional value.
func EncodeDecimal(ts []int64, vs []float64) (b []byte, ok bool) {
	if len(ts) == 0 || len(ts) != len(vs) || len(ts) > MaxSamplesPerChunk {
		return nil, false
	}
	k := decimalScale(vs)
	if k == 0 {
		return nil, false
	}
	ms := make([]float64, len(vs))
	for i, v := range vs {
		m, ok := decimalMantissa(v, k)
		if !ok { // cannot happen: a larger k keeps every exact value exact; checked anyway
			return nil, false
		}
		ms[i] = m
	}
	i, ok := EncodeInt(ts, ms)
	if !ok {
		return nil, false
	}
	// The int chunk is header, mode, stream; the decimal chunk puts k between mode and stream.
	out := make([]byte, 0, len(i)+1)
	out = append(out, byte(EncDecimal))
	out = append(out, i[1:chunkHeaderSize+1]...)
	out = append(out, byte(k))
	return append(out, i[chunkHeaderSize+1:]...), true
}

type decimalIterator struct {
	i   intIterator
	div float64
}

func (it *decimalIterator) reset(b []byte) {
	*it = decimalIterator{}
	if len(b) < chunkHeaderSize+2 {
		it.i.err = fmt.Errorf("chunkenc: decimal chunk of %d bytes is shorter than its header", len(b))
		return
	}
	k := int(b[chunkHeaderSize+1])
	if k < 1 || k > maxDecimalScale {
		it.i.err = fmt.Errorf("chunkenc: decimal chunk has scale %d", k)
		return
	}
	it.div = pow10[k]
	it.i.numTotal = binary.BigEndian.Uint16(b[1:])
	it.i.mode = b[chunkHeaderSize]
	if it.i.mode != intModeDelta && it.i.mode != intModeDoD {
		it.i.err = fmt.Errorf("chunkenc: decimal chunk has unknown mode %d", it.i.mode)
		return
	}
	it.i.br = newBReader(b[chunkHeaderSize+2:])
}

func (it *decimalIterator) At() (int64, float64) { return it.i.t, float64(it.i.v) / it.div }
