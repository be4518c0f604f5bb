package routing

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/provider"
	"github.com/prometheus/alertmanager/store"
	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// subscriberBuffer is upstream's alertChannelLength.
const subscriberBuffer = 200

// alertData is the part of an alert that an update can change: everything but the labels.
type alertData struct {
	annotations  Labels
	generatorURL string
	startsAt     time.Time
	endsAt       time.Time
	updatedAt    time.Time
	timeout      bool
	nilAnnots    bool // the alert was given without annotations (model nil map)
}

func (a *alertData) resolvedAt(ts time.Time) bool {
	return !a.endsAt.IsZero() && !a.endsAt.After(ts)
}

// merge is types.Alert.Merge (a is the stored alert, o the incoming one): the younger update's
// fields, the earliest start, and the end that upstream's rules pick.
func merge(a, o *alertData) alertData {
	if o.updatedAt.Before(a.updatedAt) {
		return merge(o, a)
	}
	res := *o
	if a.startsAt.Before(o.startsAt) {
		res.startsAt = a.startsAt
	}
	now := time.Now()
	if o.resolvedAt(now) {
		if a.resolvedAt(now) && a.endsAt.After(o.endsAt) {
			res.endsAt = a.endsAt
		}
	} else if a.endsAt.After(o.endsAt) && !a.timeout {
		res.endsAt = a.endsAt
	}
	return res
}

// entry is one stored alert. The store keeps one entry per fingerprint and updates it in
// place; aggregation groups point at entries, so an update reaches its groups without being
// routed again. All fields are guarded by alertStore.mu.
type entry struct {
	alertData
	labels Labels
	fp     model.Fingerprint

	// groups are the aggregation groups of dispatcher generation gen holding this entry, and
	// nroutes the number of routes it matched: while len(groups) == nroutes the entry is in
	// every group routing would put it in.
	groups  []*aggrGroup
	gen     uint64
	nroutes int
}

// alert materializes the entry as the upstream type (a fresh copy).
func (e *entry) alert() *types.Alert {
	a := &types.Alert{
		Alert: model.Alert{
			Labels:       e.labels.LabelSet(),
			StartsAt:     e.startsAt,
			EndsAt:       e.endsAt,
			GeneratorURL: e.generatorURL,
		},
		UpdatedAt: e.updatedAt,
		Timeout:   e.timeout,
	}
	if !e.nilAnnots {
		a.Annotations = e.annotations.LabelSet()
	}
	return a
}

// Incoming is a validated alert with upstream's defaults applied (start time, resolve timeout,
// empty label values dropped), ready to be stored. Its strings may point into a buffer the
// caller reuses once Store returns: the store copies whatever it keeps.
type Incoming struct {
	Labels         Labels
	Annotations    Labels
	NilAnnotations bool
	GeneratorURL   string
	StartsAt       time.Time
	EndsAt         time.Time
	UpdatedAt      time.Time
	Timeout        bool
}

func incomingFrom(a *types.Alert) Incoming {
	return Incoming{
		Labels:         PackLabels(a.Labels),
		Annotations:    PackLabels(a.Annotations),
		NilAnnotations: a.Annotations == nil,
		GeneratorURL:   a.GeneratorURL,
		StartsAt:       a.StartsAt,
		EndsAt:         a.EndsAt,
		UpdatedAt:      a.UpdatedAt,
		Timeout:        a.Timeout,
	}
}

type listener struct {
	name   string
	ch     chan *provider.Alert
	done   chan struct{}
	filter func(model.LabelSet) bool // nil: every alert
}

// alertStore is Vigil's alert provider: the alerts by fingerprint with upstream mem.Alerts'
// merge and garbage-collection rules, feeding the dispatcher directly (under the same lock)
// and other subscribers (the inhibitor) through channels as upstream does. It implements
// provider.Alerts for the upstream API and inhibitor.
type alertStore struct {
	mu        sync.Mutex
	alerts    map[model.Fingerprint]*entry
	disp      *dispatcher
	listeners map[int]*listener
	nextID    int
	interned  map[string]string // generator URLs, which repeat across a rule's alerts

	onGC   func(model.Fingerprints)
	logger *slog.Logger
	writes *prometheus.CounterVec

	stop chan struct{}
	done chan struct{}
}

const maxInterned = 1 << 14

func newAlertStore(gcInterval time.Duration, onGC func(model.Fingerprints), logger *slog.Logger, reg prometheus.Registerer) *alertStore {
	s := &alertStore{
		alerts:    map[model.Fingerprint]*entry{},
		listeners: map[int]*listener{},
		interned:  map[string]string{},
		onGC:      onGC,
		logger:    logger,
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	// The metrics upstream's mem.Alerts registers, with the same names.
	limit := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "alertmanager_alerts_per_alert_limit",
		Help: "Current limit on number of alerts per alert name",
	})
	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertmanager_alerts_limited_total",
		Help: "Total number of alerts that were dropped due to per alert name limit",
	}, []string{})
	s.writes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertmanager_alerts_subscriber_channel_writes_total",
		Help: "Number of times alerts were written to subscriber channels",
	}, []string{"subscriber"})
	if reg != nil {
		reg.MustRegister(limit, limited, s.writes)
	}
	go s.gcLoop(gcInterval)
	return s
}

func (s *alertStore) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

func (s *alertStore) gcLoop(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.gc()
		}
	}
}

// gc drops resolved alerts, as upstream's store GC does; groups still holding them keep them
// until their resolved notification is sent.
func (s *alertStore) gc() {
	now := time.Now()
	var fps model.Fingerprints
	s.mu.Lock()
	for fp, e := range s.alerts {
		if e.resolvedAt(now) {
			delete(s.alerts, fp)
			fps = append(fps, fp)
		}
	}
	s.gcListenersLocked()
	if len(s.interned) > maxInterned/2 {
		s.interned = map[string]string{}
	}
	s.mu.Unlock()
	if len(fps) > 0 && s.onGC != nil {
		s.onGC(fps)
	}
}

func (s *alertStore) gcListenersLocked() {
	for id, l := range s.listeners {
		select {
		case <-l.done:
			delete(s.listeners, id)
			close(l.ch)
		default:
		}
	}
}

// put stores alerts with upstream mem.Alerts.Put's semantics and hands each to the dispatcher.
func (s *alertStore) put(in []Incoming) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range in {
		s.putLocked(&in[i])
	}
}

func (s *alertStore) putLocked(a *Incoming) {
	fp := a.Labels.Fingerprint()
	nd := alertData{
		annotations: a.Annotations, generatorURL: s.intern(a.GeneratorURL),
		startsAt: a.StartsAt, endsAt: a.EndsAt, updatedAt: a.UpdatedAt,
		timeout: a.Timeout, nilAnnots: a.NilAnnotations,
	}
	e := s.alerts[fp]
	if e != nil && e.labels == a.Labels {
		old := &e.alertData
		// Merge only when the activity ranges overlap, as upstream; otherwise replace.
		if (nd.endsAt.After(old.startsAt) && nd.endsAt.Before(old.endsAt)) ||
			(nd.startsAt.After(old.startsAt) && nd.startsAt.Before(old.endsAt)) {
			nd = merge(old, &nd)
		}
		if nd.annotations == old.annotations {
			nd.annotations = old.annotations
		} else {
			nd.annotations = Labels(strings.Clone(string(nd.annotations)))
		}
		e.alertData = nd
	} else {
		// New, or a fingerprint collision: the previous entry stays in the groups holding it,
		// as upstream's groups keep the previous alert.
		nd.annotations = Labels(strings.Clone(string(nd.annotations)))
		e = &entry{alertData: nd, labels: Labels(strings.Clone(string(a.Labels))), fp: fp}
		s.alerts[fp] = e
	}
	if len(s.listeners) > 0 {
		s.publishLocked(e)
	}
	if s.disp != nil {
		s.disp.insertLocked(e)
	}
}

func (s *alertStore) intern(str string) string {
	if str == "" {
		return ""
	}
	if v, ok := s.interned[str]; ok {
		return v
	}
	// A copy: str may be a substring of a request body.
	str = strings.Clone(str)
	if len(s.interned) < maxInterned {
		s.interned[str] = str
	}
	return str
}

func (s *alertStore) publishLocked(e *entry) {
	var msg *provider.Alert
	var ls model.LabelSet
	for id, l := range s.listeners {
		if l.filter != nil {
			if ls == nil {
				ls = e.labels.LabelSet()
			}
			if !l.filter(ls) {
				continue
			}
		}
		if msg == nil {
			msg = &provider.Alert{Data: e.alert()}
		}
		select {
		case l.ch <- msg:
			s.writes.WithLabelValues(l.name).Inc()
		case <-l.done:
			delete(s.listeners, id)
			close(l.ch)
		}
	}
}

func (s *alertStore) subscribe(name string, filter func(model.LabelSet) bool, slurp bool) ([]*types.Alert, provider.AlertIterator) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*types.Alert
	for _, e := range s.alerts {
		if filter == nil || filter(e.labels.LabelSet()) {
			all = append(all, e.alert())
		}
	}
	size := subscriberBuffer
	if !slurp {
		size = max(len(all), subscriberBuffer)
	}
	l := &listener{name: name, ch: make(chan *provider.Alert, size), done: make(chan struct{}), filter: filter}
	if !slurp {
		for _, a := range all {
			l.ch <- &provider.Alert{Header: map[string]string{}, Data: a}
		}
		all = nil
	}
	s.listeners[s.nextID] = l
	s.nextID++
	return all, provider.NewAlertIterator(l.ch, l.done, nil)
}

// Subscribe implements provider.Alerts.
func (s *alertStore) Subscribe(name string) provider.AlertIterator {
	_, it := s.subscribe(name, nil, false)
	return it
}

// SlurpAndSubscribe implements provider.Alerts.
func (s *alertStore) SlurpAndSubscribe(name string) ([]*types.Alert, provider.AlertIterator) {
	return s.subscribe(name, nil, true)
}

// GetPending implements provider.Alerts: every stored alert.
func (s *alertStore) GetPending() provider.AlertIterator {
	s.mu.Lock()
	alerts := make([]*types.Alert, 0, len(s.alerts))
	for _, e := range s.alerts {
		alerts = append(alerts, e.alert())
	}
	s.mu.Unlock()
	ch := make(chan *provider.Alert, subscriberBuffer)
	done := make(chan struct{})
	go func() {
		defer close(ch)
		for _, a := range alerts {
			select {
			case ch <- &provider.Alert{Header: map[string]string{}, Data: a}:
			case <-done:
				return
			}
		}
	}()
	return provider.NewAlertIterator(ch, done, nil)
}

// Get implements provider.Alerts.
func (s *alertStore) Get(fp model.Fingerprint) (*types.Alert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.alerts[fp]
	if !ok {
		return nil, store.ErrNotFound
	}
	return e.alert(), nil
}

// Put implements provider.Alerts for alerts that already carry upstream's defaults (the
// upstream API's intake path).
func (s *alertStore) Put(_ context.Context, alerts ...*types.Alert) error {
	in := make([]Incoming, len(alerts))
	for i, a := range alerts {
		in[i] = incomingFrom(a)
	}
	s.put(in)
	return nil
}

// len is the number of stored alerts.
func (s *alertStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.alerts)
}

// filteredFeed is the store as the inhibitor sees it: only alerts matching filter (the source
// side of some inhibition rule — the only alerts the inhibitor keeps) are delivered to it. A nil
// filter (no rules) delivers nothing.
type filteredFeed struct {
	*alertStore
	filter func(model.LabelSet) bool
}

// idle is an iterator that never delivers: the feed of an inhibitor without rules.
func idle() provider.AlertIterator {
	return provider.NewAlertIterator(make(chan *provider.Alert), make(chan struct{}), nil)
}

func (f filteredFeed) SlurpAndSubscribe(name string) ([]*types.Alert, provider.AlertIterator) {
	if f.filter == nil {
		return nil, idle()
	}
	return f.subscribe(name, f.filter, true)
}

func (f filteredFeed) Subscribe(name string) provider.AlertIterator {
	if f.filter == nil {
		return idle()
	}
	_, it := f.subscribe(name, f.filter, false)
	return it
}
