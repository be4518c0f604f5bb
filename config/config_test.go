package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestLoadFileFull(t *testing.T) {
	cfg, err := LoadFile("testdata/full.yml")
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.GlobalConfig
	if g.ScrapeInterval != model.Duration(30*time.Second) || g.EvaluationInterval != model.Duration(20*time.Second) {
		t.Errorf("global intervals: %+v", g)
	}
	if g.ExternalLabels.Get("cluster") != "prod" {
		t.Errorf("external labels: %v", g.ExternalLabels)
	}
	if len(cfg.ScrapeConfigs) != 2 {
		t.Fatalf("want 2 scrape configs, got %d", len(cfg.ScrapeConfigs))
	}
	node := cfg.ScrapeConfig("node")
	if node == nil {
		t.Fatal("job node missing")
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"interval", node.ScrapeInterval, model.Duration(10 * time.Second)},
		{"timeout", node.ScrapeTimeout, model.Duration(5 * time.Second)},
		{"path", node.MetricsPath, "/probe"},
		{"scheme", node.Scheme, "https"},
		{"param", node.Params.Get("module"), "http_2xx"},
		{"honor_labels", node.HonorLabels, true},
		{"honor_timestamps", node.HonorTimestamps, false},
		{"sample_limit", node.SampleLimit, uint(100)},
		{"label_limit from global", node.LabelLimit, uint(30)},
		{"body_size_limit", int64(node.BodySizeLimit), int64(1024)},
		{"protocols from global", len(node.ScrapeProtocols), 2},
		{"static targets", len(node.StaticConfigs[0].Targets), 2},
		{"static label", string(node.StaticConfigs[0].Labels["env"]), "prod"},
		{"file sd dir joined", node.FileSDConfigs[0].Files[0], filepath.Join("testdata", "sd/*.json")},
		{"password_file joined", node.HTTPClientConfig.BasicAuth.PasswordFile, filepath.Join("testdata", "secrets/pw")},
		{"follow_redirects", node.HTTPClientConfig.FollowRedirects, false},
		{"http sd refresh default", node.HTTPSDConfigs[0].RefreshInterval, model.Duration(time.Minute)},
		{"rule files joined", cfg.RuleFiles[0], filepath.Join("testdata", "rules/*.yml")},
		{"alertmanager timeout", cfg.AlertingConfig.AlertmanagerConfigs[0].Timeout, model.Duration(5 * time.Second)},
		{"k8s role", cfg.ScrapeConfigs[1].KubernetesSDConfigs[0].Role, KubernetesRolePod},
		{"k8s job inherits interval", cfg.ScrapeConfigs[1].ScrapeInterval, model.Duration(30 * time.Second)},
		{"k8s job default compression", cfg.ScrapeConfigs[1].EnableCompression, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	s := cfg.String()
	if strings.Contains(s, "s3cret") || !strings.Contains(s, "<secret>") {
		t.Errorf("String() must hide secrets:\n%s", s)
	}
	// The marshalled form must load again (the status API output is a valid config).
	if _, err := Load(s); err != nil {
		t.Errorf("re-loading String() output: %v", err)
	}
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.ScrapeConfig("vigil")
	if sc == nil || string(sc.StaticConfigs[0].Targets[0][model.AddressLabel]) != "localhost:9090" {
		t.Fatalf("default config must scrape vigil on localhost:9090: %+v", cfg.ScrapeConfigs)
	}
	empty, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if empty.GlobalConfig.ScrapeInterval != model.Duration(time.Minute) || empty.GlobalConfig.ScrapeTimeout != model.Duration(10*time.Second) {
		t.Errorf("empty config defaults: %+v", empty.GlobalConfig)
	}
	emptyGlobal, err := Load("global:\n")
	if err != nil {
		t.Fatal(err)
	}
	if emptyGlobal.GlobalConfig.ScrapeInterval != model.Duration(time.Minute) {
		t.Errorf("empty global block must keep defaults: %+v", emptyGlobal.GlobalConfig)
	}
	short, err := Load("global:\n  scrape_interval: 5s\nscrape_configs:\n- job_name: a\n")
	if err != nil {
		t.Fatal(err)
	}
	if short.GlobalConfig.ScrapeTimeout != model.Duration(5*time.Second) || short.ScrapeConfigs[0].ScrapeTimeout != model.Duration(5*time.Second) {
		t.Errorf("timeout must be capped at the interval: %v %v", short.GlobalConfig.ScrapeTimeout, short.ScrapeConfigs[0].ScrapeTimeout)
	}
	if sc := short.ScrapeConfigs[0]; sc.MetricsPath != "/metrics" || sc.Scheme != "http" || !sc.HonorTimestamps || len(sc.ScrapeProtocols) != 4 {
		t.Errorf("scrape defaults: %+v", sc)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown top-level", "remote_read:\n  - url: http://x\n", "line 1: field remote_read is unknown or not supported by Vigil"},
		{"remote_write azuread", "remote_write:\n  - url: http://x\n    azuread:\n      cloud: AzurePublic\n", "remote_write: azuread is not supported by Vigil"},
		{"remote_write google_iam", "remote_write:\n  - url: http://x\n    google_iam:\n      credentials_file: /x\n", "remote_write: google_iam is not supported by Vigil"},
		{"remote_write exemplars", "remote_write:\n  - url: http://x\n    send_exemplars: true\n", "remote_write: send_exemplars is not supported"},
		{"remote_write round robin", "remote_write:\n  - url: http://x\n    round_robin_dns: true\n", "remote_write: round_robin_dns is not supported"},
		{"remote_write two auths", "remote_write:\n  - url: http://x\n    basic_auth: {username: a}\n    authorization: {credentials: b}\n", "at most one of basic_auth"},
		{"remote_write no url", "remote_write:\n  - name: a\n", "url for remote_write is empty"},
		{"remote_write dup name", "remote_write:\n  - url: http://x\n    name: a\n  - url: http://y\n    name: a\n", `found multiple remote write configs with job name "a"`},
		{"remote_write bad message", "remote_write:\n  - url: http://x\n    protobuf_message: foo\n", "invalid protobuf_message value"},
		{"remote_write typo", "remote_write:\n  - url: http://x\n    queue_config:\n      max_shard: 3\n", "field max_shard is unknown"},
		{"remote_write reserved header", "remote_write:\n  - url: http://x\n    headers:\n      Content-Type: x\n", "reserved header"},
		{"remote_write min > max shards", "remote_write:\n  - url: http://x\n    queue_config:\n      min_shards: 5\n      max_shards: 2\n", "min_shards must not be greater than max_shards"},
		{"typo in scrape config", "scrape_configs:\n  - job_name: a\n    scrape_intervall: 1s\n", "line 3: field scrape_intervall is unknown"},
		{"unsupported sd", "scrape_configs:\n  - job_name: a\n    consul_sd_configs: []\n", "line 3: field consul_sd_configs is unknown"},
		{"unknown global", "global:\n  foo: 1\n", "line 2: field foo"},
		{"timeout > interval", "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n", `scrape timeout greater than scrape interval for scrape config with job name "a"`},
		{"global timeout > interval", "global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n", "global scrape timeout greater than scrape interval"},
		{"duplicate job", "scrape_configs:\n  - job_name: a\n  - job_name: a\n", `found multiple scrape configs with job name "a"`},
		{"empty job name", "scrape_configs:\n  - job_name: ''\n", "job_name is empty"},
		{"null static config", "scrape_configs:\n  - job_name: a\n    static_configs:\n      -\n", "empty or null section in static_configs"},
		{"null alertmanager sd config", "alerting:\n  alertmanagers:\n    - file_sd_configs: [null]\n", "empty or null section in file_sd_configs"},
		{"url as target", "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['http://x:1/metrics']\n", `"http://x:1/metrics" is not a valid hostname`},
		{"bad protocol", "scrape_configs:\n  - job_name: a\n    scrape_protocols: [Foo]\n", "unknown scrape protocol Foo"},
		{"dup protocol", "global:\n  scrape_protocols: [PrometheusText0.0.4, PrometheusText0.0.4]\n", "duplicated protocol in scrape_protocols"},
		{"bad relabel regex", "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - regex: '('\n", "error parsing regexp"},
		{"relabel missing target", "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: replace\n        source_labels: [a]\n        target_label: ''\n", "requires 'target_label' value"},
		{"null relabel", "scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n      -\n", "empty or null metric relabeling rule"},
		{"basic auth and authorization", "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: p}\n    authorization: {credentials: c}\n", "at most one of basic_auth, oauth2 & authorization must be configured"},
		{"password and password_file", "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: p, password_file: f}\n", "at most one of basic_auth password, password_file & password_ref must be configured"},
		{"bad scheme", "scrape_configs:\n  - job_name: a\n    scheme: ftp\n", `invalid scheme "ftp"`},
		{"file sd bad name", "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [foo.txt]\n", `path name "foo.txt" is not valid for file discovery`},
		{"file sd empty", "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: []\n", "must contain at least one path name"},
		{"http sd no url", "scrape_configs:\n  - job_name: a\n    http_sd_configs:\n      - refresh_interval: 1s\n", "URL is missing"},
		{"http sd bad scheme", "scrape_configs:\n  - job_name: a\n    http_sd_configs:\n      - url: ftp://x\n", "URL scheme must be 'http' or 'https'"},
		{"k8s no role", "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs:\n      - namespaces: {names: [a]}\n", "role missing"},
		{"k8s bad role", "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs:\n      - role: deployment\n", `unknown Kubernetes SD role "deployment"`},
		{"k8s bad selector role", "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs:\n      - role: node\n        selectors: [{role: pod, label: a=b}]\n", "node role supports only node selectors"},
		{"k8s bad selector", "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs:\n      - role: pod\n        selectors: [{role: pod, label: 'a=(b'}]\n", "unable to parse requirement"},
		{"k8s kubeconfig and api server", "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs:\n      - role: pod\n        api_server: https://x\n        kubeconfig_file: k\n", "cannot use 'kubeconfig_file' and 'api_server' simultaneously"},
		{"bad external label", "global:\n  external_labels:\n    '': x\n", "is not a valid"},
		{"bad rule file", "rule_files: ['a/*/b.yml']\n", `invalid rule file path "a/*/b.yml"`},
		{"bad am api version", "alerting:\n  alertmanagers:\n    - api_version: v1\n", "expected Alertmanager api version to be one of [v2] but got v1"},
		{"not yaml", "scrape_configs: [\n", "yaml:"},
		{"wrong type", "global:\n  scrape_interval: [1]\n", "line 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.yaml)
			if err == nil {
				t.Fatalf("expected an error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "nope.yml"))
	if err == nil || !strings.Contains(err.Error(), "reading config file") {
		t.Fatalf("want a read error, got %v", err)
	}
}

func TestScrapeConfigFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("prometheus.yml", "global: {scrape_interval: 7s}\nscrape_config_files: ['jobs/*.yml']\nscrape_configs:\n- job_name: main\n")
	write("jobs/a.yml", "scrape_configs:\n- job_name: a\n  file_sd_configs: [{files: [sd/*.json]}]\n")
	cfg, err := LoadFile(filepath.Join(dir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.ScrapeConfig("a")
	if a == nil || len(cfg.ScrapeConfigs) != 2 {
		t.Fatalf("jobs: %+v", cfg.ScrapeConfigs)
	}
	if a.ScrapeInterval != model.Duration(7*time.Second) {
		t.Errorf("job from a file must get the global interval, got %v", a.ScrapeInterval)
	}
	if want := filepath.Join(dir, "jobs", "sd/*.json"); a.FileSDConfigs[0].Files[0] != want {
		t.Errorf("paths must be relative to the job's file: %s, want %s", a.FileSDConfigs[0].Files[0], want)
	}
	for _, c := range []struct{ file, content, err string }{
		{"jobs/b.yml", "scrape_configs:\n- job_name: main\n", `found multiple scrape configs with job name "main", first found in main config file`},
		{"jobs/b.yml", "scrape_configs:\n- job_name: b\n  bogus: 1\n", "line 3: field bogus is unknown"},
		{"jobs/b.yml", "scrape_configs:\n- job_name: b\n  scrape_timeout: 8s\n", `scrape timeout greater than scrape interval for scrape config with job name "b"`},
	} {
		write(c.file, c.content)
		_, err := LoadFile(filepath.Join(dir, "prometheus.yml"))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: err %v, want %q", c.content, err, c.err)
		}
	}
	if _, err := Load("scrape_config_files: ['a/*/b.yml']\n"); err == nil || !strings.Contains(err.Error(), `invalid scrape config file path "a/*/b.yml"`) {
		t.Errorf("bad pattern: %v", err)
	}
}

// TestRuntimeBlock: Prometheus's runtime block (gogc, log_level) with its defaults: GOGC from
// the environment, else 75.
func TestRuntimeBlock(t *testing.T) {
	for _, tc := range []struct {
		name, env, yml string
		want           RuntimeConfig
		err            string
	}{
		{name: "absent", yml: "global: {}\n", want: RuntimeConfig{GoGC: 75}},
		{name: "empty file", yml: "", want: RuntimeConfig{GoGC: 75}},
		{name: "env", env: "120", yml: "", want: RuntimeConfig{GoGC: 120}},
		{name: "env off", env: "off", yml: "", want: RuntimeConfig{GoGC: -1}},
		{name: "set", env: "120", yml: "runtime:\n  gogc: 50\n", want: RuntimeConfig{GoGC: 50}},
		{name: "only log level", yml: "runtime:\n  log_level: debug\n", want: RuntimeConfig{GoGC: 75, LogLevel: "debug"}},
		{name: "empty block", yml: "runtime:\n", want: RuntimeConfig{GoGC: 75}},
		{name: "bad level", yml: "runtime:\n  log_level: loud\n", err: `unrecognized log level "loud"`},
		{name: "unknown field", yml: "runtime:\n  gomaxprocs: 2\n", err: "field gomaxprocs is unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", tc.env)
			cfg, err := Load(tc.yml)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Runtime != tc.want {
				t.Fatalf("runtime = %+v, want %+v", cfg.Runtime, tc.want)
			}
		})
	}
}

func TestRemoteWriteConfig(t *testing.T) {
	cfg, err := Load(`
remote_write:
  - url: http://recv:9090/api/v1/write
    name: lts
    remote_timeout: 10s
    headers: {X-Scope-OrgID: team}
    basic_auth: {username: u, password: p}
    protobuf_message: io.prometheus.write.v2.Request
    write_relabel_configs:
      - source_labels: [__name__]
        regex: go_.*
        action: drop
    queue_config: {capacity: 500, min_shards: 2, max_shards: 4, max_samples_per_send: 100, batch_send_deadline: 1s, min_backoff: 10ms, max_backoff: 1s, retry_on_http_429: true}
    metadata_config: {send: false, send_interval: 30s}
  - url: http://other/api/v1/write
`)
	if err != nil {
		t.Fatal(err)
	}
	rw := cfg.RemoteWriteConfigs
	if len(rw) != 2 {
		t.Fatalf("want 2 remote_write configs, got %d", len(rw))
	}
	q := rw[0].QueueConfig
	if q.Capacity != 500 || q.MinShards != 2 || q.MaxShards != 4 || q.MaxSamplesPerSend != 100 || !q.RetryOnRateLimit ||
		q.BatchSendDeadline != model.Duration(time.Second) || q.MinBackoff != model.Duration(10*time.Millisecond) {
		t.Errorf("queue_config: %+v", q)
	}
	if rw[0].ProtobufMessage != "io.prometheus.write.v2.Request" || rw[0].MetadataConfig.Send || rw[0].Headers["X-Scope-OrgID"] != "team" {
		t.Errorf("first config: %+v", rw[0])
	}
	if rw[1].QueueConfig != DefaultQueueConfig || rw[1].ProtobufMessage != "prometheus.WriteRequest" || !rw[1].MetadataConfig.Send ||
		rw[1].RemoteTimeout != model.Duration(30*time.Second) {
		t.Errorf("defaults not applied: %+v", rw[1])
	}
	h1, _ := rw[0].Hash()
	h2, _ := rw[1].Hash()
	if h1 == h2 || len(h1) != 32 {
		t.Errorf("hashes %q %q", h1, h2)
	}
	if strings.Contains(cfg.String(), "password: p") {
		t.Error("password shown in the config string")
	}
}
