// Package record encodes and decodes the records Vigil writes to its write-ahead log.
//
// Every record starts with one type byte followed by a uvarint count of entries:
//
//	Series:     count × ( uvarint ref, uvarint nlabels, nlabels × ( uvarint len, name, uvarint len, value ) )
//	Samples:    count, and when count > 0: uvarint baseRef, varint baseT,
//	            then count × ( varint ref-baseRef, varint t-baseT, 8 bytes little-endian float64 bits )
//	Tombstones: count × ( uvarint ref, uvarint nintervals, nintervals × ( varint mint, varint maxt-mint ) )
//	HistogramSamples, FloatHistogramSamples: as Samples, with a histogram in place of the value
//	            (see histogram.go)
//	SamplesST:  as Samples, each sample followed by varint t-st, its start timestamp st (0:
//	            none) relative to its timestamp t
//	HistogramSamplesST, FloatHistogramSamplesST: as HistogramSamples and
//	            FloatHistogramSamples, each histogram followed by varint t-st as in SamplesST
//
// A commit with start timestamps (see SamplesST) logs all its samples in one SamplesST record,
// so that replay applies a series' samples in the order they were appended.
//
// Samples are delta-encoded against the first sample of the record because a commit usually holds
// one scrape: the timestamps are all equal (delta 0, one byte) and the refs are close together.
// Differences are computed with wrapping arithmetic, so every int64/uint64 value round-trips.
//
// Decoders treat their input as untrusted (it is read back from disk): every count and length is
// checked against the bytes that remain before anything is allocated, so damaged input yields an
// error wrapping ErrCorrupt and never a panic or an oversized allocation.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
)

// Type is the first byte of every record.
type Type uint8

// Record types. The values are part of the on-disk format: never renumber them.
const (
	Unknown    Type = 0
	Series     Type = 1
	Samples    Type = 2
	Tombstones Type = 3
	// HistogramSamples and FloatHistogramSamples hold native histogram samples (integer and
	// float counts). Readers from before native histograms stop at them with "unknown WAL
	// record type" (replay keeps everything before; remote write skips them).
	HistogramSamples      Type = 4
	FloatHistogramSamples Type = 5
	// SamplesST holds samples with start timestamps. The value is that of upstream's
	// SamplesV2, the record that carries start timestamps there.
	SamplesST Type = 11
	// HistogramSamplesST and FloatHistogramSamplesST hold native histogram samples with start
	// timestamps (values of upstream's HistogramSamplesV2 and FloatHistogramSamplesV2). Readers
	// from before them stop at them with "unknown WAL record type", as at SamplesST: replay
	// fails and the DB does not open (nothing is deleted); remote write skips them.
	HistogramSamplesST      Type = 12
	FloatHistogramSamplesST Type = 13
)

func (t Type) String() string {
	switch t {
	case Series:
		return "series"
	case Samples:
		return "samples"
	case Tombstones:
		return "tombstones"
	case HistogramSamples:
		return "histogram_samples"
	case FloatHistogramSamples:
		return "float_histogram_samples"
	case SamplesST:
		return "samples with start timestamps"
	case HistogramSamplesST:
		return "histogram samples with start timestamps"
	case FloatHistogramSamplesST:
		return "float histogram samples with start timestamps"
	default:
		return "unknown"
	}
}

// ErrCorrupt is wrapped by every decoding error caused by malformed input.
var ErrCorrupt = errors.New("corrupt record")

// RefSeries is a series reference and its labels, logged the first time a series is created.
type RefSeries struct {
	Ref    uint64
	Labels labels.Labels
}

// RefSample is one sample of the series Ref.
type RefSample struct {
	Ref uint64
	T   int64
	V   float64
}

// RefSampleST is one sample of the series Ref with its start timestamp ST (0: none).
type RefSampleST struct {
	Ref uint64
	ST  int64
	T   int64
	V   float64
}

// Interval is a closed time range [Mint, Maxt] in milliseconds.
type Interval struct{ Mint, Maxt int64 }

// Stone marks the samples of series Ref inside Intervals as deleted.
type Stone struct {
	Ref       uint64
	Intervals []Interval
}

// Minimum encoded sizes of one entry, used to bound counts read from untrusted input before
// allocating for them.
const (
	minSeriesSize   = 2  // uvarint ref + uvarint nlabels
	minLabelSize    = 2  // two zero-length strings
	minSampleSize   = 10 // varint + varint + 8 bytes value
	minSampleSTSize = 11 // a sample and a varint start timestamp
	minStoneSize    = 2  // uvarint ref + uvarint nintervals
	minIntervalSize = 2  // varint + varint
)

// Encoder encodes records. The zero value is ready to use; it holds no state, the type exists so
// that callers have a place to keep scratch space should encoding ever need some.
type Encoder struct{}

// Series appends the encoding of s to b[:0] and returns it.
func (e *Encoder) Series(s []RefSeries, b []byte) []byte {
	// Size the buffer once: a target's first scrape logs thousands of series in one record,
	// and growing by doubling would allocate several times the record.
	need := 1 + binary.MaxVarintLen64
	for i := range s {
		need += 2*binary.MaxVarintLen64 + int(s[i].Labels.ByteSize()) + 2*s[i].Labels.Len()
	}
	if cap(b) < need {
		b = make([]byte, 0, need)
	}
	b = append(b[:0], byte(Series))
	b = binary.AppendUvarint(b, uint64(len(s)))
	for i := range s {
		b = binary.AppendUvarint(b, s[i].Ref)
		b = binary.AppendUvarint(b, uint64(s[i].Labels.Len()))
		s[i].Labels.Range(func(l labels.Label) {
			b = binary.AppendUvarint(b, uint64(len(l.Name)))
			b = append(b, l.Name...)
			b = binary.AppendUvarint(b, uint64(len(l.Value)))
			b = append(b, l.Value...)
		})
	}
	return b
}

// Samples appends the encoding of s to b[:0] and returns it.
func (e *Encoder) Samples(s []RefSample, b []byte) []byte {
	b = append(b[:0], byte(Samples))
	b = binary.AppendUvarint(b, uint64(len(s)))
	if len(s) == 0 {
		return b
	}
	baseRef, baseT := s[0].Ref, s[0].T
	b = binary.AppendUvarint(b, baseRef)
	b = binary.AppendVarint(b, baseT)
	for i := range s {
		b = binary.AppendVarint(b, int64(s[i].Ref-baseRef))
		b = binary.AppendVarint(b, s[i].T-baseT)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s[i].V))
	}
	return b
}

// SamplesST appends the encoding of s to b[:0] and returns it.
func (e *Encoder) SamplesST(s []RefSampleST, b []byte) []byte {
	b = append(b[:0], byte(SamplesST))
	b = binary.AppendUvarint(b, uint64(len(s)))
	if len(s) == 0 {
		return b
	}
	baseRef, baseT := s[0].Ref, s[0].T
	b = binary.AppendUvarint(b, baseRef)
	b = binary.AppendVarint(b, baseT)
	for i := range s {
		b = binary.AppendVarint(b, int64(s[i].Ref-baseRef))
		b = binary.AppendVarint(b, s[i].T-baseT)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s[i].V))
		b = binary.AppendVarint(b, s[i].T-s[i].ST)
	}
	return b
}

// Tombstones appends the encoding of s to b[:0] and returns it.
func (e *Encoder) Tombstones(s []Stone, b []byte) []byte {
	b = append(b[:0], byte(Tombstones))
	b = binary.AppendUvarint(b, uint64(len(s)))
	for i := range s {
		b = binary.AppendUvarint(b, s[i].Ref)
		b = binary.AppendUvarint(b, uint64(len(s[i].Intervals)))
		for _, iv := range s[i].Intervals {
			b = binary.AppendVarint(b, iv.Mint)
			b = binary.AppendVarint(b, iv.Maxt-iv.Mint)
		}
	}
	return b
}

// Decoder decodes records. The zero value is ready to use. A Decoder is not safe for concurrent
// use: it reuses a label builder between calls.
type Decoder struct {
	builder labels.ScratchBuilder
	plain   []byte // decompression buffer, reused
}

// compressedFlag marks a record whose body (everything after the type byte) is
// snappy-compressed, as Prometheus compresses its WAL by default.
const compressedFlag = 0x80

// maxDecompressed bounds what a damaged compressed record can make the decoder allocate.
const maxDecompressed = 1 << 28

// Compress returns rec with its body snappy-compressed, using dst's space if it is large
// enough, or rec itself when compression does not make it smaller. Decoders accept both.
func Compress(rec, dst []byte) []byte {
	if len(rec) < 2 {
		return rec
	}
	need := 1 + snappy.MaxEncodedLen(len(rec)-1)
	if cap(dst) < need {
		dst = make([]byte, need)
	}
	dst = dst[:need]
	body := snappy.Encode(dst[1:], rec[1:])
	if 1+len(body) >= len(rec) {
		return rec
	}
	dst[0] = rec[0] | compressedFlag
	return dst[:1+len(body)]
}

// plainRecord returns rec uncompressed, in the decoder's buffer if it was compressed.
func (d *Decoder) plainRecord(rec []byte) ([]byte, error) {
	if len(rec) == 0 || rec[0]&compressedFlag == 0 {
		return rec, nil
	}
	n, err := snappy.DecodedLen(rec[1:])
	if err != nil || n > maxDecompressed {
		return nil, fmt.Errorf("%w: bad compressed record", ErrCorrupt)
	}
	if cap(d.plain) < n+1 {
		d.plain = make([]byte, n+1)
	}
	d.plain = d.plain[:n+1]
	if _, err := snappy.Decode(d.plain[1:], rec[1:]); err != nil {
		return nil, fmt.Errorf("%w: decompressing record: %v", ErrCorrupt, err)
	}
	d.plain[0] = rec[0] &^ compressedFlag
	return d.plain, nil
}

// Type returns the type of rec, Unknown for an empty record or an unknown type byte.
func (d *Decoder) Type(rec []byte) Type {
	if len(rec) == 0 {
		return Unknown
	}
	switch t := Type(rec[0] &^ compressedFlag); t {
	case Series, Samples, Tombstones, HistogramSamples, FloatHistogramSamples, SamplesST,
		HistogramSamplesST, FloatHistogramSamplesST:
		return t
	}
	return Unknown
}

// decbuf reads from untrusted bytes; the first error sticks and later reads return zero values,
// so decoding loops check the error once per entry rather than after every field.
type decbuf struct {
	b   []byte
	err error
}

func (d *decbuf) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	d.b = nil
}

func (d *decbuf) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint for " + what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decbuf) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint for " + what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decbuf) uint64le(what string) uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("short " + what)
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// count reads an entry count and rejects it unless count entries of at least minSize bytes each
// fit in what remains, which bounds any allocation made for them by the record's size.
func (d *decbuf) count(what string, minSize int) int {
	n := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minSize) {
		d.fail(fmt.Sprintf("%s count %d exceeds remaining %d bytes", what, n, len(d.b)))
		return 0
	}
	return int(n)
}

// strSpan reads a length-prefixed string and returns where it lies as offsets [start, end) from
// the position at which the decbuf held base bytes, so that callers can slice a copy of the input.
func (d *decbuf) strSpan(what string, base int) (start, end int) {
	n := d.uvarint(what)
	if d.err != nil {
		return 0, 0
	}
	if n > uint64(len(d.b)) {
		d.fail(fmt.Sprintf("%s length %d exceeds remaining %d bytes", what, n, len(d.b)))
		return 0, 0
	}
	start = base - len(d.b)
	d.b = d.b[n:]
	return start, start + int(n)
}

func (d *decbuf) header(rec []byte, want Type) {
	if len(rec) == 0 {
		d.fail("empty record")
		return
	}
	if Type(rec[0]) != want {
		d.err = fmt.Errorf("%w: record type %s (%d), want %s", ErrCorrupt, Type(rec[0]), rec[0], want)
		return
	}
	d.b = rec[1:]
}

func (d *decbuf) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	return d.err
}

// Series decodes a series record, appending to into[:0]. The returned labels do not reference
// rec, which callers (the WAL reader) reuse.
func (d *Decoder) Series(rec []byte, into []RefSeries) ([]RefSeries, error) {
	into = into[:0]
	err := d.eachSeries(rec, false,
		func(n int) { into = grow(into, n) },
		func(ref uint64) { into = append(into, RefSeries{Ref: ref, Labels: d.builder.Labels()}) })
	return into, err
}

// Samples decodes a samples record, appending to into[:0].
func (d *Decoder) Samples(rec []byte, into []RefSample) ([]RefSample, error) {
	into = into[:0]
	rec, err := d.plainRecord(rec)
	if err != nil {
		return into, err
	}
	var db decbuf
	db.header(rec, Samples)
	n := db.count("samples", minSampleSize)
	if db.err != nil {
		return into, db.err
	}
	if n == 0 {
		return into, db.end()
	}
	baseRef := db.uvarint("base ref")
	baseT := db.varint("base timestamp")
	// The base fields took at least two bytes of what the count was checked against; recheck so
	// that the allocation stays bounded by the record size.
	if db.err == nil && n > len(db.b)/minSampleSize {
		db.fail(fmt.Sprintf("samples count %d exceeds remaining %d bytes", n, len(db.b)))
	}
	if db.err != nil {
		return into, db.err
	}
	into = grow(into, n)
	// The hot loop of replay: decode from a local slice, with the one-byte varint (the common
	// case: same timestamp, nearby refs) handled inline, and fall back to decbuf for errors.
	b := db.b
	for range n {
		dref, k := fastVarint(b)
		if k <= 0 {
			db.b = b
			db.varint("sample ref")
			return into, db.err
		}
		b = b[k:]
		dt, k := fastVarint(b)
		if k <= 0 {
			db.b = b
			db.varint("sample timestamp")
			return into, db.err
		}
		b = b[k:]
		if len(b) < 8 {
			db.b = b
			db.uint64le("sample value")
			return into, db.err
		}
		into = append(into, RefSample{
			Ref: baseRef + uint64(dref),
			T:   baseT + dt,
			V:   math.Float64frombits(binary.LittleEndian.Uint64(b)),
		})
		b = b[8:]
	}
	db.b = b
	return into, db.end()
}

// SamplesST decodes a samples record with start timestamps, appending to into[:0].
func (d *Decoder) SamplesST(rec []byte, into []RefSampleST) ([]RefSampleST, error) {
	into = into[:0]
	rec, err := d.plainRecord(rec)
	if err != nil {
		return into, err
	}
	var db decbuf
	db.header(rec, SamplesST)
	n := db.count("samples", minSampleSTSize)
	if db.err != nil {
		return into, db.err
	}
	if n == 0 {
		return into, db.end()
	}
	baseRef := db.uvarint("base ref")
	baseT := db.varint("base timestamp")
	if db.err == nil && n > len(db.b)/minSampleSTSize {
		db.fail(fmt.Sprintf("samples count %d exceeds remaining %d bytes", n, len(db.b)))
	}
	if db.err != nil {
		return into, db.err
	}
	into = grow(into, n)
	for range n {
		dref := db.varint("sample ref")
		dt := db.varint("sample timestamp")
		v := db.uint64le("sample value")
		dst := db.varint("sample start timestamp")
		if db.err != nil {
			return into, db.err
		}
		t := baseT + dt
		into = append(into, RefSampleST{
			Ref: baseRef + uint64(dref),
			ST:  t - dst,
			T:   t,
			V:   math.Float64frombits(v),
		})
	}
	return into, db.end()
}

// fastVarint is binary.Varint with the single-byte case inlined.
func fastVarint(b []byte) (int64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		u := int64(b[0])
		return (u >> 1) ^ -(u & 1), 1
	}
	return binary.Varint(b)
}

// Tombstones decodes a tombstones record, appending to into[:0].
func (d *Decoder) Tombstones(rec []byte, into []Stone) ([]Stone, error) {
	into = into[:0]
	rec, err := d.plainRecord(rec)
	if err != nil {
		return into, err
	}
	var db decbuf
	db.header(rec, Tombstones)
	n := db.count("stones", minStoneSize)
	if db.err != nil {
		return into, db.err
	}
	into = grow(into, n)
	for range n {
		ref := db.uvarint("stone ref")
		ni := db.count("intervals", minIntervalSize)
		if db.err != nil {
			return into, db.err
		}
		ivs := make([]Interval, 0, ni)
		for range ni {
			mint := db.varint("interval mint")
			d := db.varint("interval length")
			if db.err != nil {
				return into, db.err
			}
			ivs = append(ivs, Interval{Mint: mint, Maxt: mint + d})
		}
		into = append(into, Stone{Ref: ref, Intervals: ivs})
	}
	return into, db.end()
}

// grow makes room for n more elements in one allocation; n has been bounded by the record size.
func grow[T any](s []T, n int) []T {
	if cap(s)-len(s) < n {
		ns := make([]T, len(s), len(s)+n)
		copy(ns, s)
		return ns
	}
	return s
}
