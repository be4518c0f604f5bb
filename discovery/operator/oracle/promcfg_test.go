package oracle

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	"github.com/prometheus-operator/prometheus-operator/pkg/assets"
	"github.com/prometheus-operator/prometheus-operator/pkg/prometheus"
	"go.yaml.in/yaml/v2"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/vigil-monitoring/vigil/discovery/operator"
)

// The monitors whose scrape jobs are compared: the operator's ConfigGenerator (v0.93.1) against
// Vigil's Generator (a port of v0.88.0), job by job.
const monitors = `
kind: ServiceMonitor
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}, matchExpressions: [{key: tier, operator: In, values: [a, b]}]}
  targetLabels: [tier]
  podTargetLabels: [version]
  sampleLimit: 1000
  endpoints:
  - port: http
    interval: 15s
    scrapeTimeout: 10s
    path: /internal/metrics
    params: {format: [prometheus]}
    honorLabels: true
    relabelings: [{sourceLabels: [__meta_kubernetes_pod_node_name], targetLabel: node_name}]
    metricRelabelings: [{sourceLabels: [__name__], regex: 'go_.*', action: drop}]
  - port: https
    scheme: https
    tlsConfig: {insecureSkipVerify: true, serverName: web.default.svc}
    basicAuth: {username: {name: creds, key: user}, password: {name: creds, key: password}}
---
kind: ServiceMonitor
metadata: {name: any, namespace: default}
spec:
  namespaceSelector: {any: true}
  jobLabel: app.kubernetes.io/name
  selector: {matchLabels: {team: db}}
  endpoints: [{targetPort: 9187, authorization: {credentials: {name: creds, key: token}}}]
---
kind: PodMonitor
metadata: {name: workers, namespace: default}
spec:
  selector: {matchLabels: {app: worker}}
  namespaceSelector: {matchNames: [default, jobs]}
  podMetricsEndpoints:
  - port: metrics
    interval: 30s
    relabelings: [{action: replace, targetLabel: team, replacement: jobs}]
---
kind: ScrapeConfig
metadata: {name: static, namespace: default}
spec:
  staticConfigs: [{targets: ["10.213.27.2:27100"], labels: {env: prod}}]
  metricsPath: /probe
  scrapeInterval: 20s
  relabelings: [{sourceLabels: [__address__], targetLabel: instance}]
---
kind: ScrapeConfig
metadata: {name: discovered, namespace: default}
spec:
  jobName: discovered
  honorTimestamps: false
  sampleLimit: 500
  kubernetesSDConfigs: [{role: Pod, namespaces: {names: [jobs]}, selectors: [{role: Pod, label: "app=worker"}]}]
  httpSDConfigs: [{url: "http://10.213.27.2:27100/sd", refreshInterval: 1m}]
  fileSDConfigs: [{files: [/etc/vigil/targets/*.json]}]
  metricRelabelings: [{sourceLabels: [__name__], regex: 'debug_.*', action: drop}]
---
kind: PodMonitor
metadata: {name: secured, namespace: jobs}
spec:
  selector: {matchExpressions: [{key: app, operator: Exists}]}
  attachMetadata: {node: true}
  podMetricsEndpoints:
  - portNumber: 8443
    scheme: https
    path: /m
    tlsConfig: {insecureSkipVerify: true}
    bearerTokenSecret: {name: creds, key: token}
    honorTimestamps: false
    filterRunning: false
`

var creds = map[string]string{"user": "alice", "password": "s3cret", "token": "bearer-token"}

func TestScrapeConfigsEqualOperator(t *testing.T) {
	var (
		sMons = map[string]*monitoringv1.ServiceMonitor{}
		pMons = map[string]*monitoringv1.PodMonitor{}
		sCons = map[string]*monitoringv1alpha1.ScrapeConfig{}
		vigil = map[string]string{} // job name → Vigil's job
		g     = &operator.Generator{EndpointRole: operator.RoleEndpointSlice, Secrets: secrets{"default/creds": creds, "jobs/creds": creds}}
	)
	add := func(jobs []operator.Job, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			b, err := yaml.Marshal(j.Config)
			if err != nil {
				t.Fatal(err)
			}
			vigil[j.Name] = roundTrip(t, string(b))
		}
	}
	for _, doc := range strings.Split(monitors, "\n---\n") {
		var kind struct{ Kind string }
		if err := sigsyaml.Unmarshal([]byte(doc), &kind); err != nil {
			t.Fatal(err)
		}
		switch kind.Kind {
		case "ServiceMonitor":
			var m monitoringv1.ServiceMonitor
			if err := sigsyaml.UnmarshalStrict([]byte(doc), &m); err != nil {
				t.Fatal(err)
			}
			sMons[m.Namespace+"/"+m.Name] = &m
			add(g.ServiceMonitor(m.DeepCopy()))
		case "PodMonitor":
			var m monitoringv1.PodMonitor
			if err := sigsyaml.UnmarshalStrict([]byte(doc), &m); err != nil {
				t.Fatal(err)
			}
			pMons[m.Namespace+"/"+m.Name] = &m
			add(g.PodMonitor(m.DeepCopy()))
		case "ScrapeConfig":
			var sc monitoringv1alpha1.ScrapeConfig
			if err := sigsyaml.UnmarshalStrict([]byte(doc), &sc); err != nil {
				t.Fatal(err)
			}
			sCons[sc.Namespace+"/"+sc.Name] = &sc
			j, err := g.ScrapeConfig(sc.DeepCopy())
			add([]operator.Job{j}, err)
		default:
			t.Fatalf("kind %q", kind.Kind)
		}
	}

	p := &monitoringv1.Prometheus{
		ObjectMeta: metav1.ObjectMeta{Name: "main", Namespace: "default"},
		Spec: monitoringv1.PrometheusSpec{CommonPrometheusFields: monitoringv1.CommonPrometheusFields{
			ScrapeInterval:       "30s",
			ServiceDiscoveryRole: ptrTo(monitoringv1.EndpointSliceRole),
		}},
	}
	cg, err := prometheus.NewConfigGenerator(slog.New(slog.DiscardHandler), p, prometheus.WithEndpointSliceSupport())
	if err != nil {
		t.Fatal(err)
	}
	var objs []any
	for _, ns := range []string{"default", "jobs"} {
		sec := &v1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: ns}, Data: map[string][]byte{}}
		for k, v := range creds {
			sec.Data[k] = []byte(v)
		}
		objs = append(objs, sec)
	}
	b, err := cg.GenerateServerConfiguration(p, sMons, pMons, nil, sCons, assets.NewTestStoreBuilder(objs...), nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var full struct {
		ScrapeConfigs []yaml.MapSlice `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(string(b), "$(SHARD)", "0")), &full); err != nil {
		t.Fatal(err)
	}
	if len(full.ScrapeConfigs) != len(vigil) {
		t.Errorf("the operator generated %d jobs, Vigil %d", len(full.ScrapeConfigs), len(vigil))
	}
	for _, sc := range full.ScrapeConfigs {
		name := fmt.Sprint(sc[0].Value)
		out, err := yaml.Marshal(sc)
		if err != nil {
			t.Fatal(err)
		}
		want := roundTrip(t, string(out))
		if got, ok := vigil[name]; !ok {
			t.Errorf("job %s: not generated by Vigil", name)
		} else if got != want {
			t.Errorf("job %s differs:\n--- operator\n%s\n--- vigil\n%s", name, want, got)
		}
	}
}

func roundTrip(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ptrTo[T any](v T) *T { return &v }
