package scrape

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"sync"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/discovery"
)

// provider is one running discoverer of a pool and the groups it reported.
type provider struct {
	kind   string
	cfg    any // the SD config it was built from, to recognise it across reloads
	d      discovery.Discoverer
	cancel context.CancelFunc
	groups map[string]*config.TargetGroup
	// err is why the discoverer could not be built (d is nil then): as in Prometheus the job
	// runs without it, and the next reload tries again.
	err error
}

type providerUpdate struct {
	p   *provider
	tgs []*config.TargetGroup
}

// scrapePool runs the discovery and the scrape loops of one scrape config (job).
type scrapePool struct {
	m      *Manager
	ctx    context.Context // cancelled when the pool stops
	cancel context.CancelFunc
	done   chan struct{}
	logger *slog.Logger

	updates chan providerUpdate

	mtx       sync.Mutex
	cfg       *config.ScrapeConfig
	lcfg      loopConfig
	client    *http.Client
	providers []*provider
	active    map[uint64]*Target
	loops     map[uint64]*scrapeLoop
	dropped   []*Target
	nDropped  int
	// stopping holds loops of vanished targets that are waiting to write stale markers, by
	// target identity; a target that comes back (or reappears with changed internal labels)
	// takes its loop's cache over and cancels the markers.
	stopping map[string]*scrapeLoop
}

func newHTTPClient(cfg *config.ScrapeConfig, opts []commoncfg.HTTPClientOption) (*http.Client, error) {
	c, err := commoncfg.NewClientFromConfig(cfg.HTTPClientConfig, cfg.JobName, opts...)
	if err != nil {
		return nil, fmt.Errorf("error creating HTTP client for job %q: %w", cfg.JobName, err)
	}
	return c, nil
}

func newScrapePool(m *Manager, cfg *config.ScrapeConfig, client *http.Client) *scrapePool {
	ctx, cancel := context.WithCancel(m.ctx)
	p := &scrapePool{
		m:        m,
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		logger:   m.logger.With("scrape_pool", cfg.JobName),
		updates:  make(chan providerUpdate),
		cfg:      cfg,
		lcfg:     newLoopConfig(cfg, m.opts),
		client:   client,
		active:   map[uint64]*Target{},
		loops:    map[uint64]*scrapeLoop{},
		stopping: map[string]*scrapeLoop{},
	}
	go p.runUpdates()
	return p
}

// sdConfigs lists the discovery configs of a scrape config with their kinds.
func sdConfigs(cfg *config.ScrapeConfig) (kinds []string, cfgs []any) {
	for _, c := range discovery.Configs(&cfg.ServiceDiscoveryConfigs) {
		kinds, cfgs = append(kinds, c.Kind), append(cfgs, c.Config)
	}
	return kinds, cfgs
}

func (p *scrapePool) newDiscoverer(job, kind string, c any) (discovery.Discoverer, error) {
	if kind == "kubernetes" && p.m.opts.JobDiscoverer != nil {
		if d := p.m.opts.JobDiscoverer(job); d != nil {
			return d, nil
		}
	}
	return discovery.New(discovery.Config{Kind: kind, Config: c}, p.logger, discovery.Options{
		HTTPClientOptions: p.m.opts.HTTPClientOptions,
		NewKubernetes:     p.m.opts.NewKubernetesDiscoverer,
	})
}

// providerPlan is the outcome of prepareProviders: the providers a config needs, reusing
// running ones whose config did not change.
type providerPlan struct {
	next  []*provider
	fresh []*provider
	stale []*provider
}

// prepareProviders builds the discoverers of cfg that are not running yet, without starting
// anything, so that an error leaves the pool untouched.
func (p *scrapePool) prepareProviders(cfg *config.ScrapeConfig) (*providerPlan, error) {
	kinds, cfgs := sdConfigs(cfg)
	p.mtx.Lock()
	old := p.providers
	p.mtx.Unlock()
	used := make([]bool, len(old))
	plan := &providerPlan{next: make([]*provider, len(kinds))}
	for i := range kinds {
		for j, op := range old {
			if !used[j] && op.d != nil && op.kind == kinds[i] && reflect.DeepEqual(op.cfg, cfgs[i]) {
				used[j], plan.next[i] = true, op
				break
			}
		}
		if plan.next[i] != nil {
			continue
		}
		np := &provider{kind: kinds[i], cfg: cfgs[i], groups: map[string]*config.TargetGroup{}}
		if d, err := p.newDiscoverer(cfg.JobName, kinds[i], cfgs[i]); err != nil {
			np.err = err
			// As Prometheus: a discoverer that cannot be built (no in-cluster credentials for
			// kubernetes_sd_configs, say) is logged and counted (prometheus_sd_failed_configs),
			// and the job runs without it; the configuration itself is valid.
			p.logger.Error("Cannot create service discovery", "discovery", kinds[i], "err", err)
		} else {
			np.d = d
		}
		plan.next[i] = np
		plan.fresh = append(plan.fresh, np)
	}
	for j, op := range old {
		if !used[j] {
			plan.stale = append(plan.stale, op)
		}
	}
	return plan, nil
}

// hasFailedProviders reports whether a discoverer of the pool could not be built: a reload
// tries it again even when the job's config is unchanged.
func (p *scrapePool) hasFailedProviders() bool {
	p.mtx.Lock()
	defer p.mtx.Unlock()
	for _, pr := range p.providers {
		if pr.d == nil {
			return true
		}
	}
	return false
}

// applyProviders switches to the planned providers: it stops the ones no longer configured
// (dropping their groups) and starts the new ones.
func (p *scrapePool) applyProviders(plan *providerPlan) {
	p.mtx.Lock()
	p.providers = plan.next
	p.mtx.Unlock()
	for _, op := range plan.stale {
		op.cancel()
	}
	for _, np := range plan.fresh {
		ctx, cancel := context.WithCancel(p.ctx)
		np.cancel = cancel
		if np.d == nil {
			continue
		}
		discovery.Forward(ctx, np.d, p.updates, func(tgs []*config.TargetGroup) providerUpdate {
			return providerUpdate{p: np, tgs: tgs}
		})
	}
}

// runUpdates applies discovery updates and re-syncs targets, at most once per
// Options.DiscoveryUpdateInterval (Prometheus batches the same way, every 5s), but at once when
// the last sync is longer ago than that, so that startup and single changes are quick.
func (p *scrapePool) runUpdates() {
	defer close(p.done)
	var (
		timer    *time.Timer
		timerC   <-chan time.Time
		lastSync time.Time
		every    = p.m.opts.DiscoveryUpdateInterval
	)
	for {
		select {
		case <-p.ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case u := <-p.updates:
			p.mtx.Lock()
			current := false
			for _, pr := range p.providers {
				current = current || pr == u.p
			}
			if current {
				for _, tg := range u.tgs {
					if tg == nil {
						continue
					}
					if len(tg.Targets) == 0 {
						delete(u.p.groups, tg.Source)
					} else {
						u.p.groups[tg.Source] = tg
					}
				}
			}
			p.mtx.Unlock()
			if !current || timerC != nil {
				continue
			}
			if wait := every - time.Since(lastSync); wait > 0 {
				timer = time.NewTimer(wait)
				timerC = timer.C
				continue
			}
			p.sync()
			lastSync = time.Now()
		case <-timerC:
			timer, timerC = nil, nil
			p.sync()
			lastSync = time.Now()
		}
	}
}

// sync recomputes the targets from the current groups and starts and stops loops to match.
func (p *scrapePool) sync() {
	p.mtx.Lock()
	defer p.mtx.Unlock()
	p.syncLocked(false)
}

// syncLocked computes targets from all groups. With restart, loops of unchanged targets are
// replaced by loops with the current config (a reload); otherwise they keep running.
func (p *scrapePool) syncLocked(restart bool) {
	var (
		lb      = labels.NewBuilder(labels.EmptyLabels())
		targets = map[uint64]*Target{}
		order   []uint64
		dropped []*Target
		nDrop   int
	)
	if p.m.metrics != nil {
		p.m.metrics.syncFailed.WithLabelValues(p.cfg.JobName) // exposed at 0, as in Prometheus
		defer func(start time.Time) {
			p.m.metrics.syncLength.WithLabelValues(p.cfg.JobName).Observe(time.Since(start).Seconds())
		}(time.Now())
	}
	discovered := 0
	for _, pr := range p.providers {
		for _, g := range pr.groups {
			discovered += len(g.Targets)
		}
	}
	if p.m.metrics != nil {
		p.m.metrics.discoveredTargets.WithLabelValues("scrape", p.cfg.JobName).Set(float64(discovered))
	}
	for _, pr := range p.providers {
		sources := make([]string, 0, len(pr.groups))
		for s := range pr.groups {
			sources = append(sources, s)
		}
		sort.Strings(sources)
		for _, s := range sources {
			ts, errs := targetsFromGroup(pr.groups[s], p.cfg, lb)
			for _, err := range errs {
				p.logger.Error("Creating target failed", "err", err)
			}
			if p.m.metrics != nil {
				p.m.metrics.syncFailed.WithLabelValues(p.cfg.JobName).Add(float64(len(errs)))
			}
			for _, t := range ts {
				if t.labels.IsEmpty() {
					nDrop++
					if p.cfg.KeepDroppedTargets == 0 || uint(len(dropped)) < p.cfg.KeepDroppedTargets {
						dropped = append(dropped, t)
					}
					continue
				}
				if _, dup := targets[t.hash]; dup {
					continue
				}
				targets[t.hash] = t
				order = append(order, t.hash)
			}
		}
	}
	p.dropped, p.nDropped = dropped, nDrop

	var forced error
	if p.cfg.TargetLimit > 0 && len(targets) > int(p.cfg.TargetLimit) {
		forced = fmt.Errorf("target_limit exceeded (number of targets: %d, limit: %d)", len(targets), p.cfg.TargetLimit)
		if p.m.metrics != nil {
			p.m.metrics.exceededTargetLimit.Inc()
		}
	}

	var wg sync.WaitGroup
	// Stop loops of targets that are gone; they write stale markers after two intervals unless
	// the target comes back.
	for h, l := range p.loops {
		if _, ok := targets[h]; ok {
			continue
		}
		delete(p.loops, h)
		delete(p.active, h)
		id := l.target.identity
		p.stopping[id] = l
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.stop()
			go func() {
				l.endOfRunStaleness()
				p.mtx.Lock()
				if p.stopping[id] == l {
					delete(p.stopping, id)
				}
				p.mtx.Unlock()
			}()
		}()
	}
	var start []*scrapeLoop
	for _, h := range order {
		t := targets[h]
		old, running := p.loops[h]
		if running && !restart {
			// Same target: keep the loop and its state; refresh what discovery may change
			// without changing the target's identity.
			old.target.setDiscoveredLabels(t.discoveredLabels)
			old.setForcedError(forced)
			continue
		}
		var cache *scrapeCache
		if running {
			// Reload: the new loop takes over; no stale markers, and the cache if the label
			// handling did not change.
			old.disableEndOfRunStale.Store(true)
			wg.Add(1)
			go func() { defer wg.Done(); old.stop() }()
			if old.cfg.cacheCompatible(p.lcfg) {
				cache = old.cache
			}
			t = old.target // keep health and last scrape for the API
		} else if gone, ok := p.stopping[t.identity]; ok {
			// The target vanished and came back before its stale markers were written, or its
			// internal labels changed on reload: its series continue in the new loop.
			delete(p.stopping, t.identity)
			if c, ok := gone.takeOver(); ok && gone.cfg.cacheCompatible(p.lcfg) {
				cache = c
			}
		}
		l := newScrapeLoop(p.m.ctx, p.ctx, t, p.lcfg, p.client, p.m.app, cache, p.m.opts.OffsetSeed, p.m.metrics, p.logger.With("target", t.URL()))
		l.setForcedError(forced)
		p.loops[h] = l
		p.active[h] = t
		start = append(start, l)
	}
	// Old loops must be done before their successors append, or two loops would write the same
	// series concurrently.
	wg.Wait()
	for _, l := range start {
		go l.run()
	}
	if p.m.metrics != nil {
		p.m.metrics.poolTargets.WithLabelValues(p.cfg.JobName).Set(float64(len(p.active)))
	}
}

// reload switches the pool to a changed config with providers from prepareProviders.
func (p *scrapePool) reload(cfg *config.ScrapeConfig, client *http.Client, plan *providerPlan) {
	p.applyProviders(plan)
	p.mtx.Lock()
	defer p.mtx.Unlock()
	old := p.client
	p.cfg, p.lcfg, p.client = cfg, newLoopConfig(cfg, p.m.opts), client
	p.syncLocked(true)
	// The old loops are stopped; their keep-alive connections are of no further use.
	old.CloseIdleConnections()
}

// stop ends discovery and all loops. With staleness, the loops' series get stale markers (the
// job was removed); at shutdown they do not, so that a restart continues the series.
func (p *scrapePool) stop(staleness bool) {
	p.cancel()
	<-p.done
	p.mtx.Lock()
	defer p.mtx.Unlock()
	var wg sync.WaitGroup
	for h, l := range p.loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.stop()
			if staleness {
				go l.endOfRunStaleness()
			}
		}()
		delete(p.loops, h)
		delete(p.active, h)
	}
	wg.Wait()
	p.client.CloseIdleConnections()
	if p.m.metrics != nil {
		p.m.metrics.poolTargets.DeleteLabelValues(p.cfg.JobName)
		p.m.metrics.syncFailed.DeleteLabelValues(p.cfg.JobName)
		p.m.metrics.syncLength.DeleteLabelValues(p.cfg.JobName)
		p.m.metrics.discoveredTargets.DeleteLabelValues("scrape", p.cfg.JobName)
	}
}

func (p *scrapePool) activeTargets() []*Target {
	p.mtx.Lock()
	defer p.mtx.Unlock()
	res := make([]*Target, 0, len(p.active))
	for _, t := range p.active {
		res = append(res, t)
	}
	sort.Slice(res, func(i, j int) bool { return res[i].url < res[j].url })
	return res
}

func (p *scrapePool) droppedTargets() ([]*Target, int) {
	p.mtx.Lock()
	defer p.mtx.Unlock()
	return append([]*Target(nil), p.dropped...), p.nDropped
}

// forcedError support on the loop: a pool over target_limit fails every scrape of every target
// with the same error, as Prometheus does.
type forcedErr struct{ err error }

func (sl *scrapeLoop) setForcedError(err error) { sl.forced.Store(&forcedErr{err: err}) }

func (sl *scrapeLoop) forcedError() error {
	if f := sl.forced.Load(); f != nil {
		return f.err
	}
	return nil
}
