package routing

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/marker"
	amnotify "github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// dispatcher sorts alerts into aggregation groups and flushes the groups through the notify
// pipeline with upstream dispatch.Dispatcher's rules: groups keyed by route and group labels
// (the group key string is upstream's, the notification log is keyed by it), group_wait for a
// new group (no wait when its first alert started more than group_wait ago), group_interval
// between flushes, resolved alerts deleted after a successful flush unless updated meanwhile,
// and a group removed once a flush leaves it empty.
//
// Unlike upstream, a group is not a goroutine with a timer: one scheduler goroutine keeps the
// groups in a heap ordered by their next flush and starts each flush in a short-lived
// goroutine. A group never has two flushes running; a flush that comes due while the previous
// one still runs starts when it returns, as upstream's timer channel would deliver it.
//
// All state is guarded by the alert store's mutex, which the store holds when it inserts.
type dispatcher struct {
	store    *alertStore
	route    *dispatch.Route
	routeKey []string // by Route.Idx
	routeID  []string
	stage    amnotify.Stage
	timeout  func(time.Duration) time.Duration
	marker   marker.GroupMarker
	tmpl     *template.Template
	logger   *slog.Logger
	metrics  *dispatchMetrics
	gen      uint64

	groups  map[groupID]*aggrGroup
	sched   schedule
	timer   *time.Timer
	stopped bool

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the scheduler
	flushes sync.WaitGroup
}

type groupID struct {
	route int
	fp    model.Fingerprint
}

// aggrGroup is one aggregation group. Its alerts are entries of the store; small groups find
// an alert by scanning, large ones keep an index.
type aggrGroup struct {
	route  *dispatch.Route
	labels Labels
	fp     model.Fingerprint
	alerts []*entry
	index  map[model.Fingerprint]int // position in alerts, once the group is large

	next      time.Time
	heapIdx   int // position in the schedule, -1 when not scheduled
	flushing  bool
	pending   bool // a flush came due while flushing; run it when the current one returns
	pendingAt time.Time
	removed   bool
	flushIdx  uint64
	id        string             // upstream's aggregation group ID, set at the first flush
	marker    marker.AlertMarker // per-group alert marker, created at the first flush
}

const indexThreshold = 16

func (g *aggrGroup) find(fp model.Fingerprint) int {
	if g.index != nil {
		if i, ok := g.index[fp]; ok {
			return i
		}
		return -1
	}
	for i, e := range g.alerts {
		if e.fp == fp {
			return i
		}
	}
	return -1
}

// add puts e in the group, replacing an entry with the same fingerprint (a collision, or an
// alert dropped from the store by GC and posted again).
func (g *aggrGroup) add(e *entry) {
	if i := g.find(e.fp); i >= 0 {
		old := g.alerts[i]
		if old == e {
			return
		}
		old.leave(g)
		g.alerts[i] = e
	} else {
		g.alerts = append(g.alerts, e)
		if g.index != nil {
			g.index[e.fp] = len(g.alerts) - 1
		} else if len(g.alerts) > indexThreshold {
			g.index = make(map[model.Fingerprint]int, len(g.alerts))
			for i, a := range g.alerts {
				g.index[a.fp] = i
			}
		}
	}
	e.groups = append(e.groups, g)
}

// remove takes the alert at position i out of the group.
func (g *aggrGroup) remove(i int) {
	e := g.alerts[i]
	e.leave(g)
	last := len(g.alerts) - 1
	g.alerts[i] = g.alerts[last]
	g.alerts[last] = nil
	g.alerts = g.alerts[:last]
	if g.index != nil {
		delete(g.index, e.fp)
		if i < last {
			g.index[g.alerts[i].fp] = i
		}
	}
}

func (e *entry) leave(g *aggrGroup) {
	for i, h := range e.groups {
		if h == g {
			e.groups = append(e.groups[:i], e.groups[i+1:]...)
			return
		}
	}
}

func newDispatcher(s *alertStore, route *dispatch.Route, stage amnotify.Stage, gm marker.GroupMarker,
	timeout func(time.Duration) time.Duration, tmpl *template.Template, logger *slog.Logger, m *dispatchMetrics, gen uint64,
) *dispatcher {
	d := &dispatcher{
		store: s, route: route, stage: stage, marker: gm, timeout: timeout, tmpl: tmpl,
		logger: logger.With("component", "dispatcher"), metrics: m, gen: gen,
		groups: map[groupID]*aggrGroup{},
	}
	if d.timeout == nil {
		d.timeout = func(t time.Duration) time.Duration { return t }
	}
	d.routeKey = make([]string, route.Idx+1)
	d.routeID = make([]string, route.Idx+1)
	route.Walk(func(r *dispatch.Route) {
		d.routeKey[r.Idx] = r.Key()
		d.routeID[r.Idx] = r.ID()
	})
	d.ctx, d.cancel = context.WithCancel(eventrecorder.WithEventRecording(context.Background()))
	d.timer = time.NewTimer(time.Hour)
	d.timer.Stop()
	return d
}

// start routes every stored alert into new groups and starts the scheduler. The store lock
// must be held.
func (d *dispatcher) startLocked() {
	d.metrics.groups.Set(0)
	for _, e := range d.store.alerts {
		d.insertLocked(e)
	}
	d.wg.Add(1)
	go d.run()
}

// stopLocked stops the dispatcher from flushing or touching its groups again. The store lock
// must be held; wait must follow once it is released.
func (d *dispatcher) stopLocked() {
	d.stopped = true
	d.timer.Stop()
}

// wait cancels running flushes and waits for them and the scheduler to return, as upstream's
// dispatcher does on a reload. With a grace period, running flushes first get that long to
// finish, so that a notification under way at shutdown is completed and logged. The store lock
// must not be held.
func (d *dispatcher) wait(grace time.Duration) {
	if grace > 0 {
		done := make(chan struct{})
		go func() { d.flushes.Wait(); close(done) }()
		t := time.NewTimer(grace)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
	}
	d.cancel()
	d.flushes.Wait()
	d.wg.Wait()
}

func (d *dispatcher) run() {
	defer d.wg.Done()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-d.timer.C:
		}
		d.store.mu.Lock()
		if d.stopped {
			d.store.mu.Unlock()
			return
		}
		now := time.Now()
		for len(d.sched) > 0 && !d.sched[0].next.After(now) {
			g := heap.Pop(&d.sched).(*aggrGroup)
			if g.flushing {
				g.pending, g.pendingAt = true, g.next
				continue
			}
			d.startFlushLocked(g, g.next)
		}
		d.rearmLocked()
		d.store.mu.Unlock()
	}
}

// rearmLocked points the timer at the earliest scheduled flush.
func (d *dispatcher) rearmLocked() {
	if d.stopped {
		return
	}
	if len(d.sched) == 0 {
		d.timer.Stop()
		return
	}
	d.timer.Reset(time.Until(d.sched[0].next))
}

func (d *dispatcher) scheduleLocked(g *aggrGroup, at time.Time) {
	top := len(d.sched) > 0 && d.sched[0] == g
	g.next = at
	if g.heapIdx >= 0 {
		heap.Fix(&d.sched, g.heapIdx)
	} else {
		heap.Push(&d.sched, g)
	}
	if top || d.sched[0] == g {
		d.rearmLocked()
	}
}

// insertLocked routes e into its groups. An entry already in every group of its routes (an
// update of a known alert) costs a comparison: routes and group labels depend only on the
// labels, which an entry never changes.
func (d *dispatcher) insertLocked(e *entry) {
	start := time.Now()
	if e.gen != d.gen {
		e.groups, e.gen = nil, d.gen
	} else if len(e.groups) == e.nroutes && e.nroutes > 0 {
		d.metrics.processing.Observe(time.Since(start).Seconds())
		return
	}
	routes := d.route.Match(e.labels.LabelSet())
	e.nroutes = len(routes)
	for _, rt := range routes {
		sub, fp := e.labels.groupSubset(rt.RouteOpts.GroupBy, rt.RouteOpts.GroupByAll)
		id := groupID{rt.Idx, fp}
		g := d.groups[id]
		if g == nil {
			g = &aggrGroup{route: rt, labels: sub, fp: fp, heapIdx: -1, flushIdx: 1}
			d.groups[id] = g
			d.metrics.groups.Set(float64(len(d.groups)))
			wait := rt.RouteOpts.GroupWait
			if e.startsAt.Add(wait).Before(start) {
				wait = 0 // old enough for an immediate flush
			}
			d.scheduleLocked(g, start.Add(wait))
		}
		g.add(e)
	}
	d.metrics.processing.Observe(time.Since(start).Seconds())
}

func (d *dispatcher) groupKey(g *aggrGroup) string {
	return fmt.Sprintf("%s:%s", d.routeKey[g.route.Idx], g.labels.LabelSet())
}

// startFlushLocked flushes g in its own goroutine, with now as the flush's reference time,
// and schedules the next flush group_interval from now on.
func (d *dispatcher) startFlushLocked(g *aggrGroup, now time.Time) {
	g.flushing = true
	flushID := g.flushIdx
	g.flushIdx++
	d.scheduleLocked(g, time.Now().Add(g.route.RouteOpts.GroupInterval))
	if g.marker == nil {
		g.marker = marker.NewAlertMarker()
	}
	if g.id == "" {
		if id, err := uuid.NewRandom(); err == nil {
			g.id = id.String()
		}
	}
	// Snapshot as upstream's flush does: copies, firing alerts without an end time.
	check := time.Now()
	alerts := make(types.AlertSlice, 0, len(g.alerts))
	var resolved types.AlertSlice
	for _, e := range g.alerts {
		a := e.alert()
		if a.ResolvedAt(check) {
			resolved = append(resolved, a)
		} else {
			a.EndsAt = time.Time{}
		}
		alerts = append(alerts, a)
	}
	key := d.groupKey(g)
	d.flushes.Add(1)
	go d.flush(g, now, flushID, key, alerts, resolved)
}

func (d *dispatcher) flush(g *aggrGroup, now time.Time, flushID uint64, key string, alerts, resolved types.AlertSlice) {
	defer d.flushes.Done()
	ok := true
	if len(alerts) > 0 {
		sort.Stable(alerts)
		opts := &g.route.RouteOpts
		ctx := d.ctx
		if g.id != "" {
			ctx = amnotify.WithAggrGroupID(ctx, g.id)
		}
		ctx, cancel := context.WithTimeout(ctx, d.timeout(opts.GroupInterval))
		ctx = amnotify.WithNow(ctx, now)
		ctx = amnotify.WithGroupKey(ctx, key)
		ctx = amnotify.WithGroupLabels(ctx, g.labels.LabelSet())
		ctx = amnotify.WithReceiverName(ctx, opts.Receiver)
		ctx = amnotify.WithRepeatInterval(ctx, opts.RepeatInterval)
		ctx = amnotify.WithMuteTimeIntervals(ctx, opts.MuteTimeIntervals)
		ctx = amnotify.WithActiveTimeIntervals(ctx, opts.ActiveTimeIntervals)
		ctx = amnotify.WithRouteID(ctx, d.routeID[g.route.Idx])
		ctx = amnotify.WithFlushID(ctx, flushID)
		ctx = amnotify.WithGroupMatchers(ctx, g.route.Matchers)
		ctx = marker.WithContext(ctx, g.marker)
		ctx = amnotify.WithRouteLabels(ctx, d.renderRouteLabels(g, key, alerts...))
		_, _, err := d.stage.Exec(ctx, d.logger, alerts...)
		cancel()
		if err != nil {
			ok = false
			logger := d.logger.With("aggrGroup", key, "num_alerts", len(alerts), "err", err)
			if errors.Is(ctx.Err(), context.Canceled) {
				logger.Debug("Notify for alerts failed")
			} else {
				logger.Error("Notify for alerts failed")
			}
		}
	}

	d.store.mu.Lock()
	defer d.store.mu.Unlock()
	g.flushing = false
	if d.stopped || g.removed {
		return
	}
	if ok && len(alerts) > 0 {
		// Delete the resolved alerts just notified, unless they changed during the flush.
		for _, a := range resolved {
			fp := a.Fingerprint()
			if i := g.find(fp); i >= 0 && g.alerts[i].updatedAt.Equal(a.UpdatedAt) {
				g.remove(i)
			}
		}
		for _, a := range resolved {
			if g.find(a.Fingerprint()) < 0 {
				g.marker.Delete(a.Fingerprint())
			}
		}
		if len(g.alerts) == 0 {
			d.removeLocked(g, key)
			return
		}
	}
	if g.pending {
		g.pending = false
		d.startFlushLocked(g, g.pendingAt)
	}
}

func (d *dispatcher) removeLocked(g *aggrGroup, key string) {
	g.removed = true
	if g.heapIdx >= 0 {
		top := d.sched[0] == g
		heap.Remove(&d.sched, g.heapIdx)
		if top {
			d.rearmLocked()
		}
	}
	delete(d.groups, groupID{g.route.Idx, g.fp})
	d.marker.DeleteByGroupKey(d.routeID[g.route.Idx], key)
	d.metrics.groups.Set(float64(len(d.groups)))
}

// renderRouteLabels is upstream's: the route's labels rendered as templates against the
// alerts of the flush.
func (d *dispatcher) renderRouteLabels(g *aggrGroup, key string, alerts ...*types.Alert) model.LabelSet {
	opts := &g.route.RouteOpts
	if len(opts.Labels) == 0 || d.tmpl == nil {
		return model.LabelSet{}
	}
	out := make(model.LabelSet, len(opts.Labels))
	data := d.tmpl.Data(opts.Receiver, g.labels.LabelSet(), opts.Labels, amnotify.ReasonUnknown.String(), alerts...)
	render := d.tmpl.RouteLabelRenderer(data)
	for label, value := range opts.Labels {
		if rendered, err := render(string(label)); err == nil {
			out[label] = model.LabelValue(rendered)
		} else {
			d.logger.Error("failed to render route label", "aggrGroup", key, "label", label, "value", string(value), "err", err)
		}
	}
	return out
}

// groups is upstream's Dispatcher.Groups over this dispatcher's state.
func (d *dispatcher) groupsSnapshot(routeFilter func(*dispatch.Route) bool, alertFilter func(*types.Alert, time.Time) bool) (dispatch.AlertGroups, map[model.Fingerprint][]string) {
	type snap struct {
		g        *aggrGroup
		key      string
		alerts   []*types.Alert
		statuses []alert.AlertStatus
	}
	var snaps []snap
	wanted := map[int]bool{}
	d.store.mu.Lock()
	for _, g := range d.groups {
		want, seen := wanted[g.route.Idx]
		if !seen {
			want = routeFilter(g.route)
			wanted[g.route.Idx] = want
		}
		if !want {
			continue
		}
		s := snap{g: g, key: d.groupKey(g), alerts: make([]*types.Alert, len(g.alerts)), statuses: make([]alert.AlertStatus, len(g.alerts))}
		for i, e := range g.alerts {
			s.alerts[i] = e.alert()
			s.statuses[i] = statusOf(g.marker, e.fp)
		}
		snaps = append(snaps, s)
	}
	d.store.mu.Unlock()

	groups := dispatch.AlertGroups{}
	receivers := map[model.Fingerprint][]string{}
	now := time.Now()
	for _, s := range snaps {
		receiver := s.g.route.RouteOpts.Receiver
		filtered := make([]*types.Alert, 0, len(s.alerts))
		statuses := make(map[model.Fingerprint]alert.AlertStatus, len(s.alerts))
		for i, a := range s.alerts {
			if !alertFilter(a, now) {
				continue
			}
			fp := a.Fingerprint()
			receivers[fp] = append(receivers[fp], receiver)
			filtered = append(filtered, a)
			statuses[fp] = s.statuses[i]
		}
		if len(filtered) == 0 {
			continue
		}
		groups = append(groups, &dispatch.AlertGroup{
			Alerts:        filtered,
			Labels:        s.g.labels.LabelSet(),
			RouteLabels:   d.renderRouteLabels(s.g, s.key, s.alerts...),
			Receiver:      receiver,
			GroupKey:      s.key,
			RouteID:       d.routeID[s.g.route.Idx],
			AlertStatuses: statuses,
		})
	}
	sort.Sort(groups)
	for i := range groups {
		sort.Sort(groups[i].Alerts)
	}
	for fp := range receivers {
		sort.Strings(receivers[fp])
	}
	return groups, receivers
}

func statusOf(m marker.AlertMarker, fp model.Fingerprint) alert.AlertStatus {
	if m == nil {
		return alert.AlertStatus{State: alert.AlertStateUnprocessed, SilencedBy: []string{}, InhibitedBy: []string{}}
	}
	return m.Status(fp)
}

// schedule is a min-heap of groups by next flush time.
type schedule []*aggrGroup

func (s schedule) Len() int           { return len(s) }
func (s schedule) Less(i, j int) bool { return s[i].next.Before(s[j].next) }
func (s schedule) Swap(i, j int) {
	s[i], s[j] = s[j], s[i]
	s[i].heapIdx = i
	s[j].heapIdx = j
}
func (s *schedule) Push(x any) {
	g := x.(*aggrGroup)
	g.heapIdx = len(*s)
	*s = append(*s, g)
}
func (s *schedule) Pop() any {
	old := *s
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*s = old[:len(old)-1]
	g.heapIdx = -1
	return g
}

// dispatchMetrics are the metrics upstream's DispatcherMetrics registers, with the same names;
// they outlive dispatchers (config reloads) as upstream's do.
type dispatchMetrics struct {
	groups     prometheus.Gauge
	processing prometheus.Summary
	states     *alertStateCollector
}

func newDispatchMetrics(reg prometheus.Registerer) *dispatchMetrics {
	m := &dispatchMetrics{
		groups: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "alertmanager_dispatcher_aggregation_groups",
			Help: "Number of active aggregation groups",
		}),
		processing: prometheus.NewSummary(prometheus.SummaryOpts{
			Name: "alertmanager_dispatcher_alert_processing_duration_seconds",
			Help: "Summary of latencies for the processing of alerts.",
		}),
		states: &alertStateCollector{desc: prometheus.NewDesc("alertmanager_alerts", "How many alerts by state.", []string{"state"}, nil)},
	}
	limitReached := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alertmanager_dispatcher_aggregation_group_limit_reached_total",
		Help: "Number of times when dispatcher failed to create new aggregation group due to limit.",
	})
	retries := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alertmanager_dispatcher_aggregation_group_creation_retries_total",
		Help: "Number of CAS retries while creating aggregation groups under contention.",
	})
	givenUp := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alertmanager_dispatcher_aggregation_group_creation_given_up_total",
		Help: "Number of alerts dropped because aggregation group creation exceeded the retry limit.",
	})
	if reg != nil {
		reg.MustRegister(m.states, m.groups, m.processing, limitReached, retries, givenUp)
	}
	return m
}

// alertStateCollector is upstream's alertmanager_alerts{state}: the alerts in aggregation
// groups that are not resolved, each counted once with its highest-priority state over its
// groups (suppressed > active > unprocessed).
type alertStateCollector struct {
	desc  *prometheus.Desc
	mu    sync.Mutex
	store *alertStore
}

func (c *alertStateCollector) setStore(s *alertStore) {
	c.mu.Lock()
	c.store = s
	c.mu.Unlock()
}

func (c *alertStateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *alertStateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	s := c.store
	c.mu.Unlock()
	if s == nil {
		return
	}
	seen := map[model.Fingerprint]alert.AlertState{}
	s.mu.Lock()
	d := s.disp
	if d == nil {
		s.mu.Unlock()
		return
	}
	now := time.Now()
	for _, g := range d.groups {
		for _, e := range g.alerts {
			if e.resolvedAt(now) {
				continue
			}
			state := statusOf(g.marker, e.fp).State
			if prev, ok := seen[e.fp]; !ok || state.Compare(prev) > 0 {
				seen[e.fp] = state
			}
		}
	}
	s.mu.Unlock()
	var active, suppressed, unprocessed int
	for _, state := range seen {
		switch state {
		case alert.AlertStateActive:
			active++
		case alert.AlertStateSuppressed:
			suppressed++
		default:
			unprocessed++
		}
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(active), string(alert.AlertStateActive))
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(suppressed), string(alert.AlertStateSuppressed))
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(unprocessed), string(alert.AlertStateUnprocessed))
}
