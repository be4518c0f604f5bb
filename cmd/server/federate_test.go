package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// federationTarget serves two fixed series for the test Vigil to scrape as job "x", and one
// as job "y" (which the federation selector leaves out).
func federationTarget(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, `federate_e2e_value{kind="a"} 42`)
		fmt.Fprintln(w, `federate_e2e_value{kind="b"} 1.5`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// startFederationVigil runs a Vigil scraping the target as jobs x and y every second, with
// external labels, and returns its base URL.
func startFederationVigil(t *testing.T, target string) string {
	t.Helper()
	host := strings.TrimPrefix(target, "http://")
	cfg := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  external_labels: {cluster: vigil-e2e}
scrape_configs:
  - job_name: x
    static_configs: [{targets: [%q]}]
  - job_name: y
    static_configs: [{targets: [%q]}]
`, host, host)), 0o644); err != nil {
		t.Fatal(err)
	}
	return startServer(t, "--config.file="+cfg)
}

// Vigil's /federate, with the external labels of its running configuration.
func TestFederateServed(t *testing.T) {
	target := federationTarget(t)
	host := strings.TrimPrefix(target.URL, "http://")
	base := startFederationVigil(t, target.URL)
	var body string
	waitUntil(t, "federated series", func() bool {
		resp, err := http.Get(base + "/federate?match[]=" + url.QueryEscape(`{job="x"}`))
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return resp.StatusCode == http.StatusOK && strings.Contains(body, `kind="b"`)
	})
	// Series sorted by name, then labels; the external label appended after the series' own.
	lines := strings.Split(strings.TrimSpace(body), "\n")
	wantPrefix := []string{
		"# TYPE federate_e2e_value untyped",
		`federate_e2e_value{instance="` + host + `",job="x",kind="a",cluster="vigil-e2e"} 42 `,
		`federate_e2e_value{instance="` + host + `",job="x",kind="b",cluster="vigil-e2e"} 1.5 `,
		"# TYPE scrape_duration_seconds untyped",
	}
	for i, w := range wantPrefix {
		if i >= len(lines) || !strings.HasPrefix(lines[i], w) {
			t.Fatalf("line %d does not start with %q:\n%s", i, w, body)
		}
	}
	if strings.Contains(body, `job="y"`) {
		t.Errorf("job y federated:\n%s", body)
	}
	resp, err := http.Get(base + "/federate?match[]=up{")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "parse error") {
		t.Fatalf("bad selector: %d %s", resp.StatusCode, b)
	}
	resp, err = http.Post(base+"/federate", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /federate: %d, want 405", resp.StatusCode)
	}
}

// Debian's Prometheus 2.42 federates from Vigil as it would from a Prometheus and stores the
// same latest values, with the labels Vigil sent (honor_labels) including its external labels.
func TestFederateIntoPrometheus(t *testing.T) {
	prom := requireTool(t, "prometheus", "prometheus")
	target := federationTarget(t)
	vigil := startFederationVigil(t, target.URL)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': ['{job="x"}']
    static_configs: [{targets: [%q]}]
`, strings.TrimPrefix(vigil, "http://"))), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
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
			t.Logf("prometheus output:\n%s", out.String())
		}
	})

	query := func(base, q string) []string {
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil {
			return nil
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
	promBase := "http://" + addr
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = query(promBase, "federate_e2e_value"); len(got) == 2 {
			break
		}
	}
	// Vigil's own answer, with the external label federation adds.
	want := query(vigil, `label_replace(federate_e2e_value{job="x"}, "cluster", "vigil-e2e", "", "")`)
	if len(want) != 2 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Prometheus stores\n%s\nVigil has\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// job="y" and Vigil's own series stay out; the federation scrape itself is healthy.
	if y := query(promBase, `{job="y"}`); len(y) != 0 {
		t.Errorf("job y federated: %v", y)
	}
	if up := query(promBase, `up{job="federate"}`); len(up) != 1 || !strings.HasSuffix(up[0], " 1") {
		t.Errorf("up of the federation scrape: %v", up)
	}
}

// TestFederateHistogramsIntoPrometheus3: Vigil scrapes a client_golang program's native
// histogram and its classic histogram as NHCB; Prometheus 3.15 federates from Vigil
// (scrape_native_histograms, so protobuf, and convert_classic_histograms_to_nhcb for the NHCB
// Vigil serves as a classic histogram, as upstream) and stores the same histograms: every
// histogram sample Prometheus stores is one of Vigil's, at the same timestamp.
func TestFederateHistogramsIntoPrometheus3(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two servers for several seconds")
	}
	requireHistogramStorage(t)
	prom3 := prometheus3Bin()
	if _, err := os.Stat(prom3); err != nil {
		t.Skipf("%s missing: build it with ../shared/bench/peers.sh", prom3)
	}
	target := strings.TrimPrefix(histogramClientTarget(t).URL, "http://")
	dir := t.TempDir()
	vcfg := filepath.Join(dir, "vigil.yml")
	if err := os.WriteFile(vcfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: native
    scrape_native_histograms: true
    static_configs: [{targets: [%[1]q]}]
  - job_name: nhcb
    convert_classic_histograms_to_nhcb: true
    static_configs: [{targets: [%[1]q]}]
`, target)), 0o644); err != nil {
		t.Fatal(err)
	}
	vigil := startServer(t, "--config.file="+vcfg)
	pcfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(pcfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    scrape_native_histograms: true
    convert_classic_histograms_to_nhcb: true
    params:
      'match[]': ['{__name__=~"rc_(native|classic)_seconds"}']
    static_configs: [{targets: [%q]}]
`, strings.TrimPrefix(vigil, "http://"))), 0o644); err != nil {
		t.Fatal(err)
	}
	prom, _ := startPrometheus(t, prom3, pcfg, filepath.Join(dir, "p3"))

	want := []string{
		`{"__name__":"rc_classic_seconds","instance":"` + target + `","job":"nhcb"}`,
		`{"__name__":"rc_native_seconds","instance":"` + target + `","job":"native"}`,
		// The native histogram's classic buckets, as NHCB.
		`{"__name__":"rc_native_seconds","instance":"` + target + `","job":"nhcb"}`,
	}
	var got map[string][][2]string
	at := time.Now()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		at = time.Now()
		got = rawSamples(t, prom, `{__name__=~"rc_.*"}`, at)
		if len(got) == 3 && len(got[want[0]]) >= 3 && len(got[want[1]]) >= 3 && len(got[want[2]]) >= 3 {
			break
		}
	}
	keys := slices.Sorted(maps.Keys(got))
	if !slices.Equal(keys, want) {
		t.Fatalf("Prometheus stores series %v, want %v", keys, want)
	}
	have := rawSamples(t, vigil, `{__name__=~"rc_.*"}`, at.Add(time.Second))
	for _, k := range keys {
		if len(got[k]) < 3 {
			t.Errorf("%s: %d samples federated, want at least 3", k, len(got[k]))
		}
		for _, s := range got[k] {
			if !strings.Contains(s[1], "buckets") {
				t.Errorf("%s: sample %v is not a histogram", k, s)
			}
			if !slices.Contains(have[k], s) {
				t.Errorf("%s: Prometheus stores %v, not among Vigil's samples:\n%v", k, s, have[k])
			}
		}
	}
	t.Logf("Prometheus 3.15 federated %d, %d and %d histogram samples, all equal to Vigil's", len(got[want[0]]), len(got[want[1]]), len(got[want[2]]))
}
