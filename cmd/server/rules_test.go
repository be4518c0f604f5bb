package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type apiRule struct {
	Name      string `json:"name"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
}

// ruleHealth reads /api/v1/rules: every rule by name.
func ruleHealth(t *testing.T, base string) map[string]apiRule {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Groups []struct {
				Rules []apiRule `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	out := map[string]apiRule{}
	for _, g := range body.Data.Groups {
		for _, r := range g.Rules {
			out[r.Name] = r
		}
	}
	return out
}

// Rules run on the API's engine: --query.max-samples fails a rule that loads more samples
// (health err, the engine's error), as it does in Prometheus; with the default limit the same
// rule is fine.
func TestRulesShareTheQueryEngine(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("rules.yml", `groups:
  - name: limits
    interval: 100ms
    rules:
      - record: many_samples
        expr: count_over_time(vector(1)[10m:1s])
      - alert: ManySamples
        expr: count_over_time(vector(1)[10m:1s]) > 0
      - record: few_samples
        expr: vector(1)
`)
	cfg := write("prometheus.yml", "rule_files: [rules.yml]\n")

	evaluated := func(base string) map[string]apiRule {
		var rules map[string]apiRule
		waitUntil(t, "rules evaluated", func() bool {
			rules = ruleHealth(t, base)
			for _, name := range []string{"many_samples", "ManySamples", "few_samples"} {
				if r, ok := rules[name]; !ok || r.Health == "unknown" {
					return false
				}
			}
			return true
		})
		return rules
	}

	t.Run("max-samples=100", func(t *testing.T) {
		rules := evaluated(startServer(t, "--config.file="+cfg, "--query.max-samples=100"))
		for _, name := range []string{"many_samples", "ManySamples"} {
			r := rules[name]
			if r.Health != "err" || !strings.Contains(r.LastError, "query processing would load too many samples into memory") {
				t.Errorf("%s: health %q, last error %q; want err, too many samples", name, r.Health, r.LastError)
			}
		}
		if r := rules["few_samples"]; r.Health != "ok" {
			t.Errorf("few_samples: health %q (%s)", r.Health, r.LastError)
		}
	})
	t.Run("default", func(t *testing.T) {
		rules := evaluated(startServer(t, "--config.file="+cfg))
		for name, r := range rules {
			if r.Health != "ok" {
				t.Errorf("%s: health %q (%s)", name, r.Health, r.LastError)
			}
		}
	})
}

// /api/v1/alertmanagers lists the rule sender's Alertmanagers: those relabel_configs keep as
// active, the others as dropped, and follows reloads.
func TestAlertmanagersEndpoint(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "prometheus.yml")
	write := func(content string) {
		if err := os.WriteFile(cfgFile, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`alerting:
  alertmanagers:
    - path_prefix: /am
      static_configs:
        - targets: ['am1.example:9093', 'skip.example:9093']
      relabel_configs:
        - source_labels: [__address__]
          regex: 'skip.*'
          action: drop
`)
	base := startServer(t, "--config.file="+cfgFile)
	get := func() (active, dropped []string) {
		resp, err := http.Get(base + "/api/v1/alertmanagers")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Data struct {
				Active  []struct{ URL string } `json:"activeAlertmanagers"`
				Dropped []struct{ URL string } `json:"droppedAlertmanagers"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		for _, a := range body.Data.Active {
			active = append(active, a.URL)
		}
		for _, d := range body.Data.Dropped {
			dropped = append(dropped, d.URL)
		}
		return active, dropped
	}
	active, dropped := get()
	if !slices.Equal(active, []string{"http://am1.example:9093/am/api/v2/alerts"}) || !slices.Equal(dropped, []string{"http://skip.example:9093/am/api/v2/alerts"}) {
		t.Fatalf("active %q, dropped %q", active, dropped)
	}

	write("alerting:\n  alertmanagers:\n    - scheme: https\n      static_configs:\n        - targets: ['am2.example:9093']\n")
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %d", resp.StatusCode)
	}
	active, dropped = get()
	if !slices.Equal(active, []string{"https://am2.example:9093/api/v2/alerts"}) || len(dropped) != 0 {
		t.Fatalf("after reload: active %q, dropped %q", active, dropped)
	}

	// Alertmanagers from file_sd_configs (relative to the config file) are listed as discovered
	// and follow the file.
	amFile := filepath.Join(dir, "am.json")
	writeAMs := func(content string) {
		tmp := filepath.Join(dir, ".am.tmp")
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, amFile); err != nil {
			t.Fatal(err)
		}
	}
	writeAMs(`[{"targets": ["am3.example:9093", "skip.example:9093"]}]`)
	write(`alerting:
  alertmanagers:
    - file_sd_configs: [{files: [am.json]}]
      relabel_configs:
        - source_labels: [__address__]
          regex: 'skip.*'
          action: drop
`)
	resp, err = http.Post(base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reload with file_sd_configs: %d", resp.StatusCode)
	}
	waitLists := func(wantActive, wantDropped []string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			active, dropped = get()
			if slices.Equal(active, wantActive) && slices.Equal(dropped, wantDropped) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("file_sd: active %q, dropped %q; want %q, %q", active, dropped, wantActive, wantDropped)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLists([]string{"http://am3.example:9093/api/v2/alerts"}, []string{"http://skip.example:9093/api/v2/alerts"})
	writeAMs(`[{"targets": ["am4.example:9093"]}]`)
	waitLists([]string{"http://am4.example:9093/api/v2/alerts"}, nil)
}
