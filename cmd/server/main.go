// Command vigil is the Vigil monitoring server: scrape, store, query, rules and alert routing in
// one process. Flags keep Prometheus's names where the meaning is the same.
package main

import (
	"context"
	"errors"
	"fmt"
	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/vigil-monitoring/vigil/internal/residency"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	commonversion "github.com/prometheus/common/version"

	_ "github.com/vigil-monitoring/vigil/internal/buildinfo" // fills common/version
	"github.com/vigil-monitoring/vigil/internal/reload"
	remotewrite "github.com/vigil-monitoring/vigil/remote/write"
	"github.com/vigil-monitoring/vigil/routing"
	"github.com/vigil-monitoring/vigil/scrape"
	"github.com/vigil-monitoring/vigil/tsdb"
	apiv1 "github.com/vigil-monitoring/vigil/web/api/v1"
	webserver "github.com/vigil-monitoring/vigil/web/server"
	"github.com/vigil-monitoring/vigil/web/ui"
)

// version is Vigil's version: set by release builds with
// -ldflags "-X github.com/prometheus/common/version.Version=...", else taken from the
// binary's build information (internal/buildinfo, imported for that).
var version = commonversion.Version

type flags struct {
	storagePath        string
	retentionTime      model.Duration
	retentionSize      bytesFlag
	minBlockDuration   model.Duration
	maxBlockDuration   model.Duration
	listenAddress      string
	logLevel           string
	logLevelVar        *slog.LevelVar // the logger's level, for the config's runtime.log_level
	logFormat          string
	enableLifecycle    bool
	enableAdminAPI     bool
	walSegmentSizeRaw  bytesFlag
	snapshotOnShutdown bool
	alerting           *alertingFlags
	scrape             *scrapeFlags
	api                *apiFlags
	rules              *rulesFlags
	pushgateway        *pushgatewayFlags
	autoReload         *autoReloadFlags
	operator           *operatorFlags
	web                *webserver.Flags
	remoteWrite        *remoteWriteFlags

	// releaseStartupPages: --runtime.release-startup-pages (internal/residency).
	releaseStartupPages bool
}

// headSnapshotOnShutdown: --storage.tsdb.snapshot-on-shutdown (default on), or Prometheus's
// --enable-feature=memory-snapshot-on-shutdown, which turns it on even with the --no- form.
func (f *flags) headSnapshotOnShutdown() bool {
	return f.snapshotOnShutdown || f.autoReload.feature("memory-snapshot-on-shutdown")
}

func parseFlags(args []string) (*flags, error) {
	f, err := parseFlagsOf(kingpin.New("vigil", appHelp), args)
	if err != nil {
		return nil, err
	}
	if err := f.web.Resolve(f.listenAddress); err != nil {
		return nil, err
	}
	return f, nil
}

const appHelp = "Vigil: metrics collection, storage, PromQL, rules and alert routing in one service."

// parseFlagsOf defines the server's flags and the commands on app and parses args.
func parseFlagsOf(app *kingpin.Application, args []string) (*flags, error) {
	var f flags
	app.Version(commonversion.Print("vigil"))
	app.HelpFlag.Short('h')
	app.Flag("storage.tsdb.path", "Base path for metrics storage.").Default("data/").StringVar(&f.storagePath)
	app.Flag("storage.tsdb.retention.time", "How long to retain samples in storage.").Default("15d").SetValue(&f.retentionTime)
	app.Flag("storage.tsdb.retention.size", "Maximum number of bytes that can be stored for blocks, WAL included (e.g. 512MB). 0 means no limit.").Default("0").SetValue(&f.retentionSize)
	app.Flag("storage.tsdb.min-block-duration", "Minimum duration of a data block before being persisted.").Default("2h").SetValue(&f.minBlockDuration)
	app.Flag("storage.tsdb.max-block-duration", "Maximum duration compacted blocks may span. Default: 10% of the retention period.").SetValue(&f.maxBlockDuration)
	app.Flag("storage.tsdb.wal-segment-size", "Size of a WAL segment file (e.g. 128MB).").Default("128MB").SetValue(&f.walSegmentSizeRaw)
	app.Flag("storage.tsdb.snapshot-on-shutdown", "Write a snapshot of the in-memory head at shutdown, from which the next start restores it instead of replaying the WAL (Prometheus's --enable-feature=memory-snapshot-on-shutdown, which is accepted too). On by default in Vigil; --no-storage.tsdb.snapshot-on-shutdown turns it off. The WAL keeps everything the snapshot holds, so a damaged snapshot only means a WAL replay.").Default("true").BoolVar(&f.snapshotOnShutdown)
	app.Flag("web.listen-address", "Address to listen on for UI, API, and telemetry.").Default(":9090").StringVar(&f.listenAddress)
	app.Flag("runtime.release-startup-pages", "Drop the executable's pages that only start-up used (package init functions of the Kubernetes client, cloud SDKs, …) from the resident set, after the package init functions ran and again once the server is ready; they stay in the page cache and come back on use.").Default("true").BoolVar(&f.releaseStartupPages)
	app.Flag("web.enable-lifecycle", "Enable shutdown and reload via HTTP request.").BoolVar(&f.enableLifecycle)
	app.Flag("web.enable-admin-api", "Enable API endpoints for admin control actions.").BoolVar(&f.enableAdminAPI)
	app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").Default("info").EnumVar(&f.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").Default("logfmt").EnumVar(&f.logFormat, "logfmt", "json")
	f.alerting = registerAlertingFlags(app)
	f.scrape = registerScrapeFlags(app)
	f.autoReload = registerAutoReloadFlags(app)
	f.rules = registerRulesFlags(app)
	f.operator = registerOperatorFlags(app)
	f.api = registerAPIFlags(app)
	f.pushgateway = registerPushgatewayFlags(app)
	f.web = webserver.RegisterFlags(app)
	f.remoteWrite = registerRemoteWriteFlags(app)
	// The server is the default command; the others are listed in --help (`vigil help
	// COMMAND` shows their flags). main runs them before the server's flags are parsed, with
	// promtool's exit codes (runRulesCommand, runAlertingCommand).
	app.Command("server", "Run the Vigil server (the default command; the flags above are its flags).").Default()
	registerRulesCommands(app)
	registerExplainCommand(app)
	registerImportCommands(app, &f.storagePath)
	if _, err := app.Parse(args); err != nil {
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
	if handled, code := runImportCommand(os.Args[1:], os.Stdout, os.Stderr); handled {
		os.Exit(code)
	}
	f, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "vigil: %v\n", err)
		os.Exit(2)
	}
	f.logLevelVar = new(slog.LevelVar)
	if f.releaseStartupPages {
		// Every package init function has run: their pages are not needed any more.
		_, _ = residency.Release()
	}
	var l slog.Level
	_ = l.UnmarshalText([]byte(f.logLevel))
	f.logLevelVar.Set(l)
	logger := newLogger(f.logLevelVar, f.logFormat)
	if err := run(f, logger); err != nil {
		logger.Error("vigil stopped with an error", "err", err)
		os.Exit(1)
	}
}

// run is the server's lifecycle, declared in one place: what each component is, the order
// they start in, when the server is ready, and the order they stop in.
//
// Start: signals → web → storage → remote write → alerting → scrape → api → rules →
// pushgateway → reload, then ready.
//   - signals first, so that SIGTERM/SIGINT during startup stop the server cleanly (the start
//     phase checks between components) and SIGHUP waits for the reload handler instead of
//     killing the process.
//   - web next, so that /-/healthy, /-/ready, /metrics and /debug/pprof answer while the
//     storage replays its WAL (a liveness probe must not kill a long replay); every other
//     path answers 503 Service Unavailable until ready, as in Prometheus.
//   - storage, then the consumers of storage in data-flow order; prometheus.yml is first
//     loaded by scrape and applied by each component as it registers.
//   - reload last: SIGHUP and /-/reload only act on a fully started server.
//
// Ready: /-/ready answers 200 once every component has started.
//
// Stop: signals → reload → web → rules → scrape → pushgateway → remote write → alerting → api →
// storage.
//   - the web server first stops accepting and finishes the requests in progress (and with
//     them any reload they asked for);
//   - rules, scrape and the pushgateway stop producing samples and alerts;
//   - remote write sends what its queues hold (up to the flush deadline) and saves positions;
//   - alerting flushes: notifications under way finish and enter the notification log,
//     silences and the log are snapshotted;
//   - storage closes last, after every writer has stopped.
func run(f *flags, logger *slog.Logger) error {
	rs := &runtimeSettings{level: f.logLevelVar, flagLevel: f.logLevel, logger: logger}
	rs.applyEarly(f.scrape.configFile)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// vigil_build_info, not prometheus_build_info: its version label is Vigil's, which
	// dashboards reading prometheus_build_info would take for a Prometheus release.
	reg.MustRegister(versioncollector.NewCollector("vigil"))
	logger.Info("Starting Vigil", "version", commonversion.Info())
	logger.Info("operational information", "build_context", commonversion.BuildContext())
	dbDir, err := filepath.Abs(f.storagePath)
	if err != nil {
		return fmt.Errorf("storage path: %w", err)
	}

	var (
		term     = newTerminator()
		isReady  atomic.Bool
		mux      = http.NewServeMux()
		coord    = reload.New(logger.With("component", "reload"))
		hup      = make(chan os.Signal, 1)
		db       *tsdb.DB
		router   *routing.Router
		scraping *scrapeRuntime
		rules    *rulesRuntime
		api      *apiRuntime
		pushgw   *pushgatewayRuntime
		// pushed is pushgw for the API's handlers (set once the component has started).
		pushed  atomic.Pointer[pushgatewayRuntime]
		remoteW *remotewrite.Manager
		// scrapeMgr is the scrape manager once scraping runs (remote write's metadata source).
		scrapeMgr atomic.Pointer[scrape.Manager]
	)
	var extraMetrics []prometheus.Gatherer
	if f.pushgateway.enable {
		// The Pushgateway handlers' own metrics are on client_golang's default registry.
		extraMetrics = append(extraMetrics, pushgatewayGatherer())
	}
	mountOperational(mux, reg, &isReady, f.enableLifecycle, term, extraMetrics...)
	// The web UI (web/ui): its pages, assets, and GET / redirecting to the query page. Links
	// carry the external URL's path, which the browser sees (e.g. behind an ingress).
	mux.Handle("/", ui.Handler(f.web.ExternalURL.Path))
	crds, err := newOperator(f.operator, reg, logger)
	if err != nil {
		return err
	}

	signals := &component{name: "signals"}
	{
		sigc := make(chan os.Signal, 1)
		done := make(chan struct{})
		forwarded := make(chan struct{})
		signals.start = func() error {
			signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT)
			signal.Notify(hup, syscall.SIGHUP)
			go func() {
				defer close(forwarded)
				select {
				case s := <-sigc:
					term.request("received signal " + s.String())
				case <-done:
				}
			}()
			return nil
		}
		signals.wait = func() error {
			select {
			case <-term.stopping():
				logger.Info("shutting down", "reason", term.why())
			case <-done:
			}
			return nil
		}
		signals.stop = func() {
			signal.Stop(sigc)
			signal.Stop(hup)
			close(done)
			<-forwarded
		}
	}

	var web *webServer
	webc := &component{
		name: "web",
		start: func() (err error) {
			web, err = serveWeb(f.web, f.listenAddress, readyGate(&isReady, mux), logger)
			return err
		},
		wait: func() error { return web.Wait() },
		stop: func() { web.Shutdown() },
	}

	storage := &component{
		name: "storage",
		start: func() (err error) {
			db, err = tsdb.Open(dbDir, &tsdb.Options{
				RetentionDuration:  time.Duration(f.retentionTime).Milliseconds(),
				MaxBytes:           int64(f.retentionSize),
				MinBlockDuration:   time.Duration(f.minBlockDuration).Milliseconds(),
				MaxBlockDuration:   time.Duration(f.maxBlockDuration).Milliseconds(),
				WALSegmentSize:     int(f.walSegmentSizeRaw),
				SnapshotOnShutdown: f.headSnapshotOnShutdown(),
			}, logger.With("component", "tsdb"), reg)
			if err != nil {
				return fmt.Errorf("opening storage: %w", err)
			}
			return nil
		},
		stop: func() {
			if err := db.Close(); err != nil {
				logger.Error("closing storage", "err", err)
			}
		},
	}

	// Remote write starts before the components that write samples and stops after them; its
	// queues start with the first configuration (applied before scraping's) and each stops by
	// sending what it holds for up to --storage.remote.flush-deadline and saving its position.
	remotec := &component{
		name: "remote write",
		start: func() error {
			remoteW = setupRemoteWrite(f.remoteWrite, db, &scrapeMgr, mux, reg, logger)
			return nil
		},
		stop: func() { remoteW.Stop() },
	}

	alerting := &component{
		name: "alerting",
		start: func() error {
			var amend func(*amconfig.Config) (*amconfig.Config, error)
			if crds != nil {
				crds.amFile = f.alerting.configFile
				amend = crds.amend
			}
			r, err := setupAlerting(f.alerting, dbDir, f.web.ExternalURL, mux, reg, logger, amend)
			if err != nil {
				return err
			}
			router = r
			addAlertmanagerFile(coord, f.alerting.configFile, router, reg, logger)
			return nil
		},
		stop: func() { router.Stop() },
	}

	scrapec := &component{
		name: "scrape",
		start: func() (err error) {
			rl := addConfigFile(coord, f.scrape.configFile, reg, logger, crds.wrapLoad)
			rl.Add("remote_write", remoteW.ApplyConfig)
			scraping, err = setupScrape(rl, db, reg, logger, crds.jobDiscoverer(), func(o *scrape.Options) {
				// --enable-feature=st-storage: created timestamps become start timestamps.
				o.ParseST = f.autoReload.feature("st-storage")
			})
			if err != nil {
				return err
			}
			scrapeMgr.Store(scraping.Manager)
			crds.start(scraping.Reloader, router.Reload)
			// Applied before the TSDB opened (applyEarly); from now on with every reload.
			scraping.Reloader.Add("runtime", rs.apply)
			return nil
		},
		stop: func() {
			crds.stop()
			scraping.Stop()
		},
	}

	// One PromQL engine for queries and rules, as in Prometheus: the API builds it from the
	// --query.* flags, so the API is set up before the rules start.
	apic := &component{
		name: "api",
		start: func() (err error) {
			rules = newRules(f.rules, router, reg, logger)
			api, err = setupAPI(f, db, scraping, rules.API(), mux, reg, logger, func(o *apiv1.Options) {
				o.Alertmanagers = rules.Sender // /api/v1/alertmanagers
				if f.pushgateway.enable {
					o.Metadata = withPushedMetadata(o.Metadata, &pushed)
				}
			})
			return err
		},
	}

	rulesc := &component{
		name: "rules",
		start: func() error {
			return rules.start(db, api.Engine, scraping.Reloader, f.web.ExternalURL)
		},
		stop: func() { rules.Stop() },
	}

	// The Pushgateway API, with --web.enable-pushgateway: after storage and scrape (it stores
	// the pushed groups through the scrape append path, with prometheus.yml's global
	// settings); it stops before storage and writes the groups to their file.
	pushgwc := &component{
		name: "pushgateway",
		start: func() (err error) {
			if !f.pushgateway.enable {
				return nil
			}
			pushgw, err = setupPushgateway(f, dbDir, db, scraping.Reloader, mux, logger)
			pushed.Store(pushgw)
			return err
		},
		stop: func() {
			if pushgw != nil {
				pushgw.Stop()
			}
		},
	}

	reloadc := &component{name: "reload"}
	{
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		autoDone := make(chan struct{})
		reloadc.start = func() error {
			mux.Handle("/-/reload", coord.Handler(f.enableLifecycle))
			go func() {
				defer close(done)
				coord.Run(ctx, hup)
			}()
			interval := f.autoReload.resolve(logger)
			if interval > 0 {
				logger.Info("Automatic configuration file reloading enabled", "interval", model.Duration(interval))
			}
			go func() {
				defer close(autoDone)
				coord.AutoReload(ctx, interval)
			}()
			return nil
		}
		reloadc.stop = func() {
			cancel()
			<-done
			<-autoDone
		}
	}

	lc := &lifecycle{
		logger:     logger,
		startOrder: []*component{signals, webc, storage, remotec, alerting, scrapec, apic, rulesc, pushgwc, reloadc},
		stopOrder:  []*component{signals, reloadc, webc, rulesc, scrapec, pushgwc, remotec, alerting, apic, storage},
		stopping:   term.stopping(),
		ready: func() {
			isReady.Store(true)
			logger.Info("Server is ready to receive web requests.", "listen", web.Addr(), "storage", dbDir)
			if f.releaseStartupPages {
				releaseStartupPages(logger)
			}
		},
	}
	return lc.run()
}

// terminator records the first request to stop the server (a signal, POST /-/quit).
type terminator struct {
	once   sync.Once
	done   chan struct{}
	reason string
}

func newTerminator() *terminator { return &terminator{done: make(chan struct{})} }

func (t *terminator) request(reason string) {
	t.once.Do(func() {
		t.reason = reason
		close(t.done)
	})
}

func (t *terminator) stopping() <-chan struct{} { return t.done }

// why is the reason given to request; call it after stopping is closed.
func (t *terminator) why() string { return t.reason }

// mountOperational mounts what answers from the first moment: /metrics (reg's metrics and
// extra's), /debug/pprof, /-/healthy, /-/ready and /-/quit.
func mountOperational(mux *http.ServeMux, reg *prometheus.Registry, ready *atomic.Bool, enableLifecycle bool, term *terminator, extra ...prometheus.Gatherer) {
	mux.Handle("/metrics", promhttp.HandlerFor(append(prometheus.Gatherers{reg}, extra...), promhttp.HandlerOpts{Registry: reg}))
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
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "Service Unavailable")
			return
		}
		fmt.Fprintln(w, "Vigil Server is Ready.")
	})
	// POST /-/quit stops the server as SIGTERM does, with --web.enable-lifecycle (as Prometheus).
	mux.HandleFunc("/-/quit", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			http.Error(w, "Only POST or PUT requests allowed", http.StatusMethodNotAllowed)
			return
		}
		if !enableLifecycle {
			http.Error(w, "Lifecycle API is not enabled.", http.StatusForbidden)
			return
		}
		fmt.Fprintln(w, "Requesting termination... Goodbye!")
		term.request("received /-/quit")
	})
}

// readyGate answers 503 Service Unavailable, as Prometheus does, for every path but the
// operational ones and the UI until the server is ready.
func readyGate(ready *atomic.Bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() && !servedBeforeReady(r.URL.Path) {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "Service Unavailable")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func servedBeforeReady(path string) bool {
	switch path {
	case "/metrics", "/-/healthy", "/-/ready", "/-/quit":
		return true
	}
	// The UI's pages and assets: the page says Vigil is starting until /-/ready answers 200.
	return strings.HasPrefix(path, "/debug/pprof/") || ui.Serves(path)
}

// webServer is the HTTP server of UI, APIs and telemetry (web/server: --web.* flags, the web
// config's TLS and authentication on every path, the route prefix).
type webServer struct {
	srv  *webserver.Server
	errc chan error
}

// serveWeb listens on listenAddress and serves handler until Shutdown.
func serveWeb(f *webserver.Flags, listenAddress string, handler http.Handler, logger *slog.Logger) (*webServer, error) {
	srv, err := webserver.Listen(f, listenAddress, handler, logger.With("component", "web"))
	if err != nil {
		return nil, err
	}
	w := &webServer{srv: srv, errc: make(chan error, 1)}
	go func() { w.errc <- srv.Serve() }()
	return w, nil
}

// Addr is the address the server listens on.
func (w *webServer) Addr() string { return w.srv.Addr().String() }

// Wait returns when the server stopped: nil after Shutdown, the error if it failed.
func (w *webServer) Wait() error {
	err := <-w.errc
	w.errc <- err // for a second Wait
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("web server: %w", err)
}

// Shutdown stops accepting connections and waits (at most 10s) for the requests in progress.
func (w *webServer) Shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = w.srv.Shutdown(ctx)
}
