package config

import (
	"fmt"

	"github.com/prometheus/otlptranslator"
	promconfig "github.com/prometheus/prometheus/config"
)

// OTLPConfig is Prometheus's `otlp` block (promote_resource_attributes, ignore_resource_attributes,
// promote_all_resource_attributes, translation_strategy, keep_identifying_resource_attributes,
// convert_histograms_to_nhcb, promote_scope_metadata, label_name_underscore_sanitization,
// label_name_preserve_multiple_underscores). It is the upstream type, so that its defaults and
// the checks its UnmarshalYAML makes (attribute lists trimmed, no duplicates, ignore only with
// promote_all) are Prometheus's; the OTLP receiver hands it to the upstream translator as is.
type OTLPConfig = promconfig.OTLPConfig

// DefaultOTLPConfig is Prometheus's default: UnderscoreEscapingWithSuffixes, with the label
// sanitization settings kept for backwards compatibility.
var DefaultOTLPConfig = promconfig.DefaultOTLPConfig

// validateOTLP makes the checks Prometheus's config.Load makes on the otlp block (the
// translation strategy; Vigil always validates names as UTF-8, so every strategy is allowed).
// convert_histograms_to_nhcb is supported: OTLP explicit-bucket histograms are then stored as
// native histograms with custom buckets, as Prometheus does.
func validateOTLP(c *OTLPConfig) error {
	switch c.TranslationStrategy {
	case "", otlptranslator.UnderscoreEscapingWithSuffixes, otlptranslator.UnderscoreEscapingWithoutSuffixes,
		otlptranslator.NoTranslation, otlptranslator.NoUTF8EscapingWithSuffixes:
	default:
		return fmt.Errorf("unsupported OTLP translation strategy %q", c.TranslationStrategy)
	}
	return nil
}
