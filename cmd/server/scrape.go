package main

// Scrape wiring: --config.file, the scrape manager, and configuration reloads on SIGHUP and
// POST /-/reload (with --web.enable-lifecycle).

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/discovery"
	"github.com/vigil-monitoring/vigil/discovery/kubernetes"
	"github.com/vigil-monitoring/vigil/scrape"
	"github.com/vigil-monitoring/vigil/storage"
)

type scrapeFlags struct {
	configFile string
}

func registerScrapeFlags(app *kingpin.Application) *scrapeFlags {
	var f scrapeFlags
	app.Flag("config.file", "Vigil configuration file path (prometheus.yml). Without it an embedded configuration that scrapes Vigil itself on localhost:9090 is used.").StringVar(&f.configFile)
	return &f
}

// reloader loads the configuration file and hands it to every subsystem that registered with
// Add. A file that does not load leaves everything as it was; a subsystem that rejects its part
// makes the reload fail (and is logged) while the others keep what they applied, as in
// Prometheus.
type reloader struct {
	file   string
	logger *slog.Logger

	mtx     sync.Mutex
	current *config.Config
	steps   []reloadStep

	success     prometheus.Gauge
	successTime prometheus.Gauge
}

type reloadStep struct {
	name  string
	apply func(*config.Config) error
}

func newReloader(file string, reg prometheus.Registerer, logger *slog.Logger) *reloader {
	r := &reloader{
		file:   file,
		logger: logger,
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "prometheus_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		successTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "prometheus_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
	}
	reg.MustRegister(r.success, r.successTime)
	return r
}

// Add registers a subsystem to receive every loaded configuration, in order.
func (r *reloader) Add(name string, apply func(*config.Config) error) {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	r.steps = append(r.steps, reloadStep{name: name, apply: apply})
}

// AddFunc registers a subsystem that reloads its own file (e.g. alertmanager.yml) on every
// reload.
func (r *reloader) AddFunc(name string, reload func() error) {
	r.Add(name, func(*config.Config) error { return reload() })
}

// Config returns the configuration last loaded successfully (for /api/v1/status/config).
func (r *reloader) Config() *config.Config {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	return r.current
}

func (r *reloader) load() (*config.Config, error) {
	if r.file == "" {
		return config.Default()
	}
	return config.LoadFile(r.file)
}

// Reload loads the file and applies it.
func (r *reloader) Reload() (err error) {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	start := time.Now()
	defer func() {
		if err != nil {
			r.success.Set(0)
			r.logger.Error("Loading configuration file failed; the running configuration stays in place", "file", r.file, "err", err)
			return
		}
		r.success.Set(1)
		r.successTime.SetToCurrentTime()
		r.logger.Info("Completed loading of configuration file", "file", r.file, "duration", time.Since(start))
	}()
	cfg, err := r.load()
	if err != nil {
		return fmt.Errorf("couldn't load configuration (--config.file=%q): %w", r.file, err)
	}
	var errs []error
	for _, s := range r.steps {
		if err := s.apply(cfg); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("one or more errors occurred while applying the new configuration (--config.file=%q): %w", r.file, errors.Join(errs...))
	}
	r.current = cfg
	return nil
}

// scrapeRuntime is what the rest of the server uses of scraping: the manager (targets and
// metadata for the API) and the reloader (to add subsystems and serve the current config).
type scrapeRuntime struct {
	Manager  *scrape.Manager
	Reloader *reloader
	stop     chan struct{}
	done     chan struct{}
}

// Stop ends the SIGHUP handler and scraping (without stale markers: a restart continues).
func (s *scrapeRuntime) Stop() {
	close(s.stop)
	<-s.done
	s.Manager.Stop()
}

// setupScrape starts scraping into app with the configuration from --config.file (or the
// embedded default), reloads on SIGHUP, and mounts /-/reload on mux. A configuration that does
// not load at startup is an error: Vigil does not start with nothing to do.
func setupScrape(f *scrapeFlags, enableLifecycle bool, app storage.Appendable, mux *http.ServeMux, reg prometheus.Registerer, logger *slog.Logger) (*scrapeRuntime, error) {
	reg.MustRegister(kubernetes.Collectors()...)
	reg.MustRegister(discovery.RefreshCollectors()...)
	scrape.UserAgent = "Vigil/" + version
	discovery.UserAgent = "Vigil/" + version
	kubernetes.UserAgent = "Vigil/" + version
	m := scrape.NewManager(nil, logger.With("component", "scrape"), app, reg)
	rl := newReloader(f.configFile, reg, logger.With("component", "config"))
	rl.Add("scrape", m.ApplyConfig)
	if err := rl.Reload(); err != nil {
		m.Stop()
		return nil, err
	}
	rt := &scrapeRuntime{Manager: m, Reloader: rl, stop: make(chan struct{}), done: make(chan struct{})}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer close(rt.done)
		defer signal.Stop(hup)
		for {
			select {
			case <-rt.stop:
				return
			case <-hup:
				_ = rl.Reload() // logged and reflected in prometheus_config_last_reload_successful
			}
		}
	}()

	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "Only POST or PUT requests allowed", http.StatusMethodNotAllowed)
			return
		}
		if !enableLifecycle {
			http.Error(w, "Lifecycle API is not enabled.", http.StatusForbidden)
			return
		}
		if err := rl.Reload(); err != nil {
			http.Error(w, fmt.Sprintf("failed to reload config: %s", err), http.StatusInternalServerError)
		}
	})
	return rt, nil
}
