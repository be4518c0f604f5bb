package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	promtsdb "github.com/prometheus/prometheus/tsdb"
)

// Data written by Debian's Prometheus 2.42 (blocks by its promtool's OpenMetrics backfill, WAL
// by a real scraping run) is imported with `vigil tsdb import prometheus --include-wal`, and also
// from a snapshot taken with the admin API; queries over the imported range answer the same on
// Vigil as on that Prometheus serving the source directory.
func TestImportMatchesPrometheus242(t *testing.T) {
	prom := requireTool(t, "prometheus", "prometheus")
	promtool := requireTool(t, "promtool", "prometheus")
	testImportMatches(t, prom, func(t *testing.T, om, dataDir string) {
		if out, err := runTool(t, nil, promtool, "tsdb", "create-blocks-from", "openmetrics", om, dataDir); err != nil {
			t.Fatalf("promtool: %v\n%s", err, out)
		}
	})
}

// The same with Prometheus 3.15 (built by ../shared/bench/peers.sh): its WAL from a real run;
// its blocks written by the tsdb package of the same release (v0.315.0), as its promtool does.
func TestImportMatchesPrometheus3(t *testing.T) {
	prom := "/tmp/peers/prometheus3"
	if _, err := os.Stat(prom); err != nil {
		t.Skipf("%s not found: build it with ../shared/bench/peers.sh (log /tmp/peers.log)", prom)
	}
	testImportMatches(t, prom, writeBlocksV315)
}

func testImportMatches(t *testing.T, prom string, writeBlocks func(t *testing.T, om, dataDir string)) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	now := time.Now().Truncate(time.Minute)
	start, end := now.Add(-5*time.Hour), now.Add(-time.Hour)

	// Blocks: 4 hours of counters (one reset) and gauges with decimals.
	var om strings.Builder
	om.WriteString("# HELP imp_requests_total Requests.\n# TYPE imp_requests_total counter\n")
	for i := range 6 {
		v := 0.0
		for ts := start; ts.Before(end); ts = ts.Add(15 * time.Second) {
			v += float64(i + 1)
			if i == 2 && ts.Equal(start.Add(2*time.Hour+30*time.Second)) {
				v = 1 // counter reset
			}
			fmt.Fprintf(&om, "imp_requests_total{code=\"%d\",instance=\"h%d\"} %g %d\n", 200+i%3*100, i, v, ts.Unix())
		}
	}
	om.WriteString("# TYPE imp_temperature gauge\n")
	for i := range 4 {
		for ts := start; ts.Before(end); ts = ts.Add(15 * time.Second) {
			fmt.Fprintf(&om, "imp_temperature{room=\"r%d\"} %.2f %d\n", i, 20+float64(ts.Unix()%977)/100+float64(i), ts.Unix())
		}
	}
	om.WriteString("# EOF\n")
	omFile := filepath.Join(dir, "in.om")
	if err := os.WriteFile(omFile, []byte(om.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	writeBlocks(t, omFile, data)

	// WAL: a real run scraping a target every second.
	var n atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := n.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE e2e_hits_total counter\ne2e_hits_total{path=\"/\"} %d\ne2e_hits_total{path=\"/x\"} %d\n# TYPE e2e_level gauge\ne2e_level %g\n", k*3, k, 1.5+float64(k)*0.25)
	}))
	defer target.Close()
	scrapeCfg := filepath.Join(dir, "scrape.yml")
	writeFile(t, scrapeCfg, fmt.Sprintf("global: {scrape_interval: 1s}\nscrape_configs:\n- job_name: target\n  static_configs: [{targets: [%q]}]\n", strings.TrimPrefix(target.URL, "http://")))
	walStart := time.Now()
	base, stop := startPrometheus(t, prom, scrapeCfg, data)
	waitFor(t, 60*time.Second, "8 scrapes in Prometheus", func() bool {
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		body := queryAPI(base, "/api/v1/query", url.Values{"query": {`count_over_time(e2e_level[5m])`}})
		if json.Unmarshal([]byte(body), &r) != nil || len(r.Data.Result) != 1 {
			return false
		}
		v, _ := r.Data.Result[0].Value[1].(string)
		n, _ := strconv.Atoi(v)
		return n >= 8
	})
	stop()
	walEnd := time.Now()

	// Import: a copy of the stopped directory, so that the source is exactly what the queried
	// Prometheus reads (which may write to its own directory).
	vigilDir := filepath.Join(dir, "vigil")
	var out, errOut bytes.Buffer
	handled, code := runImportCommand([]string{"tsdb", "import", "prometheus", data, "--include-wal", "--storage.tsdb.path=" + vigilDir}, &out, &errOut)
	t.Logf("import:\n%s%s", out.String(), errOut.String())
	if !handled || code != 0 {
		t.Fatalf("import: handled %v, exit %d", handled, code)
	}

	emptyCfg := filepath.Join(dir, "empty.yml")
	writeFile(t, emptyCfg, "scrape_configs: []\n")
	promBase, stopProm := startPrometheus(t, prom, emptyCfg, data, "--web.enable-admin-api")
	defer stopProm()
	vigilBase := startVigilOn(t, vigilDir, emptyCfg)

	ts := func(tm time.Time) string { return fmt.Sprintf("%.3f", float64(tm.UnixMilli())/1000) }
	// Evaluation times fall between samples: Prometheus 2 includes a sample exactly at the
	// start of a range, Prometheus 3 (and Vigil) do not; that is the engine, not the data.
	start7, end7 := start.Add(7*time.Second), end.Add(7*time.Second)
	queries := []url.Values{
		{"query": {`{__name__=~"imp_.+"}[20m]`}, "time": {ts(start7.Add(2*time.Hour + 10*time.Minute))}},
		{"query": {`{__name__=~"imp_.+"}[20m]`}, "time": {ts(end7)}},
		{"query": {`{job="target"}[10m]`}, "time": {ts(walEnd)}},
		{"query": {`up`}, "time": {ts(walEnd.Add(-time.Second))}},
		{"query": {`count({__name__=~".+"})`}, "time": {ts(start.Add(3 * time.Hour))}},
		{"query": {`rate(imp_requests_total[5m])`}, "start": {ts(start7)}, "end": {ts(end7)}, "step": {"300"}},
		{"query": {`sum by (code) (increase(imp_requests_total[10m]))`}, "start": {ts(start7)}, "end": {ts(end7)}, "step": {"600"}},
		{"query": {`max_over_time(imp_temperature[1h])`}, "start": {ts(start7)}, "end": {ts(end7)}, "step": {"900"}},
		{"query": {`e2e_level`}, "start": {ts(walStart)}, "end": {ts(walEnd)}, "step": {"1"}},
		{"query": {`e2e_hits_total`}, "start": {ts(walStart)}, "end": {ts(walEnd)}, "step": {"1"}},
	}
	compare := func(vigil string) {
		t.Helper()
		for _, q := range queries {
			path := "/api/v1/query"
			if q.Has("step") {
				path = "/api/v1/query_range"
			}
			want := normalizeResult(t, queryAPI(promBase, path, q))
			got := normalizeResult(t, queryAPI(vigil, path, q))
			if strings.HasSuffix(want, "[]") || strings.HasPrefix(want, "error") {
				t.Errorf("%s %v: Prometheus returned nothing, the query does not test anything", path, q)
			}
			if got != want {
				t.Errorf("%s %v:\nVigil:      %.600s\nPrometheus: %.600s", path, q, got, want)
			}
		}
	}
	compare(vigilBase)

	// A snapshot taken by the admin API imports too, with the same answers.
	resp, err := http.Post(promBase+"/api/v1/admin/tsdb/snapshot", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var snap struct {
		Data struct{ Name string } `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&snap)
	resp.Body.Close()
	if err != nil || snap.Data.Name == "" {
		t.Fatalf("snapshot: %v %+v", err, snap)
	}
	snapDir := filepath.Join(dir, "vigil-from-snapshot")
	out.Reset()
	errOut.Reset()
	handled, code = runImportCommand([]string{"tsdb", "import", "prometheus", filepath.Join(data, "snapshots", snap.Data.Name), "--storage.tsdb.path=" + snapDir}, &out, &errOut)
	t.Logf("import of snapshot %s:\n%s%s", snap.Data.Name, out.String(), errOut.String())
	if !handled || code != 0 {
		t.Fatalf("import of snapshot: handled %v, exit %d", handled, code)
	}
	compare(startVigilOn(t, snapDir, emptyCfg))
}

// writeBlocksV315 writes the OpenMetrics file's samples as 2h blocks with the tsdb package of
// Prometheus 3.15, as its `promtool tsdb create-blocks-from openmetrics` does.
func writeBlocksV315(t *testing.T, om, dataDir string) {
	b, err := os.ReadFile(om)
	if err != nil {
		t.Fatal(err)
	}
	const twoH = int64(2 * 3600 * 1000)
	p := textparse.NewOpenMetricsParser(b, labels.NewSymbolTable())
	type smp struct {
		ls labels.Labels
		t  int64
		v  float64
	}
	byWin := map[int64][]smp{}
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e != textparse.EntrySeries {
			continue
		}
		_, ts, v := p.Series()
		var ls labels.Labels
		p.Labels(&ls)
		byWin[*ts/twoH*twoH] = append(byWin[*ts/twoH*twoH], smp{ls, *ts, v})
	}
	if err := os.MkdirAll(dataDir, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, ss := range byWin {
		w, err := promtsdb.NewBlockWriter(promslog.NewNopLogger(), dataDir, 2*twoH)
		if err != nil {
			t.Fatal(err)
		}
		app := w.Appender(context.Background())
		for _, s := range ss {
			if _, err := app.Append(0, s.ls, s.t, s.v); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startPrometheus runs prom on dataDir and returns its URL and a function that stops it with
// SIGTERM (a clean shutdown) and waits.
func startPrometheus(t *testing.T, prom, cfg, dataDir string, extra ...string) (string, func()) {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"--config.file=" + cfg, "--storage.tsdb.path=" + dataDir, "--web.listen-address=" + addr}, extra...)
	cmd := exec.Command(prom, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("%s did not stop on SIGTERM", prom)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", prom, out.String())
		}
	})
	base := "http://" + addr
	waitFor(t, 60*time.Second, prom+" ready", func() bool {
		select {
		case <-done:
			t.Fatalf("%s exited:\n%s", prom, out.String())
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base, stop
}

// startVigilOn runs the server on dataDir until the test ends.
func startVigilOn(t *testing.T, dataDir, cfg string) string {
	t.Helper()
	addr := freeAddr(t)
	f, err := parseFlags([]string{"--storage.tsdb.path=" + dataDir, "--config.file=" + cfg, "--web.listen-address=" + addr, "--web.enable-lifecycle"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run(f, slog.New(slog.DiscardHandler)) }()
	base := "http://" + addr
	t.Cleanup(func() {
		if resp, err := http.Post(base+"/-/quit", "", nil); err == nil {
			resp.Body.Close()
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("vigil did not stop")
		}
	})
	waitFor(t, 60*time.Second, "vigil ready", func() bool {
		select {
		case err := <-done:
			t.Fatalf("vigil stopped: %v", err)
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func queryAPI(base, path string, q url.Values) string {
	resp, err := http.PostForm(base+path, q)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// normalizeResult returns the result of an API response with series sorted by labels.
func normalizeResult(t *testing.T, body string) string {
	t.Helper()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Status != "success" {
		return "error: " + body
	}
	var out []string
	for _, s := range r.Data.Result {
		var m struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value,omitempty"`
			Values [][]any           `json:"values,omitempty"`
		}
		if err := json.Unmarshal(s, &m); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(m) // map keys come out sorted
		out = append(out, string(b))
	}
	sort.Strings(out)
	return r.Data.ResultType + "[" + strings.Join(out, ",") + "]"
}
