package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
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

// `vigil tsdb import` parses its arguments and flags, reports failures with exit code 1 and the
// reason, and leaves the server's flag parsing alone.
func TestImportCommandArgs(t *testing.T) {
	dir := t.TempDir()
	om := filepath.Join(dir, "in.om")
	if err := os.WriteFile(om, []byte("# TYPE a gauge\na{x=\"1\"} 1 7200\na{x=\"1\"} 2 7260\n# EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args    []string
		code    int
		wantOut string
	}{
		{[]string{"tsdb", "import", "prometheus"}, 2, "required argument 'source' not provided"},
		{[]string{"tsdb", "import", "prometheus", filepath.Join(dir, "missing")}, 2, "does not exist"},
		{[]string{"tsdb", "import", "prometheus", dir, "--storage.tsdb.path=" + filepath.Join(dir, "out")}, 1, "must not contain each other"},
		{[]string{"tsdb", "import", "prometheus", t.TempDir(), "--storage.tsdb.path=" + filepath.Join(dir, "d1")}, 1, "no Prometheus blocks in"},
		{[]string{"tsdb", "import", "openmetrics", om, "--storage.tsdb.path=" + filepath.Join(dir, "d2"), "--label=env=test"}, 0, "imported 1 blocks (1 series, 2 samples)"},
		{[]string{"tsdb", "import", "openmetrics", om, filepath.Join(dir, "d3"), "-q"}, 0, "imported 1 blocks"},
		{[]string{"tsdb", "import", "openmetrics", filepath.Join(dir, "nope.om"), "--storage.tsdb.path=" + filepath.Join(dir, "d4")}, 1, "import failed"},
		{[]string{"tsdb"}, 2, "must select a subcommand of 'tsdb'"},
	} {
		var out, errOut strings.Builder
		handled, code := runImportCommand(tc.args, &out, &errOut)
		if !handled || code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.wantOut) {
			t.Errorf("%q: handled %v, code %d, output %q %q; want code %d and %q", tc.args, handled, code, out.String(), errOut.String(), tc.code, tc.wantOut)
		}
	}
	if handled, _ := runImportCommand([]string{"--storage.tsdb.path=x"}, nil, nil); handled {
		t.Error("server flags taken for an import command")
	}
	if _, err := parseFlagsOf(kingpin.New("vigil", ""), []string{"tsdb", "import", "openmetrics", om}); err != nil {
		t.Errorf("the server's application does not know the import commands: %v", err)
	}
}
