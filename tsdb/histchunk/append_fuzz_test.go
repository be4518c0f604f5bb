package histchunk

import (
	"math"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
	upstream "github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
)

// histScript turns fuzz input into a sequence of integer histograms of one series: observations
// into present buckets, new buckets (in the middle, at either end, on the negative side), empty
// buckets leaving the layout, counter resets, stale markers, gauge samples, schema and zero
// threshold changes — everything that makes an appender take another path.
type histScript struct {
	pos, neg map[int]int64 // present buckets and their absolute counts
	zero     uint64
	schema   int32
	zt       float64
	sum      float64
}

func newHistScript() *histScript {
	return &histScript{pos: map[int]int64{0: 1, 1: 3, 2: 2}, neg: map[int]int64{}, schema: 3, zt: 1e-128}
}

// step applies one operation (op) with argument arg and returns the next sample.
func (s *histScript) step(op, arg byte) *histogram.Histogram {
	hint := histogram.UnknownCounterReset
	switch op % 12 {
	case 0, 1, 2, 3: // observations in present buckets (the common case)
		for k := range s.pos {
			s.pos[k] += int64(arg>>uint(k&7)) & 3
		}
		s.zero += uint64(arg & 1)
	case 4: // a new bucket near the existing ones
		s.pos[int(arg%24)-8] += int64(arg % 3)
	case 5: // a negative bucket
		s.neg[int(arg%6)] += int64(arg%2) + 1
	case 6: // an empty bucket leaves the layout (a reset if it was not empty)
		for k, v := range s.pos {
			if v == 0 || arg%4 == 0 {
				delete(s.pos, k)
				break
			}
		}
	case 7: // counter reset
		for k := range s.pos {
			s.pos[k] = int64(arg % 2)
		}
		clear(s.neg)
		s.zero, s.sum = 0, 0
		if arg%2 == 0 {
			hint = histogram.CounterReset
		}
	case 8:
		h := &histogram.Histogram{Sum: math.Float64frombits(value.StaleNaN)}
		return h
	case 9: // a gauge sample: counts go down as well
		for k := range s.pos {
			s.pos[k] = max(0, s.pos[k]-int64(arg%3))
		}
		hint = histogram.GaugeType
	case 10:
		s.schema = int32(arg%3) + 2
	case 11:
		s.zt = []float64{1e-128, 1e-4, 0.001}[arg%3]
	}
	s.sum += float64(arg) / 7
	h := &histogram.Histogram{CounterResetHint: hint, Schema: s.schema, ZeroThreshold: s.zt, ZeroCount: s.zero, Sum: s.sum}
	h.Count = s.zero
	h.PositiveSpans, h.PositiveBuckets = s.buckets(s.pos, &h.Count)
	h.NegativeSpans, h.NegativeBuckets = s.buckets(s.neg, &h.Count)
	return h
}

// buckets returns the spans and delta-encoded buckets of m, adding the counts to count.
func (*histScript) buckets(m map[int]int64, count *uint64) ([]histogram.Span, []int64) {
	idx := make([]int, 0, len(m))
	for k := range m {
		idx = append(idx, k)
	}
	slices.Sort(idx)
	var (
		spans   []histogram.Span
		buckets []int64
		prev    int64
	)
	for i, k := range idx {
		switch {
		case i == 0:
			spans = append(spans, histogram.Span{Offset: int32(k), Length: 1})
		case k-idx[i-1] <= 2: // a gap of one bucket is filled with an empty one, as clients do
			for range k - idx[i-1] - 1 {
				buckets = append(buckets, -prev)
				prev = 0
				spans[len(spans)-1].Length++
			}
			spans[len(spans)-1].Length++
		default:
			spans = append(spans, histogram.Span{Offset: int32(k - idx[i-1] - 1), Length: 1})
		}
		buckets = append(buckets, m[k]-prev)
		prev = m[k]
		*count += uint64(m[k])
	}
	return spans, buckets
}

// FuzzAppendAsUpstream appends the histograms a fuzz script makes to this package's integer
// histogram chunks and to upstream's, cutting chunks and passing the previous appender as the
// head does, with and without appendOnly, and requires the same results and bytes.
func FuzzAppendAsUpstream(f *testing.F) {
	f.Add([]byte{0, 9, 1, 3, 4, 17, 0, 5, 2, 8, 6, 0, 0, 1, 7, 2, 0, 3, 5, 4, 9, 1, 10, 1, 0, 0, 11, 2, 0, 1, 8, 0, 0, 4})
	f.Add([]byte{0, 1, 0, 2, 0, 3, 4, 30, 0, 1, 0, 2, 4, 0, 0, 1, 6, 0, 0, 1, 6, 4, 0, 1})
	f.Add([]byte{9, 1, 9, 2, 9, 0, 4, 5, 9, 3, 6, 1, 9, 1, 7, 1, 9, 2})
	f.Fuzz(appendAsUpstream)
}

// appendAsUpstream runs one script of FuzzAppendAsUpstream.
func appendAsUpstream(t *testing.T, script []byte) {
	s := newHistScript()
	ours, theirs := NewHistogramChunk(), upstream.NewHistogramChunk()
	oa, err := ours.Appender()
	require.NoError(t, err)
	ua, err := theirs.Appender()
	require.NoError(t, err)
	for i := 0; i+1 < len(script) && i < 600; i += 2 {
		op, arg := script[i], script[i+1]
		h := s.step(op, arg)
		ts := int64(i) * 15000
		var oprev Appender
		var uprev upstream.Appender
		if op >= 0xf0 || ours.NumSamples() >= 120 { // the head cuts a chunk (size or time limit): the next one starts from prev
			oprev, uprev = oa, ua
			var happ *HistogramAppender
			ours, happ = NewHistogramChunkAppender(0) // as the head makes them
			oa = happ
			theirs = upstream.NewHistogramChunk()
			ua, _ = theirs.Appender()
		}
		appendOnly := op&0x10 != 0
		oc, orec, oa2, oerr := oa.AppendHistogram(oprev, 0, ts, h.Copy(), appendOnly)
		uc, urec, ua2, uerr := ua.AppendHistogram(uprev, 0, ts, h.Copy(), appendOnly)
		require.Equal(t, uerr, oerr, "sample %d", i/2)
		require.Equal(t, urec, orec, "sample %d", i/2)
		require.Equal(t, uc == nil, oc == nil, "sample %d", i/2)
		if oc != nil {
			if !orec {
				require.Equal(t, theirs.Bytes(), ours.Bytes(), "closed chunk before sample %d", i/2)
			}
			ours, theirs = oc.(*HistogramChunk), uc.(*upstream.HistogramChunk)
		}
		oa, ua = oa2, ua2
		require.Equal(t, theirs.Bytes(), ours.Bytes(), "after sample %d", i/2)
		require.Equal(t, ours.NumSamples(), oa.(*HistogramAppender).NumSamples(), "after sample %d", i/2)
		require.Equal(t, ours.GetCounterResetHeader(), oa.(*HistogramAppender).GetCounterResetHeader(), "after sample %d", i/2)
	}
	// An appender made from the bytes continues the same way.
	oa, err = ours.Appender()
	require.NoError(t, err)
	ua, err = theirs.Appender()
	require.NoError(t, err)
	h := s.step(0, 1)
	oc, _, _, oerr := oa.AppendHistogram(nil, 0, math.MaxInt32, h.Copy(), false)
	uc, _, _, uerr := ua.AppendHistogram(nil, 0, math.MaxInt32, h.Copy(), false)
	require.Equal(t, uerr, oerr)
	require.Equal(t, uc == nil, oc == nil)
	if oc != nil {
		ours, theirs = oc.(*HistogramChunk), uc.(*upstream.HistogramChunk)
	}
	require.Equal(t, theirs.Bytes(), ours.Bytes())
}
