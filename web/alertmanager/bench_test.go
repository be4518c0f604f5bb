package alertmanager

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/routing"
)

// The intake benchmarks post the same payloads over loopback HTTP to Vigil's handler and, when
// Debian's Alertmanager is installed, to a prometheus-alertmanager process started for the run,
// so that the two figures come from one machine, one client and one moment.
//
//	go test -run '^$' -bench Intake -benchtime 5s ./web/alertmanager/

// benchConfig groups by instance so that every distinct alert is its own aggregation group,
// and sends nowhere so that only intake and dispatch are measured.
const benchConfig = `
route:
  receiver: void
  group_by: [alertname, instance]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
- name: void
`

const benchAlertSpace = 10000 // distinct alerts, and so active groups, the intake cycles over

// payloads pre-renders n POST bodies of batch alerts each, covering benchAlertSpace alerts.
func payloads(n, batch int) [][]byte {
	out := make([][]byte, n)
	k := 0
	for i := range out {
		var b bytes.Buffer
		b.WriteByte('[')
		for j := 0; j < batch; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"labels":{"alertname":"BenchAlert","instance":"host-%d:9100","job":"node","severity":"warning"},"annotations":{"summary":"load is high on host-%d"},"generatorURL":"http://prom:9090/graph"}`, k%benchAlertSpace, k%benchAlertSpace)
			k++
		}
		b.WriteByte(']')
		out[i] = b.Bytes()
	}
	return out
}

func startVigilAPI(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	cfg := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(cfg, []byte(benchConfig), 0o600); err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r, err := routing.New(routing.Options{ConfigFile: cfg, DataDir: filepath.Join(dir, "data"), Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Stop)
	h, err := New(r, nil, reg)
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v2/", h)
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	return srv.URL
}

// startAlertmanager runs Debian's Alertmanager with the same config, or returns "" if absent.
func startAlertmanager(b *testing.B) (string, int) {
	b.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		return "", 0
	}
	return startProcess(b, bin, func(cfg, dir, addr string) []string {
		return []string{"--config.file=" + cfg, "--storage.path=" + dir, "--web.listen-address=" + addr, "--cluster.listen-address=", "--log.level=error"}
	})
}

// floorAddrEnv makes the test binary serve the floor server instead of running tests.
const floorAddrEnv = "VIGIL_BENCH_FLOOR_ADDR"

func TestMain(m *testing.M) {
	if addr := os.Getenv(floorAddrEnv); addr != "" {
		serveFloor(addr)
		return
	}
	os.Exit(m.Run())
}

// serveFloor answers POST /api/v2/alerts with 200 after reading the body and nothing else: the
// cost of HTTP itself over the benchmark's loopback client, the floor under any server.
func serveFloor(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /api/v2/alerts", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	})
	fmt.Fprintln(os.Stderr, http.ListenAndServe(addr, mux))
	os.Exit(1)
}

// startFloor runs the floor server in a process of its own (this test binary, re-executed).
func startFloor(b *testing.B) (string, int) {
	b.Helper()
	return startProcessEnv(b, os.Args[0], func(_, _, addr string) ([]string, []string) {
		return []string{"-test.run=^$"}, []string{floorAddrEnv + "=" + addr}
	})
}

// startVigilProcess runs a vigil binary named by $VIGIL_BENCH_BIN, so that Vigil, like
// Alertmanager, serves from its own process and not from the benchmark's.
func startVigilProcess(b *testing.B) (string, int) {
	b.Helper()
	bin := os.Getenv("VIGIL_BENCH_BIN")
	if bin == "" {
		return "", 0
	}
	return startProcess(b, bin, func(cfg, dir, addr string) []string {
		return []string{"--alertmanager.config.file=" + cfg, "--storage.tsdb.path=" + dir, "--web.listen-address=" + addr, "--log.level=error"}
	})
}

func startProcess(b *testing.B, bin string, args func(cfg, dir, addr string) []string) (string, int) {
	return startProcessEnv(b, bin, func(cfg, dir, addr string) ([]string, []string) { return args(cfg, dir, addr), nil })
}

func startProcessEnv(b *testing.B, bin string, args func(cfg, dir, addr string) ([]string, []string)) (string, int) {
	dir := b.TempDir()
	cfg := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(cfg, []byte(benchConfig), 0o600); err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	argv, env := args(cfg, dir, addr)
	cmd := exec.Command(bin, argv...)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	u := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		if resp, err := http.Get(u + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s did not become ready", bin)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return u, cmd.Process.Pid
}

func benchIntake(b *testing.B, base string, batch int) {
	bodies := payloads(1024, batch)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	post := func(body []byte) time.Duration {
		start := time.Now()
		resp, err := client.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("POST /api/v2/alerts: %s", resp.Status)
		}
		return time.Since(start)
	}
	// Warm up: every alert exists, so every group is active, before measuring.
	for i := 0; i < benchAlertSpace/batch+1; i++ {
		post(bodies[i%len(bodies)])
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lat = append(lat, post(bodies[i%len(bodies)]))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "alerts/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkIntakeSaturated keeps 8 clients posting batches of 64 at once, to compare how many
// alerts each server takes when CPU, not round trips, is the limit. Only the out-of-process
// targets are meaningful here: an in-process server would share the client's CPU.
func BenchmarkIntakeSaturated(b *testing.B) {
	for _, tg := range []struct {
		name  string
		start func(*testing.B) (string, int)
	}{{"floor", startFloor}, {"vigil-process", startVigilProcess}, {"alertmanager", startAlertmanager}} {
		b.Run(tg.name+"/batch=64", func(b *testing.B) {
			u, _ := tg.start(b)
			if u == "" {
				b.Skip("binary not available: Debian prometheus-alertmanager, or $VIGIL_BENCH_BIN")
			}
			bodies := payloads(1024, 64)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			var next atomic.Int64
			b.SetParallelism(4) // 4 × GOMAXPROCS(2) = 8 clients
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					body := bodies[next.Add(1)%int64(len(bodies))]
					resp, err := client.Post(u+"/api/v2/alerts", "application/json", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}

// BenchmarkIntake posts batches of 1 and 64 alerts (POST /api/v2/alerts) with 10k groups active.
// "floor" is a server that only reads the body and answers 200, in its own process: what HTTP
// over this client costs, the bound under every server.
func BenchmarkIntake(b *testing.B) {
	targets := []struct {
		name  string
		start func(*testing.B) string
	}{
		{"vigil", startVigilAPI},
		{"floor", func(b *testing.B) string { u, _ := startFloor(b); return u }},
		{"vigil-process", func(b *testing.B) string { u, _ := startVigilProcess(b); return u }},
		{"alertmanager", func(b *testing.B) string { u, _ := startAlertmanager(b); return u }},
	}
	for _, tg := range targets {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/batch=%d", tg.name, batch), func(b *testing.B) {
				u := tg.start(b)
				if u == "" {
					b.Skip("binary not available: Debian prometheus-alertmanager, or $VIGIL_BENCH_BIN for vigil-process")
				}
				benchIntake(b, u, batch)
			})
		}
	}
}

// BenchmarkMemoryPerAlert reports the memory each active alert costs as the delta of Go heap in
// use over 10k alerts: in-process Vigil's after a GC; the processes' (Vigil's and
// Alertmanager's) from their go_memstats_heap_inuse_bytes (no GC forced there, so it includes
// garbage) and their resident-set delta.
func BenchmarkMemoryPerAlert(b *testing.B) {
	const n = benchAlertSpace
	postAll := func(base string) {
		for _, body := range payloads(n/64+1, 64) {
			resp, err := http.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	b.Run("vigil", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			u := startVigilAPI(b)
			before := heapInuse()
			postAll(u)
			time.Sleep(500 * time.Millisecond) // let the dispatcher create the groups
			b.ReportMetric(float64(heapInuse()-before)/n, "bytes/alert")
		}
	})
	b.Run("vigil-process", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			u, pid := startVigilProcess(b)
			if u == "" {
				b.Skip("$VIGIL_BENCH_BIN not set")
			}
			rssBefore, heapBefore := rss(b, pid), remoteHeapInuse(b, u)
			postAll(u)
			time.Sleep(500 * time.Millisecond)
			b.ReportMetric(float64(remoteHeapInuse(b, u)-heapBefore)/n, "bytes/alert")
			b.ReportMetric(float64(rss(b, pid)-rssBefore)/n, "rss-bytes/alert")
		}
	})
	b.Run("alertmanager", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			u, pid := startAlertmanager(b)
			if u == "" {
				b.Skip("prometheus-alertmanager not installed")
			}
			rssBefore, heapBefore := rss(b, pid), remoteHeapInuse(b, u)
			postAll(u)
			time.Sleep(500 * time.Millisecond)
			b.ReportMetric(float64(remoteHeapInuse(b, u)-heapBefore)/n, "bytes/alert")
			b.ReportMetric(float64(rss(b, pid)-rssBefore)/n, "rss-bytes/alert")
		}
	})
}

func heapInuse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

func remoteHeapInuse(b *testing.B, base string) int64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			return int64(f)
		}
	}
	b.Fatal("no go_memstats_heap_inuse_bytes")
	return 0
}

func rss(b *testing.B, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb * 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
