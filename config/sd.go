// Copyright The Prometheus Authors
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// Modified by Vigil: validation ported from github.com/prometheus/prometheus discovery/{file,http,kubernetes} (v0.315.0).

package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	k8sfields "k8s.io/apimachinery/pkg/fields"
	k8slabels "k8s.io/apimachinery/pkg/labels"
)

// ServiceDiscoveryConfigs are the discovery mechanisms Vigil implements. They are inlined into
// scrape and alertmanager configs under Prometheus's key names; any other *_sd_configs key is an
// unknown-field error.
type ServiceDiscoveryConfigs struct {
	StaticConfigs       []*TargetGroup        `yaml:"static_configs,omitempty"`
	FileSDConfigs       []*FileSDConfig       `yaml:"file_sd_configs,omitempty"`
	HTTPSDConfigs       []*HTTPSDConfig       `yaml:"http_sd_configs,omitempty"`
	KubernetesSDConfigs []*KubernetesSDConfig `yaml:"kubernetes_sd_configs,omitempty"`
}

// checkNull rejects an empty list entry ("static_configs: [null]", or a bare "-"), which would
// otherwise decode to a nil pointer; the message is Prometheus's.
func (c *ServiceDiscoveryConfigs) checkNull() error {
	null := func(key string, n int, isNil func(int) bool) error {
		for i := range n {
			if isNil(i) {
				return fmt.Errorf("empty or null section in %s", key)
			}
		}
		return nil
	}
	return errors.Join(
		null("static_configs", len(c.StaticConfigs), func(i int) bool { return c.StaticConfigs[i] == nil }),
		null("file_sd_configs", len(c.FileSDConfigs), func(i int) bool { return c.FileSDConfigs[i] == nil }),
		null("http_sd_configs", len(c.HTTPSDConfigs), func(i int) bool { return c.HTTPSDConfigs[i] == nil }),
		null("kubernetes_sd_configs", len(c.KubernetesSDConfigs), func(i int) bool { return c.KubernetesSDConfigs[i] == nil }),
	)
}

// SetDirectory joins relative file paths with dir.
func (c *ServiceDiscoveryConfigs) SetDirectory(dir string) {
	for _, f := range c.FileSDConfigs {
		for i, name := range f.Files {
			f.Files[i] = commoncfg.JoinDir(dir, name)
		}
	}
	for _, h := range c.HTTPSDConfigs {
		h.HTTPClientConfig.SetDirectory(dir)
	}
	for _, k := range c.KubernetesSDConfigs {
		k.HTTPClientConfig.SetDirectory(dir)
		k.KubeConfig = commoncfg.JoinDir(dir, k.KubeConfig)
	}
}

// TargetGroup is a set of targets sharing labels: a static_configs entry, one entry of a file_sd
// or http_sd document, or what a discoverer produces. Source identifies the group within its
// discoverer so that later updates replace it.
type TargetGroup struct {
	// Targets holds one label set per target; each has at least __address__.
	Targets []model.LabelSet
	// Labels apply to every target unless the target sets the label itself.
	Labels model.LabelSet
	// Source is unique per discoverer (e.g. the file name and index).
	Source string
}

func (tg TargetGroup) String() string { return tg.Source }

// UnmarshalYAML implements yaml.Unmarshaler.
func (tg *TargetGroup) UnmarshalYAML(unmarshal func(any) error) error {
	g := struct {
		Targets []string       `yaml:"targets"`
		Labels  model.LabelSet `yaml:"labels"`
	}{}
	if err := unmarshal(&g); err != nil {
		return err
	}
	tg.Targets = make([]model.LabelSet, 0, len(g.Targets))
	for _, t := range g.Targets {
		tg.Targets = append(tg.Targets, model.LabelSet{model.AddressLabel: model.LabelValue(t)})
	}
	tg.Labels = g.Labels
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (tg TargetGroup) MarshalYAML() (any, error) {
	g := &struct {
		Targets []string       `yaml:"targets"`
		Labels  model.LabelSet `yaml:"labels,omitempty"`
	}{Targets: make([]string, 0, len(tg.Targets)), Labels: tg.Labels}
	for _, t := range tg.Targets {
		g.Targets = append(g.Targets, string(t[model.AddressLabel]))
	}
	return g, nil
}

// UnmarshalJSON implements json.Unmarshaler (file_sd JSON and http_sd documents). Unknown fields
// are rejected, as Prometheus does.
func (tg *TargetGroup) UnmarshalJSON(b []byte) error {
	g := struct {
		Targets []string       `json:"targets"`
		Labels  model.LabelSet `json:"labels"`
	}{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return err
	}
	tg.Targets = make([]model.LabelSet, 0, len(g.Targets))
	for _, t := range g.Targets {
		tg.Targets = append(tg.Targets, model.LabelSet{model.AddressLabel: model.LabelValue(t)})
	}
	tg.Labels = g.Labels
	return nil
}

// MarshalJSON implements json.Marshaler.
func (tg TargetGroup) MarshalJSON() ([]byte, error) {
	g := struct {
		Targets []string       `json:"targets"`
		Labels  model.LabelSet `json:"labels,omitempty"`
	}{Targets: make([]string, 0, len(tg.Targets)), Labels: tg.Labels}
	for _, t := range tg.Targets {
		g.Targets = append(g.Targets, string(t[model.AddressLabel]))
	}
	return json.Marshal(g)
}

var patFileSDName = regexp.MustCompile(`^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`)

// FileSDConfig is file_sd_configs: target groups read from YAML or JSON files, watched for
// changes and re-read every refresh_interval.
type FileSDConfig struct {
	Files           []string       `yaml:"files"`
	RefreshInterval model.Duration `yaml:"refresh_interval,omitempty"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *FileSDConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = FileSDConfig{RefreshInterval: model.Duration(5 * time.Minute)}
	type plain FileSDConfig
	if err := unmarshal((*plain)(c)); err != nil {
		return err
	}
	if len(c.Files) == 0 {
		return errors.New("file service discovery config must contain at least one path name")
	}
	for _, name := range c.Files {
		if !patFileSDName.MatchString(name) {
			return fmt.Errorf("path name %q is not valid for file discovery", name)
		}
	}
	return nil
}

// HTTPSDConfig is http_sd_configs: target groups fetched as JSON from a URL.
type HTTPSDConfig struct {
	HTTPClientConfig commoncfg.HTTPClientConfig `yaml:",inline"`
	RefreshInterval  model.Duration             `yaml:"refresh_interval,omitempty"`
	URL              string                     `yaml:"url"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *HTTPSDConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = HTTPSDConfig{HTTPClientConfig: commoncfg.DefaultHTTPClientConfig, RefreshInterval: model.Duration(60 * time.Second)}
	type plain HTTPSDConfig
	if err := unmarshal((*plain)(c)); err != nil {
		return err
	}
	if c.URL == "" {
		return errors.New("URL is missing")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("URL scheme must be 'http' or 'https'")
	}
	if u.Host == "" {
		return errors.New("host is missing in URL")
	}
	return c.HTTPClientConfig.Validate()
}

// KubernetesRole is the kind of object kubernetes_sd discovers.
type KubernetesRole string

// The roles Prometheus supports.
const (
	KubernetesRoleNode          KubernetesRole = "node"
	KubernetesRolePod           KubernetesRole = "pod"
	KubernetesRoleService       KubernetesRole = "service"
	KubernetesRoleEndpoint      KubernetesRole = "endpoints"
	KubernetesRoleEndpointSlice KubernetesRole = "endpointslice"
	KubernetesRoleIngress       KubernetesRole = "ingress"
)

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *KubernetesRole) UnmarshalYAML(unmarshal func(any) error) error {
	if err := unmarshal((*string)(r)); err != nil {
		return err
	}
	switch *r {
	case KubernetesRoleNode, KubernetesRolePod, KubernetesRoleService, KubernetesRoleEndpoint,
		KubernetesRoleEndpointSlice, KubernetesRoleIngress:
		return nil
	default:
		return fmt.Errorf("unknown Kubernetes SD role %q", *r)
	}
}

// KubernetesSDConfig is kubernetes_sd_configs.
type KubernetesSDConfig struct {
	APIServer          commoncfg.URL              `yaml:"api_server,omitempty"`
	Role               KubernetesRole             `yaml:"role"`
	KubeConfig         string                     `yaml:"kubeconfig_file"`
	HTTPClientConfig   commoncfg.HTTPClientConfig `yaml:",inline"`
	NamespaceDiscovery KubernetesNamespaces       `yaml:"namespaces,omitempty"`
	Selectors          []KubernetesSelector       `yaml:"selectors,omitempty"`
	AttachMetadata     KubernetesAttachMetadata   `yaml:"attach_metadata,omitempty"`
}

// KubernetesNamespaces restricts discovery to namespaces; empty means all.
type KubernetesNamespaces struct {
	IncludeOwnNamespace bool     `yaml:"own_namespace"`
	Names               []string `yaml:"names"`
}

// KubernetesSelector is a label and/or field selector applied to one role's watch.
type KubernetesSelector struct {
	Role  KubernetesRole `yaml:"role,omitempty"`
	Label string         `yaml:"label,omitempty"`
	Field string         `yaml:"field,omitempty"`
}

// KubernetesAttachMetadata adds metadata of related objects (node, namespace, owning
// deployment, job or cronjob) to pod-based targets.
type KubernetesAttachMetadata struct {
	Node       bool `yaml:"node"`
	Namespace  bool `yaml:"namespace"`
	Deployment bool `yaml:"deployment"`
	Job        bool `yaml:"job"`
	CronJob    bool `yaml:"cronjob"`
}

// UnmarshalYAML implements yaml.Unmarshaler with Prometheus's checks and messages.
func (c *KubernetesSDConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = KubernetesSDConfig{HTTPClientConfig: commoncfg.DefaultHTTPClientConfig}
	type plain KubernetesSDConfig
	if err := unmarshal((*plain)(c)); err != nil {
		return err
	}
	if c.Role == "" {
		return errors.New("role missing (one of: pod, service, endpoints, endpointslice, node, ingress)")
	}
	if err := c.HTTPClientConfig.Validate(); err != nil {
		return err
	}
	if c.APIServer.URL != nil && c.KubeConfig != "" {
		return errors.New("cannot use 'kubeconfig_file' and 'api_server' simultaneously")
	}
	if c.KubeConfig != "" && !reflect.DeepEqual(c.HTTPClientConfig, commoncfg.DefaultHTTPClientConfig) {
		return errors.New("cannot use a custom HTTP client configuration together with 'kubeconfig_file'")
	}
	if c.APIServer.URL == nil && !reflect.DeepEqual(c.HTTPClientConfig, commoncfg.DefaultHTTPClientConfig) {
		return errors.New("to use custom HTTP client configuration please provide the 'api_server' URL explicitly")
	}
	if c.APIServer.URL != nil && c.NamespaceDiscovery.IncludeOwnNamespace {
		return errors.New("cannot use 'api_server' and 'namespaces.own_namespace' simultaneously")
	}
	if c.KubeConfig != "" && c.NamespaceDiscovery.IncludeOwnNamespace {
		return errors.New("cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously")
	}
	allowed := map[KubernetesRole][]string{
		KubernetesRolePod:           {"pod", "node"},
		KubernetesRoleService:       {"service"},
		KubernetesRoleEndpointSlice: {"pod", "service", "endpointslice"},
		KubernetesRoleEndpoint:      {"pod", "service", "endpoints"},
		KubernetesRoleNode:          {"node"},
		KubernetesRoleIngress:       {"ingress"},
	}
	found := map[KubernetesRole]struct{}{}
	for _, s := range c.Selectors {
		if _, ok := found[s.Role]; ok {
			return fmt.Errorf("duplicated selector role: %s", s.Role)
		}
		found[s.Role] = struct{}{}
		if !slices.Contains(allowed[c.Role], string(s.Role)) {
			return fmt.Errorf("%s role supports only %s selectors", c.Role, strings.Join(allowed[c.Role], ", "))
		}
		if _, err := k8sfields.ParseSelector(s.Field); err != nil {
			return err
		}
		if _, err := k8slabels.Parse(s.Label); err != nil {
			return err
		}
	}
	return nil
}

func (r KubernetesRole) String() string { return string(r) }
