package scrape

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/storage"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func host(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

// countingTarget serves a fixed exposition and counts requests.
func countingTarget(t *testing.T, body string) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", textType)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func newTestManager(t *testing.T, app storage.Appendable) *Manager {
	m := NewManager(&Options{DiscoveryUpdateInterval: 20 * time.Millisecond}, slog.New(slog.DiscardHandler), app, nil)
	t.Cleanup(m.Stop)
	return m
}

func mustLoad(t *testing.T, s string) *config.Config {
	t.Helper()
	cfg, err := config.Load(s)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestManagerStaticTargetsAndReload(t *testing.T) {
	a, aHits := countingTarget(t, "a_metric 1\n")
	b, _ := countingTarget(t, "b_metric 1\n")
	st := newTestStorage()
	m := newTestManager(t, st)
	cfgText := fmt.Sprintf(`
global:
  scrape_interval: 50ms
  scrape_timeout: 50ms
scrape_configs:
- job_name: one
  static_configs:
  - targets: [%q]
    labels: {env: test}
- job_name: two
  static_configs:
  - targets: [%q, "dropme:1"]
  relabel_configs:
  - source_labels: [__address__]
    regex: dropme.*
    action: drop
`, host(a), host(b))
	if err := m.ApplyConfig(mustLoad(t, cfgText)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both targets scraped", func() bool {
		for _, ts := range m.TargetsActive() {
			for _, tg := range ts {
				if tg.Health() != HealthGood {
					return false
				}
			}
		}
		return len(m.TargetsActive()["one"]) == 1 && len(m.TargetsActive()["two"]) == 1
	})
	one := m.TargetsActive()["one"][0]
	if got := one.Labels().String(); got != fmt.Sprintf(`{env="test", instance=%q, job="one"}`, host(a)) {
		t.Errorf("labels %s", got)
	}
	if one.DiscoveredLabels().Get("__address__") != host(a) || one.DiscoveredLabels().Get("__scrape_interval__") != "50ms" {
		t.Errorf("discovered labels %s", one.DiscoveredLabels())
	}
	if one.URL() != a.URL+"/metrics" || one.ScrapePool() != "one" {
		t.Errorf("url %s pool %s", one.URL(), one.ScrapePool())
	}
	dropped := m.TargetsDropped()["two"]
	if len(dropped) != 1 || dropped[0].DiscoveredLabels().Get("__address__") != "dropme:1" || m.TargetsDroppedCounts()["two"] != 1 {
		t.Fatalf("dropped %v", dropped)
	}
	if len(st.series(fmt.Sprintf(`{__name__="a_metric", env="test", instance=%q, job="one"}`, host(a)))) == 0 {
		t.Fatal("a_metric not stored")
	}

	// Reloading the same file keeps the very same loop (no restart, no gap).
	loopsOf := func(job string) map[uint64]*scrapeLoop {
		m.poolsMtx.RLock()
		defer m.poolsMtx.RUnlock()
		p := m.pools[job]
		p.mtx.Lock()
		defer p.mtx.Unlock()
		res := map[uint64]*scrapeLoop{}
		for h, l := range p.loops {
			res[h] = l
		}
		return res
	}
	loopBefore := loopsOf("one")[one.hash]
	twoBefore := loopsOf("two")
	if err := m.ApplyConfig(mustLoad(t, cfgText)); err != nil {
		t.Fatal(err)
	}
	if loopsOf("one")[one.hash] != loopBefore {
		t.Fatal("an unchanged job's loop was restarted")
	}
	for h, l := range loopsOf("two") {
		if twoBefore[h] != l {
			t.Fatal("an unchanged job with relabel_configs was restarted")
		}
	}

	// Changing job two only restarts job two; job one keeps scraping.
	changed := strings.Replace(cfgText, "- job_name: two\n", "- job_name: two\n  scrape_interval: 40ms\n  scrape_timeout: 40ms\n", 1)
	if err := m.ApplyConfig(mustLoad(t, changed)); err != nil {
		t.Fatal(err)
	}
	if loopsOf("one")[one.hash] != loopBefore {
		t.Error("job one's loop changed although its config did not")
	}
	if n := len(loopsOf("two")); n != 1 || m.TargetsActive()["two"][0].Interval() != 40*time.Millisecond {
		t.Errorf("job two not reloaded: %d loops, interval %v", n, m.TargetsActive()["two"][0].Interval())
	}
	// The interval is part of the target's internal labels, so the target changed identity
	// internally; its series must continue without stale markers.
	time.Sleep(200 * time.Millisecond)
	bSeries := st.series(fmt.Sprintf(`{__name__="b_metric", instance=%q, job="two"}`, host(b)))
	for _, s := range bSeries {
		if storage.IsStaleNaN(s.v) {
			t.Fatalf("reloading job two wrote stale markers: %v", bSeries)
		}
	}
	if len(bSeries) < 3 {
		t.Fatalf("job two not scraping after reload: %v", bSeries)
	}

	// Removing job one stops its scrapes and, two intervals later, marks its series stale.
	onlyTwo := fmt.Sprintf(`
global:
  scrape_interval: 50ms
  scrape_timeout: 50ms
scrape_configs:
- job_name: two
  static_configs:
  - targets: [%q]
`, host(b))
	if err := m.ApplyConfig(mustLoad(t, onlyTwo)); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.TargetsActive()["one"]; ok {
		t.Fatal("job one still active")
	}
	hits := aHits.Load()
	waitFor(t, "stale markers for job one", func() bool {
		s := st.series(fmt.Sprintf(`{__name__="a_metric", env="test", instance=%q, job="one"}`, host(a)))
		return len(s) > 0 && storage.IsStaleNaN(s[len(s)-1].v)
	})
	// Removing a job cancels its scrape in flight at once (it stores nothing) without waiting
	// for the target: that one request may still reach the target after ApplyConfig returned.
	// No scrape may start after it.
	if got := aHits.Load(); got > hits+1 {
		t.Errorf("job one was scraped after it was removed: %d requests after removal", got-hits)
	}
}

func TestManagerBadReloadKeepsConfig(t *testing.T) {
	a, _ := countingTarget(t, "m 1\n")
	st := newTestStorage()
	m := newTestManager(t, st)
	good := fmt.Sprintf("global: {scrape_interval: 50ms, scrape_timeout: 50ms}\nscrape_configs:\n- job_name: a\n  static_configs: [{targets: [%q]}]\n", host(a))
	if err := m.ApplyConfig(mustLoad(t, good)); err != nil {
		t.Fatal(err)
	}
	// A CA file that does not exist makes the HTTP client fail: nothing may change.
	bad := good + "- job_name: b\n  tls_config: {ca_file: /nonexistent/ca.pem}\n  static_configs: [{targets: ['x:1']}]\n"
	err := m.ApplyConfig(mustLoad(t, bad))
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/ca.pem") {
		t.Fatalf("want an error naming the CA file, got %v", err)
	}
	if pools := m.ScrapePools(); len(pools) != 1 || pools[0] != "a" {
		t.Fatalf("pools after failed reload: %v", pools)
	}
}

func TestManagerTargetLimit(t *testing.T) {
	a, hits := countingTarget(t, "m 1\n")
	st := newTestStorage()
	m := newTestManager(t, st)
	cfg := fmt.Sprintf("global: {scrape_interval: 50ms, scrape_timeout: 50ms}\nscrape_configs:\n- job_name: a\n  target_limit: 1\n  static_configs: [{targets: [%q, 'y:1']}]\n", host(a))
	if err := m.ApplyConfig(mustLoad(t, cfg)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "targets failing with target_limit", func() bool {
		ts := m.TargetsActive()["a"]
		if len(ts) != 2 {
			return false
		}
		for _, tg := range ts {
			if tg.LastError() == nil || tg.LastError().Error() != "target_limit exceeded (number of targets: 2, limit: 1)" {
				return false
			}
		}
		return true
	})
	if hits.Load() != 0 {
		t.Error("targets over target_limit must not be scraped")
	}
}

func TestManagerMetadata(t *testing.T) {
	a, _ := countingTarget(t, "# HELP m Help of m.\n# TYPE m gauge\nm 1\n# TYPE c counter\nc_total 1\n")
	st := newTestStorage()
	m := newTestManager(t, st)
	cfg := fmt.Sprintf("global: {scrape_interval: 50ms, scrape_timeout: 50ms}\nscrape_configs:\n- job_name: a\n  static_configs: [{targets: [%q]}]\n", host(a))
	if err := m.ApplyConfig(mustLoad(t, cfg)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "metadata", func() bool { return len(m.Metadata("", 0)) == 2 })
	md := m.Metadata("m", 0)["m"]
	if len(md) != 1 || md[0].Help != "Help of m." || md[0].Type != "gauge" {
		t.Fatalf("metadata of m: %+v", md)
	}
	tm := m.TargetsMetadata("", func(t *Target) bool { return t.Labels().Get("job") == "a" })
	if len(tm) != 2 || tm[0].MetricFamily != "c" || tm[0].Type != "counter" {
		t.Fatalf("targets metadata: %+v", tm)
	}
	if tm := m.TargetsMetadata("", func(*Target) bool { return false }); len(tm) != 0 {
		t.Fatalf("matcher ignored: %+v", tm)
	}
}

func TestFileSD(t *testing.T) {
	a, _ := countingTarget(t, "m 1\n")
	dir := t.TempDir()
	write := func(name, content string) {
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	write("a.json", fmt.Sprintf(`[{"targets": [%q], "labels": {"team": "x"}}]`, host(a)))
	st := newTestStorage()
	m := newTestManager(t, st)
	cfg := fmt.Sprintf("global: {scrape_interval: 50ms, scrape_timeout: 50ms}\nscrape_configs:\n- job_name: f\n  file_sd_configs: [{files: [%q, %q], refresh_interval: 1h}]\n", filepath.Join(dir, "*.json"), filepath.Join(dir, "*.yml"))
	if err := m.ApplyConfig(mustLoad(t, cfg)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "file target", func() bool {
		ts := m.TargetsActive()["f"]
		return len(ts) == 1 && ts[0].Labels().Get("team") == "x" && ts[0].DiscoveredLabels().Get("__meta_filepath") == filepath.Join(dir, "a.json")
	})
	// A broken file keeps the previous targets.
	write("a.json", `[{"targets": [`)
	time.Sleep(100 * time.Millisecond)
	if ts := m.TargetsActive()["f"]; len(ts) != 1 {
		t.Fatalf("broken file must keep targets, got %d", len(ts))
	}
	// Changes are picked up by the watch, not only by refresh_interval (1h here).
	write("a.json", fmt.Sprintf(`[{"targets": [%q, "other:1"]}]`, host(a)))
	waitFor(t, "updated file targets", func() bool { return len(m.TargetsActive()["f"]) == 2 })
	write("b.yml", "- targets: ['third:1']\n")
	waitFor(t, "new yaml file", func() bool { return len(m.TargetsActive()["f"]) == 3 })
	if err := os.Remove(filepath.Join(dir, "b.yml")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "removed file", func() bool { return len(m.TargetsActive()["f"]) == 2 })
}

func TestPopulateLabels(t *testing.T) {
	base := mustLoad(t, "scrape_configs:\n- job_name: j\n  scrape_interval: 10s\n  scrape_timeout: 5s\n  params: {module: [m1]}\n").ScrapeConfigs[0]
	cases := []struct {
		name    string
		target  map[string]string
		relabel string
		want    string
		err     string
	}{
		{name: "defaults", target: map[string]string{"__address__": "h:1"},
			want: `{__address__="h:1", __metrics_path__="/metrics", __param_module="m1", __scheme__="http", __scrape_interval__="10s", __scrape_timeout__="5s", instance="h:1", job="j"}`},
		{name: "meta labels removed, instance kept", target: map[string]string{"__address__": "h:1", "__meta_x": "y", "instance": "custom"},
			want: `{__address__="h:1", __metrics_path__="/metrics", __param_module="m1", __scheme__="http", __scrape_interval__="10s", __scrape_timeout__="5s", instance="custom", job="j"}`},
		{name: "no address", target: map[string]string{"foo": "bar"}, err: "no address"},
		{name: "url as address", target: map[string]string{"__address__": "http://h:1"}, err: `"http://h:1" is not a valid hostname`},
		{name: "bad interval", target: map[string]string{"__address__": "h:1", "__scrape_interval__": "x"}, err: "error parsing scrape interval"},
		{name: "zero timeout", target: map[string]string{"__address__": "h:1", "__scrape_timeout__": "0s"}, err: "scrape timeout cannot be 0"},
		{name: "timeout over interval", target: map[string]string{"__address__": "h:1", "__scrape_timeout__": "20s"}, err: `scrape timeout cannot be greater than scrape interval ("20s" > "10s")`},
		{name: "bad scheme", target: map[string]string{"__address__": "h:1", "__scheme__": "ftp"}, err: `invalid scheme "ftp"`},
		{name: "invalid value", target: map[string]string{"__address__": "h:1", "x": "\xff"}, err: `invalid label value for "x"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl := model.LabelSet{}
			for k, v := range c.target {
				tl[model.LabelName(k)] = model.LabelValue(v)
			}
			res, _, err := populateLabels(labels.NewBuilder(labels.EmptyLabels()), base, tl, nil)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.String() != c.want {
				t.Fatalf("got %s\nwant %s", res, c.want)
			}
		})
	}
	// A target URL carries __param_* over the config's params.
	tg := newTarget("j", labels.FromStrings("__address__", "h:1", "__scheme__", "https", "__metrics_path__", "/probe", "__param_target", "t1", "__scrape_interval__", "1s", "__scrape_timeout__", "1s"), labels.EmptyLabels(), base.Params)
	if tg.URL() != "https://h:1/probe?module=m1&target=t1" {
		t.Errorf("url %s", tg.URL())
	}
}
