package oracle

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus-operator/prometheus-operator/pkg/alertmanager"
	validationv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/alertmanager/validation/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	"github.com/prometheus-operator/prometheus-operator/pkg/assets"
	"go.yaml.in/yaml/v2"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/vigil-monitoring/vigil/discovery/operator/amcfg"
)

var update = flag.Bool("update", false, "rewrite the golden files with the operator's output")

const casesDir = "../amcfg/testdata/oracle"

// base is the alertmanager.yml both sides convert against: its global section is the one
// Vigil's conversion is given.
const base = `
global: {smtp_smarthost: "smtp.example.org:25", smtp_from: "vigil@example.org"}
route: {receiver: "null"}
receivers: [{name: "null"}]
`

var global = &amcfg.Global{SMTPSmarthost: "smtp.example.org:25", SMTPFrom: "vigil@example.org"}

type secrets map[string]map[string]string

func (m secrets) SecretKey(ns string, sel v1.SecretKeySelector) (string, error) {
	v, ok := m[ns+"/"+sel.Name][sel.Key]
	if !ok {
		return "", fmt.Errorf("secret %s/%s: key %q not found", ns, sel.Name, sel.Key)
	}
	return v, nil
}

func (m secrets) ConfigMapKey(ns string, sel v1.ConfigMapKeySelector) (string, error) {
	return "", fmt.Errorf("configmap %s/%s: not found", ns, sel.Name)
}

// operatorParts runs the operator's own ConfigBuilder on one object and cuts what it added to
// base out of the result: the first route under the root, the receivers after "null", the
// inhibit rules and mute time intervals.
func operatorParts(amc *monitoringv1alpha1.AlertmanagerConfig, objs []any) ([]byte, error) {
	store := assets.NewTestStoreBuilder(objs...)
	am := &monitoringv1.Alertmanager{ObjectMeta: metav1.ObjectMeta{Name: "main", Namespace: "monitoring"}}
	cb := alertmanager.NewConfigBuilder(slog.New(slog.DiscardHandler), amcfg.AlertmanagerVersion, store, am)
	if err := cb.InitializeFromRawConfiguration([]byte(base)); err != nil {
		return nil, err
	}
	if err := validationv1alpha1.ValidateAlertmanagerConfig(amc); err != nil {
		return []byte("error: true\n"), nil
	}
	if err := cb.AddAlertmanagerConfigs(context.Background(), map[string]*monitoringv1alpha1.AlertmanagerConfig{amc.Namespace + "/" + amc.Name: amc}); err != nil {
		return []byte("error: true\n"), nil
	}
	b, err := cb.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var full map[string]any
	if err := yaml.Unmarshal(b, &full); err != nil {
		return nil, err
	}
	doc := yaml.MapSlice{}
	if route, _ := full["route"].(map[any]any); route != nil {
		if routes, _ := route["routes"].([]any); len(routes) > 0 {
			doc = append(doc, yaml.MapItem{Key: "route", Value: routes[0]})
		}
	}
	if rcvs, _ := full["receivers"].([]any); len(rcvs) > 1 {
		doc = append(doc, yaml.MapItem{Key: "receivers", Value: rcvs[1:]})
	}
	if v, _ := full["inhibit_rules"].([]any); len(v) > 0 {
		doc = append(doc, yaml.MapItem{Key: "inhibit_rules", Value: v})
	}
	if v, _ := full["mute_time_intervals"].([]any); len(v) > 0 {
		doc = append(doc, yaml.MapItem{Key: "mute_time_intervals", Value: v})
	}
	return normalize(doc)
}

func vigilParts(amc *monitoringv1alpha1.AlertmanagerConfig, s secrets) ([]byte, error) {
	p, err := amcfg.Convert(amc, s, global, nil)
	if err != nil {
		return []byte("error: true\n"), nil
	}
	doc := yaml.MapSlice{}
	if p.Route != nil {
		doc = append(doc, yaml.MapItem{Key: "route", Value: p.Route})
	}
	if len(p.Receivers) > 0 {
		doc = append(doc, yaml.MapItem{Key: "receivers", Value: p.Receivers})
	}
	if len(p.InhibitRules) > 0 {
		doc = append(doc, yaml.MapItem{Key: "inhibit_rules", Value: p.InhibitRules})
	}
	if len(p.TimeIntervals) > 0 {
		doc = append(doc, yaml.MapItem{Key: "mute_time_intervals", Value: p.TimeIntervals})
	}
	return normalize(doc)
}

// normalize: generic YAML with sorted keys; TLS material marked as present (the operator
// writes it to files, Vigil inlines it). The same as discovery/operator/amcfg's test.
func normalize(doc yaml.MapSlice) ([]byte, error) {
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var generic any
	if err := yaml.Unmarshal(b, &generic); err != nil {
		return nil, err
	}
	return yaml.Marshal(markTLS(generic))
}

func markTLS(v any) any {
	switch v := v.(type) {
	case map[any]any:
		out := map[any]any{}
		for k, e := range v {
			switch k {
			case "ca", "ca_file":
				out["ca"] = "<set>"
			case "cert", "cert_file":
				out["cert"] = "<set>"
			case "key", "key_file":
				out["key"] = "<set>"
			default:
				out[k] = markTLS(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = markTLS(e)
		}
		return out
	}
	return v
}

func TestAlertmanagerConfigEqualsOperator(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(casesDir, "secrets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		objs []any
		sec  = secrets{}
	)
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		var s v1.Secret
		if err := sigsyaml.Unmarshal(doc, &s); err != nil {
			t.Fatal(err)
		}
		sec[s.Namespace+"/"+s.Name] = s.StringData
		// The operator's store reads Data.
		s.Data = map[string][]byte{}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
		objs = append(objs, &s)
	}
	cases, err := filepath.Glob(filepath.Join(casesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range cases {
		if filepath.Base(path) == "secrets.yaml" {
			continue
		}
		n++
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var amc monitoringv1alpha1.AlertmanagerConfig
			if err := sigsyaml.UnmarshalStrict(b, &amc); err != nil {
				t.Fatal(err)
			}
			want, err := operatorParts(amc.DeepCopy(), objs)
			if err != nil {
				t.Fatal(err)
			}
			got, err := vigilParts(amc.DeepCopy(), sec)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("Vigil's conversion differs from the operator's:\n--- operator\n%s\n--- vigil\n%s", want, got)
			}
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, want, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			g, err := os.ReadFile(golden)
			if err != nil || string(g) != string(want) {
				t.Errorf("%s is not the operator's output (run make oracle-update): %v", golden, err)
			}
		})
	}
	if n < 5 {
		t.Fatalf("only %d cases", n)
	}
}
