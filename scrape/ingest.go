package scrape

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/storage"
)

// Ingester appends expositions that Vigil renders itself (the groups pushed to its Pushgateway
// API) through the scrape append path: the same parsers, label handling, series cache and
// staleness markers as a scrape of a target serving that exposition, with honor_labels: true
// and no target labels, so the exposed job and instance labels are stored as they are (an
// empty instance label is no label). It writes no report series (up, scrape_*): there is no
// target to be up or down. Safe for concurrent use; ingests run one at a time.
type Ingester struct {
	mu  sync.Mutex
	sl  *scrapeLoop
	app storage.Appendable
}

// NewIngester returns an Ingester appending to app; pool names it in logs.
func NewIngester(pool string, app storage.Appendable, logger *slog.Logger) *Ingester {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := newTarget(pool, labels.EmptyLabels(), labels.EmptyLabels(), nil)
	cfg := loopConfig{honorLabels: true, honorTimestamps: true}
	sl := newScrapeLoop(context.Background(), context.Background(), t, cfg, nil, app, nil, 0, nil, logger)
	return &Ingester{sl: sl, app: app}
}

// AcceptHeader is the Accept header a scrape with the given scrape_protocols sends (the
// defaults when sps is empty).
func AcceptHeader(sps []config.ScrapeProtocol) string {
	if len(sps) == 0 {
		sps = config.DefaultScrapeProtocols
	}
	return acceptHeader(sps)
}

// HistogramOptions are the native histogram settings of the scrape an Ingest stands for:
// scrape_native_histograms, always_scrape_classic_histograms and
// convert_classic_histograms_to_nhcb.
type HistogramOptions struct {
	Native, AlwaysClassic, ConvertNHCB bool
}

// SetHistogramOptions sets the native histogram settings of the next ingests (all off at
// first: native histograms are left out, their classic buckets stored, as a scrape without
// scrape_native_histograms does).
func (in *Ingester) SetHistogramOptions(o HistogramOptions) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.sl.cfg.nativeHistograms, in.sl.cfg.alwaysClassic, in.sl.cfg.convertNHCB = o.Native, o.AlwaysClassic, o.ConvertNHCB
}

// IngestStats is what one Ingest stored.
type IngestStats struct {
	// Samples is the number of samples parsed, Added the number stored.
	Samples, Added int
	// SeriesAdded is the number of series not in the previous ingest.
	SeriesAdded int
}

// Ingest appends one exposition of contentType, stored at ts, as one scrape. chunks calls yield
// with the exposition in pieces, each a complete exposition in itself (an OpenMetrics piece ends
// with # EOF); a family may not be split across pieces. After the last piece, series of the
// previous Ingest that are missing get stale markers, and everything is committed at once. If
// chunks or a piece fails, nothing of this Ingest is stored and all series of the previous one
// get stale markers, as after a failed scrape. Samples rejected by the storage (out of order,
// duplicates) are counted in the error's text but do not fail the ingest.
func (in *Ingester) Ingest(ctx context.Context, ts time.Time, contentType string, chunks func(yield func([]byte) error) error) (IngestStats, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	sl := in.sl
	app := in.app.Appender(ctx)
	run := appendRun{sl: sl, app: app, defTime: ts.UnixMilli()}
	run.maxT = run.defTime + maxFutureSkew.Milliseconds()
	opts := textparse.ParserOptions{
		IgnoreNativeHistograms:                  !sl.cfg.nativeHistograms,
		ConvertClassicHistogramsToNHCB:          sl.cfg.convertNHCB,
		KeepClassicOnClassicAndNativeHistograms: sl.cfg.alwaysClassic,
	}
	err := chunks(func(b []byte) error {
		p, perr := textparse.New(b, contentType, sl.symbols, opts)
		if p == nil {
			return perr
		}
		return run.entries(p)
	})
	if err == nil {
		err = sl.updateStaleMarkers(app, run.defTime)
	}
	stats := IngestStats{Samples: run.stats.total, Added: run.stats.added, SeriesAdded: run.stats.seriesAdded}
	if err != nil {
		_ = app.Rollback()
		app = in.app.Appender(ctx)
		sl.cache.forgetCurrent()
		if serr := sl.updateStaleMarkers(app, run.defTime); serr != nil {
			_ = app.Rollback()
			sl.cache.iterDone(false)
			return stats, errors.Join(err, serr)
		}
		sl.cache.iterDone(false)
		if cerr := app.Commit(); cerr != nil {
			return stats, errors.Join(err, cerr)
		}
		return stats, err
	}
	sl.cache.iterDone(true)
	if err := app.Commit(); err != nil {
		return stats, fmt.Errorf("storing samples: %w", err)
	}
	return stats, run.stats.warning()
}

// Metadata returns the metadata of the families of the last ingests.
func (in *Ingester) Metadata() []MetricMetadata { return in.sl.cache.meta.list() }
