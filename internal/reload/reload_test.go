package reload

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeFile is a configuration file whose next load returns content or err.
type fakeFile struct {
	content string
	err     error
}

func (f *fakeFile) load() (string, error) { return f.content, f.err }

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// A file is applied all-or-nothing: a load error or a failing check changes no component; an
// apply error is reported (as Prometheus does) and does not become the current config.
func TestFileReload(t *testing.T) {
	for _, tc := range []struct {
		name        string
		content     string
		loadErr     error
		checkErr    error
		applyErr    error
		wantErr     string
		wantApplied []string // the configs components saw, after the initial "v1"
		wantCurrent string
	}{
		{name: "good", content: "v2", wantApplied: []string{"v2"}, wantCurrent: "v2"},
		{name: "load error", loadErr: errors.New("bad yaml"), wantErr: `couldn't load configuration (--config.file="f.yml"): bad yaml`, wantCurrent: "v1"},
		{name: "check error", content: "v2", checkErr: errors.New("bad rule file"), wantErr: "configuration rejected, nothing changed (--config.file=\"f.yml\"): rules: bad rule file", wantCurrent: "v1"},
		{name: "apply error", content: "v2", applyErr: errors.New("refused"), wantErr: "one or more errors occurred while applying the new configuration (--config.file=\"f.yml\"): second: refused", wantApplied: []string{"v2"}, wantCurrent: "v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			src := &fakeFile{content: "v1"}
			c := New(nil)
			f := AddFile(c, FileOptions[string]{Flag: "--config.file", Path: "f.yml", Load: src.load, MetricPrefix: "prometheus", Registerer: reg})
			var applied []string
			var checkErr, applyErr error
			f.Check("rules", func(string) error { return checkErr })
			f.Add("first", func(cfg string) error { applied = append(applied, cfg); return nil })
			f.Add("second", func(string) error { return applyErr })
			if err := f.Reload(); err != nil {
				t.Fatal(err)
			}
			ok, firstAt := f.LastReload()
			if !ok || firstAt.IsZero() || gauge(t, reg, "prometheus_config_last_reload_successful") != 1 {
				t.Fatal("initial load not reported as successful")
			}
			applied = nil

			src.content, src.err, checkErr, applyErr = tc.content, tc.loadErr, tc.checkErr, tc.applyErr
			err := c.Reload()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("Reload() = %v, want %q", err, tc.wantErr)
			}
			if strings.Join(applied, ",") != strings.Join(tc.wantApplied, ",") {
				t.Errorf("components saw %q, want %q", applied, tc.wantApplied)
			}
			if got := f.Config(); got != tc.wantCurrent {
				t.Errorf("current config %q, want %q", got, tc.wantCurrent)
			}
			wantOK := tc.wantErr == ""
			if ok, _ := f.LastReload(); ok != wantOK {
				t.Errorf("LastReload successful = %v, want %v", ok, wantOK)
			}
			want := 0.0
			if wantOK {
				want = 1
			}
			if got := gauge(t, reg, "prometheus_config_last_reload_successful"); got != want {
				t.Errorf("prometheus_config_last_reload_successful = %v, want %v", got, want)
			}
			if got := gauge(t, reg, "prometheus_config_last_reload_success_timestamp_seconds"); got != float64(firstAt.Unix()) && !wantOK {
				t.Errorf("a failed reload moved the success timestamp to %v", got)
			}
		})
	}
}

// Files reload independently: a bad alertmanager.yml does not hold back prometheus.yml, and
// each file's metric says which one failed.
func TestCoordinatorFilesAreIndependent(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := New(nil)
	prom := &fakeFile{content: "p1"}
	am := &fakeFile{content: "a1"}
	pf := AddFile(c, FileOptions[string]{Flag: "--config.file", Path: "prometheus.yml", Load: prom.load, MetricPrefix: "prometheus", Registerer: reg})
	af := AddFile(c, FileOptions[string]{Flag: "--alertmanager.config.file", Path: "alertmanager.yml", Load: am.load, MetricPrefix: "alertmanager", Registerer: reg})
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	prom.content, am.err = "p2", errors.New("route: missing receiver")
	err := c.Reload()
	if err == nil || !strings.Contains(err.Error(), "alertmanager.yml") || strings.Contains(err.Error(), "prometheus.yml") {
		t.Fatalf("Reload() = %v, want only alertmanager.yml's error", err)
	}
	if pf.Config() != "p2" || af.Config() != "a1" {
		t.Errorf("prometheus.yml %q (want p2), alertmanager.yml %q (want a1)", pf.Config(), af.Config())
	}
	if testutil.ToFloat64(pf.success) != 1 || testutil.ToFloat64(af.success) != 0 {
		t.Errorf("prometheus_config_last_reload_successful %v (want 1), alertmanager_config_last_reload_successful %v (want 0)",
			testutil.ToFloat64(pf.success), testutil.ToFloat64(af.success))
	}
}

// Loaded reports a file its component loaded at startup.
func TestLoaded(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := AddFile(New(nil), FileOptions[string]{Load: (&fakeFile{}).load, MetricPrefix: "alertmanager", Registerer: reg})
	if gauge(t, reg, "alertmanager_config_last_reload_successful") != 0 {
		t.Fatal("successful before anything loaded")
	}
	f.Loaded("a1")
	if ok, at := f.LastReload(); !ok || at.IsZero() || f.Config() != "a1" || gauge(t, reg, "alertmanager_config_last_reload_successful") != 1 {
		t.Fatalf("after Loaded: successful %v at %v, config %q", ok, at, f.Config())
	}
}

func TestHandler(t *testing.T) {
	src := &fakeFile{content: "v1"}
	c := New(nil)
	AddFile(c, FileOptions[string]{Flag: "--config.file", Path: "f.yml", Load: src.load, MetricPrefix: "prometheus"})
	for _, tc := range []struct {
		method   string
		enabled  bool
		loadErr  error
		wantCode int
		wantBody string
	}{
		{http.MethodPost, true, nil, http.StatusOK, ""},
		{http.MethodPut, true, nil, http.StatusOK, ""},
		{http.MethodGet, true, nil, http.StatusMethodNotAllowed, "Only POST or PUT requests allowed\n"},
		{http.MethodPost, false, nil, http.StatusForbidden, "Lifecycle API is not enabled.\n"},
		{http.MethodPost, true, errors.New("bad yaml"), http.StatusInternalServerError, "failed to reload config: couldn't load configuration (--config.file=\"f.yml\"): bad yaml\n"},
	} {
		src.err = tc.loadErr
		rec := httptest.NewRecorder()
		c.Handler(tc.enabled).ServeHTTP(rec, httptest.NewRequest(tc.method, "/-/reload", nil))
		if rec.Code != tc.wantCode || rec.Body.String() != tc.wantBody {
			t.Errorf("%s enabled=%v err=%v: %d %q, want %d %q", tc.method, tc.enabled, tc.loadErr, rec.Code, rec.Body, tc.wantCode, tc.wantBody)
		}
	}
}

// Run reloads on every signal until its context ends.
func TestRun(t *testing.T) {
	loads := make(chan struct{}, 10)
	c := New(nil)
	AddFile(c, FileOptions[string]{Load: func() (string, error) { loads <- struct{}{}; return "", nil }, MetricPrefix: "prometheus"})
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, hup)
	}()
	for range 2 {
		hup <- syscall.SIGHUP
		select {
		case <-loads:
		case <-time.After(10 * time.Second):
			t.Fatal("no reload after SIGHUP")
		}
	}
	cancel()
	<-done
}

// Apply hands a configuration built elsewhere to the checks and components, without loading the
// file and without touching the file's reload metrics; a failing check changes nothing.
func TestApply(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := AddFile(New(nil), FileOptions[string]{Load: func() (string, error) { return "file", nil }, MetricPrefix: "prometheus", Registerer: reg})
	var applied []string
	f.Check("check", func(s string) error {
		if s == "bad" {
			return errors.New("rejected")
		}
		return nil
	})
	f.Add("component", func(s string) error { applied = append(applied, s); return nil })
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	_, at := f.LastReload()
	if err := f.Apply(func() string { return "file+generated" }); err != nil {
		t.Fatal(err)
	}
	if err := f.Apply(func() string { return "bad" }); err == nil {
		t.Fatal("a rejected configuration applied")
	}
	if want := []string{"file", "file+generated"}; !slices.Equal(applied, want) {
		t.Fatalf("applied %v, want %v", applied, want)
	}
	if f.Config() != "file+generated" {
		t.Fatalf("current config %q", f.Config())
	}
	if ok, at2 := f.LastReload(); !ok || !at2.Equal(at) {
		t.Fatal("Apply changed the file's reload state")
	}
}
