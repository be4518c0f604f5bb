package record

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/histogram"
)

// RefHistogramSample is one native histogram sample (integer counts) of the series Ref.
type RefHistogramSample struct {
	Ref uint64
	ST  int64 // start timestamp (0: none); only HistogramSamplesST records keep it
	T   int64
	H   *histogram.Histogram
}

// RefFloatHistogramSample is one native histogram sample (float counts) of the series Ref.
type RefFloatHistogramSample struct {
	Ref uint64
	ST  int64 // start timestamp (0: none); only FloatHistogramSamplesST records keep it
	T   int64
	FH  *histogram.FloatHistogram
}

// A histogram is encoded as:
//
//	byte counter reset hint, varint schema, 8 bytes zero threshold,
//	zero count, count (uvarint; float histograms: 8 bytes each), 8 bytes sum,
//	positive spans, negative spans (uvarint n, n × ( varint offset, uvarint length )),
//	positive buckets, negative buckets (uvarint n, n × varint delta; float histograms: 8 bytes absolute),
//	custom values when the schema is the custom-buckets one (uvarint n, n × 8 bytes).
//
// Floats are little-endian IEEE 754 bits. In HistogramSamplesST and FloatHistogramSamplesST
// records each histogram is followed by varint t-st, the sample's start timestamp st (0: none)
// relative to its timestamp t, as in SamplesST.
const minHistogramSampleSize = 2 + 1 + 1 + 8 + 1 + 1 + 8 + 4 // ref, t, header, threshold, counts, sum, span/bucket counts

// HistogramSamples appends the encoding of s to b[:0] and returns it (without start timestamps).
func (e *Encoder) HistogramSamples(s []RefHistogramSample, b []byte) []byte {
	return e.histogramSamples(s, b, HistogramSamples)
}

// HistogramSamplesST is HistogramSamples with the samples' start timestamps.
func (e *Encoder) HistogramSamplesST(s []RefHistogramSample, b []byte) []byte {
	return e.histogramSamples(s, b, HistogramSamplesST)
}

func (e *Encoder) histogramSamples(s []RefHistogramSample, b []byte, typ Type) []byte {
	b = append(b[:0], byte(typ))
	b = binary.AppendUvarint(b, uint64(len(s)))
	if len(s) == 0 {
		return b
	}
	baseRef, baseT := s[0].Ref, s[0].T
	b = binary.AppendUvarint(b, baseRef)
	b = binary.AppendVarint(b, baseT)
	var cv customValuesMemo
	for i := range s {
		b = binary.AppendVarint(b, int64(s[i].Ref-baseRef))
		b = binary.AppendVarint(b, s[i].T-baseT)
		h := s[i].H
		b = appendHistogramHead(b, h.CounterResetHint, h.Schema, h.ZeroThreshold)
		b = binary.AppendUvarint(b, h.ZeroCount)
		b = binary.AppendUvarint(b, h.Count)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(h.Sum))
		b = appendSpans(b, h.PositiveSpans)
		b = appendSpans(b, h.NegativeSpans)
		b = appendDeltas(b, h.PositiveBuckets)
		b = appendDeltas(b, h.NegativeBuckets)
		b = cv.append(b, h.Schema, h.CustomValues)
		if typ == HistogramSamplesST {
			b = binary.AppendVarint(b, s[i].T-s[i].ST)
		}
	}
	return b
}

// FloatHistogramSamples appends the encoding of s to b[:0] and returns it (without start
// timestamps).
func (e *Encoder) FloatHistogramSamples(s []RefFloatHistogramSample, b []byte) []byte {
	return e.floatHistogramSamples(s, b, FloatHistogramSamples)
}

// FloatHistogramSamplesST is FloatHistogramSamples with the samples' start timestamps.
func (e *Encoder) FloatHistogramSamplesST(s []RefFloatHistogramSample, b []byte) []byte {
	return e.floatHistogramSamples(s, b, FloatHistogramSamplesST)
}

func (e *Encoder) floatHistogramSamples(s []RefFloatHistogramSample, b []byte, typ Type) []byte {
	b = append(b[:0], byte(typ))
	b = binary.AppendUvarint(b, uint64(len(s)))
	if len(s) == 0 {
		return b
	}
	baseRef, baseT := s[0].Ref, s[0].T
	b = binary.AppendUvarint(b, baseRef)
	b = binary.AppendVarint(b, baseT)
	var cv customValuesMemo
	for i := range s {
		b = binary.AppendVarint(b, int64(s[i].Ref-baseRef))
		b = binary.AppendVarint(b, s[i].T-baseT)
		h := s[i].FH
		b = appendHistogramHead(b, h.CounterResetHint, h.Schema, h.ZeroThreshold)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(h.ZeroCount))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(h.Count))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(h.Sum))
		b = appendSpans(b, h.PositiveSpans)
		b = appendSpans(b, h.NegativeSpans)
		b = appendFloats(b, h.PositiveBuckets)
		b = appendFloats(b, h.NegativeBuckets)
		b = cv.append(b, h.Schema, h.CustomValues)
		if typ == FloatHistogramSamplesST {
			b = binary.AppendVarint(b, s[i].T-s[i].ST)
		}
	}
	return b
}

func appendHistogramHead(b []byte, hint histogram.CounterResetHint, schema int32, threshold float64) []byte {
	b = append(b, byte(hint))
	b = binary.AppendVarint(b, int64(schema))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(threshold))
}

func appendSpans(b []byte, spans []histogram.Span) []byte {
	b = binary.AppendUvarint(b, uint64(len(spans)))
	for _, s := range spans {
		b = binary.AppendVarint(b, int64(s.Offset))
		b = binary.AppendUvarint(b, uint64(s.Length))
	}
	return b
}

func appendDeltas(b []byte, ds []int64) []byte {
	b = binary.AppendUvarint(b, uint64(len(ds)))
	for _, d := range ds {
		b = binary.AppendVarint(b, d)
	}
	return b
}

func appendFloats(b []byte, fs []float64) []byte {
	b = binary.AppendUvarint(b, uint64(len(fs)))
	for _, f := range fs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	return b
}

// customValuesMemo writes the custom bucket bounds of the samples of one record (the same
// bytes as appendFloats). Samples converted from classic histograms usually share one slice of
// bounds (a scrape interns them per metric): the bytes written for it are copied from where
// they were written last instead of being encoded again.
type customValuesMemo struct {
	last     []float64
	from, to int // where in the record the encoding of last is
}

func (m *customValuesMemo) append(b []byte, schema int32, cv []float64) []byte {
	if !histogram.IsCustomBucketsSchema(schema) {
		return b
	}
	if len(cv) > 0 && len(cv) == len(m.last) && &cv[0] == &m.last[0] {
		return append(b, b[m.from:m.to]...)
	}
	from := len(b)
	b = appendFloats(b, cv)
	m.last, m.from, m.to = cv, from, len(b)
	return b
}

// HistogramSamples decodes a histogram samples record, with start timestamps
// (HistogramSamplesST) or without, appending to into[:0]. The histograms are newly allocated:
// they do not alias rec.
func (d *Decoder) HistogramSamples(rec []byte, into []RefHistogramSample) ([]RefHistogramSample, error) {
	into = into[:0]
	rec, err := d.plainRecord(rec)
	if err != nil {
		return into, err
	}
	var db decbuf
	withST := db.headerOf(rec, HistogramSamples, HistogramSamplesST)
	baseRef, baseT, n := db.histogramBase()
	if db.err != nil {
		return into, db.err
	}
	into = grow(into, n)
	for range n {
		ref := baseRef + uint64(db.varint("sample ref"))
		t := baseT + db.varint("sample timestamp")
		h := &histogram.Histogram{}
		h.CounterResetHint, h.Schema, h.ZeroThreshold = db.histogramHead()
		h.ZeroCount = db.uvarint("zero count")
		h.Count = db.uvarint("count")
		h.Sum = math.Float64frombits(db.uint64le("sum"))
		h.PositiveSpans = db.spans()
		h.NegativeSpans = db.spans()
		h.PositiveBuckets = db.deltas()
		h.NegativeBuckets = db.deltas()
		h.CustomValues = db.customValues(h.Schema)
		st := db.st(withST, t)
		if db.err != nil {
			return into, db.err
		}
		into = append(into, RefHistogramSample{Ref: ref, ST: st, T: t, H: h})
	}
	return into, db.end()
}

// FloatHistogramSamples decodes a float histogram samples record, with start timestamps
// (FloatHistogramSamplesST) or without, appending to into[:0].
func (d *Decoder) FloatHistogramSamples(rec []byte, into []RefFloatHistogramSample) ([]RefFloatHistogramSample, error) {
	into = into[:0]
	rec, err := d.plainRecord(rec)
	if err != nil {
		return into, err
	}
	var db decbuf
	withST := db.headerOf(rec, FloatHistogramSamples, FloatHistogramSamplesST)
	baseRef, baseT, n := db.histogramBase()
	if db.err != nil {
		return into, db.err
	}
	into = grow(into, n)
	for range n {
		ref := baseRef + uint64(db.varint("sample ref"))
		t := baseT + db.varint("sample timestamp")
		h := &histogram.FloatHistogram{}
		h.CounterResetHint, h.Schema, h.ZeroThreshold = db.histogramHead()
		h.ZeroCount = math.Float64frombits(db.uint64le("zero count"))
		h.Count = math.Float64frombits(db.uint64le("count"))
		h.Sum = math.Float64frombits(db.uint64le("sum"))
		h.PositiveSpans = db.spans()
		h.NegativeSpans = db.spans()
		h.PositiveBuckets = db.floats("positive buckets")
		h.NegativeBuckets = db.floats("negative buckets")
		h.CustomValues = db.customValues(h.Schema)
		st := db.st(withST, t)
		if db.err != nil {
			return into, db.err
		}
		into = append(into, RefFloatHistogramSample{Ref: ref, ST: st, T: t, FH: h})
	}
	return into, db.end()
}

func (d *decbuf) histogramBase() (baseRef uint64, baseT int64, n int) {
	n = d.count("histogram samples", minHistogramSampleSize)
	if d.err != nil || n == 0 {
		return 0, 0, n
	}
	baseRef = d.uvarint("base ref")
	baseT = d.varint("base timestamp")
	if d.err == nil && n > len(d.b)/minHistogramSampleSize {
		d.fail(fmt.Sprintf("histogram samples count %d exceeds remaining %d bytes", n, len(d.b)))
	}
	return baseRef, baseT, n
}

func (d *decbuf) histogramHead() (histogram.CounterResetHint, int32, float64) {
	if d.err != nil {
		return 0, 0, 0
	}
	if len(d.b) == 0 {
		d.fail("short histogram")
		return 0, 0, 0
	}
	hint := histogram.CounterResetHint(d.b[0])
	d.b = d.b[1:]
	if hint > histogram.GaugeType {
		d.fail(fmt.Sprintf("counter reset hint %d", hint))
	}
	schema := d.varint("schema")
	if d.err == nil && (schema < math.MinInt32 || schema > math.MaxInt32) {
		d.fail(fmt.Sprintf("schema %d", schema))
	}
	threshold := math.Float64frombits(d.uint64le("zero threshold"))
	return hint, int32(schema), threshold
}

func (d *decbuf) spans() []histogram.Span {
	n := d.count("spans", 2)
	if d.err != nil || n == 0 {
		return nil
	}
	spans := make([]histogram.Span, n)
	for i := range spans {
		off := d.varint("span offset")
		l := d.uvarint("span length")
		if d.err == nil && (off < math.MinInt32 || off > math.MaxInt32 || l > math.MaxUint32) {
			d.fail("span out of range")
		}
		spans[i] = histogram.Span{Offset: int32(off), Length: uint32(l)}
	}
	return spans
}

func (d *decbuf) deltas() []int64 {
	n := d.count("buckets", 1)
	if d.err != nil || n == 0 {
		return nil
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = d.varint("bucket")
	}
	return out
}

func (d *decbuf) floats(what string) []float64 {
	n := d.count(what, 8)
	if d.err != nil || n == 0 {
		return nil
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Float64frombits(d.uint64le(what))
	}
	return out
}

func (d *decbuf) customValues(schema int32) []float64 {
	if !histogram.IsCustomBucketsSchema(schema) {
		return nil
	}
	return d.floats("custom values")
}

// headerOf is header for a record that may be of type plain or its start timestamp form
// withST; it reports which.
func (d *decbuf) headerOf(rec []byte, plain, withST Type) bool {
	if len(rec) > 0 && Type(rec[0]) == withST {
		d.header(rec, withST)
		return true
	}
	d.header(rec, plain)
	return false
}

// st reads the start timestamp of the sample at t that follows it in a record with start
// timestamps; 0 otherwise.
func (d *decbuf) st(withST bool, t int64) int64 {
	if !withST {
		return 0
	}
	return t - d.varint("sample start timestamp")
}
