package discovery

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/config"
)

// A Set reports all groups of all its discoverers on every change, in discoverer order, and
// forgets the groups a discoverer removes.
func TestSetFollowsChanges(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "am.json")
	write := func(content string) {
		t.Helper()
		tmp := filepath.Join(dir, ".tmp")
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write(`[{"targets": ["f1:1"]}, {"targets": ["f2:1"]}]`)
	cfg, err := config.Load(`
alerting:
  alertmanagers:
    - static_configs: [{targets: ['s1:1']}, {targets: ['s2:1']}]
      file_sd_configs: [{files: ['` + file + `'], refresh_interval: 1h}]
`)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSet(Configs(&cfg.AlertingConfig.AlertmanagerConfigs[0].ServiceDiscoveryConfigs), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	updates := make(chan string, 100)
	s.Run(context.Background(), func(tgs []*config.TargetGroup) {
		var addrs []string
		for _, tg := range tgs {
			for _, t := range tg.Targets {
				addrs = append(addrs, string(t["__address__"]))
			}
		}
		updates <- strings.Join(addrs, ",")
	})
	defer s.Stop()
	waitUpdate := func(want string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case got := <-updates:
				if got == want {
					return
				}
			case <-timeout:
				t.Fatalf("no update with targets %q", want)
			}
		}
	}
	waitUpdate("s1:1,s2:1,f1:1,f2:1")
	write(`[{"targets": ["f3:1"]}]`)
	waitUpdate("s1:1,s2:1,f3:1")
	s.Stop()
	s.Stop()
}

func TestNewUnknownKind(t *testing.T) {
	if _, err := New(Config{Kind: "consul"}, nil, Options{}); err == nil || !strings.Contains(err.Error(), `unknown discovery kind "consul"`) {
		t.Fatalf("err %v", err)
	}
}
