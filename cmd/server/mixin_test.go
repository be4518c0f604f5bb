package main

// The alerts users already run on Prometheus and Alertmanager (the upstream mixins) must work on
// Vigil unchanged. This test reads the alert expressions of the mixins of the upstream versions
// Vigil builds against, from the module cache, and checks that a running Vigil exposes every
// metric they use, with the labels they group, match or join on.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// mixinAlertFiles are the alert files of the upstream mixins, by module and path inside it, and
// their dashboard files.
var mixinAlertFiles = []struct {
	module, dir string
	dashboards  []string
}{
	{"github.com/prometheus/prometheus", "documentation/prometheus-mixin", []string{"dashboards.libsonnet"}},
	{"github.com/prometheus/alertmanager", "doc/alertmanager-mixin", []string{"dashboards/overview.libsonnet"}},
}

// mixinDashboardExemptions are the metrics of the mixins' dashboards that Vigil does not expose,
// and why; the same rules as mixinExemptions apply.
var mixinDashboardExemptions = map[string]string{
	"prometheus_build_info":                             "Vigil is not Prometheus: its build information is vigil_build_info",
	"prometheus_remote_storage_dropped_samples_total":   oldRemoteStorageName,
	"prometheus_remote_storage_failed_samples_total":    oldRemoteStorageName,
	"prometheus_remote_storage_pending_samples":         oldRemoteStorageName,
	"prometheus_remote_storage_retried_samples_total":   oldRemoteStorageName,
	"prometheus_remote_storage_succeeded_samples_total": oldRemoteStorageName,
}

// mixinDashboardNameRE finds the metric names in dashboard sources: the queries are built in
// jsonnet from string pieces, so they are not parsed; names are enough to find a panel that
// would stay empty.
var mixinDashboardNameRE = regexp.MustCompile(`\b(?:prometheus|alertmanager)_[a-z_]+[a-z]\b`)

// mixinExemptions are the metrics of mixin alerts that Vigil does not expose, and why. Each
// entry must be used by some alert and must really be absent from /metrics; a prefix entry ends
// in "_".
var mixinExemptions = map[string]string{
	"up": "written by the Prometheus that scrapes Vigil, never exposed by the scraped process",
	"prometheus_remote_storage_failed_samples_total":    oldRemoteStorageName,
	"prometheus_remote_storage_succeeded_samples_total": oldRemoteStorageName,
}

// oldRemoteStorageName is why the remote-write metrics' old names are exempted.
const oldRemoteStorageName = "Prometheus's pre-2.23 name, queried with `or` beside the current one (which Vigil exposes); " +
	"Prometheus 3 does not expose it either"

// mixinTargetLabels are added by the scraping side (the target's labels), not by the process.
var mixinTargetLabels = map[string]bool{"job": true, "instance": true}

// mixinUse is what the alerts need of one metric.
type mixinUse struct {
	alerts map[string]bool
	labels map[string]bool // label names matched on this selector
}

// mixinGroup is a label a `by`, `without`, `on`, `ignoring` or `group_left` needs from at least
// one of the metrics under it.
type mixinGroup struct {
	alert, label string
	metrics      []string
}

var (
	mixinExprRE   = regexp.MustCompile(`(?s)alert: '([A-Za-z]+)',\s*expr: \|\|\|\n(.*?)\n\s*\|\|\| % \$\._config`)
	mixinConfigRE = regexp.MustCompile(`(?m)^\s*(\w+): @?'([^']*)',`)
	mixinParamRE  = regexp.MustCompile(`%\((\w+)\)s`)
)

// readMixinAlerts returns the alert expressions (alert name → PromQL) of the mixin in dir, its
// %(name)s parameters replaced by the mixin's config.libsonnet defaults, as jsonnet renders them.
func readMixinAlerts(t *testing.T, dir string) map[string][]string {
	t.Helper()
	conf, err := os.ReadFile(filepath.Join(dir, "config.libsonnet"))
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for _, m := range mixinConfigRE.FindAllStringSubmatch(string(conf), -1) {
		params[m[1]] = m[2]
	}
	alerts, err := os.ReadFile(filepath.Join(dir, "alerts.libsonnet"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, m := range mixinExprRE.FindAllStringSubmatch(string(alerts), -1) {
		expr := mixinParamRE.ReplaceAllStringFunc(m[2], func(p string) string {
			name := mixinParamRE.FindStringSubmatch(p)[1]
			v, ok := params[name]
			if !ok {
				t.Fatalf("%s: alert %s uses %s, not in config.libsonnet", dir, m[1], p)
			}
			return v
		})
		out[m[1]] = append(out[m[1]], strings.ReplaceAll(expr, "%%", "%"))
	}
	if len(out) == 0 {
		t.Fatalf("no alert expressions found in %s/alerts.libsonnet", dir)
	}
	return out
}

// mixinNeeds parses the expressions and collects, per metric name, the alerts using it and the
// label names matched on it, and the grouping labels each needs from some metric under it.
func mixinNeeds(t *testing.T, alerts map[string][]string) (map[string]*mixinUse, []mixinGroup) {
	t.Helper()
	uses := map[string]*mixinUse{}
	var groups []mixinGroup
	for alert, exprs := range alerts {
		for _, text := range exprs {
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(text)
			if err != nil {
				t.Fatalf("alert %s: %v\n%s", alert, err, text)
			}
			needGroup := func(node parser.Node, names []string) {
				var under []string
				parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
					if vs, ok := n.(*parser.VectorSelector); ok {
						under = append(under, selectorName(vs))
					}
					return nil
				})
				for _, l := range names {
					if !mixinTargetLabels[l] {
						groups = append(groups, mixinGroup{alert: alert, label: l, metrics: under})
					}
				}
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				switch n := n.(type) {
				case *parser.VectorSelector:
					name := selectorName(n)
					u := uses[name]
					if u == nil {
						u = &mixinUse{alerts: map[string]bool{}, labels: map[string]bool{}}
						uses[name] = u
					}
					u.alerts[alert] = true
					for _, m := range n.LabelMatchers {
						if m.Name != model.MetricNameLabel && !mixinTargetLabels[m.Name] {
							u.labels[m.Name] = true
						}
					}
				case *parser.AggregateExpr:
					needGroup(n.Expr, n.Grouping)
				case *parser.BinaryExpr:
					if vm := n.VectorMatching; vm != nil {
						needGroup(n, append(append([]string(nil), vm.MatchingLabels...), vm.Include...))
					}
				}
				return nil
			})
		}
	}
	return uses, groups
}

func selectorName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel {
			return m.Value
		}
	}
	return ""
}

// moduleDir is the module cache directory of a module of go.mod (no network: the build needs it
// there anyway).
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", module, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatalf("module %s is not in the module cache (go mod download)", module)
	}
	return dir
}

// exemptionFor returns the entry of mixinExemptions covering name, if any.
func exemptionFor(name string) (string, bool) { return exemptionIn(mixinExemptions, name) }

func exemptionIn(table map[string]string, name string) (string, bool) {
	for k := range table {
		if k == name || (strings.HasSuffix(k, "_") && strings.HasPrefix(name, k)) {
			return k, true
		}
	}
	return "", false
}

// exposedFamily finds the family a series name of an expression belongs to: itself, or the
// histogram or summary it is the _bucket, _sum or _count of.
func exposedFamily(fams map[string]*dto.MetricFamily, name string) *dto.MetricFamily {
	if f, ok := fams[name]; ok {
		return f
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := fams[base]; ok && (f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY) {
				return f
			}
		}
	}
	return nil
}

func familyLabels(f *dto.MetricFamily) map[string]bool {
	res := map[string]bool{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			res[l.GetName()] = true
		}
	}
	return res
}

// startMixinServer runs Vigil configured as a Prometheus and Alertmanager would be to expose the
// metrics the mixins watch: scrape jobs (static, and http_sd as a refreshing discovery), rule
// groups, an external Alertmanager the rules send to, an alertmanager.yml with a receiver, and
// HA gossip between Alertmanagers.
func startMixinServer(t *testing.T) string {
	t.Helper()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# HELP m A metric.\n# TYPE m gauge\nm 1\n")
	}))
	t.Cleanup(target.Close)
	targetAddr := strings.TrimPrefix(target.URL, "http://")
	sd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `[{"targets":[%q],"labels":{}}]`, targetAddr)
	}))
	t.Cleanup(sd.Close)
	externalAM := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(externalAM.Close)
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(webhook.Close)
	remoteSink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(remoteSink.Close)

	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rules := write("rules.yml", `groups:
- name: mixin
  interval: 100ms
  rules:
  - record: job:m:sum
    expr: sum by (job) (m)
  - alert: AlwaysFiring
    expr: vector(1)
`)
	prom := write("prometheus.yml", fmt.Sprintf(`global:
  scrape_interval: 100ms
  scrape_timeout: 100ms
  evaluation_interval: 100ms
rule_files: [%q]
alerting:
  alertmanagers:
  - static_configs:
    - targets: [%q]
scrape_configs:
- job_name: static
  static_configs: [{targets: [%q]}]
- job_name: http-sd
  http_sd_configs: [{url: %q, refresh_interval: 100ms}]
remote_write:
- url: %q
  queue_config: {batch_send_deadline: 100ms}
`, rules, strings.TrimPrefix(externalAM.URL, "http://"), targetAddr, sd.URL+"/sd", remoteSink.URL+"/api/v1/write"))
	am := write("alertmanager.yml", fmt.Sprintf(`route:
  receiver: hook
  group_wait: 0s
receivers:
- name: hook
  webhook_configs: [{url: %q}]
`, webhook.URL+"/hook"))
	return startServer(t, "--config.file="+prom, "--alertmanager.config.file="+am,
		"--cluster.listen-address="+freeAddr(t))
}

func scrapeFamilies(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// TestMixinAlertMetrics checks that every metric the upstream Prometheus and Alertmanager mixin
// alerts use is on Vigil's /metrics, with the label names the alerts match, group or join on,
// unless mixinExemptions says why Vigil cannot have it; and that the metrics their dashboards
// chart are there, unless mixinDashboardExemptions says why not.
func TestMixinAlertMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole server")
	}
	alerts := map[string][]string{}
	for _, m := range mixinAlertFiles {
		for a, exprs := range readMixinAlerts(t, filepath.Join(moduleDir(t, m.module), m.dir)) {
			alerts[a] = append(alerts[a], exprs...)
		}
	}
	uses, groups := mixinNeeds(t, alerts)
	dashboardNames := map[string]bool{}
	for _, m := range mixinAlertFiles {
		for _, f := range m.dashboards {
			b, err := os.ReadFile(filepath.Join(moduleDir(t, m.module), m.dir, f))
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range mixinDashboardNameRE.FindAllString(string(b), -1) {
				dashboardNames[n] = true
			}
		}
	}
	if !dashboardNames["prometheus_tsdb_head_series"] || !dashboardNames["alertmanager_notifications_total"] {
		t.Fatalf("dashboard metric names not found: the extraction is broken: %v", sortedKeys(dashboardNames))
	}
	for _, a := range []string{"PrometheusBadConfig", "PrometheusRuleFailures", "PrometheusNotificationQueueRunningFull", "AlertmanagerFailedReload"} {
		if _, ok := alerts[a]; !ok {
			t.Fatalf("alert %s not found in the mixins: the extraction is broken", a)
		}
	}

	base := startMixinServer(t)
	var problems []string
	check := func() []string {
		fams := scrapeFamilies(t, base)
		var missing []string
		usedExemptions := map[string]bool{}
		names := make([]string, 0, len(uses))
		for n := range uses {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			u := uses[name]
			f := exposedFamily(fams, name)
			if k, ok := exemptionFor(name); ok {
				usedExemptions[k] = true
				if f != nil {
					missing = append(missing, fmt.Sprintf("%s is exempted (%q) but exposed: drop the exemption", name, k))
				}
				continue
			}
			if f == nil {
				missing = append(missing, fmt.Sprintf("%s (alerts %s) is not exposed", name, sortedKeys(u.alerts)))
				continue
			}
			have := familyLabels(f)
			for l := range u.labels {
				if !have[l] {
					missing = append(missing, fmt.Sprintf("%s has no label %q (matched by %s)", name, l, sortedKeys(u.alerts)))
				}
			}
		}
		for k := range mixinExemptions {
			if !usedExemptions[k] {
				missing = append(missing, fmt.Sprintf("exemption %q is used by no mixin alert: drop it", k))
			}
		}
		for _, g := range groups {
			found := false
			for _, name := range g.metrics {
				if _, ok := exemptionFor(name); ok {
					found = true // the alert cannot work anyway
					break
				}
				if f := exposedFamily(fams, name); f != nil && familyLabels(f)[g.label] {
					found = true
					break
				}
			}
			if !found {
				missing = append(missing, fmt.Sprintf("alert %s groups or joins on %q, which none of %v has", g.alert, g.label, g.metrics))
			}
		}
		usedDashboardExemptions := map[string]bool{}
		for _, name := range sortedKeys(dashboardNames) {
			f := exposedFamily(fams, name)
			if k, ok := exemptionIn(mixinDashboardExemptions, name); ok {
				usedDashboardExemptions[k] = true
				if f != nil {
					missing = append(missing, fmt.Sprintf("dashboard metric %s is exempted (%q) but exposed: drop the exemption", name, k))
				}
				continue
			}
			if f == nil {
				missing = append(missing, fmt.Sprintf("dashboard metric %s is not exposed", name))
			}
		}
		for k := range mixinDashboardExemptions {
			if !usedDashboardExemptions[k] {
				missing = append(missing, fmt.Sprintf("dashboard exemption %q is used by no mixin dashboard: drop it", k))
			}
		}
		sort.Strings(missing)
		return compact(missing)
	}
	// Some metrics only appear once the server has scraped, evaluated rules and sent alerts.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if problems = check(); len(problems) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d alerts, %d alert metrics and %d dashboard metrics checked; exempted: alerts %v, dashboards %v",
		len(alerts), len(uses), len(dashboardNames), sortedKeys(boolSet(mixinExemptions)), sortedKeys(boolSet(mixinDashboardExemptions)))
}

func sortedKeys(m map[string]bool) []string {
	res := make([]string, 0, len(m))
	for k := range m {
		res = append(res, k)
	}
	sort.Strings(res)
	return res
}

func boolSet(m map[string]string) map[string]bool {
	res := map[string]bool{}
	for k := range m {
		res[k] = true
	}
	return res
}

func compact(s []string) []string {
	var res []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			res = append(res, v)
		}
	}
	return res
}
