package main

// The Pushgateway API (--web.enable-pushgateway): the pushed groups (remote/pushgateway), kept
// in the data directory, served by the Pushgateway's own handlers (web/pushgateway), and stored
// in the TSDB through the scrape append path once per interval.

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	commonversion "github.com/prometheus/common/version"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/remote/pushgateway"
	"github.com/vigil-monitoring/vigil/scrape"
	"github.com/vigil-monitoring/vigil/storage"
	webpushgateway "github.com/vigil-monitoring/vigil/web/pushgateway"
)

type pushgatewayFlags struct {
	enable          bool
	interval        model.Duration
	maxBodySize     bytesFlag
	persistInterval model.Duration
}

func registerPushgatewayFlags(app *kingpin.Application) *pushgatewayFlags {
	f := &pushgatewayFlags{}
	app.Flag("web.enable-pushgateway", "Enable the Pushgateway API: PUT, POST and DELETE /metrics/job/<job>{/<label>/<value>}, GET /api/v1/metrics and /api/v1/status (PUT /api/v1/admin/wipe with --web.enable-admin-api). Pushed groups are stored in the TSDB every --pushgateway.interval and kept across restarts.").BoolVar(&f.enable)
	app.Flag("pushgateway.interval", "How often the pushed groups' latest values are stored in the TSDB, as a scrape of a Pushgateway with honor_labels: true would store them. 0 means the global scrape_interval of the configuration.").Default("0s").SetValue(&f.interval)
	app.Flag("pushgateway.max-body-size", "Largest body a push may have, after decompression (e.g. 16MB); larger pushes are refused with 400. 0 means no limit.").Default("16MB").SetValue(&f.maxBodySize)
	app.Flag("pushgateway.persistence.interval", "The minimum interval at which changed groups are written to <storage.tsdb.path>/pushgateway/groups (and at shutdown).").Default("1m").SetValue(&f.persistInterval)
	return f
}

// pushgatewayPath is the file of the pushed groups in the data directory.
func pushgatewayPath(dbDir string) string { return filepath.Join(dbDir, "pushgateway", "groups") }

// pushgatewayRuntime stores the pushed groups in the TSDB every interval.
type pushgatewayRuntime struct {
	store  *pushgateway.Store
	ing    *scrape.Ingester
	logger *slog.Logger

	flagInterval time.Duration
	mu           sync.Mutex
	interval     time.Duration
	accept       string
	reset        chan struct{} // the interval changed

	cancel context.CancelFunc
	done   chan struct{}
}

// setupPushgateway opens the pushed groups, mounts the API on mux and starts storing the groups
// in app with the scrape settings of rl's configuration (and of every reload).
func setupPushgateway(f *flags, dbDir string, app storage.Appendable, rl *reloader, mux *http.ServeMux, logger *slog.Logger) (*pushgatewayRuntime, error) {
	pf := f.pushgateway
	logger = logger.With("component", "pushgateway")
	store, err := pushgateway.Open(pushgatewayPath(dbDir), time.Duration(pf.persistInterval), logger)
	if err != nil {
		return nil, err
	}
	p := &pushgatewayRuntime{
		store:        store,
		ing:          scrape.NewIngester("pushgateway", app, logger),
		logger:       logger,
		flagInterval: time.Duration(pf.interval),
		reset:        make(chan struct{}, 1),
		done:         make(chan struct{}),
	}
	if err := p.applyConfig(rl.Config()); err != nil {
		return nil, err
	}
	rl.Add("pushgateway", p.applyConfig)
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	// The loaded groups are stored once before any push or delete can change them, so that a
	// group deleted right after a restart still gets stale markers.
	p.ingest(ctx, time.Now())
	webpushgateway.Register(mux, webpushgateway.Options{
		Store:       store,
		MaxBodySize: int64(pf.maxBodySize),
		SizeFlag:    "--pushgateway.max-body-size",
		EnableAdmin: f.enableAdminAPI,
		Flags:       f.api.flagValues(),
		BuildInfo: map[string]string{
			"version":   commonversion.Version,
			"revision":  commonversion.Revision,
			"branch":    commonversion.Branch,
			"buildUser": commonversion.BuildUser,
			"buildDate": commonversion.BuildDate,
			"goVersion": commonversion.GoVersion,
		},
		Logger: logger,
	})
	go p.run(ctx)
	return p, nil
}

// applyConfig takes the interval (unless --pushgateway.interval sets it), the scrape
// protocols, which decide the format the groups are rendered in, and the native histogram
// settings (scrape_native_histograms, always_scrape_classic_histograms,
// convert_classic_histograms_to_nhcb) from the global section, as a Prometheus job scraping
// the Pushgateway with the global defaults: with scrape_native_histograms the groups are
// rendered in protobuf (unless scrape_protocols says otherwise) and pushed native
// histograms are stored as native histograms.
func (p *pushgatewayRuntime) applyConfig(cfg *config.Config) error {
	interval := p.flagInterval
	var protocols []config.ScrapeProtocol
	var hopts scrape.HistogramOptions
	if cfg != nil {
		if interval <= 0 {
			interval = time.Duration(cfg.GlobalConfig.ScrapeInterval)
		}
		protocols = cfg.GlobalConfig.ScrapeProtocols
		g := cfg.GlobalConfig
		hopts = scrape.HistogramOptions{
			Native:        g.ScrapeNativeHistograms != nil && *g.ScrapeNativeHistograms,
			AlwaysClassic: g.AlwaysScrapeClassicHistograms,
			ConvertNHCB:   g.ConvertClassicHistogramsToNHCB,
		}
		if hopts.Native && len(protocols) == 0 {
			protocols = config.DefaultProtoFirstScrapeProtocols
		}
	}
	p.ing.SetHistogramOptions(hopts)
	if interval <= 0 {
		interval = time.Minute // Prometheus's default scrape_interval
	}
	p.mu.Lock()
	changed := interval != p.interval
	p.interval, p.accept = interval, scrape.AcceptHeader(protocols)
	p.mu.Unlock()
	if changed {
		select {
		case p.reset <- struct{}{}:
		default:
		}
	}
	return nil
}

func (p *pushgatewayRuntime) settings() (time.Duration, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.interval, p.accept
}

func (p *pushgatewayRuntime) run(ctx context.Context) {
	defer close(p.done)
	for {
		interval, _ := p.settings()
		t := time.NewTicker(interval)
	tick:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-p.reset:
				t.Stop()
				break tick
			case now := <-t.C:
				p.ingest(ctx, now)
			}
		}
	}
}

// ingest stores the groups at ts, as a scrape of a Pushgateway would.
func (p *pushgatewayRuntime) ingest(ctx context.Context, ts time.Time) {
	_, accept := p.settings()
	format := pushgateway.Negotiate(accept)
	stats, err := p.ing.Ingest(ctx, ts.Round(0), string(format), func(yield func([]byte) error) error {
		return p.store.WriteExposition(format, yield)
	})
	if err != nil {
		p.logger.Warn("storing the pushed groups", "err", err, "samples", stats.Samples)
		return
	}
	p.logger.Debug("pushed groups stored", "samples", stats.Samples, "series_added", stats.SeriesAdded)
}

// Stop ends storing the groups and writes them to their file.
func (p *pushgatewayRuntime) Stop() {
	p.cancel()
	<-p.done
	if err := p.store.Shutdown(); err != nil {
		p.logger.Error("writing the pushed groups", "err", err)
	}
}

// withPushedMetadata adds the metadata (type, help) of the pushed families, as the last store
// in the TSDB saw them, to what base (the scrape targets' metadata) returns for
// /api/v1/metadata, as Prometheus shows a scraped Pushgateway's.
func withPushedMetadata(base func(string, int) map[string][]scrape.MetricMetadata, p *atomic.Pointer[pushgatewayRuntime]) func(string, int) map[string][]scrape.MetricMetadata {
	return func(metric string, limit int) map[string][]scrape.MetricMetadata {
		res := map[string][]scrape.MetricMetadata{}
		if base != nil {
			res = base(metric, limit)
		}
		rt := p.Load()
		if rt == nil {
			return res
		}
		for _, md := range rt.ing.Metadata() {
			if (metric != "" && md.MetricFamily != metric) || (limit > 0 && len(res[md.MetricFamily]) >= limit) ||
				slices.Contains(res[md.MetricFamily], md) {
				continue
			}
			res[md.MetricFamily] = append(res[md.MetricFamily], md)
		}
		return res
	}
}

// pushgatewayGatherer gathers the Pushgateway handlers' own metrics
// (pushgateway_http_requests_total, pushgateway_http_push_size_bytes,
// pushgateway_http_push_duration_seconds), which they register on client_golang's default
// registry, for Vigil's /metrics.
func pushgatewayGatherer() prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := prometheus.DefaultGatherer.Gather()
		kept := mfs[:0]
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "pushgateway_") {
				kept = append(kept, mf)
			}
		}
		return kept, err
	})
}
