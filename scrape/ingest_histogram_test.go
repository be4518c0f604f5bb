package scrape

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// TestIngesterNativeHistograms: a pushed native histogram (protobuf, with classic buckets too)
// is stored as a scrape with the same settings stores it: its classic series without
// scrape_native_histograms, the native histogram with it, both with
// always_scrape_classic_histograms.
func TestIngesterNativeHistograms(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "pushed_seconds", Help: "A pushed histogram.",
		Buckets: []float64{0.1, 1}, NativeHistogramBucketFactor: 1.1,
		ConstLabels: prometheus.Labels{"job": "batch", "instance": ""},
	})
	reg.MustRegister(h)
	for _, v := range []float64{0.05, 0.5, 2} {
		h.Observe(v)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	format := expfmt.NewFormat(expfmt.TypeProtoDelim)
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name           string
		opts           HistogramOptions
		native, series int // native histogram samples, float series
	}{
		{"without scrape_native_histograms", HistogramOptions{}, 0, 5},
		{"scrape_native_histograms", HistogramOptions{Native: true}, 1, 0},
		{"always_scrape_classic_histograms", HistogramOptions{Native: true, AlwaysClassic: true}, 1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newTestStorage()
			ing := NewIngester("pushgateway", st, nil)
			ing.SetHistogramOptions(tc.opts)
			if _, err := ing.Ingest(context.Background(), time.Unix(1_700_000_000, 0), string(format), chunksOf(buf.String())); err != nil {
				t.Fatal(err)
			}
			native, series := 0, 0
			for _, s := range st.all() {
				if s.h != nil || s.fh != nil {
					native++
					if got := s.lset.String(); got != `{__name__="pushed_seconds", job="batch"}` {
						t.Errorf("native histogram series %s", got)
					}
					var count float64
					if s.h != nil {
						count = float64(s.h.Count)
					} else {
						count = s.fh.Count
					}
					if count != 3 {
						t.Errorf("native histogram count %v, want 3", count)
					}
					continue
				}
				series++
			}
			if native != tc.native || series != tc.series {
				t.Fatalf("%d native histogram samples and %d float samples, want %d and %d: %v", native, series, tc.native, tc.series, st.all())
			}
		})
	}
}
