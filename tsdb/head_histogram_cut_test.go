package tsdb

import (
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/promql/promqltest"
	"github.com/vigil-monitoring/vigil/tsdb/histchunk"
)

// A sample that brings new buckets recodes a small open head chunk but cuts a new one past
// histRecodeMaxSamples; either way the head reads back what was appended, and the new chunk's
// counter reset header says there was no reset (or a reset where there was one).
func TestHeadHistogramCutInsteadOfRecode(t *testing.T) {
	mk := func(i int, buckets int, reset bool) *histogram.Histogram {
		h := &histogram.Histogram{Schema: 0, ZeroThreshold: 1e-9, PositiveSpans: []histogram.Span{{Offset: 0, Length: uint32(buckets)}}}
		n := int64(i + 1)
		if reset {
			n = 1
		}
		h.PositiveBuckets = make([]int64, buckets)
		h.PositiveBuckets[0] = n // every bucket holds n: deltas n, 0, 0, …
		h.Count = uint64(n) * uint64(buckets)
		h.Sum = float64(h.Count)
		return h
	}
	for _, tc := range []struct {
		name       string
		growAt     int // sample that adds a bucket
		resetAt    int // sample that resets the counter (0: none)
		wantChunks int
		wantHeader histchunk.CounterResetHeader // of the second chunk
	}{
		{"recode a small chunk", histRecodeMaxSamples - 1, 0, 1, 0},
		{"cut past the limit", histRecodeMaxSamples + 3, 0, 2, histchunk.NotCounterReset},
		{"counter reset", histRecodeMaxSamples + 3, histRecodeMaxSamples + 3, 2, histchunk.CounterReset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(t.TempDir(), &Options{MinBlockDuration: 2 * 3600_000, MaxBlockDuration: 2 * 3600_000}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			s := hseries{lset: labels.FromStrings("__name__", "h")}
			for i := range 30 {
				buckets := 3
				if i >= tc.growAt {
					buckets = 4
				}
				s.samples = append(s.samples, hsample{t: int64(i) * histStep, h: mk(i, buckets, tc.resetAt > 0 && i >= tc.resetAt)})
			}
			mem := promqltest.NewMemStorage()
			appendWorkload(t, mem, []hseries{s}, 1)
			appendWorkload(t, headAppendable{db.head}, []hseries{s}, 1)
			compareStores(t, "head", readAll(t, db, 0, 1<<40, false), readAll(t, mem, 0, 1<<40, false))

			ms, _, err := db.head.getOrCreate(s.lset)
			if err != nil {
				t.Fatal(err)
			}
			ms.mu.Lock()
			defer ms.mu.Unlock()
			if got := len(ms.closed) + 1; got != tc.wantChunks {
				t.Fatalf("head chunks: %d, want %d", got, tc.wantChunks)
			}
			if tc.wantChunks > 1 {
				if got := ms.hist.chunk.(*histchunk.HistogramChunk).GetCounterResetHeader(); got != tc.wantHeader {
					t.Fatalf("counter reset header of the new chunk: %08b, want %08b", got, tc.wantHeader)
				}
				if ms.hist.n != 30-tc.growAt {
					t.Fatalf("open chunk holds %d samples, want %d", ms.hist.n, 30-tc.growAt)
				}
			}
		})
	}
}
