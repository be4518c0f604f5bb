package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Remote write of native histograms (send_native_histograms) from a Vigil scraping a
// client_golang target (histogramClientTarget) into real receivers: Prometheus 3.15 (2.0 and
// 1.0), Debian's Prometheus 2.42 (1.0) and another Vigil (2.0). The receiver must hold exactly
// the samples Vigil holds: every float and histogram sample of the job, compared raw.

type rwHistScenario struct {
	protobuf string
	nhcb     bool // also a job converting the classic histogram to NHCB (custom buckets)
	outage   bool // receiver stopped, and Vigil killed and restarted, in the middle
}

func runRWHistScenario(t *testing.T, p *peer, sc rwHistScenario) {
	t.Helper()
	requireHistogramStorage(t)
	backend, err := url.Parse(histogramClientTarget(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	// The target goes down at the end (staleness markers, then nothing more to send).
	var down atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(backend)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(target.Close)
	host := strings.TrimPrefix(target.URL, "http://")
	jobs := fmt.Sprintf(`  - job_name: native
    scrape_native_histograms: true
    static_configs: [{targets: [%q]}]
`, host)
	if sc.nhcb {
		jobs += fmt.Sprintf(`  - job_name: nhcb
    convert_classic_histograms_to_nhcb: true
    static_configs: [{targets: [%q]}]
`, host)
	}
	p.start()
	v := newRWVigilConfig(t, fmt.Sprintf(`global:
  scrape_interval: 500ms
  scrape_timeout: 500ms
scrape_configs:
%sremote_write:
  - url: %s
    name: peer
    protobuf_message: %s
    send_native_histograms: true
    queue_config: {batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 500ms, max_samples_per_send: 50}
`, jobs, p.writeURL, sc.protobuf))
	v.start()
	time.Sleep(3 * time.Second)
	if sc.outage {
		p.stop()
		time.Sleep(3 * time.Second)
		if st := v.queueStatus(); st == nil || st["samplesRetried"].(float64) == 0 {
			t.Errorf("no retries counted during the outage: %v", st)
		}
		v.kill()
		v.start()
		time.Sleep(2 * time.Second)
		p.start()
	}
	time.Sleep(3 * time.Second)
	down.Store(true)
	time.Sleep(time.Second) // staleness markers
	v.drained()
	time.Sleep(500 * time.Millisecond)
	jobsChecked := []string{"native"}
	if sc.nhcb {
		jobsChecked = append(jobsChecked, "nhcb")
	}
	for _, job := range jobsChecked {
		compareRawHoldings(t, v.base(), "http://"+p.addr, job)
	}
	if n := firstSeriesValue(t, v.base(), "prometheus_remote_storage_histograms_total"); n <= 0 {
		t.Errorf("prometheus_remote_storage_histograms_total = %v after sending histograms", n)
	}
	v.quit()
}

// rawSeries are the samples of one series from an instant query of a range selector: float
// samples as "t value", histograms as "t count sum buckets".
type rawSeries map[string][]string

// rawHoldings returns every sample of every series of the job up to at, by series.
func rawHoldings(t *testing.T, base, job string, at time.Time) (rawSeries, int) {
	t.Helper()
	u := base + "/api/v1/query?query=" + url.QueryEscape(fmt.Sprintf(`{job=%q}[1h]`, job)) + "&time=" + fmt.Sprintf("%.3f", float64(at.UnixMilli())/1000)
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
				Metric        map[string]string    `json:"metric"`
				Values        [][2]any             `json:"values"`
				RawHistograms [][2]json.RawMessage `json:"histograms"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("raw query at %s: %v %.500s", base, err, body)
	}
	out, hists := rawSeries{}, 0
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
		var samples []string
		for _, v := range s.Values {
			samples = append(samples, fmt.Sprintf("%v %v", v[0], v[1]))
		}
		for _, h := range s.RawHistograms {
			var hv struct {
				Count   string            `json:"count"`
				Sum     string            `json:"sum"`
				Buckets []json.RawMessage `json:"buckets"`
			}
			if err := json.Unmarshal(h[1], &hv); err != nil {
				t.Fatalf("histogram %s: %v", h[1], err)
			}
			bk, _ := json.Marshal(hv.Buckets)
			samples = append(samples, fmt.Sprintf("%s count=%s sum=%s buckets=%s", h[0], hv.Count, hv.Sum, bk))
			hists++
		}
		sort.Strings(samples)
		out[b.String()] = samples
	}
	return out, hists
}

// compareRawHoldings requires the receiver to hold the same samples as Vigil for every series
// of the job (polling for up to 20 s: receivers make appends searchable asynchronously), and
// histograms among them.
func compareRawHoldings(t *testing.T, vigil, recv, job string) {
	t.Helper()
	at := time.Now()
	want, wantHists := rawHoldings(t, vigil, job, at)
	if wantHists == 0 {
		t.Fatalf("Vigil holds no histogram of job %s", job)
	}
	var got rawSeries
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ = rawHoldings(t, recv, job, at)
		if sameRaw(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !sameRaw(got, want) {
		for k, w := range want {
			if g := got[k]; strings.Join(g, "\n") != strings.Join(w, "\n") {
				t.Errorf("job %s series %s: receiver holds %d samples, Vigil %d; first difference: %s", job, k, len(g), len(w), firstDiff(g, w))
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("job %s: receiver holds series %s that Vigil does not", job, k)
			}
		}
		return
	}
	t.Logf("job %s: %d series, %d histogram samples, identical", job, len(want), wantHists)
}

func sameRaw(a, b rawSeries) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\n") != strings.Join(b[k], "\n") {
			return false
		}
	}
	return true
}

func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("receiver %q, vigil %q", g, w)
		}
	}
	return "none"
}

func requirePrometheus3(t *testing.T) string {
	t.Helper()
	bin := "/tmp/peers/prometheus3"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s not found: build it with ../shared/bench/peers.sh (log /tmp/peers.log)", bin)
	}
	return bin
}

func TestRemoteWriteHistogramsPrometheus3(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Vigil and Prometheus 3")
	}
	bin := requirePrometheus3(t)
	for _, msg := range []string{"io.prometheus.write.v2.Request", "prometheus.WriteRequest"} {
		t.Run(msg, func(t *testing.T) {
			p := newPrometheusPeer(t, "prometheus 3", bin, "--web.remote-write-receiver.accepted-protobuf-messages="+msg)
			runRWHistScenario(t, p, rwHistScenario{protobuf: msg, nhcb: true, outage: msg == "io.prometheus.write.v2.Request"})
		})
	}
}

// Prometheus 2.42 knows no custom buckets (NHCB): only the exponential native histogram.
func TestRemoteWriteHistogramsPrometheus242(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Vigil and Prometheus")
	}
	prom := requireTool(t, "prometheus", "prometheus")
	p := newPrometheusPeer(t, "prometheus 2.42", prom, "--enable-feature=native-histograms")
	runRWHistScenario(t, p, rwHistScenario{protobuf: "prometheus.WriteRequest", outage: true})
}

func TestRemoteWriteHistogramsVigilToVigil(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two Vigils")
	}
	runRWHistScenario(t, newVigilPeer(t), rwHistScenario{protobuf: "io.prometheus.write.v2.Request", nhcb: true, outage: true})
}

// firstSeriesValue is the value of the first series of a metric (labelled or not) on base's /metrics.
func firstSeriesValue(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok && (strings.HasPrefix(rest, "{") || strings.HasPrefix(rest, " ")) {
			var v float64
			if _, err := fmt.Sscan(rest[strings.LastIndexByte(rest, ' ')+1:], &v); err == nil {
				return v
			}
		}
	}
	t.Fatalf("%s not on %s/metrics", name, base)
	return 0
}
