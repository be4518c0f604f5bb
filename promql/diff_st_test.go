package promql_test

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	upromql "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	ustorage "github.com/prometheus/prometheus/storage"
	utsdb "github.com/prometheus/prometheus/tsdb"
	uchunkenc "github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// stSeriesSample makes the value and start timestamp of sample i (at t, the previous sample at
// prevT with start timestamp prevST and value prevV) of a series of the given kind.
func stSeriesSample(kind string, r *rand.Rand, i int, t, prevT, prevST int64, prevV float64) (st int64, v float64) {
	switch kind {
	case "none":
		return 0, prevV + float64(r.Intn(10))
	case "cumulative": // created timestamp; resets every ~40 samples, some visible only in the ST
		if i == 0 || r.Intn(40) == 0 {
			st = t - int64(r.Intn(20000)) - 1
			if r.Intn(2) == 0 {
				return st, float64(r.Intn(5))
			}
			return st, prevV + float64(r.Intn(10)) // a reset the value does not show
		}
		return prevST, prevV + float64(r.Intn(10))
	case "otel_delta":
		if i == 0 {
			return t - 30000, float64(r.Intn(10))
		}
		return prevT, float64(r.Intn(10))
	case "gcp_delta":
		if i == 0 {
			return t - 29999, float64(r.Intn(10))
		}
		return prevT + 1, float64(r.Intn(10))
	case "unknown_start": // OTel cumulative with an unknown start: ST = T first, then the previous T
		if i == 0 {
			return t, 1
		}
		return prevT, prevV + float64(r.Intn(3))
	}
	// "odd": anything, overlaps included.
	choices := []int64{0, t, t + 1, t - int64(r.Intn(200000)), prevT, prevST, prevT - 1}
	return choices[r.Intn(len(choices))], prevV + float64(r.Intn(10)-2)
}

// TestDifferentialStartTimestamps loads series with start timestamps of every kind, float and
// native histogram, into Vigil's TSDB (AppendST, AppendHistogramST) and upstream's (AppenderV2
// with EnableSTStorage), both with blocks and head, and requires the two engines with UseStartTimestamps to give the same results and
// annotations.
func TestDifferentialStartTimestamps(t *testing.T) {
	if testing.Short() {
		t.Skip("loads two TSDBs")
	}
	dir := t.TempDir()
	vdb, err := tsdb.Open(dir+"/vigil", tsdb.DefaultOptions(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer vdb.Close()
	uopts := utsdb.DefaultOptions()
	uopts.EnableSTStorage = true
	uopts.FloatChunkEncoding = uchunkenc.EncXOR2
	uopts.EnableHistogramSTEncoding = true // as upstream's --enable-feature=st-storage sets it
	udb, err := utsdb.Open(dir+"/upstream", nil, nil, uopts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer udb.Close()

	r := rand.New(rand.NewSource(7))
	kinds := []string{"none", "cumulative", "otel_delta", "gcp_delta", "unknown_start", "odd"}
	type state struct {
		lset          labels.Labels
		kind          string
		prevT, prevST int64
		prevV         float64
	}
	var series []*state
	for _, k := range kinds {
		for inst := range 4 {
			series = append(series, &state{lset: labels.FromStrings("__name__", "st_requests_total", "kind", k, "instance", strconv.Itoa(inst)), kind: k})
		}
		// Native histograms with the same start timestamps: integer counts (instances 0, 1)
		// and float counts (2).
		for inst := range 3 {
			series = append(series, &state{lset: labels.FromStrings("__name__", "st_latency_seconds", "kind", k, "instance", strconv.Itoa(inst)), kind: k})
		}
	}
	start := time.Unix(1_700_000_000, 0)
	const steps = 5 * 60 * 2 // 5 h at 30 s: blocks and head
	ctx := context.Background()
	for i := range steps {
		ts := start.Add(time.Duration(i) * 30 * time.Second).UnixMilli()
		va := vdb.Appender(ctx).(storage.STAppender)
		ua := udb.AppenderV2(ctx)
		for _, s := range series {
			if s.kind != "none" && r.Intn(15) == 0 {
				continue // a missed scrape now and then
			}
			st, v := stSeriesSample(s.kind, r, i, ts, s.prevT, s.prevST, s.prevV)
			if s.lset.Get("__name__") == "st_latency_seconds" {
				v = max(v, 0)
				h, fh := stHistogram(v), (*histogram.FloatHistogram)(nil)
				if s.lset.Get("instance") == "2" {
					h, fh = nil, h.ToFloat(nil)
				}
				if _, err := va.(storage.HistogramSTAppender).AppendHistogramST(0, s.lset, st, ts, h, fh); err != nil {
					t.Fatal(err)
				}
				var uh *histogram.Histogram
				var ufh *histogram.FloatHistogram
				if h != nil {
					uh = h.Copy()
				} else {
					ufh = fh.Copy()
				}
				if _, err := ua.Append(0, s.lset, st, ts, 0, uh, ufh, ustorage.AppendV2Options{}); err != nil {
					t.Fatal(err)
				}
				s.prevT, s.prevST, s.prevV = ts, st, v
				continue
			}
			if _, err := va.AppendST(0, s.lset, st, ts, v); err != nil {
				t.Fatal(err)
			}
			if _, err := ua.Append(0, s.lset, st, ts, v, nil, nil, ustorage.AppendV2Options{}); err != nil {
				t.Fatal(err)
			}
			s.prevT, s.prevST, s.prevV = ts, st, v
		}
		if err := va.(storage.Appender).Commit(); err != nil {
			t.Fatal(err)
		}
		if err := ua.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := vdb.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := udb.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if len(vdb.Blocks()) == 0 {
		t.Fatal("no Vigil blocks: the test must read start timestamps from blocks too")
	}

	p := parser.NewParser(promql.DefaultParserOptions)
	ng := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, Parser: p, UseStartTimestamps: true})
	ung := upromql.NewEngine(upromql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, Parser: p, UseStartTimestamps: true,
		EnableAtModifier: true, EnableNegativeOffset: true, EnablePerStepStats: true, LookbackDelta: 5 * time.Minute})
	queries := []string{
		`rate(st_requests_total[5m])`, `increase(st_requests_total[5m])`, `irate(st_requests_total[5m])`,
		`resets(st_requests_total[15m])`, `increase(st_requests_total[1m])`, `rate(st_requests_total[45s])`,
		`increase(st_requests_total[2m] offset 1m)`, `rate(st_requests_total[10m] @ 1700010000)`,
		`start_timestamp(st_requests_total)`, `start_timestamp(st_requests_total offset 2m)`, `start_timestamp(st_requests_total * 1)`,
		`increase(st_requests_total[5m:1m])`, `sum by (kind) (rate(st_requests_total[5m]))`,
		`delta(st_requests_total[5m])`, `idelta(st_requests_total[5m])`, `changes(st_requests_total[10m])`,
		`increase(st_requests_total[5m] anchored)`, `resets(st_requests_total[10m] anchored)`,
		`rate(st_requests_total[5m] smoothed)`,
		// Native histograms.
		`rate(st_latency_seconds[5m])`, `increase(st_latency_seconds[5m])`, `irate(st_latency_seconds[5m])`,
		`resets(st_latency_seconds[15m])`, `increase(st_latency_seconds[1m])`, `rate(st_latency_seconds[45s])`,
		`increase(st_latency_seconds[2m] offset 1m)`, `rate(st_latency_seconds[10m] @ 1700010000)`,
		`start_timestamp(st_latency_seconds)`, `increase(st_latency_seconds[5m:1m])`,
		`histogram_quantile(0.9, sum by (kind) (rate(st_latency_seconds[5m])))`,
		`histogram_count(increase(st_latency_seconds[5m]))`, `sum(rate(st_latency_seconds[5m]))`,
		`delta(st_latency_seconds[5m])`, `idelta(st_latency_seconds[5m])`, `changes(st_latency_seconds[10m])`,
		`increase(st_latency_seconds[5m] anchored)`, `resets(st_latency_seconds[10m] anchored)`,
	}
	end := start.Add(time.Duration(steps-1) * 30 * time.Second)
	compared := 0
	for _, q := range queries {
		for _, rangeQuery := range []bool{false, true} {
			name := fmt.Sprintf("%s range=%v", q, rangeQuery)
			var vq promql.Query
			var uq upromql.Query
			var err1, err2 error
			if rangeQuery {
				vq, err1 = ng.NewRangeQuery(ctx, vdb, q, end.Add(-4*time.Hour), end, 47*time.Second)
				uq, err2 = ung.NewRangeQuery(ctx, udb, nil, q, end.Add(-4*time.Hour), end, 47*time.Second)
			} else {
				vq, err1 = ng.NewInstantQuery(ctx, vdb, q, end.Add(-2*time.Hour-7*time.Second))
				uq, err2 = ung.NewInstantQuery(ctx, udb, nil, q, end.Add(-2*time.Hour-7*time.Second))
			}
			if err1 != nil || err2 != nil {
				t.Errorf("%s: vigil err %v, upstream err %v", name, err1, err2)
				continue
			}
			vr, ur := vq.Exec(ctx), uq.Exec(ctx)
			if vr.Err != nil || ur.Err != nil {
				t.Errorf("%s: vigil err %v, upstream err %v", name, vr.Err, ur.Err)
				continue
			}
			vw, vi := vr.Warnings.AsStrings(q, 0, 0)
			uw, ui := ur.Warnings.AsStrings(q, 0, 0)
			slices.Sort(vw)
			slices.Sort(uw)
			slices.Sort(vi)
			slices.Sort(ui)
			if !slices.Equal(vw, uw) || !slices.Equal(vi, ui) {
				t.Errorf("%s: annotations differ: vigil %v %v, upstream %v %v", name, vw, vi, uw, ui)
			}
			a, b := renderVigilH(vr.Value), renderUpstreamH(ur.Value)
			compared += len(a)
			if diff := compareRenderedH(a, b); diff != "" {
				t.Errorf("%s: %s", name, diff)
			}
		}
	}
	if compared < 10000 {
		t.Errorf("compared only %d points", compared)
	}
	t.Logf("compared %d points over %d queries", compared, 2*len(queries))
}

// stHistogram is a native histogram whose counts follow the counter value v (two buckets and
// the zero bucket).
func stHistogram(v float64) *histogram.Histogram {
	n := uint64(v)
	b0, b1 := n/2, n-n/2-n/5
	z := n / 5
	return &histogram.Histogram{
		Schema: 1, ZeroThreshold: 0.001, ZeroCount: z, Count: n, Sum: v * 0.7,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}},
		PositiveBuckets: []int64{int64(b0), int64(b1) - int64(b0)},
	}
}
