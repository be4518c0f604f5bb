package main

// Prometheus HTTP API wiring: the query flags, the PromQL engine, and /api/v1/ on the mux.

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	commonversion "github.com/prometheus/common/version"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/promql"
	remoteread "github.com/vigil-monitoring/vigil/remote/read"
	"github.com/vigil-monitoring/vigil/tsdb"
	apiv1 "github.com/vigil-monitoring/vigil/web/api/v1"
	"github.com/vigil-monitoring/vigil/web/federate"
)

// startTime is reported as the server's start time in /api/v1/status/runtimeinfo.
var startTime = time.Now()

type apiFlags struct {
	app               *kingpin.Application
	lookbackDelta     model.Duration
	queryTimeout      model.Duration
	maxSamples        int
	maxConcurrency    int
	enableRemoteWrite bool
	remoteWriteMsgs   remoteapi.MessageTypes

	remoteReadSampleLimit     int
	remoteReadConcurrentLimit int
	remoteReadMaxBytesInFrame int
	enableOTLP                bool
}

func registerAPIFlags(app *kingpin.Application) *apiFlags {
	f := &apiFlags{app: app}
	app.Flag("query.lookback-delta", "The maximum lookback duration for retrieving metrics during expression evaluations and federation.").Default("5m").SetValue(&f.lookbackDelta)
	app.Flag("query.timeout", "Maximum time a query may take before being aborted.").Default("2m").SetValue(&f.queryTimeout)
	app.Flag("query.max-samples", "Maximum number of samples a single query can load into memory. Note that queries will fail if they try to load more samples than this into memory, so this also limits the number of samples a query can return.").Default("50000000").IntVar(&f.maxSamples)
	app.Flag("query.max-concurrency", "Maximum number of queries executed concurrently.").Default("20").IntVar(&f.maxConcurrency)
	app.Flag("web.enable-remote-write-receiver", "Enable API endpoint accepting remote write requests.").BoolVar(&f.enableRemoteWrite)
	supported := remoteapi.MessageTypes{remoteapi.WriteV1MessageType, remoteapi.WriteV2MessageType}
	app.Flag("web.remote-write-receiver.accepted-protobuf-messages", fmt.Sprintf("List of the remote write protobuf messages to accept when receiving the remote writes. Supported values: %v", supported.String())).
		Default(supported.Strings()...).SetValue(&rwProtoMsgFlag{msgs: &f.remoteWriteMsgs})
	app.Flag("storage.remote.read-sample-limit", "Maximum overall number of samples to return via the remote read interface, in a single query. 0 means no limit. This limit is ignored for streamed response types.").Default("5e7").IntVar(&f.remoteReadSampleLimit)
	app.Flag("storage.remote.read-concurrent-limit", "Maximum number of concurrent remote read calls. 0 means no limit.").Default("10").IntVar(&f.remoteReadConcurrentLimit)
	app.Flag("storage.remote.read-max-bytes-in-frame", "Maximum number of bytes in a single frame for streaming remote read response types before marshalling. Note that client might have limit on frame size as well. 1MB as recommended by protobuf by default.").Default("1048576").IntVar(&f.remoteReadMaxBytesInFrame)
	app.Flag("web.enable-otlp-receiver", "Enable API endpoint accepting OTLP write requests.").BoolVar(&f.enableOTLP)
	return f
}

// flagValues returns Vigil's flags with their current values, for /api/v1/status/flags.
// Kingpin's own flags (help, help-long, help-man, completion-*, version) are left out, as
// Prometheus leaves them out.
func (f *apiFlags) flagValues() map[string]string {
	boilerplate := kingpin.New("", "").Version("")
	m := map[string]string{}
	for _, fl := range f.app.Model().Flags {
		if boilerplate.GetFlag(fl.Name) != nil {
			continue
		}
		m[fl.Name] = fl.Value.String()
	}
	return m
}

// apiRuntime is what the rest of the server can use of the query side: the engine is shared
// with rule evaluation so that --query.* limits apply to both.
type apiRuntime struct {
	Engine *promql.Engine
	API    *apiv1.API
}

// setupAPI builds the PromQL engine from the --query.* flags and mounts /api/v1/ on mux.
// rules may be nil until a ruler is wired in. extra options are applied last, e.g.
// func(o *apiv1.Options) { o.Alertmanagers = sender } for /api/v1/alertmanagers.
func setupAPI(f *flags, db *tsdb.DB, scraping *scrapeRuntime, rules apiv1.RulesRetriever, mux *http.ServeMux, reg prometheus.Registerer, logger *slog.Logger, extra ...func(*apiv1.Options)) (*apiRuntime, error) {
	af := f.api
	if af.maxConcurrency < 0 || af.maxSamples < 0 {
		return nil, fmt.Errorf("--query.max-concurrency (%d) and --query.max-samples (%d) must not be negative", af.maxConcurrency, af.maxSamples)
	}
	if af.remoteReadSampleLimit < 0 || af.remoteReadConcurrentLimit < 0 || af.remoteReadMaxBytesInFrame < 0 {
		return nil, fmt.Errorf("--storage.remote.read-sample-limit (%d), --storage.remote.read-concurrent-limit (%d) and --storage.remote.read-max-bytes-in-frame (%d) must not be negative",
			af.remoteReadSampleLimit, af.remoteReadConcurrentLimit, af.remoteReadMaxBytesInFrame)
	}
	engine := promql.NewEngine(promql.EngineOpts{
		Logger:        logger.With("component", "query engine"),
		Reg:           reg,
		MaxSamples:    af.maxSamples,
		Timeout:       time.Duration(af.queryTimeout),
		LookbackDelta: time.Duration(af.lookbackDelta),
		MaxConcurrent: af.maxConcurrency,
		// --enable-feature=use-start-timestamps, as Prometheus.
		UseStartTimestamps: f.autoReload != nil && f.autoReload.feature("use-start-timestamps"),
	})
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	cwd, err := os.Getwd()
	if err != nil {
		cwd = "<unknown>"
	}
	opts := apiv1.Options{
		Logger:     logger.With("component", "api"),
		Queryable:  db,
		Engine:     engine,
		Appendable: db,
		DB:         db,
		Rules:      rules,
		Flags:      af.flagValues,
		BuildInfo: apiv1.BuildInfo{
			Version:   commonversion.Version,
			Revision:  commonversion.Revision,
			Branch:    commonversion.Branch,
			BuildUser: commonversion.BuildUser,
			BuildDate: commonversion.BuildDate,
			GoVersion: commonversion.GoVersion,
		},
		// As Prometheus: the external URL's host and scheme.
		GlobalURL:           apiv1.GlobalURLOptions{ListenAddress: f.listenAddress, Host: f.web.ExternalURL.Host, Scheme: f.web.ExternalURL.Scheme},
		CORSOrigin:          f.web.CORSOrigin,
		EnableAdmin:         f.enableAdminAPI,
		EnableRemoteWrite:   af.enableRemoteWrite,
		RemoteWriteMessages: af.remoteWriteMsgs,
		ExternalLabels:      externalLabels(scraping),
		ExternalURL:         f.web.ExternalURL,
		RemoteRead: remoteread.NewHandler(remoteread.Options{
			Queryable:       db,
			ExternalLabels:  externalLabels(scraping),
			SampleLimit:     af.remoteReadSampleLimit,
			ConcurrentLimit: af.remoteReadConcurrentLimit,
			MaxBytesInFrame: af.remoteReadMaxBytesInFrame,
			Registerer:      reg,
			Logger:          logger.With("component", "remote read"),
		}),
		EnableOTLP:    af.enableOTLP,
		LookbackDelta: time.Duration(af.lookbackDelta),
		Registerer:    reg,
	}
	if scraping != nil {
		opts.Targets = scraping.Manager
		opts.Metadata = scraping.Manager.Metadata
		opts.OTLPConfig = func() config.OTLPConfig {
			if cfg := scraping.Reloader.Config(); cfg != nil {
				return cfg.OTLPConfig
			}
			return config.DefaultOTLPConfig
		}
		opts.Config = func() string {
			if cfg := scraping.Reloader.Config(); cfg != nil {
				return cfg.String()
			}
			return ""
		}
	}
	retention := retentionString(f)
	opts.RuntimeInfo = func() apiv1.RuntimeInfo {
		ri := apiv1.RuntimeInfo{
			StartTime:        startTime,
			CWD:              cwd,
			Hostname:         host,
			ServerTime:       time.Now().UTC(),
			GoroutineCount:   runtime.NumGoroutine(),
			GOMAXPROCS:       runtime.GOMAXPROCS(0),
			GOMEMLIMIT:       debug.SetMemoryLimit(-1),
			GOGC:             os.Getenv("GOGC"),
			GODEBUG:          os.Getenv("GODEBUG"),
			StorageRetention: retention,
		}
		if scraping != nil {
			ok, at := scraping.Reloader.LastReload()
			ri.ReloadConfigSuccess = ok
			if !at.IsZero() {
				ri.LastConfigTime = at.Truncate(time.Second).UTC()
			}
		}
		return ri
	}
	for _, f := range extra {
		f(&opts)
	}
	api := apiv1.New(opts)
	mux.Handle("/api/v1/", api)
	mux.Handle("GET /federate", federate.New(federate.Options{
		Queryable:      db,
		LookbackDelta:  time.Duration(af.lookbackDelta),
		ExternalLabels: externalLabels(scraping),
		Registerer:     reg,
		Logger:         logger.With("component", "federate"),
	}))
	return &apiRuntime{Engine: engine, API: api}, nil
}

// externalLabels returns global.external_labels of the running configuration (none without
// scraping, as in tests that set up the API alone).
func externalLabels(scraping *scrapeRuntime) func() labels.Labels {
	return func() labels.Labels {
		if scraping != nil {
			if cfg := scraping.Reloader.Config(); cfg != nil {
				return cfg.GlobalConfig.ExternalLabels
			}
		}
		return labels.EmptyLabels()
	}
}

// retentionString renders the retention settings as Prometheus's runtimeinfo does
// ("15d", "512MiB", or "15d or 512MiB").
func retentionString(f *flags) string {
	var s string
	if f.retentionTime != 0 {
		s = f.retentionTime.String()
	}
	if f.retentionSize != 0 {
		size := fmt.Sprintf("%dB", int64(f.retentionSize))
		if s == "" {
			return size
		}
		return s + " or " + size
	}
	return s
}

// rwProtoMsgFlag parses --web.remote-write-receiver.accepted-protobuf-messages (repeatable), as
// Prometheus's rwProtoMsgFlagParser (cmd/prometheus/main.go, v0.315.0).
type rwProtoMsgFlag struct{ msgs *remoteapi.MessageTypes }

func (*rwProtoMsgFlag) IsCumulative() bool { return true }

func (p *rwProtoMsgFlag) String() string { return strings.Join(p.msgs.Strings(), ",") }

func (p *rwProtoMsgFlag) Set(opt string) error {
	t := remoteapi.WriteMessageType(opt)
	if err := t.Validate(); err != nil {
		return err
	}
	if slices.Contains(*p.msgs, t) {
		return fmt.Errorf("duplicated %v flag value, got %v already", t, *p.msgs)
	}
	*p.msgs = append(*p.msgs, t)
	return nil
}
