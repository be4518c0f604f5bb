// Package helm holds the tests of Vigil's Helm chart (deploy/helm/vigil): helm lint, helm
// template with the values users set, the rendered configuration files loaded by Vigil's own
// loaders, the operator CRDs against the operator module, and the kustomize manifests in
// deploy/ generated from the chart (go test ./deploy/helm -update rewrites them; make manifests).
package helm

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	amconfig "github.com/prometheus/alertmanager/config"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/ruler"
)

var update = flag.Bool("update", false, "rewrite the kustomize manifests in deploy/ from the chart")

const chart = "vigil"

// helmBin finds helm: $HELM, the repository's bin/helm (scripts/deps.sh installs it there), or
// PATH.
func helmBin(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		if _, err := os.Stat(h); err != nil {
			t.Fatalf("HELM=%s: %v", h, err)
		}
		return h
	}
	if abs, err := filepath.Abs("../../bin/helm"); err == nil {
		if _, err := os.Stat(abs); err == nil {
			return abs
		}
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	t.Skip("helm is not installed: scripts/deps.sh installs it (go install helm.sh/helm/v4/cmd/helm@v4.3.2 into bin/), or set HELM")
	return ""
}

func helm(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// object is one rendered manifest.
type object struct {
	Source string
	Kind   string
	Name   string
	Body   map[string]any
}

func render(t *testing.T, values ...string) []object {
	t.Helper()
	args := []string{"template", "vigil", chart, "--namespace", "monitoring"}
	for _, v := range values {
		args = append(args, "--set", v)
	}
	return parse(t, helm(t, args...))
}

var sourceRe = regexp.MustCompile(`(?m)^# Source: (.*)$`)

func parse(t *testing.T, out string) []object {
	t.Helper()
	var objs []object
	for _, doc := range strings.Split(out, "\n---\n") {
		src := ""
		if m := sourceRe.FindStringSubmatch(doc); m != nil {
			src = m[1]
		}
		var body map[string]any
		if err := yaml.UnmarshalStrict([]byte(doc), &body); err != nil { // duplicate keys too
			t.Fatalf("%s: %v\n%s", src, err, doc)
		}
		if body == nil {
			continue
		}
		md, _ := body["metadata"].(map[string]any)
		name, _ := md["name"].(string)
		kind, _ := body["kind"].(string)
		objs = append(objs, object{Source: src, Kind: kind, Name: name, Body: body})
	}
	return objs
}

func find(t *testing.T, objs []object, kind, name string) object {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			return o
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	return object{}
}

// get walks a path of map keys and list indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func args(o object) []string {
	var res []string
	for _, a := range get(o.Body, "spec", "template", "spec", "containers", 0, "args").([]any) {
		res = append(res, a.(string))
	}
	return res
}

func TestLint(t *testing.T) {
	for _, values := range [][]string{
		nil,
		{"prometheus.prometheusSpec.replicas=3", "operatorResources.enabled=true", "prometheus.ingress.enabled=true", "prometheus.ingress.hosts[0]=vigil.example.com"},
		{"adapter.tls.mode=certManager", "crds.enabled=false", "adapter.enabled=true"},
		{"adapter.enabled=false", "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate=null"},
	} {
		args := []string{"lint", "--strict", chart}
		for _, v := range values {
			args = append(args, "--set", v)
		}
		out := helm(t, args...)
		if !strings.Contains(out, "0 chart(s) failed") {
			t.Errorf("helm lint %v:\n%s", values, out)
		}
	}
}

// The defaults: a StatefulSet with a PVC, Services, RBAC for kubernetes_sd_configs, the config
// files, and the adapter with its APIServices and a generated CA.
func TestTemplateDefaults(t *testing.T) {
	objs := render(t)
	ss := find(t, objs, "StatefulSet", "vigil")
	if get(ss.Body, "spec", "volumeClaimTemplates", 0, "metadata", "name") != "data" {
		t.Error("no data volumeClaimTemplate")
	}
	if get(ss.Body, "spec", "serviceName") != "vigil-headless" {
		t.Errorf("serviceName %v", get(ss.Body, "spec", "serviceName"))
	}
	a := strings.Join(args(ss), " ")
	for _, want := range []string{"--config.file=/etc/vigil/config/prometheus.yml", "--alertmanager.config.file=/etc/vigil/alertmanager/alertmanager.yml",
		"--storage.tsdb.retention.time=10d", "--storage.tsdb.path=/data", "--config.auto-reload-interval=30s", "--web.enable-lifecycle"} {
		if !strings.Contains(a, want) {
			t.Errorf("vigil args %q lack %s", a, want)
		}
	}
	if strings.Contains(a, "--cluster.") {
		t.Errorf("vigil args %q have --cluster.", a)
	}
	// The operator's resources are read by default (operatorResources.enabled).
	if !strings.Contains(a, "--kubernetes.crds") {
		t.Errorf("vigil args %q lack --kubernetes.crds", a)
	}
	if get(ss.Body, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("not runAsNonRoot")
	}
	find(t, objs, "Service", "vigil")
	if get(find(t, objs, "Service", "vigil-headless").Body, "spec", "clusterIP") != "None" {
		t.Error("headless Service is not headless")
	}
	cr := find(t, objs, "ClusterRole", "vigil")
	if !strings.Contains(fmt.Sprint(cr.Body), "monitoring.coreos.com") {
		t.Error("operator resources not granted though operatorResources.enabled defaults to true")
	}
	find(t, objs, "ClusterRoleBinding", "vigil")
	find(t, objs, "ServiceAccount", "vigil")

	// The configuration files load in Vigil's and Alertmanager's loaders.
	cm := find(t, objs, "ConfigMap", "vigil-config")
	if _, err := config.Load(get(cm.Body, "data", "prometheus.yml").(string)); err != nil {
		t.Errorf("prometheus.yml: %v", err)
	}
	sec := find(t, objs, "Secret", "vigil-alertmanager")
	if _, err := amconfig.Load(get(sec.Body, "stringData", "alertmanager.yml").(string)); err != nil {
		t.Errorf("alertmanager.yml: %v", err)
	}

	// The adapter, its certificate and the APIServices trusting its CA.
	dep := find(t, objs, "Deployment", "vigil-adapter")
	da := strings.Join(args(dep), " ")
	for _, want := range []string{"--tls-cert-file=/var/run/serving-cert/tls.crt", "--prometheus-url=http://vigil.monitoring.svc:9090", "--config=/etc/vigil-adapter/config.yaml"} {
		if !strings.Contains(da, want) {
			t.Errorf("adapter args %q lack %s", da, want)
		}
	}
	tls := find(t, objs, "Secret", "vigil-adapter-tls")
	ca := get(tls.Body, "data", "ca.crt")
	for _, name := range []string{"v1beta1.custom.metrics.k8s.io", "v1beta2.custom.metrics.k8s.io", "v1beta1.external.metrics.k8s.io"} {
		as := find(t, objs, "APIService", name)
		if get(as.Body, "spec", "caBundle") != ca || ca == nil {
			t.Errorf("%s: caBundle is not the adapter's CA", name)
		}
		if get(as.Body, "spec", "insecureSkipTLSVerify") != nil {
			t.Errorf("%s skips TLS verification", name)
		}
	}
}

// What the values change, named as kube-prometheus-stack names them.
func TestTemplateValues(t *testing.T) {
	t.Run("HA", func(t *testing.T) {
		objs := render(t, "prometheus.prometheusSpec.replicas=3")
		ss := find(t, objs, "StatefulSet", "vigil")
		a := strings.Join(args(ss), " ")
		for i := 0; i < 3; i++ {
			peer := fmt.Sprintf("--cluster.peer=vigil-%d.vigil-headless.monitoring.svc:9094", i)
			if !strings.Contains(a, peer) {
				t.Errorf("args lack %s: %s", peer, a)
			}
		}
		if !strings.Contains(a, "--cluster.listen-address=0.0.0.0:9094") || !strings.Contains(a, "--cluster.advertise-address=$(POD_IP):9094") {
			t.Errorf("args: %s", a)
		}
	})
	t.Run("operator resources off", func(t *testing.T) {
		objs := render(t, "operatorResources.enabled=false")
		if a := strings.Join(args(find(t, objs, "StatefulSet", "vigil")), " "); strings.Contains(a, "--kubernetes.crds") {
			t.Errorf("args: %s", a)
		}
		if strings.Contains(fmt.Sprint(find(t, objs, "ClusterRole", "vigil").Body), "monitoring.coreos.com") {
			t.Error("operator resources granted though operatorResources.enabled=false")
		}
	})
	t.Run("operator resources", func(t *testing.T) {
		objs := render(t, "operatorResources.enabled=true", "operatorResources.extraArgs[0]=--example.flag")
		a := strings.Join(args(find(t, objs, "StatefulSet", "vigil")), " ")
		if !strings.Contains(a, "--kubernetes.crds") || !strings.Contains(a, "--example.flag") {
			t.Errorf("args: %s", a)
		}
		rules := fmt.Sprint(get(find(t, objs, "ClusterRole", "vigil").Body, "rules"))
		for _, want := range []string{"servicemonitors", "podmonitors", "prometheusrules", "scrapeconfigs", "alertmanagerconfigs", "secrets", "configmaps", "namespaces", "events", "endpointslices", "services", "pods", "create", "patch"} {
			if !strings.Contains(rules, want) {
				t.Errorf("ClusterRole lacks %s: %s", want, rules)
			}
		}
	})
	t.Run("retention, resources, storage", func(t *testing.T) {
		objs := render(t, "prometheus.prometheusSpec.retention=30d", "prometheus.prometheusSpec.retentionSize=50GiB",
			"prometheus.prometheusSpec.resources.limits.memory=8Gi",
			"prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage=100Gi",
			"prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName=fast",
			"alertmanager.alertmanagerSpec.retention=240h")
		ss := find(t, objs, "StatefulSet", "vigil")
		a := strings.Join(args(ss), " ")
		for _, want := range []string{"--storage.tsdb.retention.time=30d", "--storage.tsdb.retention.size=50GiB", "--alertmanager.data-retention=240h"} {
			if !strings.Contains(a, want) {
				t.Errorf("args lack %s: %s", want, a)
			}
		}
		if get(ss.Body, "spec", "template", "spec", "containers", 0, "resources", "limits", "memory") != "8Gi" {
			t.Error("resources not applied")
		}
		if get(ss.Body, "spec", "volumeClaimTemplates", 0, "spec", "resources", "requests", "storage") != "100Gi" ||
			get(ss.Body, "spec", "volumeClaimTemplates", 0, "spec", "storageClassName") != "fast" {
			t.Errorf("volumeClaimTemplates: %v", get(ss.Body, "spec", "volumeClaimTemplates"))
		}
	})
	t.Run("no PVC", func(t *testing.T) {
		objs := render(t, "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate=null")
		ss := find(t, objs, "StatefulSet", "vigil")
		if get(ss.Body, "spec", "volumeClaimTemplates") != nil {
			t.Error("volumeClaimTemplates without a template")
		}
		if !strings.Contains(fmt.Sprint(get(ss.Body, "spec", "template", "spec", "volumes")), "emptyDir") {
			t.Error("no emptyDir data volume")
		}
	})
	t.Run("ingress", func(t *testing.T) {
		objs := render(t, "prometheus.ingress.enabled=true", "prometheus.ingress.ingressClassName=nginx", "prometheus.ingress.hosts[0]=vigil.example.com")
		ing := find(t, objs, "Ingress", "vigil")
		if get(ing.Body, "spec", "rules", 0, "host") != "vigil.example.com" || get(ing.Body, "spec", "rules", 0, "http", "paths", 0, "backend", "service", "name") != "vigil" {
			t.Errorf("ingress: %v", ing.Body)
		}
	})
	t.Run("rules and scrape configs and external labels", func(t *testing.T) {
		values := filepath.Join(t.TempDir(), "values.yaml")
		if err := os.WriteFile(values, []byte(`
prometheus:
  prometheusSpec:
    externalLabels: {cluster: prod}
    scrapeInterval: 15s
    additionalScrapeConfigs:
    - job_name: extra
      static_configs: [{targets: ['10.0.0.1:9100']}]
additionalPrometheusRulesMap:
  node-rules:
    groups:
    - name: node
      rules:
      - alert: NodeDown
        expr: up{job="node"} == 0
        for: 5m
        annotations: {summary: '{{ $labels.instance }} is down'}
alertmanager:
  config:
    route: {receiver: team, group_by: [alertname]}
    receivers:
    - name: team
      webhook_configs: [{url: 'http://hooks.example.com/'}]
`), 0o644); err != nil {
			t.Fatal(err)
		}
		objs := parse(t, helm(t, "template", "vigil", chart, "--namespace", "monitoring", "-f", values))
		cfg, err := config.Load(get(find(t, objs, "ConfigMap", "vigil-config").Body, "data", "prometheus.yml").(string))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.GlobalConfig.ExternalLabels.Get("cluster") != "prod" || cfg.ScrapeConfig("extra") == nil || cfg.ScrapeConfig("kubernetes-pods") == nil ||
			strings.Join(cfg.RuleFiles, ",") != "/etc/vigil/rules/*.yaml" {
			t.Errorf("prometheus.yml: %s", cfg)
		}
		rules := find(t, objs, "ConfigMap", "vigil-rules")
		file := filepath.Join(t.TempDir(), "node-rules.yaml")
		if err := os.WriteFile(file, []byte(get(rules.Body, "data", "node-rules.yaml").(string)), 0o644); err != nil {
			t.Fatal(err)
		}
		if rgs, errs := ruler.ParseFile(file, nil, nil); errs != nil || len(rgs.Groups) != 1 {
			t.Errorf("rule file: %v", errs)
		}
		ss := find(t, objs, "StatefulSet", "vigil")
		if !strings.Contains(fmt.Sprint(get(ss.Body, "spec", "template", "spec", "containers", 0, "volumeMounts")), "/etc/vigil/rules") {
			t.Error("rules not mounted")
		}
		am, err := amconfig.Load(get(find(t, objs, "Secret", "vigil-alertmanager").Body, "stringData", "alertmanager.yml").(string))
		if err != nil || am.Route.Receiver != "team" {
			t.Errorf("alertmanager.yml: %v", err)
		}
	})
	t.Run("adapter TLS modes", func(t *testing.T) {
		objs := render(t, "adapter.tls.mode=certManager")
		find(t, objs, "Certificate", "vigil-adapter")
		find(t, objs, "Issuer", "vigil-adapter-selfsign")
		as := find(t, objs, "APIService", "v1beta1.external.metrics.k8s.io")
		if get(as.Body, "metadata", "annotations", "cert-manager.io/inject-ca-from") != "monitoring/vigil-adapter" {
			t.Errorf("APIService: %v", as.Body)
		}
		objs = render(t, "adapter.tls.mode=selfSigned")
		if get(find(t, objs, "APIService", "v1beta1.external.metrics.k8s.io").Body, "spec", "insecureSkipTLSVerify") != true {
			t.Error("selfSigned: APIService verifies a certificate it cannot know")
		}
		if !strings.Contains(strings.Join(args(find(t, objs, "Deployment", "vigil-adapter")), " "), "--cert-dir=/tmp/cert") {
			t.Error("selfSigned: no --cert-dir")
		}
	})
}

// The CRDs are the operator's, unchanged (scripts/chart-crds.sh copies them).
func TestCRDsAreTheOperators(t *testing.T) {
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/prometheus-operator/prometheus-operator@v0.88.0").Output()
	if err != nil {
		t.Skipf("the prometheus-operator module is not available from the module proxy: %v", err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download: %v %s", err, out)
	}
	files, err := filepath.Glob(filepath.Join(chart, "charts/crds/crds/*.yaml"))
	if err != nil || len(files) != 5 {
		t.Fatalf("CRD files: %v %v", files, err)
	}
	for _, f := range files {
		ours, _ := os.ReadFile(f)
		theirs, err := os.ReadFile(filepath.Join(mod.Dir, "example/prometheus-operator-crd", filepath.Base(f)))
		if err != nil || !bytes.Equal(ours, theirs) {
			t.Errorf("%s differs from the operator's v0.88.0 file (%v); run scripts/chart-crds.sh", f, err)
		}
	}
}

// kustomizeFiles are the manifests in deploy/ rendered from the chart, by the template folder
// their objects come from.
var kustomizeFiles = map[string]string{
	"vigil/templates/adapter/": "../adapter/adapter.yaml",
	"vigil/templates/":         "../vigil/vigil.yaml",
}

// helmOnlyLabel matches the labels that say Helm manages an object, wrong in kustomize output.
var helmOnlyLabel = regexp.MustCompile(`(?m)^\s*(helm\.sh/chart|app\.kubernetes\.io/managed-by): .*\n`)

// deploy/vigil and deploy/adapter are the chart rendered with kustomize-values.yaml; -update
// writes them (make manifests).
func TestKustomizeManifestsInSync(t *testing.T) {
	out := helm(t, "template", "vigil", chart, "--namespace", "monitoring", "-f", "kustomize-values.yaml")
	docs := map[string][]string{}
	for _, doc := range strings.Split(out, "\n---\n") {
		doc = strings.TrimPrefix(strings.TrimSpace(doc), "---\n")
		m := sourceRe.FindStringSubmatch(doc)
		if m == nil {
			continue
		}
		doc = helmOnlyLabel.ReplaceAllString(doc, "")
		for _, prefix := range []string{"vigil/templates/adapter/", "vigil/templates/"} {
			if strings.HasPrefix(m[1], prefix) {
				docs[kustomizeFiles[prefix]] = append(docs[kustomizeFiles[prefix]], doc)
				break
			}
		}
	}
	var names []string
	for f := range docs {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		want := "# Generated from deploy/helm/vigil with deploy/helm/kustomize-values.yaml by `make manifests`; do not edit.\n---\n" +
			strings.Join(docs[f], "\n---\n") + "\n"
		if *update {
			if err := os.WriteFile(f, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(f)
		if err != nil || string(got) != want {
			t.Errorf("%s is not what the chart renders (%v): run make manifests", f, err)
		}
	}
}

// Every rendered object of a built-in kind decodes strictly into client-go's types: no
// misspelled or misplaced field, no wrong type. (The API server's own validation runs in
// make e2e-chart: server-side dry run on the real control plane.)
func TestManifestsDecodeStrictly(t *testing.T) {
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	for _, values := range [][]string{
		nil,
		{"prometheus.prometheusSpec.replicas=2", "operatorResources.enabled=true", "prometheus.ingress.enabled=true", "prometheus.ingress.hosts[0]=vigil.example.com", "additionalPrometheusRulesMap.r.groups[0].name=g"},
		{"adapter.tls.mode=selfSigned", "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate=null"},
	} {
		decoded := 0
		for _, o := range render(t, values...) {
			b, err := json.Marshal(o.Body)
			if err != nil {
				t.Fatal(err)
			}
			_, gvk, err := decoder.Decode(b, nil, nil)
			if runtime.IsNotRegisteredError(err) {
				continue // APIService, cert-manager: not in client-go's scheme
			}
			if err != nil {
				t.Errorf("%v: %s %s (%s): %v", values, o.Kind, o.Name, o.Source, err)
				continue
			}
			decoded++
			if gvk.Kind != o.Kind {
				t.Errorf("%s decoded as %s", o.Kind, gvk.Kind)
			}
		}
		if decoded < 10 {
			t.Errorf("%v: only %d objects decoded", values, decoded)
		}
	}
}
