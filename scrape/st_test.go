package scrape

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/prometheus/model/labels"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// With Options.ParseST, an OpenMetrics counter's _created line becomes the start timestamp of
// its samples (stored in the TSDB) instead of a series of its own; without, it stays a series.
func TestScrapeStartTimestamps(t *testing.T) {
	const om = "application/openmetrics-text; version=1.0.0; charset=utf-8"
	body := "# TYPE req counter\nreq_total{code=\"200\"} 17\nreq_created{code=\"200\"} 1520872607.123\n# TYPE temp gauge\ntemp 21.5\n# EOF\n"
	for _, parseST := range []bool{true, false} {
		db, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		sl := testLoop(t, db, nil, "")
		sl.cfg.parseST = parseST
		ts := time.Now().Truncate(time.Second)
		if _, err := appendOnce(t, sl, db, body, om, ts); err != nil {
			t.Fatal(err)
		}
		q, err := db.Querier(ts.Add(-time.Minute).UnixMilli(), ts.Add(time.Minute).UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", "req_.*|temp"))
		got := map[string]int64{}
		for ss.Next() {
			s := ss.At()
			it := s.Iterator(nil)
			for it.Next() != storage.ValNone {
				got[s.Labels().Get("__name__")] = it.AtST()
			}
		}
		q.Close()
		db.Close()
		want := map[string]int64{"req_total": 1520872607123, "temp": 0}
		if !parseST {
			want = map[string]int64{"req_total": 0, "req_created": 0, "temp": 0}
		}
		if len(got) != len(want) {
			t.Fatalf("parseST=%v: series %v, want %v", parseST, got, want)
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || g != w {
				t.Errorf("parseST=%v: %s start timestamp %d (present %v), want %d", parseST, k, g, ok, w)
			}
		}
	}
}

// The protobuf format's created timestamp of a counter becomes its samples' start timestamp.
func TestScrapeProtobufStartTimestamps(t *testing.T) {
	created := time.UnixMilli(1520872607123)
	mf := &dto.MetricFamily{
		Name: proto.String("req_total"), Type: dto.MetricType_COUNTER.Enum(),
		Metric: []*dto.Metric{{Counter: &dto.Counter{Value: proto.Float64(17), CreatedTimestamp: timestamppb.New(created)}}},
	}
	var buf bytes.Buffer
	format := expfmt.NewFormat(expfmt.TypeProtoDelim)
	if err := expfmt.NewEncoder(&buf, format).Encode(mf); err != nil {
		t.Fatal(err)
	}
	db, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sl := testLoop(t, db, func(c *config.ScrapeConfig) { c.ScrapeProtocols = []config.ScrapeProtocol{config.PrometheusProto} }, "")
	sl.cfg.parseST = true
	ts := time.Now().Truncate(time.Second)
	if _, err := appendOnce(t, sl, db, buf.String(), string(format), ts); err != nil {
		t.Fatal(err)
	}
	q, err := db.Querier(ts.Add(-time.Minute).UnixMilli(), ts.Add(time.Minute).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "req_total"))
	n := 0
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() != storage.ValNone {
			n++
			if st := it.AtST(); st != created.UnixMilli() {
				t.Errorf("start timestamp %d, want %d", st, created.UnixMilli())
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d samples, want 1", n)
	}
}

// A client_golang native histogram's created timestamp (protobuf) becomes the start timestamp
// of its histogram samples with Options.ParseST (st-storage), integer and float counts alike;
// without, the samples have none.
func TestScrapeNativeHistogramStartTimestamps(t *testing.T) {
	created := time.UnixMilli(1520872607123)
	for _, tc := range []struct {
		name    string
		parseST bool
		float   bool
		want    int64
	}{
		{"integer counts", true, false, created.UnixMilli()},
		{"float counts", true, true, created.UnixMilli()},
		{"without st-storage", false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &dto.Histogram{
				SampleCount: proto.Uint64(3), SampleSum: proto.Float64(1.5), Schema: proto.Int32(3),
				ZeroThreshold: proto.Float64(1e-9), ZeroCount: proto.Uint64(1),
				PositiveSpan:     []*dto.BucketSpan{{Offset: proto.Int32(0), Length: proto.Uint32(2)}},
				PositiveDelta:    []int64{1, 0},
				CreatedTimestamp: timestamppb.New(created),
			}
			if tc.float {
				h.SampleCount, h.SampleCountFloat = nil, proto.Float64(3)
				h.ZeroCount, h.ZeroCountFloat = nil, proto.Float64(1)
				h.PositiveDelta, h.PositiveCount = nil, []float64{1, 1}
			}
			mf := &dto.MetricFamily{
				Name: proto.String("rpc_seconds"), Type: dto.MetricType_HISTOGRAM.Enum(),
				Metric: []*dto.Metric{{Histogram: h}},
			}
			var buf bytes.Buffer
			format := expfmt.NewFormat(expfmt.TypeProtoDelim)
			if err := expfmt.NewEncoder(&buf, format).Encode(mf); err != nil {
				t.Fatal(err)
			}
			db, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), slog.New(slog.DiscardHandler), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			sl := testLoop(t, db, enableNative, "")
			sl.cfg.parseST = tc.parseST
			ts := time.Now().Truncate(time.Second)
			for i := range 2 {
				if _, err := appendOnce(t, sl, db, buf.String(), string(format), ts.Add(time.Duration(i)*time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			q, err := db.Querier(ts.Add(-time.Minute).UnixMilli(), ts.Add(time.Minute).UnixMilli())
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "rpc_seconds"))
			n := 0
			for ss.Next() {
				it := ss.At().Iterator(nil)
				wantVT := storage.ValHistogram
				if tc.float {
					wantVT = storage.ValFloatHistogram
				}
				for vt := it.Next(); vt != storage.ValNone; vt = it.Next() {
					n++
					if vt != wantVT {
						t.Fatalf("sample of type %s, want %s", vt, wantVT)
					}
					if st := it.AtST(); st != tc.want {
						t.Errorf("start timestamp %d, want %d", st, tc.want)
					}
				}
			}
			if n != 2 {
				t.Fatalf("%d samples, want 2", n)
			}
		})
	}
}
