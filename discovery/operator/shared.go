package operator

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"k8s.io/client-go/kubernetes"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/discovery"
	k8sd "github.com/vigil-monitoring/vigil/discovery/kubernetes"
)

// Filter is what one generated job selects: its Selection and the selector relabelings, parsed.
type Filter struct {
	Selection
	Rules []*relabel.Config
}

// matches reports whether the job keeps any target of tg: tg is in one of the namespaces and
// its group labels pass the selector relabelings. These read only labels every target of the
// group inherits (the Service's or Pod's labels, the namespace, the pod phase), so a group they
// drop would lose every target to the same relabelings in the scrape pool.
func (f *Filter) matches(tg *config.TargetGroup, lb *labels.Builder) bool {
	if len(tg.Targets) == 0 {
		return false
	}
	if len(f.Namespaces) > 0 && !slices.Contains(f.Namespaces, string(tg.Labels[model.LabelName(model.MetaLabelPrefix+"kubernetes_namespace")])) {
		return false
	}
	if len(f.Rules) == 0 {
		return true
	}
	lb.Reset(labels.EmptyLabels())
	for k, v := range tg.Labels {
		lb.Set(string(k), string(v))
	}
	return relabel.ProcessBuilder(lb, f.Rules...)
}

// Shared runs one Kubernetes discovery per role (and attach_metadata) for all generated jobs,
// over all namespaces, and hands each job the groups its monitor selects. Prometheus would run
// one discovery per namespace list and relabel every group of it in every job; with a thousand
// ServiceMonitors in one namespace that is a thousand copies of every target. Here each object
// is watched and turned into a group once.
type Shared struct {
	client kubernetes.Interface
	logger *slog.Logger

	mtx     sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	hubs    map[hubKey]*hub
	filters map[string]*Filter
}

type hubKey struct {
	role string
	node bool
}

// NewShared returns a Shared discovery over client; nothing runs until a job's discoverer does.
func NewShared(client kubernetes.Interface, logger *slog.Logger) *Shared {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Shared{client: client, logger: logger, ctx: ctx, cancel: cancel, hubs: map[hubKey]*hub{}, filters: map[string]*Filter{}}
}

// Stop ends every discovery.
func (s *Shared) Stop() { s.cancel() }

// SetFilters replaces the jobs' filters; running job discoverers hand on the groups that now
// match and withdraw those that no longer do.
func (s *Shared) SetFilters(filters map[string]*Filter) {
	s.mtx.Lock()
	s.filters = filters
	hubs := make([]*hub, 0, len(s.hubs))
	for _, h := range s.hubs {
		hubs = append(hubs, h)
	}
	s.mtx.Unlock()
	for _, h := range hubs {
		h.refilter(filters)
	}
}

// Discoverer returns the discoverer of a generated job, or nil if job is not one.
func (s *Shared) Discoverer(job string) discovery.Discoverer {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	if _, ok := s.filters[job]; !ok {
		return nil
	}
	return &jobDiscoverer{s: s, job: job}
}

func (s *Shared) hub(key hubKey) *hub {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	if h, ok := s.hubs[key]; ok {
		return h
	}
	h := &hub{groups: map[string]*config.TargetGroup{}, subs: map[*subscriber]struct{}{}}
	s.hubs[key] = h
	sd := &config.KubernetesSDConfig{Role: config.KubernetesRole(key.role)}
	sd.AttachMetadata.Node = key.node
	d := k8sd.NewForClient(s.client, sd, s.logger.With("role", key.role))
	ch := make(chan []*config.TargetGroup)
	go d.Run(s.ctx, ch)
	go func() {
		for {
			select {
			case <-s.ctx.Done():
				return
			case tgs := <-ch:
				h.update(tgs)
			}
		}
	}()
	return h
}

func (s *Shared) filter(job string) *Filter {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	return s.filters[job]
}

// hub is one discovery's groups and the jobs reading them.
type hub struct {
	mtx    sync.Mutex
	groups map[string]*config.TargetGroup
	subs   map[*subscriber]struct{}
	lb     *labels.Builder
}

// subscriber is one running job discoverer: the sources it was handed and what it has yet to
// send (the latest group per source; an empty group withdraws the source).
type subscriber struct {
	job     string
	filter  *Filter
	sent    map[string]struct{}
	pending map[string]*config.TargetGroup
	wake    chan struct{}
}

func (h *hub) builder() *labels.Builder {
	if h.lb == nil {
		h.lb = labels.NewBuilder(labels.EmptyLabels())
	}
	return h.lb
}

// offer decides, under h.mtx, what sub must learn about tg.
func (h *hub) offer(sub *subscriber, source string, tg *config.TargetGroup) bool {
	if tg != nil && sub.filter != nil && sub.filter.matches(tg, h.builder()) {
		sub.sent[source] = struct{}{}
		sub.pending[source] = tg
		return true
	}
	if _, ok := sub.sent[source]; ok {
		delete(sub.sent, source)
		sub.pending[source] = &config.TargetGroup{Source: source}
		return true
	}
	return false
}

func (h *hub) update(tgs []*config.TargetGroup) {
	h.mtx.Lock()
	defer h.mtx.Unlock()
	woken := map[*subscriber]bool{}
	for _, tg := range tgs {
		if tg == nil {
			continue
		}
		var cur *config.TargetGroup
		if len(tg.Targets) > 0 {
			h.groups[tg.Source] = tg
			cur = tg
		} else {
			delete(h.groups, tg.Source)
		}
		for sub := range h.subs {
			if h.offer(sub, tg.Source, cur) {
				woken[sub] = true
			}
		}
	}
	for sub := range woken {
		wake(sub)
	}
}

func (h *hub) refilter(filters map[string]*Filter) {
	h.mtx.Lock()
	defer h.mtx.Unlock()
	for sub := range h.subs {
		f := filters[sub.job]
		if f == sub.filter {
			continue
		}
		sub.filter = f
		changed := false
		for src, tg := range h.groups {
			changed = h.offer(sub, src, tg) || changed
		}
		for src := range sub.sent {
			if _, ok := h.groups[src]; !ok {
				changed = h.offer(sub, src, nil) || changed
			}
		}
		if changed {
			wake(sub)
		}
	}
}

func wake(sub *subscriber) {
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

func (h *hub) subscribe(job string, f *Filter) *subscriber {
	h.mtx.Lock()
	defer h.mtx.Unlock()
	sub := &subscriber{job: job, filter: f, sent: map[string]struct{}{}, pending: map[string]*config.TargetGroup{}, wake: make(chan struct{}, 1)}
	for src, tg := range h.groups {
		h.offer(sub, src, tg)
	}
	h.subs[sub] = struct{}{}
	wake(sub)
	return sub
}

func (h *hub) unsubscribe(sub *subscriber) {
	h.mtx.Lock()
	delete(h.subs, sub)
	h.mtx.Unlock()
}

func (h *hub) take(sub *subscriber) []*config.TargetGroup {
	h.mtx.Lock()
	defer h.mtx.Unlock()
	if len(sub.pending) == 0 {
		return nil
	}
	out := make([]*config.TargetGroup, 0, len(sub.pending))
	for _, tg := range sub.pending {
		out = append(out, tg)
	}
	clear(sub.pending)
	return out
}

// jobDiscoverer is the discoverer of one generated job.
type jobDiscoverer struct {
	s   *Shared
	job string
}

// Run implements discovery.Discoverer.
func (d *jobDiscoverer) Run(ctx context.Context, up chan<- []*config.TargetGroup) {
	f := d.s.filter(d.job)
	if f == nil {
		<-ctx.Done()
		return
	}
	h := d.s.hub(hubKey{role: f.Role, node: f.AttachNode})
	sub := h.subscribe(d.job, f)
	defer h.unsubscribe(sub)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.wake:
			if tgs := h.take(sub); len(tgs) > 0 {
				select {
				case up <- tgs:
				case <-ctx.Done():
					return
				}
			}
		}
	}
}
