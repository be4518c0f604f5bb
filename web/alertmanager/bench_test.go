package alertmanager

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

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
	return serveAPI(b, h).URL
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

// The credentials of the benchmark's basic auth (--web.config.file), the password hashed with
// bcrypt at its default cost, as htpasswd and Prometheus's documentation make it.
const benchUser, benchPass = "prometheus", "bench-password"

// writeWebConfig writes a web config with basic auth for benchUser into dir.
func writeWebConfig(b *testing.B, dir string) string {
	b.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPass), bcrypt.DefaultCost)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(path, fmt.Appendf(nil, "basic_auth_users:\n  %s: %s\n", benchUser, hash), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// startAlertmanagerAuth is startAlertmanager with basic auth (Alertmanager's --web.config.file,
// exporter-toolkit's as Vigil's).
func startAlertmanagerAuth(b *testing.B) (string, int) {
	b.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		return "", 0
	}
	return startProcess(b, bin, func(cfg, dir, addr string) []string {
		return []string{"--config.file=" + cfg, "--storage.path=" + dir, "--web.listen-address=" + addr, "--cluster.listen-address=", "--log.level=error", "--web.config.file=" + writeWebConfig(b, dir)}
	})
}

// floorAddrEnv makes the test binary serve a floor server instead of running tests.
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: mux}
	fmt.Fprintln(os.Stderr, srv.Serve(ln))
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

// startVigilProcessAuth is startVigilProcess with basic auth.
func startVigilProcessAuth(b *testing.B) (string, int) {
	b.Helper()
	bin := os.Getenv("VIGIL_BENCH_BIN")
	if bin == "" {
		return "", 0
	}
	return startProcess(b, bin, func(cfg, dir, addr string) []string {
		return []string{"--alertmanager.config.file=" + cfg, "--storage.tsdb.path=" + dir, "--web.listen-address=" + addr, "--log.level=error", "--web.config.file=" + writeWebConfig(b, dir)}
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
	ready, _ := http.NewRequest(http.MethodGet, u+"/-/ready", nil)
	ready.SetBasicAuth(benchUser, benchPass) // ignored by a server without basic auth
	for deadline := time.Now().Add(20 * time.Second); ; {
		if resp, err := http.DefaultClient.Do(ready); err == nil {
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
	bodies := payloads(max(1024, benchAlertSpace/batch+1), batch) // the loop cycles over every alert
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

// BenchmarkIntakeSaturated keeps satConns connections posting at once, to compare how many
// alerts each server takes when the server's CPU, not round trips or the client, is the limit.
// The client is lean so that it leaves the CPU to the server: raw keep-alive HTTP/1.1 over
// loopback TCP, requests serialised once before the timer starts, responses read only as far
// as HTTP needs (status line, headers, Content-Length body), one request in flight per
// connection as real senders do. Besides alerts/s and p99 it reports the server process's CPU
// (user+system, /proc/PID/stat) per 1,000 alerts, which does not depend on how the two cores
// are shared with the client, and the client's own. Only the out-of-process targets are
// meaningful here: an in-process server would share the client's process.
func BenchmarkIntakeSaturated(b *testing.B) { benchLean(b, satConns) }

// BenchmarkIntakeRoundTrip is the lean client on one connection: one request at a time, so
// that its latencies are the servers' round trips with as little of the client in them as it
// can (the serial client of BenchmarkIntake is Go's net/http client, a Prometheus's).
func BenchmarkIntakeRoundTrip(b *testing.B) { benchLean(b, 1) }

func benchLean(b *testing.B, conns int) {
	for _, tg := range []struct {
		name  string
		start func(*testing.B) (string, int)
		auth  bool // the requests carry basic auth credentials
	}{
		{"floor", startFloor, false},
		{"vigil-process", startVigilProcess, false},
		{"vigil-process-auth", startVigilProcessAuth, true},
		{"alertmanager", startAlertmanager, false},
		{"alertmanager-auth", startAlertmanagerAuth, true},
	} {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/batch=%d", tg.name, batch), func(b *testing.B) {
				u, pid := tg.start(b)
				if u == "" {
					b.Skip("binary not available: Debian prometheus-alertmanager, or $VIGIL_BENCH_BIN")
				}
				benchLeanClient(b, strings.TrimPrefix(u, "http://"), pid, batch, conns, tg.auth)
			})
		}
	}
}

const satConns = 16 // connections posting at once in BenchmarkIntakeSaturated

// pinEnv (VIGIL_BENCH_PIN=1) makes BenchmarkIntakeSaturated run the server on core 0 and the
// client on core 1, so that the server's throughput on one core is measured, not what the two
// share; it needs two cores and taskset (util-linux).
const pinEnv = "VIGIL_BENCH_PIN"

// pin moves every thread of the server and of this process to a core of its own until the
// benchmark ends.
func pin(b *testing.B, pid int) {
	b.Helper()
	if runtime.NumCPU() < 2 {
		b.Skip(pinEnv + " needs two cores")
	}
	set := func(cores string, pid int) {
		if out, err := exec.Command("taskset", "-a", "-p", "-c", cores, strconv.Itoa(pid)).CombinedOutput(); err != nil {
			b.Fatalf("taskset: %v: %s", err, out)
		}
	}
	set("0", pid)
	set("1", os.Getpid())
	b.Cleanup(func() { set(fmt.Sprintf("0-%d", runtime.NumCPU()-1), os.Getpid()) })
}

func benchLeanClient(b *testing.B, addr string, pid, batch, nconns int, auth bool) {
	if os.Getenv(pinEnv) != "" {
		pin(b, pid)
	}
	// Enough distinct bodies that the timed loop, like the warm-up, cycles over every alert.
	bodies := payloads(max(1024, benchAlertSpace/batch+1), batch)
	reqs := make([][]byte, len(bodies))
	for i, body := range bodies {
		authHeader := ""
		if auth {
			authHeader = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(benchUser+":"+benchPass)) + "\r\n"
		}
		reqs[i] = fmt.Appendf(nil, "POST /api/v2/alerts HTTP/1.1\r\nHost: %s\r\nUser-Agent: vigil-bench\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, authHeader, len(body), body)
	}
	conns := make([]*rawConn, nconns)
	for i := range conns {
		c, err := dialRaw(addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	// run sends requests next.Add(1)-1 while it is below n, on every connection at once.
	run := func(n int64, lat [][]time.Duration) {
		var next atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Bool
		for ci, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= n || failed.Load() {
						return
					}
					start := time.Now()
					if err := c.roundTrip(reqs[i%int64(len(reqs))]); err != nil {
						failed.Store(true)
						b.Error(err)
						return
					}
					if lat != nil {
						lat[ci] = append(lat[ci], time.Since(start))
					}
				}
			}()
		}
		wg.Wait()
		if failed.Load() {
			b.FailNow()
		}
	}
	// Warm up: every alert exists, so every group is active, before measuring.
	run(int64(benchAlertSpace/batch+1), nil)
	lat := make([][]time.Duration, len(conns))
	for i := range lat {
		lat[i] = make([]time.Duration, 0, b.N/len(conns)+1)
	}
	cpu0, self0, busy0 := procCPU(b, pid), selfCPU(), machineBusy(b)
	b.ResetTimer()
	run(int64(b.N), lat)
	b.StopTimer()
	cpu, self, busy := procCPU(b, pid)-cpu0, selfCPU()-self0, machineBusy(b)-busy0
	all := slices.Concat(lat...)
	slices.Sort(all)
	alerts := float64(b.N * batch)
	b.ReportMetric(alerts/b.Elapsed().Seconds(), "alerts/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(cpu.Seconds()/alerts*1000, "server-cpu-s/1k")
	b.ReportMetric(self.Seconds()/alerts*1000, "client-cpu-s/1k")
	// Cores busy outside the server and the client: interrupts (loopback), and anything else
	// running on the machine, which would make this run's alerts/s and p99 unfair.
	b.ReportMetric(max(0, (busy-cpu-self).Seconds())/b.Elapsed().Seconds(), "other-busy-cores")
}

// rawConn is one keep-alive HTTP/1.1 connection of the lean benchmark client.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(addr string) (*rawConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &rawConn{Conn: c, r: bufio.NewReaderSize(c, 4096)}, nil
}

// roundTrip writes one pre-serialised request and reads its response: the status must be 200,
// the body is delimited by Content-Length (the servers answer so), and the connection must stay
// open for the next request.
func (c *rawConn) roundTrip(req []byte) error {
	if _, err := c.Write(req); err != nil {
		return err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("POST /api/v2/alerts: %q", bytes.TrimSpace(line))
	}
	length := int64(-1)
	for {
		line, err = c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 { // "\r\n": end of the headers
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return fmt.Errorf("malformed header %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil {
				return fmt.Errorf("Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return fmt.Errorf("Transfer-Encoding %q not supported by the benchmark client", value)
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			return fmt.Errorf("server closes the connection")
		}
	}
	if length < 0 {
		return fmt.Errorf("response without Content-Length")
	}
	_, err = c.r.Discard(int(length))
	return err
}

// procCPU is the user+system CPU time process pid has used, from /proc/PID/stat.
func procCPU(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name, field 2, is in parentheses and may hold spaces: count after it.
	i := bytes.LastIndexByte(stat, ')')
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, stat)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime: fields 14 and 15 of the whole line
		t, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		ticks += t
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

const clockTicks = 100 // USER_HZ, the unit of /proc/PID/stat's times on Linux

// machineBusy is the CPU time all cores have spent not idle, from /proc/stat.
func machineBusy(b *testing.B) time.Duration {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(fields) < 9 || fields[0] != "cpu" {
		b.Fatalf("/proc/stat: %q", line)
	}
	var ticks int64
	for i, f := range fields[1:9] {
		if i == 3 || i == 4 || i == 7 { // idle, iowait, steal
			continue
		}
		t, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		ticks += t
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// selfCPU is the CPU time of this process, the benchmark's client.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
	for _, tg := range []struct {
		name  string
		start func(*testing.B) (string, int)
	}{{"vigil-process", startVigilProcess}, {"alertmanager", startAlertmanager}} {
		b.Run(tg.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				u, pid := tg.start(b)
				if u == "" {
					b.Skip("binary not available: Debian prometheus-alertmanager, or $VIGIL_BENCH_BIN")
				}
				rssBefore, heapBefore := rss(b, pid), remoteHeapInuse(b, u)
				postAll(u)
				time.Sleep(500 * time.Millisecond) // let the dispatcher create the groups
				b.ReportMetric(float64(remoteHeapInuse(b, u)-heapBefore)/n, "bytes/alert")
				b.ReportMetric(float64(rss(b, pid)-rssBefore)/n, "rss-bytes/alert")
			}
		})
	}
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
