package operator

import (
	"encoding/json"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
)

// FuzzResources feeds arbitrary objects (as the API server would hand them over, JSON) to the
// converters: they must return jobs Vigil loads or an error, never panic.
func FuzzResources(f *testing.F) {
	f.Add(`{"metadata":{"name":"a","namespace":"b"},"spec":{"selector":{"matchLabels":{"app":"x"}},"endpoints":[{"port":"web","interval":"1s","relabelings":[{"action":"replace","targetLabel":"t","replacement":"v"}]}]}}`)
	f.Add(`{"metadata":{"name":"a","namespace":"b"},"spec":{"selector":{"matchExpressions":[{"key":"k","operator":"NotIn","values":["a|b"]}]},"podMetricsEndpoints":[{"portNumber":80}],"endpoints":[{"targetPort":"x"}]}}`)
	f.Add(`{"metadata":{"name":"a","namespace":"b"},"spec":{"groups":[{"name":"g","rules":[{"alert":"A","expr":"up == 0"}]}],"route":{"receiver":"r","routes":[{"receiver":"r"}]},"receivers":[{"name":"r","webhookConfigs":[{"url":"http://x"}]}]}}`)
	f.Add(`{"metadata":{"name":"a","namespace":"b"},"spec":{"staticConfigs":[{"targets":["x:1"]}],"httpSDConfigs":[{"url":"http://x"}],"kubernetesSDConfigs":[{"role":"Pod","namespaces":{"names":["a"]}}],"metricRelabelings":[{"action":"drop","regex":"x"}]}}`)
	f.Add(`{"metadata":{"name":"a","namespace":"b"},"spec":{"route":{"receiver":"s","muteTimeIntervals":["n"],"routes":[{"receiver":"s","activeTimeIntervals":["n"]}]},"receivers":[{"name":"s","slackConfigs":[{"channel":"#a","httpConfig":{"tlsConfig":{"insecureSkipVerify":true}}}],"emailConfigs":[{"to":"a@b"}]}],"inhibitRules":[{"sourceMatch":[{"name":"a","value":"b","matchType":"="}],"targetMatch":[{"name":"c","value":"d","regex":true}],"equal":["x"]}],"muteTimeIntervals":[{"name":"n","timeIntervals":[{"times":[{"startTime":"00:00","endTime":"06:00"}],"weekdays":["monday:friday"]}]}]}}`)
	secrets := fakeSecrets{}
	f.Fuzz(func(t *testing.T, doc string) {
		g := &Generator{Secrets: secrets}
		var sm monitoringv1.ServiceMonitor
		if json.Unmarshal([]byte(doc), &sm) == nil {
			_, _ = parseJobs(g.ServiceMonitor(&sm))
		}
		var pm monitoringv1.PodMonitor
		if json.Unmarshal([]byte(doc), &pm) == nil {
			_, _ = parseJobs(g.PodMonitor(&pm))
		}
		var pr monitoringv1.PrometheusRule
		if json.Unmarshal([]byte(doc), &pr) == nil {
			_, _ = RuleFileContent(&pr)
		}
		var sc monitoringv1alpha1.ScrapeConfig
		if json.Unmarshal([]byte(doc), &sc) == nil {
			job, err := g.ScrapeConfig(&sc)
			_, _ = parseJobs([]Job{job}, err)
		}
		var amc monitoringv1alpha1.AlertmanagerConfig
		if json.Unmarshal([]byte(doc), &amc) == nil {
			_, _ = AlertmanagerConfig(&amc, secrets)
		}
	})
}
