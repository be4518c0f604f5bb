package tsdb

import (
	"context"
	"encoding/binary"
	"slices"
	"sort"
	"sync"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb/index"
)

// allPostingsKey is the label pair under which every series is listed.
var allPostingsKey = labels.Label{}

// memPostings is the head's inverted index: label name → value → sorted series refs.
type memPostings struct {
	mu sync.RWMutex
	m  map[string]map[string]refList
}

// refList is a sorted list of series refs kept as varint deltas: refs are allocated in order, so
// most deltas take a byte or two where a []uint64 takes eight (the head's postings were ~85 bytes
// per series of ten labels). Concurrent appenders and WAL replay index series a little out of
// ref order; such refs wait in ooo, unsorted, until there are enough of them to merge in one
// pass (a sixteenth of the list), so that no insert rewrites a long list.
type refList struct {
	b    []byte
	last uint64 // the last ref in b
	ooo  *[]uint64
}

func (l *refList) append(ref uint64) {
	if len(l.b) == 0 || ref > l.last {
		l.b = binary.AppendUvarint(l.b, ref-l.last)
		l.last = ref
		return
	}
	if l.ooo == nil {
		l.ooo = new([]uint64)
	}
	*l.ooo = append(*l.ooo, ref)
	if n := len(*l.ooo); n >= 16 && n*16 >= len(l.b) {
		l.merge()
	}
}

// merge moves the out-of-order refs into b.
func (l *refList) merge() {
	if l.ooo == nil {
		return
	}
	extra := *l.ooo
	l.ooo = nil
	slices.Sort(extra)
	old := l.b
	l.b, l.last = make([]byte, 0, len(old)+2*len(extra)), 0
	put := func(r uint64) {
		if len(l.b) > 0 && r == l.last {
			return
		}
		l.b = binary.AppendUvarint(l.b, r-l.last)
		l.last = r
	}
	var ref uint64
	for len(old) > 0 {
		d, n := binary.Uvarint(old)
		ref += d
		old = old[n:]
		for len(extra) > 0 && extra[0] < ref {
			put(extra[0])
			extra = extra[1:]
		}
		put(ref)
	}
	for _, r := range extra {
		put(r)
	}
}

// len counts the refs.
func (l *refList) len() int {
	n := 0
	for _, c := range l.b {
		if c < 0x80 { // every varint ends with its one byte below 0x80
			n++
		}
	}
	if l.ooo != nil && len(*l.ooo) > 0 {
		return len(l.decode(nil)) // rare: refs waiting to be merged may repeat
	}
	return n
}

// decode appends the sorted refs to dst.
func (l *refList) decode(dst []uint64) []uint64 {
	start := len(dst)
	var ref uint64
	for b := l.b; len(b) > 0; {
		if b[0] < 0x80 { // one-byte deltas are the common case
			ref += uint64(b[0])
			b = b[1:]
		} else {
			d, n := binary.Uvarint(b)
			ref += d
			b = b[n:]
		}
		dst = append(dst, ref)
	}
	if l.ooo != nil && len(*l.ooo) > 0 {
		dst = append(dst, *l.ooo...)
		slices.Sort(dst[start:])
		dst = append(dst[:start], slices.Compact(dst[start:])...)
	}
	return dst
}

// encode replaces the list with refs, which are sorted.
func (l *refList) encode(refs []uint64) {
	l.b, l.last, l.ooo = l.b[:0], 0, nil
	for _, r := range refs {
		l.b = binary.AppendUvarint(l.b, r-l.last)
		l.last = r
	}
	l.b = slices.Clip(l.b)
}

func newMemPostings() *memPostings {
	return &memPostings{m: map[string]map[string]refList{"": {"": {}}}}
}

// add indexes series ref under the labels that forEach yields (their strings become the index's
// keys, so the head passes its interned ones).
func (p *memPostings) add(ref uint64, forEach func(func(labels.Label))) {
	p.mu.Lock()
	forEach(func(l labels.Label) { p.addFor(ref, l) })
	p.addFor(ref, allPostingsKey)
	p.mu.Unlock()
}

func (p *memPostings) addFor(ref uint64, l labels.Label) {
	nm, ok := p.m[l.Name]
	if !ok {
		nm = map[string]refList{}
		p.m[l.Name] = nm
	}
	list := nm[l.Value]
	list.append(ref)
	nm[l.Value] = list
}

// deleteRefs removes the given series (a set) from every list they appear in.
func (p *memPostings) deleteRefs(deleted map[uint64]struct{}, lsets []labels.Labels) {
	if len(deleted) == 0 {
		return
	}
	// Only the lists of the deleted series' label pairs can change.
	type pair struct{ n, v string }
	pairs := map[pair]struct{}{{"", ""}: {}}
	for _, ls := range lsets {
		ls.Range(func(l labels.Label) { pairs[pair{l.Name, l.Value}] = struct{}{} })
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var refs []uint64
	for pr := range pairs {
		nm := p.m[pr.n]
		if nm == nil {
			continue
		}
		list := nm[pr.v]
		refs = slices.DeleteFunc(list.decode(refs[:0]), func(r uint64) bool {
			_, ok := deleted[r]
			return ok
		})
		if len(refs) == 0 && pr.n != "" {
			delete(nm, pr.v)
			if len(nm) == 0 {
				delete(p.m, pr.n)
			}
			continue
		}
		list.encode(refs)
		nm[pr.v] = list
	}
}

// get returns one list, decoded into memory of the caller's.
func (p *memPostings) get(name, value string) []uint64 {
	p.mu.RLock()
	l := p.m[name][value]
	// Every delta takes at least a byte, so len(l.b) bounds the count in b.
	n := len(l.b)
	if l.ooo != nil {
		n += len(*l.ooo)
	}
	out := l.decode(make([]uint64, 0, n))
	p.mu.RUnlock()
	return out
}

func (p *memPostings) labelValues(name string) []string {
	p.mu.RLock()
	nm := p.m[name]
	vals := make([]string, 0, len(nm))
	for v := range nm {
		vals = append(vals, v)
	}
	p.mu.RUnlock()
	sort.Strings(vals)
	return vals
}

func (p *memPostings) labelNames() []string {
	p.mu.RLock()
	names := make([]string, 0, len(p.m))
	for n := range p.m {
		if n != "" {
			names = append(names, n)
		}
	}
	p.mu.RUnlock()
	sort.Strings(names)
	return names
}

// postingsSource is what matcher resolution needs from an index: the head's memPostings or a
// block's index reader.
type postingsSource interface {
	// LabelValues returns the sorted values of name.
	LabelValues(ctx context.Context, name string) ([]string, error)
	// Postings returns the union of the lists of name=value for the values.
	Postings(ctx context.Context, name string, values ...string) (index.Postings, error)
	// AllPostings lists every series.
	AllPostings(ctx context.Context) (index.Postings, error)
}

// PostingsForMatchers returns the sorted refs of the series matching all matchers, resolving
// regexes against label values with the fast paths the upstream matcher offers (literal sets,
// prefixes).
func postingsForMatchers(ctx context.Context, ix postingsSource, ms ...*labels.Matcher) (index.Postings, error) {
	var its, notIts []index.Postings
	// Matchers that match the empty string also select series without the label, so they are
	// applied as subtractions of their inverse.
	for _, m := range ms {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch {
		case m.Type == labels.MatchRegexp && m.Value == ".*":
			continue // matches everything
		case m.Matches(""):
			inv, err := m.Inverse()
			if err != nil {
				return nil, err
			}
			it, err := postingsForMatcher(ctx, ix, inv)
			if err != nil {
				return nil, err
			}
			notIts = append(notIts, it)
		case m.Type == labels.MatchNotEqual || m.Type == labels.MatchNotRegexp:
			// l!="x" not matching "": series that have l with a value other than x.
			it, err := postingsForMatcher(ctx, ix, m)
			if err != nil {
				return nil, err
			}
			its = append(its, it)
		default:
			it, err := postingsForMatcher(ctx, ix, m)
			if err != nil {
				return nil, err
			}
			if index.IsEmptyPostings(it) {
				return index.EmptyPostings(), nil
			}
			its = append(its, it)
		}
	}
	if len(its) == 0 {
		all, err := ix.AllPostings(ctx)
		if err != nil {
			return nil, err
		}
		its = append(its, all)
	}
	it := index.Intersect(its...)
	if len(notIts) > 0 {
		it = index.Without(it, index.Merge(notIts...))
	}
	return it, nil
}

// postingsForMatcher returns the series having label m.Name with a value m matches.
func postingsForMatcher(ctx context.Context, ix postingsSource, m *labels.Matcher) (index.Postings, error) {
	if m.Type == labels.MatchEqual {
		return ix.Postings(ctx, m.Name, m.Value)
	}
	if m.Type == labels.MatchRegexp {
		if set := m.SetMatches(); len(set) > 0 {
			set = slices.Clone(set)
			sort.Strings(set)
			return ix.Postings(ctx, m.Name, set...)
		}
	}
	vals, err := ix.LabelValues(ctx, m.Name)
	if err != nil {
		return nil, err
	}
	if m.Type == labels.MatchRegexp {
		if prefix := m.Prefix(); prefix != "" {
			// Values are sorted: narrow to the prefix range before running the regex.
			lo := sort.SearchStrings(vals, prefix)
			hi := lo
			for hi < len(vals) && len(vals[hi]) >= len(prefix) && vals[hi][:len(prefix)] == prefix {
				hi++
			}
			vals = vals[lo:hi]
		}
	}
	matched := vals[:0:0]
	for _, v := range vals {
		if m.Matches(v) {
			matched = append(matched, v)
		}
	}
	if len(matched) == 0 {
		return index.EmptyPostings(), nil
	}
	return ix.Postings(ctx, m.Name, matched...)
}

// headIndex adapts memPostings to postingsSource.
type headIndex struct{ p *memPostings }

func (h headIndex) LabelValues(_ context.Context, name string) ([]string, error) {
	return h.p.labelValues(name), nil
}

func (h headIndex) Postings(_ context.Context, name string, values ...string) (index.Postings, error) {
	if len(values) == 1 {
		l := h.p.get(name, values[0])
		if len(l) == 0 {
			return index.EmptyPostings(), nil
		}
		return index.NewListPostings(l), nil
	}
	its := make([]index.Postings, 0, len(values))
	for _, v := range values {
		if l := h.p.get(name, v); len(l) > 0 {
			its = append(its, index.NewListPostings(l))
		}
	}
	if len(its) == 0 {
		return index.EmptyPostings(), nil
	}
	return index.Merge(its...), nil
}

func (h headIndex) AllPostings(_ context.Context) (index.Postings, error) {
	return index.NewListPostings(h.p.get("", "")), nil
}
