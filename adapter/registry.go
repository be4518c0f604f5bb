package adapter

import (
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// customMetrics is the set of custom metrics of one relist: (group-resource, metric) -> series.
//
// With 10,000 metric names served for pods, services and namespaces it holds 30,000 entries,
// rebuilt every relist. A map keyed by (GroupResource, name) costs ~80 bytes a slot plus the
// table's slack (up to 2x): 5 MiB, and as much again for a list of them kept for discovery. Here
// each name is one map entry pointing into a slice of compact entries (a group-resource is a
// 2-byte index) chained per name: ~60 bytes per metric, and discovery walks the slice.
type customMetrics struct {
	grs     []schema.GroupResource
	grIndex map[schema.GroupResource]uint16
	byName  map[string]int32 // first entry of the name
	entries []customEntry
}

type customEntry struct {
	metric string
	ref    seriesRef
	next   int32 // next entry with the same metric name, or -1
	gr     uint16
}

func newCustomMetrics() *customMetrics {
	return &customMetrics{grIndex: map[schema.GroupResource]uint16{}, byName: map[string]int32{}}
}

func (c *customMetrics) len() int { return len(c.entries) }

// find returns the index of the entry for k, or -1.
func (c *customMetrics) find(k metricKey) int32 {
	g, ok := c.grIndex[k.gr]
	if !ok {
		return -1
	}
	i, ok := c.byName[k.metric]
	for ok && i >= 0 {
		if c.entries[i].gr == g {
			return i
		}
		i = c.entries[i].next
	}
	return -1
}

func (c *customMetrics) get(k metricKey) (seriesRef, bool) {
	if i := c.find(k); i >= 0 {
		return c.entries[i].ref, true
	}
	return seriesRef{}, false
}

// put adds k or replaces its series.
func (c *customMetrics) put(k metricKey, ref seriesRef) {
	if i := c.find(k); i >= 0 {
		c.entries[i].ref = ref
		return
	}
	g, ok := c.grIndex[k.gr]
	if !ok {
		g = uint16(len(c.grs))
		c.grs = append(c.grs, k.gr)
		c.grIndex[k.gr] = g
	}
	next, ok := c.byName[k.metric]
	if !ok {
		next = -1
	}
	c.byName[k.metric] = int32(len(c.entries))
	c.entries = append(c.entries, customEntry{metric: k.metric, ref: ref, next: next, gr: g})
}

// each calls fn for every metric, in the order they were added.
func (c *customMetrics) each(fn func(k metricKey, ref *seriesRef)) {
	for i := range c.entries {
		e := &c.entries[i]
		fn(metricKey{gr: c.grs[e.gr], metric: e.metric}, &e.ref)
	}
}

// freeze drops the slack of the entry slice once the relist is done with it.
func (c *customMetrics) freeze() {
	if cap(c.entries) > len(c.entries)+len(c.entries)/8 {
		c.entries = slices.Clone(c.entries)
	}
}
