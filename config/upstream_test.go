package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/promslog"
	promconfig "github.com/prometheus/prometheus/config"
	// Every service discovery Prometheus has, registered as in the prometheus binary, so that
	// upstream judges each file as the real Prometheus would.
	_ "github.com/prometheus/prometheus/discovery/install"
)

// vigilRejects lists the upstream test files that Prometheus accepts and Vigil rejects on
// purpose, because they use a feature Vigil does not implement (DESIGN: anything unsupported is
// a clear error at load time naming the field). field must appear in Vigil's error.
var vigilRejects = map[string]struct{ field, reason string }{

	"conf.good.yml": {"query_log_file", "uses nearly every Prometheus feature; besides the query log: " +
		"scrape_failure_log_file, remote_read, storage, tracing " +
		"and 26 service discoveries Vigil does not have (dns, consul, ec2, azure, …)"},
	"roundtrip.good.yml":                             {"azure_sd_configs", reasonSD},
	"scrape_interval_larger.good.yml":                {"dns_sd_configs", reasonSD},
	"scrape_config_files_glob.good.yml":              {"vultr_sd_configs", reasonSD + " (in an included scrape config file)"},
	"global_enable_extra_scrape_metrics.good.yml":    {"extra_scrape_metrics", reasonExtraScrapeMetrics},
	"global_disable_extra_scrape_metrics.good.yml":   {"extra_scrape_metrics", reasonExtraScrapeMetrics},
	"local_enable_extra_scrape_metrics.good.yml":     {"extra_scrape_metrics", reasonExtraScrapeMetrics},
	"local_disable_extra_scrape_metrics.good.yml":    {"extra_scrape_metrics", reasonExtraScrapeMetrics},
	"scrape_config_global_validation_mode.yml":       {"metric_name_validation_scheme", reasonNameValidation},
	"scrape_config_local_global_validation_mode.yml": {"metric_name_validation_scheme", reasonNameValidation},
	"scrape_config_local_infer_escaping.yml":         {"metric_name_validation_scheme", reasonNameValidation},
	"scrape_config_local_validation_mode.yml":        {"metric_name_validation_scheme", reasonNameValidation},
	"tsdb_chunk_encoding_floats_xor.good.yml":        {"storage", reasonStorage},
	"tsdb_chunk_encoding_floats_xor2.good.yml":       {"storage", reasonStorage},
	"tsdb_retention_percentage_float.good.yml":       {"storage", reasonStorage},
}

// Why Vigil rejects the files in vigilRejects.
const (
	reasonSD                 = "service discovery Vigil does not implement (it has static, file, http and kubernetes)"
	reasonExtraScrapeMetrics = "extra_scrape_metrics (scrape_timeout_seconds and the limit series) is not implemented"
	reasonNameValidation     = "Vigil validates metric and label names as UTF-8 only (Prometheus 3's default); the legacy scheme and escaping settings are not implemented"
	reasonStorage            = "the storage block (tsdb and exemplar settings in the file) is not supported; Vigil takes storage settings from flags"
)

// knownDifferences lists the upstream test files where Vigil's outcome differs from upstream's
// for a reason other than an unsupported feature.
var knownDifferences = map[string]string{
	"agent_mode.with_alert_manager.yml":  reasonAgentMode,
	"agent_mode.with_alert_relabels.yml": reasonAgentMode,
	"agent_mode.with_rule_files.yml":     reasonAgentMode,
}

// reasonAgentMode: upstream's tests load agent_mode.* with agentMode=true, which rejects the
// alerting and rule_files sections; Vigil has no agent mode and accepts them as a server does.
const reasonAgentMode = "agent mode only: Prometheus --agent rejects alerting and rule_files; Vigil has no agent mode and loads them as the Prometheus server does"

// upstreamTestdata is Prometheus's config/testdata at the version go.mod pins, read from the
// module cache.
func upstreamTestdata(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/prometheus/prometheus").Output()
	if err != nil {
		t.Fatalf("locating the upstream module (go list -m github.com/prometheus/prometheus): %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("upstream config testdata: %v (run go mod download)", err)
	}
	return dir
}

// wholeConfig is the rule for which testdata entries are configuration files: the *.yml files
// directly in testdata. The rest are not whole configs: first.rules is a rule file, and the
// scrape_configs/ folder holds fragments that scrape_config_files in the other files include.
func wholeConfig(e os.DirEntry) bool {
	return e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".yml")
}

// TestUpstreamConfigTestdata loads every configuration file of Prometheus's own config tests
// with Prometheus's loader (as its tests do: agent_mode.* in agent mode, the rest in server mode)
// and with Vigil's, and checks that each loads in Vigil exactly when it loads upstream, apart
// from the files listed in vigilRejects and knownDifferences.
func TestUpstreamConfigTestdata(t *testing.T) {
	dir := upstreamTestdata(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	// bothRejectUnsupported counts files both reject where Vigil's reason is an unsupported
	// field (e.g. a bad azure_sd_configs): they agree, but Vigil does not check that section.
	var files, agreed, bothRejectUnsupported int
	for _, e := range entries {
		if !wholeConfig(e) {
			continue
		}
		name := e.Name()
		seen[name] = true
		files++
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			agentMode := strings.HasPrefix(name, "agent_mode.")
			upCfg, upErr := promconfig.LoadFile(path, agentMode, promslog.NewNopLogger())
			if upErr == nil {
				// Prometheus reads scrape_config_files when the scrape configs are asked for
				// (upstream's tests do so after LoadFile); Vigil's LoadFile reads them at once.
				_, upErr = upCfg.GetScrapeConfigs()
			}
			_, vigilErr := LoadFile(path)
			same := (upErr == nil) == (vigilErr == nil)
			rej, rejected := vigilRejects[name]
			why, known := knownDifferences[name]
			switch {
			case rejected:
				if upErr != nil {
					t.Fatalf("listed in vigilRejects but upstream rejects it too (%v): drop the entry", upErr)
				}
				if vigilErr == nil {
					t.Fatalf("listed in vigilRejects (%s) but Vigil loads it: drop the entry", rej.reason)
				}
				if !strings.Contains(vigilErr.Error(), "field "+rej.field+" ") {
					t.Errorf("Vigil's error does not name the field %s: %v", rej.field, vigilErr)
				}
			case known:
				if same {
					t.Fatalf("listed in knownDifferences (%s) but Vigil now agrees with upstream: drop the entry", why)
				}
				t.Logf("known difference: %s (upstream: %v; Vigil: %v)", why, upErr, vigilErr)
			case !same:
				t.Errorf("upstream error: %v\nVigil error: %v", upErr, vigilErr)
			default:
				agreed++
				if upErr != nil && strings.Contains(vigilErr.Error(), "is unknown or not supported by Vigil") {
					bothRejectUnsupported++
				}
			}
		})
	}
	for name := range vigilRejects {
		if !seen[name] {
			t.Errorf("vigilRejects lists %s, which is not in %s", name, dir)
		}
	}
	for name := range knownDifferences {
		if !seen[name] {
			t.Errorf("knownDifferences lists %s, which is not in %s", name, dir)
		}
	}
	if files < 200 {
		t.Errorf("only %d configuration files in %s; the upstream set has over 200", files, dir)
	}
	t.Logf("%d upstream config files: %d agree (%d of them rejected by both, by Vigil for an unsupported field), %d rejected on purpose, %d known differences",
		files, agreed, bothRejectUnsupported, len(vigilRejects), len(knownDifferences))
}
