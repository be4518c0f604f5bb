package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// configMapDir is a directory laid out as the kubelet lays out a ConfigMap volume: each file a
// symlink into ..data, a symlink to the current version's directory, swapped atomically.
type configMapDir struct {
	t       *testing.T
	dir     string
	version int
}

func (c *configMapDir) publish(files map[string]string) {
	t := c.t
	t.Helper()
	c.version++
	ts := fmt.Sprintf("..2026_12_06_00_00_%02d.%d", c.version, c.version)
	if err := os.Mkdir(filepath.Join(c.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(c.dir, ts, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(c.dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	old, _ := os.Readlink(filepath.Join(c.dir, "..data"))
	if err := os.Symlink(ts, filepath.Join(c.dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(c.dir, "..data_tmp"), filepath.Join(c.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if old != "" {
		os.RemoveAll(filepath.Join(c.dir, old))
	}
}

// prometheus.yml, its rule files and alertmanager.yml mounted from ConfigMaps are reloaded when
// the ConfigMap changes, with SIGHUP's keep-the-old-on-error behaviour.
func TestAutoReloadConfigMaps(t *testing.T) {
	cm := &configMapDir{t: t, dir: t.TempDir()}
	am := &configMapDir{t: t, dir: t.TempDir()}
	prom := func(job string) string {
		return fmt.Sprintf("rule_files: [rules.yml]\nscrape_configs:\n- job_name: %s\n  static_configs: [{targets: ['127.0.0.1:1']}]\n", job)
	}
	rules := func(name, expr string) string {
		return fmt.Sprintf("groups: [{name: g, rules: [{record: %s, expr: '%s'}]}]\n", name, expr)
	}
	amCfg := func(receiver string) string {
		return fmt.Sprintf("route: {receiver: %s}\nreceivers: [{name: %s}]\n", receiver, receiver)
	}
	cm.publish(map[string]string{"prometheus.yml": prom("first"), "rules.yml": rules("r1", "vector(1)")})
	am.publish(map[string]string{"alertmanager.yml": amCfg("one")})
	base := startServer(t, "--config.file="+filepath.Join(cm.dir, "prometheus.yml"),
		"--alertmanager.config.file="+filepath.Join(am.dir, "alertmanager.yml"),
		"--config.auto-reload-interval=1s", "--enable-feature=auto-reload-config")

	cm.publish(map[string]string{"prometheus.yml": prom("second"), "rules.yml": rules("r2", "vector(2)")})
	am.publish(map[string]string{"alertmanager.yml": amCfg("two")})
	waitUntil(t, "new scrape pool, rule and receiver", func() bool {
		return strings.Contains(getBody(t, base+"/api/v1/scrape_pools"), `"second"`) &&
			strings.Contains(getBody(t, base+"/api/v1/rules"), `"r2"`) &&
			strings.Contains(getBody(t, base+"/api/v2/receivers"), `"two"`)
	})

	// A bad rule file: nothing changes, the failure is reported.
	cm.publish(map[string]string{"prometheus.yml": prom("third"), "rules.yml": rules("r3", "vector(")})
	waitUntil(t, "failed reload reported", func() bool {
		return metricValue(t, base, "prometheus_config_last_reload_successful") == 0
	})
	if pools := getBody(t, base+"/api/v1/scrape_pools"); !strings.Contains(pools, `"second"`) || strings.Contains(pools, `"third"`) {
		t.Errorf("scrape pools after a rejected reload: %s", pools)
	}
	if r := getBody(t, base+"/api/v1/rules"); !strings.Contains(r, `"r2"`) {
		t.Errorf("rules after a rejected reload: %s", r)
	}
	// Fixed: applied.
	cm.publish(map[string]string{"prometheus.yml": prom("fourth"), "rules.yml": rules("r4", "vector(4)")})
	waitUntil(t, "fixed config applied", func() bool {
		return metricValue(t, base, "prometheus_config_last_reload_successful") == 1 &&
			strings.Contains(getBody(t, base+"/api/v1/scrape_pools"), `"fourth"`)
	})
}

// The flags: on by default (unlike Prometheus), --no-config.auto-reload turns it off, the
// Prometheus 3 feature flag turns it on, the interval is at least 1s.
func TestAutoReloadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 30 * time.Second},
		{[]string{"--config.auto-reload-interval=10s"}, 10 * time.Second},
		{[]string{"--no-config.auto-reload"}, 0},
		{[]string{"--no-config.auto-reload", "--enable-feature=auto-reload-config"}, 30 * time.Second},
		{[]string{"--enable-feature=exemplar-storage,auto-reload-config", "--config.auto-reload-interval=100ms"}, time.Second},
	} {
		f, err := parseFlags(tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := f.autoReload.resolve(slog.New(slog.DiscardHandler)); got != tc.want {
			t.Errorf("%v: interval %v, want %v", tc.args, got, tc.want)
		}
	}
}

// The head snapshot at shutdown: on by default, off with the --no- flag, and Prometheus's
// feature flag turns it on whatever the Vigil flag says.
func TestHeadSnapshotFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"--no-storage.tsdb.snapshot-on-shutdown"}, false},
		{[]string{"--no-storage.tsdb.snapshot-on-shutdown", "--enable-feature=memory-snapshot-on-shutdown"}, true},
		{[]string{"--no-storage.tsdb.snapshot-on-shutdown", "--enable-feature=exemplar-storage, memory-snapshot-on-shutdown"}, true},
		{[]string{"--no-storage.tsdb.snapshot-on-shutdown", "--enable-feature=auto-reload-config"}, false},
	} {
		f, err := parseFlags(tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := f.headSnapshotOnShutdown(); got != tc.want {
			t.Errorf("%v: snapshot on shutdown %v, want %v", tc.args, got, tc.want)
		}
	}
}
