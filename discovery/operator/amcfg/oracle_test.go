package amcfg

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v2"
	v1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// The golden files of testdata/oracle are the operator's own output (pkg/alertmanager v0.93.1's
// ConfigBuilder) for each case, written and checked by the oracle module
// (discovery/operator/oracle, `make oracle`). This test checks Vigil's conversion against them.

// oracleGlobal is the global section both sides are given.
var oracleGlobal = &Global{SMTPSmarthost: "smtp.example.org:25", SMTPFrom: "vigil@example.org"}

type mapSecrets map[string]map[string]string

func (m mapSecrets) SecretKey(ns string, sel v1.SecretKeySelector) (string, error) {
	v, ok := m[ns+"/"+sel.Name][sel.Key]
	if !ok {
		return "", fmt.Errorf("secret %s/%s: key %q not found", ns, sel.Name, sel.Key)
	}
	return v, nil
}

func (m mapSecrets) ConfigMapKey(ns string, sel v1.ConfigMapKeySelector) (string, error) {
	return "", fmt.Errorf("configmap %s/%s: not found", ns, sel.Name)
}

func loadSecrets(t *testing.T, path string) mapSecrets {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out := mapSecrets{}
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		var s v1.Secret
		require.NoError(t, sigsyaml.Unmarshal(doc, &s))
		out[s.Namespace+"/"+s.Name] = s.StringData
	}
	return out
}

// normalize is the form both sides are compared in: the parts as generic YAML, TLS material
// marked as present (the operator writes it to files, Vigil inlines it), an error as error: true.
func normalize(p *Parts, err error) ([]byte, error) {
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

func TestConversionEqualsOperatorGoldenFiles(t *testing.T) {
	secrets := loadSecrets(t, "testdata/oracle/secrets.yaml")
	cases, err := filepath.Glob("testdata/oracle/*.yaml")
	require.NoError(t, err)
	n := 0
	for _, path := range cases {
		if filepath.Base(path) == "secrets.yaml" {
			continue
		}
		n++
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			var amc monitoringv1alpha1.AlertmanagerConfig
			require.NoError(t, sigsyaml.UnmarshalStrict(b, &amc))
			got, err := normalize(Convert(&amc, secrets, oracleGlobal, nil))
			require.NoError(t, err)
			want, err := os.ReadFile(strings.TrimSuffix(path, ".yaml") + ".golden")
			require.NoError(t, err, "golden file missing: run make oracle")
			require.Equal(t, string(want), string(got))
		})
	}
	require.GreaterOrEqual(t, n, 5)
}

// The conversion is rejected, not silently dropped, for a route's labels (API v0.95), which the
// ported operator version does not read.
func TestRouteLabelsRejected(t *testing.T) {
	var amc monitoringv1alpha1.AlertmanagerConfig
	require.NoError(t, sigsyaml.Unmarshal([]byte(`
metadata: {name: l, namespace: team}
spec:
  route: {receiver: hook, routes: [{receiver: hook, labels: [{key: a, value: b}]}]}
  receivers: [{name: hook, webhookConfigs: [{url: "http://10.213.27.2:27092/x"}]}]
`), &amc))
	_, err := Convert(&amc, mapSecrets{}, nil, nil)
	require.ErrorContains(t, err, "spec.route.routes[0].labels is not supported")
}

// Without alertmanager.yml's global section an email receiver without smarthost converts (the
// merged file's loading checks it); with a global section lacking it, it is rejected as the
// operator does.
func TestEmailSmarthostCheck(t *testing.T) {
	var amc monitoringv1alpha1.AlertmanagerConfig
	require.NoError(t, sigsyaml.Unmarshal([]byte(`
metadata: {name: m, namespace: team}
spec:
  route: {receiver: mail}
  receivers: [{name: mail, emailConfigs: [{to: a@example.org}]}]
`), &amc))
	_, err := Convert(&amc, mapSecrets{}, nil, nil)
	require.NoError(t, err)
	_, err = Convert(&amc, mapSecrets{}, &Global{SMTPFrom: "x@example.org"}, nil)
	require.ErrorContains(t, err, "SMTP smarthost is a mandatory field")
}

// The TLS material of an httpConfig is inlined.
func TestTLSInlined(t *testing.T) {
	secrets := loadSecrets(t, "testdata/oracle/secrets.yaml")
	b, err := os.ReadFile("testdata/oracle/receivers_all.yaml")
	require.NoError(t, err)
	var amc monitoringv1alpha1.AlertmanagerConfig
	require.NoError(t, sigsyaml.Unmarshal(b, &amc))
	p, err := Convert(&amc, secrets, oracleGlobal, nil)
	require.NoError(t, err)
	out, err := yaml.Marshal(p.Receivers[0])
	require.NoError(t, err)
	require.Contains(t, string(out), "BEGIN CERTIFICATE")
	require.Contains(t, string(out), "PRIVATE KEY")
	require.Contains(t, string(out), "api_url: https://hooks.slack.example.org/services/T0/B0/XXX")
	require.Contains(t, string(out), "password: s3cret")
}
