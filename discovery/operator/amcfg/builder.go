// Package amcfg converts AlertmanagerConfig resources into alertmanager.yml parts exactly as the
// Prometheus Operator's pkg/alertmanager does (ported from v0.88.0, see UPSTREAM): receivers of
// every type, with credentials read from Secrets, routes, inhibit rules and time intervals,
// with the operator's default OnNamespace matcher strategy.
package amcfg

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/blang/semver/v4"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	"go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/types"
)

// AlertmanagerVersion is the Alertmanager version the conversion targets: the one whose
// configuration and notifiers Vigil uses (github.com/prometheus/alertmanager in go.mod).
var AlertmanagerVersion = semver.MustParse("0.34.2")

// ConfigBuilder is the operator's ConfigBuilder for one AlertmanagerConfig at a time.
type ConfigBuilder struct {
	cfg       *alertmanagerConfig
	logger    *slog.Logger
	amVersion semver.Version
	store     *StoreBuilder
	enforcer  enforcer
	err       error
}

func (cb *ConfigBuilder) addErr(err error) {
	if cb.err == nil {
		cb.err = err
	}
}

// Global is what the conversion needs of alertmanager.yml's global section. Nil: not known
// (the checks that need it are left to the loading of the merged alertmanager.yml).
type Global struct {
	SMTPSmarthost, SMTPFrom string
}

// Parts is what one AlertmanagerConfig adds to alertmanager.yml, each part as YAML documents:
// the route to put first under the root route, receivers, inhibit rules and (mute) time
// intervals.
type Parts struct {
	Route         yaml.MapSlice
	Receivers     []yaml.MapSlice
	InhibitRules  []yaml.MapSlice
	TimeIntervals []yaml.MapSlice
}

// Convert checks and converts amc as the operator does: checkAlertmanagerConfigResource, then
// the ConfigBuilder's AddAlertmanagerConfigs for this one object and sanitize.
func Convert(amc *monitoringv1alpha1.AlertmanagerConfig, secrets Secrets, global *Global, logger *slog.Logger) (*Parts, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx := context.Background()
	store := NewStoreBuilder(secrets)
	if err := unsupportedFields(amc); err != nil {
		return nil, err
	}
	if err := checkAlertmanagerConfigResource(ctx, amc, AlertmanagerVersion, store); err != nil {
		return nil, err
	}
	cb := &ConfigBuilder{
		cfg:       &alertmanagerConfig{},
		logger:    logger,
		amVersion: AlertmanagerVersion,
		store:     store,
		enforcer:  &continueToNextRoute{e: &namespaceEnforcer{matchersV2Allowed: true}},
	}
	if global != nil {
		cb.cfg.Global = &globalConfig{SMTPFrom: global.SMTPFrom}
		cb.cfg.Global.SMTPSmarthost.Host = global.SMTPSmarthost
	}
	crKey := types.NamespacedName{Name: amc.Name, Namespace: amc.Namespace}
	cfg := cb.cfg

	// AddAlertmanagerConfigs, for one object.
	for _, ir := range amc.Spec.InhibitRules {
		cfg.InhibitRules = append(cfg.InhibitRules, cb.enforcer.processInhibitRule(crKey, cb.convertInhibitRule(&ir)))
	}
	if amc.Spec.Route != nil {
		cfg.Route = cb.enforcer.processRoute(crKey, cb.convertRoute(amc.Spec.Route, crKey))
		for _, r := range amc.Spec.Receivers {
			rcv, err := cb.convertReceiver(ctx, &r, crKey)
			if err != nil {
				return nil, fmt.Errorf("AlertmanagerConfig %s: %w", crKey.String(), err)
			}
			cfg.Receivers = append(cfg.Receivers, rcv)
		}
		for _, mti := range amc.Spec.MuteTimeIntervals {
			ti, err := convertMuteTimeInterval(&mti, crKey)
			if err != nil {
				return nil, fmt.Errorf("AlertmanagerConfig %s: %w", crKey.String(), err)
			}
			cfg.MuteTimeIntervals = append(cfg.MuteTimeIntervals, ti)
		}
	}
	if cb.err != nil {
		return nil, fmt.Errorf("AlertmanagerConfig %s: %w", crKey.String(), cb.err)
	}
	if err := cfg.sanitize(cb.amVersion, cb.logger); err != nil {
		return nil, fmt.Errorf("AlertmanagerConfig %s: %w", crKey.String(), err)
	}

	parts := &Parts{}
	var err error
	if cfg.Route != nil {
		if parts.Route, err = toMapSlice(cfg.Route); err != nil {
			return nil, err
		}
	}
	for _, r := range cfg.Receivers {
		m, err := toMapSlice(r)
		if err != nil {
			return nil, err
		}
		parts.Receivers = append(parts.Receivers, m)
	}
	for _, r := range cfg.InhibitRules {
		m, err := toMapSlice(r)
		if err != nil {
			return nil, err
		}
		parts.InhibitRules = append(parts.InhibitRules, m)
	}
	for _, r := range cfg.MuteTimeIntervals {
		m, err := toMapSlice(r)
		if err != nil {
			return nil, err
		}
		parts.TimeIntervals = append(parts.TimeIntervals, m)
	}
	return parts, nil
}

func toMapSlice(v any) (yaml.MapSlice, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m yaml.MapSlice
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// unsupportedFields rejects what the API types have and the ported conversion (v0.93.1) does not
// read, naming the field, instead of dropping it silently. It looks at the route as JSON, so
// that this package also builds with the v0.93 API types (the oracle module's).
func unsupportedFields(amc *monitoringv1alpha1.AlertmanagerConfig) error {
	if amc.Spec.Route == nil {
		return nil
	}
	b, err := json.Marshal(amc.Spec.Route)
	if err != nil {
		return err
	}
	var route map[string]any
	if err := json.Unmarshal(b, &route); err != nil {
		return err
	}
	var walk func(r map[string]any, path string) error
	walk = func(r map[string]any, path string) error {
		if _, ok := r["labels"]; ok {
			return fmt.Errorf("%s.labels is not supported by Vigil", path)
		}
		children, _ := r["routes"].([]any)
		for i, c := range children {
			if m, ok := c.(map[string]any); ok {
				if err := walk(m, fmt.Sprintf("%s.routes[%d]", path, i)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(route, "spec.route")
}
