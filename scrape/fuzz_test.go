package scrape

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/storage"
)

var fuzzContentTypes = []string{
	"text/plain; version=0.0.4",
	"application/openmetrics-text; version=1.0.0",
	"application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
	"",
	"text/html",
}

// FuzzScrapeParse feeds arbitrary payloads through parse, relabel, limits and append, twice
// (cold and with a warm cache), and checks that it never panics, that a failed scrape stores
// nothing but stale markers, and that every stored series is well-formed.
func FuzzScrapeParse(f *testing.F) {
	seeds := []string{
		"# HELP a Help.\n# TYPE a counter\na{b=\"c\"} 1 1700000000000\na{b=\"d\"} NaN\n",
		"# TYPE x histogram\nx_bucket{le=\"1\"} 1\nx_bucket{le=\"+Inf\"} 2\nx_sum 3\nx_count 2\n",
		"# TYPE a counter\n# UNIT a seconds\na_total 1\na_created 1\n# EOF\n",
		"a 1\na 2\n",
		"{\"utf8.name\", x=\"y\"} 1\n",
		"a{b=\"\xff\"} 1\n",
		"a 1 99999999999999999\n",
		"a{job=\"x\",instance=\"y\",exported_job=\"z\"} -Inf\n",
		"",
		"\x00",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i%len(fuzzContentTypes)), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, body []byte, ct uint8, honor bool) {
		contentType := fuzzContentTypes[int(ct)%len(fuzzContentTypes)]
		st := newTestStorage()
		sl := testLoop(t, st, func(c *config.ScrapeConfig) {
			c.HonorLabels = honor
			c.SampleLimit = 1000
			c.LabelLimit = 30
			c.LabelValueLengthLimit = 1000
			c.MetricRelabelConfigs = []*relabel.Config{{
				SourceLabels: model.LabelNames{"__name__"}, Regex: relabel.MustNewRegexp("drop_.*"),
				Action: relabel.Drop, Separator: ";",
			}}
		}, "")
		ts := time.UnixMilli(1_700_000_000_000)
		for round := range 2 {
			before := len(st.all())
			_, err := appendOnce(t, sl, st, string(body), contentType, ts.Add(time.Duration(round)*time.Second))
			after := st.all()
			if err != nil {
				if len(after) != before {
					t.Fatalf("failed scrape stored %d samples: %v", len(after)-before, err)
				}
				sl.cache.forgetCurrent()
				if _, err := appendOnce(t, sl, st, "", "", ts.Add(time.Duration(round)*time.Second)); err != nil {
					t.Fatalf("stale pass failed: %v", err)
				}
				for _, s := range st.all()[before:] {
					if !storage.IsStaleNaN(s.v) {
						t.Fatalf("after a failed scrape only stale markers may be stored, got %v", s)
					}
				}
				continue
			}
			for _, s := range after[before:] {
				if !s.lset.Has(model.MetricNameLabel) || !s.lset.IsValid(config.NameValidationScheme) {
					t.Fatalf("stored an invalid series %s", s.lset)
				}
				if s.lset.Get("job") != "test" && !honor {
					t.Fatalf("target label job lost: %s", s.lset)
				}
				if len(s.lset.Get(model.MetricNameLabel)) > 5 && s.lset.Get(model.MetricNameLabel)[:5] == "drop_" {
					t.Fatalf("metric relabeling did not drop %s", s.lset)
				}
			}
		}
	})
}
