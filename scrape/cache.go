package scrape

import (
	"sort"
	"sync"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb"
)

// cacheEntry is what the cache knows about one exposed series string.
type cacheEntry struct {
	ref  tsdb.SeriesRef
	lset labels.Labels
	// lastIter is the scrape iteration the series string was last seen in; it detects duplicates
	// within one scrape and drives eviction.
	lastIter uint64
	// trackedIter is the iteration the entry was last added to the staleness list.
	trackedIter uint64
}

// scrapeCache maps the raw series text of a target's exposition (e.g. `http_requests_total{code="200"}`)
// to the final label set and the TSDB reference. In a steady scrape every sample is one map
// lookup keyed by the bytes the parser hands out: no label parsing, relabeling, hashing or index
// lookup. It also tracks which series were seen in the previous scrape, for staleness markers.
// Not safe for concurrent use, except the metadata, which the API reads.
type scrapeCache struct {
	// iter counts scrapes; it starts at 1 so that zero values in entries mean "never".
	iter uint64

	series  map[string]*cacheEntry
	dropped map[string]uint64
	// seenSeries and seenDropped count distinct entries hit in this scrape; when they equal the
	// map sizes nothing is evictable and iterDone skips walking the maps (the steady state).
	seenSeries, seenDropped int

	// cur and prev hold the entries appended (without an explicit timestamp) in this and the
	// previous scrape. Slices rather than maps: appending a pointer is cheaper than a map insert
	// and the slices are reused, so a steady scrape allocates nothing here.
	cur, prev []*cacheEntry

	meta *metadataStore
}

func newScrapeCache() *scrapeCache {
	return &scrapeCache{
		iter:    1,
		series:  map[string]*cacheEntry{},
		dropped: map[string]uint64{},
		meta:    newMetadataStore(),
	}
}

// get returns the entry for met and whether met was already seen in this scrape.
func (c *scrapeCache) get(met []byte) (e *cacheEntry, ok, alreadyScraped bool) {
	e, ok = c.series[string(met)] // no allocation: the compiler recognises map[string(b)]
	if !ok {
		return nil, false, false
	}
	alreadyScraped = e.lastIter == c.iter
	if !alreadyScraped {
		c.seenSeries++
	}
	e.lastIter = c.iter
	return e, true, alreadyScraped
}

func (c *scrapeCache) add(met []byte, ref tsdb.SeriesRef, lset labels.Labels) *cacheEntry {
	e := &cacheEntry{ref: ref, lset: lset, lastIter: c.iter}
	c.series[string(met)] = e
	c.seenSeries++
	return e
}

func (c *scrapeCache) addDropped(met []byte) {
	c.dropped[string(met)] = c.iter
	c.seenDropped++
}

func (c *scrapeCache) getDropped(met []byte) bool {
	it, ok := c.dropped[string(met)]
	if !ok {
		return false
	}
	if it != c.iter {
		c.seenDropped++
		c.dropped[string(met)] = c.iter // no allocation: the key exists
	}
	return true
}

// track records that e was appended in this scrape, for staleness.
func (c *scrapeCache) track(e *cacheEntry) {
	if e.trackedIter == c.iter {
		return
	}
	e.trackedIter = c.iter
	c.cur = append(c.cur, e)
}

// forgetCurrent undoes track for this scrape: after a failed scrape nothing was stored, so
// every series of the previous scrape must be marked stale.
func (c *scrapeCache) forgetCurrent() {
	for _, e := range c.cur {
		e.trackedIter = 0
	}
	clear(c.cur)
	c.cur = c.cur[:0]
}

// forEachStale calls f for every series appended in the previous scrape but not in this one.
func (c *scrapeCache) forEachStale(f func(e *cacheEntry) bool) {
	for _, e := range c.prev {
		if e.trackedIter != c.iter {
			if !f(e) {
				return
			}
		}
	}
}

// iterDone ends a scrape. After a successful (non-empty) scrape, flush drops entries not seen in
// it, so that series churn does not grow the cache without bound.
func (c *scrapeCache) iterDone(flush bool) {
	if flush {
		if c.seenSeries < len(c.series) {
			for s, e := range c.series {
				if e.lastIter != c.iter {
					delete(c.series, s)
				}
			}
		}
		if c.seenDropped < len(c.dropped) {
			for s, it := range c.dropped {
				if it != c.iter {
					delete(c.dropped, s)
				}
			}
		}
		if c.iter%10 == 0 {
			c.meta.evict(c.iter)
		}
	} else if len(c.series) > 2*len(c.prev)+1000 {
		// Failing scrapes with changing series would otherwise grow the cache forever; once it
		// is far larger than what the last good scrape needed, start over.
		clear(c.series)
		clear(c.dropped)
	}
	clear(c.prev) // drop pointers so evicted entries can be collected
	c.prev, c.cur = c.cur, c.prev[:0]
	c.seenSeries, c.seenDropped = 0, 0
	c.iter++
}

// MetricMetadata is the metadata of one metric family as exposed by a target.
type MetricMetadata struct {
	MetricFamily string
	Type         model.MetricType
	Help         string
	Unit         string
}

type metaEntry struct {
	MetricMetadata
	lastIter uint64
}

// metadataStore holds a target's metadata. The scrape loop writes it and the API reads it, so it
// has its own lock; writes only take it once per metric family per scrape.
type metadataStore struct {
	mtx     sync.RWMutex
	entries map[string]*metaEntry
}

func newMetadataStore() *metadataStore {
	return &metadataStore{entries: map[string]*metaEntry{}}
}

func (m *metadataStore) entry(mf []byte, iter uint64) *metaEntry {
	e, ok := m.entries[string(mf)]
	if !ok {
		e = &metaEntry{MetricMetadata: MetricMetadata{MetricFamily: string(mf), Type: model.MetricTypeUnknown}}
		m.entries[e.MetricFamily] = e
	}
	e.lastIter = iter
	return e
}

func (m *metadataStore) setType(mf []byte, t model.MetricType, iter uint64) {
	m.mtx.Lock()
	e := m.entry(mf, iter)
	e.Type = t
	m.mtx.Unlock()
}

func (m *metadataStore) setHelp(mf, help []byte, iter uint64) {
	m.mtx.Lock()
	e := m.entry(mf, iter)
	if e.Help != string(help) { // comparison with string(b) does not allocate
		e.Help = string(help)
	}
	m.mtx.Unlock()
}

func (m *metadataStore) setUnit(mf, unit []byte, iter uint64) {
	m.mtx.Lock()
	e := m.entry(mf, iter)
	if e.Unit != string(unit) {
		e.Unit = string(unit)
	}
	m.mtx.Unlock()
}

// evict drops families not exposed for more than 10 scrapes (Prometheus keeps them that long so
// that a briefly missing family does not flap in the metadata API).
func (m *metadataStore) evict(iter uint64) {
	m.mtx.Lock()
	for k, e := range m.entries {
		if iter-e.lastIter > 10 {
			delete(m.entries, k)
		}
	}
	m.mtx.Unlock()
}

func (m *metadataStore) get(metric string) (MetricMetadata, bool) {
	m.mtx.RLock()
	defer m.mtx.RUnlock()
	e, ok := m.entries[metric]
	if !ok {
		return MetricMetadata{}, false
	}
	return e.MetricMetadata, true
}

func (m *metadataStore) list() []MetricMetadata {
	m.mtx.RLock()
	res := make([]MetricMetadata, 0, len(m.entries))
	for _, e := range m.entries {
		res = append(res, e.MetricMetadata)
	}
	m.mtx.RUnlock()
	sort.Slice(res, func(i, j int) bool { return res[i].MetricFamily < res[j].MetricFamily })
	return res
}
