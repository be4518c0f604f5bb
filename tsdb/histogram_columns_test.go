package tsdb

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/vigil-monitoring/vigil/promql/promqltest"
	"github.com/vigil-monitoring/vigil/tsdb/chunkenc"
	"github.com/vigil-monitoring/vigil/tsdb/chunks"
)

// blockChunkEncodings counts the chunks of every block by encoding.
func blockChunkEncodings(t testing.TB, db *DB) map[chunkenc.Encoding]int {
	t.Helper()
	n := map[chunkenc.Encoding]int{}
	for _, bl := range db.Blocks() {
		r, err := chunks.NewReader(filepath.Join(bl.Dir(), chunksDirname))
		if err != nil {
			t.Fatal(err)
		}
		err = r.Iterate(func(_ uint64, c []byte) error {
			n[chunkenc.Encoding(c[0])]++
			return nil
		})
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// Blocks hold integer histogram chunks column-wise where that is smaller (encoding 7), and read
// back the same samples as the reference storage, after reopening and after merging blocks (which
// decodes and re-encodes them).
func TestHistogramColumnsInBlocks(t *testing.T) {
	series := histWorkload()
	mem := promqltest.NewMemStorage()
	appendWorkload(t, mem, series, 7)
	dir := t.TempDir()
	const r = 3600_000 / 4
	opts := &Options{MinBlockDuration: r, MaxBlockDuration: 3 * r, WALSegmentSize: 64 << 10}
	db, err := Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	appendWorkload(t, headAppendable{db.head}, series, 7)
	check := func(stage string) {
		t.Helper()
		want := readAll(t, mem, math.MinInt64, math.MaxInt64, false)
		compareStores(t, stage, readAll(t, db, math.MinInt64, math.MaxInt64, false), want)
		compareStores(t, stage+" reused", readAll(t, db, math.MinInt64, math.MaxInt64, true), want)
		checkSeeks(t, stage, db, mem)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	encs := blockChunkEncodings(t, db)
	if encs[chunkenc.EncHistogramColumns] == 0 || encs[chunkenc.EncFloatHistogram] == 0 {
		t.Fatalf("block chunks by encoding: %v, want columnar integer histogram chunks and float histogram chunks", encs)
	}
	levels := map[int]int{}
	for _, bl := range db.Blocks() {
		levels[bl.Meta().Compaction.Level]++
	}
	if levels[1] == len(db.Blocks()) {
		t.Fatalf("blocks by compaction level: %v, want merged blocks", levels)
	}
	t.Logf("block chunks by encoding: %v; blocks by level: %v", encs, levels)
	check("blocks")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(dir, opts, nil, nil); err != nil {
		t.Fatal(err)
	}
	check("blocks reopened")
}
