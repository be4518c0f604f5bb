package main

import (
	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/notifier"
	"github.com/vigil-monitoring/vigil/scrape"
)

// validateConfig is what can reject a prometheus.yml that loads (config.LoadFile) before any
// component applies it: the HTTP clients of scrape jobs and Alertmanagers (TLS files), static
// Alertmanagers. The server runs it as a check of every load and reload, and `vigil check
// config` runs it too, so that both accept exactly the same files; rule files go through
// ruler.ExpandRuleFiles in both. What Prometheus only finds out at runtime — a discovery that
// cannot be built or cannot reach its API — is accepted by both and reported on
// /api/v1/targets (discoveryErrors) and in the log.
func validateConfig(cfg *config.Config) error {
	if err := scrape.CheckConfig(cfg); err != nil {
		return err
	}
	return notifier.CheckConfig(cfg)
}
