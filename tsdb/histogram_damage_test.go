package tsdb

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-monitoring/vigil/promql/promqltest"
	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb/chunkenc"
	"github.com/vigil-monitoring/vigil/tsdb/internal/histgen"
	"github.com/vigil-monitoring/vigil/tsdb/record"
	"github.com/vigil-monitoring/vigil/tsdb/wal"
)

// TestHistogramTornWALTail cuts into the last record of the WAL, as a crash mid-write would:
// the histogram series keep every sample before the damage and lose at most the last commit.
func TestHistogramTornWALTail(t *testing.T) {
	t.Run("without start timestamps", func(t *testing.T) { testHistogramTornWALTail(t, histWorkload()) })
	t.Run("with start timestamps", func(t *testing.T) { testHistogramTornWALTail(t, withHistST(histWorkload())) })
}

func testHistogramTornWALTail(t *testing.T, series []hseries) {
	for i := range series {
		series[i].samples = series[i].samples[:120]
	}
	mem := promqltest.NewMemStorage()
	appendWorkload(t, mem, series, 1)
	want := readAll(t, mem, math.MinInt64, math.MaxInt64, false)
	dir := t.TempDir()
	db, err := Open(dir, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendWorkload(t, db, series, 1)
	// A crash: a clean Close would write a head snapshot and start a new, empty WAL segment.
	db.abandon()
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "0*"))
	last := segs[len(segs)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, fi.Size()-7); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, nil, nil, nil)
	if err != nil {
		t.Fatalf("open after torn tail: %v", err)
	}
	defer db.Close()
	got := readAll(t, db, math.MinInt64, math.MaxInt64, false)
	lost := 0
	for name, w := range want {
		g := got[name]
		if len(g) < len(w)-1 {
			t.Fatalf("%s: %d samples after repair, want at least %d", name, len(g), len(w)-1)
		}
		lost += len(w) - len(g)
		sameSamples(t, name, g, w[:len(g)])
	}
	if lost == 0 {
		t.Fatal("the torn record lost nothing: the test did not damage a sample record")
	}
}

// walRecordTypes counts the records of a WAL directory (or checkpoint) by type.
func walRecordTypes(t *testing.T, dir string) map[record.Type]int {
	t.Helper()
	r, err := wal.NewReader(dir, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var dec record.Decoder
	n := map[record.Type]int{}
	for r.Next() {
		n[dec.Type(r.Record())]++
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// FuzzChunkIter decodes chunks as block and head chunk readers hand them over (Vigil's encoding
// byte first) through the querier's chunk iterator: damaged histogram chunks must end in an
// error or samples, never a panic.
func FuzzChunkIter(f *testing.F) {
	var bc ChunkBuilder
	for i, h := range histgen.Latency(30, 1, 15, false) {
		bc.AddHistogram(int64(i)*1000, h, nil)
	}
	for i, h := range histgen.Latency(30, 2, 0, true) {
		bc.AddHistogram(int64(i+30)*1000, nil, h.ToFloat(nil))
	}
	bc.AddFloat(61000, 1)
	// Histogram chunks with start timestamps (EncST around them).
	for i, h := range histgen.Latency(30, 3, 10, false) {
		bc.AddHistogramST(int64(i+70)*1000, int64(i/10)*10000+1, h, nil)
	}
	for i, h := range histgen.Latency(20, 4, 0, true) {
		bc.AddHistogramST(int64(i+100)*1000, int64(i+99)*1000, nil, h.ToFloat(nil))
	}
	for _, m := range bc.Metas() {
		f.Add(append([]byte(nil), m.Chunk...))
	}
	f.Add([]byte{byte(chunkenc.EncHistogram), 0, 1})
	f.Add([]byte{byte(chunkenc.EncFloatHistogram)})
	f.Fuzz(func(t *testing.T, b []byte) {
		var c chunkIter
		c.reset(b)
		for n := 0; n < 1<<16; n++ {
			vt := c.next()
			if vt == storage.ValNone {
				break
			}
			c.at()
			c.AtST()
			if c.hist {
				c.hit.AtFloatHistogram(nil)
			}
		}
		_ = c.errs()
		// Seeking decodes the start timestamp column in step too.
		c.reset(b)
		for _, ts := range []int64{math.MinInt64, 5000, 80000, math.MaxInt64} {
			if c.seekTo(ts) == storage.ValNone {
				break
			}
			c.AtST()
		}
		_ = c.errs()
	})
}
