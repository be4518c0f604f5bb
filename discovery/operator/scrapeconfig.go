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
// Ported to Vigil from github.com/prometheus-operator/prometheus-operator (v0.88.0):
// pkg/prometheus/promcfg.go generateScrapeConfig. Changes: no scrape classes, sharding,
// enforced limits or version gates (Vigil takes what Prometheus 3 takes); only the static,
// file, HTTP and Kubernetes service discoveries; objects using anything else are rejected
// with a reason naming the field.

package operator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	"go.yaml.in/yaml/v2"
)

// ScrapeConfigJobName is the operator's job name of a ScrapeConfig.
func ScrapeConfigJobName(ns, name string) string {
	return fmt.Sprintf("scrapeConfig/%s/%s", ns, name)
}

// unsupportedScrapeConfigFields names the ScrapeConfig fields set in spec that Vigil does not
// read.
func unsupportedScrapeConfigFields(spec *monitoringv1alpha1.ScrapeConfigSpec) []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"consulSDConfigs", len(spec.ConsulSDConfigs) > 0},
		{"dnsSDConfigs", len(spec.DNSSDConfigs) > 0},
		{"ec2SDConfigs", len(spec.EC2SDConfigs) > 0},
		{"azureSDConfigs", len(spec.AzureSDConfigs) > 0},
		{"gceSDConfigs", len(spec.GCESDConfigs) > 0},
		{"openstackSDConfigs", len(spec.OpenStackSDConfigs) > 0},
		{"digitalOceanSDConfigs", len(spec.DigitalOceanSDConfigs) > 0},
		{"kumaSDConfigs", len(spec.KumaSDConfigs) > 0},
		{"eurekaSDConfigs", len(spec.EurekaSDConfigs) > 0},
		{"dockerSDConfigs", len(spec.DockerSDConfigs) > 0},
		{"linodeSDConfigs", len(spec.LinodeSDConfigs) > 0},
		{"hetznerSDConfigs", len(spec.HetznerSDConfigs) > 0},
		{"nomadSDConfigs", len(spec.NomadSDConfigs) > 0},
		{"dockerSwarmSDConfigs", len(spec.DockerSwarmSDConfigs) > 0},
		{"puppetDBSDConfigs", len(spec.PuppetDBSDConfigs) > 0},
		{"lightSailSDConfigs", len(spec.LightSailSDConfigs) > 0},
		{"ovhcloudSDConfigs", len(spec.OVHCloudSDConfigs) > 0},
		{"scalewaySDConfigs", len(spec.ScalewaySDConfigs) > 0},
		{"ionosSDConfigs", len(spec.IonosSDConfigs) > 0},
		{"scrapeClass", spec.ScrapeClassName != nil},
		{"bodySizeLimit", spec.BodySizeLimit != nil},
		{"extraScrapeMetrics", hasJSONField(spec, "extraScrapeMetrics")},
		{"nameValidationScheme", spec.NameValidationScheme != nil},
		{"nameEscapingScheme", spec.NameEscapingScheme != nil},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// ScrapeConfig returns the job of sc, or the error that makes sc invalid for Vigil. Its
// targets come from the job's own service discoveries, not the shared one.
func (g *Generator) ScrapeConfig(sc *monitoringv1alpha1.ScrapeConfig) (Job, error) {
	if bad := unsupportedScrapeConfigFields(&sc.Spec); len(bad) > 0 {
		return Job{}, fmt.Errorf("not supported by Vigil: %s", strings.Join(bad, ", "))
	}
	s := store{ns: sc.Namespace, s: g.Secrets, errs: &errorCollector{}}
	cfg := g.scrapeConfigJob(sc, s)
	if s.errs.err != nil {
		return Job{}, s.errs.err
	}
	return cfg, nil
}

func (g *Generator) scrapeConfigJob(sc *monitoringv1alpha1.ScrapeConfig, s store) Job {
	spec := &sc.Spec
	jobName := ScrapeConfigJobName(sc.Namespace, sc.Name)
	cfg := yaml.MapSlice{{Key: "job_name", Value: jobName}}
	relabelings := initRelabelings()
	if spec.JobName != nil {
		relabelings = append(relabelings, yaml.MapSlice{
			{Key: "target_label", Value: "job"},
			{Key: "action", Value: "replace"},
			{Key: "replacement", Value: spec.JobName},
		})
	}
	cfg = addHonorTimestamps(cfg, spec.HonorTimestamps)
	cfg = addTrackTimestampsStaleness(cfg, spec.TrackTimestampsStaleness)
	if spec.HonorLabels != nil {
		cfg = addHonorLabels(cfg, *spec.HonorLabels)
	}
	if spec.MetricsPath != nil {
		cfg = append(cfg, yaml.MapItem{Key: "metrics_path", Value: *spec.MetricsPath})
	}
	if len(spec.Params) > 0 {
		cfg = append(cfg, yaml.MapItem{Key: "params", Value: stringMapToMapSlice(spec.Params)})
	}
	if spec.EnableCompression != nil {
		cfg = append(cfg, yaml.MapItem{Key: "enable_compression", Value: *spec.EnableCompression})
	}
	if spec.EnableHTTP2 != nil {
		cfg = append(cfg, yaml.MapItem{Key: "enable_http2", Value: *spec.EnableHTTP2})
	}
	if spec.ScrapeInterval != nil {
		cfg = append(cfg, yaml.MapItem{Key: "scrape_interval", Value: *spec.ScrapeInterval})
	}
	if spec.ScrapeTimeout != nil {
		cfg = append(cfg, yaml.MapItem{Key: "scrape_timeout", Value: *spec.ScrapeTimeout})
	}
	cfg = addScrapeProtocols(cfg, spec.ScrapeProtocols)
	cfg = addFallbackScrapeProtocol(cfg, spec.FallbackScrapeProtocol)
	if spec.Scheme != nil {
		cfg = append(cfg, yaml.MapItem{Key: "scheme", Value: spec.Scheme.String()})
	}
	cfg = addProxyConfigtoYaml(cfg, s, spec.ProxyConfig)
	cfg = addBasicAuthToYaml(cfg, s, spec.BasicAuth)
	cfg = addSafeAuthorizationToYaml(cfg, s, spec.Authorization)
	cfg = addOAuth2ToYaml(cfg, s, spec.OAuth2)
	cfg = addSafeTLStoYaml(cfg, s, spec.TLSConfig)
	cfg = addLimits(cfg, spec.SampleLimit, spec.TargetLimit, spec.LabelLimit, spec.LabelNameLengthLimit, spec.LabelValueLengthLimit, spec.KeepDroppedTargets)
	cfg = addNativeHistogramConfig(cfg, spec.NativeHistogramConfig)

	if len(spec.StaticConfigs) > 0 {
		configs := make([]yaml.MapSlice, len(spec.StaticConfigs))
		for i, c := range spec.StaticConfigs {
			configs[i] = yaml.MapSlice{{Key: "targets", Value: c.Targets}, {Key: "labels", Value: c.Labels}}
		}
		cfg = append(cfg, yaml.MapItem{Key: "static_configs", Value: configs})
	}
	if len(spec.FileSDConfigs) > 0 {
		configs := make([]yaml.MapSlice, len(spec.FileSDConfigs))
		for i, c := range spec.FileSDConfigs {
			configs[i] = yaml.MapSlice{{Key: "files", Value: c.Files}}
			if c.RefreshInterval != nil {
				configs[i] = append(configs[i], yaml.MapItem{Key: "refresh_interval", Value: c.RefreshInterval})
			}
		}
		cfg = append(cfg, yaml.MapItem{Key: "file_sd_configs", Value: configs})
	}
	if len(spec.HTTPSDConfigs) > 0 {
		configs := make([]yaml.MapSlice, len(spec.HTTPSDConfigs))
		for i, c := range spec.HTTPSDConfigs {
			configs[i] = addBasicAuthToYaml(configs[i], s, c.BasicAuth)
			configs[i] = addSafeAuthorizationToYaml(configs[i], s, c.Authorization)
			configs[i] = addSafeTLStoYaml(configs[i], s, c.TLSConfig)
			configs[i] = addProxyConfigtoYaml(configs[i], s, c.ProxyConfig)
			configs[i] = addOAuth2ToYaml(configs[i], s, c.OAuth2)
			configs[i] = append(configs[i], yaml.MapItem{Key: "url", Value: c.URL})
			if c.RefreshInterval != nil {
				configs[i] = append(configs[i], yaml.MapItem{Key: "refresh_interval", Value: c.RefreshInterval})
			}
			if c.FollowRedirects != nil {
				configs[i] = append(configs[i], yaml.MapItem{Key: "follow_redirects", Value: c.FollowRedirects})
			}
			if c.EnableHTTP2 != nil {
				configs[i] = append(configs[i], yaml.MapItem{Key: "enable_http2", Value: c.EnableHTTP2})
			}
		}
		cfg = append(cfg, yaml.MapItem{Key: "http_sd_configs", Value: configs})
	}
	if len(spec.KubernetesSDConfigs) > 0 {
		configs := make([]yaml.MapSlice, len(spec.KubernetesSDConfigs))
		for i, c := range spec.KubernetesSDConfigs {
			if c.APIServer != nil {
				configs[i] = yaml.MapSlice{{Key: "api_server", Value: c.APIServer}}
			}
			configs[i] = append(configs[i], yaml.MapItem{Key: "role", Value: strings.ToLower(string(c.Role))})
			configs[i] = addBasicAuthToYaml(configs[i], s, c.BasicAuth)
			configs[i] = addSafeAuthorizationToYaml(configs[i], s, c.Authorization)
			configs[i] = addOAuth2ToYaml(configs[i], s, c.OAuth2)
			configs[i] = addProxyConfigtoYaml(configs[i], s, c.ProxyConfig)
			if c.FollowRedirects != nil {
				configs[i] = append(configs[i], yaml.MapItem{Key: "follow_redirects", Value: c.FollowRedirects})
			}
			if c.EnableHTTP2 != nil {
				configs[i] = append(configs[i], yaml.MapItem{Key: "enable_http2", Value: c.EnableHTTP2})
			}
			configs[i] = addSafeTLStoYaml(configs[i], s, c.TLSConfig)
			if c.Namespaces != nil {
				ns := yaml.MapSlice{{Key: "names", Value: c.Namespaces.Names}}
				if c.Namespaces.IncludeOwnNamespace != nil {
					ns = append(ns, yaml.MapItem{Key: "own_namespace", Value: c.Namespaces.IncludeOwnNamespace})
				}
				configs[i] = append(configs[i], yaml.MapItem{Key: "namespaces", Value: ns})
			}
			if len(c.Selectors) > 0 {
				sels := make([]yaml.MapSlice, len(c.Selectors))
				for j, sel := range c.Selectors {
					sels[j] = yaml.MapSlice{{Key: "role", Value: strings.ToLower(string(sel.Role))}}
					if sel.Label != nil {
						sels[j] = append(sels[j], yaml.MapItem{Key: "label", Value: *sel.Label})
					}
					if sel.Field != nil {
						sels[j] = append(sels[j], yaml.MapItem{Key: "field", Value: *sel.Field})
					}
				}
				configs[i] = append(configs[i], yaml.MapItem{Key: "selectors", Value: sels})
			}
			if c.AttachMetadata != nil {
				switch strings.ToLower(string(c.Role)) {
				case "pod", "endpoints", "endpointslice":
					configs[i] = append(configs[i], yaml.MapItem{Key: "attach_metadata", Value: c.AttachMetadata})
				}
			}
		}
		cfg = append(cfg, yaml.MapItem{Key: "kubernetes_sd_configs", Value: configs})
	}
	if len(spec.RelabelConfigs) > 0 {
		relabelings = append(relabelings, generateRelabelConfig(spec.RelabelConfigs)...)
	}
	cfg = append(cfg, yaml.MapItem{Key: "relabel_configs", Value: relabelings})
	if len(spec.MetricRelabelConfigs) > 0 {
		cfg = append(cfg, yaml.MapItem{Key: "metric_relabel_configs", Value: generateRelabelConfig(spec.MetricRelabelConfigs)})
	}
	return Job{Name: jobName, Config: cfg}
}

// stringMapToMapSlice returns m with its keys sorted.
func stringMapToMapSlice[V any](m map[string]V) yaml.MapSlice {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	res := yaml.MapSlice{}
	for _, k := range keys {
		res = append(res, yaml.MapItem{Key: k, Value: m[k]})
	}
	return res
}

// hasJSONField reports whether v, as JSON, has the top-level field name: for fields of the v0.95
// API types, so that this package also builds with the v0.93 ones (the oracle module's).
func hasJSONField(v any, name string) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(b, &fields) != nil {
		return false
	}
	_, ok := fields[name]
	return ok
}
