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
// pkg/operator/rules.go (rule file content and name) and pkg/alertmanager/amcfg.go (route and
// webhook receiver conversion, the namespace matcher and continue: true on each
// AlertmanagerConfig's top route) — the AlertmanagerConfig conversion is now package amcfg.

package operator

import (
	"fmt"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	amconfig "github.com/prometheus/alertmanager/config"
	"go.yaml.in/yaml/v2"
	"k8s.io/utils/ptr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/vigil-monitoring/vigil/discovery/operator/amcfg"
)

// RuleFileName is the operator's name for a PrometheusRule's file.
func RuleFileName(r *monitoringv1.PrometheusRule) string {
	return fmt.Sprintf("%v-%v-%v.yaml", r.Namespace, r.Name, r.UID)
}

// RuleFileContent renders a PrometheusRule as a Prometheus rule file, as the operator does for
// Prometheus (partial_response_strategy is Thanos's and is dropped; empty durations are left out).
func RuleFileContent(r *monitoringv1.PrometheusRule) ([]byte, error) {
	spec := *r.Spec.DeepCopy()
	for i := range spec.Groups {
		spec.Groups[i].PartialResponseStrategy = ""
		if spec.Groups[i].Interval != nil && *spec.Groups[i].Interval == "" {
			spec.Groups[i].Interval = nil
		}
		for j := range spec.Groups[i].Rules {
			if ptr.Deref(spec.Groups[i].Rules[j].For, "") == "" {
				spec.Groups[i].Rules[j].For = nil
			}
		}
	}
	return sigsyaml.Marshal(spec)
}

// AlertmanagerConfigParts is what one AlertmanagerConfig adds to alertmanager.yml.
type AlertmanagerConfigParts struct {
	Object string // namespace/name
	amcfg.Parts
}

// AlertmanagerConfig converts c as the operator's ConfigBuilder does (package amcfg), with its
// default OnNamespace matcher strategy: the top route and the inhibit rules get
// namespace="<ns>", the top route continue: true, receivers and time intervals are named
// <ns>/<name>/<name>.
func AlertmanagerConfig(c *monitoringv1alpha1.AlertmanagerConfig, secrets Secrets) (*AlertmanagerConfigParts, error) {
	p, err := amcfg.Convert(c, secrets, nil, nil)
	if err != nil {
		return nil, err
	}
	if err := loadsInAlertmanager(p); err != nil {
		return nil, err
	}
	return &AlertmanagerConfigParts{Object: c.Namespace + "/" + c.Name, Parts: *p}, nil
}

// placeholderGlobal stands for what alertmanager.yml's global section may supply to the
// receivers (the real one is used when the parts are merged into it).
var placeholderGlobal = yaml.MapSlice{
	{Key: "smtp_smarthost", Value: "localhost:25"},
	{Key: "smtp_from", Value: "alertmanager@localhost"},
	{Key: "slack_api_url", Value: "http://localhost/placeholder"},
	{Key: "opsgenie_api_key", Value: "placeholder"},
	{Key: "victorops_api_key", Value: "placeholder"},
	{Key: "wechat_api_secret", Value: "placeholder"},
	{Key: "wechat_api_corp_id", Value: "placeholder"},
	{Key: "rocketchat_token_id", Value: "placeholder"},
	{Key: "rocketchat_token", Value: "placeholder"},
}

// loadsInAlertmanager checks the parts with Alertmanager's own configuration loading, so that
// what it refuses rejects the object (Event, metric) instead of failing the merge later.
func loadsInAlertmanager(p *amcfg.Parts) error {
	const root = "__vigil_check"
	rt := yaml.MapSlice{{Key: "receiver", Value: root}}
	if p.Route != nil {
		rt = append(rt, yaml.MapItem{Key: "routes", Value: []yaml.MapSlice{p.Route}})
	}
	doc := yaml.MapSlice{
		{Key: "global", Value: placeholderGlobal},
		{Key: "route", Value: rt},
		{Key: "receivers", Value: append([]yaml.MapSlice{{{Key: "name", Value: root}}}, p.Receivers...)},
	}
	if len(p.InhibitRules) > 0 {
		doc = append(doc, yaml.MapItem{Key: "inhibit_rules", Value: p.InhibitRules})
	}
	if len(p.TimeIntervals) > 0 {
		doc = append(doc, yaml.MapItem{Key: "mute_time_intervals", Value: p.TimeIntervals})
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	if _, err := amconfig.Load(string(b)); err != nil {
		return fmt.Errorf("refused by Alertmanager's configuration: %w", err)
	}
	return nil
}
