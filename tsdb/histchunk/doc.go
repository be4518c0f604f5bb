// Package histchunk holds the native histogram chunk encodings, ported from upstream
// Prometheus (tsdb/chunkenc v0.315.0, see UPSTREAM): HistogramChunk for integer-count
// histograms and FloatHistogramChunk for float-count ones, with upstream's appendability
// rules (Appendable/AppendableGauge, recoding on new buckets, counter-reset headers).
//
// The encoded bytes are exactly upstream's. Vigil's chunk files prefix every chunk with one
// encoding byte (see tsdb/chunkenc); the tsdb package adds and strips it, so the bytes after it
// are upstream's chunk as is.
package histchunk
