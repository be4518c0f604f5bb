package adapter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReloadKeepsOldRulesOnBadEdit(t *testing.T) {
	f := newFakeProm(t)
	f.setSeries(series("queue_depth", "namespace", "shop", "queue", "orders"))
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(e2eConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &Discoverer{API: f.api(t), Mapper: testMapper(), MaxAge: time.Minute}
	r := &Reloader{Path: path, Discoverer: d}
	if err := r.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := d.Rules()
	if len(d.listExternal()) != 1 {
		t.Fatalf("external metrics after load: %v", d.listExternal())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Watch(ctx, time.Hour)         // events only: the poll would hide a broken watch
	time.Sleep(300 * time.Millisecond) // let the watcher register before the first write

	bad := strings.Replace(e2eConfig, "metricsQuery: 'sum(<<.Series>>", "metricsQuery: 'sum(<<.Series>", 1)
	writeAtomically(t, path, bad)
	waitFor(t, func() bool { return r.LastError() != nil })
	if d.Rules() != first {
		t.Fatal("a bad config replaced the rules")
	}
	if msg := r.LastError().Error(); !strings.Contains(msg, "keeping the previous rules") || !strings.Contains(msg, "externalRules[0]") {
		t.Errorf("error does not say why: %s", msg)
	}

	good := e2eConfig + `- seriesQuery: '{__name__="queue_depth"}'
  name: {as: "queue_depth_max"}
  metricsQuery: 'max(<<.Series>>{<<.LabelMatchers>>})'
`
	writeAtomically(t, path, good)
	waitFor(t, func() bool { return d.Rules() != first && r.LastError() == nil })
	if n := len(d.Rules().ExternalRules); n != 2 {
		t.Errorf("%d external rules after reload, want 2", n)
	}
	if got := d.listExternal(); len(got) != 2 {
		t.Errorf("external metrics after reload: %v (the reload must relist)", got)
	}
}

// writeAtomically replaces the file by rename, as kubelet does for ConfigMap volumes.
func writeAtomically(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartupWithBadConfigFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("rules:\n- seriesQuery: up\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Reloader{Path: path, Discoverer: &Discoverer{}}
	err := r.Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), "rules[0]") {
		t.Errorf("got %v", err)
	}
}
