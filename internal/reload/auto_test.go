package reload

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// watched is a configuration file on disk whose loads are counted; content "bad" fails to load.
type watched struct {
	mu      sync.Mutex
	path    string
	loads   int
	applied []string
}

func (w *watched) load() (string, error) {
	b, err := os.ReadFile(w.path)
	w.mu.Lock()
	w.loads++
	w.mu.Unlock()
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(string(b)) == "bad" {
		return "", os.ErrInvalid
	}
	return string(b), nil
}

func (w *watched) state() (int, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.loads, append([]string(nil), w.applied...)
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// AutoReload reloads a file when its content changes, keeps the running configuration when the
// new content does not load (and does not retry it until it changes again), and leaves unchanged
// files alone.
func TestAutoReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		w := &watched{path: filepath.Join(dir, "prometheus.yml")}
		write(t, w.path, "v1")
		reg := prometheus.NewRegistry()
		c := New(nil)
		f := AddFile(c, FileOptions[string]{Flag: "--config.file", Path: w.path, Load: w.load, MetricPrefix: "prometheus", Registerer: reg})
		f.Add("component", func(cfg string) error {
			w.mu.Lock()
			w.applied = append(w.applied, cfg)
			w.mu.Unlock()
			return nil
		})
		if err := f.Reload(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		const every = 30 * time.Second
		go c.AutoReload(ctx, every)
		tick := func() { time.Sleep(every); synctest.Wait() }

		steps := []struct {
			name        string
			content     string // written before the tick; "" leaves the file as it is
			wantLoads   int
			wantApplied []string
			wantOK      float64
		}{
			{"unchanged", "", 1, []string{"v1"}, 1},
			{"changed", "v2", 2, []string{"v1", "v2"}, 1},
			{"unchanged again", "", 2, []string{"v1", "v2"}, 1},
			{"bad content keeps v2", "bad", 3, []string{"v1", "v2"}, 0},
			{"bad content is not retried", "", 3, []string{"v1", "v2"}, 0},
			{"fixed", "v3", 4, []string{"v1", "v2", "v3"}, 1},
		}
		for _, s := range steps {
			if s.content != "" {
				write(t, w.path, s.content)
			}
			tick()
			loads, applied := w.state()
			if loads != s.wantLoads || strings.Join(applied, ",") != strings.Join(s.wantApplied, ",") {
				t.Fatalf("%s: %d loads, applied %v; want %d, %v", s.name, loads, applied, s.wantLoads, s.wantApplied)
			}
			if got := gauge(t, reg, "prometheus_config_last_reload_successful"); got != s.wantOK {
				t.Fatalf("%s: prometheus_config_last_reload_successful %v, want %v", s.name, got, s.wantOK)
			}
			if cur := f.Config(); cur != applied[len(applied)-1] {
				t.Fatalf("%s: current config %q", s.name, cur)
			}
		}

		// A SIGHUP-style reload in between records the content, so the next check does not
		// reload it again.
		write(t, w.path, "v4")
		if err := c.Reload(); err != nil {
			t.Fatal(err)
		}
		tick()
		if loads, _ := w.state(); loads != 5 {
			t.Fatalf("after SIGHUP reload and a tick: %d loads, want 5", loads)
		}
	})
}

// A file's Checksum covers the files it references: a changed rule file reloads prometheus.yml.
// An embedded default (no path) is never reloaded, and interval 0 disables the loop.
func TestAutoReloadReferencedFiles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		cfg, rules := filepath.Join(dir, "prometheus.yml"), filepath.Join(dir, "rules.yml")
		write(t, cfg, "rule_files: [rules.yml]")
		write(t, rules, "groups: []")
		w := &watched{path: cfg}
		c := New(nil)
		f := AddFile(c, FileOptions[string]{Path: cfg, Load: w.load, Checksum: func() (string, error) {
			a, err := FileChecksum(cfg)
			if err != nil {
				return "", err
			}
			b, err := FileChecksum(rules)
			return a + b, err
		}})
		embedded := &watched{path: cfg}
		AddFile(c, FileOptions[string]{Load: embedded.load})
		if err := f.Reload(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		c.AutoReload(ctx, 0) // returns at once
		go c.AutoReload(ctx, time.Second)
		write(t, rules, "groups: [{name: a, rules: []}]")
		time.Sleep(time.Second)
		synctest.Wait()
		if loads, _ := w.state(); loads != 2 {
			t.Fatalf("rule file change: %d loads of prometheus.yml, want 2", loads)
		}
		if loads, _ := embedded.state(); loads != 0 {
			t.Fatalf("embedded default loaded %d times", loads)
		}
	})
}

// A ConfigMap volume as the kubelet writes it (k8s.io/kubernetes/pkg/volume/util AtomicWriter):
// the files are symlinks into ..data, itself a symlink to a timestamped directory; an update
// writes a new directory and renames a new symlink over ..data. The mounted path, its inode and
// its modification time stay the same; only the content it resolves to changes.
func TestAutoReloadConfigMapSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	publish := func(version, content string) {
		t.Helper()
		ts := "..2026_12_06_00_00_00." + version
		if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, ts, "prometheus.yml"), content)
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(ts, tmp); err != nil {
			t.Fatal(err)
		}
		old, _ := os.Readlink(filepath.Join(dir, "..data"))
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		if old != "" {
			if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish("1", "v1")
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.Symlink(filepath.Join("..data", "prometheus.yml"), path); err != nil {
		t.Fatal(err)
	}
	before, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}

	w := &watched{path: path}
	c := New(nil)
	f := AddFile(c, FileOptions[string]{Path: path, Load: w.load})
	if err := f.Reload(); err != nil || f.Config() != "v1" {
		t.Fatalf("first load: %q %v", f.Config(), err)
	}
	c.reloadChanged()
	if loads, _ := w.state(); loads != 1 {
		t.Fatalf("unchanged ConfigMap reloaded: %d loads", loads)
	}
	publish("2", "v2")
	after, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
		t.Fatal("the test's swap changed the mounted path itself; it must only swap ..data")
	}
	c.reloadChanged()
	if f.Config() != "v2" {
		t.Fatalf("after the ..data swap the config is %q, want v2", f.Config())
	}
	publish("3", "bad")
	c.reloadChanged()
	if ok, _ := f.LastReload(); ok || f.Config() != "v2" {
		t.Fatalf("bad ConfigMap content: successful=%v config %q, want the failure reported and v2 kept", ok, f.Config())
	}
}
