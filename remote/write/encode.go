package write

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/golang/snappy"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// encodeSeries stores lset, encoded for 1.0, in g and returns its record. pairs and buf are
// scratch space.
func encodeSeries(g *arenaGen, lset labels.Labels, pairs []uint32, buf []byte) (off uint32, _ []uint32, _ []byte, ok bool) {
	pairs = pairs[:0]
	var pbLen uint32
	ok = true
	lset.Range(func(l labels.Label) {
		if !ok {
			return
		}
		buf = appendLabelV1(buf[:0], l)
		var ref uint32
		if ref, ok = g.internPair(buf); ok {
			pairs = append(pairs, ref)
			pbLen += uint32(len(buf))
		}
	})
	if !ok {
		return 0, pairs, buf, false
	}
	off, ok = g.addRecord(pbLen, pairs)
	return off, pairs, buf, ok
}

// appendLabelV1 appends one TimeSeries.labels field (a prompb.Label) for l.
func appendLabelV1(b []byte, l labels.Label) []byte {
	m := 1 + uvarintLen(uint64(len(l.Name))) + len(l.Name) + 1 + uvarintLen(uint64(len(l.Value))) + len(l.Value)
	b = append(b, tagLabels)
	b = binary.AppendUvarint(b, uint64(m))
	b = append(b, tagLabelName)
	b = binary.AppendUvarint(b, uint64(len(l.Name)))
	b = append(b, l.Name...)
	b = append(b, tagLabelValue)
	b = binary.AppendUvarint(b, uint64(len(l.Value)))
	return append(b, l.Value...)
}

// sample is one sample on its way to the receiver. seq is the tracker sequence number of the
// WAL record it came from.
type sample struct {
	g   *arenaGen // nil: the watcher's word that it caught up with the WAL
	off uint32    // the series' record in g
	t   int64
	v   float64
	seq uint64
	// A native histogram sample carries one of these instead of v (send_native_histograms).
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
}

func (s *sample) isHist() bool { return s.h != nil || s.fh != nil }

// Protobuf wire-format tags of the fields written by hand (prompb's types.proto).
const (
	tagTimeSeries   = 1<<3 | 2 // WriteRequest.timeseries
	tagLabels       = 1<<3 | 2 // TimeSeries.labels
	tagSamples      = 2<<3 | 2 // TimeSeries.samples
	tagLabelName    = 1<<3 | 2 // Label.name
	tagLabelValue   = 2<<3 | 2 // Label.value
	tagSampleValue  = 1<<3 | 1 // Sample.value (double)
	tagSampleTStamp = 2<<3 | 0 // Sample.timestamp (int64)
	tagHistograms   = 4<<3 | 2 // TimeSeries.histograms
)

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// appendSampleV1 appends one TimeSeries (the series' labels and one sample) of a
// prompb.WriteRequest to b.
func appendSampleV1(b []byte, g *arenaGen, off uint32, t int64, v float64) []byte {
	pbLen, pairs := g.record(off)
	sampleLen := 1 + 8 + 1 + uvarintLen(uint64(t))
	tsLen := int(pbLen) + 1 + uvarintLen(uint64(sampleLen)) + sampleLen
	b = append(b, tagTimeSeries)
	b = binary.AppendUvarint(b, uint64(tsLen))
	pages := *g.pairPages.Load()
	for _, p := range pairs {
		b = append(b, g.pair(pages, p)...)
	}
	b = append(b, tagSamples)
	b = binary.AppendUvarint(b, uint64(sampleLen))
	b = append(b, tagSampleValue)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	b = append(b, tagSampleTStamp)
	return binary.AppendUvarint(b, uint64(t))
}

// appendHistogramV1 appends one TimeSeries (the series' labels and one native histogram) of a
// prompb.WriteRequest to b; the histogram itself is marshalled by prompb.
func appendHistogramV1(b []byte, g *arenaGen, off uint32, ph *prompb.Histogram) ([]byte, error) {
	pbLen, pairs := g.record(off)
	hLen := ph.Size()
	tsLen := int(pbLen) + 1 + uvarintLen(uint64(hLen)) + hLen
	b = append(b, tagTimeSeries)
	b = binary.AppendUvarint(b, uint64(tsLen))
	pages := *g.pairPages.Load()
	for _, p := range pairs {
		b = append(b, g.pair(pages, p)...)
	}
	b = append(b, tagHistograms)
	b = binary.AppendUvarint(b, uint64(hLen))
	b = slices.Grow(b, hLen)
	n, err := ph.MarshalToSizedBuffer(b[len(b) : len(b)+hLen])
	if err != nil {
		return b, fmt.Errorf("encoding a histogram: %w", err)
	}
	if n != hLen {
		return b, fmt.Errorf("encoding a histogram: %d bytes written, %d expected", n, hLen)
	}
	return b[:len(b)+hLen], nil
}

// histogramV1 is the 1.0 form of a histogram sample.
func histogramV1(s *sample) prompb.Histogram {
	if s.h != nil {
		return prompb.FromIntHistogram(s.t, s.h)
	}
	return prompb.FromFloatHistogram(s.t, s.fh)
}

// encoder builds and compresses requests; each shard has its own.
type encoder struct {
	v2       bool
	raw      []byte
	comp     []byte
	symbols  writev2.SymbolsTable
	ts       []writev2.TimeSeries
	req      writev2.Request
	metadata func(name string) (Metadata, bool)
	// pairSyms caches, for the 2.0 request being built, each label pair's symbols (name<<32 |
	// value), by pair ref in symGen: one map lookup per label instead of two string lookups.
	pairSyms map[uint32]uint64
	symGen   *arenaGen
}

func newEncoder(v2 bool, metadata func(string) (Metadata, bool)) *encoder {
	return &encoder{v2: v2, symbols: writev2.NewSymbolTable(), metadata: metadata}
}

// encode returns the compressed request for the samples, valid until the next call, and the
// uncompressed size.
func (e *encoder) encode(samples []sample) (body []byte, rawSize int, err error) {
	if e.v2 {
		e.raw, err = e.encodeV2(samples)
		if err != nil {
			return nil, 0, err
		}
	} else {
		e.raw = e.raw[:0]
		for i := range samples {
			s := &samples[i]
			if !s.isHist() {
				e.raw = appendSampleV1(e.raw, s.g, s.off, s.t, s.v)
				continue
			}
			ph := histogramV1(s)
			if e.raw, err = appendHistogramV1(e.raw, s.g, s.off, &ph); err != nil {
				return nil, 0, err
			}
		}
	}
	return e.compress(), len(e.raw), nil
}

func (e *encoder) compress() []byte {
	if n := snappy.MaxEncodedLen(len(e.raw)); cap(e.comp) < n {
		e.comp = make([]byte, n)
	}
	e.comp = snappy.Encode(e.comp[:cap(e.comp)], e.raw)
	return e.comp
}

func (e *encoder) encodeV2(samples []sample) ([]byte, error) {
	e.symbols.Reset()
	if e.pairSyms == nil {
		e.pairSyms = map[uint32]uint64{}
	}
	clear(e.pairSyms)
	e.symGen = nil
	nameSym := uint64(e.symbols.Symbolize(labels.MetricName))
	if cap(e.ts) < len(samples) {
		e.ts = append(e.ts[:cap(e.ts)], make([]writev2.TimeSeries, len(samples)-cap(e.ts))...)
	}
	ts := e.ts[:len(samples)]
	for i := range samples {
		s := &samples[i]
		t := &ts[i]
		if s.g != e.symGen {
			clear(e.pairSyms)
			e.symGen = s.g
		}
		_, pairs := s.g.record(s.off)
		pages := *s.g.pairPages.Load()
		metric := -1
		t.LabelsRefs = t.LabelsRefs[:0]
		for _, p := range pairs {
			syms, ok := e.pairSyms[p]
			if !ok {
				name, value := labelPair(s.g.pair(pages, p))
				syms = uint64(e.symbols.Symbolize(name))<<32 | uint64(e.symbols.Symbolize(value))
				e.pairSyms[p] = syms
			}
			if syms>>32 == nameSym {
				metric = int(uint32(syms))
			}
			t.LabelsRefs = append(t.LabelsRefs, uint32(syms>>32), uint32(syms))
		}
		switch {
		case s.h != nil:
			t.Samples = t.Samples[:0]
			t.Histograms = append(t.Histograms[:0], writev2.FromIntHistogram(0, s.t, s.h))
		case s.fh != nil:
			t.Samples = t.Samples[:0]
			t.Histograms = append(t.Histograms[:0], writev2.FromFloatHistogram(0, s.t, s.fh))
		default:
			if cap(t.Samples) == 0 {
				t.Samples = make([]writev2.Sample, 1)
			}
			t.Samples = t.Samples[:1]
			t.Samples[0] = writev2.Sample{Value: s.v, Timestamp: s.t}
			t.Histograms = t.Histograms[:0]
		}
		t.Metadata = writev2.Metadata{}
		if e.metadata != nil && metric >= 0 {
			if md, ok := e.metadata(e.symbols.Symbols()[metric]); ok {
				t.Metadata.Type = writev2.FromMetadataType(md.Type)
				t.Metadata.HelpRef = e.symbols.Symbolize(md.Help)
				t.Metadata.UnitRef = e.symbols.Symbolize(md.Unit)
			}
		}
	}
	e.req.Symbols = e.symbols.Symbols()
	e.req.Timeseries = ts
	raw, err := e.req.OptimizedMarshal(e.raw)
	for i := range ts {
		if len(ts[i].Histograms) > 0 {
			clear(ts[i].Histograms) // the encoder does not keep the batch's histograms alive
			ts[i].Histograms = ts[i].Histograms[:0]
		}
	}
	return raw, err
}

// encodeMetadata returns the compressed 1.0 request carrying metadata only.
func (e *encoder) encodeMetadata(md []Metadata) ([]byte, int, error) {
	req := prompb.WriteRequest{Metadata: make([]prompb.MetricMetadata, 0, len(md))}
	for _, m := range md {
		req.Metadata = append(req.Metadata, prompb.MetricMetadata{
			Type:             prompb.FromMetadataType(m.Type),
			MetricFamilyName: m.MetricFamily,
			Help:             m.Help,
			Unit:             m.Unit,
		})
	}
	raw, err := req.Marshal()
	if err != nil {
		return nil, 0, err
	}
	e.raw = raw
	return e.compress(), len(raw), nil
}

// Metadata is one metric family's TYPE, HELP and UNIT as scraped.
type Metadata struct {
	MetricFamily string
	Type         model.MetricType
	Help, Unit   string
}
