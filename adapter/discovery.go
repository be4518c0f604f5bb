package adapter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)

type metricKey struct {
	gr     schema.GroupResource
	metric string
}

// seriesRef is what a query for an API metric needs: the series name and the rule that named it.
type seriesRef struct {
	series     string
	rule       *Rule
	namespaced bool // the series carry a namespace label
	// listNamespaced is how discovery lists the metric (set at the end of the relist).
	listNamespaced bool
}

// registry is an immutable snapshot of everything discovered by one relist.
type registry struct {
	custom       *customMetrics
	external     map[string]seriesRef
	externalList []provider.ExternalMetricInfo
	at           time.Time
	err          error // error of the relist that produced this snapshot, if it was partial
}

// Discoverer keeps the set of servable metrics current. It relists periodically and, so that a
// metric that has just started to exist does not wait for the next relist, relists on demand
// when a request asks for a metric it does not know (rate-limited by MissInterval).
type Discoverer struct {
	API          PromAPI
	Mapper       apimeta.RESTMapper
	MaxAge       time.Duration // series seen within this window are servable
	MissInterval time.Duration // minimum time between relists triggered by unknown metrics
	Timeout      time.Duration // per relist
	Now          func() time.Time
	// RefreshMapper, when set, re-reads API discovery into Mapper. It is called on a miss
	// (at most every MapperMissInterval) so that a custom resource whose CRD was just installed
	// maps without waiting for the periodic discovery refresh.
	RefreshMapper      func() error
	MapperMissInterval time.Duration

	rules atomic.Pointer[RuleSet]
	reg   atomic.Pointer[registry]

	mu      sync.Mutex // serializes relists
	gen     uint64
	lastTry time.Time
	// synced is set by the first relist in which every series query succeeded; lastErr is the
	// error of the last relist, for the readiness check until then.
	synced  atomic.Bool
	lastErr atomic.Pointer[error]

	mapperMu   sync.Mutex
	lastMapper time.Time
}

// refreshMapperOnMiss re-reads API discovery if allowed by MapperMissInterval; it reports
// whether it did.
func (d *Discoverer) refreshMapperOnMiss() bool {
	if d.RefreshMapper == nil {
		return false
	}
	d.mapperMu.Lock()
	defer d.mapperMu.Unlock()
	if d.now().Sub(d.lastMapper) < d.MapperMissInterval {
		return false
	}
	d.lastMapper = d.now()
	if err := d.RefreshMapper(); err != nil {
		klog.ErrorS(err, "refreshing API discovery after an unknown resource or metric failed")
		return false
	}
	return true
}

// SetRules installs a new rule set. The caller relists afterwards so the new rules take effect.
func (d *Discoverer) SetRules(rs *RuleSet) { d.rules.Store(rs) }

// Rules returns the rule set in use.
func (d *Discoverer) Rules() *RuleSet { return d.rules.Load() }

func (d *Discoverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Relist queries the series of every rule and replaces the registry.
func (d *Discoverer) Relist(ctx context.Context) error {
	return d.relist(ctx, "config")
}

func (d *Discoverer) relist(ctx context.Context, trigger string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.relistLocked(ctx, trigger)
}

func (d *Discoverer) relistLocked(ctx context.Context, trigger string) (err error) {
	defer func() { relists.WithLabelValues(trigger, result(err)).Inc() }()
	rs := d.rules.Load()
	if rs == nil {
		return fmt.Errorf("no rules loaded")
	}
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	start := d.now()
	d.lastTry = start
	d.gen++
	// Rules with the same seriesQuery share one /api/v1/series call, as in prometheus-adapter.
	byQuery := map[string][]*Rule{}
	var order []string
	for _, r := range slices.Concat(rs.Rules, rs.ExternalRules) {
		if _, ok := byQuery[r.SeriesQuery]; !ok {
			order = append(order, r.SeriesQuery)
		}
		byQuery[r.SeriesQuery] = append(byQuery[r.SeriesQuery], r)
	}
	reg := &registry{custom: newCustomMetrics(), external: map[string]seriesRef{}, at: start}
	old := d.reg.Load()
	var errs []string
	for _, q := range order {
		warnings, err := d.API.Series(ctx, q, start.Add(-d.MaxAge), start, d.seriesAdder(reg, byQuery[q]))
		if err != nil {
			errs = append(errs, fmt.Sprintf("series %s: %v", q, err))
			// Keep what the previous relist knew for these rules rather than dropping metrics
			// that HPAs are using because of one failed request.
			if old != nil {
				carryOver(reg, old, byQuery[q])
			}
			continue
		}
		for _, w := range warnings {
			klog.V(2).InfoS("series query warning", "query", q, "warning", w)
		}
	}
	scopes := map[schema.GroupResource]int{} // 1 namespaced, 2 cluster, 0 unknown to discovery
	reg.custom.each(func(k metricKey, ref *seriesRef) {
		sc, ok := scopes[k.gr]
		if !ok {
			sc = d.scope(k.gr)
			scopes[k.gr] = sc
		}
		// The API server's scope decides where it is known; otherwise, as prometheus-adapter
		// does, series with a namespace label make a namespaced metric.
		ref.listNamespaced = sc == 1 || (sc == 0 && k.gr != NamespaceResource && k.gr != nodeResource && ref.namespaced)
	})
	reg.custom.freeze()
	for m := range reg.external {
		reg.externalList = append(reg.externalList, provider.ExternalMetricInfo{Metric: m})
	}
	if len(errs) > 0 {
		reg.err = fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	d.reg.Store(reg)
	relistDuration.Observe(d.now().Sub(start).Seconds())
	discovered.WithLabelValues("custom").Set(float64(reg.custom.len()))
	discovered.WithLabelValues("external").Set(float64(len(reg.external)))
	klog.V(2).InfoS("relisted metrics", "custom", reg.custom.len(), "external", len(reg.external),
		"seriesQueries", len(order), "took", d.now().Sub(start), "errors", len(errs))
	if reg.err == nil {
		d.synced.Store(true)
	} else {
		d.lastErr.Store(&reg.err)
	}
	return reg.err
}

// Synced returns nil once metric discovery has completed against the PromQL backend (a relist
// in which every series query succeeded), and why not until then. It is the adapter's readiness:
// before it, every metric would be answered as not found.
func (d *Discoverer) Synced() error {
	if d.synced.Load() {
		return nil
	}
	if err := d.lastErr.Load(); err != nil {
		return fmt.Errorf("metric discovery has not completed yet: %w", *err)
	}
	return errors.New("metric discovery has not completed yet")
}

func carryOver(reg, old *registry, rules []*Rule) {
	in := map[*Rule]bool{}
	for _, r := range rules {
		in[r] = true
	}
	old.custom.each(func(k metricKey, v *seriesRef) {
		if in[v.rule] {
			reg.custom.put(k, *v)
		}
	})
	for k, v := range old.external {
		if in[v.rule] {
			reg.external[k] = v
		}
	}
}

// seriesAdder returns the function that adds the series of one series query to reg.
func (d *Discoverer) seriesAdder(reg *registry, rules []*Rule) func(name string, labelNames []string) {
	// Many series share a name and label-name set (one per pod, say); resolve each shape once.
	seen := map[string]struct{}{}
	var shape []byte
	return func(name string, names []string) {
		shape = append(shape[:0], name...)
		for _, l := range names {
			shape = append(append(shape, 0xff), l...)
		}
		if _, ok := seen[string(shape)]; ok {
			return
		}
		seen[string(shape)] = struct{}{}
		for _, r := range rules {
			api, ok := r.MetricName(name)
			if !ok {
				continue
			}
			ref := seriesRef{series: name, rule: r}
			if r.External {
				if _, dup := reg.external[api]; !dup {
					reg.external[api] = ref
				}
				continue
			}
			grs, namespaced := r.resources.ResourcesForLabels(d.Mapper, d.gen, names)
			ref.namespaced = namespaced
			for _, gr := range grs {
				k := metricKey{gr: gr, metric: api}
				if prev, dup := reg.custom.get(k); dup && prev.series != name {
					klog.V(3).InfoS("two series map to the same metric; keeping the first", "metric", api, "resource", gr, "kept", prev.series, "dropped", name)
					continue
				}
				reg.custom.put(k, ref)
			}
		}
	}
}

func (d *Discoverer) scope(gr schema.GroupResource) int {
	gvk, err := d.Mapper.KindFor(gr.WithVersion(""))
	if err != nil {
		return 0
	}
	m, err := d.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return 0
	}
	if m.Scope.Name() == apimeta.RESTScopeNameNamespace {
		return 1
	}
	return 2
}

// lookupCustom finds a custom metric, relisting once if it is unknown and the last relist is
// older than MissInterval. It returns the snapshot it used so errors can say what was queried.
func (d *Discoverer) lookupCustom(ctx context.Context, k metricKey) (seriesRef, *registry, bool) {
	if reg := d.reg.Load(); reg != nil {
		if ref, ok := reg.custom.get(k); ok {
			return ref, reg, true
		}
	}
	reg := d.relistOnMiss(ctx)
	if reg == nil {
		return seriesRef{}, nil, false
	}
	ref, ok := reg.custom.get(k)
	return ref, reg, ok
}

func (d *Discoverer) lookupExternal(ctx context.Context, metric string) (seriesRef, *registry, bool) {
	if reg := d.reg.Load(); reg != nil {
		if ref, ok := reg.external[metric]; ok {
			return ref, reg, true
		}
	}
	reg := d.relistOnMiss(ctx)
	if reg == nil {
		return seriesRef{}, nil, false
	}
	ref, ok := reg.external[metric]
	return ref, reg, ok
}

func (d *Discoverer) relistOnMiss(ctx context.Context) *registry {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Concurrent misses queue here; the first relists, the rest find a fresh snapshot.
	if d.now().Sub(d.lastTry) >= d.MissInterval {
		// Labels may name a resource discovery did not know at the last relist.
		d.refreshMapperOnMiss()
		if err := d.relistLocked(ctx, "miss"); err != nil {
			klog.ErrorS(err, "relist on unknown metric failed")
		}
	}
	return d.reg.Load()
}

// Run relists every interval until ctx is done.
func (d *Discoverer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		// Until discovery has completed once the adapter is not ready: retry sooner than the
		// relist interval.
		var retry <-chan time.Time
		if !d.synced.Load() && interval > unsyncedRetry {
			retry = time.After(unsyncedRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-retry:
		}
		if err := d.relist(ctx, "periodic"); err != nil {
			klog.ErrorS(err, "periodic relist failed (metrics from the last good relist are kept)")
		}
	}
}

// unsyncedRetry is how often discovery is retried before it has completed once.
const unsyncedRetry = 5 * time.Second

// listCustom returns the custom metrics of the last relist.
func (d *Discoverer) listCustom() []provider.CustomMetricInfo {
	var out []provider.CustomMetricInfo
	d.eachCustom(func(m provider.CustomMetricInfo) {
		out = append(out, m)
	})
	return out
}

// eachCustom calls fn for each custom metric of the last relist.
func (d *Discoverer) eachCustom(fn func(provider.CustomMetricInfo)) {
	if reg := d.reg.Load(); reg != nil {
		reg.custom.each(func(k metricKey, ref *seriesRef) {
			fn(provider.CustomMetricInfo{GroupResource: k.gr, Metric: k.metric, Namespaced: ref.listNamespaced})
		})
	}
}

func (d *Discoverer) listExternal() []provider.ExternalMetricInfo {
	if reg := d.reg.Load(); reg != nil {
		return reg.externalList
	}
	return nil
}
