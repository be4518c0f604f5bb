// Copyright 2016 The prometheus-operator Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// Ported to Vigil from github.com/prometheus-operator/prometheus-operator pkg/prometheus/promcfg.go
// (v0.88.0): generateServiceMonitorConfig, generatePodMonitorConfig and their helpers, so that a
// ServiceMonitor or PodMonitor becomes exactly the scrape_configs entry the operator writes.
// Changes: the API types are those of pkg/apis/monitoring v0.95.2; no Prometheus CR (no scrape
// classes, enforced limits, enforced namespace label, version gates: Vigil is Prometheus 3);
// TLS material is inlined (the operator's WithInlineTLSConfig) instead of written to files;
// an unresolvable Secret makes the object invalid instead of being logged and left out; the
// shard relabelings carry shard 0, as the operator's config-reloader substitutes it; the
// RoleSelector mechanism gets the selector relabelings too (no SD selectors).

package operator

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"go.yaml.in/yaml/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Kubernetes SD roles the generator uses.
const (
	RoleEndpoints     = "endpoints"
	RoleEndpointSlice = "endpointslice"
	RolePod           = "pod"
)

// Secrets resolves the keys of Secrets and ConfigMaps an object refers to, in its namespace.
type Secrets interface {
	SecretKey(namespace string, sel corev1.SecretKeySelector) (string, error)
	ConfigMapKey(namespace string, sel corev1.ConfigMapKeySelector) (string, error)
}

// Generator turns monitors into scrape configs as the operator's ConfigGenerator does.
type Generator struct {
	// EndpointRole is the role of ServiceMonitor discovery: RoleEndpointSlice or RoleEndpoints
	// (the Prometheus CR's serviceDiscoveryRole).
	EndpointRole string
	Secrets      Secrets
}

// Job is one generated scrape config.
type Job struct {
	Name string
	// Config is the scrape_configs entry, in the operator's key order.
	Config yaml.MapSlice
	// Selection is what the monitor selects, the same as the keep/drop relabelings that come
	// first in Config; Vigil's shared discovery uses it to hand the job only its own targets.
	Selection Selection
}

// Selection is what a job's kubernetes_sd_config and selector relabelings select.
type Selection struct {
	// Role is the Kubernetes SD role.
	Role string
	// AttachNode is attach_metadata.node.
	AttachNode bool
	// Namespaces lists the namespaces; empty means all.
	Namespaces []string
	// Rules counts the selector relabelings following the first one (job into
	// __tmp_prometheus_job_name): they read only group-level labels of the role.
	Rules int
}

// errorCollector keeps the first error of a generation.
type errorCollector struct{ err error }

func (e *errorCollector) add(err error) {
	if e.err == nil && err != nil {
		e.err = err
	}
}

// store is the operator's assets.StoreGetter for one namespace.
type store struct {
	ns   string
	s    Secrets
	errs *errorCollector
}

func (s store) GetSecretKey(sel corev1.SecretKeySelector) string {
	if s.s == nil {
		s.errs.add(fmt.Errorf("secret %s/%s: no Kubernetes client", s.ns, sel.Name))
		return ""
	}
	v, err := s.s.SecretKey(s.ns, sel)
	if err != nil {
		s.errs.add(fmt.Errorf("secret %s/%s key %q: %w", s.ns, sel.Name, sel.Key, err))
	}
	return v
}

func (s store) GetSecretOrConfigMapKey(sel monitoringv1.SecretOrConfigMap) string {
	switch {
	case sel.Secret != nil:
		return s.GetSecretKey(*sel.Secret)
	case sel.ConfigMap != nil:
		if s.s == nil {
			s.errs.add(fmt.Errorf("configmap %s/%s: no Kubernetes client", s.ns, sel.ConfigMap.Name))
			return ""
		}
		v, err := s.s.ConfigMapKey(s.ns, *sel.ConfigMap)
		if err != nil {
			s.errs.add(fmt.Errorf("configmap %s/%s key %q: %w", s.ns, sel.ConfigMap.Name, sel.ConfigMap.Key, err))
		}
		return v
	}
	return ""
}

func sanitizeLabelName(name string) string {
	return invalidLabelCharRE.ReplaceAllString(name, "_")
}

// ServiceMonitor returns the jobs of m, one per endpoint, or the error that makes m invalid.
func (g *Generator) ServiceMonitor(m *monitoringv1.ServiceMonitor) ([]Job, error) {
	if err := validateServiceMonitor(m); err != nil {
		return nil, err
	}
	errs := &errorCollector{}
	s := store{ns: m.Namespace, s: g.Secrets, errs: errs}
	jobs := make([]Job, 0, len(m.Spec.Endpoints))
	for i, ep := range m.Spec.Endpoints {
		jobs = append(jobs, g.serviceMonitorJob(m, ep, i, s))
	}
	if errs.err != nil {
		return nil, errs.err
	}
	return jobs, nil
}

// PodMonitor returns the jobs of m, one per endpoint, or the error that makes m invalid.
func (g *Generator) PodMonitor(m *monitoringv1.PodMonitor) ([]Job, error) {
	if err := validatePodMonitor(m); err != nil {
		return nil, err
	}
	errs := &errorCollector{}
	s := store{ns: m.Namespace, s: g.Secrets, errs: errs}
	jobs := make([]Job, 0, len(m.Spec.PodMetricsEndpoints))
	for i, ep := range m.Spec.PodMetricsEndpoints {
		jobs = append(jobs, g.podMonitorJob(m, ep, i, s))
	}
	if errs.err != nil {
		return nil, errs.err
	}
	return jobs, nil
}

func (g *Generator) endpointRole(sdr *monitoringv1.ServiceDiscoveryRole) string {
	if sdr != nil {
		switch *sdr {
		case monitoringv1.EndpointSliceRole:
			return RoleEndpointSlice
		case monitoringv1.EndpointsRole:
			return RoleEndpoints
		}
	}
	if g.EndpointRole == RoleEndpoints {
		return RoleEndpoints
	}
	return RoleEndpointSlice
}

func (g *Generator) serviceMonitorJob(m *monitoringv1.ServiceMonitor, ep monitoringv1.Endpoint, i int, s store) Job {
	name := fmt.Sprintf("serviceMonitor/%s/%s/%d", m.Namespace, m.Name, i)
	cfg := yaml.MapSlice{{Key: "job_name", Value: name}}
	cfg = addHonorLabels(cfg, ep.HonorLabels)
	cfg = addHonorTimestamps(cfg, ep.HonorTimestamps)
	cfg = addTrackTimestampsStaleness(cfg, ep.TrackTimestampsStaleness)

	role := g.endpointRole(m.Spec.ServiceDiscoveryRole)
	sel := Selection{Role: role, AttachNode: m.Spec.AttachMetadata != nil && ptr.Deref(m.Spec.AttachMetadata.Node, false)}
	sd, namespaces := generateK8SSDConfig(m.Spec.NamespaceSelector, m.Namespace, role, m.Spec.AttachMetadata)
	sel.Namespaces = namespaces
	cfg = append(cfg, sd)

	if ep.Interval != "" {
		cfg = append(cfg, yaml.MapItem{Key: "scrape_interval", Value: ep.Interval})
	}
	if ep.ScrapeTimeout != "" {
		cfg = append(cfg, yaml.MapItem{Key: "scrape_timeout", Value: ep.ScrapeTimeout})
	}
	if ep.Path != "" {
		cfg = append(cfg, yaml.MapItem{Key: "metrics_path", Value: ep.Path})
	}
	if ep.Params != nil {
		cfg = append(cfg, yaml.MapItem{Key: "params", Value: ep.Params})
	}
	if ep.Scheme != nil {
		cfg = append(cfg, yaml.MapItem{Key: "scheme", Value: ep.Scheme.String()})
	}
	if ep.FollowRedirects != nil {
		cfg = append(cfg, yaml.MapItem{Key: "follow_redirects", Value: *ep.FollowRedirects})
	}
	if ep.EnableHTTP2 != nil {
		cfg = append(cfg, yaml.MapItem{Key: "enable_http2", Value: *ep.EnableHTTP2})
	}
	cfg = addProxyConfigtoYaml(cfg, s, ep.ProxyConfig)
	cfg = addOAuth2ToYaml(cfg, s, ep.OAuth2)
	cfg = addTLStoYaml(cfg, s, ep.TLSConfig)
	if ep.BearerTokenFile != "" { //nolint:staticcheck // Deprecated but still read, as the operator does.
		cfg = append(cfg, yaml.MapItem{Key: "bearer_token_file", Value: ep.BearerTokenFile}) //nolint:staticcheck
	}
	if ep.BearerTokenSecret != nil && ep.BearerTokenSecret.Name != "" { //nolint:staticcheck
		cfg = append(cfg, yaml.MapItem{Key: "bearer_token", Value: s.GetSecretKey(*ep.BearerTokenSecret)}) //nolint:staticcheck
	}
	cfg = addBasicAuthToYaml(cfg, s, ep.BasicAuth)
	cfg = addSafeAuthorizationToYaml(cfg, s, ep.Authorization)

	relabelings := initRelabelings()
	before := len(relabelings)
	// The operator moves the selector into the SD config's selectors with the RoleSelector
	// mechanism; Vigil's shared discovery selects by the relabelings, so they are always there.
	relabelings = append(relabelings, selectorRelabelings("__meta_kubernetes_service_", m.Spec.Selector)...)
	sel.Rules = len(relabelings) - before

	if ep.Port != "" {
		sourceLabels := []string{"__meta_kubernetes_endpoint_port_name"}
		if role == RoleEndpointSlice {
			sourceLabels = []string{"__meta_kubernetes_endpointslice_port_name"}
		}
		relabelings = append(relabelings, yaml.MapSlice{
			{Key: "action", Value: "keep"},
			{Key: "source_labels", Value: sourceLabels},
			{Key: "regex", Value: ep.Port},
		})
	} else if ep.TargetPort != nil {
		if ep.TargetPort.StrVal != "" {
			relabelings = append(relabelings, yaml.MapSlice{
				{Key: "action", Value: "keep"},
				{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_container_port_name"}},
				{Key: "regex", Value: ep.TargetPort.String()},
			})
		} else if ep.TargetPort.IntVal != 0 {
			relabelings = append(relabelings, yaml.MapSlice{
				{Key: "action", Value: "keep"},
				{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_container_port_number"}},
				{Key: "regex", Value: ep.TargetPort.IntValue()},
			})
		}
	}

	sourceLabels := []string{"__meta_kubernetes_endpoint_address_target_kind", "__meta_kubernetes_endpoint_address_target_name"}
	if role == RoleEndpointSlice {
		sourceLabels = []string{"__meta_kubernetes_endpointslice_address_target_kind", "__meta_kubernetes_endpointslice_address_target_name"}
	}
	relabelings = append(relabelings, []yaml.MapSlice{
		{
			{Key: "source_labels", Value: sourceLabels},
			{Key: "separator", Value: ";"},
			{Key: "regex", Value: "Node;(.*)"},
			{Key: "replacement", Value: "${1}"},
			{Key: "target_label", Value: "node"},
		},
		{
			{Key: "source_labels", Value: sourceLabels},
			{Key: "separator", Value: ";"},
			{Key: "regex", Value: "Pod;(.*)"},
			{Key: "replacement", Value: "${1}"},
			{Key: "target_label", Value: "pod"},
		},
		{
			{Key: "source_labels", Value: []string{"__meta_kubernetes_namespace"}},
			{Key: "target_label", Value: "namespace"},
		},
		{
			{Key: "source_labels", Value: []string{"__meta_kubernetes_service_name"}},
			{Key: "target_label", Value: "service"},
		},
		{
			{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_name"}},
			{Key: "target_label", Value: "pod"},
		},
		{
			{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_container_name"}},
			{Key: "target_label", Value: "container"},
		},
	}...)
	if ptr.Deref(ep.FilterRunning, true) {
		relabelings = append(relabelings, generateRunningFilter())
	}
	for _, l := range m.Spec.TargetLabels {
		relabelings = append(relabelings, yaml.MapSlice{
			{Key: "source_labels", Value: []string{"__meta_kubernetes_service_label_" + sanitizeLabelName(l)}},
			{Key: "target_label", Value: sanitizeLabelName(l)},
			{Key: "regex", Value: "(.+)"},
			{Key: "replacement", Value: "${1}"},
		})
	}
	for _, l := range m.Spec.PodTargetLabels {
		relabelings = append(relabelings, yaml.MapSlice{
			{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_label_" + sanitizeLabelName(l)}},
			{Key: "target_label", Value: sanitizeLabelName(l)},
			{Key: "regex", Value: "(.+)"},
			{Key: "replacement", Value: "${1}"},
		})
	}
	relabelings = append(relabelings, yaml.MapSlice{
		{Key: "source_labels", Value: []string{"__meta_kubernetes_service_name"}},
		{Key: "target_label", Value: "job"},
		{Key: "replacement", Value: "${1}"},
	})
	if m.Spec.JobLabel != "" {
		relabelings = append(relabelings, yaml.MapSlice{
			{Key: "source_labels", Value: []string{"__meta_kubernetes_service_label_" + sanitizeLabelName(m.Spec.JobLabel)}},
			{Key: "target_label", Value: "job"},
			{Key: "regex", Value: "(.+)"},
			{Key: "replacement", Value: "${1}"},
		})
	}
	if ep.Port != "" {
		relabelings = append(relabelings, yaml.MapSlice{
			{Key: "target_label", Value: "endpoint"},
			{Key: "replacement", Value: ep.Port},
		})
	} else if ep.TargetPort != nil && ep.TargetPort.String() != "" {
		relabelings = append(relabelings, yaml.MapSlice{
			{Key: "target_label", Value: "endpoint"},
			{Key: "replacement", Value: ep.TargetPort.String()},
		})
	}
	relabelings = append(relabelings, generateRelabelConfig(ep.RelabelConfigs)...)
	relabelings = appendShardingRelabelingWithAddress(relabelings)
	cfg = append(cfg, yaml.MapItem{Key: "relabel_configs", Value: relabelings})

	cfg = addLimits(cfg, m.Spec.SampleLimit, m.Spec.TargetLimit, m.Spec.LabelLimit, m.Spec.LabelNameLengthLimit, m.Spec.LabelValueLengthLimit, m.Spec.KeepDroppedTargets)
	cfg = addNativeHistogramConfig(cfg, m.Spec.NativeHistogramConfig)
	cfg = addScrapeProtocols(cfg, m.Spec.ScrapeProtocols)
	cfg = addFallbackScrapeProtocol(cfg, m.Spec.FallbackScrapeProtocol)
	if m.Spec.BodySizeLimit != nil && *m.Spec.BodySizeLimit != "" {
		cfg = append(cfg, yaml.MapItem{Key: "body_size_limit", Value: m.Spec.BodySizeLimit})
	}
	if len(ep.MetricRelabelConfigs) > 0 {
		cfg = append(cfg, yaml.MapItem{Key: "metric_relabel_configs", Value: generateRelabelConfig(ep.MetricRelabelConfigs)})
	}
	return Job{Name: name, Config: cfg, Selection: sel}
}

func (g *Generator) podMonitorJob(m *monitoringv1.PodMonitor, ep monitoringv1.PodMetricsEndpoint, i int, s store) Job {
	name := fmt.Sprintf("podMonitor/%s/%s/%d", m.Namespace, m.Name, i)
	cfg := yaml.MapSlice{{Key: "job_name", Value: name}}
	cfg = addHonorLabels(cfg, ep.HonorLabels)
	cfg = addHonorTimestamps(cfg, ep.HonorTimestamps)
	cfg = addTrackTimestampsStaleness(cfg, ep.TrackTimestampsStaleness)

	sel := Selection{Role: RolePod, AttachNode: m.Spec.AttachMetadata != nil && ptr.Deref(m.Spec.AttachMetadata.Node, false)}
	sd, namespaces := generateK8SSDConfig(m.Spec.NamespaceSelector, m.Namespace, RolePod, m.Spec.AttachMetadata)
	sel.Namespaces = namespaces
	cfg = append(cfg, sd)

	if ep.Interval != "" {
		cfg = append(cfg, yaml.MapItem{Key: "scrape_interval", Value: ep.Interval})
	}
	if ep.ScrapeTimeout != "" {
		cfg = append(cfg, yaml.MapItem{Key: "scrape_timeout", Value: ep.ScrapeTimeout})
	}
	if ep.Path != "" {
		cfg = append(cfg, yaml.MapItem{Key: "metrics_path", Value: ep.Path})
	}
	if ep.Params != nil {
		cfg = append(cfg, yaml.MapItem{Key: "params", Value: ep.Params})
	}
	if ep.Scheme != nil {
		cfg = append(cfg, yaml.MapItem{Key: "scheme", Value: ep.Scheme.String()})
	}
	// addHTTPConfigToYAML
	if ep.FollowRedirects != nil {
		cfg = append(cfg, yaml.MapItem{Key: "follow_redirects", Value: *ep.FollowRedirects})
	}
	if ep.EnableHTTP2 != nil {
		cfg = append(cfg, yaml.MapItem{Key: "enable_http2", Value: *ep.EnableHTTP2})
	}
	if ep.TLSConfig != nil {
		cfg = addTLStoYaml(cfg, s, &monitoringv1.TLSConfig{SafeTLSConfig: *ep.TLSConfig})
	}
	if ep.BearerTokenSecret != nil && ep.BearerTokenSecret.Name != "" { //nolint:staticcheck
		cfg = append(cfg, yaml.MapItem{Key: "bearer_token", Value: s.GetSecretKey(*ep.BearerTokenSecret)}) //nolint:staticcheck
	}
	cfg = addBasicAuthToYaml(cfg, s, ep.BasicAuth)
	cfg = addOAuth2ToYaml(cfg, s, ep.OAuth2)
	cfg = addProxyConfigtoYaml(cfg, s, ep.ProxyConfig)
	cfg = addSafeAuthorizationToYaml(cfg, s, ep.Authorization)

	relabelings := initRelabelings()
	if ep.FilterRunning == nil || *ep.FilterRunning {
		relabelings = append(relabelings, generateRunningFilter())
	}
	// The operator moves the selector into the SD config's selectors with the RoleSelector
	// mechanism; Vigil's shared discovery selects by the relabelings, so they are always there.
	relabelings = append(relabelings, selectorRelabelings("__meta_kubernetes_pod_", m.Spec.Selector)...)
	// The running filter and the selector read the pod's phase and labels, group labels of
	// the pod role: the shared discovery evaluates them all.
	sel.Rules = len(relabelings) - 1

	if ptr.Deref(ep.Port, "") != "" {
		relabelings = append(relabelings, yaml.MapSlice{
			{Key: "action", Value: "keep"},
			{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_container_port_name"}},
			{Key: "regex", Value: *ep.Port},
		})
	} else if ptr.Deref(ep.PortNumber, 0) != 0 {
		relabelings = append(relabelings, yaml.MapSlice{
			{Key: "action", Value: "keep"},
			{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_container_port_number"}},
			{Key: "regex", Value: *ep.PortNumber},
		})
	} else if ep.TargetPort != nil { //nolint:staticcheck
		if ep.TargetPort.StrVal != "" { //nolint:staticcheck
			relabelings = append(relabelings, yaml.MapSlice{
				{Key: "action", Value: "keep"},
				{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_container_port_name"}},
				{Key: "regex", Value: ep.TargetPort.String()}, //nolint:staticcheck
			})
		} else if ep.TargetPort.IntVal != 0 { //nolint:staticcheck
			relabelings = append(relabelings, yaml.MapSlice{
				{Key: "action", Value: "keep"},
				{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_container_port_number"}},
				{Key: "regex", Value: ep.TargetPort.IntValue()}, //nolint:staticcheck
			})
		}
	}
	relabelings = append(relabelings, []yaml.MapSlice{
		{
			{Key: "source_labels", Value: []string{"__meta_kubernetes_namespace"}},
			{Key: "target_label", Value: "namespace"},
		},
		{
			{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_container_name"}},
			{Key: "target_label", Value: "container"},
		},
		{
			{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_name"}},
			{Key: "target_label", Value: "pod"},
		},
	}...)
	for _, l := range m.Spec.PodTargetLabels {
		relabelings = append(relabelings, yaml.MapSlice{
			{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_label_" + sanitizeLabelName(l)}},
			{Key: "target_label", Value: sanitizeLabelName(l)},
			{Key: "regex", Value: "(.+)"},
			{Key: "replacement", Value: "${1}"},
		})
	}
	relabelings = append(relabelings, yaml.MapSlice{
		{Key: "target_label", Value: "job"},
		{Key: "replacement", Value: fmt.Sprintf("%s/%s", m.GetNamespace(), m.GetName())},
	})
	if m.Spec.JobLabel != "" {
		relabelings = append(relabelings, yaml.MapSlice{
			{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_label_" + sanitizeLabelName(m.Spec.JobLabel)}},
			{Key: "target_label", Value: "job"},
			{Key: "regex", Value: "(.+)"},
			{Key: "replacement", Value: "${1}"},
		})
	}
	if ptr.Deref(ep.Port, "") != "" {
		relabelings = append(relabelings, yaml.MapSlice{
			{Key: "target_label", Value: "endpoint"},
			{Key: "replacement", Value: *ep.Port},
		})
	} else if ep.TargetPort != nil && ep.TargetPort.String() != "" { //nolint:staticcheck
		relabelings = append(relabelings, yaml.MapSlice{
			{Key: "target_label", Value: "endpoint"},
			{Key: "replacement", Value: ep.TargetPort.String()}, //nolint:staticcheck
		})
	}
	relabelings = append(relabelings, generateRelabelConfig(ep.RelabelConfigs)...)
	relabelings = appendShardingRelabelingWithAddress(relabelings)
	cfg = append(cfg, yaml.MapItem{Key: "relabel_configs", Value: relabelings})

	cfg = addLimits(cfg, m.Spec.SampleLimit, m.Spec.TargetLimit, m.Spec.LabelLimit, m.Spec.LabelNameLengthLimit, m.Spec.LabelValueLengthLimit, m.Spec.KeepDroppedTargets)
	cfg = addNativeHistogramConfig(cfg, m.Spec.NativeHistogramConfig)
	cfg = addScrapeProtocols(cfg, m.Spec.ScrapeProtocols)
	cfg = addFallbackScrapeProtocol(cfg, m.Spec.FallbackScrapeProtocol)
	if m.Spec.BodySizeLimit != nil && *m.Spec.BodySizeLimit != "" {
		cfg = append(cfg, yaml.MapItem{Key: "body_size_limit", Value: m.Spec.BodySizeLimit})
	}
	if len(ep.MetricRelabelConfigs) > 0 {
		cfg = append(cfg, yaml.MapItem{Key: "metric_relabel_configs", Value: generateRelabelConfig(ep.MetricRelabelConfigs)})
	}
	return Job{Name: name, Config: cfg, Selection: sel}
}

// selectorRelabelings maps a label selector to keep/drop relabelings on the role's
// <prefix>label_* and <prefix>labelpresent_* meta labels.
func selectorRelabelings(prefix string, sel metav1.LabelSelector) []yaml.MapSlice {
	var out []yaml.MapSlice
	keys := make([]string, 0, len(sel.MatchLabels))
	for k := range sel.MatchLabels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, yaml.MapSlice{
			{Key: "action", Value: "keep"},
			{Key: "source_labels", Value: []string{prefix + "label_" + sanitizeLabelName(k), prefix + "labelpresent_" + sanitizeLabelName(k)}},
			{Key: "regex", Value: fmt.Sprintf("(%s);true", sel.MatchLabels[k])},
		})
	}
	for _, exp := range sel.MatchExpressions {
		switch exp.Operator {
		case metav1.LabelSelectorOpIn:
			out = append(out, yaml.MapSlice{
				{Key: "action", Value: "keep"},
				{Key: "source_labels", Value: []string{prefix + "label_" + sanitizeLabelName(exp.Key), prefix + "labelpresent_" + sanitizeLabelName(exp.Key)}},
				{Key: "regex", Value: fmt.Sprintf("(%s);true", strings.Join(exp.Values, "|"))},
			})
		case metav1.LabelSelectorOpNotIn:
			out = append(out, yaml.MapSlice{
				{Key: "action", Value: "drop"},
				{Key: "source_labels", Value: []string{prefix + "label_" + sanitizeLabelName(exp.Key), prefix + "labelpresent_" + sanitizeLabelName(exp.Key)}},
				{Key: "regex", Value: fmt.Sprintf("(%s);true", strings.Join(exp.Values, "|"))},
			})
		case metav1.LabelSelectorOpExists:
			out = append(out, yaml.MapSlice{
				{Key: "action", Value: "keep"},
				{Key: "source_labels", Value: []string{prefix + "labelpresent_" + sanitizeLabelName(exp.Key)}},
				{Key: "regex", Value: "true"},
			})
		case metav1.LabelSelectorOpDoesNotExist:
			out = append(out, yaml.MapSlice{
				{Key: "action", Value: "drop"},
				{Key: "source_labels", Value: []string{prefix + "labelpresent_" + sanitizeLabelName(exp.Key)}},
				{Key: "regex", Value: "true"},
			})
		}
	}
	return out
}

func initRelabelings() []yaml.MapSlice {
	return []yaml.MapSlice{{
		{Key: "source_labels", Value: []string{"job"}},
		{Key: "target_label", Value: "__tmp_prometheus_job_name"},
	}}
}

func generateRunningFilter() yaml.MapSlice {
	return yaml.MapSlice{
		{Key: "action", Value: "drop"},
		{Key: "source_labels", Value: []string{"__meta_kubernetes_pod_phase"}},
		{Key: "regex", Value: "(Failed|Succeeded)"},
	}
}

const (
	hashLabelNameForSharding          = "__tmp_hash"
	hashLabelNameForDisablingSharding = "__tmp_disable_sharding"
)

// appendShardingRelabelingWithAddress appends the operator's sharding relabelings for one shard
// (shard 0 of 1, as the config-reloader renders $(SHARD)).
func appendShardingRelabelingWithAddress(relabelings []yaml.MapSlice) []yaml.MapSlice {
	return append(relabelings,
		yaml.MapSlice{
			{Key: "source_labels", Value: []string{"__address__", hashLabelNameForSharding}},
			{Key: "target_label", Value: hashLabelNameForSharding},
			{Key: "regex", Value: "(.+);"},
			{Key: "replacement", Value: "$1"},
			{Key: "action", Value: "replace"},
		}, yaml.MapSlice{
			{Key: "source_labels", Value: []string{hashLabelNameForSharding}},
			{Key: "target_label", Value: hashLabelNameForSharding},
			{Key: "modulus", Value: int32(1)},
			{Key: "action", Value: "hashmod"},
		}, yaml.MapSlice{
			{Key: "source_labels", Value: []string{hashLabelNameForSharding, hashLabelNameForDisablingSharding}},
			{Key: "regex", Value: "0;|.+;.+"},
			{Key: "action", Value: "keep"},
		})
}

func generateRelabelConfig(rc []monitoringv1.RelabelConfig) []yaml.MapSlice {
	var cfg []yaml.MapSlice
	for _, c := range rc {
		relabeling := yaml.MapSlice{}
		if len(c.SourceLabels) > 0 {
			relabeling = append(relabeling, yaml.MapItem{Key: "source_labels", Value: c.SourceLabels})
		}
		if c.Separator != nil {
			relabeling = append(relabeling, yaml.MapItem{Key: "separator", Value: *c.Separator})
		}
		if c.TargetLabel != "" {
			relabeling = append(relabeling, yaml.MapItem{Key: "target_label", Value: c.TargetLabel})
		}
		if c.Regex != "" {
			relabeling = append(relabeling, yaml.MapItem{Key: "regex", Value: c.Regex})
		}
		if c.Modulus != 0 {
			relabeling = append(relabeling, yaml.MapItem{Key: "modulus", Value: c.Modulus})
		}
		if c.Replacement != nil {
			relabeling = append(relabeling, yaml.MapItem{Key: "replacement", Value: *c.Replacement})
		}
		if c.Action != "" {
			relabeling = append(relabeling, yaml.MapItem{Key: "action", Value: strings.ToLower(c.Action)})
		}
		cfg = append(cfg, relabeling)
	}
	return cfg
}

// getNamespacesFromNamespaceSelector: an empty result means all namespaces.
func getNamespacesFromNamespaceSelector(nsel monitoringv1.NamespaceSelector, namespace string) []string {
	switch {
	case nsel.Any:
		return []string{}
	case len(nsel.MatchNames) == 0:
		return []string{namespace}
	}
	return nsel.MatchNames
}

func generateK8SSDConfig(nsel monitoringv1.NamespaceSelector, namespace, role string, attach *monitoringv1.AttachMetadata) (yaml.MapItem, []string) {
	k8sSDConfig := yaml.MapSlice{{Key: "role", Value: role}}
	namespaces := getNamespacesFromNamespaceSelector(nsel, namespace)
	if len(namespaces) != 0 {
		k8sSDConfig = append(k8sSDConfig, yaml.MapItem{
			Key:   "namespaces",
			Value: yaml.MapSlice{{Key: "names", Value: namespaces}},
		})
	}
	if attach != nil {
		k8sSDConfig = append(k8sSDConfig, yaml.MapItem{
			Key:   "attach_metadata",
			Value: yaml.MapSlice{{Key: "node", Value: ptr.Deref(attach.Node, false)}},
		})
	}
	return yaml.MapItem{Key: "kubernetes_sd_configs", Value: []yaml.MapSlice{k8sSDConfig}}, namespaces
}

func addHonorLabels(cfg yaml.MapSlice, honorLabels bool) yaml.MapSlice {
	return append(cfg, yaml.MapItem{Key: "honor_labels", Value: honorLabels})
}

func addHonorTimestamps(cfg yaml.MapSlice, user *bool) yaml.MapSlice {
	if user == nil {
		return cfg
	}
	return append(cfg, yaml.MapItem{Key: "honor_timestamps", Value: *user})
}

func addTrackTimestampsStaleness(cfg yaml.MapSlice, v *bool) yaml.MapSlice {
	if v == nil {
		return cfg
	}
	return append(cfg, yaml.MapItem{Key: "track_timestamps_staleness", Value: *v})
}

func addLimits[T int64 | uint64](cfg yaml.MapSlice, sample, target, label, labelName, labelValue, keepDropped *T) yaml.MapSlice {
	for _, l := range []struct {
		key string
		v   *T
	}{
		{"sample_limit", sample},
		{"target_limit", target},
		{"label_limit", label},
		{"label_name_length_limit", labelName},
		{"label_value_length_limit", labelValue},
		{"keep_dropped_targets", keepDropped},
	} {
		if l.v != nil {
			cfg = append(cfg, yaml.MapItem{Key: l.key, Value: l.v})
		}
	}
	return cfg
}

func addNativeHistogramConfig(cfg yaml.MapSlice, nhc monitoringv1.NativeHistogramConfig) yaml.MapSlice {
	if reflect.ValueOf(nhc).IsZero() {
		return cfg
	}
	if nhc.ScrapeNativeHistograms != nil {
		cfg = append(cfg, yaml.MapItem{Key: "scrape_native_histograms", Value: nhc.ScrapeNativeHistograms})
	}
	if nhc.NativeHistogramBucketLimit != nil {
		cfg = append(cfg, yaml.MapItem{Key: "native_histogram_bucket_limit", Value: nhc.NativeHistogramBucketLimit})
	}
	if nhc.NativeHistogramMinBucketFactor != nil {
		cfg = append(cfg, yaml.MapItem{Key: "native_histogram_min_bucket_factor", Value: nhc.NativeHistogramMinBucketFactor.AsApproximateFloat64()})
	}
	if nhc.ScrapeClassicHistograms != nil {
		cfg = append(cfg, yaml.MapItem{Key: "always_scrape_classic_histograms", Value: nhc.ScrapeClassicHistograms})
	}
	if nhc.ConvertClassicHistogramsToNHCB != nil {
		cfg = append(cfg, yaml.MapItem{Key: "convert_classic_histograms_to_nhcb", Value: nhc.ConvertClassicHistogramsToNHCB})
	}
	return cfg
}

func addScrapeProtocols(cfg yaml.MapSlice, sps []monitoringv1.ScrapeProtocol) yaml.MapSlice {
	if len(sps) == 0 {
		return cfg
	}
	out := make([]string, 0, len(sps))
	for _, sp := range sps {
		out = append(out, string(sp))
	}
	return append(cfg, yaml.MapItem{Key: "scrape_protocols", Value: out})
}

func addFallbackScrapeProtocol(cfg yaml.MapSlice, p *monitoringv1.ScrapeProtocol) yaml.MapSlice {
	if p == nil {
		return cfg
	}
	return append(cfg, yaml.MapItem{Key: "fallback_scrape_protocol", Value: p})
}

func addBasicAuthToYaml(cfg yaml.MapSlice, s store, basicAuth *monitoringv1.BasicAuth) yaml.MapSlice {
	if basicAuth == nil {
		return cfg
	}
	return append(cfg, yaml.MapItem{Key: "basic_auth", Value: yaml.MapSlice{
		{Key: "username", Value: s.GetSecretKey(basicAuth.Username)},
		{Key: "password", Value: s.GetSecretKey(basicAuth.Password)},
	}})
}

func addSafeAuthorizationToYaml(cfg yaml.MapSlice, s store, auth *monitoringv1.SafeAuthorization) yaml.MapSlice {
	if auth == nil || reflect.ValueOf(*auth).IsZero() {
		return cfg
	}
	typ := auth.Type
	if typ == "" {
		typ = "Bearer"
	}
	authCfg := yaml.MapSlice{{Key: "type", Value: strings.TrimSpace(typ)}}
	if auth.Credentials != nil {
		authCfg = append(authCfg, yaml.MapItem{Key: "credentials", Value: s.GetSecretKey(*auth.Credentials)})
	}
	return append(cfg, yaml.MapItem{Key: "authorization", Value: authCfg})
}

func addProxyConfigtoYaml(cfg yaml.MapSlice, s store, pc monitoringv1.ProxyConfig) yaml.MapSlice {
	if reflect.ValueOf(pc).IsZero() {
		return cfg
	}
	if pc.ProxyURL != nil {
		cfg = append(cfg, yaml.MapItem{Key: "proxy_url", Value: *pc.ProxyURL})
	}
	if pc.NoProxy != nil {
		cfg = append(cfg, yaml.MapItem{Key: "no_proxy", Value: *pc.NoProxy})
	}
	if pc.ProxyFromEnvironment != nil {
		cfg = append(cfg, yaml.MapItem{Key: "proxy_from_environment", Value: *pc.ProxyFromEnvironment})
	}
	if pc.ProxyConnectHeader != nil {
		keys := make([]string, 0, len(pc.ProxyConnectHeader))
		for k := range pc.ProxyConnectHeader {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		hdr := yaml.MapSlice{}
		for _, k := range keys {
			vals := []string{}
			for _, sel := range pc.ProxyConnectHeader[k] {
				vals = append(vals, s.GetSecretKey(sel))
			}
			hdr = append(hdr, yaml.MapItem{Key: k, Value: vals})
		}
		cfg = append(cfg, yaml.MapItem{Key: "proxy_connect_header", Value: hdr})
	}
	return cfg
}

func addOAuth2ToYaml(cfg yaml.MapSlice, s store, o *monitoringv1.OAuth2) yaml.MapSlice {
	if o == nil {
		return cfg
	}
	oc := yaml.MapSlice{
		{Key: "client_id", Value: s.GetSecretOrConfigMapKey(o.ClientID)},
		{Key: "client_secret", Value: s.GetSecretKey(o.ClientSecret)},
		{Key: "token_url", Value: o.TokenURL},
	}
	if len(o.Scopes) > 0 {
		oc = append(oc, yaml.MapItem{Key: "scopes", Value: o.Scopes})
	}
	if len(o.EndpointParams) > 0 {
		oc = append(oc, yaml.MapItem{Key: "endpoint_params", Value: o.EndpointParams})
	}
	oc = addProxyConfigtoYaml(oc, s, o.ProxyConfig)
	oc = addSafeTLStoYaml(oc, s, o.TLSConfig)
	return append(cfg, yaml.MapItem{Key: "oauth2", Value: oc})
}

func addSafeTLStoYaml(cfg yaml.MapSlice, s store, t *monitoringv1.SafeTLSConfig) yaml.MapSlice {
	if t == nil {
		return cfg
	}
	tc := yaml.MapSlice{}
	if t.InsecureSkipVerify != nil {
		tc = append(tc, yaml.MapItem{Key: "insecure_skip_verify", Value: *t.InsecureSkipVerify})
	}
	if t.CA.Secret != nil || t.CA.ConfigMap != nil {
		tc = append(tc, yaml.MapItem{Key: "ca", Value: s.GetSecretOrConfigMapKey(t.CA)})
	}
	if t.Cert.Secret != nil || t.Cert.ConfigMap != nil {
		tc = append(tc, yaml.MapItem{Key: "cert", Value: s.GetSecretOrConfigMapKey(t.Cert)})
	}
	if t.KeySecret != nil {
		tc = append(tc, yaml.MapItem{Key: "key", Value: s.GetSecretKey(*t.KeySecret)})
	}
	if ptr.Deref(t.ServerName, "") != "" {
		tc = append(tc, yaml.MapItem{Key: "server_name", Value: *t.ServerName})
	}
	if t.MinVersion != nil {
		tc = append(tc, yaml.MapItem{Key: "min_version", Value: *t.MinVersion})
	}
	if t.MaxVersion != nil {
		tc = append(tc, yaml.MapItem{Key: "max_version", Value: *t.MaxVersion})
	}
	return append(cfg, yaml.MapItem{Key: "tls_config", Value: tc})
}

func addTLStoYaml(cfg yaml.MapSlice, s store, t *monitoringv1.TLSConfig) yaml.MapSlice {
	if t == nil {
		return cfg
	}
	tc := addSafeTLStoYaml(yaml.MapSlice{}, s, &t.SafeTLSConfig)[0].Value.(yaml.MapSlice)
	if t.CAFile != "" {
		tc = append(tc, yaml.MapItem{Key: "ca_file", Value: t.CAFile})
	}
	if t.CertFile != "" {
		tc = append(tc, yaml.MapItem{Key: "cert_file", Value: t.CertFile})
	}
	if t.KeyFile != "" {
		tc = append(tc, yaml.MapItem{Key: "key_file", Value: t.KeyFile})
	}
	return append(cfg, yaml.MapItem{Key: "tls_config", Value: tc})
}
