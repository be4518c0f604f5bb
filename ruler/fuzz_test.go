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
