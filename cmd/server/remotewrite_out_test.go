package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// Remote write out against real receivers: Debian's Prometheus 2.42 (make test), and
// VictoriaMetrics and Prometheus 3.15 from ../shared/bench/peers.sh (/tmp/peers) when built.

// rwTarget serves n series whose values change every scrape; stop makes it fail (Vigil then
// writes staleness markers and stops adding samples).
type rwTarget struct {
	srv     *httptest.Server
	scrapes atomic.Int64
	down    atomic.Bool
}

func newRWTarget(t *testing.T, n int) *rwTarget {
	t.Helper()
	tg := &rwTarget{}
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tg.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		k := tg.scrapes.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "# HELP rw_e2e_value A value for the remote-write test.")
		fmt.Fprintln(w, "# TYPE rw_e2e_value gauge")
		for i := range n {
			fmt.Fprintf(w, "rw_e2e_value{series=\"%d\"} %d.5\n", i, k*int64(n)+int64(i))
		}
	}))
	t.Cleanup(tg.srv.Close)
	return tg
}

// peer is a receiver process that can be stopped and started again on the same address and
// data directory.
type peer struct {
	t        *testing.T
	name     string
	bin      string
	args     []string
	addr     string
	writeURL string
	env      []string
	cmd      *exec.Cmd
	out      *bytes.Buffer
}

func (p *peer) start() {
	p.t.Helper()
	p.out = &bytes.Buffer{}
	p.cmd = exec.Command(p.bin, p.args...)
	if p.env != nil {
		p.cmd.Env = append(os.Environ(), p.env...)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	waitUntil(p.t, p.name+" ready", func() bool {
		resp, err := http.Get("http://" + p.addr + "/api/v1/query?query=1")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (p *peer) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

func newPrometheusPeer(t *testing.T, name, bin string, extra ...string) *peer {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := &peer{t: t, name: name, bin: bin, addr: addr, writeURL: "http://" + addr + "/api/v1/write",
		args: append([]string{"--config.file=" + cfg, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr, "--web.enable-remote-write-receiver"}, extra...)}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output:\n%.3000s", name, p.out)
		}
	})
	return p
}

func newVictoriaPeer(t *testing.T) *peer {
	bin := "/tmp/peers/victoria-metrics"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s not found: build it with ../shared/bench/peers.sh (log /tmp/peers.log)", bin)
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	p := &peer{t: t, name: "victoria-metrics", bin: bin, addr: addr, writeURL: "http://" + addr + "/api/v1/write",
		args: []string{"-httpListenAddr=" + addr, "-storageDataPath=" + dir, "-retentionPeriod=100y",
			"-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR"}}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("victoria-metrics output:\n%.3000s", p.out)
		}
	})
	return p
}

// rwVigil is a Vigil in a process of its own (so that it can be killed with SIGKILL) scraping
// the target every 500ms and remote-writing to the receiver.
type rwVigil struct {
	t      *testing.T
	dir    string
	args   []string
	addr   string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

func newRWVigil(t *testing.T, target, writeURL, protobufMessage string) *rwVigil {
	t.Helper()
	return newRWVigilConfig(t, fmt.Sprintf(`global:
  scrape_interval: 500ms
  scrape_timeout: 500ms
scrape_configs:
  - job_name: rw
    static_configs: [{targets: [%q]}]
remote_write:
  - url: %s
    name: peer
    protobuf_message: %s
    queue_config: {batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 500ms, max_samples_per_send: 500}
    metadata_config: {send_interval: 2s}
`, strings.TrimPrefix(target, "http://"), writeURL, protobufMessage))
}

// newRWVigilConfig is a Vigil with the given configuration file (one remote_write named peer).
func newRWVigilConfig(t *testing.T, yml string) *rwVigil {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	v := &rwVigil{t: t, dir: dir, addr: freeAddr(t)}
	v.args = []string{"--storage.tsdb.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + v.addr,
		"--config.file=" + cfg, "--web.enable-lifecycle", "--storage.remote.flush-deadline=2s"}
	t.Cleanup(func() {
		v.kill()
		if t.Failed() {
			t.Logf("vigil stderr:\n%.6000s", v.stderr)
		}
	})
	return v
}

func (v *rwVigil) base() string { return "http://" + v.addr }

func (v *rwVigil) start() {
	v.t.Helper()
	args, _ := json.Marshal(v.args)
	v.cmd = exec.Command(os.Args[0], "-test.run=^$")
	v.cmd.Env = append(os.Environ(), childArgsEnv+"="+string(args))
	if v.stderr == nil {
		v.stderr = &bytes.Buffer{}
	}
	v.cmd.Stderr = v.stderr
	if err := v.cmd.Start(); err != nil {
		v.t.Fatal(err)
	}
	waitUntil(v.t, "vigil ready", func() bool {
		resp, err := http.Get(v.base() + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (v *rwVigil) kill() {
	if v.cmd == nil {
		return
	}
	_ = v.cmd.Process.Kill()
	_ = v.cmd.Wait()
	v.cmd = nil
}

func (v *rwVigil) quit() {
	if resp, err := http.Post(v.base()+"/-/quit", "", nil); err == nil {
		resp.Body.Close()
	}
	done := make(chan struct{})
	go func() { _ = v.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		v.t.Error("vigil did not quit")
		_ = v.cmd.Process.Kill()
		<-done
	}
	v.cmd = nil
}

// queueStatus reads /api/v1/status/remote_write.
func (v *rwVigil) queueStatus() map[string]any {
	resp, err := http.Get(v.base() + "/api/v1/status/remote_write")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var r struct {
		Data []map[string]any `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data) != 1 {
		return nil
	}
	return r.Data[0]
}

// drained waits until the queue has read everything and holds nothing unsent.
func (v *rwVigil) drained() {
	v.t.Helper()
	stable := 0
	waitUntilFor(v.t, 60*time.Second, "remote write queue drained", func() bool {
		st := v.queueStatus()
		if st == nil {
			return false
		}
		if st["samplesPending"].(float64) == 0 && st["readOffset"] == st["committedOffset"] && st["readSegment"] == st["committedSegment"] {
			stable++
		} else {
			stable = 0
		}
		return stable >= 3
	})
}

func waitUntilFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// instantQuery returns a query's vector as sorted "labels value" lines.
func instantQuery(t *testing.T, base, q string, at time.Time) []string {
	t.Helper()
	u := base + "/api/v1/query?query=" + url.QueryEscape(q) + "&time=" + fmt.Sprintf("%.3f", float64(at.UnixMilli())/1000)
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("query %s at %s: %v %s", q, base, err, body)
	}
	var res []string
	for _, s := range r.Data.Result {
		keys := make([]string, 0, len(s.Metric))
		for k := range s.Metric {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%q,", k, s.Metric[k])
		}
		res = append(res, fmt.Sprintf("{%s} %v", b.String(), s.Value[1]))
	}
	sort.Strings(res)
	return res
}

// compareHoldings checks that the receiver holds, for every series of job "rw", the same number
// of samples and the same sum as Vigil, over the whole test.
func compareHoldings(t *testing.T, vigil, recv string) {
	t.Helper()
	at := time.Now()
	resp, err := http.Get(vigil + "/api/v1/label/__name__/values?match[]=" + url.QueryEscape(`{job="rw"}`))
	if err != nil {
		t.Fatal(err)
	}
	var names struct {
		Data []string `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&names)
	resp.Body.Close()
	if err != nil || len(names.Data) < 3 {
		t.Fatalf("metric names of job rw: %v %v", names.Data, err)
	}
	// Receivers make what they received searchable asynchronously (VictoriaMetrics flushes its
	// in-memory parts every few seconds): compare until equal, for up to 20 s.
	deadline := time.Now().Add(20 * time.Second)
	for _, name := range names.Data {
		for _, f := range []string{"count_over_time", "sum_over_time"} {
			q := fmt.Sprintf(`%s(%s{job="rw"}[1h])`, f, name)
			want := instantQuery(t, vigil, q, at)
			if len(want) == 0 {
				t.Fatalf("Vigil has nothing for %s", q)
			}
			got := instantQuery(t, recv, q, at)
			for !sameVector(got, want) && time.Now().Before(deadline) {
				time.Sleep(500 * time.Millisecond)
				got = instantQuery(t, recv, q, at)
			}
			if !sameVector(got, want) {
				t.Errorf("%s differs:\nVigil:\n%s\nreceiver:\n%s", q, strings.Join(want, "\n"), strings.Join(got, "\n"))
			}
		}
	}
}

// sameVector compares instantQuery results: labels exactly, values within 1e-12 relative (sums
// of floats differ in the last bit between engines: VictoriaMetrics stores floats as decimals).
func sameVector(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		la, va, _ := strings.Cut(a[i], "} ")
		lb, vb, _ := strings.Cut(b[i], "} ")
		if la != lb {
			return false
		}
		x, errx := strconv.ParseFloat(va, 64)
		y, erry := strconv.ParseFloat(vb, 64)
		if errx != nil || erry != nil {
			if va != vb {
				return false
			}
			continue
		}
		if x != y && math.Abs(x-y) > 1e-12*math.Max(math.Abs(x), math.Abs(y)) {
			return false
		}
	}
	return true
}

type rwScenario struct {
	outage     time.Duration // receiver stopped for this long (0: no outage)
	killVigil  bool          // SIGKILL Vigil during the outage and start it again
	protobuf   string
	scrapeTime time.Duration
}

// runRWScenario scrapes for a while into Vigil, which remote-writes to p; optionally stops the
// receiver (and kills Vigil) in the middle; then stops the target and checks that the receiver
// holds exactly what Vigil holds.
func runRWScenario(t *testing.T, p *peer, sc rwScenario) {
	target := newRWTarget(t, 20)
	p.start()
	v := newRWVigil(t, target.srv.URL, p.writeURL, sc.protobuf)
	v.start()
	waitUntil(t, "first scrapes", func() bool { return target.scrapes.Load() >= 3 })
	time.Sleep(sc.scrapeTime / 2)
	if sc.outage > 0 {
		p.stop()
		time.Sleep(sc.outage / 2)
		if sc.killVigil {
			v.kill()
			v.start()
		}
		time.Sleep(sc.outage / 2)
		st := v.queueStatus()
		if st == nil || st["samplesRetried"].(float64) == 0 && !sc.killVigil {
			t.Errorf("no retries counted during the outage: %v", st)
		}
		p.start()
	}
	time.Sleep(sc.scrapeTime / 2)
	target.down.Store(true)
	time.Sleep(time.Second) // staleness markers
	v.drained()
	time.Sleep(500 * time.Millisecond) // receivers make appends visible asynchronously
	compareHoldings(t, v.base(), "http://"+p.addr)
	v.quit()
}

func TestRemoteWritePrometheus242(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Vigil and Prometheus")
	}
	prom := requireTool(t, "prometheus", "prometheus")
	for _, sc := range []struct {
		name string
		rwScenario
	}{
		{"steady", rwScenario{scrapeTime: 6 * time.Second}},
		{"receiver outage", rwScenario{scrapeTime: 4 * time.Second, outage: 8 * time.Second}},
		{"receiver outage and vigil killed", rwScenario{scrapeTime: 4 * time.Second, outage: 8 * time.Second, killVigil: true}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			sc.protobuf = "prometheus.WriteRequest"
			runRWScenario(t, newPrometheusPeer(t, "prometheus 2.42", prom), sc.rwScenario)
		})
	}
}

func TestRemoteWriteVictoriaMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Vigil and VictoriaMetrics")
	}
	for _, sc := range []struct {
		name string
		rwScenario
	}{
		{"steady", rwScenario{scrapeTime: 6 * time.Second}},
		{"receiver outage and vigil killed", rwScenario{scrapeTime: 4 * time.Second, outage: 8 * time.Second, killVigil: true}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			sc.protobuf = "prometheus.WriteRequest"
			runRWScenario(t, newVictoriaPeer(t), sc.rwScenario)
		})
	}
}

// Remote write 2.0 into Prometheus 3.15 accepting only io.prometheus.write.v2.Request.
func TestRemoteWrite2Prometheus3(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Vigil and Prometheus 3")
	}
	bin := "/tmp/peers/prometheus3"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s not found: build it with ../shared/bench/peers.sh (log /tmp/peers.log)", bin)
	}
	p := newPrometheusPeer(t, "prometheus 3", bin, "--web.remote-write-receiver.accepted-protobuf-messages=io.prometheus.write.v2.Request")
	runRWScenario(t, p, rwScenario{scrapeTime: 4 * time.Second, outage: 6 * time.Second, protobuf: "io.prometheus.write.v2.Request"})
}

// Remote write 2.0 from one Vigil into another (the receiver's 2.0 support comes from the apis
// lane: until it is there, the receiver answers a 2.0 request without the written-samples
// header and the test skips, saying so).
func TestRemoteWrite2VigilToVigil(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two Vigils")
	}
	p := newVigilPeer(t)
	p.start()
	if !acceptsRemoteWrite2(t, p.writeURL) {
		p.stop()
		t.Skip("Vigil's receiver does not accept remote write 2.0 yet (io.prometheus.write.v2.Request: no X-Prometheus-Remote-Write-Samples-Written in its answer)")
	}
	p.stop()
	runRWScenario(t, p, rwScenario{scrapeTime: 4 * time.Second, outage: 6 * time.Second, killVigil: true, protobuf: "io.prometheus.write.v2.Request"})
}

// newVigilPeer is a Vigil process receiving remote write.
func newVigilPeer(t *testing.T) *peer {
	dir := t.TempDir()
	addr := freeAddr(t)
	args, _ := json.Marshal([]string{"--storage.tsdb.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + addr,
		"--web.enable-remote-write-receiver", "--log.level=warn"})
	p := &peer{t: t, name: "vigil receiver", bin: os.Args[0], args: []string{"-test.run=^$"}, addr: addr,
		writeURL: "http://" + addr + "/api/v1/write", env: []string{childArgsEnv + "=" + string(args)}}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("receiver output:\n%.3000s", p.out)
		}
	})
	return p
}

// acceptsRemoteWrite2 sends one 2.0 sample and reports whether the answer confirms it.
func acceptsRemoteWrite2(t *testing.T, writeURL string) bool {
	t.Helper()
	req := writev2.Request{Symbols: []string{"", "__name__", "rw_probe"},
		Timeseries: []writev2.TimeSeries{{LabelsRefs: []uint32{1, 2}, Samples: []writev2.Sample{{Value: 1, Timestamp: time.Now().UnixMilli()}}}}}
	raw, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	hr, _ := http.NewRequest(http.MethodPost, writeURL, bytes.NewReader(snappy.Encode(nil, raw)))
	hr.Header.Set("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
	hr.Header.Set("Content-Encoding", "snappy")
	hr.Header.Set("X-Prometheus-Remote-Write-Version", "2.0.0")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode/100 == 2 && resp.Header.Get("X-Prometheus-Remote-Write-Samples-Written") == "1"
}
