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
// AlertmanagerConfig's top route). Changes: only webhook receivers; objects using other
// receivers, inhibit rules or time intervals are rejected with a reason.

package operator

import (
	"fmt"
	"net/url"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	"go.yaml.in/yaml/v2"
	"k8s.io/utils/ptr"
	sigsyaml "sigs.k8s.io/yaml"
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

// makeNamespacedString is the operator's name of an AlertmanagerConfig's receiver or interval.
func makeNamespacedString(in, ns, name string) string {
	if in == "" {
		return ""
	}
	return ns + "/" + name + "/" + in
}

// AlertmanagerConfigParts is what one AlertmanagerConfig adds to alertmanager.yml: a route to
// put first under the root route, and receivers.
type AlertmanagerConfigParts struct {
	Route     yaml.MapSlice
	Receivers []yaml.MapSlice
}

// AlertmanagerConfig converts c as the operator's ConfigBuilder does, with its default
// OnNamespace matcher strategy: the top route gets namespace="<ns>" and continue: true.
func AlertmanagerConfig(c *monitoringv1alpha1.AlertmanagerConfig, secrets Secrets) (*AlertmanagerConfigParts, error) {
	if len(c.Spec.InhibitRules) > 0 {
		return nil, fmt.Errorf("inhibitRules are not supported by Vigil yet")
	}
	if len(c.Spec.MuteTimeIntervals) > 0 {
		return nil, fmt.Errorf("muteTimeIntervals are not supported by Vigil yet")
	}
	if c.Spec.Route == nil {
		return &AlertmanagerConfigParts{}, nil
	}
	rt, err := convertRoute(c.Spec.Route, c.Namespace, c.Name)
	if err != nil {
		return nil, err
	}
	// namespaceEnforcer (matchers v2) then continueToNextRoute.
	ms, _ := lookup(rt, "matchers").([]string)
	ms = append(ms, monitoringv1alpha1.Matcher{Name: "namespace", Value: c.Namespace, MatchType: monitoringv1alpha1.MatchEqual}.String())
	rt = set(rt, "matchers", ms)
	rt = set(rt, "continue", true)

	parts := &AlertmanagerConfigParts{Route: rt}
	s := store{ns: c.Namespace, s: secrets, errs: &errorCollector{}}
	for _, r := range c.Spec.Receivers {
		rcv, err := convertReceiver(r, c.Namespace, c.Name, s)
		if err != nil {
			return nil, fmt.Errorf("receiver %q: %w", r.Name, err)
		}
		parts.Receivers = append(parts.Receivers, rcv)
	}
	if s.errs.err != nil {
		return nil, s.errs.err
	}
	return parts, nil
}

func lookup(m yaml.MapSlice, k string) any {
	for _, it := range m {
		if it.Key == k {
			return it.Value
		}
	}
	return nil
}

func set(m yaml.MapSlice, k string, v any) yaml.MapSlice {
	for i, it := range m {
		if it.Key == k {
			m[i].Value = v
			return m
		}
	}
	return append(m, yaml.MapItem{Key: k, Value: v})
}

func convertRoute(in *monitoringv1alpha1.Route, ns, name string) (yaml.MapSlice, error) {
	if len(in.MuteTimeIntervals) > 0 || len(in.ActiveTimeIntervals) > 0 {
		return nil, fmt.Errorf("route time intervals are not supported by Vigil yet")
	}
	out := yaml.MapSlice{}
	if r := makeNamespacedString(in.Receiver, ns, name); r != "" {
		out = append(out, yaml.MapItem{Key: "receiver", Value: r})
	}
	if len(in.GroupBy) > 0 {
		out = append(out, yaml.MapItem{Key: "group_by", Value: in.GroupBy})
	}
	if in.GroupWait != nil {
		out = append(out, yaml.MapItem{Key: "group_wait", Value: string(*in.GroupWait)})
	}
	if in.GroupInterval != nil {
		out = append(out, yaml.MapItem{Key: "group_interval", Value: string(*in.GroupInterval)})
	}
	if in.RepeatInterval != nil {
		out = append(out, yaml.MapItem{Key: "repeat_interval", Value: string(*in.RepeatInterval)})
	}
	var matchers []string
	for _, m := range in.Matchers {
		if err := m.Validate(); err != nil {
			return nil, err
		}
		switch {
		case m.MatchType != "":
			matchers = append(matchers, m.String())
		case m.Regex:
			matchers = append(matchers, monitoringv1alpha1.Matcher{Name: m.Name, Value: m.Value, MatchType: monitoringv1alpha1.MatchRegexp}.String())
		default:
			matchers = append(matchers, monitoringv1alpha1.Matcher{Name: m.Name, Value: m.Value, MatchType: monitoringv1alpha1.MatchEqual}.String())
		}
	}
	if len(matchers) > 0 {
		out = append(out, yaml.MapItem{Key: "matchers", Value: matchers})
	}
	if in.Continue {
		out = append(out, yaml.MapItem{Key: "continue", Value: true})
	}
	children, err := in.ChildRoutes()
	if err != nil {
		return nil, err
	}
	if len(children) > 0 {
		var routes []yaml.MapSlice
		for i := range children {
			c, err := convertRoute(&children[i], ns, name)
			if err != nil {
				return nil, err
			}
			routes = append(routes, c)
		}
		out = append(out, yaml.MapItem{Key: "routes", Value: routes})
	}
	return out, nil
}

func convertReceiver(in monitoringv1alpha1.Receiver, ns, name string, s store) (yaml.MapSlice, error) {
	switch {
	case len(in.OpsGenieConfigs) > 0, len(in.PagerDutyConfigs) > 0, len(in.DiscordConfigs) > 0,
		len(in.SlackConfigs) > 0, len(in.WeChatConfigs) > 0, len(in.EmailConfigs) > 0,
		len(in.VictorOpsConfigs) > 0, len(in.PushoverConfigs) > 0, len(in.SNSConfigs) > 0,
		len(in.TelegramConfigs) > 0, len(in.WebexConfigs) > 0, len(in.MSTeamsConfigs) > 0:
		return nil, fmt.Errorf("only webhookConfigs are supported by Vigil's AlertmanagerConfig reader yet")
	}
	out := yaml.MapSlice{{Key: "name", Value: makeNamespacedString(in.Name, ns, name)}}
	var hooks []yaml.MapSlice
	for i, w := range in.WebhookConfigs {
		h := yaml.MapSlice{}
		if w.SendResolved != nil {
			h = append(h, yaml.MapItem{Key: "send_resolved", Value: *w.SendResolved})
		}
		var u string
		switch {
		case w.URLSecret != nil:
			u = strings.TrimSpace(s.GetSecretKey(*w.URLSecret))
		case w.URL != nil:
			u = *w.URL
		}
		if _, err := url.Parse(u); err != nil || u == "" {
			return nil, fmt.Errorf("webhookConfigs[%d]: invalid URL %q", i, u)
		}
		h = append(h, yaml.MapItem{Key: "url", Value: u})
		if w.HTTPConfig != nil {
			return nil, fmt.Errorf("webhookConfigs[%d]: httpConfig is not supported by Vigil yet", i)
		}
		if w.MaxAlerts > 0 {
			h = append(h, yaml.MapItem{Key: "max_alerts", Value: w.MaxAlerts})
		}
		if w.Timeout != nil && *w.Timeout != "" {
			h = append(h, yaml.MapItem{Key: "timeout", Value: string(*w.Timeout)})
		}
		hooks = append(hooks, h)
	}
	if len(hooks) > 0 {
		out = append(out, yaml.MapItem{Key: "webhook_configs", Value: hooks})
	}
	return out, nil
}
