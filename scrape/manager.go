package scrape

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/discovery"
	"github.com/vigil-monitoring/vigil/storage"
)

// Options configure a Manager. The zero value is usable.
type Options struct {
	// DiscoveryUpdateInterval is the minimum time between two target syncs of a pool, batching
	// discovery churn (default 5s, as Prometheus).
	DiscoveryUpdateInterval time.Duration
	// OffsetSeed shifts every target's scrape phase, so that several servers scraping the same
	// targets do not all hit them at the same moment. Default: a hash of the host name (set it
	// from external labels for HA pairs on one host).
	OffsetSeed uint64
	// HTTPClientOptions are passed to every scrape and HTTP SD client.
	HTTPClientOptions []commoncfg.HTTPClientOption
	// NewKubernetesDiscoverer overrides how kubernetes_sd discoverers are built (tests use it to
	// hand in a fake clientset).
	NewKubernetesDiscoverer func(*config.KubernetesSDConfig, *slog.Logger) (discovery.Discoverer, error)
	// JobDiscoverer, if set, may return the discoverer of a job's kubernetes_sd_configs entry
	// (the shared discovery of jobs generated from Prometheus Operator resources); nil means the
	// usual one. The job's discoverer is reused while its SD config is unchanged.
	JobDiscoverer func(job string) discovery.Discoverer
	// ParseST makes the samples' start timestamps (created timestamps) part of what is
	// scraped, as Prometheus's --enable-feature=st-storage does: OpenMetrics "<name>_created"
	// lines and the protobuf format's created timestamps become the start timestamps of the
	// series' samples (appended with storage.STAppender) instead of samples of their own.
	ParseST bool
}

// Manager runs one scrape pool per scrape config and applies configuration reloads. Its methods
// are safe for concurrent use.
type Manager struct {
	opts    Options
	logger  *slog.Logger
	app     storage.Appendable
	metrics *metrics

	// ctx is cancelled by Stop; loops append under it, so a reload never cuts an append short.
	ctx    context.Context
	cancel context.CancelFunc

	mtx   sync.Mutex // serialises ApplyConfig and Stop
	pools map[string]*scrapePool
	// poolsMtx guards pools for readers (the API) while ApplyConfig works.
	poolsMtx sync.RWMutex
	stopped  bool
}

// NewManager returns a Manager that appends to app. reg may be nil.
func NewManager(opts *Options, logger *slog.Logger, app storage.Appendable, reg prometheus.Registerer) *Manager {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.DiscoveryUpdateInterval <= 0 {
		o.DiscoveryUpdateInterval = 5 * time.Second
	}
	if o.OffsetSeed == 0 {
		h := fnv.New64a()
		host, _ := os.Hostname()
		h.Write([]byte(host))
		o.OffsetSeed = h.Sum64()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		opts:    o,
		logger:  logger,
		app:     app,
		metrics: newMetrics(reg),
		ctx:     ctx,
		cancel:  cancel,
		pools:   map[string]*scrapePool{},
	}
	if reg != nil {
		reg.MustRegister(newMetadataCollector(m))
	}
	return m
}

// ApplyConfig starts, reloads and stops scrape pools to match cfg. Jobs whose scrape config is
// unchanged are not touched at all: their loops keep their phase and scrape without a gap.
// Changed jobs get new loops that take over the old ones' caches (no stale markers, no gap);
// discoverers whose own config is unchanged keep running. Removed jobs stop and their series get
// stale markers. Everything that can fail (HTTP clients from TLS files, discoverers) is built
// before anything changes, so an error leaves the running configuration in place.
func (m *Manager) ApplyConfig(cfg *config.Config) error {
	m.mtx.Lock()
	defer m.mtx.Unlock()
	if m.stopped {
		return errors.New("scrape manager is stopped")
	}
	type change struct {
		cfg    *config.ScrapeConfig
		client *http.Client
		pool   *scrapePool
		plan   *providerPlan
		isNew  bool
	}
	var changes []*change
	discard := func() {
		for _, c := range changes {
			if c.isNew {
				c.pool.stop(false)
			}
		}
	}
	for _, sc := range cfg.ScrapeConfigs {
		p, ok := m.pools[sc.JobName]
		if ok && reflect.DeepEqual(p.cfg, sc) && !p.hasFailedProviders() {
			continue
		}
		client, err := newHTTPClient(sc, m.opts.HTTPClientOptions)
		if err != nil {
			discard()
			return err
		}
		c := &change{cfg: sc, client: client, pool: p}
		if !ok {
			c.pool, c.isNew = newScrapePool(m, sc, client), true
		}
		changes = append(changes, c)
		if c.plan, err = c.pool.prepareProviders(sc); err != nil {
			discard()
			return err
		}
	}
	for _, c := range changes {
		if c.isNew {
			c.pool.applyProviders(c.plan)
		} else {
			c.pool.reload(c.cfg, c.client, c.plan)
		}
	}
	keep := map[string]struct{}{}
	for _, sc := range cfg.ScrapeConfigs {
		keep[sc.JobName] = struct{}{}
	}
	var removed []*scrapePool
	m.poolsMtx.Lock()
	for job, p := range m.pools {
		if _, ok := keep[job]; !ok {
			removed = append(removed, p)
			delete(m.pools, job)
		}
	}
	for _, c := range changes {
		if c.isNew {
			m.pools[c.cfg.JobName] = c.pool
		}
	}
	m.poolsMtx.Unlock()
	for _, p := range removed {
		p.stop(true)
	}
	m.metrics.failedConfigs.Set(float64(len(m.discoveryErrors(true))))
	return nil
}

// CheckConfig builds what ApplyConfig builds of every scrape config that can fail on a valid
// file — the HTTP clients, which read TLS certificate files — without starting anything. The
// server checks a configuration with it before applying it, and so does `vigil check config`.
func CheckConfig(cfg *config.Config, opts ...commoncfg.HTTPClientOption) error {
	for _, sc := range cfg.ScrapeConfigs {
		c, err := newHTTPClient(sc, opts)
		if err != nil {
			return err
		}
		c.CloseIdleConnections()
	}
	return nil
}

// DiscoveryError is a discovery mechanism of a scrape pool that does not work: it could not be
// built (Since is zero), or it fails while it runs (the Kubernetes API server cannot be reached
// or refuses the credentials).
type DiscoveryError struct {
	ScrapePool string
	Mechanism  string // "kubernetes", "http", ...
	Index      int    // the mechanism's position among the pool's discovery configs
	Err        error
}

// DiscoveryErrors returns the discovery mechanisms that do not work, by pool and position.
func (m *Manager) DiscoveryErrors() []DiscoveryError { return m.discoveryErrors(false) }

func (m *Manager) discoveryErrors(buildOnly bool) []DiscoveryError {
	var res []DiscoveryError
	for job, p := range m.snapshot() {
		p.mtx.Lock()
		for i, pr := range p.providers {
			err := pr.err
			if r, ok := pr.d.(discovery.ErrorReporter); ok && err == nil && !buildOnly {
				err = r.LastError()
			}
			if err != nil {
				res = append(res, DiscoveryError{ScrapePool: job, Mechanism: pr.kind, Index: i, Err: err})
			}
		}
		p.mtx.Unlock()
	}
	sort.Slice(res, func(i, j int) bool {
		if res[i].ScrapePool != res[j].ScrapePool {
			return res[i].ScrapePool < res[j].ScrapePool
		}
		return res[i].Index < res[j].Index
	})
	return res
}

// Stop ends all scraping. No stale markers are written: the server is going down, not the
// targets, and a restart continues the series.
func (m *Manager) Stop() {
	m.mtx.Lock()
	defer m.mtx.Unlock()
	if m.stopped {
		return
	}
	m.stopped = true
	m.poolsMtx.Lock()
	pools := m.pools
	m.pools = map[string]*scrapePool{}
	m.poolsMtx.Unlock()
	var wg sync.WaitGroup
	for _, p := range pools {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop(false) }()
	}
	wg.Wait()
	m.cancel()
}

func (m *Manager) snapshot() map[string]*scrapePool {
	m.poolsMtx.RLock()
	defer m.poolsMtx.RUnlock()
	res := make(map[string]*scrapePool, len(m.pools))
	for k, v := range m.pools {
		res[k] = v
	}
	return res
}

// ScrapePools returns the job names, sorted.
func (m *Manager) ScrapePools() []string {
	pools := m.snapshot()
	names := make([]string, 0, len(pools))
	for n := range pools {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TargetsActive returns the active targets by scrape pool (job), each list sorted by URL.
func (m *Manager) TargetsActive() map[string][]*Target {
	res := map[string][]*Target{}
	for job, p := range m.snapshot() {
		res[job] = p.activeTargets()
	}
	return res
}

// TargetsDropped returns the targets relabeling dropped, by scrape pool; at most
// keep_dropped_targets per pool when that is set.
func (m *Manager) TargetsDropped() map[string][]*Target {
	res := map[string][]*Target{}
	for job, p := range m.snapshot() {
		res[job], _ = p.droppedTargets()
	}
	return res
}

// TargetsDroppedCounts returns how many targets relabeling dropped per pool, including those not
// kept because of keep_dropped_targets (/api/v1/targets' droppedTargetCounts).
func (m *Manager) TargetsDroppedCounts() map[string]int {
	res := map[string]int{}
	for job, p := range m.snapshot() {
		_, res[job] = p.droppedTargets()
	}
	return res
}

// TargetMetadata is one metadata entry of one target (/api/v1/targets/metadata).
type TargetMetadata struct {
	Target *Target
	MetricMetadata
}

// TargetsMetadata returns the metadata of active targets. If metric is not empty only that
// family is returned. matchTarget, if not nil, selects targets (the API passes a matcher over
// Target.Labels()).
func (m *Manager) TargetsMetadata(metric string, matchTarget func(*Target) bool) []TargetMetadata {
	var res []TargetMetadata
	pools := m.snapshot()
	jobs := make([]string, 0, len(pools))
	for j := range pools {
		jobs = append(jobs, j)
	}
	sort.Strings(jobs)
	for _, j := range jobs {
		for _, t := range pools[j].activeTargets() {
			if matchTarget != nil && !matchTarget(t) {
				continue
			}
			if metric != "" {
				if md, ok := t.GetMetadata(metric); ok {
					res = append(res, TargetMetadata{Target: t, MetricMetadata: md})
				}
				continue
			}
			for _, md := range t.ListMetadata() {
				res = append(res, TargetMetadata{Target: t, MetricMetadata: md})
			}
		}
	}
	return res
}

// Metadata aggregates metadata across all targets by metric family, without duplicates, for
// /api/v1/metadata. If metric is not empty only that family is returned. limitPerMetric <= 0
// means no limit on the distinct entries per family.
func (m *Manager) Metadata(metric string, limitPerMetric int) map[string][]MetricMetadata {
	res := map[string][]MetricMetadata{}
	seen := map[MetricMetadata]struct{}{}
	for _, tm := range m.TargetsMetadata(metric, nil) {
		md := tm.MetricMetadata
		if _, ok := seen[md]; ok {
			continue
		}
		if limitPerMetric > 0 && len(res[md.MetricFamily]) >= limitPerMetric {
			continue
		}
		seen[md] = struct{}{}
		res[md.MetricFamily] = append(res[md.MetricFamily], md)
	}
	return res
}
