package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// metricValue reads an unlabelled metric from the server's /metrics.
func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("%s not in /metrics", name)
	return 0
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// SIGHUP and POST /-/reload take the same path: each reloads both prometheus.yml and
// alertmanager.yml, a bad file keeps its running configuration and sets its own
// *_config_last_reload_successful to 0, and the other file is applied all the same.
func TestSIGHUPAndReloadEndpointReloadBothFiles(t *testing.T) {
	for _, via := range []string{"SIGHUP", "POST /-/reload"} {
		t.Run(via, func(t *testing.T) {
			dir := t.TempDir()
			promFile, amFile := filepath.Join(dir, "prometheus.yml"), filepath.Join(dir, "alertmanager.yml")
			write := func(file, content string) {
				if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			promCfg := func(job string) string {
				return fmt.Sprintf("scrape_configs:\n- job_name: %s\n  static_configs: [{targets: ['127.0.0.1:1']}]\n", job)
			}
			amCfg := func(receiver string) string {
				return fmt.Sprintf("route: {receiver: %s}\nreceivers: [{name: %s}]\n", receiver, receiver)
			}
			const badProm = "scrape_configs:\n- job_name: x\n  scrape_intervall: 1s\n"
			const badAM = "route: {receiver: nobody}\nreceivers: [{name: somebody}]\n"
			write(promFile, promCfg("first"))
			write(amFile, amCfg("first"))
			base := startServer(t, "--config.file="+promFile, "--alertmanager.config.file="+amFile)

			state := func() (prom, am float64) {
				return metricValue(t, base, "prometheus_config_last_reload_successful"), metricValue(t, base, "alertmanager_config_last_reload_successful")
			}
			running := func() (job, receiver string) {
				cfg := getBody(t, base+"/api/v1/status/config")
				status := getBody(t, base+"/api/v2/status")
				for _, name := range []string{"first", "second", "third"} {
					if strings.Contains(cfg, "job_name: "+name) {
						job = name
					}
					if strings.Contains(status, "receiver: "+name) {
						receiver = name
					}
				}
				return job, receiver
			}
			if p, a := state(); p != 1 || a != 1 {
				t.Fatalf("after start: prometheus %v, alertmanager %v; want 1, 1", p, a)
			}
			reload := func(wantProm, wantAM float64, wantErr string) {
				t.Helper()
				if via == "SIGHUP" {
					if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
						t.Fatal(err)
					}
					waitUntil(t, "reload after SIGHUP", func() bool {
						p, a := state()
						return p == wantProm && a == wantAM
					})
					return
				}
				resp, err := http.Post(base+"/-/reload", "", nil)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), wantErr) {
					t.Fatalf("POST /-/reload: %d %s; want 500 with %q", resp.StatusCode, body, wantErr)
				}
				if p, a := state(); p != wantProm || a != wantAM {
					t.Fatalf("prometheus %v, alertmanager %v; want %v, %v", p, a, wantProm, wantAM)
				}
			}

			// A bad alertmanager.yml next to a good prometheus.yml.
			write(promFile, promCfg("second"))
			write(amFile, badAM)
			reload(1, 0, `--alertmanager.config.file="`+amFile+`"`)
			if job, receiver := running(); job != "second" || receiver != "first" {
				t.Fatalf("running job %q, receiver %q; want second, first", job, receiver)
			}

			// A good alertmanager.yml next to a bad prometheus.yml.
			write(promFile, badProm)
			write(amFile, amCfg("third"))
			reload(0, 1, "field scrape_intervall is unknown")
			if job, receiver := running(); job != "second" || receiver != "third" {
				t.Fatalf("running job %q, receiver %q; want second, third", job, receiver)
			}
		})
	}
}

// A reloaded prometheus.yml whose rule file does not load changes nothing: scraping keeps its
// jobs too (the rules' check runs before any component applies the file).
func TestReloadWithBadRuleFileChangesNothing(t *testing.T) {
	dir := t.TempDir()
	promFile, rulesFile := filepath.Join(dir, "prometheus.yml"), filepath.Join(dir, "rules.yml")
	write := func(file, content string) {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	promCfg := func(job string) string {
		return fmt.Sprintf("rule_files: [%q]\nscrape_configs:\n- job_name: %s\n  static_configs: [{targets: ['127.0.0.1:1']}]\n", rulesFile, job)
	}
	write(rulesFile, "groups: [{name: g, rules: [{record: r, expr: vector(1)}]}]\n")
	write(promFile, promCfg("first"))
	base := startServer(t, "--config.file="+promFile)

	write(rulesFile, "groups: [{name: g, rules: [{record: r, expr: 'vector(1'}]}]\n")
	write(promFile, promCfg("second"))
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "configuration rejected, nothing changed") || !strings.Contains(string(body), "rules.yml") {
		t.Fatalf("POST /-/reload: %d %s", resp.StatusCode, body)
	}
	if pools := getBody(t, base+"/api/v1/scrape_pools"); !strings.Contains(pools, `"first"`) || strings.Contains(pools, `"second"`) {
		t.Errorf("scrape pools after a rejected reload: %s", pools)
	}
	if v := metricValue(t, base, "prometheus_config_last_reload_successful"); v != 0 {
		t.Errorf("prometheus_config_last_reload_successful = %v", v)
	}
}
