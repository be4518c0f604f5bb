package histchunk

// Vigil's addition (not ported): saving and restoring an open chunk for the head snapshot.
// Reset starts appending on a fresh byte (it does not know how many bits of the last byte are
// free), so a chunk restored from its bytes alone could not be appended to; FreeBits and
// Restore carry that count.

import "fmt"

// FreeBits returns the number of bits still free in the last byte of a histogram chunk.
func FreeBits(c Chunk) uint8 {
	switch c := c.(type) {
	case *HistogramChunk:
		return c.b.count
	case *FloatHistogramChunk:
		return c.b.count
	}
	return 0
}

// Restore rebuilds an open histogram chunk of encoding enc (EncHistogram or
// EncFloatHistogram) from its bytes (kept, not copied) and the free bits of its last byte, and
// returns it with an appender in the state the chunk's last append left.
func Restore(enc Encoding, b []byte, free uint8) (Chunk, Appender, error) {
	if len(b) < histogramHeaderSize || free >= 8 {
		return nil, nil, fmt.Errorf("histchunk: bad open chunk state (%d bytes, %d free bits)", len(b), free)
	}
	var c Chunk
	switch enc {
	case EncHistogram:
		c = &HistogramChunk{b: bstream{stream: b, count: free}}
	case EncFloatHistogram:
		c = &FloatHistogramChunk{b: bstream{stream: b, count: free}}
	default:
		return nil, nil, fmt.Errorf("histchunk: %s is not a histogram encoding", enc)
	}
	app, err := c.Appender()
	if err != nil {
		return nil, nil, fmt.Errorf("histchunk: restoring an open chunk: %w", err)
	}
	switch a := app.(type) {
	case *FloatHistogramAppender:
		a.unsetLeading()
	case *HistogramAppender:
		if a.leading == 0 && a.trailing == 0 { // the sum's window, as below
			a.leading = 0xff
		}
	}
	return c, app, nil
}

// unsetLeading marks the XOR values that never had a non-zero XOR as the appender that wrote
// them has them (leading 0xff, "no window yet"): the iterator that Appender rebuilds the state
// from leaves them at 0. With 0 the next appends would encode differently from the appender
// that was never restored (both decode the same), so the chunk would fill, and be cut,
// elsewhere. A value whose window really is leading 0, trailing 0 is encoded with a fresh
// window instead: still valid, and rare.
func (a *FloatHistogramAppender) unsetLeading() {
	fix := func(v *xorValue) {
		if v.leading == 0 && v.trailing == 0 {
			v.leading = 0xff
		}
	}
	fix(&a.sum)
	fix(&a.cnt)
	fix(&a.zCnt)
	for i := range a.pBuckets {
		fix(&a.pBuckets[i])
	}
	for i := range a.nBuckets {
		fix(&a.nBuckets[i])
	}
}
