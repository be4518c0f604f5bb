package main

// The configuration files in the reload coordinator (internal/reload): prometheus.yml
// (--config.file) and alertmanager.yml (--alertmanager.config.file). SIGHUP and
// POST /-/reload reload both through the coordinator.

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/internal/reload"
	"github.com/vigil-monitoring/vigil/routing"
)

// reloader is prometheus.yml: scrape, rules, the rule sender's Alertmanagers and the runtime
// block register with it.
type reloader = reload.File[*config.Config]

// addConfigFile adds --config.file (or the embedded default) to coord; its reloads are
// reported as Prometheus reports them, by prometheus_config_last_reload_successful.
func addConfigFile(coord *reload.Coordinator, path string, reg prometheus.Registerer, logger *slog.Logger, wrap ...func(func() (*config.Config, error)) func() (*config.Config, error)) *reloader {
	load := func() (*config.Config, error) {
		if path == "" {
			return config.Default()
		}
		return config.LoadFile(path)
	}
	for _, w := range wrap {
		load = w(load)
	}
	return reload.AddFile(coord, reload.FileOptions[*config.Config]{
		Flag:         "--config.file",
		Path:         path,
		Load:         load,
		MetricPrefix: "prometheus",
		Registerer:   reg,
		Logger:       logger.With("component", "config"),
		// prometheus.yml with the rule files and scrape config files it names, as Prometheus
		// hashes them for --config.auto-reload.
		Checksum: func() (string, error) { return config.GenerateChecksum(path) },
	})
}

// addAlertmanagerFile adds --alertmanager.config.file to coord. Its reload metrics are the
// router's own (alertmanager_config_hash, alertmanager_config_last_reload_successful and
// _success_timestamp_seconds, set as Alertmanager sets them). The router loaded the file when it
// was made; it reloads it all-or-nothing (Router.Reload leaves the running configuration in
// place on any error), so the router is the file's loader.
func addAlertmanagerFile(coord *reload.Coordinator, path string, r *routing.Router, reg prometheus.Registerer, logger *slog.Logger) *reload.File[struct{}] {
	f := reload.AddFile(coord, reload.FileOptions[struct{}]{
		Flag:       "--alertmanager.config.file",
		Path:       path,
		Load:       func() (struct{}, error) { return struct{}{}, r.Reload() },
		Registerer: reg,
		Logger:     logger.With("component", "alertmanager config"),
		Checksum:   alertmanagerChecksum(path),
	})
	f.Loaded(struct{}{})
	return f
}
