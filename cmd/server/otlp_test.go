package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otelmetric "go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

// otlpConfig is the prometheus.yml both servers load: Prometheus's otlp block with a
// promoted resource attribute and scope metadata as labels.
const otlpConfig = `global:
  scrape_interval: 15s
otlp:
  promote_resource_attributes: [k8s.cluster.name, deployment.environment]
  promote_scope_metadata: true
`

// prometheus3Bin is Prometheus 3.15 as ../shared/bench/peers.sh builds it.
func prometheus3Bin() string {
	if p := os.Getenv("VIGIL_PEER_PROMETHEUS3"); p != "" {
		return p
	}
	return "/tmp/peers/prometheus3"
}

// startPrometheus3 runs the peer with the OTLP receiver on a free port until the test ends;
// "" when the binary is absent.
func startPrometheus3(t *testing.T, cfgYAML string) string {
	t.Helper()
	bin := prometheus3Bin()
	if _, err := os.Stat(bin); err != nil {
		return ""
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(cfgYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.enable-otlp-receiver", "--log.level=error")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become ready", bin)
		}
	}
}

// otlpWorkload records counters, gauges, up-down counters and histograms (with attributes
// that need escaping, and units that become suffixes) in the OpenTelemetry SDK, and collects
// rounds of them with a manual reader so that both servers receive identical payloads.
type otlpWorkload struct {
	reader *sdkmetric.ManualReader
	round  func(i int)
}

func newOTLPWorkload(t *testing.T) *otlpWorkload {
	t.Helper()
	res := resource.NewWithAttributes("",
		attribute.String("service.name", "checkout"),
		attribute.String("service.namespace", "shop"),
		attribute.String("service.instance.id", "pod-1"),
		attribute.String("k8s.cluster.name", "prod"),
		attribute.String("host.name", "node-7"),
	)
	reader := sdkmetric.NewManualReader()
	// rpc.server.duration uses the SDK's base-2 exponential histogram aggregation: an OTLP
	// exponential histogram, stored as a native histogram.
	expView := sdkmetric.NewView(sdkmetric.Instrument{Name: "rpc.server.duration"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader), sdkmetric.WithView(expView))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	meter := provider.Meter("vigil.test/otlp", otelmetric.WithInstrumentationVersion("1.2.3"))
	requests := must(meter.Int64Counter("http.server.request.count", otelmetric.WithUnit("{request}"), otelmetric.WithDescription("Requests served.")))
	cpu := must(meter.Float64Counter("process.cpu.time", otelmetric.WithUnit("s")))
	bytesSent := must(meter.Int64Counter("http.server.response.body.size", otelmetric.WithUnit("By")))
	queue := must(meter.Int64UpDownCounter("queue.length", otelmetric.WithUnit("{item}")))
	temp := must(meter.Float64Gauge("room.temperature", otelmetric.WithUnit("Cel")))
	latency := must(meter.Float64Histogram("http.server.request.duration", otelmetric.WithUnit("s")))
	sizes := must(meter.Int64Histogram("rpc.message.size", otelmetric.WithUnit("By"),
		otelmetric.WithExplicitBucketBoundaries(64, 256, 1024)))
	rpcDuration := must(meter.Float64Histogram("rpc.server.duration", otelmetric.WithUnit("ms")))
	ctx := context.Background()
	get := otelmetric.WithAttributes(attribute.String("http.request.method", "GET"), attribute.Int("http.response.status_code", 200))
	post := otelmetric.WithAttributes(attribute.String("http.request.method", "POST"), attribute.Int("http.response.status_code", 500))
	return &otlpWorkload{reader: reader, round: func(i int) {
		f := float64(i)
		requests.Add(ctx, int64(3+i), get)
		requests.Add(ctx, 1, post)
		cpu.Add(ctx, 0.25*f+0.125)
		bytesSent.Add(ctx, int64(1000*i+17), get)
		queue.Add(ctx, int64(5-2*i))
		temp.Record(ctx, 21.5+f/4, otelmetric.WithAttributes(attribute.String("room", "server-room")))
		for _, v := range []float64{0.003, 0.02, 0.2 * f, 1.5, 12} {
			latency.Record(ctx, v, get)
		}
		sizes.Record(ctx, int64(100*i+1))
		for _, v := range []float64{0, 0.7, 3 + f, 250, 251, 1e4 * (f + 1)} {
			rpcDuration.Record(ctx, v, get)
		}
	}}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// collect gathers one round's data from the SDK.
func (w *otlpWorkload) collect(t *testing.T) *metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := w.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return &rm
}

// otlpExporter is the SDK's OTLP/HTTP exporter (protobuf, gzip) sending to base's
// /api/v1/otlp/v1/metrics, without retries so that a refusal fails the export.
func otlpExporter(t *testing.T, base string) *otlpmetrichttp.Exporter {
	t.Helper()
	exp, err := otlpmetrichttp.New(context.Background(),
		otlpmetrichttp.WithEndpointURL(base+"/api/v1/otlp/v1/metrics"),
		otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	return exp
}

// rawSamples returns every sample of the series matching sel in the hour before at, by a
// range-vector instant query: series (labels as JSON) to [timestamp, value] pairs.
func rawSamples(t *testing.T, base, sel string, at time.Time) map[string][][2]string {
	t.Helper()
	q := url.Values{"query": {sel + "[1h]"}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}
	resp, err := http.Get(base + "/api/v1/query?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc struct {
		Status string
		Data   struct {
			Result []struct {
				Metric     map[string]string
				Values     [][2]any
				Histograms [][2]any
			}
		}
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Status != "success" {
		t.Fatalf("%s: %d %s (%v)", base, resp.StatusCode, body, err)
	}
	out := map[string][][2]string{}
	for _, r := range doc.Data.Result {
		key, _ := json.Marshal(r.Metric) // maps marshal with sorted keys
		var vs [][2]string
		for _, v := range r.Values {
			vs = append(vs, [2]string{fmt.Sprint(v[0]), fmt.Sprint(v[1])})
		}
		for _, h := range r.Histograms {
			vs = append(vs, [2]string{fmt.Sprint(h[0]), fmt.Sprint(h[1])}) // count, sum, buckets
		}
		out[string(key)] = vs
	}
	return out
}

// The OpenTelemetry Go SDK's OTLP/HTTP exporter pushes counters, gauges, up-down counters,
// explicit-bucket and exponential histograms, three rounds of identical payloads, to Vigil and
// to Prometheus 3.15: every series and every sample stored (floats and native histograms) must
// be the same (names with unit and type suffixes, job and instance from the service
// attributes, promoted resource attributes, scope labels, target_info). With
// convert_histograms_to_nhcb the explicit-bucket histograms are native histograms with custom
// buckets on both.
func TestOTLPSDKMatchesPrometheus(t *testing.T) {
	classic := []string{
		"http_server_request_duration_seconds_bucket", "http_server_request_duration_seconds_count", "http_server_request_duration_seconds_sum",
		"rpc_message_size_bytes_bucket", "rpc_message_size_bytes_count", "rpc_message_size_bytes_sum",
	}
	nhcb := []string{"http_server_request_duration_seconds", "rpc_message_size_bytes"}
	for _, tc := range []struct {
		name, config string
		histograms   []string
	}{
		{"classic", otlpConfig, classic},
		{"convert_histograms_to_nhcb", otlpConfig + "  convert_histograms_to_nhcb: true\n", nhcb},
	} {
		t.Run(tc.name, func(t *testing.T) { testOTLPSDKMatchesPrometheus(t, tc.config, tc.histograms) })
	}
}

func testOTLPSDKMatchesPrometheus(t *testing.T, otlpConfig string, histograms []string) {
	cfg := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(otlpConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	vigil := startServer(t, "--config.file="+cfg, "--web.enable-otlp-receiver")
	prom := startPrometheus3(t, otlpConfig)
	if prom == "" {
		t.Logf("%s is absent (built by ../shared/bench/peers.sh): checking Vigil alone, without the comparison", prometheus3Bin())
	}
	w := newOTLPWorkload(t)
	toVigil := otlpExporter(t, vigil)
	var toProm *otlpmetrichttp.Exporter
	if prom != "" {
		toProm = otlpExporter(t, prom)
	}
	for i := range 3 {
		w.round(i)
		rm := w.collect(t)
		if err := toVigil.Export(context.Background(), rm); err != nil {
			t.Fatalf("round %d: export to Vigil: %v", i, err)
		}
		if toProm != nil {
			if err := toProm.Export(context.Background(), rm); err != nil {
				t.Fatalf("round %d: export to Prometheus: %v", i, err)
			}
		}
		time.Sleep(20 * time.Millisecond) // distinct timestamps per round
	}
	at := time.Now()
	got := rawSamples(t, vigil, `{job="shop/checkout"}`, at)
	for k, v := range got {
		if !strings.Contains(k, "target_info") && len(v) != 3 {
			t.Errorf("series %s has %d samples in Vigil, want one per round: %v", k, len(v), v)
		}
	}
	// Without the peer, at least the names Prometheus's translation gives.
	var names []string
	for k := range got {
		var m map[string]string
		_ = json.Unmarshal([]byte(k), &m)
		if !slices.Contains(names, m["__name__"]) {
			names = append(names, m["__name__"])
		}
	}
	slices.Sort(names)
	wantNames := append([]string{
		"http_server_request_count_total",
		"http_server_response_body_size_bytes_total",
		"process_cpu_time_seconds_total",
		"queue_length",
		"room_temperature_celsius",
		"rpc_server_duration_milliseconds",
		"target_info",
	}, histograms...)
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Errorf("metric names stored by Vigil:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(wantNames, "\n"))
	}
	if prom == "" {
		t.Skipf("compared Vigil's names only: %s is absent (run ../shared/bench/peers.sh)", prometheus3Bin())
	}
	want := rawSamples(t, prom, `{job="shop/checkout"}`, at)
	if !reflect.DeepEqual(got, want) {
		for k, v := range want {
			if !reflect.DeepEqual(got[k], v) {
				t.Errorf("series %s:\n Vigil      %v\n Prometheus %v", k, got[k], v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("series %s only in Vigil: %v", k, v)
			}
		}
	}
	t.Logf("%d series, identical on Vigil and Prometheus 3.15", len(got))
}
