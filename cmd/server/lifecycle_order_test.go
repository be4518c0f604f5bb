package main

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/web/ui"
)

// recorder builds components that log their starts and stops.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) log(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) component(name string, startErr error) *component {
	return &component{
		name: name,
		start: func() error {
			r.log("start " + name)
			return startErr
		},
		stop: func() { r.log("stop " + name) },
	}
}

// The lifecycle starts components in startOrder, is ready only after the last, and stops them
// in stopOrder when one ends (here the web server failing) — even though every component
// runs concurrently in the run group.
func TestLifecycleOrder(t *testing.T) {
	rec := &recorder{}
	signals, storage, scrape, rules := rec.component("signals", nil), rec.component("storage", nil), rec.component("scrape", nil), rec.component("rules", nil)
	webFailed := make(chan error, 1)
	stopped := make(chan struct{})
	web := rec.component("web", nil)
	web.wait = func() error {
		select {
		case err := <-webFailed:
			return err
		case <-stopped:
			return nil
		}
	}
	web.stop = func() { rec.log("stop web"); close(stopped) }
	var readyCalls atomic.Int32
	lc := &lifecycle{
		logger:     slog.New(slog.DiscardHandler),
		startOrder: []*component{signals, web, storage, scrape, rules},
		stopOrder:  []*component{signals, web, rules, scrape, storage},
		stopping:   make(chan struct{}),
		ready: func() {
			rec.log("ready")
			readyCalls.Add(1)
			webFailed <- errors.New("port gone")
		},
	}
	err := lc.run()
	if err == nil || err.Error() != "port gone" {
		t.Fatalf("run() = %v, want the web server's error", err)
	}
	want := []string{
		"start signals", "start web", "start storage", "start scrape", "start rules", "ready",
		"stop signals", "stop web", "stop rules", "stop scrape", "stop storage",
	}
	if !slices.Equal(rec.events, want) {
		t.Errorf("events\n%q\nwant\n%q", rec.events, want)
	}
}

// A component that fails to start stops those started before it, in the shutdown order; the
// server is never ready.
func TestLifecycleStartFailure(t *testing.T) {
	rec := &recorder{}
	a, b, c, d := rec.component("web", nil), rec.component("storage", nil), rec.component("alerting", errors.New("bad alertmanager.yml")), rec.component("rules", nil)
	lc := &lifecycle{
		logger:     slog.New(slog.DiscardHandler),
		startOrder: []*component{a, b, c, d},
		stopOrder:  []*component{a, d, c, b},
		stopping:   make(chan struct{}),
		ready:      func() { t.Error("ready after a failed start") },
	}
	if err := lc.run(); err == nil || err.Error() != "bad alertmanager.yml" {
		t.Fatalf("run() = %v", err)
	}
	want := []string{"start web", "start storage", "start alerting", "stop web", "stop storage"}
	if !slices.Equal(rec.events, want) {
		t.Errorf("events %q, want %q", rec.events, want)
	}
}

// A termination requested while a component starts (SIGTERM during WAL replay) stops the
// server once that component has started, without starting the rest.
func TestLifecycleTerminationDuringStart(t *testing.T) {
	rec := &recorder{}
	term := newTerminator()
	a, b, c := rec.component("web", nil), rec.component("storage", nil), rec.component("rules", nil)
	b.start = func() error {
		rec.log("start storage")
		term.request("received signal terminated")
		return nil
	}
	lc := &lifecycle{
		logger:     slog.New(slog.DiscardHandler),
		startOrder: []*component{a, b, c},
		stopOrder:  []*component{a, c, b},
		stopping:   term.stopping(),
		ready:      func() { t.Error("ready after termination") },
	}
	if err := lc.run(); err != nil {
		t.Fatal(err)
	}
	want := []string{"start web", "start storage", "stop web", "stop storage"}
	if !slices.Equal(rec.events, want) {
		t.Errorf("events %q, want %q", rec.events, want)
	}
}

// Until ready, only the operational endpoints and the UI answer; everything else is 503, as in
// Prometheus.
func TestReadyGate(t *testing.T) {
	var ready atomic.Bool
	mux := http.NewServeMux()
	mountOperational(mux, prometheus.NewRegistry(), &ready, true, newTerminator())
	mux.HandleFunc("/api/v1/query", func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle("/", ui.Handler("/"))
	h := readyGate(&ready, mux)
	get := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	for _, tc := range []struct {
		path              string
		before, afterward int
	}{
		{"/-/healthy", 200, 200},
		{"/-/ready", 503, 200},
		{"/debug/pprof/cmdline", 200, 200},
		{"/api/v1/query", 503, 200},
		{"/api/v2/alerts", 503, 404},
		{"/", 302, 302},
		{"/query", 200, 200},
		{"/static/app.js", 200, 200},
		{"/federate", 503, 404},
		{"/staticx", 503, 404},
	} {
		if got := get(tc.path); got != tc.before {
			t.Errorf("%s before ready: %d, want %d", tc.path, got, tc.before)
		}
		ready.Store(true)
		if got := get(tc.path); got != tc.afterward {
			t.Errorf("%s when ready: %d, want %d", tc.path, got, tc.afterward)
		}
		ready.Store(false)
	}
}
