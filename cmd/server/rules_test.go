package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
