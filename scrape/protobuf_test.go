package scrape

import (
	"bytes"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/vigil-monitoring/vigil/config"
)

// TestAppendProtobuf checks the PrometheusProto scrape protocol: classic histograms arrive as
// _bucket/_sum/_count series (without scrape_native_histograms) and metadata comes from the
// family.
func TestAppendProtobuf(t *testing.T) {
	mfs := []*dto.MetricFamily{
		{
			Name: proto.String("g"), Help: proto.String("A gauge."), Type: dto.MetricType_GAUGE.Enum(),
			Metric: []*dto.Metric{{Label: []*dto.LabelPair{{Name: proto.String("x"), Value: proto.String("1")}}, Gauge: &dto.Gauge{Value: proto.Float64(3)}}},
		},
		{
			Name: proto.String("h"), Type: dto.MetricType_HISTOGRAM.Enum(),
			Metric: []*dto.Metric{{Histogram: &dto.Histogram{
				SampleCount: proto.Uint64(2), SampleSum: proto.Float64(1.5),
				Bucket: []*dto.Bucket{{UpperBound: proto.Float64(1), CumulativeCount: proto.Uint64(1)}},
			}}},
		},
	}
	var buf bytes.Buffer
	format := expfmt.NewFormat(expfmt.TypeProtoDelim)
	enc := expfmt.NewEncoder(&buf, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	st := newTestStorage()
	sl := testLoop(t, st, func(c *config.ScrapeConfig) { c.ScrapeProtocols = []config.ScrapeProtocol{config.PrometheusProto} }, "")
	stats, err := appendOnce(t, sl, st, buf.String(), string(format), ts0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		`{__name__="g", instance="x:1", job="test", x="1"}`:            3,
		`{__name__="h_bucket", instance="x:1", job="test", le="1.0"}`:  1,
		`{__name__="h_bucket", instance="x:1", job="test", le="+Inf"}`: 2,
		`{__name__="h_sum", instance="x:1", job="test"}`:               1.5,
		`{__name__="h_count", instance="x:1", job="test"}`:             2,
	}
	for s, v := range want {
		if got := st.series(s); len(got) != 1 || got[0].v != v {
			t.Errorf("%s: %v, want %v (all: %v)", s, got, v, st.all())
		}
	}
	if stats.total != 5 {
		t.Errorf("total %d, want 5", stats.total)
	}
	if md, ok := sl.target.GetMetadata("g"); !ok || md.Help != "A gauge." || md.Type != "gauge" {
		t.Errorf("metadata %+v", md)
	}
}
