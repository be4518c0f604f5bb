package ui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// The browser suite: Debian's chromium driven by puppeteer-core (tests/browser.mjs) against a
// vigil built from this tree that scrapes targets (one up, one down), evaluates rules (one
// alert firing, one inhibited by another) and holds alerts, served under a route prefix.
// VIGIL_UI_SCREENSHOTS names the folder for the pages' screenshots (make ui-screenshots writes
// docs/screenshots); without it they go to a temporary folder, named in the log.
func TestBrowser(t *testing.T) {
	if raceEnabled {
		t.Skip("the browser suite runs without -race (make test-unit)")
	}
	if testing.Short() {
		t.Skip("-short: the browser suite starts vigil and chromium")
	}
	node := requireTool(t, "node", "nodejs")
	chromium := requireTool(t, "chromium", "chromium")
	amtool := requireTool(t, "amtool", "prometheus-alertmanager")
	if _, err := os.Stat("node_modules/puppeteer-core/package.json"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("web/ui/node_modules has no puppeteer-core: run `make ui-check` (npm ci) first")
		}
		t.Skip("web/ui/node_modules has no puppeteer-core: run `make ui-check` (npm ci in web/ui) first")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "vigil")
	build := exec.Command("go", "build", "-o", bin, "github.com/vigil-monitoring/vigil/cmd/server")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building vigil: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	end := time.Now()
	fillBenchSeries(t, data, end)

	addr := freeAddr(t)
	down := freeAddr(t) // nothing listens there: the down target
	writeFile(t, dir, "prometheus.yml", fmt.Sprintf(`
global:
  scrape_interval: 2s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: vigil
    metrics_path: /vigil/metrics
    static_configs: [{targets: [%q]}]
  - job_name: broken
    static_configs: [{targets: [%q, "dropme.invalid:9100"], labels: {team: storage}}]
    relabel_configs:
      - source_labels: [__address__]
        regex: dropme.*
        action: drop
`, addr, down))
	writeFile(t, dir, "rules.yml", `
groups:
  - name: ui-test
    interval: 1s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: TargetDown
        expr: up == 0
        labels: {severity: page}
        annotations: {summary: "{{ $labels.instance }} of {{ $labels.job }} is down"}
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: page, team: ui}
        annotations: {summary: always firing}
      - alert: DatacenterDown
        expr: vector(1)
        labels: {severity: critical, team: storage}
      - alert: DiskSlow
        expr: vector(1)
        labels: {severity: warning, team: storage}
      - alert: NeverFires
        expr: vector(1) > 2
        for: 5m
`)
	writeFile(t, dir, "alertmanager.yml", `
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1m
  routes:
    - matchers: [team="storage"]
      receiver: storage
receivers:
  - name: default
  - name: storage
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [team]
`)
	external := "http://" + addr + "/vigil"
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--alertmanager.config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.tsdb.path="+data,
		"--web.listen-address="+addr,
		"--web.external-url="+external+"/",
		"--log.level=warn",
	)
	cmd.Dir = dir
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("vigil's log:\n%s", logs.String())
		}
	})
	// Ready, both targets scraped, and the alerts firing (the inhibited one included).
	waitFor(t, "vigil ready with alerts firing and both targets scraped", 90*time.Second, func() bool {
		var r struct {
			Data struct {
				Alerts []struct {
					State  string
					Labels map[string]string
				}
			}
		}
		if !getJSON(external+"/api/v1/alerts", &r) {
			return false
		}
		firing := map[string]bool{}
		for _, a := range r.Data.Alerts {
			if a.State == "firing" {
				firing[a.Labels["alertname"]] = true
			}
		}
		var am []json.RawMessage
		return firing["AlwaysFiring"] && firing["TargetDown"] && firing["DiskSlow"] && getJSON(external+"/api/v2/alerts", &am) && len(am) >= 4
	})

	shots := os.Getenv("VIGIL_UI_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(dir, "screenshots")
	} else if abs, err := filepath.Abs(shots); err == nil {
		shots = abs
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, node, "tests/browser.mjs")
	run.Env = append(os.Environ(),
		"VIGIL_URL="+external,
		"CHROMIUM="+chromium,
		"AMTOOL="+amtool,
		"SCREENSHOTS="+shots,
		"BENCH_END="+strconv.FormatInt(end.Unix(), 10),
	)
	stdout, err := run.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	run.Stderr = run.Stdout
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var failed []string
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if strings.HasPrefix(line, "FAIL ") {
			failed = append(failed, strings.TrimPrefix(line, "FAIL "))
		}
	}
	err = run.Wait()
	t.Logf("screenshots in %s", shots)
	for _, f := range failed {
		t.Errorf("browser: %s", f)
	}
	if err != nil && len(failed) == 0 {
		t.Fatalf("tests/browser.mjs: %v", err)
	}
}

// fillBenchSeries writes 500 series of bench_ui_series over the hour before end, one sample
// every 15s, into a fresh data directory: the graph the suite times (1h at 15s over 500
// series).
func fillBenchSeries(t *testing.T, dir string, end time.Time) {
	t.Helper()
	db, err := tsdb.Open(dir, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const series = 500
	lsets := make([]labels.Labels, series)
	for i := range lsets {
		lsets[i] = labels.FromStrings("__name__", "bench_ui_series", "series", strconv.Itoa(i), "group", strconv.Itoa(i%10))
	}
	refs := make([]storage.SeriesRef, series)
	start := end.Add(-time.Hour).UnixMilli()
	for ts := start; ts <= end.UnixMilli(); ts += 15000 {
		app := db.Appender(context.Background())
		for i, l := range lsets {
			v := float64(i) + 10*math.Sin(float64(ts)/6e5+float64(i))
			ref, err := app.Append(refs[i], l, ts, v)
			if err != nil {
				t.Fatal(err)
			}
			refs[i] = ref
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (Debian %s; scripts/deps.sh installs it)", name, pkg)
	}
	t.Skipf("%s not found: install Debian %s (scripts/deps.sh)", name, pkg)
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func getJSON(url string, v any) bool {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(v) == nil
}

// waitFor polls cond until it holds or the deadline passes (a real process: a real clock).
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// While the server is not ready the page says so and continues by itself once /-/ready answers
// 200 (a test server: the UI handler behind a readiness switch, as cmd/server mounts it).
func TestBrowserStartup(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("the browser suite runs without -race and -short")
	}
	node := requireTool(t, "node", "nodejs")
	chromium := requireTool(t, "chromium", "chromium")
	if _, err := os.Stat("node_modules/puppeteer-core/package.json"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("web/ui/node_modules has no puppeteer-core: run `make ui-check` (npm ci) first")
		}
		t.Skip("web/ui/node_modules has no puppeteer-core: run `make ui-check` (npm ci in web/ui) first")
	}
	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/", Handler("/"))
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("POST /flip", func(w http.ResponseWriter, r *http.Request) { ready.Store(true) })
	// The app's own requests once ready (autocomplete is not used here).
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":[]}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "tests/starting.mjs")
	cmd.Env = append(os.Environ(), "VIGIL_URL="+srv.URL, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("tests/starting.mjs: %v", err)
	}
}
