package main

import (
	"context"
	"encoding/json"
	"fmt"
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
	"testing"
	"time"
)

// promResult runs an instant (step 0) or range query against a Prometheus-compatible API and
// returns its series as sorted lines "{labels} values", or an error text.
func promResult(base, q string, start, end time.Time, step time.Duration) string {
	v := url.Values{"query": {q}}
	path := "/api/v1/query"
	secs := func(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }
	if step == 0 {
		v.Set("time", secs(end))
	} else {
		path = "/api/v1/query_range"
		v.Set("start", secs(start))
		v.Set("end", secs(end))
		v.Set("step", step.String())
	}
	resp, err := http.Get(base + path + "?" + v.Encode())
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
				Values [][]any           `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "error: " + err.Error()
	}
	if r.Status != "success" {
		return "error: " + r.Error
	}
	var lines []string
	for _, s := range r.Data.Result {
		keys := make([]string, 0, len(s.Metric))
		for k := range s.Metric {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteByte('{')
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%q,", k, s.Metric[k])
		}
		b.WriteByte('}')
		if s.Value != nil {
			fmt.Fprintf(&b, " %v@%v", s.Value[1], s.Value[0])
		}
		for _, p := range s.Values {
			fmt.Fprintf(&b, " %v@%v", p[1], p[0])
		}
		lines = append(lines, b.String())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// remoteReadTarget serves a counter that grows by 3 per scrape and two gauges.
func remoteReadTarget(t *testing.T) *httptest.Server {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "rr_e2e_total %d\n", 3*i)
		fmt.Fprintf(w, "rr_e2e_gauge{kind=\"a\"} %g\n", float64(i%5)/4)
		fmt.Fprintln(w, `rr_e2e_gauge{kind="b"} -1e-3`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// startPrometheusReader runs bin (a Prometheus) with remote_read pointing at vigil's
// /api/v1/read (read_recent: true) and no scraping of its own, and returns its base URL.
func startPrometheusReader(t *testing.T, bin, vigil string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  evaluation_interval: 1h
remote_read:
  - url: %s/api/v1/read
    read_recent: true
`, vigil)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", bin, out.String())
		}
	})
	base := "http://" + addr
	waitUntil(t, "prometheus ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// A Prometheus with remote_read pointing at Vigil answers instant and range queries as Vigil
// does: the same series (with Vigil's external labels added, as a Prometheus server adds its
// own) and the same values. Debian's Prometheus 2.42 asks for SAMPLES; Prometheus 3 (when
// ../shared/bench/peers.sh built it) for STREAMED_XOR_CHUNKS.
func TestRemoteReadFromPrometheus(t *testing.T) {
	readers := map[string]string{"prometheus-2.42": requireTool(t, "prometheus", "prometheus")}
	if _, err := os.Stat("/tmp/peers/prometheus3"); err == nil {
		readers["prometheus-3"] = "/tmp/peers/prometheus3"
	} else {
		t.Log("/tmp/peers/prometheus3 not built (../shared/bench/peers.sh): only Prometheus 2.42 reads")
	}
	target := remoteReadTarget(t)
	cfg := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  external_labels: {cluster: vigil-e2e}
scrape_configs:
  - job_name: x
    static_configs: [{targets: [%q]}]
`, strings.TrimPrefix(target.URL, "http://"))), 0o644); err != nil {
		t.Fatal(err)
	}
	vigil := startServer(t, "--config.file="+cfg)
	// Six seconds of scrapes; queries are at a fixed time in the past so that both read the
	// same samples while scraping goes on.
	waitUntil(t, "six scrapes", func() bool {
		return strings.Contains(promResult(vigil, `count_over_time(rr_e2e_total[1m]) >= 6`, time.Time{}, time.Now(), 0), "job")
	})
	// Queries are 300ms off the scrape grid: no sample sits on the boundary of a range, where
	// Prometheus 2 (closed ranges) and 3 (left-open, as Vigil) differ.
	last := promResult(vigil, `timestamp(rr_e2e_total)`, time.Time{}, time.Now(), 0)
	i := strings.Index(last, "} ")
	if i < 0 {
		t.Fatalf("timestamp: %s", last)
	}
	lastTS, err := strconv.ParseFloat(strings.SplitN(last[i+2:], "@", 2)[0], 64)
	if err != nil {
		t.Fatalf("timestamp %q: %v", last, err)
	}
	end := time.UnixMilli(int64(lastTS * 1000)).Add(-2*time.Second + 300*time.Millisecond)
	start := end.Add(-4 * time.Second)

	// rate and increase are compared with Prometheus 3 only: Prometheus 2.42's extrapolation at
	// a series' start differs from Prometheus 3's (and Vigil's) on the same samples.
	// Prometheus's query; Vigil's equivalent adds the external label where the series keep
	// their labels (Prometheus sees it on every series it reads).
	ext := func(q string) string { return `label_replace(` + q + `, "cluster", "vigil-e2e", "", "")` }
	cases := []struct{ prom, vigil string }{
		{`rr_e2e_total`, ext(`rr_e2e_total`)},
		{`rr_e2e_gauge`, ext(`rr_e2e_gauge`)},
		{`rr_e2e_gauge{kind=~"a|c"}`, ext(`rr_e2e_gauge{kind=~"a|c"}`)},
		{`rr_e2e_total{cluster="vigil-e2e"}`, ext(`rr_e2e_total`)},
		{`rr_e2e_total{cluster="other"}`, `rr_e2e_total{cluster="other"}`},
		{`irate(rr_e2e_total[5s])`, ext(`irate(rr_e2e_total[5s])`)},
		{`max_over_time(rr_e2e_gauge[3s])`, ext(`max_over_time(rr_e2e_gauge[3s])`)},
		{`sum by (job) (rr_e2e_gauge)`, `sum by (job) (rr_e2e_gauge)`},
		{`count_over_time(rr_e2e_total[1m])`, ext(`count_over_time(rr_e2e_total[1m])`)},
		{`up{job="x"}`, ext(`up{job="x"}`)},
		{`scrape_samples_scraped`, ext(`scrape_samples_scraped`)},
	}
	for name, bin := range readers {
		t.Run(name, func(t *testing.T) {
			prom := startPrometheusReader(t, bin, vigil)
			cs := cases
			if name == "prometheus-3" {
				// Prometheus 3's engine extrapolates as Vigil's does.
				cs = append(cs, struct{ prom, vigil string }{`rate(rr_e2e_total[5s])`, ext(`rate(rr_e2e_total[5s])`)},
					struct{ prom, vigil string }{`increase(rr_e2e_total[3s])`, ext(`increase(rr_e2e_total[3s])`)})
			}
			for _, c := range cs {
				for _, step := range []time.Duration{0, time.Second} {
					got := promResult(prom, c.prom, start, end, step)
					want := promResult(vigil, c.vigil, start, end, step)
					if strings.HasPrefix(want, "error") || (got != want) {
						t.Errorf("%s (step %v):\n%s answers\n%s\nVigil\n%s", c.prom, step, name, got, want)
					}
				}
			}
			// Not vacuous: the series are there.
			if got := promResult(prom, `rr_e2e_total`, start, end, time.Second); strings.Count(got, "@") < 4 {
				t.Errorf("range read: %s", got)
			}
		})
	}
}

// Rule replay through the whole server: the running configuration's external labels and the
// external URL (without its trailing slash, as the ruler sees it) reach the replayed rule's
// templates.
func TestRuleReplayServed(t *testing.T) {
	target := remoteReadTarget(t)
	cfg := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  rule_query_offset: 1s
  external_labels: {cluster: vigil-e2e}
scrape_configs:
  - job_name: x
    static_configs: [{targets: [%q]}]
`, strings.TrimPrefix(target.URL, "http://"))), 0o644); err != nil {
		t.Fatal(err)
	}
	vigil := startServer(t, "--config.file="+cfg, "--web.external-url=http://vigil.example/")
	waitUntil(t, "four scrapes", func() bool {
		return strings.Contains(promResult(vigil, `count_over_time(rr_e2e_total[1m]) >= 4`, time.Time{}, time.Now(), 0), "job")
	})
	now := time.Now()
	form := url.Values{
		"rule":  {"alert: Growing\nexpr: rr_e2e_total > 0\nfor: 1s\nannotations: {where: '{{ $externalLabels.cluster }} {{ $externalURL }}'}"},
		"start": {strconv.FormatInt(now.Add(-3*time.Second).Unix(), 10)},
		"end":   {strconv.FormatInt(now.Unix(), 10)},
		"step":  {"1s"},
	}
	resp, err := http.PostForm(vigil+"/api/v1/rules/replay", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []struct {
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
				Intervals   []struct {
					State string `json:"state"`
				} `json:"intervals"`
			} `json:"alerts"`
			Evaluations int `json:"evaluations"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "success" || r.Data.Evaluations != 4 || len(r.Data.Alerts) != 1 {
		t.Fatalf("replay: %d %+v", resp.StatusCode, r)
	}
	a := r.Data.Alerts[0]
	if a.Labels["alertname"] != "Growing" || a.Labels["job"] != "x" || a.Annotations["where"] != "vigil-e2e http://vigil.example" {
		t.Errorf("alert %+v", a)
	}
	if n := len(a.Intervals); n != 2 || a.Intervals[0].State != "pending" || a.Intervals[1].State != "firing" {
		t.Errorf("intervals %+v", a.Intervals)
	}
}
