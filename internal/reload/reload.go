// Package reload reloads the server's configuration files in one place. Every file
// (prometheus.yml, alertmanager.yml) is a File that the components using it register with;
// SIGHUP and POST /-/reload both call Coordinator.Reload, which reloads every file.
//
// A file is applied as Prometheus applies its configuration file: a file that does not load,
// or that a component's check rejects, changes nothing — the running configuration stays in
// place, the reload fails, and <prefix>_config_last_reload_successful drops to 0 until a
// reload succeeds. Files are independent: a bad alertmanager.yml does not hold back a good
// prometheus.yml.
package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Coordinator reloads every registered file, one reload at a time.
type Coordinator struct {
	logger *slog.Logger

	reloadMtx sync.Mutex // serialises reloads
	mtx       sync.Mutex // guards files
	files     []reloader
}

// reloader is a File of any configuration type.
type reloader interface {
	Reload() error
	changed() (bool, error)
	path() string
}

// New returns a coordinator without files.
func New(logger *slog.Logger) *Coordinator {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Coordinator{logger: logger}
}

// Reload reloads every file, in the order they were added, and returns the errors of those
// that failed. It is the one path of SIGHUP and POST /-/reload.
func (c *Coordinator) Reload() error {
	c.reloadMtx.Lock()
	defer c.reloadMtx.Unlock()
	c.mtx.Lock()
	files := append([]reloader(nil), c.files...)
	c.mtx.Unlock()
	var errs []error
	for _, f := range files {
		if err := f.Reload(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run reloads on every signal received from hup (SIGHUP) until ctx ends. The caller
// subscribes hup early (signal.Notify), so that a SIGHUP during startup waits here instead of
// ending the process, as SIGHUP's default action would.
func (c *Coordinator) Run(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			// Logged and reflected in the reload metrics of each file.
			_ = c.Reload()
		}
	}
}

// Handler serves POST/PUT /-/reload as Prometheus does: 403 unless enabled
// (--web.enable-lifecycle), 500 with the reason if a file failed, 200 otherwise.
func (c *Coordinator) Handler(enabled bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "Only POST or PUT requests allowed", http.StatusMethodNotAllowed)
			return
		}
		if !enabled {
			http.Error(w, "Lifecycle API is not enabled.", http.StatusForbidden)
			return
		}
		if err := c.Reload(); err != nil {
			http.Error(w, fmt.Sprintf("failed to reload config: %s", err), http.StatusInternalServerError)
		}
	})
}

// FileOptions describe a configuration file.
type FileOptions[T any] struct {
	// Flag names the file in errors and logs, e.g. "--config.file".
	Flag string
	// Path is the file; empty means an embedded default (Load decides).
	Path string
	// Load reads and validates the file.
	Load func() (T, error)
	// MetricPrefix names the reload metrics: "prometheus" gives
	// prometheus_config_last_reload_successful and
	// prometheus_config_last_reload_success_timestamp_seconds. Empty: the file's loader
	// exposes its own reload metrics, nothing is registered.
	MetricPrefix string
	Registerer   prometheus.Registerer
	Logger       *slog.Logger
	// Checksum hashes the file and the files it references (rule files, templates), for
	// Coordinator.AutoReload; nil hashes Path alone.
	Checksum func() (string, error)
}

// File is one configuration file and the components that apply it.
type File[T any] struct {
	o FileOptions[T]

	reloadMtx   sync.Mutex // serialises Reload and Apply
	mtx         sync.Mutex
	steps       []step[T]
	current     T
	loaded      bool
	successful  bool
	successTime time.Time
	sum         string // the checksum taken before the last load (AutoReload)

	success        prometheus.Gauge
	successSeconds prometheus.Gauge
}

type step[T any] struct {
	name  string
	check func(T) error
	apply func(T) error
}

// AddFile adds a file to c. Its components register with Add and Check; nothing is loaded
// until Reload.
func AddFile[T any](c *Coordinator, o FileOptions[T]) *File[T] {
	if o.Logger == nil {
		o.Logger = c.logger
	}
	f := &File[T]{
		o: o,
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: o.MetricPrefix + "_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		successSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: o.MetricPrefix + "_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
	}
	if o.Registerer != nil && o.MetricPrefix != "" {
		o.Registerer.MustRegister(f.success, f.successSeconds)
	}
	c.mtx.Lock()
	c.files = append(c.files, f)
	c.mtx.Unlock()
	return f
}

// Add registers a component that applies every configuration loaded, in registration order.
// An error fails the reload (and is reported), but the components before it keep what they
// applied, as in Prometheus; put what may reject a valid file in a Check so that it changes
// nothing.
func (f *File[T]) Add(name string, apply func(T) error) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	f.steps = append(f.steps, step[T]{name: name, apply: apply})
}

// Check registers a component's check: every check runs on a loaded configuration before any
// component applies it, and one failing check leaves every component as it was.
func (f *File[T]) Check(name string, check func(T) error) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	f.steps = append(f.steps, step[T]{name: name, check: check})
}

// Config returns the configuration last applied successfully (the zero T before that).
func (f *File[T]) Config() T {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	return f.current
}

// LastReload reports whether the last reload succeeded and when the last successful one was.
func (f *File[T]) LastReload() (successful bool, at time.Time) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	return f.successful, f.successTime
}

// Loaded records cfg as loaded and applied at startup by the components themselves (e.g. the
// router loads alertmanager.yml when it is made), so that the metrics report it.
func (f *File[T]) Loaded(cfg T) {
	sum, _ := f.checksum()
	f.mtx.Lock()
	f.sum = sum
	f.current = cfg
	f.loaded = true
	f.mtx.Unlock()
	f.report(nil, time.Now())
}

// Reload loads the file, runs every check, then hands it to every component. Alone it
// serves the first load at startup; later reloads go through Coordinator.Reload.
func (f *File[T]) Reload() (err error) {
	f.reloadMtx.Lock()
	defer f.reloadMtx.Unlock()
	start := time.Now()
	defer func() { f.report(err, start) }()
	// Hashed before loading: a change during the load is seen by the next check.
	if sum, err := f.checksum(); err == nil {
		f.mtx.Lock()
		f.sum = sum
		f.mtx.Unlock()
	}
	cfg, err := f.o.Load()
	if err != nil {
		return fmt.Errorf("couldn't load configuration (%s=%q): %w", f.o.Flag, f.o.Path, err)
	}
	return f.apply(cfg)
}

// Apply runs every check on the configuration build returns, then hands it to every
// component, without reading the file: for a configuration that changed from elsewhere (the
// Prometheus Operator resources merged into prometheus.yml). build runs under the reload lock,
// so it sees the latest file. The reload metrics are the file's and do not change.
func (f *File[T]) Apply(build func() T) error {
	f.reloadMtx.Lock()
	defer f.reloadMtx.Unlock()
	return f.apply(build())
}

func (f *File[T]) apply(cfg T) error {
	f.mtx.Lock()
	steps := append([]step[T](nil), f.steps...)
	f.mtx.Unlock()
	for _, s := range steps {
		if s.check == nil {
			continue
		}
		if err := s.check(cfg); err != nil {
			return fmt.Errorf("configuration rejected, nothing changed (%s=%q): %s: %w", f.o.Flag, f.o.Path, s.name, err)
		}
	}
	var errs []error
	for _, s := range steps {
		if s.apply == nil {
			continue
		}
		if err := s.apply(cfg); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("one or more errors occurred while applying the new configuration (%s=%q): %w", f.o.Flag, f.o.Path, errors.Join(errs...))
	}
	f.mtx.Lock()
	f.current = cfg
	f.loaded = true
	f.mtx.Unlock()
	return nil
}

func (f *File[T]) path() string { return f.o.Path }

func (f *File[T]) report(err error, start time.Time) {
	file := f.o.Path
	if file == "" {
		file = "(embedded default)"
	}
	f.mtx.Lock()
	defer f.mtx.Unlock()
	if err != nil {
		f.successful = false
		f.success.Set(0)
		msg := "Loading configuration file failed; the running configuration stays in place"
		if !f.loaded {
			msg = "Loading configuration file failed"
		}
		f.o.Logger.Error(msg, "file", file, "err", err)
		return
	}
	f.successful = true
	f.successTime = time.Now()
	f.success.Set(1)
	f.successSeconds.Set(float64(f.successTime.Unix()))
	f.o.Logger.Info("Completed loading of configuration file", "file", file, "duration", time.Since(start))
}
