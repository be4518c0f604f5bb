package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/prometheus/common/expfmt"
)

// pgwServer is a Vigil run in-process on a data directory that outlives it.
type pgwServer struct {
	base string
	done chan error
}

// startPushgatewayServer runs the server on dir with the Pushgateway API, storing the groups
// every 200ms, plus args.
func startPushgatewayServer(t *testing.T, dir string, args ...string) *pgwServer {
	t.Helper()
	addr := freeAddr(t)
	f, err := parseFlags(append([]string{"--storage.tsdb.path=" + dir, "--web.listen-address=" + addr, "--web.enable-lifecycle",
		"--web.enable-pushgateway", "--pushgateway.interval=200ms"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	s := &pgwServer{base: "http://" + addr, done: make(chan error, 1)}
	for _, a := range args {
		if p, ok := strings.CutPrefix(a, "--web.route-prefix="); ok {
			s.base += p
		}
	}
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("PGW_TEST_LOG") != "" {
		lf, _ := os.OpenFile(os.Getenv("PGW_TEST_LOG"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o666)
		logger = slog.New(slog.NewTextHandler(lf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	go func() { s.done <- run(f, logger) }()
	pgwWait(t, "server ready", func() bool {
		select {
		case err := <-s.done:
			t.Fatalf("server stopped: %v", err)
		default:
		}
		resp, err := http.Get(s.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *pgwServer) stop(t *testing.T) {
	if s.done == nil {
		return
	}
	if resp, err := http.Post(s.base+"/-/quit", "", nil); err == nil {
		resp.Body.Close()
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("server did not stop after /-/quit")
	}
	s.done = nil
}

func pgwWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// query returns the instant vector of expr as "labels value" lines, sorted.
func (s *pgwServer) query(t *testing.T, expr string) []string {
	t.Helper()
	resp, err := http.Get(s.base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		t.Fatal(err)
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
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range r.Data.Result {
		var ls []string
		for k, v := range s.Metric {
			ls = append(ls, k+"="+v)
		}
		sort.Strings(ls)
		out = append(out, fmt.Sprintf("{%s} %v", strings.Join(ls, ","), s.Value[1]))
	}
	sort.Strings(out)
	return out
}

// waitQuery waits until expr returns want.
func (s *pgwServer) waitQuery(t *testing.T, expr string, want ...string) {
	t.Helper()
	sort.Strings(want)
	var got []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = s.query(t, expr)
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
	}
	t.Fatalf("%s: got\n%s\nwant\n%s", expr, strings.Join(got, "\n"), strings.Join(want, "\n"))
}

// groups returns the grouping labels of GET /api/v1/metrics, each as "k=v,..." sorted, with
// the names of the group's families.
func (s *pgwServer) groups(t *testing.T) map[string][]string {
	t.Helper()
	resp, err := http.Get(s.base + "/api/v1/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/metrics: %s", resp.Status)
	}
	var r struct {
		Status string           `json:"status"`
		Data   []map[string]any `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	res := map[string][]string{}
	for _, g := range r.Data {
		var ls []string
		for k, v := range g["labels"].(map[string]any) {
			ls = append(ls, k+"="+v.(string))
		}
		sort.Strings(ls)
		var names []string
		for k := range g {
			if k != "labels" && k != "last_push_successful" {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		res[strings.Join(ls, ",")] = names
	}
	return res
}

func do(t *testing.T, method, url, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// client_golang's push package (Push, Add, Delete, grouping labels, protobuf and text) against
// a running Vigil: the groups are listed by /api/v1/metrics and their values stored in the
// TSDB with the grouping labels as job and instance; a restart keeps them.
func TestPushgatewayClientGolang(t *testing.T) {
	dir := t.TempDir()
	s := startPushgatewayServer(t, dir)

	reg := prometheus.NewRegistry()
	done := prometheus.NewCounter(prometheus.CounterOpts{Name: "batch_jobs_done_total", Help: "Jobs done."})
	last := prometheus.NewGauge(prometheus.GaugeOpts{Name: "batch_last_success_timestamp_seconds", Help: "Last success."})
	dur := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "batch_duration_seconds", Help: "Duration.", Buckets: []float64{1, 10}})
	reg.MustRegister(done, last, dur)
	done.Add(3)
	last.Set(1234)
	dur.Observe(5)

	// Push (PUT) in the default protobuf format, with an instance.
	if err := push.New(s.base, "backup").Gatherer(reg).Grouping("instance", "db-1").Push(); err != nil {
		t.Fatalf("Push: %v", err)
	}
	// Push in the text format, with a grouping label value that needs base64 in the URL.
	if err := push.New(s.base, "backup").Gatherer(reg).Grouping("instance", "db/2").Format(expfmt.NewFormat(expfmt.TypeTextPlain)).Push(); err != nil {
		t.Fatalf("Push (text): %v", err)
	}
	s.waitQuery(t, "batch_jobs_done_total",
		"{__name__=batch_jobs_done_total,instance=db-1,job=backup} 3",
		"{__name__=batch_jobs_done_total,instance=db/2,job=backup} 3")
	s.waitQuery(t, `batch_duration_seconds_bucket{instance="db-1"}`,
		"{__name__=batch_duration_seconds_bucket,instance=db-1,job=backup,le=+Inf} 1",
		"{__name__=batch_duration_seconds_bucket,instance=db-1,job=backup,le=1.0} 0",
		"{__name__=batch_duration_seconds_bucket,instance=db-1,job=backup,le=10.0} 1")

	// Add (POST) replaces only the families of the same name.
	g2 := prometheus.NewGauge(prometheus.GaugeOpts{Name: "batch_last_success_timestamp_seconds", Help: "Last success."})
	g2.Set(5678)
	if err := push.New(s.base, "backup").Collector(g2).Grouping("instance", "db-1").Add(); err != nil {
		t.Fatalf("Add: %v", err)
	}
	s.waitQuery(t, `batch_last_success_timestamp_seconds{instance="db-1"}`,
		"{__name__=batch_last_success_timestamp_seconds,instance=db-1,job=backup} 5678")
	s.waitQuery(t, `batch_jobs_done_total{instance="db-1"}`, "{__name__=batch_jobs_done_total,instance=db-1,job=backup} 3")
	// A PUT with g2 alone replaces the whole group.
	if err := push.New(s.base, "backup").Collector(g2).Grouping("instance", "db/2").Push(); err != nil {
		t.Fatalf("Push: %v", err)
	}
	s.waitQuery(t, `batch_jobs_done_total`, "{__name__=batch_jobs_done_total,instance=db-1,job=backup} 3")

	want := map[string][]string{
		"instance=db-1,job=backup": {"batch_duration_seconds", "batch_jobs_done_total", "batch_last_success_timestamp_seconds", "push_failure_time_seconds", "push_time_seconds"},
		"instance=db/2,job=backup": {"batch_last_success_timestamp_seconds", "push_failure_time_seconds", "push_time_seconds"},
	}
	if got := s.groups(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("/api/v1/metrics groups:\n%v\nwant\n%v", got, want)
	}
	// push_time_seconds per group, with the grouping labels.
	if got := s.query(t, `push_time_seconds > 0`); len(got) != 2 {
		t.Fatalf("push_time_seconds: %v", got)
	}

	// Restart: the groups are kept and stored again.
	s.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "pushgateway", "groups")); err != nil {
		t.Fatalf("groups file: %v", err)
	}
	s = startPushgatewayServer(t, dir)
	if got := s.groups(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after restart, /api/v1/metrics groups:\n%v\nwant\n%v", got, want)
	}
	start := time.Now()
	s.waitQuery(t, fmt.Sprintf(`count(timestamp(batch_jobs_done_total) > %.3f)`, float64(start.UnixMilli())/1000), "{} 1")

	// Delete removes the group; its series get stale markers at the next store.
	if err := push.New(s.base, "backup").Grouping("instance", "db-1").Delete(); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	s.waitQuery(t, "batch_jobs_done_total")
	want = map[string][]string{"instance=db/2,job=backup": want["instance=db/2,job=backup"]}
	if got := s.groups(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after Delete, /api/v1/metrics groups:\n%v\nwant\n%v", got, want)
	}
}

// curl --data-binary @file, as the Pushgateway's README shows, and a delete with curl -X DELETE.
func TestPushgatewayCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	s := startPushgatewayServer(t, t.TempDir())
	file := filepath.Join(t.TempDir(), "metrics.txt")
	if err := os.WriteFile(file, []byte(`# TYPE some_metric counter
some_metric{label="val1"} 42
# TYPE another_metric gauge
# HELP another_metric Just an example.
another_metric 2398.283
`), 0o666); err != nil {
		t.Fatal(err)
	}
	curl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("curl", append([]string{"-sS", "-w", "%{http_code}"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := curl("--data-binary", "@"+file, s.base+"/metrics/job/some_job/instance/some_instance"); out != "200" {
		t.Fatalf("curl push: %s", out)
	}
	s.waitQuery(t, "another_metric", "{__name__=another_metric,instance=some_instance,job=some_job} 2398.283")
	s.waitQuery(t, "some_metric", "{__name__=some_metric,instance=some_instance,job=some_job,label=val1} 42")
	if out := curl("-X", "DELETE", s.base+"/metrics/job/some_job/instance/some_instance"); out != "202" {
		t.Fatalf("curl delete: %s", out)
	}
	s.waitQuery(t, "another_metric")
	if got := s.groups(t); len(got) != 0 {
		t.Fatalf("groups after delete: %v", got)
	}
}

// Bad pushes get 400 with the reason, and change nothing but the group's
// push_failure_time_seconds; Vigil's own /metrics keeps serving its metrics; the API is off
// without the flag and follows --web.route-prefix.
func TestPushgatewayBadInput(t *testing.T) {
	s := startPushgatewayServer(t, t.TempDir(), "--pushgateway.max-body-size=1KB", "--web.route-prefix=/vigil")
	base := s.base
	if !strings.HasSuffix(base, "/vigil") {
		t.Fatalf("base %s", base)
	}
	if code, body := do(t, http.MethodPut, base+"/metrics/job/j/instance/a", "", "# TYPE x gauge\nx 1\ny{l=\"1\"} 2\n"); code != http.StatusOK {
		t.Fatalf("push: %d %s", code, body)
	}
	s.waitQuery(t, "x", "{__name__=x,instance=a,job=j} 1")
	for _, tc := range []struct {
		name, method, path, contentType, body, want string
	}{
		{"type clash with another group", http.MethodPut, "/metrics/job/j/instance/b", "", "# TYPE x counter\nx 1\n", "is not a"},
		{"duplicate series", http.MethodPost, "/metrics/job/j/instance/a", "", "z{l=\"1\"} 1\nz{l=\"1\"} 2\n", "was collected before with the same name and label values"},
		{"duplicate series of another group", http.MethodPut, "/metrics/job/j", "", "y{instance=\"a\",l=\"1\"} 3\n", "was collected before with the same name and label values"},
		{"timestamps", http.MethodPut, "/metrics/job/j/instance/c", "", "x 1 1700000000000\n", "pushed metrics must not have timestamps"},
		{"unparsable text", http.MethodPut, "/metrics/job/j/instance/a", "", "x{ 1\n", "text format parsing error"},
		{"truncated protobuf", http.MethodPut, "/metrics/job/j/instance/a", "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited", "\x20\x0a\x01", "unexpected EOF"},
		{"oversize push", http.MethodPut, "/metrics/job/j/instance/a", "", strings.Repeat("big 1\n", 200), "exceeds the size limit of 1024 bytes (--pushgateway.max-body-size)"},
		{"bad base64 label value", http.MethodPut, "/metrics/job/j/instance@base64/!!!", "", "x 1\n", "invalid base64 encoding"},
		{"bad base64 job", http.MethodPut, "/metrics/job@base64/!!!", "", "x 1\n", "invalid base64 encoding in job name"},
		{"odd label path", http.MethodPut, "/metrics/job/j/instance", "", "x 1\n", "odd number of components"},
		{"bad label name", http.MethodPut, "/metrics/job/j/__x/1", "", "x 1\n", "improper label name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, tc.method, base+tc.path, tc.contentType, tc.body)
			if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Fatalf("%s %s: %d %q, want 400 with %q", tc.method, tc.path, code, body, tc.want)
			}
		})
	}
	// Nothing stored was lost.
	s.waitQuery(t, "x", "{__name__=x,instance=a,job=j} 1")
	s.waitQuery(t, "y", "{__name__=y,instance=a,job=j,l=1} 2")
	pgwWait(t, "push_failure_time_seconds of the group", func() bool {
		return len(s.query(t, `push_failure_time_seconds{instance="a"} > 0`)) == 1
	})
	if got := s.groups(t)["instance=a,job=j"]; fmt.Sprint(got) != "[push_failure_time_seconds push_time_seconds x y]" {
		t.Fatalf("group after refused pushes: %v", got)
	}
	// Vigil's own /metrics is still its own, with the Pushgateway handlers' counters.
	_, body := do(t, http.MethodGet, base+"/metrics", "", "")
	if !strings.Contains(body, "vigil_build_info") || !strings.Contains(body, `pushgateway_http_requests_total{code="400",handler="push",method="put"}`) {
		t.Fatalf("/metrics:\n%.2000s", body)
	}
	// The admin wipe is off without --web.enable-admin-api.
	if code, _ := do(t, http.MethodPut, base+"/api/v1/admin/wipe", "", ""); code == http.StatusAccepted {
		t.Fatal("wipe served without --web.enable-admin-api")
	}
}

func TestPushgatewayOffByDefaultAndWipe(t *testing.T) {
	base := startServer(t)
	if code, _ := do(t, http.MethodPut, base+"/metrics/job/j", "", "x 1\n"); code == http.StatusOK {
		t.Fatal("push accepted without --web.enable-pushgateway")
	}
	if code, _ := do(t, http.MethodGet, base+"/api/v1/metrics", "", ""); code == http.StatusOK {
		t.Fatal("/api/v1/metrics served without --web.enable-pushgateway")
	}

	s := startPushgatewayServer(t, t.TempDir(), "--web.enable-admin-api")
	for _, job := range []string{"a", "b"} {
		if code, body := do(t, http.MethodPut, s.base+"/metrics/job/"+job, "", "x 1\n"); code != http.StatusOK {
			t.Fatalf("push: %d %s", code, body)
		}
	}
	if code, _ := do(t, http.MethodGet, s.base+"/api/v1/status", "", ""); code != http.StatusOK {
		t.Fatalf("/api/v1/status: %d", code)
	}
	if code, body := do(t, http.MethodPut, s.base+"/api/v1/admin/wipe", "", ""); code != http.StatusAccepted {
		t.Fatalf("wipe: %d %s", code, body)
	}
	if got := s.groups(t); len(got) != 0 {
		t.Fatalf("groups after wipe: %v", got)
	}
}
