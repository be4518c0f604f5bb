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
// an empty data directory, and reports each server process's CPU (user+system from
// /proc/PID/stat, from the first timed request to the last, background work included) per
// sample, and their ratio. The machine is shared, so the two are measured in turns of
// benchTurn requests per sender, alternating, both running all along: a busy spell of the
// machine falls on both alike. Vigil is the binary named by $VIGIL_BENCH_BIN; Prometheus is
// /tmp/peers/prometheus3 (../shared/bench/peers.sh) or $VIGIL_PEER_PROMETHEUS3. b.N is the
// number of requests each server receives (-benchtime=Nx); every run starts fresh servers.
func BenchmarkOTLPIntake(b *testing.B) {
	peer := os.Getenv("VIGIL_PEER_PROMETHEUS3")
	if peer == "" {
		peer = "/tmp/peers/prometheus3"
	}
	vigilBin := os.Getenv("VIGIL_BENCH_BIN")
	if vigilBin == "" {
		b.Skip("VIGIL_BENCH_BIN is not set: build vigil (go build -o bin/vigil ./cmd/server) and name the binary")
	}
	if _, err := os.Stat(peer); err != nil {
		b.Skipf("%s is absent: run ../shared/bench/peers.sh", peer)
	}
	servers := []*intakeServer{startIntakeServer(b, "vigil", vigilBin), startIntakeServer(b, "prometheus3", peer)}
	perSender := max(1, b.N/benchSenders)
	const warm = 20
	turns := (perSender + benchTurn - 1) / benchTurn
	t0 := time.Now().Add(-time.Duration(warm+turns*benchTurn+1) * time.Second)
	for _, srv := range servers {
		srv.send(b, 0, warm, t0) // series created, pools and caches warm
	}
	for _, srv := range servers {
		srv.profile(b)
		srv.cpu0 = benchProcCPU(b, srv.pid)
	}
	b.ResetTimer()
	for turn := range turns {
		from := warm + turn*benchTurn
		for _, srv := range servers {
			srv.send(b, from, min(from+benchTurn, warm+perSender), t0)
		}
	}
	b.StopTimer()
	samples := float64(perSender * benchSenders * benchSamplesPerReq)
	var perSample [2]float64
	for i, srv := range servers {
		cpu := benchProcCPU(b, srv.pid) - srv.cpu0
		srv.waitProfile()
		perSample[i] = float64(cpu.Nanoseconds()) / samples
		b.ReportMetric(perSample[i], srv.name+"-cpu-ns/sample")
	}
	b.ReportMetric(perSample[0]/perSample[1], "cpu-ratio")
	b.ReportMetric(samples, "samples/server")
}

const (
	benchSenders = 4
	benchTurn    = 25 // requests per sender in one server's turn
)

type intakeServer struct {
	name, base string
	pid        int
	client     *http.Client
	cpu0       time.Duration
	profiled   chan struct{}
}

func startIntakeServer(b *testing.B, name, bin string) *intakeServer {
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
	return &intakeServer{name: name, base: base, pid: cmd.Process.Pid,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchSenders}}}
}

// send posts requests [from, to) of every sender, the senders at once. Bodies are built
// before each request by the client (its CPU is not the server's).
func (s *intakeServer) send(b *testing.B, from, to int, t0 time.Time) {
	errs := make(chan error, benchSenders)
	for sender := range benchSenders {
		go func() {
			for i := from; i < to; i++ {
				req, _ := http.NewRequest(http.MethodPost, s.base+"/api/v1/otlp/v1/metrics", bytes.NewReader(benchOTLPBody(b, sender, i, t0)))
				req.Header.Set("Content-Type", otlpProtobuf)
				req.Header.Set("Content-Encoding", "gzip")
				resp, err := s.client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("%s: %d %s", s.name, resp.StatusCode, strings.TrimSpace(string(body)))
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

// profile starts, with VIGIL_BENCH_PPROF=dir, a 10s CPU profile of the server (both serve
// /debug/pprof), saved as dir/<server>.pprof.
func (s *intakeServer) profile(b *testing.B) {
	s.profiled = make(chan struct{})
	dir := os.Getenv("VIGIL_BENCH_PPROF")
	if dir == "" {
		close(s.profiled)
		return
	}
	go func() {
		defer close(s.profiled)
		resp, err := http.Get(s.base + "/debug/pprof/profile?seconds=10")
		if err != nil {
			b.Error(err)
			return
		}
		defer resp.Body.Close()
		prof, _ := io.ReadAll(resp.Body)
		if err := os.WriteFile(filepath.Join(dir, s.name+".pprof"), prof, 0o644); err != nil {
			b.Error(err)
		}
	}()
}

func (s *intakeServer) waitProfile() { <-s.profiled }

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
