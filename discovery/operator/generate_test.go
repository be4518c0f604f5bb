// Copyright 2016 The prometheus-operator Authors
// Licensed under the Apache License, Version 2.0.
//
// The inputs of these cases and the testdata/*.golden files are the operator's own
// (pkg/prometheus/promcfg_test.go and pkg/prometheus/testdata, v0.88.0): the generated job must
// equal the golden file's scrape_configs entry, with $(SHARD) rendered as 0.

package operator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vigil-monitoring/vigil/config"
)

// goldenScrapeConfigs reads the scrape_configs of an operator golden file.
func goldenScrapeConfigs(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var doc yaml.MapSlice
	require.NoError(t, yaml.Unmarshal([]byte(strings.ReplaceAll(string(b), "$(SHARD)", "0")), &doc))
	for _, it := range doc {
		if it.Key == "scrape_configs" {
			out, err := yaml.Marshal(it.Value)
			require.NoError(t, err)
			return string(out)
		}
	}
	t.Fatalf("%s has no scrape_configs", name)
	return ""
}

func render(t *testing.T, jobs []Job) string {
	t.Helper()
	var cfgs []yaml.MapSlice
	for _, j := range jobs {
		cfgs = append(cfgs, j.Config)
	}
	b, err := yaml.Marshal(cfgs)
	require.NoError(t, err)
	// Round trip, so that both sides are rendered by the same marshaller from the same types.
	var v any
	require.NoError(t, yaml.Unmarshal(b, &v))
	b, err = yaml.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func roundTrip(t *testing.T, s string) string {
	var v any
	require.NoError(t, yaml.Unmarshal([]byte(s), &v))
	b, err := yaml.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestServiceMonitorGolden(t *testing.T) {
	sm := func(role *monitoringv1.ServiceDiscoveryRole) *monitoringv1.ServiceMonitor {
		return &monitoringv1.ServiceMonitor{
			ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "default"},
			Spec: monitoringv1.ServiceMonitorSpec{
				ServiceDiscoveryRole: role,
				Selector: metav1.LabelSelector{
					MatchLabels: map[string]string{"foo": "bar"},
					MatchExpressions: []metav1.LabelSelectorRequirement{
						{Key: "alpha", Operator: metav1.LabelSelectorOpIn, Values: []string{"beta", "gamma"}},
					},
				},
				Endpoints: []monitoringv1.Endpoint{{Port: "web", Interval: "30s"}},
			},
		}
	}
	for _, tc := range []struct {
		name   string
		role   string
		sm     *monitoringv1.ServiceMonitor
		golden string
	}{
		{"endpointslice", RoleEndpointSlice, sm(nil), "TestServiceMonitorWithEndpointSliceEnable_Expected.golden"},
		{"endpointslice, monitor asks for endpoints", RoleEndpointSlice, sm(ptr.To(monitoringv1.EndpointsRole)), "TestServiceMonitorWithEndpointsAndPrometheusEndpointSlice.golden"},
		{"match expressions", RoleEndpoints, &monitoringv1.ServiceMonitor{
			ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "default"},
			Spec: monitoringv1.ServiceMonitorSpec{
				Selector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "alpha", Operator: metav1.LabelSelectorOpIn, Values: []string{"beta", "gamma"}},
				}},
				Endpoints: []monitoringv1.Endpoint{{Port: "web", Interval: "30s"}},
			},
		}, "MatchExpressionsServiceMonitor.golden"},
		{"relabelings", RoleEndpoints, &monitoringv1.ServiceMonitor{
			ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "default"},
			Spec: monitoringv1.ServiceMonitorSpec{
				Selector: metav1.LabelSelector{MatchLabels: map[string]string{"foo": "bar"}},
				Endpoints: []monitoringv1.Endpoint{{
					Port: "https-metrics", HonorLabels: true, Interval: "30s",
					MetricRelabelConfigs: []monitoringv1.RelabelConfig{{
						Action: "drop", Regex: "container_(network_tcp_usage_total|network_udp_usage_total|tasks_state|cpu_load_average_10s)",
						SourceLabels: []monitoringv1.LabelName{"__name__"},
					}},
					RelabelConfigs: []monitoringv1.RelabelConfig{
						{Action: "replace", Regex: "(.+)(?::d+)", Replacement: ptr.To("$1:9537"), SourceLabels: []monitoringv1.LabelName{"__address__"}, TargetLabel: "__address__"},
						{Action: "replace", Replacement: ptr.To("crio"), TargetLabel: "job"},
					},
				}},
			},
		}, "NoEnforcedNamespaceLabelServiceMonitor_Expected.golden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &Generator{EndpointRole: tc.role}
			jobs, err := g.ServiceMonitor(tc.sm)
			require.NoError(t, err)
			require.Equal(t, roundTrip(t, goldenScrapeConfigs(t, tc.golden)), render(t, jobs))
			// And Vigil loads it.
			_, err = parseJobs(jobs, nil)
			require.NoError(t, err)
		})
	}
}

func TestPodMonitorGolden(t *testing.T) {
	pm := &monitoringv1.PodMonitor{
		ObjectMeta: metav1.ObjectMeta{Name: "testpodmonitor1", Namespace: "default", Labels: map[string]string{"group": "group1"}},
		Spec: monitoringv1.PodMonitorSpec{
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{FilterRunning: ptr.To(false), Port: ptr.To("test")}},
		},
	}
	jobs, err := (&Generator{}).PodMonitor(pm)
	require.NoError(t, err)
	require.Equal(t, roundTrip(t, goldenScrapeConfigs(t, "PodMonitorPhaseFilter.golden")), render(t, jobs))
}

type fakeSecrets map[string]string

func (f fakeSecrets) SecretKey(ns string, sel corev1.SecretKeySelector) (string, error) {
	v, ok := f[ns+"/"+sel.Name+"/"+sel.Key]
	if !ok {
		return "", errors.New("not found")
	}
	return v, nil
}

func (f fakeSecrets) ConfigMapKey(ns string, sel corev1.ConfigMapKeySelector) (string, error) {
	return f.SecretKey(ns, corev1.SecretKeySelector{LocalObjectReference: sel.LocalObjectReference, Key: sel.Key})
}

func TestServiceMonitorCredentials(t *testing.T) {
	sec := func(name, key string) corev1.SecretKeySelector {
		return corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}
	}
	sm := &monitoringv1.ServiceMonitor{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "team"},
		Spec: monitoringv1.ServiceMonitorSpec{
			SampleLimit: ptr.To(int64(1000)),
			Endpoints: []monitoringv1.Endpoint{
				{Port: "web", Interval: "10s", ScrapeTimeout: "5s"},
				{Port: "secure", Scheme: ptr.To(monitoringv1.SchemeHTTPS)},
			},
		},
	}
	sm.Spec.Endpoints[0].BasicAuth = &monitoringv1.BasicAuth{Username: sec("auth", "user"), Password: sec("auth", "pass")}
	sm.Spec.Endpoints[1].Authorization = &monitoringv1.SafeAuthorization{Credentials: ptr.To(sec("token", "t"))}
	sm.Spec.Endpoints[1].TLSConfig = &monitoringv1.TLSConfig{SafeTLSConfig: monitoringv1.SafeTLSConfig{
		InsecureSkipVerify: ptr.To(true), ServerName: ptr.To("app.team"),
	}}
	g := &Generator{Secrets: fakeSecrets{"team/auth/user": "u", "team/auth/pass": "p", "team/token/t": "tok"}}
	jobs, err := g.ServiceMonitor(sm)
	require.NoError(t, err)
	gj, err := parseJobs(jobs, nil)
	require.NoError(t, err)
	require.Len(t, gj, 2)
	sc0, err := ParseScrapeConfig(gj[0].YAML, config.DefaultGlobalConfig)
	require.NoError(t, err)
	require.Equal(t, "serviceMonitor/team/app/0", sc0.JobName)
	require.Equal(t, "u", sc0.HTTPClientConfig.BasicAuth.Username)
	require.Equal(t, "p", string(sc0.HTTPClientConfig.BasicAuth.Password))
	require.Equal(t, uint(1000), sc0.SampleLimit)
	require.Equal(t, "10s", sc0.ScrapeInterval.String())
	sc1, err := ParseScrapeConfig(gj[1].YAML, config.DefaultGlobalConfig)
	require.NoError(t, err)
	require.Equal(t, "tok", string(sc1.HTTPClientConfig.Authorization.Credentials))
	require.Equal(t, "https", sc1.Scheme)
	require.True(t, sc1.HTTPClientConfig.TLSConfig.InsecureSkipVerify)
	require.Equal(t, "app.team", sc1.HTTPClientConfig.TLSConfig.ServerName)

	// A missing Secret makes the object invalid rather than scraping without credentials.
	g.Secrets = fakeSecrets{}
	_, err = g.ServiceMonitor(sm)
	require.ErrorContains(t, err, "team/auth")
}

func TestServiceMonitorInvalid(t *testing.T) {
	for name, sm := range map[string]monitoringv1.ServiceMonitorSpec{
		"timeout over interval": {Endpoints: []monitoringv1.Endpoint{{Port: "web", Interval: "10s", ScrapeTimeout: "20s"}}},
		"bad selector": {Selector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}},
			Endpoints: []monitoringv1.Endpoint{{Port: "web"}}},
		"bad relabel action": {Endpoints: []monitoringv1.Endpoint{{Port: "web", RelabelConfigs: []monitoringv1.RelabelConfig{{Action: "explode"}}}}},
	} {
		t.Run(name, func(t *testing.T) {
			m := &monitoringv1.ServiceMonitor{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "y"}, Spec: sm}
			_, err := parseJobs((&Generator{}).ServiceMonitor(m))
			require.Error(t, err)
		})
	}
}
