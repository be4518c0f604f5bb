// Command vigil is the Vigil monitoring server: scrape, store, query, rules and alert routing in
// one process. Flags keep Prometheus's names where the meaning is the same.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/tsdb"
	apiv1 "github.com/vigil-monitoring/vigil/web/api/v1"
	webserver "github.com/vigil-monitoring/vigil/web/server"
)

// version is set with -ldflags "-X main.version=..." by release builds.
var version = "0.1.0-dev"

type flags struct {
	storagePath       string
	retentionTime     model.Duration
	retentionSize     bytesFlag
	minBlockDuration  model.Duration
	maxBlockDuration  model.Duration
	listenAddress     string
	logLevel          string
	logLevelVar       *slog.LevelVar // the logger's level, for the config's runtime.log_level
	logFormat         string
	enableLifecycle   bool
	enableAdminAPI    bool
	walSegmentSizeRaw bytesFlag
	alerting          *alertingFlags
	scrape            *scrapeFlags
	api               *apiFlags
	rules             *rulesFlags
	web               *webserver.Flags
}

func parseFlags(args []string) (*flags, error) {
	var f flags
	app := kingpin.New("vigil", "Vigil: metrics collection, storage, PromQL, rules and alert routing in one service.")
	app.Version(version)
	app.HelpFlag.Short('h')
	app.Flag("storage.tsdb.path", "Base path for metrics storage.").Default("data/").StringVar(&f.storagePath)
	app.Flag("storage.tsdb.retention.time", "How long to retain samples in storage.").Default("15d").SetValue(&f.retentionTime)
	app.Flag("storage.tsdb.retention.size", "Maximum number of bytes that can be stored for blocks, WAL included (e.g. 512MB). 0 means no limit.").Default("0").SetValue(&f.retentionSize)
	app.Flag("storage.tsdb.min-block-duration", "Minimum duration of a data block before being persisted.").Default("2h").SetValue(&f.minBlockDuration)
	app.Flag("storage.tsdb.max-block-duration", "Maximum duration compacted blocks may span. Default: 10% of the retention period.").SetValue(&f.maxBlockDuration)
	app.Flag("storage.tsdb.wal-segment-size", "Size of a WAL segment file (e.g. 128MB).").Default("128MB").SetValue(&f.walSegmentSizeRaw)
	app.Flag("web.listen-address", "Address to listen on for UI, API, and telemetry.").Default(":9090").StringVar(&f.listenAddress)
	app.Flag("web.enable-lifecycle", "Enable shutdown and reload via HTTP request.").BoolVar(&f.enableLifecycle)
	app.Flag("web.enable-admin-api", "Enable API endpoints for admin control actions.").BoolVar(&f.enableAdminAPI)
	app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").Default("info").EnumVar(&f.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").Default("logfmt").EnumVar(&f.logFormat, "logfmt", "json")
	f.alerting = registerAlertingFlags(app)
	f.scrape = registerScrapeFlags(app)
	f.rules = registerRulesFlags(app)
	f.api = registerAPIFlags(app)
	f.web = webserver.RegisterFlags(app)
	if _, err := app.Parse(args); err != nil {
		return nil, err
	}
	if err := f.web.Resolve(f.listenAddress); err != nil {
		return nil, err
	}
	if f.maxBlockDuration == 0 {
		// As Prometheus: 10% of retention, capped at 31d, never below the min block duration.
		max := f.retentionTime / 10
		if max > model.Duration(31*24*time.Hour) {
			max = model.Duration(31 * 24 * time.Hour)
		}
		if max < f.minBlockDuration {
			max = f.minBlockDuration
		}
		f.maxBlockDuration = max
	}
	if f.maxBlockDuration < f.minBlockDuration {
		return nil, fmt.Errorf("--storage.tsdb.max-block-duration (%s) is below --storage.tsdb.min-block-duration (%s)", f.maxBlockDuration, f.minBlockDuration)
	}
	return &f, nil
}

func newLogger(level *slog.LevelVar, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func main() {
	if handled, code := runAlertingCommand(os.Args[1:], os.Stdout, os.Stderr); handled {
		os.Exit(code)
	}
	if handled, code := runRulesCommand(os.Args[1:], os.Stdout, os.Stderr); handled {
		os.Exit(code)
	}
	f, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "vigil: %v\n", err)
		os.Exit(2)
	}
	f.logLevelVar = new(slog.LevelVar)
	var l slog.Level
	_ = l.UnmarshalText([]byte(f.logLevel))
	f.logLevelVar.Set(l)
	logger := newLogger(f.logLevelVar, f.logFormat)
	if err := run(f, logger); err != nil {
		logger.Error("vigil stopped with an error", "err", err)
		os.Exit(1)
	}
}

func run(f *flags, logger *slog.Logger) error {
	rs := &runtimeSettings{level: f.logLevelVar, flagLevel: f.logLevel, logger: logger}
	rs.applyEarly(f.scrape.configFile)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vigil_build_info", Help: "A metric with a constant '1' value labeled by version.",
		ConstLabels: prometheus.Labels{"version": version},
	}, func() float64 { return 1 }))

	dbDir, err := filepath.Abs(f.storagePath)
	if err != nil {
		return fmt.Errorf("storage path: %w", err)
	}
	db, err := tsdb.Open(dbDir, &tsdb.Options{
		RetentionDuration: time.Duration(f.retentionTime).Milliseconds(),
		MaxBytes:          int64(f.retentionSize),
		MinBlockDuration:  time.Duration(f.minBlockDuration).Milliseconds(),
		MaxBlockDuration:  time.Duration(f.maxBlockDuration).Milliseconds(),
		WALSegmentSize:    int(f.walSegmentSizeRaw),
	}, logger.With("component", "tsdb"), reg)
	if err != nil {
		return fmt.Errorf("opening storage: %w", err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			logger.Error("closing storage", "err", err)
		}
	}()

	ready := make(chan struct{})
	quit := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	// Go's profiler, as Prometheus serves it (go tool pprof http://HOST/debug/pprof/profile).
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "Vigil Server is Healthy.")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-ready:
			fmt.Fprintln(w, "Vigil Server is Ready.")
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "Service Unavailable")
		}
	})

	// POST /-/quit stops the server as SIGTERM does, with --web.enable-lifecycle (as Prometheus).
	var quitOnce sync.Once
	mux.HandleFunc("/-/quit", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			http.Error(w, "Only POST or PUT requests allowed", http.StatusMethodNotAllowed)
			return
		}
		if !f.enableLifecycle {
			http.Error(w, "Lifecycle API is not enabled.", http.StatusForbidden)
			return
		}
		fmt.Fprintln(w, "Requesting termination... Goodbye!")
		quitOnce.Do(func() { close(quit) })
	})

	alerting, err := setupAlerting(f.alerting, dbDir, f.web.ExternalURL, mux, reg, logger)
	if err != nil {
		return err
	}
	defer alerting.Stop()

	scraping, err := setupScrape(f.scrape, f.enableLifecycle, db, mux, reg, logger)
	if err != nil {
		return err
	}
	defer scraping.Stop()
	scraping.Reloader.AddFunc("alertmanager", alerting.Reload)
	scraping.Reloader.Add("runtime", rs.apply)

	// One PromQL engine for queries and rules, as in Prometheus: the API builds it from the
	// --query.* flags, so the API is set up before the rules start (the HTTP server does not
	// serve before both are).
	rules := newRules(f.rules, alerting, reg, logger)
	defer rules.Stop()
	api, err := setupAPI(f, db, scraping, rules.API(), mux, reg, logger, func(o *apiv1.Options) {
		o.Alertmanagers = rules.Sender // /api/v1/alertmanagers
	})
	if err != nil {
		return err
	}
	if err := rules.start(db, api.Engine, scraping.Reloader, f.web.ExternalURL); err != nil {
		return err
	}

	web, err := webserver.Listen(f.web, f.listenAddress, mux, logger.With("component", "web"))
	if err != nil {
		return err
	}
	srvErr := make(chan error, 1)
	go func() { srvErr <- web.Serve() }()
	logger.Info("vigil started", "version", version, "listen", web.Addr().String(), "storage", dbDir)
	close(ready)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		logger.Info("received signal, shutting down", "signal", s.String())
	case <-quit:
		logger.Info("received /-/quit, shutting down")
	case err := <-srvErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("web server: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Requests in progress finish before the router and storage (deferred) stop.
	_ = web.Shutdown(ctx)
	return nil
}
