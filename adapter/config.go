// Package adapter turns PromQL results into the Kubernetes custom and external metrics APIs.
//
// It reads prometheus-adapter configuration files unchanged (rules, externalRules, seriesQuery,
// seriesFilters, resources, name, metricsQuery) and follows prometheus-adapter's semantics for
// naming, resource mapping and query templating, so users can switch without rewriting rules.
package adapter

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v2"
)

// Config is a prometheus-adapter configuration file (MetricsDiscoveryConfig).
type Config struct {
	Rules         []DiscoveryRule `yaml:"rules"`
	ResourceRules *ResourceRules  `yaml:"resourceRules,omitempty"`
	ExternalRules []DiscoveryRule `yaml:"externalRules,omitempty"`
}

// DiscoveryRule maps a set of Prometheus series to API metrics.
type DiscoveryRule struct {
	SeriesQuery            string                  `yaml:"seriesQuery"`
	SeriesFilters          []RegexFilter           `yaml:"seriesFilters"`
	Resources              ResourceMapping         `yaml:"resources"`
	Name                   NameMapping             `yaml:"name"`
	MetricsQuery           string                  `yaml:"metricsQuery,omitempty"`
	LabelValueReplacements []LabelValueReplacement `yaml:"labelValueReplacements,omitempty"`
}

// LabelValueReplacement rewrites label values of external metric selectors before they are sent
// to Prometheus (Kubernetes label values cannot hold every character Prometheus allows).
type LabelValueReplacement struct {
	Find    string `yaml:"find,omitempty"`
	Replace string `yaml:"replace,omitempty"`
}

// RegexFilter keeps (is) or drops (isNot) series whose name matches; exactly one must be set.
type RegexFilter struct {
	Is    string `yaml:"is,omitempty"`
	IsNot string `yaml:"isNot,omitempty"`
}

// ResourceMapping says which series labels name Kubernetes objects.
type ResourceMapping struct {
	// Template is a Go template (<< >> delimiters) over .Group (dots and dashes replaced by
	// underscores) and .Resource (singular) that yields a label name.
	Template string `yaml:"template,omitempty"`
	// Overrides maps label names to group-resources, ahead of the template.
	Overrides map[string]GroupResource `yaml:"overrides,omitempty"`
	// Namespaced, when false, stops external queries from being restricted to the HPA's namespace.
	Namespaced *bool `yaml:"namespaced,omitempty"`
}

// GroupResource is a Kubernetes group-resource as written in the config (singular or plural).
type GroupResource struct {
	Group    string `yaml:"group,omitempty"`
	Resource string `yaml:"resource"`
}

// NameMapping converts series names to API metric names.
type NameMapping struct {
	Matches string `yaml:"matches"`
	As      string `yaml:"as"`
}

// ResourceRules configures prometheus-adapter's resource metrics API (metrics.k8s.io). Vigil's
// adapter serves only the custom and external metrics APIs; the section is parsed so that
// existing files load, and its presence is reported as a warning.
type ResourceRules struct {
	CPU    ResourceRule `yaml:"cpu"`
	Memory ResourceRule `yaml:"memory"`
	Window string       `yaml:"window"`
}

// ResourceRule is one resource metrics query pair.
type ResourceRule struct {
	ContainerQuery string          `yaml:"containerQuery"`
	NodeQuery      string          `yaml:"nodeQuery"`
	Resources      ResourceMapping `yaml:"resources"`
	ContainerLabel string          `yaml:"containerLabel"`
}

// ParseConfig parses a prometheus-adapter config file. prometheus-adapter ignores unknown fields
// (a typo such as `metricQuery` silently does nothing); to accept the same files while not hiding
// such mistakes, unknown fields are returned as warnings rather than errors.
func ParseConfig(data []byte) (*Config, []string, error) {
	var cfg Config
	var warnings []string
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		cfg = Config{}
		if err2 := yaml.Unmarshal(data, &cfg); err2 != nil {
			return nil, nil, fmt.Errorf("parsing adapter config: %w", err2)
		}
		warnings = append(warnings, "config has fields prometheus-adapter also ignores: "+strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if cfg.ResourceRules != nil {
		warnings = append(warnings, "resourceRules is ignored: vigil-adapter serves custom.metrics.k8s.io and external.metrics.k8s.io, not metrics.k8s.io (use metrics-server for that)")
	}
	return &cfg, warnings, nil
}

// LoadRules parses and compiles a config file; any invalid rule is an error naming the rule.
func LoadRules(data []byte) (*RuleSet, []string, error) {
	cfg, warnings, err := ParseConfig(data)
	if err != nil {
		return nil, nil, err
	}
	rs, err := CompileConfig(cfg)
	if err != nil {
		return nil, warnings, err
	}
	return rs, warnings, nil
}

// RuleSet is a compiled, immutable config.
type RuleSet struct {
	Rules         []*Rule
	ExternalRules []*Rule
}

// CompileConfig validates every rule and compiles its templates and regular expressions.
func CompileConfig(cfg *Config) (*RuleSet, error) {
	rs := &RuleSet{}
	var errs []error
	for i, r := range cfg.Rules {
		c, err := compileRule(r, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("rules[%d] (seriesQuery %q): %w", i, r.SeriesQuery, err))
			continue
		}
		c.ID = fmt.Sprintf("rules[%d]", i)
		rs.Rules = append(rs.Rules, c)
	}
	for i, r := range cfg.ExternalRules {
		c, err := compileRule(r, true)
		if err != nil {
			errs = append(errs, fmt.Errorf("externalRules[%d] (seriesQuery %q): %w", i, r.SeriesQuery, err))
			continue
		}
		c.ID = fmt.Sprintf("externalRules[%d]", i)
		rs.ExternalRules = append(rs.ExternalRules, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rs, nil
}

// seriesMatcher positively or negatively matches series names.
type seriesMatcher struct {
	re       *regexp.Regexp
	positive bool
}

func (m seriesMatcher) matches(name string) bool { return m.re.MatchString(name) == m.positive }

func newSeriesMatcher(f RegexFilter) (seriesMatcher, error) {
	switch {
	case f.Is != "" && f.IsNot != "":
		return seriesMatcher{}, fmt.Errorf("series filter has both is (%q) and isNot (%q)", f.Is, f.IsNot)
	case f.Is == "" && f.IsNot == "":
		return seriesMatcher{}, errors.New("series filter needs one of is or isNot")
	}
	raw, positive := f.Is, true
	if raw == "" {
		raw, positive = f.IsNot, false
	}
	re, err := regexp.Compile(raw)
	if err != nil {
		return seriesMatcher{}, fmt.Errorf("series filter %q: %w", raw, err)
	}
	return seriesMatcher{re: re, positive: positive}, nil
}

// Rule is one compiled discovery rule.
type Rule struct {
	ID          string // rules[i] or externalRules[i], for messages
	SeriesQuery string
	External    bool

	filters      []seriesMatcher
	nameMatches  *regexp.Regexp
	nameAs       string
	query        *template.Template
	queryText    string
	namespaced   bool
	replacements []LabelValueReplacement
	resources    *resourceConverter
}

func compileRule(r DiscoveryRule, external bool) (*Rule, error) {
	if strings.TrimSpace(r.SeriesQuery) == "" {
		return nil, errors.New("seriesQuery is empty")
	}
	// Checked here so that a typo fails the load, not every relist.
	if _, err := parser.NewParser(parser.Options{}).ParseMetricSelector(r.SeriesQuery); err != nil {
		return nil, fmt.Errorf("seriesQuery is not a series selector: %w", err)
	}
	if strings.TrimSpace(r.MetricsQuery) == "" {
		return nil, errors.New("metricsQuery is empty")
	}
	c := &Rule{SeriesQuery: r.SeriesQuery, External: external, queryText: r.MetricsQuery,
		namespaced: r.Resources.Namespaced == nil || *r.Resources.Namespaced, replacements: r.LabelValueReplacements}
	for _, f := range r.SeriesFilters {
		m, err := newSeriesMatcher(f)
		if err != nil {
			return nil, err
		}
		c.filters = append(c.filters, m)
	}
	// As in prometheus-adapter, name.matches is also an implicit series filter.
	if r.Name.Matches != "" {
		re, err := regexp.Compile(r.Name.Matches)
		if err != nil {
			return nil, fmt.Errorf("name.matches %q: %w", r.Name.Matches, err)
		}
		c.nameMatches = re
		c.filters = append(c.filters, seriesMatcher{re: re, positive: true})
	} else {
		c.nameMatches = regexp.MustCompile(".*")
	}
	c.nameAs = r.Name.As
	if c.nameAs == "" {
		switch len(c.nameMatches.SubexpNames()) {
		case 1:
			c.nameAs = "$0"
		case 2:
			c.nameAs = "$1"
		default:
			return nil, fmt.Errorf("name.matches %q has several capture groups, so name.as must say which to use", r.Name.Matches)
		}
	}
	t, err := template.New("metricsQuery").Delims("<<", ">>").Parse(r.MetricsQuery)
	if err != nil {
		return nil, fmt.Errorf("metricsQuery template: %w", err)
	}
	// Execute once with sample arguments so that references to unknown fields (for example
	// <<.Serie>>) fail at load time rather than on the first HPA request.
	if err := t.Execute(discardWriter{}, queryTemplateArgs{Series: "x", LabelMatchers: `a="b"`,
		LabelValuesByName: map[string]string{"a": "b"}, GroupBy: "a", GroupBySlice: []string{"a"}}); err != nil {
		return nil, fmt.Errorf("metricsQuery template: %w", err)
	}
	c.query = t
	rc, err := newResourceConverter(r.Resources)
	if err != nil {
		return nil, err
	}
	c.resources = rc
	return c, nil
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// MetricName returns the API name of a series, and false when the rule's filters reject it.
func (r *Rule) MetricName(series string) (string, bool) {
	for _, f := range r.filters {
		if !f.matches(series) {
			return "", false
		}
	}
	m := r.nameMatches.FindStringSubmatchIndex(series)
	if m == nil {
		return "", false
	}
	return string(r.nameMatches.ExpandString(nil, r.nameAs, series, m)), true
}
