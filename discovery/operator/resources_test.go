package operator

import (
	"testing"

	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v2"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/vigil-monitoring/vigil/discovery/operator/amcfg"
)

// What Alertmanager's own configuration loading refuses rejects the object when it is
// converted; what alertmanager.yml's global section may supply does not.
func TestLoadsInAlertmanager(t *testing.T) {
	hook := yaml.MapSlice{{Key: "name", Value: "team/a/hook"}, {Key: "webhook_configs", Value: []yaml.MapSlice{{{Key: "url", Value: "http://10.213.27.2:27092/"}}}}}
	for _, c := range []struct {
		name  string
		parts amcfg.Parts
		err   string
	}{
		{"webhook", amcfg.Parts{Route: yaml.MapSlice{{Key: "receiver", Value: "team/a/hook"}}, Receivers: []yaml.MapSlice{hook}}, ""},
		{"inhibit rules only", amcfg.Parts{InhibitRules: []yaml.MapSlice{{{Key: "source_matchers", Value: []string{`a="b"`}}}}}, ""},
		{"email and slack leaning on the global section", amcfg.Parts{
			Route: yaml.MapSlice{{Key: "receiver", Value: "team/a/r"}},
			Receivers: []yaml.MapSlice{{{Key: "name", Value: "team/a/r"},
				{Key: "email_configs", Value: []yaml.MapSlice{{{Key: "to", Value: "a@example.org"}}}},
				{Key: "slack_configs", Value: []yaml.MapSlice{{{Key: "channel", Value: "#a"}}}}}},
		}, ""},
		{"unknown time interval", amcfg.Parts{
			Route:     yaml.MapSlice{{Key: "receiver", Value: "team/a/hook"}, {Key: "mute_time_intervals", Value: []string{"team/a/none"}}},
			Receivers: []yaml.MapSlice{hook},
		}, `undefined time interval "team/a/none"`},
		{"bad matcher", amcfg.Parts{InhibitRules: []yaml.MapSlice{{{Key: "source_matchers", Value: []string{`a=~"("`}}}}}, "refused by Alertmanager"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := loadsInAlertmanager(&c.parts)
			if c.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, c.err)
		})
	}
}

// The conversion of a whole object: the operator's naming and namespace matchers, every part.
func TestAlertmanagerConfigParts(t *testing.T) {
	var amc monitoringv1alpha1.AlertmanagerConfig
	require.NoError(t, sigsyaml.Unmarshal([]byte(`
metadata: {name: a, namespace: team}
spec:
  route: {receiver: hook, muteTimeIntervals: [night]}
  receivers: [{name: hook, webhookConfigs: [{url: "http://10.213.27.2:27092/"}]}]
  inhibitRules: [{sourceMatch: [{name: severity, value: critical}], targetMatch: [{name: severity, value: info}]}]
  muteTimeIntervals: [{name: night, timeIntervals: [{times: [{startTime: "00:00", endTime: "06:00"}]}]}]
`), &amc))
	p, err := AlertmanagerConfig(&amc, nil)
	require.NoError(t, err)
	require.Equal(t, "team/a", p.Object)
	b, err := yaml.Marshal(p.Parts)
	require.NoError(t, err)
	for _, want := range []string{"receiver: team/a/hook", "- team/a/night", "name: team/a/night", `- namespace="team"`, "continue: true", `- severity="info"`} {
		require.Contains(t, string(b), want)
	}
}
