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
// Modified by Vigil: parts ported from github.com/prometheus/prometheus config/config.go (v0.315.0).

package config

import (
	"errors"
	"fmt"
	"slices"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
)

// AlertingConfig is the alerting section: where the ruler sends alerts. It is parsed and
// validated here; package notifier discovers the Alertmanagers (with any mechanism of
// ServiceDiscoveryConfigs) and sends to them.
type AlertingConfig struct {
	AlertRelabelConfigs []*relabel.Config     `yaml:"alert_relabel_configs,omitempty"`
	AlertmanagerConfigs []*AlertmanagerConfig `yaml:"alertmanagers,omitempty"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *AlertingConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = AlertingConfig{}
	type plain AlertingConfig
	if err := unmarshal((*plain)(c)); err != nil {
		return err
	}
	for _, rc := range c.AlertRelabelConfigs {
		if rc == nil {
			return errors.New("empty or null alert relabeling rule")
		}
	}
	return nil
}

// Validate checks the relabel rules against the name validation scheme.
func (c *AlertingConfig) Validate() error {
	for _, rc := range c.AlertRelabelConfigs {
		if err := rc.Validate(NameValidationScheme); err != nil {
			return err
		}
	}
	for _, am := range c.AlertmanagerConfigs {
		if am == nil {
			return errors.New("empty or null alertmanager config section")
		}
		for _, rc := range am.AlertRelabelConfigs {
			if err := rc.Validate(NameValidationScheme); err != nil {
				return err
			}
		}
		for _, rc := range am.RelabelConfigs {
			if err := rc.Validate(NameValidationScheme); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetDirectory joins relative file paths with dir.
func (c *AlertingConfig) SetDirectory(dir string) {
	for _, am := range c.AlertmanagerConfigs {
		am.HTTPClientConfig.SetDirectory(dir)
		am.ServiceDiscoveryConfigs.SetDirectory(dir)
	}
}

// AlertmanagerAPIVersion is the Alertmanager API version alerts are posted to; only v2 exists
// in current Alertmanagers.
type AlertmanagerAPIVersion string

// AlertmanagerAPIVersionV2 is github.com/prometheus/alertmanager/api/v2.
const AlertmanagerAPIVersionV2 AlertmanagerAPIVersion = "v2"

var supportedAlertmanagerAPIVersions = []AlertmanagerAPIVersion{AlertmanagerAPIVersionV2}

// UnmarshalYAML implements yaml.Unmarshaler.
func (v *AlertmanagerAPIVersion) UnmarshalYAML(unmarshal func(any) error) error {
	*v = ""
	type plain AlertmanagerAPIVersion
	if err := unmarshal((*plain)(v)); err != nil {
		return err
	}
	if !slices.Contains(supportedAlertmanagerAPIVersions, *v) {
		return fmt.Errorf("expected Alertmanager api version to be one of %v but got %v", supportedAlertmanagerAPIVersions, *v)
	}
	return nil
}

// AlertmanagerConfig is one entry of alerting.alertmanagers.
type AlertmanagerConfig struct {
	HTTPClientConfig        commoncfg.HTTPClientConfig `yaml:",inline"`
	ServiceDiscoveryConfigs `yaml:",inline"`

	Scheme              string                 `yaml:"scheme,omitempty"`
	PathPrefix          string                 `yaml:"path_prefix,omitempty"`
	Timeout             model.Duration         `yaml:"timeout,omitempty"`
	APIVersion          AlertmanagerAPIVersion `yaml:"api_version"`
	RelabelConfigs      []*relabel.Config      `yaml:"relabel_configs,omitempty"`
	AlertRelabelConfigs []*relabel.Config      `yaml:"alert_relabel_configs,omitempty"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *AlertmanagerConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = AlertmanagerConfig{
		Scheme:           "http",
		Timeout:          model.Duration(10 * time.Second),
		APIVersion:       AlertmanagerAPIVersionV2,
		HTTPClientConfig: commoncfg.DefaultHTTPClientConfig,
	}
	type plain AlertmanagerConfig
	if err := unmarshal((*plain)(c)); err != nil {
		return err
	}
	if err := c.HTTPClientConfig.Validate(); err != nil {
		return err
	}
	if err := c.ServiceDiscoveryConfigs.checkNull(); err != nil {
		return err
	}
	if len(c.RelabelConfigs) == 0 {
		for _, tg := range c.StaticConfigs {
			for _, t := range tg.Targets {
				if err := CheckTargetAddress(t[model.AddressLabel]); err != nil {
					return err
				}
			}
		}
	}
	for _, rc := range c.RelabelConfigs {
		if rc == nil {
			return errors.New("empty or null Alertmanager target relabeling rule")
		}
	}
	for _, rc := range c.AlertRelabelConfigs {
		if rc == nil {
			return errors.New("empty or null Alertmanager alert relabeling rule")
		}
	}
	return nil
}
