package scrape

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/storage"
)

var protoType = string(expfmt.NewFormat(expfmt.TypeProtoDelim))

// nativeExposition is what a client_golang program exposes in the protobuf format for a
// histogram with native buckets (factor 1.1: schema 3) and classic buckets, after the
// observations.
func nativeExposition(t testing.TB, observations ...float64) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "rpc_duration_seconds", Help: "RPC latency.",
		Buckets:                     []float64{0.1, 1, 10},
		NativeHistogramBucketFactor: 1.1,
	})
	reg.MustRegister(h)
	for _, o := range observations {
		h.Observe(o)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

const rpcSeries = `{__name__="rpc_duration_seconds", instance="x:1", job="test"}`

var observations = []float64{0.002, 0.03, 0.03, 0.4, 1.7, 2.5, 8, 25, -0.5}

func enableNative(c *config.ScrapeConfig) {
	on := true
	c.ScrapeNativeHistograms = &on
	c.ScrapeProtocols = nil
}

func TestScrapeNativeHistograms(t *testing.T) {
	body := nativeExposition(t, observations...)
	for _, tc := range []struct {
		name            string
		tweak           func(*config.ScrapeConfig)
		native, classic bool
	}{
		{"off (default): classic series only", nil, false, true},
		{"scrape_native_histograms", enableNative, true, false},
		{"and always_scrape_classic_histograms", func(c *config.ScrapeConfig) {
			enableNative(c)
			on := true
			c.AlwaysScrapeClassicHistograms = &on
		}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newTestStorage()
			sl := testLoop(t, st, tc.tweak, "")
			stats, err := appendOnce(t, sl, st, body, protoType, ts0)
			if err != nil {
				t.Fatal(err)
			}
			got := st.series(rpcSeries)
			if !tc.native {
				if len(got) != 0 {
					t.Fatalf("native histogram stored while disabled: %v", got)
				}
			} else {
				if len(got) != 1 || got[0].h == nil {
					t.Fatalf("want one integer native histogram, got %v", got)
				}
				h := got[0].h
				if h.Count != uint64(len(observations)) || h.Sum != sum(observations) || h.Schema != 3 {
					t.Fatalf("histogram %s: want count %d, sum %g, schema 3", h, len(observations), sum(observations))
				}
				if err := h.Validate(); err != nil {
					t.Fatal(err)
				}
				// The negative observation is in a negative bucket.
				if len(h.NegativeBuckets) == 0 {
					t.Fatalf("negative observation lost: %s", h)
				}
			}
			classic := st.series(`{__name__="rpc_duration_seconds_count", instance="x:1", job="test"}`)
			if tc.classic != (len(classic) == 1) {
				t.Fatalf("classic _count series: %v, want present=%v", classic, tc.classic)
			}
			wantTotal := 0
			if tc.native {
				wantTotal++
			}
			if tc.classic {
				wantTotal += 6 // 4 buckets, _sum, _count
			}
			if stats.total != wantTotal || stats.added != wantTotal {
				t.Fatalf("total %d, added %d, want %d", stats.total, stats.added, wantTotal)
			}
		})
	}
}

func sum(fs []float64) float64 {
	s := 0.0
	for _, f := range fs {
		s += f
	}
	return s
}

// TestScrapeNativeHistogramStaleness: a histogram series that disappears gets a histogram stale
// marker (sum StaleNaN), also after a failed scrape; the cache's ref path appends the second
// scrape's histogram by reference.
func TestScrapeNativeHistogramStaleness(t *testing.T) {
	st := newTestStorage()
	sl := testLoop(t, st, enableNative, "")
	if _, err := appendOnce(t, sl, st, nativeExposition(t, 1, 2), protoType, ts0); err != nil {
		t.Fatal(err)
	}
	if _, err := appendOnce(t, sl, st, nativeExposition(t, 1, 2, 3), protoType, ts0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := len(st.refs); n != 1 {
		t.Fatalf("%d series created, want 1 (the second scrape goes by ref)", n)
	}
	// The target stops exposing it.
	if _, err := appendOnce(t, sl, st, "up_other 1\n", textType, ts0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	got := st.series(rpcSeries)
	if len(got) != 3 || got[1].h.Count != 3 || got[2].h == nil || !storage.IsStaleNaN(got[2].h.Sum) {
		t.Fatalf("want two histograms then a histogram stale marker, got %v", got)
	}
	// Back, then a failed scrape: stale again.
	if _, err := appendOnce(t, sl, st, nativeExposition(t, 1), protoType, ts0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	sl.cache.forgetCurrent()
	if _, err := appendOnce(t, sl, st, "", "", ts0.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	got = st.series(rpcSeries)
	if len(got) != 5 || got[4].h == nil || !storage.IsStaleNaN(got[4].h.Sum) {
		t.Fatalf("want a histogram stale marker after the failed scrape, got %v", got)
	}
}

func TestScrapeNativeHistogramLimits(t *testing.T) {
	body := nativeExposition(t, observations...)
	t.Run("bucket limit reduces the resolution", func(t *testing.T) {
		st := newTestStorage()
		sl := testLoop(t, st, func(c *config.ScrapeConfig) { enableNative(c); c.NativeHistogramBucketLimit = 4 }, "")
		if _, err := appendOnce(t, sl, st, body, protoType, ts0); err != nil {
			t.Fatal(err)
		}
		got := st.series(rpcSeries)
		if len(got) != 1 {
			t.Fatalf("got %v", got)
		}
		h := got[0].h
		if n := len(h.PositiveBuckets) + len(h.NegativeBuckets); n > 4 || h.Schema >= 3 || h.Count != uint64(len(observations)) {
			t.Fatalf("histogram %s (schema %d, %d buckets) not reduced to at most 4 buckets", h, h.Schema, n)
		}
	})
	t.Run("min bucket factor", func(t *testing.T) {
		st := newTestStorage()
		sl := testLoop(t, st, func(c *config.ScrapeConfig) { enableNative(c); c.NativeHistogramMinBucketFactor = 2 }, "")
		if _, err := appendOnce(t, sl, st, body, protoType, ts0); err != nil {
			t.Fatal(err)
		}
		if got := st.series(rpcSeries); len(got) != 1 || got[0].h.Schema != 0 {
			t.Fatalf("factor 2 is schema 0, got %v", got)
		}
	})
	t.Run("custom buckets over the limit fail the scrape", func(t *testing.T) {
		st := newTestStorage()
		sl := testLoop(t, st, func(c *config.ScrapeConfig) {
			on := true
			c.ConvertClassicHistogramsToNHCB = &on
			c.NativeHistogramBucketLimit = 2
		}, "")
		_, err := appendOnce(t, sl, st, classicText, textType, ts0)
		if err == nil || err.Error() != "histogram bucket limit exceeded" {
			t.Fatalf("err %v, want the bucket limit error", err)
		}
	})
	t.Run("sample_limit counts histograms", func(t *testing.T) {
		st := newTestStorage()
		sl := testLoop(t, st, func(c *config.ScrapeConfig) { enableNative(c); c.SampleLimit = 1 }, "")
		two := body + nativeExpositionNamed(t, "other_seconds")
		if _, err := appendOnce(t, sl, st, two, protoType, ts0); err == nil || !strings.Contains(err.Error(), "sample limit exceeded") {
			t.Fatalf("err %v, want the sample limit", err)
		}
	})
	t.Run("pickSchema", func(t *testing.T) {
		for factor, want := range map[float64]int32{0: 8, 1: 8, 1.00271: 8, 1.1: 2, 1.5: 0, 2: 0, 4: -1, 256: -3, 65536: -4, 1e10: -4} {
			if got := pickSchema(factor); got != want {
				t.Errorf("pickSchema(%g) = %d, want %d", factor, got, want)
			}
		}
	})
}

func nativeExpositionNamed(t testing.TB, name string) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: "x", NativeHistogramBucketFactor: 1.1})
	reg.MustRegister(h)
	h.Observe(1)
	mfs, _ := reg.Gather()
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

const classicText = `# TYPE req_seconds histogram
req_seconds_bucket{le="0.1"} 2
req_seconds_bucket{le="0.5"} 5
req_seconds_bucket{le="1"} 7
req_seconds_bucket{le="+Inf"} 8
req_seconds_sum 4.5
req_seconds_count 8
# TYPE plain gauge
plain 1
`

// TestScrapeConvertClassicToNHCB: convert_classic_histograms_to_nhcb turns a classic histogram
// of the text format into one native histogram with custom buckets (upstream's NHCB parser),
// keeping the classic series only with always_scrape_classic_histograms.
func TestScrapeConvertClassicToNHCB(t *testing.T) {
	for _, keep := range []bool{false, true} {
		st := newTestStorage()
		sl := testLoop(t, st, func(c *config.ScrapeConfig) {
			on, k := true, keep
			c.ConvertClassicHistogramsToNHCB = &on
			c.AlwaysScrapeClassicHistograms = &k
		}, "")
		if _, err := appendOnce(t, sl, st, classicText, textType, ts0); err != nil {
			t.Fatal(err)
		}
		got := st.series(`{__name__="req_seconds", instance="x:1", job="test"}`)
		if len(got) != 1 || got[0].h == nil {
			t.Fatalf("want one NHCB sample, got %v", got)
		}
		h := got[0].h
		want := &histogram.Histogram{
			Schema: histogram.CustomBucketsSchema, Count: 8, Sum: 4.5,
			PositiveSpans:   []histogram.Span{{Offset: 0, Length: 4}},
			PositiveBuckets: []int64{2, 1, -1, -1}, // 2, 3, 2, 1
			CustomValues:    []float64{0.1, 0.5, 1},
		}
		if !h.Equals(want) {
			t.Fatalf("NHCB %s %v, want %s %v", h, h.CustomValues, want, want.CustomValues)
		}
		if n := len(st.series(`{__name__="req_seconds_count", instance="x:1", job="test"}`)); (n == 1) != keep {
			t.Fatalf("classic series kept=%v, want %v", n == 1, keep)
		}
		if len(st.series(`{__name__="plain", instance="x:1", job="test"}`)) != 1 {
			t.Fatal("the gauge after the histogram is lost")
		}
	}
}

// TestScrapeNativeHistogramTargetLabels: a target's __scrape_native_histograms__ label (set by
// relabeling) overrides the scrape config, as in Prometheus.
func TestScrapeNativeHistogramTargetLabels(t *testing.T) {
	st := newTestStorage()
	sl := testLoop(t, st, nil, "")
	if sl.cfg.nativeHistograms {
		t.Fatal("native histograms on by default")
	}
	cfg := loopConfig{}
	tg := newTarget("test", labels.FromStrings("__address__", "x:1", scrapeNativeHistogramsLabel, "true", convertClassicHistogramsToNHCBLabel, "true"), labels.EmptyLabels(), nil)
	if c := cfg.forTarget(tg); !c.nativeHistograms || !c.convertNHCB || c.alwaysClassic {
		t.Fatalf("target labels not applied: %+v", c)
	}
	cfg.nativeHistograms = true
	tg = newTarget("test", labels.FromStrings("__address__", "x:1", scrapeNativeHistogramsLabel, "false"), labels.EmptyLabels(), nil)
	if c := cfg.forTarget(tg); c.nativeHistograms {
		t.Fatal("__scrape_native_histograms__=false must turn it off")
	}
}

func TestNativeHistogramDefaultProtocols(t *testing.T) {
	for _, tc := range []struct {
		yml  string
		want config.ScrapeProtocol
	}{
		{"scrape_configs:\n- job_name: a\n", config.OpenMetricsText1_0_0},
		{"scrape_configs:\n- job_name: a\n  scrape_native_histograms: true\n", config.PrometheusProto},
		{"global:\n  scrape_native_histograms: true\nscrape_configs:\n- job_name: a\n", config.PrometheusProto},
		{"global:\n  scrape_native_histograms: true\n  scrape_protocols: [PrometheusText0.0.4]\nscrape_configs:\n- job_name: a\n", config.PrometheusText0_0_4},
	} {
		cfg, err := config.Load(tc.yml)
		if err != nil {
			t.Fatal(err)
		}
		sc := cfg.ScrapeConfigs[0]
		if sc.ScrapeProtocols[0] != tc.want {
			t.Errorf("%q: first protocol %s, want %s", tc.yml, sc.ScrapeProtocols[0], tc.want)
		}
		if h := newLoopConfig(sc, Options{}).acceptHeader; !strings.HasPrefix(h, config.ScrapeProtocolsHeaders[tc.want]) {
			t.Errorf("%q: Accept %s", tc.yml, h)
		}
	}
}
