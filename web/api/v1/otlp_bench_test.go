package v1

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// The benchmark payload: one resource (a service instance of its own per sender), one scope,
// 50 gauges and 50 monotonic counters with 5 series each, and 10 explicit-bucket histograms
// (8 bounds) with 5 series each: 250 + 250 + 10*5*11 = 1050 samples, plus target_info.
const (
	benchSeriesPerMetric = 5
	benchGauges          = 50
	benchCounters        = 50
	benchHistograms      = 10
	benchSamplesPerReq   = benchSeriesPerMetric*(benchGauges+benchCounters) + benchSeriesPerMetric*benchHistograms*11 + 1
)

// benchOTLPBody is request i of sender s: the same for every server, timestamps one second
// apart from t0, protobuf and gzip as the OpenTelemetry SDK's exporter sends them.
func benchOTLPBody(tb testing.TB, s, i int, t0 time.Time) []byte {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	ra := rm.Resource().Attributes()
	ra.PutStr("service.name", "bench")
	ra.PutStr("service.instance.id", "sender-"+strconv.Itoa(s))
	ra.PutStr("k8s.pod.name", "bench-"+strconv.Itoa(s))
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("vigil.bench")
	ms := sm.Metrics()
	ts := pcommon.NewTimestampFromTime(t0.Add(time.Duration(i) * time.Second))
	st := pcommon.NewTimestampFromTime(t0.Add(-time.Hour))
	for g := range benchGauges {
		m := ms.AppendEmpty()
		m.SetName(fmt.Sprintf("bench.gauge.%d", g))
		m.SetUnit("By")
		dps := m.SetEmptyGauge().DataPoints()
		for k := range benchSeriesPerMetric {
			dp := dps.AppendEmpty()
			dp.SetTimestamp(ts)
			dp.SetDoubleValue(float64((i*7 + g + k) % 100))
			dp.Attributes().PutStr("series.id", strconv.Itoa(k))
			dp.Attributes().PutStr("http.route", "/api/v1/items")
		}
	}
	for c := range benchCounters {
		m := ms.AppendEmpty()
		m.SetName(fmt.Sprintf("bench.requests.%d", c))
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for k := range benchSeriesPerMetric {
			dp := sum.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(st)
			dp.SetTimestamp(ts)
			dp.SetIntValue(int64(i*(c+1) + k))
			dp.Attributes().PutStr("series.id", strconv.Itoa(k))
			dp.Attributes().PutStr("http.route", "/api/v1/items")
		}
	}
	for h := range benchHistograms {
		m := ms.AppendEmpty()
		m.SetName(fmt.Sprintf("bench.duration.%d", h))
		m.SetUnit("s")
		hist := m.SetEmptyHistogram()
		hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for k := range benchSeriesPerMetric {
			dp := hist.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(st)
			dp.SetTimestamp(ts)
			dp.ExplicitBounds().FromRaw([]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1})
			counts := make([]uint64, 9)
			var total uint64
			for b := range counts {
				counts[b] = uint64(i + b + k)
				total += counts[b]
			}
			dp.BucketCounts().FromRaw(counts)
			dp.SetCount(total)
			dp.SetSum(float64(total) * 0.1)
			dp.Attributes().PutStr("series.id", strconv.Itoa(k))
		}
	}
	return gzipped(tb, otlpProto(tb, md))
}

// BenchmarkOTLPWrite is the receiver in process (handler, translator, head appends), per
// request of benchSamplesPerReq samples, for profiles and allocations.
func BenchmarkOTLPWrite(b *testing.B) {
	db := newTestDB(b)
	a := New(Options{Appendable: db, Queryable: db, EnableOTLP: true})
	t0 := time.Now().Add(-time.Hour)
	bodies := make([][]byte, 512)
	for i := range bodies {
		bodies[i] = benchOTLPBody(b, 0, i, t0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%len(bodies) == 0 {
			// Fresh timestamps for the next cycle, outside the timer.
			b.StopTimer()
			for j := range bodies {
				bodies[j] = benchOTLPBody(b, 0, i+j, t0)
			}
			b.StartTimer()
		}
		req := httptest.NewRequest(http.MethodPost, "/api/v1/otlp/v1/metrics", bytes.NewReader(bodies[i%len(bodies)]))
		req.Header.Set("Content-Type", otlpProtobuf)
		req.Header.Set("Content-Encoding", "gzip")
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSamplesPerReq), "ns/sample")
}

// BenchmarkOTLPIntake sends identical OTLP requests (protobuf + gzip, benchSamplesPerReq
// samples each, from benchSenders senders with a service instance each, one request in flight
// per sender, as exporters send) to Vigil and to Prometheus 3.15, each in its own process with
// an empty data directory, and reports the server process's CPU (user+system from
// /proc/PID/stat) per sample. Vigil is the binary named by $VIGIL_BENCH_BIN; Prometheus is
// /tmp/peers/prometheus3 (../shared/bench/peers.sh) or $VIGIL_PEER_PROMETHEUS3. Run with
// -benchtime=Nx (N requests): every run starts a fresh server.
func BenchmarkOTLPIntake(b *testing.B) {
	peer := os.Getenv("VIGIL_PEER_PROMETHEUS3")
	if peer == "" {
		peer = "/tmp/peers/prometheus3"
	}
	for _, srv := range []struct{ name, bin string }{
		{"vigil", os.Getenv("VIGIL_BENCH_BIN")},
		{"prometheus3", peer},
	} {
		b.Run(srv.name, func(b *testing.B) {
			if srv.bin == "" {
				b.Skip("VIGIL_BENCH_BIN is not set: build vigil and name the binary")
			}
			if _, err := os.Stat(srv.bin); err != nil {
				b.Skipf("%s is absent: run ../shared/bench/peers.sh", srv.bin)
			}
			benchIntakeProcess(b, srv.name, srv.bin)
		})
	}
}

const benchSenders = 4

func benchIntakeProcess(b *testing.B, name, bin string) {
	dir := b.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 15s\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.enable-otlp-receiver", "--log.level=error")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s did not become ready", bin)
		}
	}
	// Bodies are built before the timer, the same for both servers: timestamps one second
	// apart ending now.
	perSender := b.N/benchSenders + 1
	warm := 20
	t0 := time.Now().Add(-time.Duration(perSender+warm+1) * time.Second)
	bodies := make([][][]byte, benchSenders)
	for s := range bodies {
		bodies[s] = make([][]byte, perSender+warm)
		for i := range bodies[s] {
			bodies[s][i] = benchOTLPBody(b, s, i, t0)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchSenders}}
	send := func(from, to int) {
		errs := make(chan error, benchSenders)
		for s := range benchSenders {
			go func() {
				for i := from; i < to; i++ {
					req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/otlp/v1/metrics", bytes.NewReader(bodies[s][i]))
					req.Header.Set("Content-Type", otlpProtobuf)
					req.Header.Set("Content-Encoding", "gzip")
					resp, err := client.Do(req)
					if err != nil {
						errs <- err
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						errs <- fmt.Errorf("%s: %d %s", name, resp.StatusCode, strings.TrimSpace(string(body)))
						return
					}
				}
				errs <- nil
			}()
		}
		for range benchSenders {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
	send(0, warm) // series created, pools and caches warm
	cpu0 := benchProcCPU(b, cmd.Process.Pid)
	b.ResetTimer()
	send(warm, warm+perSender)
	b.StopTimer()
	cpu := benchProcCPU(b, cmd.Process.Pid) - cpu0
	samples := float64(perSender * benchSenders * benchSamplesPerReq)
	b.ReportMetric(float64(cpu.Nanoseconds())/samples, "server-cpu-ns/sample")
	b.ReportMetric(samples/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(samples, "samples")
}

// benchProcCPU is the user+system CPU time process pid has used, from /proc/PID/stat (in
// USER_HZ ticks, 100 per second on Linux).
func benchProcCPU(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name, field 2, is in parentheses and may hold spaces: count after it.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, stat)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime
		t, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		ticks += t
	}
	return time.Duration(ticks) * (time.Second / 100)
}
