package main

// Automatic reloads of the configuration files (internal/reload's AutoReload) and
// --enable-feature, with Prometheus's flag names.

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"

	"github.com/vigil-monitoring/vigil/internal/reload"
)

type autoReloadFlags struct {
	enabled  bool
	interval model.Duration
	features []string
}

// registerAutoReloadFlags adds --config.auto-reload, --config.auto-reload-interval and
// --enable-feature. Prometheus 3 has automatic reloading off by default; Vigil has it on, since
// it replaces the operator's config-reloader sidecar on Kubernetes, where configuration comes
// from ConfigMaps and Secrets that change under a running server.
func registerAutoReloadFlags(app *kingpin.Application) *autoReloadFlags {
	var f autoReloadFlags
	app.Flag("config.auto-reload", "Reload the configuration files (prometheus.yml and the rule files and scrape config files it names, alertmanager.yml and its templates) when their content changes, as SIGHUP does; --no-config.auto-reload turns it off. On by default in Vigil, unlike Prometheus.").
		Default("true").BoolVar(&f.enabled)
	app.Flag("config.auto-reload-interval", "How often to check the configuration files for changes (at least 1s).").
		Default("30s").SetValue(&f.interval)
	app.Flag("enable-feature", "Prometheus feature flags, comma separated (may be repeated). Vigil knows: auto-reload-config (accepted for Prometheus 3 compatibility; automatic reloading is on by default), memory-snapshot-on-shutdown (on by default, see --storage.tsdb.snapshot-on-shutdown), use-start-timestamps (rate, increase, irate, resets and start_timestamp() use the samples' start timestamps), st-storage (scraped OpenMetrics _created lines and protobuf created timestamps become the samples' start timestamps; Vigil stores start timestamps whenever it is given them). Other names are logged and ignored, as Prometheus does with unknown ones.").
		StringsVar(&f.features)
	return &f
}

// knownFeatures are the --enable-feature names Vigil acts on.
var knownFeatures = map[string]string{
	"auto-reload-config":   "Automatic configuration file reloading enabled (deprecated in Prometheus 3 for --config.auto-reload; on by default in Vigil)",
	"use-start-timestamps": "PromQL uses sample start timestamps in rate, increase, irate, resets and start_timestamp()",
	"st-storage":           "Scrapes read created timestamps as the samples' start timestamps (OpenMetrics _created lines are no longer series); Vigil stores start timestamps whenever it is given them",
	// Acted on by the storage (--storage.tsdb.snapshot-on-shutdown, on by default).
	"memory-snapshot-on-shutdown": "Head snapshot on shutdown enabled (on by default in Vigil)",
}

// feature tells whether --enable-feature names name.
func (f *autoReloadFlags) feature(name string) bool {
	for _, list := range f.features {
		for _, n := range strings.Split(list, ",") {
			if strings.TrimSpace(n) == name {
				return true
			}
		}
	}
	return false
}

// resolve applies the feature flags and returns the interval of automatic reloads (0: off).
func (f *autoReloadFlags) resolve(logger *slog.Logger) time.Duration {
	for _, list := range f.features {
		for _, name := range strings.Split(list, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			msg, ok := knownFeatures[name]
			if !ok {
				logger.Warn("Unknown option for --enable-feature", "option", name)
				continue
			}
			if name == "auto-reload-config" {
				f.enabled = true
			}
			logger.Info(msg, "option", name)
		}
	}
	if !f.enabled {
		return 0
	}
	d := time.Duration(f.interval)
	if d < time.Second {
		d = time.Second // as Prometheus
	}
	return d
}

// alertmanagerChecksum hashes alertmanager.yml and the template files its templates globs match
// (relative to the file's directory, as Alertmanager resolves them), for automatic reloads.
func alertmanagerChecksum(path string) func() (string, error) {
	return func() (string, error) {
		sum, err := reload.FileChecksum(path)
		if err != nil {
			return "", err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		var c struct {
			Templates []string `yaml:"templates"`
		}
		if err := yaml.Unmarshal(b, &c); err != nil {
			// Not valid YAML: the reload will say why; its content hash is enough here.
			return sum, nil
		}
		for _, pattern := range c.Templates {
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(path), pattern)
			}
			files, err := filepath.Glob(pattern)
			if err != nil {
				continue
			}
			for _, file := range files {
				s, err := reload.FileChecksum(file)
				if err != nil {
					return "", err
				}
				sum += "\x00" + file + "\x00" + s
			}
		}
		return sum, nil
	}
}
