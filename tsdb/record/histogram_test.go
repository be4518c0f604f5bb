package record

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"

	"github.com/vigil-monitoring/vigil/tsdb/internal/histgen"
)

func testHistograms() []*histogram.Histogram {
	return []*histogram.Histogram{
		{},
		{
			Schema: 3, ZeroThreshold: 1e-128, ZeroCount: 5, Count: 50, Sum: 18.4,
			CounterResetHint: histogram.NotCounterReset,
			PositiveSpans:    []histogram.Span{{Offset: -2, Length: 2}, {Offset: 1, Length: 3}},
			PositiveBuckets:  []int64{1, 1, -1, 10, -3},
			NegativeSpans:    []histogram.Span{{Offset: 0, Length: 1}},
			NegativeBuckets:  []int64{7},
		},
		{
			Schema: histogram.CustomBucketsSchema, Count: 9, Sum: 2.5,
			PositiveSpans:   []histogram.Span{{Offset: 0, Length: 3}},
			PositiveBuckets: []int64{2, 1, 0},
			CustomValues:    []float64{0.1, 0.5, 1, 5},
		},
		{Sum: math.Float64frombits(0x7ff0000000000002), CounterResetHint: histogram.UnknownCounterReset},
		{Schema: -4, Count: 1, CounterResetHint: histogram.GaugeType, PositiveSpans: []histogram.Span{{Offset: 1 << 20, Length: 1}}, PositiveBuckets: []int64{1}},
		{Schema: 0, Count: math.MaxUint64, ZeroCount: math.MaxUint64, CounterResetHint: histogram.CounterReset},
	}
}

func TestHistogramSamplesRoundTrip(t *testing.T) {
	t.Run("without start timestamps", func(t *testing.T) { testHistogramSamplesRoundTrip(t, false) })
	t.Run("with start timestamps", func(t *testing.T) { testHistogramSamplesRoundTrip(t, true) })
}

// histSTs are start timestamps of every kind: none, before, at and after the sample, extremes.
var histSTs = []int64{0, -30000, 1, math.MaxInt64, math.MinInt64, 12345}

func testHistogramSamplesRoundTrip(t *testing.T, withST bool) {
	var enc Encoder
	var dec Decoder
	var in []RefHistogramSample
	var fin []RefFloatHistogramSample
	for i, h := range testHistograms() {
		var st int64
		if withST {
			st = histSTs[i%len(histSTs)]
		}
		in = append(in, RefHistogramSample{Ref: uint64(100 - i), ST: st, T: int64(i*1000 - 3), H: h})
		fin = append(fin, RefFloatHistogramSample{Ref: uint64(i) << 40, ST: st, T: math.MinInt64 + int64(i), FH: h.ToFloat(nil)})
	}
	encH, encFH, wantType := enc.HistogramSamples, enc.FloatHistogramSamples, HistogramSamples
	if withST {
		encH, encFH, wantType = enc.HistogramSamplesST, enc.FloatHistogramSamplesST, HistogramSamplesST
	}
	for _, compress := range []bool{false, true} {
		rec := encH(in, nil)
		if compress {
			rec = Compress(rec, nil)
		}
		if dec.Type(rec) != wantType {
			t.Fatalf("type %v", dec.Type(rec))
		}
		out, err := dec.HistogramSamples(rec, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(in) {
			t.Fatalf("got %d samples, want %d", len(out), len(in))
		}
		for i := range in {
			if out[i].Ref != in[i].Ref || out[i].T != in[i].T || out[i].ST != in[i].ST || !histEqual(out[i].H, in[i].H) {
				t.Errorf("sample %d: got %+v %v, want %+v %v", i, out[i], out[i].H, in[i], in[i].H)
			}
		}
		frec := encFH(fin, nil)
		if compress {
			frec = Compress(frec, nil)
		}
		fout, err := dec.FloatHistogramSamples(frec, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range fin {
			if fout[i].Ref != fin[i].Ref || fout[i].T != fin[i].T || fout[i].ST != fin[i].ST || !fhistEqual(fout[i].FH, fin[i].FH) {
				t.Errorf("float sample %d: got %v, want %v", i, fout[i].FH, fin[i].FH)
			}
		}
		// Each decoder refuses the other's records.
		if _, err := dec.FloatHistogramSamples(rec, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("float decoder on an integer record: %v", err)
		}
	}
	if got, _ := dec.HistogramSamples(enc.HistogramSamples(nil, nil), nil); len(got) != 0 {
		t.Errorf("empty record gave %v", got)
	}
}

// histEqual compares bit for bit (a stale marker's NaN sum included) and the hint, which
// Histogram.Equals ignores.
func histEqual(a, b *histogram.Histogram) bool {
	return a.CounterResetHint == b.CounterResetHint && math.Float64bits(a.Sum) == math.Float64bits(b.Sum) &&
		reflect.DeepEqual(withoutSum(a), withoutSum(b))
}

func withoutSum(h *histogram.Histogram) *histogram.Histogram {
	c := h.Copy()
	c.Sum = 0
	return c
}

func fhistEqual(a, b *histogram.FloatHistogram) bool {
	return a.CounterResetHint == b.CounterResetHint && a.Equals(b)
}

func TestHistogramSamplesTruncated(t *testing.T) {
	var enc Encoder
	var dec Decoder
	var in []RefHistogramSample
	var fin []RefFloatHistogramSample
	for i, h := range testHistograms() {
		in = append(in, RefHistogramSample{Ref: uint64(i), ST: histSTs[i%len(histSTs)], T: int64(i), H: h})
		fin = append(fin, RefFloatHistogramSample{Ref: uint64(i), ST: histSTs[i%len(histSTs)], T: int64(i), FH: h.ToFloat(nil)})
	}
	for _, rec := range [][]byte{enc.HistogramSamples(in, nil), enc.HistogramSamplesST(in, nil)} {
		for n := 1; n < len(rec); n++ {
			if _, err := dec.HistogramSamples(rec[:n], nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s record cut at %d of %d bytes: err %v, want ErrCorrupt", Type(rec[0]), n, len(rec), err)
			}
		}
	}
	for _, rec := range [][]byte{enc.FloatHistogramSamples(fin, nil), enc.FloatHistogramSamplesST(fin, nil)} {
		for n := 1; n < len(rec); n++ {
			if _, err := dec.FloatHistogramSamples(rec[:n], nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s record cut at %d of %d bytes: err %v, want ErrCorrupt", Type(rec[0]), n, len(rec), err)
			}
		}
	}
}

func FuzzDecodeHistograms(f *testing.F) {
	var enc Encoder
	var in []RefHistogramSample
	var fin []RefFloatHistogramSample
	for i, h := range testHistograms() {
		in = append(in, RefHistogramSample{Ref: uint64(i), ST: histSTs[i%len(histSTs)], T: int64(i), H: h})
		fin = append(fin, RefFloatHistogramSample{Ref: uint64(i), ST: histSTs[i%len(histSTs)], T: int64(i), FH: h.ToFloat(nil)})
	}
	f.Add(enc.HistogramSamples(in, nil))
	f.Add(enc.FloatHistogramSamples(fin, nil))
	f.Add(enc.HistogramSamplesST(in, nil))
	f.Add(enc.FloatHistogramSamplesST(fin, nil))
	f.Add([]byte{byte(HistogramSamples), 1, 0, 0})
	f.Add([]byte{byte(HistogramSamplesST), 1, 0, 0})
	f.Fuzz(func(t *testing.T, rec []byte) {
		var d Decoder
		var e Encoder
		// A record decoded is encoded again in its own form (with or without start timestamps).
		withST := d.Type(rec) == HistogramSamplesST || d.Type(rec) == FloatHistogramSamplesST
		hs, err := d.HistogramSamples(rec, nil)
		if err == nil {
			if cap(hs) > len(rec) {
				t.Fatalf("capacity %d for histograms from %d bytes", cap(hs), len(rec))
			}
			enc := e.HistogramSamples
			if withST {
				enc = e.HistogramSamplesST
			}
			b := enc(hs, nil)
			again, err := d.HistogramSamples(b, nil)
			if err != nil || len(again) != len(hs) {
				t.Fatalf("re-encoded histograms: %d, %v; want %d", len(again), err, len(hs))
			}
			// Compared encoded: a NaN zero threshold is not DeepEqual to itself.
			if b2 := enc(again, nil); !bytes.Equal(b2, b) {
				t.Fatalf("round trip: %x, want %x", b2, b)
			}
		}
		fhs, err := d.FloatHistogramSamples(rec, nil)
		if err == nil {
			if cap(fhs) > len(rec) {
				t.Fatalf("capacity %d for float histograms from %d bytes", cap(fhs), len(rec))
			}
			enc := e.FloatHistogramSamples
			if withST {
				enc = e.FloatHistogramSamplesST
			}
			b := enc(fhs, nil)
			again, err := d.FloatHistogramSamples(b, nil)
			if err != nil || len(again) != len(fhs) {
				t.Fatalf("re-encoded float histograms: %d, %v; want %d", len(again), err, len(fhs))
			}
			if b2 := enc(again, nil); !bytes.Equal(b2, b) {
				t.Fatalf("round trip: %x, want %x", b2, b)
			}
		}
	})
}

// BenchmarkCompress compresses the records of one scrape of 1,000 series (floats as in
// BenchmarkSamplesEncode, and latency histograms) as the WAL does.
func BenchmarkCompress(b *testing.B) {
	var enc Encoder
	s := make([]RefSample, 1000)
	for i := range s {
		s[i] = RefSample{Ref: uint64(i), T: 1e12, V: float64(i * 7)}
	}
	hs := make([]RefHistogramSample, 1000)
	for i := range hs {
		hs[i] = RefHistogramSample{Ref: uint64(i), T: 1e12, H: histgen.Latency(i%50+1, int64(i), 0, i%3 == 0)[i%50]}
	}
	for _, rec := range []struct {
		name string
		b    []byte
	}{{"samples", enc.Samples(s, nil)}, {"histograms", enc.HistogramSamples(hs, nil)}} {
		b.Run(rec.name, func(b *testing.B) {
			var dst []byte
			b.SetBytes(int64(len(rec.b)))
			b.ReportAllocs()
			for b.Loop() {
				if out := Compress(rec.b, dst); len(out) < len(rec.b) {
					dst = out
				}
			}
			b.ReportMetric(float64(len(Compress(rec.b, nil)))/float64(len(rec.b)), "ratio")
		})
	}
}

// TestCustomValuesShared: samples sharing one slice of custom bucket bounds (whose encoding the
// encoder copies from the sample before) encode to the same bytes as samples with their own
// copies, and decode to the same histograms.
func TestCustomValuesShared(t *testing.T) {
	var enc Encoder
	var dec Decoder
	bounds := []float64{0.1, 0.5, 1, 5}
	other := []float64{1, 2}
	shared := []RefHistogramSample{}
	copies := []RefHistogramSample{}
	sharedF := []RefFloatHistogramSample{}
	copiesF := []RefFloatHistogramSample{}
	for i := range 6 {
		cv := bounds
		if i == 3 {
			cv = other // a different slice in between
		}
		h := &histogram.Histogram{Schema: histogram.CustomBucketsSchema, Count: uint64(i), Sum: float64(i),
			PositiveSpans: []histogram.Span{{Length: 2}}, PositiveBuckets: []int64{int64(i), 1}, CustomValues: cv}
		shared = append(shared, RefHistogramSample{Ref: uint64(i), T: 1000, H: h})
		hc := h.Copy()
		hc.CustomValues = append([]float64(nil), cv...)
		copies = append(copies, RefHistogramSample{Ref: uint64(i), T: 1000, H: hc})
		sharedF = append(sharedF, RefFloatHistogramSample{Ref: uint64(i), T: 1000, FH: h.ToFloat(nil)})
		fc := h.ToFloat(nil)
		fc.CustomValues = append([]float64(nil), cv...)
		copiesF = append(copiesF, RefFloatHistogramSample{Ref: uint64(i), T: 1000, FH: fc})
	}
	// A record that must grow while copying (no spare capacity) and one that need not.
	for _, b := range [][]byte{nil, make([]byte, 0, 1<<12)} {
		got, want := enc.HistogramSamples(shared, b), enc.HistogramSamples(copies, nil)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("shared custom values encode differently:\n%x\n%x", got, want)
		}
		dh, err := dec.HistogramSamples(got, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range dh {
			if !dh[i].H.Equals(shared[i].H) {
				t.Fatalf("sample %d: decoded %v, want %v", i, dh[i].H, shared[i].H)
			}
		}
		gotF, wantF := enc.FloatHistogramSamples(sharedF, b), enc.FloatHistogramSamples(copiesF, nil)
		if !reflect.DeepEqual(gotF, wantF) {
			t.Fatalf("shared custom values of float histograms encode differently:\n%x\n%x", gotF, wantF)
		}
	}
}
