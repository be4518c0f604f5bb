package tsdb

import (
	"context"
	"sort"

	"github.com/prometheus/prometheus/model/labels"
)

// headSource reads the head for a querier.
type headSource struct{ h *Head }

func (hs headSource) refs(ctx context.Context, ms ...*labels.Matcher) ([]*memSeries, error) {
	p, err := postingsForMatchers(ctx, headIndex{hs.h.postings}, ms...)
	if err != nil {
		return nil, err
	}
	var out []*memSeries
	for p.Next() {
		if s := hs.h.series.getByRef(p.At()); s != nil {
			out = append(out, s)
		}
	}
	return out, p.Err()
}

func (hs headSource) selectSeries(ctx context.Context, mint, maxt int64, metaOnly bool, ms ...*labels.Matcher) ([]*selectedSeries, error) {
	out, err := hs.selectHead(ctx, mint, maxt, metaOnly, false, ms...)
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].lset, out[j].lset) < 0 })
	return out, nil
}

// selectSeriesUnsorted is selectSeries in the order of the postings (series creation), for a
// Select that does not need sorted series: sorting 1,000 series of 9 labels by labels costs
// more than reading their last minute of samples. Its series are the head's own, resolved to
// chunks only when iterated, since they are not merged with other sources.
func (hs headSource) selectSeriesUnsorted(ctx context.Context, mint, maxt int64, metaOnly bool, ms ...*labels.Matcher) ([]*selectedSeries, error) {
	return hs.selectHead(ctx, mint, maxt, metaOnly, true, ms...)
}

// selectHead selects the matching series that have samples in [mint, maxt]. Lazy series carry
// their memSeries instead of chunk copies (see selectedSeries.head).
func (hs headSource) selectHead(ctx context.Context, mint, maxt int64, metaOnly, lazy bool, ms ...*labels.Matcher) ([]*selectedSeries, error) {
	series, err := hs.refs(ctx, ms...)
	if err != nil {
		return nil, err
	}
	hasDels := hs.h.tombstones.Total() > 0
	out := make([]*selectedSeries, 0, len(series))
	var b labels.ScratchBuilder
	for i, s := range series {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		s.mu.Lock()
		if s.removed { // truncated since the postings lookup: it has nothing in the head any more
			s.mu.Unlock()
			continue
		}
		sel := &selectedSeries{mint: mint, maxt: maxt}
		if metaOnly || lazy {
			if !s.overlaps(mint, maxt) {
				s.mu.Unlock()
				continue
			}
			if lazy && !metaOnly {
				sel.head, sel.h = s, hs.h
			}
		} else {
			var err error
			sel.chunks, err = s.chunksFor(mint, maxt, nil, hs.h, nil)
			if err != nil {
				s.mu.Unlock()
				return nil, err
			}
			if len(sel.chunks) == 0 {
				s.mu.Unlock()
				continue
			}
		}
		if sel.head == nil {
			// Under the series' lock, seen not removed: its symbols are still there even for
			// a caller without a read generation (compaction, snapshots). Not cached: a
			// compaction reads every series once. Lazy series (PromQL over the head) use the
			// cache as the query reaches them (selectedSeries.Labels).
			if sel.lset = s.lset; sel.lset.IsEmpty() {
				sel.lset = hs.h.seriesLabels(s, &b)
			}
		}
		s.mu.Unlock()
		if hasDels {
			if dels, _ := hs.h.tombstones.Get(s.ref); len(dels) > 0 {
				sel.dels = dels
				for j := range sel.chunks {
					sel.chunks[j].dels = dels
				}
			}
		}
		out = append(out, sel)
	}
	return out, nil
}

func (hs headSource) labelValues(ctx context.Context, name string, ms ...*labels.Matcher) ([]string, error) {
	if len(ms) == 0 {
		vals := hs.h.postings.labelValues(name)
		// The index keeps "" only for the all-series key.
		return vals, nil
	}
	ss, err := hs.selectSeries(ctx, hs.h.MinTime(), hs.h.MaxTime(), true, ms...)
	if err != nil {
		return nil, err
	}
	return valuesFromSeries(ss, name), nil
}

func (hs headSource) labelNames(ctx context.Context, ms ...*labels.Matcher) ([]string, error) {
	if len(ms) == 0 {
		return hs.h.postings.labelNames(), nil
	}
	ss, err := hs.selectSeries(ctx, hs.h.MinTime(), hs.h.MaxTime(), true, ms...)
	if err != nil {
		return nil, err
	}
	return namesFromSeries(ss), nil
}
