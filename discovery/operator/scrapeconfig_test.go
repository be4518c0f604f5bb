// Copyright 2016 The prometheus-operator Authors
// Licensed under the Apache License, Version 2.0.
//
// The inputs of these cases and the testdata/ScrapeConfigSpecConfig_*.golden files are the
// operator's own (pkg/prometheus/promcfg_test.go TestScrapeConfigSpecConfig,
// TestScrapeConfigSpecConfigWithHTTPSD and TestScrapeConfigSpecConfigWithKubernetesSD, v0.88.0),
// for the fields Vigil reads.

package operator

import (
	"context"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/vigil-monitoring/vigil/config"
)

func TestScrapeConfigGolden(t *testing.T) {
	sec := func(name, key string) corev1.SecretKeySelector {
		return corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}
	}
	secret := func(name, key string) *corev1.SecretKeySelector { s := sec(name, key); return &s }
	refresh := monitoringv1.Duration("5m")
	proxy := func(fromEnv bool, secretName string) monitoringv1.ProxyConfig {
		return monitoringv1.ProxyConfig{
			ProxyURL: ptr.To("http://no-proxy.com"), NoProxy: ptr.To("0.0.0.0"), ProxyFromEnvironment: ptr.To(fromEnv),
			ProxyConnectHeader: map[string][]corev1.SecretKeySelector{"header": {sec(secretName, "proxy-header")}},
		}
	}
	relabel := []monitoringv1.RelabelConfig{{
		Action: "Replace", Regex: "(.+)(?::d+)", Replacement: ptr.To("$1:9537"),
		SourceLabels: []monitoringv1.LabelName{"__address__"}, TargetLabel: "__address__",
	}}
	secrets := fakeSecrets{
		"default/foo/proxy-header": "value", "default/foo/username": "scrape-bob", "default/foo/password": "scrape-alice",
		"default/foo/username-sd": "http-sd-bob", "default/foo/password-sd": "http-sd-alice",
		"default/auth/scrape-key": "scrape-secret", "default/auth/http-sd-key": "http-sd-secret",
		"default/tls/ca": "ca", "default/tls/ca2": "ca2", "default/tls/cert": "cert", "default/tls/private-key": "private-key",
		"default/secret/Username": "kube-admin", "default/secret/Password": "password",
		"default/secret/token": "value", "default/secret/proxy-header": "value",
	}
	for _, tc := range []struct {
		golden  string
		spec    monitoringv1alpha1.ScrapeConfigSpec
		invalid string // what Prometheus, and so Vigil, refuses in the operator's output
	}{
		{golden: "Empty", spec: monitoringv1alpha1.ScrapeConfigSpec{}},
		{golden: "WithJobName", spec: monitoringv1alpha1.ScrapeConfigSpec{JobName: ptr.To("explicit-test-scrape-config3")}},
		{golden: "WithJobNameAndRelabelConfig", spec: monitoringv1alpha1.ScrapeConfigSpec{JobName: ptr.To("explicit-test-scrape-config5"), RelabelConfigs: relabel}},
		{golden: "Static", spec: monitoringv1alpha1.ScrapeConfigSpec{StaticConfigs: []monitoringv1alpha1.StaticConfig{{
			Targets: []monitoringv1alpha1.Target{"http://localhost:9100"}, Labels: map[string]string{"label1": "value1"},
		}}}},
		{golden: "FileSD", spec: monitoringv1alpha1.ScrapeConfigSpec{FileSDConfigs: []monitoringv1alpha1.FileSDConfig{{
			Files: []monitoringv1alpha1.SDFile{"/tmp/myfile.json"}, RefreshInterval: &refresh,
		}}}},
		{golden: "HTTPSD", spec: monitoringv1alpha1.ScrapeConfigSpec{HTTPSDConfigs: []monitoringv1alpha1.HTTPSDConfig{{
			URL: "http://localhost:9100/sd.json", RefreshInterval: &refresh, ProxyConfig: proxy(false, "foo"),
		}}}},
		{golden: "MetricPath", spec: monitoringv1alpha1.ScrapeConfigSpec{MetricsPath: ptr.To("/metrics")}},
		{golden: "EmptyRelabelConfig", spec: monitoringv1alpha1.ScrapeConfigSpec{RelabelConfigs: []monitoringv1.RelabelConfig{}}},
		{golden: "NonEmptyRelabelConfig", spec: monitoringv1alpha1.ScrapeConfigSpec{RelabelConfigs: relabel}},
		{golden: "HonorTimeStamp", spec: monitoringv1alpha1.ScrapeConfigSpec{HonorTimestamps: ptr.To(true)}},
		{golden: "TrackTimestampsStaleness", spec: monitoringv1alpha1.ScrapeConfigSpec{TrackTimestampsStaleness: ptr.To(true)}},
		{golden: "HonorLabels", spec: monitoringv1alpha1.ScrapeConfigSpec{HonorLabels: ptr.To(true)}},
		{golden: "BasicAuth", spec: monitoringv1alpha1.ScrapeConfigSpec{
			BasicAuth: &monitoringv1.BasicAuth{Username: sec("foo", "username"), Password: sec("foo", "password")},
			HTTPSDConfigs: []monitoringv1alpha1.HTTPSDConfig{{
				URL:       "http://localhost:9100/sd.json",
				BasicAuth: &monitoringv1.BasicAuth{Username: sec("foo", "username-sd"), Password: sec("foo", "password-sd")},
			}},
		}},
		{golden: "Authorization", spec: monitoringv1alpha1.ScrapeConfigSpec{
			Authorization: &monitoringv1.SafeAuthorization{Credentials: secret("auth", "scrape-key")},
			HTTPSDConfigs: []monitoringv1alpha1.HTTPSDConfig{{
				URL: "http://localhost:9100/sd.json", Authorization: &monitoringv1.SafeAuthorization{Credentials: secret("auth", "http-sd-key")},
			}},
		}},
		{golden: "Inline_TLSConfig", spec: monitoringv1alpha1.ScrapeConfigSpec{
			TLSConfig: &monitoringv1.SafeTLSConfig{
				CA:        monitoringv1.SecretOrConfigMap{Secret: secret("tls", "ca")},
				Cert:      monitoringv1.SecretOrConfigMap{Secret: secret("tls", "cert")},
				KeySecret: secret("tls", "private-key"),
			},
			HTTPSDConfigs: []monitoringv1alpha1.HTTPSDConfig{{
				URL: "http://localhost:9100/sd.json",
				TLSConfig: &monitoringv1.SafeTLSConfig{
					InsecureSkipVerify: ptr.To(false), CA: monitoringv1.SecretOrConfigMap{Secret: secret("tls", "ca2")},
				},
			}},
		}},
		{golden: "Scheme", spec: monitoringv1alpha1.ScrapeConfigSpec{Scheme: ptr.To(monitoringv1.SchemeHTTPS)}},
		{golden: "Limits", spec: monitoringv1alpha1.ScrapeConfigSpec{
			SampleLimit: ptr.To(int64(10000)), TargetLimit: ptr.To(int64(1000)), LabelLimit: ptr.To(int64(50)),
			LabelNameLengthLimit: ptr.To(int64(40)), LabelValueLengthLimit: ptr.To(int64(30)),
		}},
		{golden: "Params", spec: monitoringv1alpha1.ScrapeConfigSpec{
			MetricsPath: ptr.To("/federate"),
			Params:      map[string][]string{"match[]": {"{job=\"prometheus\"}", "{__name__=~\"job:.*\"}"}},
		}},
		{golden: "ScrapeInterval", spec: monitoringv1alpha1.ScrapeConfigSpec{ScrapeInterval: ptr.To(monitoringv1.Duration("15s"))}},
		{golden: "ScrapeTimeout", spec: monitoringv1alpha1.ScrapeConfigSpec{ScrapeTimeout: ptr.To(monitoringv1.Duration("10s"))}},
		{golden: "NonEmptyMetricRelabelConfig", spec: monitoringv1alpha1.ScrapeConfigSpec{MetricRelabelConfigs: []monitoringv1.RelabelConfig{{Regex: "noisy_labels.*", Action: "labeldrop"}}}},
		{golden: "HTTPSD_with_BasicAuth", spec: monitoringv1alpha1.ScrapeConfigSpec{HTTPSDConfigs: []monitoringv1alpha1.HTTPSDConfig{{
			URL: "http://localhost:9100/sd.json", BasicAuth: &monitoringv1.BasicAuth{Username: sec("secret", "Username"), Password: sec("secret", "Password")},
		}}}},
		{golden: "HTTPSD_with_Authorization", spec: monitoringv1alpha1.ScrapeConfigSpec{HTTPSDConfigs: []monitoringv1alpha1.HTTPSDConfig{{
			URL: "http://localhost:9100/sd.json", Authorization: &monitoringv1.SafeAuthorization{Credentials: secret("secret", "token")},
		}}}},
		{golden: "K8SSD", spec: monitoringv1alpha1.ScrapeConfigSpec{KubernetesSDConfigs: []monitoringv1alpha1.KubernetesSDConfig{{
			Role: monitoringv1alpha1.KubernetesRoleNode, ProxyConfig: proxy(true, "secret"),
			FollowRedirects: ptr.To(true), EnableHTTP2: ptr.To(true),
		}}}, invalid: "if proxy_from_environment is configured, proxy_url must not be configured"},
		{golden: "K8SSD_with_NamespaceDiscovery_and_OwnNamespace", spec: monitoringv1alpha1.ScrapeConfigSpec{KubernetesSDConfigs: []monitoringv1alpha1.KubernetesSDConfig{{
			Role: monitoringv1alpha1.KubernetesRolePod, Namespaces: &monitoringv1alpha1.NamespaceDiscovery{IncludeOwnNamespace: ptr.To(true), Names: []string{"ns1", "ns2"}},
		}}}},
		{golden: "K8SSD_with_NamespaceDiscovery", spec: monitoringv1alpha1.ScrapeConfigSpec{KubernetesSDConfigs: []monitoringv1alpha1.KubernetesSDConfig{{
			Role: monitoringv1alpha1.KubernetesRolePod, Namespaces: &monitoringv1alpha1.NamespaceDiscovery{Names: []string{"ns1", "ns2"}},
		}}}},
		{golden: "K8SSD_with_AttachMetadata", spec: monitoringv1alpha1.ScrapeConfigSpec{KubernetesSDConfigs: []monitoringv1alpha1.KubernetesSDConfig{{
			Role: monitoringv1alpha1.KubernetesRolePod, AttachMetadata: &monitoringv1alpha1.AttachMetadata{Node: ptr.To(true)},
		}}}},
		{golden: "K8SSD_with_Selectors", spec: monitoringv1alpha1.ScrapeConfigSpec{KubernetesSDConfigs: []monitoringv1alpha1.KubernetesSDConfig{{
			Role:      monitoringv1alpha1.KubernetesRoleNode,
			Selectors: []monitoringv1alpha1.K8SSelectorConfig{{Role: monitoringv1alpha1.KubernetesRolePod, Label: ptr.To("component=executor")}},
		}}}, invalid: "node role supports only node selectors"},
		{golden: "K8SSD_with_BasicAuth", spec: monitoringv1alpha1.ScrapeConfigSpec{KubernetesSDConfigs: []monitoringv1alpha1.KubernetesSDConfig{{
			Role: monitoringv1alpha1.KubernetesRoleNode, BasicAuth: &monitoringv1.BasicAuth{Username: sec("secret", "Username"), Password: sec("secret", "Password")},
		}}}, invalid: "please provide the 'api_server' URL explicitly"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			g := &Generator{Secrets: secrets}
			job, err := g.ScrapeConfig(&monitoringv1alpha1.ScrapeConfig{
				ObjectMeta: metav1.ObjectMeta{Name: "testscrapeconfig1", Namespace: "default"},
				Spec:       tc.spec,
			})
			require.NoError(t, err)
			require.Equal(t, "scrapeConfig/default/testscrapeconfig1", job.Name)
			require.Equal(t, roundTrip(t, goldenScrapeConfigs(t, "ScrapeConfigSpecConfig_"+tc.golden+".golden")), render(t, []Job{job}))
			// Vigil loads what the operator generates.
			jobs, err := parseJobs([]Job{job}, nil)
			if tc.invalid != "" {
				require.ErrorContains(t, err, tc.invalid)
				return
			}
			require.NoError(t, err)
			require.Nil(t, jobs[0].Filter)
		})
	}
}

func TestScrapeConfigRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec monitoringv1alpha1.ScrapeConfigSpec
		want string
	}{
		{"consul", monitoringv1alpha1.ScrapeConfigSpec{ConsulSDConfigs: []monitoringv1alpha1.ConsulSDConfig{{Server: "localhost:8500"}}}, "consulSDConfigs"},
		{"dns and class", monitoringv1alpha1.ScrapeConfigSpec{
			DNSSDConfigs: []monitoringv1alpha1.DNSSDConfig{{Names: []string{"a.example"}}}, ScrapeClassName: ptr.To("x"),
		}, "dnsSDConfigs, scrapeClass"},
		{"extra scrape metrics", monitoringv1alpha1.ScrapeConfigSpec{ExtraScrapeMetrics: ptr.To(false)}, "extraScrapeMetrics"},
		{"missing secret", monitoringv1alpha1.ScrapeConfigSpec{BasicAuth: &monitoringv1.BasicAuth{
			Username: corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "u"},
		}}, "secret default/nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &Generator{Secrets: fakeSecrets{}}
			_, err := g.ScrapeConfig(&monitoringv1alpha1.ScrapeConfig{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"}, Spec: tc.spec})
			require.ErrorContains(t, err, tc.want)
		})
	}
}

const scDoc = `
apiVersion: monitoring.coreos.com/v1alpha1
kind: ScrapeConfig
metadata: {name: static, namespace: team, labels: {release: kps}}
spec:
  scrapeInterval: 5s
  staticConfigs: [{targets: ["10.213.27.3:27501"], labels: {env: prod}}]
  metricRelabelings: [{action: labeldrop, regex: noisy.*}]
`

func TestWatcherScrapeConfigs(t *testing.T) {
	bad := object(t, `
apiVersion: monitoring.coreos.com/v1alpha1
kind: ScrapeConfig
metadata: {name: consul, namespace: team, labels: {release: kps}}
spec:
  consulSDConfigs: [{server: "localhost:8500"}]
`)
	unselected := object(t, strings.Replace(strings.Replace(scDoc, "name: static", "name: other", 1), "release: kps", "release: other", 1))
	dyn := newDynamic(object(t, smDoc), object(t, scDoc), bad, unselected)
	reg := prometheus.NewRegistry()
	rec := &recorder{}
	w, err := New(Options{
		Dynamic: dyn, Client: fake.NewClientset(), Registerer: reg, OnChange: rec.set, Debounce: time.Millisecond,
		Selectors: Selectors{ScrapeConfig: "release=kps"},
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	require.Eventually(t, func() bool { return len(rec.jobs()) == 2 }, 10*time.Second, 10*time.Millisecond)
	st := rec.get()
	require.Equal(t, []string{"scrapeConfig/team/static", "serviceMonitor/team/app/0"}, rec.jobs())
	sc, err := ParseScrapeConfig(st.Jobs[0].YAML, config.DefaultGlobalConfig)
	require.NoError(t, err)
	require.Equal(t, "5s", sc.ScrapeInterval.String())
	require.Len(t, sc.MetricRelabelConfigs, 1)
	require.Contains(t, st.Jobs[0].YAML, "10.213.27.3:27501")
	// The ScrapeConfig's job keeps its own discovery: it has no filter of the shared one.
	require.Nil(t, st.Jobs[0].Filter)
	require.NotContains(t, st.Filters(), "scrapeConfig/team/static")
	require.Contains(t, st.Filters(), "serviceMonitor/team/app/0")
	require.Equal(t, 1.0, testutil.ToFloat64(w.managed.WithLabelValues("prometheus", "ScrapeConfig", "rejected")))
	require.Equal(t, 1.0, testutil.ToFloat64(w.managed.WithLabelValues("prometheus", "ScrapeConfig", "selected")))

	require.NoError(t, dyn.Resource(ScrapeConfigs).Namespace("team").Delete(ctx, "static", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return len(rec.jobs()) == 1 }, 10*time.Second, 10*time.Millisecond)
}
