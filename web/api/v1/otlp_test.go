package v1

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/vigil-monitoring/vigil/config"
)

// otlpNow is the time of the test points: now, since points more than 10 minutes ahead are
// refused and the test DB keeps data from 2024 on.
var otlpNow = time.Now().Truncate(time.Second)

func otlpTS(d time.Duration) pcommon.Timestamp { return pcommon.NewTimestampFromTime(otlpNow.Add(d)) }

// otlpResource starts a request with one resource (service attributes and one more) and
// one scope, and returns the scope's metric slice.
func otlpResource(md pmetric.Metrics) pmetric.MetricSlice {
	rm := md.ResourceMetrics().AppendEmpty()
	attrs := rm.Resource().Attributes()
	attrs.PutStr("service.name", "checkout")
	attrs.PutStr("service.namespace", "shop")
	attrs.PutStr("service.instance.id", "pod-1")
	attrs.PutStr("k8s.cluster.name", "prod")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("test-scope")
	sm.Scope().SetVersion("1.0")
	return sm.Metrics()
}

func addGauge(ms pmetric.MetricSlice, name, unit string, v float64, at time.Duration, attrs ...string) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(otlpTS(at))
	dp.SetDoubleValue(v)
	for i := 0; i+1 < len(attrs); i += 2 {
		dp.Attributes().PutStr(attrs[i], attrs[i+1])
	}
}

func addSum(ms pmetric.MetricSlice, name, unit string, temporality pmetric.AggregationTemporality, v int64, at ...time.Duration) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(temporality)
	for _, d := range at {
		dp := s.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(otlpTS(-time.Hour))
		dp.SetTimestamp(otlpTS(d))
		dp.SetIntValue(v)
	}
}

func addHistogram(ms pmetric.MetricSlice, name, unit string) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := h.DataPoints().AppendEmpty()
	dp.SetStartTimestamp(otlpTS(-time.Hour))
	dp.SetTimestamp(otlpTS(0))
	dp.SetCount(6)
	dp.SetSum(3.5)
	dp.ExplicitBounds().FromRaw([]float64{0.1, 1})
	dp.BucketCounts().FromRaw([]uint64{1, 2, 3})
}

func addExpHistogram(ms pmetric.MetricSlice, name string) {
	m := ms.AppendEmpty()
	m.SetName(name)
	h := m.SetEmptyExponentialHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := h.DataPoints().AppendEmpty()
	dp.SetTimestamp(otlpTS(0))
	dp.SetCount(2)
	dp.SetSum(3)
	dp.SetScale(0)
	dp.Positive().SetOffset(0)
	dp.Positive().BucketCounts().FromRaw([]uint64{1, 1})
}

func otlpProto(t testing.TB, md pmetric.Metrics) []byte {
	t.Helper()
	b, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func otlpJSONBody(t testing.TB, md pmetric.Metrics) []byte {
	t.Helper()
	b, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func postOTLP(t testing.TB, env *testEnv, body []byte, contentType, encoding string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.srv.URL+"/api/v1/otlp/v1/metrics", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// stored returns the series matching sel at otlpNow as "labels value" lines, sorted.
func stored(t *testing.T, env *testEnv, sel string) []string {
	t.Helper()
	res := env.do(t, http.MethodGet, "/api/v1/query", url.Values{"query": {sel}, "time": {strconv.FormatInt(otlpNow.Unix(), 10)}})
	if res.code != http.StatusOK {
		t.Fatalf("query %s: %d %s", sel, res.code, res.body)
	}
	var out []string
	for _, r := range res.resp["data"].(map[string]any)["result"].([]any) {
		m := r.(map[string]any)
		var ls []string
		for k, v := range m["metric"].(map[string]any) {
			ls = append(ls, k+"="+v.(string))
		}
		slices.Sort(ls)
		if h, ok := m["histogram"].([]any); ok {
			hm := h[1].(map[string]any)
			out = append(out, strings.Join(ls, ",")+" histogram count="+hm["count"].(string)+" sum="+hm["sum"].(string))
			continue
		}
		out = append(out, strings.Join(ls, ",")+" "+m["value"].([]any)[1].(string))
	}
	slices.Sort(out)
	return out
}

func otlpEnv(t *testing.T, cfg *config.OTLPConfig, reg prometheus.Registerer) *testEnv {
	return newTestEnv(t, func(o *Options) {
		o.EnableOTLP = true
		o.LookbackDelta = 5 * time.Minute
		o.Registerer = reg
		if cfg != nil {
			o.OTLPConfig = func() config.OTLPConfig { return *cfg }
		}
	})
}

// TestOTLPWrite pushes gauges, counters, histograms and summaries in protobuf, JSON and gzip and
// checks the series stored: Prometheus's names (unit and _total suffixes), job and instance from
// the service attributes, target_info with the other resource attributes.
func TestOTLPWrite(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := otlpResource(md)
	addGauge(ms, "queue.depth", "{item}", 7, 0, "queue", "orders")
	addSum(ms, "http.server.requests", "", pmetric.AggregationTemporalityCumulative, 42, 0)
	addSum(ms, "process.cpu.time", "s", pmetric.AggregationTemporalityCumulative, 3, 0)
	addHistogram(ms, "http.server.duration", "ms")
	sum := ms.AppendEmpty()
	sum.SetName("rpc.latency")
	dp := sum.SetEmptySummary().DataPoints().AppendEmpty()
	dp.SetTimestamp(otlpTS(0))
	dp.SetCount(4)
	dp.SetSum(10)
	q := dp.QuantileValues().AppendEmpty()
	q.SetQuantile(0.5)
	q.SetValue(2)

	const res = `instance=pod-1,job=shop/checkout`
	want := []string{
		`__name__=http_server_duration_milliseconds_bucket,` + res + `,le=+Inf 6`,
		`__name__=http_server_duration_milliseconds_bucket,` + res + `,le=0.1 1`,
		`__name__=http_server_duration_milliseconds_bucket,` + res + `,le=1 3`,
		`__name__=http_server_duration_milliseconds_count,` + res + ` 6`,
		`__name__=http_server_duration_milliseconds_sum,` + res + ` 3.5`,
		`__name__=http_server_requests_total,` + res + ` 42`,
		`__name__=process_cpu_time_seconds_total,` + res + ` 3`,
		`__name__=queue_depth,` + res + `,queue=orders 7`,
		`__name__=rpc_latency,` + res + `,quantile=0.5 2`,
		`__name__=rpc_latency_count,` + res + ` 4`,
		`__name__=rpc_latency_sum,` + res + ` 10`,
		`__name__=target_info,` + res + `,k8s_cluster_name=prod 1`,
	}
	for _, tc := range []struct {
		name, contentType, encoding string
		body                        func(*testing.T) []byte
	}{
		{"protobuf", otlpProtobuf, "", func(t *testing.T) []byte { return otlpProto(t, md) }},
		{"json", "application/json; charset=utf-8", "", func(t *testing.T) []byte { return otlpJSONBody(t, md) }},
		{"protobuf-gzip", otlpProtobuf, "gzip", func(t *testing.T) []byte { return gzipped(t, otlpProto(t, md)) }},
		{"json-gzip", otlpJSON, "gzip", func(t *testing.T) []byte { return gzipped(t, otlpJSONBody(t, md)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := otlpEnv(t, nil, nil)
			if code, body := postOTLP(t, env, tc.body(t), tc.contentType, tc.encoding); code != http.StatusOK {
				t.Fatalf("push: %d %s", code, body)
			}
			if got := stored(t, env, `{job="shop/checkout"}`); !slices.Equal(got, want) {
				t.Fatalf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestOTLPConfig checks that the otlp block reaches the translator.
func TestOTLPConfig(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := otlpResource(md)
	addSum(ms, "http.server.requests", "", pmetric.AggregationTemporalityCumulative, 42, 0)
	for _, tc := range []struct {
		name string
		cfg  config.OTLPConfig
		sel  string
		want []string
	}{
		{"promote_resource_attributes", config.OTLPConfig{TranslationStrategy: "UnderscoreEscapingWithSuffixes", PromoteResourceAttributes: []string{"k8s.cluster.name"}},
			`http_server_requests_total`, []string{`__name__=http_server_requests_total,instance=pod-1,job=shop/checkout,k8s_cluster_name=prod 42`}},
		{"NoUTF8EscapingWithSuffixes", config.OTLPConfig{TranslationStrategy: "NoUTF8EscapingWithSuffixes"},
			`{"http.server.requests_total"}`, []string{`__name__=http.server.requests_total,instance=pod-1,job=shop/checkout 42`}},
		{"NoTranslation", config.OTLPConfig{TranslationStrategy: "NoTranslation"},
			`{"http.server.requests"}`, []string{`__name__=http.server.requests,instance=pod-1,job=shop/checkout 42`}},
		{"UnderscoreEscapingWithoutSuffixes", config.OTLPConfig{TranslationStrategy: "UnderscoreEscapingWithoutSuffixes"},
			`http_server_requests`, []string{`__name__=http_server_requests,instance=pod-1,job=shop/checkout 42`}},
		{"promote_scope_metadata", config.OTLPConfig{TranslationStrategy: "UnderscoreEscapingWithSuffixes", PromoteScopeMetadata: true},
			`http_server_requests_total`, []string{`__name__=http_server_requests_total,instance=pod-1,job=shop/checkout,otel_scope_name=test-scope,otel_scope_version=1.0 42`}},
		{"keep_identifying_resource_attributes", config.OTLPConfig{TranslationStrategy: "UnderscoreEscapingWithSuffixes", KeepIdentifyingResourceAttributes: true},
			`target_info`, []string{`__name__=target_info,instance=pod-1,job=shop/checkout,k8s_cluster_name=prod,service_instance_id=pod-1,service_name=checkout,service_namespace=shop 1`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := otlpEnv(t, &tc.cfg, nil)
			if code, body := postOTLP(t, env, otlpProto(t, md), otlpProtobuf, ""); code != http.StatusOK {
				t.Fatalf("push: %d %s", code, body)
			}
			if got := stored(t, env, tc.sel); !slices.Equal(got, tc.want) {
				t.Fatalf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestOTLPBadInput: malformed requests are answered with the reason and store nothing; requests
// with some bad points store the good ones, answer 400 listing the bad, and lose nothing stored
// before.
func TestOTLPBadInput(t *testing.T) {
	good := pmetric.NewMetrics()
	addGauge(otlpResource(good), "before", "", 1, -time.Minute)
	goodBody := otlpProto(t, good)

	mixed := func(f func(ms pmetric.MetricSlice)) []byte {
		md := pmetric.NewMetrics()
		ms := otlpResource(md)
		addGauge(ms, "valid", "", 5, 0)
		f(ms)
		return otlpProto(t, md)
	}
	for _, tc := range []struct {
		name, contentType, encoding string
		body                        []byte
		code                        int
		reason                      string
		stored                      []string // series other than before and target_info, at otlpNow
		refused                     map[string]float64
	}{
		{name: "no content type", body: goodBody, code: http.StatusUnsupportedMediaType, reason: "unsupported content type"},
		{name: "text content type", contentType: "text/plain", body: goodBody, code: http.StatusUnsupportedMediaType, reason: "unsupported content type"},
		{name: "snappy", contentType: otlpProtobuf, encoding: "snappy", body: goodBody, code: http.StatusUnsupportedMediaType, reason: "unsupported content encoding"},
		{name: "truncated protobuf", contentType: otlpProtobuf, body: mixed(func(pmetric.MetricSlice) {})[:40], code: http.StatusBadRequest, reason: "decoding OTLP metrics request"},
		{name: "json sent as protobuf", contentType: otlpProtobuf, body: otlpJSONBody(t, good), code: http.StatusBadRequest, reason: "decoding OTLP metrics request"},
		{name: "bad json", contentType: otlpJSON, body: []byte(`{"resourceMetrics":[{`), code: http.StatusBadRequest, reason: "decoding OTLP metrics request"},
		{name: "bad gzip", contentType: otlpProtobuf, encoding: "gzip", body: goodBody, code: http.StatusBadRequest, reason: "decoding gzip body"},
		{name: "invalid UTF-8 label value", contentType: otlpProtobuf, body: mixed(func(ms pmetric.MetricSlice) {
			addGauge(ms, "bad_value", "", 1, 0, "path", "a\xffb")
		}), code: http.StatusBadRequest, reason: "not valid UTF-8", stored: []string{"valid"}, refused: map[string]float64{reasonInvalidLabels: 1}},
		{name: "invalid UTF-8 metric name, NoTranslation", contentType: otlpProtobuf, body: mixed(func(ms pmetric.MetricSlice) {
			addGauge(ms, "bad\xffname", "", 1, 0)
		}), code: http.StatusBadRequest, reason: "not valid UTF-8", stored: []string{"valid"}, refused: map[string]float64{reasonInvalidLabels: 1}},
		{name: "NaN is a value", contentType: otlpProtobuf, body: mixed(func(ms pmetric.MetricSlice) {
			addGauge(ms, "nan_gauge", "", math.NaN(), 0)
		}), code: http.StatusOK, stored: []string{"nan_gauge", "valid"}},
		{name: "out of order", contentType: otlpProtobuf, body: mixed(func(ms pmetric.MetricSlice) {
			addSum(ms, "ooo", "", pmetric.AggregationTemporalityCumulative, 1, 0, -time.Second)
		}), code: http.StatusBadRequest, reason: "out of order sample for series {__name__=\"ooo_total\"", stored: []string{"ooo_total", "valid"}, refused: map[string]float64{reasonOutOfOrder: 1}},
		{name: "older than stored", contentType: otlpProtobuf, body: mixed(func(ms pmetric.MetricSlice) {
			addGauge(ms, "before", "", 9, -2*time.Minute)
		}), code: http.StatusBadRequest, reason: "out of order sample", stored: []string{"valid"},
			// The point, and the resource's target_info, which the translator dates from the
			// request's earliest point.
			refused: map[string]float64{reasonOutOfOrder: 2}},
		{name: "delta temporality", contentType: otlpProtobuf, body: mixed(func(ms pmetric.MetricSlice) {
			addSum(ms, "deltas", "", pmetric.AggregationTemporalityDelta, 1, 0)
		}), code: http.StatusBadRequest, reason: `invalid temporality and type combination for metric "deltas"`, stored: []string{"valid"}, refused: map[string]float64{reasonTranslation: 1}},
		{name: "invalid exponential histogram", contentType: otlpProtobuf, body: mixed(func(ms pmetric.MetricSlice) {
			addExpHistogram(ms, "latency")
			ms.At(ms.Len() - 1).ExponentialHistogram().DataPoints().At(0).SetCount(1) // buckets hold 2
		}), code: http.StatusBadRequest, reason: "2 observations found in buckets, but the Count field is 1", stored: []string{"valid"}, refused: map[string]float64{reasonInvalidHistogram: 1}},
		{name: "exponential histogram", contentType: otlpProtobuf, body: mixed(func(ms pmetric.MetricSlice) {
			addExpHistogram(ms, "latency")
			addExpHistogram(ms, "delta.latency")
			ms.At(ms.Len() - 1).ExponentialHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		}), code: http.StatusBadRequest, reason: `invalid temporality and type combination for metric "delta.latency"`, stored: []string{"latency", "valid"}, refused: map[string]float64{reasonTranslation: 1}},
		{name: "too far in the future", contentType: otlpProtobuf, body: mixed(func(ms pmetric.MetricSlice) {
			addGauge(ms, "future", "", 1, time.Hour)
		}), code: http.StatusBadRequest, reason: "too far in the future", stored: []string{"valid"},
			// The point, and 20 of the target_info samples the translator adds every half
			// lookback delta (2m30s) from the earliest point to the latest, an hour ahead.
			refused: map[string]float64{reasonTooFarInFuture: 21}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			var cfg *config.OTLPConfig
			if strings.Contains(tc.name, "NoTranslation") {
				cfg = &config.OTLPConfig{TranslationStrategy: "NoTranslation"}
			}
			env := otlpEnv(t, cfg, reg)
			if code, body := postOTLP(t, env, goodBody, otlpProtobuf, ""); code != http.StatusOK {
				t.Fatalf("first push: %d %s", code, body)
			}
			code, body := postOTLP(t, env, tc.body, tc.contentType, tc.encoding)
			if code != tc.code || !strings.Contains(body, tc.reason) {
				t.Fatalf("got %d %q, want %d with %q", code, body, tc.code, tc.reason)
			}
			if got := stored(t, env, `before`); len(got) != 1 || !strings.HasSuffix(got[0], " 1") {
				t.Fatalf("the series stored before changed: %v", got)
			}
			var names []string
			for _, s := range stored(t, env, `{job="shop/checkout",__name__!~"before|target_info"}`) {
				name, _, _ := strings.Cut(strings.TrimPrefix(s, "__name__="), ",")
				names = append(names, name)
			}
			if !slices.Equal(names, tc.stored) {
				t.Fatalf("stored %v, want %v", names, tc.stored)
			}
			for reason, want := range tc.refused {
				if got := testutil.ToFloat64(env.api.otlp.refused.WithLabelValues(reason)); got != want {
					t.Errorf("vigil_otlp_refused_samples_total{reason=%q} = %v, want %v", reason, got, want)
				}
			}
		})
	}
}

// TestOTLPNativeHistograms: exponential histograms are stored as native histograms, and with
// convert_histograms_to_nhcb explicit-bucket histograms as native histograms with custom
// buckets (one series, no _bucket/_sum/_count), which PromQL's histogram functions read.
func TestOTLPNativeHistograms(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := otlpResource(md)
	addExpHistogram(ms, "latency") // buckets (1,2] and (2,4]: 1 each, sum 3
	addHistogram(ms, "http.server.duration", "ms")
	for _, tc := range []struct {
		name string
		nhcb bool
		sel  string
		want []string
	}{
		{"exponential count", false, `histogram_count(latency)`, []string{`instance=pod-1,job=shop/checkout 2`}},
		{"exponential sum", false, `histogram_sum(latency)`, []string{`instance=pod-1,job=shop/checkout 3`}},
		{"exponential buckets", false, `histogram_fraction(1, 2, latency)`, []string{`instance=pod-1,job=shop/checkout 0.5`}},
		{"classic without nhcb", false, `count({__name__=~"http_server_duration_milliseconds.*"})`, []string{` 5`}},
		{"nhcb one series", true, `count({__name__=~"http_server_duration_milliseconds.*"})`, []string{` 1`}},
		{"nhcb count", true, `histogram_count(http_server_duration_milliseconds)`, []string{`instance=pod-1,job=shop/checkout 6`}},
		{"nhcb sum", true, `histogram_sum(http_server_duration_milliseconds)`, []string{`instance=pod-1,job=shop/checkout 3.5`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.DefaultOTLPConfig
			cfg.ConvertHistogramsToNHCB = tc.nhcb
			env := otlpEnv(t, &cfg, nil)
			if code, body := postOTLP(t, env, otlpProto(t, md), otlpProtobuf, ""); code != http.StatusOK {
				t.Fatalf("push: %d %s", code, body)
			}
			if got := stored(t, env, tc.sel); !slices.Equal(got, tc.want) {
				t.Fatalf("%s:\n%s\nwant:\n%s", tc.sel, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestOTLPDisabled(t *testing.T) {
	env := newTestEnv(t, nil)
	md := pmetric.NewMetrics()
	addGauge(otlpResource(md), "g", "", 1, 0)
	code, body := postOTLP(t, env, otlpProto(t, md), otlpProtobuf, "")
	if code != http.StatusNotFound || !strings.Contains(body, "--web.enable-otlp-receiver") {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestOTLPBodyLimit(t *testing.T) {
	env := otlpEnv(t, nil, nil)
	// A gzip bomb: small on the wire, more than the limit decompressed.
	big := gzipped(t, make([]byte, maxOTLPBodySize+1))
	if code, body := postOTLP(t, env, big, otlpProtobuf, "gzip"); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d %q", code, body)
	}
}

// checkOTLPLabels refuses exactly what labels' IsValid(UTF8Validation), HasDuplicateLabelNames
// and a missing metric name refuse.
func TestCheckOTLPLabels(t *testing.T) {
	for _, pairs := range [][]string{
		{"__name__", "up", "job", "a"},
		{"__name__", "", "job", "a"},
		{"job", "a"},
		{"__name__", "up", "", "a"},
		{"__name__", "up", "job", "a", "job", "b"},
		{"__name__", "up", "jo\xffb", "a"},
		{"__name__", "up", "job", "a\xff"},
		{"__name__", "u\xffp"},
		{"__name__", "http.server.duration", "service.name", "x", "k", ""},
	} {
		b := labels.NewScratchBuilder(0)
		for i := 0; i < len(pairs); i += 2 {
			b.Add(pairs[i], pairs[i+1])
		}
		b.Sort()
		ls := b.Labels()
		_, dup := ls.HasDuplicateLabelNames()
		want := !ls.IsValid(model.UTF8Validation) || dup || !ls.Has(model.MetricNameLabel)
		if got := checkOTLPLabels(ls) != ""; got != want {
			t.Errorf("%q: refused=%v (%s), want %v", pairs, got, checkOTLPLabels(ls), want)
		}
	}
}

// TestOTLPSeriesRefCache: a second push of the same series appends by the storage's series
// references (cached from the first push) to the same series; a stale reference (a series
// the storage no longer knows) falls back to the labels.
func TestOTLPSeriesRefCache(t *testing.T) {
	push := func(env *testEnv, v float64, at time.Duration) {
		md := pmetric.NewMetrics()
		addGauge(otlpResource(md), "queue.depth", "{item}", v, at, "queue", "orders")
		if code, body := postOTLP(t, env, otlpProto(t, md), otlpProtobuf, ""); code != http.StatusOK {
			t.Fatalf("push: %d %s", code, body)
		}
	}
	env := otlpEnv(t, nil, nil)
	push(env, 7, -2*time.Minute)
	refs := env.api.otlp.refs
	if n := len(refs.refs); n != 2 { // queue_depth and target_info
		t.Fatalf("%d series references cached, want 2", n)
	}
	push(env, 9, -time.Minute)
	const sel = `queue_depth{job="shop/checkout"}`
	want := []string{`__name__=queue_depth,instance=pod-1,job=shop/checkout,queue=orders 9`}
	if got := stored(t, env, sel+` offset 1m`); !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
	want = []string{`__name__=queue_depth,instance=pod-1,job=shop/checkout,queue=orders 9`}
	if got := stored(t, env, sel); !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
	if got := stored(t, env, `count_over_time(`+sel+`[5m])`); len(got) != 1 || !strings.HasSuffix(got[0], " 2") {
		t.Fatalf("samples: %q, want 2 in one series", got)
	}
	// References the storage does not hold: the labels find the series.
	for k := range refs.refs {
		refs.refs[k] = 1 << 40
	}
	push(env, 11, 0)
	if got := stored(t, env, `count_over_time(`+sel+`[5m])`); len(got) != 1 || !strings.HasSuffix(got[0], " 3") {
		t.Fatalf("samples after stale references: %q, want 3 in one series", got)
	}
	for _, ref := range refs.refs {
		if ref == 1<<40 {
			t.Fatal("stale reference kept")
		}
	}
}
