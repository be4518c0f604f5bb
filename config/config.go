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

// Package config loads and validates prometheus.yml-style configuration files.
//
// The accepted language is Prometheus's own: a file that Prometheus accepts and whose features
// Vigil implements loads unchanged, and a file that Prometheus rejects is rejected here with the
// same message where practical. Decoding is strict: a field Vigil does not know (a typo, or a
// Prometheus feature Vigil does not implement such as remote_read or consul_sd_configs) is an
// error that names the field and its line, never silently ignored.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/units"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"go.yaml.in/yaml/v2"
)

// Secret is a string that marshals as "<secret>", so that /api/v1/status/config never shows
// passwords or tokens. It is the upstream type, so *_file variants and validation match.
type Secret = commoncfg.Secret

// NameValidationScheme is the metric and label name validation Vigil applies (Prometheus 3's
// default, UTF-8).
const NameValidationScheme = model.UTF8Validation

//go:embed default.yml
var defaultConfigYAML string

// DefaultYAML returns the embedded configuration used when no --config.file is given: it scrapes
// Vigil itself on localhost:9090.
func DefaultYAML() string { return defaultConfigYAML }

// Default parses the embedded default configuration.
func Default() (*Config, error) {
	cfg, err := Load(defaultConfigYAML)
	if err != nil {
		return nil, fmt.Errorf("embedded default configuration: %w", err)
	}
	return cfg, nil
}

// Defaults applied before the respective sections are parsed; they are Prometheus's.
var (
	DefaultGlobalConfig = GlobalConfig{
		ScrapeInterval:     model.Duration(1 * time.Minute),
		ScrapeTimeout:      model.Duration(10 * time.Second),
		EvaluationInterval: model.Duration(1 * time.Minute),
	}

	DefaultScrapeConfig = ScrapeConfig{
		MetricsPath:       "/metrics",
		Scheme:            "http",
		HonorTimestamps:   true,
		EnableCompression: true,
		HTTPClientConfig:  commoncfg.DefaultHTTPClientConfig,
	}
)

// Config is the top-level configuration (prometheus.yml).
type Config struct {
	GlobalConfig   GlobalConfig    `yaml:"global"`
	AlertingConfig AlertingConfig  `yaml:"alerting,omitempty"`
	RuleFiles      []string        `yaml:"rule_files,omitempty"`
	ScrapeConfigs  []*ScrapeConfig `yaml:"scrape_configs,omitempty"`
	// ScrapeConfigFiles are globs of files holding more scrape_configs; LoadFile reads them
	// and appends their jobs to ScrapeConfigs.
	ScrapeConfigFiles []string      `yaml:"scrape_config_files,omitempty"`
	Runtime           RuntimeConfig `yaml:"runtime,omitempty"`
	// OTLPConfig is the `otlp` block: how the OTLP receiver translates metrics.
	OTLPConfig OTLPConfig `yaml:"otlp,omitempty"`
	// RemoteWriteConfigs are the remote_write queues (package remote/write sends them).
	RemoteWriteConfigs []*RemoteWriteConfig `yaml:"remote_write,omitempty"`
}

// DefaultGoGC is Prometheus's GC target (since 2.53): less memory for a little more CPU.
const DefaultGoGC = 75

// RuntimeConfig is Prometheus's `runtime` block: process settings applied at start and on
// every reload.
type RuntimeConfig struct {
	// GoGC is the Go garbage collection target percentage (negative: GC off). Absent: the
	// GOGC environment variable if set, else DefaultGoGC, as in Prometheus.
	GoGC int `yaml:"gogc,omitempty"`
	// LogLevel, when set, replaces --log.level.
	LogLevel string `yaml:"log_level,omitempty"`
}

// DefaultRuntimeConfig returns the runtime settings of a file without a runtime block.
func DefaultRuntimeConfig() RuntimeConfig {
	return RuntimeConfig{GoGC: goGCFromEnv()}
}

func goGCFromEnv() int {
	if v := os.Getenv("GOGC"); v != "" {
		if strings.EqualFold(v, "off") {
			return -1
		}
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return DefaultGoGC
}

// UnmarshalYAML starts from the defaults, so that a block setting only log_level keeps the
// default GC target.
func (c *RuntimeConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = DefaultRuntimeConfig()
	type plain RuntimeConfig
	if err := unmarshal((*plain)(c)); err != nil {
		return err
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("unrecognized log level %q", c.LogLevel)
	}
	return nil
}

// patRulePath is Prometheus's check on rule file paths: globs only in the last element.
var patRulePath = regexp.MustCompile(`^[^*]*(\*[^/]*)?$`)

// Load parses and validates a configuration from a string. Relative paths stay relative;
// LoadFile resolves them against the file's directory.
func Load(s string) (*Config, error) {
	cfg := &Config{}
	// When the whole body is empty, UnmarshalYAML is never called; start from the defaults.
	*cfg = Config{GlobalConfig: DefaultGlobalConfig, Runtime: DefaultRuntimeConfig(), OTLPConfig: DefaultOTLPConfig}
	if err := yaml.UnmarshalStrict([]byte(s), cfg); err != nil {
		return nil, friendlyYAMLError(err)
	}
	return cfg, nil
}

// LoadFile reads, parses and validates filename and makes relative paths in it (rule files, file
// SD paths, *_file secrets and TLS files) relative to the file's directory, as Prometheus does.
func LoadFile(filename string) (*Config, error) {
	content, err := os.ReadFile(filename)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	cfg, err := Load(string(content))
	if err != nil {
		return nil, fmt.Errorf("parsing YAML file %s: %w", filename, err)
	}
	cfg.SetDirectory(filepath.Dir(filename))
	if err := cfg.loadScrapeConfigFiles(); err != nil {
		return nil, fmt.Errorf("parsing YAML file %s: %w", filename, err)
	}
	return cfg, nil
}

// loadScrapeConfigFiles reads the files matching ScrapeConfigFiles (read again on every reload,
// as Prometheus does) and appends their jobs, validated against the global config and with
// paths relative to their own file.
func (c *Config) loadScrapeConfigFiles() error {
	jobs := map[string]string{}
	for _, sc := range c.ScrapeConfigs {
		jobs[sc.JobName] = "main config file"
	}
	for _, pat := range c.ScrapeConfigFiles {
		files, err := filepath.Glob(pat)
		if err != nil {
			return fmt.Errorf("error retrieving scrape config files for %q: %w", pat, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("scrape config file %q: %w", f, err)
			}
			var sc struct {
				ScrapeConfigs []*ScrapeConfig `yaml:"scrape_configs,omitempty"`
			}
			if err := yaml.UnmarshalStrict(b, &sc); err != nil {
				return fmt.Errorf("scrape config file %q: %w", f, friendlyYAMLError(err))
			}
			for _, s := range sc.ScrapeConfigs {
				if err := s.Validate(c.GlobalConfig); err != nil {
					return fmt.Errorf("scrape config file %q: %w", f, err)
				}
				if first, ok := jobs[s.JobName]; ok {
					return fmt.Errorf("scrape config file %q: found multiple scrape configs with job name %q, first found in %s", f, s.JobName, first)
				}
				jobs[s.JobName] = fmt.Sprintf("%q", f)
				s.SetDirectory(filepath.Dir(f))
				c.ScrapeConfigs = append(c.ScrapeConfigs, s)
			}
		}
	}
	return nil
}

// notFoundRE matches yaml.v2's strict-mode message for unknown fields; the Go type name it quotes
// (config.plain) means nothing to a user, so it is rewritten.
var notFoundRE = regexp.MustCompile(`field (\S+) not found in type \S+`)

func friendlyYAMLError(err error) error {
	msg := err.Error()
	if !notFoundRE.MatchString(msg) {
		return err
	}
	return errors.New(notFoundRE.ReplaceAllString(msg, "field $1 is unknown or not supported by Vigil"))
}

// SetDirectory joins relative file paths with dir.
func (c *Config) SetDirectory(dir string) {
	for i, f := range c.RuleFiles {
		c.RuleFiles[i] = commoncfg.JoinDir(dir, f)
	}
	for i, f := range c.ScrapeConfigFiles {
		c.ScrapeConfigFiles[i] = commoncfg.JoinDir(dir, f)
	}
	for _, sc := range c.ScrapeConfigs {
		sc.SetDirectory(dir)
	}
	c.AlertingConfig.SetDirectory(dir)
	for _, rw := range c.RemoteWriteConfigs {
		rw.SetDirectory(dir)
	}
}

// String returns the configuration as YAML with secrets replaced by "<secret>", for
// /api/v1/status/config.
func (c *Config) String() string {
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Sprintf("<error creating config string: %s>", err)
	}
	return string(b)
}

// ScrapeConfig returns the scrape config with the given job name, or nil.
func (c *Config) ScrapeConfig(job string) *ScrapeConfig {
	for _, sc := range c.ScrapeConfigs {
		if sc.JobName == job {
			return sc
		}
	}
	return nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = Config{GlobalConfig: DefaultGlobalConfig, Runtime: DefaultRuntimeConfig(), OTLPConfig: DefaultOTLPConfig}
	type plain Config
	if err := unmarshal((*plain)(c)); err != nil {
		return err
	}
	// An empty "global:" block decodes to the zero value; restore the defaults.
	if c.GlobalConfig.isZero() {
		c.GlobalConfig = DefaultGlobalConfig
	}
	if c.Runtime == (RuntimeConfig{}) { // an empty "runtime:" block
		c.Runtime = DefaultRuntimeConfig()
	}
	for _, rf := range c.RuleFiles {
		if !patRulePath.MatchString(rf) {
			return fmt.Errorf("invalid rule file path %q", rf)
		}
	}
	for _, sf := range c.ScrapeConfigFiles {
		if !patRulePath.MatchString(sf) {
			return fmt.Errorf("invalid scrape config file path %q", sf)
		}
	}
	if err := validateOTLP(&c.OTLPConfig); err != nil {
		return err
	}
	jobNames := map[string]struct{}{}
	for _, sc := range c.ScrapeConfigs {
		if err := sc.Validate(c.GlobalConfig); err != nil {
			return err
		}
		if _, ok := jobNames[sc.JobName]; ok {
			return fmt.Errorf("found multiple scrape configs with job name %q", sc.JobName)
		}
		jobNames[sc.JobName] = struct{}{}
	}
	rwNames := map[string]struct{}{}
	for _, rw := range c.RemoteWriteConfigs {
		if rw == nil {
			return errors.New("empty or null remote write config section")
		}
		// Empty names are filled with the config hash by the queue.
		if _, ok := rwNames[rw.Name]; ok && rw.Name != "" {
			return fmt.Errorf("found multiple remote write configs with job name %q", rw.Name)
		}
		if err := rw.Validate(); err != nil {
			return err
		}
		rwNames[rw.Name] = struct{}{}
	}
	return c.AlertingConfig.Validate()
}

// GlobalConfig holds defaults for the other sections.
type GlobalConfig struct {
	ScrapeInterval        model.Duration   `yaml:"scrape_interval,omitempty"`
	ScrapeTimeout         model.Duration   `yaml:"scrape_timeout,omitempty"`
	ScrapeProtocols       []ScrapeProtocol `yaml:"scrape_protocols,omitempty"`
	EvaluationInterval    model.Duration   `yaml:"evaluation_interval,omitempty"`
	RuleQueryOffset       model.Duration   `yaml:"rule_query_offset,omitempty"`
	ExternalLabels        labels.Labels    `yaml:"external_labels,omitempty"`
	BodySizeLimit         units.Base2Bytes `yaml:"body_size_limit,omitempty"`
	SampleLimit           uint             `yaml:"sample_limit,omitempty"`
	TargetLimit           uint             `yaml:"target_limit,omitempty"`
	LabelLimit            uint             `yaml:"label_limit,omitempty"`
	LabelNameLengthLimit  uint             `yaml:"label_name_length_limit,omitempty"`
	LabelValueLengthLimit uint             `yaml:"label_value_length_limit,omitempty"`
	KeepDroppedTargets    uint             `yaml:"keep_dropped_targets,omitempty"`
	// ScrapeNativeHistograms, ConvertClassicHistogramsToNHCB and AlwaysScrapeClassicHistograms
	// are the defaults of the scrape configs' fields of the same names, as in Prometheus.
	ScrapeNativeHistograms         *bool `yaml:"scrape_native_histograms,omitempty"`
	ConvertClassicHistogramsToNHCB bool  `yaml:"convert_classic_histograms_to_nhcb,omitempty"`
	AlwaysScrapeClassicHistograms  bool  `yaml:"always_scrape_classic_histograms,omitempty"`
}

func (c *GlobalConfig) isZero() bool {
	return c.ExternalLabels.IsEmpty() && c.ScrapeInterval == 0 && c.ScrapeTimeout == 0 &&
		c.EvaluationInterval == 0 && c.RuleQueryOffset == 0 && c.ScrapeProtocols == nil &&
		c.BodySizeLimit == 0 && c.SampleLimit == 0 && c.TargetLimit == 0 && c.LabelLimit == 0 &&
		c.LabelNameLengthLimit == 0 && c.LabelValueLengthLimit == 0 && c.KeepDroppedTargets == 0 &&
		c.ScrapeNativeHistograms == nil && !c.ConvertClassicHistogramsToNHCB && !c.AlwaysScrapeClassicHistograms
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *GlobalConfig) UnmarshalYAML(unmarshal func(any) error) error {
	gc := &GlobalConfig{}
	type plain GlobalConfig
	if err := unmarshal((*plain)(gc)); err != nil {
		return err
	}
	if err := gc.ExternalLabels.Validate(func(l labels.Label) error {
		if !NameValidationScheme.IsValidLabelName(l.Name) {
			return fmt.Errorf("%q is not a valid label name", l.Name)
		}
		if !model.LabelValue(l.Value).IsValid() {
			return fmt.Errorf("%q is not a valid label value", l.Value)
		}
		return nil
	}); err != nil {
		return err
	}
	if gc.ScrapeInterval == 0 {
		gc.ScrapeInterval = DefaultGlobalConfig.ScrapeInterval
	}
	if gc.ScrapeTimeout > gc.ScrapeInterval {
		return errors.New("global scrape timeout greater than scrape interval")
	}
	if gc.ScrapeTimeout == 0 {
		gc.ScrapeTimeout = min(DefaultGlobalConfig.ScrapeTimeout, gc.ScrapeInterval)
	}
	if gc.EvaluationInterval == 0 {
		gc.EvaluationInterval = DefaultGlobalConfig.EvaluationInterval
	}
	if gc.ScrapeProtocols != nil {
		if err := validateAcceptScrapeProtocols(gc.ScrapeProtocols); err != nil {
			return fmt.Errorf("%w for global config", err)
		}
	}
	*c = *gc
	return nil
}

// ScrapeProtocol is a format offered to targets in the Accept header.
type ScrapeProtocol string

// The scrape protocols Prometheus knows, by their configuration names.
const (
	PrometheusProto      ScrapeProtocol = "PrometheusProto"
	PrometheusText0_0_4  ScrapeProtocol = "PrometheusText0.0.4"
	PrometheusText1_0_0  ScrapeProtocol = "PrometheusText1.0.0"
	OpenMetricsText0_0_1 ScrapeProtocol = "OpenMetricsText0.0.1"
	OpenMetricsText1_0_0 ScrapeProtocol = "OpenMetricsText1.0.0"
	OpenMetricsText2_0_0 ScrapeProtocol = "OpenMetricsText2.0.0"
)

// ScrapeProtocolsHeaders maps each protocol to its media type with parameters.
var ScrapeProtocolsHeaders = map[ScrapeProtocol]string{
	PrometheusProto:      "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
	PrometheusText0_0_4:  "text/plain;version=0.0.4",
	PrometheusText1_0_0:  "text/plain;version=1.0.0",
	OpenMetricsText0_0_1: "application/openmetrics-text;version=0.0.1",
	OpenMetricsText1_0_0: "application/openmetrics-text;version=1.0.0",
	OpenMetricsText2_0_0: "application/openmetrics-text;version=2.0.0",
}

// DefaultScrapeProtocols is what Prometheus offers when scrape_protocols is not set.
var DefaultScrapeProtocols = []ScrapeProtocol{
	OpenMetricsText1_0_0,
	OpenMetricsText0_0_1,
	PrometheusText1_0_0,
	PrometheusText0_0_4,
}

// DefaultProtoFirstScrapeProtocols is what Prometheus offers when scrape_protocols is not set
// and scrape_native_histograms is on: the protobuf format first, the only one (with
// OpenMetrics 2.0) that carries native histograms.
var DefaultProtoFirstScrapeProtocols = []ScrapeProtocol{
	PrometheusProto,
	OpenMetricsText1_0_0,
	OpenMetricsText0_0_1,
	PrometheusText1_0_0,
	PrometheusText0_0_4,
}

// Validate returns an error if the protocol is unknown.
func (s ScrapeProtocol) Validate() error {
	if _, ok := ScrapeProtocolsHeaders[s]; !ok {
		supported := make([]string, 0, len(ScrapeProtocolsHeaders))
		for k := range ScrapeProtocolsHeaders {
			supported = append(supported, string(k))
		}
		sort.Strings(supported)
		return fmt.Errorf("unknown scrape protocol %v, supported: %v", s, supported)
	}
	return nil
}

// HeaderMediaType returns the protocol's media type without parameters ("" if unknown).
func (s ScrapeProtocol) HeaderMediaType() string {
	h, ok := ScrapeProtocolsHeaders[s]
	if !ok {
		return ""
	}
	mt, _, err := mime.ParseMediaType(h)
	if err != nil {
		return ""
	}
	return mt
}

func validateAcceptScrapeProtocols(sps []ScrapeProtocol) error {
	if len(sps) == 0 {
		return errors.New("scrape_protocols cannot be empty")
	}
	dups := map[string]struct{}{}
	for _, sp := range sps {
		if _, ok := dups[strings.ToLower(string(sp))]; ok {
			return fmt.Errorf("duplicated protocol in scrape_protocols, got %v", sps)
		}
		if err := sp.Validate(); err != nil {
			return fmt.Errorf("scrape_protocols: %w", err)
		}
		dups[strings.ToLower(string(sp))] = struct{}{}
	}
	return nil
}

// ScrapeConfig configures one scrape job.
type ScrapeConfig struct {
	JobName                  string           `yaml:"job_name"`
	HonorLabels              bool             `yaml:"honor_labels,omitempty"`
	HonorTimestamps          bool             `yaml:"honor_timestamps"`
	TrackTimestampsStaleness bool             `yaml:"track_timestamps_staleness"`
	Params                   url.Values       `yaml:"params,omitempty"`
	ScrapeInterval           model.Duration   `yaml:"scrape_interval,omitempty"`
	ScrapeTimeout            model.Duration   `yaml:"scrape_timeout,omitempty"`
	ScrapeProtocols          []ScrapeProtocol `yaml:"scrape_protocols,omitempty"`
	ScrapeFallbackProtocol   ScrapeProtocol   `yaml:"fallback_scrape_protocol,omitempty"`
	MetricsPath              string           `yaml:"metrics_path,omitempty"`
	Scheme                   string           `yaml:"scheme,omitempty"`
	EnableCompression        bool             `yaml:"enable_compression"`
	BodySizeLimit            units.Base2Bytes `yaml:"body_size_limit,omitempty"`
	SampleLimit              uint             `yaml:"sample_limit,omitempty"`
	TargetLimit              uint             `yaml:"target_limit,omitempty"`
	LabelLimit               uint             `yaml:"label_limit,omitempty"`
	LabelNameLengthLimit     uint             `yaml:"label_name_length_limit,omitempty"`
	LabelValueLengthLimit    uint             `yaml:"label_value_length_limit,omitempty"`
	KeepDroppedTargets       uint             `yaml:"keep_dropped_targets,omitempty"`

	// Native histograms, as in Prometheus 3: scrape them (unset: the global setting, off by
	// default); keep the classic series of a histogram exposed both ways; convert classic
	// histograms to native histograms with custom buckets (NHCB); the most buckets a native
	// histogram may keep (its resolution is reduced until it fits, else the scrape fails; 0:
	// no limit); the smallest growth factor between buckets (resolution reduced to match).
	ScrapeNativeHistograms         *bool   `yaml:"scrape_native_histograms,omitempty"`
	AlwaysScrapeClassicHistograms  *bool   `yaml:"always_scrape_classic_histograms,omitempty"`
	ConvertClassicHistogramsToNHCB *bool   `yaml:"convert_classic_histograms_to_nhcb,omitempty"`
	NativeHistogramBucketLimit     uint    `yaml:"native_histogram_bucket_limit,omitempty"`
	NativeHistogramMinBucketFactor float64 `yaml:"native_histogram_min_bucket_factor,omitempty"`

	// The HTTP client settings (basic_auth, authorization, oauth2, tls_config, proxy_url,
	// follow_redirects, enable_http2, http_headers, ...) are inline, as in Prometheus.
	HTTPClientConfig commoncfg.HTTPClientConfig `yaml:",inline"`

	ServiceDiscoveryConfigs `yaml:",inline"`

	RelabelConfigs       []*relabel.Config `yaml:"relabel_configs,omitempty"`
	MetricRelabelConfigs []*relabel.Config `yaml:"metric_relabel_configs,omitempty"`
}

// ScrapeNativeHistogramsEnabled tells whether native histograms are scraped.
func (c *ScrapeConfig) ScrapeNativeHistogramsEnabled() bool {
	return c.ScrapeNativeHistograms != nil && *c.ScrapeNativeHistograms
}

// ConvertClassicHistogramsToNHCBEnabled tells whether classic histograms become NHCB.
func (c *ScrapeConfig) ConvertClassicHistogramsToNHCBEnabled() bool {
	return c.ConvertClassicHistogramsToNHCB != nil && *c.ConvertClassicHistogramsToNHCB
}

// AlwaysScrapeClassicHistogramsEnabled tells whether the classic series of a histogram also
// exposed as a native one are kept.
func (c *ScrapeConfig) AlwaysScrapeClassicHistogramsEnabled() bool {
	return c.AlwaysScrapeClassicHistograms != nil && *c.AlwaysScrapeClassicHistograms
}

// SetDirectory joins relative file paths with dir.
func (c *ScrapeConfig) SetDirectory(dir string) {
	c.HTTPClientConfig.SetDirectory(dir)
	c.ServiceDiscoveryConfigs.SetDirectory(dir)
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *ScrapeConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = DefaultScrapeConfig
	type plain ScrapeConfig
	if err := unmarshal((*plain)(c)); err != nil {
		return err
	}
	if c.JobName == "" {
		return errors.New("job_name is empty")
	}
	if err := c.ServiceDiscoveryConfigs.checkNull(); err != nil {
		return err
	}
	// HTTPClientConfig is inline, so its own UnmarshalYAML does not run: validate here, as
	// Prometheus does.
	if err := c.HTTPClientConfig.Validate(); err != nil {
		return err
	}
	switch c.Scheme {
	case "http", "https":
	default:
		// Prometheus accepts any scheme here and fails every scrape; rejecting at load time is
		// the clearer error for the same file.
		return fmt.Errorf("invalid scheme %q for scrape config with job name %q: must be http or https", c.Scheme, c.JobName)
	}
	if len(c.RelabelConfigs) == 0 {
		if err := c.checkStaticTargets(); err != nil {
			return err
		}
	}
	for _, rc := range c.RelabelConfigs {
		if rc == nil {
			return errors.New("empty or null target relabeling rule in scrape config")
		}
	}
	for _, rc := range c.MetricRelabelConfigs {
		if rc == nil {
			return errors.New("empty or null metric relabeling rule in scrape config")
		}
	}
	return nil
}

// Validate fills defaults from the global config and checks what depends on it.
func (c *ScrapeConfig) Validate(g GlobalConfig) error {
	if c == nil {
		return errors.New("empty or null scrape config section")
	}
	if c.ScrapeInterval == 0 {
		c.ScrapeInterval = g.ScrapeInterval
	}
	if c.ScrapeTimeout > c.ScrapeInterval {
		return fmt.Errorf("scrape timeout greater than scrape interval for scrape config with job name %q", c.JobName)
	}
	if c.ScrapeTimeout == 0 {
		c.ScrapeTimeout = min(g.ScrapeTimeout, c.ScrapeInterval)
	}
	if c.BodySizeLimit == 0 {
		c.BodySizeLimit = g.BodySizeLimit
	}
	if c.SampleLimit == 0 {
		c.SampleLimit = g.SampleLimit
	}
	if c.TargetLimit == 0 {
		c.TargetLimit = g.TargetLimit
	}
	if c.LabelLimit == 0 {
		c.LabelLimit = g.LabelLimit
	}
	if c.LabelNameLengthLimit == 0 {
		c.LabelNameLengthLimit = g.LabelNameLengthLimit
	}
	if c.LabelValueLengthLimit == 0 {
		c.LabelValueLengthLimit = g.LabelValueLengthLimit
	}
	if c.KeepDroppedTargets == 0 {
		c.KeepDroppedTargets = g.KeepDroppedTargets
	}
	if c.ScrapeNativeHistograms == nil {
		c.ScrapeNativeHistograms = g.ScrapeNativeHistograms
	}
	if c.ConvertClassicHistogramsToNHCB == nil {
		global := g.ConvertClassicHistogramsToNHCB
		c.ConvertClassicHistogramsToNHCB = &global
	}
	if c.AlwaysScrapeClassicHistograms == nil {
		global := g.AlwaysScrapeClassicHistograms
		c.AlwaysScrapeClassicHistograms = &global
	}
	if c.ScrapeProtocols == nil {
		switch {
		case g.ScrapeProtocols != nil:
			// Set globally: that wins over the choice that native histograms make.
			c.ScrapeProtocols = g.ScrapeProtocols
		case c.ScrapeNativeHistogramsEnabled():
			c.ScrapeProtocols = DefaultProtoFirstScrapeProtocols
		default:
			c.ScrapeProtocols = DefaultScrapeProtocols
		}
	}
	if err := validateAcceptScrapeProtocols(c.ScrapeProtocols); err != nil {
		return fmt.Errorf("%w for scrape config with job name %q", err, c.JobName)
	}
	if c.ScrapeFallbackProtocol != "" {
		if err := c.ScrapeFallbackProtocol.Validate(); err != nil {
			return fmt.Errorf("invalid fallback_scrape_protocol for scrape config with job name %q: %w", c.JobName, err)
		}
	}
	for _, rc := range c.RelabelConfigs {
		if err := rc.Validate(NameValidationScheme); err != nil {
			return err
		}
	}
	for _, rc := range c.MetricRelabelConfigs {
		if err := rc.Validate(NameValidationScheme); err != nil {
			return err
		}
	}
	return nil
}

func (c *ScrapeConfig) checkStaticTargets() error {
	for _, tg := range c.StaticConfigs {
		for _, t := range tg.Targets {
			if err := CheckTargetAddress(t[model.AddressLabel]); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckTargetAddress rejects addresses that are URLs rather than host:port (Prometheus's check).
func CheckTargetAddress(address model.LabelValue) error {
	if strings.Contains(string(address), "/") {
		return fmt.Errorf("%q is not a valid hostname", address)
	}
	return nil
}
