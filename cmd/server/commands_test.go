package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The promtool-compatible commands keep promtool's outputs and exit codes.
func TestRulesCommands(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yml", "groups: [{name: g, rules: [{record: r, expr: vector(1)}]}]\n")
	bad := write("bad.yml", "groups: [{name: g, rules: [{record: r, expr: 'vector(1'}]}]\n")
	cfg := write("prometheus.yml", "rule_files: [good.yml]\n")
	test := write("test.yml", "rule_files: [good.yml]\ntests:\n- interval: 1m\n  promql_expr_test:\n  - expr: r\n    eval_time: 0m\n    exp_samples: [{labels: 'r', value: 1}]\n")
	for _, tc := range []struct {
		args    []string
		code    int
		wantOut string
	}{
		{[]string{"check", "rules", good}, 0, "SUCCESS: 1 rules found"},
		{[]string{"check", "rules", bad}, 1, "FAILED"},
		{[]string{"check", "rules"}, 1, "required argument 'rule-files' not provided"},
		{[]string{"check", "config", cfg}, 0, "SUCCESS"},
		{[]string{"test", "rules", test}, 0, "SUCCESS"},
		{[]string{"check"}, 1, "must select a subcommand of 'check'"},
	} {
		var out, errOut strings.Builder
		handled, code := runRulesCommand(tc.args, &out, &errOut)
		if !handled || code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.wantOut) {
			t.Errorf("%q: handled %v, code %d, output %q %q; want code %d and %q", tc.args, handled, code, out.String(), errOut.String(), tc.code, tc.wantOut)
		}
	}
	if handled, _ := runRulesCommand([]string{"--config.file=x"}, nil, nil); handled {
		t.Error("server flags taken for a rules command")
	}
}
