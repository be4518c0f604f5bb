package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/internal/reload"
	"github.com/vigil-monitoring/vigil/storage"
)

// nopAppendable accepts everything; these tests look at targets and reload state only.
type nopAppendable struct{}

func (a *nopAppendable) Appender(context.Context) storage.Appender { return &nopAppender{} }

type nopAppender struct{}

func (nopAppender) Append(ref storage.SeriesRef, _ labels.Labels, _ int64, _ float64) (storage.SeriesRef, error) {
	return ref + 1, nil
}
func (nopAppender) Commit() error   { return nil }
func (nopAppender) Rollback() error { return nil }

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestScrapeReload(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "m 1")
	}))
	defer target.Close()
	addr := strings.TrimPrefix(target.URL, "http://")
	file := filepath.Join(t.TempDir(), "prometheus.yml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := func(job string) string {
		return fmt.Sprintf("global: {scrape_interval: 50ms, scrape_timeout: 50ms}\nscrape_configs:\n- job_name: %s\n  static_configs: [{targets: [%q]}]\n", job, addr)
	}
	write(cfg("a"))

	for _, lifecycle := range []bool{true, false} {
		t.Run(fmt.Sprintf("lifecycle=%v", lifecycle), func(t *testing.T) {
			write(cfg("a"))
			reg := prometheus.NewRegistry()
			mux := http.NewServeMux()
			rt := setupScrapeWithReload(t, file, lifecycle, mux, reg)
			waitUntil(t, "job a scraped", func() bool {
				ts := rt.Manager.TargetsActive()["a"]
				return len(ts) == 1 && !ts[0].LastScrape().IsZero()
			})
			success := func() float64 {
				mfs, _ := reg.Gather()
				for _, mf := range mfs {
					if mf.GetName() == "prometheus_config_last_reload_successful" {
						return mf.GetMetric()[0].GetGauge().GetValue()
					}
				}
				return -1
			}
			if success() != 1 {
				t.Fatal("reload metric must be 1 after a good start")
			}
			post := func() *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
				return rec
			}

			// A broken file: the old configuration stays, the metric says so.
			write("scrape_configs:\n- job_name: b\n  scrape_intervall: 1s\n")
			rec := post()
			if !lifecycle {
				if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "Lifecycle API is not enabled.") {
					t.Fatalf("without --web.enable-lifecycle: %d %s", rec.Code, rec.Body)
				}
				// SIGHUP works regardless.
				if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
				waitUntil(t, "failed SIGHUP reload", func() bool { return success() == 0 })
			} else if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "field scrape_intervall is unknown") {
				t.Fatalf("bad reload: %d %s", rec.Code, rec.Body)
			}
			if success() != 0 {
				t.Fatal("reload metric must be 0 after a failed reload")
			}
			if pools := rt.Manager.ScrapePools(); len(pools) != 1 || pools[0] != "a" {
				t.Fatalf("a failed reload changed the pools: %v", pools)
			}
			if rt.Reloader.Config().ScrapeConfigs[0].JobName != "a" {
				t.Fatal("current config must still be the old one")
			}

			// A good file via SIGHUP.
			write(cfg("c"))
			if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "SIGHUP reload", func() bool {
				p := rt.Manager.ScrapePools()
				return len(p) == 1 && p[0] == "c" && success() == 1
			})
			if ok, at := rt.Reloader.LastReload(); !ok || at.IsZero() {
				t.Errorf("last reload: successful %v at %v", ok, at)
			}
		})
	}
}

// setupScrapeWithReload sets up scraping with file as main does: prometheus.yml in a reload
// coordinator that serves /-/reload on mux and reloads on SIGHUP, until the test ends.
func setupScrapeWithReload(t *testing.T, file string, lifecycle bool, mux *http.ServeMux, reg *prometheus.Registry) *scrapeRuntime {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	coord := reload.New(logger)
	rt, err := setupScrape(addConfigFile(coord, file, reg, logger), &nopAppendable{}, reg, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/-/reload", coord.Handler(lifecycle))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		coord.Run(ctx, hup)
	}()
	t.Cleanup(func() {
		signal.Stop(hup)
		cancel()
		<-done
		rt.Stop()
	})
	return rt
}

func TestReloadMethod(t *testing.T) {
	mux := http.NewServeMux()
	rt := setupScrapeWithReload(t, "", true, mux, prometheus.NewRegistry())
	if pools := rt.Manager.ScrapePools(); len(pools) != 1 || pools[0] != "vigil" {
		t.Fatalf("embedded default must scrape job vigil, got %v", pools)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/-/reload", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /-/reload: %d", rec.Code)
	}
}

// AppendHistogram refuses: this test double expects float samples only.
func (nopAppender) AppendHistogram(storage.SeriesRef, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, errors.New("nopAppender: unexpected histogram sample")
}
