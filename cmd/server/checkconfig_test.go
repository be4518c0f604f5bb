package main

import (
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startsWith runs the server with the config file and reports whether it started (became
// ready; it is stopped again) or the error it stopped with.
func startsWith(t *testing.T, configFile string) error {
	t.Helper()
	addr := freeAddr(t)
	f, err := parseFlags([]string{"--storage.tsdb.path=" + t.TempDir(), "--web.listen-address=" + addr, "--web.enable-lifecycle", "--config.file=" + configFile})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run(f, slog.New(slog.DiscardHandler)) }()
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("server stopped without an error before it was ready")
			}
			return err
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			continue
		}
		if resp, err := http.Post(base+"/-/quit", "", nil); err == nil {
			resp.Body.Close()
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("server stopped with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("server did not stop after /-/quit")
		}
		return nil
	}
	t.Fatal("server neither ready nor stopped")
	return nil
}

// `vigil check config` accepts exactly the configurations the server starts with (and reloads:
// the same loading path), including what Prometheus only finds out at runtime, such as
// kubernetes_sd_configs without a cluster (accepted: the job runs without those targets and
// says why on /api/v1/targets).
func TestCheckConfigAcceptsWhatTheServerAccepts(t *testing.T) {
	// No in-cluster credentials, whatever the machine running the test has.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	for _, tc := range []struct {
		name   string
		config string
		files  map[string]string // more files in the config's directory
		accept bool
	}{
		{name: "minimal", config: "scrape_configs: []", accept: true},
		{name: "kubernetes_sd without a cluster", config: "scrape_configs:\n- job_name: k\n  kubernetes_sd_configs: [{role: pod}]\n", accept: true},
		{name: "kubernetes_sd with a missing kubeconfig", config: "scrape_configs:\n- job_name: k\n  kubernetes_sd_configs: [{role: pod, kubeconfig_file: /nonexistent/kubeconfig}]\n", accept: true},
		{name: "alertmanagers from kubernetes_sd without a cluster", config: "alerting:\n  alertmanagers:\n  - kubernetes_sd_configs: [{role: pod}]\n", accept: true},
		{name: "unknown field", config: "scrape_configs:\n- job_name: a\n  scrape_intervall: 1m\n", accept: false},
		{name: "duplicate job", config: "scrape_configs:\n- job_name: a\n- job_name: a\n", accept: false},
		{name: "good rule file", config: "rule_files: [r.yml]\n", files: map[string]string{"r.yml": "groups: [{name: g, rules: [{record: r, expr: vector(1)}]}]\n"}, accept: true},
		{name: "bad PromQL in a rule file", config: "rule_files: [r.yml]\n", files: map[string]string{"r.yml": "groups: [{name: g, rules: [{record: r, expr: 'vector(1'}]}]\n"}, accept: false},
		{name: "bad template in a rule file", config: "rule_files: [r.yml]\n", files: map[string]string{"r.yml": "groups: [{name: g, rules: [{alert: A, expr: vector(1), annotations: {s: '{{ .Foo '}}]}]\n"}, accept: false},
		{name: "missing rule file", config: "rule_files: [missing.yml]\n", accept: false},
		{name: "rule glob matching nothing", config: "rule_files: ['rules/*.yml']\n", accept: true},
		{name: "duplicate rule groups", config: "rule_files: [r.yml]\n", files: map[string]string{"r.yml": "groups: [{name: g, rules: []}, {name: g, rules: []}]\n"}, accept: false},
		{name: "missing CA file", config: "scrape_configs:\n- job_name: a\n  tls_config: {ca_file: /nonexistent/ca.pem}\n  static_configs: [{targets: ['127.0.0.1:1']}]\n", accept: false},
		{name: "missing password file", config: "scrape_configs:\n- job_name: a\n  basic_auth: {username: u, password_file: /nonexistent/pw}\n  static_configs: [{targets: ['127.0.0.1:1']}]\n", accept: true},
		{name: "missing scrape config file", config: "scrape_config_files: [jobs.yml]\n", accept: true},
		{name: "bad scrape config file", config: "scrape_config_files: [jobs.yml]\n", files: map[string]string{"jobs.yml": "scrape_configs: [{job_name: a, bogus: 1}]\n"}, accept: false},
		{name: "Alertmanager with a missing CA file", config: "alerting:\n  alertmanagers:\n  - tls_config: {ca_file: /nonexistent/ca.pem}\n    static_configs: [{targets: ['127.0.0.1:1']}]\n", accept: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg := filepath.Join(dir, "prometheus.yml")
			if err := os.WriteFile(cfg, []byte(tc.config), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errOut strings.Builder
			_, code := runRulesCommand([]string{"check", "config", cfg}, &out, &errOut)
			checkAccepts := code == 0
			serverErr := startsWith(t, cfg)
			if checkAccepts != (serverErr == nil) || checkAccepts != tc.accept {
				t.Errorf("check config exit %d (%s), server: %v; want both to %s", code, strings.TrimSpace(errOut.String()), serverErr, map[bool]string{true: "accept", false: "reject"}[tc.accept])
			}
		})
	}
}
