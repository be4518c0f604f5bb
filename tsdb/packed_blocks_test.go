package tsdb

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb/chunkenc"
	"github.com/vigil-monitoring/vigil/tsdb/chunks"
)

// TestCompactionWritesPackedChunks: compaction stores node_exporter-like series (two-decimal
// CPU seconds, byte gauges in pages, integer counters; jittered timestamps) in packed chunks,
// and queries over the blocks return every sample bit for bit.
func TestCompactionWritesPackedChunks(t *testing.T) {
	db := openTestDB(t, &Options{MinBlockDuration: 2 * 3600 * 1000, MaxBlockDuration: 6 * 3600 * 1000})
	r := rand.New(rand.NewSource(16))
	const n, step = 30, 15000
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = float64(1 << 30)
	}
	want := map[string][]tsample{}
	for tick := int64(0); tick < 9*3600*1000; tick += step {
		ts := tick + int64(r.Intn(21)-10) // ±10 ms scrape jitter
		app := db.Appender(context.Background())
		for i := range vals {
			switch i % 3 {
			case 0:
				vals[i] = math.Round((vals[i]+15*r.Float64())*100) / 100
			case 1:
				vals[i] += float64(r.Intn(33)-16) * 4096
			case 2:
				vals[i] += float64(r.Intn(100000))
			}
			ls := labels.FromStrings("__name__", "m", "i", fmt.Sprint(i))
			if _, err := app.Append(0, ls, ts, vals[i]); err != nil {
				t.Fatal(err)
			}
			want[ls.String()] = append(want[ls.String()], tsample{ts, vals[i]})
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no blocks after compaction")
	}
	encs := map[chunkenc.Encoding]int{}
	for _, b := range db.Blocks() {
		cr, err := chunks.NewReader(filepath.Join(b.Dir(), "chunks"))
		if err != nil {
			t.Fatal(err)
		}
		if err := cr.Iterate(func(_ uint64, c []byte) error {
			// A sample jittered across a block boundary makes a one-sample chunk, which the
			// int encoding holds in as many bytes (and wins the tie).
			if chunkenc.NumSamples(c) >= 10 {
				encs[chunkenc.Encoding(c[0])]++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		cr.Close()
	}
	total := 0
	for _, c := range encs {
		total += c
	}
	if total == 0 || encs[chunkenc.EncPacked] != total {
		t.Errorf("block chunks of 10 samples or more by encoding %v: want all packed", encs)
	}
	compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64), want)
}
