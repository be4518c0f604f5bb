package scrape

import (
	"hash/crc32"
	"sort"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"

	"github.com/vigil-monitoring/vigil/storage"
)

// cacheEntry is what the cache knows about one exposed series string.
type cacheEntry struct {
	ref storage.SeriesRef
	// lastIter is the scrape iteration the series string was last seen in; it detects duplicates
	// within one scrape and drives eviction.
	lastIter uint64
	// trackedIter is the iteration the entry was last added to the staleness list.
	trackedIter uint64
	// check and size tell apart series strings whose key hashes collide; next chains them.
	check   uint32
	size    uint32
	dropped bool // metric relabeling drops this series
	// kind is the kind of the series' last sample, which its stale marker takes.
	kind sampleKindT
	next *cacheEntry
}

// sampleKindT tells a float series from a native histogram one (integer or float counts).
type sampleKindT uint8

const (
	kindFloat sampleKindT = iota
	kindHistogram
	kindFloatHistogram
)

func sampleKind(h *histogram.Histogram, fh *histogram.FloatHistogram) sampleKindT {
	switch {
	case h != nil:
		return kindHistogram
	case fh != nil:
		return kindFloatHistogram
	}
	return kindFloat
}

// scrapeCache maps the raw series text of a target's exposition (e.g. `http_requests_total{code="200"}`)
// to the TSDB reference of its final series. It keeps no label set: the head holds each series'
// labels once, and a reference the head has dropped is rebuilt from the exposition. In a steady scrape every sample is one map
// lookup on a hash of the bytes the parser hands out: no label parsing, relabeling or index
// lookup. It also tracks which series were seen in the previous scrape, for staleness markers.
// Not safe for concurrent use, except the metadata, which the API reads.
//
// The map is keyed by a 64-bit xxhash of the series text rather than by the text itself, which
// would cost as much memory again as the label set (series text is typically 100-400 bytes, and
// the cache holds one entry per series of every target). Entries also keep a CRC-32C and the
// length of the text: a lookup must match all three (96 bits), and entries whose 64-bit hashes
// collide are chained, so distinct series never share an entry.
type scrapeCache struct {
	// iter counts scrapes; it starts at 1 so that zero values in entries mean "never".
	iter uint64

	entries map[uint64]*cacheEntry
	// nSeries and nDropped count the entries of each kind.
	nSeries, nDropped int
	// seenSeries and seenDropped count distinct entries hit in this scrape; when they equal the
	// totals nothing is evictable and iterDone skips walking the map (the steady state).
	seenSeries, seenDropped int

	// cur and prev hold the entries appended (without an explicit timestamp) in this and the
	// previous scrape. Slices rather than maps: appending a pointer is cheaper than a map insert
	// and the slices are reused, so a steady scrape allocates nothing here.
	cur, prev []*cacheEntry

	meta *metadataStore
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// cacheKey identifies a series string in the cache.
type cacheKey struct {
	hash  uint64
	check uint32
	size  uint32
}

func keyOf(met []byte) cacheKey {
	return cacheKey{hash: xxhash.Sum64(met), check: crc32.Checksum(met, castagnoli), size: uint32(len(met))}
}

func newScrapeCache() *scrapeCache {
	return &scrapeCache{
		iter:    1,
		entries: map[uint64]*cacheEntry{},
		meta:    newMetadataStore(),
	}
}

// find returns the entry for k, or nil.
func (c *scrapeCache) find(k cacheKey) *cacheEntry {
	for e := c.entries[k.hash]; e != nil; e = e.next {
		if e.check == k.check && e.size == k.size {
			return e
		}
	}
	return nil
}

// get returns the entry for k and whether it was already seen in this scrape. Dropped series
// come back with e.dropped set.
func (c *scrapeCache) get(k cacheKey) (e *cacheEntry, alreadyScraped bool) {
	e = c.find(k)
	if e == nil {
		return nil, false
	}
	alreadyScraped = e.lastIter == c.iter
	if !alreadyScraped {
		if e.dropped {
			c.seenDropped++
		} else {
			c.seenSeries++
		}
	}
	e.lastIter = c.iter
	return e, alreadyScraped
}

func (c *scrapeCache) insert(k cacheKey, e *cacheEntry) *cacheEntry {
	e.check, e.size, e.lastIter = k.check, k.size, c.iter
	e.next = c.entries[k.hash]
	c.entries[k.hash] = e
	if e.dropped {
		c.nDropped++
		c.seenDropped++
	} else {
		c.nSeries++
		c.seenSeries++
	}
	return e
}

func (c *scrapeCache) add(k cacheKey, ref storage.SeriesRef) *cacheEntry {
	return c.insert(k, &cacheEntry{ref: ref})
}

func (c *scrapeCache) addDropped(k cacheKey) { c.insert(k, &cacheEntry{dropped: true}) }

// evict removes entries not seen in this scrape.
func (c *scrapeCache) evict() {
	for h, head := range c.entries {
		var keep *cacheEntry
		for e := head; e != nil; {
			next := e.next
			if e.lastIter == c.iter {
				e.next = keep
				keep = e
			} else if e.dropped {
				c.nDropped--
			} else {
				c.nSeries--
			}
			e = next
		}
		if keep == nil {
			delete(c.entries, h)
		} else {
			c.entries[h] = keep
		}
	}
}

func (c *scrapeCache) reset() {
	clear(c.entries)
	c.nSeries, c.nDropped = 0, 0
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
		if c.seenSeries < c.nSeries || c.seenDropped < c.nDropped {
			c.evict()
		}
		if c.iter%10 == 0 {
			c.meta.evict(c.iter)
		}
	} else if c.nSeries > 2*len(c.prev)+1000 {
		// Failing scrapes with changing series would otherwise grow the cache forever; once it
		// is far larger than what the last good scrape needed, start over.
		c.reset()
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
