package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/config"
)

func TestReadTargetFileErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, content, err string }{
		{"bad.json", `{"targets": []}`, "cannot unmarshal object"},
		{"unknown.json", `[{"targets": [], "foo": 1}]`, `unknown field "foo"`},
		{"unknown.yml", "- targets: []\n  foo: 1\n", "field foo not found"},
		{"nil.json", `[null]`, "nil target group item found"},
		{"badlabel.json", `[{"targets": ["a:1"], "labels": {"": "x"}}]`, "is not a valid label name"},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := readTargetFile(p)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.err)
		}
	}
}

func TestHTTPSD(t *testing.T) {
	var body atomic.Value
	body.Store(`[{"targets": ["a:1", "b:1"], "labels": {"x": "y"}}, {"targets": ["c:1"]}]`)
	var refreshHeader atomic.Value
	sd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refreshHeader.Store(r.Header.Get("X-Prometheus-Refresh-Interval-Seconds"))
		if body.Load().(string) == "500" {
			http.Error(w, "no", 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body.Load().(string))
	}))
	defer sd.Close()
	c, err := config.Load(fmt.Sprintf("scrape_configs:\n- job_name: h\n  http_sd_configs: [{url: %q, refresh_interval: 1s}]\n", sd.URL))
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.ScrapeConfigs[0].HTTPSDConfigs[0]
	d, err := NewHTTPDiscoverer(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tgs, err := d.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(tgs) != 2 || len(tgs[0].Targets) != 2 || tgs[0].Labels["x"] != "y" || string(tgs[0].Labels["__meta_url"]) != sd.URL || tgs[1].Source != sd.URL+":1" {
		t.Fatalf("groups %+v", tgs)
	}
	if refreshHeader.Load() != "1" {
		t.Errorf("refresh header %v", refreshHeader.Load())
	}
	body.Store(`[{"targets": ["a:1"]}]`)
	tgs, err = d.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(tgs) != 2 || len(tgs[1].Targets) != 0 || tgs[1].Source != sd.URL+":1" {
		t.Fatalf("a vanished group must come back empty: %+v", tgs)
	}
	for _, bad := range []struct{ body, err string }{
		{"500", "server returned HTTP status 500"},
		{`{"x": 1}`, "cannot unmarshal"},
		{`[null]`, "nil target group item found"},
	} {
		body.Store(bad.body)
		if _, err := d.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("body %s: err %v, want %q", bad.body, err, bad.err)
		}
	}
}

// A failing HTTP SD endpoint is reported by LastError (shown on /api/v1/targets) until a
// refresh succeeds again.
func TestHTTPSDLastError(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	sd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "no", 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `[{"targets": ["a:1"]}]`)
	}))
	defer sd.Close()
	c, err := config.Load(fmt.Sprintf("scrape_configs:\n- job_name: h\n  http_sd_configs: [{url: %q, refresh_interval: 1s}]\n", sd.URL))
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewHTTPDiscoverer(c.ScrapeConfigs[0].HTTPSDConfigs[0], slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var r ErrorReporter = d
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	up := make(chan []*config.TargetGroup, 10)
	go d.Run(ctx, up)
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	wait("the failure", func() bool { return r.LastError() != nil && strings.Contains(r.LastError().Error(), "500") })
	fail.Store(false)
	wait("the recovery", func() bool { return r.LastError() == nil })
}
