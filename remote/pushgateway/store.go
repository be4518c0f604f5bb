// Package pushgateway holds the metric groups pushed to Vigil's Pushgateway API (PUT, POST and
// DELETE /metrics/job/...), checks pushes for consistency as the Pushgateway does, keeps the
// groups across restarts in a file, and renders them for ingestion into the TSDB.
//
// Store implements the Pushgateway's own storage.MetricStore interface, so that the
// Pushgateway's HTTP handlers (github.com/prometheus/pushgateway/handler and api/v1) serve it
// unchanged. What differs from the Pushgateway's DiskMetricStore is how groups are held and
// checked:
//
//   - A family is kept as its protobuf encoding, without the grouping labels and the empty
//     instance label that the store puts on every metric (they are put back when it is decoded),
//     instead of a tree of protobuf messages: about 20-40 bytes per series instead of several
//     hundred.
//   - A push is checked against the families it can conflict with, not by gathering the whole
//     store: client_golang's Gatherers check runs over the pushed families, the metrics of the
//     same names in the groups that could hold the same series (same job, no grouping label
//     with another value), and the names and types of the families whose names collide with
//     the pushed ones through the _count, _sum and _bucket suffixes. That finds every
//     inconsistency the Pushgateway's check (which gathers everything) finds, at a cost that
//     does not grow with the number of groups. Unlike the Pushgateway, pushed families are not
//     checked against Vigil's own metrics: Vigil does not expose them together.
//   - Write requests are processed when submitted, not queued.
package pushgateway

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	pgstorage "github.com/prometheus/pushgateway/storage"
	"google.golang.org/protobuf/proto"
)

// meta is what a family has besides its metrics. Metas are interned: groups pushing the same
// family share one.
type meta struct {
	name, help, unit string
	hasHelp, hasUnit bool
	typ              dto.MetricType
}

// family is one metric family of a group.
type family struct {
	meta *meta
	// time is when the family was pushed (unix nanoseconds), the Pushgateway's time_stamp.
	time int64
	// raw is the family's metrics as the protobuf encoding of MetricFamily.metric, with the
	// grouping labels and an empty instance label left out (decode puts them back).
	raw []byte
}

// group is one metric group: the families pushed under one grouping key. A group's families
// slice is never changed in place (a push replaces it), so a snapshot of the slice can be read
// without the store's lock.
type group struct {
	labels   labels.Labels // the grouping labels, job included
	job      string
	families []family // sorted by name
}

func (g *group) find(name string) *family {
	i, ok := slices.BinarySearchFunc(g.families, name, func(f family, n string) int { return strings.Compare(f.meta.name, n) })
	if !ok {
		return nil
	}
	return &g.families[i]
}

func (g *group) labelMap() map[string]string { return g.labels.Map() }

// nameInfo tells how many groups hold a family of a name, and its type (all of them agree).
type nameInfo struct {
	typ    dto.MetricType
	groups int
}

// Store holds the pushed groups. All methods are safe for concurrent use.
type Store struct {
	mu     sync.RWMutex
	groups map[string]*group // by grouping key
	byJob  map[string][]*group
	names  map[string]*nameInfo
	metas  map[meta]*meta
	logger *slog.Logger
	// gen counts changes; persistence compares it with the generation last written.
	gen uint64

	persist *persister
}

// New returns an empty Store.
func New(logger *slog.Logger) *Store {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{
		groups: map[string]*group{},
		byJob:  map[string][]*group{},
		names:  map[string]*nameInfo{},
		metas:  map[meta]*meta{},
		logger: logger,
	}
}

var _ pgstorage.MetricStore = (*Store)(nil)

// SubmitWriteRequest implements the Pushgateway's MetricStore: it processes req at once, as
// the Pushgateway's DiskMetricStore processes a queued request. A request with a Done channel
// is checked for consistency first; a refused request (inconsistent, or with timestamps)
// changes nothing but the group's push_failure_time_seconds, and its error is sent to Done.
// Done is closed when the request is processed.
func (s *Store) SubmitWriteRequest(req pgstorage.WriteRequest) {
	err := s.write(req)
	if req.Done != nil {
		if err != nil {
			req.Done <- err
		}
		close(req.Done)
	}
}

func (s *Store) write(wr pgstorage.WriteRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	defer s.persist.changed()
	key := groupingKeyFor(wr.Labels)
	if wr.MetricFamilies == nil {
		s.deleteGroup(key)
		return nil
	}
	if timestampsPresent(wr.MetricFamilies) {
		s.setPushFailed(key, wr)
		return errTimestamp
	}
	for _, mf := range wr.MetricFamilies {
		sanitizeLabels(mf, wr.Labels)
	}
	if wr.Done != nil {
		if err := s.check(key, wr); err != nil {
			s.setPushFailed(key, wr)
			return err
		}
	}
	if err := s.process(key, wr); err != nil {
		s.logger.Error("storing pushed metrics", "err", err)
		return err
	}
	return nil
}

// intern returns the shared meta of mf.
func (s *Store) intern(mf *dto.MetricFamily) *meta {
	m := meta{
		name:    mf.GetName(),
		help:    mf.GetHelp(),
		hasHelp: mf.Help != nil,
		unit:    mf.GetUnit(),
		hasUnit: mf.Unit != nil,
		typ:     mf.GetType(),
	}
	if p, ok := s.metas[m]; ok {
		return p
	}
	m.name = unique.Make(m.name).Value()
	m.help = unique.Make(m.help).Value()
	p := &m
	s.metas[m] = p
	return p
}

// encode turns a sanitized family into a stored one. It strips the grouping labels and an
// empty instance label from mf's metrics in place.
func (s *Store) encode(mf *dto.MetricFamily, gl map[string]string, t time.Time) (family, error) {
	for _, m := range mf.Metric {
		kept := m.Label[:0]
		for _, lp := range m.Label {
			if _, ok := gl[lp.GetName()]; ok {
				continue
			}
			if lp.GetName() == string(model.InstanceLabel) && lp.GetValue() == "" {
				continue
			}
			kept = append(kept, lp)
		}
		clear(m.Label[len(kept):])
		m.Label = kept
	}
	raw, err := proto.Marshal(&dto.MetricFamily{Metric: mf.Metric})
	if err != nil {
		return family{}, fmt.Errorf("encoding metric family %s: %w", mf.GetName(), err)
	}
	return family{meta: s.intern(mf), time: t.UnixNano(), raw: raw}, nil
}

// decode returns the family f of a group with grouping labels gl as the Pushgateway holds it.
func decode(f *family, gl map[string]string) (*dto.MetricFamily, error) {
	mf := &dto.MetricFamily{}
	if err := proto.Unmarshal(f.raw, mf); err != nil {
		return nil, fmt.Errorf("decoding stored metric family %s: %w", f.meta.name, err)
	}
	m := f.meta
	mf.Name = proto.String(m.name)
	if m.hasHelp {
		mf.Help = proto.String(m.help)
	}
	if m.hasUnit {
		mf.Unit = proto.String(m.unit)
	}
	mf.Type = m.typ.Enum()
	sanitizeLabels(mf, gl)
	return mf, nil
}

// process stores a checked update, as the Pushgateway's processWriteRequest does.
func (s *Store) process(key string, wr pgstorage.WriteRequest) error {
	old := s.groups[key]
	mfs := wr.MetricFamilies
	mfs[pushMetricName] = newPushTimestampGauge(wr.Labels, wr.Timestamp)
	var kept []family
	if old != nil {
		for _, f := range old.families {
			if _, pushed := mfs[f.meta.name]; pushed {
				continue
			}
			if wr.Replace && f.meta.name != pushMetricName && f.meta.name != pushFailedMetricName {
				continue
			}
			kept = append(kept, f)
		}
	}
	// Only add a zero push-failed metric if none is there yet, so that a previously added
	// fail timestamp is retained.
	if old == nil || old.find(pushFailedMetricName) == nil {
		mfs[pushFailedMetricName] = newPushFailedTimestampGauge(wr.Labels, time.Time{})
	}
	fams := make([]family, 0, len(kept)+len(mfs))
	fams = append(fams, kept...)
	for _, mf := range mfs {
		f, err := s.encode(mf, wr.Labels, wr.Timestamp)
		if err != nil {
			return err
		}
		fams = append(fams, f)
	}
	s.replaceGroup(key, old, wr.Labels, fams)
	return nil
}

// setPushFailed records a refused push, as the Pushgateway's setPushFailedTimestamp does: the
// group (created if new) gets push_failure_time_seconds set to the time of the push, and a
// zero push_time_seconds if it has none.
func (s *Store) setPushFailed(key string, wr pgstorage.WriteRequest) {
	old := s.groups[key]
	var fams []family
	if old != nil {
		for _, f := range old.families {
			if f.meta.name != pushFailedMetricName {
				fams = append(fams, f)
			}
		}
	}
	add := func(mf *dto.MetricFamily) {
		f, err := s.encode(mf, wr.Labels, wr.Timestamp)
		if err != nil {
			s.logger.Error("storing push failure time", "err", err)
			return
		}
		fams = append(fams, f)
	}
	add(newPushFailedTimestampGauge(wr.Labels, wr.Timestamp))
	if old == nil || old.find(pushMetricName) == nil {
		add(newPushTimestampGauge(wr.Labels, time.Time{}))
	}
	s.replaceGroup(key, old, wr.Labels, fams)
}

// replaceGroup puts a group with families fams (in any order) in place of old (nil if new)
// and keeps the indexes.
func (s *Store) replaceGroup(key string, old *group, gl map[string]string, fams []family) {
	sort.Slice(fams, func(i, j int) bool { return fams[i].meta.name < fams[j].meta.name })
	g := &group{families: fams}
	if old != nil {
		g.labels, g.job = old.labels, old.job
		s.unindex(old)
	} else {
		g.labels = labels.FromMap(gl)
		g.job = gl[string(model.JobLabel)]
	}
	s.groups[key] = g
	s.index(g, old)
}

func (s *Store) deleteGroup(key string) {
	g, ok := s.groups[key]
	if !ok {
		return
	}
	delete(s.groups, key)
	s.unindex(g)
	jobs := s.byJob[g.job]
	i := slices.Index(jobs, g)
	jobs = slices.Delete(jobs, i, i+1)
	if len(jobs) == 0 {
		delete(s.byJob, g.job)
	} else {
		s.byJob[g.job] = jobs
	}
}

// index adds g's names to the name index and puts g in the job index (in old's place).
func (s *Store) index(g, old *group) {
	for _, f := range g.families {
		ni := s.names[f.meta.name]
		if ni == nil {
			ni = &nameInfo{typ: f.meta.typ}
			s.names[f.meta.name] = ni
		}
		ni.typ = f.meta.typ
		ni.groups++
	}
	jobs := s.byJob[g.job]
	if i := slices.Index(jobs, old); old != nil && i >= 0 {
		jobs[i] = g
	} else {
		s.byJob[g.job] = append(jobs, g)
	}
}

// unindex removes g's names from the name index.
func (s *Store) unindex(g *group) {
	for _, f := range g.families {
		if ni := s.names[f.meta.name]; ni != nil {
			if ni.groups--; ni.groups <= 0 {
				delete(s.names, f.meta.name)
			}
		}
	}
}

// compatible reports whether a group with grouping labels gl can hold a series that group h
// also holds: every grouping label the two share has the same value.
func compatible(gl map[string]string, h *group) bool {
	ok := true
	h.labels.Range(func(l labels.Label) {
		if v, found := gl[l.Name]; found && v != l.Value {
			ok = false
		}
	})
	return ok
}

// suffixRelatives are the names whose families client_golang's check compares with a family of
// this name (checkSuffixCollisions).
func suffixRelatives(name string) []string {
	rel := []string{name + "_count", name + "_sum", name + "_bucket"}
	for _, suf := range []string{"_count", "_sum", "_bucket"} {
		if base, ok := strings.CutSuffix(name, suf); ok {
			rel = append(rel, base)
		}
	}
	return rel
}

// check tells whether storing the write request wr (sanitized) would leave the store
// consistent, with client_golang's Gatherers check as the Pushgateway does (see the package
// comment for what is gathered).
func (s *Store) check(key string, wr pgstorage.WriteRequest) error {
	g := s.groups[key]
	// The families the request stores, as process adds them.
	pushed := maps.Clone(wr.MetricFamilies)
	pushed[pushMetricName] = newPushTimestampGauge(wr.Labels, wr.Timestamp)
	if g == nil || g.find(pushFailedMetricName) == nil {
		pushed[pushFailedMetricName] = newPushFailedTimestampGauge(wr.Labels, time.Time{})
	}
	// What remains of the group's own families after the request.
	remaining := func(name string) *family {
		if g == nil || pushed[name] != nil || (wr.Replace && name != pushFailedMetricName) {
			return nil
		}
		return g.find(name)
	}
	var others []*group
	for _, h := range s.byJob[wr.Labels[string(model.JobLabel)]] {
		if h != g && compatible(wr.Labels, h) {
			others = append(others, h)
		}
	}
	var (
		out  []*dto.MetricFamily
		seen = map[string]bool{}
		err  error
	)
	add := func(name string, withMetrics bool) {
		if seen[name] || err != nil {
			return
		}
		seen[name] = true
		p := pushed[name]
		var typ dto.MetricType
		found := false
		if ni := s.names[name]; ni != nil {
			n := ni.groups
			if g != nil && g.find(name) != nil {
				n--
			}
			typ, found = ni.typ, n > 0
		}
		if !found {
			if p != nil {
				typ, found = p.GetType(), true
			} else if r := remaining(name); r != nil {
				typ, found = r.meta.typ, true
			}
		}
		if !found {
			return
		}
		mf := &dto.MetricFamily{Name: proto.String(name), Type: typ.Enum()}
		if withMetrics && p != nil {
			for _, h := range others {
				f := h.find(name)
				if f == nil {
					continue
				}
				var hm *dto.MetricFamily
				if hm, err = decode(f, h.labelMap()); err != nil {
					return
				}
				mf.Metric = append(mf.Metric, hm.Metric...)
			}
			mf.Metric = append(mf.Metric, p.Metric...)
		}
		out = append(out, mf)
	}
	names := slices.Sorted(maps.Keys(pushed))
	for _, name := range names {
		add(name, true)
	}
	for _, name := range names {
		for _, rel := range suffixRelatives(name) {
			add(rel, false)
		}
	}
	if err != nil {
		return err
	}
	_, err = prometheus.Gatherers{
		prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return out, nil }),
	}.Gather()
	return err
}

// GetMetricFamilies implements the Pushgateway's MetricStore: all families, those of the same
// name in different groups merged into one.
func (s *Store) GetMetricFamilies() []*dto.MetricFamily {
	var res []*dto.MetricFamily
	byName := map[string]*dto.MetricFamily{}
	for _, g := range s.snapshot() {
		gl := g.labelMap()
		for i := range g.families {
			mf, err := decode(&g.families[i], gl)
			if err != nil {
				s.logger.Warn("storage corruption detected", "err", err)
				continue
			}
			if prev, ok := byName[mf.GetName()]; ok {
				prev.Metric = append(prev.Metric, mf.Metric...)
				continue
			}
			byName[mf.GetName()] = mf
			res = append(res, mf)
		}
	}
	return res
}

// GetMetricFamiliesMap implements the Pushgateway's MetricStore: the groups by grouping key,
// decoded (the Pushgateway's API lists them from this).
func (s *Store) GetMetricFamiliesMap() pgstorage.GroupingKeyToMetricGroup {
	res := pgstorage.GroupingKeyToMetricGroup{}
	for _, g := range s.snapshot() {
		gl := g.labelMap()
		mg := pgstorage.MetricGroup{Labels: gl, Metrics: pgstorage.NameToTimestampedMetricFamilyMap{}}
		for i := range g.families {
			f := &g.families[i]
			mf, err := decode(f, gl)
			if err != nil {
				s.logger.Warn("storage corruption detected", "err", err)
				continue
			}
			mg.Metrics[f.meta.name] = pgstorage.TimestampedMetricFamily{
				Timestamp:            time.Unix(0, f.time),
				GobbableMetricFamily: (*pgstorage.GobbableMetricFamily)(mf),
			}
		}
		res[groupingKeyFor(gl)] = mg
	}
	return res
}

// snapshot returns the groups as they are now, sorted by grouping labels. The groups are not
// changed later (a push replaces a group), so they can be read without the lock.
func (s *Store) snapshot() []*group {
	s.mu.RLock()
	gs := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		gs = append(gs, g)
	}
	s.mu.RUnlock()
	sort.Slice(gs, func(i, j int) bool { return labels.Compare(gs[i].labels, gs[j].labels) < 0 })
	return gs
}

// Stats tells how many groups, families and series the store holds.
func (s *Store) Stats() (groups, families int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, g := range s.groups {
		families += len(g.families)
	}
	return len(s.groups), families
}

// Shutdown implements the Pushgateway's MetricStore: it writes the groups to the persistence
// file, if there is one, and stops writing it.
func (s *Store) Shutdown() error {
	return s.persist.shutdown()
}

// Healthy implements the Pushgateway's MetricStore.
func (s *Store) Healthy() error { return nil }

// Ready implements the Pushgateway's MetricStore.
func (s *Store) Ready() error { return nil }
