package v1

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/scrape"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// promtoolPath finds the Debian package's promtool. In CI (CI=true) a missing promtool fails
// the test: the compatibility check must not silently disappear.
func promtoolPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool not found (install the Debian package 'prometheus', see scripts/deps.sh): %v", err)
		}
		t.Skipf("promtool not found (install the Debian package 'prometheus'): %v", err)
	}
	return p
}

func runPromtool(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, promtoolPath(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPromtool drives the real promtool (Debian's Prometheus 2.x build) against the API.
func TestPromtool(t *testing.T) {
	env := newTestEnv(t, nil)
	u := env.srv.URL

	out := runPromtool(t, "query", "instant", "--time=2024-01-01T00:10:00Z", u, `http_requests_total{job="api"}`)
	want := "http_requests_total{instance=\"a\", job=\"api\"} => 400 @[1704067800]\n" +
		"http_requests_total{instance=\"b\", job=\"api\"} => 800 @[1704067800]\n"
	if out != want {
		t.Errorf("promtool query instant:\n got %q\nwant %q", out, want)
	}

	out = runPromtool(t, "query", "instant", "--time=2024-01-01T00:10:00Z", u, `sum by (job) (rate(http_requests_total[5m]))`)
	if !strings.Contains(out, `{job="api"} => 2 @[1704067800]`) || !strings.Contains(out, `{job="db"} => `) {
		t.Errorf("promtool query instant rate:\n%s", out)
	}

	out = runPromtool(t, "query", "range", "--start=2024-01-01T00:00:00Z", "--end=2024-01-01T00:00:30Z", "--step=15s", u, `http_requests_total{instance="c"}`)
	want = "http_requests_total{instance=\"c\", job=\"db\"} =>\n0 @[1704067200]\n30 @[1704067215]\n60 @[1704067230]\n"
	if out != want {
		t.Errorf("promtool query range:\n got %q\nwant %q", out, want)
	}

	out = runPromtool(t, "query", "series", "--start=2024-01-01T00:00:00Z", "--end=2024-01-02T00:00:00Z", "--match=http_requests_total", "--match=special{kind=\"nan\"}", u)
	want = "{__name__=\"http_requests_total\", instance=\"a\", job=\"api\"}\n" +
		"{__name__=\"http_requests_total\", instance=\"b\", job=\"api\"}\n" +
		"{__name__=\"http_requests_total\", instance=\"c\", job=\"db\"}\n" +
		"{__name__=\"special\", kind=\"nan\"}\n"
	if out != want {
		t.Errorf("promtool query series:\n got %q\nwant %q", out, want)
	}

	out = runPromtool(t, "query", "labels", "--start=2024-01-01T00:00:00Z", "--end=2024-01-02T00:00:00Z", u, "job")
	if out != "api\ndb\n" {
		t.Errorf("promtool query labels: %q", out)
	}
	out = runPromtool(t, "query", "labels", "--start=2024-01-01T00:00:00Z", "--end=2024-01-02T00:00:00Z", "--match=special", u, "kind")
	if out != "-inf\ninf\nnan\n" {
		t.Errorf("promtool query labels --match: %q", out)
	}

	// A malformed query fails promtool with our error text.
	cmd := exec.Command(promtoolPath(t), "query", "instant", u, "sum(")
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "parse error") {
		t.Errorf("promtool with a bad query: err %v, output %s", err, b)
	}
}

// startScraping runs a real scrape manager against a fake exporter so that targets and
// metadata hold live data.
func startScraping(t *testing.T, db *tsdb.DB) *scrape.Manager {
	t.Helper()
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# HELP demo_temperature_celsius Room temperature.\n# TYPE demo_temperature_celsius gauge\ndemo_temperature_celsius 21.5\n")
	}))
	t.Cleanup(exporter.Close)
	cfg, err := config.Load(fmt.Sprintf(`
global:
  scrape_interval: 1s
  scrape_timeout: 500ms
scrape_configs:
- job_name: demo
  static_configs:
  - targets: [%q]
  - targets: ["dropped.example:80"]
  relabel_configs:
  - source_labels: [__address__]
    regex: dropped.*
    action: drop
`, strings.TrimPrefix(exporter.URL, "http://")))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	m := scrape.NewManager(&scrape.Options{DiscoveryUpdateInterval: 10 * time.Millisecond}, nil, db, nil)
	t.Cleanup(m.Stop)
	if err := m.ApplyConfig(cfg); err != nil {
		t.Fatalf("apply config: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ts := m.TargetsActive()["demo"]
		if len(ts) == 1 && !ts[0].LastScrape().IsZero() && len(ts[0].ListMetadata()) > 0 {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("target not scraped in time: %v", ts)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClientGolang drives the official Go client against the API and checks it decodes every
// answer.
func TestClientGolang(t *testing.T) {
	db := newTestDB(t)
	mgr := startScraping(t, db)
	env := newTestEnvDB(t, db, func(o *Options) {
		o.EnableAdmin = true
		o.Now = time.Now
		o.Targets = mgr
		o.Metadata = mgr.Metadata
	})

	client, err := api.NewClient(api.Config{Address: env.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c := promv1.NewAPI(client)
	ctx := context.Background()
	at := time.Unix(1704067800, 0)

	v, warns, _, err := c.Query(ctx, `http_requests_total{job="api"}`, at)
	if err != nil || len(warns) != 0 {
		t.Fatalf("Query: %v %v", err, warns)
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) != 2 || vec[1].Value != 800 || vec[1].Metric["instance"] != "b" || !vec[1].Timestamp.Time().Equal(at) {
		t.Fatalf("Query result: %#v", v)
	}
	if v, _, _, err = c.Query(ctx, `special`, at); err != nil {
		t.Fatalf("Query special: %v", err)
	}
	if got := fmt.Sprint(v); !strings.Contains(got, "+Inf") || !strings.Contains(got, "NaN") {
		t.Fatalf("special values: %s", got)
	}
	// (client_golang cannot decode "string" results, whoever serves them.)
	if v, _, _, err = c.Query(ctx, `42`, at); err != nil || v.(*model.Scalar).Value != 42 {
		t.Fatalf("Query scalar: %v %v", v, err)
	}

	_, _, _, err = c.Query(ctx, `sum(`, at)
	var apiErr *promv1.Error
	if err == nil || !errors.As(err, &apiErr) || apiErr.Type != promv1.ErrBadData || !strings.Contains(apiErr.Msg, "1:5: parse error") {
		t.Fatalf("Query bad: %#v", err)
	}

	mv, _, _, err := c.QueryRange(ctx, `http_requests_total`, promv1.Range{Start: time.Unix(1704067200, 0), End: time.Unix(1704067260, 0), Step: 15 * time.Second})
	if err != nil {
		t.Fatalf("QueryRange: %v", err)
	}
	mat := mv.(model.Matrix)
	if len(mat) != 3 || len(mat[2].Values) != 5 || mat[2].Values[4].Value != 120 {
		t.Fatalf("QueryRange result: %v", mat)
	}

	series, _, _, err := c.Series(ctx, []string{`{job="db"}`}, time.Unix(1704067200, 0), time.Unix(1704067800, 0))
	if err != nil || len(series) != 1 || series[0]["instance"] != "c" {
		t.Fatalf("Series: %v %v", series, err)
	}
	names, _, _, err := c.LabelNames(ctx, nil, time.Time{}, time.Time{})
	if err != nil || len(names) < 6 || names[0] != "__name__" {
		t.Fatalf("LabelNames: %v %v", names, err)
	}
	vals, _, _, err := c.LabelValues(ctx, "service.name", nil, time.Time{}, time.Time{})
	if err != nil || len(vals) != 1 || vals[0] != "x" {
		t.Fatalf("LabelValues UTF-8: %v %v", vals, err)
	}

	bi, err := c.Buildinfo(ctx)
	if err != nil || bi.Version != "1.2.3" {
		t.Fatalf("Buildinfo: %v %v", bi, err)
	}
	ri, err := c.Runtimeinfo(ctx)
	if err != nil || ri.StorageRetention != "15d" {
		t.Fatalf("Runtimeinfo: %v %v", ri, err)
	}
	fl, err := c.Flags(ctx)
	if err != nil || fl["query.timeout"] != "2m" {
		t.Fatalf("Flags: %v %v", fl, err)
	}
	cfg, err := c.Config(ctx)
	if err != nil || !strings.Contains(cfg.YAML, "scrape_interval") {
		t.Fatalf("Config: %v %v", cfg, err)
	}
	st, err := c.TSDB(ctx)
	if err != nil || st.HeadStats.NumSeries == 0 || len(st.SeriesCountByMetricName) == 0 {
		t.Fatalf("TSDB: %+v %v", st, err)
	}

	tr, err := c.Targets(ctx)
	if err != nil || len(tr.Active) != 1 || len(tr.Dropped) != 1 {
		t.Fatalf("Targets: %+v %v", tr, err)
	}
	at0 := tr.Active[0]
	if at0.ScrapePool != "demo" || at0.Health != promv1.HealthGood || at0.Labels["job"] != "demo" ||
		at0.DiscoveredLabels["__address__"] == "" || at0.ScrapeURL == "" || at0.LastScrape.IsZero() {
		t.Fatalf("active target: %+v", at0)
	}
	if tr.Dropped[0].DiscoveredLabels["__address__"] != "dropped.example:80" {
		t.Fatalf("dropped target: %+v", tr.Dropped[0])
	}
	tm, err := c.TargetsMetadata(ctx, `{job="demo"}`, "demo_temperature_celsius", "")
	if err != nil || len(tm) != 1 || tm[0].Type != "gauge" || tm[0].Help != "Room temperature." || tm[0].Target["job"] != "demo" {
		t.Fatalf("TargetsMetadata: %+v %v", tm, err)
	}
	md, err := c.Metadata(ctx, "", "")
	if err != nil || len(md["demo_temperature_celsius"]) != 1 || md["demo_temperature_celsius"][0].Type != "gauge" {
		t.Fatalf("Metadata: %+v %v", md, err)
	}

	snap, err := c.Snapshot(ctx, true)
	if err != nil || snap.Name == "" {
		t.Fatalf("Snapshot: %v %v", snap, err)
	}
	if err := c.DeleteSeries(ctx, []string{`special`}, time.Time{}, time.Time{}); err != nil {
		t.Fatalf("DeleteSeries: %v", err)
	}
	if err := c.CleanTombstones(ctx); err != nil {
		t.Fatalf("CleanTombstones: %v", err)
	}
	if s, _, _, err := c.Series(ctx, []string{`special`}, time.Time{}, time.Time{}); err != nil || len(s) != 0 {
		t.Fatalf("series after delete: %v %v", s, err)
	}
	// FormatQuery hands back the raw JSON of "data", quotes included (as against Prometheus).
	if f, err := c.FormatQuery(ctx, "sum(up)by(job)"); err != nil || f != `"sum by (job) (up)"` {
		t.Fatalf("FormatQuery: %q %v", f, err)
	}
	if rr, err := c.Rules(ctx, nil); err != nil || len(rr.Groups) != 0 {
		t.Fatalf("Rules: %v %v", rr, err)
	}
	if ar, err := c.Alerts(ctx); err != nil || len(ar.Alerts) != 0 {
		t.Fatalf("Alerts: %v %v", ar, err)
	}
}
