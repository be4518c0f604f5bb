package record

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

func TestSeriesRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		series []RefSeries
	}{
		{"empty", nil},
		{"one", []RefSeries{{Ref: 1, Labels: labels.FromStrings("__name__", "up", "job", "node")}}},
		{"no labels", []RefSeries{{Ref: 7, Labels: labels.EmptyLabels()}}},
		{"empty value and big ref", []RefSeries{
			{Ref: math.MaxUint64, Labels: labels.FromStrings("a", "", "b", "ü\x00\xff")},
			{Ref: 0, Labels: labels.FromStrings("x", "y")},
		}},
		{"many", manySeries(500)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var enc Encoder
			var dec Decoder
			rec := enc.Series(tc.series, nil)
			if got := dec.Type(rec); got != Series {
				t.Fatalf("Type = %v, want series", got)
			}
			got, err := dec.Series(rec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.series) {
				t.Fatalf("decoded %d series, want %d", len(got), len(tc.series))
			}
			for i := range got {
				if got[i].Ref != tc.series[i].Ref || !labels.Equal(got[i].Labels, tc.series[i].Labels) {
					t.Fatalf("series %d: got %v %v, want %v %v", i, got[i].Ref, got[i].Labels, tc.series[i].Ref, tc.series[i].Labels)
				}
			}
			// The decoded labels must not alias rec: callers reuse it for the next record.
			for i := range rec {
				rec[i] = 0xAA
			}
			for i := range got {
				if !labels.Equal(got[i].Labels, tc.series[i].Labels) {
					t.Fatalf("series %d labels changed after overwriting the record: %v", i, got[i].Labels)
				}
			}
		})
	}
}

func manySeries(n int) []RefSeries {
	s := make([]RefSeries, n)
	for i := range s {
		s[i] = RefSeries{Ref: uint64(i * 3), Labels: labels.FromStrings("__name__", "metric", "instance", "host-"+string(rune('a'+i%26)), "i", string(rune(i)))}
	}
	return s
}

func TestSamplesRoundTrip(t *testing.T) {
	nan := math.Float64frombits(0x7ff0000000000002) // stale marker: must keep its exact bits
	cases := []struct {
		name    string
		samples []RefSample
	}{
		{"empty", nil},
		{"one", []RefSample{{Ref: 5, T: 1000, V: 1.5}}},
		{"scrape", []RefSample{{1, 15000, 1}, {2, 15000, 2}, {3, 15000, 3}, {9, 15000, -4}}},
		{"decreasing refs and times", []RefSample{{100, 5000, 0}, {3, -5000, 1}, {0, math.MinInt64, 2}}},
		{"extremes wrap", []RefSample{
			{math.MaxUint64, math.MaxInt64, math.Inf(1)},
			{0, math.MinInt64, math.Inf(-1)},
			{1 << 63, 0, nan},
			{42, -1, math.SmallestNonzeroFloat64},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var enc Encoder
			var dec Decoder
			rec := enc.Samples(tc.samples, nil)
			if got := dec.Type(rec); got != Samples {
				t.Fatalf("Type = %v, want samples", got)
			}
			got, err := dec.Samples(rec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.samples) {
				t.Fatalf("decoded %d samples, want %d", len(got), len(tc.samples))
			}
			for i := range got {
				w := tc.samples[i]
				if got[i].Ref != w.Ref || got[i].T != w.T || math.Float64bits(got[i].V) != math.Float64bits(w.V) {
					t.Fatalf("sample %d: got %+v, want %+v", i, got[i], w)
				}
			}
		})
	}
}

func TestSamplesSTRoundTrip(t *testing.T) {
	var (
		enc Encoder
		dec Decoder
	)
	for _, tc := range []struct {
		name string
		in   []RefSampleST
	}{
		{"empty", nil},
		{"cumulative", []RefSampleST{{Ref: 1, ST: 1000, T: 60000, V: 5}, {Ref: 2, ST: 2000, T: 60000, V: 7}}},
		{"none, at t, after t", []RefSampleST{{Ref: 3, ST: 0, T: 60000, V: 1}, {Ref: 4, ST: 60000, T: 60000, V: 2}, {Ref: 5, ST: 60001, T: 60000, V: 3}}},
		{"extremes", []RefSampleST{{Ref: math.MaxUint64, ST: math.MinInt64, T: math.MaxInt64, V: math.Inf(1)}, {Ref: 0, ST: math.MaxInt64, T: math.MinInt64, V: -0.5}, {Ref: 9, ST: -1, T: 0}}},
	} {
		rec := enc.SamplesST(tc.in, nil)
		if got := dec.Type(rec); got != SamplesST {
			t.Fatalf("%s: type %v", tc.name, got)
		}
		for _, r := range [][]byte{rec, Compress(rec, nil)} {
			out, err := dec.SamplesST(r, nil)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if len(out) != len(tc.in) {
				t.Fatalf("%s: %d samples, want %d", tc.name, len(out), len(tc.in))
			}
			for i := range out {
				if a, b := out[i], tc.in[i]; a.Ref != b.Ref || a.ST != b.ST || a.T != b.T || math.Float64bits(a.V) != math.Float64bits(b.V) {
					t.Errorf("%s: sample %d: %+v, want %+v", tc.name, i, a, b)
				}
			}
		}
		if _, err := dec.Samples(rec, nil); err == nil {
			t.Errorf("%s: a SamplesST record decoded as Samples", tc.name)
		}
	}
}

func TestTombstonesRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		stones []Stone
	}{
		{"empty", nil},
		{"one", []Stone{{Ref: 1, Intervals: []Interval{{0, 100}}}}},
		{"several", []Stone{
			{Ref: 1, Intervals: []Interval{{0, 100}, {200, 300}}},
			{Ref: math.MaxUint64, Intervals: []Interval{{math.MinInt64, math.MaxInt64}}},
			{Ref: 3, Intervals: []Interval{}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var enc Encoder
			var dec Decoder
			rec := enc.Tombstones(tc.stones, nil)
			if got := dec.Type(rec); got != Tombstones {
				t.Fatalf("Type = %v, want tombstones", got)
			}
			got, err := dec.Tombstones(rec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.stones) {
				t.Fatalf("decoded %d stones, want %d", len(got), len(tc.stones))
			}
			for i := range got {
				if got[i].Ref != tc.stones[i].Ref || len(got[i].Intervals) != len(tc.stones[i].Intervals) ||
					(len(got[i].Intervals) > 0 && !reflect.DeepEqual(got[i].Intervals, tc.stones[i].Intervals)) {
					t.Fatalf("stone %d: got %+v, want %+v", i, got[i], tc.stones[i])
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	var enc Encoder
	samples := enc.Samples([]RefSample{{1, 2, 3}, {4, 5, 6}}, nil)
	series := enc.Series([]RefSeries{{Ref: 1, Labels: labels.FromStrings("a", "b")}}, nil)
	stones := enc.Tombstones([]Stone{{Ref: 1, Intervals: []Interval{{1, 2}}}}, nil)
	cases := []struct {
		name   string
		rec    []byte
		decode func(d *Decoder, rec []byte) error
	}{
		{"samples empty", nil, decSamples},
		{"samples as series", samples, decSeries},
		{"series as samples", series, decSamples},
		{"stones as samples", stones, decSamples},
		{"samples truncated", samples[:len(samples)-1], decSamples},
		{"samples trailing byte", append(append([]byte{}, samples...), 0), decSamples},
		{"samples huge count", []byte{byte(Samples), 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 1}, decSamples},
		{"series truncated", series[:len(series)-1], decSeries},
		{"series huge label length", []byte{byte(Series), 1, 1, 1, 0xff, 0xff, 0x03, 'a'}, decSeries},
		{"series huge label count", []byte{byte(Series), 1, 1, 0xff, 0xff, 0x03, 0, 0}, decSeries},
		{"series bad varint", []byte{byte(Series), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, decSeries},
		{"stones truncated", stones[:len(stones)-1], decStones},
		{"stones huge interval count", []byte{byte(Tombstones), 1, 1, 0xff, 0xff, 0x03, 0, 0}, decStones},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			err := tc.decode(&d, tc.rec)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func decSamples(d *Decoder, rec []byte) error { _, err := d.Samples(rec, nil); return err }
func decSeries(d *Decoder, rec []byte) error  { _, err := d.Series(rec, nil); return err }
func decStones(d *Decoder, rec []byte) error  { _, err := d.Tombstones(rec, nil); return err }

func TestTypeUnknown(t *testing.T) {
	var d Decoder
	for _, rec := range [][]byte{nil, {0}, {6}, {255}} {
		if got := d.Type(rec); got != Unknown {
			t.Errorf("Type(%v) = %v, want unknown", rec, got)
		}
	}
}

func TestSamplesAllocs(t *testing.T) {
	var enc Encoder
	var dec Decoder
	s := make([]RefSample, 1000)
	for i := range s {
		s[i] = RefSample{Ref: uint64(i), T: 1e12, V: float64(i)}
	}
	buf := enc.Samples(s, nil)
	into := make([]RefSample, 0, len(s))
	allocs := testing.AllocsPerRun(100, func() {
		buf = enc.Samples(s, buf)
		var err error
		into, err = dec.Samples(buf, into)
		if err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("encode+decode with reused buffers allocated %v times, want 0", allocs)
	}
	// One scrape of equal timestamps and consecutive refs must stay near 10 bytes a sample.
	if perSample := float64(len(buf)) / float64(len(s)); perSample > 11.5 {
		t.Fatalf("%.2f bytes per sample, want <= 11.5", perSample)
	}
}

func BenchmarkSamplesEncode(b *testing.B) {
	var enc Encoder
	s := make([]RefSample, 1000)
	for i := range s {
		s[i] = RefSample{Ref: uint64(i), T: 1e12, V: float64(i)}
	}
	buf := enc.Samples(s, nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = enc.Samples(s, buf)
	}
}

func BenchmarkSamplesDecode(b *testing.B) {
	var enc Encoder
	var dec Decoder
	s := make([]RefSample, 1000)
	for i := range s {
		s[i] = RefSample{Ref: uint64(i), T: 1e12, V: float64(i)}
	}
	buf := enc.Samples(s, nil)
	into := make([]RefSample, 0, len(s))
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		into, _ = dec.Samples(buf, into)
	}
}

// FuzzDecode feeds arbitrary bytes to every decoder: they must return an error or a result, never
// panic, and never allocate more than the input can describe. Whatever decodes must survive a
// re-encode/decode round trip unchanged.
func FuzzDecode(f *testing.F) {
	var enc Encoder
	f.Add(enc.Series(manySeries(3), nil))
	f.Add(enc.Samples([]RefSample{{1, 2, 3}, {0, -5, math.NaN()}}, nil))
	f.Add(enc.Tombstones([]Stone{{Ref: 1, Intervals: []Interval{{1, 2}, {5, 9}}}}, nil))
	f.Add([]byte{})
	f.Add([]byte{byte(Samples), 0})
	f.Add(enc.SamplesST([]RefSampleST{{1, 1, 2, 3}, {0, 0, -5, math.NaN()}, {7, 1 << 62, 9, 1}}, nil))
	f.Fuzz(func(t *testing.T, rec []byte) {
		var d Decoder
		var e Encoder
		// Each decoded entry costs at least minSampleSize (or more) input bytes, so a result
		// longer than len(rec) means a count was not bounded.
		series, err := d.Series(rec, nil)
		if err == nil {
			if len(series) > len(rec) {
				t.Fatalf("%d series from %d bytes", len(series), len(rec))
			}
			if d.Type(rec) != Series {
				t.Fatalf("decoded series from a %v record", d.Type(rec))
			}
			again, err := d.Series(e.Series(series, nil), nil)
			if err != nil || len(again) != len(series) {
				t.Fatalf("re-encoded series: %d, %v; want %d", len(again), err, len(series))
			}
			for i := range again {
				if again[i].Ref != series[i].Ref || !labels.Equal(again[i].Labels, series[i].Labels) {
					t.Fatalf("round trip series %d: %v, want %v", i, again[i], series[i])
				}
			}
		}
		samples, err := d.Samples(rec, nil)
		if err == nil {
			if cap(samples) > len(rec) {
				t.Fatalf("capacity %d for samples from %d bytes", cap(samples), len(rec))
			}
			again, err := d.Samples(e.Samples(samples, nil), nil)
			if err != nil {
				t.Fatalf("re-encoded samples do not decode: %v", err)
			}
			if len(again) != len(samples) {
				t.Fatalf("round trip gave %d samples, want %d", len(again), len(samples))
			}
			for i := range again {
				a, b := again[i], samples[i]
				if a.Ref != b.Ref || a.T != b.T || math.Float64bits(a.V) != math.Float64bits(b.V) {
					t.Fatalf("round trip sample %d: %+v, want %+v", i, a, b)
				}
			}
		}
		sts, err := d.SamplesST(rec, nil)
		if err == nil {
			if cap(sts) > len(rec) {
				t.Fatalf("capacity %d for samples from %d bytes", cap(sts), len(rec))
			}
			again, err := d.SamplesST(e.SamplesST(sts, nil), nil)
			if err != nil || len(again) != len(sts) {
				t.Fatalf("re-encoded samples: %d, %v; want %d", len(again), err, len(sts))
			}
			for i := range again {
				if a, b := again[i], sts[i]; a.Ref != b.Ref || a.T != b.T || a.ST != b.ST || math.Float64bits(a.V) != math.Float64bits(b.V) {
					t.Fatalf("round trip sample %d: %+v, want %+v", i, a, b)
				}
			}
		}
		stones, err := d.Tombstones(rec, nil)
		if err == nil {
			if cap(stones) > len(rec) {
				t.Fatalf("capacity %d for stones from %d bytes", cap(stones), len(rec))
			}
		}
	})
}

func TestSeriesEncodeAllocs(t *testing.T) {
	var enc Encoder
	s := manySeries(100)
	buf := enc.Series(s, nil)
	allocs := testing.AllocsPerRun(100, func() {
		buf = enc.Series(s, buf)
	})
	if allocs != 0 {
		t.Fatalf("encoding series into a reused buffer allocated %v times, want 0", allocs)
	}
}

func TestCompressedRecords(t *testing.T) {
	var enc Encoder
	var dec Decoder
	series := manySeries(200)
	samples := make([]RefSample, 1000)
	for i := range samples {
		samples[i] = RefSample{Ref: uint64(i), T: 1_700_000_000_000, V: float64(i * 10)}
	}
	stones := []Stone{{Ref: 3, Intervals: []Interval{{Mint: 1, Maxt: 2}}}}

	raw := enc.Series(series, nil)
	c := Compress(raw, nil)
	if len(c) >= len(raw) || dec.Type(c) != Series {
		t.Fatalf("series: %d → %d bytes, type %v", len(raw), len(c), dec.Type(c))
	}
	gotSeries, err := dec.Series(c, nil)
	if err != nil || len(gotSeries) != len(series) || !labels.Equal(gotSeries[7].Labels, series[7].Labels) {
		t.Fatalf("series round trip: %v", err)
	}

	raw = enc.Samples(samples, nil)
	c = Compress(raw, nil)
	if len(c) >= len(raw) || dec.Type(c) != Samples {
		t.Fatalf("samples: %d → %d bytes", len(raw), len(c))
	}
	gotSamples, err := dec.Samples(c, nil)
	if err != nil || len(gotSamples) != len(samples) || gotSamples[999] != samples[999] {
		t.Fatalf("samples round trip: %v", err)
	}
	t.Logf("samples record: %d bytes raw, %d compressed (%.1f B/sample)", len(raw), len(c), float64(len(c))/float64(len(samples)))

	// Tiny records stay as they are; decoders read both forms.
	raw = enc.Tombstones(stones, nil)
	if c = Compress(raw, nil); len(c) > len(raw) {
		t.Fatalf("compression grew a record")
	}
	if got, err := dec.Tombstones(c, nil); err != nil || len(got) != 1 {
		t.Fatalf("tombstones: %v", err)
	}

	// A damaged compressed body is an error, not a panic.
	c = Compress(enc.Samples(samples, nil), nil)
	for _, bad := range [][]byte{c[:len(c)/2], append([]byte{c[0]}, 0xff, 0xff, 0xff, 0xff, 0x0f)} {
		if _, err := dec.Samples(bad, nil); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("damaged compressed record: %v", err)
		}
	}
}
