package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/vigil-monitoring/vigil/discovery/operator"
	"github.com/vigil-monitoring/vigil/internal/reload"
)

func crd(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := sigsyaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetUID(types.UID("uid-" + u.GetName()))
	u.SetResourceVersion("1")
	return u
}

// The generated jobs join prometheus.yml's, survive a file reload, and follow the resources;
// the file's own job keeps running untouched.
func TestOperatorJobsMergedIntoConfig(t *testing.T) {
	os.Setenv("KUBE_FEATURE_WatchListClient", "false")
	dir := t.TempDir()
	file := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(file, []byte("scrape_configs:\n- job_name: own\n  static_configs: [{targets: ['127.0.0.1:1']}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		operator.ServiceMonitors: "ServiceMonitorList", operator.PodMonitors: "PodMonitorList",
		operator.PrometheusRules: "PrometheusRuleList", operator.AlertmanagerConfigs: "AlertmanagerConfigList",
		operator.ScrapeConfigs: "ScrapeConfigList",
	}, crd(t, `
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: app, namespace: team}
spec: {selector: {matchLabels: {app: demo}}, endpoints: [{port: web, interval: 5s}]}
`), crd(t, `
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: r, namespace: team}
spec: {groups: [{name: g, rules: [{record: x, expr: vector(1)}]}]}
`), crd(t, `
apiVersion: monitoring.coreos.com/v1alpha1
kind: ScrapeConfig
metadata: {name: static, namespace: team}
spec: {scrapeInterval: 7s, staticConfigs: [{targets: ["127.0.0.1:27502"]}]}
`))
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.DiscardHandler)
	rt, err := newOperatorFor(&operatorFlags{enabled: true, role: "EndpointSlice", ruleDir: filepath.Join(dir, "rules")},
		fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}), dyn, reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	coord := reload.New(logger)
	sr, err := setupScrape(addConfigFile(coord, file, reg, logger, rt.wrapLoad), &nopAppendable{}, reg, logger, rt.jobDiscoverer())
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Stop()
	rt.start(sr.Reloader, nil)
	defer rt.stop()

	waitUntil(t, "generated job", func() bool {
		return slices.Equal(sr.Manager.ScrapePools(), []string{"own", "scrapeConfig/team/static", "serviceMonitor/team/app/0"})
	})
	cfg := sr.Reloader.Config()
	if len(cfg.RuleFiles) != 1 || !strings.HasSuffix(cfg.RuleFiles[0], "team-r-uid-r.yaml") {
		t.Fatalf("rule files %v", cfg.RuleFiles)
	}
	if sc := cfg.ScrapeConfig("serviceMonitor/team/app/0"); sc == nil || sc.ScrapeInterval.String() != "5s" {
		t.Fatalf("generated job: %+v", sc)
	}
	if sc := cfg.ScrapeConfig("scrapeConfig/team/static"); sc == nil || sc.ScrapeInterval.String() != "7s" {
		t.Fatalf("ScrapeConfig job: %+v", sc)
	}
	// A file reload keeps the generated job.
	if err := coord.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := sr.Manager.ScrapePools(); len(got) != 3 {
		t.Fatalf("after reload: %v", got)
	}
	// Deleting the ServiceMonitor removes its job.
	if err := dyn.Resource(operator.ServiceMonitors).Namespace("team").Delete(context.Background(), "app", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "job removed", func() bool {
		return slices.Equal(sr.Manager.ScrapePools(), []string{"own", "scrapeConfig/team/static"})
	})
}

func TestMergeAlertmanagerConfigs(t *testing.T) {
	conf, err := config.Load("route: {receiver: root}\nreceivers: [{name: root}]\nmute_time_intervals: [{name: own}]\n")
	if err != nil {
		t.Fatal(err)
	}
	route := yaml.MapSlice{{Key: "receiver", Value: "team/routes/hook"}, {Key: "matchers", Value: []string{`namespace="team"`}}, {Key: "continue", Value: true}, {Key: "mute_time_intervals", Value: []string{"team/routes/night"}}}
	rcv := yaml.MapSlice{{Key: "name", Value: "team/routes/hook"}, {Key: "webhook_configs", Value: []yaml.MapSlice{{{Key: "url", Value: "http://10.213.27.2:27101/team"}}}}}
	inhibit := yaml.MapSlice{{Key: "source_matchers", Value: []string{`severity="critical"`, `namespace="team"`}}, {Key: "target_matchers", Value: []string{`severity="warning"`, `namespace="team"`}}}
	night := yaml.MapSlice{{Key: "name", Value: "team/routes/night"}, {Key: "time_intervals", Value: []yaml.MapSlice{{{Key: "times", Value: []yaml.MapSlice{{{Key: "start_time", Value: "00:00"}, {Key: "end_time", Value: "06:00"}}}}}}}}
	good := operator.AlertmanagerConfigParts{Object: "team/routes"}
	good.Route, good.Receivers, good.InhibitRules, good.TimeIntervals = route, []yaml.MapSlice{rcv}, []yaml.MapSlice{inhibit}, []yaml.MapSlice{night}
	// An email receiver without smarthost loads only with alertmanager.yml's global one.
	email := operator.AlertmanagerConfigParts{Object: "mail/routes"}
	email.Route = yaml.MapSlice{{Key: "receiver", Value: "mail/routes/m"}, {Key: "continue", Value: true}}
	email.Receivers = []yaml.MapSlice{{{Key: "name", Value: "mail/routes/m"}, {Key: "email_configs", Value: []yaml.MapSlice{{{Key: "to", Value: "a@example.org"}}}}}}
	// A receiver name clash leaves that object out, not the others.
	clash := operator.AlertmanagerConfigParts{Object: "x/clash"}
	clash.Route = yaml.MapSlice{{Key: "receiver", Value: "root"}}
	clash.Receivers = []yaml.MapSlice{{{Key: "name", Value: "root"}}}
	st := &operator.State{AlertmanagerConfigs: []operator.AlertmanagerConfigParts{email, good, clash}}
	logger := slog.New(slog.DiscardHandler)

	out := mergeAlertmanagerConfigs(conf, nil, st, logger)
	if len(out.Route.Routes) != 1 || out.Route.Routes[0].Receiver != "team/routes/hook" || !out.Route.Routes[0].Continue {
		t.Fatalf("routes: %+v", out.Route.Routes)
	}
	if out.Route.Routes[0].Matchers[0].String() != `namespace="team"` || out.Route.Routes[0].MuteTimeIntervals[0] != "team/routes/night" {
		t.Fatalf("route: %+v", out.Route.Routes[0])
	}
	if len(out.Receivers) != 2 || out.Receivers[1].Name != "team/routes/hook" || len(out.Receivers[1].WebhookConfigs) != 1 {
		t.Fatalf("receivers: %+v", out.Receivers)
	}
	if len(out.InhibitRules) != 1 || len(out.InhibitRules[0].SourceMatchers) != 2 || len(out.MuteTimeIntervals) != 2 || out.MuteTimeIntervals[1].Name != "team/routes/night" {
		t.Fatalf("inhibit rules %+v, time intervals %+v", out.InhibitRules, out.MuteTimeIntervals)
	}
	if len(conf.Route.Routes) != 0 || len(conf.Receivers) != 1 || len(conf.MuteTimeIntervals) != 1 {
		t.Fatal("the loaded config was changed")
	}

	global := yaml.MapSlice{{Key: "smtp_smarthost", Value: "10.213.27.2:25"}, {Key: "smtp_from", Value: "vigil@example.org"}}
	out = mergeAlertmanagerConfigs(conf, global, st, logger)
	if len(out.Route.Routes) != 2 || out.Route.Routes[0].Receiver != "mail/routes/m" || len(out.Receivers) != 3 {
		t.Fatalf("with a global smarthost: routes %+v receivers %+v", out.Route.Routes, out.Receivers)
	}
	if got := out.Receivers[1].EmailConfigs[0].Smarthost.String(); got != "10.213.27.2:25" {
		t.Fatalf("email smarthost %q: alertmanager.yml's global default not applied", got)
	}
}
