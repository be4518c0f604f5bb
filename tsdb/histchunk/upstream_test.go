package histchunk

import (
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	upstream "github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"

	"github.com/vigil-monitoring/vigil/tsdb/internal/histgen"
)

// TestBytesAsUpstream appends the same samples to this package's chunks and upstream's and
// requires identical bytes, chunk cuts and recodes included.
func TestBytesAsUpstream(t *testing.T) {
	cases := map[string][]*histogram.Histogram{
		"exponential":          histgen.Latency(300, 1, 0, false),
		"exponential reset":    histgen.Latency(300, 2, 150, false),
		"custom buckets":       histgen.Latency(300, 3, 0, true),
		"custom buckets reset": histgen.Latency(300, 4, 77, true),
	}
	gauge := histgen.Latency(100, 5, 0, false)
	for _, h := range gauge {
		h.CounterResetHint = histogram.GaugeType
	}
	cases["gauge"] = gauge
	for name, hs := range cases {
		t.Run(name, func(t *testing.T) {
			t.Run("int", func(t *testing.T) {
				ours, theirs := NewHistogramChunk(), upstream.NewHistogramChunk()
				oa, err := ours.Appender()
				require.NoError(t, err)
				ua, err := theirs.Appender()
				require.NoError(t, err)
				for i, h := range hs {
					ts := int64(i) * 15000
					oc, orec, oa2, oerr := oa.AppendHistogram(nil, 0, ts, h, false)
					uc, urec, ua2, uerr := ua.AppendHistogram(nil, 0, ts, h, false)
					require.Equal(t, uerr, oerr)
					require.Equal(t, urec, orec)
					require.Equal(t, uc == nil, oc == nil, "sample %d", i)
					if oc != nil {
						if !orec {
							require.Equal(t, theirs.Bytes(), ours.Bytes(), "closed chunk before sample %d", i)
						}
						ours, theirs = oc.(*HistogramChunk), uc.(*upstream.HistogramChunk)
					}
					oa, ua = oa2, ua2
					require.Equal(t, theirs.Bytes(), ours.Bytes(), "after sample %d", i)
				}
			})
			t.Run("float", func(t *testing.T) {
				ours, theirs := NewFloatHistogramChunk(), upstream.NewFloatHistogramChunk()
				oa, err := ours.Appender()
				require.NoError(t, err)
				ua, err := theirs.Appender()
				require.NoError(t, err)
				for i, h := range hs {
					ts := int64(i) * 15000
					fh := h.ToFloat(nil)
					oc, orec, oa2, oerr := oa.AppendFloatHistogram(nil, 0, ts, fh, false)
					uc, urec, ua2, uerr := ua.AppendFloatHistogram(nil, 0, ts, fh, false)
					require.Equal(t, uerr, oerr)
					require.Equal(t, urec, orec)
					require.Equal(t, uc == nil, oc == nil, "sample %d", i)
					if oc != nil {
						ours, theirs = oc.(*FloatHistogramChunk), uc.(*upstream.FloatHistogramChunk)
					}
					oa, ua = oa2, ua2
					require.Equal(t, theirs.Bytes(), ours.Bytes(), "after sample %d", i)
				}
			})
		})
	}
}
