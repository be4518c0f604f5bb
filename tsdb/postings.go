package tsdb

import (
	"context"
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
	m  map[string]map[string][]uint64
}

func newMemPostings() *memPostings {
	return &memPostings{m: map[string]map[string][]uint64{"": {"": nil}}}
}

func (p *memPostings) add(ref uint64, lset labels.Labels) {
	p.mu.Lock()
	lset.Range(func(l labels.Label) { p.addFor(ref, l) })
	p.addFor(ref, allPostingsKey)
	p.mu.Unlock()
}

func (p *memPostings) addFor(ref uint64, l labels.Label) {
	nm, ok := p.m[l.Name]
	if !ok {
		nm = map[string][]uint64{}
		p.m[l.Name] = nm
	}
	list := append(nm[l.Value], ref)
	// Refs are allocated in order but series may be indexed slightly out of order by concurrent
	// appenders: restore order by moving the new ref down.
	for i := len(list) - 1; i > 0 && list[i] < list[i-1]; i-- {
		list[i], list[i-1] = list[i-1], list[i]
	}
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
	for pr := range pairs {
		nm := p.m[pr.n]
		if nm == nil {
			continue
		}
		old := nm[pr.v]
		kept := make([]uint64, 0, len(old))
		for _, r := range old {
			if _, ok := deleted[r]; !ok {
				kept = append(kept, r)
			}
		}
		if len(kept) == 0 && pr.n != "" {
			delete(nm, pr.v)
			if len(nm) == 0 {
				delete(p.m, pr.n)
			}
			continue
		}
		nm[pr.v] = kept
	}
}

// get returns a copy of one list: lists are reordered in place by add, so readers must not
// share them.
func (p *memPostings) get(name, value string) []uint64 {
	p.mu.RLock()
	l := p.m[name][value]
	cp := make([]uint64, len(l))
	copy(cp, l)
	p.mu.RUnlock()
	return cp
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
