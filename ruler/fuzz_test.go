package ruler

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// FuzzLoadRuleFile feeds arbitrary rule files to the loader: it must return groups or errors,
// never panic, and every loaded rule must render back to YAML (reloads compare rules by it).
func FuzzLoadRuleFile(f *testing.F) {
	for _, pattern := range []string{"testdata/rules/*/*.yml", "testdata/unittest/*rules*.yml"} {
		files, _ := filepath.Glob(pattern)
		for _, fn := range files {
			b, err := os.ReadFile(fn)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    for: -1m\n"))
	f.Add([]byte("groups:\n- name: g\n  limit: -3\n  rules: []\n"))
	m := NewManager(&Options{})
	f.Fuzz(func(t *testing.T, content []byte) {
		fn := filepath.Join(t.TempDir(), "r.yml")
		if err := os.WriteFile(fn, content, 0o644); err != nil {
			t.Fatal(err)
		}
		groups, errs := m.LoadGroups(time.Minute, labels.EmptyLabels(), nil, fn)
		if errs != nil {
			return
		}
		for _, g := range groups {
			if g.Interval() <= 0 {
				t.Errorf("group %q loaded with interval %v", g.Name(), g.Interval())
			}
			for _, r := range g.Rules() {
				if r.String() == "" || r.Name() == "" {
					t.Errorf("rule %#v renders empty", r)
				}
			}
		}
	})
}

// FuzzParseAlertingRule feeds arbitrary text to the parser of /api/v1/rules/replay: it returns a
// rule or an error, never panics, and a rule it returns is an alerting rule that Replay
// accepts.
func FuzzParseAlertingRule(f *testing.F) {
	for _, s := range []string{
		"alert: A\nexpr: up == 0\nfor: 5m\nkeep_firing_for: 1m\nlabels: {a: b}\nannotations: {s: '{{ $value }}'}",
		"- alert: A\n  expr: up",
		"record: r\nexpr: up",
		"alert: A\nexpr: up\nfor: -1m",
		"[]", "~", "alert: !!binary AAAA\nexpr: up",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		r, err := ParseAlertingRule(text, nil, nil)
		if err != nil {
			return
		}
		if r.Alert == "" || r.Expr == "" {
			t.Fatalf("accepted %q as %+v", text, r)
		}
		if _, err := testParser.ParseExpr(r.Expr); err != nil {
			t.Fatalf("accepted an expression that does not parse: %q: %v", r.Expr, err)
		}
	})
}
