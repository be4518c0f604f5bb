package record

import (
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// seriesFuncCopy collects what SeriesFunc yields, copying the labels (they are valid only
// during the call).
func seriesFuncCopy(d *Decoder, rec []byte) ([]RefSeries, error) {
	var got []RefSeries
	err := d.SeriesFunc(rec, func(ref uint64, lset labels.Labels) {
		got = append(got, RefSeries{Ref: ref, Labels: lset.Copy()})
	})
	return got, err
}

func TestSeriesFuncMatchesSeries(t *testing.T) {
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
		for _, compressed := range []bool{false, true} {
			name := tc.name
			if compressed {
				name += " compressed"
			}
			t.Run(name, func(t *testing.T) {
				var enc Encoder
				var dec Decoder
				rec := enc.Series(tc.series, nil)
				if compressed {
					rec = Compress(rec, nil)
				}
				got, err := seriesFuncCopy(&dec, rec)
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
			})
		}
	}
}

func TestSeriesFuncAllocs(t *testing.T) {
	var enc Encoder
	var dec Decoder
	rec := enc.Series(manySeries(100), nil)
	n := 0
	f := func(uint64, labels.Labels) { n++ }
	if err := dec.SeriesFunc(rec, f); err != nil { // warms the builder's buffers
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := dec.SeriesFunc(rec, f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("decoding 100 series allocated %v times, want 0", allocs)
	}
}

// FuzzSeriesFunc: SeriesFunc accepts exactly what Series accepts and yields the same series.
func FuzzSeriesFunc(f *testing.F) {
	var enc Encoder
	f.Add(enc.Series(manySeries(3), nil))
	f.Add(Compress(enc.Series(manySeries(3), nil), nil))
	f.Add([]byte{byte(Series), 1, 1, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, rec []byte) {
		var d1, d2 Decoder
		want, werr := d1.Series(rec, nil)
		got, gerr := seriesFuncCopy(&d2, rec)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("Series error %v, SeriesFunc error %v", werr, gerr)
		}
		if werr != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%d series, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i].Ref != want[i].Ref || !labels.Equal(got[i].Labels, want[i].Labels) {
				t.Fatalf("series %d: %v, want %v", i, got[i], want[i])
			}
		}
	})
}
