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
// Modified by Vigil: ported from github.com/prometheus/prometheus config/config.go (v0.315.0).
// The fields Vigil does not implement are decoded and refused by name.

package config

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/sigv4"
	"go.yaml.in/yaml/v2"
)

// Remote-write defaults, Prometheus's.
var (
	DefaultRemoteWriteHTTPClientConfig = commoncfg.HTTPClientConfig{
		FollowRedirects: true,
		EnableHTTP2:     false,
	}

	DefaultRemoteWriteConfig = RemoteWriteConfig{
		RemoteTimeout:    model.Duration(30 * time.Second),
		ProtobufMessage:  remoteapi.WriteV1MessageType,
		QueueConfig:      DefaultQueueConfig,
		MetadataConfig:   DefaultMetadataConfig,
		HTTPClientConfig: DefaultRemoteWriteHTTPClientConfig,
	}

	DefaultQueueConfig = QueueConfig{
		MaxShards:         50,
		MinShards:         1,
		MaxSamplesPerSend: 2000,
		Capacity:          10000,
		BatchSendDeadline: model.Duration(5 * time.Second),
		MinBackoff:        model.Duration(30 * time.Millisecond),
		MaxBackoff:        model.Duration(5 * time.Second),
	}

	DefaultMetadataConfig = MetadataConfig{
		Send:              true,
		SendInterval:      model.Duration(1 * time.Minute),
		MaxSamplesPerSend: 2000,
	}
)

// RemoteWriteConfig is one entry of remote_write: where and how to send samples.
type RemoteWriteConfig struct {
	URL                  *commoncfg.URL    `yaml:"url"`
	RemoteTimeout        model.Duration    `yaml:"remote_timeout,omitempty"`
	Headers              map[string]string `yaml:"headers,omitempty"`
	WriteRelabelConfigs  []*relabel.Config `yaml:"write_relabel_configs,omitempty"`
	Name                 string            `yaml:"name,omitempty"`
	SendExemplars        bool              `yaml:"send_exemplars,omitempty"`
	SendNativeHistograms bool              `yaml:"send_native_histograms,omitempty"`
	RoundRobinDNS        bool              `yaml:"round_robin_dns,omitempty"`
	// ProtobufMessage is prometheus.WriteRequest (1.0) or io.prometheus.write.v2.Request (2.0).
	ProtobufMessage      remoteapi.WriteMessageType `yaml:"protobuf_message,omitempty"`
	FailedRequestLogging bool                       `yaml:"failed_request_logging,omitempty"`

	HTTPClientConfig commoncfg.HTTPClientConfig `yaml:",inline"`
	QueueConfig      QueueConfig                `yaml:"queue_config,omitempty"`
	MetadataConfig   MetadataConfig             `yaml:"metadata_config,omitempty"`
	SigV4Config      *sigv4.SigV4Config         `yaml:"sigv4,omitempty"`
	// AzureADConfig and GoogleIAMConfig are decoded only to be refused by name: their upstream
	// packages would add the Azure and Google SDKs to the binary.
	AzureADConfig   any `yaml:"azuread,omitempty"`
	GoogleIAMConfig any `yaml:"google_iam,omitempty"`
}

// SetDirectory joins relative file paths with dir.
func (c *RemoteWriteConfig) SetDirectory(dir string) {
	c.HTTPClientConfig.SetDirectory(dir)
}

// reservedHeaders are the headers remote write sets itself (Prometheus's list).
var reservedHeaders = map[string]struct{}{
	"host":                              {},
	"content-encoding":                  {},
	"content-length":                    {},
	"content-type":                      {},
	"user-agent":                        {},
	"connection":                        {},
	"keep-alive":                        {},
	"proxy-authenticate":                {},
	"proxy-authorization":               {},
	"www-authenticate":                  {},
	"accept-encoding":                   {},
	"x-prometheus-remote-write-version": {},
	"x-prometheus-remote-read-version":  {},
	"x-amz-date":                        {},
	"x-amz-security-token":              {},
	"x-amz-content-sha256":              {},
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *RemoteWriteConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = DefaultRemoteWriteConfig
	type plain RemoteWriteConfig
	if err := unmarshal((*plain)(c)); err != nil {
		return err
	}
	if c.URL == nil {
		return errors.New("url for remote_write is empty")
	}
	for _, rlcfg := range c.WriteRelabelConfigs {
		if rlcfg == nil {
			return errors.New("empty or null relabeling rule in remote write config")
		}
	}
	for header := range c.Headers {
		if strings.ToLower(header) == "authorization" {
			return errors.New("authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter")
		}
		if _, ok := reservedHeaders[strings.ToLower(header)]; ok {
			return fmt.Errorf("%s is a reserved header. It must not be changed", header)
		}
	}
	if err := c.ProtobufMessage.Validate(); err != nil {
		return fmt.Errorf("invalid protobuf_message value: %w", err)
	}
	// HTTPClientConfig is inlined, so its own UnmarshalYAML does not run.
	if err := c.HTTPClientConfig.Validate(); err != nil {
		return err
	}
	if err := c.QueueConfig.Validate(); err != nil {
		return err
	}
	var auth []string
	if c.HTTPClientConfig.BasicAuth != nil {
		auth = append(auth, "basic_auth")
	}
	if c.HTTPClientConfig.Authorization != nil {
		auth = append(auth, "authorization")
	}
	if c.HTTPClientConfig.OAuth2 != nil {
		auth = append(auth, "oauth2")
	}
	if c.SigV4Config != nil {
		auth = append(auth, "sigv4")
	}
	if c.AzureADConfig != nil {
		auth = append(auth, "azuread")
	}
	if c.GoogleIAMConfig != nil {
		auth = append(auth, "google_iam")
	}
	if len(auth) > 1 {
		return fmt.Errorf("at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured. Currently configured: %v", auth)
	}
	return c.refuseUnsupported()
}

// refuseUnsupported names the remote_write settings Vigil accepts from Prometheus's language but
// does not implement.
func (c *RemoteWriteConfig) refuseUnsupported() error {
	switch {
	case c.AzureADConfig != nil:
		return errors.New("remote_write: azuread is not supported by Vigil (use oauth2, authorization or basic_auth)")
	case c.GoogleIAMConfig != nil:
		return errors.New("remote_write: google_iam is not supported by Vigil (use oauth2 or authorization)")
	case c.SendExemplars:
		return errors.New("remote_write: send_exemplars is not supported by Vigil: its storage holds no exemplars")
	case c.RoundRobinDNS:
		return errors.New("remote_write: round_robin_dns is not supported by Vigil")
	}
	return nil
}

// Validate checks the relabel rules against the name validation scheme.
func (c *RemoteWriteConfig) Validate() error {
	for _, rc := range c.WriteRelabelConfigs {
		if err := rc.Validate(NameValidationScheme); err != nil {
			return err
		}
	}
	return nil
}

// Hash identifies the configuration as Prometheus does (md5 of its YAML): a reload keeps a
// queue whose hash is unchanged, and a queue without a name is named by the first 6 hex digits.
func (c *RemoteWriteConfig) Hash() (string, error) {
	b, err := yaml.Marshal(c)
	if err != nil {
		return "", err
	}
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:]), nil
}

// QueueConfig is the configuration of a remote-write queue.
type QueueConfig struct {
	// Samples buffered per shard before reading the WAL waits.
	Capacity          int            `yaml:"capacity,omitempty"`
	MaxShards         int            `yaml:"max_shards,omitempty"`
	MinShards         int            `yaml:"min_shards,omitempty"`
	MaxSamplesPerSend int            `yaml:"max_samples_per_send,omitempty"`
	BatchSendDeadline model.Duration `yaml:"batch_send_deadline,omitempty"`
	MinBackoff        model.Duration `yaml:"min_backoff,omitempty"`
	MaxBackoff        model.Duration `yaml:"max_backoff,omitempty"`
	RetryOnRateLimit  bool           `yaml:"retry_on_http_429,omitempty"`
	// SampleAgeLimit: samples older than this when sent are dropped (0: no limit).
	SampleAgeLimit model.Duration `yaml:"sample_age_limit,omitempty"`
}

// Validate checks QueueConfig fields for invalid values.
func (c *QueueConfig) Validate() error {
	if c.MaxShards <= 0 {
		return errors.New("remote write queue max_shards must be positive")
	}
	if c.MinShards <= 0 {
		return errors.New("remote write queue min_shards must be positive")
	}
	if c.MinShards > c.MaxShards {
		return errors.New("remote write queue min_shards must not be greater than max_shards")
	}
	if c.MaxSamplesPerSend <= 0 {
		return errors.New("remote write queue max_samples_per_send must be positive")
	}
	if c.Capacity <= 0 {
		return errors.New("remote write queue capacity must be positive")
	}
	if c.MaxBackoff < c.MinBackoff {
		return errors.New("remote write queue max_backoff must not be less than min_backoff")
	}
	return nil
}

// MetadataConfig is the configuration for sending metric metadata (TYPE, HELP, UNIT).
type MetadataConfig struct {
	Send              bool           `yaml:"send"`
	SendInterval      model.Duration `yaml:"send_interval"`
	MaxSamplesPerSend int            `yaml:"max_samples_per_send,omitempty"`
}
